// SPDX-License-Identifier: BSD-3-Clause
/*
 * Transaction assembler: a tiny state machine (idle -> collecting -> done).
 * It keeps at most one partial transaction: the agent sends a transaction's
 * ops back to back in one batch, so interleaving is a peer bug, reported as
 * such rather than buffered (buffering many partial transactions would let a
 * peer pin host memory).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "channel/txn.h"

void txn_asm_reset(struct txn_asm *a)
{
	a->have = 0;
}

static int start(struct txn_asm *a, const struct wave_txn *op)
{
	a->ops[0] = *op;
	a->have = 1;
	if (op->op_count == 1) {
		a->have = 0;
		return TXN_ASM_DONE;
	}
	return TXN_ASM_MORE;
}

int txn_asm_push(struct txn_asm *a, const struct wave_txn *op, uint32_t *bad_txn_id,
		 char *why, size_t len)
{
	const struct wave_txn *first = &a->ops[0];

	if (a->have == 0) {
		if (op->op_idx != 0) {
			a->discarded++;
			*bad_txn_id = op->txn_id;
			snprintf(why, len, "TXN %u: op %u of %u arrived without op 0",
				 op->txn_id, op->op_idx, op->op_count);
			return -EINVAL;
		}
		return start(a, op);
	}
	if (op->txn_id != first->txn_id || op->op_idx != a->have ||
	    op->op_count != first->op_count || op->epoch != first->epoch) {
		*bad_txn_id = first->txn_id;
		snprintf(why, len,
			 "TXN %u: incomplete (%u of %u ops) when TXN %u op %u/%u (epoch %u) arrived",
			 first->txn_id, a->have, first->op_count, op->txn_id, op->op_idx,
			 op->op_count, op->epoch);
		a->have = 0;
		a->discarded++;
		return TXN_ASM_INTERRUPTED;
	}
	a->ops[a->have++] = *op;
	if (a->have == first->op_count) {
		a->have = 0;
		return TXN_ASM_DONE;
	}
	return TXN_ASM_MORE;
}

int txn_triggers(const struct wave_txn *ops, unsigned int n)
{
	unsigned int t = 0;

	while (t < n && ops[t].op == WAVE_OP_TRIGGER)
		t++;
	for (unsigned int i = t; i < n; i++)
		if (ops[i].op == WAVE_OP_TRIGGER)
			return -EINVAL;
	return t && t == n ? -EINVAL : (int)t;
}
