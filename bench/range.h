/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A measured value over several runs of a benchmark: its median, min and
 * max, printed as "0.88 (0.85-0.91, 5 runs)". On a shared, noisy machine a
 * single run says little; every ratio a benchmark reports goes through
 * this, and a goal is "met" only where every run meets it.
 */
#ifndef WAVE_BENCH_RANGE_H
#define WAVE_BENCH_RANGE_H

#include <stddef.h>

#define BENCH_MAX_RUNS 20

struct bench_range {
	unsigned int n;
	double v[BENCH_MAX_RUNS];
};

/* Adds one run's value (ignored beyond BENCH_MAX_RUNS). */
void bench_range_add(struct bench_range *r, double v);
double bench_range_median(const struct bench_range *r);
double bench_range_min(const struct bench_range *r);
double bench_range_max(const struct bench_range *r);

/* "M<unit> (MIN-MAX, N runs)", or "M<unit> (1 run)"; numbers with that many decimals. */
const char *bench_range_str(const struct bench_range *r, int decimals, const char *unit,
			    char *buf, size_t len);
/* {"median": M, "min": MIN, "max": MAX, "runs": N} */
const char *bench_range_json(const struct bench_range *r, char *buf, size_t len);

enum bench_goal_op { BENCH_AT_MOST, BENCH_AT_LEAST };
/* "met" (every run), "NOT met" (no run) or "met in K of N runs". */
const char *bench_goal(const struct bench_range *r, enum bench_goal_op op, double goal,
		       char *buf, size_t len);

#endif
