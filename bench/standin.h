/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Stand-in vCPUs: threads of the benchmark process that wake every period,
 * spin for busy, and sleep again, so waved and the agent manage real
 * threads without VMs (waved --vm NAME,CLASS,TID+TID...). One set at a
 * time per process.
 */
#ifndef WAVE_BENCH_STANDIN_H
#define WAVE_BENCH_STANDIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STANDIN_MAX 1024

/*
 * Starts n stand-ins (n <= STANDIN_MAX) and waits until each knows its
 * thread id. On error the ones started are stopped again and -errno is
 * returned.
 */
int standin_start(unsigned int n, uint64_t period_us, uint64_t busy_us);
void standin_stop(void);
pid_t standin_tid(unsigned int i);

/* "NAME,CLASS,T1+T2+..." for stand-ins [from, to): waved's --vm argument. */
void standin_vm_arg(char *buf, size_t size, const char *name, const char *cls, unsigned int from,
		    unsigned int to);

#endif
