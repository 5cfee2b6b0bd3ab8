/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-interface record both network-observation backends fill and waved
 * reads (netobs.h): the BPF programs on a VM tap's tc hooks (nettap.bpf.c)
 * keep one per registered interface in an mmapable array; the sysfs
 * backend fills the same struct from the interface's statistics. Only the
 * types both sides read live here (the BPF side includes it too).
 *
 * Directions are the guest's: rx is what reaches the guest (the tap's
 * egress, written to QEMU), tx is what the guest sent (the tap's ingress).
 *
 * Ordering: every counter is a 64-bit word the BPF side adds to atomically
 * (several CPUs may carry one tap's packets at once) and the reader loads
 * atomically; there is no seqcount, because no reader needs the counters
 * of one instant, only each one monotonic. One pair is ordered: the BPF
 * side adds a packet's bytes before the packet (its atomic adds are full
 * barriers) and the reader loads packets before bytes (acquire), so a
 * reader never sees fewer bytes than packets, which the channel rejects. ifindex is published last by
 * the loader (release) and the BPF side updates only a record whose
 * ifindex matches the packet's interface, so a slot being reused is never
 * counted for the wrong interface.
 */
#ifndef WAVE_KVM_HOOKS_NETTAP_H
#define WAVE_KVM_HOOKS_NETTAP_H

#ifndef __bpf__
#include <stdint.h>
typedef uint32_t nt_u32;
typedef uint64_t nt_u64;
#else
typedef __u32 nt_u32;
typedef __u64 nt_u64;
#endif

#define NETTAP_MAX_IFACES 256

struct nettap_rec {
	nt_u32 ifindex;      /* 0: a free slot */
	nt_u32 notify;       /* loader-written: push an arrival event after a quiet gap */
	nt_u64 rx_pkts;      /* to the guest */
	nt_u64 rx_bytes;
	nt_u64 tx_pkts;      /* from the guest */
	nt_u64 tx_bytes;
	nt_u64 last_rx_ns;   /* CLOCK_MONOTONIC of the last packet to the guest, or 0 */
};

/* Pushed into the ring buffer: a packet reached a notify interface after a quiet gap. */
struct nettap_event {
	nt_u32 slot;
	nt_u32 ifindex;
	nt_u64 ts_ns;        /* CLOCK_MONOTONIC */
	nt_u64 quiet_ns;     /* time since the packet before (all of it if there was none) */
};

#endif
