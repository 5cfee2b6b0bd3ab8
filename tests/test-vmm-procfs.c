// SPDX-License-Identifier: BSD-3-Clause
/*
 * /proc parsing (vmm/procfs.h): QEMU thread names, and the cgroup lookup on
 * fake /proc trees for the layouts libvirt produces (cgroup v1 without
 * systemd, v1 with systemd's machine.slice, pure v2, and v2 without the cpu
 * controller), plus the live values of this test's own threads.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/procfs.h"

static void vcpu_names(void **state)
{
	unsigned int idx;
	char accel[8];

	assert_int_equal(procfs_parse_vcpu_name("CPU 0/TCG", &idx, accel, sizeof(accel)), 0);
	assert_int_equal(idx, 0);
	assert_string_equal(accel, "TCG");
	assert_int_equal(procfs_parse_vcpu_name("CPU 13/KVM", &idx, accel, sizeof(accel)), 0);
	assert_int_equal(idx, 13);
	assert_string_equal(accel, "KVM");
	assert_int_equal(procfs_parse_vcpu_name("qemu-system-x86", &idx, NULL, 0), -EINVAL);
	assert_int_equal(procfs_parse_vcpu_name("IO mon_iothread", &idx, NULL, 0), -EINVAL);
	assert_int_equal(procfs_parse_vcpu_name("CPU x/TCG", &idx, NULL, 0), -EINVAL);
	assert_int_equal(procfs_parse_vcpu_name("CPU 1/TCG extra", &idx, NULL, 0), -EINVAL);
	assert_int_equal(procfs_parse_vcpu_name("CPU 1", &idx, NULL, 0), -EINVAL);
}

static char root[64];

static void put(const char *rel, const char *text)
{
	char path[256], dir[256], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	for (slash = dir + strlen(root) + 1; (slash = strchr(slash, '/')); slash++) {
		*slash = '\0';
		mkdir(dir, 0755);
		*slash = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int root_setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/wave-test-proc-XXXXXX");
	assert_non_null(mkdtemp(root));
	return 0;
}

static int root_teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static const char mounts_v1[] =
	"30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
	"33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
	"40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

static void cgroup_v1_without_systemd(void **state)
{
	char dir[512];
	int ver = 0;

	put("/proc/self/mountinfo", mounts_v1);
	put("/proc/77/cgroup", "0::/machine/qemu-2-lat.libvirt-qemu/vcpu1\n"
			       "3:cpuset:/machine/qemu-2-lat.libvirt-qemu/vcpu1\n"
			       "1:cpu,cpuacct:/machine/qemu-2-lat.libvirt-qemu/vcpu1\n");
	assert_int_equal(procfs_cpu_cgroup(root, 77, dir, sizeof(dir), &ver), 0);
	assert_int_equal(ver, 1);
	assert_string_equal(dir, "/sys/fs/cgroup/cpu,cpuacct/machine/qemu-2-lat.libvirt-qemu/vcpu1");
}

static void cgroup_v1_with_systemd(void **state)
{
	char dir[512];
	int ver = 0;

	put("/proc/self/mountinfo", mounts_v1);
	put("/proc/78/cgroup", "1:cpu,cpuacct:/machine.slice/machine-qemu\\x2d1\\x2dlat.scope/"
			       "libvirt/vcpu0\n");
	assert_int_equal(procfs_cpu_cgroup(root, 78, dir, sizeof(dir), &ver), 0);
	assert_string_equal(dir, "/sys/fs/cgroup/cpu,cpuacct/machine.slice/"
				 "machine-qemu\\x2d1\\x2dlat.scope/libvirt/vcpu0");
}

static void cgroup_v2_needs_cpu_controller(void **state)
{
	char dir[512];
	int ver = 0;

	put("/proc/self/mountinfo", "25 1 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
	put("/proc/79/cgroup", "0::/machine.slice/machine-qemu\\x2d1\\x2dlat.scope/libvirt/vcpu0\n");
	put("/sys/fs/cgroup/cgroup.controllers", "cpuset io memory pids\n");
	assert_int_equal(procfs_cpu_cgroup(root, 79, dir, sizeof(dir), &ver), -ENOENT);
	put("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n");
	assert_int_equal(procfs_cpu_cgroup(root, 79, dir, sizeof(dir), &ver), 0);
	assert_int_equal(ver, 2);
	assert_string_equal(dir, "/sys/fs/cgroup/machine.slice/machine-qemu\\x2d1\\x2dlat.scope/"
				 "libvirt/vcpu0");
}

static void cgroup_of_a_gone_thread(void **state)
{
	char dir[512];
	int ver;

	put("/proc/self/mountinfo", mounts_v1);
	assert_int_equal(procfs_cpu_cgroup(root, 80, dir, sizeof(dir), &ver), -ENOENT);
}

/* A thread in the root cgroup has none to tune: the root is the whole host's. */
static void root_cgroup_is_never_returned(void **state)
{
	char dir[512];
	int ver;

	put("/proc/self/mountinfo", mounts_v1);
	put("/proc/81/cgroup", "1:cpu,cpuacct:/\n0::/\n");
	assert_int_equal(procfs_cpu_cgroup(root, 81, dir, sizeof(dir), &ver), -ENOENT);
}

static volatile int stop_threads;

static void *named_thread(void *arg)
{
	pthread_setname_np(pthread_self(), arg);
	while (!stop_threads)
		usleep(1000);
	return NULL;
}

struct seen {
	unsigned int n, mask;
};

static void count_vcpu(pid_t tid, unsigned int index, const char *accel, void *arg)
{
	struct seen *s = arg;

	assert_string_equal(accel, "TCG");
	assert_true(tid > 0);
	s->n++;
	s->mask |= 1u << index;
}

/* This process, with threads named like QEMU's, as the kernel reports it. */
static void live_threads(void **state)
{
	pthread_t t[3];
	struct seen s = { 0 };
	char name[32];

	pthread_create(&t[0], NULL, named_thread, "CPU 0/TCG");
	pthread_create(&t[1], NULL, named_thread, "CPU 2/TCG");
	pthread_create(&t[2], NULL, named_thread, "IO iothread1");
	usleep(50000);
	assert_int_equal(procfs_for_each_vcpu(getpid(), count_vcpu, &s), 2);
	assert_int_equal(s.mask, 0x5);
	assert_int_equal(procfs_tgid((pid_t)syscall(SYS_gettid)), getpid());
	assert_int_equal(procfs_comm(getpid(), getpid(), name, sizeof(name)), 0);
	assert_true(procfs_last_cpu(getpid()) >= 0);
	stop_threads = 1;
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	assert_true(procfs_tgid(999999999) < 0);
	assert_true(procfs_last_cpu(999999999) < 0);
	assert_true(procfs_for_each_vcpu(999999999, count_vcpu, &s) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vcpu_names),
		cmocka_unit_test_setup_teardown(cgroup_v1_without_systemd, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(cgroup_v1_with_systemd, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(cgroup_v2_needs_cpu_controller, root_setup,
						root_teardown),
		cmocka_unit_test_setup_teardown(cgroup_of_a_gone_thread, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(root_cgroup_is_never_returned, root_setup,
						root_teardown),
		cmocka_unit_test(live_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
