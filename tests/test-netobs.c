// SPDX-License-Identifier: BSD-3-Clause
/*
 * Traffic observation (kvm-hooks/netobs.h) against a real tap that this
 * test creates and plays the guest on: frames written into the tap's fd are
 * what a guest sends, frames sent to the tap through a packet socket are
 * what reaches the guest. Both backends must count exactly what was sent
 * each way; BPF must also push an arrival after a quiet gap and none
 * within it, and take its tc hooks off again. Needs root (a tap; BPF).
 */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/log.h"
#include "kvm-hooks/netobs.h"
#include "tests/tap.h"
#include "tests/util.h"

static void counts_each_way(enum netobs_backend which)
{
	struct nettap_rec r;
	struct netobs *n;
	struct test_tap t;
	int slot;

	test_tap_open(&t);
	if (netobs_open(which, 1000000, &n)) {
		test_tap_close(&t);
		test_skip("the %s backend is not available here", which == NETOBS_BPF ? "BPF" : "sysfs");
	}
	assert_int_equal(netobs_add(n, "wv-no-such-if", 0), -ENODEV);
	slot = netobs_add(n, t.name, 0);
	assert_true(slot >= 0);
	test_tap_from_guest(&t, 7, 100);
	test_tap_to_guest(&t, 5, 200);
	assert_int_equal(netobs_read(n, slot, &r), 0);
	assert_int_equal(r.tx_pkts, 7);
	assert_int_equal(r.tx_bytes, 700);
	assert_int_equal(r.rx_pkts, 5);
	assert_int_equal(r.rx_bytes, 1000);
	netobs_del(n, slot);
	assert_int_equal(netobs_read(n, slot, &r), -ENOENT);
	netobs_close(n);
	test_tap_close(&t);
}

static void sysfs_counts_each_way(void **state)
{
	counts_each_way(NETOBS_SYSFS);
}

static void bpf_counts_each_way(void **state)
{
	counts_each_way(NETOBS_BPF);
}

static void count_arrivals(const struct nettap_event *ev, void *arg)
{
	unsigned int *n = arg;

	assert_true(ev->quiet_ns >= 200000000);
	(*n)++;
}

/* How many arrival events are queued within ms. */
static unsigned int arrivals(struct netobs *n, int ms)
{
	struct pollfd p = { .fd = netobs_fd(n), .events = POLLIN };
	unsigned int got = 0;

	if (poll(&p, 1, ms) == 1)
		netobs_poll(n, count_arrivals, &got);
	return got;
}

/* Only packets after a quiet gap (here 1 ms) to a guest that asked are events. */
static void bpf_arrival_after_quiet_gap(void **state)
{
	char cmd[128], out[256] = "";
	struct netobs *n;
	struct test_tap t;
	FILE *p;
	int slot;

	test_tap_open(&t);
	if (netobs_open(NETOBS_BPF, 200000000, &n)) { /* a quiet gap of 200 ms */
		test_tap_close(&t);
		test_skip("BPF is not available here");
	}
	slot = netobs_add(n, t.name, 1);
	assert_true(slot >= 0);
	assert_int_equal(netobs_add(n, t.name, 1), -EEXIST); /* one slot per interface */
	assert_true(netobs_fd(n) >= 0);
	test_tap_to_guest(&t, 1, 64);                  /* the first packet ends a quiet gap */
	assert_int_equal(arrivals(n, 1000), 1);
	test_tap_to_guest(&t, 3, 64);                  /* within the gap: none */
	test_tap_from_guest(&t, 3, 64);                /* what the guest sends is no arrival */
	assert_int_equal(arrivals(n, 20), 0);
	usleep(250000);
	test_tap_to_guest(&t, 1, 64);
	assert_int_equal(arrivals(n, 1000), 1);
	netobs_notify(n, slot, 0);
	usleep(250000);
	test_tap_to_guest(&t, 1, 64);
	assert_int_equal(arrivals(n, 20), 0);
	/* Off the tap again: our clsact qdisc (we created it) is gone. */
	netobs_del(n, slot);
	snprintf(cmd, sizeof(cmd), "tc qdisc show dev %s 2>&1", t.name);
	if (!(p = popen(cmd, "r")))
		fail_msg("popen tc: %s", strerror(errno));
	out[fread(out, 1, sizeof(out) - 1, p)] = '\0';
	assert_int_equal(pclose(p), 0);
	assert_null(strstr(out, "clsact"));
	netobs_close(n);
	test_tap_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sysfs_counts_each_way),
		cmocka_unit_test(bpf_counts_each_way),
		cmocka_unit_test(bpf_arrival_after_quiet_gap),
	};

	wave_log_init("test-netobs", WAVE_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
