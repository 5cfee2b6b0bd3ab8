// SPDX-License-Identifier: BSD-3-Clause
/* The open-loop echo client and the spin-report listener (sched-client.h). */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/sched-client.h"
#include "common/clock.h"
#include "common/log.h"
#include "images/guest/guest.h"

static int go_fifo(int prio)
{
	struct sched_param sp = { .sched_priority = prio };

	return pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
}

static void sleep_until(uint64_t t_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(t_ns / WAVE_NSEC_PER_SEC),
			       .tv_nsec = (long)(t_ns % WAVE_NSEC_PER_SEC) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Exponential inter-arrival time for rate (per s), in ns; a thread-local generator. */
static uint64_t next_gap(double rate, unsigned int *seed)
{
	double u = ((double)rand_r(seed) + 1.0) / ((double)RAND_MAX + 2.0);

	return (uint64_t)(-log(u) / rate * 1e9);
}

static void *tx_loop(void *arg)
{
	struct sc_client *c = arg;
	unsigned int seed = 12345;
	uint64_t t = wave_now_ns();

	c->fifo_ok = go_fifo(c->fifo_prio);
	while (!c->stop) {
		struct echo_msg m;
		double rate = c->rate;
		struct sc_req *r;

		if (rate <= 0) {
			usleep(10000);
			t = wave_now_ns();
			continue;
		}
		t += next_gap(rate, &seed);
		sleep_until(t);
		r = &c->req[c->seq % SC_MAX_REQ];
		m.magic = htole32(ECHO_MAGIC);
		m.cost_us = htole32(c->cost_us);
		m.seq = htole64(c->seq);
		r->rtt_ns = 0;
		r->sent_ns = wave_now_ns();
		m.t_send_ns = htole64(r->sent_ns);
		sendto(c->fd, &m, sizeof(m), 0, (struct sockaddr *)&c->dst, sizeof(c->dst));
		__atomic_store_n(&c->seq, c->seq + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void *rx_loop(void *arg)
{
	struct sc_client *c = arg;
	struct echo_msg m;

	go_fifo(c->fifo_prio);
	while (!c->stop) {
		ssize_t n = recv(c->fd, &m, sizeof(m), 0);
		uint64_t now = wave_now_ns(), seq;
		struct sc_req *r;

		if (n != (ssize_t)sizeof(m) || le32toh(m.magic) != ECHO_MAGIC)
			continue;
		seq = le64toh(m.seq);
		r = &c->req[seq % SC_MAX_REQ];
		/* Only the request this slot holds now: anything else is ancient. */
		if (r->sent_ns != le64toh(m.t_send_ns) || seq >= sc_sent(c)) {
			c->late++;
			continue;
		}
		r->rtt_ns = now - r->sent_ns;
	}
	return NULL;
}

int sc_client_start(struct sc_client *c, const char *ip, unsigned int port, int fifo_prio)
{
	struct timeval tv = { .tv_usec = 100000 };

	memset(c, 0, sizeof(*c));
	c->fifo_prio = fifo_prio;
	c->dst.sin_family = AF_INET;
	c->dst.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, ip, &c->dst.sin_addr) != 1)
		return -EINVAL;
	c->req = calloc(SC_MAX_REQ, sizeof(*c->req));
	c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (!c->req || c->fd < 0)
		return -ENOMEM;
	/* The receiver wakes now and then to see stop. */
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (pthread_create(&c->rx, NULL, rx_loop, c))
		return -EAGAIN;
	if (pthread_create(&c->tx, NULL, tx_loop, c)) {
		c->stop = 1;
		pthread_join(c->rx, NULL);
		return -EAGAIN;
	}
	return 0;
}

void sc_client_stop(struct sc_client *c)
{
	c->stop = 1;
	pthread_join(c->tx, NULL);
	pthread_join(c->rx, NULL);
	close(c->fd);
	free(c->req);
	c->req = NULL;
}

void sc_set_load(struct sc_client *c, double rate, uint32_t cost_us)
{
	c->cost_us = cost_us;
	c->rate = rate;
}

int sc_hog(struct sc_client *c, unsigned int threads)
{
	struct echo_msg m = { .magic = htole32(HOG_MAGIC), .cost_us = htole32(threads) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ok = 0;
	struct timeval tv = { .tv_usec = 200000 };

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* A loaded guest may drop a datagram, or be slow: ask for up to 10 s. */
	for (int i = 0; i < 50 && !ok; i++) {
		struct echo_msg r;

		sendto(fd, &m, sizeof(m), 0, (struct sockaddr *)&c->dst, sizeof(c->dst));
		ok = recv(fd, &r, sizeof(r), 0) == (ssize_t)sizeof(r) &&
		     le32toh(r.magic) == HOG_MAGIC;
	}
	close(fd);
	return ok ? 0 : -ETIMEDOUT;
}

unsigned int sc_collect(const struct sc_client *c, uint64_t from_seq, uint64_t to_seq,
			uint64_t *out, unsigned int max, uint64_t *lost)
{
	unsigned int n = 0;

	*lost = 0;
	if (to_seq - from_seq > SC_MAX_REQ)
		from_seq = to_seq - SC_MAX_REQ;
	for (uint64_t s = from_seq; s < to_seq; s++) {
		const struct sc_req *r = &c->req[s % SC_MAX_REQ];

		if (!r->rtt_ns)
			(*lost)++;
		else if (n < max)
			out[n++] = r->rtt_ns;
	}
	return n;
}

static void *reports_loop(void *arg)
{
	struct sc_reports *r = arg;
	char buf[256];

	while (!r->stop) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(r->fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
		struct sc_report rep = { 0 };
		char key[40];
		const char *u;

		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (strncmp(buf, r->prefix, strlen(r->prefix)) || buf[strlen(r->prefix)] != ' ')
			continue;
		for (unsigned int k = 0; k < r->nr_keys; k++) {
			snprintf(key, sizeof(key), " %s=", r->keys[k]);
			if ((u = strstr(buf, key)))
				rep.v[k] = strtoull(u + strlen(key), NULL, 10);
		}
		rep.t_ns = wave_now_ns();
		rep.units = rep.v[0];
		pthread_mutex_lock(&r->lock);
		for (unsigned int v = 0; v < r->nr_vms; v++)
			if (r->vm_ip[v].s_addr == from.sin_addr.s_addr && r->n[v] < SC_MAX_REPORT)
				r->r[v][r->n[v]++] = rep;
		pthread_mutex_unlock(&r->lock);
	}
	return NULL;
}

int sc_reports_start(struct sc_reports *r, const char *host_ip, unsigned int port,
		     const char *prefix, const char *const *keys)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { .tv_usec = 100000 };
	int one = 1;

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	snprintf(r->prefix, sizeof(r->prefix), "%s", prefix);
	for (; keys[r->nr_keys] && r->nr_keys < SC_MAX_KEYS; r->nr_keys++)
		r->keys[r->nr_keys] = keys[r->nr_keys];
	if (inet_pton(AF_INET, host_ip, &a.sin_addr) != 1)
		return -EINVAL;
	r->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (r->fd < 0)
		return -errno;
	setsockopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(r->fd, (struct sockaddr *)&a, sizeof(a))) {
		int err = -errno;

		wave_err("bench: cannot listen for work reports on %s:%u: %s", host_ip, port,
			 strerror(errno));
		close(r->fd);
		return err;
	}
	return pthread_create(&r->thr, NULL, reports_loop, r) ? -EAGAIN : 0;
}

int sc_reports_add_vm(struct sc_reports *r, const char *ip)
{
	if (r->nr_vms == SC_MAX_VMS)
		return -ENOSPC;
	if (inet_pton(AF_INET, ip, &r->vm_ip[r->nr_vms]) != 1)
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	r->nr_vms++;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

void sc_reports_stop(struct sc_reports *r)
{
	r->stop = 1;
	pthread_join(r->thr, NULL);
	close(r->fd);
}

/*
 * Per VM, the reports that bracket [t0, t1]: the last one at or before t0
 * (or the first after it) and the first one at or after t1 (or the last
 * before it), so a window shorter than two report periods still counts.
 */
/* REQUIRES: r->lock held. How fast key k of VM v grew over the reports bracketing [t0, t1]. */
static double rate_locked(const struct sc_reports *r, unsigned int v, unsigned int k, uint64_t t0,
			  uint64_t t1)
{
	const struct sc_report *a = NULL, *b = NULL;

	/* Reports arrive in time order. */
	for (unsigned int i = 0; i < r->n[v]; i++) {
		const struct sc_report *x = &r->r[v][i];

		if (x->t_ns <= t0 || !a)
			a = x;
		if (x->t_ns >= t1 && !b)
			b = x;
	}
	if (!b && r->n[v])
		b = &r->r[v][r->n[v] - 1];
	if (a && b && b->t_ns > a->t_ns && b->v[k] >= a->v[k])
		return (double)(b->v[k] - a->v[k]) * 1e9 / (double)(b->t_ns - a->t_ns);
	return 0;
}

double sc_units_per_s(struct sc_reports *r, uint64_t t0, uint64_t t1)
{
	double sum = 0;

	pthread_mutex_lock(&r->lock);
	for (unsigned int v = 0; v < r->nr_vms; v++)
		sum += rate_locked(r, v, 0, t0, t1);
	pthread_mutex_unlock(&r->lock);
	return sum;
}

double sc_vm_rate(struct sc_reports *r, unsigned int v, unsigned int k, uint64_t t0, uint64_t t1)
{
	double x;

	pthread_mutex_lock(&r->lock);
	x = v < r->nr_vms && k < r->nr_keys ? rate_locked(r, v, k, t0, t1) : 0;
	pthread_mutex_unlock(&r->lock);
	return x;
}

int sc_last(struct sc_reports *r, unsigned int v, struct sc_report *out)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&r->lock);
	if (v < r->nr_vms && r->n[v]) {
		*out = r->r[v][r->n[v] - 1];
		ret = 0;
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}
