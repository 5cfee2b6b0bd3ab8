// SPDX-License-Identifier: BSD-3-Clause
/*
 * sched_setattr/sched_getattr through syscall(2) (glibc 2.36 has no
 * wrappers) and the daemons' short slice (see sched.h).
 */
#include <errno.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/sched.h"

int wave_sched_setattr(pid_t tid, struct sched_attr *a)
{
	return syscall(SYS_sched_setattr, tid, a, 0) ? -errno : 0;
}

int wave_sched_getattr(pid_t tid, struct sched_attr *a)
{
	return syscall(SYS_sched_getattr, tid, a, sizeof(*a), 0) ? -errno : 0;
}

int wave_short_slice(uint64_t slice_ns)
{
	struct sched_attr a = { .size = sizeof(a) };
	int ret = wave_sched_getattr(0, &a);

	if (ret)
		return ret;
	if (a.sched_policy != SCHED_OTHER && a.sched_policy != SCHED_BATCH)
		return -EOPNOTSUPP;
	a.size = sizeof(a);
	a.sched_flags = 0;
	a.sched_runtime = slice_ns;
	return wave_sched_setattr(0, &a);
}
