// SPDX-License-Identifier: BSD-3-Clause
/*
 * The Linux side of the scheduling mechanisms (mech.h): sched_setaffinity,
 * sched_setattr, setpriority and the thread's CPU cgroup files, v1 or v2.
 *
 * Order matters to callers, not here: a SCHED_DEADLINE thread cannot have
 * its affinity narrowed (EBUSY), so mech_set() leaves DEADLINE first.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/knob.h"
#include "common/log.h"
#include "common/procstat.h"
#include "common/sched-attr.h"
#include "kvm-hooks/mech.h"

static unsigned long long linux_identity(pid_t tid)
{
	struct wave_procstat ps;

	return wave_procstat(0, tid, &ps) ? 0 : ps.start;
}

/* cgroup file access: 0 or -errno. */
static int cg_read(const struct mech_thread *t, const char *file, char *buf, size_t size)
{
	char path[MECH_CGROUP_MAX + 64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", t->cgroup, file);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int cg_read_i64(const struct mech_thread *t, const char *file, int64_t *v)
{
	char buf[64];
	int ret = cg_read(t, file, buf, sizeof(buf));

	if (!ret)
		*v = strtoll(buf, NULL, 10);
	return ret;
}

static int cg_write_i64(const struct mech_thread *t, const char *file, int64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	return wave_knob_write(t->cgroup, file, buf);
}

static int read_quota(const struct mech_thread *t, struct mech_state *s)
{
	char buf[64];
	int ret;

	if (t->cg_version == 1) {
		ret = cg_read_i64(t, "cpu.cfs_quota_us", &s->quota_us);
		return ret ? ret : cg_read_i64(t, "cpu.cfs_period_us", &s->period_us);
	}
	if ((ret = cg_read(t, "cpu.max", buf, sizeof(buf))))
		return ret;
	s->quota_us = strncmp(buf, "max", 3) ? strtoll(buf, NULL, 10) : -1;
	s->period_us = strtoll(buf + strcspn(buf, " "), NULL, 10);
	return 0;
}

static const char *weight_file(const struct mech_thread *t)
{
	return t->cg_version == 1 ? "cpu.shares" : "cpu.weight";
}

static int linux_get(const struct mech_thread *t, struct mech_state *s)
{
	struct sched_attr a = { .size = sizeof(a) };
	int ret;

	memset(s, 0, sizeof(*s));
	s->weight = s->quota_us = s->period_us = -1;
	if (sched_getaffinity(t->tid, sizeof(s->affinity), &s->affinity))
		return -errno;
	if ((ret = wave_sched_getattr(t->tid, &a)))
		return ret;
	s->policy = (int)a.sched_policy;
	s->nice = a.sched_nice;
	s->rt_prio = a.sched_priority;
	s->dl_runtime = a.sched_runtime;
	s->dl_deadline = a.sched_deadline;
	s->dl_period = a.sched_period;
	if (t->cgroup[0]) {
		if (cg_read_i64(t, weight_file(t), &s->weight))
			s->weight = -1;
		if (read_quota(t, s))
			s->quota_us = s->period_us = -1;
	}
	return 0;
}

static int linux_affinity(const struct mech_thread *t, const cpu_set_t *cpus)
{
	return sched_setaffinity(t->tid, sizeof(*cpus), cpus) ? -errno : 0;
}

static int linux_nice(const struct mech_thread *t, int nice)
{
	return setpriority(PRIO_PROCESS, (id_t)t->tid, nice) ? -errno : 0;
}

/*
 * A cgroup's knobs are changed only while it holds this thread alone
 * (libvirt's per-vCPU groups): in a shared group they would throttle or
 * favour threads that are not ours. 0, or -EBUSY if another thread is in it.
 */
static int cg_exclusive(const struct mech_thread *t)
{
	char path[MECH_CGROUP_MAX + 32], line[32];
	int ret = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", t->cgroup,
		 t->cg_version == 1 ? "tasks" : "cgroup.threads");
	if (!(f = fopen(path, "re")))
		return -errno;
	while (!ret && fgets(line, sizeof(line), f))
		if (atoi(line) != (int)t->tid)
			ret = -EBUSY;
	fclose(f);
	return ret;
}

static int linux_cg_weight(const struct mech_thread *t, int64_t raw)
{
	int ret;

	if (!t->cgroup[0])
		return -EOPNOTSUPP;
	return (ret = cg_exclusive(t)) ? ret : cg_write_i64(t, weight_file(t), raw);
}

static int linux_quota(const struct mech_thread *t, int64_t quota_us, int64_t period_us)
{
	char buf[64];
	int64_t old;
	int ret;

	if (!t->cgroup[0])
		return -EOPNOTSUPP;
	if ((ret = cg_exclusive(t)))
		return ret;
	if (t->cg_version == 2) {
		if (quota_us < 0)
			snprintf(buf, sizeof(buf), "max %lld", (long long)period_us);
		else
			snprintf(buf, sizeof(buf), "%lld %lld", (long long)quota_us,
				 (long long)period_us);
		return wave_knob_write(t->cgroup, "cpu.max", buf);
	}
	/*
	 * v1: two files, the period first. If the quota is then refused, the
	 * old period goes back: a refused change leaves nothing changed.
	 */
	if ((ret = cg_read_i64(t, "cpu.cfs_period_us", &old)))
		return ret;
	ret = cg_write_i64(t, "cpu.cfs_period_us", period_us);
	if (!ret && (ret = cg_write_i64(t, "cpu.cfs_quota_us", quota_us)))
		cg_write_i64(t, "cpu.cfs_period_us", old);
	return ret;
}

static int linux_sched_class(const struct mech_thread *t, const struct mech_state *s,
			     int *left_dl)
{
	struct sched_attr a = { .size = sizeof(a), .sched_policy = (uint32_t)s->policy }, cur;
	int was_dl = 0, ret;

	if (s->policy == SCHED_FIFO || s->policy == SCHED_RR) {
		a.sched_priority = s->rt_prio;
	} else if (s->policy == SCHED_DEADLINE) {
		a.sched_runtime = s->dl_runtime;
		a.sched_deadline = s->dl_deadline;
		a.sched_period = s->dl_period;
	} else {
		a.sched_nice = s->nice;
	}
	if (s->policy != SCHED_DEADLINE) {
		memset(&cur, 0, sizeof(cur));
		cur.size = sizeof(cur);
		was_dl = !wave_sched_getattr(t->tid, &cur) && cur.sched_policy == SCHED_DEADLINE;
	}
	ret = wave_sched_setattr(t->tid, &a);
	if (!ret && was_dl)
		*left_dl = 1;
	return ret;
}

/*
 * Some kernels leak SCHED_DEADLINE bandwidth: a thread switched from
 * DEADLINE to another class while it sleeps (between its deadline and its
 * 0-lag time, by the look of it) does not give its reservation back to the
 * root domain's accounting (seen on 6.18 here: dl_bw->total_bw keeps it;
 * a running thread gives it back), so after a few such switches every
 * admission fails with EBUSY while no DEADLINE task runs. Rebuilding the
 * root domain recomputes the accounting from the DEADLINE tasks that
 * really exist; toggling the root cpuset's sched_load_balance does that
 * (cgroup v1): about 50 us for two CPUs. When to do it is the caller's
 * (waved: after threads leave DEADLINE, and on an EBUSY admission). A
 * genuine over-subscription stays refused: the retry fails the same way.
 */
#define DL_REPAIR_DIR  "/sys/fs/cgroup/cpuset"
#define DL_REPAIR_FILE "cpuset.sched_load_balance"

static int linux_dl_repair(void)
{
	char path[128], old[8] = "";
	int ret;
	FILE *f;

	/* Toggle and put back what was there (an operator may have turned it off). */
	snprintf(path, sizeof(path), "%s/%s", DL_REPAIR_DIR, DL_REPAIR_FILE);
	if (!(f = fopen(path, "re")))
		return -errno;
	if (!fgets(old, sizeof(old), f))
		old[0] = '\0';
	fclose(f);
	if (old[0] != '0' && old[0] != '1')
		return -EIO;
	old[1] = '\0';
	if ((ret = wave_knob_write(DL_REPAIR_DIR, DL_REPAIR_FILE, old[0] == '1' ? "0" : "1")))
		return ret;
	/* The host's scheduling domains must not be left flipped: try twice. */
	if ((ret = wave_knob_write(DL_REPAIR_DIR, DL_REPAIR_FILE, old)) &&
	    (ret = wave_knob_write(DL_REPAIR_DIR, DL_REPAIR_FILE, old)))
		wave_err("mech: %s is left at %s, not %s: %s: set it back by hand", path,
			 old[0] == '1' ? "0" : "1", old, strerror(-ret));
	return ret;
}

const struct mech_ops mech_linux_ops = {
	.name = "linux",
	.identity = linux_identity,
	.get = linux_get,
	.affinity = linux_affinity,
	.nice = linux_nice,
	.cg_weight = linux_cg_weight,
	.quota = linux_quota,
	.sched_class = linux_sched_class,
	.cg_exclusive = cg_exclusive,
	.dl_repair = linux_dl_repair,
};
