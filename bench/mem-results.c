// SPDX-License-Identifier: BSD-3-Clause
/*
 * The results of 'wavectl bench mem': the goals (each a ratio within a
 * run), one JSON document, the table, and report.md with a plot per mode
 * of each VM's balloon and demand over every phase (gnuplot, data files
 * kept next to it).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "bench/bench-mem.h"
#include "bench/bench.h"

static int ran(const struct bm_results *res, enum bm_mode m)
{
	return !!(res->modes & (1u << m)) && res->r[m][0].reps;
}

unsigned int bm_goals(const struct bm_results *res, struct bench_goal_row *g)
{
	const struct bm_phase_result (*r)[BM_NR_PHASES] = res->r;
	unsigned int n = 0;

	if (ran(res, BM_OFFLOAD) && ran(res, BM_STATIC)) {
		bench_goal_ratio(&g[n++], "skew: offload work / static", &r[BM_OFFLOAD][BM_SKEW].work,
		      &r[BM_STATIC][BM_SKEW].work, 0, 1.5);
		bench_goal_ratio(&g[n++], "shift: offload work / static", &r[BM_OFFLOAD][BM_SHIFT].work,
		      &r[BM_STATIC][BM_SHIFT].work, 0, 1.5);
	}
	if (ran(res, BM_OFFLOAD)) {
		bench_goal_value(&g[n], "spike: offload react ms", 0, 1, 1000);
		g[n++].r = r[BM_OFFLOAD][BM_SPIKE].react_ms;
	}
	for (int m = BM_OFFLOAD; m <= BM_ONHOST; m++) {
		uint64_t oom = 0;
		double pct = 0, mem = 0;
		char what[64];

		if (!ran(res, (enum bm_mode)m))
			continue;
		for (int ph = 0; ph < BM_NR_PHASES; ph++) {
			oom += r[m][ph].oom_kills;
			pct = r[m][ph].budget_max_pct > pct ? r[m][ph].budget_max_pct : pct;
			mem = bm_mean(&r[m][ph], r[m][ph].waved_mem_pct_sum) > mem
			      ? bm_mean(&r[m][ph], r[m][ph].waved_mem_pct_sum) : mem;
		}
		snprintf(what, sizeof(what), "%s: OOM kills", bm_mode_names[m]);
		bench_goal_value(&g[n++], what, (double)oom, 1, 0);
		snprintf(what, sizeof(what), "%s: balloons' sum, %% of budget", bm_mode_names[m]);
		bench_goal_value(&g[n++], what, pct, 1, 105);
		snprintf(what, sizeof(what), "%s: waved CPU for memory, %%", bm_mode_names[m]);
		bench_goal_value(&g[n++], what, mem, 1, 0.1);
	}
	if (ran(res, BM_OFFLOAD) && ran(res, BM_ONHOST))
		for (int ph = 0; ph < BM_NR_PHASES; ph++) {
			char what[64];

			snprintf(what, sizeof(what), "%s: offload work / onhost", bm_phase_names[ph]);
			bench_goal_ratio(&g[n++], what, &r[BM_OFFLOAD][ph].work, &r[BM_ONHOST][ph].work, 0, 0.9);
		}
	return n;
}

static json_object *phase_json(const struct bm_phase_result *p, int spike)
{
	json_object *o = json_object_new_object(), *vm = json_object_new_array();
	char buf[160];

	json_object_object_add(o, "work_per_s", json_object_new_double(bench_range_median(&p->work)));
	for (int k = 0; k < BM_NR_VMS; k++)
		json_object_array_add(vm, json_object_new_double(bm_mean(p, p->work_vm_sum[k])));
	json_object_object_add(o, "work_per_s_vm", vm);
	json_object_object_add(o, "major_faults_per_s", json_object_new_double(bm_mean(p, p->majflt_sum)));
	json_object_object_add(o, "swap_in_per_s", json_object_new_double(bm_mean(p, p->swapin_sum)));
	json_object_object_add(o, "oom_kills", json_object_new_int64((int64_t)p->oom_kills));
	json_object_object_add(o, "budget_max_pct", json_object_new_double(p->budget_max_pct));
	json_object_object_add(o, "rss_sum_mib", json_object_new_double(bm_mean(p, p->rss_sum)));
	if (spike)
		json_object_object_add(o, "react_ms", json_tokener_parse(
			bench_range_json(&p->react_ms, buf, sizeof(buf))));
	json_object_object_add(o, "waved_cpu_pct", json_object_new_double(bm_mean(p, p->waved_pct_sum)));
	json_object_object_add(o, "waved_mem_cpu_pct",
			       json_object_new_double(bm_mean(p, p->waved_mem_pct_sum)));
	json_object_object_add(o, "agent_cpu_pct", json_object_new_double(bm_mean(p, p->agent_pct_sum)));
	json_object_object_add(o, "libvirtd_cpu_pct",
			       json_object_new_double(bm_mean(p, p->libvirtd_pct_sum)));
	/* What the memory CPU went on, a second: reads of one VM by kind, balloons set, libvirt calls, re-arms. */
	for (int i = 0; i < BM_NR_READS; i++) {
		snprintf(buf, sizeof(buf), "%s_per_s", bm_read_keys[i]);
		json_object_object_add(o, buf, json_object_new_double(bm_mean(p, p->reads_sum[i])));
	}
	json_object_object_add(o, "mem_rearms_per_s", json_object_new_double(bm_mean(p, p->rearms_sum)));
	json_object_object_add(o, "runs", json_object_new_int((int)p->reps));
	return o;
}

void bm_print_json(const struct bm_results *res)
{
	json_object *root = json_object_new_object(), *params = json_object_new_object();
	json_object *modes = json_object_new_object(), *goals;
	struct bench_goal_row g[BM_MAX_GOALS];
	unsigned int n = bm_goals(res, g);

	json_object_object_add(params, "runs", json_object_new_int((int)res->runs));
	json_object_object_add(params, "phase_s", json_object_new_int((int)res->phase_s));
	json_object_object_add(params, "budget_mib", json_object_new_int((int)res->budget_mib));
	json_object_object_add(params, "vm_max_mib", json_object_new_int((int)res->vm_max_mib));
	json_object_object_add(params, "low_mib", json_object_new_int((int)res->low_mib));
	json_object_object_add(params, "accel", json_object_new_string(res->accel));
	json_object_object_add(params, "guest_kernel", json_object_new_string(res->kernel));
	json_object_object_add(root, "params", params);
	for (int m = 0; m < BM_NR_MODES; m++) {
		json_object *mo = json_object_new_object();

		if (!ran(res, (enum bm_mode)m))
			continue;
		for (int ph = 0; ph < BM_NR_PHASES; ph++)
			json_object_object_add(mo, bm_phase_names[ph],
					       phase_json(&res->r[m][ph], ph == BM_SPIKE));
		json_object_object_add(modes, bm_mode_names[m], mo);
	}
	json_object_object_add(root, "modes", modes);
	goals = bench_goals_json(g, n);
	json_object_object_add(root, "goals", goals);
	printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
}

static void print_goals(const struct bm_results *res, FILE *f, int md)
{
	struct bench_goal_row g[BM_MAX_GOALS];

	bench_goals_print(g, bm_goals(res, g), f, md);
}

/* The spike's react time as the tables show it: the slowest run's ms, "never", or blank. */
static const char *react_text(const struct bm_phase_result *p, int ph, char *buf, size_t len)
{
	double ms = bench_range_max(&p->react_ms);

	if (ph != BM_SPIKE || !p->react_ms.n)
		snprintf(buf, len, "%s", ph == BM_SPIKE ? "-" : "");
	else if (ms >= BM_NEVER_MS)
		snprintf(buf, len, "never");
	else
		snprintf(buf, len, "%.0f", ms);
	return buf;
}

void bm_print_table(const struct bm_results *res)
{
	printf("\n%-8s %-6s %10s %22s %8s %9s %4s %8s %8s %8s %8s %8s %8s %9s\n", "mode", "phase",
	       "work/s", "per VM", "majflt/s", "swapin/s", "oom", "budget%", "rss MiB",
	       "react ms", "waved%", "mem%", "agent%", "libvirtd%");
	for (int m = 0; m < BM_NR_MODES; m++)
		for (int ph = 0; ph < BM_NR_PHASES && ran(res, (enum bm_mode)m); ph++) {
			const struct bm_phase_result *p = &res->r[m][ph];
			char vm[64], react[16];

			snprintf(vm, sizeof(vm), "%.0f/%.0f/%.0f", bm_mean(p, p->work_vm_sum[0]),
				 bm_mean(p, p->work_vm_sum[1]), bm_mean(p, p->work_vm_sum[2]));
			printf("%-8s %-6s %10.0f %22s %8.0f %9.0f %4llu %8.0f %8.0f %8s %8.3f %8.3f %8.3f %9.3f\n",
			       ph ? "" : bm_mode_names[m], bm_phase_names[ph],
			       bench_range_median(&p->work), vm, bm_mean(p, p->majflt_sum),
			       bm_mean(p, p->swapin_sum), (unsigned long long)p->oom_kills,
			       p->budget_max_pct, bm_mean(p, p->rss_sum),
			       react_text(p, ph, react, sizeof(react)), bm_mean(p, p->waved_pct_sum),
			       bm_mean(p, p->waved_mem_pct_sum), bm_mean(p, p->agent_pct_sum),
			       bm_mean(p, p->libvirtd_pct_sum));
		}
	printf("\ngoals (each within a run; median, min-max over %u run%s):\n", res->runs,
	       res->runs == 1 ? "" : "s");
	print_goals(res, stdout, 0);
}

static FILE *open_in(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return fopen(path, "w");
}

/* timeline-MODE.dat: phase, t, then each VM's balloon and demand; plots.gp draws them. */
static int write_plots(const struct bm_results *res, const char *dir)
{
	FILE *gp = open_in(dir, "plots.gp");

	if (!gp)
		return -errno;
	fprintf(gp, "set terminal pngcairo size 1400,400\nset key outside right\n"
		    "set xlabel 'time in phase (s)'\nset ylabel 'MiB'\nset yrange [0:*]\n");
	for (int m = 0; m < BM_NR_MODES; m++) {
		char name[64];
		FILE *f;

		if (!ran(res, (enum bm_mode)m))
			continue;
		snprintf(name, sizeof(name), "timeline-%s.dat", bm_mode_names[m]);
		if (!(f = open_in(dir, name))) {
			fclose(gp);
			return -errno;
		}
		for (int ph = 0; ph < BM_NR_PHASES; ph++) {
			const struct bm_phase_result *p = &res->r[m][ph];

			for (unsigned int i = 0; i < p->tl_n; i++)
				fprintf(f, "%.2f %.0f %.0f %.0f %.0f %.0f %.0f\n",
					p->tl[i].t_s + ph * (double)res->phase_s, p->tl[i].balloon[0],
					p->tl[i].demand[0], p->tl[i].balloon[1], p->tl[i].demand[1],
					p->tl[i].balloon[2], p->tl[i].demand[2]);
			fprintf(f, "\n");
		}
		fclose(f);
		fprintf(gp, "set output 'timeline-%s.png'\nset title '%s: balloons (lines) and "
			    "working sets (dashed), phases skew | shift | spike; budget %u MiB'\n"
			    "plot for [k=0:2] '%s' using 1:(column(2+2*k)) with lines lw 2 lc k+1 "
			    "title sprintf('VM %%d balloon', k+1), for [k=0:2] '%s' using "
			    "1:(column(3+2*k)) with lines dt 2 lc k+1 title sprintf('VM %%d demand', k+1)\n",
			bm_mode_names[m], bm_mode_names[m], res->budget_mib, name, name);
	}
	fclose(gp);
	return bench_gnuplot(dir, "bench mem");
}

int bm_report(const struct bm_results *res, const char *dir)
{
	FILE *f;

	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	if (!(f = open_in(dir, "report.md")))
		return -errno;
	fprintf(f, "# Wave-VM: guest memory by policy against a static split\n\n"
		   "Three VMs (1 vCPU, %u MiB at most, zram swap, guests under %s, kernel %s) share a "
		   "budget of %u MiB. %u run(s), %u s per phase, the phases back to back from the same start "
		   "in every mode. Work: MiB of the guests' working sets touched per second (each "
		   "set twice a second while it fits).\n\n"
		   "| mode | phase | work/s | majflt/s | swap-in KiB/s | OOM | budget %% | RSS MiB | react ms "
		   "| waved's memory worker, %% of a core | libvirtd, %% of a core |\n"
		   "|---|---|---|---|---|---|---|---|---|---|---|\n", res->vm_max_mib, res->accel,
		res->kernel[0] ? res->kernel : "unknown", res->budget_mib, res->runs, res->phase_s);
	for (int m = 0; m < BM_NR_MODES; m++)
		for (int ph = 0; ph < BM_NR_PHASES && ran(res, (enum bm_mode)m); ph++) {
			const struct bm_phase_result *p = &res->r[m][ph];
			char react[16];

			fprintf(f, "| %s | %s | %.0f | %.0f | %.0f | %llu | %.0f | %.0f | %s | %.3f | %.3f |\n",
				bm_mode_names[m], bm_phase_names[ph], bench_range_median(&p->work),
				bm_mean(p, p->majflt_sum), bm_mean(p, p->swapin_sum),
				(unsigned long long)p->oom_kills, p->budget_max_pct,
				bm_mean(p, p->rss_sum), react_text(p, ph, react, sizeof(react)),
				bm_mean(p, p->waved_mem_pct_sum), bm_mean(p, p->libvirtd_pct_sum));
		}
	fprintf(f, "\n## Goals\n\n| goal | value | want | |\n|---|---|---|---|\n");
	print_goals(res, f, 1);
	fprintf(f, "\n## Balloons and demand over time\n\n");
	for (int m = 0; m < BM_NR_MODES; m++)
		if (ran(res, (enum bm_mode)m))
			fprintf(f, "![%s](timeline-%s.png)\n\n", bm_mode_names[m], bm_mode_names[m]);
	fclose(f);
	return write_plots(res, dir);
}
