/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The policy runtime shared by wave-agent (offload) and waved (on-host
 * and local fallback): it keeps the model from the state stream, runs one
 * policy per subsystem (scheduling first, then memory: composed, each
 * deciding its own targets), turns their decisions into TXN messages (txn
 * ids, the epoch the model was built under, each target's barrier) and
 * their wishes for pushed wakeups into WAKE_SUB messages, and routes each
 * TXN_RESULT back to the policy that decided. Pure C like the policies: the caller moves the
 * messages (over the channel, or straight into waved's apply path).
 */
#ifndef WAVE_IPU_SCHED_SCHED_H
#define WAVE_IPU_SCHED_SCHED_H

#include <stdint.h>

#include "channel/wire.h"
#include "ipu-sched/model.h"
#include "ipu-sched/policy.h"

#define SCHED_PENDING 256
#define SCHED_MAX_POLICIES 3   /* scheduling, memory, network */

struct sched_stats {
	uint64_t txns, ops, dropped_ops, wakeups, decides, subs, arrivals;
	uint64_t results[WAVE_ST_MAX]; /* by status */
	uint64_t unknown_results;      /* for a txn we do not remember */
};

struct sched_pending {
	uint32_t txn_id;
	unsigned int n;
	unsigned int pol;          /* the policy that decided it */
	struct wave_txn ops[WAVE_TXN_MAX_OPS];
};

/* What the host was last told about one VM's wakeups (by model VM slot). */
struct sched_sub {
	uint32_t vm_id, barrier;
	uint8_t kinds;
};

/* One composed policy. */
struct sched_policy {
	const struct policy_ops *ops;
	const struct policy_conf *conf;
	void *priv;
};

struct sched {
	struct model model;
	struct sched_policy pol[SCHED_MAX_POLICIES]; /* [0]: scheduling */
	unsigned int nr_pol;
	struct policy_env env;
	struct sched_sub sub[WAVE_MANAGED_VMS];
	int subs_dirty;            /* a VM appeared or a snapshot ended: ask @wakes again */
	struct policy_out out;     /* decisions not yet turned into messages */
	uint32_t next_txn;
	struct sched_pending pend[SCHED_PENDING];
	struct sched_stats st;
};

/*
 * Runs conf's policy (conf must outlive s) for a host that can do env.
 * Returns 0 or -ENOMEM.
 */
int sched_init(struct sched *s, const struct policy_conf *conf, const struct policy_env *env);
/*
 * Composes another subsystem's policy (conf must outlive s) after those
 * there: it sees the same model, decides after them, and its transactions
 * never join theirs. 0, -ENOSPC or -ENOMEM.
 */
int sched_add(struct sched *s, const struct policy_conf *conf);
void sched_fini(struct sched *s);

/*
 * Feeds one host->agent message received at now_ns. A thread that woke up
 * (BLOCKED -> RUNNABLE/RUNNING) gives the policy its wakeup callback, whose
 * decisions wait in s->out for the next sched_emit(). Returns 1 if the
 * model changed, 0 if not, -ENOENT if the message named what the model
 * cannot hold.
 */
int sched_feed(struct sched *s, const struct wave_msg *m, uint64_t now_ns);

/* Runs the policy's decide callback (decisions wait in s->out). */
void sched_decide(struct sched *s, uint64_t now_ns);

/*
 * Turns waiting wake subscriptions into WAKE_SUB messages and waiting
 * decisions into TXN messages, at most max (whole transactions only).
 * Returns how many messages were written; call again while it returns max.
 */
unsigned int sched_emit(struct sched *s, struct wave_msg *msgs, unsigned int max);

/* A TXN_RESULT from the host; non-OK results go back to the policy. */
void sched_result(struct sched *s, const struct wave_txn_result *r);

/* Everything applied is gone (new epoch): the policy forgets its state. */
void sched_reset(struct sched *s);

#endif
