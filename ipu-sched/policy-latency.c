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
 *    of hog_quota of a CPU, until its use stays below calm_util for as
 *    long, so batch VMs keep their share;
 *  - with traffic that explains it, the same VM is busy, not a hog (only
 *    the network tells them apart: the host counts each VM's packets on
 *    its taps, NET_STATE). Its use is explained when packets arrive
 *    (busy_rate per second at least) and the CPU it spends per arriving
 *    packet stays within busy_factor of what it spent per packet while it
 *    was not pressed (learned slowly, over seconds, and never from a hog),
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

#include "ipu-sched/policy.h"

/* Tunables (--policy-opt NAME=VALUE; the table below names them). */
struct lat_cfg {
	uint64_t period_ns;     /* SCHED_DEADLINE period */
	uint64_t rmin_ns;       /* smallest reservation */
	double rcap;            /* largest reservation, fraction of the period */
	double headroom;        /* reservation = demand x headroom */
	double grow_delay;      /* runnable-delay fraction that grows a reservation */
	uint64_t grow_wait_ns;  /* ... or runnable wait per wakeup */
	double hog_util;        /* sustained use per vCPU that marks a hog */
	uint64_t hog_ns;        /* ... for this long */
	double calm_util;       /* use per vCPU below which a hog is forgiven */
	double hog_quota;       /* CFS quota per vCPU of a hog, fraction of a CPU (0: none) */
	int lend;               /* dedicate a core while active, lend it while idle */
	uint64_t idle_ns;       /* lend: idle this long before the core is lent */
	uint32_t pinned_weight; /* weight of a pinned latency thread (no reservation possible) */
	uint32_t busy_rate;     /* packets/s to the VM, at least, for its use to be explained */
	double busy_factor;     /* ... and CPU per packet within this factor of what it was */
	uint64_t busy_cost_ns;  /* ... and never more than this per packet */
	double busy_rcap;       /* largest reservation of a busy VM's thread, fraction of the period */
	double busy_share;      /* a busy VM's reservations together, fraction of the allowed CPUs */
};
_Static_assert(sizeof(struct lat_cfg) <= POLICY_CFG_MAX, "lat_cfg fits a policy_conf");

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
	.pinned_weight = 1000,         /* 10x a default VM's */
	.busy_rate = 20,
	.busy_factor = 4.0,
	.busy_cost_ns = 5000000ull,    /* 5 ms of CPU per packet */
	.busy_rcap = 0.75,
	.busy_share = 0.7,
};

#define LAT_PARAM(n, t, f, lo, hi, h) \
	{ .name = n, .type = POLICY_PARAM_##t, .offset = offsetof(struct lat_cfg, f), \
	  .min = lo, .max = hi, .help = h }
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

enum lat_applied { LAT_NONE = 0, LAT_DL = 1, LAT_OTHER = 2, LAT_WEIGHT = 3 };

struct lat_thread {
	uint8_t applied;       /* enum lat_applied */
	uint8_t failed;        /* the host refused: back off */
	uint32_t barrier;      /* target barrier the decision was made for */
	uint64_t runtime;      /* applied reservation */
	uint64_t low_since;    /* demand below the shrink line since */
	uint64_t retry_after;
	uint8_t capped;        /* a hog's CFS quota is on */
};

struct lat_vm {
	uint32_t id;
	int hog;
	int busy;              /* its use is explained by its traffic now */
	uint64_t hot_since, calm_since;
	uint64_t last_active;  /* lend: last wakeup or busy sample */
	double base_cost;      /* CPU-seconds per arriving packet while not pressed (0: unknown) */
	double hog_cpus;       /* what its vCPUs used when it was demoted, CPUs */
	uint64_t base_ns;      /* when base_cost was last updated */
	double scale;          /* busy: the share of its demand its reservations may have */
};

struct lat_state {
	struct lat_cfg cfg;
	int prestage;          /* the host applies prestaged transactions */
	struct lat_thread th[WAVE_MANAGED_VMS][WAVE_VM_SLOTS];
	struct lat_vm vm[WAVE_MANAGED_VMS];
	int lent;              /* lend: batch vCPUs may use the dedicated core (-1: unknown) */
	int dedicated;         /* lend: that core, or -1 */
	int revoke_armed;      /* lend: a prestaged revoke waits at the host */
};

static void lat_init(void *priv, const void *cfg, const struct policy_env *env)
{
	struct lat_state *s = priv;

	memcpy(&s->cfg, cfg, sizeof(s->cfg));
	s->prestage = env->prestage;
	s->lent = 1;
	s->dedicated = -1;
}

static unsigned int slot_of(const struct model *m, const struct model_vm *vm)
{
	return (unsigned int)(vm - m->vms);
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

/* The largest reservation a thread of the VM may have now, ns. */
static double vm_cap_ns(const struct lat_state *s, const struct lat_vm *lv)
{
	return (lv->busy ? s->cfg.busy_rcap : s->cfg.rcap) * (double)s->cfg.period_ns;
}

/* Mean of the vCPUs' use (fast signal), each relative to what it may use. */
static double vm_pressure(const struct lat_state *s, const struct model *m,
			  const struct model_vm *vm, int *at_cap)
{
	unsigned int v = slot_of(m, vm), n = 0;
	double sum = 0, cap = vm_cap_ns(s, &s->vm[v]);

	*at_cap = 1;
	for (unsigned int i = 0; i < WAVE_VM_VCPU_SLOTS; i++) {
		const struct model_thread *t = &vm->vcpu[i];
		const struct lat_thread *lt = &s->th[v][i];
		double allowed = 1.0;

		if (!t->present)
			continue;
		if (lt->applied == LAT_DL) {
			allowed = (double)lt->runtime / (double)s->cfg.period_ns;
			if ((double)lt->runtime < cap * 0.9)
				*at_cap = 0;
		}
		sum += t->util / allowed;
		n++;
	}
	return n ? sum / n : 0;
}

/* What the VM's vCPUs use now (fast signal), CPUs; slow: the sustained mean per vCPU. */
static double vm_cpus(const struct model_vm *vm, int slow)
{
	double sum = 0;
	unsigned int n = 0;

	for (unsigned int i = 0; i < WAVE_VM_VCPU_SLOTS; i++)
		if (vm->vcpu[i].present) {
			sum += slow ? vm->vcpu[i].util_slow : vm->vcpu[i].util;
			n++;
		}
	return slow ? (n ? sum / n : 0) : sum;
}

/*
 * Whether cpus (CPUs of use) are explained by the packets arriving for the
 * VM now (the header says when). Without a learned cost per packet, only
 * the ceiling (busy_cost) holds.
 */
static int use_explained(const struct lat_state *s, const struct lat_vm *lv,
			 const struct model_vm *vm, double cpus, uint64_t now)
{
	const struct lat_cfg *c = &s->cfg;
	double rate = model_net_rx_rate(vm, now, 0), limit;

	if (!vm->net.present || rate < (double)c->busy_rate)
		return 0;
	limit = (double)c->busy_cost_ns / 1e9;
	if (lv->base_cost > 0 && lv->base_cost * c->busy_factor < limit)
		limit = lv->base_cost * c->busy_factor;
	return cpus / rate <= limit;
}

/*
 * What a packet costs the VM while it is not pressed (not hot at its cap,
 * not a hog): learned over seconds (a time constant of 5 s), so a hog
 * cannot teach it its own cost.
 */
static void learn_cost(const struct lat_state *s, struct lat_vm *lv, const struct model_vm *vm,
		       uint64_t now)
{
	double rate = model_net_rx_rate(vm, now, 0), per;

	if (!vm->net.present || rate < (double)s->cfg.busy_rate)
		return;
	per = vm_cpus(vm, 0) / rate;
	if (lv->base_cost <= 0)
		lv->base_cost = per;
	else if (now > lv->base_ns)
		lv->base_cost += (1.0 - exp(-(double)(now - lv->base_ns) / 5e9)) * (per - lv->base_cost);
	lv->base_ns = now;
}

/*
 * Hog or busy (the header): a VM hot at its cap for hog_ns without
 * traffic to explain it is a hog; a hog is forgiven when its use calms
 * down, or when traffic explains it, either for hog_ns.
 */
static void update_hog(struct lat_state *s, const struct model *m, const struct model_vm *vm,
		       uint64_t now)
{
	struct lat_vm *lv = &s->vm[slot_of(m, vm)];
	int at_cap, hot;
	double p;

	if (lv->id != vm->id) {
		memset(lv, 0, sizeof(*lv));
		lv->id = vm->id;
	}
	p = vm_pressure(s, m, vm, &at_cap);
	hot = p >= s->cfg.hog_util && at_cap;
	if (!hot && !lv->hog)
		learn_cost(s, lv, vm, now);
	if (!lv->hog) {
		lv->busy = use_explained(s, lv, vm, vm_cpus(vm, 0), now);
		if (hot && !lv->busy) {
			if (!lv->hot_since)
				lv->hot_since = now;
			else if (now - lv->hot_since >= s->cfg.hog_ns)
				lv->hog = 1, lv->calm_since = 0, lv->hog_cpus = vm_cpus(vm, 0);
		} else {
			lv->hot_since = 0;
		}
		return;
	}
	/*
	 * A hog is judged on what it used when it was demoted, not on what its
	 * quota lets it use now (that would make any hog with some traffic look
	 * busy, and flap).
	 */
	lv->busy = 0;
	if (vm_cpus(vm, 1) < s->cfg.calm_util || use_explained(s, lv, vm, lv->hog_cpus, now)) {
		if (!lv->calm_since)
			lv->calm_since = now;
		else if (now - lv->calm_since >= s->cfg.hog_ns)
			lv->hog = 0, lv->hot_since = 0;
	} else {
		lv->calm_since = 0;
	}
}

/* A thread's demand with headroom, ns per period (the comment below says how). */
static double thread_demand(const struct lat_state *s, const struct model_thread *t)
{
	return fmax(fmax(t->util, t->util_slow) * (double)s->cfg.period_ns, t->burst_ns) *
	       s->cfg.headroom;
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
	double r = thread_demand(s, t);
	uint64_t want;

	if (lt->applied == LAT_DL && (t->delay > c->grow_delay ||
				      t->wait_per_wake_ns > (double)c->grow_wait_ns))
		r = fmax(r, (double)lt->runtime * 1.5);
	r = fmin(fmax(r, (double)c->rmin_ns), cap);
	want = round_us(r);
	if (want > (uint64_t)cap)
		want = (uint64_t)cap / 50000 * 50000;
	*change = 1;
	/* Well over the cap (a busy VM no longer is, or its share shrank): down at once. */
	if (lt->applied != LAT_DL || (want < lt->runtime && (double)lt->runtime > cap * 1.1))
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
	const struct lat_vm *lv = &s->vm[slot_of(m, vm)];
	struct lat_thread *lt = &s->th[slot_of(m, vm)][model_thread_slot(t)];
	int change, hog = lv->hog;
	double cap = vm_cap_ns(s, lv);
	uint64_t r;

	if (lt->barrier != t->barrier) {
		memset(lt, 0, sizeof(*lt));
		lt->barrier = t->barrier;
	}
	if (lt->failed) {
		lt->failed = 0;
		lt->retry_after = now + 1000000000ull;
	}
	if (now < lt->retry_after)
		return;
	if (hog) {
		/* Reservations off; a vCPU of a hog gets a CFS quota (its VM's share of the host). */
		if (lt->applied == LAT_DL || (t->kind == WAVE_KIND_VCPU && !lt->capped &&
					      lt->applied != LAT_NONE)) {
			if (lt->applied == LAT_DL)
				emit_class(out, vm, t, 0, 0, 0);
			if (t->kind == WAVE_KIND_VCPU && s->cfg.hog_quota > 0) {
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
	if (model_thread_pinned(t)) {
		/* No reservation can be had (the header says why): weight instead. */
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
	/* A busy VM's threads share its budget: each cap scaled alike (busy_scale). */
	if (lv->busy && lv->scale < 1)
		cap = fmax(cap * lv->scale, (double)s->cfg.rmin_ns);
	r = want_runtime(s, t, lt, cap, now, &change);
	if (!change)
		return;
	emit_class(out, vm, t, 1, r, s->cfg.period_ns);
	lt->applied = LAT_DL;
	lt->runtime = r;
	lt->low_since = 0;
}

static void decide_batch(struct lat_state *s, const struct model *m, const struct model_vm *vm,
			 struct policy_out *out)
{
	const struct model_thread *t;

	MODEL_FOR_EACH_THREAD(vm, t) {
		struct lat_thread *lt = &s->th[slot_of(m, vm)][model_thread_slot(t)];

		if (t->kind != WAVE_KIND_VCPU)
			continue;
		if (lt->barrier != t->barrier) {
			memset(lt, 0, sizeof(*lt));
			lt->barrier = t->barrier;
		}
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
			if (t->util > 0.05)
				s->vm[v].last_active = now;
		if (s->vm[v].last_active && now - s->vm[v].last_active < s->cfg.idle_ns)
			active = 1;
	}
	if (active && s->lent != 0)
		place_batch(s, m, 1, out);
	else if (!active && s->lent != 1)
		place_batch(s, m, 0, out);
}

/*
 * A busy VM's reservations together stay within busy_share of the allowed
 * CPUs: the factor its threads' caps are scaled by so that their demands
 * (each capped) fit, changed only by more than a tenth (each change
 * resizes every reservation).
 */
static void busy_scale(struct lat_state *s, const struct model *m, const struct model_vm *vm)
{
	struct lat_vm *lv = &s->vm[slot_of(m, vm)];
	unsigned int cpus[WAVE_MANAGED_CPUS];
	double cap = vm_cap_ns(s, lv), sum = 0, budget, scale;
	const struct model_thread *t;

	if (!lv->busy) {
		lv->scale = 1;
		return;
	}
	if (lv->scale <= 0)
		lv->scale = 1;
	budget = s->cfg.busy_share * (double)s->cfg.period_ns *
		 (double)model_allowed_cpus(m, cpus, WAVE_MANAGED_CPUS);
	MODEL_FOR_EACH_THREAD(vm, t)
		if (!model_thread_pinned(t))
			sum += fmin(thread_demand(s, t), cap);
	scale = budget > 0 && sum > budget ? budget / sum : 1;
	/* Moves under a tenth are noise: each would resize every reservation. */
	if (fabs(scale - lv->scale) > 0.1 * lv->scale || (scale == 1) != (lv->scale == 1))
		lv->scale = scale;
}

static void lat_decide(void *priv, const struct model *m, uint64_t now, struct policy_out *out)
{
	struct lat_state *s = priv;

	for (unsigned int v = 0; v < WAVE_MANAGED_VMS; v++) {
		const struct model_vm *vm = &m->vms[v];
		const struct model_thread *t;

		if (!vm->present)
			continue;
		if (vm->cls != WAVE_CLASS_LATENCY) {
			decide_batch(s, m, vm, out);
			continue;
		}
		update_hog(s, m, vm, now);
		busy_scale(s, m, vm);
		MODEL_FOR_EACH_THREAD(vm, t)
			decide_thread(s, m, vm, t, now, out);
	}
	if (s->cfg.lend)
		decide_lend(s, m, now, out);
}

/* lend: a latency VM is about to run (a thread woke, or a packet arrived for it). */
static void vm_active(struct lat_state *s, const struct model *m, const struct model_vm *vm,
		      uint64_t now, struct policy_out *out)
{
	unsigned int v = slot_of(m, vm);

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
			lt->applied = LAT_NONE;
			lt->failed = r->status != WAVE_ST_STALE_TARGET &&
				     r->status != WAVE_ST_STALE_EPOCH;
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
