// SPDX-License-Identifier: BSD-3-Clause
/*
 * wavectl bench scale: one agent against hosts of N vCPUs, N in 16, 64,
 * 256 and 1000. The vCPUs are stand-in threads of this process (standin.h)
 * that wake every 100 ms and spin 20 us, in VMs of up to 64 vCPUs (one VM
 * in eight of the latency class, the rest batch), managed by the real
 * waved (BPF observation, export every 10 ms) and the real wave-agent over
 * shm running the latency policy. Per N, over a steady window: the agent's
 * CPU, its policy runs a second and their p99 run time, waved's CPU (and
 * per vCPU), channel messages a second both ways, waved's wakeups, the
 * worst lag, decisions applied and not applied (refused by waved's checks,
 * its safety envelope among them, or failed in the kernel) a second, and whether the agent
 * kept up (no fallback, no resync, the worst lag under the threshold).
 *
 * Two parts. The stand-in threads drive the whole real path (scheduler,
 * BPF, waved's export, the channel), but a thousand of them fit this
 * machine only at a low duty cycle: each changes state ten times a second,
 * so waved exports each about every 100 ms. So a second part replays the
 * state of N vCPUs, every vCPU every 10 ms, through the real channel into
 * the real agent (scale-replay.c), which is what "keeps up with 1,000
 * vCPUs exported every 10 ms" asks. Both daemons share this machine's two
 * cores with the stand-ins (and the replaying host), so the agent's CPU
 * here is an upper bound for an IPU core. Needs root and BPF.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "bench/bench.h"
#include "bench/scale.h"
#include "bench/standin.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/parse.h"
#include "common/site.h"
#include "common/spawn.h"
#include "waved/status-client.h"

#define NR_SIZES     8
#define PERIOD_US    100000
#define BUSY_US      20
#define VM_VCPUS     64
#define LAG_THRESH_MS 10.0

static unsigned int sizes[NR_SIZES] = { 16, 64, 256, 1000 }, nr_sizes = 4;

/* One N's figures. */
struct scale_point {
	unsigned int n, vms, latency_vms;
	double agent_cpu_pct, decides_per_s, decide_us_p99, txns_per_s;
	double waved_cpu_pct, waved_wakeups_per_s, msgs_per_s;
	double applied_per_s, failed_per_s, lag_max_ms;
	double fallbacks, resyncs;
	int kept_up;
};

struct scale_env {
	char bindir[PATH_MAX], rundir[64], uri[64], stats[96];
	pid_t waved, agent;
};

/* A snapshot of the counters the window differences. */
struct counters {
	uint64_t t_ns, waved_cpu, agent_cpu;
	double wakeups, tx, rx, ok, failed, fallbacks, resyncs;
	double decides, txns;
};

static double jnum(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_double(v) : 0;
}

static int read_counters(const struct scale_env *e, struct counters *c)
{
	json_object *s = waved_status(e->rundir, NULL, 0), *st;
	json_object *a = json_object_from_file(e->stats);

	if (!s || !a) {
		if (s)
			json_object_put(s);
		if (a)
			json_object_put(a);
		return -ENODATA;
	}
	st = json_object_object_get(s, "stats");
	c->t_ns = wave_now_ns();
	c->waved_cpu = bench_proc_cpu_ns(e->waved);
	c->agent_cpu = bench_proc_cpu_ns(e->agent);
	/* Not those for this benchmark's status requests. */
	c->wakeups = jnum(st, "wakeups") - jnum(st, "wakeups_status");
	c->tx = jnum(st, "tx_msgs");
	c->rx = jnum(st, "rx_msgs");
	c->ok = jnum(st, "ok");
	/* Not applied, for a reason other than a race (stale): refused or failed. */
	c->failed = jnum(st, "failed") + jnum(st, "invalid") + jnum(st, "no-target") +
		    jnum(st, "refused-in-fallback");
	c->fallbacks = jnum(st, "fallbacks");
	c->resyncs = jnum(st, "resyncs");
	c->decides = jnum(a, "decides");
	c->txns = jnum(a, "txns");
	json_object_put(s);
	json_object_put(a);
	return 0;
}

static void stop_daemons(struct scale_env *e)
{
	wave_reap(&e->agent, 3000);
	wave_reap(&e->waved, 5000);
	unlink(e->stats);
}

/* waved on vms VMs over the stand-ins, the agent beside it; waits for offload. */
static int start_daemons(struct scale_env *e, struct scale_point *p)
{
	static char vmarg[16][VM_VCPUS * 12 + 32], names[16][16];
	char waved[PATH_MAX + 16], agent[PATH_MAX + 16];
	char *wv[48], *ag[16];
	int n = 0, k = 0;

	snprintf(waved, sizeof(waved), "%s/waved", e->bindir);
	snprintf(agent, sizeof(agent), "%s/wave-agent", e->bindir);
	wv[n++] = waved;
	for (unsigned int v = 0, from = 0; v < p->vms; v++) {
		unsigned int to = p->n * (v + 1) / p->vms;
		int lat = v % 8 == 0;

		snprintf(names[v], sizeof(names[v]), "%s%u", lat ? "lat" : "bat", v);
		standin_vm_arg(vmarg[v], sizeof(vmarg[v]), names[v], lat ? "latency" : "batch", from,
			       to);
		p->latency_vms += (unsigned int)lat;
		wv[n++] = "--vm";
		wv[n++] = vmarg[v];
		from = to;
	}
	wv[n++] = "--channel";
	wv[n++] = e->uri;
	wv[n++] = "--rundir";
	wv[n++] = e->rundir;
	wv[n++] = "--observe";
	wv[n++] = "bpf";
	wv[n] = NULL;
	ag[k++] = agent;
	ag[k++] = "--channel";
	ag[k++] = e->uri;
	ag[k++] = "--policy";
	ag[k++] = "latency";
	ag[k++] = "--report-s";
	ag[k++] = "1";
	ag[k++] = "--stats";
	ag[k++] = e->stats;
	ag[k] = NULL;
	e->waved = wave_spawn(wv, 1);
	e->agent = wave_spawn(ag, 1);
	for (int i = 0; i < 1500; i++) {
		if (access(e->stats, R_OK) == 0 && waved_state_is(e->rundir, "offload"))
			return 0;
		usleep(10000);
	}
	wave_err("bench scale: waved did not hand control to the agent within 15 s (%u vCPUs)",
		 p->n);
	return -ETIMEDOUT;
}

static int measure(struct scale_env *e, unsigned int n, unsigned int secs, struct scale_point *p)
{
	struct counters c0, c1;
	json_object *s;
	double dt;
	int ret;

	memset(p, 0, sizeof(*p));
	p->n = n;
	p->vms = (n + VM_VCPUS - 1) / VM_VCPUS < 2 ? 2 : (n + VM_VCPUS - 1) / VM_VCPUS;
	if ((ret = standin_start(n, PERIOD_US, BUSY_US)))
		return ret;
	ret = start_daemons(e, p);
	if (!ret) {
		sleep(3); /* reservations and placements settle */
		ret = read_counters(e, &c0);
	}
	if (!ret) {
		sleep(secs);
		ret = read_counters(e, &c1);
	}
	if (!ret) {
		json_object *a = json_object_from_file(e->stats);

		dt = (double)(c1.t_ns - c0.t_ns);
		p->agent_cpu_pct = 100.0 * (double)(c1.agent_cpu - c0.agent_cpu) / dt;
		p->waved_cpu_pct = 100.0 * (double)(c1.waved_cpu - c0.waved_cpu) / dt;
		p->waved_wakeups_per_s = (c1.wakeups - c0.wakeups) * 1e9 / dt;
		p->msgs_per_s = (c1.tx - c0.tx + c1.rx - c0.rx) * 1e9 / dt;
		p->decides_per_s = (c1.decides - c0.decides) * 1e9 / dt;
		p->txns_per_s = (c1.txns - c0.txns) * 1e9 / dt;
		p->applied_per_s = (c1.ok - c0.ok) * 1e9 / dt;
		p->failed_per_s = (c1.failed - c0.failed) * 1e9 / dt;
		p->fallbacks = c1.fallbacks - c0.fallbacks;
		p->resyncs = c1.resyncs - c0.resyncs;
		p->decide_us_p99 = jnum(a, "decide_us_p99");
		if (a)
			json_object_put(a);
		s = waved_status(e->rundir, NULL, 0);
		p->lag_max_ms = s ? waved_num(s, "lag_max_us") / 1000.0 : -1;
		if (s)
			json_object_put(s);
		p->kept_up = !p->fallbacks && !p->resyncs && p->lag_max_ms >= 0 &&
			     p->lag_max_ms < LAG_THRESH_MS;
	}
	stop_daemons(e);
	standin_stop();
	return ret;
}

static void print_json(const struct scale_point *p, unsigned int n)
{
	printf("{\"lag_threshold_ms\": %.0f, \"period_ms\": %d, \"busy_us\": %d, \"points\": [",
	       LAG_THRESH_MS, PERIOD_US / 1000, BUSY_US);
	for (unsigned int i = 0; i < n; i++)
		printf("%s{\"vcpus\": %u, \"vms\": %u, \"latency_vms\": %u, \"agent_cpu_pct\": %.2f, "
		       "\"agent_decides_per_s\": %.1f, \"agent_decide_us_p99\": %.1f, "
		       "\"agent_txns_per_s\": %.1f, \"waved_cpu_pct\": %.3f, "
		       "\"waved_cpu_pct_per_vcpu\": %.5f, \"waved_wakeups_per_s\": %.1f, "
		       "\"channel_msgs_per_s\": %.0f, \"lag_max_ms\": %.2f, "
		       "\"decisions_applied_per_s\": %.1f, \"decisions_failed_per_s\": %.1f, "
		       "\"fallbacks\": %.0f, \"resyncs\": %.0f, \"kept_up\": %s}",
		       i ? ", " : "", p[i].n, p[i].vms, p[i].latency_vms, p[i].agent_cpu_pct,
		       p[i].decides_per_s, p[i].decide_us_p99, p[i].txns_per_s, p[i].waved_cpu_pct,
		       p[i].waved_cpu_pct / p[i].n, p[i].waved_wakeups_per_s, p[i].msgs_per_s,
		       p[i].lag_max_ms, p[i].applied_per_s, p[i].failed_per_s, p[i].fallbacks,
		       p[i].resyncs, p[i].kept_up ? "true" : "false");
	printf("]");
}

static void print_table(const struct scale_point *p, unsigned int n)
{
	const struct scale_point *big = &p[n - 1];

	printf("one agent (latency policy, over shm) against N stand-in vCPUs waking every %d ms:\n",
	       PERIOD_US / 1000);
	printf("%6s %4s %9s %10s %9s %9s %11s %9s %9s %9s %9s %3s %7s %s\n", "vCPUs", "VMs",
	       "agent%", "decides/s", "p99 us", "waved%", "waved%/vCPU", "wakeups/s", "msgs/s",
	       "lag ms", "failed/s", "fb", "resyncs", "kept up");
	for (unsigned int i = 0; i < n; i++)
		printf("%6u %4u %9.2f %10.1f %9.1f %9.3f %11.5f %9.1f %9.0f %9.2f %9.1f %3.0f %7.0f %s\n",
		       p[i].n, p[i].vms, p[i].agent_cpu_pct, p[i].decides_per_s, p[i].decide_us_p99,
		       p[i].waved_cpu_pct, p[i].waved_cpu_pct / p[i].n, p[i].waved_wakeups_per_s,
		       p[i].msgs_per_s, p[i].lag_max_ms, p[i].failed_per_s, p[i].fallbacks,
		       p[i].resyncs, p[i].kept_up ? "yes" : "NO");
	printf("the agent kept up with %u stand-ins (lag under %.0f ms, no fallback, no resync): "
	       "%s (agent %.1f%% of a core)\n", big->n, LAG_THRESH_MS,
	       big->kept_up ? "yes" : "NO", big->agent_cpu_pct);
	if (n > 1 && p[0].waved_cpu_pct > 0) {
		double growth = (big->waved_cpu_pct / big->n) / (p[0].waved_cpu_pct / p[0].n);

		printf("goal: waved's CPU grows at most linearly with N (per vCPU at %u / at %u "
		       "<= 1): %.2fx, %s\n", big->n, p[0].n, growth, growth <= 1 ? "met" : "NOT met");
	}
	printf("goal: decisions failed a second near zero: %.1f at %u vCPUs\n", big->failed_per_s,
	       big->n);
	printf("(the agent shares this machine's 2 cores with waved and the stand-ins: its CPU\n"
	       " here is an upper bound for an IPU core)\n");
}

static void print_replay_json(const struct scale_replay_point *q, unsigned int n)
{
	printf(", \"replay\": [");
	for (unsigned int i = 0; i < n; i++)
		printf("%s{\"vcpus\": %u, \"agent_cpu_pct\": %.2f, \"agent_decides_per_s\": %.1f, "
		       "\"agent_decide_us_p99\": %.1f, \"agent_txns_per_s\": %.1f, "
		       "\"channel_msgs_per_s\": %.0f, \"lag_p99_ms\": %.3f, \"lag_max_ms\": %.3f, "
		       "\"resyncs\": %.0f, \"late_ticks\": %.0f, \"agent_rss_mib\": %.1f, "
		       "\"kept_up\": %s}", i ? ", " : "", q[i].n, q[i].agent_cpu_pct, q[i].decides_per_s, q[i].decide_us_p99,
		       q[i].txns_per_s, q[i].msgs_per_s, q[i].lag_p99_ms, q[i].lag_max_ms,
		       q[i].resyncs, q[i].late_ticks, q[i].agent_rss_mib, q[i].kept_up ? "true" : "false");
	printf("]}\n");
}

static void print_replay_table(const struct scale_replay_point *q, unsigned int n)
{
	const struct scale_replay_point *big = &q[n - 1];

	printf("\nthe agent fed every vCPU's state every 10 ms (replayed through the real channel):\n");
	printf("%6s %9s %10s %9s %9s %10s %9s %9s %8s %8s %s\n", "vCPUs", "agent%", "decides/s",
	       "p99 us", "txns/s", "msgs/s", "lag p99", "lag max", "resyncs", "RSS MiB", "kept up");
	for (unsigned int i = 0; i < n; i++)
		printf("%6u %9.2f %10.1f %9.1f %9.1f %10.0f %7.2fms %7.2fms %8.0f %8.1f %s\n", q[i].n,
		       q[i].agent_cpu_pct, q[i].decides_per_s, q[i].decide_us_p99, q[i].txns_per_s,
		       q[i].msgs_per_s, q[i].lag_p99_ms, q[i].lag_max_ms, q[i].resyncs,
		       q[i].agent_rss_mib, q[i].kept_up ? "yes" : "NO");
	printf("goal: one agent core keeps up with %u vCPUs exported every 10 ms (lag under "
	       "%.0f ms, no resync, no late period): %s (agent %.1f%% of a core)\n", big->n,
	       LAG_THRESH_MS, big->kept_up && big->agent_cpu_pct < 100 ? "met" : "NOT met",
	       big->agent_cpu_pct);
}

static int write_report(const struct scale_point *p, const struct scale_replay_point *q,
			unsigned int n, const char *dir)
{
	char path[PATH_MAX];
	FILE *f;

	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/scale.dat", dir);
	if (!(f = fopen(path, "w")))
		return -errno;
	fprintf(f, "# vcpus agent_cpu_pct waved_cpu_pct decides_per_s decide_us_p99 msgs_per_s "
		   "lag_max_ms failed_per_s replay_agent_cpu_pct replay_msgs_per_s\n");
	for (unsigned int i = 0; i < n; i++)
		fprintf(f, "%u %.3f %.4f %.1f %.1f %.0f %.3f %.1f %.3f %.0f\n", p[i].n,
			p[i].agent_cpu_pct, p[i].waved_cpu_pct, p[i].decides_per_s,
			p[i].decide_us_p99, p[i].msgs_per_s, p[i].lag_max_ms, p[i].failed_per_s,
			q[i].agent_cpu_pct, q[i].msgs_per_s);
	fclose(f);
	snprintf(path, sizeof(path), "%s/plots.gp", dir);
	if (!(f = fopen(path, "w")))
		return -errno;
	fprintf(f, "set terminal pngcairo size 900,520 noenhanced font ',10'\nset grid\n"
		   "set key top left\nset logscale xy\nset xlabel 'managed vCPUs'\n"
		   "set output 'scale.png'\nset title 'CPU against host size (%% of one core)'\n"
		   "set ylabel '%% of one core'\n"
		   "plot 'scale.dat' using 1:2 with linespoints lw 2 title 'wave-agent (stand-ins)', "
		   "'' using 1:9 with linespoints lw 2 title 'wave-agent (every vCPU every 10 ms)', "
		   "'' using 1:3 with linespoints lw 2 title 'waved (stand-ins)', "
		   "'' using 1:(%g * $1) with lines dt 2 title 'waved, linear from the smallest'\n",
		   p[0].waved_cpu_pct / p[0].n);
	fclose(f);
	return bench_gnuplot(dir, "bench scale");
}

static struct {
	int quick, json;
	const char *report;
} so;

/* --sizes N[,N...]: ascending, each 1..STANDIN_VCPUS_MAX, at most NR_SIZES of them. */
static int parse_sizes(const struct opt *o, const char *arg)
{
	char buf[128], *save = NULL, *tok;
	unsigned int n = 0;

	(void)o;
	if (strlen(arg) >= sizeof(buf))
		goto bad;
	strcpy(buf, arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;

		if (n == NR_SIZES || wave_parse_u64("--sizes", tok, 1, STANDIN_VCPUS_MAX, &v))
			goto bad;
		if (n && v <= sizes[n - 1])
			goto bad;
		sizes[n++] = (unsigned int)v;
	}
	if (!n)
		goto bad;
	nr_sizes = n;
	return 0;
bad:
	wave_err("--sizes '%s': want up to %d ascending counts of vCPUs, 1..%d, e.g. 16,64,256,1000",
		 arg, NR_SIZES, STANDIN_VCPUS_MAX);
	return -EINVAL;
}

static const struct opt scale_opts[] = {
	OPT_BOOL("quick", 0, &so.quick, "shorter windows (5 s per size instead of 15 s)"),
	OPT_BOOL("json", 0, &so.json,
		 "one JSON object: {\"lag_threshold_ms\", \"period_ms\", \"busy_us\",\n"
		 "\"points\": [{\"vcpus\", \"vms\", \"latency_vms\", \"agent_cpu_pct\",\n"
		 "\"agent_decides_per_s\", \"agent_decide_us_p99\", \"agent_txns_per_s\",\n"
		 "\"waved_cpu_pct\", \"waved_cpu_pct_per_vcpu\", \"waved_wakeups_per_s\",\n"
		 "\"channel_msgs_per_s\", \"lag_max_ms\", \"decisions_applied_per_s\",\n"
		 "\"decisions_failed_per_s\", \"fallbacks\", \"resyncs\", \"kept_up\"}],\n"
		 "\"replay\": [{\"vcpus\", \"agent_cpu_pct\", \"agent_decides_per_s\",\n"
		 "\"agent_decide_us_p99\", \"agent_txns_per_s\", \"channel_msgs_per_s\",\n"
		 "\"lag_p99_ms\", \"lag_max_ms\", \"resyncs\", \"late_ticks\", \"agent_rss_mib\",\n"
		 "\"kept_up\"}]}"),
	OPT_CALLBACK("sizes", "N,N...", NULL, parse_sizes,
		     "the host sizes to measure, in vCPUs (default 16,64,256,1000)"),
	OPT_STRING("report", "DIR", &so.report,
		   "also write DIR/scale.dat and plot DIR/scale.png (gnuplot)"),
	OPT_END(),
};

static const struct opt_cmd scale_cmd = {
	.name = "bench scale",
	.usage = "wavectl bench scale [--quick] [--json] [--sizes N,N...] [--report DIR]",
	.about = "One wave-agent against hosts of 16, 64, 256 and 1000 vCPUs: stand-in threads\n"
		 "of this process (waking every 100 ms for 20 us) in VMs of up to 64, managed\n"
		 "by the real waved and the agent over shm (latency policy). Per size: the\n"
		 "agent's CPU, policy runs a second and their p99, waved's CPU (and per vCPU),\n"
		 "channel messages a second, the worst lag, decisions failed, and whether the\n"
		 "agent kept up. Then the same sizes replayed: every vCPU's state every 10 ms\n"
		 "through the real channel into the real agent (the agent's CPU, decisions, lag).\n"
		 "About 2.5 minutes (--quick) or 5. Needs root and BPF.\n",
	.opts = scale_opts,
};

int bench_scale_main(int argc, char **argv)
{
	static struct scale_point pts[NR_SIZES];
	static struct scale_replay_point rep[NR_SIZES];
	struct scale_env e = { 0 };
	unsigned int secs, n = 0;
	int ret = opt_parse(&scale_cmd, argc, argv, NULL);

	if (ret)
		return ret > 0 ? 0 : 2;
	if (geteuid() != 0) {
		wave_err("bench scale: needs root (BPF, scheduling classes)");
		return 1;
	}
	site_bindir(e.bindir, sizeof(e.bindir));
	snprintf(e.rundir, sizeof(e.rundir), "/tmp/wave-bench-scale-%d", (int)getpid());
	snprintf(e.uri, sizeof(e.uri), "shm:bench-scale-%d", (int)getpid());
	snprintf(e.stats, sizeof(e.stats), "%s/agent.json", e.rundir);
	if (mkdir(e.rundir, 0700)) {
		wave_err("bench scale: %s: %s", e.rundir, strerror(errno));
		return 1;
	}
	secs = so.quick ? 5 : 15;
	for (; !ret && n < nr_sizes; n++) {
		if (!so.json)
			fprintf(stderr, "\rbench scale: %u vCPUs...   ", sizes[n]);
		ret = measure(&e, sizes[n], secs, &pts[n]);
	}
	for (unsigned int i = 0; !ret && i < nr_sizes; i++) {
		if (!so.json)
			fprintf(stderr, "\rbench scale: %u vCPUs replayed...   ", sizes[i]);
		if ((ret = scale_replay(e.bindir, e.rundir, sizes[i], secs, &rep[i])))
			wave_err("bench scale: replaying %u vCPUs: %s", sizes[i], strerror(-ret));
	}
	if (!so.json)
		fprintf(stderr, "\r%40s\r", "");
	rmdir(e.rundir);
	if (ret) {
		if (n && ret != -ETIMEDOUT)
			wave_err("bench scale: at %u vCPUs: %s", sizes[n - 1], strerror(-ret));
		return 1;
	}
	if (so.json) {
		print_json(pts, n);
		print_replay_json(rep, n);
	} else {
		print_table(pts, n);
		print_replay_table(rep, n);
	}
	if (so.report && (ret = write_report(pts, rep, n, so.report))) {
		wave_err("bench scale: report in %s: %s", so.report, strerror(-ret));
		return 1;
	}
	return 0;
}
