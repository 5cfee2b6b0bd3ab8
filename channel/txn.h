/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Transaction assembly. A transaction of N ops arrives as N TXN messages
 * (same txn_id and epoch, op_idx 0..N-1, op_count N). The host applies it
 * only once it is whole, so a decision is applied entirely or not at all.
 * Messages are validated one by one (codec.c); this checks that they fit
 * together.
 */
#ifndef WAVE_CHANNEL_TXN_H
#define WAVE_CHANNEL_TXN_H

#include <stddef.h>
#include <stdint.h>

#include "channel/wire.h"

struct txn_asm {
	struct wave_txn ops[WAVE_TXN_MAX_OPS];
	unsigned int have;   /* ops collected so far; 0 when idle */
	uint64_t discarded;  /* partial transactions thrown away */
};

enum { TXN_ASM_MORE = 0, TXN_ASM_DONE = 1, TXN_ASM_INTERRUPTED = 2 };

void txn_asm_reset(struct txn_asm *a);

/*
 * Feeds one validated TXN op. Returns:
 *  TXN_ASM_DONE: the transaction is whole, in a->ops[0 .. op_count-1]
 *    (valid until the next push);
 *  TXN_ASM_MORE: more ops are due;
 *  TXN_ASM_INTERRUPTED: op does not continue the partial transaction
 *    *bad_txn_id, which was discarded; op was NOT consumed: push it again;
 *  -EINVAL: op was discarded (an op other than 0 with nothing pending;
 *    *bad_txn_id is op's transaction).
 * In both failure cases why says what was wrong, for the caller to log and
 * report as WAVE_ST_INVALID.
 */
int txn_asm_push(struct txn_asm *a, const struct wave_txn *op, uint32_t *bad_txn_id,
		 char *why, size_t why_len);

/*
 * How many TRIGGER ops open a whole transaction (0: an ordinary one), or
 * -EINVAL if TRIGGER ops are not all at the front or nothing follows them.
 */
int txn_triggers(const struct wave_txn *ops, unsigned int n);

#endif
