// SPDX-License-Identifier: BSD-3-Clause
/*
 * wave-agent: the policy side of Wave-VM, meant for an IPU/SmartNIC core (or
 * an emulated IPU: another process, another VM). It connects to waved by
 * channel URI, builds the model from the host's state stream, runs one
 * policy, and sends its decisions back as transactions. It echoes every
 * heartbeat at once: that echo is how the host measures the agent's lag.
 *
 * It may busy-poll (--poll: IPU cores are the agent's own); by default it
 * waits on the channel between ticks. An emulated IPU on a shared host
 * gets cores of its own in time instead of space: --reserve puts the
 * agent under SCHED_DEADLINE (a runtime every period, before any FIFO or
 * CFS thread). Rejected: SCHED_FIFO, which runs only after every
 * DEADLINE thread (the latency VMs' reservations among them):
 * measured on a 2-core host with six busy vCPU threads, an agent at FIFO
 * 20 waited 7-13 ms to run after its wakeup several times a second and
 * left the kernel's 10 ms beat unanswered 2-7 times in 20 s; with a
 * 1 ms / 5 ms reservation, never in 40 s. Its own CPU time is reported every
 * --report-s seconds and at exit: it stands for the IPU cores offloading
 * costs.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "channel/chan.h"
#include "channel/codec.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/parse.h"
#include "common/sched-attr.h"
#include "ipu-sched/kstate.h"
#include "ipu-sched/sched.h"

#define OUT_MAX 1024

struct agent {
	const char *uri;
	struct policy_conf policy, mem_policy, net_policy;
	struct policy_env env;
	struct chan_opts copts;
	uint64_t tick_ns, report_ns;
	uint64_t reserve_runtime_ns, reserve_period_ns; /* --reserve; 0: none */
	int poll, no_prestage;
	struct chan *ch;
	struct sched s;
	int have_snapshot;
	struct wave_msg out[OUT_MAX];
	unsigned int out_n;
	uint64_t last_decide, next_report, resync_after;
	int state_seen;              /* state arrived since the last decision */
	uint64_t cpu_t0_ns, cpu_used0_ns;
	uint64_t start_ns;
	uint64_t echoes, resyncs;
	const char *stats_path;      /* --stats: counters as JSON at every report */
	uint64_t decides, decide_ns[1024]; /* policy runs; the last ones' durations */
	uint64_t msgs_in;
	struct kstate ks;            /* the host kernel's state and heartbeat (1.7), if shared */
	uint64_t kstate_gen;         /* the attach it was mapped for */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static struct agent agent_self;

/* --reserve RUNTIME/PERIOD: two durations, bare numbers in us. */
static int parse_reserve(const struct opt *o, const char *arg)
{
	struct agent *a = o->value;
	const char *slash = strchr(arg, '/');
	size_t n = slash ? (size_t)(slash - arg) : 0;
	char runtime[32];

	if (!n || n >= sizeof(runtime)) {
		wave_err("--reserve: '%s' is not RUNTIME/PERIOD (e.g. 1ms/5ms)", arg);
		return -EINVAL;
	}
	memcpy(runtime, arg, n);
	runtime[n] = '\0';
	if (wave_parse_duration("--reserve runtime", runtime, WAVE_NSEC_PER_USEC,
				10 * WAVE_NSEC_PER_USEC, WAVE_NSEC_PER_SEC, &a->reserve_runtime_ns) ||
	    wave_parse_duration("--reserve period", slash + 1, WAVE_NSEC_PER_USEC,
				100 * WAVE_NSEC_PER_USEC, WAVE_NSEC_PER_SEC, &a->reserve_period_ns))
		return -EINVAL;
	if (a->reserve_runtime_ns >= a->reserve_period_ns) {
		wave_err("--reserve: the runtime (%s) must be shorter than the period", runtime);
		return -EINVAL;
	}
	return 0;
}

/*
 * The reservation asked for, on this (single-threaded) process. Refused,
 * the agent goes on as it was started, and says why: it still works, with
 * the lateness an unreserved process gets on a busy host.
 */
static void reserve(const struct agent *a)
{
	struct sched_attr at = { .size = sizeof(at), .sched_policy = SCHED_DEADLINE,
				 .sched_runtime = a->reserve_runtime_ns,
				 .sched_deadline = a->reserve_period_ns,
				 .sched_period = a->reserve_period_ns };
	int ret;

	if (!a->reserve_period_ns)
		return;
	ret = wave_sched_setattr(0, &at);
	if (!ret)
		wave_info("agent: SCHED_DEADLINE, %.2f ms every %.2f ms",
			  (double)a->reserve_runtime_ns / 1e6, (double)a->reserve_period_ns / 1e6);
	else
		wave_warn("agent: --reserve refused (%s): running without a reservation",
			  ret == -EBUSY ? "the host has no SCHED_DEADLINE bandwidth left for it" :
			  ret == -EPERM ? "not permitted: needs root or CAP_SYS_NICE" :
			  strerror(-ret));
}

static const struct opt agent_opts[] = {
	OPT_STRING("channel", "URI", &agent_self.uri, "shm:NAME or tcp://HOST:PORT of the host's waved"),
	POLICY_OPTS(&agent_self.policy, "the scheduling policy"),
	MEM_POLICY_OPTS(&agent_self.mem_policy,
			"the memory policy (balloon targets; the host's waved\n"
			"needs --mem-budget to apply them)"),
	NET_POLICY_OPTS(&agent_self.net_policy,
			"the network policy (VMs' rates on the host's wave-switch)"),
	OPT_DURATION("tick-ms", "MS", &agent_self.tick_ns, WAVE_NSEC_PER_MSEC, WAVE_NSEC_PER_MSEC,
		     10 * WAVE_NSEC_PER_SEC, "decide on new state at most this often"),
	OPT_DURATION("spin-us", "US", &agent_self.copts.spin_ns, WAVE_NSEC_PER_USEC, 0, WAVE_NSEC_PER_SEC,
		     "poll this long before sleeping (the settle window is the minimum)"),
	OPT_BOOL("poll", 0, &agent_self.poll, "busy-poll the channel (an IPU core of its own)"),
	OPT_CALLBACK("reserve", "RUNTIME/PERIOD", &agent_self, parse_reserve,
		     "run under SCHED_DEADLINE with this much CPU every period\n"
		     "(e.g. 1ms/5ms; bare numbers are us): an emulated IPU's own\n"
		     "cores on a shared host; on a real IPU leave it off"),
	OPT_BOOL("no-prestage", 0, &agent_self.no_prestage,
		 "never prestage decisions at the host (always a round trip)"),
	OPT_DURATION("report-s", "S", &agent_self.report_ns, WAVE_NSEC_PER_SEC, 0, 86400 * WAVE_NSEC_PER_SEC,
		     "report own CPU use this often (0: at exit only)"),
	OPT_STRING("stats", "FILE", &agent_self.stats_path,
		   "at every report, write the counters to FILE as JSON\n"
		   "(CPU, decisions, policy run time p50/p99, messages, resyncs,\n"
		   "thread samples that came behind one already seen)"),
	CHAN_TLS_OPTS(&agent_self.copts),
	CHAN_HOST_USER_OPT(&agent_self.copts),
	CHAN_LINK_OPTS(&agent_self.copts),
	OPT_VERBOSE(),
	OPT_END(),
};

static const struct opt_cmd agent_cmd = {
	.usage = "wave-agent [OPTIONS]",
	.about = "The Wave-VM agent: runs a scheduling, a memory and a network policy for the\n"
		 "VMs of a host whose waved it reaches over the channel, and sends back their\n"
		 "decisions.\n",
	.opts = agent_opts,
	.extra = policy_conf_help,
};

/* The runtime with the scheduling policy, and the memory and network policies beside it unless none. */
static int runtime_init(struct agent *a)
{
	int ret = sched_init(&a->s, &a->policy, &a->env);

	if (!ret && a->mem_policy.ops != &mm_none_ops)
		ret = sched_add(&a->s, &a->mem_policy);
	if (!ret && a->net_policy.ops != &net_none_ops)
		ret = sched_add(&a->s, &a->net_policy);
	return ret;
}

static uint64_t cpu_used_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * WAVE_NSEC_PER_SEC +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* --stats: the counters so far, replaced whole (rename) so a reader never sees half. */
static void write_stats(const struct agent *a, uint64_t used_ns)
{
	static uint64_t v[1024];
	uint64_t n = a->decides < 1024 ? a->decides : 1024;
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", a->stats_path);
	if (!(f = fopen(tmp, "w"))) {
		wave_log_rl(WAVE_LOG_WARN, "agent: --stats %s: %s", tmp, strerror(errno));
		return;
	}
	memcpy(v, a->decide_ns, n * sizeof(v[0]));
	qsort(v, n, sizeof(v[0]), cmp_u64);
	fprintf(f, "{\"cpu_ns\": %llu, \"decides\": %llu, \"decide_us_p50\": %.1f, "
		   "\"decide_us_p99\": %.1f, \"txns\": %llu, \"ok\": %llu, \"failed\": %llu, "
		   "\"msgs_in\": %llu, \"resyncs\": %llu, \"echoes\": %llu, \"kernel_beats\": %llu, "
		   "\"kernel_echoes\": %llu, \"kernel_reads\": %llu, \"model_steps_back\": %llu}\n",
		(unsigned long long)used_ns, (unsigned long long)a->decides,
		n ? (double)v[n / 2] / 1e3 : 0, n ? (double)v[n * 99 / 100] / 1e3 : 0,
		(unsigned long long)a->s.st.txns,
		(unsigned long long)a->s.st.results[WAVE_ST_OK],
		(unsigned long long)a->s.st.results[WAVE_ST_FAILED],
		(unsigned long long)a->msgs_in, (unsigned long long)a->resyncs,
		(unsigned long long)a->echoes, (unsigned long long)a->ks.c.beats,
		(unsigned long long)a->ks.c.echoes, (unsigned long long)a->ks.c.reads,
		(unsigned long long)a->s.model.steps_back);
	if (fclose(f) || rename(tmp, a->stats_path))
		wave_log_rl(WAVE_LOG_WARN, "agent: --stats %s: %s", a->stats_path, strerror(errno));
}

static void report(struct agent *a, uint64_t now, const char *when)
{
	uint64_t used = cpu_used_ns();
	double pct = now > a->cpu_t0_ns ? 100.0 * (double)(used - a->cpu_used0_ns) /
					  (double)(now - a->cpu_t0_ns) : 0;

	wave_info("agent: %s: CPU %.2f%% of one core; %llu txns (%llu ok, %llu stale, %llu "
		  "refused in fallback, %llu failed), %llu heartbeats echoed, %llu kernel beats "
		  "answered",
		  when, pct,
		  (unsigned long long)a->s.st.txns,
		  (unsigned long long)a->s.st.results[WAVE_ST_OK],
		  (unsigned long long)(a->s.st.results[WAVE_ST_STALE_EPOCH] +
				       a->s.st.results[WAVE_ST_STALE_TARGET]),
		  (unsigned long long)a->s.st.results[WAVE_ST_FALLBACK],
		  (unsigned long long)a->s.st.results[WAVE_ST_FAILED],
		  (unsigned long long)a->echoes, (unsigned long long)a->ks.c.echoes);
	if (a->stats_path)
		write_stats(a, used);
	a->cpu_t0_ns = now;
	a->cpu_used0_ns = used;
}

static void flush(struct agent *a)
{
	int n;

	if (!a->out_n || !chan_is_up(a->ch))
		return;
	n = chan_send_batch(a->ch, a->out, a->out_n);
	if (n > 0) {
		memmove(a->out, a->out + n, (a->out_n - (unsigned int)n) * sizeof(a->out[0]));
		a->out_n -= (unsigned int)n;
	} else if (n == -ENOTCONN) {
		a->out_n = 0;
	}
}

/* Moves the policy's waiting decisions into the outbox (whole transactions). */
static void emit(struct agent *a)
{
	unsigned int n;

	do {
		n = sched_emit(&a->s, a->out + a->out_n, OUT_MAX - a->out_n);
		a->out_n += n;
		if (a->out_n == OUT_MAX)
			flush(a);
	} while (n && a->out_n < OUT_MAX && a->s.out.n);
	flush(a);
}

/*
 * At once, ahead of queued decisions: the host's watchdog reads it. held:
 * since the batch holding the heartbeat was received.
 */
static void echo(struct agent *a, const struct wave_msg *hb, uint64_t received)
{
	uint64_t now = wave_now_ns();
	struct wave_msg m;

	if (chan_echo(a->ch, hb, now > received ? now - received : 0, &m) == -EAGAIN &&
	    a->out_n < OUT_MAX)
		a->out[a->out_n++] = m;
	a->echoes++;
}

static void resync(struct agent *a, uint64_t now, int reason)
{
	struct wave_msg m;

	if (now < a->resync_after)
		return;
	wave_msg_init(&m, WAVE_MSG_RESYNC_REQ);
	m.p.resync.epoch = a->s.model.epoch;
	m.p.resync.reason = (uint8_t)reason;
	chan_send(a->ch, &m);
	a->resyncs++;
	a->resync_after = now + WAVE_NSEC_PER_SEC;
}

/* One policy run, timed (the last 1024 runs' durations go to --stats). */
static void decide(struct agent *a, uint64_t now)
{
	uint64_t t0 = wave_now_ns();

	sched_decide(&a->s, now);
	a->decide_ns[a->decides++ % 1024] = wave_now_ns() - t0;
}

/* A host that shares its kernel's state (1.7, both sides announced KSTATE): map it. */
static void kstate_attach(struct agent *a)
{
	int fds[CHAN_SHARE_FDS];
	char why[160];

	kstate_unmap(&a->ks);
	if (!(chan_features(a->ch) & WAVE_FEAT_KSTATE))
		return;
	for (unsigned int i = 0; i < CHAN_SHARE_FDS; i++)
		fds[i] = chan_shared_fd(a->ch, i);
	if (kstate_map(&a->ks, fds, why, sizeof(why))) {
		/* The host sees no answer to its beats and watches us on the channel. */
		wave_warn("agent: %s", why);
		return;
	}
	a->kstate_gen = chan_generation(a->ch);
	wave_info("agent: reading the host kernel's thread records at its beats");
}

/*
 * When the answer to the beat last seen is due: once an emulated link
 * delay has passed since it was seen. 0: nothing to answer, or an injected
 * stall or heartbeat drop withholds it (as it would on the channel).
 */
static uint64_t answer_due(const struct agent *a)
{
	if (a->ks.seen == a->ks.echoed || chan_fault_now(a->ch, CHAN_FAULT_STALL) ||
	    chan_fault_now(a->ch, CHAN_FAULT_DROP_HB))
		return 0;
	return a->ks.seen_ns + a->copts.link_delay_ns;
}

/*
 * A new beat: read the records (the policy gets them as VCPU_STATE), then
 * answer when it is due (answer_due).
 */
static void kstate_poll(struct agent *a, uint64_t now)
{
	struct wave_msg m[64];
	uint64_t seq, due;
	unsigned int n;

	if (!kstate_mapped(&a->ks))
		return;
	if (!chan_is_up(a->ch) || chan_generation(a->ch) != a->kstate_gen) {
		kstate_unmap(&a->ks);
		return;
	}
	seq = kstate_beat(&a->ks);
	if (seq && seq != a->ks.seen) {
		a->ks.seen = seq;
		a->ks.seen_ns = now;
		a->ks.c.beats++;
		do {
			n = kstate_read(&a->ks, now, m, 64);
			for (unsigned int i = 0; i < n; i++)
				if (sched_feed(&a->s, &m[i], now) >= 0)
					a->state_seen = 1;
		} while (kstate_more(&a->ks));
	}
	due = answer_due(a);
	if (due && now >= due)
		kstate_echo(&a->ks, a->ks.seen, now);
}

static void handle(struct agent *a, const struct wave_msg *m, uint64_t now)
{
	struct wave_msg fresh;

	switch (m->h.type) {
	case WAVE_MSG_HELLO:
		wave_info("agent: attached to host (generation %llu)%s",
			  (unsigned long long)m->p.hello.generation,
			  m->p.hello.features & WAVE_FEAT_PRESTAGE ? ", it takes prestaged decisions" : "");
		a->have_snapshot = 0;
		/* A new host: the policy starts over, knowing what this one can do. */
		a->env.prestage = !a->no_prestage && (m->p.hello.features & WAVE_FEAT_PRESTAGE);
		a->env.wake_sub = !!(m->p.hello.features & WAVE_FEAT_WAKE_SUB);
		a->env.net = !!(m->p.hello.features & WAVE_FEAT_NET);
		a->env.mem = !!(m->p.hello.features & WAVE_FEAT_MEM);
		a->env.netctl = !!(m->p.hello.features & WAVE_FEAT_NETCTL);
		kstate_attach(a);
		sched_fini(&a->s);
		if (runtime_init(a))
			stop = 1;
		return;
	case WAVE_MSG_HEARTBEAT:
		echo(a, m, now);
		/* The host watches us on the channel: the kernel does not beat. */
		kstate_quiet(&a->ks);
		return;
	case WAVE_MSG_TXN_RESULT:
		sched_result(&a->s, &m->p.result);
		return;
	case WAVE_MSG_SNAPSHOT_BEGIN:
		sched_reset(&a->s);
		break;
	default:
		break;
	}
	kstate_learn(&a->ks, m);
	if (kstate_reread(&a->ks, m, now, &fresh))
		m = &fresh;
	if (sched_feed(&a->s, m, now) < 0 && a->have_snapshot)
		resync(a, now, WAVE_RESYNC_GAP);
	else
		a->state_seen = 1;
	if (m->h.type == WAVE_MSG_SNAPSHOT_END) {
		a->have_snapshot = 1;
		if (kstate_mapped(&a->ks))
			kstate_expect(&a->ks);
		wave_info("agent: snapshot of epoch %u: deciding", m->p.snap.epoch);
		decide(a, now);
	}
}

/*
 * Decide when new state has come in, at most once per tick; with nothing
 * new, once per ten ticks (hog and idle timers in the policy still run).
 * The agent then wakes about as often as the host exports, not more.
 */
static uint64_t wait_until(const struct agent *a)
{
	uint64_t t = a->last_decide + (a->state_seen ? a->tick_ns : 10 * a->tick_ns), k;

	if (!kstate_mapped(&a->ks))
		return t;
	/* A kernel beat's answer held back by an emulated link delay (due now: no wait). */
	k = answer_due(a);
	if (k && k < t)
		t = k;
	/* The next beat. */
	k = kstate_next_look(&a->ks, wave_now_ns());
	return k && k < t ? k : t;
}

static void run(struct agent *a)
{
	struct wave_msg m[64];
	uint64_t now = wave_now_ns();
	int n;

	a->last_decide = now;
	a->cpu_t0_ns = a->start_ns = now;
	a->cpu_used0_ns = cpu_used_ns();
	a->next_report = a->report_ns ? now + a->report_ns : UINT64_MAX;
	while (!stop) {
		if (a->poll) {
			chan_process(a->ch);
		} else {
			chan_wait_until(a->ch, wait_until(a));
		}
		now = wave_now_ns();
		while ((n = chan_recv(a->ch, m, 64)) > 0) {
			a->msgs_in += (uint64_t)n;
			for (int i = 0; i < n; i++)
				handle(a, &m[i], now);
		}
		kstate_poll(a, now);
		if (now >= a->last_decide + (a->state_seen ? a->tick_ns : 10 * a->tick_ns)) {
			if (a->have_snapshot)
				decide(a, now);
			a->last_decide = now;
			a->state_seen = 0;
		}
		emit(a);
		if (now >= a->next_report) {
			report(a, now, "last period");
			a->next_report = now + a->report_ns;
		}
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct agent *a = &agent_self;
	int ret;

	wave_log_init("wave-agent", WAVE_LOG_INFO);
	a->uri = "shm:wave";
	policy_conf_init(&a->policy, "latency");
	policy_conf_init_as(&a->mem_policy, POLICY_MEM, "none");
	policy_conf_init_as(&a->net_policy, POLICY_NET, "none");
	a->tick_ns = 10 * WAVE_NSEC_PER_MSEC;
	a->report_ns = 10 * WAVE_NSEC_PER_SEC;
	chan_opts_init(&a->copts, CHAN_AGENT);
	a->copts.label = "agent";
	/* Only the settle window (ring.h): the agent's CPU stands for IPU cores, but is paid here. */
	a->copts.spin_ns = 20 * WAVE_NSEC_PER_USEC;
	ret = opt_parse(&agent_cmd, argc, argv, NULL);
	if (ret)
		return ret > 0 ? 0 : 2;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	reserve(a);
	if (runtime_init(a))
		return 1;
	if (!a->no_prestage)
		a->copts.features |= WAVE_FEAT_PRESTAGE;
	a->copts.features |= WAVE_FEAT_PINS; /* the model keeps operators' pins */
	a->copts.features |= WAVE_FEAT_NET;  /* ... and VM traffic */
	a->copts.features |= WAVE_FEAT_KSTATE; /* ... and, on the host's memory, its kernel's state */
	if (a->mem_policy.ops != &mm_none_ops)
		a->copts.features |= WAVE_FEAT_MEM; /* ... and guest memory, for a policy to use */
	if ((ret = chan_open(a->uri, &a->copts, &a->ch))) {
		wave_err("agent: cannot open %s: %s", a->uri, strerror(-ret));
		sched_fini(&a->s);
		return 1;
	}
	wave_info("agent: policy %s, memory policy %s, network policy %s, on %s%s",
		  a->policy.ops->name, a->mem_policy.ops->name, a->net_policy.ops->name, a->uri, a->poll ? " (polling)" : "");
	run(a);
	/* At exit: over the whole run. */
	a->cpu_t0_ns = a->start_ns;
	a->cpu_used0_ns = 0;
	report(a, wave_now_ns(), "exit (whole run)");
	kstate_unmap(&a->ks);
	chan_close(a->ch);
	sched_fini(&a->s);
	return 0;
}
