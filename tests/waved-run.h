/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The process-level waved tests' shared harness (waved-run.c): NTHREADS
 * stand-in vCPUs in two VMs (lat: threads 0, 1; bat: 2, 3), waved and the
 * agent as real processes, cmocka group and case setup/teardown.
 */
#ifndef WAVE_TESTS_WAVED_RUN_H
#define WAVE_TESTS_WAVED_RUN_H

#include <sched.h>
#include <stdint.h>
#include <sys/types.h>

#include "tests/tap.h"

#define NTHREADS 4
#define LAG_MS 20

extern pid_t tids[NTHREADS];
extern pid_t waved_pid, agent_pid;
extern char rundir[64], uri[64], vm_lat[64], vm_bat[64], psk[128];
extern int over_tls;               /* this case: waved and its agent over tcp:// with TLS */
extern cpu_set_t baseline;
extern struct test_tap tap;        /* a case's: closed by its teardown */
extern volatile int parked[NTHREADS]; /* stand-in i is blocked for good (park) */

/* Stand-in i blocked for good (on) or napping again (off). */
void park(int i, int on);
/* waved on the stand-ins, with one more option (opt NULL: none). */
void start_waved_opt(const char *opt, const char *val);
void start_waved(void);
/* The agent (pin policy), with an emulated link delay in us (NULL: none). */
void start_agent(const char *delay_us);
/* wave-agent (policy pin) with one more option (opt NULL: none). */
void start_agent_opt(const char *opt, const char *val);
/* pin's placement reached the stand-ins / every stand-in is at its baseline. */
int pinned(void);
int at_baseline(void);
/* Polls cond every 5 ms: 0, or -ETIMEDOUT. */
int wait_for(int (*cond)(void), int timeout_ms);
int group_setup(void **state);
int group_teardown(void **state);
int case_setup(void **state);
int case_teardown(void **state);
/* This case over tcp:// with TLS 1.3 and a pre-shared key. */
int tls_case_setup(void **state);
void need_two_cpus(void);
/* waved and the agent running the pin policy, in charge, the stand-ins pinned. */
void offload_pinned(void);
/* The stat (number) key of waved's status document. */
int64_t waved_stat(const char *key);

#endif
