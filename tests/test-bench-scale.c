// SPDX-License-Identifier: BSD-3-Clause
/*
 * The plumbing of 'wavectl bench scale', end to end but small: two host
 * sizes (16 and 64 vCPUs), stand-in threads under the real waved and agent,
 * then the same sizes replayed into the real agent. It checks that the JSON
 * has every field for every size, that the replay really sent every vCPU's
 * state every 10 ms, that waved's wakeups and the agent's decisions were
 * counted, and that the plot was drawn. It checks no goal: those belong to
 * the benchmark. Needs root and BPF; skipped otherwise. The benchmark
 * removes what it starts.
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
	static const char *const fields[] = { "vcpus", "vms", "latency_vms", "agent_cpu_pct",
					      "agent_decides_per_s", "agent_decide_us_p99",
					      "waved_cpu_pct", "waved_cpu_pct_per_vcpu",
					      "waved_wakeups_per_s", "channel_msgs_per_s", "lag_max_ms",
					      "decisions_applied_per_s", "decisions_failed_per_s",
					      "fallbacks", "resyncs", "kept_up" };
	static const char *const replay_fields[] = { "vcpus", "agent_cpu_pct",
						     "agent_decides_per_s", "agent_decide_us_p99",
						     "channel_msgs_per_s", "lag_p99_ms", "lag_max_ms",
						     "resyncs", "late_ticks", "agent_rss_mib",
						     "kept_up" };
	static const char *const files[] = { "scale.dat", "scale.png" };
	static const unsigned int sizes[] = { 16, 64 };
	json_object *root, *pts, *rep;
	char cmd[256];

	if (geteuid() != 0)
		test_skip("needs root (BPF, scheduling classes)");
	snprintf(dir, sizeof(dir), "/tmp/wave-test-scale-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd),
		 "timeout 300 build/bin/wavectl bench scale --quick --sizes 16,64 --json --report %s",
		 dir);
	root = test_run_json(cmd);
	assert_true(json_object_object_get_ex(root, "points", &pts));
	assert_true(json_object_object_get_ex(root, "replay", &rep));
	assert_int_equal(json_object_array_length(pts), 2);
	assert_int_equal(json_object_array_length(rep), 2);
	for (size_t i = 0; i < 2; i++) {
		json_object *p = json_object_array_get_idx(pts, i);
		json_object *r = json_object_array_get_idx(rep, i);

		for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
			num(p, fields[k]);
		for (size_t k = 0; k < sizeof(replay_fields) / sizeof(replay_fields[0]); k++)
			num(r, replay_fields[k]);
		assert_int_equal((int)num(p, "vcpus"), sizes[i]);
		/* waved ran and ticked; the agent ran its policy. */
		assert_true(num(p, "waved_wakeups_per_s") >= 1);
		assert_true(num(p, "waved_cpu_pct") > 0);
		assert_true(num(p, "agent_decides_per_s") > 0);
		/* The replay sent every vCPU's state each 10 ms (and heartbeats): n x 100 a second. */
		assert_true(num(r, "channel_msgs_per_s") >= 0.8 * 100 * sizes[i]);
		assert_true(num(r, "agent_decides_per_s") > 0);
		assert_true(num(r, "agent_rss_mib") > 0);
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
