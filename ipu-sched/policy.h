/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Scheduling policies: plain C over the model (model.h), no I/O, no system
 * calls, no clock (the time is an argument), so the same code runs in
 * wave-agent on the IPU and inside waved on the host, and tests replay
 * synthetic traces through it deterministically.
 *
 * A policy emits decisions as TXN ops (struct wave_txn with target, op and
 * arguments; the runtime in sched.h fills in txn ids, epoch and barriers).
 * Consecutive ops emitted with join=1 form one transaction: the host applies
 * all of them or none.
 */
#ifndef WAVE_IPU_SCHED_POLICY_H
#define WAVE_IPU_SCHED_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "channel/wire.h"
#include "ipu-sched/model.h"

#define POLICY_MAX_OPS 256

struct policy_out {
	struct wave_txn ops[POLICY_MAX_OPS];
	uint8_t join[POLICY_MAX_OPS];  /* 1: same transaction as the op before */
	unsigned int n;
	unsigned int dropped;          /* ops that did not fit */
};

/* Tunables (defaults from policy_cfg_defaults(); see policy-latency.c). */
struct policy_cfg {
	uint64_t period_ns;     /* latency: SCHED_DEADLINE period */
	uint64_t rmin_ns;       /* latency: smallest reservation */
	double rcap;            /* latency: largest reservation, fraction of the period */
	double headroom;        /* latency: reservation = demand x headroom */
	double grow_delay;      /* latency: runnable-delay fraction that grows a reservation */
	uint64_t grow_wait_ns;  /* latency: ... or runnable wait per wakeup */
	double hog_util;        /* latency: sustained use per vCPU that marks a hog */
	uint64_t hog_ns;        /* latency: ... for this long */
	double calm_util;       /* latency: use per vCPU below which a hog is forgiven */
	double hog_quota;       /* latency: CFS quota per vCPU of a hog, fraction of a CPU (0: none) */
	int lend;               /* latency: dedicate a core while active, lend it while idle */
	int prestage;           /* the host applies prestaged transactions (WAVE_FEAT_PRESTAGE) */
	uint64_t idle_ns;       /* latency: idle this long before its core is lent */
};

void policy_cfg_defaults(struct policy_cfg *c);

/*
 * Callbacks, all on the runtime's thread, none may block or do I/O.
 * @priv_size: bytes of private state the runtime allocates (zeroed).
 * @init:     once, before anything else.
 * @decide:   the model changed or the periodic tick fired: emit whatever
 *            should change now. Must be idempotent: emit a decision once,
 *            not on every call.
 * @wakeup:   (optional) a managed thread just woke up: emit what must happen
 *            at once (e.g. revoke a lent core). Called before @decide.
 * @result:   (optional) the host answered a transaction (ops[0..n-1], as
 *            sent, TRIGGER ops first if it was prestaged) with a non-OK
 *            status: forget or back off what was assumed applied.
 * @reset:    everything applied is gone (new epoch after fallback, or the
 *            host restarted): forget all assumed state.
 * @wants_wakeups: (optional) nonzero if @wakeup must see wakeups as they
 *            happen with this configuration; the host then pushes them at
 *            once (each costs the host a wakeup). NULL: never.
 */
struct policy_ops {
	const char *name;
	const char *summary;
	size_t priv_size;
	void (*init)(void *priv, const struct policy_cfg *cfg);
	void (*decide)(void *priv, const struct model *m, uint64_t now_ns, struct policy_out *out);
	void (*wakeup)(void *priv, const struct model *m, const struct model_vm *vm,
		       const struct model_thread *t, uint64_t now_ns, struct policy_out *out);
	void (*result)(void *priv, const struct model *m, const struct wave_txn *ops,
		       unsigned int n, const struct wave_txn_result *r);
	void (*reset)(void *priv);
	int (*wants_wakeups)(const struct policy_cfg *cfg);
};

/* Nonzero if ops with cfg wants wakeups pushed as they happen. */
int policy_wants_wakeups(const struct policy_ops *ops, const struct policy_cfg *cfg);

extern const struct policy_ops policy_cfs_ops;
extern const struct policy_ops policy_pin_ops;
extern const struct policy_ops policy_latency_ops;
extern const struct policy_ops policy_wakeprobe_ops;

/* By name ("cfs", "pin", "latency", "wakeprobe"), or NULL. */
const struct policy_ops *policy_find(const char *name);
/* "cfs, pin, latency" for help texts and errors. */
const char *policy_names(void);

/* Helpers for policies. */
void policy_emit(struct policy_out *o, const struct wave_txn *op, int join);
void policy_op_init(struct wave_txn *op, const struct model_vm *vm,
		    const struct model_thread *t, enum wave_txn_op kind);

#endif
