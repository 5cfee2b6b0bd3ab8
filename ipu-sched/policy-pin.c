// SPDX-License-Identifier: BSD-3-Clause
/*
 * pin: static placement, what operators do by hand today. Latency-class VMs
 * get CPUs of their own (the last half of the allowed CPUs, at least one,
 * at most one per latency vCPU) and batch VMs share the rest; inside each
 * set every vCPU is pinned 1:1 (round-robin when there are more vCPUs than
 * CPUs) and the VM's other threads (emulator, I/O) may use the whole set.
 * Without latency VMs, every VM shares all CPUs, vCPUs 1:1.
 *
 * A thread the operator pinned through libvirt stays within its pin: it
 * gets the part of its set inside the pin (a vCPU: the first CPU of that
 * part), or is left where the operator put it when they do not overlap.
 *
 * No configuration: it is the operator's static recipe, not a tunable policy.
 */
#include <string.h>

#include "ipu-sched/policy.h"

struct pin_state {
	/* Mask each thread was pinned to (0: not pinned), by VM slot and thread slot. */
	uint64_t mask[WAVE_MANAGED_VMS][WAVE_VM_SLOTS];
	uint32_t barrier[WAVE_MANAGED_VMS][WAVE_VM_SLOTS];
};

static unsigned int latency_vcpus(const struct model *m)
{
	unsigned int n = 0;

	for (unsigned int v = 0; v < WAVE_MANAGED_VMS; v++)
		for (unsigned int i = 0; m->vms[v].present && m->vms[v].cls == WAVE_CLASS_LATENCY &&
		     i < WAVE_VM_VCPU_SLOTS; i++)
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
	unsigned int cpus[WAVE_MANAGED_CPUS], n = 0, nlat = 0, next[2] = { 0, 0 };
	unsigned int all[WAVE_MANAGED_CPUS], nall = model_allowed_cpus(m, all, WAVE_MANAGED_CPUS);
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
	for (unsigned int v = 0; v < WAVE_MANAGED_VMS; v++) {
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
			uint64_t mask = set & model_thread_cpus64(t);

			if (t->kind == WAVE_KIND_VCPU) {
				uint64_t one = 1ull << cpus[first + next[lat]++ % count];

				mask = one & model_thread_cpus64(t) ? one : mask & -mask;
			}
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
		int t = wave_slot(ops[k].kind, ops[k].index);

		for (unsigned int v = 0; t >= 0 && v < WAVE_MANAGED_VMS; v++)
			if (m->vms[v].present && m->vms[v].id == ops[k].vm_id)
				p->mask[v][t] = 0;
	}
}

const struct policy_ops policy_pin_ops = {
	.name = "pin",
	.summary = "static pinning: latency VMs on CPUs of their own, vCPUs 1:1",
	.priv_size = sizeof(struct pin_state),
	.decide = pin_decide,
	.result = pin_result,
};

