/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The latency policy's own state and configuration, shared by its two
 * files: policy-latency.c (reservations, demotion, lending: the policy_ops)
 * and latency-busy.c (telling a busy server from a hog, and a busy VM's
 * budget). Nothing outside the policy includes this.
 */
#ifndef WAVE_IPU_SCHED_LATENCY_H
#define WAVE_IPU_SCHED_LATENCY_H

#include <stdint.h>
#include <string.h>

#include "ipu-sched/policy.h"

/* Tunables (--policy-opt NAME=VALUE; the table below names them). */
struct lat_cfg {
	uint64_t period_ns;     /* SCHED_DEADLINE period */
	uint64_t rmin_ns;       /* smallest reservation */
	double rcap;            /* largest reservation, fraction of the period */
	double headroom;        /* reservation = demand x headroom */
	double grow_delay;      /* runnable-delay fraction that grows a reservation */
	uint64_t grow_wait_ns;  /* ... or runnable wait per wakeup */
	double hog_util;        /* sustained use per vCPU that marks a hog */
	uint64_t hog_ns;        /* ... for this long */
	double calm_util;       /* use per vCPU below which a hog is forgiven */
	double hog_quota;       /* CFS quota per vCPU of a hog, fraction of a CPU (0: none) */
	int lend;               /* dedicate a core while active, lend it while idle */
	uint64_t idle_ns;       /* lend: idle this long before the core is lent */
	double active_util;     /* lend: a thread using more than this is active */
	uint32_t pinned_weight; /* weight of a pinned latency thread (no reservation possible) */
	uint32_t busy_rate;     /* packets/s to the VM, at least, for its use to be explained */
	double busy_factor;     /* ... and CPU per packet within this factor of what it was */
	uint64_t busy_cost_ns;  /* ... and never more than this per packet */
	double busy_rcap;       /* largest reservation of a busy VM's thread, fraction of the period */
	double busy_share;      /* a busy VM's reservations together, fraction of the allowed CPUs */
};
_Static_assert(sizeof(struct lat_cfg) <= POLICY_CFG_MAX, "lat_cfg fits a policy_conf");

enum lat_applied { LAT_NONE = 0, LAT_DL = 1, LAT_OTHER = 2, LAT_WEIGHT = 3 };

struct lat_thread {
	uint8_t applied;       /* enum lat_applied */
	uint8_t failed;        /* the host refused: back off */
	uint32_t barrier;      /* target barrier the decision was made for */
	uint64_t runtime;      /* applied reservation */
	uint64_t low_since;    /* demand below the shrink line since */
	uint64_t retry_after;
	uint8_t capped;        /* a hog's CFS quota is on */
	uint8_t failed_hog;    /* the refused decision was a demotion */
	uint8_t held;          /* the host refused it more: it is at the host's cap */
	uint8_t prev_applied;  /* what it had before the last reservation sent */
	uint64_t prev_runtime;
	uint64_t grant;        /* admission: the most it may reserve now, ns (0: none at all) */
};

/* A thread that wants a reservation, as admission control sees it (latency-admit.c). */
struct lat_cand {
	uint16_t v, slot;
	uint32_t weight;
	double want, floor, token, cap; /* ns per period: latency-admit.c */
	uint64_t last_grant;     /* its grant of the last pass */
};

struct lat_vm {
	uint32_t id;
	int hog;
	int busy;              /* its use is explained by its traffic now */
	uint64_t hot_since, calm_since;
	uint64_t last_active;  /* lend: last wakeup or busy sample */
	double base_cost;      /* CPU-seconds per arriving packet while not pressed */
	uint64_t learned_ns;   /* how much time base_cost rests on (LAT_LEARN_NS: trusted) */
	double hog_cpus;       /* what its vCPUs used when it was demoted, CPUs */
	uint64_t pass_ns;      /* when lat_update_hog last looked at it */
	double scale;          /* busy: the share of its demand its reservations may have */
};

struct lat_state {
	struct lat_cfg cfg;
	int prestage;          /* the host applies prestaged transactions */
	struct lat_thread th[WAVE_MANAGED_VMS][WAVE_VM_SLOTS];
	struct lat_vm vm[WAVE_MANAGED_VMS];
	int lent;              /* lend: batch vCPUs may use the dedicated core (-1: unknown) */
	int dedicated;         /* lend: that core, or -1 */
	int revoke_armed;      /* lend: a prestaged revoke waits at the host */
	struct lat_cand cand[WAVE_MANAGED_VMS * WAVE_VM_SLOTS]; /* admission's scratch */
	unsigned int admitted, refused; /* admission: threads with and without a grant, last pass */
	int squeezed;          /* admission: the last pass gave less than was wanted */
};

static inline unsigned int lat_slot_of(const struct model *m, const struct model_vm *vm)
{
	return (unsigned int)(vm - m->vms);
}

/* The policy's state of thread t, started afresh if t is a new thread (another barrier). */
static inline struct lat_thread *lat_thread_of(struct lat_state *s, const struct model *m,
					       const struct model_vm *vm,
					       const struct model_thread *t)
{
	struct lat_thread *lt = &s->th[lat_slot_of(m, vm)][model_thread_slot(t)];

	if (lt->barrier != t->barrier) {
		memset(lt, 0, sizeof(*lt));
		lt->barrier = t->barrier;
	}
	return lt;
}

/* latency-admit.c */
/*
 * Sets every latency thread's grant (lat_thread.grant) so that the
 * reservations wanted add up to what the host admits (HOST_CPU rt_cap_ppm;
 * if it did not say, 3/4 of the allowed CPUs, the host's default).
 * Call after lat_update_hog and lat_busy_scale of every VM.
 */
void lat_admit(struct lat_state *s, const struct model *m);

/* latency-busy.c */
/* The largest reservation a thread of the VM may have now, ns. */
double lat_vm_cap_ns(const struct lat_state *s, const struct lat_vm *lv);
/* A thread's demand with headroom, ns per period. */
double lat_thread_demand(const struct lat_state *s, const struct model_thread *t);
/* Hog, busy or neither, from the VM's use and its traffic now (the header of policy-latency.c). */
void lat_update_hog(struct lat_state *s, const struct model *m, const struct model_vm *vm,
		    uint64_t now);
/* A busy VM's budget: the factor its threads' caps are scaled by (lat_vm.scale). */
void lat_busy_scale(struct lat_state *s, const struct model *m, const struct model_vm *vm);

#endif
