// SPDX-License-Identifier: BSD-3-Clause
/*
 * wavectl bench channel: the Wave shm channel against DPDK's rte_ring, a raw
 * cache-line mailbox (the floor), a unix socket and TCP loopback, and the
 * Wave channel itself over tcp:// in plaintext and with TLS 1.3 (what
 * authenticating the DPU link costs), measured in one run on two pinned
 * cores with 64-byte messages.
 *
 * Throughput: one thread streams messages in batches of 1 or 32, the other
 * receives with the same batch size; msgs/s = messages / elapsed. Latency:
 * a ping-pong of one message; each sample is half the round trip, so every
 * contender's "one-way" latency is measured the same way and the clocks of
 * two cores are never compared. Contenders run interleaved, REPS times per
 * run, and the median is reported, so machine drift hits them all alike;
 * with --runs N the whole measurement is repeated and every ratio is given
 * as its median and range over the runs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/pipe.h"
#include "bench/range.h"
#include "channel/codec.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/parse.h"

#define REPS 3                               /* interleaved repetitions per run */
#define MAXS (REPS * BENCH_MAX_RUNS)         /* samples of one figure, all runs */

struct cfg {
	int quick, json;
	const char *only;        /* comma-separated contender names, or NULL */
	uint64_t link_delay_us;
	int cpu[2];
	unsigned int runs;
	uint64_t tput_msgs;
	size_t lat_samples;
};

/* Samples s = run * REPS + rep. */
struct result {
	const char *name;
	double mps[2][MAXS];     /* [batch 1, batch 32][s] */
	double lat[3][MAXS];     /* p50, p99, p99.9, ns */
	double cpu_ns[MAXS];     /* one thread, send + receive per message, batch 32; 0: n/a */
	unsigned int ns;         /* samples so far */
	int failed;
};

struct run {
	struct pipe *p;
	const struct cfg *cfg;
	unsigned int batch;
	uint64_t n;
	pthread_barrier_t bar;
	uint64_t t0, t1;
	uint64_t *samples;
	size_t nsamples, warm;
	int err;
	int rx_done;             /* the throughput receiver finished */
};

static volatile int run_aborted;

static void set_err(struct run *r, int err)
{
	if (!r->err)
		r->err = err;
	run_aborted = 1;
}

static void *tput_tx(void *arg)
{
	struct run *r = arg;
	struct wave_msg m[32];
	uint64_t sent = 0;
	int k;

	bench_pin(r->cfg->cpu[0]);
	for (int i = 0; i < 32; i++)
		wave_msg_init(&m[i], WAVE_MSG_HEARTBEAT);
	pthread_barrier_wait(&r->bar);
	r->t0 = wave_now_ns();
	while (sent < r->n && !run_aborted) {
		unsigned int want = r->n - sent < r->batch ? (unsigned int)(r->n - sent) : r->batch;

		for (unsigned int i = 0; i < want; i++)
			m[i].p.hb.hb_seq = sent + i;
		k = r->p->ops->send(r->p, 0, m, want);
		if (k < 0) {
			set_err(r, k);
			break;
		}
		if (!k)
			wave_cpu_relax();
		sent += (uint64_t)k;
	}
	while (r->p->ops->idle && !__atomic_load_n(&r->rx_done, __ATOMIC_ACQUIRE) && !run_aborted) {
		r->p->ops->idle(r->p, 0);
		wave_cpu_relax();
	}
	return NULL;
}

static void *tput_rx(void *arg)
{
	struct run *r = arg;
	struct wave_msg m[32];
	uint64_t got = 0;
	int k;

	bench_pin(r->cfg->cpu[1]);
	pthread_barrier_wait(&r->bar);
	while (got < r->n && !run_aborted) {
		k = r->p->ops->recv(r->p, 1, m, r->batch);
		if (k < 0) {
			set_err(r, k);
			break;
		}
		if (k && m[0].p.hb.hb_seq != got) {
			set_err(r, -EILSEQ);
			break;
		}
		got += (uint64_t)k;
	}
	r->t1 = wave_now_ns();
	__atomic_store_n(&r->rx_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Spins until one message went out (or came in). */
static int one(struct run *r, int side, struct wave_msg *m, int sending)
{
	int k;

	do {
		k = sending ? r->p->ops->send(r->p, side, m, 1) : r->p->ops->recv(r->p, side, m, 1);
	} while (k == 0 && !run_aborted);
	if (k < 0)
		set_err(r, k);
	return k == 1 ? 0 : -1;
}

static void *lat_a(void *arg)
{
	struct run *r = arg;
	struct wave_msg m;
	uint64_t t0;

	bench_pin(r->cfg->cpu[0]);
	wave_msg_init(&m, WAVE_MSG_HEARTBEAT);
	pthread_barrier_wait(&r->bar);
	for (size_t i = 0; i < r->warm + r->nsamples; i++) {
		t0 = wave_now_ns();
		if (one(r, 0, &m, 1) || one(r, 0, &m, 0))
			break;
		if (i >= r->warm)
			r->samples[i - r->warm] = (wave_now_ns() - t0) / 2;
	}
	return NULL;
}

static void *lat_b(void *arg)
{
	struct run *r = arg;
	struct wave_msg m;

	bench_pin(r->cfg->cpu[1]);
	pthread_barrier_wait(&r->bar);
	for (size_t i = 0; i < r->warm + r->nsamples; i++)
		if (one(r, 1, &m, 0) || one(r, 1, &m, 1))
			break;
	return NULL;
}

static int run_pair(struct run *r, void *(*a)(void *), void *(*b)(void *))
{
	pthread_t ta, tb;

	run_aborted = 0;
	r->rx_done = 0;
	pthread_barrier_init(&r->bar, NULL, 2);
	pthread_create(&ta, NULL, a, r);
	pthread_create(&tb, NULL, b, r);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_barrier_destroy(&r->bar);
	return r->err;
}

static int is_socket(const struct pipe_ops *ops)
{
	return ops == &pipe_unix_ops || ops == &pipe_tcp_ops || ops == &pipe_wave_tcp_ops ||
	       ops == &pipe_wave_tls_ops;
}

/*
 * CPU cost per message without any cross-core traffic: one thread sends a
 * batch of 32 on side 0 and receives it on side 1, so the ring stays in its
 * cache and what is left is instructions. Only for in-memory rings that can
 * hold a batch (pingpong holds one message, sockets cost system calls).
 * Returns ns per message, or 0 when it does not apply.
 */
static double cpu_cost(struct pipe *p, uint64_t n)
{
	struct wave_msg m[32], got[32];
	uint64_t t0, i;

	if (p->ops != &pipe_wave_ops && p->ops != &pipe_rte_ring_ops)
		return 0;
	if (p->link_delay_ns)
		return 0;
	for (int k = 0; k < 32; k++)
		wave_msg_init(&m[k], WAVE_MSG_HEARTBEAT);
	t0 = wave_now_ns();
	for (i = 0; i < n; i += 32) {
		for (int k = 0; k < 32; k++)
			m[k].p.hb.hb_seq = i + (uint64_t)k;
		if (p->ops->send(p, 0, m, 32) != 32 || p->ops->recv(p, 1, got, 32) != 32 ||
		    got[0].p.hb.hb_seq != i)
			return 0;
	}
	return (double)(wave_now_ns() - t0) / (double)i;
}

/* What validating a received message costs the channel (codec.c), per message. */
static double check_cost(uint64_t n)
{
	struct wave_msg m[32];
	uint64_t t0, i;
	int bad = 0;

	for (int k = 0; k < 32; k++)
		wave_msg_init(&m[k], WAVE_MSG_HEARTBEAT);
	t0 = wave_now_ns();
	for (i = 0; i < n; i += 32)
		for (int k = 0; k < 32; k++) {
			/* The compiler must not hoist the check out of the loop. */
			__asm__ __volatile__("" : : "r"(&m[k]) : "memory");
			bad |= wave_msg_check(&m[k], NULL, 0);
		}
	return bad ? 0 : (double)(wave_now_ns() - t0) / (double)i;
}

/* One repetition of one contender: throughput at both batch sizes, then latency. */
static int measure(const struct pipe_ops *ops, const struct cfg *cfg, uint64_t delay_ns,
		   struct result *res, unsigned int rep)
{
	static const unsigned int batches[2] = { 1, 32 };
	struct pipe p = { .ops = ops, .link_delay_ns = delay_ns };
	struct run r = { .p = &p, .cfg = cfg };
	int ret = ops->open(&p);

	if (ret) {
		wave_err("bench channel: %s: cannot set up: %s", ops->name, strerror(-ret));
		return ret;
	}
	for (int b = 0; b < 2 && !ret; b++) {
		r.batch = batches[b];
		r.n = is_socket(ops) ? cfg->tput_msgs / 10 : cfg->tput_msgs;
		r.err = 0;
		ret = run_pair(&r, tput_tx, tput_rx);
		res->mps[b][rep] = (double)r.n * 1e9 / (double)(r.t1 - r.t0);
	}
	if (!ret)
		res->cpu_ns[rep] = cpu_cost(&p, cfg->tput_msgs);
	if (!ret) {
		r.nsamples = is_socket(ops) ? cfg->lat_samples / 4 : cfg->lat_samples;
		r.warm = r.nsamples / 10;
		r.samples = calloc(r.nsamples, sizeof(*r.samples));
		r.err = 0;
		ret = r.samples ? run_pair(&r, lat_a, lat_b) : -ENOMEM;
		res->lat[0][rep] = (double)bench_percentile(r.samples, r.nsamples, 0.50);
		res->lat[1][rep] = (double)bench_percentile(r.samples, r.nsamples, 0.99);
		res->lat[2][rep] = (double)bench_percentile(r.samples, r.nsamples, 0.999);
		free(r.samples);
	}
	ops->close(&p);
	if (ret)
		wave_err("bench channel: %s: %s", ops->name, strerror(-ret));
	return ret;
}

/* Median of v[from..to). */
static double median(const double *v, unsigned int from, unsigned int to)
{
	struct bench_range r = { 0 };

	for (unsigned int i = from; i < to; i++)
		bench_range_add(&r, v[i]);
	return bench_range_median(&r);
}

/* Median over every sample of every run. */
static double all(const struct result *r, const double *v)
{
	struct bench_range m = { 0 };

	/* bench_range holds BENCH_MAX_RUNS values: take each run's median first. */
	for (unsigned int run = 0; run * REPS < r->ns; run++)
		bench_range_add(&m, median(v, run * REPS, (run + 1) * REPS));
	return bench_range_median(&m);
}

/* Per run, a / b of each run's medians of two figures, into out. */
static void ratio(const struct result *ra, const double *a, const struct result *rb,
		  const double *b, struct bench_range *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned int run = 0; run * REPS < ra->ns && run * REPS < rb->ns; run++) {
		double d = median(b, run * REPS, (run + 1) * REPS);

		if (d > 0)
			bench_range_add(out, median(a, run * REPS, (run + 1) * REPS) / d);
	}
}

static double check_ns;  /* wave_msg_check per message, median of REPS */

static const struct result *find(const struct result *res, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(res[i].name, name) == 0 && !res[i].failed)
			return &res[i];
	return NULL;
}

/* The ratios with goals, each per run. */
struct ratios {
	struct bench_range b1, b32, p50;  /* wave/rte_ring msgs/s; wave p50 / pingpong p50 */
	struct bench_range tls[3];        /* wave_tls / wave_tcp: msgs/s b=1, b=32, p50 */
	int have_rte, have_pp, have_tls;
};

static void ratios(const struct result *res, int n, struct ratios *q)
{
	const struct result *w = find(res, n, "wave_shm"), *r = find(res, n, "rte_ring"),
			    *pp = find(res, n, "pingpong");
	const struct result *tls = find(res, n, "wave_tls"), *tcp = find(res, n, "wave_tcp");

	memset(q, 0, sizeof(*q));
	if ((q->have_rte = w && r)) {
		ratio(w, w->mps[0], r, r->mps[0], &q->b1);
		ratio(w, w->mps[1], r, r->mps[1], &q->b32);
	}
	if ((q->have_pp = w && pp))
		ratio(w, w->lat[0], pp, pp->lat[0], &q->p50);
	if ((q->have_tls = tls && tcp)) {
		ratio(tls, tls->mps[0], tcp, tcp->mps[0], &q->tls[0]);
		ratio(tls, tls->mps[1], tcp, tcp->mps[1], &q->tls[1]);
		ratio(tls, tls->lat[0], tcp, tcp->lat[0], &q->tls[2]);
	}
}

static void print_json(const struct cfg *cfg, struct result *res, int n)
{
	struct ratios q;
	char a[160], b[160], c[160];

	printf("{\"params\": {\"msg_bytes\": %d, \"cpus\": [%d, %d], \"reps\": %d, \"runs\": %u, "
	       "\"tput_msgs\": %llu, \"lat_samples\": %zu, \"link_delay_us\": %llu, \"quick\": %s}",
	       WAVE_MSG_SIZE, cfg->cpu[0], cfg->cpu[1], REPS, cfg->runs,
	       (unsigned long long)cfg->tput_msgs, cfg->lat_samples,
	       (unsigned long long)cfg->link_delay_us, cfg->quick ? "true" : "false");
	for (int i = 0; i < n; i++) {
		if (res[i].failed) {
			printf(", \"%s\": null", res[i].name);
			continue;
		}
		printf(", \"%s\": {\"msgs_per_s_b1\": %.0f, \"msgs_per_s_b32\": %.0f, "
		       "\"lat_ns_p50\": %.0f, \"lat_ns_p99\": %.0f, \"lat_ns_p999\": %.0f",
		       res[i].name, all(&res[i], res[i].mps[0]), all(&res[i], res[i].mps[1]),
		       all(&res[i], res[i].lat[0]), all(&res[i], res[i].lat[1]),
		       all(&res[i], res[i].lat[2]));
		if (all(&res[i], res[i].cpu_ns) > 0)
			printf(", \"cpu_ns_per_msg_b32\": %.2f", all(&res[i], res[i].cpu_ns));
		printf("}");
	}
	if (check_ns > 0)
		printf(", \"validate_ns_per_msg\": %.2f", check_ns);
	ratios(res, n, &q);
	if (q.have_rte)
		printf(", \"wave_vs_rte_ring_b1\": %s, \"wave_vs_rte_ring_b32\": %s",
		       bench_range_json(&q.b1, a, sizeof(a)), bench_range_json(&q.b32, b, sizeof(b)));
	if (q.have_pp)
		printf(", \"wave_p50_vs_pingpong\": %s", bench_range_json(&q.p50, c, sizeof(c)));
	if (q.have_tls) {
		printf(", \"tls_vs_tcp_b1\": %s, \"tls_vs_tcp_b32\": %s",
		       bench_range_json(&q.tls[0], a, sizeof(a)),
		       bench_range_json(&q.tls[1], b, sizeof(b)));
		printf(", \"tls_vs_tcp_p50\": %s", bench_range_json(&q.tls[2], c, sizeof(c)));
	}
	printf("}\n");
}

static void print_table(const struct cfg *cfg, struct result *res, int n)
{
	const struct result *w = find(res, n, "wave_shm"), *d = find(res, n, "wave_shm_delay");
	char a[96], b[96], g1[48], g2[48];
	struct ratios q;

	printf("64-byte messages, CPUs %d and %d, median of %d interleaved repetitions x %u run%s\n\n",
	       cfg->cpu[0], cfg->cpu[1], REPS, cfg->runs, cfg->runs == 1 ? "" : "s");
	printf("%-16s %14s %14s %10s %10s %10s %10s\n", "contender", "msgs/s b=1", "msgs/s b=32",
	       "p50 ns", "p99 ns", "p99.9 ns", "cpu ns");
	for (int i = 0; i < n; i++) {
		if (res[i].failed) {
			printf("%-16s %14s\n", res[i].name, "failed");
			continue;
		}
		printf("%-16s %14.0f %14.0f %10.0f %10.0f %10.0f", res[i].name,
		       all(&res[i], res[i].mps[0]), all(&res[i], res[i].mps[1]),
		       all(&res[i], res[i].lat[0]), all(&res[i], res[i].lat[1]),
		       all(&res[i], res[i].lat[2]));
		if (all(&res[i], res[i].cpu_ns) > 0)
			printf(" %10.2f\n", all(&res[i], res[i].cpu_ns));
		else
			printf(" %10s\n", "-");
	}
	printf("\n(latency: one-way, measured as half a ping-pong round trip;\n"
	       " cpu ns: send + receive of one message in one thread, batch 32, no cross-core traffic)\n");
	if (check_ns > 0)
		printf("of which wave_shm validates each received message: %.2f ns\n", check_ns);
	ratios(res, n, &q);
	if (q.have_rte) {
		printf("wave_shm / rte_ring throughput, batch 1:  %-30s goal >= 1: %s\n",
		       bench_range_str(&q.b1, 2, "x", a, sizeof(a)),
		       bench_goal(&q.b1, BENCH_AT_LEAST, 1, g1, sizeof(g1)));
		printf("wave_shm / rte_ring throughput, batch 32: %-30s goal >= 1: %s\n",
		       bench_range_str(&q.b32, 2, "x", b, sizeof(b)),
		       bench_goal(&q.b32, BENCH_AT_LEAST, 1, g2, sizeof(g2)));
	}
	if (q.have_pp)
		printf("wave_shm p50 / pingpong p50 (half its round trip): %s goal <= 1.5: %s\n",
		       bench_range_str(&q.p50, 2, "x", a, sizeof(a)),
		       bench_goal(&q.p50, BENCH_AT_MOST, 1.5, g1, sizeof(g1)));
	if (w && d)
		printf("link delay %llu us: p50 %+.2f us over no delay\n",
		       (unsigned long long)cfg->link_delay_us,
		       (all(d, d->lat[0]) - all(w, w->lat[0])) / 1e3);
	if (q.have_tls)
		printf("what TLS 1.3 (PSK) costs the channel over tcp://, wave_tls / wave_tcp:\n"
		       "  throughput batch 1 %s, batch 32 %s; p50 latency %s\n",
		       bench_range_str(&q.tls[0], 2, "x", a, sizeof(a)),
		       bench_range_str(&q.tls[1], 2, "x", b, sizeof(b)),
		       bench_range_str(&q.tls[2], 2, "x", g1, sizeof(g1)));
}

static const char *const contender_names =
	"wave_shm, rte_ring, pingpong, unix, tcp, wave_tcp, wave_tls, wave_shm_delay";

static struct cfg opt_cfg = { .cpu = { -1, -1 }, .runs = 1 };

static int parse_cpus(const struct opt *o, const char *arg)
{
	int *cpu = o->value, n = 0;
	uint64_t mask;

	if (wave_parse_cpulist("--cpus", arg, &mask))
		return -EINVAL;
	if (__builtin_popcountll(mask) != 2) {
		wave_err("--cpus: give exactly two CPUs, e.g. 0,1");
		return -EINVAL;
	}
	for (int i = 0; i < 64; i++)
		if (mask & (1ULL << i))
			cpu[n++] = i;
	return 0;
}

static int selected(const struct cfg *cfg, const char *name)
{
	size_t len = strlen(name);
	const char *p = cfg->only;

	if (!p)
		return 1;
	while ((p = strstr(p, name))) {
		if ((p == cfg->only || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
			return 1;
		p += len;
	}
	return 0;
}

static const char *contenders_list(void)
{
	return contender_names;
}

static const struct opt channel_opts[] = {
	OPT_BOOL("quick", 0, &opt_cfg.quick, "fewer messages and samples (about 10 s a run)"),
	OPT_BOOL("json", 0, &opt_cfg.json, "print one JSON object instead of the table"),
	OPT_UINT("runs", "N", &opt_cfg.runs, 1, BENCH_MAX_RUNS,
		 "repeat the whole measurement; ratios as median (min-max)"),
	OPT_U64("link-delay", "US", &opt_cfg.link_delay_us, 0, 100000,
		"also measure wave_shm with an emulated link delay of US us\n(0: not)"),
	OPT_CALLBACK("cpus", "A,B", opt_cfg.cpu, parse_cpus,
		     "the two CPUs to use (default: the first two allowed)"),
	{ .kind = OPT_KIND_STRING, .name = "only", .argh = "LIST", .value = &opt_cfg.only,
	  .help = "run only these contenders", .choices = contenders_list },
	OPT_END(),
};

static const struct opt_cmd channel_cmd = {
	.name = "bench channel",
	.usage = "wavectl bench channel [--quick] [--json] [--runs N] [--link-delay US] [--cpus A,B]",
	.about = "Measures the Wave shm channel against DPDK rte_ring (SP/SC, 64-byte elements),\n"
		 "a raw cache-line mailbox (pingpong, the floor), a unix socket and TCP loopback,\n"
		 "and the Wave channel over tcp:// in plaintext (wave_tcp) and with TLS 1.3 and a\n"
		 "pre-shared key (wave_tls): throughput at batch 1 and 32, one-way latency\n"
		 "p50/p99/p99.9, on two pinned CPUs.\n",
	.opts = channel_opts,
};

static int parse(int argc, char **argv, struct cfg *cfg)
{
	int ret = opt_parse(&channel_cmd, argc, argv, NULL);

	*cfg = opt_cfg;
	return ret;
}

int bench_channel_main(int argc, char **argv)
{
	static const struct pipe_ops *const contenders[] = {
		&pipe_wave_ops,	    &pipe_rte_ring_ops, &pipe_pingpong_ops, &pipe_unix_ops,
		&pipe_tcp_ops,	    &pipe_wave_tcp_ops, &pipe_wave_tls_ops,
	};
	enum { NC = sizeof(contenders) / sizeof(contenders[0]) };
	static struct result res[NC + 1];
	struct cfg cfg;
	int ret, n, failed = 0;

	ret = parse(argc, argv, &cfg);
	if (ret)
		return ret > 0 ? 0 : 2;
	if (cfg.cpu[0] < 0 && bench_default_cpus(cfg.cpu)) {
		wave_err("bench channel: needs two CPUs");
		return 1;
	}
	cfg.tput_msgs = cfg.quick ? 1000000 : 5000000;
	cfg.lat_samples = cfg.quick ? 40000 : 200000;
	const struct pipe_ops *run_ops[NC + 1];
	uint64_t run_delay[NC + 1] = { 0 };

	n = 0;
	for (int i = 0; i < NC; i++) {
		if (!selected(&cfg, contenders[i]->name))
			continue;
		run_ops[n] = contenders[i];
		res[n++].name = contenders[i]->name;
	}
	if (cfg.link_delay_us && selected(&cfg, "wave_shm_delay")) {
		run_ops[n] = &pipe_wave_ops;
		run_delay[n] = cfg.link_delay_us * WAVE_NSEC_PER_USEC;
		res[n++].name = "wave_shm_delay";
	}
	if (!n) {
		wave_err("bench channel: --only '%s' names no contender (%s)", cfg.only,
			 contender_names);
		return 2;
	}
	/*
	 * Attach/detach lines of the contenders' channels, and wave_tcp's
	 * warning that it is plaintext (it is, on purpose), would garble the output.
	 */
	if (wave_log_get_level() < WAVE_LOG_DEBUG)
		wave_log_set_level(WAVE_LOG_ERR);
	for (unsigned int s = 0; s < REPS * cfg.runs; s++) {
		for (int i = 0; i < n; i++) {
			if (!cfg.json)
				fprintf(stderr, "\rrun %u/%u, repetition %u/%d: %-16s", s / REPS + 1,
					cfg.runs, s % REPS + 1, REPS, res[i].name);
			if (!res[i].failed && measure(run_ops[i], &cfg, run_delay[i], &res[i], s))
				res[i].failed = 1;
			res[i].ns = s + 1;
		}
	}
	if (selected(&cfg, "wave_shm")) {
		double c[REPS];

		for (int rep = 0; rep < REPS; rep++)
			c[rep] = check_cost(cfg.tput_msgs);
		check_ns = median(c, 0, REPS);
	}
	bench_dpdk_cleanup();
	if (!cfg.json)
		fprintf(stderr, "\r%60s\r", "");
	for (int i = 0; i < n; i++)
		failed |= res[i].failed;
	if (cfg.json)
		print_json(&cfg, res, n);
	else
		print_table(&cfg, res, n);
	return failed ? 1 : 0;
}
