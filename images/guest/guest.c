// SPDX-License-Identifier: BSD-3-Clause
/*
 * What every guest workload shares: the kernel command line settings,
 * reporting, clocks and burning CPU.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "images/guest/guest.h"

static int parse_uint(const char *key, const char *v, unsigned int max, unsigned int *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || (*end && *end != ' ' && *end != '\n') || n > max) {
		fprintf(stderr, "wave-guest: wave.%s: '%.*s' is not a number up to %u\n", key,
			(int)strcspn(v, " \n"), v, max);
		return -EINVAL;
	}
	*out = (unsigned int)n;
	return 0;
}

static int parse_addr(const char *v, struct sockaddr_in *sa)
{
	char buf[32];
	size_t n = strcspn(v, " \n");
	char *colon;
	unsigned int port;

	if (n >= sizeof(buf))
		goto bad;
	memcpy(buf, v, n);
	buf[n] = '\0';
	colon = strchr(buf, ':');
	if (!colon)
		goto bad;
	*colon = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (inet_pton(AF_INET, buf, &sa->sin_addr) != 1 ||
	    parse_uint("report port", colon + 1, 65535, &port) || !port)
		goto bad;
	sa->sin_port = htons((uint16_t)port);
	return 0;
bad:
	fprintf(stderr, "wave-guest: wave.report: '%.*s' is not IP:PORT\n", (int)n, v);
	return -EINVAL;
}

/* Value of "wave.KEY=" in cmdline (up to the next blank), or NULL. */
static const char *arg(const char *cmdline, const char *key)
{
	size_t klen = strlen(key);
	const char *p = cmdline;

	while ((p = strstr(p, "wave."))) {
		if ((p == cmdline || p[-1] == ' ') && !strncmp(p + 5, key, klen) &&
		    p[5 + klen] == '=')
			return p + 5 + klen + 1;
		p += 5;
	}
	return NULL;
}

int guest_cfg_load(struct guest_cfg *cfg, const char *cmdline)
{
	static char workload[16];
	const char *v;
	int ret = 0;

	memset(cfg, 0, sizeof(*cfg));
	cfg->port = 7777;
	cfg->period_ms = 1000;
	v = arg(cmdline, "workload");
	snprintf(workload, sizeof(workload), "%.*s", v ? (int)strcspn(v, " \n") : 4,
		 v ? v : "idle");
	cfg->workload = workload;
	if ((v = arg(cmdline, "report")))
		ret |= parse_addr(v, &cfg->report);
	if ((v = arg(cmdline, "port")))
		ret |= parse_uint("port", v, 65535, &cfg->port);
	if ((v = arg(cmdline, "cost_us")))
		ret |= parse_uint("cost_us", v, 1000000, &cfg->cost_us);
	if ((v = arg(cmdline, "threads")))
		ret |= parse_uint("threads", v, 256, &cfg->threads);
	if ((v = arg(cmdline, "period_ms")))
		ret |= parse_uint("period_ms", v, 60000, &cfg->period_ms);
	cfg->mem_mb = 64;
	if ((v = arg(cmdline, "mem_mb")))
		ret |= parse_uint("mem_mb", v, 1u << 20, &cfg->mem_mb);
	if ((v = arg(cmdline, "mem_rate")))
		ret |= parse_uint("mem_rate", v, 1u << 20, &cfg->mem_rate);
	if ((v = arg(cmdline, "mem_hz")))
		ret |= parse_uint("mem_hz", v, 1000, &cfg->mem_hz);
	if ((v = arg(cmdline, "mem_sched"))) {
		static char sched[256];

		snprintf(sched, sizeof(sched), "%.*s", (int)strcspn(v, " \n"), v);
		cfg->mem_sched = sched;
	}
	cfg->blast_size = 1400;
	if ((v = arg(cmdline, "blast_to")))
		ret |= parse_addr(v, &cfg->blast_to);
	if ((v = arg(cmdline, "blast_size")))
		ret |= parse_uint("blast_size", v, 65507, &cfg->blast_size);
	if ((v = arg(cmdline, "blast_mbit")))
		ret |= parse_uint("blast_mbit", v, 100000, &cfg->blast_mbit);
	if (!cfg->port || !cfg->period_ms) {
		fprintf(stderr, "wave-guest: wave.port and wave.period_ms must not be 0\n");
		ret = -EINVAL;
	}
	return ret ? -EINVAL : 0;
}

uint64_t guest_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

unsigned int guest_nr_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned int)n : 1;
}

void guest_report(const struct guest_cfg *cfg, const char *fmt, ...)
{
	static int fd = -1;
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	printf("%s\n", line);
	fflush(stdout);
	if (!cfg->report.sin_port)
		return;
	if (fd < 0)
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0)
		sendto(fd, line, (size_t)n, MSG_DONTWAIT, (const struct sockaddr *)&cfg->report,
		       sizeof(cfg->report));
}

/* Where burn results go, so no caller's burn can be optimised away. */
static volatile uint64_t burn_sink;

uint64_t guest_burn(uint64_t iterations)
{
	uint64_t x = burn_sink;

	for (uint64_t i = 0; i < iterations; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	burn_sink = x;
	return x;
}

uint64_t guest_burn_calibrate(void)
{
	const uint64_t n = 200000;
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < 7; i++) {
		uint64_t t0 = guest_now_ns(), dt;

		guest_burn(n);
		dt = guest_now_ns() - t0;
		if (dt && dt < best)
			best = dt;
	}
	if (best == UINT64_MAX || n * 1000 / best == 0)
		return 1;
	return n * 1000 / best; /* iterations per microsecond */
}
