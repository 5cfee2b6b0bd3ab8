// SPDX-License-Identifier: BSD-3-Clause
/*
 * QMP reply parsing (vmm/qmp.h): real replies as QEMU 7.2 gives them, gaps
 * left by vCPU hot-unplug, and replies a broken or hostile monitor could
 * send. A bad reply is refused whole: never a partial vCPU list.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/qmp.h"

static char why[512];

static void vcpus_from_query_cpus_fast(void **state)
{
	/* Captured from a libvirt-managed QEMU 7.2 (TCG), entries out of order. */
	const char *reply =
		"{\"return\":[{\"thread-id\":12131,\"props\":{\"core-id\":0,\"thread-id\":0,"
		"\"socket-id\":1},\"qom-path\":\"/machine/unattached/device[2]\",\"cpu-index\":1,"
		"\"target\":\"x86_64\"},{\"thread-id\":12130,\"props\":{\"core-id\":0,"
		"\"thread-id\":0,\"socket-id\":0},\"qom-path\":\"/machine/unattached/device[0]\","
		"\"cpu-index\":0,\"target\":\"x86_64\"}],\"id\":\"libvirt-417\"}";
	struct vmm_vcpu *v = NULL;
	unsigned int n = 0;

	assert_int_equal(vmm_qmp_parse_vcpus(reply, &v, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].index, 0);
	assert_int_equal(v[0].tid, 12130);
	assert_string_equal(v[0].qom_path, "/machine/unattached/device[0]");
	assert_int_equal(v[1].index, 1);
	assert_int_equal(v[1].tid, 12131);
	free(v);
}

static void hotplug_gaps_keep_their_index(void **state)
{
	const char *reply = "{\"return\":[{\"cpu-index\":0,\"thread-id\":100},"
			    "{\"cpu-index\":3,\"thread-id\":103},{\"cpu-index\":2,\"thread-id\":102}]}";
	struct vmm_vcpu *v = NULL;
	unsigned int n = 0;

	assert_int_equal(vmm_qmp_parse_vcpus(reply, &v, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].index, 0);
	assert_int_equal(v[1].index, 2);
	assert_int_equal(v[1].tid, 102);
	assert_int_equal(v[2].index, 3);
	free(v);
}

static void bad_vcpu_replies_are_refused(void **state)
{
	static const char *const bad[] = {
		"not json",
		"[1,2]",
		"{\"return\":{}}",
		"{\"id\":\"x\"}",
		"{\"return\":[{\"cpu-index\":0}]}",
		"{\"return\":[{\"cpu-index\":0,\"thread-id\":-4}]}",
		"{\"return\":[{\"cpu-index\":0,\"thread-id\":0}]}",
		"{\"return\":[{\"cpu-index\":0,\"thread-id\":99999999999}]}",
		"{\"return\":[{\"cpu-index\":-1,\"thread-id\":5}]}",
		"{\"return\":[{\"cpu-index\":\"0\",\"thread-id\":5}]}",
		"{\"return\":[{\"cpu-index\":0,\"thread-id\":5},{\"cpu-index\":0,\"thread-id\":6}]}",
		"{\"return\":[7]}",
	};
	struct vmm_vcpu *v = NULL;
	unsigned int n = 99;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (vmm_qmp_parse_vcpus(bad[i], &v, &n, why, sizeof(why)) != -EPROTO)
			fail_msg("accepted: %s", bad[i]);
		assert_null(v);
		assert_int_equal(n, 99);
	}
}

static void qmp_error_is_reported(void **state)
{
	struct vmm_vcpu *v = NULL;
	unsigned int n = 0;

	assert_int_equal(vmm_qmp_parse_vcpus("{\"error\":{\"class\":\"CommandNotFound\","
					     "\"desc\":\"The command foo has not been found\"}}",
					     &v, &n, why, sizeof(why)), -EREMOTEIO);
	assert_non_null(strstr(why, "has not been found"));
}

static void iothreads_and_empty(void **state)
{
	pid_t *t = NULL;
	unsigned int n = 9;

	assert_int_equal(vmm_qmp_parse_iothreads("{\"return\":[]}", &t, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 0);
	free(t);
	assert_int_equal(vmm_qmp_parse_iothreads("{\"return\":[{\"id\":\"io1\",\"thread-id\":77,"
						 "\"poll-max-ns\":32768}]}", &t, &n, why,
						 sizeof(why)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(t[0], 77);
	free(t);
	t = NULL;
	assert_int_equal(vmm_qmp_parse_iothreads("{\"return\":[{\"id\":\"io1\"}]}", &t, &n, why,
						 sizeof(why)), -EPROTO);
	assert_null(t);
}

static void kvm_stats_only_from_kvm_provider(void **state)
{
	const char *reply =
		"{\"return\":[{\"provider\":\"kvm\",\"qom-path\":\"/machine/unattached/device[0]\","
		"\"stats\":[{\"name\":\"halt_wait_ns\",\"value\":1500},{\"name\":\"exits\","
		"\"value\":42},{\"name\":\"preemption_reported\",\"value\":3},"
		"{\"name\":\"halt_poll_fail_hist\",\"value\":[1,2]}]},"
		"{\"provider\":\"other\",\"qom-path\":\"/x\",\"stats\":[]}]}";
	struct vmm_kvm_stats *s = NULL;
	unsigned int n = 0;

	assert_int_equal(vmm_qmp_parse_kvm_stats(reply, &s, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(s[0].halt_wait_ns, 1500);
	assert_int_equal(s[0].exits, 42);
	assert_int_equal(s[0].preemption_reported, 3);
	free(s);
	/* Under TCG QEMU returns nothing: that is not an error. */
	assert_int_equal(vmm_qmp_parse_kvm_stats("{\"return\":[]}", &s, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 0);
	free(s);
}

static void balloon_stats(void **state)
{
	struct vmm_balloon_stats b;

	assert_int_equal(vmm_qmp_parse_balloon("{\"return\":{\"stats\":{\"stat-free-memory\":"
					       "1000,\"stat-total-memory\":4000,"
					       "\"stat-available-memory\":-1},\"last-update\":17}}",
					       &b, why, sizeof(why)), 0);
	assert_int_equal(b.free, 1000);
	assert_int_equal(b.total, 4000);
	assert_int_equal(b.available, -1);
	assert_int_equal(b.swap_in, -1); /* not reported */
	assert_int_equal(b.last_update, 17);
	assert_int_equal(vmm_qmp_parse_balloon("{\"return\":[]}", &b, why, sizeof(why)), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vcpus_from_query_cpus_fast),
		cmocka_unit_test(hotplug_gaps_keep_their_index),
		cmocka_unit_test(bad_vcpu_replies_are_refused),
		cmocka_unit_test(qmp_error_is_reported),
		cmocka_unit_test(iothreads_and_empty),
		cmocka_unit_test(kvm_stats_only_from_kvm_provider),
		cmocka_unit_test(balloon_stats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
