// SPDX-License-Identifier: BSD-3-Clause
/*
 * balloon: the host's memory budget for guests, split between co-tenant
 * VMs by moving their balloons (the policy half of mm/; no I/O, like
 * every policy, so it runs in wave-agent and, for onhost mode and the
 * local fallback, in waved).
 *
 * Each VM's need is its working set plus a reserve: what the guest uses
 * and cannot give back without swapping, in balloon terms (the balloon's
 * size less MemAvailable, from its statistics: this counts the guest's
 * kernel too, and holds with and without deflate-on-OOM) plus
 * max(reserve-min, reserve x that).
 *   - A VM under pressure (it stalls on memory, swaps in, takes major
 *     faults, or has almost nothing left) wants all it may have, at once:
 *     while it thrashes its working set cannot be told from what it
 *     holds, and a set that fits 90% swaps nearly as much as one that
 *     fits half (a cyclic or uniform access pattern), so steps of a few
 *     percent would take many statistics periods to help. Every other VM
 *     keeps its need; the rest of the budget goes to the VMs under
 *     pressure, by mem-weight. Pressure is answered within one statistics
 *     period plus the balloon's deflation (about half a second for
 *     hundreds of MiB under TCG). A VM pressed within hold (2 s) that has
 *     little free still counts as pressed: its set is still filling what
 *     it got, and its next statistics may catch it between two growths.
 *   - That is also how memory comes back from a calm VM when another is
 *     pressed: down to its need at once (TMO's pressure-driven reclaim).
 *     Without pressure anywhere, memory beyond the need is taken back
 *     slowly: only from a VM calm for idle-time, at most shrink x its
 *     maximum per decision (one per report, about a second; one every
 *     other report in practice, as the statistics right after a step
 *     cannot tell the use), like ESX's idle-memory tax: reclaim is cheap
 *     to delay and expensive to overdo. shrink is 10%, not less: every
 *     step costs the host a target and a read of its own (libvirt calls
 *     that libvirtd serves too), and the need below which no step goes is
 *     the same for any step, so a step larger by x only lets a wrong
 *     estimate of the use cost up to x more before the next report stops
 *     it.
 *   - A VM whose use the host could not tell at its latest statistics
 *     (its balloon moved while the guest counted) gives nothing away on
 *     the estimate before: that is older than what the guest did since.
 *   - A size at which the VM was pressed is not shrunk to again for
 *     relax (30 s): the working-set estimate missed something there (page
 *     cache it needs, zram's own memory), and probing lower more often
 *     would make it swap every few seconds.
 *   - Never below the VM's floor (metadata mem-min) nor below what it
 *     uses plus reserve-min, so the policy never pushes a guest into OOM;
 *     never above its maximum.
 *   - When the wants do not fit the budget, every VM gets its need
 *     first; what is left goes to the VMs under pressure, then to the
 *     others, by mem-weight (water-filling, each capped at what it wants).
 * It decides once per report, and once a second without one (the host
 * sends a report only when it changed). Changes under hysteresis are not
 * sent. Shrinks go before growths, and a growth is sent only as far as
 * the budget has room once the shrinks are counted (the host counts an
 * accepted target at once, and refuses what would pass the budget). One
 * target per VM is out at a time: the next waits for the host's MEM_CTL
 * to show it (or a refusal, or 3 s).
 * Without a budget from the host (HOST_MEM budget 0) it decides nothing.
 */
#include <stddef.h>
#include <string.h>

#include "ipu-sched/policy.h"

#define MIB 1024u
#define INFLIGHT_NS 3000000000ull
#define DECIDE_NS   1000000000ull /* at least this often, reports or not */

struct bal_cfg {
	double reserve;          /* of the working set, kept free */
	uint32_t reserve_min;    /* MiB, at least */
	double stall_hi;         /* PSI some share that means pressure */
	uint32_t swap_hi;        /* swap-in KiB/s that means pressure */
	uint32_t fault_hi;       /* major faults/s that mean pressure */
	double shrink;           /* most taken back per decision, of the maximum */
	uint64_t idle_ns;        /* calm this long before anything is taken back */
	uint64_t relax_ns;       /* a size that brought pressure is kept off this long */
	uint64_t hold_ns;        /* still pressed this long after the last sign, unless much is free */
	uint32_t hyst;           /* MiB: smaller changes are not sent */
};

static const struct bal_cfg bal_defaults = {
	.reserve = 0.05,
	.reserve_min = 16,
	.stall_hi = 0.02,
	.swap_hi = 256,
	.fault_hi = 100,
	.shrink = 0.10,
	.idle_ns = 3000000000ull,
	.relax_ns = 30000000000ull,
	.hold_ns = 2000000000ull,
	.hyst = 8,
};

#define BAL_PARAM(...) POLICY_PARAM(struct bal_cfg, __VA_ARGS__)
static const struct policy_param bal_params[] = {
	BAL_PARAM("reserve", FRACTION, reserve, 0, 1, "free memory kept, share of the working set"),
	BAL_PARAM("reserve-min", UINT32, reserve_min, 0, 65536, "... at least this (MiB)"),
	BAL_PARAM("stall", FRACTION, stall_hi, 0.001, 1, "memory stall share that is pressure (PSI)"),
	BAL_PARAM("swap-in", UINT32, swap_hi, 1, 1u << 30, "swap-in KiB/s that is pressure"),
	BAL_PARAM("faults", UINT32, fault_hi, 1, 1u << 30, "major faults/s that are pressure"),
	BAL_PARAM("shrink", FRACTION, shrink, 0.001, 1,
		  "most taken back per decision, share of the maximum"),
	BAL_PARAM("idle", DURATION, idle_ns, 0, 6e11, "calm this long before memory is taken back"),
	BAL_PARAM("relax", DURATION, relax_ns, 0, 3.6e12,
		  "a size that brought pressure is not shrunk to again for this long"),
	BAL_PARAM("hold", DURATION, hold_ns, 0, 6e10,
		  "a VM stays pressed this long after the last sign, unless much is free"),
	BAL_PARAM("hyst", UINT32, hyst, 0, 65536, "changes below this (MiB) are not sent"),
	{ .name = NULL },
};

struct bal_vm {
	uint32_t id;             /* the VM this slot decided for (0: none yet) */
	uint64_t decided_ns;     /* the report the last decision was made from */
	uint64_t judged_ns;      /* when it was last decided for */
	uint64_t calm_since;     /* 0: under pressure */
	uint32_t sent_kib;       /* target out, waiting to be seen */
	uint64_t sent_ns;
	int pressed;
	uint64_t pressure_kib;   /* the largest size it was pressed at lately (0: none) */
	uint64_t pressure_ns;    /* ... last seen then */
	uint64_t sign_ns;        /* the last sign of pressure itself (see bal_cfg.hold_ns) */
};

struct bal_state {
	struct bal_cfg cfg;
	struct bal_vm vm[WAVE_MANAGED_VMS];
};

/* What one VM wants and may have, KiB. */
struct want {
	const struct model_vm *vm;
	uint64_t cur, need, want, give;
	uint64_t held;           /* max(target, balloon now) */
	int pressed;
	int out;                 /* a target is out: it takes its part of the split, nothing is sent */
	uint32_t weight;
};

static void bal_init(void *priv, const void *cfg, const struct policy_env *env)
{
	struct bal_state *s = priv;

	(void)env;
	memset(s, 0, sizeof(*s));
	s->cfg = *(const struct bal_cfg *)cfg;
}

static int managed(const struct model_vm *vm)
{
	const struct model_mem *x = &vm->mem;

	return vm->present && x->present && x->ctl && (x->flags & WAVE_MEM_BALLOON) && x->max_kib;
}

/* A VM's mem-weight (100 where the host sent none). */
static uint32_t weight_of(const struct model_mem *x)
{
	return x->weight ? x->weight : 100;
}

static int pressed(const struct bal_cfg *c, const struct model_vm *vm, uint64_t now)
{
	const struct model_mem *x = &vm->mem;
	struct model_mem_now r;

	model_mem_now(vm, now, &r);
	return r.stall > c->stall_hi || r.swap_in_kib_per_s > c->swap_hi ||
	       r.major_per_s > c->fault_hi ||
	       (x->usable_kib != WAVE_MEM_NONE && x->usable_kib < c->reserve_min * MIB / 2);
}

/*
 * Fills w for vm: its need and what it wants now. What it uses is the
 * model's used_kib, in balloon terms (the balloon less MemAvailable: the
 * guest's own use plus what it never sees as MemTotal; with deflate-on-OOM
 * MemTotal stays at the maximum and the balloon's pages count as used,
 * and the difference is the same); 0 if the guest does not report it.
 */
static void judge(struct bal_state *s, const struct model_vm *vm, struct bal_vm *b, uint64_t now,
		  struct want *w)
{
	const struct bal_cfg *c = &s->cfg;
	const struct model_mem *x = &vm->mem;
	uint64_t used = x->used_kib, res, size, floor;

	*w = (struct want){ .vm = vm, .cur = x->target_kib, .weight = weight_of(x) };
	size = x->actual_kib != WAVE_MEM_NONE ? x->actual_kib : w->cur;
	res = (uint64_t)(c->reserve * (double)used);
	res = res > c->reserve_min * MIB ? res : c->reserve_min * MIB;
	/* The floor: the metadata's, and never below what it uses plus the minimum reserve. */
	floor = used ? used + c->reserve_min * MIB : 0;
	floor = floor > x->floor_kib ? floor : x->floor_kib;
	floor = floor < x->max_kib ? floor : x->max_kib;
	w->need = used ? used + res : w->cur;
	w->need = w->need > floor ? w->need : floor;
	b->pressed = pressed(c, vm, now);
	/*
	 * A VM that ran short a moment ago and has little free now is still
	 * filling what it was given (its statistics caught it between two
	 * growths): it keeps wanting, or it would wait a report or two for
	 * the next sign while its set thrashes.
	 */
	if (b->pressed)
		b->sign_ns = now;
	else if (b->sign_ns && now - b->sign_ns < c->hold_ns &&
		 (x->usable_kib == WAVE_MEM_NONE || x->usable_kib <= 4 * c->reserve_min * MIB))
		b->pressed = 1;
	w->pressed = b->pressed;
	/* Much free memory now: its demand fell, what it was pressed at no longer says anything. */
	if (!b->pressed && x->usable_kib != WAVE_MEM_NONE && x->usable_kib > 4 * c->reserve_min * MIB)
		b->pressure_kib = 0;
	/*
	 * A calm VM that was pressed lately: the size where that began is not
	 * a need met, so a pressed neighbour may not take it below that.
	 */
	if (!b->pressed && b->pressure_kib && now - b->pressure_ns < c->relax_ns &&
	    b->pressure_kib + c->reserve_min * MIB > w->need)
		w->need = b->pressure_kib + c->reserve_min * MIB;
	/*
	 * Its use unknown at its latest statistics (its balloon moved while
	 * the guest counted): the estimate before is older than what the guest
	 * did since, and a VM that just grew is still filling what it got
	 * (seen: a VM filling 420 MiB judged by its use of a phase before, 162,
	 * and cut to 179). Nothing is taken from it on that estimate; its next
	 * statistics, a period later, tell.
	 */
	if (x->used_stale) {
		uint64_t keep = size < w->cur ? size : w->cur;

		w->need = w->need > keep ? w->need : keep;
	}
	w->need = w->need < x->max_kib ? w->need : x->max_kib;
	if (b->pressed) {
		/* The size at which pressure began (not what it grew to since). */
		if (b->calm_since || !b->pressure_kib)
			b->pressure_kib = size > b->pressure_kib ? size : b->pressure_kib;
		b->calm_since = 0;
		b->pressure_ns = now;
		w->want = x->max_kib;
	} else {
		if (!b->calm_since)
			b->calm_since = now;
		if (b->pressure_kib && now - b->pressure_ns >= c->relax_ns)
			b->pressure_kib = 0; /* probe lower again, once in a while */
		w->want = w->need;
		if (w->want < w->cur) {
			uint64_t step = (uint64_t)(c->shrink * (double)x->max_kib);
			/* Not back to where it was pressed: its estimate missed something there. */
			uint64_t low = b->pressure_kib ? b->pressure_kib + c->reserve_min * MIB : 0;

			w->want = w->want > low ? w->want : low;
			if (now - b->calm_since < c->idle_ns || w->want >= w->cur)
				w->want = w->cur;
			else if (w->cur - w->want > step)
				w->want = w->cur - step;
		}
	}
	w->want = w->want < x->max_kib ? w->want : x->max_kib;
	w->want = w->want > floor ? w->want : floor;
	w->need = w->need < w->want ? w->need : w->want;
}

/* Water-fills left over the VMs of tier (pressed or not) by weight, each up to its want. */
static uint64_t fill(struct want *w, unsigned int n, uint64_t left, int tier)
{
	for (int open = 1; left > MIB && open;) {
		uint64_t wsum = 0, spent = 0;

		for (unsigned int i = 0; i < n; i++)
			if (w[i].pressed == tier && w[i].give < w[i].want)
				wsum += w[i].weight;
		open = wsum > 0;
		for (unsigned int i = 0; open && i < n; i++) {
			uint64_t share, room = w[i].want - w[i].give;

			if (w[i].pressed != tier || !room)
				continue;
			share = left * w[i].weight / wsum;
			share = share < room ? share : room;
			w[i].give += share;
			spent += share;
		}
		if (!spent)
			break;
		left -= spent;
	}
	return left;
}

/*
 * Splits budget: every VM its need first; what is left goes to the VMs
 * under pressure (by weight, up to what they want), and only then to the
 * others: memory a calm VM holds beyond its need is what a pressed one
 * gets at once.
 */
static void split(struct want *w, unsigned int n, uint64_t budget)
{
	uint64_t sum = 0, left;

	for (unsigned int i = 0; i < n; i++)
		sum += w[i].want;
	if (sum <= budget) {
		for (unsigned int i = 0; i < n; i++)
			w[i].give = w[i].want;
		return;
	}
	sum = 0;
	for (unsigned int i = 0; i < n; i++) {
		w[i].give = w[i].need;
		sum += w[i].need;
	}
	left = budget > sum ? budget - sum : 0;
	fill(w, n, fill(w, n, left, 1), 0);
}

/*
 * Sends kib as vm's target, in whole MiB (what libvirt and the balloon
 * keep exactly, so the host's MEM_CTL shows it as sent): a growth rounded
 * down stays within the room it was given, a shrink rounded up stays
 * above the floor; never above the maximum, and nothing if rounding left
 * nothing to change.
 */
static void emit(struct bal_vm *b, const struct want *w, uint64_t kib, uint64_t now,
		 struct policy_out *out)
{
	struct wave_txn op;

	kib = kib > w->cur ? kib / MIB * MIB : (kib + MIB - 1) / MIB * MIB;
	kib = kib < w->vm->mem.max_kib ? kib : w->vm->mem.max_kib; /* a maximum not in whole MiB */
	if (!kib || kib == w->cur)
		return;

	policy_vm_op_init(&op, w->vm, WAVE_OP_SET_BALLOON);
	op.u.balloon.target_kib = (uint32_t)kib;
	policy_emit(out, &op, 0);
	b->sent_kib = (uint32_t)kib;
	b->sent_ns = now;
}

static void bal_decide(void *priv, const struct model *m, uint64_t now, struct policy_out *out)
{
	struct bal_state *s = priv;
	struct want w[WAVE_MANAGED_VMS];
	struct bal_vm *b[WAVE_MANAGED_VMS];
	uint64_t budget = m->host_mem.budget_kib, total = 0, hyst = s->cfg.hyst * MIB;
	unsigned int n = 0, fresh = 0;

	if (!m->host_mem.present || !budget)
		return;
	for (unsigned int v = 0; v < WAVE_MANAGED_VMS; v++) {
		const struct model_vm *vm = &m->vms[v];
		struct bal_vm *x = &s->vm[v];

		if (!managed(vm))
			continue;
		if (x->id != vm->id)
			*x = (struct bal_vm){ .id = vm->id };
		/*
		 * A target out: nothing more is sent for it until the host shows it,
		 * refuses it, or 3 s pass; it keeps its place in the split (a VM
		 * under pressure still wants all it may have, and the others give
		 * way for it meanwhile).
		 */
		if (x->sent_kib && vm->mem.target_kib / MIB != x->sent_kib / MIB &&
		    now - x->sent_ns < INFLIGHT_NS) {
			w[n] = (struct want){ .vm = vm, .cur = x->sent_kib, .need = x->sent_kib,
					      .want = x->pressed ? vm->mem.max_kib : x->sent_kib,
					      .pressed = x->pressed, .out = 1,
					      .weight = weight_of(&vm->mem) };
			b[n++] = x;
			continue;
		}
		x->sent_kib = 0;
		/* A new report, or a second without one (nothing changed: still a state to judge). */
		fresh |= vm->mem.state_ns > x->decided_ns || now - x->judged_ns >= DECIDE_NS;
		judge(s, vm, x, now, &w[n]);
		b[n++] = x;
	}
	/* One decision per report: nothing new, nothing to decide. */
	if (!fresh)
		return;
	split(w, n, budget);
	/*
	 * What each VM holds now: its target, or its balloon if that is still
	 * larger (a shrink takes seconds: the guest gives pages back at its own
	 * pace). A growth goes only into what the others really left, so the
	 * balloons together stay within the budget, not just the targets.
	 */
	for (unsigned int i = 0; i < n; i++) {
		uint32_t actual = w[i].vm->mem.actual_kib;

		b[i]->decided_ns = w[i].vm->mem.state_ns;
		b[i]->judged_ns = now;
		w[i].held = actual != WAVE_MEM_NONE && actual > w[i].cur ? actual : w[i].cur;
		total += w[i].held;
	}
	/* Shrinks first: the host counts them at once; the room shows as their balloons shrink. */
	for (unsigned int i = 0; i < n; i++)
		if (!w[i].out && w[i].give + hyst < w[i].cur)
			emit(b[i], &w[i], w[i].give, now, out);
	for (unsigned int i = 0; i < n; i++) {
		uint64_t give = w[i].give, others = total - w[i].held;
		uint64_t cap = budget > others ? budget - others : 0;

		if (w[i].out || give <= w[i].cur)
			continue;
		give = give < cap ? give : cap;
		if (give <= w[i].cur || (give < w[i].cur + hyst && !b[i]->pressed))
			continue;
		total += give > w[i].held ? give - w[i].held : 0;
		w[i].held = give > w[i].held ? give : w[i].held;
		emit(b[i], &w[i], give, now, out);
	}
}

static void bal_result(void *priv, const struct model *m, const struct wave_txn *ops,
		       unsigned int n, const struct wave_txn_result *r)
{
	struct bal_state *s = priv;

	(void)r;
	for (unsigned int k = 0; k < n; k++)
		for (unsigned int v = 0; v < WAVE_MANAGED_VMS; v++)
			if (m->vms[v].present && m->vms[v].id == ops[k].vm_id)
				s->vm[v].sent_kib = 0; /* refused or failed: decide again */
}

/*
 * A new epoch (fallback and hand-back, or a restarted host): the balloons
 * stay as they were (the host does not restore them), so what was learned
 * about each VM's pressure stays too; only what was out is forgotten.
 */
static void bal_reset(void *priv)
{
	struct bal_state *s = priv;

	for (unsigned int v = 0; v < WAVE_MANAGED_VMS; v++) {
		s->vm[v].sent_kib = 0;
		s->vm[v].decided_ns = s->vm[v].judged_ns = 0;
	}
}

const struct policy_ops mm_balloon_ops = {
	.name = "balloon",
	.summary = "split the guests' memory budget by working set, pressure and mem-weight",
	.subsys = POLICY_MEM,
	.priv_size = sizeof(struct bal_state),
	.cfg_size = sizeof(struct bal_cfg),
	.cfg_default = &bal_defaults,
	.params = bal_params,
	.init = bal_init,
	.decide = bal_decide,
	.result = bal_result,
	.reset = bal_reset,
};
