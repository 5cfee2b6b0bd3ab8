/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * /proc/[PID/task/]TID/stat: the fields of a process or thread that
 * Wave-VM reads. The command name may hold spaces and ')', so fields are
 * counted after the last ')'.
 */
#ifndef WAVE_COMMON_PROCSTAT_H
#define WAVE_COMMON_PROCSTAT_H

#include <stdint.h>
#include <sys/types.h>

struct wave_procstat {
	char state;                /* field 3: R, S, D, Z, X, ... */
	uint64_t cpu_ns;           /* fields 14 + 15: user + system time */
	unsigned long long start;  /* field 22: start time in clock ticks after boot */
	int cpu;                   /* field 39: CPU it last ran on */
};

/*
 * Reads /proc/PID/task/TID/stat, or /proc/TID/stat when pid is 0. Returns
 * 0, -errno if it cannot be read (gone), or -EIO if it does not parse.
 */
int wave_procstat(pid_t pid, pid_t tid, struct wave_procstat *s);

/*
 * CPU time of every thread of process pid, in ns as the scheduler counts
 * it (/proc/PID/task/TID/schedstat: exact, where stat's user + system
 * time comes in clock ticks of 10 ms). Threads that ended are not in it.
 * Returns 0 if pid is gone.
 */
uint64_t wave_proc_runtime_ns(pid_t pid);

/*
 * The pid in pidfile if that process is alive and its command name
 * (/proc/PID/comm, which ends in a newline) begins with comm: end comm
 * with "\n" to ask for the whole name. 0 otherwise.
 */
pid_t wave_pidfile_pid(const char *pidfile, const char *comm);

#endif
