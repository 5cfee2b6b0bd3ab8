// SPDX-License-Identifier: BSD-3-Clause
/*
 * The channel end to end, in one process: a host and an agent over the real
 * shm and tcp transports. Attach, order, generations across restarts,
 * refusal of a second agent, link delay, fault injection, doorbell wake-up
 * and idle CPU. Hostile peers are in test-chan-hostile.c, who may attach
 * (TLS, credentials, the attach deadline) in test-chan-trust.c.
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
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "channel/chan.h"
#include "channel/codec.h"
#include "common/clock.h"
#include "common/log.h"
#include "tests/util.h"

static int is_down_fn(void *arg)
{
	return !chan_is_up(arg);
}

static void attach_delivers_hello_first(void **state)
{
	const char *uri = test_uri(*state);
	struct chan *host, *agent;
	struct wave_msg m[4];

	test_open_pair(uri, NULL, NULL, &host, &agent);
	assert_int_equal(test_recv_one(agent, &m[0]), 1);
	assert_int_equal(m[0].h.type, WAVE_MSG_HELLO);
	assert_int_equal(m[0].p.hello.role, WAVE_ROLE_HOST);
	assert_int_equal(m[0].p.hello.generation, chan_generation(host));
	assert_int_equal(test_recv_one(host, &m[1]), 1);
	assert_int_equal(m[1].h.type, WAVE_MSG_HELLO);
	assert_int_equal(m[1].p.hello.role, WAVE_ROLE_AGENT);
	assert_int_equal(chan_generation(agent), chan_generation(host));
	assert_int_not_equal(m[0].p.hello.instance, m[1].p.hello.instance);
	chan_close(agent);
	chan_close(host);
}

static void messages_arrive_in_order_both_ways(void **state)
{
	const char *uri = test_uri(*state);
	struct chan *host, *agent;

	test_open_pair(uri, NULL, NULL, &host, &agent);
	test_drain_hello(host, agent);
	test_stream(host, agent, 5000, 32);
	test_stream(agent, host, 700, 1);
	assert_int_equal(chan_get_stats(agent)->rx_invalid, 0);
	assert_int_equal(chan_get_stats(host)->proto_errors, 0);
	chan_close(agent);
	chan_close(host);
}

static void timestamps_only_when_asked(void **state)
{
	const char *uri = test_uri(*state);
	struct chan_opts ao;
	struct chan *host, *agent;
	struct wave_msg m[2];

	test_open_pair(uri, NULL, NULL, &host, &agent);
	test_drain_hello(host, agent);
	assert_int_equal(chan_send(host, test_hb(&m[0], 1)), 0);
	assert_int_equal(test_recv_one(agent, &m[1]), 1);
	assert_int_equal(m[1].h.ts_ns, 0);
	chan_close(agent);
	assert_true(test_pump_until(host, NULL, is_down_fn, host, 2000));

	test_opts_init(&ao, CHAN_AGENT, uri);
	ao.timestamps = 1;
	agent = test_open_agent(uri, &ao);
	test_wait_up(host, agent);
	test_drain_hello(host, agent);
	assert_int_equal(chan_send(host, test_hb(&m[0], 2)), 0);
	assert_int_equal(chan_send(host, test_hb(&m[0], 3)), 0);
	assert_int_equal(test_recv_one(agent, &m[0]), 1);
	assert_int_equal(test_recv_one(agent, &m[1]), 1);
	assert_int_not_equal(m[0].h.ts_ns, 0);
	assert_true(m[1].h.ts_ns >= m[0].h.ts_ns);
	chan_close(agent);
	chan_close(host);
}

static int is_down(void *arg)
{
	return !chan_is_up(arg);
}

static void agent_restart_is_new_generation(void **state)
{
	const char *uri = test_uri(*state);
	struct chan *host, *agent;
	struct wave_msg m[8];
	uint64_t gen;

	test_open_pair(uri, NULL, NULL, &host, &agent);
	test_drain_hello(host, agent);
	gen = chan_generation(host);
	/* Messages the old agent never reads must not reach the new one. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(chan_send(host, test_hb(&m[0], 1000 + i)), 0);
	chan_close(agent);
	assert_true(test_pump_until(host, NULL, is_down, host, 2000));
	assert_int_equal(chan_send(host, test_hb(&m[0], 1)), -ENOTCONN);
	assert_int_equal(chan_recv(host, m, 8), -ENOTCONN);
	assert_int_equal(chan_get_stats(host)->detaches, 1);

	agent = test_open_agent(uri, NULL);
	test_wait_up(host, agent);
	assert_true(chan_generation(host) > gen);
	assert_int_equal(test_recv_one(agent, &m[0]), 1);
	assert_int_equal(m[0].h.type, WAVE_MSG_HELLO);
	assert_int_equal(m[0].p.hello.generation, chan_generation(host));
	assert_int_equal(chan_recv(agent, m, 8), 0); /* nothing stale */
	test_drain_hello(host, NULL);
	test_stream(host, agent, 100, 8);
	chan_close(agent);
	chan_close(host);
}

static void host_restart_agent_reconnects(void **state)
{
	const char *uri = test_uri(*state);
	struct chan *host, *agent;
	struct wave_msg m[2];
	uint64_t old_instance;

	test_open_pair(uri, NULL, NULL, &host, &agent);
	assert_int_equal(test_recv_one(agent, &m[0]), 1);
	old_instance = m[0].p.hello.instance;
	chan_close(host);
	assert_true(test_pump_until(agent, NULL, is_down, agent, 2000));

	host = test_open_host(uri, NULL);
	test_wait_up(host, agent);
	assert_int_equal(test_recv_one(agent, &m[0]), 1);
	assert_int_equal(m[0].h.type, WAVE_MSG_HELLO);
	assert_int_not_equal(m[0].p.hello.instance, old_instance);
	test_drain_hello(host, NULL);
	test_stream(agent, host, 50, 4);
	assert_int_equal(chan_get_stats(agent)->attaches, 2);
	chan_close(agent);
	chan_close(host);
}

static int rejected_once(void *arg)
{
	return chan_get_stats(arg)->hello_rejected > 0;
}

static void second_agent_is_refused(void **state)
{
	const char *uri = test_uri(*state);
	struct chan *host, *agent, *intruder;

	test_open_pair(uri, NULL, NULL, &host, &agent);
	test_drain_hello(host, agent);
	intruder = test_open_agent(uri, NULL);
	assert_true(test_pump_until(host, intruder, rejected_once, host, 2000));
	assert_false(chan_is_up(intruder));
	assert_true(chan_is_up(agent));
	test_stream(host, agent, 10, 2);
	chan_close(intruder);
	chan_close(agent);
	chan_close(host);
}

static void link_delay_holds_messages(void **state)
{
	const char *uri = test_uri(*state);
	struct chan_opts ao;
	struct chan *host, *agent;
	struct wave_msg m[2];
	uint64_t t0, t1;

	test_opts_init(&ao, CHAN_AGENT, uri);
	ao.link_delay_ns = 20 * WAVE_NSEC_PER_MSEC;
	ao.spin_ns = 0;
	test_open_pair(uri, NULL, &ao, &host, &agent);
	test_drain_hello(host, agent);
	t0 = wave_now_ns();
	assert_int_equal(chan_send(host, test_hb(&m[0], 5)), 0);
	usleep(1000);
	assert_int_equal(chan_recv(agent, m, 2), 0); /* still on the wire */
	while (chan_recv(agent, m, 2) == 0)
		assert_true(chan_wait(agent, 1000) >= 0);
	t1 = wave_now_ns();
	assert_int_equal(m[0].p.hb.hb_seq, 5);
	assert_true(t1 - t0 >= 20 * WAVE_NSEC_PER_MSEC);
	assert_true(chan_get_stats(agent)->rx_held >= 1);
	chan_close(agent);
	chan_close(host);
}

static void fault_drop_heartbeats(void **state)
{
	const char *uri = test_uri(*state);
	struct chan_opts ho;
	struct chan *host, *agent;
	struct wave_msg m[4];

	test_opts_init(&ho, CHAN_HOST, uri);
	assert_int_equal(chan_opts_parse_link(&ho, "--link-fault", "drop-hb@0"), 1);
	test_open_pair(uri, &ho, NULL, &host, &agent);
	test_drain_hello(host, agent);
	test_hb(&m[0], 1);
	wave_msg_init(&m[1], WAVE_MSG_RESYNC_REQ);
	test_hb(&m[2], 2);
	assert_int_equal(chan_send_batch(host, m, 3), 3);
	assert_int_equal(test_recv_one(agent, &m[3]), 1);
	assert_int_equal(m[3].h.type, WAVE_MSG_RESYNC_REQ);
	assert_int_equal(chan_recv(agent, m, 4), 0);
	assert_int_equal(chan_get_stats(host)->fault_dropped_hb, 2);
	chan_close(agent);
	chan_close(host);
}

static void fault_stall_refuses_sends_for_a_while(void **state)
{
	const char *uri = test_uri(*state);
	struct chan_opts ho;
	struct chan *host, *agent;
	struct wave_msg m[1];
	uint64_t t0 = wave_now_ns();

	test_opts_init(&ho, CHAN_HOST, uri);
	assert_int_equal(chan_opts_parse_link(&ho, "--link-fault", "stall@0+300ms"), 1);
	test_open_pair(uri, &ho, NULL, &host, &agent);
	test_drain_hello(host, agent);
	if (wave_now_ns() - t0 < 250 * WAVE_NSEC_PER_MSEC) {
		assert_int_equal(chan_send(host, test_hb(&m[0], 1)), -EAGAIN);
		assert_true(chan_get_stats(host)->fault_stalled >= 1);
	}
	while (wave_now_ns() - t0 < 320 * WAVE_NSEC_PER_MSEC)
		usleep(10000);
	assert_int_equal(chan_send(host, test_hb(&m[0], 2)), 0);
	assert_int_equal(test_recv_one(agent, &m[0]), 1);
	assert_int_equal(m[0].p.hb.hb_seq, 2);
	chan_close(agent);
	chan_close(host);
}

struct waiter {
	struct chan *ch;
	int ret;
	struct wave_msg m;
	uint64_t cpu_ns;
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * WAVE_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	uint64_t c0 = thread_cpu_ns();

	w->ret = chan_wait(w->ch, 5000);
	if (w->ret == 1)
		w->ret = chan_recv(w->ch, &w->m, 1);
	w->cpu_ns = thread_cpu_ns() - c0;
	return NULL;
}

static void sleeping_receiver_is_woken(void **state)
{
	const char *uri = test_uri(*state);
	struct chan *host, *agent;
	struct waiter w = { 0 };
	struct wave_msg m;
	pthread_t th;

	test_open_pair(uri, NULL, NULL, &host, &agent);
	test_drain_hello(host, agent);
	w.ch = agent;
	assert_int_equal(pthread_create(&th, NULL, wait_thread, &w), 0);
	usleep(100000); /* let it spin out and fall asleep */
	assert_int_equal(chan_send(host, test_hb(&m, 77)), 0);
	pthread_join(th, NULL);
	assert_int_equal(w.ret, 1);
	assert_int_equal(w.m.p.hb.hb_seq, 77);
	if (strncmp(uri, "shm:", 4) == 0)
		assert_int_equal(chan_get_stats(host)->tx_kicks, 1);
	chan_close(agent);
	chan_close(host);
}

static void idle_wait_sleeps(void **state)
{
	const char *uri = test_uri(*state);
	struct chan *host, *agent;
	uint64_t c0;

	test_open_pair(uri, NULL, NULL, &host, &agent);
	test_drain_hello(host, agent);
	c0 = thread_cpu_ns();
	for (int i = 0; i < 4; i++)
		assert_int_equal(chan_wait(agent, 100), 0);
	/* 400 ms of waiting; a spinning receiver would burn all of it. */
	assert_true(thread_cpu_ns() - c0 < 40 * WAVE_NSEC_PER_MSEC);
	chan_close(agent);
	chan_close(host);
}

static void bad_uris_are_refused(void **state)
{
	struct chan_opts o;
	struct chan *ch;

	chan_opts_init(&o, CHAN_HOST);
	assert_int_equal(chan_open("udp://x:1", &o, &ch), -EINVAL);
	assert_int_equal(chan_open("shm:", &o, &ch), -EINVAL);
	assert_int_equal(chan_open("shm:a/b", &o, &ch), -EINVAL);
	assert_int_equal(chan_open("tcp://localhost", &o, &ch), -EINVAL);
	assert_int_equal(chan_open("tcp://[::1:5", &o, &ch), -EINVAL);
	o.ring_slots = 100;
	assert_int_equal(chan_open("shm:ok", &o, &ch), -EINVAL);
}

static void two_hosts_cannot_share_a_uri(void **state)
{
	const char *uri = test_uri(*state);
	struct chan_opts o;
	struct chan *host, *other;

	host = test_open_host(uri, NULL);
	test_opts_init(&o, CHAN_HOST, uri);
	assert_true(chan_open(uri, &o, &other) < 0);
	chan_close(host);
}

/* Every transport: shm, plaintext tcp, and tcp with TLS (a PSK). */
#define BOTH(fn)                                                                  \
	cmocka_unit_test_prestate_setup_teardown(fn, test_uri_setup, test_uri_teardown, \
						 (void *)"shm"),                    \
	cmocka_unit_test_prestate_setup_teardown(fn, test_uri_setup, test_uri_teardown, \
						 (void *)"tcp"),                    \
	cmocka_unit_test_prestate_setup_teardown(fn, test_uri_setup, test_uri_teardown, \
						 (void *)"tls")

/* chan_opts.share for the test: new fds naming the test's memfds. */
static int share_memfds(void *arg, int fds[CHAN_SHARE_FDS])
{
	const int *mine = arg;

	for (unsigned int i = 0; i < CHAN_SHARE_FDS; i++)
		fds[i] = dup(mine[i]);
	return 0;
}

static int share_nothing(void *arg, int fds[CHAN_SHARE_FDS])
{
	(void)arg;
	(void)fds;
	return -ENOMEM;
}

/*
 * shm: with KSTATE the host passes what its share callback gives at every
 * attach, and the agent gets them (new fds naming the same files); if the
 * callback fails, the offer goes without them and without KSTATE.
 */
static void shm_shared_fds_reach_the_agent(void **state)
{
	const char *uri = "shm:test-share";
	struct chan_opts ho;
	struct chan *host, *agent;
	struct stat a, b;
	int fds[CHAN_SHARE_FDS];

	(void)state;
	test_opts_init(&ho, CHAN_HOST, uri);
	for (unsigned int i = 0; i < CHAN_SHARE_FDS; i++) {
		fds[i] = memfd_create("share", MFD_CLOEXEC);
		assert_true(fds[i] >= 0);
	}
	ho.share = share_memfds;
	ho.share_arg = fds;
	ho.features |= WAVE_FEAT_KSTATE;
	test_open_pair(uri, &ho, NULL, &host, &agent);
	for (unsigned int i = 0; i < CHAN_SHARE_FDS; i++) {
		int got = chan_shared_fd(agent, i);

		assert_true(got >= 0 && got != fds[i]);
		assert_int_equal(fstat(got, &a), 0);
		assert_int_equal(fstat(fds[i], &b), 0);
		assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	}
	assert_int_equal(chan_shared_fd(agent, CHAN_SHARE_FDS), -1);
	assert_int_equal(chan_shared_fd(host, 0), -1);
	/* The agent did not announce KSTATE: nothing to use on either side. */
	assert_int_equal(chan_features(host) & WAVE_FEAT_KSTATE, 0);
	chan_close(agent);
	chan_close(host);

	ho.share = share_nothing;
	test_open_pair(uri, &ho, NULL, &host, &agent);
	assert_int_equal(chan_shared_fd(agent, 0), -1);
	assert_int_equal(chan_peer_features(agent) & WAVE_FEAT_KSTATE, 0);
	chan_close(agent);
	chan_close(host);
	for (unsigned int i = 0; i < CHAN_SHARE_FDS; i++)
		close(fds[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(attach_delivers_hello_first),
		BOTH(timestamps_only_when_asked),
		BOTH(messages_arrive_in_order_both_ways),
		BOTH(agent_restart_is_new_generation),
		BOTH(host_restart_agent_reconnects),
		BOTH(second_agent_is_refused),
		BOTH(link_delay_holds_messages),
		BOTH(fault_drop_heartbeats),
		BOTH(fault_stall_refuses_sends_for_a_while),
		BOTH(sleeping_receiver_is_woken),
		BOTH(idle_wait_sleeps),
		BOTH(two_hosts_cannot_share_a_uri),
		cmocka_unit_test(bad_uris_are_refused),
		cmocka_unit_test(shm_shared_fds_reach_the_agent),
	};

	wave_log_init("test-chan", getenv("WAVE_TEST_VERBOSE") ? WAVE_LOG_DEBUG : WAVE_LOG_ERR);
	return cmocka_run_group_tests_name("chan", tests, NULL, NULL);
}
