// SPDX-License-Identifier: BSD-3-Clause
/*
 * Scheduling mechanisms and their baselines (mech.h).
 *
 * Order when restoring: class first (a SCHED_DEADLINE thread cannot have
 * its affinity restricted, and a thread must leave DEADLINE before an
 * affinity change), then affinity, then the cgroup knobs.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/knob.h"
#include "common/log.h"
#include "common/procstat.h"
#include "kvm-hooks/mech.h"

/*
 * struct sched_attr as the kernel defines it (SCHED_ATTR_SIZE_VER0); the
 * uapi header cannot be included next to glibc's <sched.h>.
 */
struct sched_attr {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;
	uint64_t sched_deadline;
	uint64_t sched_period;
};
_Static_assert(sizeof(struct sched_attr) == 48, "SCHED_ATTR_SIZE_VER0");

static int sys_sched_setattr(pid_t tid, struct sched_attr *a)
{
	return syscall(SYS_sched_setattr, tid, a, 0) ? -errno : 0;
}

static int sys_sched_getattr(pid_t tid, struct sched_attr *a)
{
	return syscall(SYS_sched_getattr, tid, a, sizeof(*a), 0) ? -errno : 0;
}

/* The thread's start time (identifies it across tid reuse), or 0 if it is gone. */
static unsigned long long start_time(pid_t tid)
{
	struct wave_procstat ps;

	return wave_procstat(0, tid, &ps) ? 0 : ps.start;
}

int mech_thread_init(struct mech_thread *t, pid_t tid, const char *cgroup, int cg_version)
{
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	t->start = start_time(tid);
	if (!t->start)
		return -ESRCH;
	snprintf(t->cgroup, sizeof(t->cgroup), "%s", cgroup ? cgroup : "");
	t->cg_version = cg_version;
	return 0;
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

static int cg_write(const struct mech_thread *t, const char *file, const char *val)
{
	return wave_knob_write(t->cgroup, file, val);
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
	return cg_write(t, file, buf);
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

int mech_get(const struct mech_thread *t, struct mech_state *s)
{
	struct sched_attr a = { .size = sizeof(a) };
	int ret;

	memset(s, 0, sizeof(*s));
	s->weight = s->quota_us = s->period_us = -1;
	if (sched_getaffinity(t->tid, sizeof(s->affinity), &s->affinity))
		return -errno;
	if ((ret = sys_sched_getattr(t->tid, &a)))
		return ret;
	s->policy = (int)a.sched_policy;
	s->nice = a.sched_nice;
	s->rt_prio = a.sched_priority;
	s->dl_runtime = a.sched_runtime;
	s->dl_deadline = a.sched_deadline;
	s->dl_period = a.sched_period;
	if (t->cgroup[0]) {
		if (cg_read_i64(t, t->cg_version == 1 ? "cpu.shares" : "cpu.weight", &s->weight))
			s->weight = -1;
		if (read_quota(t, s))
			s->quota_us = s->period_us = -1;
	}
	return 0;
}

/* Records the baseline before the first change. */
static int baseline(struct mech_thread *t)
{
	int ret;

	if (t->changed)
		return 0;
	if ((ret = mech_get(t, &t->baseline)))
		return ret;
	t->changed = 1;
	return 0;
}

int mech_place(struct mech_thread *t, const cpu_set_t *cpus)
{
	int ret = baseline(t);

	if (ret)
		return ret;
	return sched_setaffinity(t->tid, sizeof(*cpus), cpus) ? -errno : 0;
}

int64_t mech_weight_to_shares(uint32_t weight)
{
	int64_t s = (int64_t)weight * 1024 / 100;

	return s < 2 ? 2 : s > 262144 ? 262144 : s;
}

int mech_weight_to_nice(uint32_t weight)
{
	/* Each nice step is a factor of about 1.25 in CFS weight. */
	double n = -log((double)weight / 100.0) / log(1.25);
	int v = (int)lround(n);

	return v < -20 ? -20 : v > 19 ? 19 : v;
}

static int set_nice(pid_t tid, int nice)
{
	return setpriority(PRIO_PROCESS, (id_t)tid, nice) ? -errno : 0;
}

int mech_weight(struct mech_thread *t, uint32_t weight)
{
	int ret = baseline(t);

	if (ret)
		return ret;
	if (t->cgroup[0] && t->baseline.weight >= 0)
		return t->cg_version == 1 ? cg_write_i64(t, "cpu.shares", mech_weight_to_shares(weight))
					  : cg_write_i64(t, "cpu.weight", weight);
	return set_nice(t->tid, mech_weight_to_nice(weight));
}

static int write_quota(const struct mech_thread *t, int64_t quota_us, int64_t period_us)
{
	char buf[64];
	int ret;

	if (!t->cgroup[0])
		return -EOPNOTSUPP;
	if (t->cg_version == 2) {
		if (quota_us < 0)
			snprintf(buf, sizeof(buf), "max %lld", (long long)period_us);
		else
			snprintf(buf, sizeof(buf), "%lld %lld", (long long)quota_us,
				 (long long)period_us);
		return cg_write(t, "cpu.max", buf);
	}
	/* v1: the period first, unless the quota would then not fit it. */
	ret = cg_write_i64(t, "cpu.cfs_period_us", period_us);
	if (!ret)
		ret = cg_write_i64(t, "cpu.cfs_quota_us", quota_us);
	return ret;
}

int mech_quota(struct mech_thread *t, uint32_t quota_us, uint32_t period_us)
{
	int ret = baseline(t);

	if (ret)
		return ret;
	return write_quota(t, quota_us == UINT32_MAX ? -1 : (int64_t)quota_us, period_us);
}

static int set_class(pid_t tid, int policy, unsigned int prio, int nice, uint64_t runtime,
		     uint64_t deadline, uint64_t period)
{
	struct sched_attr a = { .size = sizeof(a), .sched_policy = (uint32_t)policy }, cur;
	int was_dl = 0, ret;

	if (policy == SCHED_FIFO || policy == SCHED_RR)
		a.sched_priority = prio;
	else if (policy == SCHED_DEADLINE) {
		a.sched_runtime = runtime;
		a.sched_deadline = deadline;
		a.sched_period = period;
	} else
		a.sched_nice = nice;
	if (policy != SCHED_DEADLINE) {
		memset(&cur, 0, sizeof(cur));
		cur.size = sizeof(cur);
		was_dl = !sys_sched_getattr(tid, &cur) && cur.sched_policy == SCHED_DEADLINE;
	}
	ret = sys_sched_setattr(tid, &a);
	/* Leaving DEADLINE may leak its bandwidth (see mech_dl_repair): repair at once. */
	if (!ret && was_dl)
		mech_dl_repair();
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
 * (cgroup v1): about 50 us for two CPUs. Done after every switch away
 * from DEADLINE and on an EBUSY refusal, at most every 10 ms. A genuine
 * over-subscription stays refused: the retry fails the same way.
 */
#define MECH_DL_REPAIR_FILE "/sys/fs/cgroup/cpuset/cpuset.sched_load_balance"

int mech_dl_repair(void)
{
	static uint64_t last, repairs;
	struct timespec ts;
	uint64_t now;
	int fd, ret = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (last && now - last < 10000000ull)
		return -EAGAIN;
	last = now;
	if ((fd = open(MECH_DL_REPAIR_FILE, O_WRONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (write(fd, "0", 1) < 0 || write(fd, "1", 1) < 0)
		ret = -errno;
	close(fd);
	if (!ret && !repairs++)
		wave_info("mech: rebuilding the root domain's SCHED_DEADLINE accounting after "
			  "threads leave DEADLINE (works around a kernel leak)");
	return ret;
}

int mech_class(struct mech_thread *t, int policy, unsigned int prio, uint64_t runtime_ns,
	       uint64_t deadline_ns, uint64_t period_ns)
{
	int ret = baseline(t);

	if (ret)
		return ret;
	ret = set_class(t->tid, policy, prio, t->baseline.nice, runtime_ns, deadline_ns,
			period_ns);
	if (ret == -EBUSY && policy == SCHED_DEADLINE && !mech_dl_repair())
		ret = set_class(t->tid, policy, prio, t->baseline.nice, runtime_ns, deadline_ns,
				period_ns);
	return ret;
}

int mech_set(struct mech_thread *t, const struct mech_state *s)
{
	int ret, first = 0;

	ret = set_class(t->tid, s->policy, s->rt_prio, s->nice, s->dl_runtime, s->dl_deadline,
			s->dl_period);
	first = ret;
	if (sched_setaffinity(t->tid, sizeof(s->affinity), &s->affinity) && !first)
		first = -errno;
	if (t->cgroup[0] && s->weight >= 0) {
		ret = cg_write_i64(t, t->cg_version == 1 ? "cpu.shares" : "cpu.weight", s->weight);
		if (ret && !first)
			first = ret;
	}
	if (t->cgroup[0] && s->period_us > 0) {
		ret = write_quota(t, s->quota_us, s->period_us);
		if (ret && !first)
			first = ret;
	}
	return first;
}

int mech_restore(struct mech_thread *t)
{
	int ret;

	if (!t->changed)
		return 0;
	ret = mech_set(t, &t->baseline);
	/* A thread that is gone has nothing left to restore. */
	if (!ret || ret == -ESRCH)
		t->changed = 0;
	return ret == -ESRCH ? 0 : ret;
}

/*
 * Journal format, one changed thread per line, the cgroup path last (it is
 * the only field that could hold spaces):
 *   tid start cg_version policy nice rt_prio runtime deadline period
 *   weight quota_us period_us cpu,cpu,... cgroup-or-"-"
 */
static void format_cpus(const cpu_set_t *set, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int c = 0; c < CPU_SETSIZE && used + 8 < size; c++)
		if (CPU_ISSET(c, set))
			used += (size_t)snprintf(buf + used, size - used, "%s%d", used ? "," : "", c);
	if (!used)
		snprintf(buf, size, "-");
}

static void parse_cpus(const char *s, cpu_set_t *set)
{
	CPU_ZERO(set);
	while (*s && *s != '-') {
		int c = atoi(s);

		if (c >= 0 && c < CPU_SETSIZE)
			CPU_SET(c, set);
		s += strcspn(s, ",");
		if (*s == ',')
			s++;
	}
}

int mech_journal_write(const char *path, struct mech_thread *const *threads, unsigned int n)
{
	char tmp[4096], cpus[4096];
	unsigned int written = 0;
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!(f = fopen(tmp, "we")))
		return -errno;
	for (unsigned int i = 0; i < n; i++) {
		const struct mech_thread *t = threads[i];
		const struct mech_state *b = &t->baseline;

		if (!t->changed)
			continue;
		format_cpus(&b->affinity, cpus, sizeof(cpus));
		fprintf(f, "%d %llu %d %d %d %u %llu %llu %llu %lld %lld %lld %s %s\n", (int)t->tid,
			t->start, t->cg_version, b->policy, b->nice, b->rt_prio,
			(unsigned long long)b->dl_runtime, (unsigned long long)b->dl_deadline,
			(unsigned long long)b->dl_period, (long long)b->weight,
			(long long)b->quota_us, (long long)b->period_us, cpus,
			t->cgroup[0] ? t->cgroup : "-");
		written++;
	}
	if (fclose(f)) {
		unlink(tmp);
		return -EIO;
	}
	if (!written) {
		unlink(tmp);
		return unlink(path) && errno != ENOENT ? -errno : 0;
	}
	return rename(tmp, path) ? -errno : 0;
}

int mech_journal_repair(const char *path)
{
	char line[8192], cpus[4096], cg[MECH_CGROUP_MAX];
	int repaired = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), f)) {
		struct mech_thread t = { 0 };
		struct mech_state *b = &t.baseline;
		unsigned long long rt, dl, per;
		long long w, q, p;
		int tid, ver, pos = 0;

		if (sscanf(line, "%d %llu %d %d %d %u %llu %llu %llu %lld %lld %lld %4095s %n", &tid,
			   &t.start, &ver, &b->policy, &b->nice, &b->rt_prio, &rt, &dl, &per, &w, &q,
			   &p, cpus, &pos) < 13 || !pos) {
			wave_warn("journal %s: unreadable line skipped", path);
			continue;
		}
		snprintf(cg, sizeof(cg), "%.*s", (int)strcspn(line + pos, "\n"), line + pos);
		/* A thread that exited, or a new one with a reused tid, is left alone. */
		if (start_time(tid) != t.start)
			continue;
		t.tid = tid;
		t.cg_version = ver;
		snprintf(t.cgroup, sizeof(t.cgroup), "%s", strcmp(cg, "-") ? cg : "");
		b->dl_runtime = rt;
		b->dl_deadline = dl;
		b->dl_period = per;
		b->weight = w;
		b->quota_us = q;
		b->period_us = p;
		parse_cpus(cpus, &b->affinity);
		t.changed = 1;
		if (mech_restore(&t))
			wave_warn("journal: could not fully restore thread %d", tid);
		else
			repaired++;
	}
	fclose(f);
	unlink(path);
	return repaired;
}
