// SPDX-License-Identifier: BSD-3-Clause
/*
 * The libvirt connection layer (vmm/conn.h) against libvirt's in-process
 * test driver (test:///default): listing, lifecycle events through the
 * event thread, metadata, and domain resolution. The test driver has no
 * QEMU monitor, so virDomainQemuMonitorCommand is wrapped at link time
 * (tests/test-vmm-conn.wrap) and answers query-cpus-fast with the ids of
 * threads this test starts and names like QEMU's vCPU threads: resolution
 * then runs its real /proc cross-checks against live threads.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include <libvirt/libvirt-qemu.h>

#include "common/log.h"
#include "tests/util.h"
#include "vmm/conn.h"

#define URI "test:///default"

/* What the wrapped monitor answers; NULL: fail like a dead monitor. */
static char qmp_reply[1024];
static int qmp_fail, qmp_destroy;

int __wrap_virDomainQemuMonitorCommand(virDomainPtr dom, const char *cmd, char **result,
				       unsigned int flags);
int __wrap_virDomainQemuMonitorCommand(virDomainPtr dom, const char *cmd, char **result,
				       unsigned int flags)
{
	(void)flags;
	if (qmp_destroy)
		virDomainDestroy(dom); /* the domain stops while we ask */
	if (qmp_fail || qmp_destroy)
		return -1;
	*result = strdup(strstr(cmd, "query-cpus-fast") ? qmp_reply : "{\"return\":[]}");
	return 0;
}

static pthread_t vcpu_thr[2];
static pid_t vcpu_tid[2];
static volatile int stop_threads;

struct named {
	const char *name;
	pid_t *tid;
};

static void *vcpu_thread(void *arg)
{
	struct named *n = arg;

	pthread_setname_np(pthread_self(), n->name);
	*n->tid = (pid_t)syscall(SYS_gettid);
	while (!stop_threads)
		usleep(1000);
	return NULL;
}

/* Two threads named "CPU 0/TCG" and "CPU <second>/TCG"; qmp_reply lists them. */
static void start_vcpus(unsigned int second, unsigned int qmp_second)
{
	static char names[2][16];
	static struct named n[2];

	stop_threads = 0;
	for (int i = 0; i < 2; i++) {
		snprintf(names[i], sizeof(names[i]), "CPU %u/TCG", i ? second : 0);
		n[i] = (struct named){ names[i], &vcpu_tid[i] };
		vcpu_tid[i] = 0;
		pthread_create(&vcpu_thr[i], NULL, vcpu_thread, &n[i]);
	}
	while (!vcpu_tid[0] || !vcpu_tid[1])
		usleep(1000);
	usleep(20000); /* the names are set before the tids are published, but be sure */
	snprintf(qmp_reply, sizeof(qmp_reply),
		 "{\"return\":[{\"cpu-index\":0,\"thread-id\":%d,\"qom-path\":\"/m/d[0]\"},"
		 "{\"cpu-index\":%u,\"thread-id\":%d}],\"id\":\"libvirt-1\"}",
		 (int)vcpu_tid[0], qmp_second, (int)vcpu_tid[1]);
}

static void stop_vcpus(void)
{
	stop_threads = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(vcpu_thr[i], NULL);
}

static struct vmm_conn *conn;

static int conn_setup(void **state)
{
	char why[256];

	qmp_fail = qmp_destroy = 0;
	if (vmm_conn_open(URI, 0, &conn, why, sizeof(why)))
		fail_msg("open: %s", why);
	return 0;
}

static int conn_teardown(void **state)
{
	vmm_conn_close(conn);
	conn = NULL;
	return 0;
}

static void connect_lists_running_domains(void **state)
{
	/* The test driver's stock domain "test" is running. */
	assert_int_equal(test_vmm_wait_event(conn, VMM_EV_CONNECTED, NULL, 1000), 0);
	vmm_conn_process(conn);
	assert_int_equal(test_vmm_wait_event(conn, VMM_EV_STARTED, "test", 1000), 0);
}

static void bad_uri_is_a_clear_error(void **state)
{
	struct vmm_conn *c = NULL;
	char why[512];

	assert_int_equal(vmm_conn_open("nosuchdriver:///x", 0, &c, why, sizeof(why)),
			 -ECONNREFUSED);
	assert_null(c);
	assert_non_null(strstr(why, "nosuchdriver:///x"));
	/* With retry, a missing daemon is not fatal: the layer keeps trying. */
	assert_int_equal(vmm_conn_open("nosuchdriver:///x", 1, &c, why, sizeof(why)), 0);
	assert_false(vmm_conn_is_up(c));
	vmm_conn_process(c);
	vmm_conn_close(c);
}

static const char transient_xml[] =
	"<domain type='test'><name>%s</name><memory>65536</memory><vcpu>2</vcpu>"
	"<metadata><wave:vm xmlns:wave='urn:wave-vm:domain:1' class='latency' weight='300'/>"
	"</metadata><os><type>hvm</type></os></domain>";

static void lifecycle_events_arrive(void **state)
{
	char xml[1024];
	virDomainPtr dom;

	test_vmm_wait_event(conn, VMM_EV_STARTED, "test", 1000);
	snprintf(xml, sizeof(xml), transient_xml, "ev1");
	dom = virDomainCreateXML(vmm_conn_virt(conn), xml, 0);
	assert_non_null(dom);
	assert_int_equal(test_vmm_wait_event(conn, VMM_EV_STARTED, "ev1", 2000), 0);
	assert_int_equal(virDomainDestroy(dom), 0);
	virDomainFree(dom);
	assert_int_equal(test_vmm_wait_event(conn, VMM_EV_STOPPED, "ev1", 2000), 0);
}

static void resolves_vcpus_metadata_and_defaults(void **state)
{
	struct vmm_domain d;
	char why[512], xml[1024];
	virDomainPtr dom;

	start_vcpus(1, 1);
	/* "test" has no Wave metadata: defaults, and a note saying so. */
	assert_int_equal(vmm_domain_lookup(conn, "test", &d, why, sizeof(why)), 0);
	assert_int_equal(d.pid, getpid());
	assert_int_equal(d.nr_vcpus, 2);
	assert_int_equal(d.vcpus[0].tid, vcpu_tid[0]);
	assert_int_equal(d.vcpus[1].tid, vcpu_tid[1]);
	assert_int_equal(d.vcpus[1].index, 1);
	assert_true(d.vcpus[0].last_cpu >= 0);
	assert_string_equal(d.accel, "TCG");
	assert_int_equal(d.emulator.tid, getpid());
	assert_false(d.meta.present);
	assert_int_equal(d.meta.cls, WAVE_CLASS_BATCH);
	assert_non_null(strstr(d.notes, "no Wave metadata"));
	vmm_domain_clear(&d);

	snprintf(xml, sizeof(xml), transient_xml, "meta1");
	dom = virDomainCreateXML(vmm_conn_virt(conn), xml, 0);
	assert_non_null(dom);
	assert_int_equal(vmm_domain_lookup(conn, "meta1", &d, why, sizeof(why)), 0);
	assert_true(d.meta.present);
	assert_int_equal(d.meta.cls, WAVE_CLASS_LATENCY);
	assert_int_equal(d.meta.weight, 300);
	vmm_domain_clear(&d);
	/* Bad metadata set later is reported, and defaults are used. */
	assert_int_equal(virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
					      "<vm class='turbo'/>", "wave", "urn:wave-vm:domain:1",
					      VIR_DOMAIN_AFFECT_LIVE), 0);
	assert_int_equal(vmm_domain_lookup(conn, "meta1", &d, why, sizeof(why)), 0);
	assert_int_equal(d.meta.cls, WAVE_CLASS_BATCH);
	assert_non_null(strstr(d.notes, "class='turbo'"));
	vmm_domain_clear(&d);
	virDomainDestroy(dom);
	virDomainFree(dom);
	stop_vcpus();
}

static void hotplug_gap_and_name_mismatch(void **state)
{
	struct vmm_domain d;
	char why[512];

	/* vCPU 1 was unplugged: QMP lists 0 and 2, the threads are named so. */
	start_vcpus(2, 2);
	assert_int_equal(vmm_domain_lookup(conn, "test", &d, why, sizeof(why)), 0);
	assert_int_equal(d.nr_vcpus, 2);
	assert_int_equal(d.vcpus[1].index, 2);
	assert_null(strstr(d.notes, "is named"));
	vmm_domain_clear(&d);
	stop_vcpus();
	/* QMP and the thread names disagree: kept (QMP wins), and noted. */
	start_vcpus(2, 1);
	assert_int_equal(vmm_domain_lookup(conn, "test", &d, why, sizeof(why)), 0);
	assert_int_equal(d.vcpus[1].index, 1);
	assert_non_null(strstr(d.notes, "is named 'CPU 2/TCG'"));
	vmm_domain_clear(&d);
	stop_vcpus();
}

static void vanishing_domains_are_skipped(void **state)
{
	struct vmm_domain d, *all = NULL;
	char why[512], xml[1024];
	virDomainPtr dom;
	int n;

	start_vcpus(1, 1);
	assert_int_equal(vmm_domain_lookup(conn, "nosuch", &d, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "nosuch"));
	snprintf(xml, sizeof(xml), transient_xml, "gone1");
	dom = virDomainCreateXML(vmm_conn_virt(conn), xml, 0);
	assert_non_null(dom);
	/* It stops while its vCPUs are being queried. */
	qmp_destroy = 1;
	assert_int_equal(vmm_domain_lookup(conn, "gone1", &d, why, sizeof(why)), -ENOENT);
	assert_null(d.vcpus);
	qmp_destroy = 0;
	virDomainFree(dom);
	/* A monitor that fails on every domain: the list skips them and goes on. */
	qmp_fail = 1;
	n = vmm_domain_list(conn, &all);
	assert_int_equal(n, 0);
	vmm_domains_free(all, 0);
	qmp_fail = 0;
	n = vmm_domain_list(conn, &all);
	assert_true(n >= 1);
	vmm_domains_free(all, (unsigned int)n);
	stop_vcpus();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(connect_lists_running_domains, conn_setup,
						conn_teardown),
		cmocka_unit_test(bad_uri_is_a_clear_error),
		cmocka_unit_test_setup_teardown(lifecycle_events_arrive, conn_setup, conn_teardown),
		cmocka_unit_test_setup_teardown(resolves_vcpus_metadata_and_defaults, conn_setup,
						conn_teardown),
		cmocka_unit_test_setup_teardown(hotplug_gap_and_name_mismatch, conn_setup,
						conn_teardown),
		cmocka_unit_test_setup_teardown(vanishing_domains_are_skipped, conn_setup,
						conn_teardown),
	};

	wave_log_init("test-vmm-conn", WAVE_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
