// SPDX-License-Identifier: BSD-3-Clause
/*
 * The BPF backend of thread observation (observe.h): loads hooks.bpf.c
 * through its generated skeleton (open, load, attach), mmaps the record
 * array, and reads wakeup and exit events from the ring buffer.
 *
 * Registration order matters: the record is written first (tid, current
 * state from /proc), then the tid goes into the hash; the BPF side ignores
 * a slot whose record names another tid, so a slot being reused is never
 * updated for the wrong thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/clock.h"
#include "common/log.h"
#include "kvm-hooks/hooks.skel.h" /* generated in build/ */
#include "kvm-hooks/observe.h"

struct bpf_priv {
	struct hooks_bpf *skel;
	struct hooks_rec *recs;   /* mmapped "recs" array */
	struct hooks_rec *peer;   /* mmapped "peer_recs" (OBS_F_SHARE), or NULL */
	size_t recs_len;
	struct ring_buffer *rb;
	void (*cb)(const struct hooks_event *ev, void *arg);
	void *cb_arg;
};

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[512];

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	wave_dbg("libbpf: %s", line);
	return 0;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct bpf_priv *b = ctx;

	if (size >= sizeof(struct hooks_event) && b->cb)
		b->cb(data, b->cb_arg);
	return 0;
}

static int bpf_open(struct obs *o, char *why, size_t len)
{
	struct bpf_priv *b = calloc(1, sizeof(*b));
	int ret;

	if (!b)
		return wave_reason(why, len, -ENOMEM, "out of memory");
	libbpf_set_print(libbpf_quiet);
	b->skel = hooks_bpf__open();
	if (!b->skel) {
		ret = wave_reason(why, len, -errno, "open: %s", strerror(errno));
		goto err_free;
	}
	b->skel->rodata->wake_min_idle_ns = o->wake_min_idle_ns;
	b->skel->rodata->share = !!(o->flags & OBS_F_SHARE);
	if ((ret = hooks_bpf__load(b->skel))) {
		ret = wave_reason(why, len, ret, "load: %s (root and a kernel with BTF needed)",
				  strerror(-ret));
		goto err_destroy;
	}
	if ((ret = hooks_bpf__attach(b->skel))) {
		ret = wave_reason(why, len, ret, "attach: %s", strerror(-ret));
		goto err_destroy;
	}
	b->recs_len = sizeof(struct hooks_rec) * HOOKS_MAX_THREADS;
	b->recs = mmap(NULL, b->recs_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       bpf_map__fd(b->skel->maps.recs), 0);
	if (b->recs == MAP_FAILED) {
		ret = wave_reason(why, len, -errno, "mmap records: %s", strerror(errno));
		goto err_destroy;
	}
	if (o->flags & OBS_F_SHARE) {
		b->peer = mmap(NULL, b->recs_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			       bpf_map__fd(b->skel->maps.peer_recs), 0);
		if (b->peer == MAP_FAILED) {
			b->peer = NULL;
			ret = wave_reason(why, len, -errno, "mmap the peer's records: %s",
					  strerror(errno));
			goto err_unmap;
		}
	}
	b->rb = ring_buffer__new(bpf_map__fd(b->skel->maps.events), on_event, b, NULL);
	if (!b->rb) {
		ret = wave_reason(why, len, -errno, "ring buffer: %s", strerror(errno));
		goto err_unmap;
	}
	o->priv = b;
	return 0;

err_unmap:
	if (b->peer)
		munmap(b->peer, b->recs_len);
	munmap(b->recs, b->recs_len);
err_destroy:
	hooks_bpf__destroy(b->skel);
err_free:
	free(b);
	return ret;
}

/*
 * A record's start (both copies): through the seqcount like any writer,
 * and seq itself is never reset: a tracepoint for the slot's previous
 * thread may still be between its begin and end, and zeroing seq under it
 * would leave it odd for good.
 */
static void rec_start(struct hooks_rec *r, const struct hooks_rec *now, pid_t tid, int notify,
		      int peer)
{
	hk_u32 odd = 0;

	if (peer)
		odd = hooks_peer_write_begin(r);
	else
		hooks_write_begin(r);
	r->state = now->state;
	r->cpu = now->cpu;
	r->run_ns = r->wait_ns = r->wakeups = r->preempts = 0;
	r->notify = !!notify;
	r->rsvd = 0;
	r->since_ns = now->since_ns;
	if (peer)
		hooks_peer_write_end(r, odd);
	else
		hooks_write_end(r);
	__atomic_store_n(&r->tid, (uint32_t)tid, __ATOMIC_RELEASE);
}

static int bpf_add(struct obs *o, unsigned int slot, pid_t pid, pid_t tid, int notify)
{
	struct bpf_priv *b = o->priv;
	struct hooks_rec now = { 0 };
	__u32 key = (__u32)tid, val = slot;
	int ret = obs_proc_sample(pid, tid, &now);

	if (ret)
		return ret;
	/* bpf_ktime_get_ns() is CLOCK_MONOTONIC. */
	now.since_ns = wave_now_ns();
	/* The peer's copy first: the programs write it only once the tid is in the hash. */
	if (b->peer)
		rec_start(&b->peer[slot], &now, tid, 0, 1);
	rec_start(&b->recs[slot], &now, tid, notify, 0);
	if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.tids), &key, &val, BPF_ANY)) {
		ret = -errno;
		b->recs[slot].tid = 0;
		if (b->peer)
			b->peer[slot].tid = 0;
		return ret;
	}
	return 0;
}

static void bpf_del(struct obs *o, unsigned int slot)
{
	struct bpf_priv *b = o->priv;
	__u32 key = (__u32)o->tid[slot];

	bpf_map_delete_elem(bpf_map__fd(b->skel->maps.tids), &key);
	__atomic_store_n(&b->recs[slot].tid, 0, __ATOMIC_RELEASE);
	if (b->peer)
		__atomic_store_n(&b->peer[slot].tid, 0, __ATOMIC_RELEASE);
}

static int bpf_read(struct obs *o, unsigned int slot, struct hooks_rec *r)
{
	struct bpf_priv *b = o->priv;
	uint64_t now = wave_now_ns();

	/* A consistent copy (the seqcount, hooks.h), or try again at the next read. */
	if (hooks_rec_read(&b->recs[slot], r))
		return -EAGAIN;
	if (r->tid != (uint32_t)o->tid[slot])
		return -ENOENT;
	hooks_rec_upto(r, now);
	return 0;
}

static int bpf_fd(const struct obs *o)
{
	const struct bpf_priv *b = o->priv;

	return ring_buffer__epoll_fd(b->rb);
}

static int bpf_poll(struct obs *o, void (*cb)(const struct hooks_event *, void *), void *arg)
{
	struct bpf_priv *b = o->priv;

	b->cb = cb;
	b->cb_arg = arg;
	return ring_buffer__consume(b->rb);
}

static void bpf_notify(struct obs *o, unsigned int slot, int on)
{
	struct bpf_priv *b = o->priv;

	__atomic_store_n(&b->recs[slot].notify, on ? 1u : 0u, __ATOMIC_RELAXED);
}

static int bpf_share_fd(struct obs *o)
{
	const struct bpf_priv *b = o->priv;
	int fd;

	if (!b->peer)
		return -ENOTSUP;
	fd = fcntl(bpf_map__fd(b->skel->maps.peer_recs), F_DUPFD_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

static void bpf_close(struct obs *o)
{
	struct bpf_priv *b = o->priv;

	ring_buffer__free(b->rb);
	if (b->peer)
		munmap(b->peer, b->recs_len);
	munmap(b->recs, b->recs_len);
	hooks_bpf__destroy(b->skel);
	free(b);
}

const struct obs_ops obs_bpf_ops = {
	.name = "bpf",
	.open = bpf_open,
	.add = bpf_add,
	.del = bpf_del,
	.read = bpf_read,
	.fd = bpf_fd,
	.poll = bpf_poll,
	.notify = bpf_notify,
	.share_fd = bpf_share_fd,
	.close = bpf_close,
};
