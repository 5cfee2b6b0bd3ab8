// SPDX-License-Identifier: BSD-3-Clause
/*
 * echo: a latency-sensitive UDP service. Each request burns its CPU cost
 * (calibrated iterations, so the cost is CPU work, not wall time: a vCPU
 * that is preempted mid-request takes longer, which is what we measure),
 * then the request goes back unchanged to its sender.
 *
 * The same socket takes HOG requests that start or stop threads burning
 * CPU without end, so a benchmark can turn this "latency" VM into a CPU
 * hog and back without rebooting it.
 *
 *   WAVE-READY workload=echo port=P iters_per_us=N cost_us=C
 *   WAVE-HOG threads=K
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "images/guest/guest.h"

#define HOG_MAX_THREADS 64

static atomic_uint hog_wanted;   /* threads that should burn now */
static unsigned int hog_started; /* threads created so far (they never exit) */

static void *hog_thread(void *arg)
{
	unsigned int idx = (unsigned int)(uintptr_t)arg;

	for (;;) {
		if (idx < atomic_load_explicit(&hog_wanted, memory_order_relaxed))
			guest_burn(100000);
		else
			usleep(10000);
	}
	return NULL;
}

static void hog_set(const struct guest_cfg *cfg, unsigned int n)
{
	pthread_t tid;

	if (n > HOG_MAX_THREADS)
		n = HOG_MAX_THREADS;
	for (; hog_started < n; hog_started++)
		if (pthread_create(&tid, NULL, hog_thread, (void *)(uintptr_t)hog_started))
			break;
	atomic_store(&hog_wanted, n);
	guest_report(cfg, "WAVE-HOG threads=%u", n);
}

static int echo_socket(unsigned int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "wave-guest: echo: cannot bind UDP port %u: %s\n", port,
			strerror(errno));
		return -1;
	}
	return fd;
}

int guest_echo(const struct guest_cfg *cfg)
{
	uint64_t per_us = guest_burn_calibrate();
	struct sockaddr_in peer;
	struct echo_msg m;
	int fd = echo_socket(cfg->port);

	if (fd < 0)
		return 1;
	guest_report(cfg, "WAVE-READY workload=echo port=%u iters_per_us=%llu cost_us=%u",
		     cfg->port, (unsigned long long)per_us, cfg->cost_us);
	for (;;) {
		socklen_t plen = sizeof(peer);
		ssize_t n = recvfrom(fd, &m, sizeof(m), 0, (struct sockaddr *)&peer, &plen);
		uint32_t cost;

		/* Anything that is not a whole request is ignored. */
		if (n != (ssize_t)sizeof(m))
			continue;
		if (le32toh(m.magic) == HOG_MAGIC) {
			hog_set(cfg, le32toh(m.cost_us));
			sendto(fd, &m, sizeof(m), 0, (struct sockaddr *)&peer, plen);
			continue;
		}
		if (le32toh(m.magic) != ECHO_MAGIC)
			continue;
		cost = le32toh(m.cost_us);
		if (cost == ECHO_COST_DEFAULT)
			cost = cfg->cost_us;
		if (cost > 1000000)
			cost = 1000000;
		if (cost)
			guest_burn(per_us * cost);
		sendto(fd, &m, sizeof(m), 0, (struct sockaddr *)&peer, plen);
	}
}
