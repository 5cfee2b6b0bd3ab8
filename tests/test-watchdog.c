// SPDX-License-Identifier: BSD-3-Clause
/*
 * The agent watchdog (waved/fallback.h) on a fake clock: hand-back after
 * healthy heartbeats, fallback within the deadline when the agent stops
 * (SIGSTOP), lags (slow link) or dies, bogus echoes ignored, recovery
 * after a long stall; and waved's way of reading echoes while the agent is
 * in charge (lazily: at the tick that sends the next heartbeat, or at the
 * watchdog deadline when it comes first), which must see the same
 * failures within 2x the threshold with no wakeup beyond the tick; and
 * the kernel beating the agent instead.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
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
	int pend_prompt[64];
	unsigned int head = 0, tail = 0;
	enum wd_event first = WD_NONE, ev;

	for (uint64_t end = now + dt; now < end; now += MS) {
		if (now % PERIOD == 0) {
			uint64_t seq = wd_sent(&w, now);

			if (rtt) {
				pend_prompt[head % 64] = wd_prompt(&w);
				pend_seq[head % 64] = seq;
				pend_t[head++ % 64] = now;
			}
		}
		while (tail < head && pend_t[tail % 64] + rtt <= now) {
			wd_echo(&w, pend_seq[tail % 64], pend_t[tail % 64], 0, pend_prompt[tail % 64],
				now);
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
	/* Far beyond the heartbeat window the lag is still the stop's whole age. */
	assert_true(wd_lag(&w, now) >= 2000 * MS);
	/* Resumed: control comes back only after fresh healthy echoes. */
	assert_int_equal(run(300 * MS, 1 * MS, &at), WD_HAND_BACK);
}

/*
 * A threshold many heartbeat periods long: more heartbeats go unanswered
 * than the window of send times holds, and the lag must keep growing.
 */
static void stop_longer_than_the_heartbeat_window_is_seen(void **state)
{
	const uint64_t thr = 2 * WD_OUTSTANDING * PERIOD;
	uint64_t stop, at;

	wd_init(&w, thr, 20);
	wd_peer(&w, 1);
	run(300 * MS, 1 * MS, NULL);
	assert_int_equal(w.state, WD_OFFLOAD);
	stop = now;
	assert_int_equal(run(2 * thr, 0, &at), WD_ENTER_FALLBACK);
	assert_true(at - stop > thr && at - stop <= thr + PERIOD + MS);
	assert_true(wd_deadline(&w) == 0 || wd_deadline(&w) <= stop + PERIOD + thr + 1);
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
	wd_echo(&w, seq + 5, now, 0, 1, now + MS);      /* never sent */
	wd_echo(&w, seq, now + 7, 0, 1, now + MS);      /* not our time */
	wd_echo(&w, 0, 0, 0, 1, now);                   /* nonsense */
	assert_int_equal(w.bad_echoes, 3);
	assert_int_equal(w.healthy, 0);
	assert_int_equal(w.echoes, 0);
}

/*
 * waved's loop as it runs while the agent is in charge, on the fake clock
 * in 100 us steps: a tick every TICK (= the threshold, as with waved's
 * defaults) reads the echoes that have arrived, checks, then sends the next
 * heartbeat; the watchdog timer fires at wd_deadline() only if that comes
 * before the next tick (waved's wv_fallback_arm). A prompt heartbeat's echo
 * rings (read on arrival); any other waits for waved's next wakeup. The
 * agent answers after rtt while now < agent_stop. Counts wakeups that were
 * not ticks in *extra.
 */
#define TICK THRESH
#define STEP (MS / 10)

struct lazy {
	uint64_t seq[256], at[256], t_host[256];
	int prompt[256];
	unsigned int head, tail;
	unsigned int extra;
	uint64_t next_tick;
};

static void lazy_read(struct lazy *l, int rung_only)
{
	while (l->tail < l->head && l->at[l->tail % 256] <= now &&
	       (!rung_only || l->prompt[l->tail % 256])) {
		unsigned int i = l->tail++ % 256;

		wd_echo(&w, l->seq[i], l->t_host[i], 20000, l->prompt[i], now);
	}
}

static enum wd_event lazy_run(struct lazy *l, uint64_t dt, uint64_t rtt, uint64_t agent_stop,
			      uint64_t *at)
{
	uint64_t timer = 0;
	enum wd_event ev, first = WD_NONE;

	if (!l->next_tick)
		l->next_tick = now - now % TICK + TICK;

	for (uint64_t end = now + dt; now < end; now += STEP) {
		int woke = 0;

		lazy_read(l, 1);
		if (now >= l->next_tick) {
			uint64_t seq;

			lazy_read(l, 0);
			ev = wd_check(&w, now);
			seq = wd_sent(&w, now);
			if (now + rtt < agent_stop) {
				l->prompt[l->head % 256] = wd_prompt(&w);
				l->seq[l->head % 256] = seq;
				l->t_host[l->head % 256] = now;
				l->at[l->head++ % 256] = now + rtt;
			}
			l->next_tick += TICK;
			woke = 1;
		} else if (timer && now >= timer) {
			lazy_read(l, 0);
			ev = wd_check(&w, now);
			l->extra++;
			woke = 1;
		} else {
			ev = WD_NONE;
		}
		if (ev && !first) {
			first = ev;
			*at = now;
		}
		if (woke) {
			uint64_t d = w.state == WD_OFFLOAD ? wd_deadline(&w) : 0;

			timer = d && d < l->next_tick ? d : 0;
		}
	}
	return first;
}

/* In charge, answering at once: no echo is timed, none is late, no wakeup but the tick. */
static void lazy_echoes_cost_no_wakeup(void **state)
{
	static struct lazy l;
	uint64_t at = 0;

	wd_peer(&w, 1);
	assert_int_equal(lazy_run(&l, 400 * MS, 50000, UINT64_MAX, &at), WD_HAND_BACK);
	l.extra = 0;
	assert_int_equal(lazy_run(&l, 2000 * MS, 50000, UINT64_MAX, &at), WD_NONE);
	assert_int_equal(w.state, WD_OFFLOAD);
	assert_int_equal(l.extra, 0);
	assert_true(w.lazy_echoes >= 190);
	assert_int_equal(w.max_hold_ns, 20000);
	/* In charge, lag is what is outstanding: at most a tick, never over the threshold. */
	assert_true(wd_lag(&w, now) <= THRESH);
}

/* The agent stops at every point of a tick period: seen within 2x the threshold each time. */
static void lazy_reading_sees_a_stop_within_twice_the_threshold(void **state)
{
	for (uint64_t off = 0; off < TICK; off += TICK / 8) {
		static struct lazy l;
		uint64_t stop, at = 0;

		memset(&l, 0, sizeof(l));
		wd_init(&w, THRESH, 20);
		now = 1000 * MS;
		wd_peer(&w, 1);
		assert_int_equal(lazy_run(&l, 400 * MS, 50000, UINT64_MAX, &at), WD_HAND_BACK);
		lazy_run(&l, off, 50000, UINT64_MAX, &at);
		stop = now;
		assert_int_equal(lazy_run(&l, 100 * MS, 50000, stop, &at), WD_ENTER_FALLBACK);
		/* ... plus the clock's step: the deadline is "over", not "at", the threshold. */
		assert_true(at - stop <= 2 * THRESH + STEP);
		assert_true(at - stop >= THRESH - TICK / 8);
	}
}

/* A link slower than the threshold: caught with lazy reading too; fast again: handed back. */
static void lazy_reading_sees_a_slow_link(void **state)
{
	static struct lazy l;
	uint64_t at = 0;

	wd_peer(&w, 1);
	assert_int_equal(lazy_run(&l, 400 * MS, 50000, UINT64_MAX, &at), WD_HAND_BACK);
	assert_int_equal(lazy_run(&l, 200 * MS, 12 * MS, UINT64_MAX, &at), WD_ENTER_FALLBACK);
	/* Echoes from before the slowdown still arrive, in order, in fallback. */
	assert_int_equal(lazy_run(&l, 200 * MS, 6 * MS, UINT64_MAX, &at), WD_NONE);
	/* Back in charge only on prompt, timed echoes within half the threshold. */
	assert_int_equal(lazy_run(&l, 400 * MS, 1 * MS, UINT64_MAX, &at), WD_HAND_BACK);
}

/*
 * The kernel beats the agent (waved/kwatch.c): while it does, no heartbeat
 * is outstanding, so the lag is 0 and there is no deadline to wake for; a
 * stall it reports falls back at the next check, with the stall's age as
 * the lag; given back, the watchdog needs fresh healthy echoes again.
 */
static void kernel_beating_costs_no_deadline_and_a_stall_falls_back(void **state)
{
	uint64_t at;

	wd_peer(&w, 1);
	run(200 * MS, 1 * MS, NULL);
	assert_int_equal(w.state, WD_OFFLOAD);
	/* A heartbeat sent before the kernel took over will never be answered: forgotten. */
	wd_sent(&w, now);
	wd_kernel(&w, 1);
	assert_int_equal(wd_deadline(&w), 0);
	now += 500 * MS;
	assert_int_equal(wd_lag(&w, now), 0);
	assert_int_equal(wd_check(&w, now), WD_NONE);
	/* The agent's word on its lag is shown, never a reason to fall back. */
	wd_kernel_lag(&w, 2 * MS, 4 * MS);
	assert_int_equal(wd_lag(&w, now), 2 * MS);
	assert_int_equal(w.max_lag_ns, 4 * MS);
	assert_int_equal(wd_check(&w, now), WD_NONE);
	/* A stall of 12 ms: fallback, and the lag says how long the beat waited. */
	wd_kernel_stall(&w, 12 * MS);
	assert_int_equal(wd_lag(&w, now), 12 * MS);
	assert_int_equal(wd_check(&w, now), WD_ENTER_FALLBACK);
	assert_string_equal(w.why, "the agent left the kernel's beat unanswered");
	assert_int_equal(w.kernel_stalls, 1);
	/* waved takes the watch back: heartbeats on the channel, a new run of echoes. */
	wd_kernel(&w, 0);
	assert_int_equal(w.healthy, 0);
	assert_int_equal(run(50 * MS, 1 * MS, NULL), WD_NONE);
	assert_int_equal(run(200 * MS, 1 * MS, &at), WD_HAND_BACK);
	/* A stall reported when the kernel is not beating (a late event) changes nothing. */
	wd_kernel_stall(&w, 50 * MS);
	assert_int_equal(w.kernel_stalled, 0);
	assert_int_equal(wd_check(&w, now), WD_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(hand_back_after_healthy_heartbeats, setup),
		cmocka_unit_test_setup(stopped_agent_falls_back_within_deadline, setup),
		cmocka_unit_test_setup(stop_longer_than_the_heartbeat_window_is_seen, setup),
		cmocka_unit_test_setup(slow_link_falls_back_and_recovers, setup),
		cmocka_unit_test_setup(dead_peer_falls_back_at_once, setup),
		cmocka_unit_test_setup(bogus_echoes_are_ignored, setup),
		cmocka_unit_test_setup(lazy_echoes_cost_no_wakeup, setup),
		cmocka_unit_test_setup(lazy_reading_sees_a_stop_within_twice_the_threshold, setup),
		cmocka_unit_test_setup(lazy_reading_sees_a_slow_link, setup),
		cmocka_unit_test_setup(kernel_beating_costs_no_deadline_and_a_stall_falls_back, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
