// SPDX-License-Identifier: BSD-3-Clause
/*
 * The kernel's heartbeat (kvm-hooks/kbeat.bpf.c) on its own, with the test
 * as the agent: it maps the two words as an agent does and answers beats
 * as it likes. A beat answered later than a period but within the
 * threshold is no stall; a silent agent is a stall of a beat it left
 * unanswered, a threshold old, and the timer stops; an answer from the
 * future is no answer; a new arming is not fooled by the old arming's
 * answers, and gives a slow agent its threshold. The thresholds are long
 * (200 ms) so a loaded machine cannot turn an answer in time into a late
 * one. Needs root and BPF timers; skipped otherwise.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/clock.h"
#include "kvm-hooks/kbeat.h"
#include "tests/util.h"

#define MS (1000 * 1000ull)
#define THRESHOLD_NS (200 * MS)

struct fixture {
	struct kbeat *kb;
	int fds[KBEAT_NR_FDS];
	volatile struct kbeat_host *host;
	volatile struct kbeat_echo *echo;
	/* the answering thread */
	pthread_t thr;
	int answering, answer_delay_ms, stop;
};

static void *map_word(int fd)
{
	void *p = mmap(NULL, (size_t)getpagesize(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int setup(void **state)
{
	static struct fixture f;
	char why[200];

	memset(&f, 0, sizeof(f));
	f.fds[0] = f.fds[1] = -1;
	if (geteuid() != 0)
		return 0;
	*state = &f;
	if (kbeat_open(&f.kb, why, sizeof(why))) {
		print_message("the kernel's heartbeat does not load here: %s\n", why);
		f.kb = NULL;
		return 0;
	}
	if (kbeat_new_words(f.kb, f.fds))
		return -1;
	f.host = map_word(f.fds[KBEAT_FD_HOST]);
	f.echo = map_word(f.fds[KBEAT_FD_ECHO]);
	return f.host && f.echo ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (!f)
		return 0;
	if (f->answering) {
		f->stop = 1;
		pthread_join(f->thr, NULL);
	}
	if (f->host)
		munmap((void *)f->host, (size_t)getpagesize());
	if (f->echo)
		munmap((void *)f->echo, (size_t)getpagesize());
	for (int i = 0; i < KBEAT_NR_FDS; i++)
		if (f->fds[i] >= 0)
			close(f->fds[i]);
	kbeat_close(f->kb);
	return 0;
}

static struct fixture *need(void **state)
{
	struct fixture *f = *state;

	if (geteuid() != 0)
		test_skip("needs root (BPF)");
	if (!f || !f->kb)
		test_skip("the kernel's heartbeat does not load here (BPF timers)");
	return f;
}

/*
 * An agent that answers each beat answer_delay_ms after it was published
 * (beats come every period: with a delay longer than that, several wait),
 * and says how late it was.
 */
static void *answer(void *arg)
{
	struct fixture *f = arg;
	uint64_t seq[8], ns[8], seen = 0;
	unsigned int n = 0;

	while (!f->stop) {
		uint64_t s = __atomic_load_n(&f->host->host_seq, __ATOMIC_ACQUIRE), now;

		if (s != seen && n < 8) {
			seen = seq[n] = s;
			ns[n++] = f->host->host_ns;
		}
		now = wave_now_ns();
		while (n && now >= ns[0] + (uint64_t)f->answer_delay_ms * MS) {
			f->echo->lag_ns = now - ns[0];
			__atomic_store_n(&f->echo->echo_seq, seq[0], __ATOMIC_RELEASE);
			memmove(seq, seq + 1, --n * sizeof(seq[0]));
			memmove(ns, ns + 1, n * sizeof(ns[0]));
		}
		usleep(1000);
	}
	return NULL;
}

static void start_answering(struct fixture *f, int delay_ms)
{
	f->stop = 0;
	f->answer_delay_ms = delay_ms;
	assert_int_equal(pthread_create(&f->thr, NULL, answer, f), 0);
	f->answering = 1;
}

static void stop_answering(struct fixture *f)
{
	f->stop = 1;
	pthread_join(f->thr, NULL);
	f->answering = 0;
}

/* Waits up to ms for a stall of the current arming; 1 and *ev if one came. */
static int wait_stall(struct fixture *f, int ms, struct kbeat_event *ev)
{
	uint64_t end = wave_now_ns() + (uint64_t)ms * MS;

	while (wave_now_ns() < end) {
		struct pollfd p = { .fd = kbeat_fd(f->kb), .events = POLLIN };

		poll(&p, 1, 50);
		if (kbeat_poll(f->kb, ev) > 0)
			return 1;
	}
	return 0;
}

static void late_answers_within_the_threshold_are_no_stall(void **state)
{
	struct fixture *f = need(state);
	struct kbeat_stats st;
	struct kbeat_event ev;

	/* Later than a period (100 ms), well within the threshold (200 ms). */
	start_answering(f, 130);
	assert_int_equal(kbeat_arm(f->kb, THRESHOLD_NS), 0);
	assert_int_equal(wait_stall(f, 1500, &ev), 0);
	kbeat_get_stats(f->kb, &st);
	assert_int_equal(st.stalls, 0);
	assert_true(kbeat_armed(f->kb));
	assert_true(st.beats >= 5);
	/* The agent is told the period it is beaten at: half the threshold. */
	assert_int_equal(f->host->period_ns, THRESHOLD_NS / 2);
	/* It was late indeed (the timer keeps the agent's word, bounded by the threshold). */
	assert_true(st.max_lag_ns >= THRESHOLD_NS / 2 && st.max_lag_ns <= THRESHOLD_NS);
	stop_answering(f);
	kbeat_disarm(f->kb);
}

static void a_silent_agent_is_a_stall_a_threshold_old(void **state)
{
	struct fixture *f = need(state);
	struct kbeat_stats st;
	struct kbeat_event ev;
	uint64_t last;

	start_answering(f, 0);
	assert_int_equal(kbeat_arm(f->kb, THRESHOLD_NS), 0);
	assert_int_equal(wait_stall(f, 500, &ev), 0);
	stop_answering(f);
	last = f->echo->echo_seq;
	assert_true(last > 0);
	assert_int_equal(wait_stall(f, 2000, &ev), 1);
	/*
	 * The first beat it left unanswered, waiting the threshold: at least
	 * that, and not a period more (a check of an older beat would make
	 * it 1.5 thresholds; 50 ms of slack for a late softirq).
	 */
	assert_int_equal(ev.seq, last + 1);
	assert_true(ev.age_ns >= THRESHOLD_NS);
	assert_true(ev.age_ns < THRESHOLD_NS + THRESHOLD_NS / 4);
	assert_false(kbeat_armed(f->kb));
	kbeat_get_stats(f->kb, &st);
	assert_int_equal(st.stalls, 1);
	assert_int_equal(st.odd_echoes, 0);
}

static void an_answer_from_the_future_is_no_answer(void **state)
{
	struct fixture *f = need(state);
	struct kbeat_stats st0, st;
	struct kbeat_event ev;

	kbeat_get_stats(f->kb, &st0);
	assert_int_equal(kbeat_arm(f->kb, THRESHOLD_NS), 0);
	__atomic_store_n(&f->echo->echo_seq, UINT64_MAX / 2, __ATOMIC_RELEASE);
	assert_int_equal(wait_stall(f, 2000, &ev), 1);
	kbeat_get_stats(f->kb, &st);
	assert_int_equal(st.odd_echoes, st0.odd_echoes + 1);
	assert_false(kbeat_armed(f->kb));
	f->echo->echo_seq = 0;
}

static void a_new_arming_is_not_fooled_by_old_answers(void **state)
{
	struct fixture *f = need(state);
	struct kbeat_event ev;
	uint64_t first;

	/* The agent answered everything of an arming, then stopped. */
	start_answering(f, 0);
	assert_int_equal(kbeat_arm(f->kb, THRESHOLD_NS), 0);
	assert_int_equal(wait_stall(f, 400, &ev), 0);
	stop_answering(f);
	kbeat_disarm(f->kb);
	usleep(250 * 1000);
	/* Armed again: its answer to the old beats does not answer the new ones. */
	first = f->host->host_seq + 1;
	assert_int_equal(kbeat_arm(f->kb, THRESHOLD_NS), 0);
	assert_int_equal(wait_stall(f, 2000, &ev), 1);
	assert_int_equal(ev.seq, first);
}

/*
 * Armed again after a stall, for an agent slower than a period: the first
 * beats of the new arming are checked only once it had a threshold to
 * answer them, never against the beat the old arming left unanswered.
 */
static void a_new_arming_gives_a_slow_agent_its_threshold(void **state)
{
	struct fixture *f = need(state);
	struct kbeat_stats st;
	struct kbeat_event ev;

	assert_int_equal(kbeat_arm(f->kb, THRESHOLD_NS), 0);
	assert_int_equal(wait_stall(f, 2000, &ev), 1);
	/* Answering again, later than a period (100 ms), within the threshold. */
	start_answering(f, 130);
	assert_int_equal(kbeat_arm(f->kb, THRESHOLD_NS), 0);
	assert_int_equal(wait_stall(f, 1000, &ev), 0);
	assert_true(kbeat_armed(f->kb));
	kbeat_get_stats(f->kb, &st);
	assert_true(st.max_lag_ns >= THRESHOLD_NS / 2);
	stop_answering(f);
	kbeat_disarm(f->kb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(late_answers_within_the_threshold_are_no_stall),
		cmocka_unit_test(a_silent_agent_is_a_stall_a_threshold_old),
		cmocka_unit_test(an_answer_from_the_future_is_no_answer),
		cmocka_unit_test(a_new_arming_is_not_fooled_by_old_answers),
		cmocka_unit_test(a_new_arming_gives_a_slow_agent_its_threshold),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
