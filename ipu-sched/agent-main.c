// SPDX-License-Identifier: BSD-3-Clause
/*
 * wave-agent: the policy side of Wave-VM, meant for an IPU/SmartNIC core (or
 * an emulated IPU: another process, another VM). It connects to waved by
 * channel URI, builds the model from the host's state stream, runs one
 * policy, and sends its decisions back as transactions. It echoes every
 * heartbeat at once: that echo is how the host measures the agent's lag.
 *
 * It may busy-poll (--poll: IPU cores are the agent's own); by default it
 * waits on the channel between ticks. Its own CPU time is reported every
 * --report-s seconds and at exit: it stands for the IPU cores offloading
 * costs.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "channel/chan.h"
#include "channel/codec.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/parse.h"
#include "ipu-sched/sched.h"

#define OUT_MAX 1024

struct agent {
	const char *uri;
	const struct policy_ops *ops;
	struct policy_cfg pcfg;
	struct chan_opts copts;
	uint64_t tick_ns, report_ns;
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
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static const char help[] =
	"usage: wave-agent [OPTIONS]\n"
	"\n"
	"The Wave-VM agent: runs a scheduling policy for the VMs of a host whose waved\n"
	"it reaches over the channel, and sends back its decisions.\n"
	"\n"
	"  --channel URI      shm:NAME or tcp://HOST:PORT (default shm:wave)\n"
	"  --policy P         cfs, pin or latency (default latency)\n"
	"  --tick-ms MS       decide on new state at most this often (default 10)\n"
	"  --spin-us US       poll this long before sleeping (default 20, the minimum)\n"
	"  --poll             busy-poll the channel (an IPU core of its own)\n"
	"  --lend             latency: dedicate a core while active, lend it when idle\n"
	"  --no-prestage      never prestage decisions at the host (always a round trip)\n"
	"  --report-s S       report own CPU use every S seconds (default 10; 0: at exit)\n"
	CHAN_LINK_HELP
	"  -v, --verbose      debug logging\n"
	"  -h, --help         this text\n";

static int parse(int argc, char **argv, struct agent *a)
{
	static const struct option opts[] = {
		{ "channel", required_argument, NULL, 'c' }, { "policy", required_argument, NULL, 'p' },
		{ "tick-ms", required_argument, NULL, 't' }, { "poll", no_argument, NULL, 'P' },
		{ "spin-us", required_argument, NULL, 'S' },
		{ "lend", no_argument, NULL, 'n' }, { "report-s", required_argument, NULL, 'r' },
		{ "no-prestage", no_argument, NULL, 'N' },
		{ "link-delay", required_argument, NULL, 'd' },
		{ "link-fault", required_argument, NULL, 'F' },
		{ "verbose", no_argument, NULL, 'v' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': a->uri = optarg; break;
		case 'p':
			if (!(a->ops = policy_find(optarg))) {
				wave_err("--policy: unknown '%s' (%s)", optarg, policy_names());
				return -EINVAL;
			}
			break;
		case 't':
			if (wave_parse_u64("--tick-ms", optarg, 1, 10000, &v))
				return -EINVAL;
			a->tick_ns = v * WAVE_NSEC_PER_MSEC;
			break;
		case 'P': a->poll = 1; break;
		case 'S':
			if (wave_parse_u64("--spin-us", optarg, 0, 1000000, &v))
				return -EINVAL;
			a->copts.spin_ns = v * WAVE_NSEC_PER_USEC;
			break;
		case 'n': a->pcfg.lend = 1; break;
		case 'N': a->no_prestage = 1; break;
		case 'r':
			if (wave_parse_u64("--report-s", optarg, 0, 86400, &v))
				return -EINVAL;
			a->report_ns = v * WAVE_NSEC_PER_SEC;
			break;
		case 'd':
		case 'F':
			if (chan_opts_parse_link(&a->copts, c == 'd' ? "--link-delay" : "--link-fault",
						 optarg) < 0)
				return -EINVAL;
			break;
		case 'v': wave_log_set_level(WAVE_LOG_DEBUG); break;
		case 'h': fputs(help, stdout); return 1;
		default: fputs(help, stderr); return -EINVAL;
		}
	}
	if (optind < argc) {
		wave_err("unexpected argument '%s' (see --help)", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static uint64_t cpu_used_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * WAVE_NSEC_PER_SEC +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

static void report(struct agent *a, uint64_t now, const char *when)
{
	uint64_t used = cpu_used_ns();
	double pct = now > a->cpu_t0_ns ? 100.0 * (double)(used - a->cpu_used0_ns) /
					  (double)(now - a->cpu_t0_ns) : 0;

	wave_info("agent: %s: CPU %.2f%% of one core; %llu txns (%llu ok, %llu stale, %llu "
		  "refused in fallback, %llu failed), %llu heartbeats echoed", when, pct,
		  (unsigned long long)a->s.st.txns,
		  (unsigned long long)a->s.st.results[WAVE_ST_OK],
		  (unsigned long long)(a->s.st.results[WAVE_ST_STALE_EPOCH] +
				       a->s.st.results[WAVE_ST_STALE_TARGET]),
		  (unsigned long long)a->s.st.results[WAVE_ST_FALLBACK],
		  (unsigned long long)a->s.st.results[WAVE_ST_FAILED],
		  (unsigned long long)a->echoes);
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

static void echo(struct agent *a, const struct wave_msg *hb)
{
	struct wave_msg m = *hb;

	m.h.type = WAVE_MSG_HEARTBEAT_ECHO;
	m.p.hb.t_agent_ns = wave_now_ns();
	/* Straight out, ahead of queued decisions: the host times this. */
	if (chan_send(a->ch, &m) == -EAGAIN && a->out_n < OUT_MAX)
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

static void handle(struct agent *a, const struct wave_msg *m, uint64_t now)
{
	switch (m->h.type) {
	case WAVE_MSG_HELLO:
		wave_info("agent: attached to host (generation %llu)%s",
			  (unsigned long long)m->p.hello.generation,
			  m->p.hello.features & WAVE_FEAT_PRESTAGE ? ", it takes prestaged decisions" : "");
		a->have_snapshot = 0;
		/* A new host: the policy starts over, knowing what this one can do. */
		a->pcfg.prestage = !a->no_prestage && (m->p.hello.features & WAVE_FEAT_PRESTAGE);
		sched_fini(&a->s);
		if (sched_init(&a->s, a->ops, &a->pcfg))
			stop = 1;
		return;
	case WAVE_MSG_HEARTBEAT:
		echo(a, m);
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
	if (sched_feed(&a->s, m, now) < 0 && a->have_snapshot)
		resync(a, now, WAVE_RESYNC_GAP);
	else
		a->state_seen = 1;
	if (m->h.type == WAVE_MSG_SNAPSHOT_END) {
		a->have_snapshot = 1;
		wave_info("agent: snapshot of epoch %u: deciding", m->p.snap.epoch);
		sched_decide(&a->s, now);
	}
}

/*
 * Decide when new state has come in, at most once per tick; with nothing
 * new, once per ten ticks (hog and idle timers in the policy still run).
 * The agent then wakes about as often as the host exports, not more.
 */
static uint64_t wait_until(const struct agent *a)
{
	return a->last_decide + (a->state_seen ? a->tick_ns : 10 * a->tick_ns);
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
			uint64_t t = wave_now_ns(), until = wait_until(a);
			int ms = until > t ? (int)((until - t + WAVE_NSEC_PER_MSEC - 1) /
						   WAVE_NSEC_PER_MSEC) : 0;

			chan_wait(a->ch, ms);
		}
		now = wave_now_ns();
		while ((n = chan_recv(a->ch, m, 64)) > 0)
			for (int i = 0; i < n; i++)
				handle(a, &m[i], now);
		if (now >= wait_until(a)) {
			if (a->have_snapshot)
				sched_decide(&a->s, now);
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
	static struct agent a;
	struct sigaction sa = { .sa_handler = on_signal };
	int ret;

	wave_log_init("wave-agent", WAVE_LOG_INFO);
	a.uri = "shm:wave";
	a.ops = &policy_latency_ops;
	a.tick_ns = 10 * WAVE_NSEC_PER_MSEC;
	a.report_ns = 10 * WAVE_NSEC_PER_SEC;
	policy_cfg_defaults(&a.pcfg);
	chan_opts_init(&a.copts, CHAN_AGENT);
	a.copts.label = "agent";
	/* Only the settle window (ring.h): the agent's CPU stands for IPU cores, but is paid here. */
	a.copts.spin_ns = 20 * WAVE_NSEC_PER_USEC;
	ret = parse(argc, argv, &a);
	if (ret)
		return ret > 0 ? 0 : 2;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (sched_init(&a.s, a.ops, &a.pcfg))
		return 1;
	if (policy_wants_wakeups(a.ops, &a.pcfg))
		a.copts.features |= WAVE_FEAT_WAKEUPS;
	if (!a.no_prestage)
		a.copts.features |= WAVE_FEAT_PRESTAGE;
	if ((ret = chan_open(a.uri, &a.copts, &a.ch))) {
		wave_err("agent: cannot open %s: %s", a.uri, strerror(-ret));
		sched_fini(&a.s);
		return 1;
	}
	wave_info("agent: policy %s on %s%s", a.ops->name, a.uri, a.poll ? " (polling)" : "");
	run(&a);
	/* At exit: over the whole run. */
	a.cpu_t0_ns = a.start_ns;
	a.cpu_used0_ns = 0;
	report(&a, wave_now_ns(), "exit (whole run)");
	chan_close(a.ch);
	sched_fini(&a.s);
	return 0;
}
