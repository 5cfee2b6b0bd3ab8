// SPDX-License-Identifier: BSD-3-Clause
/*
 * Ring arithmetic: empty, full, wrap-around (positions and the 32-bit seq
 * word), credits and their validation, link-delay hold-back, wake flag.
 * Both ends live in one process over a region in ordinary memory.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "channel/codec.h"
#include "channel/region.h"

static const struct wave_clock mono = { .kind = WAVE_CLOCK_MONO };
#include "channel/ring.h"

#define NSLOTS 64u

struct fixture {
	void *mem;
	struct region reg;
	struct ring_tx tx;
	struct ring_rx rx;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	size_t size = region_size_for(NSLOTS);

	f->mem = aligned_alloc(4096, size);
	assert_int_equal(region_init(f->mem, size, NSLOTS, 1, &mono, &f->reg), 0);
	/* host -> agent direction */
	ring_tx_init(&f->tx, f->reg.slots[REGION_SIDE_AGENT], NSLOTS, f->reg.ctl[REGION_SIDE_HOST], 0);
	ring_rx_init(&f->rx, f->reg.slots[REGION_SIDE_AGENT], NSLOTS, f->reg.ctl[REGION_SIDE_HOST]);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->mem);
	free(f);
	return 0;
}

static void fill(struct wave_msg *m, unsigned int n, uint64_t first)
{
	for (unsigned int i = 0; i < n; i++) {
		wave_msg_init(&m[i], WAVE_MSG_HEARTBEAT);
		m[i].p.hb.hb_seq = first + i;
	}
}

static void empty_ring_returns_nothing(void **state)
{
	struct fixture *f = *state;
	struct wave_msg out[4];
	uint64_t held;

	assert_int_equal(ring_recv(&f->rx, out, 4, UINT64_MAX, &held), 0);
	assert_int_equal(held, 0);
	assert_false(ring_rx_ready(&f->rx));
}

static void full_ring_refuses_then_credit_frees(void **state)
{
	struct fixture *f = *state;
	struct wave_msg in[NSLOTS + 1], out[NSLOTS];
	uint64_t held;

	fill(in, NSLOTS + 1, 0);
	assert_int_equal(ring_send(&f->tx, in, NSLOTS + 1, 5), NSLOTS);
	assert_int_equal(ring_send(&f->tx, in, 1, 5), 0);
	assert_int_equal(ring_tx_inflight(&f->tx), NSLOTS);
	/* Less than nslots/4 consumed and not drained: no credit yet. */
	assert_int_equal(ring_recv(&f->rx, out, 3, UINT64_MAX, &held), 3);
	assert_int_equal(ring_send(&f->tx, in, 1, 5), 0);
	/* A quarter consumed: credit is returned, the sender has room again. */
	assert_int_equal(ring_recv(&f->rx, out, NSLOTS / 4 - 3, UINT64_MAX, &held), NSLOTS / 4 - 3);
	assert_int_equal(ring_send(&f->tx, in, NSLOTS, 5), NSLOTS / 4);
}

static void drained_ring_returns_all_credit(void **state)
{
	struct fixture *f = *state;
	struct wave_msg in[5], out[8];
	uint64_t held;

	fill(in, 5, 0);
	assert_int_equal(ring_send(&f->tx, in, 5, 1), 5);
	assert_int_equal(ring_recv(&f->rx, out, 8, UINT64_MAX, &held), 5);
	assert_int_equal(f->reg.ctl[REGION_SIDE_HOST]->credit, 5);
}

static void wraps_many_laps_in_order(void **state)
{
	struct fixture *f = *state;
	struct wave_msg in[7], out[11];
	uint64_t next_in = 0, next_out = 0, held;
	int n;

	while (next_out < 20 * NSLOTS) {
		fill(in, 7, next_in);
		n = ring_send(&f->tx, in, 7, next_in);
		assert_true(n >= 0);
		next_in += (uint64_t)n;
		n = ring_recv(&f->rx, out, 11, UINT64_MAX, &held);
		assert_true(n >= 0);
		for (int i = 0; i < n; i++) {
			assert_int_equal(out[i].p.hb.hb_seq, next_out);
			assert_int_equal(out[i].h.seq, (uint32_t)(next_out + 1));
			next_out++;
		}
	}
}

/* Start both ends just below 2^32 so the slot seq word wraps. */
static void seq_word_wraps_at_2_32(void **state)
{
	struct fixture *f = *state;
	uint64_t start = (1ULL << 32) - 10, held;
	struct wave_msg in[NSLOTS], out[NSLOTS];

	for (uint64_t p = start; p < start + NSLOTS; p++)
		f->tx.slots[p & (NSLOTS - 1)].h.seq = (uint32_t)(p + 1 - NSLOTS);
	f->tx.head = f->tx.credit = start;
	f->rx.tail = f->rx.credited = start;
	f->reg.ctl[REGION_SIDE_HOST]->credit = start;
	fill(in, NSLOTS, 0);
	for (int lap = 0; lap < 3; lap++) {
		assert_int_equal(ring_send(&f->tx, in, NSLOTS, 1), NSLOTS);
		assert_int_equal(ring_recv(&f->rx, out, NSLOTS, UINT64_MAX, &held), NSLOTS);
		assert_int_equal(out[NSLOTS - 1].p.hb.hb_seq, NSLOTS - 1);
	}
	assert_true(f->rx.tail > (1ULL << 32));
}

static void corrupt_seq_is_protocol_error(void **state)
{
	struct fixture *f = *state;
	struct wave_msg in[1], out[1];
	uint64_t held;

	fill(in, 1, 0);
	assert_int_equal(ring_send(&f->tx, in, 1, 1), 1);
	f->rx.slots[0].h.seq = 77; /* neither expected (1) nor previous lap */
	assert_int_equal(ring_recv(&f->rx, out, 1, UINT64_MAX, &held), -EPROTO);
}

static void impossible_credit_is_protocol_error(void **state)
{
	struct fixture *f = *state;
	struct wave_msg in[NSLOTS];

	fill(in, NSLOTS, 0);
	assert_int_equal(ring_send(&f->tx, in, NSLOTS, 1), NSLOTS);
	f->reg.ctl[REGION_SIDE_HOST]->credit = NSLOTS + 1; /* more than was sent */
	assert_int_equal(ring_send(&f->tx, in, 1, 1), -EPROTO);

	f->reg.ctl[REGION_SIDE_HOST]->credit = 10;
	f->tx.credit = 0;
	assert_int_equal(ring_send(&f->tx, in, 1, 1), 1);
	assert_int_equal(f->tx.credit, 10);
	ring_send(&f->tx, in, NSLOTS, 1); /* fill the window */
	f->reg.ctl[REGION_SIDE_HOST]->credit = 5; /* goes backwards */
	assert_int_equal(ring_send(&f->tx, in, 1, 1), -EPROTO);
}

static void delayed_message_is_held_until_visible(void **state)
{
	struct fixture *f = *state;
	struct wave_msg in[2], out[2];
	uint64_t held;

	fill(in, 1, 0);
	assert_int_equal(ring_send(&f->tx, in, 1, 1000), 1);
	fill(in, 1, 1);
	assert_int_equal(ring_send(&f->tx, in, 1, 3000), 1);
	assert_int_equal(ring_recv(&f->rx, out, 2, 999, &held), 0);
	assert_int_equal(held, 1000);
	assert_int_equal(ring_recv(&f->rx, out, 2, 2000, &held), 1);
	assert_int_equal(held, 3000);
	assert_int_equal(out[0].h.ts_ns, 1000);
	assert_int_equal(ring_recv(&f->rx, out, 2, 3000, &held), 1);
	assert_int_equal(out[0].p.hb.hb_seq, 1);
}

static void wake_flag_handshake(void **state)
{
	struct fixture *f = *state;
	struct wave_msg in[1];

	assert_false(ring_tx_need_kick(&f->tx));
	assert_false(ring_rx_arm_wake(&f->rx)); /* empty: go to sleep */
	fill(in, 1, 0);
	assert_int_equal(ring_send(&f->tx, in, 1, 1), 1);
	assert_true(ring_tx_need_kick(&f->tx));
	assert_false(ring_tx_need_kick(&f->tx)); /* flag consumed */
	assert_true(ring_rx_arm_wake(&f->rx));   /* data present: do not sleep */
	ring_rx_disarm_wake(&f->rx);
	assert_false(ring_tx_need_kick(&f->tx));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(empty_ring_returns_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(full_ring_refuses_then_credit_frees, setup, teardown),
		cmocka_unit_test_setup_teardown(drained_ring_returns_all_credit, setup, teardown),
		cmocka_unit_test_setup_teardown(wraps_many_laps_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(seq_word_wraps_at_2_32, setup, teardown),
		cmocka_unit_test_setup_teardown(corrupt_seq_is_protocol_error, setup, teardown),
		cmocka_unit_test_setup_teardown(impossible_credit_is_protocol_error, setup, teardown),
		cmocka_unit_test_setup_teardown(delayed_message_is_held_until_visible, setup, teardown),
		cmocka_unit_test_setup_teardown(wake_flag_handshake, setup, teardown),
	};

	return cmocka_run_group_tests_name("ring", tests, NULL, NULL);
}
