// SPDX-License-Identifier: BSD-3-Clause
/* Stand-in vCPU threads for the benchmarks that need no VMs (standin.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench/standin.h"
#include "common/clock.h"

struct standin {
	pthread_t thr;
	volatile pid_t tid;
	uint64_t period_us, busy_us;
};

static struct standin th[STANDIN_MAX];
static unsigned int nr;
static volatile int stopping;

static void *standin_loop(void *arg)
{
	struct standin *s = arg;

	s->tid = (pid_t)syscall(SYS_gettid);
	while (!stopping) {
		uint64_t end = wave_now_ns() + s->busy_us * 1000;

		while (s->busy_us && wave_now_ns() < end)
			;
		usleep((useconds_t)s->period_us);
	}
	return NULL;
}

int standin_start(unsigned int n, uint64_t period_us, uint64_t busy_us)
{
	pthread_attr_t attr;
	int err = 0;

	if (n > STANDIN_MAX)
		return -E2BIG;
	stopping = 0;
	/* Small stacks: a thousand of them must fit. */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (nr = 0; nr < n && !err; nr++) {
		th[nr] = (struct standin){ .period_us = period_us, .busy_us = busy_us };
		err = pthread_create(&th[nr].thr, &attr, standin_loop, &th[nr]);
	}
	pthread_attr_destroy(&attr);
	if (err) {
		nr--; /* the one that failed did not start */
		standin_stop();
		return -err;
	}
	for (unsigned int i = 0; i < n; i++)
		while (!th[i].tid)
			usleep(100);
	return 0;
}

void standin_stop(void)
{
	stopping = 1;
	for (unsigned int i = 0; i < nr; i++)
		pthread_join(th[i].thr, NULL);
	nr = 0;
}

pid_t standin_tid(unsigned int i)
{
	return i < nr ? th[i].tid : 0;
}

void standin_vm_arg(char *buf, size_t size, const char *name, const char *cls, unsigned int from,
		    unsigned int to)
{
	size_t used = (size_t)snprintf(buf, size, "%s,%s,", name, cls);

	for (unsigned int i = from; i < to && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%d", i > from ? "+" : "",
					 (int)th[i].tid);
}
