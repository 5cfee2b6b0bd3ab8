// SPDX-License-Identifier: BSD-3-Clause
/*
 * Integration: real libvirt, real QEMU guests (TCG here, KVM where it
 * works), launched with wavectl from images/xml/. Checks discovery against
 * /proc, the echo guest over UDP, the spin guest's work reports (console and
 * UDP), balloon statistics over QMP, waved and wave-agent placing the QEMU
 * vCPU threads (fallback when the agent is killed, control back when a new
 * one is healthy, baselines restored when waved stops), a stop seen as an
 * event, a libvirtd restart survived, and operators' tools under Wave: real
 * virsh (vcpupin, metadata --live, schedinfo, suspend/resume, setmem,
 * shutdown, destroy) and wavectl pin while waved and wave-agent run (that
 * case in vms-operators.c; what the files share in vms.h).
 *
 * Everything it starts is removed on every path: the domains (by their
 * unique names "wt<pid>-..."), their console files, the bridge and
 * libvirtd only if this test created them (scripts/net.sh and
 * scripts/libvirtd.sh record that), also when a check fails (group
 * teardown) or the runner's timeout sends SIGTERM (handler). Needs root;
 * skipped otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "channel/codec.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/site.h"
#include "images/guest/guest.h"
#include "tests/mem-agent.h"
#include "tests/util.h"
#include "tests/vms.h"
#include "vmm/conn.h"
#include "vmm/evloop.h"
#include "vmm/procfs.h"

#define BOOT_TIMEOUT_S 180

char rundir[64], lat[32], bat[32], name_prefix[32], chan_uri[64];
pid_t waved_pid, agent_pid;
struct vmm_conn *conn;
static char lat_console[128], bat_console[128];
static int ready; /* setup done: teardown has work */


static void cleanup(void)
{
	char *stop[] = { "build/bin/wavectl", "stop", lat, bat, NULL };
	char *net[] = { "scripts/net.sh", "down", NULL };
	char *lvd[] = { "scripts/libvirtd.sh", "stop", NULL };

	if (!ready)
		return;
	ready = 0;
	/* Our daemons first (by pid), so they restore what they changed. */
	if (agent_pid > 0)
		kill(agent_pid, SIGKILL);
	if (waved_pid > 0) {
		kill(waved_pid, SIGTERM);
		waitpid(waved_pid, NULL, 0);
	}
	test_run(stop, 1);
	unlink(lat_console);
	unlink(bat_console);
	test_run(net, 1);
	test_run(lvd, 1);
}

static void remove_rundir(void)
{
	char p[128];

	if (!rundir[0])
		return;
	site_path(p, sizeof(p), rundir, SITE_ACCEL_CACHE);
	unlink(p);
	snprintf(p, sizeof(p), "%s/console", rundir);
	rmdir(p);
	rmdir(rundir);
}

static void on_signal(int sig)
{
	cleanup();
	remove_rundir();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int group_setup(void **state)
{
	char *lvd[] = { "scripts/libvirtd.sh", "start", NULL };
	char *net[] = { "scripts/net.sh", "up", NULL };
	char why[512];

	if (geteuid() != 0)
		return 0; /* every test skips */
	snprintf(rundir, sizeof(rundir), "/run/wave-vm-test-%d", (int)getpid());
	snprintf(lat, sizeof(lat), "wt%d-lat", (int)getpid());
	snprintf(bat, sizeof(bat), "wt%d-bat", (int)getpid());
	snprintf(lat_console, sizeof(lat_console), "%s/console/%s.log", rundir, lat);
	snprintf(bat_console, sizeof(bat_console), "%s/console/%s.log", rundir, bat);
	snprintf(name_prefix, sizeof(name_prefix), "wt%d-", (int)getpid());
	snprintf(chan_uri, sizeof(chan_uri), "shm:wt%d", (int)getpid());
	setenv("WAVE_RUNDIR", rundir, 1);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	ready = 1;
	if (test_run(lvd, 0) || test_run(net, 0)) {
		fprintf(stderr, "test-vms: cannot start libvirtd or the bridge\n");
		return -1;
	}
	if (vmm_conn_open(NULL, 0, &conn, why, sizeof(why))) {
		fprintf(stderr, "test-vms: %s\n", why);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	vmm_conn_close(conn);
	conn = NULL;
	cleanup();
	remove_rundir();
	return 0;
}

void need_root(void)
{
	if (geteuid() != 0)
		test_skip("needs root (libvirtd, QEMU guests, BPF)");
}

static void launch_both(void **state)
{
	char *l[] = { "build/bin/wavectl", "launch", "images/xml/latency-echo.xml", "--name", lat,
		      NULL };
	char *b[] = { "build/bin/wavectl", "launch", "images/xml/batch-spin.xml", "--name", bat,
		      NULL };

	need_root();
	assert_int_equal(test_run(l, 0), 0);
	assert_int_equal(test_run(b, 0), 0);
	assert_int_equal(test_vmm_wait_event(conn, VMM_EV_STARTED, lat, 10000), 0);
	assert_int_equal(test_vmm_wait_event(conn, VMM_EV_STARTED, bat, 10000), 0);
}

/* The vCPU threads QEMU has, by name, are exactly those discovery reports. */
static void discovery_matches_proc(void **state)
{
	static const struct { const char *which; enum wave_vm_class cls; unsigned int w; } ex[] = {
		{ "lat", WAVE_CLASS_LATENCY, 200 }, { "bat", WAVE_CLASS_BATCH, 100 },
	};
	char why[512], pidfile[128], buf[32], comm[32], accel[8];

	need_root();
	for (size_t i = 0; i < 2; i++) {
		const char *name = i ? bat : lat;
		struct vmm_domain d;
		unsigned int idx, named = 0;
		FILE *f;

		assert_int_equal(vmm_domain_lookup(conn, name, &d, why, sizeof(why)), 0);
		snprintf(pidfile, sizeof(pidfile), "/run/libvirt/qemu/%s.pid", name);
		f = fopen(pidfile, "r");
		assert_non_null(f);
		assert_non_null(fgets(buf, sizeof(buf), f));
		fclose(f);
		assert_int_equal(d.pid, atoi(buf));
		assert_int_equal(d.meta.cls, ex[i].cls);
		assert_int_equal(d.meta.weight, ex[i].w);
		assert_int_equal(d.nr_vcpus, 2);
		for (unsigned int k = 0; k < d.nr_vcpus; k++) {
			assert_int_equal(procfs_comm(d.pid, d.vcpus[k].tid, comm, sizeof(comm)), 0);
			assert_int_equal(procfs_parse_vcpu_name(comm, &idx, accel, sizeof(accel)), 0);
			assert_int_equal(idx, d.vcpus[k].index);
			assert_int_equal(access(d.vcpus[k].cgroup, F_OK), 0);
			assert_non_null(strstr(d.vcpus[k].cgroup, "vcpu"));
		}
		/* No vCPU thread in /proc that discovery missed. */
		{
			char path[64];
			FILE *p;

			for (int t = 0; t < 4096; t++) {
				snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)d.pid,
					 (int)d.pid + t);
				if (!(p = fopen(path, "r")))
					continue;
				if (fgets(comm, sizeof(comm), p) && !strncmp(comm, "CPU ", 4))
					named++;
				fclose(p);
			}
			assert_int_equal(named, d.nr_vcpus);
		}
		assert_int_equal(d.nr_taps, 1);
		assert_true(d.ip[0] != '\0');
		assert_string_equal(d.console, i ? bat_console : lat_console);
		vmm_domain_clear(&d);
	}
}

static void echo_guest_answers_udp(void **state)
{
	struct vmm_domain d;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(7777) };
	struct timeval tv = { .tv_sec = 1 };
	char why[512], line[256];
	int fd, ok = 0;

	need_root();
	if (test_wait_line(lat_console, "WAVE-READY workload=echo", 1, line, sizeof(line),
		      BOOT_TIMEOUT_S))
		fail_msg("%s: no readiness line within %d s", lat_console, BOOT_TIMEOUT_S);
	assert_int_equal(vmm_domain_lookup(conn, lat, &d, why, sizeof(why)), 0);
	assert_int_equal(inet_pton(AF_INET, d.ip, &sa.sin_addr), 1);
	vmm_domain_clear(&d);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (uint64_t seq = 1; seq <= 20 && ok < 3; seq++) {
		struct echo_msg q = { .magic = htole32(ECHO_MAGIC), .cost_us = htole32(100),
				      .seq = htole64(seq), .t_send_ns = 42 }, r;

		sendto(fd, &q, sizeof(q), 0, (struct sockaddr *)&sa, sizeof(sa));
		if (recv(fd, &r, sizeof(r), 0) == (ssize_t)sizeof(r) && r.seq == q.seq &&
		    r.t_send_ns == q.t_send_ns)
			ok++;
	}
	close(fd);
	assert_int_equal(ok, 3);
}

static void spin_guest_reports_work(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(7700) };
	struct timeval tv = { .tv_sec = 3 };
	char l1[256], l2[256], dgram[256];
	unsigned long long u1 = 0, u2 = 0;
	int fd, got = 0;

	need_root();
	if (test_wait_line(bat_console, "WAVE-SPIN", 2, l2, sizeof(l2), BOOT_TIMEOUT_S))
		fail_msg("%s: no two work reports within %d s", bat_console, BOOT_TIMEOUT_S);
	assert_int_equal(test_wait_line(bat_console, "WAVE-SPIN", 1, l1, sizeof(l1), 1), 0);
	assert_non_null(strstr(l1, "units="));
	u1 = strtoull(strstr(l1, "units=") + 6, NULL, 10);
	u2 = strtoull(strstr(l2, "units=") + 6, NULL, 10);
	assert_true(u2 > u1);
	/* The same reports arrive as UDP datagrams at the host's bridge address. */
	inet_pton(AF_INET, "10.77.0.1", &sa.sin_addr);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int));
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	for (int i = 0; i < 5 && !got; i++) {
		ssize_t n = recv(fd, dgram, sizeof(dgram) - 1, 0);

		if (n > 0) {
			dgram[n] = '\0';
			got = !strncmp(dgram, "WAVE-SPIN", 9) && strstr(dgram, "units=");
		}
	}
	close(fd);
	assert_true(got);
}

/* QMP through libvirt: the balloon driver's guest statistics arrive. */
static void balloon_stats_via_qmp(void **state)
{
	struct vmm_balloon_stats b = { 0 };
	char *reply = NULL, why[512];
	virDomainPtr dom;
	int ok = 0;

	need_root();
	dom = virDomainLookupByName(vmm_conn_virt(conn), bat);
	assert_non_null(dom);
	/* The guest reports every second (<stats period='1'/>) once its driver is up. */
	for (int i = 0; i < 30 && !ok; i++) {
		assert_int_equal(vmm_qmp_command(dom, VMM_QMP_BALLOON_STATS, &reply, why,
						 sizeof(why)), 0);
		assert_int_equal(vmm_qmp_parse_balloon(reply, &b, why, sizeof(why)), 0);
		free(reply);
		ok = b.last_update > 0 && b.total > 0 && b.free > 0 && b.free < b.total;
		if (!ok)
			sleep(1);
	}
	virDomainFree(dom);
	assert_true(ok);
	assert_true(b.total > 128ll << 20 && b.total <= 256ll << 20);
}

/*
 * The memory worker's kind of connection (vmm/evloop.h): libvirtd's
 * socket is refused a watch, and calls still answer without the loop.
 */
static void an_unwatched_connection_calls_without_a_watch(void **state)
{
	virDomainMemoryStatStruct ms[VIR_DOMAIN_MEMORY_STAT_NR];
	unsigned long refused = vmm_evloop_refused();
	virConnectPtr c;
	virDomainPtr dom;

	need_root();
	c = vmm_virt_open_unwatched("qemu:///system");
	assert_non_null(c);
	assert_int_equal(vmm_evloop_refused(), refused + 1);
	assert_int_equal(virConnectIsAlive(c), 1);
	dom = virDomainLookupByName(c, bat);
	assert_non_null(dom);
	assert_true(virDomainMemoryStats(dom, ms, VIR_DOMAIN_MEMORY_STAT_NR, 0) > 0);
	virDomainFree(dom);
	virConnectClose(c);
}

int virsh(const char *a1, const char *a2, const char *a3, const char *a4, const char *a5,
	  const char *a6, const char *a7)
{
	char *argv[] = { "/usr/bin/virsh", "-q", "-c", "qemu:///system", (char *)a1, (char *)a2,
			 (char *)a3, (char *)a4, (char *)a5, (char *)a6, (char *)a7, NULL };

	return test_run(argv, 1);
}

static struct test_mem_agent mem_agent;

/* Also when a check failed: the channel closed, waved stopped (it leaves balloons as they are). */
static int memory_teardown(void **state)
{
	if (mem_agent.ch)
		chan_close(mem_agent.ch);
	mem_agent.ch = NULL;
	test_end(&waved_pid);
	return 0;
}

/*
 * waved reads the batch guest's memory and applies balloon targets from
 * the agent: one within bounds is applied and seen by the guest; above
 * the maximum, past the budget, below the floor set live in the metadata,
 * or against an old barrier, it is refused with a status and counted.
 */
static void memory_control_on_a_real_guest(void **state)
{
	/* The test answers heartbeats only while it waits: a lag threshold it meets. */
	char *wv[] = { "build/bin/waved", "--match", name_prefix, "--channel", chan_uri, "--rundir",
		       rundir, "--mem-period", "500", "--mem-budget", "384", "--lag-threshold",
		       "500", "--handback", "3", NULL };
	struct test_mem_agent *a = &mem_agent;
	json_object *doc = NULL, *vmj, *mem, *used;
	struct chan_opts o;
	uint32_t old;

	need_root();
	waved_pid = test_spawn(wv);
	chan_opts_init(&o, CHAN_AGENT);
	o.features |= WAVE_FEAT_MEM;
	memset(a, 0, sizeof(*a));
	a->vm_name = bat;
	for (int i = 0; i < 100 && chan_open(chan_uri, &o, &a->ch); i++)
		usleep(100000);
	assert_non_null(a->ch);
	for (int i = 0; i < 300 && !(a->have_snapshot && a->nst && a->nhost &&
				     a->st.available_kib != WAVE_MEM_NONE &&
				     (a->ctl.flags & WAVE_MEM_BALLOON)); i++)
		test_mem_pump(a, 100);
	assert_true(a->have_snapshot && a->nst && a->nhost);
	assert_int_equal(a->st.max_kib, 256 << 10);
	assert_true(a->st.actual_kib <= a->st.max_kib);
	assert_true(a->st.available_kib != WAVE_MEM_NONE && a->st.available_kib <= a->st.max_kib);
	assert_true(a->ctl.flags & WAVE_MEM_BALLOON);
	assert_int_equal(a->host.budget_kib, 384 << 10);

	/* Within bounds: applied, and the guest has less. */
	assert_int_equal(test_set_balloon(a, 1, 200, 0), WAVE_ST_OK);
	for (int i = 0; i < 300 && a->st.actual_kib != 200 << 10; i++)
		test_mem_pump(a, 100);
	assert_int_equal(a->st.actual_kib, 200 << 10);
	for (int i = 0; i < 300 && a->st.available_kib > 200 << 10; i++)
		test_mem_pump(a, 100);
	assert_true(a->st.available_kib <= 200 << 10);
	/*
	 * The guest's use, paired by waved with the balloon as it was when the
	 * guest counted: at rest, the balloon less what the guest has free.
	 */
	for (int i = 0; i < 100 && (a->ctl.used_kib == WAVE_MEM_NONE ||
				    a->ctl.used_kib + a->st.usable_kib != 200 << 10); i++)
		test_mem_pump(a, 100);
	assert_int_equal(a->ctl.used_kib + a->st.usable_kib, 200 << 10);
	/* waved's status shows that use too, for operators. */
	vmj = test_status_vm(rundir, bat, &doc);
	assert_non_null(vmj);
	assert_true(json_object_object_get_ex(vmj, "mem", &mem) &&
		    json_object_object_get_ex(mem, "used_kib", &used));
	assert_true(json_object_get_int64(used) > 0 && json_object_get_int64(used) < 200 << 10);
	json_object_put(doc);
	/* Refused: above the maximum; growth past the budget (the other VM holds 256). */
	assert_int_equal(test_set_balloon(a, 2, 300, 0), WAVE_ST_INVALID);
	assert_int_equal(test_set_balloon(a, 3, 250, 0), WAVE_ST_INVALID);
	assert_true(test_status_stat(rundir, "mem_refused") >= 2);
	/* A floor set live: the VM's barrier moves on, and a target below it is refused. */
	old = a->barrier;
	assert_int_equal(virsh("metadata", bat, "urn:wave-vm:domain:1", "--key", "wave", "--set",
			       "<vm class='batch' mem-min='190'/>"), 0);
	for (int i = 0; i < 100 && a->ctl.floor_kib != 190 << 10; i++)
		test_mem_pump(a, 100);
	assert_int_equal(a->ctl.floor_kib, 190 << 10);
	assert_int_not_equal(a->barrier, old);
	assert_int_equal(test_set_balloon(a, 4, 180, old), WAVE_ST_STALE_TARGET);
	assert_int_equal(test_set_balloon(a, 5, 180, 0), WAVE_ST_INVALID);
	assert_int_equal(test_set_balloon(a, 6, 195, 0), WAVE_ST_OK);
	assert_true(test_status_stat(rundir, "mem_refused") >= 3);
	assert_true(test_status_stat(rundir, "mem_set") >= 2);
	memory_teardown(NULL);
	/* Left as the next cases expect it. */
	assert_int_equal(virsh("metadata", bat, "urn:wave-vm:domain:1", "--key", "wave", "--set",
			       "<vm class='batch'/>"), 0);
	assert_int_equal(virsh("setmem", bat, "256M", "--live", NULL, NULL, NULL), 0);
}

static int reads_teardown(void **state)
{
	virsh("resume", bat, NULL, NULL, NULL, NULL, NULL); /* refused if it runs: harmless */
	return memory_teardown(state);
}

/*
 * waved reads each guest's memory just after the guest reports (once a
 * second): it re-arms the guests' report timers together, reads a late
 * report again (4 times, backing off), and stops waiting for a guest that
 * no longer reports (a paused one: without that, 4 late reads a second)
 * until it reports again, when every timer is re-armed. Counted in
 * status, checked on a real guest. How many late reads the pause itself
 * takes is not asserted exactly: a guest already late when it is paused
 * has had some of them before.
 */
static void memory_reads_follow_the_guests_reports(void **state)
{
	char *wv[] = { "build/bin/waved", "--match", name_prefix, "--rundir", rundir,
		       "--mode", "observe", NULL };
	int64_t rearms, late, reads, bulk;

	need_root();
	waved_pid = test_spawn(wv);
	/* Both guests read every second, their timers re-armed when they came. */
	assert_int_equal(test_wait_status_stat_above(rundir, "mem_reads", 6, 20), 0);
	assert_int_equal(test_wait_status_stat_above(rundir, "mem_rearms", 0, 10), 0);
	assert_int_equal(test_status_stat(rundir, "mem_quiet_vms"), 0);
	/* Two balloons at rest: read together, in one call (both, every period). */
	reads = test_status_stat(rundir, "mem_reads");
	bulk = test_status_stat(rundir, "mem_bulk_reads");
	sleep(3);
	reads = test_status_stat(rundir, "mem_reads") - reads;
	bulk = test_status_stat(rundir, "mem_bulk_reads") - bulk;
	assert_true(reads >= 4);
	assert_true(bulk >= reads - 2);

	rearms = test_status_stat(rundir, "mem_rearms");
	late = test_status_stat(rundir, "mem_late_reads");
	assert_int_equal(virsh("suspend", bat, NULL, NULL, NULL, NULL, NULL), 0);
	for (int i = 0; i < 150 && test_status_stat(rundir, "mem_quiet_vms") != 1; i++)
		usleep(100000);
	assert_int_equal(test_status_stat(rundir, "mem_quiet_vms"), 1);
	assert_true(test_status_stat(rundir, "mem_late_reads") > late);
	assert_true(test_status_stat(rundir, "mem_rearms") > rearms);
	/* Not waited for any more: a paused guest alone would cost 24 reads in 6 s. */
	late = test_status_stat(rundir, "mem_late_reads");
	sleep(6);
	assert_true(test_status_stat(rundir, "mem_late_reads") - late < 12);
	assert_int_equal(test_status_stat(rundir, "mem_quiet_vms"), 1);

	/* Reporting again: waited for again, every timer re-armed. */
	rearms = test_status_stat(rundir, "mem_rearms");
	assert_int_equal(virsh("resume", bat, NULL, NULL, NULL, NULL, NULL), 0);
	for (int i = 0; i < 100 && test_status_stat(rundir, "mem_quiet_vms") != 0; i++)
		usleep(100000);
	assert_int_equal(test_status_stat(rundir, "mem_quiet_vms"), 0);
	assert_int_equal(test_wait_status_stat_above(rundir, "mem_rearms", rearms, 10), 0);
}

static void start_agent(void)
{
	char *a[] = { "build/bin/wave-agent", "--channel", chan_uri, "--policy", "pin", NULL };

	agent_pid = test_spawn(a);
}

/* Every vCPU thread of both VMs on exactly one CPU (pinned) or on all (baseline). */
static int vcpus_pinned(int want_pinned)
{
	char why[512];

	for (int i = 0; i < 2; i++) {
		struct vmm_domain d;
		int ok = 1;

		if (vmm_domain_lookup(conn, i ? bat : lat, &d, why, sizeof(why)))
			return 0;
		for (unsigned int k = 0; k < d.nr_vcpus; k++) {
			cpu_set_t s;

			sched_getaffinity(d.vcpus[k].tid, sizeof(s), &s);
			if (want_pinned ? CPU_COUNT(&s) != 1 : CPU_COUNT(&s) < 2)
				ok = 0;
		}
		vmm_domain_clear(&d);
		if (!ok)
			return 0;
	}
	return 1;
}

static int wait_vcpus(int want_pinned, int timeout_s)
{
	for (int i = 0; i < timeout_s * 10; i++) {
		if (vcpus_pinned(want_pinned))
			return 0;
		usleep(100000);
	}
	return -ETIMEDOUT;
}

/* waved and wave-agent on the real VMs: placements, agent killed, control back. */
static void offloaded_loop_on_real_vms(void **state)
{
	char *wv[] = { "build/bin/waved", "--match", name_prefix, "--channel", chan_uri, "--rundir",
		       rundir, "--lag-threshold", "20", "--handback", "10", NULL };

	need_root();
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		test_skip("needs two CPUs");
	assert_int_equal(wait_vcpus(0, 1), 0);
	waved_pid = test_spawn(wv);
	start_agent();
	assert_true(test_wait_waved_state(rundir, "offload", 20000) >= 0);
	assert_int_equal(wait_vcpus(1, 10), 0);
	/* The agent dies: fallback within 2x the threshold, vCPUs back to baseline. */
	kill(agent_pid, SIGKILL);
	waitpid(agent_pid, NULL, 0);
	agent_pid = 0;
	assert_true(test_wait_waved_state(rundir, "fallback", 2000) >= 0);
	assert_int_equal(wait_vcpus(0, 2), 0);
	/* A new agent takes over once healthy. */
	start_agent();
	assert_true(test_wait_waved_state(rundir, "offload", 20000) >= 0);
	assert_int_equal(wait_vcpus(1, 10), 0);
	/* waved stopping restores every baseline. */
	test_end(&agent_pid);
	test_end(&waved_pid);
	assert_int_equal(wait_vcpus(0, 2), 0);
}

static void stop_is_seen_as_event(void **state)
{
	char *s[] = { "build/bin/wavectl", "stop", lat, NULL };
	struct vmm_domain d;
	char why[512];

	need_root();
	assert_int_equal(test_run(s, 0), 0);
	assert_int_equal(test_vmm_wait_event(conn, VMM_EV_STOPPED, lat, 10000), 0);
	assert_int_equal(vmm_domain_lookup(conn, lat, &d, why, sizeof(why)), -ENOENT);
}

/* pid of the libvirtd this run started (scripts/libvirtd.sh records it), or 0. */
static pid_t our_libvirtd(void)
{
	char path[128], line[128];
	pid_t pid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/libvirtd.started", rundir);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "libvirtd ", 9))
			pid = (pid_t)atoi(line + 9);
	if (f)
		fclose(f);
	return pid;
}

static void libvirtd_restart_is_survived(void **state)
{
	char *start[] = { "scripts/libvirtd.sh", "start", NULL };
	struct vmm_domain d;
	char why[512];
	pid_t pid;

	need_root();
	pid = our_libvirtd();
	if (!pid)
		test_skip("libvirtd was not started by this test: not ours to restart");
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(test_vmm_wait_event(conn, VMM_EV_DISCONNECTED, NULL, 30000), 0);
	for (int i = 0; i < 100 && kill(pid, 0) == 0; i++)
		usleep(100000);
	assert_int_equal(test_run(start, 0), 0);
	assert_int_equal(test_vmm_wait_event(conn, VMM_EV_CONNECTED, NULL, 30000), 0);
	/* The batch VM kept running and is found again; no STOPPED for it. */
	assert_int_equal(vmm_domain_lookup(conn, bat, &d, why, sizeof(why)), 0);
	assert_int_equal(d.nr_vcpus, 2);
	vmm_domain_clear(&d);
	assert_int_equal(test_vmm_wait_event(conn, VMM_EV_STOPPED, bat, 2000), -ETIMEDOUT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(launch_both),
		cmocka_unit_test(discovery_matches_proc),
		cmocka_unit_test(echo_guest_answers_udp),
		cmocka_unit_test(spin_guest_reports_work),
		cmocka_unit_test(balloon_stats_via_qmp),
		cmocka_unit_test(an_unwatched_connection_calls_without_a_watch),
		cmocka_unit_test_teardown(memory_control_on_a_real_guest, memory_teardown),
		cmocka_unit_test_teardown(memory_reads_follow_the_guests_reports, reads_teardown),
		cmocka_unit_test(offloaded_loop_on_real_vms),
		cmocka_unit_test(stop_is_seen_as_event),
		cmocka_unit_test(libvirtd_restart_is_survived),
		cmocka_unit_test(operators_tools_under_wave),
	};

	wave_log_init("test-vms", WAVE_LOG_WARN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
