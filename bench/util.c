// SPDX-License-Identifier: BSD-3-Clause
/* Small helpers shared by the benchmarks: percentiles, CPU pinning, CPU time. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "common/procstat.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

uint64_t bench_percentile(uint64_t *s, size_t n, double p)
{
	size_t i;

	if (!n)
		return 0;
	qsort(s, n, sizeof(*s), cmp_u64);
	i = (size_t)ceil(p * (double)n);
	return s[i ? i - 1 : 0];
}

int bench_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

int bench_default_cpus(int cpus[2])
{
	cpu_set_t set;
	int n = 0;

	if (sched_getaffinity(0, sizeof(set), &set))
		return -errno;
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &set))
			cpus[n++] = c;
	return n == 2 ? 0 : -ENODEV;
}

uint64_t bench_proc_cpu_ns(pid_t pid)
{
	struct wave_procstat ps;

	return wave_procstat(0, pid, &ps) ? 0 : ps.cpu_ns;
}
