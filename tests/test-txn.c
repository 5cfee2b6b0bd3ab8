// SPDX-License-Identifier: BSD-3-Clause
/* Transaction assembly: whole, partial, interrupted, out of order. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "channel/txn.h"

static char why[200];

static struct wave_txn op(uint32_t id, uint8_t idx, uint8_t count, uint32_t epoch)
{
	struct wave_txn t = { .txn_id = id, .epoch = epoch, .op = WAVE_OP_SET_WEIGHT,
			      .op_idx = idx, .op_count = count };

	t.u.weight.weight = 100 + idx;
	return t;
}

static void single_op_is_done_at_once(void **state)
{
	struct txn_asm a = { 0 };
	struct wave_txn t = op(1, 0, 1, 5);
	uint32_t bad = 0;

	assert_int_equal(txn_asm_push(&a, &t, &bad, why, sizeof(why)), TXN_ASM_DONE);
	assert_int_equal(a.ops[0].txn_id, 1);
	assert_int_equal(a.have, 0);
}

static void three_ops_complete_in_order(void **state)
{
	struct txn_asm a = { 0 };
	uint32_t bad = 0;

	for (uint8_t i = 0; i < 3; i++) {
		struct wave_txn t = op(2, i, 3, 5);

		assert_int_equal(txn_asm_push(&a, &t, &bad, why, sizeof(why)),
				 i == 2 ? TXN_ASM_DONE : TXN_ASM_MORE);
	}
	assert_int_equal(a.ops[2].u.weight.weight, 102);
	assert_int_equal(a.discarded, 0);
}

static void op_without_start_is_discarded(void **state)
{
	struct txn_asm a = { 0 };
	struct wave_txn t = op(3, 1, 2, 5);
	uint32_t bad = 0;

	assert_int_equal(txn_asm_push(&a, &t, &bad, why, sizeof(why)), -EINVAL);
	assert_int_equal(bad, 3);
	assert_non_null(strstr(why, "without op 0"));
	assert_int_equal(a.discarded, 1);
}

static void interleaved_txn_interrupts_partial(void **state)
{
	struct txn_asm a = { 0 };
	struct wave_txn t0 = op(4, 0, 3, 5), u0 = op(5, 0, 1, 5);
	uint32_t bad = 0;

	assert_int_equal(txn_asm_push(&a, &t0, &bad, why, sizeof(why)), TXN_ASM_MORE);
	assert_int_equal(txn_asm_push(&a, &u0, &bad, why, sizeof(why)), TXN_ASM_INTERRUPTED);
	assert_int_equal(bad, 4);
	assert_non_null(strstr(why, "incomplete (1 of 3 ops)"));
	/* The interrupting op was not consumed: pushing it again completes it. */
	assert_int_equal(txn_asm_push(&a, &u0, &bad, why, sizeof(why)), TXN_ASM_DONE);
	assert_int_equal(a.ops[0].txn_id, 5);
}

static void mismatched_count_or_epoch_interrupts(void **state)
{
	struct txn_asm a = { 0 };
	struct wave_txn t0 = op(6, 0, 2, 5), t1 = op(6, 1, 3, 5), e1 = op(6, 1, 2, 6);
	uint32_t bad = 0;

	assert_int_equal(txn_asm_push(&a, &t0, &bad, why, sizeof(why)), TXN_ASM_MORE);
	assert_int_equal(txn_asm_push(&a, &t1, &bad, why, sizeof(why)), TXN_ASM_INTERRUPTED);
	assert_int_equal(txn_asm_push(&a, &t0, &bad, why, sizeof(why)), TXN_ASM_MORE);
	assert_int_equal(txn_asm_push(&a, &e1, &bad, why, sizeof(why)), TXN_ASM_INTERRUPTED);
	assert_int_equal(a.discarded, 2);
	/* Skipped op index. */
	assert_int_equal(txn_asm_push(&a, &t0, &bad, why, sizeof(why)), TXN_ASM_MORE);
	t1 = op(6, 0, 2, 5);
	assert_int_equal(txn_asm_push(&a, &t1, &bad, why, sizeof(why)), TXN_ASM_INTERRUPTED);
}

static void triggers_must_lead_and_be_followed(void **state)
{
	struct wave_txn ops[4] = { { .op = WAVE_OP_TRIGGER }, { .op = WAVE_OP_TRIGGER },
				   { .op = WAVE_OP_PLACE }, { .op = WAVE_OP_SET_WEIGHT } };

	assert_int_equal(txn_triggers(ops, 4), 2);
	assert_int_equal(txn_triggers(ops + 2, 2), 0);  /* an ordinary transaction */
	assert_int_equal(txn_triggers(ops, 2), -EINVAL); /* triggers with nothing to do */
	ops[3].op = WAVE_OP_TRIGGER;
	assert_int_equal(txn_triggers(ops, 4), -EINVAL); /* a trigger after an action */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(single_op_is_done_at_once),
		cmocka_unit_test(three_ops_complete_in_order),
		cmocka_unit_test(op_without_start_is_discarded),
		cmocka_unit_test(interleaved_txn_interrupts_partial),
		cmocka_unit_test(mismatched_count_or_epoch_interrupts),
		cmocka_unit_test(triggers_must_lead_and_be_followed),
	};

	return cmocka_run_group_tests_name("txn", tests, NULL, NULL);
}
