// SPDX-License-Identifier: BSD-3-Clause
/*
 * The latency policy's admission control: its reservations together stay
 * within the SCHED_DEADLINE bandwidth the host admits (HOST_CPU's
 * rt_cap_ppm, the host's safety envelope), so that the host never has to
 * refuse them. On a large host the per-thread reservations the policy
 * would like (at least rmin each) add up to more than the host has; asking
 * anyway had the host refuse most decisions and the policy retry them
 * every second (1,540 of 1,686 decisions refused with 128 latency vCPUs on
 * 2 CPUs).
 *
 * Each pass gives every latency thread a grant, the most it may reserve,
 * from four levels per thread: its cap (the most the policy would ever
 * give it), want (its demand with headroom, at least rmin, at most the
 * cap), demand (the same without the rmin floor) and a token (the smaller
 * of demand and rmin):
 *  1. all caps fit: each thread its cap, as without admission;
 *  2. else all wants fit: each thread as far from its want towards its cap
 *     as the budget allows, all alike (room to grow, and the grants never
 *     add up to more than the budget however the threads grow);
 *  3. else all demands fit: each thread as far from its demand towards its
 *     want as the budget allows, all alike;
 *  4. else all tokens fit: each thread as far from its token towards its
 *     demand, all alike (every latency thread keeps a reservation, each a
 *     little short of its demand);
 *  5. else threads are admitted in priority order, VM weight first, then
 *     vCPUs before emulator threads, lower index first, each with its
 *     token as long as there is room for it (a smaller token further down
 *     may still fit after a larger one did not); the others get no
 *     reservation but a larger CFS weight (as a pinned thread does).
 * Below level 1 a reservation over its grant is shrunk to it at once
 * (want_runtime), so what the threads hold fits as soon as the decisions
 * are applied; the shrinks go out with the growths of the same pass.
 * There grants move only by a useful step, too: the share of the
 * way follows the threads' demands, which are noisy, so a grant within
 * LAT_GRANT_STILL of the last pass's is kept as long as the kept grants
 * still fit the budget (else the new ones are taken, which fit by
 * construction). Level 1 needs none: its grants are the caps. The
 * price: a squeezed thread may hold up to a fifth less than admission
 * would give it now, while its demand stays within the band.
 * Without that, eight squeezed threads sampled every 5 ms had their
 * reservations changed 50 times a second, each change a transaction.
 * The order is static, so which threads are protected does not flap with
 * noise. Rejected alternative: FIFO with budgets for the threads that do
 * not fit. Under CONFIG_RT_GROUP_SCHED it needs an RT budget on every
 * cgroup up the tree (ENVIRONMENT), and a CPU-bound FIFO thread starves
 * batch VMs until throttled; a weight cannot starve anyone.
 */
#include <math.h>
#include <stdlib.h>

#include "ipu-sched/latency.h"

/* No reservation below this (the policy rounds to 50 us steps). */
#define LAT_GRANT_MIN_NS 50000.0
/* Reservations are rounded to 50 us steps: keep this much of the budget for that. */
#define LAT_ADMIT_MARGIN 0.95
/* A new grant this close to the last (a fraction of it) is not worth a change. */
#define LAT_GRANT_STILL 0.2
/* The host's default envelope (waved --rt-max-total) when the host does not say. */
#define LAT_DEFAULT_SHARE 0.75

/* Priority: heavier VM, then vCPU before emulator thread, then lower slot. */
static int by_priority(const void *a, const void *b)
{
	const struct lat_cand *x = a, *y = b;

	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	return x->v < y->v ? -1 : x->v > y->v;
}

/* The budget for all reservations together, and one thread's most, ns per period. */
static double budget_ns(const struct lat_state *s, const struct model *m, double *thread_ns)
{
	unsigned int cpus[WAVE_MANAGED_CPUS];
	double per_thread, cap = model_rt_capacity(m, &per_thread);

	if (cap <= 0)
		cap = LAT_DEFAULT_SHARE * model_allowed_cpus(m, cpus, WAVE_MANAGED_CPUS);
	*thread_ns = per_thread > 0 ? per_thread * (double)s->cfg.period_ns : INFINITY;
	return cap * (double)s->cfg.period_ns * LAT_ADMIT_MARGIN;
}

/* The threads that want a reservation now, with what they want; returns how many. */
static unsigned int candidates(struct lat_state *s, const struct model *m, double thread_ns,
			       double sum[4])
{
	unsigned int n = 0;

	sum[0] = sum[1] = sum[2] = sum[3] = 0;
	for (unsigned int v = 0; v < WAVE_MANAGED_VMS; v++) {
		const struct model_vm *vm = &m->vms[v];
		const struct lat_vm *lv = &s->vm[v];
		const struct model_thread *t;
		double cap = lat_vm_cap_ns(s, lv);

		if (!vm->present || vm->cls != WAVE_CLASS_LATENCY || lv->hog) {
			/* No grant, and none to hold when it is a candidate again. */
			if (vm->present)
				MODEL_FOR_EACH_THREAD(vm, t)
					lat_thread_of(s, m, vm, t)->grant = 0;
			continue;
		}
		/* A busy VM's threads share its budget: each cap scaled alike (busy_scale). */
		if (lv->busy && lv->scale < 1)
			cap = fmax(cap * lv->scale, (double)s->cfg.rmin_ns);
		cap = fmin(cap, thread_ns);
		MODEL_FOR_EACH_THREAD(vm, t) {
			struct lat_thread *lt = lat_thread_of(s, m, vm, t);
			struct lat_cand *c = &s->cand[n];
			double d = lat_thread_demand(s, t);

			c->last_grant = lt->grant;
			lt->grant = 0;
			if (model_thread_pinned(t) || cap < LAT_GRANT_MIN_NS)
				continue;
			c->v = (uint16_t)v;
			c->slot = (uint16_t)model_thread_slot(t);
			c->weight = vm->weight;
			c->cap = cap;
			/*
			 * What it holds beyond this does not count: a grant below it
			 * has the reservation shrunk at once (want_runtime).
			 */
			c->want = fmin(fmax(d, (double)s->cfg.rmin_ns), cap);
			c->floor = fmin(fmax(d, LAT_GRANT_MIN_NS), c->want);
			c->token = fmin(c->floor, (double)s->cfg.rmin_ns);
			sum[0] += c->cap;
			sum[1] += c->want;
			sum[2] += c->floor;
			sum[3] += c->token;
			n++;
		}
	}
	return n;
}

/* Down to a 50 us step, never under the smallest grant. */
static uint64_t grant_of(double ns)
{
	uint64_t g = (uint64_t)(ns / LAT_GRANT_MIN_NS) * (uint64_t)LAT_GRANT_MIN_NS;

	return g < (uint64_t)LAT_GRANT_MIN_NS ? (uint64_t)LAT_GRANT_MIN_NS : g;
}

/* Between lo and hi by the share f of the way that the budget allows. */
static double between(double lo, double hi, double f)
{
	return lo + f * (hi - lo);
}

/*
 * The grant a thread gets for the new one g: its last, if that is close
 * to g and within the thread's cap (none is kept for a thread that lost
 * its grant or had none), else g.
 */
static uint64_t still(const struct lat_cand *c, uint64_t g)
{
	uint64_t last = c->last_grant;

	if (!g || !last || (double)last > c->cap ||
	    fabs((double)last - (double)g) >= LAT_GRANT_STILL * (double)last)
		return g;
	return last;
}

/* Keeps the grants that moved by less than LAT_GRANT_STILL, if they then still fit the budget. */
static void hold_still(struct lat_state *s, unsigned int n, double budget)
{
	double sum = 0;

	for (unsigned int i = 0; i < n; i++) {
		const struct lat_cand *c = &s->cand[i];

		sum += (double)still(c, s->th[c->v][c->slot].grant);
	}
	if (sum > budget)
		return;
	for (unsigned int i = 0; i < n; i++) {
		const struct lat_cand *c = &s->cand[i];
		struct lat_thread *lt = &s->th[c->v][c->slot];

		lt->grant = still(c, lt->grant);
	}
}

void lat_admit(struct lat_state *s, const struct model *m)
{
	double thread_ns, budget = budget_ns(s, m, &thread_ns), sum[4], used = 0, f = 0;
	unsigned int n = candidates(s, m, thread_ns, sum), level = 1;

	while (level <= 4 && sum[level - 1] > budget)
		level++;
	s->admitted = s->refused = 0;
	s->squeezed = level > 1;
	/* Levels 2-4: the share of the way from sum[level - 1] up to sum[level - 2]. */
	if (level >= 2 && level <= 4)
		f = sum[level - 2] > sum[level - 1] ?
		    (budget - sum[level - 1]) / (sum[level - 2] - sum[level - 1]) : 0;
	else if (level == 5)
		qsort(s->cand, n, sizeof(s->cand[0]), by_priority);
	for (unsigned int i = 0; i < n; i++) {
		const struct lat_cand *c = &s->cand[i];
		struct lat_thread *lt = &s->th[c->v][c->slot];

		if (level == 1)
			lt->grant = grant_of(c->cap);
		else if (level == 2)
			lt->grant = grant_of(between(c->want, c->cap, f));
		else if (level == 3)
			lt->grant = grant_of(between(c->floor, c->want, f));
		else if (level == 4)
			lt->grant = grant_of(between(c->token, c->floor, f));
		else if (used + (double)grant_of(c->token) <= budget)
			used += (double)(lt->grant = grant_of(c->token));
		if (lt->grant)
			s->admitted++;
		else
			s->refused++;
	}
	if (s->squeezed)
		hold_still(s, n, budget);
}
