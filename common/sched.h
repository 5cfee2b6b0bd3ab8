/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sched_setattr/sched_getattr for both sides: the kernel's struct (the
 * uapi header cannot be included next to glibc's <sched.h>) and the one
 * setting the daemons make on themselves, a short time slice.
 */
#ifndef WAVE_COMMON_SCHED_H
#define WAVE_COMMON_SCHED_H

#include <stdint.h>
#include <sys/types.h>

/* struct sched_attr as the kernel defines it (SCHED_ATTR_SIZE_VER0). */
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

/* sched_setattr / sched_getattr of thread tid (0: the caller). 0 or -errno. */
int wave_sched_setattr(pid_t tid, struct sched_attr *a);
int wave_sched_getattr(pid_t tid, struct sched_attr *a);

/*
 * Asks for a time slice of slice_ns for the calling thread if it runs in
 * the fair class (SCHED_OTHER or SCHED_BATCH; nice kept): EEVDF (Linux
 * 6.12 and later) gives a thread with a short slice an early deadline, so
 * it runs soon after it wakes even when every CPU is busy. That is what a
 * daemon that wakes for microseconds on a deadline (a watchdog, a
 * decision to apply) wants: its wakeups come on time and cost the others
 * nothing more. Older kernels ignore the request; the kernel clamps it to
 * 0.1-100 ms. Threads created afterwards inherit it.
 * Returns 0, -EPERM-style errors from the kernel, or -EOPNOTSUPP for a
 * thread outside the fair class (left unchanged).
 */
int wave_short_slice(uint64_t slice_ns);

/* The slice the daemons ask for: the shortest the kernel grants. */
#define WAVE_SHORT_SLICE_NS 100000ULL

#endif
