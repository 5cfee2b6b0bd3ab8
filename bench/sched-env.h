/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The environment of 'wavectl bench sched': libvirtd and the guests'
 * bridge (started only if missing, stopped only if started here), the VMs
 * (launched from images/xml/ with names unique to this run), and for each
 * mode the daemons (waved, wave-agent) or the static configuration it
 * stands for. Everything started is stopped by se_teardown(), which is
 * also safe to call from a signal handler's exit path and after a partial
 * setup.
 */
#ifndef WAVE_BENCH_SCHED_ENV_H
#define WAVE_BENCH_SCHED_ENV_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "bench/vmenv.h"

/*
 * nonet: offload with the VMs' traffic not counted (waved --net-observe none): CPU-only insight.
 * fire: offload with a packet's arrival firing the prestaged decisions (waved --net-fire);
 * it differs from offload only with a policy that prestages (--policy-opt lend=on).
 */
enum se_mode { SE_CFS = 0, SE_PIN, SE_RT, SE_OFFLOAD, SE_ONHOST, SE_NONET, SE_FIRE, SE_NR_MODES };
/* What runs without --modes: all but fire. */
#define SE_DEFAULT_MODES (((1u << SE_NR_MODES) - 1) & ~(1u << SE_FIRE))
#define SE_MAX_POLICY_OPTS 8

extern const char *const se_mode_names[SE_NR_MODES];
/* "cfs, pin, rt, offload, onhost, nonet, fire", from the names. */
const char *se_modes_list(void);

#define SE_MAX_THREADS 16
#define SE_NR_BATCH 2   /* batch VMs of 2 vCPUs: 4 spinning vCPUs, 2:1 on two CPUs */

/* The VMs, by their index in be.vm. */
enum { SE_VM_LAT = 0, SE_VM_BAT = 1 };

struct se_env {
	struct bench_env be;        /* libvirtd, the bridge, the VMs, the run directory */
	pid_t waved, agent;
	/* --policy-opt KEY=VALUE for the latency policy, wherever it runs */
	const char *policy_opt[SE_MAX_POLICY_OPTS];
	unsigned int nr_policy_opts;
	/* rt mode: what was changed by hand, to undo */
	int rt_on;
	pid_t rt_tids[SE_MAX_THREADS];
	unsigned int rt_nr;
	char rt_groups[8][512];     /* cgroups given an RT budget, parents first */
	unsigned int rt_ngroups;
};

/*
 * Starts libvirtd and the bridge if needed and launches the VMs; 0 or -errno.
 * e is zeroed first, except policy_opt and nr_policy_opts (the caller's).
 */
int se_setup(struct se_env *e, int quiet);
/* Waits until both guests are ready (console lines). */
int se_wait_guests(struct se_env *e, int timeout_s);
void se_teardown(struct se_env *e);

/* Starts what a mode runs (delay_us: the offload link delay). 0 or -errno. */
int se_mode_start(struct se_env *e, enum se_mode m, unsigned int delay_us);
void se_mode_stop(struct se_env *e);

#endif
