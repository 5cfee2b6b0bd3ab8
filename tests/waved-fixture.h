/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * waved in memory, for unit tests of its decision path without root,
 * processes or timing (tests/waved-fixture.c): the mechanisms are the
 * fake kernel of tests/mech-fake.c, observation a fake backend that
 * records whose wakeups are pushed, and the channel is wrapped at link
 * time (a test using this lists chan_is_up chan_send_batch chan_send
 * chan_drop chan_peer_features in its .wrap) so every message waved sends
 * lands in sent[]. Threads of the test stand in for vCPUs.
 * group_setup/teardown start and end them; setup/teardown give a fresh
 * waved with two VMs of two vCPUs ("lat" latency, "bat" batch), the
 * agent in charge.
 */
#ifndef WAVE_TESTS_WAVED_FIXTURE_H
#define WAVE_TESTS_WAVED_FIXTURE_H

#include <stdint.h>
#include <sys/types.h>

#include "tests/mech-fake.h"
#include "waved/waved.h"

#define NTHREADS 4

extern struct wave_msg sent[4096];       /* what waved sent, in order */
extern unsigned int nsent;
extern uint64_t peer_features;           /* what the wrapped agent announced */
extern unsigned int drops;               /* channels waved dropped */
extern int notified[HOOKS_MAX_THREADS];  /* by observation slot: wakeups pushed */
extern pid_t tids[NTHREADS];             /* the stand-in vCPU threads */
extern struct waved w;
extern struct wv_vm *lat, *bat;
extern struct mech_state before[NTHREADS]; /* each thread's state after setup */
extern char rundir[64];

int group_setup(void **state);
int group_teardown(void **state);
int setup(void **state);
int teardown(void **state);

struct wv_vm *vm_named(const char *name);
struct wv_thread *vcpu(struct wv_vm *vm, unsigned int i);
/* One op on vm's vCPU i, with the barrier and epoch waved expects. */
struct wave_txn op_on(struct wv_vm *vm, unsigned int i, enum wave_txn_op kind);
struct wave_txn place(struct wv_vm *vm, unsigned int i, uint64_t mask);
struct wave_txn weight(struct wv_vm *vm, unsigned int i, uint32_t wt);
struct wave_txn deadline(struct wv_vm *vm, unsigned int i);
/* Hands waved the transaction ops[0..n-1] as txn id, op by op, as from the agent. */
void submit(uint32_t id, struct wave_txn *ops, unsigned int n);
/* The TXN_RESULT waved sent for txn id, or NULL. */
const struct wave_txn_result *result(uint32_t id);
/* Every stand-in thread as it was after setup. */
int at_baseline(void);

#endif
