// SPDX-License-Identifier: BSD-3-Clause
/*
 * The BPF backend of traffic observation (netobs.h): loads nettap.bpf.c
 * through its generated skeleton (open, set rodata, load), mmaps the record
 * array, and attaches the two classifiers to each tap it is given (a
 * clsact qdisc, created if the tap has none, with one filter on ingress and
 * one on egress). Arrival events come from the ring buffer.
 *
 * Our filters have a fixed handle and priority (NETOBS_TC_HANDLE, _PRIO)
 * and are attached with replace: a waved that died without detaching left
 * its filters running, and the next one takes their place instead of
 * adding another pair. Detaching takes off our filters, and the clsact
 * qdisc if we created it (with whatever was attached to it since: libbpf
 * cannot list a hook's filters); one that was there before us stays, with
 * the operator's programs on it. A tap that disappeared with its VM took
 * everything with it.
 *
 * Registration order: the record is zeroed, then its ifindex published
 * (release), then the interface goes into the "ifs" hash, then the hooks
 * attach: the BPF side never counts into a record that is not ready.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/log.h"
#include "kvm-hooks/netobs.h"
#include "kvm-hooks/nettap.skel.h" /* generated in build/ */

/* Our filters on a tap: one fixed handle and priority ("WV"), so a restart replaces them. */
#define NETOBS_TC_HANDLE 0x5756
#define NETOBS_TC_PRIO   0x5756

struct tap_hooks {
	struct bpf_tc_hook hook;
	struct bpf_tc_opts in, out;   /* as attached: handle and priority, for detach */
	int created;                  /* we created the clsact qdisc */
};

struct nbpf_priv {
	struct nettap_bpf *skel;
	struct nettap_rec *recs;      /* mmapped "recs" array */
	size_t recs_len;
	struct ring_buffer *rb;
	void (*cb)(const struct nettap_event *ev, void *arg);
	void *cb_arg;
	struct tap_hooks taps[NETTAP_MAX_IFACES];
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct nbpf_priv *b = ctx;

	if (size >= sizeof(struct nettap_event) && b->cb)
		b->cb(data, b->cb_arg);
	return 0;
}

static int nbpf_open(struct netobs *n, char *why, size_t len)
{
	struct nbpf_priv *b = calloc(1, sizeof(*b));
	int ret;

	if (!b)
		return wave_reason(why, len, -ENOMEM, "out of memory");
	b->skel = nettap_bpf__open();
	if (!b->skel) {
		ret = wave_reason(why, len, -errno, "open: %s", strerror(errno));
		goto err_free;
	}
	b->skel->rodata->quiet_ns = n->quiet_ns;
	if ((ret = nettap_bpf__load(b->skel))) {
		ret = wave_reason(why, len, ret, "load: %s (root and a kernel with BTF needed)",
				  strerror(-ret));
		goto err_destroy;
	}
	b->recs_len = sizeof(struct nettap_rec) * NETTAP_MAX_IFACES;
	b->recs = mmap(NULL, b->recs_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       bpf_map__fd(b->skel->maps.recs), 0);
	if (b->recs == MAP_FAILED) {
		ret = wave_reason(why, len, -errno, "mmap records: %s", strerror(errno));
		goto err_destroy;
	}
	b->rb = ring_buffer__new(bpf_map__fd(b->skel->maps.arrivals), on_event, b, NULL);
	if (!b->rb) {
		ret = wave_reason(why, len, -errno, "ring buffer: %s", strerror(errno));
		goto err_unmap;
	}
	n->priv = b;
	return 0;

err_unmap:
	munmap(b->recs, b->recs_len);
err_destroy:
	nettap_bpf__destroy(b->skel);
err_free:
	free(b);
	return ret;
}

static void detach(struct tap_hooks *t)
{
	struct bpf_tc_opts o;

	/* Detach names the filter by handle and priority only. */
	if (t->in.handle) {
		o = (struct bpf_tc_opts){ .sz = sizeof(o), .handle = t->in.handle,
					  .priority = t->in.priority };
		t->hook.attach_point = BPF_TC_INGRESS;
		bpf_tc_detach(&t->hook, &o);
	}
	if (t->out.handle) {
		o = (struct bpf_tc_opts){ .sz = sizeof(o), .handle = t->out.handle,
					  .priority = t->out.priority };
		t->hook.attach_point = BPF_TC_EGRESS;
		bpf_tc_detach(&t->hook, &o);
	}
	if (t->created) {
		t->hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&t->hook);
	}
	memset(t, 0, sizeof(*t));
}

static int attach(struct nbpf_priv *b, struct tap_hooks *t, unsigned int ifindex,
		  const char *ifname, char *why, size_t len)
{
	int ret;

	memset(t, 0, sizeof(*t));
	t->hook.sz = sizeof(t->hook);
	t->hook.ifindex = (int)ifindex;
	t->hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
	ret = bpf_tc_hook_create(&t->hook);
	if (ret && ret != -EEXIST)
		return wave_reason(why, len, ret, "clsact on %s: %s", ifname, strerror(-ret));
	t->created = !ret;
	t->in = (struct bpf_tc_opts){ .sz = sizeof(t->in), .handle = NETOBS_TC_HANDLE,
		.priority = NETOBS_TC_PRIO, .flags = BPF_TC_F_REPLACE,
		.prog_fd = bpf_program__fd(b->skel->progs.nettap_from_guest) };
	t->hook.attach_point = BPF_TC_INGRESS;
	if ((ret = bpf_tc_attach(&t->hook, &t->in))) {
		t->in.handle = 0;
		goto err;
	}
	t->out = (struct bpf_tc_opts){ .sz = sizeof(t->out), .handle = NETOBS_TC_HANDLE,
		.priority = NETOBS_TC_PRIO, .flags = BPF_TC_F_REPLACE,
		.prog_fd = bpf_program__fd(b->skel->progs.nettap_to_guest) };
	t->hook.attach_point = BPF_TC_EGRESS;
	if ((ret = bpf_tc_attach(&t->hook, &t->out))) {
		t->out.handle = 0;
		goto err;
	}
	return 0;
err:
	wave_reason(why, len, ret, "tc filter on %s: %s", ifname, strerror(-ret));
	detach(t);
	return ret;
}

static int nbpf_add(struct netobs *n, unsigned int slot, int notify, char *why, size_t len)
{
	struct nbpf_priv *b = n->priv;
	struct nettap_rec *r = &b->recs[slot];
	__u32 key = n->ifindex[slot], val = slot;
	int ret;

	__atomic_store_n(&r->ifindex, 0, __ATOMIC_RELEASE);
	r->rx_pkts = r->rx_bytes = r->tx_pkts = r->tx_bytes = r->last_rx_ns = 0;
	r->notify = !!notify;
	__atomic_store_n(&r->ifindex, n->ifindex[slot], __ATOMIC_RELEASE);
	if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.ifs), &key, &val, BPF_ANY)) {
		ret = wave_reason(why, len, -errno, "ifs map: %s", strerror(errno));
		goto err;
	}
	if ((ret = attach(b, &b->taps[slot], n->ifindex[slot], n->ifname[slot], why, len))) {
		bpf_map_delete_elem(bpf_map__fd(b->skel->maps.ifs), &key);
		goto err;
	}
	return 0;
err:
	__atomic_store_n(&r->ifindex, 0, __ATOMIC_RELEASE);
	return ret;
}

static void nbpf_del(struct netobs *n, unsigned int slot)
{
	struct nbpf_priv *b = n->priv;
	__u32 key = n->ifindex[slot];

	detach(&b->taps[slot]);
	bpf_map_delete_elem(bpf_map__fd(b->skel->maps.ifs), &key);
	__atomic_store_n(&b->recs[slot].ifindex, 0, __ATOMIC_RELEASE);
}

static int nbpf_read(struct netobs *n, unsigned int slot, struct nettap_rec *r)
{
	const struct nettap_rec *s = &((struct nbpf_priv *)n->priv)->recs[slot];

	if (__atomic_load_n(&s->ifindex, __ATOMIC_ACQUIRE) != n->ifindex[slot])
		return -ENOENT;
	/* Each word on its own (nettap.h: no reader needs one instant's counters). */
	r->ifindex = n->ifindex[slot];
	r->notify = __atomic_load_n(&s->notify, __ATOMIC_RELAXED);
	/* Packets before bytes, acquire: pairs with the BPF side's bytes-then-packets. */
	r->rx_pkts = __atomic_load_n(&s->rx_pkts, __ATOMIC_ACQUIRE);
	r->rx_bytes = __atomic_load_n(&s->rx_bytes, __ATOMIC_RELAXED);
	r->tx_pkts = __atomic_load_n(&s->tx_pkts, __ATOMIC_ACQUIRE);
	r->tx_bytes = __atomic_load_n(&s->tx_bytes, __ATOMIC_RELAXED);
	r->last_rx_ns = __atomic_load_n(&s->last_rx_ns, __ATOMIC_RELAXED);
	return 0;
}

static int nbpf_fd(const struct netobs *n)
{
	return ring_buffer__epoll_fd(((const struct nbpf_priv *)n->priv)->rb);
}

static int nbpf_poll(struct netobs *n, void (*cb)(const struct nettap_event *, void *), void *arg)
{
	struct nbpf_priv *b = n->priv;

	b->cb = cb;
	b->cb_arg = arg;
	return ring_buffer__consume(b->rb);
}

static void nbpf_notify(struct netobs *n, unsigned int slot, int on)
{
	struct nbpf_priv *b = n->priv;

	__atomic_store_n(&b->recs[slot].notify, on ? 1u : 0u, __ATOMIC_RELAXED);
}

static void nbpf_close(struct netobs *n)
{
	struct nbpf_priv *b = n->priv;

	ring_buffer__free(b->rb);
	munmap(b->recs, b->recs_len);
	nettap_bpf__destroy(b->skel);
	free(b);
}

const struct netobs_ops netobs_bpf_ops = {
	.name = "bpf",
	.open = nbpf_open,
	.add = nbpf_add,
	.del = nbpf_del,
	.read = nbpf_read,
	.fd = nbpf_fd,
	.poll = nbpf_poll,
	.notify = nbpf_notify,
	.close = nbpf_close,
};
