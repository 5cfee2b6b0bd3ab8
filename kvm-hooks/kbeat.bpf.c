// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The kernel watches a shared-memory agent so that waved need not wake to
 * do it (kbeat.h has the protocol). A BPF timer fires every period: it
 * checks that the agent answered the last beat, publishes the next one and
 * rings the agent; a beat left unanswered for a whole period is pushed to
 * waved as a stall, and the timer stops until waved arms it again (waved
 * then watches the agent itself, through the channel, until it hands
 * control back).
 *
 * The period is the lag threshold, so a stop is seen within two thresholds,
 * as with waved's own heartbeats. The beat is also the agent's export
 * clock: the agent looks a little after each beat is due (it knows when
 * from the host word), reads the thread records (hooks.bpf.c's peer copy)
 * and answers, so waved exports nothing periodic. Nobody is woken for a
 * beat: a ring buffer wakeup is an irq_work (a self-IPI on x86), which on
 * a paravirtual host cost more than the rest of the fire; an agent polls
 * host memory at its own pace, as one on an IPU would across PCIe.
 *
 * Started from user space with BPF_PROG_TEST_RUN on the syscall program
 * (a timer has no attach point). Alternative rejected: a perf event or
 * tracepoint program as the clock; tracing programs may not use bpf_timer.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "kvm-hooks/kbeat.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define BPF_RB_FORCE_WAKEUP_FLAG 2 /* BPF_RB_FORCE_WAKEUP */

struct kb_timer {
	struct bpf_timer t;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, struct kb_timer);
} kb_timers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, struct kbeat_host);
	__uint(map_flags, BPF_F_MMAPABLE);
} kb_host SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, struct kbeat_echo);
	__uint(map_flags, BPF_F_MMAPABLE);
} kb_echo SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} kb_stalls SEC(".maps");

/*
 * Control and counters (the skeleton's .bss, mapped by waved). armed: set
 * by kb_arm, cleared by waved (disarm) or by the timer on a stall; a fire
 * that finds it clear does nothing and does not start the timer again.
 */
__u32 armed;
__u64 period_ns;
__u64 cur_seq, cur_ns; /* the beat last published: what the check trusts (kb_host is a copy) */
__u32 fresh;           /* armed since the last fire: no beat out yet to check */
__u64 fires, beats, stalls, missed_stalls, odd_echoes;
__u64 run_ns;     /* time inside the callback, from its first to its last instruction */
__u64 last_hold_ns;

/* Tells waved (the only wakeup this program causes). */
static __always_inline void tell_stall(__u64 seq, __u64 age)
{
	struct kbeat_event *e = bpf_ringbuf_reserve(&kb_stalls, sizeof(*e), 0);

	if (!e) {
		missed_stalls++;
		return;
	}
	e->seq = seq;
	e->age_ns = age;
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP_FLAG);
}

static int kb_fire(void *map, int *key, struct kb_timer *kt)
{
	__u64 t0 = bpf_ktime_get_ns(), echo;
	struct kbeat_host *h;
	struct kbeat_echo *e;
	int k = 0;

	h = bpf_map_lookup_elem(&kb_host, &k);
	e = bpf_map_lookup_elem(&kb_echo, &k);
	if (!h || !e || !armed)
		return 0;
	fires++;
	echo = e->echo_seq;
	if (!fresh && echo != cur_seq) {
		/* A value from the future is no answer either (the word is the agent's). */
		if (echo > cur_seq)
			odd_echoes++;
		stalls++;
		armed = 0;
		tell_stall(cur_seq, t0 - cur_ns);
		run_ns += bpf_ktime_get_ns() - t0;
		return 0;
	}
	fresh = 0;
	last_hold_ns = e->hold_ns;
	cur_seq++;
	cur_ns = t0;
	h->host_ns = t0;
	h->period_ns = period_ns;
	/* Fully ordered: host_ns (and the records the agent will read) before the new seq. */
	__sync_lock_test_and_set(&h->host_seq, cur_seq);
	beats++;
	bpf_timer_start(&kt->t, period_ns, 0);
	run_ns += bpf_ktime_get_ns() - t0;
	return 0;
}

/*
 * Arms the watch: the first beat goes out at once (one period from now is
 * too late for an agent just handed control).
 * Returns 0, or which step failed.
 */
SEC("syscall")
int kb_arm(void *ctx)
{
	struct kb_timer *kt;
	struct kbeat_host *h;
	struct kbeat_echo *e;
	int k = 0, ret;

	kt = bpf_map_lookup_elem(&kb_timers, &k);
	h = bpf_map_lookup_elem(&kb_host, &k);
	e = bpf_map_lookup_elem(&kb_echo, &k);
	if (!kt || !h || !e)
		return 1;
	/* -EBUSY: initialised by an earlier arm; the callback stays set. */
	ret = bpf_timer_init(&kt->t, &kb_timers, 1 /* CLOCK_MONOTONIC */);
	if (ret && ret != -16)
		return 2;
	bpf_timer_set_callback(&kt->t, kb_fire);
	/* The echo word is cleared; the sequence goes on, so no old echo matches a new beat. */
	e->echo_seq = 0;
	fresh = 1;
	armed = 1;
	return bpf_timer_start(&kt->t, 1000, 0) ? 3 : 0;
}
