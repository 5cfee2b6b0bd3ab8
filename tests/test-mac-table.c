// SPDX-License-Identifier: BSD-3-Clause
/* wave-switch's MAC learning table: learn, move, age, forget, a full window. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "netctl/mac-table.h"

static struct mac_table t;

static int setup(void **state)
{
	mact_init(&t, 100);
	return 0;
}

static void mac_of(unsigned int i, uint8_t mac[6])
{
	const uint8_t m[6] = { 0x52, 0x54, 0, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i };

	memcpy(mac, m, 6);
}

static void learned_address_is_found_on_its_port(void **state)
{
	uint8_t a[6], b[6];

	mac_of(1, a);
	mac_of(2, b);
	assert_int_equal(mact_lookup(&t, a, 0), -ENOENT);
	assert_int_equal(mact_learn(&t, a, 3, 0), 0);
	assert_int_equal(mact_learn(&t, b, 5, 0), 0);
	assert_int_equal(mact_lookup(&t, a, 10), 3);
	assert_int_equal(mact_lookup(&t, b, 10), 5);
	assert_int_equal(t.n, 2);
}

static void address_seen_elsewhere_moves_and_is_counted(void **state)
{
	uint8_t a[6];

	mac_of(1, a);
	mact_learn(&t, a, 3, 0);
	assert_int_equal(mact_learn(&t, a, 3, 1), 0);
	assert_int_equal(mact_learn(&t, a, 4, 2), 1);
	assert_int_equal(mact_lookup(&t, a, 2), 4);
	assert_int_equal(t.moves, 1);
	assert_int_equal(t.n, 1);
}

static void unseen_address_ages_out_and_its_slot_is_reused(void **state)
{
	uint8_t a[6];

	mac_of(1, a);
	mact_learn(&t, a, 3, 0);
	assert_int_equal(mact_lookup(&t, a, 100), 3);
	assert_int_equal(mact_lookup(&t, a, 101), -ENOENT);
	/* Back on another port after aging: not a move. */
	assert_int_equal(mact_learn(&t, a, 4, 200), 0);
	assert_int_equal(t.moves, 0);
	assert_int_equal(mact_lookup(&t, a, 200), 4);
}

static void group_source_is_never_learned(void **state)
{
	const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0, 0, 1 };

	assert_int_equal(mact_learn(&t, bcast, 1, 0), -EINVAL);
	assert_int_equal(mact_learn(&t, mcast, 1, 0), -EINVAL);
	assert_int_equal(mact_lookup(&t, bcast, 0), -ENOENT);
	assert_int_equal(t.n, 0);
}

static void forgetting_a_port_drops_only_its_addresses(void **state)
{
	uint8_t a[6], b[6], c[6];

	mac_of(1, a);
	mac_of(2, b);
	mac_of(3, c);
	mact_learn(&t, a, 3, 0);
	mact_learn(&t, b, 3, 0);
	mact_learn(&t, c, 4, 0);
	mact_forget_port(&t, 3);
	assert_int_equal(mact_lookup(&t, a, 0), -ENOENT);
	assert_int_equal(mact_lookup(&t, b, 0), -ENOENT);
	assert_int_equal(mact_lookup(&t, c, 0), 4);
	assert_int_equal(t.n, 1);
}

/*
 * Far more addresses than slots: every lookup still answers the port it
 * was learned on or -ENOENT (never another address's port), refusals are
 * counted, and the table holds at most its slots.
 */
static void full_table_refuses_without_confusing_addresses(void **state)
{
	unsigned int learned = 0, refused = 0;
	uint8_t m[6];

	for (unsigned int i = 0; i < 4 * MACT_SLOTS; i++) {
		mac_of(i, m);
		if (mact_learn(&t, m, (uint16_t)(i % 7), 0) == 0)
			learned++;
		else
			refused++;
	}
	assert_true(refused > 0);
	assert_int_equal(t.full, refused);
	assert_true(t.n <= MACT_SLOTS);
	assert_int_equal(t.n, learned);
	for (unsigned int i = 0; i < 4 * MACT_SLOTS; i++) {
		int port;

		mac_of(i, m);
		port = mact_lookup(&t, m, 0);
		assert_true(port == -ENOENT || port == (int)(i % 7));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(learned_address_is_found_on_its_port, setup),
		cmocka_unit_test_setup(address_seen_elsewhere_moves_and_is_counted, setup),
		cmocka_unit_test_setup(unseen_address_ages_out_and_its_slot_is_reused, setup),
		cmocka_unit_test_setup(group_source_is_never_learned, setup),
		cmocka_unit_test_setup(forgetting_a_port_drops_only_its_addresses, setup),
		cmocka_unit_test_setup(full_table_refuses_without_confusing_addresses, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
