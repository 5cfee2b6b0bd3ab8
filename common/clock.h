/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Time and CPU helpers shared by both sides of the channel. CLOCK_MONOTONIC
 * is the one clock for send timestamps and link emulation: it is the same
 * for all processes of a host (the shm case) and costs one vDSO call. A raw
 * TSC would be cheaper but has no meaning across the host/IPU boundary.
 */
#ifndef WAVE_COMMON_CLOCK_H
#define WAVE_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

#define WAVE_NSEC_PER_USEC 1000ULL
#define WAVE_NSEC_PER_MSEC 1000000ULL
#define WAVE_NSEC_PER_SEC  1000000000ULL

static inline uint64_t wave_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * WAVE_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Tell the core we are spinning (PAUSE on x86, YIELD on arm64). */
static inline void wave_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#endif
