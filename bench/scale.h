/* SPDX-License-Identifier: BSD-3-Clause */
/* bench scale's two parts: stand-in threads (bench-scale.c), replayed state (scale-replay.c). */
#ifndef WAVE_BENCH_SCALE_H
#define WAVE_BENCH_SCALE_H

#define STANDIN_VCPUS_MAX 1024

/* The agent fed every vCPU's state every 10 ms through the real channel. */
struct scale_replay_point {
	unsigned int n;
	double agent_cpu_pct, decides_per_s, decide_us_p99, txns_per_s, msgs_per_s;
	double lag_p99_ms, lag_max_ms, resyncs, late_ticks;
	double agent_rss_mib;      /* the agent's resident memory: its model and policies */
	int kept_up;
};

/*
 * Plays the host for n vCPUs for secs seconds (after 2 s to settle) against
 * a wave-agent started from bindir (its --stats in rundir). Returns 0 or
 * -errno (the agent never attached, the channel could not be opened).
 */
int scale_replay(const char *bindir, const char *rundir, unsigned int n, unsigned int secs,
		 struct scale_replay_point *p);

#endif
