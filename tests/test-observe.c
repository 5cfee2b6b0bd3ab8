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
#include "tests/util.h"

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

	if (obs_open(which, 0, 0, &o))
		test_skip("the %s backend is not available here", which == OBS_BPF ? "BPF" : "/proc");
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
	/* The spinner ran, and ran more than the sleeper (how much is the machine's business). */
	assert_true(a.run_ns > 0);
	assert_true(a.run_ns > b.run_ns);
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
		test_skip("BPF needs root");
	observe(OBS_BPF);
}

/*
 * The record's seqcount under concurrent updates: a writer thread updates a
 * record with the BPF side's protocol (hooks_write_begin/end), every field
 * set to the same value each time; the reader (hooks_rec_read, what waved
 * uses) must never see two fields that disagree.
 */
static struct hooks_rec shared;
static volatile int writing;

static void *writer(void *arg)
{
	for (hk_u64 v = 1; writing; v++) {
		hooks_write_begin(&shared);
		shared.run_ns = v;
		/* A slow writer: a copy without the seqcount would be torn here (tried: most are). */
		wave_cpu_relax();
		wave_cpu_relax();
		shared.wait_ns = v;
		shared.wakeups = v;
		shared.preempts = v;
		shared.since_ns = v;
		shared.cpu = (hk_u32)v;
		hooks_write_end(&shared);
	}
	return NULL;
}

static void record_reads_are_never_torn(void **state)
{
	struct hooks_rec r;
	unsigned long reads = 0, busy = 0, changed = 0;
	uint32_t last = 0;
	pthread_t t;

	uint64_t until = wave_now_ns() + 5 * WAVE_NSEC_PER_SEC;

	memset(&shared, 0, sizeof(shared));
	writing = 1;
	pthread_create(&t, NULL, writer, NULL);
	/* 2 million reads, and on a busy host on until the writer got a turn (at most 5 s). */
	for (int i = 0; i < 2000000 || (changed < 2 && wave_now_ns() < until); i++) {
		if (hooks_rec_read(&shared, &r)) {
			busy++;
			continue;
		}
		reads++;
		assert_int_equal(r.seq % 2, 0);
		assert_true(r.wait_ns == r.run_ns && r.wakeups == r.run_ns &&
			    r.preempts == r.run_ns && r.since_ns == r.run_ns &&
			    r.cpu == (hk_u32)r.run_ns);
		/* seq moves by 2 per update: the same seq means the same record. */
		assert_int_equal(r.run_ns, r.seq / 2);
		changed += r.seq != last;
		last = r.seq;
	}
	writing = 0;
	pthread_join(t, NULL);
	assert_true(reads > 0);
	assert_true(changed > 1); /* the reads did overlap the writes */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(record_reads_are_never_torn),
		cmocka_unit_test(proc_backend),
		cmocka_unit_test(bpf_backend),
	};

	wave_log_init("test-observe", WAVE_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
