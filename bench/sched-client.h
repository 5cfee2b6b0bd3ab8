/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The measuring side of 'wavectl bench sched': an open-loop UDP client that
 * sends echo requests to the latency VM at Poisson arrivals and timestamps
 * every reply, and a listener for the spin guests' work reports.
 *
 * The client's sender and receiver threads run at SCHED_FIFO with a high
 * priority: without that, on a small host, the client's own wakeup delay
 * would dominate the tail it is supposed to measure. Open loop: a late
 * reply never delays the next request (coordinated omission would hide
 * exactly the stalls we look for).
 */
#ifndef WAVE_BENCH_SCHED_CLIENT_H
#define WAVE_BENCH_SCHED_CLIENT_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>

#define SC_MAX_REQ    (1u << 20)  /* requests one client remembers */
#define SC_MAX_VMS    8
#define SC_MAX_REPORT 4096

struct sc_req {
	uint64_t sent_ns;       /* CLOCK_MONOTONIC */
	uint64_t rtt_ns;        /* 0: no reply (yet) */
};

struct sc_client {
	struct sockaddr_in dst;
	int fd;
	volatile int stop;
	pthread_t tx, rx;
	/* what the sender does now; changed between phases */
	volatile double rate;   /* requests per second */
	volatile uint32_t cost_us;
	uint64_t seq;           /* next to send */
	struct sc_req *req;     /* by seq % SC_MAX_REQ */
	uint64_t late;          /* replies that came after their slot was reused */
	int fifo_prio;
	int fifo_ok;            /* the threads really run at SCHED_FIFO */
};

/* Opens the socket and starts both threads (idle until sc_set_load). 0 or -errno. */
int sc_client_start(struct sc_client *c, const char *ip, unsigned int port, int fifo_prio);
void sc_client_stop(struct sc_client *c);
/* Changes the offered load: rate (requests/s) and per-request guest CPU cost. */
void sc_set_load(struct sc_client *c, double rate, uint32_t cost_us);
/* Starts (threads > 0) or stops (0) the guest's CPU hog. Returns 0 if acknowledged. */
int sc_hog(struct sc_client *c, unsigned int threads);

/* The sequence number of the next request: requests sent so far. */
static inline uint64_t sc_sent(const struct sc_client *c)
{
	return __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
}

/*
 * Requests sent in [from_seq, to_seq): their round trips (ns, unordered)
 * into out (up to max) and the count of those without a reply.
 */
unsigned int sc_collect(const struct sc_client *c, uint64_t from_seq, uint64_t to_seq,
			uint64_t *out, unsigned int max, uint64_t *lost);

/* Work reports of the guests (UDP to the host): "PREFIX ... KEY=N ...". */
#define SC_MAX_KEYS 8

struct sc_report {
	uint64_t t_ns;          /* when it arrived */
	uint64_t units;         /* cumulative work units of that VM (the first key) */
	uint64_t v[SC_MAX_KEYS];/* every key's value, in the order given */
};

struct sc_reports {
	int fd;
	volatile int stop;
	pthread_t thr;
	pthread_mutex_t lock;
	char prefix[16];
	const char *keys[SC_MAX_KEYS];
	unsigned int nr_keys;
	unsigned int nr_vms;
	struct in_addr vm_ip[SC_MAX_VMS];
	struct sc_report r[SC_MAX_VMS][SC_MAX_REPORT];
	unsigned int n[SC_MAX_VMS];
};

/*
 * Listens on host_ip:port for "PREFIX ... KEY=N ..." datagrams from the
 * VMs' addresses, keeping the values of keys (NULL-ended, the first one
 * the cumulative work units: "units").
 */
int sc_reports_start(struct sc_reports *r, const char *host_ip, unsigned int port,
		     const char *prefix, const char *const *keys);
int sc_reports_add_vm(struct sc_reports *r, const char *ip);
void sc_reports_stop(struct sc_reports *r);
/* Work units per second of all VMs together over [t0, t1] (from reports inside it). */
double sc_units_per_s(struct sc_reports *r, uint64_t t0, uint64_t t1);
/* ... of VM v alone, and how much key k grew per second over that window. */
double sc_vm_rate(struct sc_reports *r, unsigned int v, unsigned int k, uint64_t t0, uint64_t t1);
/* VM v's last report (its values), or -ENOENT. */
int sc_last(struct sc_reports *r, unsigned int v, struct sc_report *out);

#endif
