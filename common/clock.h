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

/*
 * The channel clock: the time base of message timestamps and link-delay
 * emulation on one host. Both ends of a shm channel must use the same one,
 * so the host picks it and publishes it in the shared region. With an
 * invariant TSC that the kernel itself trusts as its clocksource, it is the
 * TSC scaled to nanoseconds (about 10 ns a read here, against 23 ns for
 * clock_gettime: a third of the cost of a one-message send); otherwise it
 * is CLOCK_MONOTONIC. Absolute values mean nothing; differences are ns.
 */
enum wave_clock_kind { WAVE_CLOCK_MONO = 0, WAVE_CLOCK_TSC = 1 };

struct wave_clock {
	enum wave_clock_kind kind;
	uint32_t shift;
	uint64_t mult;   /* ns = (ticks * mult) >> shift */
};

static inline uint64_t wave_ticks(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return __builtin_ia32_rdtsc();
#elif defined(__aarch64__)
	uint64_t v;

	__asm__ __volatile__("isb; mrs %0, cntvct_el0" : "=r"(v));
	return v;
#else
	return 0;
#endif
}

static inline uint64_t wave_clock_now(const struct wave_clock *c)
{
	if (c->kind == WAVE_CLOCK_TSC)
		return (uint64_t)(((unsigned __int128)wave_ticks() * c->mult) >> c->shift);
	return wave_now_ns();
}

/*
 * The best channel clock this machine offers (calibrated once per process,
 * about 10 ms the first time).
 */
void wave_clock_best(struct wave_clock *c);

/* Nonzero if this machine can follow a clock the peer chose. */
int wave_clock_usable(const struct wave_clock *c);

/* Sleeps ns (signals may cut it short). */
static inline void wave_sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / WAVE_NSEC_PER_SEC),
			       .tv_nsec = (long)(ns % WAVE_NSEC_PER_SEC) };

	nanosleep(&ts, NULL);
}

/*
 * timerfd (CLOCK_MONOTONIC) helpers: fire once at abs_ns (0 disarms), or
 * every period_ns from now (0 disarms). 0 or -errno.
 */
int wave_timerfd_at(int tfd, uint64_t abs_ns);
int wave_timerfd_every(int tfd, uint64_t period_ns);

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#endif
