// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The kernel watches a shared-memory agent so that waved need not wake to
 * do it (kbeat.h has the protocol). A BPF timer fires every period, half
 * the lag threshold: it checks that the agent answered the beat published
 * two fires ago (one threshold ago) and publishes the next one; a beat
 * left unanswered for the threshold is pushed to waved as a stall, and the
 * timer stops until waved arms it again (waved then watches the agent
 * itself, through the channel, until it hands control back).
 *
 * So an agent that stops is seen between one threshold and one and a half
 * after it stopped (the next beat comes within half a threshold), plus
 * however late the timer runs; an agent that answers within the threshold
 * is never a stall. Rejected: a period of a whole threshold, checking the
 * last beat, which costs half the fires but sees a stop only within two
 * thresholds, and a timer late by a few milliseconds (softirq work on a
 * loaded host) takes it past them. The beat is also the agent's export
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

/*
 * The two words live in maps of their own per attach: waved makes a fresh
 * pair for each agent it offers them to and puts them in these slots, so a
 * process that held an earlier pair (an agent that left, or was refused)
 * can write to it forever without its answer ever being read again.
 */
struct kb_host_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, struct kbeat_host);
	__uint(map_flags, BPF_F_MMAPABLE);
} kb_host SEC(".maps");

struct kb_echo_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, struct kbeat_echo);
	__uint(map_flags, BPF_F_MMAPABLE);
} kb_echo SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, int);
	__array(values, struct kb_host_map);
} kb_host_of SEC(".maps") = {
	.values = { [0] = &kb_host },
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, int);
	__array(values, struct kb_echo_map);
} kb_echo_of SEC(".maps") = {
	.values = { [0] = &kb_echo },
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} kb_stalls SEC(".maps");

/*
 * Control and counters (the skeleton's .bss, mapped by waved). armed: set
 * by kb_arm, cleared by waved (disarm) or by the timer on a stall; a fire
 * that finds it clear does nothing and does not start the timer again.
 * arm_gen names each arming; a stall carries it, so that waved ignores one
 * that an earlier arming left behind.
 */
__u32 armed, arm_gen;
__u64 period_ns;       /* half the lag threshold */
/* The beats last published: what the check trusts (kb_host is a copy). */
__u64 cur_seq, cur_ns;   /* at the last fire */
__u64 due_seq, due_ns;   /* at the fire before it: must be answered at the next fire */
__u32 fresh;             /* fires since arming that have nothing to check yet (2, 1, 0) */
__u64 fires, beats, stalls, missed_stalls, odd_echoes;
__u64 run_ns;     /* time inside the callback, from its first to its last instruction */
__u64 last_lag_ns, max_lag_ns; /* the agent's answers, bounded by two periods */

/*
 * Tells waved (the only wakeup this program causes). If the ring is full,
 * waved finds the timer disarmed at its next tick and treats it the same.
 */
static __always_inline void tell_stall(__u64 seq, __u64 age)
{
	struct kbeat_event *e = bpf_ringbuf_reserve(&kb_stalls, sizeof(*e), 0);

	if (!e) {
		missed_stalls++;
		return;
	}
	e->seq = seq;
	e->age_ns = age;
	e->arm_gen = arm_gen;
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP_FLAG);
}

/* The current attach's word in outer (a map of maps), or NULL. */
static __always_inline void *word(void *outer)
{
	int k = 0;
	void *inner = bpf_map_lookup_elem(outer, &k);

	return inner ? bpf_map_lookup_elem(inner, &k) : NULL;
}

static int kb_fire(void *map, int *key, struct kb_timer *kt)
{
	__u64 t0 = bpf_ktime_get_ns(), echo;
	struct kbeat_host *h;
	struct kbeat_echo *e;

	if (!armed)
		return 0;
	h = word(&kb_host_of);
	e = word(&kb_echo_of);
	if (!h || !e)
		return 0;
	fires++;
	echo = e->echo_seq;
	/*
	 * The due beat or a newer one answered; a value from the future is no
	 * answer either (the word is the agent's). Until two beats are out,
	 * there is no due beat of this arming.
	 */
	if (!fresh && (echo < due_seq || echo > cur_seq)) {
		if (echo > cur_seq)
			odd_echoes++;
		stalls++;
		armed = 0;
		tell_stall(due_seq, t0 - due_ns);
		run_ns += bpf_ktime_get_ns() - t0;
		return 0;
	}
	if (fresh)
		fresh--;
	/* The agent's word: at most two periods, since it answered in time. */
	last_lag_ns = e->lag_ns < 2 * period_ns ? e->lag_ns : 2 * period_ns;
	if (last_lag_ns > max_lag_ns)
		max_lag_ns = last_lag_ns;
	due_seq = cur_seq;
	due_ns = cur_ns;
	cur_seq++;
	cur_ns = t0;
	h->host_ns = t0;
	h->period_ns = period_ns;
	/* Fully ordered: host_ns (and the records the agent will read) before the new seq. */
	__sync_lock_test_and_set(&h->host_seq, cur_seq);
	beats++;
	/* Cannot fail for an initialised timer; if it did, waved sees fires stop. */
	bpf_timer_start(&kt->t, period_ns, 0);
	run_ns += bpf_ktime_get_ns() - t0;
	return 0;
}

/*
 * Arms the watch: the first beat goes out at once (one period from now is
 * too late for an agent just handed control). A callback of an earlier
 * arming may be running on another CPU: the timer is cancelled first (that
 * waits for it), so it cannot publish a beat under the new arming. The
 * echo word needs no clearing: the sequence goes on, so no old answer
 * reaches a new beat, and the first two fires check nothing (fresh).
 * Returns 0, or which step failed (and stays disarmed).
 */
SEC("syscall")
int kb_arm(void *ctx)
{
	struct kb_timer *kt;
	int k = 0, ret;

	kt = bpf_map_lookup_elem(&kb_timers, &k);
	if (!kt)
		return 1;
	armed = 0;
	/* -EBUSY: initialised by an earlier arming; the callback stays set. */
	ret = bpf_timer_init(&kt->t, &kb_timers, 1 /* CLOCK_MONOTONIC */);
	if (ret && ret != -16)
		return 2;
	bpf_timer_cancel(&kt->t);
	bpf_timer_set_callback(&kt->t, kb_fire);
	arm_gen++;
	fresh = KBEAT_FRESH_BEATS;
	last_lag_ns = max_lag_ns = 0;
	armed = 1;
	if (bpf_timer_start(&kt->t, 1000, 0)) {
		armed = 0;
		return 3;
	}
	return 0;
}
