// SPDX-License-Identifier: BSD-3-Clause
/*
 * Transactions into waved, from the agent (over the channel) or from the
 * policy waved runs itself (on-host mode, local fallback).
 *
 * A transaction is checked whole before anything is touched: the epoch it
 * was computed under must be the current one, every target must be a
 * thread waved manages with the barrier the decision was made for, every
 * CPU must be in the operator's --cpus set. Then the ops are applied in
 * order, each target's settings snapshotted first; if the kernel refuses
 * one, the targets already changed are rolled back and the result carries
 * that op and its errno. Every transaction gets exactly one TXN_RESULT.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "channel/codec.h"
#include "common/clock.h"
#include "common/log.h"
#include "ipu-sched/sched.h"
#include "waved/waved.h"

struct txn_ctx {
	const struct wave_txn *ops;
	unsigned int n;
	struct wv_vm *vm[WAVE_TXN_MAX_OPS];
	struct wv_thread *t[WAVE_TXN_MAX_OPS];
	struct mech_state snap[WAVE_TXN_MAX_OPS];
	int snapped[WAVE_TXN_MAX_OPS];
	int was_changed[WAVE_TXN_MAX_OPS];
};

/* Once per thread and kind: what the operator's pin made waved refuse. */
static void conflict(const struct wv_vm *vm, struct wv_thread *t, uint8_t kind, const char *what)
{
	if (t->conflicts & kind)
		return;
	t->conflicts |= kind;
	wave_warn("waved: %s %s %u: pinned by the operator (libvirt): %s refused (logged once)",
		  vm->name, wv_thread_what(t), t->index, what);
}

static uint8_t check_place(const struct waved *w, const struct wave_txn *op, const struct wv_vm *vm,
			   struct wv_thread *t, const char **why)
{
	for (unsigned int b = 0; b < 64; b++) {
		unsigned int cpu = op->u.place.cpu_base + b;

		if (!(op->u.place.mask & (1ull << b)))
			continue;
		if (cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &w->cfg.allowed)) {
			*why = "CPU outside the allowed set";
			return WAVE_ST_INVALID;
		}
		if (t->pinned && !CPU_ISSET(cpu, &t->pin)) {
			*why = "CPU outside the operator's pin";
			conflict(vm, t, WV_CONFLICT_PLACE, "a placement outside its CPUs");
			return WAVE_ST_INVALID;
		}
	}
	return WAVE_ST_OK;
}

/* The real-time bandwidth a SET_CLASS op grants (CPUs): DEADLINE runtime/period, FIFO 1; -1 other ops. */
static double op_rt_bw(const struct wave_txn *op)
{
	if (op->op != WAVE_OP_SET_CLASS)
		return -1;
	if (op->policy == WAVE_SCHED_DEADLINE)
		return (double)op->u.cls.runtime_ns / (double)op->u.cls.period_ns;
	return op->policy == WAVE_SCHED_FIFO ? 1.0 : 0;
}

/*
 * The safety envelope on real-time classes, whoever decides: no thread gets
 * more than --rt-max-thread of a CPU, and all managed threads together no
 * more than --rt-max-total CPUs, counting what this transaction changes.
 * WAVE_ST_OK, or INVALID with *bad the op past a cap.
 */
static uint8_t check_rt(struct waved *w, struct txn_ctx *c, unsigned int *bad, const char **why)
{
	double total = w->rt_total;

	for (unsigned int k = 0; k < c->n; k++) {
		double bw = op_rt_bw(&c->ops[k]), old = c->t[k]->rt_bw;

		if (bw < 0)
			continue;
		for (unsigned int j = 0; j < k; j++)
			if (c->t[j] == c->t[k] && op_rt_bw(&c->ops[j]) >= 0)
				old = op_rt_bw(&c->ops[j]);
		*bad = k;
		if (bw > w->cfg.rt_max_thread + 1e-9) {
			*why = "over --rt-max-thread";
			return WAVE_ST_INVALID;
		}
		total += bw - old;
		if (total > w->cfg.rt_max_total + 1e-9) {
			*why = "over --rt-max-total";
			return WAVE_ST_INVALID;
		}
	}
	return WAVE_ST_OK;
}

void wv_rt_recount(struct waved *w)
{
	double total = 0;

	for (unsigned int v = 0; v < WV_MAX_VMS; v++)
		for (unsigned int i = 0; w->vms[v].used && i < WV_MAX_THREADS; i++)
			if (w->vms[v].th[i].used)
				total += w->vms[v].th[i].rt_bw;
	w->rt_total = total;
}

/* Checks op k against waved's current state; WAVE_ST_OK or the status to refuse with. */
static uint8_t check_op(struct waved *w, struct txn_ctx *c, unsigned int k, const char **why)
{
	const struct wave_txn *op = &c->ops[k];

	if (op->epoch != w->epoch) {
		*why = "computed under another epoch";
		return WAVE_ST_STALE_EPOCH;
	}
	if (!(c->vm[k] = wv_vm_find(w, op->vm_id))) {
		*why = "no such VM";
		return WAVE_ST_NO_TARGET;
	}
	if (wave_op_targets_vm(op->op)) {
		*why = "a whole VM's and thread decisions in one transaction";
		return WAVE_ST_INVALID;
	}
	if (!(c->t[k] = wv_thread_find(c->vm[k], op->kind, op->index))) {
		*why = "no such thread";
		return WAVE_ST_NO_TARGET;
	}
	if (op->barrier != c->t[k]->barrier) {
		*why = "the target changed since";
		return WAVE_ST_STALE_TARGET;
	}
	if (op->op == WAVE_OP_PLACE)
		return check_place(w, op, c->vm[k], c->t[k], why);
	/* The kernel refuses it too (EPERM); refused here, it is named. */
	if (op->op == WAVE_OP_SET_CLASS && op->policy == WAVE_SCHED_DEADLINE && c->t[k]->pinned) {
		*why = "SCHED_DEADLINE on a thread the operator pinned";
		conflict(c->vm[k], c->t[k], WV_CONFLICT_DEADLINE, "SCHED_DEADLINE");
		return WAVE_ST_INVALID;
	}
	if (op->op == WAVE_OP_SET_QUOTA && !c->t[k]->mech.cgroup[0]) {
		*why = "the thread has no CPU cgroup";
		return WAVE_ST_INVALID;
	}
	return WAVE_ST_OK;
}

int wv_dl_repair(struct waved *w, const char *why)
{
	uint64_t now = wave_now_ns();
	int ret;

	/*
	 * Host-wide, so at most every 100 ms; one asked for sooner is owed, and
	 * a later tick does it (wv_dl_repair_owed), since threads that left
	 * DEADLINE after the last rebuild still hold leaked bandwidth.
	 */
	if (w->dl_repair_ns && now - w->dl_repair_ns < 100 * WAVE_NSEC_PER_MSEC) {
		w->dl_repair_owed = why;
		return -EAGAIN;
	}
	w->dl_repair_ns = now;
	w->dl_repair_owed = NULL;
	ret = w->mech->dl_repair();
	if (ret) {
		wave_log_rl(WAVE_LOG_WARN, "waved: cannot rebuild the SCHED_DEADLINE accounting: %s",
			    strerror(-ret));
		return ret;
	}
	wave_log(w->st.dl_repairs++ ? WAVE_LOG_DEBUG : WAVE_LOG_INFO,
		 "waved: rebuilt the root domain's SCHED_DEADLINE accounting (%s): works around "
		 "a kernel that leaks the bandwidth of threads leaving DEADLINE", why);
	return 0;
}

void wv_dl_repair_owed(struct waved *w)
{
	if (w->dl_repair_owed)
		wv_dl_repair(w, w->dl_repair_owed);
}

void wv_dl_check(struct waved *w, struct wv_thread *const *t, unsigned int n, const char *why)
{
	int left = 0;

	for (unsigned int k = 0; k < n; k++)
		if (t[k]) {
			left |= t[k]->mech.left_dl;
			t[k]->mech.left_dl = 0;
		}
	if (left)
		wv_dl_repair(w, why);
}

/* SET_CLASS into DEADLINE refused for want of bandwidth: maybe leaked; rebuild and retry once. */
static int set_class(struct waved *w, struct wv_thread *t, const struct wave_txn *op, int policy)
{
	int ret = mech_class(&t->mech, policy, op->prio, op->u.cls.runtime_ns, op->u.cls.deadline_ns,
			     op->u.cls.period_ns);

	if (ret == -EBUSY && policy == SCHED_DEADLINE && !wv_dl_repair(w, "admission refused"))
		ret = mech_class(&t->mech, policy, op->prio, op->u.cls.runtime_ns,
				 op->u.cls.deadline_ns, op->u.cls.period_ns);
	return ret;
}

static int apply_op(struct waved *w, struct wv_thread *t, const struct wave_txn *op)
{
	static const int policies[WAVE_SCHED_MAX] = {
		[WAVE_SCHED_OTHER] = SCHED_OTHER,
		[WAVE_SCHED_FIFO] = SCHED_FIFO,
		[WAVE_SCHED_DEADLINE] = SCHED_DEADLINE,
	};
	cpu_set_t set;

	switch (op->op) {
	case WAVE_OP_PLACE:
		CPU_ZERO(&set);
		for (unsigned int b = 0; b < 64; b++)
			if (op->u.place.mask & (1ull << b))
				CPU_SET(op->u.place.cpu_base + b, &set);
		return mech_place(&t->mech, &set);
	case WAVE_OP_SET_WEIGHT:
		return mech_weight(&t->mech, op->u.weight.weight);
	case WAVE_OP_SET_QUOTA:
		return mech_quota(&t->mech, op->u.quota.quota_us, op->u.quota.period_us);
	case WAVE_OP_SET_CLASS:
		return set_class(w, t, op, policies[op->policy]);
	}
	return -EINVAL;
}

/*
 * Op k failed (the kernel changed nothing for it: struct mech_ops' contract;
 * but its thread's baseline may have been recorded just before): undoes
 * ops 0..k-1 in reverse order, each target back to its snapshot. The
 * DEADLINE accounting is rebuilt first if an op took a thread out of
 * DEADLINE, so putting it back in is admitted. A thread's changed flag
 * goes back to what it was only where its undo worked: one whose undo
 * failed stays changed, to be restored at fallback or exit. Returns
 * nonzero if such a thread must now be journaled.
 */
static int rollback(struct waved *w, struct txn_ctx *c, unsigned int k)
{
	int journal = 0, ret;

	c->t[k]->mech.changed = c->was_changed[k];
	wv_dl_check(w, c->t, k, "a transaction is rolled back");
	while (k--) {
		if (!c->snapped[k])
			continue;
		ret = mech_set(&c->t[k]->mech, &c->snap[k]);
		if (ret == -EBUSY && c->snap[k].policy == SCHED_DEADLINE &&
		    !wv_dl_repair(w, "rollback refused DEADLINE admission"))
			ret = mech_set(&c->t[k]->mech, &c->snap[k]);
		if (ret) {
			wave_log_rl(WAVE_LOG_WARN, "waved: cannot undo op %u on thread %d (%s): it "
				    "stays changed until fallback or exit restores it", k,
				    (int)c->t[k]->tid, strerror(-ret));
			journal |= !c->was_changed[k];
			continue;
		}
		c->t[k]->mech.changed = c->was_changed[k];
	}
	return journal;
}

void wv_send_result(struct waved *w, const struct wave_txn *first, uint8_t status,
		    unsigned int op_idx, int err, int local)
{
	struct wave_txn_result r = { 0 };
	struct wv_vm *vm = wv_vm_find(w, first[op_idx].vm_id);
	struct wv_thread *t = vm ? wv_thread_find(vm, first[op_idx].kind, first[op_idx].index) : NULL;
	struct wave_msg m;

	r.txn_id = first->txn_id;
	r.epoch = w->epoch;
	r.status = status;
	r.op_idx = (uint8_t)op_idx;
	r.err = status == WAVE_ST_FAILED ? (err > 0 ? err : EIO) : 0;
	r.vm_id = first[op_idx].vm_id;
	r.barrier = wave_op_targets_vm(first[op_idx].op) && vm ? vm->barrier : t ? t->barrier : 0;
	w->st.results[status]++;
	if (vm) {
		if (status == WAVE_ST_OK)
			vm->applied++;
		else
			vm->rejected++;
	}
	if (local) {
		sched_result(w->local, &r);
		return;
	}
	wave_msg_init(&m, WAVE_MSG_TXN_RESULT);
	m.p.result = r;
	wv_emit(w, &m);
}

uint8_t wv_check_vm_op(struct waved *w, const struct wave_txn *op, unsigned int n,
		       struct wv_vm **vmp, const char **why)
{
	struct wv_vm *vm = *vmp = wv_vm_find(w, op->vm_id);

	if (n != 1) {
		*why = op->op == WAVE_OP_SET_BALLOON ? "SET_BALLOON must be alone in its transaction"
						     : "SET_NET_RATE must be alone in its transaction";
		return WAVE_ST_INVALID;
	}
	if (op->epoch != w->epoch) {
		*why = "computed under another epoch";
		return WAVE_ST_STALE_EPOCH;
	}
	if (!vm) {
		*why = "no such VM";
		return WAVE_ST_NO_TARGET;
	}
	if (op->barrier != vm->barrier) {
		*why = "the VM changed since";
		return WAVE_ST_STALE_TARGET;
	}
	return WAVE_ST_OK;
}

static void apply_txn(struct waved *w, const struct wave_txn *ops, unsigned int n, int local);

static void release_prestaged(struct waved *w, unsigned int slot)
{
	struct wv_prestaged *p = &w->pre[slot];

	for (unsigned int k = 0; k < p->ntrig; k++) {
		struct wv_vm *vm = wv_vm_find(w, p->ops[k].vm_id);
		struct wv_thread *t = vm ? wv_thread_find(vm, p->ops[k].kind, p->ops[k].index) : NULL;

		if (t && t->prestaged == (int)slot + 1) {
			t->prestaged = 0;
			wv_thread_notify(w, vm, t);
		}
	}
	p->used = 0;
}

/*
 * Keeps a checked transaction whose first ntrig ops are TRIGGERs. A trigger
 * thread that already arms one replaces it (the older one is answered
 * STALE_TARGET): the newest decision wins. Its result comes when it fires.
 */
static void prestage(struct waved *w, struct txn_ctx *c, unsigned int ntrig, int local)
{
	unsigned int slot;

	for (unsigned int k = 0; k < ntrig; k++)
		if (c->t[k]->prestaged) {
			unsigned int old = (unsigned int)c->t[k]->prestaged - 1;

			wv_send_result(w, w->pre[old].ops, WAVE_ST_STALE_TARGET, 0, 0, w->pre[old].local);
			release_prestaged(w, old);
		}
	for (slot = 0; slot < WV_PRESTAGED && w->pre[slot].used; slot++)
		;
	if (slot == WV_PRESTAGED) {
		wv_send_result(w, c->ops, WAVE_ST_FAILED, 0, ENOSPC, local);
		return;
	}
	w->pre[slot] = (struct wv_prestaged){ .used = 1, .local = local, .n = c->n,
					      .ntrig = ntrig };
	memcpy(w->pre[slot].ops, c->ops, c->n * sizeof(c->ops[0]));
	for (unsigned int k = 0; k < ntrig; k++) {
		c->t[k]->prestaged = (int)slot + 1;
		wv_thread_notify(w, c->vm[k], c->t[k]);
	}
	w->st.prestaged++;
}

void wv_fire_prestaged(struct waved *w, struct wv_thread *t)
{
	struct wv_prestaged p;
	unsigned int slot;

	if (!t->prestaged)
		return;
	slot = (unsigned int)t->prestaged - 1;
	p = w->pre[slot];
	release_prestaged(w, slot);
	w->st.prestaged_fired++;
	/* Checked again now: the epoch or a target may have moved on since. */
	apply_txn(w, p.ops + p.ntrig, p.n - p.ntrig, p.local);
}

void wv_drop_prestaged(struct waved *w, const struct wv_vm *vm, uint8_t status)
{
	for (unsigned int s = 0; s < WV_PRESTAGED; s++) {
		int mine = !vm;

		if (!w->pre[s].used)
			continue;
		for (unsigned int k = 0; vm && k < w->pre[s].n; k++)
			mine |= w->pre[s].ops[k].vm_id == vm->id;
		if (!mine)
			continue;
		wv_send_result(w, w->pre[s].ops, status, 0, 0, w->pre[s].local);
		release_prestaged(w, s);
	}
}

/* A decision about a thread that woke up: time the loop from the wakeup (BPF clock). */
static void time_decisions(struct waved *w, struct txn_ctx *c)
{
	uint64_t now = wave_now_ns();

	for (unsigned int k = 0; k < c->n; k++) {
		struct wv_thread *t = c->t[k];

		if (!t->wake_ns || now < t->wake_ns)
			continue;
		w->st.decision_ns[w->st.decisions_timed++ % WV_LAT_SAMPLES] = now - t->wake_ns;
		t->wake_ns = 0;
	}
}

/*
 * A VM whose vCPUs go from no CFS quota to one was demoted (a hog's cap):
 * counted per VM, for status and the benchmarks. REQUIRES: c applied.
 */
static void count_demotions(const struct txn_ctx *c)
{
	for (unsigned int k = 0; k < c->n; k++) {
		const struct wave_txn *op = &c->ops[k];
		struct wv_vm *vm = c->vm[k];
		int before = 0;

		if (op->op != WAVE_OP_SET_QUOTA || op->kind != WAVE_KIND_VCPU)
			continue;
		for (unsigned int i = 0; i < WAVE_VM_VCPU_SLOTS; i++)
			before |= vm->th[i].used && vm->th[i].capped;
		c->t[k]->capped = op->u.quota.quota_us != WAVE_QUOTA_UNLIMITED;
		if (!before && c->t[k]->capped)
			vm->demotions++;
	}
}

static void apply_txn(struct waved *w, const struct wave_txn *ops, unsigned int n, int local)
{
	struct txn_ctx c = { .ops = ops, .n = n };
	const char *why = "";
	uint8_t st = WAVE_ST_OK;
	unsigned int k;
	int ret = 0, journal = 0, ntrig;

	w->st.txns++;
	if (w->cfg.mode == WAVED_OBSERVE) {
		st = WAVE_ST_INVALID;
		why = "observe mode applies nothing";
	} else if (!local && !wv_agent_in_charge(w)) {
		st = WAVE_ST_FALLBACK;
		why = "the host is in fallback";
	}
	/* Memory and network decisions have their own paths (mem.c, netsw.c). */
	if (st == WAVE_ST_OK && ops[0].op == WAVE_OP_SET_NET_RATE) {
		wv_net_txn(w, ops, n, local);
		return;
	}
	if (st == WAVE_ST_OK && wave_op_targets_vm(ops[0].op)) {
		wv_mem_txn(w, ops, n, local);
		return;
	}
	for (k = 0; st == WAVE_ST_OK && k < n; k++)
		st = check_op(w, &c, k, &why);
	if (st == WAVE_ST_OK && (ntrig = txn_triggers(ops, n)) < 0) {
		st = WAVE_ST_INVALID;
		why = "TRIGGER ops must come first and be followed by others";
		k = 1;
	}
	if (st == WAVE_ST_OK && (st = check_rt(w, &c, &k, &why)) != WAVE_ST_OK) {
		w->st.rt_refused++;
		k++; /* reported as op k - 1 below */
	}
	if (st != WAVE_ST_OK) {
		k = k ? k - 1 : 0;
		wave_log_rl(WAVE_LOG_INFO, "waved: TXN %u op %u refused (%s): %s", ops->txn_id, k,
			    wave_status_name(st), why);
		wv_send_result(w, ops, st, k, 0, local);
		return;
	}
	if (ntrig) {
		prestage(w, &c, (unsigned int)ntrig, local);
		return;
	}
	for (k = 0; k < n; k++) {
		c.was_changed[k] = c.t[k]->mech.changed;
		c.snapped[k] = !mech_get(&c.t[k]->mech, &c.snap[k]);
		if ((ret = apply_op(w, c.t[k], &ops[k])))
			break;
		journal |= !c.was_changed[k];
	}
	if (ret && rollback(w, &c, k))
		wv_journal(w);
	wv_dl_check(w, c.t, n, "a transaction moved threads out of DEADLINE");
	if (ret) {
		wave_log_rl(WAVE_LOG_INFO, "waved: TXN %u op %u (%s on %s thread %d) failed: %s",
			    ops->txn_id, k, wave_op_name(ops[k].op), c.vm[k]->name,
			    (int)c.t[k]->tid, strerror(-ret));
		wv_send_result(w, ops, WAVE_ST_FAILED, k, -ret, local);
		/* Gone, or its tid now names another thread: never touch it again. */
		if (ret == -ESRCH)
			wv_drop_thread(w, c.vm[k], c.t[k], "its thread is gone or its id was reused");
		return;
	}
	for (k = 0; k < n; k++) {
		wave_dbg("waved: TXN %u op %u: %s on %s thread %d (policy %u, runtime %llu ns)",
			 ops->txn_id, k, wave_op_name(ops[k].op), c.vm[k]->name, (int)c.t[k]->tid,
			 ops[k].policy, ops[k].op == WAVE_OP_SET_CLASS ?
			 (unsigned long long)ops[k].u.cls.runtime_ns : 0ull);
		if (op_rt_bw(&ops[k]) >= 0)
			c.t[k]->rt_bw = op_rt_bw(&ops[k]);
	}
	wv_rt_recount(w);
	count_demotions(&c);
	w->st.ops_applied += n;
	time_decisions(w, &c);
	if (journal)
		wv_journal(w);
	wv_send_result(w, ops, WAVE_ST_OK, 0, 0, local);
}

void wv_on_txn(struct waved *w, const struct wave_txn *op, int local)
{
	uint32_t bad = 0;
	char why[256];
	int r;

	for (;;) {
		r = txn_asm_push(local ? &w->txa_local : &w->txa, op, &bad, why, sizeof(why));
		if (r == TXN_ASM_MORE)
			return;
		if (r == TXN_ASM_DONE) {
			struct txn_asm *a = local ? &w->txa_local : &w->txa;

			apply_txn(w, a->ops, a->ops[0].op_count, local);
			return;
		}
		/* A broken transaction is refused as a whole. */
		w->st.rx_invalid_txn++;
		wave_log_rl(WAVE_LOG_WARN, "waved: %s", why);
		{
			struct wave_txn shell = *op;

			shell.txn_id = bad;
			wv_send_result(w, &shell, WAVE_ST_INVALID, 0, 0, local);
		}
		if (r != TXN_ASM_INTERRUPTED)
			return;
	}
}

void wv_local_decide(struct waved *w)
{
	struct wave_msg msgs[64];
	unsigned int n;

	sched_decide(w->local, w->now);
	do {
		n = sched_emit(w->local, msgs, 64);
		for (unsigned int i = 0; i < n; i++) {
			if (msgs[i].h.type == WAVE_MSG_WAKE_SUB)
				wv_on_wake_sub(w, &msgs[i].p.wake, WV_SUB_LOCAL);
			else
				wv_on_txn(w, &msgs[i].p.txn, 1);
		}
	} while (n == 64);
}

void wv_apply_init(struct waved *w)
{
	txn_asm_reset(&w->txa);
	txn_asm_reset(&w->txa_local);
}
