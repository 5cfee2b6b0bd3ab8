/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sched_setattr(2) and sched_getattr(2), which glibc does not wrap: what the
 * scheduling mechanism (kvm-hooks/mech-linux.c) applies to managed threads,
 * and what wave-agent --reserve applies to itself.
 */
#ifndef WAVE_COMMON_SCHED_ATTR_H
#define WAVE_COMMON_SCHED_ATTR_H

#include <errno.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef SCHED_DEADLINE
#define SCHED_DEADLINE 6
#endif

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

/* 0, or -errno (EBUSY: DEADLINE admission refused; EPERM: not allowed). */
static inline int wave_sched_setattr(pid_t tid, struct sched_attr *a)
{
	return syscall(SYS_sched_setattr, tid, a, 0) ? -errno : 0;
}

static inline int wave_sched_getattr(pid_t tid, struct sched_attr *a)
{
	return syscall(SYS_sched_getattr, tid, a, sizeof(*a), 0) ? -errno : 0;
}

#endif
