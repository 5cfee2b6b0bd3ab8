// SPDX-License-Identifier: BSD-3-Clause
/* Parsing: numbers, durations, CPU lists, link options; /proc stat lines. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <cmocka.h>

#include "channel/chan.h"
#include "common/log.h"
#include "common/parse.h"
#include "common/procstat.h"

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

/* A command name with spaces and ')' must not shift the fields. */
static void procstat_fields(void **state)
{
	struct wave_procstat a, b;
	char old[16] = "";
	volatile uint64_t spin = 0;

	(void)state;
	prctl(PR_GET_NAME, old);
	prctl(PR_SET_NAME, "x) y (z) 1 2");
	assert_int_equal(wave_procstat(0, gettid(), &a), 0);
	assert_int_equal(a.state, 'R'); /* it is reading itself */
	assert_true(a.start > 0);
	assert_true(a.cpu >= 0 && a.cpu < sysconf(_SC_NPROCESSORS_CONF));
	/* The same thread by /proc/PID/task/TID. */
	assert_int_equal(wave_procstat(getpid(), gettid(), &b), 0);
	assert_true(b.start == a.start);
	/* CPU time grows as it spins (clock ticks: spin well past one). */
	for (int i = 0; i < 200 && b.cpu_ns == a.cpu_ns; i++) {
		for (int k = 0; k < 1000000; k++)
			spin++;
		assert_int_equal(wave_procstat(0, gettid(), &b), 0);
	}
	assert_true(b.cpu_ns > a.cpu_ns);
	prctl(PR_SET_NAME, old);
	assert_int_equal(wave_procstat(0, 999999999, &a), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(u64_strict),
		cmocka_unit_test(durations_with_units),
		cmocka_unit_test(cpu_lists),
		cmocka_unit_test(link_options),
		cmocka_unit_test(procstat_fields),
	};

	wave_log_init("test-parse", WAVE_LOG_ERR);
	return cmocka_run_group_tests_name("parse", tests, NULL, NULL);
}
