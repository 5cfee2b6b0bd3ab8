// SPDX-License-Identifier: BSD-3-Clause
/*
 * test-vms, its operators' tools case: real virsh (vcpupin, metadata
 * --live, schedinfo, suspend/resume, setmem, shutdown, destroy) and
 * wavectl pin on the real VMs while waved and wave-agent (latency policy)
 * run. Apart from test-vms.c, whose VMs and group teardown it uses
 * (tests/vms.h), because it has helpers of its own: waved's status read
 * per field, where each vCPU may run, the vCPUs' CFS quota.
 */
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "tests/util.h"
#include "tests/vms.h"
#include "vmm/conn.h"

/* waved's status document, through tests/util.c, for this test's rundir. */
static void field(const char *name, int idx, const char *key, char *out, size_t size)
{
	test_status_field(rundir, name, idx, key, out, size);
}

static int64_t stat_of(const char *key)
{
	return test_status_stat(rundir, key);
}

static int wait_field(const char *name, int idx, const char *key, const char *want, int timeout_s)
{
	return test_wait_status_field(rundir, name, idx, key, want, timeout_s);
}

static int wait_stat_above(const char *key, int64_t above, int timeout_s)
{
	return test_wait_status_stat_above(rundir, key, above, timeout_s);
}

static int only_cpu(const char *name, unsigned int idx, int cpu)
{
	struct vmm_domain d;
	char why[512];
	cpu_set_t s;
	int ok = 0;

	if (vmm_domain_lookup(conn, name, &d, why, sizeof(why)))
		return 0;
	for (unsigned int k = 0; k < d.nr_vcpus; k++)
		if (d.vcpus[k].index == idx && !sched_getaffinity(d.vcpus[k].tid, sizeof(s), &s))
			ok = CPU_COUNT(&s) == 1 && CPU_ISSET(cpu, &s);
	vmm_domain_clear(&d);
	return ok;
}

/* The emulator thread (QEMU's main thread) runs on exactly CPU cpu, outside SCHED_DEADLINE. */
static int emulator_only_cpu(const char *name, int cpu)
{
	struct vmm_domain d;
	char why[512];
	cpu_set_t s;
	int ok;

	if (vmm_domain_lookup(conn, name, &d, why, sizeof(why)))
		return 0;
	ok = !sched_getaffinity(d.emulator.tid, sizeof(s), &s) && CPU_COUNT(&s) == 1 &&
	     CPU_ISSET(cpu, &s) && sched_getscheduler(d.emulator.tid) != SCHED_DEADLINE;
	vmm_domain_clear(&d);
	return ok;
}

/* Whether Wave holds (has changed) either of the batch VM's vCPU threads. */
static int bat_held(void)
{
	char got[16];
	int held = 0;

	for (int k = 0; k < 2; k++) {
		field(bat, k, "managed", got, sizeof(got));
		held |= !strcmp(got, "true");
	}
	return held;
}

/* vCPU idx's CFS quota (cgroup v1 cpu.cfs_quota_us, v2 the first field of cpu.max), or -2. */
static long long vcpu_quota(const char *name, unsigned int idx)
{
	struct vmm_domain d;
	char why[512], path[VMM_PATH_MAX + 32], buf[64] = "";
	long long q = -2;
	FILE *f = NULL;

	if (vmm_domain_lookup(conn, name, &d, why, sizeof(why)))
		return q;
	for (unsigned int k = 0; k < d.nr_vcpus && !f; k++)
		if (d.vcpus[k].index == idx && d.vcpus[k].cgroup[0]) {
			snprintf(path, sizeof(path), "%s/cpu.cfs_quota_us", d.vcpus[k].cgroup);
			if (!(f = fopen(path, "r"))) {
				snprintf(path, sizeof(path), "%s/cpu.max", d.vcpus[k].cgroup);
				f = fopen(path, "r");
			}
		}
	if (f && fgets(buf, sizeof(buf), f))
		q = !strncmp(buf, "max", 3) ? -1 : atoll(buf);
	if (f)
		fclose(f);
	vmm_domain_clear(&d);
	return q;
}

/*
 * Operators keep their tools while waved and wave-agent (latency policy) run:
 * wavectl pin on a vCPU in SCHED_DEADLINE, virsh vcpupin on one that is not,
 * live metadata (a bad value refused, the old kept; a good one taken),
 * schedinfo adopted (counted where Wave held the VM throughout) and not
 * fought, suspend/resume and setmem reported, a shutdown request and a
 * destroy survived. The batch VM still runs from the cases before; the
 * latency VM is launched again.
 */
void operators_tools_under_wave(void **state)
{
	char *l[] = { "build/bin/wavectl", "launch", "images/xml/latency-echo.xml", "--name", lat,
		      NULL };
	char *pin[] = { "build/bin/wavectl", "pin", lat, "1", "1", NULL };
	char *pin_emu[] = { "build/bin/wavectl", "pin", lat, "emulator", "0", NULL };
	char *wv[] = { "build/bin/waved", "--match", name_prefix, "--channel", chan_uri, "--rundir",
		       rundir, "--lag-threshold", "20", "--handback", "10", NULL };
	char *ag[] = { "build/bin/wave-agent", "--channel", chan_uri, "--policy", "latency", NULL };
	char got[256];
	int64_t n;
	int held;

	need_root();
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		test_skip("needs two CPUs");
	assert_int_equal(test_run(l, 0), 0);
	assert_int_equal(test_vmm_wait_event(conn, VMM_EV_STARTED, lat, 10000), 0);
	waved_pid = test_spawn(wv);
	agent_pid = test_spawn(ag);
	assert_true(test_wait_waved_state(rundir, "offload", 20000) >= 0);

	/* A vCPU in SCHED_DEADLINE: vcpupin cannot, wavectl pin can, and Wave keeps to it. */
	assert_int_equal(wait_field(lat, 1, "sched", "deadline", 20), 0);
	assert_int_equal(test_run(pin, 0), 0);
	assert_int_equal(wait_field(lat, 1, "pinned", "1", 10), 0);
	assert_true(only_cpu(lat, 1, 1));
	sleep(2);
	assert_true(only_cpu(lat, 1, 1));
	field(lat, 1, "sched", got, sizeof(got));
	assert_string_equal(got, "other");
	assert_int_equal(wait_field(lat, 0, "sched", "deadline", 10), 0); /* the other keeps its own */
	/* The emulator thread, reserved for too, the same way. */
	assert_int_equal(test_run(pin_emu, 0), 0);
	sleep(2);
	assert_true(emulator_only_cpu(lat, 0));

	/* virsh vcpupin on a vCPU that is not in DEADLINE: followed, and kept. */
	assert_int_equal(virsh("vcpupin", bat, "0", "0", "--live", NULL, NULL), 0);
	assert_int_equal(wait_field(bat, 0, "pinned", "0", 5), 0);
	sleep(2);
	assert_true(only_cpu(bat, 0, 0));

	/* Live metadata: a bad value is refused whole, a good one taken within a second or two. */
	n = stat_of("metadata_refused");
	assert_int_equal(virsh("metadata", bat, "urn:wave-vm:domain:1", "--key", "wave", "--set",
			       "<vm class='fast' weight='300'/>"), 0);
	assert_int_equal(wait_stat_above("metadata_refused", n, 5), 0);
	field(bat, -1, "metadata_refused", got, sizeof(got));
	assert_non_null(strstr(got, "class='fast'"));
	field(bat, -1, "class", got, sizeof(got));
	assert_string_equal(got, "batch");
	field(bat, -1, "weight", got, sizeof(got));
	assert_string_equal(got, "100");
	assert_int_equal(virsh("metadata", bat, "urn:wave-vm:domain:1", "--key", "wave", "--set",
			       "<vm class='batch' weight='300'/>"), 0);
	assert_int_equal(wait_field(bat, -1, "weight", "300", 5), 0);

	/*
	 * schedinfo: the operator's quota is kept, and is what Wave leaves
	 * behind. A thread Wave holds adopts it (counted). One it lets go of
	 * meanwhile (the policy may have nothing to change on it for a while)
	 * has nothing to adopt, and takes the quota as its baseline when Wave
	 * holds it again: the count is asserted only if Wave held the VM
	 * throughout; what stays of the quota is asserted either way.
	 */
	n = stat_of("tunings_adopted");
	held = bat_held();
	assert_int_equal(virsh("schedinfo", bat, "--live", "--set", "vcpu_quota=50000", NULL, NULL),
			 0);
	for (int i = 0; i < 50 && held && stat_of("tunings_adopted") == n; i++) {
		held = bat_held();
		usleep(100000);
	}
	if (held)
		assert_true(stat_of("tunings_adopted") > n);
	sleep(2);
	assert_int_equal(vcpu_quota(bat, 1), 50000);

	/* Pause, resume, a new balloon target: reported, nothing fought. */
	assert_int_equal(virsh("suspend", bat, NULL, NULL, NULL, NULL, NULL), 0);
	assert_int_equal(wait_field(bat, -1, "state", "paused", 5), 0);
	assert_int_equal(virsh("resume", bat, NULL, NULL, NULL, NULL, NULL), 0);
	assert_int_equal(wait_field(bat, -1, "state", "running", 5), 0);
	assert_int_equal(virsh("setmem", bat, "200M", "--live", NULL, NULL, NULL), 0);
	assert_int_equal(wait_field(bat, -1, "memory_kib", "204800", 30), 0);

	/* A shutdown request (the guest ignores ACPI) and a destroy: waved stays up. */
	assert_int_equal(virsh("shutdown", bat, NULL, NULL, NULL, NULL, NULL), 0);
	assert_int_equal(virsh("destroy", lat, NULL, NULL, NULL, NULL, NULL), 0);
	for (int i = 0; i < 50; i++) {
		json_object *doc;
		int gone = !test_status_vm(rundir, lat, &doc) && doc;

		json_object_put(doc);
		if (gone)
			break;
		usleep(100000);
	}
	field(lat, -1, "name", got, sizeof(got));
	assert_string_equal(got, "");
	assert_int_equal(kill(waved_pid, 0), 0);
	field(bat, -1, "class", got, sizeof(got));
	assert_string_equal(got, "batch");

	/* waved lets go: the operator's pin and quota stay. */
	test_end(&agent_pid);
	test_end(&waved_pid);
	assert_true(only_cpu(bat, 0, 0));
	assert_int_equal(vcpu_quota(bat, 1), 50000);
}
