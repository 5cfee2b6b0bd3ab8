// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Per-VM traffic on the VM's taps, without a data plane of our own: two tc
 * classifiers (clsact, direct action) that count and pass every packet.
 * The ingress hook of a tap sees what the guest sent, the egress hook what
 * the host hands to the guest. Each looks the interface up in the "ifs"
 * hash that waved fills with the taps it manages and adds to that
 * interface's record in the mmapable "recs" array (waved reads it without
 * a system call). A packet to a guest whose record asks for it, arriving
 * after at least quiet_ns without one, is also pushed into a ring buffer:
 * the policy may act on a request arriving before the vCPU that will serve
 * it wakes.
 *
 * Alternatives rejected: the net tracepoints (net_dev_xmit,
 * netif_receive_skb) see every packet of every device on the host, where
 * tc hooks run only on the taps; the interfaces' statistics (the sysfs
 * backend in netobs.c) cost four file reads per tap per sample and give
 * no arrival events.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "kvm-hooks/nettap.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TC_ACT_OK 0

/* Set by the loader before load: the quiet gap that makes an arrival an event. */
const volatile __u64 quiet_ns = 1000000;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NETTAP_MAX_IFACES);
	__type(key, __u32);   /* ifindex */
	__type(value, __u32); /* slot in recs */
} ifs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NETTAP_MAX_IFACES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct nettap_rec);
} recs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} arrivals SEC(".maps");

static __always_inline struct nettap_rec *lookup(struct __sk_buff *skb, __u32 *slot)
{
	__u32 ifindex = skb->ifindex;
	__u32 *s = bpf_map_lookup_elem(&ifs, &ifindex);
	struct nettap_rec *r;

	if (!s)
		return 0;
	*slot = *s;
	r = bpf_map_lookup_elem(&recs, s);
	/*
	 * A slot being handed to another interface: not ours to count. A
	 * plain (volatile) load: BPF has no acquire load in clang 14, and the
	 * JITs of strongly ordered CPUs (x86) keep loads in order anyway.
	 */
	if (!r || *(volatile __u32 *)&r->ifindex != ifindex)
		return 0;
	return r;
}

/* The tap's ingress: what the guest sent. */
SEC("tc")
int nettap_from_guest(struct __sk_buff *skb)
{
	struct nettap_rec *r;
	__u32 slot;

	/* Bytes before packets: a reader that loads packets first never sees fewer bytes. */
	if ((r = lookup(skb, &slot))) {
		__sync_fetch_and_add(&r->tx_bytes, skb->len);
		__sync_fetch_and_add(&r->tx_pkts, 1);
	}
	return TC_ACT_OK;
}

/* The tap's egress: what reaches the guest. */
SEC("tc")
int nettap_to_guest(struct __sk_buff *skb)
{
	struct nettap_event *ev;
	struct nettap_rec *r;
	__u64 now, last;
	__u32 slot;

	if (!(r = lookup(skb, &slot)))
		return TC_ACT_OK;
	__sync_fetch_and_add(&r->rx_bytes, skb->len);
	__sync_fetch_and_add(&r->rx_pkts, 1);
	now = bpf_ktime_get_ns();
	/*
	 * Two CPUs racing here may both report one gap (harmless: two
	 * arrivals), and another CPU may have stored a later time than ours:
	 * signed, that is no gap at all.
	 */
	last = r->last_rx_ns;
	r->last_rx_ns = now;
	if (!r->notify || (last && (__s64)(now - last) < (__s64)quiet_ns))
		return TC_ACT_OK;
	ev = bpf_ringbuf_reserve(&arrivals, sizeof(*ev), 0);
	if (!ev)
		return TC_ACT_OK;
	ev->slot = slot;
	ev->ifindex = skb->ifindex;
	ev->ts_ns = now;
	ev->quiet_ns = last ? now - last : now;
	bpf_ringbuf_submit(ev, 0);
	return TC_ACT_OK;
}
