// SPDX-License-Identifier: BSD-3-Clause
/*
 * Thread observation (kvm-hooks/observe.h) on this test's own threads: a
 * spinning one and a sleeping one stand in for a busy and an idle vCPU.
 * Both backends must agree on what they are doing; BPF must also deliver
 * wakeup and exit events. The BPF case is skipped without root or BPF.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/clock.h"
#include "common/log.h"
#include "kvm-hooks/observe.h"

static volatile int stop;
static pid_t spin_tid, sleep_tid;

static void *spinner(void *arg)
{
	spin_tid = (pid_t)syscall(SYS_gettid);
	while (!stop)
		;
	return NULL;
}

static void *sleeper(void *arg)
{
	sleep_tid = (pid_t)syscall(SYS_gettid);
	while (!stop)
		usleep(2000);
	return NULL;
}

struct events {
	unsigned int wakeups, exits;
};

static void count(const struct hooks_event *ev, void *arg)
{
	struct events *e = arg;

	if (ev->tid == (uint32_t)sleep_tid && ev->kind == HOOKS_RUNNABLE)
		e->wakeups++;
	if (ev->tid == (uint32_t)sleep_tid && ev->kind == HOOKS_GONE)
		e->exits++;
}

static void observe(enum obs_backend which)
{
	struct hooks_rec a, b;
	struct events ev = { 0 };
	pthread_t t1, t2;
	struct obs *o;
	int s1, s2;

	if (obs_open(which, 0, &o))
		skip();
	stop = 0;
	spin_tid = sleep_tid = 0;
	pthread_create(&t1, NULL, spinner, NULL);
	pthread_create(&t2, NULL, sleeper, NULL);
	while (!spin_tid || !sleep_tid)
		usleep(1000);
	s1 = obs_add(o, getpid(), spin_tid, 1);
	s2 = obs_add(o, getpid(), sleep_tid, 1);
	assert_true(s1 >= 0 && s2 >= 0 && s1 != s2);
	usleep(300000);
	assert_int_equal(obs_read(o, s1, &a), 0);
	assert_int_equal(obs_read(o, s2, &b), 0);
	assert_int_equal(a.tid, spin_tid);
	/* The spinner ran most of 300 ms (two CPUs, little else); the sleeper almost not. */
	assert_true(a.run_ns > 100 * WAVE_NSEC_PER_MSEC);
	assert_true(b.run_ns < 100 * WAVE_NSEC_PER_MSEC);
	assert_true(b.wakeups >= 20);
	assert_true(b.seq > 0); /* the sleeper switches in and out all the time */
	if (obs_fd(o) >= 0) {
		struct pollfd p = { .fd = obs_fd(o), .events = POLLIN };

		assert_true(poll(&p, 1, 1000) == 1);
		obs_poll(o, count, &ev);
		assert_true(ev.wakeups >= 20);
	}
	stop = 1;
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	usleep(20000);
	assert_int_equal(obs_read(o, s2, &b), 0);
	assert_int_equal(b.state, HOOKS_GONE);
	if (obs_fd(o) >= 0) {
		obs_poll(o, count, &ev);
		assert_int_equal(ev.exits, 1);
	}
	obs_del(o, s1);
	obs_del(o, s2);
	assert_int_equal(obs_read(o, s1, &a), -ENOENT);
	obs_close(o);
}

static void proc_backend(void **state)
{
	observe(OBS_PROC);
}

static void bpf_backend(void **state)
{
	if (geteuid() != 0)
		skip();
	observe(OBS_BPF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(proc_backend),
		cmocka_unit_test(bpf_backend),
	};

	wave_log_init("test-observe", WAVE_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
