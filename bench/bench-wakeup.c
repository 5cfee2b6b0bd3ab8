// SPDX-License-Identifier: BSD-3-Clause
/*
 * wavectl bench wakeup: what a periodic wakeup costs this host, woken in
 * user space (a thread on a timerfd, as waved's tick is) and in the kernel
 * (a BPF timer that watches a heartbeat word, bench/waketimer.bpf.c: the
 * kernel-side watchdog the offload design could use instead of waking
 * waved), next to nothing running, the three interleaved in every run.
 *
 * The measure is the host's busy time: elapsed time on every CPU less the
 * idle and iowait time of /proc/stat, in % of one core. Under nohz the
 * idle time is exact, while the per-column busy times are sampled at the
 * tick and miss short wakeups altogether; per-thread CPU cannot be used
 * either, because a BPF timer runs in softirq and is charged to whatever
 * it interrupted. The cost of one wakeup is (mode - none) / rate, per run,
 * so the other tenants' noise cancels only over several runs: the result
 * is a median with its range.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench/bench.h"
#include "bench/range.h"
#include "bench/waketimer.skel.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/opt.h"

enum wk_mode { WK_NONE, WK_USER, WK_BPF, WK_NR };

static const char *const wk_names[WK_NR] = { "none", "user_timer", "bpf_timer" };

static struct {
	unsigned int hz, seconds, runs;
	int json;
} wk = { .hz = 100, .seconds = 20, .runs = 3 };

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Idle and iowait time of all CPUs so far, seconds; -1 if unreadable. */
static double host_idle_s(void)
{
	unsigned long long v[5];
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4]);
	fclose(f);
	return n == 5 ? (double)(v[3] + v[4]) / (double)sysconf(_SC_CLK_TCK) : -1;
}

struct user_timer {
	int fd;
	volatile int stop;
	uint64_t fires;
};

static void *user_loop(void *arg)
{
	struct user_timer *u = arg;
	uint64_t n;

	while (!u->stop)
		if (read(u->fd, &n, sizeof(n)) == sizeof(n))
			u->fires += n;
	return NULL;
}

/* A thread woken by a timerfd at hz for the window; its fires in *fires. 0 or -errno. */
static int run_user(double secs, uint64_t *fires)
{
	struct user_timer u = { .fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC) };
	long ns = 1000000000L / (long)wk.hz;
	struct itimerspec its = { { ns / 1000000000L, ns % 1000000000L },
				  { ns / 1000000000L, ns % 1000000000L } };
	pthread_t thr;
	int ret;

	if (u.fd < 0)
		return -errno;
	if (timerfd_settime(u.fd, 0, &its, NULL) || (ret = -pthread_create(&thr, NULL, user_loop, &u))) {
		ret = -errno;
		close(u.fd);
		return ret;
	}
	bench_pause(secs, &interrupted);
	u.stop = 1;
	pthread_join(thr, NULL); /* the next fire (one period) ends its read */
	close(u.fd);
	*fires = u.fires;
	return 0;
}

/* The BPF timer at hz for the window; its fires in *fires. 0 or -errno (said). */
static int run_bpf(double secs, uint64_t *fires)
{
	LIBBPF_OPTS(bpf_test_run_opts, topts);
	struct waketimer_bpf *skel = waketimer_bpf__open();
	int ret;

	if (!skel)
		return -errno;
	skel->rodata->period_ns = 1000000000ull / wk.hz;
	if ((ret = waketimer_bpf__load(skel)))
		goto out;
	ret = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.wt_start), &topts);
	if (!ret && topts.retval)
		ret = -EINVAL; /* the program could not start its timer */
	if (ret)
		goto out;
	bench_pause(secs, &interrupted);
	*fires = skel->bss->fires;
out:
	waketimer_bpf__destroy(skel); /* frees the map: the timer stops */
	return ret;
}

/* Host busy % of one core while mode runs for the window; -1 on failure. */
static double measure(enum wk_mode m, uint64_t *fires, int *err)
{
	double i0 = host_idle_s(), t0 = (double)wave_now_ns() / 1e9, i1, t1;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	*fires = 0;
	*err = 0;
	if (m == WK_USER)
		*err = run_user(wk.seconds, fires);
	else if (m == WK_BPF)
		*err = run_bpf(wk.seconds, fires);
	else
		bench_pause(wk.seconds, &interrupted);
	i1 = host_idle_s();
	t1 = (double)wave_now_ns() / 1e9;
	if (*err || i0 < 0 || i1 < 0 || t1 <= t0)
		return -1;
	return ((t1 - t0) * (double)ncpu - (i1 - i0)) / (t1 - t0) * 100.0;
}

static const struct opt wk_opts[] = {
	OPT_UINT("hz", "N", &wk.hz, 1, 10000, "wakeups a second of each timer"),
	OPT_UINT("seconds", "S", &wk.seconds, 2, 600, "length of each measured window"),
	OPT_UINT("runs", "N", &wk.runs, 1, BENCH_MAX_RUNS, "runs (none, user, bpf each)"),
	OPT_BOOL("json", 0, &wk.json, "print one JSON object instead of the table"),
	OPT_END(),
};

static const struct opt_cmd wk_cmd = {
	.name = "bench wakeup",
	.usage = "wavectl bench wakeup [--hz N] [--seconds S] [--runs N] [--json]",
	.about = "What a periodic wakeup costs this host: the host's busy time (all CPUs less\n"
		 "their idle time) with nothing running, with a user-space thread woken by a\n"
		 "timerfd (as waved's tick), and with a BPF timer that watches a heartbeat word\n"
		 "in the kernel (a watchdog that wakes nobody), interleaved in every run. Prints\n"
		 "the cost of one wakeup of each kind and their ratio. The BPF timer needs root.\n"
		 "Run it on an otherwise quiet host: it measures the whole host.\n",
	.opts = wk_opts,
};

struct wk_result {
	struct bench_range busy[WK_NR];
	struct bench_range us_per[WK_NR]; /* user and bpf: extra us per wakeup */
	struct bench_range bpf_over_user;
	struct bench_range fires_per_s[WK_NR];
	char bpf_err[160];
};

static void print_table(const struct wk_result *r)
{
	char a[96], b[96], c[96];

	printf("\nhost busy, %% of one core (median, range over %u runs of %u s, %u wakeups/s):\n",
	       wk.runs, wk.seconds, wk.hz);
	for (int m = 0; m < WK_NR; m++)
		if (r->busy[m].n)
			printf("  %-11s %s\n", wk_names[m], bench_range_str(&r->busy[m], 3, "%", a,
									  sizeof(a)));
	printf("one wakeup costs the host:\n");
	printf("  user space: %s (a thread woken by a timerfd)\n",
	       bench_range_str(&r->us_per[WK_USER], 1, " us", b, sizeof(b)));
	if (r->us_per[WK_BPF].n) {
		printf("  BPF timer:  %s (a fire in softirq, nobody woken)\n",
		       bench_range_str(&r->us_per[WK_BPF], 1, " us", c, sizeof(c)));
		printf("  BPF / user: %s\n", bench_range_str(&r->bpf_over_user, 2, "", a, sizeof(a)));
	} else {
		printf("  BPF timer:  not measured (%s)\n", r->bpf_err);
	}
}

static void print_json(const struct wk_result *r)
{
	char a[160];

	printf("{\"hz\": %u, \"seconds\": %u, \"runs\": %u, \"host_busy_pct\": {", wk.hz, wk.seconds,
	       wk.runs);
	for (int m = 0; m < WK_NR; m++)
		printf("%s\"%s\": %s", m ? ", " : "", wk_names[m],
		       r->busy[m].n ? bench_range_json(&r->busy[m], a, sizeof(a)) : "null");
	printf("}, \"user_us_per_wakeup\": %s",
	       bench_range_json(&r->us_per[WK_USER], a, sizeof(a)));
	printf(", \"bpf_us_per_fire\": %s",
	       r->us_per[WK_BPF].n ? bench_range_json(&r->us_per[WK_BPF], a, sizeof(a)) : "null");
	printf(", \"bpf_over_user\": %s",
	       r->bpf_over_user.n ? bench_range_json(&r->bpf_over_user, a, sizeof(a)) : "null");
	printf(", \"user_fires_per_s\": %.1f, \"bpf_fires_per_s\": %.1f}\n",
	       bench_range_median(&r->fires_per_s[WK_USER]),
	       r->fires_per_s[WK_BPF].n ? bench_range_median(&r->fires_per_s[WK_BPF]) : 0.0);
}

/* One run: the three windows, and what they say. 0, or -EINTR / -EIO. */
static int one_run(unsigned int run, struct wk_result *r)
{
	double busy[WK_NR];

	for (int m = 0; m < WK_NR; m++) {
		uint64_t fires;
		int err;

		if (m == WK_BPF && r->bpf_err[0]) {
			busy[m] = -1;
			continue;
		}
		busy[m] = measure((enum wk_mode)m, &fires, &err);
		if (interrupted)
			return -EINTR;
		if (m == WK_BPF && err) {
			snprintf(r->bpf_err, sizeof(r->bpf_err), "cannot run the BPF timer: %s%s",
				 strerror(-err), err == -EPERM ? " (needs root)" : "");
			bench_say(wk.json, "bench wakeup", "%s", r->bpf_err);
			continue;
		}
		if (busy[m] < 0) {
			wave_err("bench wakeup: %s: %s", wk_names[m],
				 err ? strerror(-err) : "cannot read /proc/stat");
			return -EIO;
		}
		bench_range_add(&r->busy[m], busy[m]);
		if (m != WK_NONE)
			bench_range_add(&r->fires_per_s[m], (double)fires / wk.seconds);
	}
	bench_range_add(&r->us_per[WK_USER], (busy[WK_USER] - busy[WK_NONE]) * 1e4 / wk.hz);
	if (busy[WK_BPF] >= 0) {
		bench_range_add(&r->us_per[WK_BPF], (busy[WK_BPF] - busy[WK_NONE]) * 1e4 / wk.hz);
		if (busy[WK_USER] > busy[WK_NONE])
			bench_range_add(&r->bpf_over_user, (busy[WK_BPF] - busy[WK_NONE]) /
								   (busy[WK_USER] - busy[WK_NONE]));
	}
	if (busy[WK_BPF] >= 0)
		bench_say(wk.json, "bench wakeup", "run %u/%u: host busy %.3f%% (none), %.3f%% "
			  "(user timer), %.3f%% (BPF timer)", run + 1, wk.runs, busy[WK_NONE],
			  busy[WK_USER], busy[WK_BPF]);
	else
		bench_say(wk.json, "bench wakeup", "run %u/%u: host busy %.3f%% (none), %.3f%% "
			  "(user timer)", run + 1, wk.runs, busy[WK_NONE], busy[WK_USER]);
	return 0;
}

int bench_wakeup_main(int argc, char **argv)
{
	static struct wk_result r;
	struct sigaction sa = { .sa_handler = on_signal };
	int ret = opt_parse(&wk_cmd, argc, argv, NULL);

	if (ret)
		return ret > 0 ? 0 : 2;
	memset(&r, 0, sizeof(r));
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	libbpf_set_print(NULL); /* a failed load is said once, below */
	bench_say(wk.json, "bench wakeup", "%u runs of 3 x %u s (about %u s)", wk.runs, wk.seconds,
		  wk.runs * 3 * wk.seconds);
	for (unsigned int run = 0; run < wk.runs; run++)
		if ((ret = one_run(run, &r)))
			return ret == -EINTR ? 130 : 1;
	if (wk.json)
		print_json(&r);
	else
		print_table(&r);
	return 0;
}
