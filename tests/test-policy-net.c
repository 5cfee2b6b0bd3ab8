// SPDX-License-Identifier: BSD-3-Clause
/*
 * Network insight in the latency policy, on synthetic traces: a latency VM
 * that burns its reservations while requests arrive is busy (kept, its
 * reservations grown past the normal cap, never demoted); one that burns
 * them without traffic, with only a trickle of packets, or with its usual
 * request stream but far more CPU per request, is a hog and demoted within
 * a second; traffic stopping under a busy VM turns it into a hog as fast.
 * A moment of lower use teaches nothing about what a packet costs.
 * Also the model's packet rates (NET_STATE): rates, decay over silence,
 * counts that go back, messages for another barrier; and thread samples
 * that arrive behind one already applied.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "channel/codec.h"
#include "common/log.h"
#include "tests/policy-trace.h"

static struct fake_thread lat[3];
static uint64_t rx, tx;

/* A latency VM (2 vCPUs + emulator) and a batch VM on 2 CPUs. */
static void setup_vms(void)
{
	setup_policy("latency", 0);
	add_cpus(2);
	add_vm(1, WAVE_CLASS_LATENCY, 2, 200);
	add_vm(2, WAVE_CLASS_BATCH, 2, 100);
	init_threads(lat, 3, 1, 2);
	rx = tx = 0;
}

struct seen {
	unsigned int quotas, others;   /* SET_QUOTA on a vCPU; SET_CLASS to SCHED_OTHER */
	uint64_t max_rt[3];            /* the largest reservation of each latency thread, ns */
	uint64_t rt[3];                /* the reservation each has now */
	uint64_t demoted_after;        /* ns from the start to the first quota, or 0 */
};

static int lat_slot(const struct wave_txn *op)
{
	return op->kind == WAVE_KIND_VCPU ? op->index : 2;
}

/*
 * ms of the latency VM's vCPUs each using util (waiting delay), with pps
 * packets a second arriving for it, deciding every 100 ms; what the policy
 * did goes into seen.
 */
static void phase(unsigned int ms, double util, double delay, double pps, struct seen *seen)
{
	uint64_t t0 = now;

	for (unsigned int step = 0; step < ms / 100; step++) {
		run_for(lat, 3, 100 * MS, util, delay, 10 * MS);
		rx += (uint64_t)(pps / 10);
		tx += (uint64_t)(pps / 10);
		net_report(1, rx, tx);
		for (unsigned int i = 0, n = decide(); i < n; i++) {
			const struct wave_txn *op = &out[i].p.txn;

			if (out[i].h.type != WAVE_MSG_TXN || op->vm_id != 1)
				continue;
			if (op->op == WAVE_OP_SET_QUOTA && op->u.quota.quota_us != WAVE_QUOTA_UNLIMITED) {
				seen->quotas++;
				if (!seen->demoted_after)
					seen->demoted_after = now - t0;
			}
			if (op->op == WAVE_OP_SET_CLASS && op->policy == WAVE_SCHED_OTHER)
				seen->others++;
			if (op->op == WAVE_OP_SET_CLASS && op->policy == WAVE_SCHED_DEADLINE) {
				seen->rt[lat_slot(op)] = op->u.cls.runtime_ns;
				if (op->u.cls.runtime_ns > seen->max_rt[lat_slot(op)])
					seen->max_rt[lat_slot(op)] = op->u.cls.runtime_ns;
			}
		}
	}
}

/* A server answering 500 requests/s at 5% of a vCPU each: what it costs per packet is learned. */
static void serve_normally(struct seen *seen)
{
	phase(6000, 0.05, 0, 500, seen);
	assert_int_equal(seen->quotas, 0);
	assert_true(seen->rt[0] > 0 && seen->rt[1] > 0); /* reservations are on */
}

static void busy_server_keeps_and_grows_its_reservations(void **state)
{
	struct seen seen = { 0 };

	setup_vms();
	serve_normally(&seen);
	/* Load grows tenfold: requests x5, each a little dearer; it uses all it gets. */
	phase(5000, 0.5, 0.4, 2500, &seen);
	assert_int_equal(seen.quotas, 0);
	assert_int_equal(seen.others, 0);
	/* Past the normal cap (0.45 of a 5 ms period), within the busy cap (0.75). */
	assert_true(seen.max_rt[0] > 2250000);
	assert_true(seen.max_rt[0] <= 3750000);
	/* All of its reservations together within 0.7 of the 2 CPUs. */
	print_message("rt %llu %llu %llu max %llu\n", (unsigned long long)seen.rt[0], (unsigned long long)seen.rt[1], (unsigned long long)seen.rt[2], (unsigned long long)seen.max_rt[0]);
	assert_true(seen.rt[0] + seen.rt[1] + seen.rt[2] <= 7000000);
}

/* After normal serving, the VM burns all it gets with pps packets a second: a hog within 1 s. */
static void hog_demoted_within_a_second(double pps)
{
	struct seen seen = { 0 };

	setup_vms();
	serve_normally(&seen);
	phase(3000, 0.5, 0.4, pps, &seen);
	assert_int_equal(seen.quotas, 2);
	assert_true(seen.demoted_after > 0 && seen.demoted_after <= 1000 * MS);
}

static void hog_without_traffic_is_demoted_within_a_second(void **state)
{
	hog_demoted_within_a_second(0);
}

/* 30 packets/s: above busy-rate, but each far too dear. */
static void hog_with_a_trickle_of_packets_is_a_hog(void **state)
{
	hog_demoted_within_a_second(30);
}

/* Its usual requests keep coming, but the CPU it burns is ten times what they explain. */
static void hog_behind_its_usual_traffic_is_a_hog(void **state)
{
	hog_demoted_within_a_second(500);
}

static void traffic_stopping_under_a_busy_vm_demotes_it(void **state)
{
	struct seen seen = { 0 };

	setup_vms();
	serve_normally(&seen);
	phase(3000, 0.5, 0.4, 2500, &seen);
	assert_int_equal(seen.quotas, 0);
	phase(3000, 0.5, 0.4, 0, &seen);
	assert_int_equal(seen.quotas, 2);
	assert_true(seen.demoted_after <= 1000 * MS);
}

/*
 * A demoted hog with its usual traffic, held to its quota: the CPU per
 * packet it can use now looks like a busy server's, but it is judged on
 * what it used when it was demoted, so it is not forgiven; nor when its
 * neighbours squeeze it below its quota (no flapping).
 */
static void demoted_hog_under_its_quota_is_not_forgiven(void **state)
{
	struct seen seen = { 0 };

	setup_vms();
	serve_normally(&seen);
	phase(3000, 0.5, 0.4, 500, &seen);
	assert_int_equal(seen.quotas, 2);
	seen.rt[0] = seen.rt[1] = 0;
	phase(5000, 0.25, 0.7, 1000, &seen);          /* a quarter CPU each (its quota), more traffic */
	assert_int_equal(seen.quotas, 2);             /* no new demotion ... */
	assert_true(seen.rt[0] == 0 && seen.rt[1] == 0); /* ... and no reservation back */
	/* Squeezed below its quota by its neighbours: it uses little, but waits: not calm. */
	phase(5000, 0.08, 0.85, 500, &seen);
	assert_int_equal(seen.quotas, 2);
	assert_true(seen.rt[0] == 0 && seen.rt[1] == 0);
}

/*
 * A growth the host refused (its real-time cap) backs the thread off for a
 * second, but must not hold back the VM's demotion when it turns into a
 * hog: the thread, whatever it has, is demoted with the others.
 */
static void refused_growth_does_not_delay_a_demotion(void **state)
{
	struct seen seen = { 0 };
	struct wave_txn_result r = { 0 };
	unsigned int n;

	setup_vms();
	serve_normally(&seen);
	/* Pressed: the policy grows vCPU 0's reservation; the host refuses it. */
	run_for(lat, 3, 100 * MS, 0.5, 0.4, 10 * MS);
	net_report(1, rx += 50, tx += 50);
	n = decide();
	for (unsigned int i = 0; i < n; i++)
		if (out[i].h.type == WAVE_MSG_TXN && out[i].p.txn.vm_id == 1 &&
		    out[i].p.txn.kind == WAVE_KIND_VCPU && out[i].p.txn.index == 0)
			r.txn_id = out[i].p.txn.txn_id;
	assert_true(r.txn_id != 0);
	r.status = WAVE_ST_INVALID;
	sched_result(&s, &r);
	/* No traffic any more: a hog, and every vCPU demoted within the second. */
	phase(1000, 0.5, 0.4, 0, &seen);
	assert_int_equal(seen.quotas, 2);
	assert_true(seen.demoted_after <= 1000 * MS);
}

/* Without any traffic counted (no NET_STATE ever), the policy is the CPU-only one. */
static void without_network_state_a_pressed_vm_is_a_hog(void **state)
{
	struct seen seen = { 0 };

	setup_vms();
	for (unsigned int step = 0; step < 60 && !seen.quotas; step++) {
		run_for(lat, 3, 100 * MS, step < 20 ? 0.05 : 0.5, step < 20 ? 0 : 0.4, 10 * MS);
		for (unsigned int i = 0, n = decide(); i < n; i++)
			seen.quotas += is_op(i, WAVE_OP_SET_QUOTA);
	}
	assert_int_equal(seen.quotas, 2);
}

/*
 * A server pressed by its load from the start, 1.2 CPUs for 400 packets/s
 * (3 ms a packet, under the 5 ms ceiling), whose use dips for 300 ms while
 * the packets keep coming: the dip is no lesson in what a packet costs
 * (learned from it alone, 0.4 ms, it would make the server a hog).
 */
static void a_moment_unpressed_does_not_teach_the_cost(void **state)
{
	struct seen seen = { 0 };

	(void)state;
	setup_vms();
	phase(3000, 0.6, 0.4, 400, &seen);
	assert_int_equal(seen.quotas, 0);
	phase(300, 0.05, 0, 400, &seen);
	phase(3000, 0.6, 0.4, 400, &seen);
	assert_int_equal(seen.quotas, 0);
	assert_int_equal(seen.others, 0);
	/* And a second of it is a lesson: the same dearer load is a hog then. */
	phase(1500, 0.05, 0, 400, &seen);
	phase(3000, 0.6, 0.4, 400, &seen);
	assert_int_equal(seen.quotas, 2);
}

/*
 * The model's thread counters: a sample that comes in behind one already
 * applied (taken earlier by the other reader) is no progress, not a new
 * thread; a new barrier is.
 */
static void model_thread_samples_behind_are_no_progress(void **state)
{
	const struct model_thread *t;
	uint64_t back0;

	(void)state;
	setup_vms();
	run_for(lat, 3, 1000 * MS, 0.6, 0.3, 10 * MS);
	t = model_thread_c(&s.model, 1, WAVE_KIND_VCPU, 0);
	assert_non_null(t);
	assert_true(fabs(t->util - 0.6) < 0.02);
	back0 = s.model.steps_back;
	/* Taken 36 ms of waiting ago, applied now. */
	now += 5 * MS;
	lat[0].wait -= 36 * MS;
	report(&lat[0]);
	lat[0].wait += 36 * MS;
	assert_int_equal(s.model.steps_back, back0 + 1);
	assert_true(t->util > 0.5);
	assert_true(t->delay > 0.2);
	/* What follows counts from what was known: no double count either. */
	run_for(lat, 3, 200 * MS, 0.6, 0.3, 10 * MS);
	assert_true(fabs(t->util - 0.6) < 0.02);
	assert_true(fabs(t->delay - 0.3) < 0.02);
	/* A new barrier: another thread behind the slot, the counts start over. */
	lat[0].barrier++;
	now += 10 * MS;
	report(&lat[0]);
	assert_true(t->util == 0 && t->delay == 0);
}

static void model_packet_rates(void **state)
{
	const struct model_vm *vm;
	struct wave_msg m;

	setup_vms();
	vm = model_vm(&s.model, 1);
	assert_non_null(vm);
	assert_true(model_net_rx_rate(vm, now, 0) == 0); /* nothing counted yet */
	for (int i = 0; i < 20; i++) {
		now += 100 * MS;
		rx += 100;
		net_report(1, rx, 0);
	}
	/* 1000 packets/s, as the EWMA has it after 2 s (20 time constants). */
	assert_true(fabs(model_net_rx_rate(vm, now, 0) - 1000) < 10);
	/* Silence (no NET_STATE: nothing arrived): the rate decays. */
	assert_true(model_net_rx_rate(vm, now + 100 * MS, 0) > 990);
	assert_true(model_net_rx_rate(vm, now + 600 * MS, 0) < 10);
	/* Counts that go back (the host started over): a new baseline, no rate from it. */
	now += 100 * MS;
	net_report(1, 5, 0);
	assert_true(model_net_rx_rate(vm, now, 0) == 0);
	/* A NET_STATE for another barrier of the VM is not its state. */
	wave_msg_init(&m, WAVE_MSG_NET_STATE);
	m.p.net.vm_id = 1;
	m.p.net.barrier = 999;
	m.p.net.rx_pkts = 1000000;
	m.p.net.rx_bytes = 1000000;
	m.p.net.source = WAVE_NET_SRC_BPF;
	m.p.net.nr_ifaces = 1;
	now += 100 * MS;
	assert_int_equal(sched_feed(&s, &m, now), -ENOENT);
	assert_int_equal(vm->net.rx_pkts, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(busy_server_keeps_and_grows_its_reservations, teardown),
		cmocka_unit_test_teardown(hog_without_traffic_is_demoted_within_a_second, teardown),
		cmocka_unit_test_teardown(hog_with_a_trickle_of_packets_is_a_hog, teardown),
		cmocka_unit_test_teardown(hog_behind_its_usual_traffic_is_a_hog, teardown),
		cmocka_unit_test_teardown(traffic_stopping_under_a_busy_vm_demotes_it, teardown),
		cmocka_unit_test_teardown(demoted_hog_under_its_quota_is_not_forgiven, teardown),
		cmocka_unit_test_teardown(refused_growth_does_not_delay_a_demotion, teardown),
		cmocka_unit_test_teardown(without_network_state_a_pressed_vm_is_a_hog, teardown),
		cmocka_unit_test_teardown(a_moment_unpressed_does_not_teach_the_cost, teardown),
		cmocka_unit_test_teardown(model_thread_samples_behind_are_no_progress, teardown),
		cmocka_unit_test_teardown(model_packet_rates, teardown),
	};

	wave_log_init("test-policy-net", WAVE_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
