// SPDX-License-Identifier: BSD-3-Clause
/*
 * wavectl bench net: does network control by policy protect a latency
 * VM's traffic from a flooding neighbour, and leave the neighbour its
 * fair share? Three real VMs share the host's uplink: a latency VM (UDP
 * echo, images/xml/latency-echo.xml), a noisy VM (blast: UDP towards a
 * sink beyond the uplink, images/xml/blast.xml) and a batch VM that spins
 * (batch-spin.xml).
 *
 * The uplink is the same in every mode: a veth from the guests' bridge
 * into a network namespace of its own ("the network"), where the echo
 * client and the sink live, shaped to the link rate (tbf, default 100
 * Mbit/s, 20 ms of queue: a switch port's buffer). So the bottleneck is
 * a link, as on a real host, and not only this machine's CPU.
 *
 * Modes (each VM group launched once: bridge and tc on the kernel bridge,
 * the rest on wave-switch):
 *   bridge   kernel bridge, no limits: Linux alone
 *   tc       kernel bridge, a static limit on the noisy VM (htb class on
 *            the uplink, matched by its address: half the link by default;
 *            this kernel lacks the police action, so not on its tap)
 *   switch   wave-switch, no policy
 *   offload  the network policy (share) in wave-agent, waved applying it
 *   onhost   the same policy inside waved
 * The scheduling policy is cfs in every mode unless --policy names
 * another for offload and onhost: by default only the network differs.
 * wave-switch stands for IPU cores: like waved and the agent its
 * forwarding thread runs at SCHED_FIFO (BE_DAEMON_PRIO), so the guests'
 * vCPUs (TCG threads that spin) do not delay its reads by milliseconds.
 * Phases, after an idle spell (nothing to forward: the switch's idle CPU):
 *   steady   echo at --rate requests/s, the noisy VM quiet
 *   flood    the noisy VM sends flat out
 *   burst    the flood goes on and the echo rate steps up to --burst-rate
 *            (3x: a step the latency guest can serve here; at 5x, 1,000
 *            requests/s, one TCG vCPU is saturated in every mode and the
 *            phase measures this host's CPU, not the network)
 * Measured per phase: the echo's round trips (p50, p99) and replies lost,
 * the flood reaching the sink (Mbit/s of frames, packets/s) and its share
 * of what the link leaves once the echo replies are carried, and the CPU
 * of wave-switch, waved and wave-agent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/bench-net.h"
#include "bench/bench.h"
#include "bench/sched-client.h"
#include "bench/vmenv.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/spawn.h"
#include "images/guest/guest.h"
#include "ipu-sched/policy.h"
#include "netctl/switch-client.h"

#define ECHO_PORT   7777
#define SINK_PORT   9999
#define CLIENT_PRIO 50
#define NET_IP      "10.77.0.254"  /* the network beyond the uplink */
#define FRAME_EXTRA 42             /* Ethernet, IPv4 and UDP headers around a payload */
#define IDLE_S      3
#define MAX_RTT     (1u << 20)

const char *const bn_mode_names[BN_NR_MODES] = { "bridge", "tc", "switch", "offload", "onhost" };
const char *const bn_phase_names[BN_NR_PHASES] = { "steady", "flood", "burst" };

enum { VM_LAT = 0, VM_NOISY, VM_BATCH, NR_VMS };

struct bn_cfg {
	int quick, json;
	const char *report, *policy;
	unsigned int runs, phase_s, link_mbit, tc_mbit, rate, burst_rate, modes;
};

static struct bench_env env;
static struct bn_results res;
static struct sc_client cl;
static int cl_on, uplink_on, switch_on;
static char netns[32], veth[16], veth_in[16];
static pid_t waved, agent;
static volatile sig_atomic_t interrupted;
static uint64_t rtt[MAX_RTT];

static struct {
	int fd;
	pthread_t thr;
	int on;
	atomic_uint_fast64_t bytes, pkts;
} sink;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

#define progress(c, ...) bench_say((c)->json, "bench net", __VA_ARGS__)

static int pause_s(double s)
{
	return bench_pause(s, &interrupted);
}

/* Runs a shell command line built here (names and numbers only); 0 or -EIO. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0) {
		wave_err("bench net: failed: %s", cmd);
		return -EIO;
	}
	return 0;
}

/* The uplink's queue: tbf at the link rate (every mode but tc). */
static int uplink_tbf(const struct bn_cfg *c)
{
	return sh("tc qdisc replace dev %s root tbf rate %umbit burst 32k latency 20ms", veth,
		  c->link_mbit);
}

/* tc mode: the link split by htb, the noisy VM's class held at tc_mbit (rate = ceil). */
static int uplink_htb(const struct bn_cfg *c)
{
	return sh("tc qdisc del dev %s root 2>/dev/null; "
		  "tc qdisc add dev %s root handle 1: htb default 20 && "
		  "tc class add dev %s parent 1: classid 1:1 htb rate %umbit ceil %umbit quantum 1514 && "
		  "tc class add dev %s parent 1:1 classid 1:10 htb rate %umbit ceil %umbit quantum 1514 && "
		  "tc class add dev %s parent 1:1 classid 1:20 htb rate %umbit ceil %umbit quantum 1514 && "
		  "tc filter add dev %s parent 1: protocol ip prio 1 u32 match ip src %s/32 flowid 1:10",
		  veth, veth, veth, c->link_mbit, c->link_mbit, veth, c->tc_mbit, c->tc_mbit, veth,
		  c->link_mbit - c->tc_mbit, c->link_mbit, veth, env.vm[VM_NOISY].ip);
}

static int uplink_up(const struct bn_cfg *c)
{
	snprintf(netns, sizeof(netns), "wave-bench-net-%d", (int)getpid());
	snprintf(veth, sizeof(veth), "wbu%d", (int)getpid() % 1000000);
	snprintf(veth_in, sizeof(veth_in), "wbn%d", (int)getpid() % 1000000);
	uplink_on = 1;
	return sh("ip netns add %s && ip link add %s type veth peer name %s netns %s && "
		  "ip link set %s master %s up && ip -n %s addr add %s/24 dev %s && "
		  "ip -n %s link set %s up && ip -n %s link set lo up",
		  netns, veth, veth_in, netns, veth, getenv("WAVE_BRIDGE") ?: "wavebr0", netns, NET_IP, veth_in, netns, veth_in, netns) ?:
	       uplink_tbf(c);
}

static void uplink_down(void)
{
	if (!uplink_on)
		return;
	sh("ip link del %s 2>/dev/null; ip netns del %s", veth, netns);
	uplink_on = 0;
}

/* Runs fn inside the uplink's namespace (sockets made there stay there). */
static int in_net(int (*fn)(void))
{
	char path[64];
	int back = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), fd, ret;

	snprintf(path, sizeof(path), "/var/run/netns/%s", netns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (back < 0 || fd < 0 || setns(fd, CLONE_NEWNET)) {
		ret = -errno;
		wave_err("bench net: cannot enter %s: %s", netns, strerror(errno));
	} else {
		ret = fn();
		if (setns(back, CLONE_NEWNET))
			abort(); /* the bench's thread stuck in the wrong namespace: nothing is right after */
	}
	if (fd >= 0)
		close(fd);
	if (back >= 0)
		close(back);
	return ret;
}

static void *sink_run(void *arg)
{
	char buf[2048];

	(void)arg;
	while (sink.on) {
		ssize_t n = recv(sink.fd, buf, sizeof(buf), 0);

		if (n > 0) {
			atomic_fetch_add(&sink.bytes, (uint64_t)n + FRAME_EXTRA);
			atomic_fetch_add(&sink.pkts, 1);
		}
	}
	return NULL;
}

static int sink_open(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(SINK_PORT) };
	struct timeval tv = { .tv_usec = 100000 };
	int big = 4 << 20;

	if ((sink.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	setsockopt(sink.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(sink.fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	return bind(sink.fd, (struct sockaddr *)&a, sizeof(a)) ? -errno : 0;
}

static int client_open(void)
{
	int ret = sc_client_start(&cl, env.vm[VM_LAT].ip, ECHO_PORT, CLIENT_PRIO);

	cl_on = !ret;
	return ret;
}

static int sink_start(void)
{
	int ret = in_net(sink_open);

	if (ret)
		return ret;
	sink.on = 1;
	if ((ret = -pthread_create(&sink.thr, NULL, sink_run, NULL)))
		sink.on = 0;
	return ret;
}

static void sink_stop(void)
{
	if (sink.on) {
		sink.on = 0;
		pthread_join(sink.thr, NULL);
	}
	if (sink.fd > 0)
		close(sink.fd);
	sink.fd = -1;
}

/* The noisy VM's rate (Mbit/s; 0 quiet, BLAST_FLAT_OUT). Its answer may wait behind its own flood. */
static int blast(uint32_t mbit)
{
	int ret = bench_guest_cmd(env.vm[VM_NOISY].ip, ECHO_PORT, BLAST_MAGIC, mbit, 20, 500);

	if (ret)
		wave_err("bench net: the blast guest does not acknowledge rate %u", mbit);
	return ret;
}

/*
 * The group before had the same addresses on other MACs (libvirt makes a
 * new one per domain): the host and the network namespace forget what
 * they knew of them, or they would send to the old guests until their
 * ARP entries go stale, tens of seconds.
 */
static int forget_old_neighbours(void)
{
	int ret = 0;

	for (unsigned int k = 0; k < env.nr_vms && !ret; k++)
		ret = sh("ip neigh flush to %s; ip -n %s neigh flush to %s", env.vm[k].ip, netns,
			 env.vm[k].ip);
	return ret;
}

/* Launches the three VMs, on the switch or on the bridge, and waits for them. */
static int launch_group(const struct bn_cfg *c, int on_switch)
{
	static const char *const xml[NR_VMS] = { "latency-echo.xml", "blast.xml", "batch-spin.xml" };
	static const char *const tag[NR_VMS] = { "lat", "noisy", "batch" };
	int ret;

	progress(c, "launching the latency, noisy and batch VMs %s",
		 on_switch ? "on wave-switch" : "on the kernel bridge");
	for (unsigned int k = 0; k < NR_VMS; k++) {
		char name[16];

		snprintf(name, sizeof(name), "%s%s", tag[k], on_switch ? "" : "-br");
		/* blast's sink is in the network beyond the uplink */
		if (k == VM_NOISY)
			setenv("WAVE_HOST_IP", NET_IP, 1);
		ret = be_launch(&env, xml[k], name, c->json);
		unsetenv("WAVE_HOST_IP");
		if (ret < 0)
			return ret;
		if ((unsigned int)ret != env.nr_vms - 1 || env.nr_vms != k + 1)
			return -EINVAL;
	}
	snprintf(res.accel, sizeof(res.accel), "%s", env.vm[0].accel);
	for (int i = 0; i < 1800 && !interrupted; i++) {
		unsigned int up = 0;

		for (unsigned int k = 0; k < NR_VMS; k++)
			up += be_console_has(&env, k, "WAVE-READY");
		if (up == NR_VMS)
			return forget_old_neighbours();
		usleep(100000);
	}
	wave_err("bench net: the guests did not come up");
	return interrupted ? -EINTR : -ETIMEDOUT;
}

static int mode_start(const struct bn_cfg *c, enum bn_mode m)
{
	char link[32], ctl[128];
	char *pol = (char *)c->policy;
	char *offload[] = { "--mode", "offload", "--policy", pol, "--match", env.prefix,
			    "--rundir", env.rundir, "--channel", env.chan, "--switch-ctl", ctl, NULL };
	char *ag[] = { "--channel", env.chan, "--policy", pol, "--net-policy", "share",
		       "--net-policy-opt", link, "--report-s", "0", "--reserve", BE_AGENT_RESERVE, NULL };
	char *onhost[] = { "--mode", "onhost", "--policy", pol, "--net-policy", "share",
			   "--net-policy-opt", link, "--match", env.prefix, "--rundir", env.rundir,
			   "--switch-ctl", ctl, NULL };

	snprintf(link, sizeof(link), "link=%u", c->link_mbit);
	swc_path(ctl, sizeof(ctl), env.rundir);
	switch (m) {
	case BN_BRIDGE:
	case BN_SWITCH:
		return 0;
	case BN_TC:
		return uplink_htb(c);
	case BN_OFFLOAD:
		waved = be_daemon(&env, "waved", offload);
		agent = be_daemon(&env, "wave-agent", ag);
		return be_wait_state(&env, "offload", 15000);
	case BN_ONHOST:
		waved = be_daemon(&env, "waved", onhost);
		return be_wait_state(&env, "onhost", 10000);
	default:
		return -EINVAL;
	}
}

/* Stops the mode's daemons and puts back what a mode changed (the uplink, every pace). */
static int mode_stop(const struct bn_cfg *c, enum bn_mode m)
{
	char reply[128], ctl[128];

	wave_reap(&agent, 3000);
	wave_reap(&waved, 5000);
	if (m == BN_TC)
		return uplink_tbf(c);
	if (m == BN_OFFLOAD || m == BN_ONHOST) {
		swc_path(ctl, sizeof(ctl), env.rundir);
		for (unsigned int k = 0; k < env.nr_vms; k++)
			swc_rate(ctl, env.vm[k].name, "from", 0, 0, reply, sizeof(reply),
				 SWC_TIMEOUT_MS);
	}
	return 0;
}

/* The switch this run started, or 0 (none up: its CPU counts as nothing). */
static pid_t switch_pid(void)
{
	char path[160], buf[32] = "";
	FILE *f;

	if (!switch_on)
		return 0;
	snprintf(path, sizeof(path), "%s/switch.pid", env.rundir);
	if ((f = fopen(path, "r"))) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
	}
	return (pid_t)atoi(buf);
}

/*
 * wave-switch stands for IPU cores, like the agent: its forwarding thread
 * (the main one) at SCHED_FIFO BE_DAEMON_PRIO, as be_daemon() starts the
 * daemons. Only once the VMs' ports exist, and not DPDK's own threads
 * (vhost-user messages, interrupts): DPDK waits for a control thread it
 * creates (the first vhost port makes one) by spinning, and a new thread
 * inherits its creator's priority and CPU, so a spinner at FIFO would
 * never let it run (it would, after seconds, through RT throttling only).
 * 0 or -errno.
 */
static int switch_fifo(void)
{
	struct sched_param sp = { .sched_priority = atoi(BE_DAEMON_PRIO) };
	pid_t pid = switch_pid();

	return pid > 0 && !sched_setscheduler(pid, SCHED_FIFO, &sp) ? 0 : -ESRCH;
}

static double pct(uint64_t ns, uint64_t t0, uint64_t t1)
{
	return t1 > t0 ? 100.0 * (double)ns / (double)(t1 - t0) : 0;
}

static int measure_phase(const struct bn_cfg *c, enum bn_phase ph, struct bn_phase_result *out)
{
	pid_t sw = switch_pid();
	uint64_t s0, w0, a0, b0, p0, t0, t1, q0, q1, lost = 0;
	unsigned int n;
	double secs, lat_mbit;
	int ret;

	sc_set_load(&cl, ph == BN_BURST ? c->burst_rate : c->rate, 0);
	if ((ret = blast(ph == BN_STEADY ? 0 : BLAST_FLAT_OUT)) || (ret = pause_s(1)))
		return ret; /* settle: the first second of a change is not the phase */
	q0 = sc_sent(&cl);
	s0 = bench_proc_cpu_ns(sw);
	w0 = bench_proc_cpu_ns(waved);
	a0 = bench_proc_cpu_ns(agent);
	b0 = atomic_load(&sink.bytes);
	p0 = atomic_load(&sink.pkts);
	t0 = wave_now_ns();
	ret = pause_s(c->phase_s);
	t1 = wave_now_ns();
	q1 = sc_sent(&cl);
	secs = (double)(t1 - t0) / 1e9;
	bench_range_add(&out->noisy_mbit, (double)(atomic_load(&sink.bytes) - b0) * 8 / 1e6 / secs);
	out->pps_sum += (double)(atomic_load(&sink.pkts) - p0) / secs;
	out->switch_pct_sum += pct(bench_proc_cpu_ns(sw) - s0, t0, t1);
	out->waved_pct_sum += pct(bench_proc_cpu_ns(waved) - w0, t0, t1);
	out->agent_pct_sum += pct(bench_proc_cpu_ns(agent) - a0, t0, t1);
	pause_s(0.5); /* late replies still count */
	n = sc_collect(&cl, q0, q1, rtt, MAX_RTT, &lost);
	out->lost_sum += (double)lost;
	out->sent_sum += (double)(q1 - q0);
	/* What the link carries for the latency VM: its replies (echo_msg in a frame). */
	lat_mbit = (double)n * (sizeof(struct echo_msg) + FRAME_EXTRA) * 8 / 1e6 / secs;
	out->lat_mbit_sum += lat_mbit;
	bench_range_add(&out->p50_us, n ? (double)bench_percentile(rtt, n, 0.5) / 1e3 : 0);
	/* Every request lost: its p99 is at least the phase (never 0, which would look best). */
	bench_range_add(&out->p99_us, n ? (double)bench_percentile(rtt, n, 0.99) / 1e3 :
				      (q1 > q0 ? secs * 1e6 : 0));
	bench_range_add(&out->share_pct, 100.0 * out->noisy_mbit.v[out->noisy_mbit.n - 1] /
						  ((double)c->link_mbit - lat_mbit));
	out->reps++;
	return ret;
}

static int run_mode(const struct bn_cfg *c, enum bn_mode m, unsigned int run)
{
	int ret, stop;

	progress(c, "run %u/%u: mode %s", run + 1, c->runs, bn_mode_names[m]);
	if (!(ret = mode_start(c, m)))
		for (int ph = 0; !ret && ph < BN_NR_PHASES; ph++) {
			progress(c, "  %s (%u s)", bn_phase_names[ph], c->phase_s);
			ret = measure_phase(c, (enum bn_phase)ph, &res.r[m][ph]);
		}
	sc_set_load(&cl, 0, 0);
	blast(0);
	stop = mode_stop(c, m);
	return ret ? ret : stop;
}

/* The switch with nothing to forward: its CPU over IDLE_S. */
static int measure_idle(void)
{
	pid_t sw = switch_pid();
	uint64_t s0 = bench_proc_cpu_ns(sw), t0 = wave_now_ns();
	int ret = pause_s(IDLE_S);

	bench_range_add(&res.switch_idle_pct, pct(bench_proc_cpu_ns(sw) - s0, t0, wave_now_ns()));
	return ret;
}

/* Stops the switch this run started and removes what it left in the run directory. */
static void switch_down(void)
{
	static const char *const left[] = { SWC_LOG, SWC_PID, SWC_SOCK, NULL };
	char path[PATH_MAX];

	if (!switch_on)
		return;
	be_wavectl(&env, "net", "down", NULL, NULL, 1);
	for (const char *const *f = left; *f; f++) {
		snprintf(path, sizeof(path), "%s/%s", env.rundir, *f);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/%s", env.rundir, SWC_VHOSTDIR);
	rmdir(path);
	switch_on = 0;
}

/* Runs the modes of one group (on the switch or not) once, VMs launched for it. */
static int run_group(const struct bn_cfg *c, int on_switch, unsigned int run)
{
	int ret;

	if (on_switch) {
		/* QEMU (not root) reaches its vhost-user socket through the run directory. */
		if (chmod(env.rundir, 0711))
			return -errno;
		switch_on = 1; /* before: 'net up' may start the switch and fail after */
		if ((ret = be_wavectl(&env, "net", "up", NULL, NULL, 1)))
			return ret < 0 ? ret : -EIO;
	}
	if ((ret = launch_group(c, on_switch)) || (ret = in_net(client_open)) ||
	    (on_switch && (ret = switch_fifo())))
		goto out;
	if (on_switch && (ret = measure_idle()))
		goto out;
	for (int m = on_switch ? BN_SWITCH : BN_BRIDGE; !ret && m < (on_switch ? BN_NR_MODES : BN_SWITCH); m++)
		if (c->modes & (1u << m))
			ret = interrupted ? -EINTR : run_mode(c, (enum bn_mode)m, run);
out:
	if (cl_on)
		sc_client_stop(&cl);
	cl_on = 0;
	be_stop_vms(&env);
	switch_down(); /* the bridge group must not pay for an idle switch on its bridge */
	return ret;
}

static int parse_modes(const struct opt *o, const char *arg)
{
	return bench_parse_names("--modes", arg, bn_mode_names, BN_NR_MODES,
				 &((struct bn_cfg *)o->value)->modes);
}

static struct bn_cfg opt_cfg;

static const struct opt net_opts[] = {
	OPT_BOOL("quick", 0, &opt_cfg.quick, "one run, 8 s phases (about 5 minutes)"),
	OPT_BOOL("json", 0, &opt_cfg.json,
		 "one JSON object: {\"params\", \"switch_idle_cpu_pct\", \"modes\": {MODE:\n"
		 "{PHASE: {lat_us_p50, lat_us_p99, lost, sent, noisy_mbit_s, noisy_pps,\n"
		 "noisy_share_pct, switch_cpu_pct, waved_cpu_pct, agent_cpu_pct}}},\n"
		 "\"goals\": [...]}"),
	OPT_STRING("report", "DIR", &opt_cfg.report,
		   "also write DIR/report.md and DIR/latency.png (p99 per mode and phase)"),
	OPT_UINT("runs", "N", &opt_cfg.runs, 0, 20, "runs of every mode (0: 1)"),
	OPT_UINT("phase-s", "S", &opt_cfg.phase_s, 0, 600, "seconds per phase (0: 20, or 8 with --quick)"),
	OPT_UINT("link", "MBIT", &opt_cfg.link_mbit, 0, 10000, "the uplink's rate (0: 100)"),
	OPT_UINT("tc-limit", "MBIT", &opt_cfg.tc_mbit, 0, 10000,
		 "tc mode's static limit on the noisy VM (0: half the link)"),
	OPT_UINT("rate", "N", &opt_cfg.rate, 0, 100000, "echo requests/s in steady and flood (0: 200)"),
	OPT_UINT("burst-rate", "N", &opt_cfg.burst_rate, 0, 100000, "... in burst (0: 3x --rate)"),
	{ .kind = OPT_KIND_CALLBACK, .name = "modes", .argh = "LIST", .value = &opt_cfg,
	  .cb = parse_modes, .help = "run only these modes (bridge, tc, switch, offload, onhost)" },
	OPT_STRING("policy", "P", &opt_cfg.policy,
		   "the scheduling policy beside the network policy in offload and\n"
		   "onhost (default cfs: only the network differs between modes;\n"
		   "latency: the product's whole composition)"),
	OPT_END(),
};

static const struct opt_cmd net_cmd = {
	.name = "bench net",
	.usage = "wavectl bench net [--quick] [--json] [--report DIR] [--runs N] [OPTIONS]",
	.about = "A latency VM (UDP echo), a noisy VM (UDP flood) and a batch VM (spins) share\n"
		 "an uplink (a veth into a namespace of its own, shaped to --link Mbit/s) where\n"
		 "the echo client and the flood's sink live. Phases: steady (no flood), flood,\n"
		 "burst (flood, and the echo rate steps up). Modes: bridge (Linux alone), tc (a\n"
		 "static limit on the noisy VM), switch (wave-switch, no policy), offload (the\n"
		 "network policy in wave-agent), onhost (in waved). Reports the echo's p50/p99\n"
		 "and losses, the flood's rate and its share of what the link leaves, and the\n"
		 "CPU of wave-switch, waved and wave-agent; the goals as ratios within each run.\n"
		 "Needs root; starts and removes its VMs, the switch and the namespace.\n",
	.opts = net_opts,
};

static int run_all(const struct bn_cfg *c)
{
	unsigned int bridge_modes = (1u << BN_BRIDGE) | (1u << BN_TC);
	int ret;

	progress(c, "starting libvirtd (if needed), the bridge and the uplink");
	if ((ret = be_setup(&env, "bench net", "net", c->json)) || (ret = uplink_up(c)) ||
	    (ret = sink_start()))
		return ret;
	for (unsigned int run = 0; !ret && run < c->runs; run++) {
		/* The bridge group first in even runs, the switch group first in odd ones. */
		for (int g = 0; !ret && g < 2; g++) {
			int on_switch = (g + (int)run) % 2;

			if (c->modes & (on_switch ? ~bridge_modes : bridge_modes))
				ret = run_group(c, on_switch, run);
		}
	}
	return ret;
}

static void teardown(void)
{
	sc_set_load(&cl, 0, 0);
	if (cl_on)
		sc_client_stop(&cl);
	cl_on = 0;
	wave_reap(&agent, 3000);
	wave_reap(&waved, 5000);
	be_stop_vms(&env);
	switch_down();
	sink_stop();
	uplink_down();
	be_teardown(&env);
}

int bench_net_main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct bn_cfg c;
	int ret = opt_parse(&net_cmd, argc, argv, NULL);

	if (ret)
		return ret > 0 ? 0 : 2;
	c = opt_cfg;
	c.runs = c.runs ? c.runs : 1;
	c.phase_s = c.phase_s ? c.phase_s : c.quick ? 8 : 20;
	c.link_mbit = c.link_mbit ? c.link_mbit : 100;
	c.tc_mbit = c.tc_mbit ? c.tc_mbit : c.link_mbit / 2;
	c.rate = c.rate ? c.rate : 200;
	c.burst_rate = c.burst_rate ? c.burst_rate : 3 * c.rate;
	c.modes = c.modes ? c.modes : (1u << BN_NR_MODES) - 1;
	c.policy = c.policy ? c.policy : "cfs";
	if (!policy_find(POLICY_SCHED, c.policy)) {
		wave_err("bench net: --policy %s: no such scheduling policy (%s)", c.policy,
			 policy_names());
		return 2;
	}
	if (c.tc_mbit >= c.link_mbit) {
		wave_err("bench net: --tc-limit %u must be under --link %u", c.tc_mbit, c.link_mbit);
		return 2;
	}
	if (geteuid() != 0) {
		wave_err("bench net: needs root (VMs, a namespace, tc, wave-switch)");
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	wave_log_set_level(WAVE_LOG_WARN);
	sink.fd = -1;
	res = (struct bn_results){ .modes = c.modes, .runs = c.runs, .phase_s = c.phase_s,
				   .link_mbit = c.link_mbit, .tc_mbit = c.tc_mbit, .rate = c.rate,
				   .burst_rate = c.burst_rate };
	snprintf(res.policy, sizeof(res.policy), "%s", c.policy);
	ret = run_all(&c);
	progress(&c, "stopping and removing what was started");
	teardown();
	if (interrupted) {
		wave_err("bench net: interrupted; everything started was stopped");
		return 1;
	}
	if (ret) {
		wave_err("bench net: %s", strerror(-ret));
		return 1;
	}
	if (c.report && (ret = bn_report(&res, c.report)))
		wave_err("bench net: report: %s", strerror(-ret));
	if (c.json)
		bn_print_json(&res);
	else
		bn_print_table(&res);
	if (c.report && !c.json && !ret)
		printf("\nreport: %s/report.md\n", c.report);
	return ret ? 1 : 0;
}
