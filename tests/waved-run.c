// SPDX-License-Identifier: BSD-3-Clause
/*
 * What the process-level waved tests share (waved-run.h): threads of the
 * test standing in for vCPUs, the real waved and wave-agent started on
 * them over shm (or tcp:// with TLS), and per-case setup and teardown that
 * end what a case started and put the threads back, also when it failed.
 *
 * Every process started dies with the test (PR_SET_PDEATHSIG) and is
 * killed by pid in teardown; the run directory is removed.
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
#include "tests/waved-run.h"


pid_t tids[NTHREADS];
static pthread_t thr[NTHREADS];
static volatile int stop_threads;
pid_t waved_pid, agent_pid;
char rundir[64], uri[64], vm_lat[64], vm_bat[64];
char psk[128];
static char shm_uri[64], tls_uri[64];
int over_tls; /* this case: waved and its agent over tcp:// with TLS (a PSK) */
cpu_set_t baseline;
struct test_tap tap = { .fd = -1, .pkt = -1 }; /* a case's: closed by its teardown */

volatile int parked[NTHREADS];
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

void park(int i, int on)
{
	pthread_mutex_lock(&park_lock);
	parked[i] = on;
	pthread_cond_broadcast(&park_cond);
	pthread_mutex_unlock(&park_lock);
}

/* waved on the stand-ins, with one more option (opt NULL: none). */
void start_waved_opt(const char *opt, const char *val)
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

void start_waved(void)
{
	start_waved_opt(NULL, NULL);
}

void start_agent_opt(const char *opt, const char *val)
{
	char *argv[] = { "build/bin/wave-agent", "--channel", uri, "--policy", "pin",
			 (char *)opt, (char *)val, NULL };

	agent_pid = test_spawn(argv);
}

void start_agent(const char *delay_us)
{
	start_agent_opt(delay_us ? "--link-delay" : NULL, delay_us);
}

int pinned(void)
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

int at_baseline(void)
{
	for (int i = 0; i < NTHREADS; i++) {
		cpu_set_t s;

		sched_getaffinity(tids[i], sizeof(s), &s);
		if (!CPU_EQUAL(&s, &baseline))
			return 0;
	}
	return 1;
}

int wait_for(int (*cond)(void), int timeout_ms)
{
	for (int ms = 0; ms <= timeout_ms; ms += 5) {
		if (cond())
			return 0;
		usleep(5000);
	}
	return -ETIMEDOUT;
}

int group_setup(void **state)
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


int group_teardown(void **state)
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
int case_setup(void **state)
{
	if (CPU_COUNT(&baseline) >= 2)
		assert_true(at_baseline());
	return 0;
}

int case_teardown(void **state)
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
int tls_case_setup(void **state)
{
	snprintf(tls_uri, sizeof(tls_uri), "tcp://127.0.0.1:%d", test_free_port());
	snprintf(psk, sizeof(psk), "%s/psk", test_keys());
	snprintf(uri, sizeof(uri), "%s", tls_uri);
	over_tls = 1;
	return case_setup(state);
}

void need_two_cpus(void)
{
	if (CPU_COUNT(&baseline) < 2)
		test_skip("needs two CPUs");
}

/* waved and the agent running the pin policy, in charge, the stand-ins pinned. */
void offload_pinned(void)
{
	start_waved();
	start_agent(NULL);
	assert_true(test_wait_waved_state(rundir, "offload", 5000) >= 0);
	assert_int_equal(wait_for(pinned, 3000), 0);
}

/* The stat (number) key of waved's status document. */
int64_t waved_stat(const char *key)
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
