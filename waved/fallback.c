// SPDX-License-Identifier: BSD-3-Clause
/*
 * Who is in charge of the host, and when that changes: the watchdog over
 * the agent (a pure state machine on the caller's clock, fallback.h), its
 * deadline timer in waved, and what waved does on each transition: enter
 * fallback (drop prestaged decisions, restore every baseline or start the
 * local policy afresh) or hand control back (new epoch, full snapshot).
 *
 * The state machine is apart from waved so tests drive it on a fake
 * clock; the rest needs waved's tables and is tested through waved.
 */
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "ipu-sched/sched.h"
#include "waved/waved.h"

void wd_init(struct watchdog *w, uint64_t threshold_ns, unsigned int handback_n)
{
	memset(w, 0, sizeof(*w));
	w->threshold_ns = threshold_ns;
	w->handback_n = handback_n ? handback_n : 1;
	w->state = WD_FALLBACK;
	w->next_seq = 1;
	w->oldest_seq = 1;
	w->why = "no agent yet";
}

uint64_t wd_sent(struct watchdog *w, uint64_t now)
{
	uint64_t seq = w->next_seq++;

	if (w->oldest_seq == seq)
		w->oldest_sent_ns = now;
	w->sent_ns[seq % WD_OUTSTANDING] = now;
	return seq;
}

/* Send time of heartbeat seq, if the window still holds it, else 0. */
static uint64_t sent_time(const struct watchdog *w, uint64_t seq)
{
	return w->next_seq - seq <= WD_OUTSTANDING ? w->sent_ns[seq % WD_OUTSTANDING] : 0;
}

void wd_echo(struct watchdog *w, uint64_t seq, uint64_t t_host, uint64_t hold_ns, int prompt,
	     uint64_t now)
{
	uint64_t sent;

	if (seq < w->oldest_seq || seq >= w->next_seq) {
		w->bad_echoes++;
		return;
	}
	/* Echoes come back in order: this one also answers every older heartbeat. */
	w->oldest_seq = seq + 1;
	if (w->oldest_seq < w->next_seq) {
		/* Out of the window only after a bad echo (below): then a lower bound. */
		w->oldest_sent_ns = sent_time(w, w->oldest_seq);
		if (!w->oldest_sent_ns)
			w->oldest_sent_ns = w->sent_ns[(w->next_seq - WD_OUTSTANDING) % WD_OUTSTANDING];
	}
	sent = sent_time(w, seq);
	if (!sent || sent != t_host || now < t_host) {
		/* Too old to check (a long stall) or not what we sent: no evidence of health. */
		w->bad_echoes++;
		w->healthy = 0;
		return;
	}
	w->echoes++;
	w->last_hold_ns = hold_ns;
	if (hold_ns > w->max_hold_ns)
		w->max_hold_ns = hold_ns;
	if (!prompt) {
		/* Read when waved next looked: answered in time, round trip unknown. */
		w->lazy_echoes++;
		w->last_rtt_ns = 0;
		return;
	}
	w->last_rtt_ns = now - t_host;
	if (w->last_rtt_ns < w->threshold_ns / 2)
		w->healthy++;
	else
		w->healthy = 0;
}

void wd_peer(struct watchdog *w, int up)
{
	w->peer_up = up;
	w->healthy = 0;
	/* Heartbeats sent to a previous peer will never be answered. */
	w->oldest_seq = w->next_seq;
	w->last_rtt_ns = 0;
}

void wd_kernel(struct watchdog *w, int on)
{
	w->kernel = on;
	w->kernel_stalled = 0;
	w->kernel_lag_ns = 0;
	w->oldest_seq = w->next_seq;
	w->last_rtt_ns = 0;
	if (!on)
		w->healthy = 0;
}

void wd_kernel_lag(struct watchdog *w, uint64_t lag_ns, uint64_t max_ns)
{
	if (!w->kernel || w->kernel_stalled)
		return;
	w->kernel_lag_ns = lag_ns;
	if (max_ns > w->max_lag_ns)
		w->max_lag_ns = max_ns;
}

void wd_kernel_stall(struct watchdog *w, uint64_t age_ns)
{
	if (!w->kernel)
		return;
	w->kernel_stalled = 1;
	w->kernel_lag_ns = age_ns;
	w->kernel_stalls++;
}

uint64_t wd_lag(const struct watchdog *w, uint64_t now)
{
	uint64_t sent = w->oldest_sent_ns;

	if (w->kernel)
		return w->kernel_lag_ns;
	if (w->oldest_seq < w->next_seq && now > sent && now - sent > w->last_rtt_ns)
		return now - sent;
	return w->last_rtt_ns;
}

uint64_t wd_deadline(const struct watchdog *w)
{
	if (w->kernel || w->oldest_seq >= w->next_seq)
		return 0;
	return w->oldest_sent_ns + w->threshold_ns + 1;
}

enum wd_event wd_check(struct watchdog *w, uint64_t now)
{
	uint64_t lag = wd_lag(w, now);

	if (lag > w->max_lag_ns)
		w->max_lag_ns = lag;
	if (w->state == WD_OFFLOAD) {
		if (!w->peer_up)
			w->why = "the agent is gone";
		else if (w->kernel_stalled)
			w->why = "the agent left the kernel's beat unanswered";
		else if (lag > w->threshold_ns)
			w->why = "the agent lags";
		else
			return WD_NONE;
		w->state = WD_FALLBACK;
		w->healthy = 0;
		w->transitions++;
		return WD_ENTER_FALLBACK;
	}
	if (w->peer_up && w->healthy >= w->handback_n && lag < w->threshold_ns / 2) {
		w->state = WD_OFFLOAD;
		w->why = "the agent is healthy";
		w->transitions++;
		w->max_lag_ns = 0;
		return WD_HAND_BACK;
	}
	return WD_NONE;
}

const struct wave_name wv_modes[] = {
	{ "offload", WAVED_OFFLOAD }, { "onhost", WAVED_ONHOST }, { "observe", WAVED_OBSERVE },
	{ NULL, 0 },
};

const struct wave_name wv_fallbacks[] = {
	{ "cfs", WAVED_FB_CFS }, { "local", WAVED_FB_LOCAL }, { NULL, 0 },
};

const struct wave_name wv_wake_modes[] = {
	{ "policy", WV_WAKE_POLICY }, { "none", WV_WAKE_NONE }, { NULL, 0 },
};

int wv_agent_in_charge(const struct waved *w)
{
	return w->cfg.mode == WAVED_OFFLOAD && w->wd.state == WD_OFFLOAD;
}

int wv_awaits_handback(const struct waved *w)
{
	return w->cfg.mode == WAVED_OFFLOAD && w->wd.state == WD_FALLBACK;
}

int wv_runs_policy(const struct waved *w)
{
	if (w->cfg.mode == WAVED_ONHOST)
		return 1;
	return w->cfg.mode == WAVED_OFFLOAD && w->cfg.fallback == WAVED_FB_LOCAL &&
	       w->wd.state == WD_FALLBACK;
}

static void enter_fallback(struct waved *w)
{
	w->st.fallbacks++;
	w->st.last_fallback_ns = wave_now_ns();
	w->st.last_fallback_lag_ns = wd_lag(&w->wd, w->st.last_fallback_ns);
	wave_warn("waved: FALLBACK: %s (lag %.2f ms, threshold %.2f ms); policy %s on the host",
		  w->wd.why, (double)w->st.last_fallback_lag_ns / 1e6,
		  (double)w->cfg.lag_threshold_ns / 1e6,
		  w->cfg.fallback == WAVED_FB_LOCAL ? w->cfg.policy->ops->name : "cfs");
	wv_kwatch_stop(w);
	wv_drop_prestaged(w, NULL, WAVE_ST_FALLBACK);
	if (w->cfg.fallback == WAVED_FB_CFS)
		wv_restore_all(w, "fallback to CFS");
	else if (w->local)
		sched_reset(w->local);
}

/* The agent is healthy again: a new epoch, so nothing decided before it applies. */
static void hand_back(struct waved *w)
{
	w->st.handbacks++;
	w->epoch++;
	wave_info("waved: HAND-BACK: %s (lag %.2f ms); epoch %u, full snapshot", w->wd.why,
		  (double)wd_lag(&w->wd, w->now) / 1e6, w->epoch);
	wv_drop_prestaged(w, NULL, WAVE_ST_STALE_EPOCH);
	if (w->local)
		sched_reset(w->local);
	wv_snapshot(w);
	wv_kwatch_start(w);
}

/*
 * No slot hogging: an agent that stays attached but unhealthy (no echoes in
 * time, so never handed control) for evict_ns is disconnected, so that the
 * real one, or a restarted one, can attach.
 */
static void evict_unhealthy(struct waved *w)
{
	if (!w->ch || !chan_is_up(w->ch) || w->wd.state == WD_OFFLOAD) {
		w->unhealthy_since = 0;
		return;
	}
	if (!w->unhealthy_since) {
		w->unhealthy_since = w->now;
		return;
	}
	if (w->now - w->unhealthy_since < w->cfg.evict_ns)
		return;
	w->st.evictions++;
	w->unhealthy_since = 0;
	wave_warn("waved: the attached agent stayed unhealthy for %.0f s (%s): disconnected",
		  (double)w->cfg.evict_ns / 1e9, w->wd.why);
	chan_drop(w->ch, "unhealthy too long");
}

void wv_fallback_check(struct waved *w)
{
	if (w->cfg.mode != WAVED_OFFLOAD)
		return;
	evict_unhealthy(w);
	switch (wd_check(&w->wd, w->now)) {
	case WD_ENTER_FALLBACK:
		enter_fallback(w);
		break;
	case WD_HAND_BACK:
		hand_back(w);
		break;
	case WD_NONE:
		return;
	}
	wv_update_notify(w);
}

/*
 * The watchdog timer is armed only for a deadline that comes before the
 * next tick: the tick reads echoes and checks anyway, so in the steady
 * state (each heartbeat answered before the tick that sends the next) the
 * timer is never set and never fires.
 */
void wv_fallback_arm(struct waved *w)
{
	uint64_t when = wv_agent_in_charge(w) ? wd_deadline(&w->wd) : 0;

	if (when && when >= w->now + w->tick_ns)
		when = 0;

	if (when == w->wd_armed)
		return;
	w->wd_armed = when;
	wave_timerfd_at(w->wdfd, when);
}

int wv_fallback_timer(struct waved *w)
{
	uint64_t v;

	if (read(w->wdfd, &v, sizeof(v)) < 0)
		return 0;
	w->wd_armed = 0;
	return 1;
}
