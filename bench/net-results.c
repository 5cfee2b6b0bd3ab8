// SPDX-License-Identifier: BSD-3-Clause
/*
 * The results of 'wavectl bench net': the goals (each a ratio within a
 * run), one JSON document, the table, and report.md with a plot of the
 * echo's p99 per mode and phase (gnuplot, data file kept next to it).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "bench/bench-net.h"
#include "bench/bench.h"
#include "bench/goals.h"

static int ran(const struct bn_results *res, enum bn_mode m)
{
	return !!(res->modes & (1u << m)) && res->r[m][0].reps;
}

unsigned int bn_goals(const struct bn_results *res, struct bench_goal_row *g)
{
	const struct bn_phase_result (*r)[BN_NR_PHASES] = res->r;
	unsigned int n = 0;
	char what[72];

	for (int ph = BN_FLOOD; ph <= BN_BURST; ph++) {
		const char *p = bn_phase_names[ph];

		if (ran(res, BN_OFFLOAD) && ran(res, BN_SWITCH)) {
			snprintf(what, sizeof(what), "%s: offload p99 / switch", p);
			bench_goal_ratio(&g[n++], what, &r[BN_OFFLOAD][ph].p99_us,
					 &r[BN_SWITCH][ph].p99_us, 1, 0.25);
		}
		if (ran(res, BN_OFFLOAD) && ran(res, BN_BRIDGE)) {
			snprintf(what, sizeof(what), "%s: offload p99 / bridge", p);
			bench_goal_ratio(&g[n++], what, &r[BN_OFFLOAD][ph].p99_us,
					 &r[BN_BRIDGE][ph].p99_us, 1, 1);
		}
		if (ran(res, BN_OFFLOAD)) {
			snprintf(what, sizeof(what), "%s: offload noisy VM, %% of its fair share", p);
			g[n] = (struct bench_goal_row){ .at_most = 0, .want = 90,
							.r = r[BN_OFFLOAD][ph].share_pct };
			snprintf(g[n++].what, sizeof(g->what), "%s", what);
		}
		if (ran(res, BN_OFFLOAD) && ran(res, BN_ONHOST)) {
			snprintf(what, sizeof(what), "%s: offload p99 / onhost", p);
			bench_goal_ratio(&g[n++], what, &r[BN_OFFLOAD][ph].p99_us,
					 &r[BN_ONHOST][ph].p99_us, 1, 1.1);
			snprintf(what, sizeof(what), "%s: offload noisy rate / onhost", p);
			bench_goal_ratio(&g[n++], what, &r[BN_OFFLOAD][ph].noisy_mbit,
					 &r[BN_ONHOST][ph].noisy_mbit, 0, 0.9);
		}
	}
	if (res->switch_idle_pct.n) {
		g[n] = (struct bench_goal_row){ .at_most = 1, .want = 1, .r = res->switch_idle_pct };
		snprintf(g[n++].what, sizeof(g->what), "wave-switch CPU %% with nothing to forward");
	}
	return n;
}

static json_object *phase_json(const struct bn_phase_result *p)
{
	json_object *o = json_object_new_object();

#define NUM(k, v) json_object_object_add(o, k, json_object_new_double(v))
	NUM("lat_us_p50", bench_range_median(&p->p50_us));
	NUM("lat_us_p99", bench_range_median(&p->p99_us));
	NUM("lost", bn_mean(p, p->lost_sum));
	NUM("sent", bn_mean(p, p->sent_sum));
	NUM("noisy_mbit_s", bench_range_median(&p->noisy_mbit));
	NUM("noisy_pps", bn_mean(p, p->pps_sum));
	NUM("noisy_share_pct", bench_range_median(&p->share_pct));
	NUM("lat_mbit_s", bn_mean(p, p->lat_mbit_sum));
	NUM("switch_cpu_pct", bn_mean(p, p->switch_pct_sum));
	NUM("waved_cpu_pct", bn_mean(p, p->waved_pct_sum));
	NUM("agent_cpu_pct", bn_mean(p, p->agent_pct_sum));
#undef NUM
	json_object_object_add(o, "runs", json_object_new_int((int)p->reps));
	return o;
}

void bn_print_json(const struct bn_results *res)
{
	json_object *root = json_object_new_object(), *params = json_object_new_object();
	json_object *modes = json_object_new_object();
	struct bench_goal_row g[BN_MAX_GOALS];
	unsigned int n = bn_goals(res, g);

	json_object_object_add(params, "runs", json_object_new_int((int)res->runs));
	json_object_object_add(params, "phase_s", json_object_new_int((int)res->phase_s));
	json_object_object_add(params, "link_mbit", json_object_new_int((int)res->link_mbit));
	json_object_object_add(params, "tc_limit_mbit", json_object_new_int((int)res->tc_mbit));
	json_object_object_add(params, "rate", json_object_new_int((int)res->rate));
	json_object_object_add(params, "burst_rate", json_object_new_int((int)res->burst_rate));
	json_object_object_add(params, "accel", json_object_new_string(res->accel));
	json_object_object_add(params, "policy", json_object_new_string(res->policy));
	json_object_object_add(root, "params", params);
	json_object_object_add(root, "switch_idle_cpu_pct",
			       json_object_new_double(bench_range_median(&res->switch_idle_pct)));
	for (int m = 0; m < BN_NR_MODES; m++) {
		json_object *mo = json_object_new_object();

		if (!ran(res, (enum bn_mode)m)) {
			json_object_put(mo);
			continue;
		}
		for (int ph = 0; ph < BN_NR_PHASES; ph++)
			json_object_object_add(mo, bn_phase_names[ph], phase_json(&res->r[m][ph]));
		json_object_object_add(modes, bn_mode_names[m], mo);
	}
	json_object_object_add(root, "modes", modes);
	json_object_object_add(root, "goals", bench_goals_json(g, n));
	printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
}

static void rows(const struct bn_results *res, FILE *f, int md)
{
	for (int m = 0; m < BN_NR_MODES; m++)
		for (int ph = 0; ph < BN_NR_PHASES && ran(res, (enum bn_mode)m); ph++) {
			const struct bn_phase_result *p = &res->r[m][ph];

			fprintf(f, md ? "| %s | %s | %.0f | %.0f | %.0f | %.1f | %.0f | %.0f | %.2f | %.2f | %.2f |\n"
				      : "%-8s %-7s %9.0f %9.0f %6.0f %8.1f %8.0f %7.0f %8.2f %7.2f %7.2f\n",
				md || !ph ? bn_mode_names[m] : "", bn_phase_names[ph],
				bench_range_median(&p->p50_us), bench_range_median(&p->p99_us),
				bn_mean(p, p->lost_sum), bench_range_median(&p->noisy_mbit),
				bn_mean(p, p->pps_sum), bench_range_median(&p->share_pct),
				bn_mean(p, p->switch_pct_sum), bn_mean(p, p->waved_pct_sum),
				bn_mean(p, p->agent_pct_sum));
		}
}

void bn_print_table(const struct bn_results *res)
{
	struct bench_goal_row g[BN_MAX_GOALS];

	printf("\n%-8s %-7s %9s %9s %6s %8s %8s %7s %8s %7s %7s\n", "mode", "phase", "p50 us",
	       "p99 us", "lost", "noisy Mb", "noisy pps", "share%", "switch%", "waved%", "agent%");
	rows(res, stdout, 0);
	printf("\nwave-switch with nothing to forward: %.2f%% of a core\n",
	       bench_range_median(&res->switch_idle_pct));
	printf("\ngoals (each within a run; median, min-max over %u run%s):\n", res->runs,
	       res->runs == 1 ? "" : "s");
	bench_goals_print(g, bn_goals(res, g), stdout, 0);
}

static FILE *open_in(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return fopen(path, "w");
}

/* latency.dat: per mode, each phase's p99 (ms); plots.gp draws grouped bars. */
static int write_plot(const struct bn_results *res, const char *dir)
{
	FILE *gp = open_in(dir, "plots.gp"), *f = open_in(dir, "latency.dat");

	if (!gp || !f) {
		if (gp)
			fclose(gp);
		if (f)
			fclose(f);
		return -errno;
	}
	fprintf(f, "mode steady flood burst\n");
	for (int m = 0; m < BN_NR_MODES; m++)
		if (ran(res, (enum bn_mode)m))
			fprintf(f, "%s %.3f %.3f %.3f\n", bn_mode_names[m],
				bench_range_median(&res->r[m][BN_STEADY].p99_us) / 1e3,
				bench_range_median(&res->r[m][BN_FLOOD].p99_us) / 1e3,
				bench_range_median(&res->r[m][BN_BURST].p99_us) / 1e3);
	fclose(f);
	fprintf(gp, "set terminal pngcairo size 900,450\nset output 'latency.png'\n"
		    "set title 'echo p99 per mode and phase (uplink %u Mbit/s)'\n"
		    "set ylabel 'p99 round trip (ms, log)'\nset logscale y\nset style data histogram\n"
		    "set style histogram cluster gap 1\nset style fill solid border -1\n"
		    "set key top left\nplot 'latency.dat' using 2:xtic(1) title col, '' using 3 "
		    "title col, '' using 4 title col\n", res->link_mbit);
	fclose(gp);
	return bench_gnuplot(dir, "bench net");
}

int bn_report(const struct bn_results *res, const char *dir)
{
	struct bench_goal_row g[BN_MAX_GOALS];
	FILE *f;

	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	if (!(f = open_in(dir, "report.md")))
		return -errno;
	fprintf(f, "# Wave-VM: network control by policy against a bridge, tc and a bare switch\n\n"
		   "A latency VM (UDP echo, %u requests/s, %u in burst), a noisy VM (UDP flood in "
		   "flood and burst) and a batch VM share an uplink of %u Mbit/s (tbf, 20 ms of "
		   "queue) to the network where the echo client and the flood's sink live. Guests "
		   "under %s; %u run(s), %u s per phase; scheduling policy %s in offload and onhost "
		   "(cfs elsewhere). tc holds the noisy VM at %u Mbit/s. Share: "
		   "the flood's rate against what the link leaves once the echo's replies are "
		   "carried.\n\n"
		   "| mode | phase | p50 us | p99 us | lost | noisy Mbit/s | noisy pps | share %% | "
		   "switch %% | waved %% | agent %% |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
		res->rate, res->burst_rate, res->link_mbit, res->accel, res->runs, res->phase_s,
		res->policy, res->tc_mbit);
	rows(res, f, 1);
	fprintf(f, "\nwave-switch with nothing to forward: %.2f%% of a core.\n",
		bench_range_median(&res->switch_idle_pct));
	fprintf(f, "\n## Goals\n\n| goal | value | want | |\n|---|---|---|---|\n");
	bench_goals_print(g, bn_goals(res, g), f, 1);
	fprintf(f, "\n![echo p99](latency.png)\n");
	fclose(f);
	return write_plot(res, dir);
}
