// SPDX-License-Identifier: BSD-3-Clause
/*
 * Environment of 'wavectl bench sched' (sched-env.h). The project's own
 * tools do the work: scripts/libvirtd.sh and scripts/net.sh, 'wavectl
 * launch' and 'wavectl stop', waved and wave-agent. The daemons run at
 * SCHED_FIFO 20 in every mode that has them (a host's control plane is not
 * starved by its own VMs; the agent stands for IPU cores), below the
 * measuring client's 50.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/sched-env.h"
#include "common/clock.h"
#include "common/knob.h"
#include "common/log.h"
#include "common/site.h"
#include "common/spawn.h"
#include "vmm/conn.h"
#include "waved/status-client.h"

const char *const se_mode_names[SE_NR_MODES] = { "cfs", "pin", "rt", "offload", "onhost",
						  "nonet", "fire" };

const char *se_modes_list(void)
{
	static char buf[128];
	size_t used = 0;

	if (buf[0])
		return buf;
	for (int m = 0; m < SE_NR_MODES; m++)
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%s", m ? ", " : "",
					 se_mode_names[m]);
	return buf;
}

#define DAEMON_PRIO "20"
#define RT_PRIO 10
#define RT_BUDGET_US 300000

/* Runs argv to completion (quiet: no output); its exit status or -1. */
static int run(char *const argv[], int quiet)
{
	pid_t pid = wave_spawn(argv, quiet);
	int st;

	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void paths(struct se_env *e)
{
	char tmp[PATH_MAX + 32];

	site_bindir(e->bindir, sizeof(e->bindir));
	/* BIN = <repo>/build/bin: scripts in <repo>/scripts, images in <repo>/build/images */
	snprintf(tmp, sizeof(tmp), "%s", e->bindir);
	snprintf(e->images, sizeof(e->images), "%s/images", dirname(tmp));
	snprintf(tmp, sizeof(tmp), "%s/../../scripts", e->bindir);
	if (!realpath(tmp, e->scripts))
		snprintf(e->scripts, sizeof(e->scripts), "scripts");
	if (getenv("WAVE_IMAGES") && *getenv("WAVE_IMAGES"))
		snprintf(e->images, sizeof(e->images), "%s", getenv("WAVE_IMAGES"));
}

static int script(const struct se_env *e, const char *name, const char *verb, int quiet)
{
	char path[PATH_MAX + 32];
	char *argv[] = { path, (char *)verb, NULL };

	snprintf(path, sizeof(path), "%s/%s", e->scripts, name);
	return run(argv, quiet);
}

static int wavectl(const struct se_env *e, char *a1, char *a2, char *a3, char *a4, int quiet)
{
	char path[PATH_MAX + 16];
	char *argv[] = { path, a1, a2, a3, a4, NULL };

	snprintf(path, sizeof(path), "%s/wavectl", e->bindir);
	return run(argv, quiet);
}

/* Resolves one running domain over a connection of its own. 0 or -errno. */
static int lookup_once(const char *name, struct vmm_domain *d)
{
	struct vmm_conn *c;
	char why[512];
	int ret = vmm_conn_open(NULL, 0, &c, why, sizeof(why));

	if (ret)
		return ret;
	ret = vmm_domain_lookup(c, name, d, why, sizeof(why));
	if (ret)
		wave_err("bench sched: %s", why);
	vmm_conn_close(c);
	return ret;
}

static int read_ip(const char *name, char *ip, size_t size, pid_t *pid)
{
	struct vmm_domain d;
	int ret = lookup_once(name, &d);

	if (ret)
		return ret;
	snprintf(ip, size, "%s", d.ip);
	if (pid)
		*pid = d.pid;
	vmm_domain_clear(&d);
	return 0;
}

int se_setup(struct se_env *e, int quiet)
{
	char xml_lat[PATH_MAX + 32], xml_bat[PATH_MAX + 32];
	const char *opt[SE_MAX_POLICY_OPTS];
	unsigned int nr_opts = e->nr_policy_opts;

	/* Everything starts from zero but the policy options the caller set. */
	memcpy(opt, e->policy_opt, sizeof(opt));
	memset(e, 0, sizeof(*e));
	memcpy(e->policy_opt, opt, sizeof(opt));
	e->nr_policy_opts = nr_opts;
	paths(e);
	snprintf(e->rundir, sizeof(e->rundir), "/tmp/wave-bench-sched-%d", (int)getpid());
	snprintf(e->chan, sizeof(e->chan), "shm:bench-sched-%d", (int)getpid());
	snprintf(e->prefix, sizeof(e->prefix), "wb%d-", (int)getpid());
	snprintf(e->lat, sizeof(e->lat), "%slat", e->prefix);
	for (int i = 0; i < SE_NR_BATCH; i++)
		snprintf(e->bat[i], sizeof(e->bat[i]), "%sbat%d", e->prefix, i + 1);
	mkdir(e->rundir, 0700);
	/* WAVE_RUNDIR keeps this run's consoles and sockets apart from any other. */
	setenv("WAVE_RUNDIR", e->rundir, 1);
	if (script(e, "libvirtd.sh", "start", quiet) || script(e, "net.sh", "up", quiet)) {
		wave_err("bench sched: libvirtd or the bridge would not start (root needed)");
		return -EIO;
	}
	snprintf(xml_lat, sizeof(xml_lat), "%s/../images/xml/latency-echo.xml", e->scripts);
	snprintf(xml_bat, sizeof(xml_bat), "%s/../images/xml/batch-spin.xml", e->scripts);
	e->vms_up = 1;
	if (wavectl(e, "launch", xml_lat, "--name", e->lat, quiet)) {
		wave_err("bench sched: launching the VMs failed (run 'make images'?)");
		return -EIO;
	}
	for (int i = 0; i < SE_NR_BATCH; i++)
		if (wavectl(e, "launch", xml_bat, "--name", e->bat[i], quiet)) {
			wave_err("bench sched: launching the batch VMs failed");
			return -EIO;
		}
	if (read_ip(e->lat, e->lat_ip, sizeof(e->lat_ip), &e->lat_pid))
		return -ENOENT;
	for (int i = 0; i < SE_NR_BATCH; i++)
		if (read_ip(e->bat[i], e->bat_ip[i], sizeof(e->bat_ip[i]), &e->bat_pid[i]))
			return -ENOENT;
	return 0;
}

static int console_has(const struct se_env *e, const char *vm, const char *what)
{
	char path[256], line[512];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "%s/console/%s.log", e->rundir, vm);
	if (!(f = fopen(path, "r")))
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, what) != NULL;
	fclose(f);
	return found;
}

int se_wait_guests(struct se_env *e, int timeout_s)
{
	for (int i = 0; i < timeout_s * 10; i++) {
		int up = console_has(e, e->lat, "WAVE-READY workload=echo");

		for (int b = 0; b < SE_NR_BATCH; b++)
			up = up && console_has(e, e->bat[b], "WAVE-SPIN");
		if (up)
			return 0;
		usleep(100000);
	}
	wave_err("bench sched: the guests did not come up within %d s", timeout_s);
	return -ETIMEDOUT;
}

void se_teardown(struct se_env *e)
{
	char path[256];

	se_mode_stop(e);
	if (e->vms_up) {
		wavectl(e, "stop", e->lat, e->bat[0], e->bat[1], 1);
		e->vms_up = 0;
		snprintf(path, sizeof(path), "%s/console/%s.log", e->rundir, e->lat);
		unlink(path);
		for (int b = 0; b < SE_NR_BATCH; b++) {
			snprintf(path, sizeof(path), "%s/console/%s.log", e->rundir, e->bat[b]);
			unlink(path);
		}
	}
	if (e->rundir[0]) {
		script(e, "net.sh", "down", 1);
		script(e, "libvirtd.sh", "stop", 1);
		snprintf(path, sizeof(path), "%s/console", e->rundir);
		rmdir(path);
		site_path(path, sizeof(path), e->rundir, SITE_ACCEL_CACHE);
		unlink(path);
		site_path(path, sizeof(path), e->rundir, SITE_JOURNAL);
		unlink(path);
		rmdir(e->rundir);
		e->rundir[0] = '\0';
	}
}

/* Starts bindir/name args at DAEMON_PRIO; with policy set, the latency policy gets --policy-opt. */
static pid_t daemon_start(const struct se_env *e, const char *name, char **args, int policy)
{
	char path[PATH_MAX + 16];
	char *argv[48] = { "/usr/bin/chrt", "-f", DAEMON_PRIO, path };
	int n = 4;

	snprintf(path, sizeof(path), "%s/%s", e->bindir, name);
	for (int i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	for (unsigned int i = 0; policy && i < e->nr_policy_opts; i++) {
		argv[n++] = "--policy-opt";
		argv[n++] = (char *)e->policy_opt[i];
	}
	argv[n] = NULL;
	return wave_spawn(argv, !getenv("WAVE_BENCH_VERBOSE"));
}

static int wait_state(const struct se_env *e, const char *want, int timeout_ms)
{
	for (int ms = 0; ms < timeout_ms; ms += 10) {
		if (waved_state_is(e->rundir, want))
			return 0;
		usleep(10000);
	}
	wave_err("bench sched: waved did not reach state '%s' within %d ms", want, timeout_ms);
	return -ETIMEDOUT;
}

/*
 * rt: every thread of the latency VM at SCHED_FIFO. Its threads sit in
 * libvirt's per-vCPU cgroups, whose RT budget is 0 (CONFIG_RT_GROUP_SCHED):
 * each cgroup on the way, parents first, gets a budget before FIFO is
 * allowed. All of it is undone by rt_off().
 */
static int write_us(const char *dir, const char *file, long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld", v);
	return wave_knob_write(dir, file, buf);
}

static void add_group(struct se_env *e, const char *dir)
{
	for (unsigned int i = 0; i < e->rt_ngroups; i++)
		if (!strcmp(e->rt_groups[i], dir))
			return;
	if (e->rt_ngroups < 8)
		snprintf(e->rt_groups[e->rt_ngroups++], sizeof(e->rt_groups[0]), "%s", dir);
}

static void rt_off(struct se_env *e)
{
	struct sched_param sp = { 0 };

	for (unsigned int i = 0; i < e->rt_nr; i++)
		sched_setscheduler(e->rt_tids[i], SCHED_OTHER, &sp);
	/* Children first when taking budgets back. */
	for (unsigned int i = e->rt_ngroups; i-- > 0;)
		write_us(e->rt_groups[i], "cpu.rt_runtime_us", 0);
	e->rt_nr = e->rt_ngroups = 0;
	e->rt_on = 0;
}

static int rt_on(struct se_env *e)
{
	struct sched_param sp = { .sched_priority = RT_PRIO };
	struct vmm_domain d;
	int ret = lookup_once(e->lat, &d);

	if (ret)
		return ret;
	e->rt_on = 1;
	for (unsigned int i = 0; i <= d.nr_vcpus && e->rt_nr < SE_MAX_THREADS; i++) {
		const struct vmm_thread *t = i < d.nr_vcpus ? &d.vcpus[i] : &d.emulator;
		char dir[512], *p;

		/* Budgets from the mount point down: .../machine, .../qemu-N-x, .../vcpuK */
		snprintf(dir, sizeof(dir), "%s", t->cgroup);
		for (p = dir + strlen("/sys/fs/cgroup/cpu/"); t->cgroup[0] && (p = strchr(p, '/'));
		     p++) {
			*p = '\0';
			add_group(e, dir);
			*p = '/';
		}
		if (t->cgroup[0])
			add_group(e, t->cgroup);
		e->rt_tids[e->rt_nr++] = t->tid;
	}
	vmm_domain_clear(&d);
	/* Parents get the whole budget, the leaves a share each (their sum fits). */
	for (unsigned int i = 0; i < e->rt_ngroups; i++)
		if (write_us(e->rt_groups[i], "cpu.rt_runtime_us",
			     strstr(e->rt_groups[i], "/vcpu") || strstr(e->rt_groups[i], "/emulator")
			     ? RT_BUDGET_US : 900000))
			wave_warn("bench sched: rt: no RT budget for %s", e->rt_groups[i]);
	for (unsigned int i = 0; i < e->rt_nr; i++)
		if (sched_setscheduler(e->rt_tids[i], SCHED_FIFO, &sp)) {
			ret = -errno;
			wave_err("bench sched: rt: SCHED_FIFO for thread %d: %s", (int)e->rt_tids[i],
				 strerror(errno));
		}
	return ret;
}

int se_mode_start(struct se_env *e, enum se_mode m, unsigned int delay_us)
{
	char delay[16];
	char *observe[] = { "--mode", "observe", "--match", e->prefix, "--rundir", e->rundir,
			    NULL };
	char *pin[] = { "--mode", "onhost", "--policy", "pin", "--match", e->prefix, "--rundir",
			e->rundir, NULL };
	char *onhost[] = { "--mode", "onhost", "--policy", "latency", "--match", e->prefix,
			   "--rundir", e->rundir, NULL };
	char *offload[] = { "--mode", "offload", "--policy", "latency", "--match", e->prefix,
			    "--rundir", e->rundir, "--channel", e->chan, "--link-delay", delay,
			    NULL };
	char *nonet[] = { "--mode", "offload", "--policy", "latency", "--match", e->prefix,
			  "--rundir", e->rundir, "--channel", e->chan, "--link-delay", delay,
			  "--net-observe", "none", NULL };
	char *fire[] = { "--mode", "offload", "--policy", "latency", "--match", e->prefix,
			 "--rundir", e->rundir, "--channel", e->chan, "--link-delay", delay,
			 "--net-fire", NULL };
	char *agent[] = { "--channel", e->chan, "--policy", "latency", "--report-s", "0",
			  "--link-delay", delay, NULL };
	int ret = 0;

	snprintf(delay, sizeof(delay), "%u", delay_us);
	switch (m) {
	case SE_CFS:
	case SE_RT:
		e->waved = daemon_start(e, "waved", observe, 0);
		ret = wait_state(e, "observe", 10000);
		if (!ret && m == SE_RT)
			ret = rt_on(e);
		break;
	case SE_PIN:
		e->waved = daemon_start(e, "waved", pin, 0);
		ret = wait_state(e, "onhost", 10000);
		break;
	case SE_ONHOST:
		e->waved = daemon_start(e, "waved", onhost, 1);
		ret = wait_state(e, "onhost", 10000);
		break;
	case SE_OFFLOAD:
	case SE_NONET:
	case SE_FIRE:
		e->waved = daemon_start(e, "waved", m == SE_OFFLOAD ? offload : m == SE_NONET ? nonet
							     : fire, 1);
		e->agent = daemon_start(e, "wave-agent", agent, 1);
		ret = wait_state(e, "offload", 15000);
		break;
	default:
		ret = -EINVAL;
	}
	return ret;
}

void se_mode_stop(struct se_env *e)
{
	if (e->rt_on)
		rt_off(e);
	/* waved last: it restores every baseline on SIGTERM. */
	wave_reap(&e->agent, 3000);
	wave_reap(&e->waved, 5000);
}

uint64_t se_cpu_ns(pid_t pid)
{
	return pid > 0 ? bench_proc_cpu_ns(pid) : 0;
}
