/* SPDX-License-Identifier: BSD-3-Clause */
/* Results of 'wavectl bench sched', shared by the run (bench-sched.c) and the report. */
#ifndef WAVE_BENCH_SCHED_H
#define WAVE_BENCH_SCHED_H

#include <stdint.h>

#include "bench/range.h"
#include "bench/sched-env.h"

enum bs_phase { BS_STEADY = 0, BS_STEP, BS_BUSY, BS_HOG, BS_NR_PHASES };

extern const char *const bs_phase_names[BS_NR_PHASES];

struct bs_phase_result {
	uint64_t *rtt;               /* round trips, ns, all repetitions */
	unsigned int n, cap;
	uint64_t lost, sent;
	double units_s_sum;          /* batch work units/s, summed over repetitions */
	double waved_pct_sum, agent_pct_sum;
	double latvm_pct_sum;        /* CPU of the latency VM's QEMU (all its threads) */
	double batvm_pct_sum;        /* CPU of the batch VMs' QEMUs, together */
	double fired_sum;            /* prestaged decisions fired (waved), summed over runs */
	double fallbacks_sum;        /* times waved fell back (lost the agent), summed over runs */
	double wakes_sum;            /* waved's wakeups a second (not for status), summed */
	unsigned int reps;           /* runs measured */
	struct bench_range p99_runs; /* p99 (us) of each run alone */
	struct bench_range units_runs; /* batch work units/s of each run */
	struct bench_range demotions_runs; /* times the policy demoted the latency VM, each run */
	struct bench_range demote_ms_runs; /* hog: from HOG to the first demotion, ms, each run */
	double p50, p99, p999;       /* us, of all runs' samples, filled by bs_summarise */
};

#define BS_HOG_THREADS 2   /* guest threads burning CPU in the hog phase */
#define BS_MAX_DELAYS 8
#define BS_MAX_TIMELINE 8192

struct bs_results {
	struct bs_phase_result r[SE_NR_MODES][BS_NR_PHASES];
	unsigned int nr_delays;
	unsigned int delay_us[BS_MAX_DELAYS];
	struct bs_phase_result sweep[BS_MAX_DELAYS];  /* offload, steady, per link delay */
	/* one offload run with the agent stopped in the middle */
	unsigned int tl_n;
	double tl_t_ms[BS_MAX_TIMELINE], tl_rtt_us[BS_MAX_TIMELINE];
	double tl_stop_ms, tl_cont_ms, tl_fallback_ms, tl_handback_ms;
	/* parameters and host, for the report */
	double rate[BS_NR_PHASES];
	unsigned int cost_us[BS_NR_PHASES];
	unsigned int phase_s, warm_s, runs;
	char accel[16], kernel[128], cpu[128];
	int ncpus;
};

double bs_mean(const struct bs_phase_result *p, double sum);
/* Demotions of the latency VM in a phase, over all runs (-1: waved never said). */
int64_t bs_demotions(const struct bs_phase_result *p);
/* Whether a mode was measured at all (its phases have runs): tables leave the rest out. */
int bs_mode_ran(const struct bs_phase_result *phases);
/* The slowest first demotion of the runs, ms; -1 if a run had none (or none was timed). */
double bs_demote_ms(const struct bs_phase_result *p);

/* One goal of the comparison: a ratio measured in every run. */
struct bs_goal {
	char what[64];
	struct bench_range r;
	enum bench_goal_op op;
	double want;
};

#define BS_MAX_GOALS 16
/* The goals (each mode they compare must have run). Returns how many are in g. */
unsigned int bs_goals(const struct bs_results *res, struct bs_goal *g);

/* The results on stdout: one JSON document, or a table and the goals. */
void bs_print_json(const struct bs_results *res);
void bs_print_table(const struct bs_results *res);

/* Writes DIR/report.md and the plots (gnuplot); 0 or -errno. */
int bs_report(const struct bs_results *res, const char *dir);

#endif
