// SPDX-License-Identifier: BSD-3-Clause
/*
 * The plumbing of 'wavectl bench sched', end to end but short: real VMs,
 * every mode and phase for a few seconds, JSON and report. It checks that
 * each mode and phase produced latency samples and batch throughput, that
 * the JSON parses and has every field, and that the report and its plots
 * exist. It checks no timing goal: those belong to the benchmark. Needs
 * root; skipped otherwise. The benchmark removes what it starts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "tests/util.h"

static char dir[64];

static void harness_produces_every_number(void **state)
{
	static const char *const modes[] = { "cfs", "pin", "rt", "offload", "onhost", "nonet" };
	static const char *const phases[] = { "steady", "step", "busy", "hog" };
	static const char *const fields[] = { "lat_us_p50", "lat_us_p99", "lat_us_p999", "lost",
					      "batch_units_per_s", "waved_cpu_pct", "agent_cpu_pct",
					      "latency_vm_cpu_pct", "batch_vms_cpu_pct", "demotions",
					      "waved_wakeups_per_s" };
	static const char *const files[] = { "report.md", "cdf.png", "phases.png", "timeline.png" };
	char cmd[256];
	json_object *root, *m, *p, *v;

	if (geteuid() != 0)
		test_skip("needs root (VMs, scheduling classes)");
	snprintf(dir, sizeof(dir), "/tmp/wave-test-bench-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd),
		 "timeout 600 build/bin/wavectl bench sched --phase-s 3 --runs 1 --json --report %s",
		 dir);
	root = test_run_json(cmd);
	assert_true(json_object_object_get_ex(root, "host", &v));
	assert_true(json_object_object_get_ex(root, "params", &v));
	assert_true(json_object_object_get_ex(root, "modes", &m));
	for (size_t i = 0; i < 6; i++)
		for (size_t k = 0; k < 4; k++) {
			json_object *mo;
			int64_t sent, lost;

			if (!json_object_object_get_ex(m, modes[i], &mo) ||
			    !json_object_object_get_ex(mo, phases[k], &p))
				fail_msg("no %s/%s", modes[i], phases[k]);
			for (size_t j = 0; j < sizeof(fields) / sizeof(fields[0]); j++)
				if (!json_object_object_get_ex(p, fields[j], &v))
					fail_msg("%s/%s lacks %s", modes[i], phases[k], fields[j]);
			/* Requests went out, and each came back or was counted lost. */
			json_object_object_get_ex(p, "sent", &v);
			sent = json_object_get_int64(v);
			json_object_object_get_ex(p, "lost", &v);
			lost = json_object_get_int64(v);
			json_object_object_get_ex(p, "lat_us_p50", &v);
			if (sent <= 0 || (json_object_get_double(v) <= 0 && lost != sent))
				fail_msg("%s/%s: no latency samples (%lld sent, %lld lost)", modes[i],
					 phases[k], (long long)sent, (long long)lost);
			json_object_object_get_ex(p, "batch_units_per_s", &v);
			if (json_object_get_double(v) <= 0)
				fail_msg("%s/%s: no batch throughput", modes[i], phases[k]);
			/* The spinning batch VMs' CPU was measured (they always run). */
			json_object_object_get_ex(p, "batch_vms_cpu_pct", &v);
			if (json_object_get_double(v) <= 0)
				fail_msg("%s/%s: no batch VM CPU", modes[i], phases[k]);
			/* Where waved ran, its wakeups were counted: at least its ticks. */
			json_object_object_get_ex(p, "waved_wakeups_per_s", &v);
			if (i >= 3 && json_object_get_double(v) < 1)
				fail_msg("%s/%s: waved's wakeups not counted", modes[i], phases[k]);
			/* Where a policy ran, waved counted its demotions (none measured: -1). */
			json_object_object_get_ex(p, "demotions", &v);
			if (i >= 3 && json_object_get_int64(v) < 0)
				fail_msg("%s/%s: demotions not counted", modes[i], phases[k]);
		}
	/* Offload ran the agent, and its CPU was measured. */
	json_object_object_get_ex(m, "offload", &v);
	json_object_object_get_ex(v, "steady", &p);
	json_object_object_get_ex(p, "agent_cpu_pct", &v);
	assert_true(json_object_get_double(v) > 0);
	/* The hog phase timed its first demotion where a policy ran (-1: none came). */
	json_object_object_get_ex(m, "offload", &v);
	json_object_object_get_ex(v, "hog", &p);
	assert_true(json_object_object_get_ex(p, "demote_ms", &v));
	/* Every goal is measured within each run: one run here, so min = median = max. */
	assert_true(json_object_object_get_ex(root, "goals", &v));
	assert_int_equal(json_object_array_length(v), 11);
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		json_object *g = json_object_array_get_idx(v, i), *x;
		double med;

		assert_true(json_object_object_get_ex(g, "runs", &x));
		assert_int_equal(json_object_get_int(x), 1);
		assert_true(json_object_object_get_ex(g, "median", &x));
		med = json_object_get_double(x);
		assert_true(med >= 0); /* ratios are > 0; a count of demotions may be 0 */
		assert_true(json_object_object_get_ex(g, "min", &x));
		assert_true(json_object_get_double(x) == med);
		assert_true(json_object_object_get_ex(g, "verdict", &x));
	}
	json_object_put(root);
	test_files_exist(dir, files, sizeof(files) / sizeof(files[0]));
}

static int teardown(void **state)
{
	return test_rm_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(harness_produces_every_number, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
