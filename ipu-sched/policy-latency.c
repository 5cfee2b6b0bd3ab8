// SPDX-License-Identifier: BSD-3-Clause
/*
 * latency: protect latency-class VMs without starving batch VMs.
 *
 * Measured first on this kind of host (TCG guests, 2 CPUs): giving every
 * thread of a latency VM a SCHED_DEADLINE reservation cut its p99 several-
 * fold with batch throughput unchanged, where static pinning halved batch
 * throughput and nice -20 did nothing. So the lever is adaptive
 * reservations:
 *  - each vCPU and emulator thread of a latency VM gets runtime R every
 *    period P (deadline = P), R sized from its measured demand, the larger
 *    of its use per period and its CPU per wakeup (one request must fit):
 *    R = clamp(max(util x P, burst) x headroom, rmin, rcap x P);
 *  - grown by half when the thread still waits to run (runnable delay above
 *    grow_delay, or queueing per wakeup above grow_wait_ns: it is throttled
 *    or squeezed), shrunk when its demand stays
 *    well below R for a second (changes under 20% are not worth a
 *    transaction);
 *  - a latency VM whose vCPUs use (nearly) all of a capped reservation for
 *    hog_ns, without request traffic that explains it, is a CPU hog: its
 *    reservations are revoked (SCHED_OTHER) and each vCPU gets a CFS quota
 *    of hog_quota of a CPU, until its vCPUs neither use more than
 *    calm_util nor wait to run as much for as long, so batch VMs keep
 *    their share;
 *  - with traffic that explains it, the same VM is busy, not a hog (only
 *    the network tells them apart: the host counts each VM's packets on
 *    its taps, NET_STATE). Its use is explained when packets arrive
 *    (busy_rate per second at least) and the CPU it spends per arriving
 *    packet stays within busy_factor of what it spent per packet while it
 *    was not pressed (learned over seconds, trusted after one, never from a hog),
 *    and under busy_cost. A busy VM is never demoted; its reservations
 *    grow to its demand up to busy_rcap of a period each and busy_share of
 *    the allowed CPUs together, so the batch VMs keep the rest. Linux
 *    cannot give one thread a reservation and a fair share beyond it:
 *    demand beyond the busy caps waits for the next period. A hog that
 *    also receives a trickle of packets spends far more per packet than
 *    it used to, and stays a hog;
 *  - batch VMs share the rest by weight (SET_WEIGHT from their metadata).
 * Optional placement (lend=1): while a latency VM is active, batch vCPUs are
 * kept off one core (dedicated to it); after idle_ns without activity the
 * core is lent back to batch vCPUs, and revoked at the latency VM's next
 * wakeup - by the host itself if it takes prestaged transactions, with no
 * round trip to the agent. SCHED_DEADLINE threads cannot be pinned (the kernel requires
 * their affinity to span the root domain), so placement moves batch
 * threads only, each within its operator's pin if it has one.
 * A thread of a latency VM that the operator pinned (libvirt vcpupin) cannot
 * have a reservation for the same reason: it gets a larger CFS weight
 * instead (pinned-weight), and the hog rules as any other.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "ipu-sched/latency.h"

static const struct lat_cfg lat_defaults = {
	.period_ns = 5000000,          /* 5 ms */
	.rmin_ns = 500000,             /* 0.5 ms */
	.rcap = 0.45,
	.headroom = 2.0,
	.grow_delay = 0.05,
	.grow_wait_ns = 200000,        /* 0.2 ms queued per wakeup */
	.hog_util = 0.85,
	.hog_ns = 500000000ull,        /* 0.5 s */
	.calm_util = 0.20,
	.hog_quota = 0.25,
	.lend = 0,
	.idle_ns = 50000000ull,        /* 50 ms */
	.active_util = 0.05,
	.pinned_weight = 1000,         /* 10x a default VM's */
	.busy_rate = 20,
	.busy_factor = 4.0,
	.busy_cost_ns = 5000000ull,    /* 5 ms of CPU per packet */
	.busy_rcap = 0.75,
	.busy_share = 0.7,
};

#define LAT_PARAM(...) POLICY_PARAM(struct lat_cfg, __VA_ARGS__)
static const struct policy_param lat_params[] = {
	LAT_PARAM("period", DURATION, period_ns, 1e6, 1e9, "SCHED_DEADLINE period of a reservation"),
	LAT_PARAM("rmin", DURATION, rmin_ns, 1e5, 1e9, "smallest reservation"),
	LAT_PARAM("rcap", FRACTION, rcap, 0.01, 0.95, "largest reservation, fraction of the period"),
	LAT_PARAM("headroom", FRACTION, headroom, 1, 10, "reservation = measured demand x this"),
	LAT_PARAM("grow-delay", FRACTION, grow_delay, 0, 1,
		  "runnable-delay fraction that grows a reservation"),
	LAT_PARAM("grow-wait", DURATION, grow_wait_ns, 1e3, 1e9,
		  "... or runnable wait per wakeup"),
	LAT_PARAM("hog-util", FRACTION, hog_util, 0.1, 1, "use of capped reservations that marks a hog"),
	LAT_PARAM("hog-time", DURATION, hog_ns, 1e7, 6e10, "... sustained this long"),
	LAT_PARAM("calm-util", FRACTION, calm_util, 0, 1, "use below which a hog is forgiven"),
	LAT_PARAM("hog-quota", FRACTION, hog_quota, 0, 1,
		  "CFS quota per vCPU of a hog, fraction of a CPU (0: none)"),
	LAT_PARAM("lend", BOOL, lend, 0, 1,
		  "dedicate a core while a latency VM is active, lend it while idle"),
	LAT_PARAM("idle", DURATION, idle_ns, 1e6, 6e10, "lend: idle this long before lending"),
	LAT_PARAM("active", FRACTION, active_util, 0, 1,
		  "lend: a vCPU using more than this is active (idle guests use more under TCG)"),
	LAT_PARAM("pinned-weight", UINT32, pinned_weight, WAVE_WEIGHT_MIN, WAVE_WEIGHT_MAX,
		  "CFS weight of a latency thread the operator pinned (no reservation)"),
	LAT_PARAM("busy-rate", UINT32, busy_rate, 1, 10000000,
		  "packets/s to a VM, at least, for its CPU use to count as serving them"),
	LAT_PARAM("busy-factor", FRACTION, busy_factor, 1, 1000,
		  "... and its CPU per packet within this factor of what it was when not pressed"),
	LAT_PARAM("busy-cost", DURATION, busy_cost_ns, 1e3, 1e9, "... and at most this per packet"),
	LAT_PARAM("busy-rcap", FRACTION, busy_rcap, 0.01, 0.95,
		  "largest reservation of a busy VM's thread, fraction of the period"),
	LAT_PARAM("busy-share", FRACTION, busy_share, 0.01, 0.95,
		  "a busy VM's reservations together, fraction of the allowed CPUs"),
	{ .name = NULL },
};

static void lat_init(void *priv, const void *cfg, const struct policy_env *env)
{
	struct lat_state *s = priv;

	memcpy(&s->cfg, cfg, sizeof(s->cfg));
	s->prestage = env->prestage;
	s->lent = 1;
	s->dedicated = -1;
}

static uint64_t round_us(double ns)
{
	uint64_t v = (uint64_t)ns;

	return (v + 25000) / 50000 * 50000; /* 50 us steps: no churn on noise */
}

static void emit_class(struct policy_out *out, const struct model_vm *vm,
		       const struct model_thread *t, int dl, uint64_t runtime, uint64_t period)
{
	struct wave_txn op;

	policy_op_init(&op, vm, t, WAVE_OP_SET_CLASS);
	if (dl) {
		op.policy = WAVE_SCHED_DEADLINE;
		op.u.cls.runtime_ns = runtime;
		op.u.cls.deadline_ns = period;
		op.u.cls.period_ns = period;
	} else {
		op.policy = WAVE_SCHED_OTHER;
	}
	policy_emit(out, &op, 0);
}

static void emit_weight(struct policy_out *out, const struct model_vm *vm,
			const struct model_thread *t, uint32_t weight)
{
	struct wave_txn op;

	policy_op_init(&op, vm, t, WAVE_OP_SET_WEIGHT);
	op.u.weight.weight = weight;
	policy_emit(out, &op, 0);
}

/* SET_QUOTA to fraction of one CPU per 100 ms (0: unlimited). */
static void emit_quota(struct policy_out *out, const struct model_vm *vm,
		       const struct model_thread *t, double fraction)
{
	struct wave_txn op;

	policy_op_init(&op, vm, t, WAVE_OP_SET_QUOTA);
	op.u.quota.period_us = 100000;
	op.u.quota.quota_us = fraction > 0 ? (uint32_t)(fraction * 100000) : WAVE_QUOTA_UNLIMITED;
	if (op.u.quota.quota_us < WAVE_PERIOD_US_MIN)
		op.u.quota.quota_us = WAVE_PERIOD_US_MIN;
	policy_emit(out, &op, 0);
}

/*
 * The reservation a thread should have now, given what it has. Demand is
 * the larger of its average use over a period and one activation (a
 * request handled in one go must fit the budget, or it is throttled to the
 * next period: a whole period added to its latency), both with headroom.
 * It grows when the thread still queues before it runs.
 */
static uint64_t want_runtime(const struct lat_state *s, const struct model_thread *t,
			     const struct lat_thread *lt, double cap, uint64_t now, int *change)
{
	const struct lat_cfg *c = &s->cfg;
	double r = lat_thread_demand(s, t);
	uint64_t want;

	if (lt->applied == LAT_DL && (t->delay > c->grow_delay ||
				      t->wait_per_wake_ns > (double)c->grow_wait_ns))
		r = fmax(r, (double)lt->runtime * 1.5);
	r = fmin(fmax(r, (double)c->rmin_ns), cap);
	want = round_us(r);
	if (want > (uint64_t)cap)
		want = (uint64_t)cap / 50000 * 50000;
	*change = 1;
	/*
	 * Well over the cap (a busy VM no longer is, or its share shrank), or
	 * over a grant that admission squeezed (latency-admit.c): down at once.
	 */
	if (lt->applied != LAT_DL ||
	    (want < lt->runtime && (double)lt->runtime > cap * (s->squeezed ? 1.0 : 1.1)))
		return want;
	/* Growing: by a useful step, or up to the cap when that is closer than a step. */
	if ((double)want > (double)lt->runtime * 1.2 ||
	    (want > lt->runtime && want >= (uint64_t)cap / 50000 * 50000))
		return want;
	/* Shrink only after a second below the line, and by a useful amount. */
	if ((double)want < (double)lt->runtime * 0.7 && lt->low_since &&
	    now - lt->low_since >= 1000000000ull)
		return want;
	*change = 0;
	return lt->runtime;
}

static void decide_thread(struct lat_state *s, const struct model *m, const struct model_vm *vm,
			  const struct model_thread *t, uint64_t now, struct policy_out *out)
{
	const struct lat_vm *lv = &s->vm[lat_slot_of(m, vm)];
	struct lat_thread *lt = lat_thread_of(s, m, vm, t);
	int change, hog = lv->hog;
	double cap;
	uint64_t r;

	if (lt->failed) {
		lt->failed = 0;
		lt->retry_after = now + 1000000000ull;
		lt->failed_hog = (uint8_t)hog;
	}
	/* A refused growth must not hold back a demotion: only a refused demotion does. */
	if (now < lt->retry_after && (!hog || lt->failed_hog))
		return;
	if (hog) {
		/*
		 * Reservations off; a vCPU of a hog gets a CFS quota (its VM's
		 * share of the host). A thread in an unknown state (its last
		 * decision was refused: it keeps what it had) is demoted too.
		 */
		if (lt->applied != LAT_OTHER ||
		    (t->kind == WAVE_KIND_VCPU && !lt->capped && s->cfg.hog_quota > 0)) {
			if (lt->applied != LAT_OTHER)
				emit_class(out, vm, t, 0, 0, 0);
			if (t->kind == WAVE_KIND_VCPU && s->cfg.hog_quota > 0 && !lt->capped) {
				emit_quota(out, vm, t, s->cfg.hog_quota);
				lt->capped = 1;
			}
			lt->applied = LAT_OTHER;
		}
		return;
	}
	if (lt->capped) {
		emit_quota(out, vm, t, 0);
		lt->capped = 0;
	}
	/*
	 * No reservation can be had: the thread is pinned (the header says
	 * why), or admission found no room for it. Weight instead.
	 */
	if (model_thread_pinned(t) || !lt->grant) {
		if (lt->applied == LAT_DL)
			emit_class(out, vm, t, 0, 0, 0);
		if (lt->applied != LAT_WEIGHT) {
			emit_weight(out, vm, t, s->cfg.pinned_weight);
			lt->applied = LAT_WEIGHT;
		}
		return;
	}
	if (lt->applied == LAT_DL) {
		/* The shrink line: demand that would want under 70% of what it has. */
		double line = (double)lt->runtime * 0.7 / ((double)s->cfg.period_ns * s->cfg.headroom);

		if (fmax(t->util, t->util_slow) < line &&
		    t->burst_ns * s->cfg.headroom < (double)lt->runtime * 0.7) {
			if (!lt->low_since)
				lt->low_since = now;
		} else {
			lt->low_since = 0;
		}
	}
	cap = (double)lt->grant;
	r = want_runtime(s, t, lt, cap, now, &change);
	if (!change)
		return;
	emit_class(out, vm, t, 1, r, s->cfg.period_ns);
	if (lt->applied == LAT_DL || lt->applied == LAT_NONE) {
		lt->prev_applied = lt->applied;
		lt->prev_runtime = lt->runtime;
	}
	lt->held = 0;
	lt->applied = LAT_DL;
	lt->runtime = r;
	lt->low_since = 0;
}

static void decide_batch(struct lat_state *s, const struct model *m, const struct model_vm *vm,
			 struct policy_out *out)
{
	const struct model_thread *t;

	MODEL_FOR_EACH_THREAD(vm, t) {
		struct lat_thread *lt;

		if (t->kind != WAVE_KIND_VCPU)
			continue;
		lt = lat_thread_of(s, m, vm, t);
		if (lt->applied == LAT_WEIGHT || lt->failed)
			continue;
		emit_weight(out, vm, t, vm->weight);
		lt->applied = LAT_WEIGHT;
	}
}

/* The CPU mask batch vCPUs get: every allowed CPU, or all but the dedicated one. */
static uint64_t batch_mask(const struct lat_state *s, const struct model *m, int restrict_)
{
	unsigned int cpus[WAVE_MANAGED_CPUS], n = model_allowed_cpus(m, cpus, WAVE_MANAGED_CPUS);
	uint64_t mask = 0;

	for (unsigned int i = 0; i < n; i++)
		if (cpus[i] < 64 && (!restrict_ || (int)cpus[i] != s->dedicated))
			mask |= 1ull << cpus[i];
	return mask;
}

/* PLACE ops for every batch vCPU, joined to the op before when join. Returns how many. */
static unsigned int emit_batch_places(struct lat_state *s, const struct model *m, uint64_t mask,
				      int join, struct policy_out *out)
{
	unsigned int n = 0;

	for (unsigned int v = 0; v < WAVE_MANAGED_VMS; v++) {
		const struct model_vm *vm = &m->vms[v];
		const struct model_thread *t;

		if (!vm->present || vm->cls != WAVE_CLASS_BATCH)
			continue;
		MODEL_FOR_EACH_THREAD(vm, t) {
			struct wave_txn op;

			/* A vCPU the operator pinned elsewhere stays where they put it. */
			if (t->kind != WAVE_KIND_VCPU || !(mask & model_thread_cpus64(t)))
				continue;
			policy_op_init(&op, vm, t, WAVE_OP_PLACE);
			op.u.place.mask = mask & model_thread_cpus64(t);
			policy_emit(out, &op, join || n);
			n++;
		}
	}
	return n;
}

/*
 * With the core lent, the revoke is prestaged at the host: TRIGGER ops on
 * every thread of the latency VMs, then the batch vCPUs' PLACE ops. The
 * host moves the batch vCPUs the moment a latency thread wakes, without
 * waiting for this agent. Skipped when it would not fit one transaction.
 */
static void prestage_revoke(struct lat_state *s, const struct model *m, struct policy_out *out)
{
	unsigned int triggers = 0, batch = 0, first = out->n;
	const struct model_thread *t;

	for (unsigned int v = 0; v < WAVE_MANAGED_VMS; v++) {
		const struct model_vm *vm = &m->vms[v];

		if (!vm->present)
			continue;
		MODEL_FOR_EACH_THREAD(vm, t) {
			if (vm->cls == WAVE_CLASS_LATENCY && !s->vm[v].hog)
				triggers++;
			else if (vm->cls == WAVE_CLASS_BATCH && t->kind == WAVE_KIND_VCPU)
				batch++;
		}
	}
	if (!triggers || !batch || triggers + batch > WAVE_TXN_MAX_OPS)
		return;
	for (unsigned int v = 0; v < WAVE_MANAGED_VMS; v++) {
		const struct model_vm *vm = &m->vms[v];

		if (!vm->present || vm->cls != WAVE_CLASS_LATENCY || s->vm[v].hog)
			continue;
		MODEL_FOR_EACH_THREAD(vm, t) {
			struct wave_txn op;

			policy_op_init(&op, vm, t, WAVE_OP_TRIGGER);
			policy_emit(out, &op, out->n > first);
		}
	}
	emit_batch_places(s, m, batch_mask(s, m, 1), 1, out);
	s->revoke_armed = 1;
}

/* lend: batch vCPUs everywhere (lent) or everywhere but the dedicated core. */
static void place_batch(struct lat_state *s, const struct model *m, int restrict_,
			struct policy_out *out)
{
	uint64_t mask = batch_mask(s, m, restrict_);

	if (!mask)
		return;
	/* All batch vCPUs move together: one transaction. */
	emit_batch_places(s, m, mask, 0, out);
	s->lent = !restrict_;
	if (s->lent && s->prestage)
		prestage_revoke(s, m, out);
}

static void decide_lend(struct lat_state *s, const struct model *m, uint64_t now,
			struct policy_out *out)
{
	unsigned int cpus[WAVE_MANAGED_CPUS];
	int active = 0;

	if (s->dedicated < 0 && model_allowed_cpus(m, cpus, WAVE_MANAGED_CPUS) >= 2)
		s->dedicated = (int)cpus[0];
	if (s->dedicated < 0)
		return;
	for (unsigned int v = 0; v < WAVE_MANAGED_VMS; v++) {
		const struct model_vm *vm = &m->vms[v];
		const struct model_thread *t;

		if (!vm->present || vm->cls != WAVE_CLASS_LATENCY || s->vm[v].hog)
			continue;
		MODEL_FOR_EACH_THREAD(vm, t)
			if (t->util > s->cfg.active_util)
				s->vm[v].last_active = now;
		if (s->vm[v].last_active && now - s->vm[v].last_active < s->cfg.idle_ns)
			active = 1;
	}
	if (active && s->lent != 0)
		place_batch(s, m, 1, out);
	else if (!active && s->lent != 1)
		place_batch(s, m, 0, out);
}

static void lat_decide(void *priv, const struct model *m, uint64_t now, struct policy_out *out)
{
	struct lat_state *s = priv;

	for (unsigned int v = 0; v < WAVE_MANAGED_VMS; v++) {
		const struct model_vm *vm = &m->vms[v];

		if (!vm->present)
			continue;
		if (vm->cls != WAVE_CLASS_LATENCY) {
			decide_batch(s, m, vm, out);
			continue;
		}
		lat_update_hog(s, m, vm, now);
		lat_busy_scale(s, m, vm);
	}
	lat_admit(s, m);
	/*
	 * Two passes: first the threads that give bandwidth back (demoted, or
	 * held over their grant), then the rest. The host checks each decision
	 * against its envelope as it comes, so a growth sent before the shrink
	 * that makes room for it would be refused.
	 */
	for (int pass = 0; pass < 2; pass++)
		for (unsigned int v = 0; v < WAVE_MANAGED_VMS; v++) {
			const struct model_vm *vm = &m->vms[v];
			const struct model_thread *t;

			if (!vm->present || vm->cls != WAVE_CLASS_LATENCY)
				continue;
			MODEL_FOR_EACH_THREAD(vm, t) {
				const struct lat_thread *lt = lat_thread_of(s, m, vm, t);
				int frees = lt->applied == LAT_DL &&
					    (s->vm[v].hog || lt->grant < lt->runtime);

				if (frees == !pass)
					decide_thread(s, m, vm, t, now, out);
			}
		}
	if (s->cfg.lend)
		decide_lend(s, m, now, out);
}

/* lend: a latency VM is about to run (a thread woke, or a packet arrived for it). */
static void vm_active(struct lat_state *s, const struct model *m, const struct model_vm *vm,
		      uint64_t now, struct policy_out *out)
{
	unsigned int v = lat_slot_of(m, vm);

	if (!s->cfg.lend || vm->cls != WAVE_CLASS_LATENCY || s->vm[v].hog)
		return;
	s->vm[v].last_active = now;
	/* The host has fired the prestaged revoke already: nothing to send. */
	if (s->revoke_armed && s->lent == 1) {
		s->revoke_armed = 0;
		s->lent = 0;
		return;
	}
	/* The core was lent while the VM slept: take it back before it needs it. */
	if (s->lent != 0 && s->dedicated >= 0)
		place_batch(s, m, 1, out);
}

static void lat_wakeup(void *priv, const struct model *m, const struct model_vm *vm,
		       const struct model_thread *t, uint64_t now, struct policy_out *out)
{
	(void)t;
	vm_active(priv, m, vm, now, out);
}

/* A request reached a sleeping latency VM: the host has seen it before its vCPU runs. */
static void lat_arrival(void *priv, const struct model *m, const struct model_vm *vm,
			uint64_t now, struct policy_out *out)
{
	vm_active(priv, m, vm, now, out);
}

static void lat_result(void *priv, const struct model *m, const struct wave_txn *ops,
		       unsigned int n, const struct wave_txn_result *r)
{
	struct lat_state *s = priv;
	int prestaged = n && ops[0].op == WAVE_OP_TRIGGER;

	/* A prestaged revoke replaced by a newer one, or dropped with the epoch: expected. */
	if (prestaged) {
		s->revoke_armed = 0;
		if (r->status == WAVE_ST_STALE_TARGET || r->status == WAVE_ST_STALE_EPOCH ||
		    r->status == WAVE_ST_FALLBACK)
			return;
	}
	for (unsigned int k = 0; k < n; k++) {
		const struct wave_txn *op = &ops[k];
		int idx = wave_slot(op->kind, op->index);

		if (op->op == WAVE_OP_TRIGGER || idx < 0)
			continue;
		if (op->op == WAVE_OP_PLACE) {
			s->lent = -1; /* where batch vCPUs are is unknown: place them again */
			continue;
		}
		for (unsigned int v = 0; v < WAVE_MANAGED_VMS; v++) {
			struct lat_thread *lt = &s->th[v][idx];

			if (!m->vms[v].present || m->vms[v].id != op->vm_id)
				continue;
			/* Not applied: decide again, at once if it was only stale. */
			lt->failed = r->status != WAVE_ST_STALE_TARGET &&
				     r->status != WAVE_ST_STALE_EPOCH;
			/*
			 * Refused, a reservation leaves the thread with what it had
			 * (the host applies all or nothing): the policy goes on from
			 * there, so the VM's pressure stays right. Otherwise unknown.
			 */
			if (lt->failed && op->op == WAVE_OP_SET_CLASS && lt->applied == LAT_DL &&
			    op->policy == WAVE_SCHED_DEADLINE && lt->runtime == op->u.cls.runtime_ns) {
				lt->applied = lt->prev_applied;
				lt->runtime = lt->prev_runtime;
				lt->held = lt->prev_runtime < op->u.cls.runtime_ns;
			} else {
				lt->applied = LAT_NONE;
			}
		}
	}
}

/*
 * Only lending reacts to wakeups, and to packets arriving after a quiet
 * gap: of the latency VMs (revoking the lent core).
 */
static uint8_t lat_wakes(const void *priv, const struct model_vm *vm)
{
	const struct lat_state *s = priv;

	return s->cfg.lend && vm->cls == WAVE_CLASS_LATENCY ? POLICY_WAKES_ALL | POLICY_WAKES_NET : 0;
}

const struct policy_ops policy_latency_ops = {
	.name = "latency",
	.summary = "adaptive SCHED_DEADLINE reservations for latency VMs, hog demotion",
	.priv_size = sizeof(struct lat_state),
	.cfg_size = sizeof(struct lat_cfg),
	.cfg_default = &lat_defaults,
	.params = lat_params,
	.init = lat_init,
	.decide = lat_decide,
	.wakeup = lat_wakeup,
	.wakes = lat_wakes,
	.arrival = lat_arrival,
	.result = lat_result,
};
