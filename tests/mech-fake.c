// SPDX-License-Identifier: BSD-3-Clause
/* The fake kernel behind struct mech_ops (mech-fake.h). */
#include <errno.h>
#include <string.h>

#include "tests/mech-fake.h"

#define FAKE_THREADS 64

static struct {
	pid_t tid;
	unsigned int life;       /* bumped when the tid is reused by another thread */
	struct mech_state s;
} threads[FAKE_THREADS];
static unsigned int nthreads, changes, fail_at, dl_repairs;
static int fail_err;

void mech_fake_reset(void)
{
	memset(threads, 0, sizeof(threads));
	nthreads = changes = dl_repairs = 0;
	fail_err = 0;
}

/* Slot i holds a fresh thread tid with Linux defaults. */
static void mech_fake_thread_at(unsigned int i, pid_t tid)
{
	struct mech_state *s = &threads[i].s;

	threads[i].tid = tid;
	threads[i].life = 0;
	memset(s, 0, sizeof(*s));
	CPU_SET(0, &s->affinity);
	CPU_SET(1, &s->affinity);
	s->policy = SCHED_OTHER;
	s->weight = 1024;
	s->quota_us = -1;
	s->period_us = 100000;
}

void mech_fake_thread(pid_t tid)
{
	mech_fake_thread_at(nthreads++, tid);
}

static struct mech_state *find(pid_t tid)
{
	for (unsigned int i = 0; i < nthreads; i++)
		if (threads[i].tid == tid)
			return &threads[i].s;
	return NULL;
}

/* Shared cgroups are pretended by their name: one that contains "shared". */
static int fake_cg_exclusive(const struct mech_thread *t)
{
	return strstr(t->cgroup, "shared") ? -EBUSY : 0;
}

const struct mech_state *mech_fake_state(pid_t tid)
{
	return find(tid);
}

void mech_fake_fail(unsigned int k, int err)
{
	fail_at = changes + k;
	fail_err = err;
}

unsigned int mech_fake_changes(void)
{
	return changes;
}

unsigned int mech_fake_dl_repairs(void)
{
	return dl_repairs;
}

int mech_fake_same(const struct mech_state *a, const struct mech_state *b)
{
	return CPU_EQUAL(&a->affinity, &b->affinity) && a->policy == b->policy &&
	       a->nice == b->nice && a->rt_prio == b->rt_prio &&
	       (a->policy != SCHED_DEADLINE ||
		(a->dl_runtime == b->dl_runtime && a->dl_period == b->dl_period)) &&
	       a->weight == b->weight && a->quota_us == b->quota_us &&
	       a->period_us == b->period_us;
}

/* The thread's state to change, or NULL with *ret set: gone, or this change is to fail. */
static struct mech_state *change(const struct mech_thread *t, int *ret)
{
	struct mech_state *s = find(t->tid);

	*ret = 0;
	if (!s)
		*ret = -ESRCH;
	else if (fail_err && changes == fail_at)
		*ret = -fail_err;
	changes++;
	return *ret ? NULL : s;
}

static unsigned long long fake_identity(pid_t tid)
{
	for (unsigned int i = 0; i < nthreads; i++)
		if (threads[i].tid == tid)
			return 1000 + (unsigned long long)tid + 1000000ull * threads[i].life;
	return 0;
}

void mech_fake_reuse(pid_t tid)
{
	for (unsigned int i = 0; i < nthreads; i++)
		if (threads[i].tid == tid) {
			unsigned int life = threads[i].life + 1;

			mech_fake_thread_at(i, tid);
			threads[i].life = life;
		}
}

static int fake_get(const struct mech_thread *t, struct mech_state *out)
{
	struct mech_state *s = find(t->tid);

	if (!s)
		return -ESRCH;
	*out = *s;
	return 0;
}

static int fake_affinity(const struct mech_thread *t, const cpu_set_t *cpus)
{
	int ret;
	struct mech_state *s = change(t, &ret);

	if (!s)
		return ret;
	if (!CPU_COUNT(cpus))
		return -EINVAL;
	/* The kernel's rule: a DEADLINE thread's affinity cannot be narrowed. */
	if (s->policy == SCHED_DEADLINE && CPU_COUNT(cpus) < 2)
		return -EBUSY;
	s->affinity = *cpus;
	return 0;
}

static int fake_nice(const struct mech_thread *t, int nice)
{
	int ret;
	struct mech_state *s = change(t, &ret);

	if (s)
		s->nice = nice;
	return ret;
}

static int fake_cg_weight(const struct mech_thread *t, int64_t raw)
{
	int ret;
	struct mech_state *s;

	if (fake_cg_exclusive(t))
		return -EBUSY;
	s = change(t, &ret);

	if (s)
		s->weight = raw;
	return ret;
}

static int fake_quota(const struct mech_thread *t, int64_t quota_us, int64_t period_us)
{
	int ret;
	struct mech_state *s;

	if (fake_cg_exclusive(t))
		return -EBUSY;
	s = change(t, &ret);

	if (!s)
		return ret;
	s->quota_us = quota_us;
	s->period_us = period_us;
	return 0;
}

static int fake_sched_class(const struct mech_thread *t, const struct mech_state *in,
			    int *left_dl)
{
	int ret;
	struct mech_state *s = change(t, &ret);

	if (!s)
		return ret;
	if (in->policy == SCHED_DEADLINE &&
	    (!in->dl_runtime || in->dl_runtime > in->dl_deadline || in->dl_deadline > in->dl_period))
		return -EINVAL;
	if (s->policy == SCHED_DEADLINE && in->policy != SCHED_DEADLINE)
		*left_dl = 1;
	s->policy = in->policy;
	s->rt_prio = in->rt_prio;
	s->nice = in->nice;
	s->dl_runtime = in->dl_runtime;
	s->dl_deadline = in->dl_deadline;
	s->dl_period = in->dl_period;
	return 0;
}

static int fake_dl_repair(void)
{
	dl_repairs++;
	return 0;
}

const struct mech_ops mech_fake_ops = {
	.name = "fake",
	.identity = fake_identity,
	.get = fake_get,
	.affinity = fake_affinity,
	.nice = fake_nice,
	.cg_weight = fake_cg_weight,
	.quota = fake_quota,
	.sched_class = fake_sched_class,
	.cg_exclusive = fake_cg_exclusive,
	.dl_repair = fake_dl_repair,
};
