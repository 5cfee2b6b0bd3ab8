// SPDX-License-Identifier: BSD-3-Clause
/*
 * waved main: options, set-up, one epoll loop, shutdown. The loop waits on
 * the channel, the BPF ring buffer, libvirt's event fd, the status socket,
 * signals, and one periodic timer (heartbeats, deltas, the watchdog); with
 * nothing to manage the timer slows to once a second, so an idle waved
 * costs next to nothing.
 */
#include <errno.h>
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
#include "common/opt.h"
#include "common/parse.h"
#include "common/site.h"
#include "ipu-sched/sched.h"
#include "netctl/switch-client.h"
#include "waved/waved.h"

enum tag { TAG_CHAN = 1, TAG_OBS, TAG_VIRT, TAG_TIMER, TAG_SIGNAL, TAG_CTL, TAG_WATCHDOG, TAG_NET,
	   TAG_MEM, TAG_KBEAT };

static struct policy_conf policy, mem_policy, net_policy;

static int parse_static(const struct opt *o, const char *arg)
{
	struct waved_cfg *c = o->value;
	char buf[512], *name, *cls, *tids, *emu, *net = NULL, *save = NULL, *tok;
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
	if (emu && !strncmp(emu, "net=", 4))
		net = emu, emu = NULL;
	else if (emu)
		net = strtok_r(NULL, ",", &save);
	if (!name || !cls || !tids || (net && strncmp(net, "net=", 4)) || strtok_r(NULL, ",", &save))
		goto bad;
	if ((cl = vmm_class_parse(cls)) < 0)
		goto bad;
	s->cls = (enum wave_vm_class)cl;
	snprintf(s->name, sizeof(s->name), "%s", name);
	for (tok = strtok_r(tids, "+", &save); tok; tok = strtok_r(NULL, "+", &save)) {
		uint64_t v;

		if (s->nr_vcpus >= WAVE_VM_VCPU_SLOTS || wave_parse_u64("--vm TID", tok, 1, 4194304, &v))
			goto bad;
		s->vcpus[s->nr_vcpus++] = (pid_t)v;
	}
	if (emu) {
		uint64_t v;

		if (wave_parse_u64("--vm EMULATOR_TID", emu, 1, 4194304, &v))
			goto bad;
		s->emulator = (pid_t)v;
	}
	for (tok = net ? strtok_r(net + 4, "+", &save) : NULL; tok; tok = strtok_r(NULL, "+", &save)) {
		if (s->nr_taps >= WV_MAX_TAPS || !tok[0] || strlen(tok) >= sizeof(s->taps[0]))
			goto bad;
		snprintf(s->taps[s->nr_taps++], sizeof(s->taps[0]), "%s", tok);
	}
	c->nr_static++;
	return 0;
bad:
	wave_err("--vm '%s': want NAME,latency|batch,TID[+TID...][,EMULATOR_TID][,net=IF[+IF...]]",
		 arg);
	return -EINVAL;
}

static int parse_cpus(const struct opt *o, const char *arg)
{
	cpu_set_t *allowed = o->value, online;
	uint64_t mask;

	if (wave_parse_cpulist("--cpus", arg, &mask))
		return -EINVAL;
	sched_getaffinity(0, sizeof(online), &online);
	CPU_ZERO(allowed);
	for (int i = 0; i < 64; i++)
		if (mask & (1ull << i)) {
			if (!CPU_ISSET(i, &online)) {
				wave_err("--cpus: CPU %d is not online here", i);
				return -EINVAL;
			}
			CPU_SET(i, allowed);
		}
	return 0;
}

static struct waved waved_self;

static int parse_budget(const struct opt *o, const char *arg)
{
	char *end;
	unsigned long long mib;

	errno = 0;
	mib = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || mib > (1ull << 32)) {
		wave_err("--mem-budget '%s': want MiB, 0..%llu", arg, 1ull << 32);
		return -EINVAL;
	}
	*(uint64_t *)o->value = mib * 1024;
	return 0;
}

static const struct opt waved_opts[] = {
	OPT_ENUM("mode", "M", &waved_self.cfg.mode, wv_modes,
		 "where the policy runs: in wave-agent, in waved itself,\n"
		 "or nowhere (export only: Linux decides)"),
	POLICY_OPTS(&policy, "the policy waved runs in onhost mode and with --fallback local"),
	MEM_POLICY_OPTS(&mem_policy, "the memory policy waved runs there (with --mem-budget)"),
	NET_POLICY_OPTS(&net_policy, "the network policy waved runs there (VMs on wave-switch)"),
	OPT_STRING("channel", "URI", &waved_self.cfg.channel,
		   "shm:NAME or tcp://HOST:PORT (offload mode: shm:wave unless given)"),
	OPT_ENUM("fallback", "F", &waved_self.cfg.fallback, wv_fallbacks,
		 "while the agent is unhealthy: restore every baseline,\n"
		 "or run the policy on the host"),
	OPT_DURATION("lag-threshold", "MS", &waved_self.cfg.lag_threshold_ns, WAVE_NSEC_PER_MSEC,
		     WAVE_NSEC_PER_MSEC, 60 * WAVE_NSEC_PER_SEC, "agent lag that means fallback"),
	OPT_UINT("handback", "N", &waved_self.cfg.handback_n, 1, 100000,
		 "healthy heartbeats before control goes back to the agent"),
	OPT_DURATION("export-ms", "MS", &waved_self.cfg.export_ns, WAVE_NSEC_PER_MSEC, WAVE_NSEC_PER_MSEC,
		     10 * WAVE_NSEC_PER_SEC,
		     "state export period (while the kernel beats a shm: agent,\n"
		     "the agent reads the records itself at each beat instead)"),
	OPT_ENUM("kernel-watch", "W", &waved_self.cfg.kernel_watch, wv_kernel_watch_modes,
		 "an agent on this host's memory (shm:) in charge: the kernel\n"
		 "beats it every half lag threshold (of 5 ms or more) and it reads\n"
		 "the thread records itself, so waved sleeps (auto: with BPF);\n"
		 "off: waved heartbeats it and exports state every period"),
	OPT_CALLBACK("cpus", "LIST", &waved_self.cfg.allowed, parse_cpus,
		     "CPUs decisions may use (default: all online)"),
	OPT_GROUP("Safety envelope (whoever the agent is)"),
	OPT_DOUBLE("rt-max-thread", "CPUS", &waved_self.cfg.rt_max_thread, 0.01, 1,
		   "the most SCHED_DEADLINE bandwidth one thread may get\n"
		   "(SCHED_FIFO counts as a whole CPU)"),
	OPT_DOUBLE("rt-max-total", "CPUS", &waved_self.cfg.rt_max_total, 0.01, 4096,
		   "... all managed threads together (default: 3/4 of --cpus)"),
	OPT_DURATION("evict-after", "S", &waved_self.cfg.evict_ns, WAVE_NSEC_PER_SEC,
		     WAVE_NSEC_PER_SEC, 3600 * WAVE_NSEC_PER_SEC,
		     "disconnect an attached agent that stays unhealthy this long"),
	OPT_GROUP("VMs"),
	OPT_STRING("uri", "URI", &waved_self.cfg.uri, "libvirt URI (default $WAVE_URI or qemu:///system)"),
	OPT_STRING("match", "PREFIX", &waved_self.cfg.match,
		   "manage only libvirt domains whose name starts with PREFIX"),
	OPT_CALLBACK("vm", "NAME,CLASS,TID[+TID...][,EMULATOR_TID][,net=IF[+IF...]]", &waved_self.cfg,
		     parse_static,
		     "manage plain threads as a VM instead of libvirt's, with\n"
		     "the network interfaces that carry its traffic\n"
		     "(repeatable; for tests and demos without VMs)"),
	OPT_BOOL("libvirt", 0, &waved_self.cfg.libvirt_too, "with --vm: manage libvirt's VMs too"),
	OPT_GROUP("Observation"),
	OPT_ENUM("observe", "B", &waved_self.cfg.obs, obs_backends, "how threads are observed (auto: BPF, else /proc)"),
	OPT_ENUM("wake-events", "W", &waved_self.cfg.wake_events, wv_wake_modes,
		 "which wakeups are pushed at once (BPF): those the policy\n"
		 "in charge subscribes to, or none (periodic exports only)"),
	OPT_DURATION("wake-min-idle-us", "US", &waved_self.cfg.wake_min_idle_ns, WAVE_NSEC_PER_USEC, 0,
		     10 * WAVE_NSEC_PER_SEC, "... only after sleeping at least this long"),
	OPT_STRING("switch-ctl", "PATH", &waved_self.cfg.switch_ctl,
		   "wave-switch's control socket: VMs on the switch are counted there\n"
		   "(default $WAVE_SWITCH_CTL or RUNDIR/switch.sock; 'none': not read)"),
	OPT_ENUM("net-observe", "B", &waved_self.cfg.net_obs, netobs_backends,
		 "how the VMs' traffic is counted on their taps (auto: BPF,\n"
		 "else the interfaces' statistics; none: not at all)"),
	OPT_DURATION("net-quiet-us", "US", &waved_self.cfg.net_quiet_ns, WAVE_NSEC_PER_USEC, 10000,
		     10 * WAVE_NSEC_PER_SEC,
		     "a packet arriving after this long without one is an event\n"
		     "(only for a policy that asks: WAKE_SUB)"),
	OPT_BOOL("net-fire", 0, &waved_self.cfg.net_fire,
		 "an arrival event fires what is prestaged on the VM's threads\n"
		 "at once, before its vCPU wakes (default: at the wakeup)"),
	OPT_GROUP("Memory"),
	OPT_UINT("mem-period", "MS", &waved_self.cfg.mem_period_ms, 0, 60000,
		 "read the guests' memory (balloon statistics) this often;\n"
		 "the guests report at this period too (0: not at all)"),
	OPT_CALLBACK("mem-budget", "MIB", &waved_self.cfg.mem_budget_kib, parse_budget,
		     "the guests' balloon targets add up to at most this;\n"
		     "0 (default): targets are refused, memory only observed"),
	OPT_GROUP("Channel security"),
	CHAN_TLS_OPTS(&waved_self.cfg.chan_opts),
	CHAN_AGENT_USER_OPT(&waved_self.cfg.chan_opts),
	OPT_GROUP("Other"),
	OPT_STRING("rundir", "DIR", &waved_self.cfg.rundir, "status socket and journal ($WAVE_RUNDIR)"),
	CHAN_LINK_OPTS(&waved_self.cfg.chan_opts),
	OPT_VERBOSE(),
	OPT_END(),
};

static const struct opt_cmd waved_cmd = {
	.usage = "waved [OPTIONS]",
	.about = "The Wave-VM host daemon: observes the vCPU and emulator threads of the VMs on\n"
		 "this host, exports their state to wave-agent over the channel, applies the\n"
		 "agent's decisions, and falls back to an on-host policy when the agent lags.\n",
	.opts = waved_opts,
	.extra = policy_conf_help,
};

/* Returns 0 to run, 1 after --help, -EINVAL on a bad option. */
static int parse(int argc, char **argv, struct waved_cfg *c)
{
	int ret = opt_parse(&waved_cmd, argc, argv, NULL);

	if (ret)
		return ret;
	c->use_libvirt = !c->nr_static || c->libvirt_too;
	if (!c->rt_max_total)
		c->rt_max_total = 0.75 * CPU_COUNT(&c->allowed);
	if (!c->channel && c->mode == WAVED_OFFLOAD)
		c->channel = "shm:wave";
	if (c->switch_ctl && !strcmp(c->switch_ctl, "none"))
		c->switch_ctl = NULL;
	else if (!c->switch_ctl) {
		static char ctl[512];

		swc_path(ctl, sizeof(ctl), c->rundir);
		c->switch_ctl = ctl;
	}
	/*
	 * Heartbeats ride on the export tick, at least once per threshold. The
	 * tick reads the echoes of the last period before it sends the next
	 * heartbeat; a heartbeat left unanswered past its deadline is seen at
	 * the next tick or by the watchdog timer, whichever comes first, so a
	 * dead agent is seen within 2x the threshold with one wakeup a period.
	 */
	c->hb_period_ns = c->export_ns < c->lag_threshold_ns ? c->export_ns : c->lag_threshold_ns;
	return 0;
}

static void defaults(struct waved_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->mode = WAVED_OFFLOAD;
	c->fallback = WAVED_FB_CFS;
	policy_conf_init(&policy, "latency");
	policy_conf_init_as(&mem_policy, POLICY_MEM, "none");
	policy_conf_init_as(&net_policy, POLICY_NET, "none");
	c->policy = &policy;
	c->mem_policy = &mem_policy;
	c->net_policy = &net_policy;
	c->rundir = site_rundir();
	c->lag_threshold_ns = 10 * WAVE_NSEC_PER_MSEC;
	c->handback_n = 20;
	c->export_ns = 10 * WAVE_NSEC_PER_MSEC;
	c->wake_events = WV_WAKE_POLICY;
	c->wake_min_idle_ns = WAVE_NSEC_PER_MSEC;
	c->net_quiet_ns = WAVE_NSEC_PER_MSEC;
	c->rt_max_thread = 0.8;
	c->evict_ns = 10 * WAVE_NSEC_PER_SEC;
	sched_getaffinity(0, sizeof(c->allowed), &c->allowed);
	chan_opts_init(&c->chan_opts, CHAN_HOST);
	c->chan_opts.label = "waved";
	/* We apply prestaged transactions, take wakeup subscriptions, count VM traffic, set rates. */
	c->chan_opts.features = WAVE_FEAT_PRESTAGE | WAVE_FEAT_WAKE_SUB | WAVE_FEAT_NET |
				WAVE_FEAT_MEM | WAVE_FEAT_NETCTL;
	c->mem_period_ms = 1000;
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

/*
 * The periodic timer: fast while there is work, once a second otherwise.
 * With no VM there is nothing to export or protect: an attached agent in
 * charge is heartbeaten once a second (a wakeup or two a second instead of
 * a hundred); one that waits for a hand-back is timed at the usual pace,
 * so that it is in charge when the first VM comes.
 */
static void arm_timer(struct waved *w)
{
	uint64_t period = w->cfg.hb_period_ns;
	int handing_back = w->ch && chan_is_up(w->ch) && wv_awaits_handback(w);

	if (!any_vm(w) && !handing_back)
		period = WAVE_NSEC_PER_SEC;
	else if (w->kw_on && !w->out_n)
		period = WV_KWATCH_TICK_NS; /* the kernel beats the agent; the host CPUs' pace */
	if (period == w->tick_ns)
		return;
	w->tick_ns = period;
	wave_timerfd_every(w->tfd, period);
}

static void on_chan(struct waved *w)
{
	struct wave_msg m[64];
	int n;

	chan_process(w->ch);
	if (chan_is_up(w->ch) != w->wd.peer_up)
		wd_peer(&w->wd, chan_is_up(w->ch));
	if (w->kw_on && !chan_is_up(w->ch))
		wv_kwatch_stop(w); /* the check below falls back: the agent is gone */
	while ((n = chan_recv(w->ch, m, 64)) > 0) {
		for (int i = 0; i < n; i++) {
			switch (m[i].h.type) {
			case WAVE_MSG_HELLO:
				wave_log_rl(WAVE_LOG_INFO, "waved: agent attached (generation %llu)",
					    (unsigned long long)chan_generation(w->ch));
				wd_peer(&w->wd, 1);
				/* Nothing half-sent by a previous agent becomes this one's. */
				txn_asm_reset(&w->txa);
				/*
				 * Nor what was queued for it: the new one gets a snapshot
				 * (now, or at the hand-back), and may not read every type
				 * the old one did (NET_STATE, pins: wv_emit checks those
				 * when they are queued).
				 */
				w->out_n = 0;
				/* Not offloading: nothing to hand back; the state goes out now. */
				if (w->cfg.mode != WAVED_OFFLOAD)
					wv_snapshot(w);
				break;
			case WAVE_MSG_HEARTBEAT_ECHO:
				wd_echo(&w->wd, m[i].p.hb.hb_seq, m[i].p.hb.t_host_ns,
					m[i].p.hb.hold_ns, !!(m[i].p.hb.flags & WAVE_HB_PROMPT),
					wave_now_ns());
				break;
			case WAVE_MSG_TXN:
				wv_on_txn(w, &m[i].p.txn, 0);
				break;
			case WAVE_MSG_WAKE_SUB:
				wv_on_wake_sub(w, &m[i].p.wake, WV_SUB_AGENT);
				break;
			case WAVE_MSG_RESYNC_REQ:
				wv_on_resync(w);
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
	wv_kwatch_check(w);
	wv_fallback_check(w);
	if (!w->kw_on && due(w->now, &w->next_hb, w->cfg.hb_period_ns))
		wv_heartbeat(w);
	if (due(w->now, &w->next_cpu, 100 * WAVE_NSEC_PER_MSEC)) {
		wv_export_cpus(w);
		wv_export_net(w, 0);
	}
	if (due(w->now, &w->next_export, w->kw_on ? WV_KWATCH_TICK_NS : w->cfg.export_ns)) {
		/* The agent reads the records itself: only what they do not say. */
		wv_export_deltas(w, w->kw_on ? WV_EXPORT_IDENTITY : WV_EXPORT_CHANGED);
		if (wv_runs_policy(w))
			wv_local_decide(w);
	}
	if (due(w->now, &w->next_rate, WAVE_NSEC_PER_SEC)) {
		wv_update_rates(w);
		wv_net_rates(w);
	}
	wv_dl_repair_owed(w);
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

/* A sleep ended by the n events in ev: counted, and each cause. */
static void count_wakeup(struct waved *w, const struct epoll_event *ev, int n)
{
	struct waved_stats *st = &w->st;
	int status_only = 1;

	st->wakeups++;
	for (int i = 0; i < n; i++) {
		status_only &= ev[i].data.u32 == TAG_CTL;
		switch (ev[i].data.u32) {
		case TAG_TIMER: st->wakeups_tick++; break;
		case TAG_CHAN: st->wakeups_doorbell++; break;
		case TAG_WATCHDOG: st->wakeups_watchdog++; break;
		case TAG_KBEAT: st->wakeups_kbeat++; break; /* only a stall rings it */
		case TAG_MEM: st->wakeups_mem++; break;
		case TAG_OBS: st->wakeups_obs++; break;
		case TAG_NET: st->wakeups_net++; break;
		default: st->wakeups_other++; break;
		}
	}
	st->wakeups_status += (uint64_t)status_only;
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
		else if (n > 0)
			count_wakeup(w, ev, n);
		for (int i = 0; i < n; i++) {
			switch (ev[i].data.u32) {
			case TAG_CHAN: on_chan(w); break;
			case TAG_OBS: obs_poll(w->obs, wv_on_wake_event, w); wv_flush(w); break;
			case TAG_NET: netobs_poll(w->net, wv_on_net_event, w); wv_flush(w); break;
			case TAG_MEM: wv_mem_poll(w); wv_flush(w); break;
			case TAG_VIRT:
				wv_vm_source_event(w);
				arm_timer(w);
				wv_fallback_arm(w); /* a slower tick may now come after the deadline */
				break;
			case TAG_TIMER: on_tick(w); break;
			case TAG_SIGNAL: on_signal(w); break;
			case TAG_CTL: wv_ctl_accept(w); break;
			case TAG_KBEAT:
				wv_kwatch_event(w);
				wv_flush(w);
				arm_timer(w);
				wv_fallback_arm(w);
				break;
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
	/* It decides right here: nothing to prestage; wakeups and traffic as waved has them. */
	const struct policy_env env = { .prestage = 0, .wake_sub = 1, .net = 1, .mem = 1,
					.netctl = !!w->cfg.switch_ctl };
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
	w->mech = &mech_linux_ops;
	wv_apply_init(w);
	w->epoch = 1;
	if (w->cfg.mode == WAVED_ONHOST ||
	    (w->cfg.mode == WAVED_OFFLOAD && w->cfg.fallback == WAVED_FB_LOCAL)) {
		w->local = calloc(1, sizeof(*w->local));
		if (!w->local || sched_init(w->local, w->cfg.policy, &env))
			return -ENOMEM;
		if (w->cfg.mem_policy->ops != &mm_none_ops && sched_add(w->local, w->cfg.mem_policy))
			return -ENOMEM;
		if (w->cfg.net_policy->ops != &net_none_ops && sched_add(w->local, w->cfg.net_policy))
			return -ENOMEM;
	}
	if ((ret = wv_ctl_open(w)))
		return ret;
	wv_kwatch_load(w);
	if ((ret = wv_vms_init(w)))
		return ret;
	wv_kwatch_setup(w);
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
	if (w->net && netobs_fd(w->net) >= 0 && ep_add(w, netobs_fd(w->net), TAG_NET))
		return -errno;
	if (w->conn && ep_add(w, vmm_conn_fd(w->conn), TAG_VIRT))
		return -errno;
	if (w->mm && ep_add(w, mm_fd(w->mm), TAG_MEM))
		return -errno;
	if (wv_kwatch_fd(w) >= 0 && ep_add(w, wv_kwatch_fd(w), TAG_KBEAT))
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
	wv_kwatch_fini(w);
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
	int ret;

	wave_log_init("waved", WAVE_LOG_INFO);
	defaults(&waved_self.cfg);
	waved_self.ctl_fd = -1;
	ret = parse(argc, argv, &waved_self.cfg);
	if (ret)
		return ret > 0 ? 0 : 2;
	ret = setup(&waved_self);
	if (ret) {
		wave_err("waved: cannot start: %s", strerror(-ret));
		teardown(&waved_self);
		return 1;
	}
	wave_info("waved: mode %s, policy %s, fallback %s, lag threshold %.1f ms, channel %s",
		  wave_name_of(wv_modes, waved_self.cfg.mode), waved_self.cfg.policy->ops->name,
		  wave_name_of(wv_fallbacks, waved_self.cfg.fallback),
		  (double)waved_self.cfg.lag_threshold_ns / 1e6,
		  waved_self.cfg.channel ? waved_self.cfg.channel : "none");
	loop(&waved_self);
	teardown(&waved_self);
	return 0;
}
