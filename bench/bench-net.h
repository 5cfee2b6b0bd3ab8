/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * 'wavectl bench net': results of one run of every mode and phase (see
 * bench-net.c for what is measured), and their goals, JSON, table and
 * report (net-results.c).
 */
#ifndef WAVE_BENCH_NET_H
#define WAVE_BENCH_NET_H

#include <stdint.h>

#include "bench/goals.h"
#include "bench/range.h"

enum bn_mode { BN_BRIDGE = 0, BN_TC, BN_SWITCH, BN_OFFLOAD, BN_ONHOST, BN_NR_MODES };
enum bn_phase { BN_STEADY = 0, BN_FLOOD, BN_BURST, BN_NR_PHASES };

extern const char *const bn_mode_names[BN_NR_MODES];
extern const char *const bn_phase_names[BN_NR_PHASES];

struct bn_phase_result {
	unsigned int reps;
	struct bench_range p50_us, p99_us, noisy_mbit, share_pct;
	double lost_sum, sent_sum, pps_sum, lat_mbit_sum;
	double switch_pct_sum, waved_pct_sum, agent_pct_sum;
};

struct bn_results {
	struct bn_phase_result r[BN_NR_MODES][BN_NR_PHASES];
	struct bench_range switch_idle_pct; /* the switch with nothing to forward, each run */
	unsigned int modes, runs, phase_s, link_mbit, tc_mbit;
	unsigned int rate, burst_rate;  /* echo requests/s: steady and flood, burst */
	char accel[16];
	char policy[32];                /* the scheduling policy in offload and onhost */
};

static inline double bn_mean(const struct bn_phase_result *p, double sum)
{
	return p->reps ? sum / p->reps : 0;
}

#define BN_MAX_GOALS 24
unsigned int bn_goals(const struct bn_results *res, struct bench_goal_row *g);
void bn_print_json(const struct bn_results *res);
void bn_print_table(const struct bn_results *res);
/* DIR/report.md and DIR/latency.png (p99 per mode and phase). 0 or -errno. */
int bn_report(const struct bn_results *res, const char *dir);

#endif
