// SPDX-License-Identifier: BSD-3-Clause
/* Region layout and the validator of an untrusted region header. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "channel/region.h"

static const struct wave_clock mono = { .kind = WAVE_CLOCK_MONO };

#define NSLOTS 128u

static char why[200];

struct fixture {
	size_t size;
	void *mem;
	struct region_hdr *h;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct region reg;

	f->size = region_size_for(NSLOTS);
	f->mem = aligned_alloc(4096, f->size);
	f->h = f->mem;
	assert_int_equal(region_init(f->mem, f->size, NSLOTS, 77, &mono, &reg), 0);
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

static int validate(struct fixture *f, size_t mapped)
{
	struct region reg;

	return region_validate(f->mem, mapped, &reg, why, sizeof(why));
}

static void size_for_rejects_bad_slot_counts(void **state)
{
	assert_int_equal(region_size_for(0), 0);
	assert_int_equal(region_size_for(100), 0);
	assert_int_equal(region_size_for(REGION_MAX_SLOTS * 2), 0);
	assert_true(region_size_for(64) > 2 * 64 * 64);
}

static void fresh_region_validates_with_same_view(void **state)
{
	struct fixture *f = *state;
	struct region a, b;

	assert_int_equal(region_init(f->mem, f->size, NSLOTS, 77, &mono, &a), 0);
	assert_int_equal(region_validate(f->mem, f->size, &b, why, sizeof(why)), 0);
	assert_int_equal(b.nslots, NSLOTS);
	assert_int_equal(b.generation, 77);
	assert_ptr_equal(a.slots[0], b.slots[0]);
	assert_ptr_equal(a.ctl[1], b.ctl[1]);
	/* The two sides are distinct pages: host and IPU memory. */
	assert_true((uintptr_t)a.ctl[1] - (uintptr_t)a.ctl[0] >= 128 + NSLOTS * 64);
	assert_int_equal(((uintptr_t)a.ctl[0] - (uintptr_t)f->mem) % 4096, 0);
}

static void short_mapping_rejected(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(validate(f, 16), -EINVAL);
	assert_int_equal(validate(f, f->size - 1), -EINVAL);
	assert_non_null(strstr(why, "region_size"));
}

static void bad_magic_and_version_rejected(void **state)
{
	struct fixture *f = *state;

	f->h->magic ^= 1;
	assert_int_equal(validate(f, f->size), -EPROTO);
	assert_non_null(strstr(why, "magic"));
	f->h->magic ^= 1;
	f->h->version = htole32(2);
	assert_int_equal(validate(f, f->size), -EPROTO);
	assert_non_null(strstr(why, "version 2"));
}

static void bad_slots_rejected(void **state)
{
	struct fixture *f = *state;

	f->h->nslots = htole32(100);
	assert_int_equal(validate(f, f->size), -EINVAL);
	assert_non_null(strstr(why, "nslots 100"));
	f->h->nslots = htole32(NSLOTS);
	f->h->slot_size = htole32(32);
	assert_int_equal(validate(f, f->size), -EINVAL);
}

static void offsets_outside_rejected(void **state)
{
	struct fixture *f = *state;
	uint64_t off1 = le64toh(f->h->side_off[1]);

	f->h->side_off[1] = htole64(f->size - 64); /* runs past the end */
	assert_int_equal(validate(f, f->size), -EINVAL);
	assert_non_null(strstr(why, "side_off[1]"));
	f->h->side_off[1] = htole64(UINT64_MAX - 63); /* overflow bait */
	assert_int_equal(validate(f, f->size), -EINVAL);
	f->h->side_off[1] = htole64(off1 + 8); /* misaligned */
	assert_int_equal(validate(f, f->size), -EINVAL);
	f->h->side_off[1] = htole64(64); /* inside the header */
	assert_int_equal(validate(f, f->size), -EINVAL);
	f->h->side_off[1] = f->h->side_off[0]; /* overlap */
	assert_int_equal(validate(f, f->size), -EINVAL);
	assert_non_null(strstr(why, "overlap"));
	f->h->side_off[1] = htole64(off1);
	assert_int_equal(validate(f, f->size), 0);
}

static void side_size_and_reserved_checked(void **state)
{
	struct fixture *f = *state;

	f->h->side_size = htole64(le64toh(f->h->side_size) + 64);
	assert_int_equal(validate(f, f->size), -EINVAL);
	f->h->side_size = htole64(le64toh(f->h->side_size) - 64);
	f->h->rsvd[5] = 1;
	assert_int_equal(validate(f, f->size), -EINVAL);
	assert_non_null(strstr(why, "reserved"));
}

static void clock_fields_checked(void **state)
{
	struct fixture *f = *state;

	f->h->clock_kind = htole32(7);
	assert_int_equal(validate(f, f->size), -EINVAL);
	assert_non_null(strstr(why, "clock kind 7"));
	f->h->clock_kind = htole32(WAVE_CLOCK_MONO);
	f->h->clock_mult = htole64(5);
	assert_int_equal(validate(f, f->size), -EINVAL);
	f->h->clock_kind = htole32(WAVE_CLOCK_TSC);
	f->h->clock_shift = htole32(32);
	f->h->clock_mult = htole64(1); /* a 4 EHz TSC */
	assert_int_equal(validate(f, f->size), -EINVAL);
	assert_non_null(strstr(why, "TSC clock"));
}

static void host_clock_is_adopted(void **state)
{
	struct fixture *f = *state;
	struct wave_clock best;
	struct region reg;

	wave_clock_best(&best);
	assert_int_equal(region_init(f->mem, f->size, NSLOTS, 3, &best, &reg), 0);
	assert_int_equal(region_validate(f->mem, f->size, &reg, why, sizeof(why)), 0);
	assert_int_equal(reg.clock.kind, best.kind);
	assert_int_equal(reg.clock.mult, best.mult);
	/* The adopted clock advances in nanoseconds like CLOCK_MONOTONIC. */
	uint64_t c0 = wave_clock_now(&reg.clock), m0 = wave_now_ns();
	struct timespec ts = { 0, 20000000 };
	nanosleep(&ts, NULL);
	uint64_t dc = wave_clock_now(&reg.clock) - c0, dm = wave_now_ns() - m0;
	assert_true(dc > dm * 99 / 100 && dc < dm * 101 / 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(size_for_rejects_bad_slot_counts),
		cmocka_unit_test_setup_teardown(fresh_region_validates_with_same_view, setup, teardown),
		cmocka_unit_test_setup_teardown(short_mapping_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_magic_and_version_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_slots_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(offsets_outside_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(side_size_and_reserved_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(clock_fields_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(host_clock_is_adopted, setup, teardown),
	};

	return cmocka_run_group_tests_name("region", tests, NULL, NULL);
}
