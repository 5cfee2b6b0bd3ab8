// SPDX-License-Identifier: BSD-3-Clause
/* Command-line parsing: numbers, durations, CPU lists, link options. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "channel/chan.h"
#include "common/log.h"
#include "common/parse.h"

static void u64_strict(void **state)
{
	uint64_t v = 7;

	assert_int_equal(wave_parse_u64("x", "42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(wave_parse_u64("x", "-1", 0, 100, &v), -EINVAL);
	assert_int_equal(wave_parse_u64("x", " 1", 0, 100, &v), -EINVAL);
	assert_int_equal(wave_parse_u64("x", "1x", 0, 100, &v), -EINVAL);
	assert_int_equal(wave_parse_u64("x", "", 0, 100, &v), -EINVAL);
	assert_int_equal(wave_parse_u64("x", NULL, 0, 100, &v), -EINVAL);
	assert_int_equal(wave_parse_u64("x", "101", 0, 100, &v), -ERANGE);
	assert_int_equal(wave_parse_u64("x", "99999999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(v, 42);
}

static void durations_with_units(void **state)
{
	uint64_t ns;

	assert_int_equal(wave_parse_duration("d", "250us", 1, 0, UINT64_MAX, &ns), 0);
	assert_int_equal(ns, 250000);
	assert_int_equal(wave_parse_duration("d", "2s", 1, 0, UINT64_MAX, &ns), 0);
	assert_int_equal(ns, 2000000000ull);
	assert_int_equal(wave_parse_duration("d", "7", 1000000, 0, UINT64_MAX, &ns), 0);
	assert_int_equal(ns, 7000000);
	assert_int_equal(wave_parse_duration("d", "5m", 1, 0, UINT64_MAX, &ns), -EINVAL);
	assert_int_equal(wave_parse_duration("d", "5ms", 1, 0, 1000, &ns), -ERANGE);
	assert_int_equal(wave_parse_duration("d", "18446744073709551615s", 1, 0, UINT64_MAX, &ns),
			 -ERANGE);
}

static void cpu_lists(void **state)
{
	uint64_t m;

	assert_int_equal(wave_parse_cpulist("c", "0,2-4", &m), 0);
	assert_int_equal(m, 0x1d);
	assert_int_equal(wave_parse_cpulist("c", "4-2", &m), -ERANGE);
	assert_int_equal(wave_parse_cpulist("c", "64", &m), -ERANGE);
	assert_int_equal(wave_parse_cpulist("c", "1,", &m), -EINVAL);
	assert_int_equal(wave_parse_cpulist("c", "a", &m), -EINVAL);
}

static void link_options(void **state)
{
	struct chan_opts o;

	chan_opts_init(&o, CHAN_AGENT);
	assert_int_equal(chan_opts_parse_link(&o, "--other", "1"), 0);
	assert_int_equal(chan_opts_parse_link(&o, "--link-delay", "2"), 1);
	assert_int_equal(o.link_delay_ns, 2000);
	assert_int_equal(chan_opts_parse_link(&o, "--link-delay", "x"), -EINVAL);
	assert_int_equal(chan_opts_parse_link(&o, "--link-fault", "stall@2s+500ms"), 1);
	assert_int_equal(o.faults[0].kind, CHAN_FAULT_STALL);
	assert_int_equal(o.faults[0].at_ns, 2000000000ull);
	assert_int_equal(o.faults[0].len_ns, 500000000ull);
	assert_int_equal(chan_opts_parse_link(&o, "--link-fault", "drop-hb@10"), 1);
	assert_int_equal(o.faults[1].kind, CHAN_FAULT_DROP_HB);
	assert_int_equal(o.faults[1].at_ns, 10000000ull);
	assert_int_equal(o.faults[1].len_ns, UINT64_MAX);
	assert_int_equal(chan_opts_parse_link(&o, "--link-fault", "melt@1s"), -EINVAL);
	assert_int_equal(chan_opts_parse_link(&o, "--link-fault", "stall"), -EINVAL);
	assert_int_equal(chan_opts_parse_link(&o, "--link-fault", "stall@1s+0"), -ERANGE);
	assert_int_equal(o.nr_faults, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(u64_strict),
		cmocka_unit_test(durations_with_units),
		cmocka_unit_test(cpu_lists),
		cmocka_unit_test(link_options),
	};

	wave_log_init("test-parse", WAVE_LOG_ERR);
	return cmocka_run_group_tests_name("parse", tests, NULL, NULL);
}
