// SPDX-License-Identifier: BSD-3-Clause
/*
 * Channel clock selection and TSC calibration (see clock.h). The TSC is
 * used only when the CPU says it is invariant and the kernel chose it as its
 * clocksource, i.e. Linux checked that it is synchronised across CPUs. The
 * rate is measured against CLOCK_MONOTONIC_RAW over 10 ms: an error of a few
 * ppm, irrelevant for a clock only used for differences of microseconds.
 * Also the timerfd helpers every event loop here uses.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "common/clock.h"

#define CLOCK_SHIFT 32

static int kernel_clocksource_is(const char *name)
{
	char buf[32] = "";
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");

	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return strcmp(buf, name) == 0;
}

static int tsc_trusted(void)
{
#if defined(__x86_64__) || defined(__i386__)
	unsigned int a, b, c, d;

	/* CPUID 0x80000007 EDX bit 8: invariant TSC. */
	if (!__get_cpuid(0x80000007, &a, &b, &c, &d) || !(d & (1u << 8)))
		return 0;
	return kernel_clocksource_is("tsc");
#else
	return 0;
#endif
}

static uint64_t raw_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * WAVE_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static struct wave_clock best;

static void calibrate(void)
{
	uint64_t n0, n1, t0, t1, hz;
	struct timespec pause = { 0, 10 * 1000 * 1000 };

	best.kind = WAVE_CLOCK_MONO;
	if (!tsc_trusted())
		return;
	n0 = raw_ns();
	t0 = wave_ticks();
	nanosleep(&pause, NULL);
	n1 = raw_ns();
	t1 = wave_ticks();
	if (n1 <= n0 || t1 <= t0)
		return;
	hz = (uint64_t)((unsigned __int128)(t1 - t0) * WAVE_NSEC_PER_SEC / (n1 - n0));
	if (hz < 100000000ull || hz > 10000000000ull)
		return;
	best.kind = WAVE_CLOCK_TSC;
	best.shift = CLOCK_SHIFT;
	best.mult = (uint64_t)(((unsigned __int128)WAVE_NSEC_PER_SEC << CLOCK_SHIFT) / hz);
}

void wave_clock_best(struct wave_clock *c)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, calibrate);
	*c = best;
}

int wave_clock_usable(const struct wave_clock *c)
{
	if (c->kind == WAVE_CLOCK_MONO)
		return 1;
	return c->kind == WAVE_CLOCK_TSC && tsc_trusted();
}

int wave_timerfd_at(int tfd, uint64_t abs_ns)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)(abs_ns / WAVE_NSEC_PER_SEC),
			      .tv_nsec = (long)(abs_ns % WAVE_NSEC_PER_SEC) },
	};

	return timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) ? -errno : 0;
}

int wave_timerfd_every(int tfd, uint64_t period_ns)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = (time_t)(period_ns / WAVE_NSEC_PER_SEC),
				 .tv_nsec = (long)(period_ns % WAVE_NSEC_PER_SEC) },
	};

	its.it_value = its.it_interval;
	return timerfd_settime(tfd, 0, &its, NULL) ? -errno : 0;
}
