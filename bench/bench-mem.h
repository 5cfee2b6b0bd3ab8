/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * 'wavectl bench mem': what it measures (bench-mem.c) and how it is
 * reported (mem-results.c): goals, JSON, the table, report.md and plots.
 */
#ifndef WAVE_BENCH_MEM_H
#define WAVE_BENCH_MEM_H

#include <stdint.h>

#include "bench/goals.h"
#include "bench/range.h"

enum bm_mode { BM_STATIC = 0, BM_NONE, BM_OFFLOAD, BM_ONHOST, BM_NR_MODES };
enum bm_phase { BM_SKEW = 0, BM_SHIFT, BM_SPIKE, BM_NR_PHASES };

extern const char *const bm_mode_names[BM_NR_MODES];
/* waved's status counters of its memory work: reads by kind, balloons set, libvirt calls (reported as KEY_per_s). */
#define BM_NR_READS 6
extern const char *const bm_read_keys[BM_NR_READS];
extern const char *const bm_phase_names[BM_NR_PHASES];

#define BM_NR_VMS 3
#define BM_MAX_SAMPLES 2048
#define BM_NEVER_MS 1e9

/* One sample of the timeline: each VM's balloon and demand, MiB. */
struct bm_sample {
	double t_s;                     /* since the phase began */
	double balloon[BM_NR_VMS], demand[BM_NR_VMS];
};

struct bm_phase_result {
	unsigned int reps;              /* runs measured */
	struct bench_range work;        /* work units/s, all VMs together, each run */
	double work_vm_sum[BM_NR_VMS];  /* ... per VM, summed over runs */
	double majflt_sum, swapin_sum;  /* per second, all VMs, summed over runs */
	uint64_t oom_kills;             /* all runs */
	double budget_max_pct;          /* the highest sum of balloons over the budget, any run */
	double rss_sum;                 /* MiB, mean over the phase, summed over runs */
	struct bench_range react_ms;    /* spike: from the rise to enough memory again, each run
					 * (BM_NEVER_MS: not before the phase ended) */
	double waved_pct_sum, agent_pct_sum, waved_mem_pct_sum, libvirtd_pct_sum;
	double reads_sum[BM_NR_READS], rearms_sum; /* waved's reads a second, by kind; re-arms */
	struct bm_sample tl[BM_MAX_SAMPLES]; /* the last run's timeline */
	unsigned int tl_n;
};

struct bm_results {
	struct bm_phase_result r[BM_NR_MODES][BM_NR_PHASES];
	unsigned int modes;             /* bit per mode that ran */
	unsigned int runs, phase_s, budget_mib, vm_max_mib;
	unsigned int demand[BM_NR_PHASES][BM_NR_VMS]; /* MiB (spike: after the jump) */
	unsigned int low_mib;           /* spike: "enough memory again": MemAvailable above this */
	char accel[16];
	char kernel[64];         /* the guests' kernel (the images' kernel-version), "" if unknown */
};

static inline double bm_mean(const struct bm_phase_result *p, double sum)
{
	return p->reps ? sum / p->reps : 0;
}


#define BM_MAX_GOALS 16
unsigned int bm_goals(const struct bm_results *res, struct bench_goal_row *g);
void bm_print_json(const struct bm_results *res);
void bm_print_table(const struct bm_results *res);
/* DIR/report.md and per mode a plot of each VM's balloon and demand over time. 0 or -errno. */
int bm_report(const struct bm_results *res, const char *dir);

#endif
