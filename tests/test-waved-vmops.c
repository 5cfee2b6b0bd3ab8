// SPDX-License-Identifier: BSD-3-Clause
/*
 * waved's decisions on a whole VM, as a unit (tests/waved-fixture.h):
 *   - the memory fallback rule: only acute pressure deflates a balloon,
 *     within its maximum and the headroom;
 *   - SET_NET_RATE goes to wave-switch (a stand-in here) as its rate
 *     request, for a VM on the switch only; stale or mixed transactions
 *     never reach it; the switch's refusal or absence comes back FAILED;
 *   - the metadata's net-rate is a ceiling no SET_NET_RATE passes, put
 *     on the switch as soon as it changes, and what is left once the
 *     policy's pace is lifted.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/log.h"
#include "tests/waved-fixture.h"
#include "vmm/meta.h"

/* The fallback rule for memory: only acute pressure deflates, within the maximum and the headroom. */
static void memory_fallback_rule_only_for_acute_pressure(void **state)
{
	struct mm_stats a = { .balloon = 1, .max_kib = 512 << 10, .actual_kib = 256 << 10,
			      .usable_kib = 100 << 10, .swap_in_kib = 1000, .psi_some_us = 5000 };
	struct mm_stats b = a;
	const uint64_t sec = 1000000000ull;

	assert_int_equal(wv_mem_rule(&a, &b, sec, 256 << 10, 1 << 30), 0);     /* calm */
	b.psi_some_us = a.psi_some_us + 50000;                                  /* 5%: not acute */
	assert_int_equal(wv_mem_rule(&a, &b, sec, 256 << 10, 1 << 30), 0);
	b.psi_some_us = a.psi_some_us + 150000;                                 /* 15% stalled */
	assert_int_equal(wv_mem_rule(&a, &b, sec, 256 << 10, 1 << 30), 320 << 10); /* +max(64, 64) */
	b = a;
	b.swap_in_kib = a.swap_in_kib + 4096;                                   /* swapping in */
	assert_int_equal(wv_mem_rule(&a, &b, sec, 128 << 10, 1 << 30), (128 + 96) << 10);
	assert_int_equal(wv_mem_rule(&a, &b, sec, 128 << 10, 10 << 10), (128 + 10) << 10);
	assert_int_equal(wv_mem_rule(&a, &b, sec, 128 << 10, 0), 0);           /* no headroom */
	assert_int_equal(wv_mem_rule(&a, &b, sec, 512 << 10, 1 << 30), 0);     /* at its maximum */
	b = a;
	b.usable_kib = 8 << 10;                                                 /* nothing left */
	assert_int_equal(wv_mem_rule(&a, &b, sec, 480 << 10, 1 << 30), 512 << 10);
	b.balloon = 0;
	assert_int_equal(wv_mem_rule(&a, &b, sec, 256 << 10, 1 << 30), 0);
}

/* ---- a stand-in wave-switch: answers each request line with a fixed reply ---- */

static struct {
	int fd;
	struct sockaddr_un addr;
	char last[256];
	const char *reply;
} fsw = { .fd = -1 };

static void *fsw_serve(void *arg)
{
	int c = accept(fsw.fd, NULL, NULL);
	ssize_t n;

	if (c < 0)
		return NULL;
	n = read(c, fsw.last, sizeof(fsw.last) - 1);
	fsw.last[n > 0 ? n : 0] = 0;
	if (n > 0 && send(c, fsw.reply, strlen(fsw.reply), MSG_NOSIGNAL) < 0)
		fsw.last[0] = 0;
	close(c);
	return NULL;
}

static pthread_t fsw_thread;

/* The stand-in answers the next request with reply, on a thread of its own. */
static void serve_start(const char *reply)
{
	fsw.reply = reply;
	fsw.last[0] = 0;
	assert_int_equal(pthread_create(&fsw_thread, NULL, fsw_serve, NULL), 0);
}

/* ... and is done: if waved sent nothing, a call of our own ends the serve thread. */
static void serve_end(void)
{
	if (!fsw.last[0]) {
		int c = socket(AF_UNIX, SOCK_STREAM, 0);

		assert_int_equal(connect(c, (struct sockaddr *)&fsw.addr, sizeof(fsw.addr)), 0);
		close(c);
	}
	pthread_join(fsw_thread, NULL);
}

/* Submits txn id to waved while the stand-in answers one request with reply. */
static void submit_to_switch(uint32_t id, struct wave_txn *ops, unsigned int n, const char *reply)
{
	serve_start(reply);
	submit(id, ops, n);
	serve_end();
}

static struct wave_txn net_rate(struct wv_vm *vm, uint8_t dir, uint64_t rate, uint32_t burst)
{
	struct wave_txn op = { .epoch = w.epoch, .vm_id = vm->id, .kind = WAVE_KIND_VCPU,
			       .op = WAVE_OP_SET_NET_RATE, .barrier = vm->barrier };

	op.u.net.dir = dir;
	op.u.net.rate_bytes_s = rate;
	op.u.net.burst_bytes = burst;
	return op;
}

static void listen_at(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	assert_true(strlen(path) < sizeof(a.sun_path));
	memcpy(a.sun_path, path, strlen(path) + 1);
	unlink(path);
	assert_true((fsw.fd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(fsw.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	fsw.addr = a;
	assert_int_equal(listen(fsw.fd, 4), 0);
}

/*
 * SET_NET_RATE goes to the switch as its rate request, for a VM on the
 * switch only; a stale or mixed transaction never reaches it; what the
 * switch refuses, or a switch that is gone, comes back FAILED.
 */
static void net_rate_goes_to_the_switch_and_is_checked(void **state)
{
	char path[128];
	struct wave_txn ops[2];

	snprintf(path, sizeof(path), "%s/switch.sock", rundir);
	w.cfg.switch_ctl = path;
	listen_at(path);
	lat->net_switch = 1;

	ops[0] = net_rate(bat, WAVE_NET_DIR_TO, 125000, 3000); /* not on the switch */
	submit_to_switch(1, ops, 1, "{\"ok\":true}\n");
	assert_int_equal(result(1)->status, WAVE_ST_INVALID);
	assert_string_equal(fsw.last, "");
	ops[0] = net_rate(lat, WAVE_NET_DIR_TO, 125000, 3000);
	submit_to_switch(2, ops, 1, "{\"ok\":true}\n");
	assert_int_equal(result(2)->status, WAVE_ST_OK);
	assert_string_equal(fsw.last, "rate lat to 125000 3000\n");
	ops[0] = net_rate(lat, WAVE_NET_DIR_BOTH, 0, 0);
	ops[0].barrier++;
	submit_to_switch(3, ops, 1, "{\"ok\":true}\n");
	assert_int_equal(result(3)->status, WAVE_ST_STALE_TARGET);
	ops[0] = net_rate(lat, WAVE_NET_DIR_FROM, 125000, 3000);
	ops[1] = net_rate(lat, WAVE_NET_DIR_TO, 125000, 3000);
	submit_to_switch(4, ops, 2, "{\"ok\":true}\n");
	assert_int_equal(result(4)->status, WAVE_ST_INVALID);
	assert_string_equal(fsw.last, "");
	ops[0] = net_rate(lat, WAVE_NET_DIR_FROM, 125000, 3000);
	submit_to_switch(5, ops, 1, "{\"error\":\"no\"}\n");
	assert_int_equal(result(5)->status, WAVE_ST_FAILED);
	assert_int_equal(result(5)->err, EINVAL);
	assert_int_equal(w.st.net_set, 1);
	assert_int_equal(w.st.net_refused, 2);
	assert_int_equal(w.st.net_failed, 1);
	close(fsw.fd);
	unlink(path);
	ops[0] = net_rate(lat, WAVE_NET_DIR_FROM, 125000, 3000);
	submit(6, ops, 1);                     /* no switch there at all */
	assert_int_equal(result(6)->status, WAVE_ST_FAILED);
	assert_int_equal(result(6)->err, ENOENT);
}

/*
 * The metadata's net-rate caps what the VM sends: a policy's pace above it,
 * or none, becomes the ceiling; below it the pace stands, its burst within
 * the ceiling's; a live change goes to the switch at once.
 */
static void net_rate_metadata_is_a_ceiling(void **state)
{
	char path[128];
	struct wave_txn ops[1];
	struct vmm_meta m;

	snprintf(path, sizeof(path), "%s/switch.sock", rundir);
	w.cfg.switch_ctl = path;
	listen_at(path);
	lat->net_switch = 1;
	vmm_meta_defaults(&m);
	m.net_rate_mbit = 10;      /* 1,250,000 bytes/s, 4 ms: 5,000 bytes of burst */
	serve_start("{\"ok\":true}\n");
	assert_int_equal(wv_net_cap(&w, lat, &m), 1);
	serve_end();
	assert_string_equal(fsw.last, "rate lat from 1250000 5000\n");
	assert_int_equal(wv_net_cap(&w, lat, &m), 0); /* unchanged: nothing sent */

	ops[0] = net_rate(lat, WAVE_NET_DIR_FROM, 0, 0);
	submit_to_switch(1, ops, 1, "{\"ok\":true}\n");
	assert_int_equal(result(1)->status, WAVE_ST_OK);
	assert_string_equal(fsw.last, "rate lat from 1250000 5000\n");
	ops[0] = net_rate(lat, WAVE_NET_DIR_FROM, 12500000, 50000);
	submit_to_switch(2, ops, 1, "{\"ok\":true}\n");
	assert_string_equal(fsw.last, "rate lat from 1250000 5000\n");
	ops[0] = net_rate(lat, WAVE_NET_DIR_FROM, 625000, 9000);
	submit_to_switch(3, ops, 1, "{\"ok\":true}\n");
	assert_string_equal(fsw.last, "rate lat from 625000 5000\n");
	/* What goes to the VM is not what it sends: no ceiling there. */
	ops[0] = net_rate(lat, WAVE_NET_DIR_TO, 12500000, 50000);
	submit_to_switch(4, ops, 1, "{\"ok\":true}\n");
	assert_string_equal(fsw.last, "rate lat to 12500000 50000\n");
	assert_int_equal(w.st.net_set, 4);
	/* The policy's pace lifted (fallback to CFS, exit): the ceiling alone again. */
	serve_start("{\"ok\":true}\n");
	wv_net_unpace(&w, lat);
	serve_end();
	assert_string_equal(fsw.last, "rate lat from 1250000 5000\n");
	assert_int_equal(lat->net_rate, 0);
	close(fsw.fd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(memory_fallback_rule_only_for_acute_pressure),
		cmocka_unit_test_setup_teardown(net_rate_goes_to_the_switch_and_is_checked, setup,
						teardown),
		cmocka_unit_test_setup_teardown(net_rate_metadata_is_a_ceiling, setup, teardown),
	};

	wave_log_init("test-waved-vmops", getenv("WAVE_TEST_VERBOSE") ? WAVE_LOG_DEBUG
								      : WAVE_LOG_ERR);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
