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
 * with a status, counted, never applied, over shm and over TLS.
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
#include "common/site.h"
#include "tests/tap.h"
#include "tests/util.h"

#define NTHREADS 4
#define LAG_MS 20

static pid_t tids[NTHREADS];
static pthread_t thr[NTHREADS];
static volatile int stop_threads;
static pid_t waved_pid, agent_pid;
static char rundir[64], uri[64], vm_lat[64], vm_bat[64];
static char shm_uri[64], tls_uri[64], psk[128];
static int over_tls; /* this case: waved and its agent over tcp:// with TLS (a PSK) */
static cpu_set_t baseline;
static struct test_tap tap = { .fd = -1, .pkt = -1 }; /* a case's: closed by its teardown */

static volatile int parked[NTHREADS];
static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cond = PTHREAD_COND_INITIALIZER;

/* A stand-in vCPU: naps of 2 ms, or blocked for good while parked. */
static void *standin(void *arg)
{
	intptr_t i = (intptr_t)arg;

	tids[i] = (pid_t)syscall(SYS_gettid);
	while (!stop_threads) {
		pthread_mutex_lock(&park_lock);
		while (parked[i] && !stop_threads)
			pthread_cond_wait(&park_cond, &park_lock);
		pthread_mutex_unlock(&park_lock);
		usleep(2000);
	}
	return NULL;
}

static void park(int i, int on)
{
	pthread_mutex_lock(&park_lock);
	parked[i] = on;
	pthread_cond_broadcast(&park_cond);
	pthread_mutex_unlock(&park_lock);
}

/* waved on the stand-ins, with one more option (opt NULL: none). */
static void start_waved_opt(const char *opt, const char *val)
{
	char *argv[] = { "build/bin/waved", "--vm", vm_lat, "--vm", vm_bat, "--channel", uri,
			 "--rundir", rundir, "--lag-threshold", "20", "--cpus", "0,1",
			 "--handback", "10", "--policy", "pin", (char *)opt, (char *)val, NULL, NULL,
			 NULL };
	int n = opt ? 19 : 17;

	if (over_tls) {
		argv[n++] = "--psk-file";
		argv[n] = psk;
	}
	waved_pid = test_spawn(argv);
}

static void start_waved(void)
{
	start_waved_opt(NULL, NULL);
}

static void start_agent(const char *delay_us)
{
	char *argv[] = { "build/bin/wave-agent", "--channel", uri, "--policy", "pin",
			 delay_us ? "--link-delay" : NULL, (char *)delay_us, NULL };

	agent_pid = test_spawn(argv);
}

static int pinned(void)
{
	for (int i = 0; i < NTHREADS; i++) {
		cpu_set_t s;

		sched_getaffinity(tids[i], sizeof(s), &s);
		/* pin: the latency VM (threads 0, 1) on CPU 1 of its own, the batch VM on CPU 0. */
		if (CPU_COUNT(&s) != 1 || !CPU_ISSET(i < 2 ? 1 : 0, &s))
			return 0;
	}
	return 1;
}

static int at_baseline(void)
{
	for (int i = 0; i < NTHREADS; i++) {
		cpu_set_t s;

		sched_getaffinity(tids[i], sizeof(s), &s);
		if (!CPU_EQUAL(&s, &baseline))
			return 0;
	}
	return 1;
}

static int wait_for(int (*cond)(void), int timeout_ms)
{
	for (int ms = 0; ms <= timeout_ms; ms += 5) {
		if (cond())
			return 0;
		usleep(5000);
	}
	return -ETIMEDOUT;
}

static int group_setup(void **state)
{
	sched_getaffinity(0, sizeof(baseline), &baseline);
	if (CPU_COUNT(&baseline) < 2)
		return 0;
	for (intptr_t i = 0; i < NTHREADS; i++)
		pthread_create(&thr[i], NULL, standin, (void *)i);
	for (int i = 0; i < NTHREADS; i++)
		while (!tids[i])
			usleep(100);
	snprintf(rundir, sizeof(rundir), "/tmp/wave-test-waved-%d", (int)getpid());
	snprintf(shm_uri, sizeof(shm_uri), "shm:test-waved-%d", (int)getpid());
	snprintf(uri, sizeof(uri), "%s", shm_uri);
	snprintf(vm_lat, sizeof(vm_lat), "lat,latency,%d+%d", (int)tids[0], (int)tids[1]);
	snprintf(vm_bat, sizeof(vm_bat), "bat,batch,%d+%d", (int)tids[2], (int)tids[3]);
	mkdir(rundir, 0700);
	return 0;
}

static int case_teardown(void **state);

static int group_teardown(void **state)
{
	case_teardown(state);
	stop_threads = 1;
	for (int i = 0; i < NTHREADS; i++)
		park(i, 0);
	for (int i = 0; i < NTHREADS && tids[i]; i++)
		pthread_join(thr[i], NULL);
	rmdir(rundir);
	return 0;
}

/*
 * Every case starts with nothing running and every stand-in at its
 * baseline, and its teardown ends what the case started and puts the
 * threads back even if the case failed half-way (a case's failure must not
 * become the next one's).
 */
static int case_setup(void **state)
{
	if (CPU_COUNT(&baseline) >= 2)
		assert_true(at_baseline());
	return 0;
}

static int case_teardown(void **state)
{
	char path[128];

	if (agent_pid > 0)
		kill(agent_pid, SIGCONT);
	test_end(&agent_pid);
	test_end(&waved_pid); /* SIGTERM: waved restores every baseline */
	for (int i = 0; i < NTHREADS; i++) {
		park(i, 0);
		if (tids[i])
			sched_setaffinity(tids[i], sizeof(baseline), &baseline);
	}
	site_path(path, sizeof(path), rundir, SITE_JOURNAL);
	unlink(path);
	over_tls = 0;
	snprintf(uri, sizeof(uri), "%s", shm_uri);
	/* A case may have given the latency VM an interface. */
	if (tap.fd >= 0)
		test_tap_close(&tap);
	tap = (struct test_tap){ .fd = -1, .pkt = -1 };
	snprintf(vm_lat, sizeof(vm_lat), "lat,latency,%d+%d", (int)tids[0], (int)tids[1]);
	return 0;
}

/* This case over tcp:// with TLS 1.3 and a pre-shared key (tests/util.c test_keys). */
static int tls_case_setup(void **state)
{
	snprintf(tls_uri, sizeof(tls_uri), "tcp://127.0.0.1:%d", test_free_port());
	snprintf(psk, sizeof(psk), "%s/psk", test_keys());
	snprintf(uri, sizeof(uri), "%s", tls_uri);
	over_tls = 1;
	return case_setup(state);
}

static void need_two_cpus(void)
{
	if (CPU_COUNT(&baseline) < 2)
		test_skip("needs two CPUs");
}

/* waved and the agent running the pin policy, in charge, the stand-ins pinned. */
static void offload_pinned(void)
{
	start_waved();
	start_agent(NULL);
	assert_true(test_wait_waved_state(rundir, "offload", 5000) >= 0);
	assert_int_equal(wait_for(pinned, 3000), 0);
}

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

static int64_t waved_stat(const char *key);

/* Whether the kernel beats the agent now (status "kernel_watch": "on"). */
static int kernel_beats(void)
{
	json_object *s = test_waved_status(rundir), *k, *on;
	int r;

	assert_non_null(s);
	r = json_object_object_get_ex(s, "kernel_watch", &k) &&
	    json_object_object_get_ex(k, "on", &on) && json_object_get_boolean(on);
	json_object_put(s);
	return r;
}

/* Skips the case if waved could not load the kernel's heartbeat (no BPF timers). */
static void need_kernel_watch(void)
{
	json_object *s = test_waved_status(rundir), *k, *v;
	int ok;

	assert_non_null(s);
	ok = json_object_object_get_ex(s, "kernel_watch", &k) &&
	     json_object_object_get_ex(k, "available", &v) && json_object_get_boolean(v);
	json_object_put(s);
	if (!ok)
		test_skip("waved has no kernel heartbeat here (BPF timers, root)");
}

static int64_t wakeups_over(unsigned int ms)
{
	int64_t w0 = waved_stat("wakeups") - waved_stat("wakeups_status");

	usleep(ms * 1000);
	return waved_stat("wakeups") - waved_stat("wakeups_status") - w0;
}

/*
 * In charge over shm, the agent is beaten by the kernel and reads the
 * records itself: waved wakes about ten times a second, not a hundred; a
 * stop is a beat left unanswered, and the hand-back gives the beating back.
 */
static void the_kernel_beats_the_agent_and_waved_sleeps(void **state)
{
	json_object *s, *why;

	need_two_cpus();
	offload_pinned();
	need_kernel_watch();
	assert_int_equal(wait_for(kernel_beats, 2000), 0);
	assert_true(wakeups_over(2000) < 2 * 40);
	kill(agent_pid, SIGSTOP);
	assert_true(test_wait_waved_state(rundir, "fallback", 1000) >= 0);
	s = test_waved_status(rundir);
	assert_non_null(s);
	assert_true(json_object_object_get_ex(s, "why", &why));
	assert_string_equal(json_object_get_string(why), "the agent left the kernel's beat unanswered");
	json_object_put(s);
	assert_false(kernel_beats());
	assert_true(at_baseline());
	kill(agent_pid, SIGCONT);
	assert_true(test_wait_waved_state(rundir, "offload", 5000) >= 0);
	assert_int_equal(wait_for(kernel_beats, 2000), 0);
	assert_int_equal(wait_for(pinned, 3000), 0);
	assert_int_equal(waved_stat("kwatch_starts"), 2);
}

/*
 * Heartbeats dropped by the link (an injected fault on the agent's side)
 * while the kernel beats: the agent withholds its answers as the channel
 * would, so waved falls back, and takes the agent back once they come.
 */
static void dropped_answers_to_the_kernel_mean_fallback(void **state)
{
	char *argv[] = { "build/bin/wave-agent", "--channel", uri, "--policy", "pin",
			 "--link-fault", "drop-hb@1500ms+300ms", NULL };

	need_two_cpus();
	start_waved();
	agent_pid = test_spawn(argv);
	assert_true(test_wait_waved_state(rundir, "offload", 1400) >= 0);
	need_kernel_watch();
	assert_int_equal(wait_for(kernel_beats, 1000), 0);
	assert_true(test_wait_waved_state(rundir, "fallback", 2000) >= 0);
	assert_true(waved_stat("wakeups_kbeat") >= 1);
	assert_true(test_wait_waved_state(rundir, "offload", 5000) >= 0);
	assert_int_equal(wait_for(kernel_beats, 2000), 0);
}

/*
 * An emulated link delay shorter than the agent's own loop (2 us, as the
 * benchmarks run) delays each answer, never past the next beat: the agent
 * stays in charge.
 */
static void a_short_link_delay_keeps_the_kernels_beat_answered(void **state)
{
	int64_t fb;

	need_two_cpus();
	start_waved();
	start_agent("2");
	assert_true(test_wait_waved_state(rundir, "offload", 5000) >= 0);
	need_kernel_watch();
	assert_int_equal(wait_for(kernel_beats, 2000), 0);
	fb = waved_stat("fallbacks");
	usleep(2000000);
	assert_int_equal(waved_stat("fallbacks"), fb);
	assert_int_equal(waved_stat("wakeups_kbeat"), 0);
	assert_true(kernel_beats());
}

/* --kernel-watch off: waved heartbeats the agent and exports every period, as before. */
static void without_the_kernel_waved_heartbeats_the_agent(void **state)
{
	need_two_cpus();
	start_waved_opt("--kernel-watch", "off");
	start_agent(NULL);
	assert_true(test_wait_waved_state(rundir, "offload", 5000) >= 0);
	assert_int_equal(wait_for(pinned, 3000), 0);
	assert_false(kernel_beats());
	assert_true(wakeups_over(1000) >= 50);
	assert_int_equal(waved_stat("kwatch_starts"), 0);
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

/* The stat (number) key of waved's status document. */
static int64_t waved_stat(const char *key)
{
	json_object *s = test_waved_status(rundir), *st, *v;
	int64_t n;

	assert_non_null(s);
	assert_true(json_object_object_get_ex(s, "stats", &st));
	assert_true(json_object_object_get_ex(st, key, &v));
	n = json_object_get_int64(v);
	json_object_put(s);
	return n;
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
		CASE(slow_link_means_fallback),
		CASE(killed_waved_is_repaired_by_the_next),
		CASE(the_kernel_beats_the_agent_and_waved_sleeps),
		CASE(without_the_kernel_waved_heartbeats_the_agent),
		CASE(dropped_answers_to_the_kernel_mean_fallback),
		CASE(a_short_link_delay_keeps_the_kernels_beat_answered),
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
