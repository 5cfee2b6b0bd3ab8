// SPDX-License-Identifier: BSD-3-Clause
/*
 * The latency policy's network insight: whether a latency VM pressed at
 * its cap is a busy server (its CPU use explained by the packets arriving
 * for it) or a hog, and the budget a busy VM's reservations share. The
 * rules are in policy-latency.c's header; the state is latency.h's.
 * Pure C like every policy: no I/O, the time is an argument.
 */
#include <math.h>
#include <string.h>

#include "ipu-sched/latency.h"

/* The largest reservation a thread of the VM may have now, ns. */
double lat_vm_cap_ns(const struct lat_state *s, const struct lat_vm *lv)
{
	return (lv->busy ? s->cfg.busy_rcap : s->cfg.rcap) * (double)s->cfg.period_ns;
}

/* Mean of the vCPUs' use (fast signal), each relative to what it may use. */
static double vm_pressure(const struct lat_state *s, const struct model *m,
			  const struct model_vm *vm, int *at_cap)
{
	unsigned int v = lat_slot_of(m, vm), n = 0;
	double sum = 0, cap = lat_vm_cap_ns(s, &s->vm[v]);

	*at_cap = 1;
	for (unsigned int i = 0; i < WAVE_VM_VCPU_SLOTS; i++) {
		const struct model_thread *t = &vm->vcpu[i];
		const struct lat_thread *lt = &s->th[v][i];
		double allowed = 1.0;

		if (!t->present)
			continue;
		if (lt->applied == LAT_DL) {
			allowed = (double)lt->runtime / (double)s->cfg.period_ns;
			if ((double)lt->runtime < cap * 0.9 && !lt->held)
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
 * The learned cost per packet is trusted once it rests on LAT_LEARN_NS of
 * samples; before that only the ceiling holds. One sample is never the
 * answer: a server kept pressed by its load is unpressed only for moments,
 * and such a moment can be a glitch (measured: one sample, taken while the
 * model had just lost a thread's use, set the cost of a busy web server to
 * a hundredth of the real one, and the server was demoted and never
 * forgiven).
 */
#define LAT_LEARN_NS (1000 * 1000000ull)
/* A sample weighs at most this much time (the policy may not have looked for a while). */
#define LAT_LEARN_STEP_NS (100 * 1000000ull)
#define LAT_LEARN_TAU_NS (5000 * 1000000ull)

/*
 * Whether cpus (CPUs of use) are explained by the packets arriving for the
 * VM now (the header says when). Without a trusted cost per packet, only
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
	if (lv->learned_ns >= LAT_LEARN_NS && lv->base_cost * c->busy_factor < limit)
		limit = lv->base_cost * c->busy_factor;
	return cpus / rate <= limit;
}

/*
 * What a packet costs the VM while it is not pressed (not hot at its cap,
 * not a hog): the mean over the time learned so far, then a moving mean
 * over LAT_LEARN_TAU_NS, each sample weighing the time since the last
 * pass (at most LAT_LEARN_STEP_NS), so a hog cannot teach it its own cost
 * and a moment cannot teach it anything.
 */
static void learn_cost(const struct lat_state *s, struct lat_vm *lv, const struct model_vm *vm,
		       uint64_t now, uint64_t dt)
{
	double rate = model_net_rx_rate(vm, now, 0), per, span;

	if (!vm->net.present || rate < (double)s->cfg.busy_rate || !dt)
		return;
	per = vm_cpus(vm, 0) / rate;
	if (dt > LAT_LEARN_STEP_NS)
		dt = LAT_LEARN_STEP_NS;
	lv->learned_ns += dt;
	span = (double)(lv->learned_ns < LAT_LEARN_TAU_NS ? lv->learned_ns : LAT_LEARN_TAU_NS);
	lv->base_cost += (double)dt / span * (per - lv->base_cost);
}

/*
 * How much of the time the VM's vCPUs wait to run (fast signal, mean per
 * vCPU). A hog held to its quota, or squeezed by its neighbours below it,
 * waits most of the time; a calm VM's vCPUs sleep. Use alone would take
 * the squeezed hog for calm (measured: 0.08 of a CPU per vCPU under a
 * quarter-CPU quota with batch VMs spinning), and it would flap.
 */
static double vm_delay(const struct model_vm *vm)
{
	double sum = 0;
	unsigned int n = 0;

	for (unsigned int i = 0; i < WAVE_VM_VCPU_SLOTS; i++)
		if (vm->vcpu[i].present) {
			sum += vm->vcpu[i].delay;
			n++;
		}
	return n ? sum / n : 0;
}

/*
 * Hog or busy (the header): a VM hot at its cap for hog_ns without
 * traffic to explain it is a hog; a hog is forgiven when its use calms
 * down, or when traffic explains it, either for hog_ns.
 */
void lat_update_hog(struct lat_state *s, const struct model *m, const struct model_vm *vm,
		    uint64_t now)
{
	struct lat_vm *lv = &s->vm[lat_slot_of(m, vm)];
	uint64_t dt;
	int at_cap, hot;
	double p;

	if (lv->id != vm->id) {
		memset(lv, 0, sizeof(*lv));
		lv->id = vm->id;
		lv->pass_ns = now;
	}
	dt = now > lv->pass_ns ? now - lv->pass_ns : 0;
	lv->pass_ns = now;
	p = vm_pressure(s, m, vm, &at_cap);
	hot = p >= s->cfg.hog_util && at_cap;
	/* Only from a VM that gets what it wants: not at its cap, not a hog, not waiting to run. */
	if (!hot && !lv->hog && vm_delay(vm) < s->cfg.grow_delay)
		learn_cost(s, lv, vm, now, dt);
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
	if ((vm_cpus(vm, 1) < s->cfg.calm_util && vm_delay(vm) < s->cfg.calm_util) ||
	    use_explained(s, lv, vm, lv->hog_cpus, now)) {
		if (!lv->calm_since)
			lv->calm_since = now;
		else if (now - lv->calm_since >= s->cfg.hog_ns)
			lv->hog = 0, lv->hot_since = 0;
	} else {
		lv->calm_since = 0;
	}
}

/* A thread's demand with headroom, ns per period (the comment below says how). */
double lat_thread_demand(const struct lat_state *s, const struct model_thread *t)
{
	return fmax(fmax(t->util, t->util_slow) * (double)s->cfg.period_ns, t->burst_ns) *
	       s->cfg.headroom;
}

/* What the VM's threads would reserve with their caps scaled by x: each its demand, capped. */
static double reserved_at(const struct lat_state *s, const struct model_vm *vm, double cap,
			  double x)
{
	const struct model_thread *t;
	double sum = 0;

	MODEL_FOR_EACH_THREAD(vm, t)
		if (!model_thread_pinned(t))
			sum += fmin(lat_thread_demand(s, t), cap * x);
	return sum;
}

/*
 * A busy VM's reservations together stay within busy_share of the allowed
 * CPUs: the factor its threads' caps are scaled by so that their demands
 * (each capped) fit, changed only by more than a tenth (each change
 * resizes every reservation).
 */
void lat_busy_scale(struct lat_state *s, const struct model *m, const struct model_vm *vm)
{
	struct lat_vm *lv = &s->vm[lat_slot_of(m, vm)];
	unsigned int cpus[WAVE_MANAGED_CPUS];
	double cap = lat_vm_cap_ns(s, lv), budget, scale = 1;

	if (!lv->busy) {
		lv->scale = 1;
		return;
	}
	if (lv->scale <= 0)
		lv->scale = 1;
	budget = s->cfg.busy_share * (double)s->cfg.period_ns *
		 (double)model_allowed_cpus(m, cpus, WAVE_MANAGED_CPUS);
	/*
	 * The largest scale whose capped demands fit the budget (water-filling:
	 * a thread that wants less than its cap leaves the rest to the others).
	 */
	if (budget > 0 && reserved_at(s, vm, cap, 1) > budget) {
		double lo = 0, hi = 1;

		for (int i = 0; i < 24; i++) {
			double mid = (lo + hi) / 2;

			if (reserved_at(s, vm, cap, mid) > budget)
				hi = mid;
			else
				lo = mid;
		}
		scale = lo;
	}
	/*
	 * Tighter at once (the budget holds, and the host's --rt-max-total
	 * refuses what would pass it); looser only by more than a tenth, or
	 * each move of demand would resize every reservation.
	 */
	if (scale < lv->scale || scale > lv->scale * 1.1 || (scale == 1 && lv->scale < 1))
		lv->scale = scale;
}
