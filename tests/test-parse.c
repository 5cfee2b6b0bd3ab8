// SPDX-License-Identifier: BSD-3-Clause
/* Parsing: numbers, durations, CPU lists, link options; /proc stat lines. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <cmocka.h>

#include "channel/chan.h"
#include "common/log.h"
#include "common/opt.h"
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

static void names_and_durations_print(void **state)
{
	static const struct wave_name t[] = { { "one", 1 }, { "two", 2 }, { NULL, 0 } };
	char buf[64];
	int v = 0;

	assert_int_equal(wave_parse_name("n", "two", t, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(wave_parse_name("n", "three", t, &v), -EINVAL);
	assert_int_equal(wave_parse_name("n", NULL, t, &v), -EINVAL);
	assert_int_equal(v, 2);
	assert_string_equal(wave_name_of(t, 1), "one");
	assert_string_equal(wave_name_of(t, 9), "?");
	assert_string_equal(wave_names_list(t, buf, sizeof(buf)), "one, two");
	assert_string_equal(wave_format_duration(buf, sizeof(buf), 0), "0");
	assert_string_equal(wave_format_duration(buf, sizeof(buf), 10000000), "10ms");
	assert_string_equal(wave_format_duration(buf, sizeof(buf), 250000), "250us");
	assert_string_equal(wave_format_duration(buf, sizeof(buf), 2000000000ull), "2s");
	assert_string_equal(wave_format_duration(buf, sizeof(buf), 1500000000ull), "1500ms");
	assert_string_equal(wave_format_duration(buf, sizeof(buf), 1500001), "1.5ms");
	assert_string_equal(wave_format_duration(buf, sizeof(buf), 7), "7ns");
}

/* One option table: parsing, ranges, choices, positionals, and the usage drawn from it. */
static struct {
	int flag, mode;
	uint64_t n, ns;
	const char *name;
	char seen[32];
} o;

static int remember(const struct opt *op, const char *arg)
{
	if (strcmp(arg, "ok"))
		return -EINVAL;
	snprintf(o.seen, sizeof(o.seen), "%s=%s", op->name, arg);
	return 0;
}

static const struct wave_name modes[] = { { "fast", 1 }, { "slow", 2 }, { NULL, 0 } };
static const struct opt table[] = {
	OPT_BOOL("flag", 'f', &o.flag, "a flag"),
	OPT_U64("count", "N", &o.n, 1, 10, "how many"),
	OPT_DURATION("wait", "MS", &o.ns, 1000000, 1000, 1000000000, "how long"),
	OPT_ENUM("mode", "M", &o.mode, modes, "how"),
	OPT_STRING("name", "S", &o.name, "called"),
	OPT_CALLBACK("cb", "X", NULL, remember, "anything"),
	OPT_END(),
};
static const struct opt_cmd cmd = { .usage = "t [OPTIONS] FILE", .opts = table,
				    .min_args = 1, .max_args = 1 };

static int run(int argc, const char **argv, int *first)
{
	return opt_parse(&cmd, argc, (char **)argv, first);
}

static void option_tables(void **state)
{
	const char *good[] = { "t", "file", "-f", "--count", "3", "--wait", "250us", "--mode",
			       "slow", "--name", "x", "--cb", "ok", NULL };
	const char *bad_range[] = { "t", "--count", "11", "f", NULL };
	const char *bad_enum[] = { "t", "--mode", "medium", "f", NULL };
	const char *bad_cb[] = { "t", "--cb", "no", "f", NULL };
	const char *unknown[] = { "t", "--nope", "f", NULL };
	const char *missing_value[] = { "t", "f", "--count", NULL };
	const char *no_file[] = { "t", "-f", NULL };
	const char *two_files[] = { "t", "a", "b", NULL };
	const char *help[] = { "t", "--help", NULL };
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int first = -1, saved, ret;

	memset(&o, 0, sizeof(o));
	o.ns = 5000000;
	assert_int_equal(run(13, good, &first), 0);
	assert_true(o.flag);
	assert_int_equal(o.n, 3);
	assert_int_equal(o.ns, 250000);
	assert_int_equal(o.mode, 2);
	assert_string_equal(o.name, "x");
	assert_string_equal(o.seen, "cb=ok");
	assert_string_equal(good[first], "file"); /* positionals come last */
	assert_int_equal(run(4, bad_range, &first), -ERANGE);
	assert_int_equal(run(4, bad_enum, &first), -EINVAL);
	assert_int_equal(run(4, bad_cb, &first), -EINVAL);
	assert_int_equal(run(3, unknown, &first), -EINVAL);
	assert_int_equal(run(3, missing_value, &first), -EINVAL);
	assert_int_equal(run(2, no_file, &first), -EINVAL);
	assert_int_equal(run(3, two_files, &first), -EINVAL);
	assert_int_equal(o.mode, 2); /* unchanged by the failures */
	fflush(stdout);
	saved = dup(1);
	assert_true(freopen("/dev/null", "w", stdout) != NULL);
	ret = run(2, help, &first);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	assert_int_equal(ret, 1);
	/* The usage text comes from the table: choices and current values included. */
	f = open_memstream(&text, &len);
	opt_usage(&cmd, f);
	fclose(f);
	assert_non_null(strstr(text, "  -f, --flag"));
	assert_non_null(strstr(text, "(fast, slow; default slow)"));
	assert_non_null(strstr(text, "how long (default 250us)"));
	assert_non_null(strstr(text, "how many (default 3)"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(u64_strict),
		cmocka_unit_test(durations_with_units),
		cmocka_unit_test(cpu_lists),
		cmocka_unit_test(link_options),
		cmocka_unit_test(procstat_fields),
		cmocka_unit_test(names_and_durations_print),
		cmocka_unit_test(option_tables),
	};

	wave_log_init("test-parse", WAVE_LOG_ERR);
	return cmocka_run_group_tests_name("parse", tests, NULL, NULL);
}
