// SPDX-License-Identifier: BSD-3-Clause
/* Small helpers shared by the benchmarks: percentiles, CPU pinning, CPU time. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <endian.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/procstat.h"
#include "common/spawn.h"
#include "images/guest/guest.h"

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
	return pid > 0 ? wave_proc_runtime_ns(pid) : 0;
}

void bench_say(int quiet, const char *who, const char *fmt, ...)
{
	va_list ap;

	/* JSON on stdout is for programs; a person watching a terminal still sees progress. */
	if (quiet && !isatty(STDERR_FILENO))
		return;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", who);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

int bench_pause(double s, volatile sig_atomic_t *stop)
{
	uint64_t end = wave_now_ns() + (uint64_t)(s * 1e9);

	while (!*stop && wave_now_ns() < end)
		usleep(20000);
	return *stop ? -EINTR : 0;
}

int bench_parse_names(const char *opt, const char *arg, const char *const *names, unsigned int n,
		      unsigned int *mask)
{
	char buf[128], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", arg);
	*mask = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned int k;

		for (k = 0; k < n && strcmp(tok, names[k]); k++)
			;
		if (k == n) {
			char all[256];
			size_t used = 0;

			for (unsigned int i = 0; i < n && used < sizeof(all); i++)
				used += (size_t)snprintf(all + used, sizeof(all) - used, "%s%s",
							 i ? ", " : "", names[i]);
			wave_err("%s: unknown '%s' (%s)", opt, tok, all);
			return -EINVAL;
		}
		*mask |= 1u << k;
	}
	return 0;
}

int bench_gnuplot(const char *dir, const char *what)
{
	char *argv[] = { "/usr/bin/gnuplot", "plots.gp", NULL };
	char cwd[4096];
	pid_t pid;
	int st = 0;

	if (!getcwd(cwd, sizeof(cwd)) || chdir(dir))
		return -errno;
	pid = wave_spawn(argv, 1);
	if (chdir(cwd))
		return -errno;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		wave_err("%s: gnuplot failed (is gnuplot-nox installed? make deps)", what);
		return -EIO;
	}
	return 0;
}

int bench_guest_cmd(const char *ip, unsigned int port, uint32_t magic, uint32_t value,
		    unsigned int tries, unsigned int wait_ms)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct echo_msg m = { .magic = htole32(magic), .cost_us = htole32(value) };
	struct timeval tv = { .tv_sec = wait_ms / 1000, .tv_usec = (wait_ms % 1000) * 1000 };
	int fd, ret = -ETIMEDOUT;

	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
		return -EINVAL;
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (unsigned int i = 0; i < tries && ret; i++) {
		struct echo_msg r;

		sendto(fd, &m, sizeof(m), 0, (struct sockaddr *)&a, sizeof(a));
		if (recv(fd, &r, sizeof(r), 0) == sizeof(r) && r.magic == m.magic)
			ret = 0;
	}
	close(fd);
	return ret;
}
