// SPDX-License-Identifier: BSD-3-Clause
/*
 * wavectl bench mem: does moving the balloons by policy beat what
 * operators do today? Three real VMs (images/xml/mem.xml: 1 vCPU, 512 MiB
 * at most, balloon statistics every second, a zram swap) run the mem
 * workload and share a guest memory budget (768 MiB by default).
 *
 * Modes, interleaved over runs as in bench sched:
 *   static   each balloon set to a third of the budget, never changed
 *   none     no balloon control: every VM keeps its maximum (how far the
 *            sum overshoots the budget is reported)
 *   offload  the balloon policy in wave-agent over shm (waved --mem-budget)
 *   onhost   the same policy inside waved
 * The scheduling policy is cfs in every mode: only memory differs.
 * Phases, one after the other from the same start in every mode (every
 * working set 64 MiB, every balloon at a third of the budget; in none at
 * its maximum), the daemons running throughout:
 *   skew     one VM needs 400 MiB, two need 64
 *   shift    the demand moves: the second VM needs 400, the first 64
 *   spike    the first holds 300; a third of the way in, the third VM's
 *            demand jumps to 350 (react_ms: from the jump until its guest,
 *            once short, has MemAvailable above the low mark again and
 *            swaps in no more; 0 if it was never short)
 * Work is what the guests report: MiB of their working sets touched per
 * second; a guest short of memory swaps to zram and touches far less.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "bench/bench-mem.h"
#include "bench/bench.h"
#include "bench/sched-client.h"
#include "bench/vmenv.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/procstat.h"
#include "common/site.h"
#include "common/spawn.h"
#include "images/guest/guest.h"
#include "vmm/conn.h"
#include "waved/status-client.h"

#define REPORT_PORT 7700
#define MEM_PORT    7777
#define BASE_MIB    64
#define SAMPLE_MS   250

const char *const bm_mode_names[BM_NR_MODES] = { "static", "none", "offload", "onhost" };
const char *const bm_phase_names[BM_NR_PHASES] = { "skew", "shift", "spike" };

/* Keys of the guests' WAVE-MEM reports, in sc_report.v order. */
enum { K_UNITS, K_WS, K_AVAIL, K_MAJFLT, K_PSWPIN, K_OOM, K_BALLOON, NR_K };
static const char *const report_keys[] = { "units", "ws_mib", "avail_mib", "majflt", "pswpin",
					   "oom_kills", "balloon_mib", NULL };

struct bm_cfg {
	int quick, json;
	const char *report;
	unsigned int runs, phase_s, budget_mib, modes;
};

static struct bench_env env;
static struct sc_reports rep;    /* megabytes: not on the stack */
static struct bm_results res;
static struct vmm_conn *conn;
static pid_t waved, agent;

/*
 * The guests' kernel, from the images' kernel-version (Debian's, or the
 * lean one of images/mklean.sh: what a guest keeps for itself differs by
 * 55 MiB, which a small budget feels).
 */
static void guest_kernel(char *out, size_t size)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	FILE *f;

	out[0] = '\0';
	site_images_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/kernel-version", dir);
	if ((f = fopen(path, "r"))) {
		if (fgets(out, (int)size, f))
			out[strcspn(out, "\n")] = '\0';
		fclose(f);
	}
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* A progress line, unless the output is JSON. */
#define progress(c, ...) bench_say((c)->json, "bench mem", __VA_ARGS__)

static int pause_s(double s)
{
	return bench_pause(s, &interrupted);
}

/* Tells VM k's guest its working set (MiB); 0 once it acknowledged. */
static int set_demand(unsigned int k, unsigned int mib)
{
	int ret = bench_guest_cmd(env.vm[k].ip, MEM_PORT, MEM_MAGIC, mib, 10, 300);

	if (ret)
		wave_err("bench mem: %s does not acknowledge its new working set", env.vm[k].name);
	return ret;
}

/* Sets VM k's balloon by hand, as an operator would (virsh setmem --live). */
static int set_balloon(unsigned int k, unsigned int mib)
{
	virDomainPtr d = virDomainLookupByName(vmm_conn_virt(conn), env.vm[k].name);
	int ret = d && !virDomainSetMemoryFlags(d, mib * 1024ul, VIR_DOMAIN_AFFECT_LIVE) ? 0 : -EIO;

	if (d)
		virDomainFree(d);
	if (ret)
		wave_err("bench mem: %s: balloon to %u MiB failed", env.vm[k].name, mib);
	return ret;
}

static int mode_start(const struct bm_cfg *c, enum bm_mode m)
{
	char budget[16];
	char *observe[] = { "--mode", "observe", "--match", env.prefix, "--rundir", env.rundir, NULL };
	char *offload[] = { "--mode", "offload", "--policy", "cfs", "--mem-budget", budget, "--match",
			    env.prefix, "--rundir", env.rundir, "--channel", env.chan, NULL };
	char *ag[] = { "--channel", env.chan, "--policy", "cfs", "--mem-policy", "balloon",
		       "--report-s", "0", "--reserve", BE_AGENT_RESERVE, NULL };
	char *onhost[] = { "--mode", "onhost", "--policy", "cfs", "--mem-policy", "balloon",
			   "--mem-budget", budget, "--match", env.prefix, "--rundir", env.rundir,
			   NULL };

	snprintf(budget, sizeof(budget), "%u", c->budget_mib);
	switch (m) {
	case BM_STATIC:
	case BM_NONE:
		waved = be_daemon(&env, "waved", observe);
		return be_wait_state(&env, "observe", 10000);
	case BM_OFFLOAD:
		waved = be_daemon(&env, "waved", offload);
		agent = be_daemon(&env, "wave-agent", ag);
		return be_wait_state(&env, "offload", 15000);
	case BM_ONHOST:
		waved = be_daemon(&env, "waved", onhost);
		return be_wait_state(&env, "onhost", 10000);
	default:
		return -EINVAL;
	}
}

static void mode_stop(void)
{
	wave_reap(&agent, 3000);
	wave_reap(&waved, 5000);
}

/* VM k's balloon now (libvirt's current memory), MiB; 0 if unknown. */
static unsigned int balloon_mib(unsigned int k)
{
	virDomainPtr d = virDomainLookupByName(vmm_conn_virt(conn), env.vm[k].name);
	virDomainInfo info;
	unsigned int mib = d && !virDomainGetInfo(d, &info) ? (unsigned int)(info.memory / 1024) : 0;

	if (d)
		virDomainFree(d);
	return mib;
}

/*
 * Every VM back to the same start: working set BASE, balloon a third of
 * the budget (none: its maximum), and waits until the balloons got there
 * (seconds: a guest gives pages back at its own pace).
 */
static int reset(const struct bm_cfg *c, enum bm_mode m)
{
	unsigned int want = m == BM_NONE ? res.vm_max_mib : c->budget_mib / BM_NR_VMS;
	int ret = 0, there = 0;

	for (unsigned int k = 0; k < BM_NR_VMS && !ret; k++)
		ret = set_demand(k, BASE_MIB);
	for (unsigned int k = 0; k < BM_NR_VMS && !ret; k++)
		ret = set_balloon(k, want);
	for (int i = 0; !ret && !there && i < 300; i++) {
		there = 1;
		for (unsigned int k = 0; k < BM_NR_VMS; k++)
			there &= balloon_mib(k) + 8 >= want && balloon_mib(k) <= want + 8;
		ret = there ? 0 : pause_s(0.1);
	}
	if (!ret && !there)
		wave_warn("bench mem: the balloons did not reach %u MiB within 30 s", want);
	return ret ? ret : pause_s(1);
}

/* waved's memory worker so far: CPU (s), reads by kind, re-arms (see waved's status). */
struct mm_seen {
	double cpu_s, reads[BM_NR_READS], rearms;
};

const char *const bm_read_keys[BM_NR_READS] = { "mem_reads", "mem_quick_reads",
						 "mem_late_reads", "mem_bulk_reads",
						 "mem_set", "mem_calls" };

/*
 * Each VM's balloon (MiB) as its guest counts it in its latest report
 * (its maximum less what it gave the balloon), and its QEMU RSS (MiB)
 * from waved's status; 0 where unknown. The budget is judged by what the
 * guests hold, not by the host's reading of the balloons it is judged on.
 */
static void read_balloons(double *balloon, double *rss, struct mm_seen *mm)
{
	struct sc_report last;

	json_object *vms, *vm, *mem, *st, *status = waved_status(env.rundir, NULL, 0);

	memset(mm, 0, sizeof(*mm));
	mm->cpu_s = status ? waved_num(status, "mem_cpu_s") : 0;
	if (status && json_object_object_get_ex(status, "stats", &st) &&
	    json_object_object_get_ex(st, "mem_reads", NULL)) {
		for (int i = 0; i < BM_NR_READS; i++)
			mm->reads[i] = waved_num(st, bm_read_keys[i]);
		mm->rearms = waved_num(st, "mem_rearms");
	}
	for (unsigned int k = 0; k < BM_NR_VMS; k++) {
		balloon[k] = rss[k] = 0;
		if (!status || !json_object_object_get_ex(status, "vms", &vms))
			continue;
		for (size_t i = 0; i < json_object_array_length(vms); i++) {
			vm = json_object_array_get_idx(vms, i);
			if (strcmp(waved_str(vm, "name"), env.vm[k].name) ||
			    !json_object_object_get_ex(vm, "mem", &mem))
				continue;
			rss[k] = waved_num(mem, "rss_kib") / 1024;
		}
		if (!sc_last(&rep, k, &last) && last.v[K_BALLOON] <= res.vm_max_mib)
			balloon[k] = res.vm_max_mib - (double)last.v[K_BALLOON];
	}
	if (status)
		json_object_put(status);
}

struct phase_run {
	uint64_t t0, rise_ns;
	uint64_t last_seen_ns, last_pswpin; /* VM 3's last report looked at */
	int dipped;              /* ... had MemAvailable under the low mark since the rise */
	unsigned int demand[BM_NR_VMS];
	double rss_acc;
	unsigned int rss_n;
	double react_ms;
	struct sc_report first[BM_NR_VMS];
};

/* One sample: balloons against the budget, the timeline, and (spike) whether VM 3 has enough again. */
static void sample(const struct bm_cfg *c, struct phase_run *pr, struct bm_phase_result *out)
{
	double balloon[BM_NR_VMS], rss[BM_NR_VMS], sum = 0;
	struct bm_sample *s = out->tl_n < BM_MAX_SAMPLES ? &out->tl[out->tl_n++] : NULL;
	struct mm_seen mm;
	struct sc_report last;

	read_balloons(balloon, rss, &mm);
	for (unsigned int k = 0; k < BM_NR_VMS; k++) {
		sum += balloon[k];
		pr->rss_acc += rss[k];
		if (s) {
			s->balloon[k] = balloon[k];
			s->demand[k] = pr->demand[k];
		}
	}
	pr->rss_n++;
	if (s)
		s->t_s = (double)(wave_now_ns() - pr->t0) / 1e9;
	if (sum * 100.0 / c->budget_mib > out->budget_max_pct)
		out->budget_max_pct = sum * 100.0 / c->budget_mib;
	/*
	 * Reacted: after MemAvailable fell under the low mark (the new set
	 * filling in), a report with it back at or above the mark and no
	 * swap-in since the report before. A guest that never fell under the
	 * mark needed no reaction: 0 (the guest's own time to fill its set in
	 * is not the policy's).
	 */
	if (pr->rise_ns && pr->react_ms < 0 && !sc_last(&rep, 2, &last) && last.t_ns > pr->rise_ns &&
	    last.t_ns != pr->last_seen_ns && last.v[K_WS] == pr->demand[2]) {
		if (last.v[K_AVAIL] < res.low_mib)
			pr->dipped = 1;
		else if (pr->dipped && pr->last_seen_ns && last.v[K_PSWPIN] == pr->last_pswpin)
			pr->react_ms = (double)(last.t_ns - pr->rise_ns) / 1e6;
		pr->last_seen_ns = last.t_ns;
		pr->last_pswpin = last.v[K_PSWPIN];
	}
}

/*
 * libvirtd's pid (from its pidfile, checked against its command name), 0
 * if none: every statistics read and balloon target is a call that
 * libvirtd serves on the host too, so its CPU is part of what memory
 * control costs the host (with what else libvirtd does meanwhile).
 */
static pid_t libvirtd_pid(void)
{
	return wave_pidfile_pid("/run/libvirtd.pid", "libvirtd\n");
}

static int measure_phase(const struct bm_cfg *c, enum bm_phase ph, struct bm_phase_result *out)
{
	struct phase_run pr = { .react_ms = -1 };
	pid_t lv = libvirtd_pid();
	uint64_t w0 = bench_proc_cpu_ns(waved), a0 = bench_proc_cpu_ns(agent), t_end, t1;
	uint64_t l0 = bench_proc_cpu_ns(lv);
	double b[BM_NR_VMS], r[BM_NR_VMS], work = 0, dt;
	struct mm_seen mem0, mem1;
	struct sc_report last;
	int ret = 0;

	read_balloons(b, r, &mem0);
	for (unsigned int k = 0; k < BM_NR_VMS; k++) {
		pr.demand[k] = ph == BM_SPIKE && k == 2 ? BASE_MIB : res.demand[ph][k];
		if ((ret = set_demand(k, pr.demand[k])))
			return ret;
		sc_last(&rep, k, &pr.first[k]);
	}
	out->tl_n = 0;
	pr.t0 = wave_now_ns();
	t_end = pr.t0 + (uint64_t)c->phase_s * 1000000000ull;
	while (!ret && wave_now_ns() < t_end) {
		if (ph == BM_SPIKE && !pr.rise_ns &&
		    wave_now_ns() >= pr.t0 + (t_end - pr.t0) / 3) {
			pr.demand[2] = res.demand[ph][2];
			pr.rise_ns = wave_now_ns();
			ret = set_demand(2, pr.demand[2]);
		}
		sample(c, &pr, out);
		ret = ret ? ret : pause_s(SAMPLE_MS / 1000.0);
	}
	t1 = wave_now_ns();
	read_balloons(b, r, &mem1);
	for (unsigned int k = 0; k < BM_NR_VMS; k++) {
		double u = sc_vm_rate(&rep, k, K_UNITS, pr.t0, t1);

		work += u;
		out->work_vm_sum[k] += u;
		out->majflt_sum += sc_vm_rate(&rep, k, K_MAJFLT, pr.t0, t1);
		out->swapin_sum += sc_vm_rate(&rep, k, K_PSWPIN, pr.t0, t1) * 4; /* pages: KiB */
		if (!sc_last(&rep, k, &last) && last.v[K_OOM] >= pr.first[k].v[K_OOM])
			out->oom_kills += last.v[K_OOM] - pr.first[k].v[K_OOM];
	}
	bench_range_add(&out->work, work);
	out->rss_sum += pr.rss_n ? pr.rss_acc / pr.rss_n : 0;
	out->waved_pct_sum += 100.0 * (double)(bench_proc_cpu_ns(waved) - w0) / (double)(t1 - pr.t0);
	out->agent_pct_sum += 100.0 * (double)(bench_proc_cpu_ns(agent) - a0) / (double)(t1 - pr.t0);
	out->libvirtd_pct_sum += 100.0 * (double)(bench_proc_cpu_ns(lv) - l0) / (double)(t1 - pr.t0);
	dt = (double)(t1 - pr.t0) / 1e9;
	out->waved_mem_pct_sum += 100.0 * (mem1.cpu_s - mem0.cpu_s) / dt;
	for (int i = 0; i < BM_NR_READS; i++)
		out->reads_sum[i] += (mem1.reads[i] - mem0.reads[i]) / dt;
	out->rearms_sum += (mem1.rearms - mem0.rearms) / dt;
	/* Never enough again before the phase ended: as bad as it gets. */
	if (ph == BM_SPIKE)
		bench_range_add(&out->react_ms, pr.react_ms >= 0 ? pr.react_ms
						 : pr.dipped ? BM_NEVER_MS : 0);
	out->reps++;
	return ret;
}

static int run_mode(const struct bm_cfg *c, enum bm_mode m, unsigned int run)
{
	int ret;

	progress(c, "run %u/%u: mode %s", run + 1, c->runs, bm_mode_names[m]);
	if ((ret = reset(c, m)) || (ret = mode_start(c, m)))
		goto out;
	for (int ph = 0; !ret && ph < BM_NR_PHASES; ph++) {
		progress(c, "  %s (%u s)", bm_phase_names[ph], c->phase_s);
		ret = measure_phase(c, (enum bm_phase)ph, &res.r[m][ph]);
	}
out:
	mode_stop();
	return ret;
}

static int parse_modes(const struct opt *o, const char *arg)
{
	return bench_parse_names("--modes", arg, bm_mode_names, BM_NR_MODES, &((struct bm_cfg *)o->value)->modes);
}

static struct bm_cfg opt_cfg;

static const struct opt mem_opts[] = {
	OPT_BOOL("quick", 0, &opt_cfg.quick, "one run, 10 s phases (about 5 minutes)"),
	OPT_BOOL("json", 0, &opt_cfg.json,
		 "one JSON object: {\"params\" (guest_kernel too), \"modes\": {MODE: {PHASE: {work_per_s,\n"
		 "work_per_s_vm, major_faults_per_s, swap_in_per_s, oom_kills,\n"
		 "budget_max_pct, rss_sum_mib, react_ms (spike), waved_cpu_pct,\n"
		 "waved_mem_cpu_pct, agent_cpu_pct, libvirtd_cpu_pct, mem_*_per_s}}},\n"
		 "\"goals\": [...]}"),
	OPT_STRING("report", "DIR", &opt_cfg.report,
		   "also write DIR/report.md and per mode a plot of each VM's\n"
		   "balloon and demand over time (gnuplot)"),
	OPT_UINT("runs", "N", &opt_cfg.runs, 0, 20, "runs, modes interleaved in each (0: 1)"),
	OPT_UINT("phase-s", "S", &opt_cfg.phase_s, 0, 600,
		 "seconds per phase (0: 20, or 10 with --quick)"),
	OPT_UINT("budget", "MIB", &opt_cfg.budget_mib, 0, 1u << 20,
		 "the guests' memory budget (0: 768)"),
	{ .kind = OPT_KIND_CALLBACK, .name = "modes", .argh = "LIST", .value = &opt_cfg,
	  .cb = parse_modes, .help = "run only these modes (static, none, offload, onhost)" },
	OPT_END(),
};

static const struct opt_cmd mem_cmd = {
	.name = "bench mem",
	.usage = "wavectl bench mem [--quick] [--json] [--report DIR] [--runs N] [OPTIONS]",
	.about = "Three real VMs (1 vCPU, 512 MiB at most, a zram swap) run a working set that\n"
		 "moves (skew: one VM needs 400 MiB; shift: another does; spike: a third jumps\n"
		 "to 350 MiB while the first holds 300) within a guest memory budget. Modes:\n"
		 "static (a third of the budget each, as operators do), none (no balloon\n"
		 "control), offload (the balloon policy in wave-agent), onhost (in waved).\n"
		 "Reports the work the guests get done, their faults, swap-ins and OOM kills,\n"
		 "the balloons' sum against the budget, how fast a spike is answered, and the\n"
		 "daemons' CPU; the goals as ratios within each run. Needs root; starts and\n"
		 "removes its VMs. The guests boot the images in $WAVE_IMAGES (default: the\n"
		 "build's, Debian's kernel); after 'make images-lean', WAVE_IMAGES=\n"
		 "build/images-lean runs them on the lean guest kernel, which keeps 55 MiB\n"
		 "less of each guest for itself.\n",
	.opts = mem_opts,
};

static int run_all(const struct bm_cfg *c)
{
	char why[512];
	int ret;

	progress(c, "starting libvirtd (if needed), the bridge and %d VMs", BM_NR_VMS);
	if ((ret = be_setup(&env, "bench mem", "mem", c->json)))
		return ret;
	for (unsigned int k = 0; k < BM_NR_VMS; k++) {
		char name[8];

		snprintf(name, sizeof(name), "m%u", k + 1);
		if ((ret = be_launch(&env, "mem.xml", name, c->json)) < 0)
			return ret;
	}
	if ((ret = vmm_conn_open(NULL, 0, &conn, why, sizeof(why)))) {
		wave_err("bench mem: %s", why);
		return ret;
	}
	for (int i = 0; i < 1800; i++) {
		unsigned int up = 0;

		for (unsigned int k = 0; k < BM_NR_VMS; k++)
			up += be_console_has(&env, k, "WAVE-READY workload=mem");
		if (up == BM_NR_VMS || interrupted)
			break;
		usleep(100000);
	}
	if ((ret = sc_reports_start(&rep, "10.77.0.1", REPORT_PORT, "WAVE-MEM", report_keys)))
		return ret;
	for (unsigned int k = 0; k < BM_NR_VMS; k++)
		sc_reports_add_vm(&rep, env.vm[k].ip);
	for (unsigned int run = 0; !ret && run < c->runs; run++)
		for (int i = 0; !ret && i < BM_NR_MODES; i++) {
			enum bm_mode m = (enum bm_mode)((i + (int)run) % BM_NR_MODES);

			if (c->modes & (1u << m))
				ret = interrupted ? -EINTR : run_mode(c, m, run);
		}
	sc_reports_stop(&rep);
	return ret;
}

int bench_mem_main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct bm_cfg c;
	int ret = opt_parse(&mem_cmd, argc, argv, NULL);

	if (ret)
		return ret > 0 ? 0 : 2;
	c = opt_cfg;
	c.runs = c.runs ? c.runs : 1;
	c.phase_s = c.phase_s ? c.phase_s : c.quick ? 10 : 20;
	c.budget_mib = c.budget_mib ? c.budget_mib : 768;
	c.modes = c.modes ? c.modes : (1u << BM_NR_MODES) - 1;
	if (geteuid() != 0) {
		wave_err("bench mem: needs root (libvirt VMs, balloons)");
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	wave_log_set_level(WAVE_LOG_WARN);
	res.modes = c.modes;
	res.runs = c.runs;
	res.phase_s = c.phase_s;
	res.budget_mib = c.budget_mib;
	res.vm_max_mib = 512;
	res.low_mib = 32;
	memcpy(res.demand, (const unsigned int[BM_NR_PHASES][BM_NR_VMS]){
		{ 400, BASE_MIB, BASE_MIB }, { BASE_MIB, 400, BASE_MIB }, { 300, BASE_MIB, 350 } },
	       sizeof(res.demand));
	ret = run_all(&c);
	snprintf(res.accel, sizeof(res.accel), "%s", env.nr_vms ? env.vm[0].accel : "");
	guest_kernel(res.kernel, sizeof(res.kernel));
	progress(&c, "stopping and removing what was started");
	mode_stop();
	vmm_conn_close(conn);
	be_teardown(&env);
	if (interrupted) {
		wave_err("bench mem: interrupted; everything started was stopped");
		return 1;
	}
	if (ret) {
		wave_err("bench mem: %s", strerror(-ret));
		return 1;
	}
	if (c.report && (ret = bm_report(&res, c.report)))
		wave_err("bench mem: report: %s", strerror(-ret));
	if (c.json)
		bm_print_json(&res);
	else
		bm_print_table(&res);
	if (c.report && !c.json && !ret)
		printf("\nreport: %s/report.md\n", c.report);
	return ret ? 1 : 0;
}
