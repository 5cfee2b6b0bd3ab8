// SPDX-License-Identifier: BSD-3-Clause
/*
 * The kernel watches the agent so that waved can sleep (protocol 1.7,
 * kvm-hooks/kbeat.h). For an agent on this host's memory (shm:), waved
 * passes it the kernel's thread records and heartbeat at attach. Once the
 * agent is in charge, a BPF timer beats it every lag threshold; the agent
 * reads the records at each beat and answers it. waved then sends no
 * heartbeats and no periodic state (only new threads, pins and exits), and
 * its tick slows to the host CPUs' 100 ms: it wakes for decisions, for its
 * own slow work, and when the kernel tells of a beat left unanswered, which
 * is a fallback like a late echo. In fallback waved watches the agent on
 * the channel again, and gives the beating back to the kernel with control.
 *
 * Detection stays within two thresholds: the beat that goes unanswered was
 * published at most one threshold after the agent stopped, and is checked
 * one threshold later. An agent that never answers a beat (it could not
 * map what we passed) is watched on the channel for the rest of its attach.
 *
 * Alternative rejected: waved's own timer at the same rate (what runs
 * without BPF or on tcp://). On this host a BPF timer fire costs about half
 * a user-space wakeup ('wavectl bench wakeup'), and the agent's reading of
 * the records replaces waved's export altogether.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "kvm-hooks/kbeat.h"
#include "waved/waved.h"

const struct wave_name wv_kernel_watch_modes[] = {
	{ "auto", WV_KWATCH_AUTO }, { "off", WV_KWATCH_OFF }, { NULL, 0 },
};

/* The records' fd is ours; the heartbeat's belong to kb. */
static void close_shared(struct waved *w)
{
	if (w->cfg.chan_opts.share_fds[0] >= 0)
		close(w->cfg.chan_opts.share_fds[0]);
	for (unsigned int i = 0; i < CHAN_SHARE_FDS; i++)
		w->cfg.chan_opts.share_fds[i] = -1;
}

int wv_kwatch_wanted(const struct waved_cfg *c)
{
	return c->mode == WAVED_OFFLOAD && c->kernel_watch != WV_KWATCH_OFF && c->channel &&
	       !strncmp(c->channel, "shm:", 4);
}

int wv_kwatch_setup(struct waved *w)
{
	char why[200];
	int fd, ret;

	if (!wv_kwatch_wanted(&w->cfg))
		return 0;
	fd = obs_share_fd(w->obs);
	if (fd < 0) {
		wave_info("waved: the agent is heartbeaten by waved: the thread records cannot be "
			  "shared (%s observation: %s)", obs_name(w->obs), strerror(-fd));
		return 0;
	}
	if ((ret = kbeat_open(&w->kb, why, sizeof(why)))) {
		close(fd);
		wave_info("waved: the agent is heartbeaten by waved: no kernel heartbeat: %s", why);
		return 0;
	}
	w->cfg.chan_opts.share_fds[0] = fd;
	memcpy(&w->cfg.chan_opts.share_fds[1], kbeat_agent_fds(w->kb),
	       KBEAT_NR_FDS * sizeof(int));
	w->cfg.chan_opts.features |= WAVE_FEAT_KSTATE;
	wave_info("waved: an agent on this host's memory is beaten by the kernel every %.1f ms "
		  "while in charge, and reads the thread records itself",
		  (double)w->cfg.lag_threshold_ns / 1e6);
	return 0;
}

void wv_kwatch_fini(struct waved *w)
{
	kbeat_close(w->kb);
	w->kb = NULL;
	close_shared(w);
}

int wv_kwatch_fd(const struct waved *w)
{
	return w->kb ? kbeat_fd(w->kb) : -1;
}

void wv_kwatch_start(struct waved *w)
{
	struct kbeat_stats s;
	int ret;

	if (!w->kb || w->kw_on || !wv_agent_in_charge(w) || !w->ch || !chan_is_up(w->ch) ||
	    !(chan_peer_features(w->ch) & WAVE_FEAT_KSTATE) ||
	    w->kw_refused_gen == 1 + chan_generation(w->ch))
		return;
	kbeat_get_stats(w->kb, &s);
	if ((ret = kbeat_arm(w->kb, w->cfg.lag_threshold_ns))) {
		wave_log_rl(WAVE_LOG_WARN, "waved: cannot start the kernel's heartbeat: %s; "
			    "heartbeats on the channel", strerror(-ret));
		return;
	}
	w->kw_on = 1;
	w->kw_beats0 = s.beats;
	w->st.kwatch_starts++;
	wd_kernel(&w->wd, 1);
}

void wv_kwatch_stop(struct waved *w)
{
	if (!w->kw_on)
		return;
	kbeat_disarm(w->kb);
	w->kw_on = 0;
	wd_kernel(&w->wd, 0);
	/* The heartbeats on the channel start again now, not a period later. */
	w->next_hb = 0;
}

void wv_kwatch_event(struct waved *w)
{
	struct kbeat_event ev;
	struct kbeat_stats s;

	if (!w->kb || !kbeat_poll(w->kb, &ev) || !w->kw_on)
		return;
	w->st.wakeups_kbeat++;
	kbeat_get_stats(w->kb, &s);
	/* Only the beat published at arming (1): the agent never answered one. */
	if (s.beats - w->kw_beats0 <= 1 && w->ch) {
		w->kw_refused_gen = 1 + chan_generation(w->ch);
		w->st.kwatch_refused++;
		wave_warn("waved: the agent never answered the kernel's heartbeat: it is watched "
			  "on the channel until it attaches again");
	}
	wd_kernel_stall(&w->wd, ev.age_ns);
	w->now = wave_now_ns();
	wv_fallback_check(w);
}
