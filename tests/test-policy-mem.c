// SPDX-License-Identifier: BSD-3-Clause
/*
 * The memory policy (mm/policy-balloon.c), composed beside a scheduling
 * policy in the runtime, on synthetic traces of MEM_STATE, MEM_CTL and
 * HOST_MEM: pressure answered at once, idle memory taken back slowly and
 * never below the working set, floors kept, the budget split by weight,
 * a shift that shrinks before it grows, one target out per VM, refusals
 * decided again, and its transactions apart from the scheduler's; the
 * model's memory rates and use estimate; and bench mem's phases played
 * through simulated guests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "channel/codec.h"
#include "tests/policy-trace.h"

#define MIB 1024u
#define SEC (1000 * MS)

static struct policy_conf mem_conf;

/* What a fake guest reports: sizes in MiB. */
struct guest {
	uint32_t vm, max, target, floor, weight;
	uint32_t actual, used;        /* used: what it cannot give back (MemTotal - MemAvailable) */
	uint32_t majflt, swapin_kib;  /* cumulative */
	uint64_t stall_us;            /* cumulative PSI some */
	uint32_t age_ms;              /* of the guest's statistics */
	uint32_t stats_actual;        /* the balloon when they were made (0: actual) */
	int used_unknown;             /* the host could not pair them with a balloon size */
};

static void report_mem(const struct guest *g)
{
	struct wave_msg m;

	wave_msg_init(&m, WAVE_MSG_MEM_CTL);
	m.p.mctl = (struct wave_mem_ctl){ .vm_id = g->vm, .barrier = g->vm * 100,
					  .target_kib = g->target * MIB, .floor_kib = g->floor * MIB,
					  .weight = (uint16_t)g->weight, .flags = WAVE_MEM_BALLOON |
					  WAVE_MEM_STATS, .psi_some_us = g->stall_us };
	uint32_t then = g->stats_actual ? g->stats_actual : g->actual;

	/* The balloon then less MemAvailable (below): what it uses plus the 8 it never sees. */
	m.p.mctl.used_kib = g->used_unknown ? WAVE_MEM_NONE : (g->used + 8) * MIB;
	feed(&m);
	wave_msg_init(&m, WAVE_MSG_MEM_STATE);
	m.p.mem = (struct wave_mem_state){ .vm_id = g->vm, .barrier = g->vm * 100,
					   .actual_kib = g->actual * MIB, .max_kib = g->max * MIB,
					   .available_kib = (then - 8) * MIB,
					   .usable_kib = (then - 8 - g->used) * MIB,
					   .unused_kib = (then - 8 - g->used) * MIB,
					   .caches_kib = 0, .rss_kib = g->actual * MIB,
					   .major_faults = g->majflt, .swap_in_kib = g->swapin_kib,
					   .age_ms = g->age_ms };
	feed(&m);
}

static void host_budget(uint32_t mib)
{
	struct wave_msg m;

	wave_msg_init(&m, WAVE_MSG_HOST_MEM);
	m.p.hmem = (struct wave_host_mem){ .budget_kib = (uint64_t)mib * MIB,
					   .total_kib = 24ull << 20, .avail_kib = 20ull << 20 };
	feed(&m);
}

static void guest(struct guest *g, uint32_t vm, uint32_t max, uint32_t target, uint32_t used)
{
	memset(g, 0, sizeof(*g));
	g->vm = vm;
	g->max = max;
	g->target = g->actual = target;
	g->used = used;
	g->weight = 100;
	add_vm(vm, WAVE_CLASS_BATCH, 1, 100);
}

/* The SET_BALLOON for vm among out[0..n-1] (MiB), or 0; *pos its position. */
static uint32_t target_of(unsigned int n, uint32_t vm, unsigned int *pos)
{
	for (unsigned int i = 0; i < n; i++)
		if (is_op(i, WAVE_OP_SET_BALLOON) && out[i].p.txn.vm_id == vm) {
			if (pos)
				*pos = i;
			return out[i].p.txn.u.balloon.target_kib / MIB;
		}
	return 0;
}

/* A second passes: every guest reports, the host applied what was sent (as its MEM_CTL shows). */
static unsigned int second(struct guest *g, unsigned int ng)
{
	unsigned int n;

	now += SEC;
	for (unsigned int i = 0; i < ng; i++)
		report_mem(&g[i]);
	n = decide();
	for (unsigned int i = 0; i < ng; i++) {
		uint32_t t = target_of(n, g[i].vm, NULL);

		if (t)
			g[i].target = g[i].actual = t;
	}
	return n;
}

static int setup(void **state)
{
	setup_policy("cfs", 0);
	assert_int_equal(policy_conf_init_as(&mem_conf, POLICY_MEM, "balloon"), 0);
	assert_int_equal(sched_add(&s, &mem_conf), 0);
	add_cpus(2);
	return 0;
}

static void no_budget_no_decisions(void **state)
{
	struct guest g;

	guest(&g, 1, 512, 256, 250);
	host_budget(0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(second(&g, 1), 0);
}

static void pressure_is_answered_at_once(void **state)
{
	struct guest g;
	unsigned int n;

	guest(&g, 1, 512, 256, 100);
	host_budget(1024);
	second(&g, 1);
	/* The guest stalls on memory a tenth of the time and swaps in. */
	for (int i = 0; i < 2; i++) {
		now += SEC;
		g.stall_us += 100000;
		g.swapin_kib += 4096;
		report_mem(&g);
	}
	n = decide();
	/* All it may have: the budget has room for its maximum. */
	assert_int_equal(target_of(n, 1, NULL), 512);
	assert_int_equal(out[0].p.txn.barrier, 100); /* the VM's barrier */
	assert_int_equal(out[0].p.txn.op_count, 1);
}

/*
 * A VM that ran short a moment ago and has little free is still filling
 * what it got: when the room it waited for appears, it grows, although
 * its latest statistics show no fault.
 */
static void a_vm_just_pressed_keeps_growing_while_it_fills(void **state)
{
	struct guest g[2];
	unsigned int n;

	guest(&g[0], 1, 512, 200, 150);
	guest(&g[1], 2, 512, 450, 150);
	host_budget(650);
	now += SEC;
	report_mem(&g[0]);
	report_mem(&g[1]);
	decide();
	/* VM 1 swaps: VM 2 gives down to its need; VM 1 waits for that room. */
	now += SEC;
	g[0].used = 192;
	g[0].swapin_kib += 8192;
	g[0].majflt += 2000;
	report_mem(&g[0]);
	report_mem(&g[1]);
	n = decide();
	assert_true(target_of(n, 2, NULL) > 0 && target_of(n, 2, NULL) < 200);
	assert_int_equal(target_of(n, 1, NULL), 0);
	g[1].target = g[1].actual = target_of(n, 2, NULL);
	/* Its next statistics: no new fault, 40 MiB free, the room is there. */
	now += SEC;
	g[0].used = 200 - 8 - 40;
	report_mem(&g[0]);
	report_mem(&g[1]);
	n = decide();
	assert_true(650 - g[1].actual < 512);
	assert_int_equal(target_of(n, 1, NULL), 650 - g[1].actual); /* all the room */
}

static void idle_memory_is_taken_back_slowly_never_below_use(void **state)
{
	struct guest g;
	uint32_t last = 512, t;
	unsigned int n;

	guest(&g, 1, 512, 512, 100);
	host_budget(2048);
	/* Not before it has been calm for the idle time (3 s). */
	for (int i = 0; i < 3; i++)
		assert_int_equal(target_of(second(&g, 1), 1, NULL), 0);
	for (int i = 0; i < 40; i++) {
		n = second(&g, 1);
		if (!(t = target_of(n, 1, NULL)))
			continue;
		assert_true(t < last);
		assert_true(last - t <= 52); /* at most 10% of the maximum per decision */
		last = t;
	}
	/* It settles at what it uses (100 + 8 the guest never sees) plus the reserve, max(16, 5%). */
	assert_true(last >= 108 + 16 && last <= 108 + 16 + 8 + 52);
}

static void floors_are_kept(void **state)
{
	struct guest g;
	uint32_t t;

	guest(&g, 1, 512, 512, 50);
	g.floor = 300;
	host_budget(2048);
	for (int i = 0; i < 60; i++)
		if ((t = target_of(second(&g, 1), 1, NULL)))
			assert_true(t >= 300);
	assert_true(g.target >= 300 && g.target < 320);
}

static void the_budget_is_split_by_weight_after_needs(void **state)
{
	struct guest g[2];
	unsigned int n;
	uint32_t a, b;

	/* Both stall on memory (each needs 208 + 16): both want more than the 600 MiB there are. */
	guest(&g[0], 1, 1024, 256, 200);
	guest(&g[1], 2, 1024, 256, 200);
	g[1].weight = 300;
	host_budget(600);
	second(g, 2);
	for (int i = 0; i < 6; i++) {
		for (int k = 0; k < 2; k++)
			g[k].stall_us += 200000;
		n = second(g, 2);
		(void)n;
		assert_true(g[0].target + g[1].target <= 600);
	}
	a = g[0].target;
	b = g[1].target;
	/* Each keeps its need; beyond it, the weight 3 VM got about three times as much. */
	assert_true(a >= 200 && b > a);
	assert_true(b - 224 >= 2 * (a - 224));
}

/* A calm VM's memory beyond its need goes to a pressed one in one decision, not a share of it. */
static void pressure_comes_first(void **state)
{
	struct guest g[2];
	unsigned int n;

	guest(&g[0], 1, 512, 256, 80);   /* calm, holds far more than it needs */
	guest(&g[1], 2, 512, 256, 250);  /* full, and stalling */
	host_budget(512);
	second(g, 2);
	g[1].stall_us += 300000;
	g[1].swapin_kib += 8192;
	n = second(g, 2);
	/* The calm one keeps only its need (80 + 8 overhead + 16 reserve), the rest is offered. */
	assert_true(target_of(n, 1, NULL) >= 104 && target_of(n, 1, NULL) <= 110);
	/* ... and taken as soon as its balloon has given it back (the next report here). */
	g[1].stall_us += 300000;
	g[1].swapin_kib += 8192;
	second(g, 2);
	assert_true(g[1].target >= 256 + 128);
	assert_true(g[0].target + g[1].target <= 512);
}

static void a_shift_shrinks_before_it_grows(void **state)
{
	struct guest g[2];
	unsigned int n, pa = 0, pb = 0;

	guest(&g[0], 1, 512, 400, 60);  /* idle: holds far more than it uses */
	guest(&g[1], 2, 512, 200, 190); /* pressed: nearly full */
	host_budget(700);               /* room for 100 more before the first gives any */
	for (int i = 0; i < 4; i++) { /* calm long enough for the first to give */
		g[1].stall_us += 200000;
		n = second(g, 2);
		if (target_of(n, 1, &pa) && target_of(n, 2, &pb))
			break;
	}
	assert_true(target_of(n, 1, &pa) && target_of(n, 2, &pb));
	assert_true(pa < pb);            /* the shrink goes first */
	assert_true(g[0].target + g[1].target <= 700);
}

static void one_target_out_per_vm_and_refusals_decided_again(void **state)
{
	struct guest g;
	struct wave_txn_result r = { 0 };
	unsigned int n;

	guest(&g, 1, 512, 256, 200);
	host_budget(1024);
	second(&g, 1);
	g.stall_us += 300000;
	now += SEC;
	report_mem(&g);
	n = decide();
	assert_true(target_of(n, 1, NULL) > 256);
	/* The host has not shown it yet: still pressed, nothing more is sent. */
	g.stall_us += 300000;
	now += SEC;
	report_mem(&g);
	assert_int_equal(target_of(decide(), 1, NULL), 0);
	/* Refused: decided again at the next report. */
	r.txn_id = out[0].p.txn.txn_id;
	r.status = WAVE_ST_INVALID;
	r.vm_id = 1;
	sched_result(&s, &r);
	g.stall_us += 300000;
	now += SEC;
	report_mem(&g);
	assert_true(target_of(decide(), 1, NULL) > 256);
}

/*
 * A guest for the policy to steer, in steps of a quarter second: what
 * bench mem's guests do, in a few lines. It holds a working set of ws MiB
 * plus SIM_BASE of its own and never sees SIM_HIDDEN of its balloon (its
 * kernel image and page structs; both measured on the bench's guests).
 * While set and base fit what the balloon leaves it reports what is free;
 * otherwise it thrashes: 4 MiB free, thousands of major faults and
 * swap-ins a second. Its balloon moves towards the target at the speeds
 * measured under TCG, and it reports once a second, each VM at its own
 * moment, and every step while its balloon moves, as waved does.
 */
#define SIM_HIDDEN 55
#define SIM_BASE   31
#define SIM_SWAP   256
#define SIM_STEP   (250 * MS)

struct sim {
	struct guest g, stats;    /* the guest now; its statistics as last made (once a second) */
	uint64_t stats_ns;
	uint32_t ws, set;         /* MiB asked for; the set touched so far */
	double actual;
	uint64_t fits_since;      /* 0: thrashing */
};

static void sim_init(struct sim *v, unsigned int nv, uint32_t budget)
{
	for (unsigned int i = 0; i < nv; i++) {
		guest(&v[i].g, i + 1, 512, budget / nv, 0);
		v[i].g.floor = 128;
		v[i].ws = v[i].set = 64;
		v[i].actual = v[i].g.actual;
	}
	host_budget(budget);
}

static void sim_guest(struct sim *v, unsigned int i, unsigned int tick)
{
	struct guest *g = &v->g;
	double t = g->target, was = v->actual;

	v->actual = v->actual < t ? (v->actual + 175 < t ? v->actual + 175 : t)  /* 700 MiB/s */
				  : (v->actual - 45 > t ? v->actual - 45 : t);   /* 180 MiB/s */
	g->actual = (uint32_t)v->actual;
	/* A larger set is touched in at 300 MiB/s (the guest's toucher under TCG), a smaller one is given back at once. */
	v->set = v->set + 75 < v->ws ? v->set + 75 : v->ws;
	/* Never more than RAM and swap can hold: that would be an OOM kill. */
	assert_true(SIM_BASE + v->set <= g->actual - SIM_HIDDEN + SIM_SWAP);
	if (SIM_BASE + v->set > g->actual - SIM_HIDDEN) {
		g->majflt += 9000 / 4;
		g->swapin_kib += 36000 / 4;
		g->used = g->actual - 8 - 4;
		v->fits_since = 0;
	} else {
		g->used = SIM_HIDDEN - 8 + SIM_BASE + v->set;
		v->fits_since = v->fits_since ? v->fits_since : now;
	}
	/*
	 * The guest makes its statistics once a second; the host reads them
	 * then and every step while the balloon moves (mm/mechanism.c), with
	 * the balloon as it is now.
	 */
	if (tick % 4 == i % 4) {
		v->stats = *g;
		v->stats.stats_actual = g->actual;
		v->stats_ns = now;
	}
	if (tick % 4 == i % 4 || v->actual != was) {
		struct guest r = v->stats;

		r.actual = g->actual;
		r.target = g->target;
		r.age_ms = (uint32_t)((now - v->stats_ns) / MS);
		report_mem(&r);
	}
}

/*
 * Runs secs with the working sets given (MiB), the policy deciding every
 * step; the balloons' sum stays within 105% of the budget throughout.
 * Returns how long VM who took to fit for good (ms), or -1 if it never did.
 */
static long sim_phase(struct sim *v, unsigned int nv, uint32_t budget, const uint32_t *ws,
		      unsigned int secs, unsigned int who)
{
	uint64_t t0 = now;

	for (unsigned int i = 0; i < nv; i++)
		v[i].ws = ws[i];
	for (unsigned int tick = 0; tick < secs * 4; tick++) {
		double sum = 0;
		unsigned int n;

		now += SIM_STEP;
		for (unsigned int i = 0; i < nv; i++) {
			sim_guest(&v[i], i, tick);
			sum += v[i].actual;
		}
		assert_true(sum <= budget * 1.05);
		n = decide();
		for (unsigned int i = 0; i < nv; i++) {
			uint32_t t = target_of(n, v[i].g.vm, NULL);

			v[i].g.target = t ? t : v[i].g.target;
		}
	}
	return v[who].fits_since ? (long)((v[who].fits_since - t0) / MS) : -1;
}

/*
 * bench mem's phases on a budget they fit in (each VM's set plus the 86
 * MiB its guest takes itself): the VM that needs memory gets it within a
 * few seconds, from the others' idle memory, and the spike is answered
 * within two statistics periods plus the deflation.
 */
static void the_bench_phases_fit_when_the_budget_does(void **state)
{
	static const uint32_t start[3] = { 64, 64, 64 }, skew[3] = { 400, 64, 64 },
			      shift[3] = { 64, 400, 64 }, hold[3] = { 300, 64, 64 },
			      spike[3] = { 300, 64, 350 };
	struct sim v[3];
	long ms;

	sim_init(v, 3, 1024);
	sim_phase(v, 3, 1024, start, 5, 0);
	ms = sim_phase(v, 3, 1024, skew, 10, 0);
	assert_true(ms >= 0 && ms <= 5000);
	ms = sim_phase(v, 3, 1024, shift, 10, 1);
	assert_true(ms >= 0 && ms <= 5000);
	sim_phase(v, 3, 1024, hold, 4, 0);
	ms = sim_phase(v, 3, 1024, spike, 6, 2);
	assert_true(ms >= 0 && ms <= 2000);
	assert_true(v[0].fits_since && v[1].fits_since); /* nobody robbed for it */
}

/*
 * The same phases on the bench's 768 MiB, too small for them: the budget
 * holds, nothing is pushed into OOM, and the VM that needs memory gets
 * all the others do not need.
 */
static void a_budget_too_small_keeps_its_bounds(void **state)
{
	static const uint32_t start[3] = { 64, 64, 64 }, skew[3] = { 400, 64, 64 };
	struct sim v[3];

	sim_init(v, 3, 768);
	sim_phase(v, 3, 768, start, 5, 0);
	assert_int_equal(sim_phase(v, 3, 768, skew, 10, 0), -1);
	assert_true(v[1].fits_since && v[2].fits_since);
	/* The others keep what they use plus the reserve (64 + 86 + 16), VM 1 the rest. */
	assert_true(v[1].g.target <= 64 + 86 + 16 + 8 && v[2].g.target <= 64 + 86 + 16 + 8);
	assert_true(v[0].g.target >= 768 - 2 * (64 + 86 + 16 + 8));
}

/*
 * The model's rates move with the guest's statistics only: the same
 * statistics sent again (another value changed) leave them, new ones with
 * no new faults read 0, and so does a long silence.
 */
static void rates_move_with_the_guests_statistics(void **state)
{
	struct guest g;
	struct model_mem_now r;
	const struct model_vm *vm;

	guest(&g, 1, 512, 256, 100);
	host_budget(0);
	now += SEC;
	report_mem(&g);
	now += SEC;
	g.majflt += 1000;
	report_mem(&g);
	vm = model_vm(&s.model, 1);
	model_mem_now(vm, now, &r);
	assert_true(r.major_per_s > 990 && r.major_per_s < 1010);
	/* The same statistics, 300 ms older, with the balloon moved: the rate stands. */
	now += 300 * MS;
	g.age_ms = 300;
	g.actual -= 20;
	report_mem(&g);
	model_mem_now(vm, now, &r);
	assert_true(r.major_per_s > 990);
	/* New statistics, no new faults: calm at once. */
	now += 700 * MS;
	g.age_ms = 0;
	report_mem(&g);
	model_mem_now(vm, now, &r);
	assert_true(r.major_per_s == 0);
	g.majflt += 500;
	now += SEC;
	report_mem(&g);
	model_mem_now(vm, now + MODEL_MEM_QUIET_NS + MS, &r);
	assert_true(r.major_per_s == 0); /* silence: the counts stood still */
}

/*
 * What a guest uses comes from the host, which pairs the guest's
 * statistics with the balloon as it was when they were made; when it
 * could not (the balloon moved meanwhile), the last estimate stands, and
 * the balloon's size in MEM_STATE is never paired with them here.
 */
static void use_is_what_the_host_paired_and_an_unknown_keeps_the_last(void **state)
{
	struct guest g;
	const struct model_vm *vm;

	guest(&g, 1, 512, 300, 192);    /* uses 192 + the 8 it never sees */
	host_budget(0);
	now += SEC;
	report_mem(&g);
	vm = model_vm(&s.model, 1);
	assert_int_equal(vm->mem.used_kib, 200 * MIB);
	/* The balloon shrinks by 75 MiB while new statistics are made: not paired. */
	for (int i = 0; i < 3; i++) {
		now += 250 * MS;
		g.actual -= 25;
		g.stats_actual = 300;
		g.used_unknown = 1;
		g.used = 120;
		report_mem(&g);
		assert_int_equal(vm->mem.actual_kib, g.actual * MIB);
		assert_int_equal(vm->mem.used_kib, 200 * MIB);
	}
	/* New statistics the host could pair: what they say stands. */
	now += SEC;
	g.stats_actual = 0;
	g.used_unknown = 0;
	g.used = 150;
	report_mem(&g);
	assert_int_equal(vm->mem.used_kib, 158 * MIB);
}

/*
 * A VM whose use the host could not tell at its latest statistics (its
 * balloon moved while the guest counted) is not shrunk on the estimate
 * before, which is older than what it did since: a VM that grew is still
 * filling what it got. Its next statistics, paired, say how far it may
 * give way to a pressed neighbour.
 */
static void an_unknown_use_takes_nothing_away(void **state)
{
	struct guest g[2];
	unsigned int n;
	uint32_t t;

	guest(&g[0], 1, 512, 420, 150); /* used 158 in balloon terms, a phase ago */
	guest(&g[1], 2, 512, 300, 250);
	host_budget(720);
	second(g, 2);
	/* VM 1 now fills its 420 (its use not paired this time); VM 2 swaps. */
	g[0].used_unknown = 1;
	g[0].used = 300;
	g[1].used = 290;
	g[1].swapin_kib += 8192;
	g[1].majflt += 2000;
	n = second(g, 2);
	assert_int_equal(target_of(n, 1, NULL), 0);
	/* Paired again: it uses 308 of its 420, and gives way down to its need at once. */
	g[0].used_unknown = 0;
	g[1].swapin_kib += 8192;
	g[1].majflt += 2000;
	n = second(g, 2);
	t = target_of(n, 1, NULL);
	assert_true(t >= 308 + 16 && t < 420);
}

/* The latency policy and the memory policy side by side: their transactions stay apart. */
static void composed_with_the_scheduler(void **state)
{
	struct fake_thread t[2];
	struct guest g;
	unsigned int n, seen_class = 0, seen_balloon = 0;

	sched_fini(&s);
	setup_policy("latency", 0);
	assert_int_equal(sched_add(&s, &mem_conf), 0);
	add_cpus(2);
	guest(&g, 1, 512, 256, 220);
	add_vm(1, WAVE_CLASS_LATENCY, 2, 100); /* the same VM, latency class */
	init_threads(t, 2, 1, 2);
	host_budget(1024);
	g.stall_us += 500000;
	report_mem(&g);
	run_for(t, 2, 300 * MS, 0.3, 0.1, 10 * MS);
	g.stall_us += 500000;
	report_mem(&g);
	n = decide();
	for (unsigned int i = 0; i < n; i++) {
		seen_class |= is_op(i, WAVE_OP_SET_CLASS);
		if (is_op(i, WAVE_OP_SET_BALLOON)) {
			seen_balloon = 1;
			assert_int_equal(out[i].p.txn.op_count, 1);
			assert_int_equal(out[i].p.txn.barrier, 100);
		}
	}
	assert_true(seen_class && seen_balloon);
}

int main(void)
{
#define CASE(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		CASE(no_budget_no_decisions),
		CASE(pressure_is_answered_at_once),
		CASE(a_vm_just_pressed_keeps_growing_while_it_fills),
		CASE(idle_memory_is_taken_back_slowly_never_below_use),
		CASE(floors_are_kept),
		CASE(the_budget_is_split_by_weight_after_needs),
		CASE(pressure_comes_first),
		CASE(a_shift_shrinks_before_it_grows),
		CASE(one_target_out_per_vm_and_refusals_decided_again),
		CASE(composed_with_the_scheduler),
		CASE(rates_move_with_the_guests_statistics),
		CASE(use_is_what_the_host_paired_and_an_unknown_keeps_the_last),
		CASE(an_unknown_use_takes_nothing_away),
		CASE(the_bench_phases_fit_when_the_budget_does),
		CASE(a_budget_too_small_keeps_its_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
