// SPDX-License-Identifier: BSD-3-Clause
/* A benchmark's goals (goals.h): built from runs, shown as JSON, text or markdown. */
#include <string.h>

#include "bench/goals.h"

static void row(struct bench_goal_row *g, const char *what, int at_most, double want)
{
	memset(g, 0, sizeof(*g));
	snprintf(g->what, sizeof(g->what), "%s", what);
	g->at_most = at_most;
	g->want = want;
}

void bench_goal_ratio(struct bench_goal_row *g, const char *what, const struct bench_range *a,
		      const struct bench_range *b, int at_most, double want)
{
	row(g, what, at_most, want);
	for (unsigned int i = 0; i < a->n && i < b->n; i++)
		if (b->v[i] > 0)
			bench_range_add(&g->r, a->v[i] / b->v[i]);
}

void bench_goal_value(struct bench_goal_row *g, const char *what, double v, int at_most,
		      double want)
{
	row(g, what, at_most, want);
	bench_range_add(&g->r, v);
}

static const char *verdict(const struct bench_goal_row *g, char *v, size_t size)
{
	return bench_goal(&g->r, g->at_most ? BENCH_AT_MOST : BENCH_AT_LEAST, g->want, v, size);
}

json_object *bench_goals_json(const struct bench_goal_row *g, unsigned int n)
{
	json_object *goals = json_object_new_array();
	char buf[160], v[48];

	for (unsigned int i = 0; i < n; i++) {
		json_object *o = json_tokener_parse(bench_range_json(&g[i].r, buf, sizeof(buf)));

		json_object_object_add(o, "what", json_object_new_string(g[i].what));
		json_object_object_add(o, "want", json_object_new_double(g[i].want));
		json_object_object_add(o, "op", json_object_new_string(g[i].at_most ? "<=" : ">="));
		json_object_object_add(o, "verdict", json_object_new_string(verdict(&g[i], v, sizeof(v))));
		json_object_array_add(goals, o);
	}
	return goals;
}

void bench_goals_print(const struct bench_goal_row *g, unsigned int n, FILE *f, int md)
{
	char a[96], v[48];

	for (unsigned int i = 0; i < n; i++) {
		int met;

		bench_range_str(&g[i].r, 2, "", a, sizeof(a));
		met = !strcmp(verdict(&g[i], v, sizeof(v)), "met");
		if (md)
			fprintf(f, "| %s | %s | %s %.2f | %s%s%s |\n", g[i].what, a,
				g[i].at_most ? "<=" : ">=", g[i].want, met ? "" : "**", v,
				met ? "" : "**");
		else
			fprintf(f, "  %-44s %-26s %s %-6.2f %s\n", g[i].what, a,
				g[i].at_most ? "<=" : ">=", g[i].want, v);
	}
}
