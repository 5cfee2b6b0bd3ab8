// SPDX-License-Identifier: BSD-3-Clause
/*
 * The results of 'wavectl bench sched' as the goals (ratios within each
 * run, compared against what the issue set), one JSON document (--json)
 * or a table on the terminal. report.md and the plots are
 * sched-report.c's; the measuring is bench-sched.c's.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "bench/bench-sched.h"
#include "bench/bench.h"

static json_object *phase_json(const struct bs_phase_result *p)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "lat_us_p50", json_object_new_double(p->p50));
	json_object_object_add(o, "lat_us_p99", json_object_new_double(p->p99));
	json_object_object_add(o, "lat_us_p999", json_object_new_double(p->p999));
	json_object_object_add(o, "lost", json_object_new_int64((int64_t)p->lost));
	json_object_object_add(o, "sent", json_object_new_int64((int64_t)p->sent));
	json_object_object_add(o, "batch_units_per_s",
			       json_object_new_double(bs_mean(p, p->units_s_sum)));
	json_object_object_add(o, "waved_cpu_pct", json_object_new_double(bs_mean(p, p->waved_pct_sum)));
	json_object_object_add(o, "agent_cpu_pct", json_object_new_double(bs_mean(p, p->agent_pct_sum)));
	json_object_object_add(o, "waved_wakeups_per_s", json_object_new_double(bs_mean(p, p->wakes_sum)));
	json_object_object_add(o, "latency_vm_cpu_pct",
			       json_object_new_double(bs_mean(p, p->latvm_pct_sum)));
	json_object_object_add(o, "batch_vms_cpu_pct",
			       json_object_new_double(bs_mean(p, p->batvm_pct_sum)));
	json_object_object_add(o, "demotions", json_object_new_int64(bs_demotions(p)));
	json_object_object_add(o, "prestaged_fired", json_object_new_double(bs_mean(p, p->fired_sum)));
	json_object_object_add(o, "fallbacks", json_object_new_double(bs_mean(p, p->fallbacks_sum)));
	if (p->demote_ms_runs.n)
		json_object_object_add(o, "demote_ms", json_object_new_double(bs_demote_ms(p)));
	return o;
}

static json_object *goals_json(const struct bs_results *res)
{
	struct bs_goal g[BS_MAX_GOALS];
	unsigned int n = bs_goals(res, g);
	json_object *a = json_object_new_array();
	char v[48];

	for (unsigned int i = 0; i < n; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "what", json_object_new_string(g[i].what));
		json_object_object_add(o, "op", json_object_new_string(
			g[i].op == BENCH_AT_MOST ? "<=" : ">="));
		json_object_object_add(o, "want", json_object_new_double(g[i].want));
		json_object_object_add(o, "median", json_object_new_double(bench_range_median(&g[i].r)));
		json_object_object_add(o, "min", json_object_new_double(bench_range_min(&g[i].r)));
		json_object_object_add(o, "max", json_object_new_double(bench_range_max(&g[i].r)));
		json_object_object_add(o, "runs", json_object_new_int((int)g[i].r.n));
		json_object_object_add(o, "verdict", json_object_new_string(
			g[i].r.n ? bench_goal(&g[i].r, g[i].op, g[i].want, v, sizeof(v)) : "not run"));
		json_object_array_add(a, o);
	}
	return a;
}

void bs_print_json(const struct bs_results *res)
{
	json_object *root = json_object_new_object(), *host = json_object_new_object();
	json_object *params = json_object_new_object(), *modes = json_object_new_object();
	json_object *sweep = json_object_new_array();

	json_object_object_add(host, "cpus", json_object_new_int(res->ncpus));
	json_object_object_add(host, "cpu", json_object_new_string(res->cpu));
	json_object_object_add(host, "kernel", json_object_new_string(res->kernel));
	json_object_object_add(host, "accel", json_object_new_string(res->accel));
	json_object_object_add(root, "host", host);
	json_object_object_add(params, "runs", json_object_new_int((int)res->runs));
	json_object_object_add(params, "phase_s", json_object_new_int((int)res->phase_s));
	json_object_object_add(params, "warm_s", json_object_new_int((int)res->warm_s));
	for (int ph = 0; ph < BS_NR_PHASES; ph++) {
		json_object *p = json_object_new_object();

		json_object_object_add(p, "rate_per_s", json_object_new_double(res->rate[ph]));
		json_object_object_add(p, "cost_us", json_object_new_int((int)res->cost_us[ph]));
		json_object_object_add(p, "hog_threads", json_object_new_int(ph == BS_HOG ? BS_HOG_THREADS : 0));
		json_object_object_add(params, bs_phase_names[ph], p);
	}
	json_object_object_add(params, "client", json_object_new_string("open loop, Poisson, SCHED_FIFO 50"));
	json_object_object_add(params, "offload_link_delay_us", json_object_new_int(2));
	json_object_object_add(root, "params", params);
	for (int m = 0; m < SE_NR_MODES; m++) {
		json_object *mo = json_object_new_object();

		for (int ph = 0; ph < BS_NR_PHASES; ph++)
			json_object_object_add(mo, bs_phase_names[ph], phase_json(&res->r[m][ph]));
		json_object_object_add(modes, se_mode_names[m], mo);
	}
	json_object_object_add(root, "modes", modes);
	for (unsigned int d = 0; d < res->nr_delays; d++) {
		json_object *o = phase_json(&res->sweep[d]);

		json_object_object_add(o, "link_delay_us", json_object_new_int((int)res->delay_us[d]));
		json_object_array_add(sweep, o);
	}
	json_object_object_add(root, "delay_sweep", sweep);
	json_object_object_add(root, "goals", goals_json(res));
	printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
}

/* Per run, a's figure over b's, into g (nothing if a run of either is missing). */
static void goal(struct bs_goal *g, const char *what, const struct bench_range *a,
		 const struct bench_range *b, enum bench_goal_op op, double want)
{
	memset(g, 0, sizeof(*g));
	snprintf(g->what, sizeof(g->what), "%s", what);
	g->op = op;
	g->want = want;
	/* A run where either figure is missing (0: nothing measured) says nothing. */
	for (unsigned int i = 0; i < a->n && i < b->n; i++)
		if (a->v[i] > 0 && b->v[i] > 0)
			bench_range_add(&g->r, a->v[i] / b->v[i]);
}

/* A figure of one mode and phase, per run, against want (none ran: -1 counts as never). */
static void goal_abs(struct bs_goal *g, const char *what, const struct bench_range *a,
		     enum bench_goal_op op, double want, double never)
{
	memset(g, 0, sizeof(*g));
	snprintf(g->what, sizeof(g->what), "%s", what);
	g->op = op;
	g->want = want;
	for (unsigned int i = 0; i < a->n; i++)
		bench_range_add(&g->r, a->v[i] < 0 ? never : a->v[i]);
}

unsigned int bs_goals(const struct bs_results *res, struct bs_goal *g)
{
	const struct bs_phase_result (*r)[BS_NR_PHASES] = res->r;
	unsigned int n = 0;

	goal(&g[n++], "steady: offload p99 / cfs p99", &r[SE_OFFLOAD][BS_STEADY].p99_runs,
	     &r[SE_CFS][BS_STEADY].p99_runs, BENCH_AT_MOST, 0.25);
	goal(&g[n++], "steady: offload batch / cfs batch", &r[SE_OFFLOAD][BS_STEADY].units_runs,
	     &r[SE_CFS][BS_STEADY].units_runs, BENCH_AT_LEAST, 0.95);
	goal(&g[n++], "step: offload p99 / cfs p99", &r[SE_OFFLOAD][BS_STEP].p99_runs,
	     &r[SE_CFS][BS_STEP].p99_runs, BENCH_AT_MOST, 0.5);
	goal(&g[n++], "busy: offload p99 / cfs p99", &r[SE_OFFLOAD][BS_BUSY].p99_runs,
	     &r[SE_CFS][BS_BUSY].p99_runs, BENCH_AT_MOST, 0.5);
	goal_abs(&g[n++], "busy: offload demotions", &r[SE_OFFLOAD][BS_BUSY].demotions_runs,
		 BENCH_AT_MOST, 0, 0);
	goal(&g[n++], "hog: offload batch / cfs batch", &r[SE_OFFLOAD][BS_HOG].units_runs,
	     &r[SE_CFS][BS_HOG].units_runs, BENCH_AT_LEAST, 0.9);
	goal_abs(&g[n++], "hog: offload ms to demotion", &r[SE_OFFLOAD][BS_HOG].demote_ms_runs,
		 BENCH_AT_MOST, 1000, 1e9);
	for (int ph = 0; ph < BS_NR_PHASES; ph++) {
		char what[64];

		snprintf(what, sizeof(what), "%s: offload p99 / onhost p99", bs_phase_names[ph]);
		goal(&g[n++], what, &r[SE_OFFLOAD][ph].p99_runs, &r[SE_ONHOST][ph].p99_runs,
		     BENCH_AT_MOST, 1.1);
	}
	return n;
}

void bs_print_table(const struct bs_results *res)
{
	const struct bs_phase_result (*r)[BS_NR_PHASES] = res->r;
	struct bs_goal g[BS_MAX_GOALS];
	unsigned int ng = bs_goals(res, g);
	char a[96], v[48];

	printf("\n%-8s %-6s %10s %10s %10s %6s %12s %8s %8s %8s %8s %6s %6s\n", "mode", "phase",
	       "p50 us", "p99 us", "p99.9 us", "lost", "batch u/s", "batVMs%", "latVM%", "waved%",
	       "agent%", "demote", "fallbk");
	for (int m = 0; m < SE_NR_MODES; m++)
		for (int ph = 0; bs_mode_ran(r[m]) && ph < BS_NR_PHASES; ph++) {
			const struct bs_phase_result *p = &r[m][ph];

			printf("%-8s %-6s %10.0f %10.0f %10.0f %6llu %12.0f %8.1f %8.1f %8.3f %8.3f %6lld %6.1f\n",
			       ph ? "" : se_mode_names[m], bs_phase_names[ph], p->p50, p->p99, p->p999,
			       (unsigned long long)p->lost, bs_mean(p, p->units_s_sum),
			       bs_mean(p, p->batvm_pct_sum), bs_mean(p, p->latvm_pct_sum),
			       bs_mean(p, p->waved_pct_sum), bs_mean(p, p->agent_pct_sum),
			       (long long)bs_demotions(p), bs_mean(p, p->fallbacks_sum));
		}
	printf("\ngoals (each a ratio within a run; median, min-max over %u run%s):\n", res->runs,
	       res->runs == 1 ? "" : "s");
	for (unsigned int i = 0; i < ng; i++) {
		if (!g[i].r.n) {
			printf("  %-36s (a mode it compares did not run)\n", g[i].what);
			continue;
		}
		printf("  %-36s %-28s %s %-5.2f %s\n", g[i].what,
		       bench_range_str(&g[i].r, 2, "", a, sizeof(a)),
		       g[i].op == BENCH_AT_MOST ? "<=" : ">=", g[i].want,
		       bench_goal(&g[i].r, g[i].op, g[i].want, v, sizeof(v)));
	}
	for (int ph = 0; ph < BS_NR_PHASES; ph++) {
		double on = bs_mean(&r[SE_OFFLOAD][ph], r[SE_OFFLOAD][ph].waved_pct_sum);
		double off = bs_mean(&r[SE_NONET][ph], r[SE_NONET][ph].waved_pct_sum);

		if (on > 0 && off > 0)
			printf("  %-6s waved CPU, traffic counted / not (offload / nonet): %.3f%% / "
			       "%.3f%% = %.2fx\n", bs_phase_names[ph], on, off, on / off);
	}
	for (int ph = 0; ph < BS_NR_PHASES; ph++) {
		const struct bs_phase_result *f = &r[SE_FIRE][ph], *o = &r[SE_OFFLOAD][ph];

		if (f->p99 > 0 && o->p99 > 0)
			printf("  %-6s p99, arrival fires / wakeup fires (fire / offload): %.0f / %.0f us"
			       " = %.2fx (prestaged fired per run: %.0f / %.0f)\n", bs_phase_names[ph],
			       f->p99, o->p99, f->p99 / o->p99, bs_mean(f, f->fired_sum),
			       bs_mean(o, o->fired_sum));
	}
	for (unsigned int d = 0; d < res->nr_delays; d++)
		printf("  delay sweep: link delay %4u us: offload steady p99 %8.0f us\n",
		       res->delay_us[d], res->sweep[d].p99);
}
