// SPDX-License-Identifier: BSD-3-Clause
/*
 * blast: a noisy neighbour on the network. One thread sends UDP datagrams
 * of wave.blast_size bytes to wave.blast_to (a sink on the host) at
 * wave.blast_mbit Mbit/s, or as fast as the guest can; the main thread
 * takes BLAST requests on wave.port (the echo protocol's framing, cost_us
 * = the new rate; 0: quiet) so a benchmark turns the flood on and off
 * without rebooting, and reports what was sent every wave.period_ms:
 *   WAVE-READY workload=blast to=IP:PORT size=N mbit=R
 *   WAVE-BLAST pkts=N bytes=N mbit=R errors=N
 * Pacing is by the clock, in bursts of at most 1 ms worth, so a rate holds
 * whatever the guest's timer resolution; send errors (a full queue) are
 * counted, not fatal.
 *
 * The acks must not drown in the flood they control: the control socket
 * sends at TC_PRIO_CONTROL (the guest qdisc's first band, ahead of the
 * flood), a raised rate starts after its ack is queued, a lowered one
 * before. Otherwise a full queue drops the ack of 'flat out' or of
 * 'quiet', and the benchmark gives up on a guest that obeyed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/pkt_sched.h>
#include <unistd.h>

#include "images/guest/guest.h"

static atomic_uint rate_mbit;
static atomic_ullong sent_pkts, sent_bytes, send_errors;

struct blaster {
	const struct guest_cfg *cfg;
	int fd;
};

static void *blast_thread(void *arg)
{
	const struct blaster *b = arg;
	static char payload[65507];
	uint64_t t0 = guest_now_ns(), credit_bytes = 0;
	unsigned int size = b->cfg->blast_size;

	for (;;) {
		unsigned int mbit = atomic_load(&rate_mbit);
		uint64_t now = guest_now_ns();

		if (!mbit) {
			usleep(10000);
			t0 = guest_now_ns();
			credit_bytes = 0;
			continue;
		}
		if (mbit != BLAST_FLAT_OUT) {
			/* Bytes allowed since t0, less what went; at most 1 ms ahead. */
			uint64_t allowed = (now - t0) * mbit / 8000;

			if (credit_bytes + size > allowed) {
				usleep(1000);
				continue;
			}
			if (allowed - credit_bytes > (uint64_t)mbit * 125) /* a long sleep: no catch-up */
				credit_bytes = allowed - (uint64_t)mbit * 125;
		}
		if (sendto(b->fd, payload, size, 0, (const struct sockaddr *)&b->cfg->blast_to,
			   sizeof(b->cfg->blast_to)) < 0) {
			atomic_fetch_add(&send_errors, 1);
			if (errno == ENOBUFS || errno == EAGAIN)
				usleep(100);
			continue;
		}
		credit_bytes += size;
		atomic_fetch_add(&sent_pkts, 1);
		atomic_fetch_add(&sent_bytes, size);
	}
	return NULL;
}

static int control_socket(unsigned int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { .tv_usec = 100000 };
	int prio = TC_PRIO_CONTROL;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		fprintf(stderr, "wave-guest: blast: cannot bind UDP port %u: %s\n", port,
			strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_PRIORITY, &prio, sizeof(prio));
	return fd;
}

int guest_blast(const struct guest_cfg *cfg)
{
	struct blaster b = { .cfg = cfg };
	uint64_t next_report = guest_now_ns(), last_bytes = 0, last_ns = next_report;
	int ctl = control_socket(cfg->port);
	pthread_t t;
	char ip[INET_ADDRSTRLEN];

	if (!cfg->blast_to.sin_port) {
		fprintf(stderr, "wave-guest: blast needs wave.blast_to=IP:PORT\n");
		return 2;
	}
	if (ctl < 0 || (b.fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0 ||
	    pthread_create(&t, NULL, blast_thread, &b))
		return 1;
	atomic_store(&rate_mbit, cfg->blast_mbit);
	inet_ntop(AF_INET, &cfg->blast_to.sin_addr, ip, sizeof(ip));
	guest_report(cfg, "WAVE-READY workload=blast to=%s:%u size=%u mbit=%u", ip,
		     ntohs(cfg->blast_to.sin_port), cfg->blast_size, cfg->blast_mbit);
	for (;;) {
		struct echo_msg m;
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(ctl, &m, sizeof(m), 0, (struct sockaddr *)&from, &fl);
		uint64_t now = guest_now_ns();

		if (n == (ssize_t)sizeof(m) && m.magic == BLAST_MAGIC) {
			if (m.cost_us < atomic_load(&rate_mbit))
				atomic_store(&rate_mbit, m.cost_us);
			sendto(ctl, &m, sizeof(m), 0, (struct sockaddr *)&from, fl); /* the ack */
			atomic_store(&rate_mbit, m.cost_us);
		}
		if (now >= next_report) {
			unsigned long long bytes = atomic_load(&sent_bytes);
			double mbit = (double)(bytes - last_bytes) * 8 / 1e3 / ((double)(now - last_ns) / 1e6);

			guest_report(cfg, "WAVE-BLAST pkts=%llu bytes=%llu mbit=%.1f errors=%llu",
				     (unsigned long long)atomic_load(&sent_pkts), bytes, mbit,
				     (unsigned long long)atomic_load(&send_errors));
			last_bytes = bytes;
			last_ns = now;
			next_report = now + (uint64_t)cfg->period_ms * 1000000;
		}
	}
}
