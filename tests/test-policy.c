// SPDX-License-Identifier: BSD-3-Clause
/*
 * Policies on synthetic traces (ipu-sched/): the state stream a host would
 * send is generated here with chosen utilisation and delay, fed through the
 * runtime (sched.h), and the transactions that come out are checked:
 * cfs never acts; pin places each vCPU once; latency sizes, grows, shrinks
 * and revokes SCHED_DEADLINE reservations, demotes a hog and forgives it,
 * weights batch VMs, and with lend=1 dedicates, lends and revokes a core.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "channel/codec.h"
#include "common/log.h"
#include "ipu-sched/sched.h"

#include "tests/policy-trace.h"

static void cfs_never_acts(void **state)
{
	struct fake_thread t[3];

	setup_policy("cfs", 0);
	add_cpus(2);
	add_vm(1, WAVE_CLASS_LATENCY, 2, 100);
	init_threads(t, 3, 1, 2);
	run_for(t, 3, 3000 * MS, 0.9, 0.3, 10 * MS);
	assert_int_equal(decide(), 0);
}

static void pin_isolates_latency_vms(void **state)
{
	struct fake_thread a[3], b[3];
	unsigned int n, seen = 0;

	setup_policy("pin", 0);
	add_cpus(4);
	add_vm(1, WAVE_CLASS_LATENCY, 2, 100);
	add_vm(2, WAVE_CLASS_BATCH, 2, 100);
	init_threads(a, 3, 1, 2);   /* 2 vCPUs + emulator */
	init_threads(b, 3, 2, 2);
	run_for(a, 3, 20 * MS, 0.1, 0, 10 * MS);
	run_for(b, 3, 20 * MS, 0.1, 0, 10 * MS);
	n = decide();
	assert_int_equal(n, 6);
	for (unsigned int i = 0; i < n; i++) {
		const struct wave_txn *op = &out[i].p.txn;
		uint64_t want;

		assert_int_equal(op->op, WAVE_OP_PLACE);
		assert_int_equal(wave_msg_check(&out[i], NULL, 0), 0);
		/* Latency VM: CPUs 2-3 (vCPU k on 2 + k, emulator on both); batch: 0-1. */
		if (op->vm_id == 1)
			want = op->kind == WAVE_KIND_VCPU ? 1ull << (2 + op->index) : 0xc;
		else
			want = op->kind == WAVE_KIND_VCPU ? 1ull << op->index : 0x3;
		assert_int_equal(op->u.place.mask, want);
		seen |= 1u << (op->vm_id * 3 + (op->kind == WAVE_KIND_VCPU ? op->index : 2));
	}
	assert_int_equal(seen, 0x3f << 3);
	assert_int_equal(out[0].p.txn.barrier, a[0].barrier);
	assert_int_equal(decide(), 0); /* idempotent */
	sched_reset(&s);
	assert_int_equal(decide(), 6); /* after a new epoch everything again */
}

static void pin_without_latency_vms_is_1_to_1(void **state)
{
	struct fake_thread b[2], c[2];
	unsigned int n;

	setup_policy("pin", 0);
	add_cpus(2);
	add_vm(1, WAVE_CLASS_BATCH, 2, 100);
	add_vm(2, WAVE_CLASS_BATCH, 2, 100);
	init_threads(b, 2, 1, 2);
	init_threads(c, 2, 2, 2);
	run_for(b, 2, 20 * MS, 0.1, 0, 10 * MS);
	run_for(c, 2, 20 * MS, 0.1, 0, 10 * MS);
	n = decide();
	assert_int_equal(n, 4);
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(out[i].p.txn.u.place.mask, 1ull << (i % 2));
}

/* pin keeps what the operator pinned: within the pin, or not moved at all. */
static void pin_stays_within_operators_pins(void **state)
{
	struct fake_thread a[3], b[3];
	const struct wave_txn *op;
	unsigned int n;

	setup_policy("pin", 0);
	add_cpus(4);
	add_vm(1, WAVE_CLASS_LATENCY, 2, 100);
	add_vm(2, WAVE_CLASS_BATCH, 2, 100);
	init_threads(a, 3, 1, 2);
	init_threads(b, 3, 2, 2);
	a[0].pin = 0x1;  /* outside the latency set (CPUs 2-3): left alone */
	b[0].pin = 0x2;  /* its 1:1 CPU would be 0: CPU 1, inside both */
	b[2].pin = 0x6;  /* the emulator: the batch set (0-1) within the pin */
	run_for(a, 3, 20 * MS, 0.1, 0, 10 * MS);
	run_for(b, 3, 20 * MS, 0.1, 0, 10 * MS);
	n = decide();
	assert_null(find_op(n, 1, WAVE_KIND_VCPU, 0));
	assert_non_null(op = find_op(n, 2, WAVE_KIND_VCPU, 0));
	assert_int_equal(op->u.place.mask, 0x2);
	assert_non_null(op = find_op(n, 2, WAVE_KIND_EMULATOR, 0));
	assert_int_equal(op->u.place.mask, 0x2);
	assert_non_null(op = find_op(n, 1, WAVE_KIND_VCPU, 1));
	assert_int_equal(op->u.place.mask, 0x8);
}

/*
 * The latency policy on two CPUs with one latency VM (2 vCPUs and its
 * emulator, t[3]) using 10% for a second, vCPU 1 pinned to pin1 (0: not);
 * returns how many ops it decided.
 */
static unsigned int latency_vm_at_10_percent(struct fake_thread *t, uint64_t pin1)
{
	setup_policy("latency", 0);
	add_cpus(2);
	add_vm(1, WAVE_CLASS_LATENCY, 2, 200);
	init_threads(t, 3, 1, 2);
	t[1].pin = pin1;
	run_for(t, 3, 1000 * MS, 0.10, 0, 10 * MS);
	return decide();
}

/* No reservation for a pinned latency thread (the kernel allows none): a CFS weight. */
static void latency_pinned_thread_gets_weight_not_deadline(void **state)
{
	struct fake_thread t[3];
	const struct wave_txn *op;
	unsigned int n = latency_vm_at_10_percent(t, 0x2);

	assert_int_equal(n, 3);
	assert_non_null(op = find_op(n, 1, WAVE_KIND_VCPU, 0));
	assert_int_equal(op->policy, WAVE_SCHED_DEADLINE);
	assert_non_null(op = find_op(n, 1, WAVE_KIND_VCPU, 1));
	assert_int_equal(op->op, WAVE_OP_SET_WEIGHT);
	assert_int_equal(op->u.weight.weight, 1000);
	/* Steady: nothing more for it, whatever its demand does. */
	run_for(t, 3, 500 * MS, 0.30, 0.2, 10 * MS);
	n = decide();
	assert_null(find_op(n, 1, WAVE_KIND_VCPU, 1));
}

static void latency_reservations_adapt(void **state)
{
	struct fake_thread t[3];
	const struct wave_txn *op;
	/* Steady 10% demand: runtime = 0.1 x 5 ms x 2 = 1 ms, deadline = period = 5 ms. */
	unsigned int n = latency_vm_at_10_percent(t, 0);

	assert_int_equal(n, 3);
	for (unsigned int i = 0; i < 3; i++) {
		op = &out[i].p.txn;
		assert_int_equal(op->op, WAVE_OP_SET_CLASS);
		assert_int_equal(op->policy, WAVE_SCHED_DEADLINE);
		assert_int_equal(op->u.cls.period_ns, 5 * MS);
		assert_int_equal(op->u.cls.deadline_ns, 5 * MS);
		assert_true(op->u.cls.runtime_ns >= 900000 && op->u.cls.runtime_ns <= 1100000);
		assert_int_equal(wave_msg_check(&out[i], NULL, 0), 0);
	}
	assert_non_null(find_op(n, 1, WAVE_KIND_EMULATOR, 0));
	/* Same demand: nothing to do. */
	run_for(t, 3, 500 * MS, 0.10, 0, 10 * MS);
	assert_int_equal(decide(), 0);
	/* Demand steps up and the threads wait to run: reservations grow. */
	run_for(t, 3, 500 * MS, 0.18, 0.10, 10 * MS);
	n = decide();
	assert_int_equal(n, 3);
	assert_true(out[0].p.txn.u.cls.runtime_ns >= 1500000);
	/* Never beyond the cap (45% of the period). */
	run_for(t, 3, 2000 * MS, 0.45, 0.30, 10 * MS);
	decide();
	run_for(t, 3, 500 * MS, 0.45, 0.30, 10 * MS);
	n = decide();
	op = find_op(n, 1, WAVE_KIND_VCPU, 0);
	assert_true(!op || op->u.cls.runtime_ns <= 2250000);
	/* Idle: after a second below the line, reservations shrink to the minimum. */
	op = NULL;
	for (int step = 0; step < 50 && !op; step++) {
		run_for(t, 3, 100 * MS, 0.002, 0, 10 * MS);
		n = decide(); /* the policy runs on every tick */
		op = find_op(n, 1, WAVE_KIND_VCPU, 1);
		/* Never on the way down before the demand has been low for a second. */
		assert_true(!op || step >= 10);
	}
	assert_non_null(op);
	assert_true(op->u.cls.runtime_ns >= 500000 && op->u.cls.runtime_ns <= 1000000);
}

/* A thread that wakes rarely but needs 0.6 ms each time gets room for one wakeup. */
static void latency_reservation_fits_one_activation(void **state)
{
	struct fake_thread t[1];
	unsigned int n;

	setup_policy("latency", 0);
	add_cpus(2);
	add_vm(1, WAVE_CLASS_LATENCY, 1, 100);
	init_threads(t, 1, 1, 1);
	report(&t[0]);
	for (int i = 0; i < 100; i++) {   /* 10 wakeups a second, 0.6 ms each */
		now += 100 * MS;
		t[0].run += 600000;
		t[0].wakeups++;
		report(&t[0]);
	}
	n = decide();
	assert_int_equal(n, 1);
	/* Use per period is 0.6%: sized by that alone it would get the minimum, 0.5 ms. */
	assert_true(out[0].p.txn.u.cls.runtime_ns >= 1100000);
	assert_true(out[0].p.txn.u.cls.runtime_ns <= 1300000);
}

/* Two CPUs whose host admits rt_ppm of each for the agent's reservations. */
static void add_cpus_admitting(uint32_t rt_ppm)
{
	struct wave_msg m;

	for (unsigned int c = 0; c < 2; c++) {
		wave_msg_init(&m, WAVE_MSG_HOST_CPU);
		m.p.cpu.cpu = (uint16_t)c;
		m.p.cpu.flags = WAVE_CPU_ONLINE | WAVE_CPU_ALLOWED;
		m.p.cpu.rt_cap_ppm = rt_ppm;
		m.p.cpu.rt_thread_cap_ppm = 800000;
		feed(&m);
	}
}

/*
 * 16 vCPUs and an emulator thread of a latency VM, each using 2%, on a host
 * admitting rt_ppm of each of 2 CPUs: the reservations decided, their sum
 * (ns per 5 ms period) in *sum and how many threads got one in *dl.
 */
static unsigned int admit_16(uint32_t rt_ppm, uint64_t *sum, unsigned int *dl,
			     unsigned int *weighted)
{
	static struct fake_thread t[17];
	unsigned int n;

	setup_policy("latency", 0);
	add_cpus_admitting(rt_ppm);
	add_vm(1, WAVE_CLASS_LATENCY, 16, 100);
	init_threads(t, 17, 1, 16);
	run_for(t, 17, 1000 * MS, 0.02, 0, 10 * MS);
	n = decide();
	*sum = 0;
	*dl = *weighted = 0;
	for (unsigned int i = 0; i < n; i++) {
		const struct wave_txn *op = &out[i].p.txn;

		if (op->op == WAVE_OP_SET_CLASS && op->policy == WAVE_SCHED_DEADLINE) {
			*sum += op->u.cls.runtime_ns;
			(*dl)++;
			assert_int_equal(wave_msg_check(&out[i], NULL, 0), 0);
		}
		if (op->op == WAVE_OP_SET_WEIGHT)
			(*weighted)++;
	}
	return n;
}

/*
 * What the reservations add up to stays within what the host admits
 * (HOST_CPU rt_cap_ppm): 17 threads at the 0.5 ms minimum want 1.7 CPUs.
 */
static void latency_reservations_fit_what_the_host_admits(void **state)
{
	uint64_t sum;
	unsigned int n, dl, weighted;

	/* 0.75 of each CPU (waved's default): all keep one, squeezed towards demand. */
	admit_16(750000, &sum, &dl, &weighted);
	assert_int_equal(dl, 17);
	assert_int_equal(weighted, 0);
	assert_true(sum <= 1500000ull * 5);
	assert_true(sum >= 17 * 200000ull); /* at least each one's demand (2% x 5 ms x 2) */
	/* A host that admits 0.25 of each: not even demand fits; the first ones by priority. */
	n = admit_16(250000, &sum, &dl, &weighted);
	assert_true(sum <= 500000ull * 5);
	assert_true(dl >= 8 && dl < 17);
	assert_int_equal(dl + weighted, 17);
	/* vCPUs before the emulator thread, lower index first. */
	assert_int_equal(find_op(n, 1, WAVE_KIND_VCPU, 0)->policy, WAVE_SCHED_DEADLINE);
	assert_int_equal(find_op(n, 1, WAVE_KIND_EMULATOR, 0)->op, WAVE_OP_SET_WEIGHT);
	/* Plenty (a whole CPU each): every thread at the minimum, as without admission. */
	admit_16(1000000, &sum, &dl, &weighted);
	assert_int_equal(dl, 17);
	assert_int_equal(sum, 17 * 500000ull);
}

/* What add_cpus_admitting(750000) admits: 0.75 of 2 CPUs, ns per 5 ms period. */
#define ADMITTED_NS (1500000ull * 5)

/*
 * The host's view of what the threads hold: SET_CLASS op applied to
 * thread k in held[] and to the total, which must stay within what the
 * host admits (checked as waved checks, one decision after the other).
 * Returns what thread k held before.
 */
static uint64_t hold(const struct wave_txn *op, unsigned int k, uint64_t *held, uint64_t *total)
{
	uint64_t was = held[k];

	held[k] = op->policy == WAVE_SCHED_DEADLINE ? op->u.cls.runtime_ns : 0;
	*total = *total - was + held[k];
	assert_true(*total <= ADMITTED_NS);
	return was;
}

/*
 * Reservations that grow stay within what the host admits at every step,
 * checked as the host checks them: one decision after the other, each
 * against the total held so far (waved's --rt-max-total). Four vCPUs and
 * an emulator thread start at the minimum (all wants fit, their caps do
 * not), then queue hard, so each pass would grow every one of them.
 */
static void latency_growth_stays_within_what_the_host_admits(void **state)
{
	static struct fake_thread t[5];
	uint64_t held[5] = { 0 }, total = 0, most = 0;
	unsigned int grows = 0;

	setup_policy("latency", 0);
	add_cpus_admitting(750000);
	add_vm(1, WAVE_CLASS_LATENCY, 4, 100);
	init_threads(t, 5, 1, 4);
	run_for(t, 5, 1000 * MS, 0.02, 0, 10 * MS);
	for (int step = 0; step < 12; step++) {
		unsigned int n = decide();

		for (unsigned int i = 0; i < n; i++) {
			const struct wave_txn *op = &out[i].p.txn;
			unsigned int k = op->kind == WAVE_KIND_VCPU ? op->index : 4;
			uint64_t was;

			if (op->op != WAVE_OP_SET_CLASS)
				continue;
			was = hold(op, k, held, &total);
			grows += held[k] > was;
			if (total > most)
				most = total;
		}
		run_for(t, 5, 100 * MS, 0.08, 0.5, 10 * MS);
	}
	assert_true(grows > 5);            /* they did grow */
	assert_true(most > ADMITTED_NS / 2); /* ... into the room there is */
}

/*
 * Squeezed reservations do not flap with noise. Eight vCPUs of a latency
 * VM, each waking every 10 ms for about 1 ms (jittered, like the stand-ins
 * of bench loop), want more than the host admits; their state arrives
 * every 5 ms and the policy decides every 10 ms. Once settled, a grant
 * moves only by a useful step: at most one change per thread in 4 s. What
 * they hold stays within what the host admits throughout, and when the
 * others calm down (a tenth of the demand), the one still busy gets the
 * room they leave.
 */
static void latency_squeezed_reservations_hold_still(void **state)
{
	static struct fake_thread t[8];
	uint64_t held[8] = { 0 }, total = 0, before_step = 0;
	unsigned int changes = 0, first = 0;
	uint32_t rnd = 1;

	setup_policy("latency", 0);
	add_cpus_admitting(750000);
	add_vm(1, WAVE_CLASS_LATENCY, 8, 100);
	init_threads(t, 8, 1, 8);
	for (unsigned int ms = 1; ms <= 7000; ms++) {
		now += MS;
		for (unsigned int i = 0; i < 8; i++) {
			uint64_t burst;

			if ((ms + i) % 10)
				continue;
			rnd = rnd * 1103515245u + 12345u;
			burst = 700000 + (rnd >> 8) % 600000;           /* 0.7-1.3 ms */
			t[i].run += i && ms > 5000 ? burst / 10 : burst;
			t[i].wait += (rnd >> 4) % 300000;               /* 0-0.3 ms queued */
			t[i].wakeups++;
		}
		if (ms % 5 == 0)
			for (unsigned int i = 0; i < 8; i++)
				report(&t[i]);
		if (ms % 10)
			continue;
		if (ms == 5000)
			before_step = held[0];
		for (unsigned int i = 0, n = decide(); i < n; i++) {
			const struct wave_txn *op = &out[i].p.txn;

			if (!is_op(i, WAVE_OP_SET_CLASS))
				continue;
			hold(op, op->index, held, &total);
			if (ms > 1000 && ms <= 5000)
				changes++;
			else if (ms <= 1000)
				first += held[op->index] > 0;
		}
	}
	assert_true(first >= 8);     /* each got a reservation */
	assert_true(changes <= 8);
	assert_true(before_step > 0 && held[0] > before_step * 6 / 5);
}

static void latency_hog_is_demoted_then_forgiven(void **state)
{
	struct fake_thread t[3], b[2];
	const struct wave_txn *op;
	unsigned int n, others = 0, quotas = 0;

	setup_policy("latency", 0);
	add_cpus(2);
	add_vm(1, WAVE_CLASS_LATENCY, 2, 200);
	add_vm(2, WAVE_CLASS_BATCH, 2, 300);
	init_threads(t, 3, 1, 2);
	init_threads(b, 2, 2, 2);
	run_for(b, 2, 100 * MS, 1.0, 0, 10 * MS);
	run_for(t, 3, 500 * MS, 0.05, 0, 10 * MS);
	n = decide();
	/* Batch vCPUs get their VM's weight once. */
	op = find_op(n, 2, WAVE_KIND_VCPU, 1);
	assert_non_null(op);
	assert_int_equal(op->op, WAVE_OP_SET_WEIGHT);
	assert_int_equal(op->u.weight.weight, 300);
	/* The latency VM turns into a hog: its vCPUs use all they get, at the cap. */
	for (int step = 0; step < 60; step++) {
		run_for(t, 3, 100 * MS, 0.45, 0.5, 10 * MS);
		n = decide();
		for (unsigned int i = 0; i < n; i++) {
			if (out[i].p.txn.op == WAVE_OP_SET_CLASS &&
			    out[i].p.txn.policy == WAVE_SCHED_OTHER)
				others++;
			/* Its vCPUs get a quarter of a CPU each (CFS bandwidth), not the emulator. */
			if (out[i].p.txn.op == WAVE_OP_SET_QUOTA) {
				assert_int_equal(out[i].p.txn.kind, WAVE_KIND_VCPU);
				assert_int_equal(out[i].p.txn.u.quota.quota_us, 25000);
				assert_int_equal(out[i].p.txn.u.quota.period_us, 100000);
				quotas++;
			}
		}
		if (others)
			break;
	}
	assert_int_equal(others, 3); /* every thread of the VM, once */
	assert_int_equal(quotas, 2);
	/* Still hogging (now under CFS): nothing more. */
	run_for(t, 3, 1000 * MS, 0.95, 0.4, 10 * MS);
	assert_int_equal(decide(), 0);
	/* Calm for long enough (the policy ticking all along): reservations come back. */
	op = NULL;
	for (int step = 0; step < 100 && !op; step++) {
		run_for(t, 3, 100 * MS, 0.02, 0, 10 * MS);
		n = decide();
		for (unsigned int i = 0; i < n; i++) {
			if (out[i].p.txn.op == WAVE_OP_SET_QUOTA)
				assert_int_equal(out[i].p.txn.u.quota.quota_us, WAVE_QUOTA_UNLIMITED);
			if (out[i].p.txn.op == WAVE_OP_SET_CLASS && out[i].p.txn.vm_id == 1 &&
			    out[i].p.txn.kind == WAVE_KIND_VCPU)
				op = &out[i].p.txn;
		}
	}
	assert_non_null(op);
	assert_int_equal(op->policy, WAVE_SCHED_DEADLINE);
}

static void failed_decisions_back_off_stale_ones_retry(void **state)
{
	struct fake_thread t[1];
	struct wave_txn_result r = { 0 };
	unsigned int n;

	setup_policy("latency", 0);
	add_cpus(2);
	add_vm(1, WAVE_CLASS_LATENCY, 1, 100);
	init_threads(t, 1, 1, 1);
	run_for(t, 1, 300 * MS, 0.1, 0, 10 * MS);
	assert_int_equal(decide(), 1);
	/* The kernel refused (admission control): no retry for a second. */
	r.txn_id = out[0].p.txn.txn_id;
	r.status = WAVE_ST_FAILED;
	r.err = EBUSY;
	sched_result(&s, &r);
	assert_int_equal(s.st.results[WAVE_ST_FAILED], 1);
	assert_int_equal(decide(), 0);
	run_for(t, 1, 500 * MS, 0.1, 0, 10 * MS);
	assert_int_equal(decide(), 0);
	run_for(t, 1, 600 * MS, 0.1, 0, 10 * MS);
	assert_int_equal(decide(), 1);
	/* Stale: decided again at once. */
	r.txn_id = out[0].p.txn.txn_id;
	r.status = WAVE_ST_STALE_TARGET;
	r.err = 0;
	sched_result(&s, &r);
	n = decide();
	assert_int_equal(n, 1);
	/* A result for a transaction never sent is counted, not trusted. */
	r.txn_id = 999999;
	sched_result(&s, &r);
	assert_int_equal(s.st.unknown_results, 1);
}

static void lend_dedicate_and_revoke(void **state)
{
	struct fake_thread t[1], b[2];
	unsigned int n, places;

	setup_policy("latency", 1);
	add_cpus(2);
	add_vm(1, WAVE_CLASS_LATENCY, 1, 100);
	add_vm(2, WAVE_CLASS_BATCH, 2, 100);
	init_threads(t, 1, 1, 1);
	init_threads(b, 2, 2, 2);
	run_for(b, 2, 100 * MS, 1.0, 0, 10 * MS);
	/* The latency VM is busy: batch vCPUs leave core 0 in one transaction. */
	run_for(t, 1, 200 * MS, 0.2, 0, 10 * MS);
	n = decide();
	places = 0;
	for (unsigned int i = 0; i < n; i++)
		if (is_op(i, WAVE_OP_PLACE)) {
			assert_int_equal(out[i].p.txn.vm_id, 2);
			assert_int_equal(out[i].p.txn.u.place.mask, 0x2);
			assert_int_equal(out[i].p.txn.op_count, 2);
			places++;
		}
	assert_int_equal(places, 2);
	/* It goes idle: after idle_ns the core is lent back (all CPUs). */
	run_for(t, 1, 2000 * MS, 0.0, 0, 10 * MS);
	n = decide();
	places = 0;
	for (unsigned int i = 0; i < n; i++)
		if (is_op(i, WAVE_OP_PLACE)) {
			assert_int_equal(out[i].p.txn.u.place.mask, 0x3);
			places++;
		}
	assert_int_equal(places, 2);
	/* It wakes up: the core is revoked at once, before any decide. */
	t[0].state = WAVE_TS_RUNNABLE;
	t[0].wakeups++;
	now += MS;
	report(&t[0]);
	n = sched_emit(&s, out, 512);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].p.txn.u.place.mask, 0x2);
	assert_int_equal(s.st.wakeups, 1);
}

/* With a host that takes prestaged transactions, lending arms the revoke there. */
static void lend_prestages_the_revoke(void **state)
{
	struct fake_thread t[2], b[2];
	unsigned int n, triggers = 0, places = 0;

	setup_policy("latency", 2);
	add_cpus(2);
	add_vm(1, WAVE_CLASS_LATENCY, 1, 100);
	add_vm(2, WAVE_CLASS_BATCH, 2, 100);
	init_threads(t, 2, 1, 1); /* a vCPU and the emulator */
	init_threads(b, 2, 2, 2);
	run_for(b, 2, 100 * MS, 1.0, 0, 10 * MS);
	run_for(t, 2, 200 * MS, 0.2, 0, 10 * MS);
	decide(); /* active: the core is dedicated */
	run_for(t, 2, 2000 * MS, 0.0, 0, 10 * MS);
	n = decide(); /* idle: lent, and the revoke prestaged */
	for (unsigned int i = 0; i < n; i++) {
		const struct wave_txn *op = &out[i].p.txn;

		if (out[i].h.type != WAVE_MSG_TXN)
			continue;
		if (op->op == WAVE_OP_TRIGGER) {
			assert_int_equal(op->vm_id, 1);
			assert_int_equal(op->op_idx, triggers);
			assert_int_equal(op->op_count, 4); /* 2 triggers + 2 moves */
			triggers++;
		} else if (op->op == WAVE_OP_PLACE && op->op_count == 4) {
			assert_int_equal(op->u.place.mask, 0x2);
			places++;
		}
		assert_int_equal(wave_msg_check(&out[i], NULL, 0), 0);
	}
	assert_int_equal(triggers, 2);
	assert_int_equal(places, 2);
	/* The wakeup comes: the host fired the revoke, the agent sends nothing. */
	t[0].state = WAVE_TS_RUNNABLE;
	t[0].wakeups++;
	now += MS;
	report(&t[0]);
	assert_int_equal(sched_emit(&s, out, 512), 0);
}

static void emit_splits_only_between_transactions(void **state)
{
	struct wave_txn op = { .vm_id = 1, .op = WAVE_OP_SET_WEIGHT, .u.weight.weight = 5 };
	unsigned int n;

	setup_policy("cfs", 0);
	add_vm(1, WAVE_CLASS_BATCH, 4, 100);
	for (int i = 0; i < 3; i++)
		policy_emit(&s.out, &op, i > 0); /* one transaction of 3 ops */
	policy_emit(&s.out, &op, 0);         /* and one of 1 */
	n = sched_emit(&s, out, 2);          /* the 3-op one does not fit in 2 */
	assert_int_equal(n, 0);
	n = sched_emit(&s, out, 3);
	assert_int_equal(n, 3);
	assert_int_equal(out[2].p.txn.op_idx, 2);
	assert_int_equal(out[2].p.txn.op_count, 3);
	assert_int_equal(out[0].p.txn.txn_id, out[2].p.txn.txn_id);
	n = sched_emit(&s, out, 3);
	assert_int_equal(n, 1);
	assert_int_not_equal(out[0].p.txn.txn_id, out[2].p.txn.txn_id);
}

static void model_ignores_what_it_cannot_hold(void **state)
{
	struct wave_msg m;

	setup_policy("cfs", 0);
	wave_msg_init(&m, WAVE_MSG_VCPU_STATE);
	m.p.vcpu.vm_id = 77; /* never added */
	assert_int_equal(sched_feed(&s, &m, now), -ENOENT);
	add_vm(1, WAVE_CLASS_BATCH, 2, 100);
	m.p.vcpu.vm_id = 1;
	m.p.vcpu.index = WAVE_VM_VCPU_SLOTS; /* valid on the wire, beyond the model */
	assert_int_equal(sched_feed(&s, &m, now), -ENOENT);
	assert_int_equal(s.model.ignored, 2);
}

/* The WAKE_SUB messages in out[0..n-1]: kinds by VM id (index), how many. */
static unsigned int subs(unsigned int n, uint8_t *kinds, unsigned int nvms)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < n; i++) {
		if (out[i].h.type != WAVE_MSG_WAKE_SUB)
			continue;
		assert_int_equal(wave_msg_check(&out[i], NULL, 0), 0);
		assert_true(out[i].p.wake.vm_id < nvms);
		assert_int_equal(out[i].p.wake.barrier, out[i].p.wake.vm_id * 100);
		kinds[out[i].p.wake.vm_id] = out[i].p.wake.kinds;
		k++;
	}
	return k;
}

static void snapshot_mark(enum wave_msg_type type, uint32_t epoch)
{
	struct wave_msg m;

	wave_msg_init(&m, type);
	m.p.snap.epoch = epoch;
	feed(&m);
}

/* The policy chooses whose wakeups the host pushes, per VM, and says it again after a snapshot. */
static void wake_subscriptions_follow_the_policy(void **state)
{
	uint8_t kinds[4] = { 0 };

	setup_policy("latency", 0);
	snapshot_mark(WAVE_MSG_SNAPSHOT_BEGIN, 7);
	add_vm(1, WAVE_CLASS_LATENCY, 1, 100);
	snapshot_mark(WAVE_MSG_SNAPSHOT_END, 7);
	assert_int_equal(subs(decide(), kinds, 4), 0); /* no lending: no wakeups wanted */
	sched_fini(&s);

	setup_policy("latency", 1);
	add_vm(1, WAVE_CLASS_LATENCY, 1, 100);
	add_vm(2, WAVE_CLASS_BATCH, 1, 100);
	assert_int_equal(subs(decide(), kinds, 4), 0); /* no snapshot yet: no epoch to name */
	snapshot_mark(WAVE_MSG_SNAPSHOT_BEGIN, 7);
	add_vm(1, WAVE_CLASS_LATENCY, 1, 100);
	add_vm(2, WAVE_CLASS_BATCH, 1, 100);
	snapshot_mark(WAVE_MSG_SNAPSHOT_END, 7);
	assert_int_equal(subs(decide(), kinds, 4), 1);
	assert_int_equal(kinds[1], POLICY_WAKES_ALL); /* the latency VM, every thread */
	assert_int_equal(out[0].p.wake.epoch, 7);
	assert_int_equal(subs(decide(), kinds, 4), 0); /* told once */
	sched_reset(&s);
	assert_int_equal(subs(decide(), kinds, 4), 0); /* the host still holds it */
	/* A new VM: asked about at once. */
	add_vm(3, WAVE_CLASS_LATENCY, 1, 100);
	memset(kinds, 0, sizeof(kinds));
	assert_int_equal(subs(decide(), kinds, 4), 1);
	assert_int_equal(kinds[3], POLICY_WAKES_ALL);
	/* A snapshot clears the host's subscriptions: the runtime asks again, epoch included. */
	snapshot_mark(WAVE_MSG_SNAPSHOT_BEGIN, 8);
	add_vm(1, WAVE_CLASS_LATENCY, 1, 100);
	snapshot_mark(WAVE_MSG_SNAPSHOT_END, 8);
	memset(kinds, 0, sizeof(kinds));
	assert_int_equal(subs(sched_emit(&s, out, 512), kinds, 4), 1);
	assert_int_equal(kinds[1], POLICY_WAKES_ALL);
	assert_int_equal(out[0].p.wake.epoch, 8);
	sched_fini(&s);

	/* A host that did not announce WAVE_FEAT_WAKE_SUB is never sent one. */
	assert_int_equal(policy_conf_init(&conf, "wakeprobe"), 0);
	assert_int_equal(sched_init(&s, &conf, &(struct policy_env){ .wake_sub = 0 }), 0);
	snapshot_mark(WAVE_MSG_SNAPSHOT_BEGIN, 7);
	add_vm(1, WAVE_CLASS_BATCH, 1, 100);
	snapshot_mark(WAVE_MSG_SNAPSHOT_END, 7);
	assert_int_equal(subs(sched_emit(&s, out, 512), kinds, 4), 0);
	sched_fini(&s);

	setup_policy("wakeprobe", 0);
	snapshot_mark(WAVE_MSG_SNAPSHOT_BEGIN, 7);
	add_vm(1, WAVE_CLASS_BATCH, 1, 100);
	add_vm(3, WAVE_CLASS_LATENCY, 1, 100);
	snapshot_mark(WAVE_MSG_SNAPSHOT_END, 7);
	memset(kinds, 0, sizeof(kinds));
	assert_int_equal(subs(sched_emit(&s, out, 1), kinds, 4), 1); /* room for one: the rest later */
	assert_int_equal(subs(sched_emit(&s, out, 512), kinds, 4), 1);
	assert_int_equal(kinds[1], POLICY_WAKES_ALL);
	assert_int_equal(kinds[3], POLICY_WAKES_ALL);
}

/* --policy-opt: names and values checked against the policy's own table. */
static void policy_options_are_checked(void **state)
{
	struct policy_conf c;

	assert_int_equal(policy_conf_init(&c, "nope"), -EINVAL);
	assert_int_equal(policy_conf_init(&c, "latency"), 0);
	assert_int_equal(policy_conf_set(&c, "lend=on"), 0);
	assert_int_equal(policy_conf_set(&c, "period=10ms"), 0);
	assert_int_equal(policy_conf_set(&c, "rcap=0.5"), 0);
	assert_int_equal(policy_conf_set(&c, "rcap=2"), -ERANGE);      /* out of range */
	assert_int_equal(policy_conf_set(&c, "rcap=x"), -EINVAL);
	assert_int_equal(policy_conf_set(&c, "period=1h"), -EINVAL);   /* not a duration */
	assert_int_equal(policy_conf_set(&c, "period=10s"), -ERANGE);  /* above 1 s */
	assert_int_equal(policy_conf_set(&c, "lend=maybe"), -EINVAL);
	assert_int_equal(policy_conf_set(&c, "nosuch=1"), -EINVAL);
	assert_int_equal(policy_conf_set(&c, "lend"), -EINVAL);         /* no value */
	assert_int_equal(policy_conf_init(&c, "pin"), 0);
	assert_int_equal(policy_conf_set(&c, "lend=on"), -EINVAL);      /* pin has no tunables */
	assert_non_null(strstr(policy_names(), "latency"));
	assert_non_null(strstr(policy_names(), "wakeprobe"));
}

/* A changed tunable changes the decisions: a 10 ms period doubles the reservation's period. */
static void policy_options_reach_the_policy(void **state)
{
	struct fake_thread t[1];
	struct policy_env env = { .wake_sub = 1 };
	unsigned int n;

	assert_int_equal(policy_conf_init(&conf, "latency"), 0);
	assert_int_equal(policy_conf_set(&conf, "period=10ms"), 0);
	now = 1000 * MS;
	assert_int_equal(sched_init(&s, &conf, &env), 0);
	add_cpus(2);
	add_vm(1, WAVE_CLASS_LATENCY, 1, 100);
	init_threads(t, 1, 1, 1);
	run_for(t, 1, 200 * MS, 0.1, 0, 10 * MS);
	n = decide();
	assert_true(n >= 1);
	for (unsigned int i = 0; i < n; i++)
		if (is_op(i, WAVE_OP_SET_CLASS))
			assert_int_equal(out[i].p.txn.u.cls.period_ns, 10 * MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(cfs_never_acts, teardown),
		cmocka_unit_test_teardown(pin_isolates_latency_vms, teardown),
		cmocka_unit_test_teardown(pin_without_latency_vms_is_1_to_1, teardown),
		cmocka_unit_test_teardown(pin_stays_within_operators_pins, teardown),
		cmocka_unit_test_teardown(latency_pinned_thread_gets_weight_not_deadline, teardown),
		cmocka_unit_test_teardown(latency_reservations_adapt, teardown),
		cmocka_unit_test_teardown(latency_reservation_fits_one_activation, teardown),
		cmocka_unit_test_teardown(latency_reservations_fit_what_the_host_admits, teardown),
		cmocka_unit_test_teardown(latency_growth_stays_within_what_the_host_admits, teardown),
		cmocka_unit_test_teardown(latency_squeezed_reservations_hold_still, teardown),
		cmocka_unit_test_teardown(latency_hog_is_demoted_then_forgiven, teardown),
		cmocka_unit_test_teardown(failed_decisions_back_off_stale_ones_retry, teardown),
		cmocka_unit_test_teardown(lend_dedicate_and_revoke, teardown),
		cmocka_unit_test_teardown(lend_prestages_the_revoke, teardown),
		cmocka_unit_test_teardown(emit_splits_only_between_transactions, teardown),
		cmocka_unit_test_teardown(model_ignores_what_it_cannot_hold, teardown),
		cmocka_unit_test_teardown(wake_subscriptions_follow_the_policy, teardown),
		cmocka_unit_test(policy_options_are_checked),
		cmocka_unit_test_teardown(policy_options_reach_the_policy, teardown),
	};

	wave_log_init("test-policy", WAVE_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
