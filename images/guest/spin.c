// SPDX-License-Identifier: BSD-3-Clause
/*
 * spin: a batch workload. One thread per vCPU burns CPU in fixed work units
 * and counts them; every period the main thread reports the cumulative
 * count, so a host-side benchmark computes throughput (units/s) from two
 * reports without trusting the guest's clock for more than the period.
 *
 * A unit is a fixed number of iterations, not a time slice: when the host
 * gives the VM less CPU, fewer units complete. That is the point.
 *
 *   WAVE-SPIN seq=N ms=T units=U threads=K
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "images/guest/guest.h"

#define SPIN_UNIT_ITERS 100000ull
#define SPIN_MAX_THREADS 256

struct spin_counter {
	_Alignas(64) atomic_uint_fast64_t units;
};

static struct spin_counter counters[SPIN_MAX_THREADS];

static void *spin_thread(void *arg)
{
	struct spin_counter *c = arg;

	for (;;) {
		guest_burn(SPIN_UNIT_ITERS);
		atomic_fetch_add_explicit(&c->units, 1, memory_order_relaxed);
	}
	return NULL;
}

int guest_spin(const struct guest_cfg *cfg)
{
	unsigned int n = cfg->threads ? cfg->threads : guest_nr_cpus();
	struct timespec period = { .tv_sec = cfg->period_ms / 1000,
				   .tv_nsec = (long)(cfg->period_ms % 1000) * 1000000 };
	uint64_t t0 = guest_now_ns();
	pthread_t tid;

	if (n > SPIN_MAX_THREADS)
		n = SPIN_MAX_THREADS;
	for (unsigned int i = 0; i < n; i++) {
		if (pthread_create(&tid, NULL, spin_thread, &counters[i])) {
			fprintf(stderr, "wave-guest: spin: cannot start thread %u\n", i);
			return 1;
		}
	}
	guest_report(cfg, "WAVE-READY workload=spin threads=%u unit_iters=%llu", n,
		     SPIN_UNIT_ITERS);
	for (uint64_t seq = 1;; seq++) {
		uint64_t total = 0;

		nanosleep(&period, NULL);
		for (unsigned int i = 0; i < n; i++)
			total += atomic_load_explicit(&counters[i].units, memory_order_relaxed);
		guest_report(cfg, "WAVE-SPIN seq=%llu ms=%llu units=%llu threads=%u",
			     (unsigned long long)seq,
			     (unsigned long long)((guest_now_ns() - t0) / 1000000),
			     (unsigned long long)total, n);
	}
}
