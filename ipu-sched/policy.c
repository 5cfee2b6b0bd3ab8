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
 * pin: static placement, what operators do by hand today. Latency-class VMs
 * get CPUs of their own (the last half of the allowed CPUs, at least one,
 * at most one per latency vCPU) and batch VMs share the rest; inside each
 * set every vCPU is pinned 1:1 (round-robin when there are more vCPUs than
 * CPUs) and the VM's other threads (emulator, I/O) may use the whole set.
 * Without latency VMs, every VM shares all CPUs, vCPUs 1:1.
 */
struct pin_state {
	/* Mask each thread was pinned to (0: not pinned), by VM slot and thread slot. */
	uint64_t mask[MODEL_MAX_VMS][MODEL_MAX_VCPUS + MODEL_MAX_EXTRA];
	uint32_t barrier[MODEL_MAX_VMS][MODEL_MAX_VCPUS + MODEL_MAX_EXTRA];
};

static unsigned int latency_vcpus(const struct model *m)
{
	unsigned int n = 0;

	for (unsigned int v = 0; v < MODEL_MAX_VMS; v++)
		for (unsigned int i = 0; m->vms[v].present && m->vms[v].cls == WAVE_CLASS_LATENCY &&
		     i < MODEL_MAX_VCPUS; i++)
			n += m->vms[v].vcpu[i].present;
	return n;
}

static void pin_thread(struct pin_state *p, unsigned int v, const struct model_vm *vm,
		       const struct model_thread *t, uint64_t mask, struct policy_out *out)
{
	unsigned int k = model_thread_slot(t);
	struct wave_txn op;

	if (!mask || (p->mask[v][k] == mask && p->barrier[v][k] == t->barrier))
		return;
	policy_op_init(&op, vm, t, WAVE_OP_PLACE);
	op.u.place.cpu_base = 0;
	op.u.place.mask = mask;
	policy_emit(out, &op, 0);
	p->mask[v][k] = mask;
	p->barrier[v][k] = t->barrier;
}

static void pin_decide(void *priv, const struct model *m, uint64_t now, struct policy_out *out)
{
	struct pin_state *p = priv;
	unsigned int cpus[MODEL_MAX_CPUS], n = 0, nlat = 0, next[2] = { 0, 0 };
	unsigned int all[MODEL_MAX_CPUS], nall = model_allowed_cpus(m, all, MODEL_MAX_CPUS);
	unsigned int lv = latency_vcpus(m);

	(void)now;
	for (unsigned int i = 0; i < nall; i++)
		if (all[i] < 64) /* PLACE masks here start at CPU 0 */
			cpus[n++] = all[i];
	if (!n)
		return;
	if (lv && n >= 2) {
		nlat = n / 2 < lv ? n / 2 : lv;
		if (!nlat)
			nlat = 1;
	}
	for (unsigned int v = 0; v < MODEL_MAX_VMS; v++) {
		const struct model_vm *vm = &m->vms[v];
		int lat = nlat && vm->cls == WAVE_CLASS_LATENCY;
		/* This VM's set: [first, first + count) of cpus[]. */
		unsigned int first = lat ? n - nlat : 0, count = nlat ? (lat ? nlat : n - nlat) : n;
		uint64_t set = 0;
		const struct model_thread *t;

		if (!vm->present)
			continue;
		for (unsigned int i = 0; i < count; i++)
			set |= 1ull << cpus[first + i];
		MODEL_FOR_EACH_THREAD(vm, t) {
			uint64_t mask = set;

			if (t->kind == WAVE_KIND_VCPU)
				mask = 1ull << cpus[first + next[lat]++ % count];
			pin_thread(p, v, vm, t, mask, out);
		}
	}
}

static void pin_result(void *priv, const struct model *m, const struct wave_txn *ops,
		       unsigned int n, const struct wave_txn_result *r)
{
	struct pin_state *p = priv;

	/* Stale: place those threads again next time. Refused: leave them be. */
	if (r->status != WAVE_ST_STALE_TARGET && r->status != WAVE_ST_STALE_EPOCH)
		return;
	for (unsigned int k = 0; k < n; k++) {
		int t = model_slot(ops[k].kind, ops[k].index);

		for (unsigned int v = 0; t >= 0 && v < MODEL_MAX_VMS; v++)
			if (m->vms[v].present && m->vms[v].id == ops[k].vm_id)
				p->mask[v][t] = 0;
	}
}

static void pin_reset(void *priv)
{
	memset(priv, 0, sizeof(struct pin_state));
}

const struct policy_ops policy_pin_ops = {
	.name = "pin",
	.summary = "static pinning: latency VMs on CPUs of their own, vCPUs 1:1",
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
