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
 * Mechanisms never decide and never choose targets: callers (waved) check
 * that a thread is managed and a CPU allowed before calling.
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

struct mech_thread {
	pid_t tid;
	unsigned long long start;    /* start time (clock ticks): tells tid reuse apart */
	char cgroup[MECH_CGROUP_MAX];/* the thread's own CPU cgroup directory, or "" */
	int cg_version;              /* 1 or 2 */
	int changed;                 /* baseline recorded: something was changed */
	struct mech_state baseline;
};

/* Prepares t for tid (cgroup may be "" or NULL). 0, or -ESRCH if tid is gone. */
int mech_thread_init(struct mech_thread *t, pid_t tid, const char *cgroup, int cg_version);

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
 * The journal: one line per changed thread with its baseline. write
 * replaces the file atomically (an empty list removes it). repair restores
 * every thread in the file that still runs (same tid and start time), then
 * removes it; returns how many were restored, or -errno.
 */
int mech_journal_write(const char *path, struct mech_thread *const *threads, unsigned int n);
int mech_journal_repair(const char *path);

/*
 * Rebuilds the root domain so the kernel recomputes its SCHED_DEADLINE
 * bandwidth accounting (works around a leak; see mech.c). Called after a
 * thread leaves SCHED_DEADLINE and on an EBUSY refusal. 0, -EAGAIN (done
 * less than 10 ms ago) or -errno.
 */
int mech_dl_repair(void);

/* weight (1..10000) in the units of each knob. */
int64_t mech_weight_to_shares(uint32_t weight);
int mech_weight_to_nice(uint32_t weight);

#endif
