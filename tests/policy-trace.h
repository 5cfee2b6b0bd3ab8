/* SPDX-License-Identifier: BSD-3-Clause */
/* Synthetic traces for policy tests: see policy-trace.c. */
#ifndef WAVE_TESTS_POLICY_TRACE_H
#define WAVE_TESTS_POLICY_TRACE_H

#include <stdint.h>

#include "ipu-sched/sched.h"

#define MS 1000000ull

struct fake_thread {
	uint32_t vm, kind, index, barrier;
	uint64_t run, wait;
	uint32_t wakeups;
	uint8_t state;
	uint64_t pin;               /* the operator's pin (CPUs 0-63), 0: none */
};

extern struct sched s;          /* the runtime under test */
extern struct wave_msg out[512];/* what it emitted last (decide()) */
extern uint64_t now;            /* the trace's clock, ns */
extern struct policy_conf conf;

void feed(const struct wave_msg *m);
void add_vm(uint32_t id, enum wave_vm_class cls, uint16_t vcpus, uint32_t weight);
void add_cpus(unsigned int n);
/* VCPU_STATE for t now (and its pin, if it has one). */
void report(struct fake_thread *t);
/* Advances time by dt in steps, each thread running util and waiting delay of it. */
void run_for(struct fake_thread *ts, unsigned int n, uint64_t dt, double util, double delay,
	     uint64_t step);
/* out[i] is a TXN op of kind op. */
int is_op(unsigned int i, enum wave_txn_op op);
/* The policy decides now; returns how many messages it emitted into out. */
unsigned int decide(void);
/* name with lend=1 if lend, for a host that takes prestaged transactions if lend > 1. */
int setup_policy(const char *name, int lend);
int teardown(void **state);
/* n threads of vm: the first vcpus are vCPUs 0.., the rest emulator 0. */
void init_threads(struct fake_thread *t, unsigned int n, uint32_t vm, unsigned int vcpus);
/* The first of out[0..n-1] that targets (vm, kind, idx), or NULL. */
const struct wave_txn *find_op(unsigned int n, uint32_t vm, uint8_t kind, uint16_t idx);
/* NET_STATE for vm (barrier vm * 100): its counts so far, 100 bytes a packet. */
void net_report(uint32_t vm, uint64_t rx_pkts, uint64_t tx_pkts);

#endif
