// SPDX-License-Identifier: BSD-3-Clause
/*
 * Contender: DPDK's rte_ring, single-producer/single-consumer, with 64-byte
 * elements copied into the ring (rte_ring_*_elem), 1024 slots per direction
 * like the Wave ring. The EAL runs without hugepages, PCI or telemetry, in
 * memory only, so nothing is left behind.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "bench/pipe.h"
#include "common/log.h"

#define RING_SLOTS 1024

struct rte_pipe {
	struct rte_ring *r[2]; /* r[0]: A->B, r[1]: B->A */
};

#define DPDK_RUNDIR "/var/run/dpdk"
static int rundir_existed;

static int eal_up;

void bench_dpdk_cleanup(void)
{
	if (!eal_up)
		return;
	eal_up = 0;
	rte_eal_cleanup();
	if (!rundir_existed) {
		rmdir(DPDK_RUNDIR "/rte");
		rmdir(DPDK_RUNDIR);
	}
}

int bench_dpdk_init(void)
{
	static int done;
	char *argv[] = { "wavectl", "--no-huge", "-m", "64", "--no-pci", "--no-shconf",
			 "--no-telemetry", "--log-level=*:error", "-l", "0", NULL };
	cpu_set_t saved;

	if (done)
		return done > 0 ? 0 : -ENODEV;
	/* The EAL creates its runtime directory even without shared config. */
	rundir_existed = access(DPDK_RUNDIR, F_OK) == 0;
	/* The EAL pins the calling thread to its main lcore: undo that after. */
	sched_getaffinity(0, sizeof(saved), &saved);
	if (rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0) {
		wave_err("DPDK EAL init failed: %s", rte_strerror(rte_errno));
		done = -1;
		return -ENODEV;
	}
	sched_setaffinity(0, sizeof(saved), &saved);
	done = 1;
	eal_up = 1;
	return 0;
}

static int rte_open(struct pipe *p)
{
	struct rte_pipe *rp = calloc(1, sizeof(*rp));
	char name[32];
	int ret = bench_dpdk_init();

	if (!rp)
		return -ENOMEM;
	for (int i = 0; !ret && i < 2; i++) {
		snprintf(name, sizeof(name), "wave-bench-%d-%d", getpid(), i);
		rp->r[i] = rte_ring_create_elem(name, WAVE_MSG_SIZE, RING_SLOTS, SOCKET_ID_ANY,
						RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (!rp->r[i]) {
			wave_err("rte_ring_create_elem: %s", rte_strerror(rte_errno));
			ret = -ENOMEM;
		}
	}
	if (ret) {
		rte_ring_free(rp->r[0]);
		free(rp);
		return ret;
	}
	p->priv = rp;
	return 0;
}

static int rte_send(struct pipe *p, int side, const struct wave_msg *m, unsigned int n)
{
	struct rte_pipe *rp = p->priv;

	return (int)rte_ring_sp_enqueue_burst_elem(rp->r[side], m, WAVE_MSG_SIZE, n, NULL);
}

static int rte_recv(struct pipe *p, int side, struct wave_msg *m, unsigned int max)
{
	struct rte_pipe *rp = p->priv;

	return (int)rte_ring_sc_dequeue_burst_elem(rp->r[!side], m, WAVE_MSG_SIZE, max, NULL);
}

static void rte_close(struct pipe *p)
{
	struct rte_pipe *rp = p->priv;

	rte_ring_free(rp->r[0]);
	rte_ring_free(rp->r[1]);
	free(rp);
}

const struct pipe_ops pipe_rte_ring_ops = {
	.name = "rte_ring",
	.open = rte_open,
	.send = rte_send,
	.recv = rte_recv,
	.close = rte_close,
};
