// SPDX-License-Identifier: BSD-3-Clause
/*
 * The kernel watches the agent so that waved can sleep (protocol 1.7,
 * kvm-hooks/kbeat.h). For an agent on this host's memory (shm:), waved
 * passes it the kernel's thread records and heartbeat at attach. Once the
 * agent is in charge, a BPF timer beats it every half lag threshold; the
 * agent reads the records at each beat and answers it. waved then sends no
 * heartbeats and no periodic state (only new threads, pins and exits), and
 * its tick slows to the host CPUs' 100 ms: it wakes for decisions, for its
 * own slow work, and when the kernel tells of a beat left unanswered, which
 * is a fallback like a late echo. In fallback waved watches the agent on
 * the channel again, and gives the beating back to the kernel with control.
 *
 * Detection stays within one and a half thresholds (plus how late the
 * timer runs): the beat that goes unanswered was published at most half a
 * threshold after the agent stopped, and is checked one threshold later.
 * An agent that never answers a beat (it could not
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

/* Arms in a row with no beat answered before an attach is watched on the channel only. */
#define KWATCH_MAX_UNANSWERED 3

/* Whether the configuration asks for it (offload on shm:, not --kernel-watch off). */
static int wanted(const struct waved_cfg *c)
{
	return c->mode == WAVED_OFFLOAD && c->kernel_watch != WV_KWATCH_OFF && c->channel &&
	       !strncmp(c->channel, "shm:", 4) && c->lag_threshold_ns >= WV_KWATCH_MIN_THRESHOLD_NS;
}

void wv_kwatch_load(struct waved *w)
{
	char why[200];

	if (!wanted(&w->cfg))
		return;
	if (kbeat_open(&w->kb, why, sizeof(why))) {
		w->kb = NULL;
		wave_info("waved: the agent is heartbeaten by waved: no kernel heartbeat: %s", why);
	}
}

/* chan_opts.share: for each offer, the records' copy and a fresh pair of words. */
static int kwatch_share(void *arg, int fds[CHAN_SHARE_FDS])
{
	struct waved *w = arg;
	int ret;

	fds[0] = obs_share_fd(w->obs);
	if (fds[0] < 0)
		return fds[0];
	if ((ret = kbeat_new_words(w->kb, fds + 1))) {
		close(fds[0]);
		return ret;
	}
	return 0;
}

void wv_kwatch_setup(struct waved *w)
{
	int fd;

	if (!w->kb)
		return;
	fd = obs_share_fd(w->obs);
	if (fd < 0) {
		wave_info("waved: the agent is heartbeaten by waved: the thread records cannot be "
			  "shared (%s observation: %s)", obs_name(w->obs), strerror(-fd));
		kbeat_close(w->kb);
		w->kb = NULL;
		return;
	}
	close(fd);
	w->cfg.chan_opts.share = kwatch_share;
	w->cfg.chan_opts.share_arg = w;
	w->cfg.chan_opts.features |= WAVE_FEAT_KSTATE;
	wave_info("waved: an agent on this host's memory is beaten by the kernel every %.1f ms "
		  "while in charge, and reads the thread records itself",
		  (double)w->cfg.lag_threshold_ns / 2e6);
}

void wv_kwatch_fini(struct waved *w)
{
	kbeat_close(w->kb);
	w->kb = NULL;
}

int wv_kwatch_fd(const struct waved *w)
{
	return w->kb ? kbeat_fd(w->kb) : -1;
}

void wv_kwatch_start(struct waved *w)
{
	struct kbeat_stats s;
	int ret;

	if (!w->kb || w->kw_on || !wv_agent_in_charge(w) || !w->ch ||
	    !(chan_features(w->ch) & WAVE_FEAT_KSTATE) ||
	    w->kw_refused_gen == 1 + chan_generation(w->ch))
		return;
	if (w->kw_gen != 1 + chan_generation(w->ch)) {
		w->kw_gen = 1 + chan_generation(w->ch);
		w->kw_unanswered = 0;
	}
	kbeat_get_stats(w->kb, &s);
	if ((ret = kbeat_arm(w->kb, w->cfg.lag_threshold_ns))) {
		wave_log_rl(WAVE_LOG_WARN, "waved: cannot start the kernel's heartbeat: %s; "
			    "heartbeats on the channel", strerror(-ret));
		return;
	}
	w->kw_on = 1;
	w->kw_beats0 = s.beats;
	w->kw_fires = s.fires;
	w->kw_fires_ns = w->now;
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
	/* Heartbeats and export on the channel start again now, not a period later. */
	w->next_hb = 0;
	w->next_export = 0;
}

/* The kernel says (or its silence says) the agent's beat went unanswered. */
static void stalled(struct waved *w, uint64_t age_ns)
{
	struct kbeat_stats s;
	int none;

	kbeat_get_stats(w->kb, &s);
	/* Only the beats published before the first check: the agent answered none. */
	none = s.beats - w->kw_beats0 <= KBEAT_FRESH_BEATS;
	if (none && ++w->kw_unanswered >= KWATCH_MAX_UNANSWERED && w->ch) {
		w->kw_refused_gen = 1 + chan_generation(w->ch);
		w->st.kwatch_refused++;
		wave_warn("waved: the agent answered none of the kernel's beats %d times: it is "
			  "watched on the channel until it attaches again", KWATCH_MAX_UNANSWERED);
	} else if (!none) {
		w->kw_unanswered = 0;
	}
	wd_kernel_stall(&w->wd, age_ns);
	w->now = wave_now_ns();
	wv_fallback_check(w);
}

void wv_kwatch_event(struct waved *w)
{
	struct kbeat_event ev;

	if (!w->kb || !kbeat_poll(w->kb, &ev) || !w->kw_on)
		return;
	stalled(w, ev.age_ns);
}

/*
 * At waved's tick: a timer that stopped without a word (its stall lost to a
 * full ring, or a failed restart) is a stall too, so that no agent is ever
 * left unwatched.
 */
void wv_kwatch_check(struct waved *w)
{
	struct kbeat_stats s;

	/* A stall the timer pushed, not yet taken (its wakeup in the same batch as this tick). */
	wv_kwatch_event(w);
	if (!w->kw_on)
		return;
	kbeat_get_stats(w->kb, &s);
	wd_kernel_lag(&w->wd, s.last_lag_ns, s.max_lag_ns);
	if (s.fires != w->kw_fires) {
		w->kw_fires = s.fires;
		w->kw_fires_ns = w->now;
	}
	if (kbeat_armed(w->kb) && w->now - w->kw_fires_ns <= 3 * w->cfg.lag_threshold_ns)
		return;
	w->st.kwatch_silent++;
	wave_log_rl(WAVE_LOG_WARN, "waved: the kernel's heartbeat stopped without a stall: "
		    "taken as one");
	stalled(w, w->now - w->kw_fires_ns);
}
