// SPDX-License-Identifier: BSD-3-Clause
/*
 * The agent watchdog (waved/fallback.h) on a fake clock: hand-back after
 * healthy heartbeats, fallback within the deadline when the agent stops
 * (SIGSTOP), lags (slow link) or dies, bogus echoes ignored, recovery
 * after a long stall.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "waved/fallback.h"

#define MS 1000000ull
#define THRESH (10 * MS)
#define PERIOD (5 * MS)

static struct watchdog w;
static uint64_t now;

/*
 * Runs the host loop for dt: a heartbeat every PERIOD, a check every ms; the
 * agent echoes each heartbeat after rtt (0: it does not answer). Returns the
 * first transition seen and when (in *at).
 */
static enum wd_event run(uint64_t dt, uint64_t rtt, uint64_t *at)
{
	uint64_t pend_seq[64], pend_t[64];
	unsigned int head = 0, tail = 0;
	enum wd_event first = WD_NONE, ev;

	for (uint64_t end = now + dt; now < end; now += MS) {
		if (now % PERIOD == 0) {
			uint64_t seq = wd_sent(&w, now);

			if (rtt) {
				pend_seq[head % 64] = seq;
				pend_t[head++ % 64] = now;
			}
		}
		while (tail < head && pend_t[tail % 64] + rtt <= now) {
			wd_echo(&w, pend_seq[tail % 64], pend_t[tail % 64], now);
			tail++;
		}
		ev = wd_check(&w, now);
		if (ev && !first) {
			first = ev;
			if (at)
				*at = now;
		}
	}
	return first;
}

static int setup(void **state)
{
	wd_init(&w, THRESH, 20);
	now = 1000 * MS;
	return 0;
}

static void hand_back_after_healthy_heartbeats(void **state)
{
	uint64_t at;

	assert_int_equal(w.state, WD_FALLBACK);
	/* Echoes without a channel up do not count. */
	assert_int_equal(run(200 * MS, 1 * MS, NULL), WD_NONE);
	wd_peer(&w, 1);
	assert_int_equal(run(200 * MS, 1 * MS, &at), WD_HAND_BACK);
	assert_int_equal(w.state, WD_OFFLOAD);
	/* 20 good echoes at one per 5 ms: about 100 ms. */
	assert_true(at - (1200 * MS) >= 95 * MS && at - (1200 * MS) <= 110 * MS);
	assert_int_equal(run(500 * MS, 1 * MS, NULL), WD_NONE);
}

static void stopped_agent_falls_back_within_deadline(void **state)
{
	uint64_t stop, at;

	wd_peer(&w, 1);
	run(200 * MS, 1 * MS, NULL);
	assert_int_equal(w.state, WD_OFFLOAD);
	stop = now;
	assert_int_equal(run(100 * MS, 0, &at), WD_ENTER_FALLBACK);
	/* Detected within 2x the threshold of the last answered heartbeat. */
	assert_true(at - stop <= 2 * THRESH);
	assert_true(at - stop > THRESH / 2);
	/* Stopped for long (far beyond the heartbeat window): stays in fallback. */
	assert_int_equal(run(2000 * MS, 0, NULL), WD_NONE);
	/* Beyond the heartbeat window the lag is a lower bound: still far over. */
	assert_true(wd_lag(&w, now) >= (WD_OUTSTANDING - 1) * PERIOD);
	/* Resumed: control comes back only after fresh healthy echoes. */
	assert_int_equal(run(300 * MS, 1 * MS, &at), WD_HAND_BACK);
}

static void slow_link_falls_back_and_recovers(void **state)
{
	uint64_t at;

	wd_peer(&w, 1);
	run(200 * MS, 1 * MS, NULL);
	assert_int_equal(run(200 * MS, 15 * MS, &at), WD_ENTER_FALLBACK);
	assert_int_equal(w.state, WD_FALLBACK);
	/* 6 ms round trips: not over the threshold, but not healthy either (>= half). */
	assert_int_equal(run(300 * MS, 6 * MS, NULL), WD_NONE);
	assert_int_equal(run(300 * MS, 2 * MS, NULL), WD_HAND_BACK);
}

static void dead_peer_falls_back_at_once(void **state)
{
	wd_peer(&w, 1);
	run(200 * MS, 1 * MS, NULL);
	wd_peer(&w, 0);
	assert_int_equal(wd_check(&w, now), WD_ENTER_FALLBACK);
	assert_string_equal(w.why, "the agent is gone");
	assert_int_equal(run(300 * MS, 1 * MS, NULL), WD_NONE);
}

static void bogus_echoes_are_ignored(void **state)
{
	uint64_t seq;

	wd_peer(&w, 1);
	seq = wd_sent(&w, now);
	wd_echo(&w, seq + 5, now, now + MS);      /* never sent */
	wd_echo(&w, seq, now + 7, now + MS);      /* not our time */
	wd_echo(&w, 0, 0, now);                   /* nonsense */
	assert_int_equal(w.bad_echoes, 3);
	assert_int_equal(w.healthy, 0);
	assert_int_equal(w.echoes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(hand_back_after_healthy_heartbeats, setup),
		cmocka_unit_test_setup(stopped_agent_falls_back_within_deadline, setup),
		cmocka_unit_test_setup(slow_link_falls_back_and_recovers, setup),
		cmocka_unit_test_setup(dead_peer_falls_back_at_once, setup),
		cmocka_unit_test_setup(bogus_echoes_are_ignored, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
