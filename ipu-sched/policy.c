// SPDX-License-Identifier: BSD-3-Clause
/* Policy registry and helpers (policy.h), and the two simple policies. */
#include <string.h>

#include "ipu-sched/policy.h"

static const struct policy_ops *const policies[] = {
	&policy_cfs_ops,
	&policy_pin_ops,
	&policy_latency_ops,
	&policy_wakeprobe_ops,
};

const struct policy_ops *policy_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof(policies) / sizeof(policies[0]); i++)
		if (!strcmp(policies[i]->name, name))
			return policies[i];
	return NULL;
}

const char *policy_names(void)
{
	return "cfs, pin, latency, wakeprobe";
}

void policy_cfg_defaults(struct policy_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->period_ns = 5000000;       /* 5 ms */
	c->rmin_ns = 500000;          /* 0.5 ms */
	c->rcap = 0.45;
	c->headroom = 2.0;
	c->grow_delay = 0.05;
	c->grow_wait_ns = 200000;     /* 0.2 ms queued per wakeup */
	c->hog_util = 0.85;
	c->hog_ns = 500000000ull;     /* 0.5 s */
	c->calm_util = 0.20;
	c->hog_quota = 0.25;
	c->lend = 0;
	c->idle_ns = 50000000ull;     /* 50 ms */
}

int policy_wants_wakeups(const struct policy_ops *ops, const struct policy_cfg *cfg)
{
	return ops->wakeup && ops->wants_wakeups && ops->wants_wakeups(cfg);
}

void policy_emit(struct policy_out *o, const struct wave_txn *op, int join)
{
	if (o->n >= POLICY_MAX_OPS) {
		o->dropped++;
		return;
	}
	o->ops[o->n] = *op;
	o->join[o->n] = o->n && join;
	o->n++;
}

void policy_op_init(struct wave_txn *op, const struct model_vm *vm,
		    const struct model_thread *t, enum wave_txn_op kind)
{
	memset(op, 0, sizeof(*op));
	op->vm_id = vm->id;
	op->kind = t->kind;
	op->index = t->index;
	op->op = (uint8_t)kind;
}

/* cfs: the baseline. Linux decides everything; the policy never acts. */
static void cfs_init(void *priv, const struct policy_cfg *cfg)
{
	(void)priv;
	(void)cfg;
}

static void cfs_decide(void *priv, const struct model *m, uint64_t now, struct policy_out *out)
{
	(void)priv;
	(void)m;
	(void)now;
	(void)out;
}

static void cfs_reset(void *priv)
{
	(void)priv;
}

const struct policy_ops policy_cfs_ops = {
	.name = "cfs",
	.summary = "no decisions: Linux CFS alone (the baseline)",
	.init = cfs_init,
	.decide = cfs_decide,
	.reset = cfs_reset,
};

/*
 * pin: static 1:1 pinning, what operators do by hand today. vCPUs of all VMs,
 * in VM order, each on its own allowed CPU, round-robin when there are more
 * vCPUs than CPUs. Emulator threads stay where Linux puts them.
 */
struct pin_state {
	/* CPU each vCPU was pinned to + 1 (0: not pinned), by VM slot and index. */
	uint16_t pinned[MODEL_MAX_VMS][MODEL_MAX_VCPUS];
	uint32_t barrier[MODEL_MAX_VMS][MODEL_MAX_VCPUS];
};

static void pin_decide(void *priv, const struct model *m, uint64_t now, struct policy_out *out)
{
	struct pin_state *p = priv;
	unsigned int cpus[MODEL_MAX_CPUS], n = model_allowed_cpus(m, cpus, MODEL_MAX_CPUS), next = 0;

	(void)now;
	if (!n)
		return;
	for (unsigned int v = 0; v < MODEL_MAX_VMS; v++) {
		const struct model_vm *vm = &m->vms[v];

		for (unsigned int i = 0; vm->present && i < MODEL_MAX_VCPUS; i++) {
			const struct model_thread *t = &vm->vcpu[i];
			unsigned int cpu = cpus[next++ % n];
			struct wave_txn op;

			if (!t->present)
				continue;
			if (p->pinned[v][i] == cpu + 1 && p->barrier[v][i] == t->barrier)
				continue;
			policy_op_init(&op, vm, t, WAVE_OP_PLACE);
			op.u.place.cpu_base = cpu / 64 * 64;
			op.u.place.mask = 1ull << (cpu % 64);
			policy_emit(out, &op, 0);
			p->pinned[v][i] = (uint16_t)(cpu + 1);
			p->barrier[v][i] = t->barrier;
		}
	}
}

static void pin_result(void *priv, const struct model *m, const struct wave_txn *ops,
		       unsigned int n, const struct wave_txn_result *r)
{
	struct pin_state *p = priv;

	/* Stale: place those vCPUs again next time. Refused: leave them be. */
	if (r->status != WAVE_ST_STALE_TARGET && r->status != WAVE_ST_STALE_EPOCH)
		return;
	for (unsigned int k = 0; k < n; k++)
		for (unsigned int v = 0; v < MODEL_MAX_VMS; v++)
			if (m->vms[v].present && m->vms[v].id == ops[k].vm_id &&
			    ops[k].index < MODEL_MAX_VCPUS)
				p->pinned[v][ops[k].index] = 0;
}

static void pin_reset(void *priv)
{
	memset(priv, 0, sizeof(struct pin_state));
}

const struct policy_ops policy_pin_ops = {
	.name = "pin",
	.summary = "static 1:1 pinning of vCPUs to allowed CPUs",
	.priv_size = sizeof(struct pin_state),
	.init = cfs_init,
	.decide = pin_decide,
	.result = pin_result,
	.reset = pin_reset,
};

/*
 * wakeprobe: an instrument, not a scheduler. Every wakeup of a managed thread
 * is answered at once with a decision that changes nothing (the thread's
 * weight, set to its VM's weight), so waved can time the whole loop: the
 * wakeup seen in BPF, exported, decided on the agent, applied on the host
 * ('wavectl bench loop').
 */
static void probe_wakeup(void *priv, const struct model *m, const struct model_vm *vm,
			 const struct model_thread *t, uint64_t now, struct policy_out *out)
{
	struct wave_txn op;

	(void)priv;
	(void)m;
	(void)now;
	policy_op_init(&op, vm, t, WAVE_OP_SET_WEIGHT);
	op.u.weight.weight = vm->weight ? vm->weight : 100;
	policy_emit(out, &op, 0);
}

static int always(const struct policy_cfg *cfg)
{
	(void)cfg;
	return 1;
}

const struct policy_ops policy_wakeprobe_ops = {
	.name = "wakeprobe",
	.wants_wakeups = always,
	.summary = "answers every wakeup with a no-op decision (measures the loop)",
	.init = cfs_init,
	.decide = cfs_decide,
	.wakeup = probe_wakeup,
	.reset = cfs_reset,
};
