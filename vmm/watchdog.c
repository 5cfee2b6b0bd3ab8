// SPDX-License-Identifier: BSD-3-Clause
/* The agent watchdog (watchdog.h). */
#include <string.h>

#include "vmm/watchdog.h"

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

	w->sent_ns[seq % WD_OUTSTANDING] = now;
	return seq;
}

/* Send time of heartbeat seq, if the window still holds it, else 0. */
static uint64_t sent_time(const struct watchdog *w, uint64_t seq)
{
	return w->next_seq - seq <= WD_OUTSTANDING ? w->sent_ns[seq % WD_OUTSTANDING] : 0;
}

void wd_echo(struct watchdog *w, uint64_t seq, uint64_t t_host, uint64_t now)
{
	uint64_t sent;

	if (seq < w->oldest_seq || seq >= w->next_seq) {
		w->bad_echoes++;
		return;
	}
	/* Echoes come back in order: this one also answers every older heartbeat. */
	w->oldest_seq = seq + 1;
	sent = sent_time(w, seq);
	if (!sent || sent != t_host || now < t_host) {
		/* Too old to check (a long stall) or not what we sent: no evidence of health. */
		w->bad_echoes++;
		w->healthy = 0;
		return;
	}
	w->echoes++;
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

uint64_t wd_lag(const struct watchdog *w, uint64_t now)
{
	if (w->oldest_seq < w->next_seq) {
		/* Past the window, the oldest send time we still hold is a lower bound. */
		uint64_t seq = w->next_seq - w->oldest_seq > WD_OUTSTANDING ?
			       w->next_seq - WD_OUTSTANDING : w->oldest_seq;
		uint64_t sent = w->sent_ns[seq % WD_OUTSTANDING];

		if (now > sent && now - sent > w->last_rtt_ns)
			return now - sent;
	}
	return w->last_rtt_ns;
}

uint64_t wd_deadline(const struct watchdog *w)
{
	uint64_t seq;

	if (w->oldest_seq >= w->next_seq)
		return 0;
	seq = w->next_seq - w->oldest_seq > WD_OUTSTANDING ? w->next_seq - WD_OUTSTANDING
							   : w->oldest_seq;
	return w->sent_ns[seq % WD_OUTSTANDING] + w->threshold_ns + 1;
}

enum wd_event wd_check(struct watchdog *w, uint64_t now)
{
	uint64_t lag = wd_lag(w, now);

	if (lag > w->max_lag_ns)
		w->max_lag_ns = lag;
	if (w->state == WD_OFFLOAD) {
		if (!w->peer_up)
			w->why = "the agent is gone";
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
