// SPDX-License-Identifier: BSD-3-Clause
/*
 * wavectl bench sched: is offloaded scheduling better than Linux alone,
 * than what an operator sets by hand, and what does offloading cost next to
 * the same policy on the host? Measured on real VMs from images/xml/: one
 * latency-class VM answering UDP (echo) and one batch VM spinning, four
 * vCPUs on the host's CPUs (2:1 on two CPUs).
 *
 * Modes, on the same VMs, interleaved over repetitions (the order rotates)
 * so that drift of a shared machine hits all alike:
 *   cfs      waved --mode observe: Linux alone
 *   pin      static pinning: the latency VM alone on its CPUs, batch vCPUs
 *            1:1 on the rest (waved --mode onhost --policy pin)
 *   rt       static SCHED_FIFO for the latency VM's threads, set by hand
 *   offload  wave-agent (latency policy) over shm, link delay 2 us
 *   onhost   the same policy inside waved
 *   nonet    offload with the VMs' traffic not counted (waved --net-observe
 *            none): the policy sees CPU only; next to offload, it shows
 *            what the network insight changes and what counting costs waved
 *   fire     offload with a packet's arrival firing what the policy
 *            prestaged (waved --net-fire), not at the vCPU's wakeup; only
 *            with --modes, and only a policy that prestages (lend=on)
 *            differs from offload
 * Phases, one after the other in each mode:
 *   steady   100 requests/s costing 200 us each (far from saturation)
 *   step     4x the rate and 3x the cost: demand grows twelvefold
 *   busy     legitimate load near saturation: 1500 requests/s of 1.5 ms
 *            nominal cost (the guest's calibration under contention makes
 *            it less: the latency VM uses about one core of its two):
 *            a busy server, which must not be taken for a hog
 *   hog      steady load, and the latency VM's guest burns CPU on all vCPUs
 * Each phase also counts the policy's demotions of the latency VM (from
 * waved's status), and the hog phase how long the first one took.
 * The client (sched-client.c) runs at SCHED_FIFO 50 in every mode.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <json-c/json.h>

#include "bench/bench-sched.h"
#include "bench/bench.h"
#include "bench/sched-client.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/site.h"
#include "common/parse.h"
#include "waved/status-client.h"

const char *const bs_phase_names[BS_NR_PHASES] = { "steady", "step", "busy", "hog" };

#define CLIENT_PRIO 50
#define ECHO_PORT 7777
#define REPORT_PORT 7700

struct bs_cfg {
	int quick, json;
	unsigned int busy_rate, busy_cost, steady_rate;
	const char *report;
	unsigned int runs, phase_s, warm_s, settle_ms;
	unsigned int nr_delays;
	unsigned int delays[BS_MAX_DELAYS];
	unsigned int modes;          /* bit per enum se_mode to run */
};

static struct se_env env;
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* A progress line, unless the output is JSON. */
#define progress(c, ...) bench_say((c)->json, "bench sched", __VA_ARGS__)

static int pause_s(double s)
{
	return bench_pause(s, &interrupted);
}

static int add_samples(struct bs_phase_result *p, const uint64_t *v, unsigned int n)
{
	if (p->n + n > p->cap) {
		unsigned int cap = (p->n + n) * 2;
		uint64_t *nv = realloc(p->rtt, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		p->rtt = nv;
		p->cap = cap;
	}
	memcpy(p->rtt + p->n, v, n * sizeof(*v));
	p->n += n;
	return 0;
}

double bs_mean(const struct bs_phase_result *p, double sum)
{
	return p->reps ? sum / p->reps : 0;
}

int bs_mode_ran(const struct bs_phase_result *phases)
{
	for (int ph = 0; ph < BS_NR_PHASES; ph++)
		if (phases[ph].reps)
			return 1;
	return 0;
}

int64_t bs_demotions(const struct bs_phase_result *p)
{
	double sum = 0;

	for (unsigned int i = 0; i < p->demotions_runs.n; i++)
		sum += p->demotions_runs.v[i];
	return p->demotions_runs.n ? (int64_t)sum : -1;
}

double bs_demote_ms(const struct bs_phase_result *p)
{
	double worst = -1;

	for (unsigned int i = 0; i < p->demote_ms_runs.n; i++) {
		if (p->demote_ms_runs.v[i] < 0)
			return -1;
		worst = p->demote_ms_runs.v[i] > worst ? p->demote_ms_runs.v[i] : worst;
	}
	return worst;
}

/* What a phase is measured by: the client's sequence, the clock, and CPU time used. */
enum { CPU_WAVED, CPU_AGENT, CPU_LATVM, CPU_BATVMS, NR_CPU };

struct phase_mark {
	uint64_t seq, t;
	uint64_t cpu[NR_CPU];
	double wakeups;              /* waved's, less those for status requests; -1: no waved */
};

/* waved's wakeups so far, less those for status requests (this one's too); -1 without waved. */
static double waved_wakeups(void)
{
	json_object *st = env.waved > 0 ? waved_status(env.be.rundir, NULL, 0) : NULL, *stats;
	double n = -1;

	if (st && json_object_object_get_ex(st, "stats", &stats))
		n = waved_num(stats, "wakeups") - waved_num(stats, "wakeups_status");
	if (st)
		json_object_put(st);
	return n;
}

static void mark(const struct sc_client *cl, struct phase_mark *m)
{
	m->wakeups = waved_wakeups();
	m->seq = sc_sent(cl);
	m->t = wave_now_ns();
	m->cpu[CPU_WAVED] = bench_proc_cpu_ns(env.waved);
	m->cpu[CPU_AGENT] = bench_proc_cpu_ns(env.agent);
	m->cpu[CPU_LATVM] = bench_proc_cpu_ns(env.be.vm[SE_VM_LAT].pid);
	m->cpu[CPU_BATVMS] = 0;
	for (int i = 0; i < SE_NR_BATCH; i++)
		m->cpu[CPU_BATVMS] += bench_proc_cpu_ns(env.be.vm[SE_VM_BAT + i].pid);
}

/* What waved's status counts so far; each -1 if waved does not answer. */
struct waved_counts {
	int64_t demotions;           /* of the latency VM */
	int64_t fired;               /* prestaged decisions fired */
	int64_t fallbacks;           /* times waved lost the agent */
};

static void waved_counts(struct waved_counts *c)
{
	json_object *st = waved_status(env.be.rundir, NULL, 0), *vms, *vm, *stats;

	c->demotions = c->fired = c->fallbacks = -1;
	if (st && json_object_object_get_ex(st, "stats", &stats)) {
		c->fired = (int64_t)waved_num(stats, "prestaged_fired");
		c->fallbacks = (int64_t)waved_num(stats, "fallbacks");
	}
	if (st && json_object_object_get_ex(st, "vms", &vms))
		for (size_t i = 0; i < json_object_array_length(vms); i++) {
			vm = json_object_array_get_idx(vms, i);
			if (!strcmp(waved_str(vm, "class"), "latency"))
				c->demotions = (int64_t)waved_num(vm, "demotions");
		}
	if (st)
		json_object_put(st);
}

static int64_t lat_demotions(void)
{
	struct waved_counts c;

	waved_counts(&c);
	return c.demotions;
}

/*
 * Waits s seconds; with watch, polls the latency VM's demotions every 50 ms
 * until they pass d0 and returns when that happened (ms after t0) in *ms.
 */
static int pause_watching(double s, int watch, int64_t d0, uint64_t t0, double *ms)
{
	uint64_t end = wave_now_ns() + (uint64_t)(s * 1e9);

	while (!interrupted && wave_now_ns() < end) {
		usleep(watch && *ms < 0 ? 50000 : 20000);
		if (watch && *ms < 0 && lat_demotions() > d0)
			*ms = (double)(wave_now_ns() - t0) / 1e6;
	}
	return interrupted ? -EINTR : 0;
}

/* CPU used between two marks, in % of one core. */
static double cpu_pct(const struct phase_mark *m0, const struct phase_mark *m1, int which)
{
	return 100.0 * (double)(m1->cpu[which] - m0->cpu[which]) / (double)(m1->t - m0->t);
}

/* One measured phase: load set, settled, measured, collected. */
static int measure_phase(const struct bs_cfg *c, struct sc_client *cl, enum bs_phase ph,
			 const struct bs_results *res, struct bs_phase_result *out, uint64_t span[2])
{
	static uint64_t buf[1 << 18];
	struct phase_mark m0, m1;
	uint64_t lost;
	unsigned int n;
	int ret;

	struct waved_counts c0, c1;
	int64_t d0;
	uint64_t t0 = wave_now_ns();
	double demote_ms = -1;

	waved_counts(&c0);
	d0 = c0.demotions;
	sc_set_load(cl, res->rate[ph], res->cost_us[ph]);
	if (ph == BS_HOG && sc_hog(cl, BS_HOG_THREADS))
		wave_warn("bench sched: the echo guest did not acknowledge HOG");
	/* In the hog phase, the first demotion is timed (polling waved until it comes). */
	if ((ret = pause_watching((double)c->settle_ms / 1000.0, ph == BS_HOG && d0 >= 0, d0, t0,
				  &demote_ms)))
		return ret;
	mark(cl, &m0);
	ret = pause_watching(c->phase_s, ph == BS_HOG && d0 >= 0, d0, t0, &demote_ms);
	mark(cl, &m1);
	waved_counts(&c1);
	if (d0 >= 0 && c1.demotions >= d0)
		bench_range_add(&out->demotions_runs, (double)(c1.demotions - d0));
	if (c0.fired >= 0 && c1.fired >= c0.fired)
		out->fired_sum += (double)(c1.fired - c0.fired);
	if (c0.fallbacks >= 0 && c1.fallbacks >= c0.fallbacks)
		out->fallbacks_sum += (double)(c1.fallbacks - c0.fallbacks);
	if (ph == BS_HOG && d0 >= 0)
		bench_range_add(&out->demote_ms_runs, demote_ms);
	if (ph == BS_HOG && sc_hog(cl, 0)) {
		wave_err("bench sched: the echo guest does not answer the end of HOG: giving up "
			 "(what follows would measure a hogging guest)");
		ret = -ETIMEDOUT;
	}
	/* Late replies still count: give them a moment before calling them lost. */
	pause_s(0.3);
	n = sc_collect(cl, m0.seq, m1.seq, buf, sizeof(buf) / sizeof(buf[0]), &lost);
	if (add_samples(out, buf, n))
		return -ENOMEM;
	/* Every request lost: its p99 is at least the phase (never 0, which would look best). */
	bench_range_add(&out->p99_runs, n ? (double)bench_percentile(buf, n, 0.99) / 1e3 :
				       m1.seq > m0.seq ? (double)(m1.t - m0.t) / 1e3 : 0);
	out->lost += lost;
	out->sent += m1.seq - m0.seq;
	span[0] = m0.t;
	span[1] = m1.t;
	out->waved_pct_sum += cpu_pct(&m0, &m1, CPU_WAVED);
	out->agent_pct_sum += cpu_pct(&m0, &m1, CPU_AGENT);
	out->latvm_pct_sum += cpu_pct(&m0, &m1, CPU_LATVM);
	out->batvm_pct_sum += cpu_pct(&m0, &m1, CPU_BATVMS);
	if (m0.wakeups >= 0 && m1.wakeups >= m0.wakeups && m1.t > m0.t)
		out->wakes_sum += (m1.wakeups - m0.wakeups) * 1e9 / (double)(m1.t - m0.t);
	out->reps++;
	return ret;
}

static int run_mode(const struct bs_cfg *c, struct sc_client *cl, struct sc_reports *rep,
		    enum se_mode m, unsigned int delay_us, int phases,
		    struct bs_phase_result *out, const struct bs_results *res)
{
	uint64_t span[BS_NR_PHASES][2] = { { 0 } };
	int ret = se_mode_start(&env, m, delay_us);

	/* Every mode starts from a calm guest. */
	if (!ret && sc_hog(cl, 0)) {
		wave_err("bench sched: the echo guest does not answer");
		ret = -ETIMEDOUT;
	}
	sc_set_load(cl, res->rate[BS_STEADY], res->cost_us[BS_STEADY]);
	if (!ret)
		ret = pause_s(c->warm_s); /* the policy settles */
	for (int ph = 0; !ret && ph < phases; ph++)
		ret = measure_phase(c, cl, (enum bs_phase)ph, res, &out[ph], span[ph]);
	sc_set_load(cl, 0, 0);
	/* Batch throughput needs the work report that closes the last phase too. */
	if (!ret)
		pause_s(1.2);
	for (int ph = 0; !ret && ph < phases; ph++) {
		double u = sc_units_per_s(rep, span[ph][0], span[ph][1]);

		out[ph].units_s_sum += u;
		bench_range_add(&out[ph].units_runs, u);
	}
	se_mode_stop(&env);
	return ret;
}

static int state_changed(const char *want)
{
	return waved_state_is(env.be.rundir, want);
}

/* One offload run with the agent stopped for a while in the middle. */
static int run_timeline(const struct bs_cfg *c, struct sc_client *cl, struct bs_results *res)
{
	unsigned int total = c->phase_s >= 8 ? (c->quick ? 10 : 15) : 6;
	unsigned int stop_at = total / 3, stop_for = total / 4 > 1 ? total / 4 : 1;
	uint64_t seq0, t0, now;
	int ret = se_mode_start(&env, SE_OFFLOAD, 2), fell = 0, back = 0;

	sc_set_load(cl, res->rate[BS_STEADY] * 2, res->cost_us[BS_STEADY]);
	if (!ret)
		ret = pause_s(c->warm_s);
	seq0 = sc_sent(cl);
	t0 = wave_now_ns();
	res->tl_stop_ms = stop_at * 1000.0;
	res->tl_cont_ms = (stop_at + stop_for) * 1000.0;
	res->tl_fallback_ms = res->tl_handback_ms = -1;
	while (!ret && !interrupted && (now = wave_now_ns()) - t0 < total * WAVE_NSEC_PER_SEC) {
		double ms = (double)(now - t0) / 1e6;

		if (ms >= res->tl_stop_ms && ms < res->tl_cont_ms && env.agent > 0 &&
		    kill(env.agent, 0) == 0 && !fell)
			kill(env.agent, SIGSTOP);
		if (ms >= res->tl_cont_ms && fell && !back)
			kill(env.agent, SIGCONT);
		if (!fell && state_changed("fallback")) {
			fell = 1;
			res->tl_fallback_ms = ms;
		}
		if (fell && !back && state_changed("offload")) {
			back = 1;
			res->tl_handback_ms = ms;
		}
		usleep(5000);
	}
	if (env.agent > 0)
		kill(env.agent, SIGCONT);
	sc_set_load(cl, 0, 0);
	pause_s(0.3);
	for (uint64_t s = seq0; s < sc_sent(cl) &&
	     res->tl_n < BS_MAX_TIMELINE; s++) {
		const struct sc_req *r = &cl->req[s % SC_MAX_REQ];

		res->tl_t_ms[res->tl_n] = (double)(r->sent_ns - t0) / 1e6;
		res->tl_rtt_us[res->tl_n++] = r->rtt_ns ? (double)r->rtt_ns / 1e3 : -1;
	}
	se_mode_stop(&env);
	return ret;
}

static void summarise(struct bs_phase_result *p)
{
	p->p50 = (double)bench_percentile(p->rtt, p->n, 0.50) / 1e3;
	p->p99 = (double)bench_percentile(p->rtt, p->n, 0.99) / 1e3;
	p->p999 = (double)bench_percentile(p->rtt, p->n, 0.999) / 1e3;
}

static void host_info(struct bs_results *res)
{
	struct utsname u;
	char line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");

	uname(&u);
	snprintf(res->kernel, sizeof(res->kernel), "%s", u.release);
	res->ncpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
			snprintf(res->cpu, sizeof(res->cpu), "%.*s",
				 (int)strcspn(strchr(line, ':') + 2, "\n"), strchr(line, ':') + 2);
			break;
		}
	if (f)
		fclose(f);
	site_path(line, sizeof(line), NULL, SITE_ACCEL_CACHE);
	f = fopen(line, "re");
	snprintf(res->accel, sizeof(res->accel), "tcg");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "accel=", 6))
			snprintf(res->accel, sizeof(res->accel), "%.*s", (int)strcspn(line + 6, "\n"),
				 line + 6);
	if (f)
		fclose(f);
}

static struct bs_cfg opt_cfg;

static int parse_delays(const struct opt *o, const char *arg)
{
	struct bs_cfg *c = o->value;
	char buf[256], *save = NULL, *tok;
	uint64_t v;

	snprintf(buf, sizeof(buf), "%s", arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (c->nr_delays == BS_MAX_DELAYS) {
			wave_err("--link-delay: at most %d delays", BS_MAX_DELAYS);
			return -EINVAL;
		}
		if (wave_parse_u64("--link-delay", tok, 0, 100000, &v))
			return -EINVAL;
		c->delays[c->nr_delays++] = (unsigned int)v;
	}
	return 0;
}

static int parse_modes(const struct opt *o, const char *arg)
{
	return bench_parse_names("--modes", arg, se_mode_names, SE_NR_MODES, &((struct bs_cfg *)o->value)->modes);
}

static int parse_policy_opt(const struct opt *o, const char *arg)
{
	(void)o;
	if (env.nr_policy_opts == SE_MAX_POLICY_OPTS) {
		wave_err("--policy-opt: at most %d", SE_MAX_POLICY_OPTS);
		return -E2BIG;
	}
	if (!strchr(arg, '=')) {
		wave_err("--policy-opt '%s': want KEY=VALUE", arg);
		return -EINVAL;
	}
	env.policy_opt[env.nr_policy_opts++] = arg;
	return 0;
}

static const struct opt sched_opts[] = {
	OPT_BOOL("quick", 0, &opt_cfg.quick, "one run, 8 s phases (about 6 minutes)"),
	OPT_BOOL("json", 0, &opt_cfg.json,
		 "one JSON object: {\"host\", \"params\", \"modes\": {MODE: {PHASE:\n"
		 "{lat_us_p50, lat_us_p99, lat_us_p999, lost, sent, batch_units_per_s,\n"
		 "waved_cpu_pct, waved_wakeups_per_s, agent_cpu_pct, latency_vm_cpu_pct, batch_vms_cpu_pct,\n"
		 "demotions (-1: no waved), demote_ms (hog), prestaged_fired and\n"
		 "fallbacks (waved lost the agent; per run)}}},\n"
		 "\"goals\": [{what, want, op, median, min, max, runs, verdict}],\n"
		 "\"delay_sweep\"}"),
	OPT_STRING("report", "DIR", &opt_cfg.report,
		   "also write DIR/report.md and plots (gnuplot), with a run\n"
		   "where the agent is stopped in the middle"),
	OPT_CALLBACK("link-delay", "US[,US...]", &opt_cfg, parse_delays,
		     "offload steady-phase sweep over these link delays"),
	OPT_UINT("runs", "N", &opt_cfg.runs, 0, BENCH_MAX_RUNS,
		 "runs, modes interleaved in each; goals as median (min-max)\n"
		 "over them (0: 2, or 1 with --quick)"),
	OPT_UINT("phase-s", "S", &opt_cfg.phase_s, 0, 600,
		 "seconds per phase (0: 15, or 8 with --quick)"),
	OPT_UINT("steady-rate", "N", &opt_cfg.steady_rate, 0, 100000,
		 "steady and hog phases: requests/s (0: 100; the step phase\n"
		 "takes 4x); a few per second leave the latency VM asleep\n"
		 "between requests"),
	OPT_UINT("busy-rate", "N", &opt_cfg.busy_rate, 0, 100000,
		 "busy phase: requests/s (0: 1500)"),
	OPT_UINT("busy-cost", "US", &opt_cfg.busy_cost, 0, 100000,
		 "busy phase: nominal CPU per request, us (0: 1500)"),
	{ .kind = OPT_KIND_CALLBACK, .name = "modes", .argh = "LIST", .value = &opt_cfg,
	  .cb = parse_modes, .choices = se_modes_list,
	  .help = "run only these modes (default: all but fire)" },
	{ .kind = OPT_KIND_CALLBACK, .name = "policy-opt", .argh = "KEY=VALUE",
	  .cb = parse_policy_opt,
	  .help = "a tunable of the latency policy, wherever it runs\n"
		  "(repeatable; e.g. lend=on; see waved --help)" },
	OPT_END(),
};

static const struct opt_cmd sched_cmd = {
	.name = "bench sched",
	.usage = "wavectl bench sched [--quick] [--json] [--report DIR] [--runs N] [OPTIONS]",
	.about = "Real VMs (a latency VM answering UDP, two batch VMs spinning) under seven\n"
		 "modes - cfs (Linux alone), pin (static pinning: the latency VM alone on its\n"
		 "CPUs), rt (SCHED_FIFO by hand), offload (wave-agent over shm, link delay\n"
		 "2 us), onhost (the same policy in waved), nonet (offload without the VMs'\n"
		 "traffic counted: CPU-only insight), fire (offload with an arrival firing\n"
		 "the prestaged decisions: waved --net-fire; not run by default) - and four\n"
		 "phases: steady, step (demand x12), busy (legitimate load near saturation),\n"
		 "hog (the latency VM burns CPU). Reports latency p50/p99/p99.9, losses,\n"
		 "batch throughput, the CPU of the VMs and of the daemons, and the policy's\n"
		 "demotions of the latency VM per mode and phase, and the goals as ratios\n"
		 "within each run.\n"
		 "Needs root; starts and removes its VMs.\n",
	.opts = sched_opts,
};

static int parse(int argc, char **argv, struct bs_cfg *c)
{
	int ret = opt_parse(&sched_cmd, argc, argv, NULL);

	*c = opt_cfg;
	if (ret)
		return ret;
	if (!c->modes)
		c->modes = SE_DEFAULT_MODES;
	c->runs = c->runs ? c->runs : c->quick ? 1 : 2;
	c->phase_s = c->phase_s ? c->phase_s : c->quick ? 8 : 15;
	c->warm_s = c->phase_s >= 8 ? (c->quick ? 3 : 5) : 1;
	c->settle_ms = c->phase_s >= 8 ? 1000 : 300;
	return 0;
}

static int run_all(const struct bs_cfg *c, struct bs_results *res)
{
	struct sc_client cl;
	static struct sc_reports rep; /* megabytes: not on the stack */
	int ret;

	progress(c, "starting libvirtd (if needed), the bridge and %d VMs", 1 + SE_NR_BATCH);
	if ((ret = se_setup(&env, c->json)) || (ret = se_wait_guests(&env, 180)))
		return ret;
	if ((ret = sc_reports_start(&rep, "10.77.0.1", REPORT_PORT, "WAVE-SPIN",
				    (const char *const[]){ "units", NULL })))
		return ret;
	for (int b = 0; b < SE_NR_BATCH; b++)
		sc_reports_add_vm(&rep, env.be.vm[SE_VM_BAT + b].ip);
	if ((ret = sc_client_start(&cl, env.be.vm[SE_VM_LAT].ip, ECHO_PORT, CLIENT_PRIO))) {
		sc_reports_stop(&rep);
		return ret;
	}
	usleep(100000);
	if (!cl.fifo_ok)
		wave_warn("bench sched: the client could not get SCHED_FIFO: its own delay will show");
	for (unsigned int run = 0; !ret && run < c->runs; run++)
		for (int k = 0; !ret && k < SE_NR_MODES; k++) {
			enum se_mode m = (enum se_mode)((k + (int)run) % SE_NR_MODES);

			if (!(c->modes & (1u << m)))
				continue;
			progress(c, "run %u/%u: mode %s", run + 1, c->runs, se_mode_names[m]);
			ret = run_mode(c, &cl, &rep, m, 2, BS_NR_PHASES, res->r[m], res);
		}
	for (unsigned int d = 0; !ret && d < c->nr_delays; d++) {
		progress(c, "link delay sweep: %u us", c->delays[d]);
		res->delay_us[res->nr_delays] = c->delays[d];
		ret = run_mode(c, &cl, &rep, SE_OFFLOAD, c->delays[d], 1,
			       &res->sweep[res->nr_delays++], res);
	}
	if (!ret && c->report) {
		progress(c, "timeline: the agent stopped mid-run");
		ret = run_timeline(c, &cl, res);
	}
	sc_client_stop(&cl);
	sc_reports_stop(&rep);
	return ret;
}

int bench_sched_main(int argc, char **argv)
{
	static struct bs_results res;
	struct bs_cfg c = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	int ret = parse(argc, argv, &c);

	if (ret)
		return ret > 0 ? 0 : 2;
	if (geteuid() != 0) {
		wave_err("bench sched: needs root (libvirt VMs, BPF, scheduling classes)");
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* Steady: far from saturation; step: 4x the rate, 3x the cost (12x the demand). */
	res.rate[BS_STEADY] = c.steady_rate ? c.steady_rate : 100;
	res.cost_us[BS_STEADY] = 200;
	res.rate[BS_STEP] = 4 * res.rate[BS_STEADY];
	res.cost_us[BS_STEP] = 600;
	/* Busy: near what the latency VM can serve here (about one core of its two). */
	res.rate[BS_BUSY] = c.busy_rate ? c.busy_rate : 1500;
	res.cost_us[BS_BUSY] = c.busy_cost ? c.busy_cost : 1500;
	res.rate[BS_HOG] = res.rate[BS_STEADY];
	res.cost_us[BS_HOG] = 200;
	res.phase_s = c.phase_s;
	res.warm_s = c.warm_s;
	res.runs = c.runs;
	wave_log_set_level(WAVE_LOG_WARN);
	ret = run_all(&c, &res);
	host_info(&res);
	progress(&c, "stopping and removing what was started");
	se_teardown(&env);
	if (interrupted) {
		wave_err("bench sched: interrupted; everything started was stopped");
		return 1;
	}
	if (ret) {
		wave_err("bench sched: %s", strerror(-ret));
		return 1;
	}
	for (int m = 0; m < SE_NR_MODES; m++)
		for (int ph = 0; ph < BS_NR_PHASES; ph++)
			summarise(&res.r[m][ph]);
	for (unsigned int d = 0; d < res.nr_delays; d++)
		summarise(&res.sweep[d]);
	if (c.report && (ret = bs_report(&res, c.report)))
		wave_err("bench sched: report: %s", strerror(-ret));
	if (c.json)
		bs_print_json(&res);
	else
		bs_print_table(&res);
	if (c.report && !c.json && !ret)
		printf("\nreport: %s/report.md\n", c.report);
	return ret ? 1 : 0;
}
