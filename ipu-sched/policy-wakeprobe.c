// SPDX-License-Identifier: BSD-3-Clause
/*
 * wakeprobe: an instrument, not a scheduler. Every wakeup of a managed thread
 * is answered at once with a decision that changes nothing (the thread's
 * weight, set to its VM's weight), so waved can time the whole loop: the
 * wakeup seen in BPF, exported, decided on the agent, applied on the host
 * ('wavectl bench loop').
 */
#include "ipu-sched/policy.h"

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

/* Every thread of every VM: the benchmark times them all. */
static uint8_t probe_wakes(const void *priv, const struct model_vm *vm)
{
	return POLICY_WAKES_ALL;
}

const struct policy_ops policy_wakeprobe_ops = {
	.name = "wakeprobe",
	.summary = "answers every wakeup with a no-op decision (measures the loop)",
	.wakeup = probe_wakeup,
	.wakes = probe_wakes,
};
