// SPDX-License-Identifier: BSD-3-Clause
/*
 * waved and wave-agent end to end without VMs: threads of this test stand
 * in for vCPUs (waved --vm), the real binaries run over shm. Checks:
 * placements reach the threads (sched_getaffinity); the agent stopped,
 * killed, or behind a slow link means fallback within 2x the lag threshold
 * with every thread back to its baseline, and control comes back when it
 * is healthy; a waved killed with SIGKILL leaves threads changed and the
 * next waved repairs them; a hostile agent's transactions (unknown VM or
 * vCPU, CPU outside --cpus, stale epoch or barrier, a flood) are refused
 * with a status, counted, never applied, over shm and over TLS; an agent
 * with --reserve runs under SCHED_DEADLINE and does its work.
 *
 * Every process it starts dies with it (PR_SET_PDEATHSIG) and is killed by
 * pid in teardown; its run directory is removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "channel/chan.h"
#include "channel/codec.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/sched-attr.h"
#include "common/site.h"
#include "kvm-hooks/mech.h"
#include "tests/tap.h"
#include "tests/util.h"
#include "tests/waved-run.h"

/* ... and waved counts its wakeups, each with at least one cause. */
static void agent_places_threads(void **state)
{
	static const char *const causes[] = { "wakeups_tick", "wakeups_doorbell", "wakeups_watchdog",
					      "wakeups_mem", "wakeups_obs", "wakeups_net",
					      "wakeups_other" };
	json_object *s, *st;
	int64_t all, sum = 0;

	need_two_cpus();
	offload_pinned();
	s = test_waved_status(rundir);
	assert_non_null(s);
	assert_true(json_object_object_get_ex(s, "stats", &st));
	all = json_object_get_int64(json_object_object_get(st, "wakeups"));
	for (size_t i = 0; i < sizeof(causes) / sizeof(causes[0]); i++)
		sum += json_object_get_int64(json_object_object_get(st, causes[i]));
	assert_true(all > 0);
	assert_true(json_object_get_int64(json_object_object_get(st, "wakeups_tick")) > 0);
	assert_true(json_object_get_int64(json_object_object_get(st, "wakeups_doorbell")) > 0);
	assert_true(sum >= all);
	json_object_put(s);
}

/* How fast: 'wavectl bench loop' measures it. Here: it happens, and it is undone. */
static void stopped_agent_means_fallback_then_handback(void **state)
{
	need_two_cpus();
	offload_pinned();
	kill(agent_pid, SIGSTOP);
	assert_true(test_wait_waved_state(rundir, "fallback", 1000) >= 0);
	assert_true(at_baseline());
	kill(agent_pid, SIGCONT);
	assert_true(test_wait_waved_state(rundir, "offload", 5000) >= 0);
	assert_int_equal(wait_for(pinned, 3000), 0);
}

/*
 * --reserve: the agent runs under SCHED_DEADLINE with what it asked for,
 * and places the threads as ever; a reservation that is none is refused
 * at the start (exit status 2).
 */
static void reserved_agent_runs_under_deadline(void **state)
{
	char *bad[] = { "build/bin/wave-agent", "--channel", uri, "--reserve", "5ms/1ms", NULL };
	struct sched_attr at = { .size = sizeof(at) };
	pid_t p;
	int st;

	need_two_cpus();
	if (geteuid())
		skip();
	/* Earlier tests' threads may have left DEADLINE accounting behind (mech-linux.c). */
	mech_linux_ops.dl_repair();
	start_waved();
	start_agent_opt("--reserve", "1ms/5ms");
	assert_true(test_wait_waved_state(rundir, "offload", 5000) >= 0);
	assert_int_equal(wait_for(pinned, 3000), 0);
	assert_int_equal(wave_sched_getattr(agent_pid, &at), 0);
	assert_int_equal(at.sched_policy, SCHED_DEADLINE);
	assert_int_equal(at.sched_runtime, 1000000);
	assert_int_equal(at.sched_period, 5000000);
	p = test_spawn(bad);
	assert_true(p > 0);
	assert_int_equal(waitpid(p, &st, 0), p);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 2);
}

static void killed_agent_means_fallback_restart_takes_over(void **state)
{
	need_two_cpus();
	offload_pinned();
	kill(agent_pid, SIGKILL);
	waitpid(agent_pid, NULL, 0);
	agent_pid = 0;
	assert_true(test_wait_waved_state(rundir, "fallback", 1000) >= 0);
	assert_int_equal(wait_for(at_baseline, 1000), 0);
	start_agent(NULL);
	assert_true(test_wait_waved_state(rundir, "offload", 5000) >= 0);
	assert_int_equal(wait_for(pinned, 3000), 0);
}

static void slow_link_means_fallback(void **state)
{
	need_two_cpus();
	start_waved();
	/* Every heartbeat reaches the agent 30 ms late: over the 20 ms threshold. */
	start_agent("30000");
	usleep(1500000);
	assert_true(test_waved_state_is(rundir, "fallback"));
	assert_true(at_baseline());
	test_end(&agent_pid);
	start_agent(NULL);
	assert_true(test_wait_waved_state(rundir, "offload", 5000) >= 0);
	assert_int_equal(wait_for(pinned, 3000), 0);
}

static void killed_waved_is_repaired_by_the_next(void **state)
{
	need_two_cpus();
	offload_pinned();
	kill(waved_pid, SIGKILL);
	waitpid(waved_pid, NULL, 0);
	waved_pid = 0;
	test_end(&agent_pid);
	/* The threads (the VMs) keep running, still pinned: nobody restored them. */
	assert_true(pinned());
	start_waved();
	assert_true(test_wait_waved_state(rundir, "fallback", 5000) >= 0);
	assert_true(at_baseline());
}

/* The test itself is the agent now: it talks to waved directly. */
struct fake_agent {
	struct chan *ch;
	uint32_t epoch, vm_id[2], barrier[2][2];
	int have_snapshot;
	struct wave_txn_result results[4096];
	unsigned int nres;
	struct wave_net_state net;   /* the last NET_STATE for the latency VM */
	unsigned int nnet;
};

static void take(const struct wave_msg *x, void *arg)
{
	struct fake_agent *a = arg;

	if (x->h.type == WAVE_MSG_SNAPSHOT_END) {
		a->epoch = x->p.snap.epoch;
		a->have_snapshot = 1;
	} else if (x->h.type == WAVE_MSG_VM_ADD) {
		int k = !strncmp(x->p.vm_add.name, "bat", 3);

		a->vm_id[k] = x->p.vm_add.vm_id;
	} else if (x->h.type == WAVE_MSG_VCPU_STATE && x->p.vcpu.kind == WAVE_KIND_VCPU &&
		   x->p.vcpu.index < 2) {
		int k = x->p.vcpu.vm_id == a->vm_id[1];

		a->barrier[k][x->p.vcpu.index] = x->p.vcpu.barrier;
	} else if (x->h.type == WAVE_MSG_TXN_RESULT && a->nres < 4096) {
		a->results[a->nres++] = x->p.result;
	} else if (x->h.type == WAVE_MSG_NET_STATE && x->p.net.vm_id == a->vm_id[0]) {
		a->net = x->p.net;
		a->nnet++;
	}
}

static void pump(struct fake_agent *a, int ms)
{
	test_agent_pump(a->ch, ms, take, a);
}

static void place(struct wave_msg *m, uint32_t id, uint32_t epoch, uint32_t vm,
		  uint16_t idx, uint32_t barrier, uint64_t mask)
{
	wave_msg_init(m, WAVE_MSG_TXN);
	m->p.txn.txn_id = id;
	m->p.txn.epoch = epoch;
	m->p.txn.vm_id = vm;
	m->p.txn.index = idx;
	m->p.txn.kind = WAVE_KIND_VCPU;
	m->p.txn.barrier = barrier;
	m->p.txn.op = WAVE_OP_PLACE;
	m->p.txn.op_count = 1;
	m->p.txn.u.place.mask = mask;
}

static uint8_t result_of(const struct fake_agent *a, uint32_t txn_id)
{
	for (unsigned int i = 0; i < a->nres; i++)
		if (a->results[i].txn_id == txn_id)
			return a->results[i].status;
	return 0xff;
}

/* waved on the stand-ins (with one more option) and this test as its agent, once the snapshot is in. */
static void fake_attach_opt(struct fake_agent *a, const char *opt, const char *val)
{
	struct chan_opts o;

	memset(a, 0, sizeof(*a));
	start_waved_opt(opt, val);
	chan_opts_init(&o, CHAN_AGENT);
	o.features |= WAVE_FEAT_NET;
	if (over_tls)
		o.tls.psk_file = psk;
	assert_int_equal(chan_open(uri, &o, &a->ch), 0);
	for (int i = 0; i < 500 && !a->have_snapshot; i++)
		pump(a, 10);
	assert_true(a->have_snapshot);
}

static void fake_attach(struct fake_agent *a)
{
	fake_attach_opt(a, NULL, NULL);
}

/*
 * Prestaged: [TRIGGER lat vCPU 1, PLACE bat vCPU 1]. Nothing happens while
 * the trigger sleeps; a newer one on the same trigger replaces it; the
 * trigger's wakeup applies it at once, with no word from the agent.
 */
static void prestaged_decisions_fire_at_the_host(void **state)
{
	static struct fake_agent fa;
	struct fake_agent *a = &fa;
	struct wave_msg m[4];
	json_object *st, *obs;
	int bpf;
	cpu_set_t s;

	need_two_cpus();
	fake_attach(a);
	st = test_waved_status(rundir);
	bpf = st && json_object_object_get_ex(st, "observe", &obs) &&
	      !strcmp(json_object_get_string(obs), "bpf");
	json_object_put(st);
	if (!bpf) {
		chan_close(a->ch);
		test_skip("waved sees wakeups only with BPF (root, a kernel with BTF)");
	}
	park(1, 1);
	pump(a, 20); /* it parks; echoes keep going (a stall of the threshold is a lag) */
	for (int t = 0; t < 2; t++) {
		place(&m[2 * t], 100 + (uint32_t)t, a->epoch, a->vm_id[0], 1, a->barrier[0][1], 0);
		m[2 * t].p.txn.op = WAVE_OP_TRIGGER;
		m[2 * t].p.txn.op_count = 2;
		place(&m[2 * t + 1], 100 + (uint32_t)t, a->epoch, a->vm_id[1], 1, a->barrier[1][1],
		      t ? 0x2 : 0x1);
		m[2 * t + 1].p.txn.op_idx = 1;
		m[2 * t + 1].p.txn.op_count = 2;
	}
	assert_int_equal(chan_send_batch(a->ch, m, 4), 4);
	pump(a, 200);
	assert_int_equal(result_of(a, 100), WAVE_ST_STALE_TARGET); /* replaced */
	assert_int_equal(result_of(a, 101), 0xff);                 /* armed, not fired */
	sched_getaffinity(tids[3], sizeof(s), &s);
	assert_true(CPU_EQUAL(&s, &baseline));
	park(1, 0); /* the trigger wakes up: the host acts by itself */
	for (int i = 0; i < 100; i++) {
		sched_getaffinity(tids[3], sizeof(s), &s);
		if (CPU_COUNT(&s) == 1)
			break;
		usleep(1000);
	}
	assert_true(CPU_COUNT(&s) == 1 && CPU_ISSET(1, &s));
	pump(a, 100);
	assert_int_equal(result_of(a, 101), WAVE_ST_OK);
	chan_close(a->ch);
}

/*
 * An authenticated agent that sends what a buggy or compromised one would:
 * over shm, and over TLS (the transport a DPU uses; authentication does
 * not make its decisions trusted).
 */
static void hostile_agent_is_refused(void **state)
{
	static struct fake_agent a;
	struct wave_msg m[256];
	uint32_t e, v;
	int sent;

	need_two_cpus();
	fake_attach(&a);
	{
		json_object *st = test_waved_status(rundir), *auth;

		assert_true(st && json_object_object_get_ex(st, "channel_auth", &auth));
		if (over_tls)
			assert_string_equal(json_object_get_string(auth), "TLS 1.3, pre-shared key");
		else
			assert_true(!strncmp(json_object_get_string(auth), "peer credentials: uid 0", 23));
		json_object_put(st);
	}
	e = a.epoch;
	v = a.vm_id[0];
	place(&m[0], 1, e, 4000, 0, a.barrier[0][0], 1);            /* no such VM */
	place(&m[1], 2, e, v, 7, a.barrier[0][0], 1);               /* no such vCPU */
	place(&m[2], 3, e, v, 0, a.barrier[0][0], 1ull << 5);       /* CPU 5: not allowed */
	place(&m[3], 4, e - 1, v, 0, a.barrier[0][0], 1);           /* stale epoch */
	place(&m[4], 5, e, v, 0, a.barrier[0][0] + 1000, 1);        /* stale barrier */
	place(&m[5], 6, e, v, 0, a.barrier[0][0], 2);               /* valid: vCPU 0 to CPU 1 */
	place(&m[6], 7, e, 9999, 0, a.barrier[0][0], 1);            /* garbage: vm_id out of range */
	m[7] = m[5];
	m[7].p.txn.txn_id = 8;
	m[7].h.flags = 0x40;                                        /* garbage: unknown flag */
	assert_int_equal(chan_send_batch(a.ch, m, 8), 8);
	pump(&a, 300);
	assert_int_equal(result_of(&a, 1), WAVE_ST_NO_TARGET);
	assert_int_equal(result_of(&a, 2), WAVE_ST_NO_TARGET);
	assert_int_equal(result_of(&a, 3), WAVE_ST_INVALID);
	assert_int_equal(result_of(&a, 4), WAVE_ST_STALE_EPOCH);
	assert_int_equal(result_of(&a, 5), WAVE_ST_STALE_TARGET);
	assert_int_equal(result_of(&a, 6), WAVE_ST_OK);
	/* Garbage never becomes a transaction: dropped by the channel and counted. */
	assert_int_equal(result_of(&a, 7), 0xff);
	assert_int_equal(result_of(&a, 8), 0xff);
	assert_int_equal(waved_stat("rx_invalid"), 2);
	{
		cpu_set_t s;

		sched_getaffinity(tids[0], sizeof(s), &s);
		assert_true(CPU_COUNT(&s) == 1 && CPU_ISSET(1, &s));
		/* Nothing of the refused ones reached a thread. */
		sched_getaffinity(tids[2], sizeof(s), &s);
		assert_true(CPU_EQUAL(&s, &baseline));
	}
	/* A flood of bad decisions: each answered, none applied, waved keeps serving. */
	sent = 0;
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 100; i++)
			place(&m[i], 1000 + (uint32_t)sent + (uint32_t)i, e, v, 0, 12345, 1);
		for (int off = 0; off < 100;) {
			int k = chan_send_batch(a.ch, m + off, 100 - (unsigned int)off);

			if (k > 0)
				off += k;
			pump(&a, 1);
		}
		sent += 100;
	}
	pump(&a, 500);
	{
		unsigned int stale = 0;

		for (unsigned int i = 0; i < a.nres; i++)
			stale += a.results[i].txn_id >= 1000 &&
				 a.results[i].status == WAVE_ST_STALE_TARGET;
		assert_int_equal(stale, 2000);
	}
	assert_true(test_waved_state_is(rundir, "offload"));
	/* Wakeup subscriptions for a VM that is not there, or from another epoch: counted, ignored. */
	wave_msg_init(&m[0], WAVE_MSG_WAKE_SUB);
	m[0].p.wake = (struct wave_wake_sub){ .epoch = e, .vm_id = 4000, .kinds = 1 };
	wave_msg_init(&m[1], WAVE_MSG_WAKE_SUB);
	m[1].p.wake = (struct wave_wake_sub){ .epoch = e + 7, .vm_id = v, .kinds = 1 };
	assert_int_equal(chan_send_batch(a.ch, m, 2), 2);
	pump(&a, 100);
	assert_int_equal(waved_stat("bad_wake_subs"), 2);
	chan_close(a.ch);
	assert_true(test_wait_waved_state(rundir, "fallback", 1000) >= 0);
	assert_int_equal(wait_for(at_baseline, 1000), 0);
}

static void hostile_agent_is_refused_over_tls(void **state)
{
	hostile_agent_is_refused(state);
}

/* onhost: the same policy inside waved, no agent at all. */
static void onhost_mode_applies_the_policy(void **state)
{
	need_two_cpus();
	start_waved_opt("--mode", "onhost");
	assert_true(test_wait_waved_state(rundir, "onhost", 5000) >= 0);
	assert_int_equal(wait_for(pinned, 3000), 0);
	test_end(&waved_pid);
	assert_true(at_baseline()); /* SIGTERM restores */
}

/* observe: export only; an agent's decisions are refused. */
static void observe_mode_applies_nothing(void **state)
{
	need_two_cpus();
	start_waved_opt("--mode", "observe");
	start_agent(NULL);
	assert_true(test_wait_waved_state(rundir, "observe", 5000) >= 0);
	usleep(1500000);
	assert_true(at_baseline());
	assert_true(waved_stat("invalid") > 0);
}

/* --fallback local: the agent dies, the same policy goes on inside waved. */
static void local_fallback_keeps_the_policy(void **state)
{
	need_two_cpus();
	start_waved_opt("--fallback", "local");
	start_agent(NULL);
	assert_true(test_wait_waved_state(rundir, "offload", 5000) >= 0);
	assert_int_equal(wait_for(pinned, 3000), 0);
	kill(agent_pid, SIGKILL);
	waitpid(agent_pid, NULL, 0);
	agent_pid = 0;
	assert_true(test_wait_waved_state(rundir, "fallback", 1000) >= 0);
	usleep(300000);
	assert_true(pinned());
	test_end(&waved_pid);
	assert_true(at_baseline());
}

#define CASE(f) cmocka_unit_test_setup_teardown(f, case_setup, case_teardown)

/*
 * The latency VM's traffic (its tap, played by this test) reaches the agent
 * as NET_STATE with exactly what was sent each way, only once it moved,
 * and shows in waved's status.
 */
static void vm_traffic_reaches_the_agent(void **state)
{
	static struct fake_agent fa;
	json_object *st, *vms, *vm, *net, *v;
	unsigned int before;

	need_two_cpus();
	test_tap_open(&tap);
	snprintf(vm_lat + strlen(vm_lat), sizeof(vm_lat) - strlen(vm_lat), ",net=%s", tap.name);
	fake_attach(&fa);
	/* Nothing moved yet: the snapshot carried the zero counts, nothing since. */
	pump(&fa, 300);
	assert_true(fa.nnet >= 1);
	assert_int_equal(fa.net.rx_pkts, 0);
	before = fa.nnet;
	pump(&fa, 300);
	assert_int_equal(fa.nnet, before);
	test_tap_to_guest(&tap, 20, 150);
	test_tap_from_guest(&tap, 5, 100);
	for (int i = 0; i < 100 && (fa.net.rx_pkts < 20 || fa.net.tx_pkts < 5); i++)
		pump(&fa, 20);
	assert_int_equal(fa.net.rx_pkts, 20);
	assert_int_equal(fa.net.rx_bytes, 3000);
	assert_int_equal(fa.net.tx_pkts, 5);
	assert_int_equal(fa.net.tx_bytes, 500);
	assert_int_equal(fa.net.nr_ifaces, 1);
	assert_int_equal(fa.net.flags, 0);
	st = test_waved_status(rundir);
	assert_non_null(st);
	assert_true(json_object_object_get_ex(st, "vms", &vms));
	vm = json_object_array_get_idx(vms, 0);
	assert_true(json_object_object_get_ex(vm, "net", &net));
	assert_true(json_object_object_get_ex(net, "rx_pkts", &v));
	assert_int_equal(json_object_get_int64(v), 20);
	assert_true(json_object_object_get_ex(vm, "demotions", &v));
	json_object_put(st);
	chan_close(fa.ch);
	test_end(&waved_pid);
}

/*
 * waved --net-fire: a packet for the latency VM after a quiet gap fires
 * what was prestaged on its threads while the trigger thread still sleeps
 * (without the option only the wakeup fires it: the case above).
 */
static void arrival_fires_what_was_prestaged(void **state)
{
	static struct fake_agent fa;
	struct fake_agent *a = &fa;
	struct wave_msg m[2];
	json_object *st, *obs, *nobs;
	int bpf;
	cpu_set_t s;

	need_two_cpus();
	test_tap_open(&tap);
	snprintf(vm_lat + strlen(vm_lat), sizeof(vm_lat) - strlen(vm_lat), ",net=%s", tap.name);
	fake_attach_opt(a, "--net-fire", NULL);
	st = test_waved_status(rundir);
	bpf = st && json_object_object_get_ex(st, "observe", &obs) &&
	      json_object_object_get_ex(st, "net_observe", &nobs) &&
	      !strcmp(json_object_get_string(obs), "bpf") &&
	      !strcmp(json_object_get_string(nobs), "bpf");
	json_object_put(st);
	if (!bpf) {
		chan_close(a->ch);
		test_skip("arrivals are events only with BPF (root, a kernel with BTF)");
	}
	for (int i = 0; i < 50 && !a->nnet; i++)
		pump(a, 10);
	assert_true(a->nnet >= 1);
	wave_msg_init(&m[0], WAVE_MSG_WAKE_SUB);
	m[0].p.wake = (struct wave_wake_sub){ .epoch = a->epoch, .vm_id = a->vm_id[0],
					     .barrier = a->net.barrier, .kinds = WAVE_WAKE_NET };
	assert_int_equal(chan_send(a->ch, &m[0]), 0);
	park(1, 1);
	pump(a, 20); /* it parks; echoes keep going (a stall of the threshold is a lag) */
	place(&m[0], 200, a->epoch, a->vm_id[0], 1, a->barrier[0][1], 0);
	m[0].p.txn.op = WAVE_OP_TRIGGER;
	m[0].p.txn.op_count = 2;
	place(&m[1], 200, a->epoch, a->vm_id[1], 1, a->barrier[1][1], 0x2);
	m[1].p.txn.op_idx = 1;
	m[1].p.txn.op_count = 2;
	assert_int_equal(chan_send_batch(a->ch, m, 2), 2);
	pump(a, 200);
	assert_int_equal(waved_stat("wake_subs"), 1);
	assert_int_equal(result_of(a, 200), 0xff); /* armed, not fired */
	test_tap_to_guest(&tap, 1, 100);
	for (int i = 0; i < 100; i++) {
		sched_getaffinity(tids[3], sizeof(s), &s);
		if (CPU_COUNT(&s) == 1)
			break;
		usleep(1000);
	}
	/* Fired by the packet: the trigger thread has not woken. */
	assert_true(parked[1]);
	assert_true(CPU_COUNT(&s) == 1 && CPU_ISSET(1, &s));
	pump(a, 100);
	assert_int_equal(result_of(a, 200), WAVE_ST_OK);
	assert_int_equal(waved_stat("net_fired"), 1);
	park(1, 0);
	chan_close(a->ch);
	test_end(&waved_pid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CASE(agent_places_threads),
		CASE(stopped_agent_means_fallback_then_handback),
		CASE(killed_agent_means_fallback_restart_takes_over),
		CASE(reserved_agent_runs_under_deadline),
		CASE(slow_link_means_fallback),
		CASE(killed_waved_is_repaired_by_the_next),
		CASE(hostile_agent_is_refused),
		cmocka_unit_test_prestate_setup_teardown(hostile_agent_is_refused_over_tls,
							 tls_case_setup, case_teardown, NULL),
		CASE(prestaged_decisions_fire_at_the_host),
		CASE(onhost_mode_applies_the_policy),
		CASE(observe_mode_applies_nothing),
		CASE(local_fallback_keeps_the_policy),
		CASE(vm_traffic_reaches_the_agent),
		CASE(arrival_fires_what_was_prestaged),
	};

	signal(SIGPIPE, SIG_IGN);
	wave_log_init("test-waved", WAVE_LOG_ERR);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
