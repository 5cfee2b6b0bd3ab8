/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Scheduling mechanisms on one host thread, each undoable:
 *   placement   sched_setaffinity
 *   weight      the thread's cgroup cpu.shares (v1) / cpu.weight (v2);
 *               nice where it has no writable cgroup
 *   bandwidth   the cgroup's CFS quota: cpu.cfs_quota_us/cpu.cfs_period_us
 *               (v1) or cpu.max (v2)
 *   class       sched_setattr: SCHED_OTHER (nice), SCHED_FIFO (priority),
 *               SCHED_DEADLINE (runtime <= deadline <= period)
 * The first change to a thread records its baseline: every setting above as
 * it was. mech_restore() puts all of it back, so falling back to CFS leaves
 * the thread exactly as waved found it. The journal (a file) keeps the
 * baselines of changed threads, so a waved that was killed can be repaired
 * by the next one.
 *
 * Two layers: this file's functions (baselines, restore, rollback, the
 * journal) are the same everywhere; what touches the kernel sits behind
 * struct mech_ops, one per thread: mech_linux_ops (mech-linux.c) in
 * production, a fake in unit tests (tests/mech-fake.c) that can refuse the
 * k-th change with a chosen errno, so waved's all-or-nothing transactions,
 * rollback and fallback are tested without root.
 *
 * Mechanisms never decide and never choose targets: callers (waved) check
 * that a thread is managed and a CPU allowed before calling. Every change
 * first checks that the tid still names the thread it was set up for (its
 * start time): a reused tid gets -ESRCH and nothing else. Nor do they
 * act host-wide on their own: a thread leaving SCHED_DEADLINE is reported
 * (left_dl) and the caller decides on the accounting repair (dl_repair).
 * Every function returns 0 or -errno (the kernel's refusal, unchanged).
 */
#ifndef WAVE_KVM_HOOKS_MECH_H
#define WAVE_KVM_HOOKS_MECH_H

#include <sched.h>
#include <stdint.h>
#include <sys/types.h>

#define MECH_CGROUP_MAX 512

struct mech_state {
	cpu_set_t affinity;
	int policy;             /* SCHED_OTHER, SCHED_FIFO, SCHED_DEADLINE, ... */
	int nice;
	unsigned int rt_prio;
	uint64_t dl_runtime, dl_deadline, dl_period;
	int64_t weight;         /* cgroup cpu.shares (v1) or cpu.weight (v2); -1: none */
	int64_t quota_us;       /* -1: unlimited; with no cgroup, unused */
	int64_t period_us;
};

struct mech_thread;

/*
 * The kernel side, on one thread; all return 0 or -errno and change nothing
 * on error. Called on the caller's thread; none may block for long.
 * @identity:    the thread's start time (clock ticks), telling a reused tid
 *               apart; 0 if it is gone.
 * @get:         every setting of struct mech_state as it is now (weight,
 *               quota, period -1 where the thread has no cgroup).
 * @affinity:    placement.
 * @nice:        the nice value (weight without a cgroup).
 * @cg_weight:   the cgroup's weight knob, raw (cpu.shares or cpu.weight).
 * @quota:       the cgroup's CFS bandwidth (quota_us -1: unlimited).
 * @sched_class: policy, priority, nice and DEADLINE parameters of s; sets
 *               *left_dl if the thread was in SCHED_DEADLINE and is not now.
 * @cg_exclusive: 0 if the thread's cgroup holds it alone, -EBUSY if other
 *               threads share it (then its knobs are not ours to turn:
 *               @cg_weight and @quota refuse too), -errno if unreadable.
 * @dl_repair:   rebuilds the host's SCHED_DEADLINE accounting (host-wide).
 */
struct mech_ops {
	const char *name;
	unsigned long long (*identity)(pid_t tid);
	int (*get)(const struct mech_thread *t, struct mech_state *s);
	int (*affinity)(const struct mech_thread *t, const cpu_set_t *cpus);
	int (*nice)(const struct mech_thread *t, int nice);
	int (*cg_weight)(const struct mech_thread *t, int64_t raw);
	int (*quota)(const struct mech_thread *t, int64_t quota_us, int64_t period_us);
	int (*sched_class)(const struct mech_thread *t, const struct mech_state *s, int *left_dl);
	int (*cg_exclusive)(const struct mech_thread *t);
	int (*dl_repair)(void);
};

extern const struct mech_ops mech_linux_ops;

struct mech_thread {
	const struct mech_ops *ops;
	pid_t tid;
	unsigned long long start;    /* start time (clock ticks): tells tid reuse apart */
	char cgroup[MECH_CGROUP_MAX];/* the thread's own CPU cgroup directory, or "" */
	int cg_version;              /* 1 or 2 */
	int changed;                 /* baseline recorded: something was changed */
	int left_dl;                 /* left SCHED_DEADLINE since the caller last cleared it */
	struct mech_state baseline;
	struct mech_state last;      /* what Wave set last (valid while changed) */
};

/* Prepares t for tid (cgroup may be "" or NULL). 0, or -ESRCH if tid is gone. */
int mech_thread_init(struct mech_thread *t, const struct mech_ops *ops, pid_t tid,
		     const char *cgroup, int cg_version);

/* Reads the thread's current settings. */
int mech_get(const struct mech_thread *t, struct mech_state *s);

int mech_place(struct mech_thread *t, const cpu_set_t *cpus);
/* weight 1..10000, 100 = default (cpu.shares 1024, cpu.weight 100, nice 0). */
int mech_weight(struct mech_thread *t, uint32_t weight);
/* quota_us UINT32_MAX: unlimited. */
int mech_quota(struct mech_thread *t, uint32_t quota_us, uint32_t period_us);
int mech_class(struct mech_thread *t, int policy, unsigned int prio, uint64_t runtime_ns,
	       uint64_t deadline_ns, uint64_t period_ns);

/* Puts back a state read with mech_get() (a transaction's rollback). */
int mech_set(struct mech_thread *t, const struct mech_state *s);
/* Back to the baseline; nothing to do if unchanged. */
int mech_restore(struct mech_thread *t);

/*
 * Someone else (an operator, through libvirt) changed a thread Wave had
 * changed: each setting that is no longer what Wave set last becomes the
 * baseline (a restore puts the operator's value back, not the one Wave
 * found before), and what Wave set there is forgotten. pin, if not NULL,
 * is the affinity libvirt just gave the thread (a vcpupin): it becomes the
 * baseline affinity whatever Wave had placed. Returns a mask of MECH_K_*
 * adopted (0: nothing was another's), or -errno (-ESRCH: the tid is no
 * longer the thread). An unchanged thread has nothing to adopt.
 */
enum { MECH_K_AFFINITY = 1, MECH_K_CLASS = 2, MECH_K_NICE = 4, MECH_K_WEIGHT = 8,
       MECH_K_QUOTA = 16 };
int mech_adopt(struct mech_thread *t, const cpu_set_t *pin);

/*
 * The journal: one line per changed thread with its baseline. write
 * replaces the file atomically (an empty list removes it). repair restores
 * every thread in the file that still runs (same tid and start time) with
 * ops, then removes it; returns how many were restored, or -errno, and sets
 * *left_dl (if not NULL) when a restored thread left SCHED_DEADLINE.
 */
int mech_journal_write(const char *path, struct mech_thread *const *threads, unsigned int n);
int mech_journal_repair(const char *path, const struct mech_ops *ops, int *left_dl);

/* weight (1..10000) in the units of each knob. */
int64_t mech_weight_to_shares(uint32_t weight);
int mech_weight_to_nice(uint32_t weight);

#endif
