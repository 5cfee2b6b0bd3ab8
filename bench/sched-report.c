// SPDX-License-Identifier: BSD-3-Clause
/*
 * The report of 'wavectl bench sched --report DIR': report.md with the
 * tables and the goals, and PNG plots drawn by gnuplot from data files
 * written next to them (kept, so a plot can be redrawn or checked):
 *   cdf.png       latency CDF per mode, steady phase
 *   phases.png    p99 and batch throughput per mode and phase
 *   sweep.png     offload p99 against link delay (if swept)
 *   timeline.png  one offload run, the agent stopped in the middle: every
 *                 request's latency over time, fallback and hand-back marked
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench-sched.h"
#include "bench/bench.h"
#include "common/log.h"
#include "common/spawn.h"

static FILE *open_in(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return fopen(path, "w");
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int write_data(const struct bs_results *res, const char *dir)
{
	FILE *f;

	for (int m = 0; m < SE_NR_MODES; m++) {
		const struct bs_phase_result *p = &res->r[m][BS_STEADY];
		char name[64];
		uint64_t *v = malloc((p->n + 1) * sizeof(*v));

		snprintf(name, sizeof(name), "cdf-%s.dat", se_mode_names[m]);
		if (!v || !(f = open_in(dir, name))) {
			free(v);
			return -errno;
		}
		memcpy(v, p->rtt, p->n * sizeof(*v));
		qsort(v, p->n, sizeof(*v), cmp_u64);
		for (unsigned int i = 0; i < p->n; i++)
			fprintf(f, "%.1f %.6f\n", (double)v[i] / 1e3, (double)(i + 1) / p->n);
		fclose(f);
		free(v);
	}
	if (!(f = open_in(dir, "phases.dat")))
		return -errno;
	fprintf(f, "# mode steady_p99 step_p99 busy_p99 hog_p99 steady_units step_units busy_units hog_units\n");
	for (int m = 0; m < SE_NR_MODES; m++) {
		fprintf(f, "%s", se_mode_names[m]);
		for (int ph = 0; ph < BS_NR_PHASES; ph++)
			fprintf(f, " %.1f", res->r[m][ph].p99);
		for (int ph = 0; ph < BS_NR_PHASES; ph++)
			fprintf(f, " %.0f", bs_mean(&res->r[m][ph], res->r[m][ph].units_s_sum));
		fprintf(f, "\n");
	}
	fclose(f);
	if (!(f = open_in(dir, "sweep.dat")))
		return -errno;
	for (unsigned int d = 0; d < res->nr_delays; d++)
		fprintf(f, "%u %.1f %.1f\n", res->delay_us[d], res->sweep[d].p50, res->sweep[d].p99);
	fclose(f);
	if (!(f = open_in(dir, "timeline.dat")))
		return -errno;
	for (unsigned int i = 0; i < res->tl_n; i++)
		fprintf(f, "%.1f %.1f\n", res->tl_t_ms[i], res->tl_rtt_us[i]);
	fclose(f);
	return 0;
}

static int write_plots(const struct bs_results *res, const char *dir)
{
	FILE *f = open_in(dir, "plots.gp");

	if (!f)
		return -errno;
	fprintf(f, "set terminal pngcairo size 900,520 noenhanced font ',10'\nset grid\n"
		   "set key outside right\n");
	fprintf(f, "set output 'cdf.png'\nset title 'latency CDF, steady phase'\n"
		   "set logscale x\nset xlabel 'round trip (us)'\nset ylabel 'fraction'\nplot ");
	for (int m = 0; m < SE_NR_MODES; m++)
		fprintf(f, "%s'cdf-%s.dat' using 1:2 with lines lw 2 title '%s'", m ? ", " : "",
			se_mode_names[m], se_mode_names[m]);
	fprintf(f, "\nunset logscale x\n");
	fprintf(f, "set output 'phases.png'\nset multiplot layout 1,2\n"
		   "set style data histograms\nset style histogram clustered gap 1\n"
		   "set style fill solid 0.8 border -1\nset xtics rotate by -30\n"
		   "set title 'p99 latency (us, log)'\nset logscale y\nset ylabel 'us'\nset xlabel ''\n"
		   "plot 'phases.dat' using 2:xtic(1) title 'steady', '' using 3 title 'step', "
		   "'' using 4 title 'busy', '' using 5 title 'hog'\n"
		   "unset logscale y\nset yrange [0:*]\nset title 'batch throughput (work units/s)'\n"
		   "set ylabel 'units/s'\n"
		   "plot 'phases.dat' using 6:xtic(1) title 'steady', '' using 7 title 'step', "
		   "'' using 8 title 'busy', '' using 9 title 'hog'\nunset multiplot\n"
		   "set style data points\nunset xtics\nset xtics\n");
	if (res->nr_delays)
		fprintf(f, "set output 'sweep.png'\nset title 'offload: latency against link delay "
			   "(steady)'\nset logscale x 2\nset xlabel 'link delay (us)'\n"
			   "set ylabel 'us'\nplot 'sweep.dat' using ($1+1):3 with linespoints lw 2 "
			   "title 'p99', '' using ($1+1):2 with linespoints title 'p50'\n"
			   "unset logscale x\n");
	if (res->tl_n) {
		fprintf(f, "set output 'timeline.png'\nset title 'offload, agent stopped at %.0f ms "
			   "for %.0f ms'\nset xlabel 'time (ms)'\nset ylabel 'round trip (us)'\n"
			   "set logscale y\n", res->tl_stop_ms, res->tl_cont_ms - res->tl_stop_ms);
		if (res->tl_fallback_ms >= 0)
			fprintf(f, "set arrow from %.1f, graph 0 to %.1f, graph 1 nohead lc 'red' lw 2\n"
				   "set label 'fallback' at %.1f, graph 0.95 tc 'red'\n",
				res->tl_fallback_ms, res->tl_fallback_ms, res->tl_fallback_ms);
		if (res->tl_handback_ms >= 0)
			fprintf(f, "set arrow from %.1f, graph 0 to %.1f, graph 1 nohead lc 'dark-green' lw 2\n"
				   "set label 'hand-back' at %.1f, graph 0.9 tc 'dark-green'\n",
				res->tl_handback_ms, res->tl_handback_ms, res->tl_handback_ms);
		fprintf(f, "set arrow from %.1f, graph 0 to %.1f, graph 1 nohead dt 2\n"
			   "set arrow from %.1f, graph 0 to %.1f, graph 1 nohead dt 2\n"
			   "plot 'timeline.dat' using 1:($2 > 0 ? $2 : 1/0) with points pt 7 ps 0.4 "
			   "title 'reply', '' using 1:($2 < 0 ? 1e6 : 1/0) with points pt 2 "
			   "title 'lost (at 1 s)'\n", res->tl_stop_ms, res->tl_stop_ms, res->tl_cont_ms,
			res->tl_cont_ms);
	}
	fclose(f);
	return bench_gnuplot(dir, "bench sched");
}

/* The goals, each a ratio within a run: median (min-max) over the runs, and the verdict. */
static void write_goals(const struct bs_results *res, FILE *f)
{
	struct bs_goal g[BS_MAX_GOALS];
	unsigned int n = bs_goals(res, g);
	char a[96], v[48];

	fprintf(f, "\n## Goals (each a ratio within a run; median, min-max over the runs)\n\n"
		   "| goal | ratio | want | |\n|---|---|---|---|\n");
	for (unsigned int i = 0; i < n; i++) {
		if (!g[i].r.n)
			continue;
		bench_goal(&g[i].r, g[i].op, g[i].want, v, sizeof(v));
		fprintf(f, "| %s | %s | %s %.2f | %s%s%s |\n", g[i].what,
			bench_range_str(&g[i].r, 2, "", a, sizeof(a)),
			g[i].op == BENCH_AT_MOST ? "<=" : ">=", g[i].want,
			strcmp(v, "met") ? "**" : "", v, strcmp(v, "met") ? "**" : "");
	}
}

static void write_md(const struct bs_results *res, FILE *f)
{
	const struct bs_phase_result (*r)[BS_NR_PHASES] = res->r;

	fprintf(f, "# Wave-VM: offloaded scheduling against the CFS baseline\n\n");
	fprintf(f, "Host: %s, %d CPUs, kernel %s, guests under %s. %u run(s), %u s per "
		   "phase after %u s of warm-up per mode; modes interleaved in each run.\n\n",
		res->cpu, res->ncpus, res->kernel, res->accel, res->runs, res->phase_s, res->warm_s);
	fprintf(f, "One latency-class VM (2 vCPUs, UDP echo) and two batch VMs (2 vCPUs each, "
		   "spin): 4 spinning vCPUs on %d CPUs. The client sends Poisson arrivals open-loop at "
		   "SCHED_FIFO 50. Phases: steady %.0f req/s x %u us; step %.0f req/s x %u us; "
		   "busy %.0f req/s x %u us (a server near saturation, not a hog); "
		   "hog: steady load while the latency guest burns CPU on its vCPUs. "
		   "'demotions': times the policy demoted the latency VM (CFS quota on its "
		   "vCPUs) in the phase, over all runs; 'fallbacks': times waved lost the agent "
		   "and fell back, per run (the agent and waved run at SCHED_FIFO %s, the agent "
		   "on this host's CPUs, competing with the VMs).\n\n",
		res->ncpus, res->rate[BS_STEADY], res->cost_us[BS_STEADY], res->rate[BS_STEP],
		res->cost_us[BS_STEP], res->rate[BS_BUSY], res->cost_us[BS_BUSY], BE_DAEMON_PRIO);
	fprintf(f, "| mode | phase | p50 us | p99 us | p99.9 us | lost | batch units/s | batch VMs %% | latency VM %% | waved %% | waved wakeups/s | agent %% | demotions | fallbacks |\n"
		   "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (int m = 0; m < SE_NR_MODES; m++)
		for (int ph = 0; bs_mode_ran(r[m]) && ph < BS_NR_PHASES; ph++) {
			const struct bs_phase_result *p = &r[m][ph];

			fprintf(f, "| %s | %s | %.0f | %.0f | %.0f | %llu | %.0f | %.1f | %.1f | %.3f | %.0f | %.3f | %lld | %.1f |\n",
				se_mode_names[m], bs_phase_names[ph], p->p50, p->p99, p->p999,
				(unsigned long long)p->lost, bs_mean(p, p->units_s_sum),
				bs_mean(p, p->batvm_pct_sum), bs_mean(p, p->latvm_pct_sum), bs_mean(p, p->waved_pct_sum),
				bs_mean(p, p->wakes_sum), bs_mean(p, p->agent_pct_sum), (long long)bs_demotions(p),
				bs_mean(p, p->fallbacks_sum));
		}
	write_goals(res, f);
	fprintf(f, "\n## Plots\n\n![latency CDF](cdf.png)\n\n![p99 and batch throughput](phases.png)\n\n");
	if (res->nr_delays)
		fprintf(f, "![p99 against link delay](sweep.png)\n\n");
	else
		fprintf(f, "(No link-delay sweep in this run: `--link-delay 0,2,20,200`.)\n\n");
	if (res->tl_n)
		fprintf(f, "![agent stopped mid-run](timeline.png)\n\nAgent stopped at %.0f ms, "
			   "continued at %.0f ms; waved fell back at %.0f ms and handed control "
			   "back at %.0f ms (from its status, polled every 5 ms).\n",
			res->tl_stop_ms, res->tl_cont_ms, res->tl_fallback_ms, res->tl_handback_ms);
}

int bs_report(const struct bs_results *res, const char *dir)
{
	FILE *f;
	int ret;

	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	if ((ret = write_data(res, dir)))
		return ret;
	if (!(f = open_in(dir, "report.md")))
		return -errno;
	write_md(res, f);
	fclose(f);
	return write_plots(res, dir);
}
