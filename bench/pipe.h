/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A benchmark contender: a bidirectional pipe of 64-byte messages between
 * two threads (side 0 sends A->B, side 1 sends B->A). Each contender is one
 * const ops struct; the harness (bench-channel.c) runs the same throughput
 * and ping-pong loops over all of them, so they are measured alike.
 */
#ifndef WAVE_BENCH_PIPE_H
#define WAVE_BENCH_PIPE_H

#include <stdint.h>

#include "channel/wire.h"

struct pipe {
	const struct pipe_ops *ops;
	uint64_t link_delay_ns;  /* wave only */
	void *priv;
};

/*
 * @open:  build both directions (on the harness thread). Returns 0 or -errno.
 * @send:  side's thread: send up to n messages; returns how many (0 = full,
 *         spin and retry), or -errno.
 * @recv:  side's thread: receive up to max messages travelling towards this
 *         side (side 0 receives B->A); returns count (0 = none yet) or -errno.
 *         Must not block for long: the harness spins.
 * @idle:  optional: side's thread has nothing more to send; lets the
 *         transport finish what it queued (a stream flushing its tail).
 *         Called until the receiving side is done.
 * @close: release everything.
 */
struct pipe_ops {
	const char *name;
	int (*open)(struct pipe *p);
	int (*send)(struct pipe *p, int side, const struct wave_msg *m, unsigned int n);
	int (*recv)(struct pipe *p, int side, struct wave_msg *m, unsigned int max);
	void (*idle)(struct pipe *p, int side);
	void (*close)(struct pipe *p);
};

extern const struct pipe_ops pipe_wave_ops;
extern const struct pipe_ops pipe_wave_tcp_ops;
extern const struct pipe_ops pipe_wave_tls_ops;
extern const struct pipe_ops pipe_rte_ring_ops;
extern const struct pipe_ops pipe_pingpong_ops;
extern const struct pipe_ops pipe_unix_ops;
extern const struct pipe_ops pipe_tcp_ops;

/* bench/dpdk-ring.c: initialises the DPDK EAL once (no hugepages, no PCI). */
int bench_dpdk_init(void);
/* Releases the EAL and removes the runtime directory if the EAL created it. */
void bench_dpdk_cleanup(void);

#endif
