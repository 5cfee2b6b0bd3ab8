// SPDX-License-Identifier: BSD-3-Clause
/* Values over several runs (range.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/range.h"

void bench_range_add(struct bench_range *r, double v)
{
	if (r->n < BENCH_MAX_RUNS)
		r->v[r->n++] = v;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double bench_range_median(const struct bench_range *r)
{
	double s[BENCH_MAX_RUNS];

	if (!r->n)
		return 0;
	memcpy(s, r->v, r->n * sizeof(s[0]));
	qsort(s, r->n, sizeof(s[0]), cmp_d);
	return r->n % 2 ? s[r->n / 2] : (s[r->n / 2 - 1] + s[r->n / 2]) / 2;
}

double bench_range_min(const struct bench_range *r)
{
	double m = r->n ? r->v[0] : 0;

	for (unsigned int i = 1; i < r->n; i++)
		m = r->v[i] < m ? r->v[i] : m;
	return m;
}

double bench_range_max(const struct bench_range *r)
{
	double m = r->n ? r->v[0] : 0;

	for (unsigned int i = 1; i < r->n; i++)
		m = r->v[i] > m ? r->v[i] : m;
	return m;
}

const char *bench_range_str(const struct bench_range *r, int decimals, const char *unit,
			    char *buf, size_t len)
{
	if (r->n < 2)
		snprintf(buf, len, "%.*f%s (%u run%s)", decimals, bench_range_median(r), unit, r->n,
			 r->n == 1 ? "" : "s");
	else
		snprintf(buf, len, "%.*f%s (%.*f-%.*f, %u runs)", decimals, bench_range_median(r),
			 unit, decimals, bench_range_min(r), decimals, bench_range_max(r), r->n);
	return buf;
}

const char *bench_range_json(const struct bench_range *r, char *buf, size_t len)
{
	snprintf(buf, len, "{\"median\": %.4g, \"min\": %.4g, \"max\": %.4g, \"runs\": %u}",
		 bench_range_median(r), bench_range_min(r), bench_range_max(r), r->n);
	return buf;
}

const char *bench_goal(const struct bench_range *r, enum bench_goal_op op, double goal,
		       char *buf, size_t len)
{
	unsigned int ok = 0;

	for (unsigned int i = 0; i < r->n; i++)
		ok += op == BENCH_AT_MOST ? r->v[i] <= goal : r->v[i] >= goal;
	if (r->n && ok == r->n)
		snprintf(buf, len, "met");
	else if (!ok)
		snprintf(buf, len, "NOT met");
	else
		snprintf(buf, len, "met in %u of %u runs", ok, r->n);
	return buf;
}
