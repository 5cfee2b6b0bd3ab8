/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * waved's watchdog over the agent: a pure state machine driven by the time
 * the caller passes in, so tests run it on a fake clock. What waved does on
 * each transition is in fallback.c too (declared in waved.h).
 *
 * waved sends a HEARTBEAT with every export tick, carrying its send time;
 * the agent echoes it at once. While the agent is in charge the echo rings
 * no doorbell (wire.h 1.4): waved finds it on its next wakeup, at the latest
 * the tick that sends the next heartbeat, or the watchdog deadline when
 * that comes first. An echo found then proves the agent answered in time;
 * what it cannot give is a round trip, so the lag in that state is the age
 * of the oldest heartbeat not yet echoed. While the host is in control the
 * heartbeats ask for PROMPT echoes, which ring, so their round trip is
 * measured; the lag is then that round trip with none outstanding.
 * A lag over the threshold, a dead peer or a broken channel means
 * FALLBACK: the host runs its fallback policy and refuses the agent's
 * decisions. After handback_n prompt echoes that came back within half
 * the threshold, with no slow or bad one between them (lazy echoes neither
 * count nor break the run), the watchdog hands control back (the caller bumps the
 * epoch and sends a full snapshot first).
 */
#ifndef WAVE_WAVED_FALLBACK_H
#define WAVE_WAVED_FALLBACK_H

#include <stdint.h>

enum wd_state {
	WD_FALLBACK = 0,  /* the host is in control (also: no agent yet) */
	WD_OFFLOAD = 1,   /* the agent is in control */
};

enum wd_event { WD_NONE = 0, WD_ENTER_FALLBACK, WD_HAND_BACK };

#define WD_OUTSTANDING 64

struct watchdog {
	uint64_t threshold_ns;
	unsigned int handback_n;
	enum wd_state state;
	int peer_up;
	uint64_t next_seq;           /* of the next heartbeat */
	uint64_t sent_ns[WD_OUTSTANDING]; /* send time by seq % WD_OUTSTANDING */
	uint64_t oldest_seq;         /* first not yet echoed */
	uint64_t oldest_sent_ns;     /* ... its send time (if oldest_seq < next_seq); kept
				      * apart from sent_ns[], whose window the unanswered
				      * heartbeats of a stopped agent overrun */
	uint64_t last_rtt_ns;        /* of the last prompt echo; 0 after a lazy one */
	uint64_t last_hold_ns, max_hold_ns; /* the agent's hold time (its clock) */
	uint64_t max_lag_ns;         /* worst lag seen in the current state */
	unsigned int healthy;        /* good echoes in a row */
	uint64_t transitions, echoes, bad_echoes;
	uint64_t lazy_echoes;        /* of echoes: read without a doorbell */
	const char *why;             /* reason of the last transition */
	/* The kernel beats the agent instead (wd_kernel): no heartbeats on the channel. */
	int kernel;
	int kernel_stalled;          /* ... and it told of a beat left unanswered */
	uint64_t kernel_lag_ns;      /* ... for how long by then */
	uint64_t kernel_stalls;
};

void wd_init(struct watchdog *w, uint64_t threshold_ns, unsigned int handback_n);

/* A heartbeat is about to go out at now: returns its sequence number. */
uint64_t wd_sent(struct watchdog *w, uint64_t now);

/* Whether the next heartbeat asks for a prompt echo (WAVE_HB_PROMPT). */
static inline int wd_prompt(const struct watchdog *w)
{
	return w->state == WD_FALLBACK;
}

/*
 * An echo of heartbeat seq sent at t_host, held hold_ns by the agent, was
 * read at now; prompt: the heartbeat asked for a prompt echo. Echoes that
 * do not match a heartbeat we sent (unknown seq, wrong time) are counted
 * and ignored.
 */
void wd_echo(struct watchdog *w, uint64_t seq, uint64_t t_host, uint64_t hold_ns, int prompt,
	     uint64_t now);

/* The channel to the agent came up or went down. */
void wd_peer(struct watchdog *w, int up);

/* The lag now (see above). */
uint64_t wd_lag(const struct watchdog *w, uint64_t now);

/*
 * When the lag will cross the threshold if no echo comes: the oldest
 * unanswered heartbeat's send time + threshold; 0 if none is outstanding.
 * A caller that checks exactly then sees a dead agent at the threshold,
 * not up to a heartbeat period later.
 */
uint64_t wd_deadline(const struct watchdog *w);

/*
 * The kernel takes over (on) or gives back (off) the beating of the agent
 * (kvm-hooks/kbeat.h). Either way the heartbeats outstanding on the channel
 * are forgotten; while on, the lag is what wd_kernel_lag() says until
 * wd_kernel_stall(), and off
 * starts a new run of healthy echoes.
 */
void wd_kernel(struct watchdog *w, int on);

/*
 * What the agent said of its answers' lag (the last, the most since the
 * kernel took over): shown as the lag, never a reason to fall back (the
 * kernel bounds it by its period; a stall is).
 */
void wd_kernel_lag(struct watchdog *w, uint64_t lag_ns, uint64_t max_ns);

/* The kernel saw a beat unanswered for age_ns: the next check falls back. */
void wd_kernel_stall(struct watchdog *w, uint64_t age_ns);

/* Evaluates at now; returns the transition to act on, if any. */
enum wd_event wd_check(struct watchdog *w, uint64_t now);

#endif
