// SPDX-License-Identifier: BSD-3-Clause
/*
 * The network policy (netctl/policy-share.c), composed beside a
 * scheduling policy in the runtime, on synthetic traces of NET_STATE from
 * wave-switch: a flood is paced to what the latency VM leaves of the link
 * (less headroom); a latency VM's burst lowers the pace within a few
 * reports and its end gives it back; noisy neighbours share max-min fair;
 * a pacer's losses are made good, a guest's own limit is not chased;
 * without a latency VM nobody is paced; small changes are not sent; a
 * refused rate waits a second; VMs not on the switch are left alone; no
 * link or no pacing host, no decisions. Plus the model's byte rates.
 * The trace's VMs send what they offer, or their pace if it is lower: the
 * switch's pacing as the policy sees it.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "channel/codec.h"
#include "tests/policy-trace.h"

#define MBIT 125000.0          /* bytes/s */
#define PERIOD (100 * MS)      /* the host's export period */
#define AVAIL  97.0            /* Mbit/s: a 100 Mbit/s link less the default 3% headroom */

static struct policy_conf net_conf;

struct nvm {
	uint32_t id;
	double offer;               /* Mbit/s it would send unpaced */
	double pace;                /* Mbit/s it is paced at (0: unpaced) */
	double eff;                 /* what of its pace the switch delivers (1: all) */
	double tx_bytes, rx_bytes;  /* cumulative */
	uint8_t source;
};

static void nvm(struct nvm *v, uint32_t id, enum wave_vm_class cls, double offer)
{
	memset(v, 0, sizeof(*v));
	v->id = id;
	v->offer = offer;
	v->eff = 1;
	v->source = WAVE_NET_SRC_SWITCH;
	add_vm(id, cls, 1, 100);
}

static void net_state(const struct nvm *v)
{
	struct wave_msg m;

	wave_msg_init(&m, WAVE_MSG_NET_STATE);
	m.p.net = (struct wave_net_state){ .vm_id = v->id, .barrier = v->id * 100,
					   .rx_pkts = (uint64_t)(v->rx_bytes / 1000),
					   .rx_bytes = (uint64_t)v->rx_bytes,
					   .tx_pkts = (uint64_t)(v->tx_bytes / 1000),
					   .tx_bytes = (uint64_t)v->tx_bytes,
					   .source = v->source, .nr_ifaces = 1 };
	feed(&m);
}

/* The SET_NET_RATE for vm among out[0..n-1], or NULL. */
static const struct wave_txn *rate_op(unsigned int n, uint32_t vm)
{
	for (unsigned int i = 0; i < n; i++)
		if (is_op(i, WAVE_OP_SET_NET_RATE) && out[i].p.txn.vm_id == vm)
			return &out[i].p.txn;
	return NULL;
}

/* One export period: each VM sends min(offer, pace), reports, the policy decides; paces applied. */
static unsigned int period(struct nvm *v, unsigned int nv)
{
	unsigned int n;

	now += PERIOD;
	for (unsigned int i = 0; i < nv; i++) {
		double r = v[i].pace && v[i].pace * v[i].eff < v[i].offer ? v[i].pace * v[i].eff
									       : v[i].offer;

		v[i].tx_bytes += r * MBIT * 0.1;
		v[i].rx_bytes += 0.1 * MBIT * 0.1;
		net_state(&v[i]);
	}
	n = decide();
	for (unsigned int i = 0; i < nv; i++) {
		const struct wave_txn *op = rate_op(n, v[i].id);

		if (op) {
			assert_int_equal(op->u.net.dir, WAVE_NET_DIR_FROM);
			v[i].pace = (double)op->u.net.rate_bytes_s / MBIT;
		}
	}
	return n;
}

static void periods(struct nvm *v, unsigned int nv, unsigned int k)
{
	while (k--)
		period(v, nv);
}

static void compose(const char *link)
{
	setup_policy("cfs", 0);
	s.env.netctl = 1;
	assert_int_equal(policy_conf_init_as(&net_conf, POLICY_NET, "share"), 0);
	if (link)
		assert_int_equal(policy_conf_set(&net_conf, link), 0);
	assert_int_equal(sched_add(&s, &net_conf), 0);
	add_cpus(2);
}

static int setup(void **state)
{
	(void)state;
	compose("link=100");
	return 0;
}

static void flood_is_paced_to_what_the_latency_vm_leaves(void **state)
{
	struct nvm v[2];
	unsigned int n;

	nvm(&v[0], 1, WAVE_CLASS_LATENCY, 1);
	nvm(&v[1], 2, WAVE_CLASS_BATCH, 250);
	n = period(v, 2);
	assert_non_null(rate_op(n, 1));
	assert_int_equal(rate_op(n, 1)->u.net.rate_bytes_s, 0); /* latency: never paced */
	assert_non_null(rate_op(n, 2));
	/* Each rate is a transaction of its own (the host applies SET_NET_RATE alone). */
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(out[i].p.txn.op_count, 1);
	/* A pace's burst: 4 ms at its rate. */
	assert_int_equal(rate_op(n, 2)->u.net.burst_bytes, rate_op(n, 2)->u.net.rate_bytes_s / 250);
	periods(v, 2, 10);
	/* 100 Mbit/s less 3% headroom, less the latency VM's reserve (2 Mbit/s at least). */
	print_message("noisy paced at %.1f Mbit/s\n", v[1].pace);
	assert_true(v[1].pace > AVAIL - 3 && v[1].pace < AVAIL - 1);
	assert_true(rate_op(period(v, 2), 2) == NULL); /* steady: nothing sent again */
}

static void a_latency_burst_lowers_the_pace_and_its_end_gives_it_back(void **state)
{
	struct nvm v[2];

	nvm(&v[0], 1, WAVE_CLASS_LATENCY, 1);
	nvm(&v[1], 2, WAVE_CLASS_BATCH, 250);
	periods(v, 2, 10);
	assert_true(v[1].pace > AVAIL - 3);
	v[0].offer = 20;
	periods(v, 2, 5); /* half a second */
	print_message("latency VM at 20 Mbit/s: noisy paced at %.1f Mbit/s\n", v[1].pace);
	assert_true(v[1].pace < AVAIL - 20 * 1.2);
	assert_true(v[1].pace > AVAIL - 20 * 1.6);
	v[0].offer = 1;
	periods(v, 2, 20);
	print_message("... and back at 1 Mbit/s: %.1f Mbit/s\n", v[1].pace);
	assert_true(v[1].pace > (AVAIL - 2) * 0.98); /* within the hysteresis */
}

static void noisy_neighbours_share_max_min_fair(void **state)
{
	struct nvm v[3];

	nvm(&v[0], 1, WAVE_CLASS_LATENCY, 0.5);
	nvm(&v[1], 2, WAVE_CLASS_BATCH, 10);
	nvm(&v[2], 3, WAVE_CLASS_BATCH, 250);
	periods(v, 3, 20);
	/* The small one keeps its 10 (x1.5 counted); the flood has the rest of AVAIL - 2. */
	print_message("10 Mbit/s and a flood: paced at %.1f and %.1f\n", v[1].pace, v[2].pace);
	assert_true(v[2].pace > AVAIL - 2 - 15 - 1 && v[2].pace < AVAIL - 2 - 15 + 1);
	v[1].offer = 250;
	periods(v, 3, 20);
	print_message("two floods: paced at %.1f and %.1f\n", v[1].pace, v[2].pace);
	assert_true(fabs(v[1].pace - v[2].pace) < 1);
	assert_true(v[1].pace + v[2].pace > AVAIL - 3 && v[1].pace + v[2].pace < AVAIL - 1);
}

/*
 * A pacer that loses 6% (reads late on a busy host): the pace rises until
 * the VM sends its fair level, no further than catch-up allows; a VM that
 * cannot send more (its own CPU) is not chased.
 */
static void the_pace_is_corrected_by_what_the_vm_sends(void **state)
{
	struct nvm v[2];
	double sent;

	nvm(&v[0], 1, WAVE_CLASS_LATENCY, 1);
	nvm(&v[1], 2, WAVE_CLASS_BATCH, 250);
	v[1].eff = 0.94;
	periods(v, 2, 30);
	sent = v[1].pace * v[1].eff;
	print_message("a 6%% lossy pacer: paced at %.1f, sends %.1f Mbit/s (fair level %.1f)\n",
		      v[1].pace, sent, AVAIL - 2);
	/* Never past the link less the latency VM's 2 Mbit/s: 98. */
	assert_true(v[1].pace <= 98.01);
	assert_true(sent > 98 * 0.94 - 0.1);
	v[0].offer = 20;  /* room to move: the level is 97 - 30 = 67 */
	periods(v, 2, 40);
	sent = v[1].pace * v[1].eff;
	print_message("... with the latency VM at 20 Mbit/s: paced at %.1f, sends %.1f (level %.1f)\n",
		      v[1].pace, sent, AVAIL - 30);
	assert_true(sent > (AVAIL - 30) * 0.97 && sent < (AVAIL - 30) * 1.01);
	v[0].offer = 1;
	/* The guest itself cannot send more than 80: not chased, the boost goes. */
	v[1].eff = 1;
	v[1].offer = 80;
	periods(v, 2, 40);
	print_message("a guest that sends 80 Mbit/s at most: paced at %.1f\n", v[1].pace);
	assert_true(fabs(v[1].pace - (AVAIL - 2)) < 1);
}

static void without_a_latency_vm_nothing_is_paced(void **state)
{
	struct nvm v[2];
	unsigned int n;

	nvm(&v[0], 1, WAVE_CLASS_BATCH, 250);
	nvm(&v[1], 2, WAVE_CLASS_BATCH, 250);
	n = period(v, 2);
	assert_int_equal(rate_op(n, 1)->u.net.rate_bytes_s, 0);
	assert_int_equal(rate_op(n, 2)->u.net.rate_bytes_s, 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(period(v, 2), 0);
}

static void small_changes_are_not_sent(void **state)
{
	struct nvm v[2];
	unsigned int sent = 0;

	nvm(&v[0], 1, WAVE_CLASS_LATENCY, 4);
	nvm(&v[1], 2, WAVE_CLASS_BATCH, 250);
	periods(v, 2, 10);
	/* The latency VM wobbles by 10% around 4 Mbit/s: the pace moves by under 1% (hyst 2%). */
	for (int i = 0; i < 30; i++) {
		v[0].offer = i % 2 ? 4.4 : 3.6;
		sent += rate_op(period(v, 2), 2) != NULL;
	}
	assert_int_equal(sent, 0);
}

static void a_refused_rate_waits_a_second(void **state)
{
	struct nvm v[2];
	struct wave_txn_result r = { .status = WAVE_ST_FAILED, .err = 5 };
	unsigned int n, again = 0;

	nvm(&v[0], 1, WAVE_CLASS_LATENCY, 1);
	nvm(&v[1], 2, WAVE_CLASS_BATCH, 250);
	n = period(v, 2);
	for (unsigned int i = 0; i < n; i++)
		if (is_op(i, WAVE_OP_SET_NET_RATE) && out[i].p.txn.vm_id == 2)
			r.txn_id = out[i].p.txn.txn_id;
	assert_true(r.txn_id != 0);
	sched_result(&s, &r);
	for (int i = 0; i < 9; i++)
		assert_null(rate_op(period(v, 2), 2));
	for (int i = 0; i < 3; i++)
		again += rate_op(period(v, 2), 2) != NULL;
	assert_int_equal(again, 1);
}

static void vms_off_the_switch_are_left_alone(void **state)
{
	struct nvm v[2];

	nvm(&v[0], 1, WAVE_CLASS_LATENCY, 1);
	nvm(&v[1], 2, WAVE_CLASS_BATCH, 250);
	v[1].source = WAVE_NET_SRC_BPF; /* counted on its tap: the switch cannot pace it */
	for (int i = 0; i < 5; i++)
		assert_null(rate_op(period(v, 2), 2));
}

static void no_link_or_no_pacing_host_no_decisions(void **state)
{
	struct nvm v[2];

	compose(NULL); /* link 0: unknown */
	nvm(&v[0], 1, WAVE_CLASS_LATENCY, 1);
	nvm(&v[1], 2, WAVE_CLASS_BATCH, 250);
	for (int i = 0; i < 5; i++)
		assert_int_equal(period(v, 2), 0);
	teardown(state);
	setup_policy("cfs", 0); /* netctl 0: a host without wave-switch */
	assert_int_equal(policy_conf_init_as(&net_conf, POLICY_NET, "share"), 0);
	assert_int_equal(policy_conf_set(&net_conf, "link=100"), 0);
	assert_int_equal(sched_add(&s, &net_conf), 0);
	nvm(&v[0], 1, WAVE_CLASS_LATENCY, 1);
	nvm(&v[1], 2, WAVE_CLASS_BATCH, 250);
	for (int i = 0; i < 5; i++)
		assert_int_equal(period(v, 2), 0);
}

static void the_model_keeps_byte_rates(void **state)
{
	struct nvm v[1];
	const struct model_vm *vm;

	nvm(&v[0], 1, WAVE_CLASS_BATCH, 80);
	periods(v, 1, 15);
	vm = model_vm(&s.model, 1);
	assert_true(fabs(model_net_bytes_rate(vm, now, 1) / MBIT - 80) < 1);
	assert_true(fabs(model_net_bytes_rate(vm, now, 0) / MBIT - 0.1) < 0.01);
	/* Silence: nothing moved; the rate decays. */
	assert_true(model_net_bytes_rate(vm, now + 1000 * MS, 1) < 80 * MBIT * 0.001);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(flood_is_paced_to_what_the_latency_vm_leaves, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_latency_burst_lowers_the_pace_and_its_end_gives_it_back,
						setup, teardown),
		cmocka_unit_test_setup_teardown(noisy_neighbours_share_max_min_fair, setup, teardown),
		cmocka_unit_test_setup_teardown(the_pace_is_corrected_by_what_the_vm_sends, setup,
						teardown),
		cmocka_unit_test_setup_teardown(without_a_latency_vm_nothing_is_paced, setup, teardown),
		cmocka_unit_test_setup_teardown(small_changes_are_not_sent, setup, teardown),
		cmocka_unit_test_setup_teardown(a_refused_rate_waits_a_second, setup, teardown),
		cmocka_unit_test_setup_teardown(vms_off_the_switch_are_left_alone, setup, teardown),
		cmocka_unit_test_teardown(no_link_or_no_pacing_host_no_decisions, teardown),
		cmocka_unit_test_setup_teardown(the_model_keeps_byte_rates, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
