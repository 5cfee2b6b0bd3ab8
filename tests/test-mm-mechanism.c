// SPDX-License-Identifier: BSD-3-Clause
/*
 * The memory mechanism (mm/mechanism.h) against libvirt's in-process test
 * driver (test:///default, whose domain "test" has a balloon): statistics
 * arrive on the worker's schedule, a target within the maximum is applied
 * and one above it fails with EINVAL, a domain that does not exist is
 * reported and never crashes the worker; and the PSI parser on what the
 * kernel writes. A real guest's balloon is exercised by test-vms.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "mm/mechanism.h"

#define URI       "test:///default"
#define TEST_UUID "6695eb01-f6a4-8304-79aa-97f2502e193f" /* the test driver's domain */

struct seen {
	struct mm_stats st[4];
	int nst[4];
	struct mm_result res[8];
	unsigned int nres;
	struct mm_host host;
	int nhost;
};

static void on_stats(unsigned int slot, const struct mm_stats *s, void *arg)
{
	struct seen *x = arg;

	if (slot < 4) {
		x->st[slot] = *s;
		x->nst[slot]++;
	}
}

static void on_result(const struct mm_result *r, void *arg)
{
	struct seen *x = arg;

	if (x->nres < 8)
		x->res[x->nres++] = *r;
}

static void on_host(const struct mm_host *h, void *arg)
{
	struct seen *x = arg;

	x->host = *h;
	x->nhost++;
}

static const struct mm_cb cb = { .stats = on_stats, .result = on_result, .host = on_host };

/* Polls m for up to ms until cond(x) holds. */
static int wait_seen(struct mm *m, struct seen *x, int (*cond)(const struct seen *), int ms)
{
	struct pollfd p = { .fd = mm_fd(m), .events = POLLIN };

	for (int t = 0; t < ms && !cond(x); t += 10) {
		poll(&p, 1, 10);
		mm_poll(m, &cb, x);
	}
	return cond(x);
}

static int stats_once(const struct seen *x) { return x->nst[0] >= 1 && x->nhost >= 1; }
static int host_thrice(const struct seen *x) { return x->nhost >= 3; }
static int one_result(const struct seen *x) { return x->nres >= 1; }
static int bogus_seen(const struct seen *x) { return x->nst[1] >= 1; }

/* The host every period; a VM's statistics when they change, not the same numbers again. */
static void statistics_arrive_once_the_host_every_period(void **state)
{
	static struct seen x;
	struct mm_counters c;
	struct mm *m;

	assert_int_equal(mm_open(URI, 100, &m), 0);
	assert_int_equal(mm_attach(m, 0, TEST_UUID, NULL), 0);
	assert_true(wait_seen(m, &x, stats_once, 3000));
	assert_true(x.st[0].max_kib > 0);
	assert_true(x.st[0].actual_kib <= x.st[0].max_kib);
	assert_int_equal(x.st[0].psi_vm, 0); /* no cgroup given: the host's pressure */
	assert_true(x.host.total_kib > 0 && x.host.avail_kib <= x.host.total_kib);
	x.nhost = 0;
	assert_true(wait_seen(m, &x, host_thrice, 3000));
	assert_int_equal(x.nst[0], 1); /* the test driver's numbers never change */
	/* Each read of a VM alone is a libvirt call, and the lookup and the period one each. */
	mm_get_counters(m, &c);
	assert_true(c.full_reads >= 3);
	assert_true(c.calls >= c.full_reads - c.bulk_reads + 2);
	mm_close(m);
}

static void targets_within_the_maximum_apply_beyond_it_fail(void **state)
{
	static struct seen x;
	struct mm *m;
	uint32_t max;

	assert_int_equal(mm_open(URI, 100, &m), 0);
	assert_int_equal(mm_attach(m, 0, TEST_UUID, NULL), 0);
	assert_true(wait_seen(m, &x, stats_once, 3000));
	max = x.st[0].max_kib;
	assert_int_equal(mm_set_target(m, 0, max / 2, 7), 0);
	assert_int_equal(mm_set_target(m, 0, max / 2, 8), -EBUSY); /* one at a time */
	assert_true(wait_seen(m, &x, one_result, 3000));
	assert_int_equal(x.res[0].cookie, 7);
	assert_int_equal(x.res[0].err, 0);
	memset(&x, 0, sizeof(x));
	assert_int_equal(mm_set_target(m, 0, max + 1024, 9), 0);
	assert_true(wait_seen(m, &x, one_result, 3000));
	assert_int_equal(x.res[0].cookie, 9);
	assert_int_equal(x.res[0].err, EINVAL);
	assert_true(x.res[0].why[0]);
	assert_int_equal(mm_set_target(m, 3, 1024, 10), -ENOENT); /* nothing attached there */
	mm_close(m);
}

static void a_missing_domain_is_reported(void **state)
{
	static struct seen x;
	struct mm *m;

	assert_int_equal(mm_open(URI, 100, &m), 0);
	assert_int_equal(mm_attach(m, 1, "00000000-0000-0000-0000-000000000001", NULL), 0);
	assert_true(wait_seen(m, &x, bogus_seen, 3000));
	assert_int_equal(x.st[1].max_kib, 0);
	assert_true(x.st[1].why[0]);
	assert_int_equal(mm_set_target(m, 1, 1024, 11), 0);
	assert_true(wait_seen(m, &x, one_result, 3000));
	assert_int_equal(x.res[0].err, ENOENT);
	assert_int_equal(mm_attach(m, 2, "not-a-uuid-but-far-too-long-to-be-one-at-all", NULL),
			 -EINVAL);
	mm_close(m);
}

/*
 * The guest's use is paired with the balloon only when the balloon stood
 * still between the read before its statistics and the read that saw
 * them; a move of a MiB or more in between leaves it unknown.
 */
static void use_is_paired_only_with_a_balloon_that_stood_still(void **state)
{
	(void)state;
	assert_int_equal(mm_used_then(300 << 10, 300 << 10, 100 << 10), 200 << 10);
	assert_int_equal(mm_used_then(300 << 10, (300 << 10) + 1023, 100 << 10), (200 << 10) + 1023);
	assert_int_equal(mm_used_then(300 << 10, 299 << 10, 100 << 10), MM_NONE);
	assert_int_equal(mm_used_then(300 << 10, 400 << 10, 100 << 10), MM_NONE);
	assert_int_equal(mm_used_then(MM_NONE, 300 << 10, 100 << 10), MM_NONE); /* first read */
	assert_int_equal(mm_used_then(300 << 10, 300 << 10, MM_NONE), MM_NONE); /* no statistics */
	assert_int_equal(mm_used_then(100 << 10, 100 << 10, 200 << 10), MM_NONE); /* a lying guest */
}

/*
 * A report shows the guest swapping when its swap-ins or major faults grew
 * since the report before; counts missing on either side say nothing.
 */
static void swapping_is_growth_of_swap_ins_or_major_faults(void **state)
{
	struct mm_stats is = { .swap_in_kib = 1000, .major_faults = 50 };

	(void)state;
	assert_false(mm_report_swapping(1000, 50, &is));
	assert_true(mm_report_swapping(999, 50, &is));
	assert_true(mm_report_swapping(1000, 49, &is));
	assert_false(mm_report_swapping(MM_NONE, MM_NONE, &is)); /* the first report */
	is.swap_in_kib = MM_NONE;
	assert_false(mm_report_swapping(10, 50, &is));
	assert_true(mm_report_swapping(10, 40, &is));
	is.major_faults = MM_NONE;
	assert_false(mm_report_swapping(10, 40, &is)); /* the guest reports neither */
}

/*
 * A report not in at a full read is read again for, unless the guest
 * stopped reporting, is swapping, or its balloon is shrinking (its moving
 * balloon is read four times a period anyway).
 */
static void late_reports_awaited_only_from_guests_that_may_send_them(void **state)
{
	(void)state;
	assert_true(mm_late_awaited(0, 0, 0));
	assert_false(mm_late_awaited(1, 0, 0));
	assert_false(mm_late_awaited(0, 1, 0));
	assert_false(mm_late_awaited(0, 0, 200 << 10));
}

/*
 * A guest awaits room when its last report showed it swapping or nearly
 * out of usable memory, and its balloon can still grow.
 */
static void room_awaited_by_a_short_guest_below_its_maximum(void **state)
{
	uint32_t max = 512 << 10, at = 300 << 10;

	(void)state;
	assert_true(mm_awaits_room(1, 200 << 10, at, max));
	assert_true(mm_awaits_room(0, MM_SHORT_KIB - 1, at, max));
	assert_false(mm_awaits_room(0, MM_SHORT_KIB, at, max));
	assert_false(mm_awaits_room(0, 16 << 10, at, max)); /* a guest taxed to its need keeps more */
	assert_false(mm_awaits_room(0, MM_NONE, at, max));  /* not reported: says nothing */
	assert_false(mm_awaits_room(1, 0, max, max));       /* at its maximum: no room helps */
	assert_false(mm_awaits_room(1, 0, max - 512, max));
	assert_false(mm_awaits_room(1, 0, MM_NONE, max));   /* size unknown */
	assert_false(mm_awaits_room(1, 0, at, 0));
}

/*
 * A balloon read alone is at rest, and may be read from the bulk call
 * next, after a full read finds it where it was or at its last target,
 * with no target set in the same turn; quick and late reads only keep it.
 */
static void at_rest_where_it_stood_or_where_it_was_sent(void **state)
{
	uint32_t was = 300 << 10, set = 270 << 10;

	(void)state;
	assert_true(mm_at_rest(1, 0, 0, was, was + 1023, 0));   /* stood still over a period */
	assert_true(mm_at_rest(1, 0, 0, was, set, set));        /* got to its target */
	assert_true(mm_at_rest(1, 0, 0, was, set + 512, set));
	assert_false(mm_at_rest(1, 0, 0, was, set + 8192, set)); /* still on its way */
	assert_false(mm_at_rest(1, 1, 1, was, was, 0));         /* a target set this turn */
	assert_false(mm_at_rest(1, 0, 1, was, MM_NONE, set));   /* no size read */
	assert_false(mm_at_rest(1, 0, 0, MM_NONE, 1 << 9, 0));  /* no target yet, first read */
	assert_true(mm_at_rest(0, 0, 1, was, was, 0));          /* a quick read keeps it */
	assert_false(mm_at_rest(0, 0, 0, was, was, 0));         /* ... never makes it */
	assert_false(mm_at_rest(0, 0, 1, was, set, set));       /* ... and a move clears it */
}

static void psi_totals_parsed(void **state)
{
	uint64_t some, full;

	assert_int_equal(mm_psi_parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=1234\n"
				      "full avg10=0.00 avg60=0.00 avg300=0.00 total=56\n",
				      &some, &full), 0);
	assert_int_equal(some, 1234);
	assert_int_equal(full, 56);
	assert_int_equal(mm_psi_parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=9\n", &some,
				      &full), 0);
	assert_int_equal(some, 9);
	assert_int_equal(full, 0);
	assert_int_equal(mm_psi_parse("garbage", &some, &full), -EINVAL);
	assert_int_equal(mm_psi_parse("some avg10=1 total=x\n", &some, &full), -EINVAL);
}

/* libvirt's errors are what the cases provoke: not on stderr. */
static void quiet(void *opaque, virErrorPtr err)
{
	(void)opaque;
	(void)err;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(psi_totals_parsed),
		cmocka_unit_test(use_is_paired_only_with_a_balloon_that_stood_still),
		cmocka_unit_test(swapping_is_growth_of_swap_ins_or_major_faults),
		cmocka_unit_test(late_reports_awaited_only_from_guests_that_may_send_them),
		cmocka_unit_test(room_awaited_by_a_short_guest_below_its_maximum),
		cmocka_unit_test(at_rest_where_it_stood_or_where_it_was_sent),
		cmocka_unit_test(statistics_arrive_once_the_host_every_period),
		cmocka_unit_test(targets_within_the_maximum_apply_beyond_it_fail),
		cmocka_unit_test(a_missing_domain_is_reported),
	};

	virSetErrorFunc(NULL, quiet);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
