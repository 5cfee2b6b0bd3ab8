// SPDX-License-Identifier: BSD-3-Clause
/*
 * The plumbing of 'wavectl bench mem', end to end but short: three real
 * VMs, every mode and phase for a few seconds, JSON and report. It checks
 * that each mode and phase produced work, balloon samples and every field,
 * that the policy-driven modes kept the balloons' sum near the budget while
 * none did not (its VMs keep their maximum), that the JSON parses and the
 * report and its plots exist. It checks no timing goal: those belong to the
 * benchmark. Needs root; skipped otherwise. The benchmark removes what it
 * starts.
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

static double num(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no %s", key);
	return json_object_get_double(v);
}

static void harness_produces_every_number(void **state)
{
	static const char *const modes[] = { "static", "none", "offload", "onhost" };
	static const char *const phases[] = { "skew", "shift", "spike" };
	static const char *const fields[] = { "work_per_s", "work_per_s_vm", "major_faults_per_s",
					      "swap_in_per_s", "oom_kills", "budget_max_pct",
					      "rss_sum_mib", "waved_cpu_pct", "waved_mem_cpu_pct",
					      "agent_cpu_pct" };
	static const char *const files[] = { "report.md", "timeline-static.png",
					     "timeline-none.png", "timeline-offload.png",
					     "timeline-onhost.png" };
	char cmd[256];
	json_object *root, *m, *p, *v;

	if (geteuid() != 0)
		test_skip("needs root (VMs, balloons)");
	snprintf(dir, sizeof(dir), "/tmp/wave-test-bench-mem-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd),
		 "timeout 280 build/bin/wavectl bench mem --phase-s 3 --runs 1 --json --report %s",
		 dir);
	root = test_run_json(cmd);
	assert_true(json_object_object_get_ex(root, "params", &v));
	assert_int_equal((int)num(v, "budget_mib"), 768);
	assert_true(json_object_object_get_ex(root, "modes", &m));
	for (size_t i = 0; i < 4; i++)
		for (size_t k = 0; k < 3; k++) {
			json_object *mo;

			if (!json_object_object_get_ex(m, modes[i], &mo) ||
			    !json_object_object_get_ex(mo, phases[k], &p))
				fail_msg("no %s/%s", modes[i], phases[k]);
			for (size_t j = 0; j < sizeof(fields) / sizeof(fields[0]); j++)
				if (!json_object_object_get_ex(p, fields[j], &v))
					fail_msg("%s/%s lacks %s", modes[i], phases[k], fields[j]);
			if (num(p, "work_per_s") <= 0)
				fail_msg("%s/%s: no work reported", modes[i], phases[k]);
			json_object_object_get_ex(p, "work_per_s_vm", &v);
			assert_int_equal(json_object_array_length(v), 3);
			/* The balloons were sampled: none holds every VM at its maximum (200%). */
			if (i == 1 && num(p, "budget_max_pct") < 150)
				fail_msg("none/%s: balloons at %.0f%% of the budget", phases[k],
					 num(p, "budget_max_pct"));
			if (i != 1 && (num(p, "budget_max_pct") < 50 || num(p, "budget_max_pct") > 150))
				fail_msg("%s/%s: balloons at %.0f%% of the budget", modes[i], phases[k],
					 num(p, "budget_max_pct"));
			if (k == 2 && !json_object_object_get_ex(p, "react_ms", &v))
				fail_msg("%s/spike lacks react_ms", modes[i]);
		}
	/* Offload ran the agent, and its CPU was measured; waved's memory worker too. */
	json_object_object_get_ex(m, "offload", &v);
	json_object_object_get_ex(v, "skew", &p);
	assert_true(num(p, "agent_cpu_pct") > 0);
	assert_true(num(p, "waved_mem_cpu_pct") > 0);
	assert_true(json_object_object_get_ex(root, "goals", &v));
	assert_true(json_object_array_length(v) >= 10);
	json_object_put(root);
	test_files_exist(dir, files, sizeof(files) / sizeof(files[0]));
	/* The report's spike rows say how fast (ms) or "never", with the CPU columns after. */
	snprintf(cmd, sizeof(cmd),
		 "grep -Eq '^\\| static \\| spike \\|.*\\| (never|[0-9]+) \\| [0-9.]+ \\| [0-9.]+ \\|$' "
		 "%s/report.md",
		 dir);
	if (system(cmd) != 0)
		fail_msg("report.md: the static spike row lacks its react time or CPU columns");
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
