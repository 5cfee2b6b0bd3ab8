/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A test playing wave-agent for memory: it echoes heartbeats, keeps the
 * epoch and one VM's id and barrier, and what waved last said of that
 * VM's memory (MEM_STATE, MEM_CTL) and of the host's (HOST_MEM).
 */
#ifndef WAVE_TESTS_MEM_AGENT_H
#define WAVE_TESTS_MEM_AGENT_H

#include <stdint.h>

#include "channel/chan.h"

struct test_mem_agent {
	const char *vm_name;  /* the VM it watches */
	struct chan *ch;
	uint32_t epoch, id, barrier;
	int have_snapshot;
	struct wave_mem_state st;
	struct wave_mem_ctl ctl;
	struct wave_host_mem host;
	unsigned int nst, nctl, nhost;
	struct wave_txn_result res;
};

/* Reads and answers what waved sends for ms milliseconds. */
void test_mem_pump(struct test_mem_agent *a, int ms);
/* SET_BALLOON mib for the VM (barrier 0: its current one): the result's status, or 0xff. */
uint8_t test_set_balloon(struct test_mem_agent *a, uint32_t id, uint32_t mib, uint32_t barrier);

#endif
