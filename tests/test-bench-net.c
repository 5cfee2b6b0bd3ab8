// SPDX-License-Identifier: BSD-3-Clause
/*
 * The plumbing of 'wavectl bench net', end to end but short: three real
 * VMs behind the shaped uplink, every mode and phase for a few seconds,
 * JSON and report. It checks that every mode and phase has every field,
 * that the echo was answered, that the flood reached the sink in flood and
 * burst (and not in steady), that no mode let it through faster than the
 * link, that tc held it near its static limit, that the policy modes paced
 * it (wave-switch's CPU was measured, the agent ran in offload), that the
 * JSON parses and the report and its plot exist. It checks no timing goal:
 * those belong to the benchmark. Needs root; skipped otherwise. The
 * benchmark removes what it starts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	static const char *const modes[] = { "bridge", "tc", "switch", "offload", "onhost" };
	static const char *const phases[] = { "steady", "flood", "burst" };
	static const char *const fields[] = { "lat_us_p50", "lat_us_p99", "lost", "sent",
					      "noisy_mbit_s", "noisy_pps", "noisy_share_pct",
					      "switch_cpu_pct", "waved_cpu_pct", "agent_cpu_pct" };
	static const char *const files[] = { "report.md", "latency.png", "latency.dat" };
	char cmd[256];
	json_object *root, *m, *p, *v;

	if (geteuid() != 0)
		test_skip("needs root (VMs, a network namespace, tc, wave-switch)");
	snprintf(dir, sizeof(dir), "/tmp/wave-test-bench-net-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd),
		 "timeout 280 build/bin/wavectl bench net --phase-s 3 --runs 1 --json --report %s",
		 dir);
	root = test_run_json(cmd);
	assert_true(json_object_object_get_ex(root, "params", &v));
	assert_int_equal((int)num(v, "link_mbit"), 100);
	assert_true(json_object_object_get_ex(root, "modes", &m));
	for (size_t i = 0; i < 5; i++)
		for (size_t k = 0; k < 3; k++) {
			json_object *mo;
			double mbit;

			if (!json_object_object_get_ex(m, modes[i], &mo) ||
			    !json_object_object_get_ex(mo, phases[k], &p))
				fail_msg("no %s/%s", modes[i], phases[k]);
			for (size_t j = 0; j < sizeof(fields) / sizeof(fields[0]); j++)
				if (!json_object_object_get_ex(p, fields[j], &v))
					fail_msg("%s/%s lacks %s", modes[i], phases[k], fields[j]);
			if (num(p, "sent") <= 0 || num(p, "lost") >= num(p, "sent"))
				fail_msg("%s/%s: the echo was not answered", modes[i], phases[k]);
			mbit = num(p, "noisy_mbit_s");
			if (k == 0 && mbit > 1)
				fail_msg("%s/steady: %.1f Mbit/s of flood", modes[i], mbit);
			if (k > 0 && mbit < 10)
				fail_msg("%s/%s: the flood did not reach the sink (%.1f Mbit/s)",
					 modes[i], phases[k], mbit);
			if (mbit > 100 * 1.05)
				fail_msg("%s/%s: %.1f Mbit/s through a 100 Mbit/s link", modes[i],
					 phases[k], mbit);
			if (i == 1 && k > 0 && mbit > 50 * 1.1)
				fail_msg("tc/%s: %.1f Mbit/s past its 50 Mbit/s limit", phases[k], mbit);
			if (i >= 2 && num(p, "switch_cpu_pct") <= 0)
				fail_msg("%s/%s: wave-switch's CPU not measured", modes[i], phases[k]);
		}
	json_object_object_get_ex(m, "offload", &v);
	json_object_object_get_ex(v, "flood", &p);
	assert_true(num(p, "agent_cpu_pct") > 0);
	assert_true(num(p, "waved_cpu_pct") > 0);
	assert_true(json_object_object_get_ex(root, "switch_idle_cpu_pct", &v));
	assert_true(json_object_object_get_ex(root, "goals", &v));
	assert_true(json_object_array_length(v) >= 9);
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
