// SPDX-License-Identifier: BSD-3-Clause
/*
 * waved main: options, set-up, one epoll loop, shutdown. The loop waits on
 * the channel, the BPF ring buffer, libvirt's event fd, the status socket,
 * signals, and one periodic timer (heartbeats, deltas, the watchdog); with
 * nothing to manage and no agent the timer slows to once a second, so an
 * idle waved costs next to nothing.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "channel/codec.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/parse.h"
#include "waved/waved.h"

enum tag { TAG_CHAN = 1, TAG_OBS, TAG_VIRT, TAG_TIMER, TAG_SIGNAL, TAG_CTL, TAG_WATCHDOG };

static const char help[] =
	"usage: waved [OPTIONS]\n"
	"\n"
	"The Wave-VM host daemon: observes the vCPU and emulator threads of the VMs on\n"
	"this host, exports their state to wave-agent over the channel, applies the\n"
	"agent's decisions, and falls back to an on-host policy when the agent lags.\n"
	"\n"
	"  --mode M             offload (policy in wave-agent; default), onhost (the\n"
	"                       same policy inside waved), observe (export only: CFS)\n"
	"  --policy P           policy for onhost mode and --fallback local\n"
	"                       (cfs, pin, latency; default latency)\n"
	"  --channel URI        shm:NAME or tcp://HOST:PORT (default shm:wave in\n"
	"                       offload mode; none otherwise unless given)\n"
	"  --fallback F         cfs (restore every baseline; default) or local (run\n"
	"                       the policy on the host) while the agent is unhealthy\n"
	"  --lag-threshold MS   agent lag that means fallback (default 10)\n"
	"  --handback N         healthy heartbeats before control goes back (default 20)\n"
	"  --export-ms MS       state export period (default 10)\n"
	"  --cpus LIST          CPUs decisions may use (default: all online)\n"
	"  --uri URI            libvirt URI (default qemu:///system)\n"
	"  --vm NAME,CLASS,TID[+TID...][,EMULATOR_TID]\n"
	"                       manage plain threads as a VM instead of libvirt's\n"
	"                       (repeatable; for tests and demos without VMs)\n"
	"  --libvirt            with --vm: manage libvirt's VMs too\n"
	"  --match PREFIX       manage only libvirt domains whose name starts with PREFIX\n"
	"  --observe B          auto (BPF, else /proc; default), bpf or proc\n"
	"  --wake-events W      which threads' wakeups are exported at once (BPF):\n"
	"                       latency (threads of latency-class VMs; default), all, none\n"
	"  --wake-min-idle-us U ... only after sleeping at least U us (default 1000)\n"
	"  --lend               latency policy: dedicate a core while active, lend it idle\n"
	"  --rundir DIR         status socket and journal (default $WAVE_RUNDIR or\n"
	"                       /run/wave-vm)\n"
	CHAN_LINK_HELP
	"  -v, --verbose        debug logging\n"
	"  -h, --help           this text\n";

static int parse_static(struct waved_cfg *c, const char *arg)
{
	char buf[512], *name, *cls, *tids, *emu, *save = NULL, *tok;
	struct wv_static_vm *s;
	int cl;

	if (c->nr_static >= WV_MAX_STATIC || strlen(arg) >= sizeof(buf))
		goto bad;
	s = &c->statics[c->nr_static];
	memset(s, 0, sizeof(*s));
	strcpy(buf, arg);
	name = strtok_r(buf, ",", &save);
	cls = strtok_r(NULL, ",", &save);
	tids = strtok_r(NULL, ",", &save);
	emu = strtok_r(NULL, ",", &save);
	if (!name || !cls || !tids || strtok_r(NULL, ",", &save))
		goto bad;
	if ((cl = vmm_class_parse(cls)) < 0)
		goto bad;
	s->cls = (enum wave_vm_class)cl;
	snprintf(s->name, sizeof(s->name), "%s", name);
	for (tok = strtok_r(tids, "+", &save); tok; tok = strtok_r(NULL, "+", &save)) {
		uint64_t v;

		if (s->nr_vcpus >= MODEL_MAX_VCPUS || wave_parse_u64("--vm TID", tok, 1, 4194304, &v))
			goto bad;
		s->vcpus[s->nr_vcpus++] = (pid_t)v;
	}
	if (emu) {
		uint64_t v;

		if (wave_parse_u64("--vm EMULATOR_TID", emu, 1, 4194304, &v))
			goto bad;
		s->emulator = (pid_t)v;
	}
	c->nr_static++;
	return 0;
bad:
	wave_err("--vm '%s': want NAME,latency|batch,TID[+TID...][,EMULATOR_TID]", arg);
	return -EINVAL;
}

static int parse_ms(const char *opt, const char *arg, uint64_t min, uint64_t max, uint64_t *ns)
{
	uint64_t v;

	if (wave_parse_u64(opt, arg, min, max, &v))
		return -EINVAL;
	*ns = v * WAVE_NSEC_PER_MSEC;
	return 0;
}

static int parse_cpus(struct waved_cfg *c, const char *arg)
{
	uint64_t mask;
	cpu_set_t online;

	if (wave_parse_cpulist("--cpus", arg, &mask))
		return -EINVAL;
	sched_getaffinity(0, sizeof(online), &online);
	CPU_ZERO(&c->allowed);
	for (int i = 0; i < 64; i++)
		if (mask & (1ull << i)) {
			if (!CPU_ISSET(i, &online)) {
				wave_err("--cpus: CPU %d is not online here", i);
				return -EINVAL;
			}
			CPU_SET(i, &c->allowed);
		}
	return 0;
}

static int parse_enum(const char *opt, const char *arg, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(arg, names[i]))
			return i;
	wave_err("%s: '%s' is not one of the choices (see --help)", opt, arg);
	return -EINVAL;
}

/* Returns 0 to run, 1 after --help, -EINVAL on a bad option. */
static int parse(int argc, char **argv, struct waved_cfg *c)
{
	static const char *const obss[] = { "auto", "bpf", "proc" };
	static const char *const wakes[] = { "none", "latency", "all" };
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' }, { "policy", required_argument, NULL, 'p' },
		{ "channel", required_argument, NULL, 'c' },
		{ "fallback", required_argument, NULL, 'f' },
		{ "lag-threshold", required_argument, NULL, 'l' },
		{ "handback", required_argument, NULL, 'H' },
		{ "export-ms", required_argument, NULL, 'e' }, { "cpus", required_argument, NULL, 'C' },
		{ "uri", required_argument, NULL, 'u' }, { "vm", required_argument, NULL, 'V' },
		{ "libvirt", no_argument, NULL, 'L' }, { "observe", required_argument, NULL, 'o' },
		{ "match", required_argument, NULL, 'M' },
		{ "wake-events", required_argument, NULL, 'W' },
		{ "wake-min-idle-us", required_argument, NULL, 'I' },
		{ "lend", no_argument, NULL, 'n' }, { "rundir", required_argument, NULL, 'r' },
		{ "link-delay", required_argument, NULL, 'd' },
		{ "link-fault", required_argument, NULL, 'F' },
		{ "verbose", no_argument, NULL, 'v' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, r, libvirt_too = 0;
	uint64_t v;

	while ((ch = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			if ((r = parse_enum("--mode", optarg, wv_mode_names, WAVED_NR_MODES)) < 0)
				return r;
			c->mode = (enum waved_mode)r;
			break;
		case 'p':
			if (!policy_find(optarg)) {
				wave_err("--policy: unknown '%s' (%s)", optarg, policy_names());
				return -EINVAL;
			}
			c->policy = optarg;
			break;
		case 'c': c->channel = optarg; break;
		case 'f':
			if ((r = parse_enum("--fallback", optarg, wv_fallback_names, WAVED_NR_FALLBACKS)) < 0)
				return r;
			c->fallback = (enum waved_fallback)r;
			break;
		case 'l':
			if (parse_ms("--lag-threshold", optarg, 1, 60000, &c->lag_threshold_ns))
				return -EINVAL;
			break;
		case 'H':
			if (wave_parse_u64("--handback", optarg, 1, 100000, &v))
				return -EINVAL;
			c->handback_n = (unsigned int)v;
			break;
		case 'e':
			if (parse_ms("--export-ms", optarg, 1, 10000, &c->export_ns))
				return -EINVAL;
			break;
		case 'C':
			if (parse_cpus(c, optarg))
				return -EINVAL;
			break;
		case 'u': c->uri = optarg; break;
		case 'V':
			if (parse_static(c, optarg))
				return -EINVAL;
			break;
		case 'L': libvirt_too = 1; break;
		case 'M': c->match = optarg; break;
		case 'W':
			if ((r = parse_enum("--wake-events", optarg, wakes, 3)) < 0)
				return r;
			c->wake_events = r;
			break;
		case 'I':
			if (wave_parse_u64("--wake-min-idle-us", optarg, 0, 10000000, &v))
				return -EINVAL;
			c->wake_min_idle_ns = v * WAVE_NSEC_PER_USEC;
			break;
		case 'o':
			if ((r = parse_enum("--observe", optarg, obss, 3)) < 0)
				return r;
			c->obs = (enum obs_backend)r;
			break;
		case 'n': c->policy_cfg.lend = 1; break;
		case 'r': c->rundir = optarg; break;
		case 'd':
		case 'F':
			if (chan_opts_parse_link(&c->chan_opts, ch == 'd' ? "--link-delay" : "--link-fault",
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
	c->use_libvirt = !c->nr_static || libvirt_too;
	if (!c->channel && c->mode == WAVED_OFFLOAD)
		c->channel = "shm:wave";
	/*
	 * Heartbeats every 3/4 of the threshold; the watchdog timer fires exactly
	 * when the oldest unanswered one turns overdue, so a dead agent is seen
	 * within 1.75x the threshold, at fewer wake-ups than a faster beat.
	 */
	c->hb_period_ns = c->lag_threshold_ns * 3 / 4;
	return 0;
}

static void defaults(struct waved_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->mode = WAVED_OFFLOAD;
	c->fallback = WAVED_FB_CFS;
	c->policy = "latency";
	c->rundir = getenv("WAVE_RUNDIR") && *getenv("WAVE_RUNDIR") ? getenv("WAVE_RUNDIR")
								    : "/run/wave-vm";
	c->lag_threshold_ns = 10 * WAVE_NSEC_PER_MSEC;
	c->handback_n = 20;
	c->export_ns = 10 * WAVE_NSEC_PER_MSEC;
	c->wake_events = 1;
	c->wake_min_idle_ns = WAVE_NSEC_PER_MSEC;
	sched_getaffinity(0, sizeof(c->allowed), &c->allowed);
	chan_opts_init(&c->chan_opts, CHAN_HOST);
	c->chan_opts.label = "waved";
	c->chan_opts.features = WAVE_FEAT_PRESTAGE; /* we apply prestaged transactions */
	policy_cfg_defaults(&c->policy_cfg);
}

static int ep_add(struct waved *w, int fd, enum tag tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return fd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int any_vm(const struct waved *w)
{
	for (unsigned int v = 0; v < WV_MAX_VMS; v++)
		if (w->vms[v].used)
			return 1;
	return 0;
}

/* The periodic timer: fast while there is work, once a second otherwise. */
static void arm_timer(struct waved *w)
{
	static uint64_t armed;
	uint64_t period = w->cfg.hb_period_ns < w->cfg.export_ns ? w->cfg.hb_period_ns
								 : w->cfg.export_ns;

	if (!any_vm(w) && !(w->ch && chan_is_up(w->ch)))
		period = WAVE_NSEC_PER_SEC;
	if (period == armed)
		return;
	armed = period;
	wave_timerfd_every(w->tfd, period);
}

static void on_chan(struct waved *w)
{
	struct wave_msg m[64];
	int n;

	chan_process(w->ch);
	if (chan_is_up(w->ch) != w->wd.peer_up)
		wd_peer(&w->wd, chan_is_up(w->ch));
	while ((n = chan_recv(w->ch, m, 64)) > 0) {
		for (int i = 0; i < n; i++) {
			switch (m[i].h.type) {
			case WAVE_MSG_HELLO:
				wave_info("waved: agent attached (generation %llu)",
					  (unsigned long long)chan_generation(w->ch));
				wd_peer(&w->wd, 1);
				break;
			case WAVE_MSG_HEARTBEAT_ECHO:
				wd_echo(&w->wd, m[i].p.hb.hb_seq, m[i].p.hb.t_host_ns, wave_now_ns());
				break;
			case WAVE_MSG_TXN:
				wv_on_txn(w, &m[i].p.txn, 0);
				break;
			case WAVE_MSG_RESYNC_REQ:
				if (wv_agent_in_charge(w) || w->cfg.mode != WAVED_OFFLOAD)
					wv_snapshot(w);
				break;
			default:
				wave_log_rl(WAVE_LOG_WARN, "waved: unexpected %s from the agent: ignored",
					    wave_msg_type_name(m[i].h.type));
			}
		}
	}
	w->now = wave_now_ns();
	wv_fallback_check(w);
	wv_flush(w);
	arm_timer(w);
	wv_fallback_arm(w);
}

/*
 * A periodic job is due if its time comes within a quarter period: ticks
 * arrive a little early or late, and a job that just missed its time on
 * one tick would otherwise wait a whole extra tick.
 */
static int due(uint64_t now, uint64_t *next, uint64_t period)
{
	if (now + period / 4 < *next)
		return 0;
	*next = now + period;
	return 1;
}

static void on_tick(struct waved *w)
{
	uint64_t v;

	if (read(w->tfd, &v, sizeof(v)) < 0)
		return;
	if (w->ch)
		on_chan(w); /* also a backstop should a doorbell ever be missed */
	wv_fallback_check(w);
	if (due(w->now, &w->next_hb, w->cfg.hb_period_ns))
		wv_heartbeat(w);
	if (due(w->now, &w->next_cpu, 100 * WAVE_NSEC_PER_MSEC))
		wv_export_cpus(w);
	if (due(w->now, &w->next_export, w->cfg.export_ns)) {
		wv_export_deltas(w, 0);
		if (wv_runs_policy(w))
			wv_local_decide(w);
	}
	if (due(w->now, &w->next_rate, WAVE_NSEC_PER_SEC))
		wv_update_rates(w);
	wv_flush(w);
	arm_timer(w);
	wv_fallback_arm(w);
}

static void on_signal(struct waved *w)
{
	struct signalfd_siginfo si;

	if (read(w->sfd, &si, sizeof(si)) == sizeof(si)) {
		wave_info("waved: %s: restoring baselines and exiting", strsignal((int)si.ssi_signo));
		w->stop = 1;
	}
}

static void loop(struct waved *w)
{
	struct epoll_event ev[16];

	arm_timer(w);
	while (!w->stop) {
		/* Ask the agent for a doorbell before sleeping; no sleep if it sent already. */
		int pending = w->ch && chan_prepare_sleep(w->ch);
		int n = epoll_wait(w->epfd, ev, 16, pending ? 0 : -1);

		if (n < 0 && errno != EINTR)
			break;
		w->now = wave_now_ns();
		if (pending)
			on_chan(w);
		for (int i = 0; i < n; i++) {
			switch (ev[i].data.u32) {
			case TAG_CHAN: on_chan(w); break;
			case TAG_OBS: obs_poll(w->obs, wv_on_wake_event, w); wv_flush(w); break;
			case TAG_VIRT: wv_vm_source_event(w); arm_timer(w); break;
			case TAG_TIMER: on_tick(w); break;
			case TAG_SIGNAL: on_signal(w); break;
			case TAG_CTL: wv_ctl_accept(w); break;
			case TAG_WATCHDOG:
				/* An echo may be waiting: on_chan() reads it, then checks. */
				if (wv_fallback_timer(w) && w->ch)
					on_chan(w);
				wv_fallback_arm(w);
				break;
			}
		}
	}
}

static int setup(struct waved *w)
{
	const struct policy_ops *ops = policy_find(w->cfg.policy);
	sigset_t mask;
	int ret;

	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	w->wdfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	w->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (w->epfd < 0 || w->tfd < 0 || w->wdfd < 0 || w->sfd < 0)
		return -errno;
	wd_init(&w->wd, w->cfg.lag_threshold_ns, w->cfg.handback_n);
	wv_apply_init(w);
	w->epoch = 1;
	if (w->cfg.mode == WAVED_ONHOST ||
	    (w->cfg.mode == WAVED_OFFLOAD && w->cfg.fallback == WAVED_FB_LOCAL)) {
		w->local = calloc(1, sizeof(*w->local));
		if (!w->local || sched_init(w->local, ops, &w->cfg.policy_cfg))
			return -ENOMEM;
	}
	if ((ret = wv_ctl_open(w)))
		return ret;
	if ((ret = wv_vms_init(w)))
		return ret;
	if (w->cfg.channel &&
	    (ret = chan_open(w->cfg.channel, &w->cfg.chan_opts, &w->ch)))
		return ret;
	if (ep_add(w, w->tfd, TAG_TIMER) || ep_add(w, w->wdfd, TAG_WATCHDOG) ||
	    ep_add(w, w->sfd, TAG_SIGNAL) ||
	    ep_add(w, w->ctl_fd, TAG_CTL))
		return -errno;
	if (w->ch && ep_add(w, chan_fd(w->ch), TAG_CHAN))
		return -errno;
	if (obs_fd(w->obs) >= 0 && ep_add(w, obs_fd(w->obs), TAG_OBS))
		return -errno;
	if (w->conn && ep_add(w, vmm_conn_fd(w->conn), TAG_VIRT))
		return -errno;
	/*
	 * A local policy (onhost, or the local fallback) builds its model from a
	 * snapshot like the agent does, so its decisions carry the current epoch.
	 */
	w->now = wave_now_ns();
	if (w->local)
		wv_snapshot(w);
	wv_update_notify(w);
	return 0;
}

static void teardown(struct waved *w)
{
	wv_restore_all(w, "exit");
	wv_vms_fini(w);
	chan_close(w->ch);
	wv_ctl_close(w);
	if (w->local) {
		sched_fini(w->local);
		free(w->local);
	}
	close(w->sfd);
	close(w->wdfd);
	close(w->tfd);
	close(w->epfd);
}

int main(int argc, char **argv)
{
	static struct waved w;
	int ret;

	wave_log_init("waved", WAVE_LOG_INFO);
	defaults(&w.cfg);
	w.ctl_fd = -1;
	ret = parse(argc, argv, &w.cfg);
	if (ret)
		return ret > 0 ? 0 : 2;
	ret = setup(&w);
	if (ret) {
		wave_err("waved: cannot start: %s", strerror(-ret));
		teardown(&w);
		return 1;
	}
	wave_info("waved: mode %s, policy %s, fallback %s, lag threshold %.1f ms, channel %s",
		  wv_mode_name(&w), w.cfg.policy, wv_fallback_names[w.cfg.fallback],
		  (double)w.cfg.lag_threshold_ns / 1e6, w.cfg.channel ? w.cfg.channel : "none");
	loop(&w);
	teardown(&w);
	return 0;
}
