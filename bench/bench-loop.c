// SPDX-License-Identifier: BSD-3-Clause
/*
 * wavectl bench loop: the offloaded control loop itself, with threads of
 * this process standing in for vCPUs (no VMs needed), the real waved and
 * wave-agent over shm, and over tcp:// on loopback as an agent on a DPU
 * would be reached, in plaintext and with TLS 1.3 (a pre-shared key made
 * for the run), so TLS / plaintext is what authentication costs:
 *  - decision latency: a stand-in vCPU wakes every 5 ms; waved sees the
 *    wakeup in BPF, exports it, the agent (policy wakeprobe) answers with a
 *    decision, waved applies it; waved times wakeup -> applied. Over shm
 *    with link delay 0 and 2 us (both directions), over tcp and over TLS.
 *  - waved's CPU use managing 16 stand-in vCPUs (2 VMs x 8, latency policy,
 *    each thread busy 10% in 10 ms cycles) at steady state, over shm (the
 *    kernel beating the agent, which reads the thread records itself; and
 *    waved heartbeating it and exporting, --kernel-watch off), tcp and TLS,
 *    and onhost. The kernel's timer runs in softirq, charged to no process:
 *    its CPU (timed inside the callback) is added to waved's.
 *  - fallback detection: the agent is SIGSTOPped; time until waved reports
 *    fallback (lag threshold 10 ms), median of 5.
 *  - what counting the VMs' traffic costs waved: the same 16 vCPUs over shm,
 *    the latency VM with a tap that carries 1000 packets/s to it, waved
 *    counting them (--net-observe bpf) and not (none), side by side.
 * Needs root and BPF (waved reads wakeups from the BPF ring buffer).
 */
#include <errno.h>
#include <stddef.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/range.h"
#include "bench/standin.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/site.h"
#include "common/tap.h"
#include "common/spawn.h"
#include "channel/tls.h"
#include "waved/status-client.h"

#define STANDINS 16

/*
 * How waved reaches the policy: the agent over one of three links, or none
 * (onhost); SHM_WAVED is shm with waved heartbeating the agent and exporting
 * state itself (--kernel-watch off), as on the links the kernel cannot beat.
 */
enum link { LINK_SHM, LINK_TCP, LINK_TLS, LINK_ONHOST, LINK_SHM_WAVED, LINK_NR };

/* waved's tick with its defaults (--export-ms 10, --lag-threshold 10). */
#define TICK_NS (10 * WAVE_NSEC_PER_MSEC)

struct env {
	char bindir[PATH_MAX], rundir[64], uri[64];
	char tcp_uri[64], psk[96];      /* tcp:// on loopback, PSK in the run directory */
	pid_t waved, agent;
};

/* A tap standing for the latency VM's interface, and 1000 packets/s to it. */
struct tap_load {
	int fd, pkt;
	char name[IFNAMSIZ];
	pthread_t thr;
	volatile int stop;
};

static void *tap_load_loop(void *arg)
{
	struct tap_load *l = arg;
	struct sockaddr_ll sa = { .sll_family = AF_PACKET, .sll_halen = ETH_ALEN,
				  .sll_protocol = htons(0x88b5),
				  .sll_ifindex = (int)if_nametoindex(l->name) };
	uint8_t frame[128] = { 0 }, sink[2048];

	memset(frame, 0xff, ETH_ALEN);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	memset(sa.sll_addr, 0xff, ETH_ALEN);
	while (!l->stop) {
		sendto(l->pkt, frame, sizeof(frame), 0, (struct sockaddr *)&sa, sizeof(sa));
		while (read(l->fd, sink, sizeof(sink)) > 0) /* the guest's side takes them */
			;
		usleep(1000);
	}
	return NULL;
}

static int tap_load_start(struct tap_load *l)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->name, sizeof(l->name), "wvbench%d", (int)getpid() % 100000);
	if ((l->fd = wave_tap_open(l->name)) < 0) {
		wave_err("bench loop: no tap for the traffic: %s", strerror(-l->fd));
		return l->fd;
	}
	if ((l->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(0x88b5))) < 0) {
		int ret = -errno;

		close(l->fd);
		return ret;
	}
	if ((errno = pthread_create(&l->thr, NULL, tap_load_loop, l))) {
		int ret = -errno;

		close(l->pkt);
		close(l->fd);
		return ret;
	}
	return 0;
}

static void tap_load_stop(struct tap_load *l)
{
	l->stop = 1;
	pthread_join(l->thr, NULL);
	close(l->pkt);
	close(l->fd);
}

static void bin(const struct env *e, const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", e->bindir, name);
}

static int start_pair(struct env *e, const char *vm1, const char *vm2, const char *policy,
		      const char *delay_us, int poll, enum link link, const char *net)
{
	int shm = link == LINK_SHM || link == LINK_SHM_WAVED;
	char *uri = shm ? e->uri : e->tcp_uri;
	char waved[PATH_MAX + 16], agent[PATH_MAX + 16];
	char *wv[24], *ag[16];
	int n = 0, k = 0;

	bin(e, "waved", waved, sizeof(waved));
	bin(e, "wave-agent", agent, sizeof(agent));
	wv[n++] = waved;
	wv[n++] = "--vm";
	wv[n++] = (char *)vm1;
	if (vm2) {
		wv[n++] = "--vm";
		wv[n++] = (char *)vm2;
	}
	if (link == LINK_ONHOST) {
		wv[n++] = "--mode";
		wv[n++] = "onhost";
		wv[n++] = "--policy";
		wv[n++] = (char *)policy;
	} else {
		wv[n++] = "--channel";
		wv[n++] = uri;
	}
	if (link == LINK_SHM_WAVED) {
		wv[n++] = "--kernel-watch";
		wv[n++] = "off";
	}
	if (link == LINK_TCP || link == LINK_TLS) {
		wv[n++] = link == LINK_TLS ? "--psk-file" : "--insecure";
		if (link == LINK_TLS)
			wv[n++] = e->psk;
	}
	wv[n++] = "--rundir";
	wv[n++] = e->rundir;
	wv[n++] = "--observe";
	wv[n++] = "bpf";
	if (delay_us) {
		wv[n++] = "--link-delay";
		wv[n++] = (char *)delay_us;
	}
	if (net) {
		wv[n++] = "--net-observe";
		wv[n++] = (char *)net;
	}
	wv[n] = NULL;
	ag[k++] = agent;
	ag[k++] = "--channel";
	ag[k++] = uri;
	if (!shm) {
		ag[k++] = link == LINK_TLS ? "--psk-file" : "--insecure";
		if (link == LINK_TLS)
			ag[k++] = e->psk;
	}
	ag[k++] = "--policy";
	ag[k++] = (char *)policy;
	ag[k++] = "--report-s";
	ag[k++] = "0";
	if (poll)
		ag[k++] = "--poll"; /* an IPU core of its own */
	if (delay_us) {
		ag[k++] = "--link-delay";
		ag[k++] = (char *)delay_us;
	}
	ag[k] = NULL;
	e->waved = wave_spawn(wv, 1);
	if (link != LINK_ONHOST)
		e->agent = wave_spawn(ag, 1);
	for (int i = 0; i < 5000; i++) {
		if (waved_state_is(e->rundir, link == LINK_ONHOST ? "onhost" : "offload"))
			return 0;
		usleep(1000);
	}
	wave_err("bench loop: waved did not %s within 5 s",
		 link == LINK_ONHOST ? "start" : "hand control to the agent");
	return -ETIMEDOUT;
}

static void stop_pair(struct env *e)
{
	wave_reap(&e->agent, 2000);
	wave_reap(&e->waved, 2000);
}

static int decision_latency(struct env *e, const char *delay_us, enum link link,
			    unsigned int seconds, double *p50, double *p99, double *n, double *ev50)
{
	char vm[256];
	json_object *s, *d;
	int ret;

	if ((ret = standin_start(1, 5000, 0)))
		return ret;
	standin_vm_arg(vm, sizeof(vm), "probe", "latency", 0, 1);
	ret = start_pair(e, vm, NULL, "wakeprobe", delay_us, 1, link, NULL);
	if (!ret) {
		sleep(seconds);
		s = waved_status(e->rundir, NULL, 0);
		d = s ? json_object_object_get(s, "decision_us") : NULL;
		*p50 = waved_num(d, "p50");
		*p99 = waved_num(d, "p99");
		*n = waved_num(d, "n");
		*ev50 = waved_num(s ? json_object_object_get(s, "event_us") : NULL, "p50");
		json_object_put(s);
		if (!*n)
			ret = -ENODATA;
	}
	stop_pair(e);
	standin_stop();
	return ret;
}

/* A number in waved's status object group ("stats", "kernel_watch"), or -1. */
static double status_num(const struct env *e, const char *group, const char *name)
{
	json_object *s = waved_status(e->rundir, NULL, 0);
	double n = s ? waved_num(json_object_object_get(s, group), name) : -1;

	if (s)
		json_object_put(s);
	return n;
}

/* One of waved's counters so far, or -1. */
static double waved_stat(const struct env *e, const char *name)
{
	return status_num(e, "stats", name);
}

/*
 * What waved did a second in the steady state: wakeups, and decisions
 * applied; the kernel's heartbeat: its timer's CPU (% of a core, in waved's
 * CPU too: it is the host's) and its beats.
 */
struct rates {
	double wakes, applied, kcpu, kbeats;
};

/* A number of waved's "kernel_watch" status (kwatch.c), or -1. */
static double kwatch_num(const struct env *e, const char *name)
{
	return status_num(e, "kernel_watch", name);
}

/*
 * waved's CPU with 16 stand-in vCPUs; then, if detect_ms, fallback
 * detection. With net, the latency VM's tap carries traffic and waved
 * observes it so (--net-observe net).
 */
static int steady_cpu_and_fallback(struct env *e, enum link link, unsigned int seconds,
				   const char *net, double *cpu_pct, struct rates *rate,
				   double *detect_ms, double *detect_max_ms)
{
	char vm1[512], vm2[512];
	struct tap_load load;
	double samples[5];
	int ret, got = 0;

	if ((ret = standin_start(STANDINS, 9000, 1000)))
		return ret;
	if (net && (ret = tap_load_start(&load))) {
		standin_stop();
		return ret;
	}
	standin_vm_arg(vm1, sizeof(vm1), "lat", "latency", 0, STANDINS / 2);
	if (net)
		snprintf(vm1 + strlen(vm1), sizeof(vm1) - strlen(vm1), ",net=%s", load.name);
	standin_vm_arg(vm2, sizeof(vm2), "bat", "batch", STANDINS / 2, STANDINS);
	ret = start_pair(e, vm1, vm2, "latency", NULL, 0, link, net);
	if (!ret) {
		uint64_t c0, t0;
		double w0, a0, k0, b0, dt, kcpu;

		sleep(2); /* steady state: reservations settled */
		w0 = waved_stat(e, "wakeups") - waved_stat(e, "wakeups_status");
		a0 = waved_stat(e, "ok");
		k0 = kwatch_num(e, "run_ns");
		b0 = kwatch_num(e, "beats");
		c0 = bench_proc_cpu_ns(e->waved);
		t0 = wave_now_ns();
		sleep(seconds);
		dt = (double)(wave_now_ns() - t0);
		/* The timer runs in softirq, charged to no process: added to waved's here. */
		kcpu = k0 < 0 ? 0 : 100.0 * (kwatch_num(e, "run_ns") - k0) / dt;
		*cpu_pct = 100.0 * (double)(bench_proc_cpu_ns(e->waved) - c0) / dt + kcpu;
		/* Wakeups for the benchmark's own status requests are not counted. */
		if (rate) {
			rate->wakes = w0 < 0 ? -1 : (waved_stat(e, "wakeups") -
						     waved_stat(e, "wakeups_status") - w0) * 1e9 / dt;
			rate->applied = a0 < 0 ? -1 : (waved_stat(e, "ok") - a0) * 1e9 / dt;
			rate->kcpu = kcpu;
			rate->kbeats = b0 < 0 ? 0 : (kwatch_num(e, "beats") - b0) * 1e9 / dt;
		}
		for (int i = 0; detect_ms && i < 5; i++) {
			uint64_t t, at = 0;

			/*
			 * A stall comes at any point of waved's tick. Right after the
			 * hand-back below it would come just after a tick, every time
			 * (the hand-back happens at one): the worst case, not the
			 * typical. So the stop lands at a random point of a period.
			 */
			usleep((useconds_t)(rand() % (int)(TICK_NS / 1000)));
			t = wave_now_ns();
			kill(e->agent, SIGSTOP);
			/* waved stamps the transition itself: polling slowly does not skew it. */
			while (!waved_state_is(e->rundir, "fallback") &&
			       wave_now_ns() - t < WAVE_NSEC_PER_SEC)
				usleep(5000);
			{
				json_object *st = waved_status(e->rundir, NULL, 0);

				at = (uint64_t)waved_num(json_object_object_get(st, "stats"),
							 "last_fallback_ns");
				json_object_put(st);
			}
			if (at > t)
				samples[got++] = (double)(at - t) / 1e6;
			kill(e->agent, SIGCONT);
			for (int k = 0; k < 5000 && !waved_state_is(e->rundir, "offload"); k++)
				usleep(1000);
		}
		/* median of 5 */
		for (int i = 0; i < got; i++)
			for (int j = i + 1; j < got; j++)
				if (samples[j] < samples[i]) {
					double x = samples[i];

					samples[i] = samples[j];
					samples[j] = x;
				}
		if (detect_ms) {
			*detect_ms = got ? samples[got / 2] : -1;
			*detect_max_ms = got ? samples[got - 1] : -1;
		}
	}
	stop_pair(e);
	if (net)
		tap_load_stop(&load);
	standin_stop();
	return ret;
}

/*
 * Floors measured on the same machine in the same run, so the loop's numbers
 * can be read against what the machine allows: the latency of waking a
 * thread that sleeps in epoll_wait (the loop wakes waved twice per decision:
 * the BPF event, then the agent's doorbell), and the CPU a bare periodic
 * timer at waved's tick rate (100 Hz: the 10 ms export period) costs.
 */
struct wake_floor {
	int efd;
	uint64_t sent_ns;
	uint64_t samples[2000];
	unsigned int n, want;
};

static void *wake_floor_sleeper(void *arg)
{
	struct wake_floor *f = arg;
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(0);
	uint64_t v;

	epoll_ctl(ep, EPOLL_CTL_ADD, f->efd, &ev);
	while (f->n < f->want) {
		if (epoll_wait(ep, &ev, 1, 1000) == 1 && read(f->efd, &v, sizeof(v)) == sizeof(v))
			f->samples[f->n++] = wave_now_ns() - __atomic_load_n(&f->sent_ns, __ATOMIC_ACQUIRE);
	}
	close(ep);
	return NULL;
}

static void wake_floor(unsigned int n, double *p50, double *p99)
{
	static struct wake_floor f;
	uint64_t one = 1;
	pthread_t t;

	memset(&f, 0, sizeof(f));
	f.efd = eventfd(0, 0);
	f.want = n < 2000 ? n : 2000;
	pthread_create(&t, NULL, wake_floor_sleeper, &f);
	for (unsigned int i = 0; i < f.want * 2 && f.n < f.want; i++) {
		usleep(5000);
		__atomic_store_n(&f.sent_ns, wave_now_ns(), __ATOMIC_RELEASE);
		if (write(f.efd, &one, sizeof(one)) < 0)
			break;
	}
	f.want = f.n;
	write(f.efd, &one, sizeof(one));
	pthread_join(t, NULL);
	close(f.efd);
	*p50 = (double)bench_percentile(f.samples, f.n, 0.50) / 1e3;
	*p99 = (double)bench_percentile(f.samples, f.n, 0.99) / 1e3;
}

/* CPU % of one core spent by a thread that only waits on a period_ns timer. */
static double timer_floor(uint64_t period_ns, unsigned int seconds)
{
	struct rusage r0, r1;
	uint64_t v, t0;
	int fd = timerfd_create(CLOCK_MONOTONIC, 0);

	wave_timerfd_every(fd, period_ns);
	getrusage(RUSAGE_THREAD, &r0);
	t0 = wave_now_ns();
	while (wave_now_ns() - t0 < (uint64_t)seconds * WAVE_NSEC_PER_SEC)
		if (read(fd, &v, sizeof(v)) < 0)
			break;
	getrusage(RUSAGE_THREAD, &r1);
	close(fd);
	return 100.0 * ((double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec -
				 r0.ru_stime.tv_sec) * 1e9 +
			(double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec -
				 r0.ru_stime.tv_usec) * 1e3) / (double)(wave_now_ns() - t0);
}

static const char *const link_name[LINK_NR] = { "agent over shm", "agent over tcp:// plaintext",
					  "agent over tcp:// TLS 1.3", "onhost (no agent)",
					  "shm, waved heartbeats" };
static const char *const lat_row[4] = { "shm, link delay 0 us", "shm, link delay 2 us",
					"tcp:// plaintext", "tcp:// TLS 1.3" };

/* One run's figures. */
struct loop_run {
	/* decision latency, us: shm with link delay 0 and 2 us, tcp plaintext, tcp TLS */
	double p50[4], p99[4], n[4];
	double ev50;                  /* of which the kernel's BPF event delivery, us */
	double cpu[LINK_NR];          /* waved CPU %, by enum link */
	struct rates rate[LINK_NR];   /* ... waved's wakeups and decisions applied a second */
	double cpu_net[2];            /* ... shm, a tap with traffic: counted (bpf), not (none) */
	double detect, detect_max;    /* fallback detection ms (shm): median, worst of 5 */
	double wake50, wake99, tfloor;/* floors: thread wakeup us, bare tick timer CPU % */
};

static int one_run(struct env *e, unsigned int secs, int progress, unsigned int run,
		   unsigned int runs, struct loop_run *r)
{
	static const enum link lat_link[4] = { LINK_SHM, LINK_SHM, LINK_TCP, LINK_TLS };
	double ev_other;
	int ret = 0;

	for (int d = 0; d < 4 && !ret; d++) {
		if (progress)
			fprintf(stderr, "\rrun %u/%u: decision latency, agent over %s...        ", run,
				runs, lat_row[d]);
		ret = decision_latency(e, d == 1 ? "2" : NULL, lat_link[d], secs, &r->p50[d],
				       &r->p99[d], &r->n[d], d ? &ev_other : &r->ev50);
	}
	for (int l = LINK_SHM; l < LINK_NR && !ret; l++) {
		if (progress)
			fprintf(stderr, "\rrun %u/%u: waved CPU with 16 vCPUs, %s%s...   ",
				run, runs, link_name[l], l == LINK_SHM ? ", fallback detection" : "");
		ret = steady_cpu_and_fallback(e, (enum link)l, secs, NULL, &r->cpu[l], &r->rate[l],
					      l == LINK_SHM ? &r->detect : NULL, &r->detect_max);
	}
	for (int k = 0; k < 2 && !ret; k++) {
		if (progress)
			fprintf(stderr, "\rrun %u/%u: waved CPU with traffic on a tap, %s...      ",
				run, runs, k ? "not counted" : "counted (BPF)");
		ret = steady_cpu_and_fallback(e, LINK_SHM, secs, k ? "none" : "bpf",
					      &r->cpu_net[k], NULL, NULL, NULL);
	}
	if (!ret) {
		if (progress)
			fprintf(stderr, "\rrun %u/%u: floors: thread wakeup, bare tick timer...     ",
				run, runs);
		wake_floor(secs * 200, &r->wake50, &r->wake99);
		/* waved ticks at its export period, 10 ms by default. */
		r->tfloor = timer_floor(TICK_NS, secs);
	}
	return ret;
}

/* The range over runs of the figure at offset off of struct loop_run. */
static struct bench_range over(const struct loop_run *r, unsigned int n, size_t off)
{
	struct bench_range g = { 0 };

	for (unsigned int i = 0; i < n; i++)
		bench_range_add(&g, *(const double *)((const char *)&r[i] + off));
	return g;
}

#define OVER(field) over(runs, nruns, offsetof(struct loop_run, field))

/* Per run, the figure at offset a over the one at offset b. */
static struct bench_range over_ratio(const struct loop_run *r, unsigned int n, size_t a,
				     size_t b, double scale_b)
{
	struct bench_range g = { 0 };

	for (unsigned int i = 0; i < n; i++) {
		double x = *(const double *)((const char *)&r[i] + a);
		double y = *(const double *)((const char *)&r[i] + b) * scale_b;

		bench_range_add(&g, y > 0 ? x / y : 0);
	}
	return g;
}

#define RATIO(fa, fb, scale) \
	over_ratio(runs, nruns, offsetof(struct loop_run, fa), offsetof(struct loop_run, fb), scale)

static void print_json(const struct loop_run *runs, unsigned int nruns)
{
	static const char *const lat_key[4] = { "delay_us_0", "delay_us_2", "tcp", "tls" };
	static const char *const cpu_key[LINK_NR] = { "", "_tcp", "_tls", "_onhost",
						      "_waved_beats" };
	struct bench_range r, det = OVER(detect), tf = OVER(tfloor);
	struct bench_range vs_onhost = RATIO(cpu[0], cpu[3], 1);
	struct bench_range waved_vs_onhost = RATIO(cpu[LINK_SHM_WAVED], cpu[3], 1);
	struct bench_range ev = OVER(ev50), w50 = OVER(wake50), w99 = OVER(wake99);
	char a[128];

	printf("{\"runs\": %u", nruns);
	for (int d = 0; d < 4; d++) {
		r = OVER(p50[d]);
		printf(", \"%s\": {\"decision_us_p50\": %.1f", lat_key[d], bench_range_median(&r));
		r = OVER(p99[d]);
		printf(", \"decision_us_p99\": %.1f, \"samples\": %.0f", bench_range_median(&r),
		       runs[nruns - 1].n[d]);
		if (d == 0)
			printf(", \"bpf_event_us_p50\": %.1f", bench_range_median(&ev));
		printf("}");
	}
	for (int l = 0; l < LINK_NR; l++) {
		r = OVER(cpu[l]);
		printf(", \"waved_cpu_pct_16_vcpus%s\": %.3f", cpu_key[l], bench_range_median(&r));
		r = OVER(rate[l].wakes);
		printf(", \"waved_wakeups_per_s%s\": %.1f", cpu_key[l], bench_range_median(&r));
		r = OVER(rate[l].applied);
		printf(", \"waved_applied_per_s%s\": %.1f", cpu_key[l], bench_range_median(&r));
	}
	r = OVER(rate[0].kcpu);
	printf(", \"kernel_watch_cpu_pct\": %.3f", bench_range_median(&r));
	r = OVER(rate[0].kbeats);
	printf(", \"kernel_beats_per_s\": %.1f", bench_range_median(&r));
	printf(", \"offload_over_onhost_cpu\": %.2f", bench_range_median(&vs_onhost));
	printf(", \"offload_waved_beats_over_onhost_cpu\": %.2f",
	       bench_range_median(&waved_vs_onhost));
	for (int k = 0; k < 2; k++) {
		r = OVER(cpu_net[k]);
		printf(", \"waved_cpu_pct_16_vcpus_net_%s\": %.3f", k ? "off" : "on",
		       bench_range_median(&r));
	}
	r = OVER(detect_max);
	printf(", \"fallback_detect_ms_max\": %.2f", bench_range_max(&r));
	printf(", \"lag_threshold_ms\": 10, \"fallback_detect_ms\": %.2f, "
	       "\"floor\": {\"wakeup_us_p50\": %.1f, \"wakeup_us_p99\": %.1f, "
	       "\"timer_hz\": %.0f, \"timer_cpu_pct\": %.3f}, \"ranges\": {",
	       bench_range_median(&det), bench_range_median(&w50), bench_range_median(&w99),
	       1e9 / (double)TICK_NS, bench_range_median(&tf));
	for (int d = 0; d < 4; d++) {
		r = OVER(p50[d]);
		printf("\"decision_us_p50_%s\": %s, ", lat_key[d], bench_range_json(&r, a, sizeof(a)));
		r = OVER(p99[d]);
		printf("\"decision_us_p99_%s\": %s, ", lat_key[d], bench_range_json(&r, a, sizeof(a)));
	}
	for (int l = 0; l < LINK_NR; l++) {
		r = OVER(cpu[l]);
		printf("\"waved_cpu_pct_16_vcpus%s\": %s, ", cpu_key[l],
		       bench_range_json(&r, a, sizeof(a)));
	}
	printf("\"offload_over_onhost_cpu\": %s, ", bench_range_json(&vs_onhost, a, sizeof(a)));
	printf("\"offload_waved_beats_over_onhost_cpu\": %s, ",
	       bench_range_json(&waved_vs_onhost, a, sizeof(a)));
	printf("\"fallback_detect_ms\": %s, ", bench_range_json(&det, a, sizeof(a)));
	printf("\"timer_cpu_pct\": %s}}\n", bench_range_json(&tf, a, sizeof(a)));
}

static void print_table(const struct loop_run *runs, unsigned int nruns)
{
	struct bench_range d50, d99, cpu, det = OVER(detect), tf = OVER(tfloor);
	struct bench_range ev = OVER(ev50), w50 = OVER(wake50), w99 = OVER(wake99);
	struct bench_range vs_wake = RATIO(p50[0], wake50, 2), vs_timer = RATIO(cpu[0], tfloor, 1);
	struct bench_range tls_p50 = RATIO(p50[3], p50[2], 1), tls_cpu = RATIO(cpu[2], cpu[1], 1);
	struct bench_range vs_onhost = RATIO(cpu[0], cpu[3], 1);
	struct bench_range waved_vs_onhost = RATIO(cpu[LINK_SHM_WAVED], cpu[3], 1);
	struct bench_range net_cost = RATIO(cpu_net[0], cpu_net[1], 1);
	char a[96], b[96], g[48];

	printf("wakeup seen in BPF -> decision applied on the host, %u run%s:\n", nruns,
	       nruns == 1 ? "" : "s");
	for (int d = 0; d < 4; d++) {
		d50 = OVER(p50[d]);
		d99 = OVER(p99[d]);
		printf("  agent over %-21s p50 %s   p99 %s\n", lat_row[d],
		       bench_range_str(&d50, 1, " us", a, sizeof(a)),
		       bench_range_str(&d99, 1, " us", b, sizeof(b)));
		if (d == 0)
			printf("    goal p99 < 100 us: %s\n",
			       bench_goal(&d99, BENCH_AT_MOST, 100, g, sizeof(g)));
	}
	printf("  what TLS costs, TLS / plaintext tcp at p50: %s\n",
	       bench_range_str(&tls_p50, 2, "x", a, sizeof(a)));
	printf("  of which the kernel delivering the BPF wakeup event to waved: p50 %s\n",
	       bench_range_str(&ev, 1, " us", a, sizeof(a)));
	printf("  floor here: waking a sleeping thread p50 %s, p99 %s;\n",
	       bench_range_str(&w50, 1, " us", a, sizeof(a)),
	       bench_range_str(&w99, 1, " us", b, sizeof(b)));
	printf("  a decision takes two such wakeups of waved: %s that floor at p50\n",
	       bench_range_str(&vs_wake, 1, "x", a, sizeof(a)));
	printf("waved CPU, 16 managed vCPUs, steady state, of one core (over shm with the\n"
	       "kernel's heartbeat timer, whose CPU is added):\n");
	for (int l = 0; l < LINK_NR; l++) {
		cpu = OVER(cpu[l]);
		printf("  %-28s %s", link_name[l], bench_range_str(&cpu, 3, "%", a, sizeof(a)));
		if (l == 0)
			printf("   goal < 0.5%%: %s", bench_goal(&cpu, BENCH_AT_MOST, 0.5, g, sizeof(g)));
		cpu = OVER(rate[l].wakes);
		printf("; woken %s a second", bench_range_str(&cpu, 0, "", a, sizeof(a)));
		cpu = OVER(rate[l].applied);
		printf(", %s decisions applied\n", bench_range_str(&cpu, 0, "", a, sizeof(a)));
	}
	cpu = OVER(rate[0].kcpu);
	printf("  of which the kernel's heartbeat timer (agent over shm): %s",
	       bench_range_str(&cpu, 3, "%", a, sizeof(a)));
	cpu = OVER(rate[0].kbeats);
	printf(", %s beats a second\n", bench_range_str(&cpu, 0, "", a, sizeof(a)));
	printf("  offload's host CPU / onhost's (agent over shm): %s   goal <= 0.5: %s\n",
	       bench_range_str(&vs_onhost, 2, "x", a, sizeof(a)),
	       bench_goal(&vs_onhost, BENCH_AT_MOST, 0.5, g, sizeof(g)));
	printf("  ... with waved heartbeating the agent and exporting (--kernel-watch off): %s\n",
	       bench_range_str(&waved_vs_onhost, 2, "x", a, sizeof(a)));
	printf("  (the agent's own CPU is not in these: on an IPU it is not the host's)\n");
	printf("  what TLS costs, TLS / plaintext tcp: %s\n",
	       bench_range_str(&tls_cpu, 2, "x", a, sizeof(a)));
	cpu = OVER(cpu_net[0]);
	printf("  shm, the latency VM's tap carrying 1000 packets/s, counted (BPF): %s\n",
	       bench_range_str(&cpu, 3, "%", a, sizeof(a)));
	cpu = OVER(cpu_net[1]);
	printf("  ... not counted (--net-observe none): %s; counted / not: %s\n",
	       bench_range_str(&cpu, 3, "%", a, sizeof(a)),
	       bench_range_str(&net_cost, 2, "x", b, sizeof(b)));
	printf("  floor here: a bare %.0f Hz timer (waved's tick) costs %s: waved over shm = %s that\n",
	       1e9 / (double)TICK_NS,
	       bench_range_str(&tf, 3, "%", a, sizeof(a)),
	       bench_range_str(&vs_timer, 1, "x", b, sizeof(b)));
	printf("fallback detected %s after the agent stopped (median of 5 stops at random points\n"
	       "  of waved's tick), threshold 10 ms (goal <= 20 ms: %s); ",
	       bench_range_str(&det, 1, " ms", a, sizeof(a)),
	       bench_goal(&det, BENCH_AT_MOST, 20, g, sizeof(g)));
	det = OVER(detect_max);
	printf("the slowest of the 5: %s\n", bench_range_str(&det, 1, " ms", a, sizeof(a)));
}

static struct {
	int quick, json;
	unsigned int runs;
} lo = { .runs = 1 };

static const struct opt loop_opts[] = {
	OPT_BOOL("quick", 0, &lo.quick, "shorter runs (about 25 s each instead of a minute)"),
	OPT_BOOL("json", 0, &lo.json,
		 "one JSON object: {\"runs\", \"delay_us_0\": {\"decision_us_p50\",\n"
		 "\"decision_us_p99\"}, \"delay_us_2\", \"tcp\", \"tls\": {...},\n"
		 "\"waved_cpu_pct_16_vcpus\" (_tcp, _tls, _onhost, _waved_beats, _net_on,\n"
		 "_net_off), \"waved_wakeups_per_s\" and \"waved_applied_per_s\" (_tcp, _tls,\n"
		 "_onhost, _waved_beats), \"kernel_watch_cpu_pct\", \"kernel_beats_per_s\",\n"
		 "\"offload_over_onhost_cpu\", \"offload_waved_beats_over_onhost_cpu\",\n"
		 "\"fallback_detect_ms_max\",\n"
		 "\"lag_threshold_ms\", \"fallback_detect_ms\", \"floor\": {...},\n"
		 "\"ranges\": {KEY: {\"median\", \"min\", \"max\", \"runs\"}}}; values are medians"),
	OPT_UINT("runs", "N", &lo.runs, 1, BENCH_MAX_RUNS,
		 "repeat the whole measurement; results as median (min-max)"),
	OPT_END(),
};

static const struct opt_cmd loop_cmd = {
	.name = "bench loop",
	.usage = "wavectl bench loop [--quick] [--json] [--runs N]",
	.about = "Measures the offloaded control loop with stand-in vCPU threads, the real waved\n"
		 "and wave-agent over shm and over tcp:// on loopback, plaintext and TLS 1.3 (PSK):\n"
		 "wakeup-to-decision latency (p50/p99; shm with link delay 0 and 2 us, tcp, TLS),\n"
		 "waved's CPU use and wakeups for 16 managed vCPUs at steady state (shm, tcp, TLS,\n"
		 "and onhost: waved running the same policy itself), how fast waved\n"
		 "notices a stopped agent (lag threshold 10 ms), next to the machine's floors\n"
		 "measured in the same run. Needs root and BPF.\n",
	.opts = loop_opts,
};

int bench_loop_main(int argc, char **argv)
{
	static struct loop_run runs[BENCH_MAX_RUNS];
	struct env e = { 0 };
	unsigned int secs, n = 0;
	int ret = opt_parse(&loop_cmd, argc, argv, NULL), progress;

	if (ret)
		return ret > 0 ? 0 : 2;
	/* JSON on stdout is for programs; a person watching a terminal still sees progress. */
	progress = !lo.json || isatty(STDERR_FILENO);
	if (geteuid() != 0) {
		wave_err("bench loop: needs root (BPF, scheduling classes)");
		return 1;
	}
	site_bindir(e.bindir, sizeof(e.bindir));
	snprintf(e.rundir, sizeof(e.rundir), "/tmp/wave-bench-loop-%d", (int)getpid());
	snprintf(e.uri, sizeof(e.uri), "shm:bench-loop-%d", (int)getpid());
	mkdir(e.rundir, 0700);
	snprintf(e.psk, sizeof(e.psk), "%s/psk", e.rundir);
	{
		char why[256];
		int port = site_free_port();

		snprintf(e.tcp_uri, sizeof(e.tcp_uri), "tcp://127.0.0.1:%d", port);
		if (port < 0 || tls_make_psk(e.psk, "wave-bench", why, sizeof(why))) {
			wave_err("bench loop: cannot set up TLS: %s",
				 port < 0 ? strerror(-port) : why);
			rmdir(e.rundir);
			return 1;
		}
	}
	secs = lo.quick ? 4 : 15;
	while (!ret && n < lo.runs) {
		ret = one_run(&e, secs, progress, n + 1, lo.runs, &runs[n]);
		n += !ret;
	}
	if (progress)
		fprintf(stderr, "\r%70s\r", "");
	unlink(e.psk);
	rmdir(e.rundir);
	if (ret) {
		wave_err("bench loop: %s", strerror(-ret));
		return 1;
	}
	if (lo.json)
		print_json(runs, n);
	else
		print_table(runs, n);
	return 0;
}
