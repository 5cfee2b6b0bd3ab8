/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-thread record both kvm-hooks backends fill and waved reads: the
 * BPF programs (hooks.bpf.c) keep one per registered thread in an mmapable
 * array; the /proc backend fills the same struct by sampling. Only the
 * types both sides read live here (the BPF side includes it too).
 */
#ifndef WAVE_KVM_HOOKS_H
#define WAVE_KVM_HOOKS_H

#ifndef __bpf__
#include <stdint.h>
typedef uint32_t hk_u32;
typedef uint64_t hk_u64;
#else
typedef __u32 hk_u32;
typedef __u64 hk_u64;
#endif

#define HOOKS_MAX_THREADS 1024

enum hooks_state {
	HOOKS_BLOCKED = 0,
	HOOKS_RUNNABLE = 1,
	HOOKS_RUNNING = 2,
	HOOKS_GONE = 3,
};

/*
 * One thread. tid 0 marks a free slot. Counters are cumulative since
 * registration. seq grows with every update, so a reader that sees the same
 * seq knows nothing changed. Updates from different CPUs are not atomic as
 * a whole: a reader may see a record mid-update, off by one event at most.
 */
struct hooks_rec {
	hk_u32 tid;
	hk_u32 state;      /* enum hooks_state */
	hk_u32 cpu;        /* CPU it ran on (or will be woken on) last */
	hk_u32 seq;
	hk_u64 run_ns;     /* on a CPU */
	hk_u64 wait_ns;    /* runnable, waiting for a CPU */
	hk_u64 wakeups;
	hk_u64 preempts;   /* involuntary switches */
	hk_u64 since_ns;   /* CLOCK_MONOTONIC when the current state began */
	hk_u32 notify;     /* set by the loader: push this thread's wakeups as events */
	hk_u32 rsvd;
};

/* Ring buffer event: a registered thread woke up or exited. */
struct hooks_event {
	hk_u32 tid;
	hk_u32 slot;
	hk_u32 cpu;
	hk_u32 kind;       /* HOOKS_RUNNABLE: wakeup; HOOKS_GONE: exit */
	hk_u64 ts_ns;
};

#endif
