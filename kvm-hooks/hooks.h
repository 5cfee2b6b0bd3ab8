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
#include <errno.h>
#include <stdint.h>
#include <string.h>
typedef uint32_t hk_u32;
typedef uint64_t hk_u64;
#define HK_INLINE static inline __attribute__((always_inline))
#else
typedef __u32 hk_u32;
typedef __u64 hk_u64;
#define HK_INLINE static __always_inline
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
 * registration.
 *
 * seq is a seqcount. The BPF side (the writer) makes it odd before it
 * changes any other field and even again after the last change
 * (hooks_write_begin/end); waved (the reader, hooks_rec_read) copies the
 * record between two reads of an equal, even seq, else retries. So a
 * reader never sees a half-updated record, and one that sees the same seq
 * as last time knows nothing changed (each update adds 2).
 *
 * Writers: the tracepoints of one thread run one at a time. A thread is
 * switched out (sched_switch, prev) before it can be woken on another CPU
 * (sched_wakeup waits for the switch to finish: the kernel's p->on_cpu
 * handshake) and switched in (next) only after that wakeup; its exit runs
 * on its own CPU. The exception is the loader's notify word, which only
 * the loader writes, outside the seqcount.
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

/*
 * Writer side, in the BPF programs (and the loader when it sets a slot up).
 * Each is an atomic fetch-and-add, which the kernel's memory model orders
 * fully on every JIT (BPF_ADD | BPF_FETCH; the form without FETCH, what
 * clang emits when the old value is unused, is unordered on arm64): the
 * empty asm uses the old value, so the fetching form is kept (-mcpu=v3).
 * begin's orders the odd seq before the field stores (pairs with the
 * reader's fence and second seq load); end's orders the field stores
 * before the even seq (pairs with the reader's first, acquire load).
 */
HK_INLINE void hooks_write_begin(struct hooks_rec *r)
{
	hk_u32 old = __sync_fetch_and_add(&r->seq, 1);

	__asm__ __volatile__("" : : "r"(old));
}

HK_INLINE void hooks_write_end(struct hooks_rec *r)
{
	hk_u32 old = __sync_fetch_and_add(&r->seq, 1);

	__asm__ __volatile__("" : : "r"(old));
}

/*
 * The peer's copy (hooks.bpf.c "peer_recs") is written the same way, but
 * its seq is set rather than added to: the peer can write its copy, and a
 * seq it left odd would otherwise stay odd (each write adds two) and hide
 * the record from every later reader. Set, the next write makes it even
 * again. One writer per slot at a time, as for the records (the loader
 * writes a slot only before its tid is in the hash). Exchanges are fully
 * ordered, like the fetch-and-adds above.
 */
HK_INLINE hk_u32 hooks_peer_write_begin(struct hooks_rec *r)
{
	hk_u32 odd = r->seq | 1;

	__sync_lock_test_and_set(&r->seq, odd);
	return odd;
}

HK_INLINE void hooks_peer_write_end(struct hooks_rec *r, hk_u32 odd)
{
	__sync_lock_test_and_set(&r->seq, odd + 1);
}

#ifndef __bpf__
#define HOOKS_READ_TRIES 64

/*
 * Reader side: a consistent copy of *src into *dst. 0, or -EAGAIN if the
 * writer kept it busy for HOOKS_READ_TRIES tries (the caller reads again
 * later; a record is written in well under a microsecond).
 */
HK_INLINE int hooks_rec_read(const struct hooks_rec *src, struct hooks_rec *dst)
{
	for (int i = 0; i < HOOKS_READ_TRIES; i++) {
		/* Acquire: the copy below is not read before this (pairs with write_end). */
		hk_u32 s1 = __atomic_load_n(&src->seq, __ATOMIC_ACQUIRE);

		if (s1 & 1)
			continue;
		memcpy(dst, (const void *)src, sizeof(*dst));
		/* The copy is complete before seq is read again (pairs with write_begin). */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&src->seq, __ATOMIC_RELAXED) == s1) {
			dst->seq = s1;
			return 0;
		}
	}
	return -EAGAIN;
}

/*
 * Whether a record read with seq and state says nothing new to a reader
 * that last passed on the one with sent_seq: it did not change, and the
 * thread neither runs nor waits for a CPU (those times grow between
 * switches, so such a thread is passed on at every read).
 */
HK_INLINE int hooks_rec_quiet(hk_u32 seq, hk_u32 state, hk_u32 sent_seq)
{
	return seq == sent_seq && state != HOOKS_RUNNING && state != HOOKS_RUNNABLE;
}

/*
 * Counts the time in the current state up to now (CLOCK_MONOTONIC), so that
 * a reader sees a running thread's run time grow between switches.
 */
HK_INLINE void hooks_rec_upto(struct hooks_rec *r, uint64_t now)
{
	if (!r->since_ns || now <= r->since_ns)
		return;
	if (r->state == HOOKS_RUNNING)
		r->run_ns += now - r->since_ns;
	else if (r->state == HOOKS_RUNNABLE)
		r->wait_ns += now - r->since_ns;
}
#endif

/* Ring buffer event: a registered thread woke up or exited. */
struct hooks_event {
	hk_u32 tid;
	hk_u32 slot;
	hk_u32 cpu;
	hk_u32 kind;       /* HOOKS_RUNNABLE: wakeup; HOOKS_GONE: exit */
	hk_u64 ts_ns;
};

#endif
