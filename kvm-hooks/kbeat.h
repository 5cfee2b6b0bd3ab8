/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The kernel's heartbeat of a shared-memory agent: what kbeat.bpf.c and an
 * agent on this host's memory both read. Only the types both sides use
 * live here (the BPF side includes it too).
 *
 * The host (a BPF timer, every period: half the lag threshold) publishes
 * a beat in a word it writes (struct kbeat_host); the agent, looking a
 * little after each beat is due, answers by writing the beat's sequence
 * into a word it writes (struct kbeat_echo). Two fires later (one
 * threshold) the timer checks that the beat, or a newer one, was answered;
 * if not, it tells waved through a ring buffer, and only then does waved
 * wake. The agent's word is untrusted: the timer only
 * compares it with the beat it keeps itself. The host word is a copy for
 * the agent (which could write it: a shared mapping needs a writable fd),
 * never read back. Each attach gets a fresh pair of words (kbeat_new_words).
 *
 * Ordering: the timer stores host_ns, then host_seq with release semantics
 * (a BPF atomic exchange is fully ordered); the agent reads host_seq with
 * acquire semantics, then host_ns.
 * The agent reads the thread records (hooks.h, seqcount) and then stores
 * echo_seq with release semantics: an echo means "I have read the state as
 * of this beat". The timer's plain load of echo_seq needs no ordering: it
 * compares a value, it reads nothing the agent wrote before it.
 */
#ifndef WAVE_KVM_HOOKS_KBEAT_H
#define WAVE_KVM_HOOKS_KBEAT_H

#include "kvm-hooks/hooks.h"

/*
 * Beats published at arming before the first is checked (the first goes
 * out at once, the second a period later; the third fire checks the
 * first): an agent that answered none of an arming's beats leaves exactly
 * this many published when its stall comes.
 */
#define KBEAT_FRESH_BEATS 2

/* Written by the BPF timer; the agent only reads it. */
struct kbeat_host {
	hk_u64 host_seq;   /* the beat last published; 0: none yet */
	hk_u64 host_ns;    /* when (CLOCK_MONOTONIC), for the record */
	hk_u64 period_ns;  /* the beat period: the agent's export clock too */
	hk_u64 rsvd;
};

/* Written by the agent only. */
struct kbeat_echo {
	hk_u64 echo_seq;   /* the newest beat answered */
	hk_u64 lag_ns;     /* from the beat's host_ns to this answer: the two share a
			    * clock (one host's memory); untrusted, only shown */
};

/* Ring buffer record to waved: a stall. */
struct kbeat_event {
	hk_u64 seq;        /* the beat left unanswered */
	hk_u64 age_ns;     /* how long it had been waiting */
	hk_u32 arm_gen;    /* of the arming it belongs to (kbeat_armed_gen) */
	hk_u32 rsvd;
};

#ifndef __bpf__
#include <stddef.h>

/*
 * The host's side (kbeat.c): loads kbeat.bpf.c, arms and disarms the watch,
 * reads stalls. Threading: one owner thread (waved's main loop).
 */
struct kbeat;

struct kbeat_stats {
	uint64_t fires, beats, stalls, missed_stalls, odd_echoes;
	uint64_t run_ns;       /* inside the timer callback, all fires */
	uint64_t last_lag_ns;  /* the agent's word, as last read (untrusted, bounded) */
	uint64_t max_lag_ns;   /* ... the most since the last arming */
};

/* The words' fds an agent on this host's memory gets, in the order they are passed. */
enum kbeat_agent_fd { KBEAT_FD_HOST = 0, KBEAT_FD_ECHO, KBEAT_NR_FDS };

/* Loads and sets up; 0 or -errno (why says what failed: root and BPF timers needed). */
int kbeat_open(struct kbeat **out, char *why, size_t len);
/* Stops the timer and frees everything. NULL is a no-op. */
void kbeat_close(struct kbeat *kb);
/*
 * A fresh pair of words for the next attach, in place of the last: what
 * the timer reads from now on. fds[] get new fds (the caller's to pass and
 * close); the last pair's holders are never read again. 0 or -errno.
 */
int kbeat_new_words(struct kbeat *kb, int fds[KBEAT_NR_FDS]);
/*
 * Starts beating every threshold_ns / 2, the first beat at once; a beat
 * the agent leaves unanswered for threshold_ns is a stall. 0 or -errno.
 */
int kbeat_arm(struct kbeat *kb, uint64_t threshold_ns);
/* Stops beating (the timer's next fire does nothing). */
void kbeat_disarm(struct kbeat *kb);
int kbeat_armed(const struct kbeat *kb);
/* Readable when a stall was pushed; kbeat_poll() takes them. */
int kbeat_fd(const struct kbeat *kb);
/*
 * Takes the stalls pushed so far: how many of the current arming (those of
 * an earlier one are dropped); *last the newest (if any).
 */
int kbeat_poll(struct kbeat *kb, struct kbeat_event *last);
void kbeat_get_stats(const struct kbeat *kb, struct kbeat_stats *s);
#endif

#endif
