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
 *
 * Each policy owns its configuration, like a sched_ext scheduler its
 * rodata: a struct of its own with defaults, described by a table of
 * parameters that `--policy-opt KEY=VALUE` sets by name (policy_conf_set).
 * The runtime hands it to @init as an opaque pointer; nothing outside the
 * policy knows its fields.
 */
#ifndef WAVE_IPU_SCHED_POLICY_H
#define WAVE_IPU_SCHED_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "channel/wire.h"
#include "ipu-sched/model.h"

#define POLICY_MAX_OPS 256
#define POLICY_CFG_MAX 256  /* bytes of a policy's config struct */

struct policy_out {
	struct wave_txn ops[POLICY_MAX_OPS];
	uint8_t join[POLICY_MAX_OPS];  /* 1: same transaction as the op before */
	uint8_t pol[POLICY_MAX_OPS];   /* the runtime's: which composed policy emitted it */
	unsigned int n;
	unsigned int dropped;          /* ops that did not fit */
};

/* What the host this policy decides for can do (from its HELLO, or waved's own). */
struct policy_env {
	int prestage;                  /* it applies prestaged transactions (WAVE_FEAT_PRESTAGE) */
	int wake_sub;                  /* it takes wakeup subscriptions (WAVE_FEAT_WAKE_SUB) */
	int net;                       /* it counts VM traffic (NET_STATE, WAVE_FEAT_NET) */
	int mem;                       /* it reports and sets guest memory (MEM_*, WAVE_FEAT_MEM) */
	int netctl;                    /* it sets VMs' rates on wave-switch (WAVE_FEAT_NETCTL) */
};

/*
 * What a policy decides about: each subsystem has its own (--policy,
 * --mem-policy), and the runtime composes one of each (sched.h).
 */
enum policy_subsys { POLICY_SCHED = 0, POLICY_MEM, POLICY_NET, POLICY_SUBSYS_MAX };

/* One tunable of a policy, set by name with --policy-opt NAME=VALUE. */
enum policy_param_type {
	POLICY_PARAM_BOOL,             /* int: 0/1, off/on, no/yes, false/true */
	POLICY_PARAM_DURATION,         /* uint64_t ns: a number with ns/us/ms/s (bare: ms) */
	POLICY_PARAM_FRACTION,         /* double in [min, max] */
	POLICY_PARAM_UINT32,           /* uint32_t in [min, max] */
};

struct policy_param {
	const char *name;
	enum policy_param_type type;
	size_t offset;                 /* of the field in the policy's config struct */
	double min, max;               /* DURATION: ns; FRACTION, UINT32: the value */
	const char *help;
};

/* One entry of a params table: field f of the config struct cfg, type t (POLICY_PARAM_t). */
#define POLICY_PARAM(cfg, n, t, f, lo, hi, h) \
	{ .name = n, .type = POLICY_PARAM_##t, .offset = offsetof(cfg, f), \
	  .min = lo, .max = hi, .help = h }

/*
 * Callbacks, all on the runtime's thread; none may block, do I/O or make a
 * system call. Every callback is optional (cfs has none).
 * @priv_size: bytes of private state the runtime allocates (zeroed).
 * @cfg_size, @cfg_default, @params: the policy's config struct (at most
 *            POLICY_CFG_MAX bytes), its defaults and its tunables (ended
 *            by a NULL name). None: a policy without configuration.
 * @init:     once before anything else, and again after a reset: cfg is
 *            the policy's config struct (copy what it keeps), env what the
 *            host can do. NULL: nothing to set up.
 * @decide:   the model changed or the periodic tick fired: emit whatever
 *            should change now. Must be idempotent: emit a decision once,
 *            not on every call. NULL: a policy that acts only on wakeups.
 * @wakeup:   a managed thread just woke up: emit what must happen at once
 *            (e.g. revoke a lent core). Called before @decide. Only threads
 *            @wakes asked for are pushed at once; others are seen by their
 *            next periodic state (and may reach @wakeup late, or never).
 * @wakes:    which threads of vm the policy wants to see wake up as it
 *            happens: bit k set for threads of enum wave_kind k, 0 none;
 *            POLICY_WAKES_NET: packets reaching vm after a quiet gap
 *            (@arrival).
 *            Asked when a VM appears and after every snapshot; the runtime
 *            tells the host (WAKE_SUB), and each pushed wakeup costs the
 *            host a wakeup. NULL: none.
 * @arrival:  a packet reached vm after a quiet gap (the host pushed it
 *            because @wakes asked for POLICY_WAKES_NET): emit what must
 *            happen before the vCPU that serves it runs. Called before
 *            @decide. NULL: arrivals only feed the model's rates.
 * @result:   the host answered a transaction (ops[0..n-1], as sent,
 *            TRIGGER ops first if it was prestaged) with a non-OK status:
 *            forget or back off what was assumed applied.
 * @subsys:   what it decides about: scheduling (vCPU threads' class,
 *            placement, weight, quota), memory (balloon targets) or the
 *            network (VMs' rates on wave-switch).
 * @reset:    everything applied is gone (new epoch after fallback, or the
 *            host restarted): forget all assumed state. NULL: the runtime
 *            zeroes the private state and calls @init again.
 */
struct policy_ops {
	const char *name;
	const char *summary;
	enum policy_subsys subsys;     /* zero: scheduling */
	size_t priv_size;
	size_t cfg_size;
	const void *cfg_default;
	const struct policy_param *params;
	void (*init)(void *priv, const void *cfg, const struct policy_env *env);
	void (*decide)(void *priv, const struct model *m, uint64_t now_ns, struct policy_out *out);
	void (*wakeup)(void *priv, const struct model *m, const struct model_vm *vm,
		       const struct model_thread *t, uint64_t now_ns, struct policy_out *out);
	uint8_t (*wakes)(const void *priv, const struct model_vm *vm);
	void (*arrival)(void *priv, const struct model *m, const struct model_vm *vm,
			uint64_t now_ns, struct policy_out *out);
	void (*result)(void *priv, const struct model *m, const struct wave_txn *ops,
		       unsigned int n, const struct wave_txn_result *r);
	void (*reset)(void *priv);
};

/* A policy chosen by name with its configuration: what --policy and --policy-opt build. */
struct policy_conf {
	const struct policy_ops *ops;
	unsigned int nr_set;           /* --policy-opt given so far */
	_Alignas(16) unsigned char cfg[POLICY_CFG_MAX];
};

extern const struct policy_ops policy_cfs_ops;
extern const struct policy_ops policy_pin_ops;
extern const struct policy_ops policy_latency_ops;
extern const struct policy_ops policy_wakeprobe_ops;
extern const struct policy_ops mm_none_ops;       /* mm/policy-none.c */
extern const struct policy_ops mm_balloon_ops;    /* mm/policy-balloon.c */
extern const struct policy_ops net_none_ops;      /* netctl/policy-none.c */
extern const struct policy_ops net_share_ops;     /* netctl/policy-share.c */

/* By name within subsystem k, or NULL. */
const struct policy_ops *policy_find(enum policy_subsys k, const char *name);
/* "cfs, pin, latency, wakeprobe": the scheduling policies, from the table. */
const char *policy_names(void);
/* "none, balloon": the memory policies. */
const char *mem_policy_names(void);
/* "none, share": the network policies. */
const char *net_policy_names(void);

/* conf = the scheduling policy name with its defaults. 0, or -EINVAL logged with the names. */
int policy_conf_init(struct policy_conf *c, const char *name);
/* ... of subsystem k. */
int policy_conf_init_as(struct policy_conf *c, enum policy_subsys k, const char *name);
/* Sets one tunable from "KEY=VALUE". 0, or -EINVAL logged naming the key or value. */
int policy_conf_set(struct policy_conf *c, const char *kv);
/* Every policy with its summary and tunables (defaults included), for --help. */
void policy_conf_help(FILE *f);

/*
 * --policy P and --policy-opt KEY=VALUE for a command's option table
 * (common/opt.h); conf must hold the default policy before parsing.
 */
#define POLICY_OPTS(conf, h)                                                        \
	{ .kind = OPT_KIND_CALLBACK, .name = "policy", .argh = "P", .value = (conf),   \
	  .cb = policy_opt_policy, .choices = policy_names, .show = policy_opt_show,  \
	  .help = (h) },                                                             \
	OPT_CALLBACK("policy-opt", "KEY=VALUE", conf, policy_opt_set,               \
		     "set a tunable of the policy (see below; repeatable)")
/* --mem-policy P and --mem-policy-opt KEY=VALUE, the same way. */
#define MEM_POLICY_OPTS(conf, h)                                                    \
	{ .kind = OPT_KIND_CALLBACK, .name = "mem-policy", .argh = "P", .value = (conf), \
	  .cb = policy_opt_policy, .choices = mem_policy_names, .show = policy_opt_show, \
	  .help = (h) },                                                             \
	OPT_CALLBACK("mem-policy-opt", "KEY=VALUE", conf, policy_opt_set,           \
		     "set a tunable of the memory policy (see below; repeatable)")
/* --net-policy P and --net-policy-opt KEY=VALUE, the same way. */
#define NET_POLICY_OPTS(conf, h)                                                    \
	{ .kind = OPT_KIND_CALLBACK, .name = "net-policy", .argh = "P", .value = (conf), \
	  .cb = policy_opt_policy, .choices = net_policy_names, .show = policy_opt_show, \
	  .help = (h) },                                                             \
	OPT_CALLBACK("net-policy-opt", "KEY=VALUE", conf, policy_opt_set,           \
		     "set a tunable of the network policy (see below; repeatable)")
struct opt;
int policy_opt_policy(const struct opt *o, const char *arg);
int policy_opt_set(const struct opt *o, const char *arg);
const char *policy_opt_show(const struct opt *o);

/* Helpers for policies. */
void policy_emit(struct policy_out *o, const struct wave_txn *op, int join);
void policy_op_init(struct wave_txn *op, const struct model_vm *vm,
		    const struct model_thread *t, enum wave_txn_op kind);
/* An op that names the whole VM (wave_op_targets_vm: SET_BALLOON, SET_NET_RATE). */
void policy_vm_op_init(struct wave_txn *op, const struct model_vm *vm, enum wave_txn_op kind);
/* Bit for wakes(): threads of kind k. */
#define POLICY_WAKES(k) ((uint8_t)(1u << (k)))
#define POLICY_WAKES_ALL ((uint8_t)((1u << WAVE_KIND_MAX) - 1))
#define POLICY_WAKES_NET ((uint8_t)WAVE_WAKE_NET)

#endif
