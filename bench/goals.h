/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A benchmark's goals: each a value or a ratio of two modes' values,
 * taken within each run (bench_range: median, min-max), against what is
 * wanted; shown in a table, in report.md and in the JSON's "goals".
 */
#ifndef WAVE_BENCH_GOALS_H
#define WAVE_BENCH_GOALS_H

#include <stdio.h>

#include <json-c/json.h>

#include "bench/range.h"

struct bench_goal_row {
	char what[72];
	struct bench_range r;
	int at_most;               /* 1: want r <= want; 0: r >= want */
	double want;
};

/* g = a / b in each run where both ran (b > 0). */
void bench_goal_ratio(struct bench_goal_row *g, const char *what, const struct bench_range *a,
		      const struct bench_range *b, int at_most, double want);
/* g = v (one value). */
void bench_goal_value(struct bench_goal_row *g, const char *what, double v, int at_most,
		      double want);
/* [{median, min, max, runs, what, want, op, verdict}, ...] */
json_object *bench_goals_json(const struct bench_goal_row *g, unsigned int n);
/* One line per goal, or a markdown table row (md). */
void bench_goals_print(const struct bench_goal_row *g, unsigned int n, FILE *f, int md);

#endif
