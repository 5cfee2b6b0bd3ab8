// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Host observation of vCPU and emulator threads, without kernel patches.
 *
 * Four tracepoints (BTF-typed, CO-RE against the running kernel): every
 * context switch, wakeup, new-task wakeup and task exit. Each first looks
 * the thread id up in the "tids" hash that waved fills with the threads it
 * manages; everything else returns at once, so the cost on unrelated
 * threads is one hash lookup. For a registered thread the record in the
 * mmapable "recs" array is updated in place (waved reads it without a
 * system call), and wakeups and exits are pushed into a ring buffer for
 * event-driven policies.
 *
 * Alternative rejected: a perf event array per CPU. The BPF ring buffer
 * keeps events in order across CPUs and wakes one epoll fd.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "kvm-hooks/hooks.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * Set by the loader before load: a wakeup becomes an event only if the
 * thread slept at least this long. Short naps need no reaction from a
 * policy (their state goes out with the next periodic export), and every
 * event costs the host daemon a wakeup.
 */
const volatile __u64 wake_min_idle_ns = 0;

/*
 * Set by the loader: keep a copy of every record in "peer_recs" for a peer
 * on this host's memory (the agent reads it, kwatch.c). The copy, not the
 * records themselves: whoever maps an array can write it (a shared mapping
 * needs a writable fd), and only waved and these programs may write what
 * waved reads and what the lookups trust (tid). A peer that scribbles on
 * its copy misleads only itself. Off, the verifier drops the copying.
 */
const volatile __u32 share = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HOOKS_MAX_THREADS);
	__type(key, __u32);   /* tid */
	__type(value, __u32); /* slot in recs */
} tids SEC(".maps");

/* The records (waved's), and the peer's copy of them: one layout, slot-indexed. */
struct recs_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HOOKS_MAX_THREADS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct hooks_rec);
} recs SEC(".maps"), peer_recs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* The peer's copy of record r (slot), under its own, self-healing seqcount (hooks.h). */
static __always_inline void publish(__u32 slot, const struct hooks_rec *r)
{
	struct hooks_rec *p;
	__u32 odd;

	if (!share)
		return;
	p = bpf_map_lookup_elem(&peer_recs, &slot);
	if (!p)
		return;
	odd = hooks_peer_write_begin(p);
	p->tid = r->tid;
	p->state = r->state;
	p->cpu = r->cpu;
	p->run_ns = r->run_ns;
	p->wait_ns = r->wait_ns;
	p->wakeups = r->wakeups;
	p->preempts = r->preempts;
	p->since_ns = r->since_ns;
	hooks_peer_write_end(p, odd);
}

static __always_inline struct hooks_rec *lookup(__u32 tid, __u32 *slot)
{
	__u32 *s = bpf_map_lookup_elem(&tids, &tid);
	struct hooks_rec *r;

	if (!s)
		return 0;
	*slot = *s;
	r = bpf_map_lookup_elem(&recs, s);
	/* A slot being reused for another thread is ignored until it is set up. */
	if (!r || r->tid != tid)
		return 0;
	return r;
}

static __always_inline void push(__u32 tid, __u32 slot, __u32 cpu, __u32 kind, __u64 now)
{
	struct hooks_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return;
	e->tid = tid;
	e->slot = slot;
	e->cpu = cpu;
	e->kind = kind;
	e->ts_ns = now;
	bpf_ringbuf_submit(e, 0);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u64 now = bpf_ktime_get_ns();
	struct hooks_rec *r;
	__u32 slot;

	r = lookup(prev->pid, &slot);
	/*
	 * GONE is final: an exiting thread still runs, sleeps and is woken on
	 * its way out after the exit tracepoint. Every update sits between
	 * hooks_write_begin() and hooks_write_end() (the seqcount, hooks.h).
	 */
	if (r && r->state != HOOKS_GONE) {
		hooks_write_begin(r);
		if (r->state == HOOKS_RUNNING)
			r->run_ns += now - r->since_ns;
		/* Switched out while still runnable: preempted (or yielded). */
		if (preempt || BPF_CORE_READ(prev, __state) == 0) {
			r->state = HOOKS_RUNNABLE;
			if (preempt)
				r->preempts++;
		} else {
			r->state = HOOKS_BLOCKED;
		}
		r->since_ns = now;
		hooks_write_end(r);
		publish(slot, r);
	}
	r = lookup(next->pid, &slot);
	if (r && r->state != HOOKS_GONE) {
		hooks_write_begin(r);
		if (r->state == HOOKS_RUNNABLE)
			r->wait_ns += now - r->since_ns;
		r->state = HOOKS_RUNNING;
		r->cpu = bpf_get_smp_processor_id();
		r->since_ns = now;
		hooks_write_end(r);
		publish(slot, r);
	}
	return 0;
}

static __always_inline int wakeup(struct task_struct *p)
{
	__u64 now = bpf_ktime_get_ns();
	struct hooks_rec *r;
	__u32 slot, cpu;
	__u64 slept;

	r = lookup(p->pid, &slot);
	if (!r || r->state != HOOKS_BLOCKED)
		return 0;
	cpu = BPF_CORE_READ(p, wake_cpu);
	slept = now - r->since_ns;
	hooks_write_begin(r);
	r->state = HOOKS_RUNNABLE;
	r->cpu = cpu;
	r->wakeups++;
	r->since_ns = now;
	hooks_write_end(r);
	publish(slot, r);
	if (r->notify && slept >= wake_min_idle_ns)
		push(r->tid, slot, cpu, HOOKS_RUNNABLE, now);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(on_wakeup, struct task_struct *p)
{
	return wakeup(p);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(on_wakeup_new, struct task_struct *p)
{
	return wakeup(p);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
	__u64 now = bpf_ktime_get_ns();
	struct hooks_rec *r;
	__u32 slot;

	r = lookup(p->pid, &slot);
	if (!r)
		return 0;
	hooks_write_begin(r);
	if (r->state == HOOKS_RUNNING)
		r->run_ns += now - r->since_ns;
	r->state = HOOKS_GONE;
	r->since_ns = now;
	hooks_write_end(r);
	publish(slot, r);
	push(r->tid, slot, r->cpu, HOOKS_GONE, now);
	return 0;
}
