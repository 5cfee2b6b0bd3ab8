// SPDX-License-Identifier: BSD-3-Clause
/*
 * Wave's libvirt event loop (vmm/evloop.h), driven through libvirt's own
 * public entry points (virEventAddHandle, virEventAddTimeout, ...), as
 * libvirt's client code drives it: handles on a pipe fire when it is
 * readable and not while turned off, timeouts keep their intervals, free
 * functions run after the turn and never inside a remove, callbacks may
 * change the tables, and a change on another thread wakes a waiting turn.
 * This test's thread runs the turns, except in the case that starts the
 * loop's own thread. That a real libvirtd connection opened unwatched
 * gets no watch is checked in test-vms, where libvirtd runs.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/clock.h"
#include "vmm/evloop.h"

struct hits {
	int n, last_id, last_fd, last_events, freed;
	uint64_t first_ns, last_ns;
};

static void on_handle(int id, int fd, int events, void *opaque)
{
	struct hits *h = opaque;
	char buf[16];

	h->n++;
	h->last_id = id;
	h->last_fd = fd;
	h->last_events = events;
	if (events & VIR_EVENT_HANDLE_READABLE && read(fd, buf, sizeof(buf)) < 0)
		h->last_events = -1;
}

static void on_timeout(int id, void *opaque)
{
	struct hits *h = opaque;

	h->last_id = id;
	h->last_ns = wave_now_ns();
	if (!h->n)
		h->first_ns = h->last_ns;
	__atomic_add_fetch(&h->n, 1, __ATOMIC_RELEASE); /* read by another thread in one case */
}

static void on_free(void *opaque)
{
	((struct hits *)opaque)->freed++;
}

static void tick(int id, void *opaque)
{
	(void)id;
	(void)opaque;
}

/* A 10 ms tick for the whole run: no turn waits longer (but where a test turns it off). */
static int tick_id;

static void turns(int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(vmm_evloop_run_once(), 0);
}

static int setup(void **state)
{
	(void)state;
	if (vmm_evloop_register())
		return -1;
	tick_id = virEventAddTimeout(10, tick, NULL, NULL);
	return tick_id > 0 ? 0 : -1;
}

static void a_handle_fires_when_readable_and_not_while_off(void **state)
{
	struct hits h = { 0 };
	int p[2], id;

	(void)state;
	assert_int_equal(pipe(p), 0);
	id = virEventAddHandle(p[0], VIR_EVENT_HANDLE_READABLE, on_handle, &h, on_free);
	assert_true(id > 0);
	turns(2);
	assert_int_equal(h.n, 0); /* nothing to read yet */
	assert_int_equal(write(p[1], "x", 1), 1);
	turns(1);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.last_id, id);
	assert_int_equal(h.last_fd, p[0]);
	assert_int_equal(h.last_events, VIR_EVENT_HANDLE_READABLE);

	virEventUpdateHandle(id, 0);
	assert_int_equal(write(p[1], "y", 1), 1);
	turns(3);
	assert_int_equal(h.n, 1); /* off: not polled */
	virEventUpdateHandle(id, VIR_EVENT_HANDLE_READABLE);
	turns(1);
	assert_int_equal(h.n, 2);

	/* The free function runs at the end of a turn, never inside the remove. */
	assert_int_equal(virEventRemoveHandle(id), 0);
	assert_int_equal(h.freed, 0);
	assert_int_equal(virEventRemoveHandle(id), -1); /* gone already */
	turns(1);
	assert_int_equal(h.freed, 1);
	close(p[0]);
	close(p[1]);
}

static void a_hung_up_pipe_reports_hangup(void **state)
{
	struct hits h = { 0 };
	int p[2], id;

	(void)state;
	assert_int_equal(pipe(p), 0);
	id = virEventAddHandle(p[0], VIR_EVENT_HANDLE_READABLE, on_handle, &h, NULL);
	close(p[1]);
	turns(1);
	assert_true(h.n >= 1);
	assert_true(h.last_events & VIR_EVENT_HANDLE_HANGUP);
	assert_int_equal(virEventRemoveHandle(id), 0);
	turns(1);
	close(p[0]);
}

static void timeouts_keep_their_intervals(void **state)
{
	struct hits every = { 0 }, slow = { 0 }, off = { 0 };
	uint64_t t0 = wave_now_ns();
	int a, b, c;

	(void)state;
	a = virEventAddTimeout(0, on_timeout, &every, on_free);
	b = virEventAddTimeout(60, on_timeout, &slow, on_free);
	c = virEventAddTimeout(-1, on_timeout, &off, on_free);
	assert_true(a > 0 && b > 0 && c > 0 && a != b && b != c);
	for (int i = 0; i < 5; i++)
		assert_int_equal(vmm_evloop_run_once(), 0);
	assert_int_equal(every.n, 5); /* 0: every turn, without waiting */
	assert_int_equal(slow.n, 0);
	virEventUpdateTimeout(a, -1);
	while (slow.n < 2)
		assert_int_equal(vmm_evloop_run_once(), 0);
	assert_int_equal(every.n, 5); /* turned off */
	assert_true(slow.first_ns - t0 >= 60 * WAVE_NSEC_PER_MSEC);
	assert_true(slow.last_ns - slow.first_ns >= 60 * WAVE_NSEC_PER_MSEC);
	assert_int_equal(off.n, 0);
	virEventUpdateTimeout(c, 0);
	assert_int_equal(vmm_evloop_run_once(), 0);
	assert_int_equal(off.n, 1);
	assert_int_equal(virEventRemoveTimeout(a), 0);
	assert_int_equal(virEventRemoveTimeout(b), 0);
	assert_int_equal(virEventRemoveTimeout(c), 0);
	assert_int_equal(every.freed + slow.freed + off.freed, 0);
	assert_int_equal(vmm_evloop_run_once(), 0);
	assert_int_equal(every.freed + slow.freed + off.freed, 3);
	assert_int_equal(off.n, 1); /* removed before its turn: not run */
}

/* A timeout that removes itself and adds another, as libvirt's callbacks do. */
struct chain {
	struct hits next;
	int next_id, self_removed;
};

static void relay(int id, void *opaque)
{
	struct chain *c = opaque;

	c->self_removed = virEventRemoveTimeout(id) == 0;
	c->next_id = virEventAddTimeout(0, on_timeout, &c->next, on_free);
}

static void callbacks_may_change_the_tables(void **state)
{
	struct chain c = { 0 };

	(void)state;
	assert_true(virEventAddTimeout(0, relay, &c, NULL) > 0);
	assert_int_equal(vmm_evloop_run_once(), 0);
	assert_true(c.self_removed);
	assert_true(c.next_id > 0);
	assert_int_equal(vmm_evloop_run_once(), 0);
	assert_int_equal(c.next.n, 1); /* the relay itself is gone: it did not run again */
	assert_int_equal(c.next.last_id, c.next_id);
	assert_int_equal(virEventRemoveTimeout(c.next_id), 0);
	assert_int_equal(vmm_evloop_run_once(), 0);
	assert_int_equal(c.next.freed, 1);
}

struct later {
	int id;
	struct hits h;
};

static void *add_later(void *arg)
{
	struct later *l = arg;
	struct timespec d = { 0, 50 * 1000 * 1000 };

	nanosleep(&d, NULL);
	l->id = virEventAddTimeout(0, on_timeout, &l->h, NULL);
	return NULL;
}

static void a_change_on_another_thread_wakes_a_waiting_turn(void **state)
{
	struct later later = { 0 };
	uint64_t t0 = wave_now_ns();
	pthread_t thr;

	(void)state;
	/* Nothing on: without a wakeup this turn would wait for ever. */
	virEventUpdateTimeout(tick_id, -1);
	assert_int_equal(pthread_create(&thr, NULL, add_later, &later), 0);
	assert_int_equal(vmm_evloop_run_once(), 0);
	if (!later.h.n)
		assert_int_equal(vmm_evloop_run_once(), 0); /* woken before it could run it */
	pthread_join(thr, NULL);
	assert_int_equal(later.h.n, 1);
	assert_true(wave_now_ns() - t0 < 2 * WAVE_NSEC_PER_SEC);
	assert_int_equal(virEventRemoveTimeout(later.id), 0);
	virEventUpdateTimeout(tick_id, 10);
	assert_int_equal(vmm_evloop_run_once(), 0);
}

/* n as the loop thread last wrote it. */
static int seen(const struct hits *h)
{
	return __atomic_load_n(&h->n, __ATOMIC_ACQUIRE);
}

static void the_loop_thread_lives_while_it_has_users(void **state)
{
	struct hits h = { 0 };
	struct timespec d = { 0, 50 * 1000 * 1000 };
	int id, n;

	(void)state;
	assert_int_equal(vmm_evloop_start(), 0);
	assert_int_equal(vmm_evloop_start(), 0); /* a second user: the same thread */
	id = virEventAddTimeout(5, on_timeout, &h, on_free);
	for (int i = 0; i < 200 && seen(&h) < 3; i++)
		nanosleep(&d, NULL);
	assert_true(seen(&h) >= 3);
	vmm_evloop_stop(); /* one user left: it goes on */
	n = seen(&h);
	for (int i = 0; i < 200 && seen(&h) == n; i++)
		nanosleep(&d, NULL);
	assert_true(seen(&h) > n);
	assert_int_equal(virEventRemoveTimeout(id), 0);
	vmm_evloop_stop(); /* the last: ends after a last turn, which frees what was removed */
	assert_int_equal(h.freed, 1);
	n = seen(&h);
	nanosleep(&d, NULL);
	assert_int_equal(seen(&h), n);
}

static void an_unwatched_connection_works_without_the_loop(void **state)
{
	unsigned long refused = vmm_evloop_refused();
	virConnectPtr c;

	(void)state;
	/* The in-process test driver has no socket to watch: nothing refused, calls work. */
	c = vmm_virt_open_unwatched("test:///default");
	assert_non_null(c);
	assert_int_equal(virConnectIsAlive(c), 1);
	assert_true(virConnectNumOfDomains(c) >= 0);
	assert_int_equal(vmm_evloop_refused(), refused);
	virConnectClose(c);
	/* The flag is the open's alone: a handle added afterwards is taken. */
	{
		int p[2], id;

		assert_int_equal(pipe(p), 0);
		id = virEventAddHandle(p[0], VIR_EVENT_HANDLE_READABLE, on_handle, NULL, NULL);
		assert_true(id > 0);
		assert_int_equal(virEventRemoveHandle(id), 0);
		turns(1);
		close(p[0]);
		close(p[1]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_handle_fires_when_readable_and_not_while_off),
		cmocka_unit_test(a_hung_up_pipe_reports_hangup),
		cmocka_unit_test(timeouts_keep_their_intervals),
		cmocka_unit_test(callbacks_may_change_the_tables),
		cmocka_unit_test(a_change_on_another_thread_wakes_a_waiting_turn),
		cmocka_unit_test(the_loop_thread_lives_while_it_has_users),
		cmocka_unit_test(an_unwatched_connection_works_without_the_loop),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
