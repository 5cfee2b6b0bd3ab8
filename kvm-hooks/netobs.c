// SPDX-License-Identifier: BSD-3-Clause
/*
 * Backend choice and slot bookkeeping for traffic observation (netobs.h),
 * and the sysfs backend. The sysfs backend reads, per interface and read,
 * /sys/class/net/IF/statistics/{rx,tx}_{packets,bytes}: a tap's rx is
 * what the guest sent, its tx what reaches the guest, so the directions
 * swap on the way into the record (which is in the guest's terms).
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel/wire.h"
#include "common/log.h"
#include "kvm-hooks/netobs.h"

const struct wave_name netobs_backends[] = {
	{ "auto", NETOBS_AUTO }, { "bpf", NETOBS_BPF }, { "sysfs", NETOBS_SYSFS },
	{ "none", NETOBS_NONE }, { NULL, 0 },
};

static int read_u64(const char *ifname, const char *what, uint64_t *v)
{
	char path[128];
	unsigned long long x;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", ifname, what);
	if (!(f = fopen(path, "re")))
		return -errno;
	ok = fscanf(f, "%llu", &x) == 1;
	fclose(f);
	if (!ok)
		return -EIO;
	*v = x;
	return 0;
}

/* The interface's kernel counters, in the guest's terms. */
static int sysfs_sample(const char *ifname, struct nettap_rec *r)
{
	int ret;

	if ((ret = read_u64(ifname, "tx_packets", &r->rx_pkts)) ||
	    (ret = read_u64(ifname, "tx_bytes", &r->rx_bytes)) ||
	    (ret = read_u64(ifname, "rx_packets", &r->tx_pkts)) ||
	    (ret = read_u64(ifname, "rx_bytes", &r->tx_bytes)))
		return ret;
	return 0;
}

static int sysfs_open(struct netobs *n, char *why, size_t len)
{
	n->priv = calloc(NETTAP_MAX_IFACES, sizeof(struct nettap_rec));
	return n->priv ? 0 : wave_reason(why, len, -ENOMEM, "out of memory");
}

static int sysfs_add(struct netobs *n, unsigned int slot, int notify, char *why, size_t len)
{
	struct nettap_rec *base = &((struct nettap_rec *)n->priv)[slot];
	int ret;

	(void)notify; /* no events from sysfs */
	memset(base, 0, sizeof(*base));
	if ((ret = sysfs_sample(n->ifname[slot], base)))
		return wave_reason(why, len, ret, "statistics of %s: %s", n->ifname[slot],
				   strerror(-ret));
	return 0;
}

static void sysfs_del(struct netobs *n, unsigned int slot)
{
	(void)n;
	(void)slot;
}

static int sysfs_read(struct netobs *n, unsigned int slot, struct nettap_rec *r)
{
	struct nettap_rec *base = &((struct nettap_rec *)n->priv)[slot];
	int ret;

	memset(r, 0, sizeof(*r));
	if ((ret = sysfs_sample(n->ifname[slot], r)))
		return ret;
	/*
	 * Counted from registration. Counters that went back (a new device by
	 * that name) count from zero: the reader takes what goes back as a
	 * restart (waved/net.c).
	 */
	if (r->rx_pkts < base->rx_pkts || r->tx_pkts < base->tx_pkts ||
	    r->rx_bytes < base->rx_bytes || r->tx_bytes < base->tx_bytes)
		memset(base, 0, sizeof(*base));
	r->rx_pkts -= base->rx_pkts;
	r->rx_bytes -= base->rx_bytes;
	r->tx_pkts -= base->tx_pkts;
	r->tx_bytes -= base->tx_bytes;
	r->ifindex = n->ifindex[slot];
	return 0;
}

static void sysfs_close(struct netobs *n)
{
	free(n->priv);
}

const struct netobs_ops netobs_sysfs_ops = {
	.name = "sysfs",
	.open = sysfs_open,
	.add = sysfs_add,
	.del = sysfs_del,
	.read = sysfs_read,
	.close = sysfs_close,
};

static int try_open(const struct netobs_ops *ops, uint64_t quiet_ns, struct netobs **out,
		    char *why, size_t len)
{
	struct netobs *n = calloc(1, sizeof(*n));
	int ret;

	if (!n)
		return -ENOMEM;
	n->ops = ops;
	n->quiet_ns = quiet_ns;
	if ((ret = ops->open(n, why, len))) {
		free(n);
		return ret;
	}
	*out = n;
	return 0;
}

int netobs_open(enum netobs_backend want, uint64_t quiet_ns, struct netobs **out)
{
	char why[256] = "";
	int ret;

	*out = NULL;
	if (want == NETOBS_NONE)
		return -EINVAL;
	if (want != NETOBS_SYSFS) {
		ret = try_open(&netobs_bpf_ops, quiet_ns, out, why, sizeof(why));
		if (!ret) {
			wave_info("netobs: traffic counted by BPF on the taps' tc hooks");
			return 0;
		}
		if (want == NETOBS_BPF) {
			wave_err("netobs: BPF tap observation unavailable: %s", why);
			return ret;
		}
		wave_info("netobs: BPF unavailable (%s): reading the taps' statistics instead", why);
	}
	return try_open(&netobs_sysfs_ops, quiet_ns, out, why, sizeof(why));
}

void netobs_close(struct netobs *n)
{
	if (!n)
		return;
	for (int s = 0; s < NETTAP_MAX_IFACES; s++)
		if (n->used[s])
			netobs_del(n, s);
	n->ops->close(n);
	free(n);
}

const char *netobs_name(const struct netobs *n)
{
	return n->ops->name;
}

int netobs_source(const struct netobs *n)
{
	return n->ops == &netobs_bpf_ops ? WAVE_NET_SRC_BPF : WAVE_NET_SRC_IFSTATS;
}

int netobs_add(struct netobs *n, const char *ifname, int notify)
{
	unsigned int idx = if_nametoindex(ifname);
	char why[256] = "";
	int ret;

	if (!idx)
		return -ENODEV;
	/* One slot per interface: a second would count its packets twice. */
	for (int s = 0; s < NETTAP_MAX_IFACES; s++)
		if (n->used[s] && n->ifindex[s] == idx)
			return -EEXIST;
	for (int s = 0; s < NETTAP_MAX_IFACES; s++) {
		if (n->used[s])
			continue;
		n->ifindex[s] = idx;
		snprintf(n->ifname[s], sizeof(n->ifname[s]), "%s", ifname);
		if ((ret = n->ops->add(n, (unsigned int)s, notify, why, sizeof(why)))) {
			wave_warn("netobs: cannot count %s: %s", ifname, why);
			return ret;
		}
		n->used[s] = 1;
		return s;
	}
	return -ENOSPC;
}

void netobs_del(struct netobs *n, int slot)
{
	if (slot < 0 || slot >= NETTAP_MAX_IFACES || !n->used[slot])
		return;
	n->ops->del(n, (unsigned int)slot);
	n->used[slot] = 0;
}

int netobs_read(struct netobs *n, int slot, struct nettap_rec *r)
{
	if (slot < 0 || slot >= NETTAP_MAX_IFACES || !n->used[slot])
		return -ENOENT;
	return n->ops->read(n, (unsigned int)slot, r);
}

int netobs_fd(const struct netobs *n)
{
	return n->ops->fd ? n->ops->fd(n) : -1;
}

int netobs_poll(struct netobs *n, void (*cb)(const struct nettap_event *ev, void *arg),
		void *arg)
{
	return n->ops->poll ? n->ops->poll(n, cb, arg) : 0;
}

void netobs_notify(struct netobs *n, int slot, int on)
{
	if (slot >= 0 && slot < NETTAP_MAX_IFACES && n->used[slot] && n->ops->notify)
		n->ops->notify(n, (unsigned int)slot, on);
}

unsigned int netobs_ifindex(const struct netobs *n, int slot)
{
	return slot >= 0 && slot < NETTAP_MAX_IFACES && n->used[slot] ? n->ifindex[slot] : 0;
}

const char *netobs_ifname(const struct netobs *n, int slot)
{
	return slot >= 0 && slot < NETTAP_MAX_IFACES ? n->ifname[slot] : "?";
}
