// SPDX-License-Identifier: BSD-3-Clause
/*
 * Scheduling mechanisms and their baselines (mech.h): what is the same
 * whatever struct mech_ops does the work.
 *
 * Order when restoring: class first (a SCHED_DEADLINE thread cannot have
 * its affinity restricted, and a thread must leave DEADLINE before an
 * affinity change), then affinity, then the cgroup knobs.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "kvm-hooks/mech.h"

int mech_thread_init(struct mech_thread *t, const struct mech_ops *ops, pid_t tid,
		     const char *cgroup, int cg_version)
{
	memset(t, 0, sizeof(*t));
	t->ops = ops;
	t->tid = tid;
	t->start = ops->identity(tid);
	if (!t->start)
		return -ESRCH;
	snprintf(t->cgroup, sizeof(t->cgroup), "%s", cgroup ? cgroup : "");
	t->cg_version = cg_version;
	return 0;
}

int mech_get(const struct mech_thread *t, struct mech_state *s)
{
	return t->ops->get(t, s);
}

/* The scheduling class of from (policy, priority, DEADLINE parameters) into to. */
static void copy_class(struct mech_state *to, const struct mech_state *from)
{
	to->policy = from->policy;
	to->rt_prio = from->rt_prio;
	to->dl_runtime = from->dl_runtime;
	to->dl_deadline = from->dl_deadline;
	to->dl_period = from->dl_period;
}

/*
 * Before every change: is tid still the thread we started managing? A
 * thread that exited may have its tid reused by an unrelated process, which
 * must never receive a decision or a restore. -ESRCH if not.
 */
static int same_thread(const struct mech_thread *t)
{
	return t->ops->identity(t->tid) == t->start ? 0 : -ESRCH;
}

/* Records the baseline before the first change (and checks the thread is still ours). */
static int baseline(struct mech_thread *t)
{
	int ret;

	if ((ret = same_thread(t)))
		return ret;
	if (t->changed)
		return 0;
	if ((ret = mech_get(t, &t->baseline)))
		return ret;
	t->last = t->baseline;
	t->changed = 1;
	return 0;
}

int mech_place(struct mech_thread *t, const cpu_set_t *cpus)
{
	int ret = baseline(t);

	if (!ret && !(ret = t->ops->affinity(t, cpus)))
		t->last.affinity = *cpus;
	return ret;
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

int mech_weight(struct mech_thread *t, uint32_t weight)
{
	int ret = baseline(t);

	if (ret)
		return ret;
	if (t->cgroup[0] && t->baseline.weight >= 0) {
		int64_t raw = t->cg_version == 1 ? mech_weight_to_shares(weight) : (int64_t)weight;

		if (!(ret = t->ops->cg_weight(t, raw)))
			t->last.weight = raw;
		return ret;
	}
	if (!(ret = t->ops->nice(t, mech_weight_to_nice(weight))))
		t->last.nice = mech_weight_to_nice(weight);
	return ret;
}

int mech_quota(struct mech_thread *t, uint32_t quota_us, uint32_t period_us)
{
	int ret = baseline(t);

	if (ret)
		return ret;
	if (!t->cgroup[0])
		return -EOPNOTSUPP;
	ret = t->ops->quota(t, quota_us == UINT32_MAX ? -1 : (int64_t)quota_us, period_us);
	if (!ret) {
		t->last.quota_us = quota_us == UINT32_MAX ? -1 : (int64_t)quota_us;
		t->last.period_us = period_us;
	}
	return ret;
}

int mech_class(struct mech_thread *t, int policy, unsigned int prio, uint64_t runtime_ns,
	       uint64_t deadline_ns, uint64_t period_ns)
{
	struct mech_state s = { .policy = policy, .rt_prio = prio, .dl_runtime = runtime_ns,
				.dl_deadline = deadline_ns, .dl_period = period_ns };
	int ret = baseline(t);

	if (ret)
		return ret;
	s.nice = t->baseline.nice;
	if ((ret = t->ops->sched_class(t, &s, &t->left_dl)))
		return ret;
	copy_class(&t->last, &s);
	t->last.nice = s.nice;
	return 0;
}

/* Every setting of s, the class first (a DEADLINE thread's affinity cannot be narrowed). */
int mech_set(struct mech_thread *t, const struct mech_state *s)
{
	int ret, first;

	if ((ret = same_thread(t)))
		return ret;
	/* What Wave set last follows every setting that took (mech_adopt compares with it). */
	if (!(first = t->ops->sched_class(t, s, &t->left_dl))) {
		copy_class(&t->last, s);
		t->last.nice = s->nice;
	}
	if (!(ret = t->ops->affinity(t, &s->affinity)))
		t->last.affinity = s->affinity;
	else if (!first)
		first = ret;
	if (t->cgroup[0] && s->weight >= 0) {
		if (!(ret = t->ops->cg_weight(t, s->weight)))
			t->last.weight = s->weight;
		else if (!first)
			first = ret;
	}
	if (t->cgroup[0] && s->period_us > 0) {
		if (!(ret = t->ops->quota(t, s->quota_us, s->period_us))) {
			t->last.quota_us = s->quota_us;
			t->last.period_us = s->period_us;
		} else if (!first) {
			first = ret;
		}
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

static int same_class(const struct mech_state *a, const struct mech_state *b)
{
	if (a->policy != b->policy)
		return 0;
	if (a->policy == SCHED_DEADLINE)
		return a->dl_runtime == b->dl_runtime && a->dl_deadline == b->dl_deadline &&
		       a->dl_period == b->dl_period;
	return a->policy != SCHED_FIFO && a->policy != SCHED_RR ? 1 : a->rt_prio == b->rt_prio;
}

int mech_adopt(struct mech_thread *t, const cpu_set_t *pin)
{
	struct mech_state now;
	int ret, adopted = 0;

	if (!t->changed)
		return 0;
	if ((ret = same_thread(t)) || (ret = mech_get(t, &now)))
		return ret;
	if (pin && !CPU_EQUAL(pin, &t->baseline.affinity)) {
		t->baseline.affinity = *pin;
		adopted |= MECH_K_AFFINITY;
	}
	if (pin)
		t->last.affinity = now.affinity;
	if (!same_class(&now, &t->last)) {
		copy_class(&t->baseline, &now);
		adopted |= MECH_K_CLASS;
	}
	/* The kernel reports a nice value for CFS threads only. */
	if (now.nice != t->last.nice && now.policy == SCHED_OTHER && t->last.policy == SCHED_OTHER) {
		t->baseline.nice = now.nice;
		adopted |= MECH_K_NICE;
	}
	if (now.weight != t->last.weight) {
		t->baseline.weight = now.weight;
		adopted |= MECH_K_WEIGHT;
	}
	if (now.quota_us != t->last.quota_us || now.period_us != t->last.period_us) {
		t->baseline.quota_us = now.quota_us;
		t->baseline.period_us = now.period_us;
		adopted |= MECH_K_QUOTA;
	}
	/* Wave's value where it still holds, the operator's where they changed it. */
	now.affinity = t->last.affinity;
	t->last = now;
	return adopted;
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

int mech_journal_repair(const char *path, const struct mech_ops *ops, int *left_dl)
{
	char line[8192], cpus[4096], cg[MECH_CGROUP_MAX];
	int repaired = 0, ret;
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
		if (ops->identity(tid) != t.start)
			continue;
		t.ops = ops;
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
		ret = mech_restore(&t);
		if (t.left_dl && left_dl)
			*left_dl = 1;
		if (ret)
			wave_warn("journal: could not fully restore thread %d", tid);
		else
			repaired++;
	}
	fclose(f);
	unlink(path);
	return repaired;
}
