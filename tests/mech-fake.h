/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A fake kernel behind struct mech_ops, for unit tests of what sits above
 * the mechanisms (waved's transactions, rollback, fallback): each thread
 * the test declares has a struct mech_state the fake "kernel" keeps, every
 * change is counted, and the k-th change from now can be made to fail with
 * a chosen errno. No root, no real thread is touched. A cgroup whose path
 * contains "shared" is one other threads share (cg_exclusive says -EBUSY).
 */
#ifndef WAVE_TESTS_MECH_FAKE_H
#define WAVE_TESTS_MECH_FAKE_H

#include <sys/types.h>

#include "kvm-hooks/mech.h"

extern const struct mech_ops mech_fake_ops;

/* Forgets every thread and failure; counters back to 0. */
void mech_fake_reset(void);
/* Declares tid with Linux defaults (SCHED_OTHER, nice 0, CPUs 0-1, cgroup weight 1024, no quota). */
void mech_fake_thread(pid_t tid);
/* tid exits and a new, unrelated thread gets it (fresh defaults, another start time). */
void mech_fake_reuse(pid_t tid);
/* The fake kernel's settings of tid (NULL if unknown). */
const struct mech_state *mech_fake_state(pid_t tid);
/* The k-th change from now (0: the next one) fails with -err and changes nothing. */
void mech_fake_fail(unsigned int k, int err);
/* Changes made (and refused) so far; DEADLINE accounting rebuilds. */
unsigned int mech_fake_changes(void);
unsigned int mech_fake_dl_repairs(void);
/* Nonzero if a and b hold the same settings. */
int mech_fake_same(const struct mech_state *a, const struct mech_state *b);

#endif
