// SPDX-License-Identifier: BSD-3-Clause
/*
 * Scheduling mechanisms (kvm-hooks/mech.h) on a thread of this test: each
 * change, the baseline it records, restore, rollback to a snapshot, the
 * kernel's refusal passed back as -errno, and crash repair from the
 * journal. The cgroup knobs run on a cgroup this test creates and removes,
 * and on stand-in directories of both cgroup versions' files.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/log.h"
#include "kvm-hooks/mech.h"
#include "tests/mech-fake.h"
#include "tests/util.h"

static volatile int stop;
static pid_t tid;
static pthread_t thr;

static void *idler(void *arg)
{
	tid = (pid_t)syscall(SYS_gettid);
	while (!stop)
		usleep(1000);
	return NULL;
}

static int thread_setup(void **state)
{
	stop = 0;
	tid = 0;
	pthread_create(&thr, NULL, idler, NULL);
	while (!tid)
		usleep(100);
	return 0;
}

static char cgdir[128];

static int thread_teardown(void **state)
{
	stop = 1;
	pthread_join(thr, NULL);
	if (cgdir[0])
		rmdir(cgdir); /* a failed cgroup test leaves nothing behind */
	cgdir[0] = '\0';
	return 0;
}

static int ncpus(void)
{
	cpu_set_t s;

	sched_getaffinity(0, sizeof(s), &s);
	return CPU_COUNT(&s);
}

static void place_and_restore(void **state)
{
	struct mech_thread t;
	struct mech_state now;
	cpu_set_t one, before;

	if (ncpus() < 2)
		test_skip("needs two CPUs");
	assert_int_equal(mech_thread_init(&t, &mech_linux_ops, tid, NULL, 0), 0);
	sched_getaffinity(tid, sizeof(before), &before);
	CPU_ZERO(&one);
	CPU_SET(1, &one);
	assert_int_equal(mech_place(&t, &one), 0);
	assert_true(t.changed);
	assert_int_equal(mech_get(&t, &now), 0);
	assert_true(CPU_EQUAL(&now.affinity, &one));
	assert_int_equal(mech_restore(&t), 0);
	assert_false(t.changed);
	assert_int_equal(mech_get(&t, &now), 0);
	assert_true(CPU_EQUAL(&now.affinity, &before));
	/* An empty CPU set is the kernel's to refuse; nothing changes. */
	CPU_ZERO(&one);
	assert_int_equal(mech_place(&t, &one), -EINVAL);
	mech_restore(&t);
}

/*
 * An operator changes a thread Wave changed (as virsh vcpupin and a nice
 * change would): adopting takes their values as the baseline, so a restore
 * keeps them instead of putting back what Wave found.
 */
static void operator_changes_are_adopted(void **state)
{
	struct mech_thread t;
	struct mech_state now;
	cpu_set_t zero, one, before;

	if (ncpus() < 2)
		test_skip("needs two CPUs");
	assert_int_equal(mech_thread_init(&t, &mech_linux_ops, tid, "", 0), 0);
	sched_getaffinity(tid, sizeof(before), &before);
	assert_int_equal(mech_adopt(&t, NULL), 0); /* nothing changed yet: nothing to adopt */
	CPU_ZERO(&zero);
	CPU_SET(0, &zero);
	CPU_ZERO(&one);
	CPU_SET(1, &one);
	assert_int_equal(mech_place(&t, &zero), 0);
	assert_int_equal(mech_weight(&t, 50), 0); /* nice, no cgroup */
	/* Nobody else touched it: nothing to adopt, and the restore is Wave's baseline. */
	assert_int_equal(mech_adopt(&t, NULL), 0);
	/* A change rolled back (a transaction's undo) is Wave's too, not the operator's. */
	assert_int_equal(mech_get(&t, &now), 0);
	assert_int_equal(mech_weight(&t, 20), 0);
	assert_int_equal(mech_set(&t, &now), 0);
	assert_int_equal(mech_adopt(&t, NULL), 0);
	/* The operator pins it to CPU 1 and renices it. */
	assert_int_equal(sched_setaffinity(tid, sizeof(one), &one), 0);
	assert_int_equal(setpriority(PRIO_PROCESS, (id_t)tid, 7), 0);
	assert_int_equal(mech_adopt(&t, &one), MECH_K_AFFINITY | MECH_K_NICE);
	assert_int_equal(mech_restore(&t), 0);
	assert_int_equal(mech_get(&t, &now), 0);
	assert_true(CPU_EQUAL(&now.affinity, &one));
	assert_int_equal(now.nice, 7);
	/* Without a pin the affinity stays Wave's to restore; a later nice is adopted alone. */
	assert_int_equal(mech_place(&t, &zero), 0);
	assert_int_equal(setpriority(PRIO_PROCESS, (id_t)tid, 3), 0);
	assert_int_equal(mech_adopt(&t, NULL), MECH_K_NICE);
	assert_int_equal(mech_restore(&t), 0);
	assert_int_equal(mech_get(&t, &now), 0);
	assert_true(CPU_EQUAL(&now.affinity, &one));
	assert_int_equal(now.nice, 3);
	sched_setaffinity(tid, sizeof(before), &before);
	setpriority(PRIO_PROCESS, (id_t)tid, 0);
}

static void weight_without_cgroup_is_nice(void **state)
{
	struct mech_thread t;

	assert_int_equal(mech_weight_to_nice(100), 0);
	assert_int_equal(mech_weight_to_nice(1), 19);
	assert_int_equal(mech_weight_to_nice(10000), -20);
	assert_true(mech_weight_to_nice(50) > 0);
	assert_int_equal(mech_weight_to_shares(100), 1024);
	assert_int_equal(mech_weight_to_shares(1), 10);
	assert_int_equal(mech_thread_init(&t, &mech_linux_ops, tid, "", 0), 0);
	/* Lowering priority needs no privilege. */
	assert_int_equal(mech_weight(&t, 50), 0);
	assert_int_equal(getpriority(PRIO_PROCESS, (id_t)tid), mech_weight_to_nice(50));
	assert_int_equal(mech_restore(&t), 0);
	assert_int_equal(getpriority(PRIO_PROCESS, (id_t)tid), 0);
}

static void deadline_and_back(void **state)
{
	struct mech_thread t;
	struct mech_state now;
	int ret;

	assert_int_equal(mech_thread_init(&t, &mech_linux_ops, tid, NULL, 0), 0);
	ret = mech_class(&t, SCHED_DEADLINE, 0, 1000000, 5000000, 5000000);
	if (ret == -EPERM)
		test_skip("SCHED_DEADLINE needs root (CAP_SYS_NICE)");
	if (ret == -EBUSY) {
		/* Bandwidth leaked by threads that left DEADLINE earlier (waved repairs it alike). */
		assert_int_equal(mech_linux_ops.dl_repair(), 0);
		ret = mech_class(&t, SCHED_DEADLINE, 0, 1000000, 5000000, 5000000);
	}
	assert_int_equal(ret, 0);
	assert_int_equal(mech_get(&t, &now), 0);
	assert_int_equal(now.policy, SCHED_DEADLINE);
	assert_int_equal(now.dl_runtime, 1000000);
	/* runtime > deadline: the kernel refuses, and says so. */
	assert_int_equal(mech_class(&t, SCHED_DEADLINE, 0, 6000000, 5000000, 5000000), -EINVAL);
	assert_int_equal(mech_restore(&t), 0);
	assert_int_equal(mech_get(&t, &now), 0);
	assert_int_equal(now.policy, SCHED_OTHER);
	/* Reported, not repaired by the mechanism: the test repairs what it may have leaked. */
	assert_true(t.left_dl);
	mech_linux_ops.dl_repair();
}

static void snapshot_rollback(void **state)
{
	struct mech_thread t;
	struct mech_state snap, now;
	cpu_set_t one;

	if (ncpus() < 2)
		test_skip("needs two CPUs");
	assert_int_equal(mech_thread_init(&t, &mech_linux_ops, tid, NULL, 0), 0);
	assert_int_equal(mech_get(&t, &snap), 0);
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	assert_int_equal(mech_place(&t, &one), 0);
	assert_int_equal(mech_set(&t, &snap), 0);
	assert_int_equal(mech_get(&t, &now), 0);
	assert_true(CPU_EQUAL(&now.affinity, &snap.affinity));
	mech_restore(&t);
}

static void cgroup_knobs(void **state)
{
	struct mech_thread t;
	struct mech_state now;

	snprintf(cgdir, sizeof(cgdir), "/sys/fs/cgroup/cpu/wave-test-%d", (int)getpid());
	if (geteuid() != 0 || mkdir(cgdir, 0755)) {
		cgdir[0] = '\0';
		test_skip("needs root and the cgroup v1 cpu controller at /sys/fs/cgroup/cpu");
	}
	assert_int_equal(mech_thread_init(&t, &mech_linux_ops, tid, cgdir, 1), 0);
	assert_int_equal(mech_get(&t, &now), 0);
	assert_int_equal(now.weight, 1024);
	assert_int_equal(now.quota_us, -1);
	assert_int_equal(mech_weight(&t, 200), 0);
	assert_int_equal(mech_quota(&t, 20000, 100000), 0);
	assert_int_equal(mech_get(&t, &now), 0);
	assert_int_equal(now.weight, 2048);
	assert_int_equal(now.quota_us, 20000);
	assert_int_equal(now.period_us, 100000);
	/* A period below 1 ms is refused by the kernel. */
	assert_int_equal(mech_quota(&t, 20000, 10), -EINVAL);
	assert_int_equal(mech_restore(&t), 0);
	assert_int_equal(mech_get(&t, &now), 0);
	assert_int_equal(now.weight, 1024);
	assert_int_equal(now.quota_us, -1);
	assert_int_equal(rmdir(cgdir), 0);
	cgdir[0] = '\0';
}

/* Writes text into dir/file (a stand-in cgroup file). */
static void put(const char *dir, const char *file, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

/* The first line of dir/file. */
static const char *get(const char *dir, const char *file)
{
	static char buf[128];
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static void rm_standin(const char *dir)
{
	static const char *const files[] = { "cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us",
					     "cpu.weight", "cpu.max", "tasks", "cgroup.threads" };
	char path[256];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

/*
 * The knob formats of both cgroup versions, on a directory of plain files
 * laid out as the kernel lays out a cgroup (no root needed): v1 cpu.shares
 * and cpu.cfs_{quota,period}_us, v2 cpu.weight and "QUOTA PERIOD" / "max
 * PERIOD" in cpu.max. Read back, changed, restored.
 */
static void cgroup_formats_v1_and_v2(void **state)
{
	char dir[] = "/tmp/wave-test-cg-XXXXXX";
	struct mech_thread t;
	struct mech_state now;
	char me[32];

	snprintf(me, sizeof(me), "%d\n", (int)tid);
	for (int ver = 1; ver <= 2; ver++) {
		assert_non_null(mkdtemp(dir));
		put(dir, ver == 1 ? "tasks" : "cgroup.threads", me);
		if (ver == 1) {
			put(dir, "cpu.shares", "1024\n");
			put(dir, "cpu.cfs_quota_us", "-1\n");
			put(dir, "cpu.cfs_period_us", "100000\n");
		} else {
			put(dir, "cpu.weight", "100\n");
			put(dir, "cpu.max", "max 100000\n");
		}
		assert_int_equal(mech_thread_init(&t, &mech_linux_ops, tid, dir, ver), 0);
		assert_int_equal(mech_get(&t, &now), 0);
		assert_int_equal(now.weight, ver == 1 ? 1024 : 100);
		assert_int_equal(now.quota_us, -1);
		assert_int_equal(now.period_us, 100000);
		assert_int_equal(mech_weight(&t, 200), 0);
		assert_int_equal(mech_quota(&t, 20000, 50000), 0);
		if (ver == 1) {
			assert_string_equal(get(dir, "cpu.shares"), "2048");
			assert_string_equal(get(dir, "cpu.cfs_quota_us"), "20000");
			assert_string_equal(get(dir, "cpu.cfs_period_us"), "50000");
		} else {
			assert_string_equal(get(dir, "cpu.weight"), "200");
			assert_string_equal(get(dir, "cpu.max"), "20000 50000");
		}
		assert_int_equal(mech_get(&t, &now), 0);
		assert_int_equal(now.quota_us, 20000);
		assert_int_equal(now.period_us, 50000);
		assert_int_equal(mech_restore(&t), 0);
		if (ver == 1) {
			assert_string_equal(get(dir, "cpu.shares"), "1024");
			assert_string_equal(get(dir, "cpu.cfs_quota_us"), "-1");
			assert_string_equal(get(dir, "cpu.cfs_period_us"), "100000");
		} else {
			assert_string_equal(get(dir, "cpu.weight"), "100");
			assert_string_equal(get(dir, "cpu.max"), "max 100000");
		}
		/* Another thread joins the group: its knobs are no longer ours to turn. */
		snprintf(me, sizeof(me), "%d\n%d\n", (int)tid, (int)getpid());
		put(dir, ver == 1 ? "tasks" : "cgroup.threads", me);
		assert_int_equal(mech_thread_init(&t, &mech_linux_ops, tid, dir, ver), 0);
		assert_int_equal(mech_linux_ops.cg_exclusive(&t), -EBUSY);
		assert_int_equal(mech_weight(&t, 200), -EBUSY);
		assert_int_equal(mech_quota(&t, 20000, 50000), -EBUSY);
		assert_string_equal(get(dir, ver == 1 ? "cpu.shares" : "cpu.weight"),
				    ver == 1 ? "1024" : "100");
		mech_restore(&t);
		snprintf(me, sizeof(me), "%d\n", (int)tid);
		rm_standin(dir);
		strcpy(dir, "/tmp/wave-test-cg-XXXXXX");
	}
}

/*
 * The same on a real cgroup v2 hierarchy mounted by the test, where the
 * host gives cgroup2 the cpu controller (systemd hosts do). The knobs are
 * written on a child group of the test's own; no thread is moved.
 */
static void cgroup_v2_real(void **state)
{
	char mnt[] = "/tmp/wave-test-cg2-XXXXXX", dir[300], ctl[128] = "";
	struct mech_thread t;
	struct mech_state now;
	FILE *f;

	if (geteuid() != 0)
		test_skip("mounting cgroup2 needs root");
	assert_non_null(mkdtemp(mnt));
	if (mount("none", mnt, "cgroup2", 0, NULL)) {
		rmdir(mnt);
		test_skip("cannot mount cgroup2: %s", strerror(errno));
	}
	snprintf(dir, sizeof(dir), "%s/cgroup.subtree_control", mnt);
	if ((f = fopen(dir, "r"))) {
		if (!fgets(ctl, sizeof(ctl), f))
			ctl[0] = '\0';
		fclose(f);
	}
	if (!strstr(ctl, "cpu")) {
		umount(mnt);
		rmdir(mnt);
		test_skip("cgroup2 has no cpu controller here (it is bound to the v1 hierarchy)");
	}
	snprintf(dir, sizeof(dir), "%s/wave-test-%d", mnt, (int)getpid());
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(mech_thread_init(&t, &mech_linux_ops, tid, dir, 2), 0);
	assert_int_equal(mech_weight(&t, 200), 0);
	assert_int_equal(mech_quota(&t, 20000, 100000), 0);
	assert_int_equal(mech_get(&t, &now), 0);
	assert_int_equal(now.weight, 200);
	assert_int_equal(now.quota_us, 20000);
	assert_int_equal(mech_restore(&t), 0);
	assert_int_equal(mech_get(&t, &now), 0);
	assert_int_equal(now.weight, 100);
	assert_int_equal(now.quota_us, -1);
	rmdir(dir);
	umount(mnt);
	rmdir(mnt);
}

/* Leaving DEADLINE is reported to the caller; the mechanism never repairs host-wide itself. */
static void leaving_deadline_is_reported(void **state)
{
	struct mech_thread t;
	struct mech_state s;

	mech_fake_reset();
	mech_fake_thread(4242);
	assert_int_equal(mech_thread_init(&t, &mech_fake_ops, 4242, "", 1), 0);
	assert_int_equal(mech_class(&t, SCHED_DEADLINE, 0, 1000000, 5000000, 5000000), 0);
	assert_false(t.left_dl);
	assert_int_equal(mech_class(&t, SCHED_OTHER, 0, 0, 0, 0), 0);
	assert_true(t.left_dl);
	assert_int_equal(mech_fake_dl_repairs(), 0);
	/* Restoring a state puts the class back first: a DEADLINE thread's CPUs cannot shrink. */
	t.left_dl = 0;
	assert_int_equal(mech_get(&t, &s), 0);
	CPU_CLR(1, &s.affinity);
	assert_int_equal(mech_class(&t, SCHED_DEADLINE, 0, 1000000, 5000000, 5000000), 0);
	assert_int_equal(mech_set(&t, &s), 0);
	assert_true(mech_fake_same(mech_fake_state(4242), &s));
	assert_true(t.left_dl);
	/* The kernel's refusal comes back unchanged. */
	mech_fake_fail(0, EPERM);
	assert_int_equal(mech_weight(&t, 50), -EPERM);
	assert_int_equal(mech_restore(&t), 0);
	assert_true(mech_fake_same(mech_fake_state(4242), &t.baseline));
}

static void journal_repairs_after_a_crash(void **state)
{
	char path[] = "/tmp/wave-test-journal-XXXXXX";
	struct mech_thread t, *list[1] = { &t };
	struct mech_state now;
	cpu_set_t one, before;
	int fd = mkstemp(path);

	if (ncpus() < 2)
		test_skip("needs two CPUs");
	close(fd);
	sched_getaffinity(tid, sizeof(before), &before);
	assert_int_equal(mech_thread_init(&t, &mech_linux_ops, tid, NULL, 0), 0);
	CPU_ZERO(&one);
	CPU_SET(1, &one);
	assert_int_equal(mech_place(&t, &one), 0);
	assert_int_equal(mech_weight(&t, 40), 0);
	assert_int_equal(mech_journal_write(path, list, 1), 0);
	/* The daemon dies here; a new one finds the journal and repairs. */
	memset(&t, 0, sizeof(t));
	assert_int_equal(mech_journal_repair(path, &mech_linux_ops, NULL), 1);
	assert_int_equal(access(path, F_OK), -1);
	mech_thread_init(&t, &mech_linux_ops, tid, NULL, 0);
	assert_int_equal(mech_get(&t, &now), 0);
	assert_true(CPU_EQUAL(&now.affinity, &before));
	assert_int_equal(now.nice, 0);
	/* A journal naming a thread that is gone (or whose tid was reused) is ignored. */
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	dprintf(fd, "%d 1 0 0 0 0 0 0 0 -1 -1 -1 0 -\n", (int)tid);
	dprintf(fd, "garbage line\n");
	close(fd);
	assert_int_equal(mech_journal_repair(path, &mech_linux_ops, NULL), 0);
	/* Nothing changed: writing removes the journal. */
	assert_int_equal(mech_journal_write(path, list, 1), 0);
	assert_int_equal(access(path, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(place_and_restore, thread_setup, thread_teardown),
		cmocka_unit_test_setup_teardown(operator_changes_are_adopted, thread_setup,
						thread_teardown),
		cmocka_unit_test_setup_teardown(weight_without_cgroup_is_nice, thread_setup,
						thread_teardown),
		cmocka_unit_test_setup_teardown(deadline_and_back, thread_setup, thread_teardown),
		cmocka_unit_test_setup_teardown(snapshot_rollback, thread_setup, thread_teardown),
		cmocka_unit_test_setup_teardown(cgroup_knobs, thread_setup, thread_teardown),
		cmocka_unit_test_setup_teardown(cgroup_formats_v1_and_v2, thread_setup,
						thread_teardown),
		cmocka_unit_test_setup_teardown(cgroup_v2_real, thread_setup, thread_teardown),
		cmocka_unit_test(leaving_deadline_is_reported),
		cmocka_unit_test_setup_teardown(journal_repairs_after_a_crash, thread_setup,
						thread_teardown),
	};

	wave_log_init("test-mech", WAVE_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
