// SPDX-License-Identifier: BSD-3-Clause
/*
 * libFuzzer target for everything that parses peer bytes in a message
 * stream: the TCP frame parser, the message codec (byte order + validation),
 * and what validates fed on: TXNs to the transaction assembler (the host's
 * side), state (VCPU_STATE, NET_STATE, ...) to a policy's model (the
 * agent's side), at a clock the input moves.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "channel/codec.h"
#include "channel/frame.h"
#include "channel/txn.h"
#include "common/log.h"
#include "ipu-sched/model.h"
#include "ipu-sched/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct wave_msg msgs[FRAME_MAX_MSGS * 4];
static struct model model;
static uint64_t clock_ns;
static _Alignas(16) unsigned char bal_priv[64 * 1024];
static struct policy_out out;

/* The memory policy on whatever the model now holds: every target within its VM's bounds. */
static void check_memory(void)
{
	out.n = 0;
	mm_balloon_ops.decide(bal_priv, &model, clock_ns, &out);
	for (unsigned int i = 0; i < out.n; i++) {
		const struct model_vm *vm = model_vm(&model, out.ops[i].vm_id);
		uint32_t t = out.ops[i].u.balloon.target_kib;

		if (out.ops[i].op != WAVE_OP_SET_BALLOON || !vm || !t || t > vm->mem.max_kib)
			__builtin_trap();
	}
}

/* Rates the model derives from memory reports: finite, not negative; stalls a share. */
static void check_memory_rates(const struct wave_msg *m)
{
	const struct model_vm *vm = model_vm(&model, m->p.mem.vm_id); /* vm_id first in each */
	const struct model_mem *x = vm ? &vm->mem : NULL;

	if (x && (!(x->major_per_s >= 0) || !(x->swap_in_kib_per_s >= 0) ||
		  !(x->stall >= 0 && x->stall <= 1)))
		__builtin_trap();
	if (!(model.host_mem.stall >= 0 && model.host_mem.stall <= 1))
		__builtin_trap();
}

static void feed(struct txn_asm *a, struct wave_msg *m)
{
	char why[200];
	uint32_t bad;

	wave_msg_from_wire(m);
	if (wave_msg_check(m, why, sizeof(why)))
		return;
	if (m->h.type != WAVE_MSG_TXN) {
		/* The sender's stamp moves the clock: forwards, backwards, or not at all. */
		clock_ns += m->h.ts_ns % (4 * 1000000000ull);
		clock_ns = clock_ns > 2 * 1000000000ull ? clock_ns - 2 * 1000000000ull : 0;
		if (model_apply(&model, m, clock_ns) > 0 && (m->h.type == WAVE_MSG_MEM_STATE ||
							       m->h.type == WAVE_MSG_MEM_CTL)) {
			check_memory_rates(m);
			check_memory();
		}
		if (m->h.type == WAVE_MSG_NET_STATE && model_vm(&model, m->p.net.vm_id)) {
			const struct model_vm *vm = model_vm(&model, m->p.net.vm_id);
			double r = vm ? model_net_rx_rate(vm, clock_ns + m->h.seq, 0) : 0;

			if (!(r >= 0)) /* negative or NaN */
				__builtin_trap();
		}
		return;
	}
	if (txn_asm_push(a, &m->p.txn, &bad, why, sizeof(why)) == TXN_ASM_INTERRUPTED)
		txn_asm_push(a, &m->p.txn, &bad, why, sizeof(why));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct txn_asm a = { 0 };
	unsigned int n = 0, i;
	char why[200];
	ssize_t used;
	size_t off;

	wave_log_set_level(WAVE_LOG_ERR);
	model_init(&model);
	clock_ns = 0;
	_Static_assert(sizeof(bal_priv) >= 32 * 1024, "room for the memory policy's state");
	mm_balloon_ops.init(bal_priv, mm_balloon_ops.cfg_default, &(struct policy_env){ .mem = 1 });
	/* As a TCP byte stream. */
	used = frame_parse(data, size, msgs, FRAME_MAX_MSGS * 4, &n, why, sizeof(why));
	if (used >= 0 && ((size_t)used > size || n > FRAME_MAX_MSGS * 4))
		__builtin_trap();
	for (i = 0; i < n; i++)
		feed(&a, &msgs[i]);
	/* As raw ring slots. */
	for (off = 0; off + WAVE_MSG_SIZE <= size; off += WAVE_MSG_SIZE) {
		struct wave_msg m;

		memcpy(&m, data + off, sizeof(m));
		feed(&a, &m);
	}
	return 0;
}
