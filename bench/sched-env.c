// SPDX-License-Identifier: BSD-3-Clause
/*
 * Environment of 'wavectl bench sched' (sched-env.h): the VMs and daemons
 * through bench/vmenv.h (the daemons at SCHED_FIFO 20, below the measuring
 * client's 50), and per mode what it runs or sets by hand.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/sched-env.h"
#include "bench/vmenv.h"
#include "common/knob.h"
#include "common/log.h"
#include "common/spawn.h"
#include "vmm/conn.h"

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

#define RT_PRIO 10
#define RT_BUDGET_US 300000

int se_setup(struct se_env *e, int quiet)
{
	const char *opt[SE_MAX_POLICY_OPTS];
	unsigned int nr_opts = e->nr_policy_opts;
	char name[16];
	int ret;

	/* Everything starts from zero but the policy options the caller set. */
	memcpy(opt, e->policy_opt, sizeof(opt));
	memset(e, 0, sizeof(*e));
	memcpy(e->policy_opt, opt, sizeof(opt));
	e->nr_policy_opts = nr_opts;
	if ((ret = be_setup(&e->be, "bench sched", "sched", quiet)))
		return ret;
	if ((ret = be_launch(&e->be, "latency-echo.xml", "lat", quiet)) < 0)
		return ret;
	for (int i = 0; i < SE_NR_BATCH; i++) {
		snprintf(name, sizeof(name), "bat%d", i + 1);
		if ((ret = be_launch(&e->be, "batch-spin.xml", name, quiet)) < 0)
			return ret;
	}
	return 0;
}

int se_wait_guests(struct se_env *e, int timeout_s)
{
	for (int i = 0; i < timeout_s * 10; i++) {
		int up = be_console_has(&e->be, SE_VM_LAT, "WAVE-READY workload=echo");

		for (int b = 0; b < SE_NR_BATCH; b++)
			up = up && be_console_has(&e->be, SE_VM_BAT + (unsigned int)b, "WAVE-SPIN");
		if (up)
			return 0;
		usleep(100000);
	}
	wave_err("bench sched: the guests did not come up within %d s", timeout_s);
	return -ETIMEDOUT;
}

void se_teardown(struct se_env *e)
{
	se_mode_stop(e);
	be_teardown(&e->be);
}

/* A daemon (be_daemon); with policy set, the latency policy gets --policy-opt. */
static pid_t daemon_start(const struct se_env *e, const char *name, char **args, int policy)
{
	char *argv[48];
	int n = 0;

	for (int i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	for (unsigned int i = 0; policy && i < e->nr_policy_opts; i++) {
		argv[n++] = "--policy-opt";
		argv[n++] = (char *)e->policy_opt[i];
	}
	argv[n] = NULL;
	return be_daemon(&e->be, name, argv);
}

static int wait_state(const struct se_env *e, const char *want, int timeout_ms)
{
	return be_wait_state(&e->be, want, timeout_ms);
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
	struct vmm_conn *c;
	char why[512];
	int ret = vmm_conn_open(NULL, 0, &c, why, sizeof(why));

	if (!ret) {
		ret = vmm_domain_lookup(c, e->be.vm[SE_VM_LAT].name, &d, why, sizeof(why));
		vmm_conn_close(c);
	}
	if (ret) {
		wave_err("bench sched: rt: %s", why);
		return ret;
	}
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
	char *observe[] = { "--mode", "observe", "--match", e->be.prefix, "--rundir", e->be.rundir,
			    NULL };
	char *pin[] = { "--mode", "onhost", "--policy", "pin", "--match", e->be.prefix, "--rundir",
			e->be.rundir, NULL };
	char *onhost[] = { "--mode", "onhost", "--policy", "latency", "--match", e->be.prefix,
			   "--rundir", e->be.rundir, NULL };
	char *offload[] = { "--mode", "offload", "--policy", "latency", "--match", e->be.prefix,
			    "--rundir", e->be.rundir, "--channel", e->be.chan, "--link-delay", delay,
			    NULL };
	char *nonet[] = { "--mode", "offload", "--policy", "latency", "--match", e->be.prefix,
			  "--rundir", e->be.rundir, "--channel", e->be.chan, "--link-delay", delay,
			  "--net-observe", "none", NULL };
	char *fire[] = { "--mode", "offload", "--policy", "latency", "--match", e->be.prefix,
			 "--rundir", e->be.rundir, "--channel", e->be.chan, "--link-delay", delay,
			 "--net-fire", NULL };
	char *agent[] = { "--channel", e->be.chan, "--policy", "latency", "--report-s", "0",
			  "--link-delay", delay, "--reserve", BE_AGENT_RESERVE, NULL };
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
