// SPDX-License-Identifier: BSD-3-Clause
/*
 * libvirt's event loop, Wave's own (see evloop.h for why).
 *
 * One process-wide table of handles and one of timeouts under a mutex;
 * one turn at a time (a second mutex, held through the turn).
 * A turn builds its pollfd list and the nearest deadline under the lock,
 * polls unlocked, then runs the due callbacks one at a time with the lock
 * dropped around each: a callback may change the tables (libvirt removes
 * and re-adds watches from inside them), so entries are found again by
 * id, never by a pointer kept across a callback. Removal only marks an
 * entry; the end of the turn takes it out and calls its free function
 * unlocked. A change made on another thread while a turn waits in poll
 * wakes it through an eventfd, so the new deadline or fd is seen at once.
 *
 * poll(2) rather than epoll: libvirt registers a handful of fds (one per
 * watched connection), may register one fd twice, and turns handles off
 * and on around every call; a list rebuilt each turn has no kernel state
 * to keep in step. Rejected: libvirt's default loop (see evloop.h).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "vmm/evloop.h"

struct ev_handle {
	int id, fd, events; /* events: VIR_EVENT_HANDLE_*, 0 while turned off */
	int deleted;
	virEventHandleCallback cb;
	void *opaque;
	virFreeCallback ff;
};

struct ev_timeout {
	int id, interval_ms; /* -1: off; 0: every turn */
	int deleted;
	uint64_t due_ns;
	virEventTimeoutCallback cb;
	void *opaque;
	virFreeCallback ff;
};

static struct {
	pthread_mutex_t lock;
	struct ev_handle *h;
	struct ev_timeout *t;
	size_t nh, caph, nt, capt;
	int last_id;
	int wfd;                 /* eventfd: wakes a turn waiting in poll */
	int waiting;             /* a turn is in poll, on thread 'leader' */
	pthread_t leader;
	unsigned long refused;
	/* the turn's own, under turn_lock */
	pthread_mutex_t turn_lock;
	struct pollfd *pfd;
	int *pid;                /* handle id of pfd[i] (i >= 1) */
	size_t cap_pfd;
} loop = { .lock = PTHREAD_MUTEX_INITIALIZER, .turn_lock = PTHREAD_MUTEX_INITIALIZER, .wfd = -1 };

/* Set on a thread inside vmm_virt_open_unwatched(): its connection gets no watch. */
static __thread int unwatched;

static pthread_once_t reg_once = PTHREAD_ONCE_INIT;
static int reg_ret;

/* The loop thread and its users (vmm_evloop_start), under their own lock. */
static struct {
	pthread_mutex_t lock;
	pthread_t thr;
	unsigned int users;
	volatile int quit;
} runner = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* When a timeout of interval_ms set now is due (ns, monotonic). */
static uint64_t due_after(int interval_ms)
{
	return wave_now_ns() + (uint64_t)(interval_ms > 0 ? interval_ms : 0) * WAVE_NSEC_PER_MSEC;
}

/* REQUIRES: lock held. A turn waiting on another thread sees the change at once. */
static void wake_locked(void)
{
	uint64_t one = 1;

	if (loop.waiting && !pthread_equal(loop.leader, pthread_self()) &&
	    write(loop.wfd, &one, sizeof(one)) < 0)
		return; /* the counter is full: the turn is woken already */
}

void vmm_evloop_wake(void)
{
	uint64_t one = 1;

	if (loop.wfd >= 0 && write(loop.wfd, &one, sizeof(one)) < 0)
		return;
}

/* REQUIRES: lock held. Room for one more of size in *arr (count n, capacity *cap). */
static int grow(void **arr, size_t n, size_t *cap, size_t size)
{
	void *p;

	if (n < *cap)
		return 0;
	p = realloc(*arr, (*cap ? *cap * 2 : 8) * size);
	if (!p)
		return -1;
	*arr = p;
	*cap = *cap ? *cap * 2 : 8;
	return 0;
}

/* REQUIRES: lock held. A new id, positive (libvirt treats < 0 as failure). */
static int next_id(void)
{
	loop.last_id = loop.last_id == INT32_MAX ? 1 : loop.last_id + 1;
	return loop.last_id;
}

static struct ev_handle *handle_of(int id)
{
	for (size_t i = 0; i < loop.nh; i++)
		if (loop.h[i].id == id && !loop.h[i].deleted)
			return &loop.h[i];
	return NULL;
}

static struct ev_timeout *timeout_of(int id)
{
	for (size_t i = 0; i < loop.nt; i++)
		if (loop.t[i].id == id && !loop.t[i].deleted)
			return &loop.t[i];
	return NULL;
}

static int add_handle(int fd, int events, virEventHandleCallback cb, void *opaque,
		      virFreeCallback ff)
{
	int id = -1;

	pthread_mutex_lock(&loop.lock);
	if (unwatched) {
		loop.refused++; /* the caller frees what it passed: ff is not ours to call */
	} else if (fd >= 0 && !grow((void **)&loop.h, loop.nh, &loop.caph, sizeof(*loop.h))) {
		id = next_id();
		loop.h[loop.nh++] = (struct ev_handle){ .id = id, .fd = fd, .events = events,
							.cb = cb, .opaque = opaque, .ff = ff };
		wake_locked();
	}
	pthread_mutex_unlock(&loop.lock);
	return id;
}

static void update_handle(int id, int events)
{
	struct ev_handle *h;

	pthread_mutex_lock(&loop.lock);
	if ((h = handle_of(id)) && h->events != events) {
		h->events = events;
		wake_locked();
	}
	pthread_mutex_unlock(&loop.lock);
}

static int remove_handle(int id)
{
	struct ev_handle *h;

	pthread_mutex_lock(&loop.lock);
	if ((h = handle_of(id))) {
		h->deleted = 1;
		wake_locked();
	}
	pthread_mutex_unlock(&loop.lock);
	return h ? 0 : -1;
}

static int add_timeout(int interval_ms, virEventTimeoutCallback cb, void *opaque,
		       virFreeCallback ff)
{
	int id = -1;

	pthread_mutex_lock(&loop.lock);
	if (!grow((void **)&loop.t, loop.nt, &loop.capt, sizeof(*loop.t))) {
		id = next_id();
		loop.t[loop.nt++] = (struct ev_timeout){
			.id = id, .interval_ms = interval_ms, .cb = cb, .opaque = opaque, .ff = ff,
			.due_ns = due_after(interval_ms) };
		wake_locked();
	}
	pthread_mutex_unlock(&loop.lock);
	return id;
}

static void update_timeout(int id, int interval_ms)
{
	struct ev_timeout *t;

	pthread_mutex_lock(&loop.lock);
	if ((t = timeout_of(id))) {
		t->interval_ms = interval_ms;
		t->due_ns = due_after(interval_ms);
		wake_locked();
	}
	pthread_mutex_unlock(&loop.lock);
}

static int remove_timeout(int id)
{
	struct ev_timeout *t;

	pthread_mutex_lock(&loop.lock);
	if ((t = timeout_of(id))) {
		t->deleted = 1;
		wake_locked();
	}
	pthread_mutex_unlock(&loop.lock);
	return t ? 0 : -1;
}

static void reg_init(void)
{
	loop.wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop.wfd < 0) {
		reg_ret = -errno;
		return;
	}
	virEventRegisterImpl(add_handle, update_handle, remove_handle, add_timeout,
			     update_timeout, remove_timeout);
}

int vmm_evloop_register(void)
{
	pthread_once(&reg_once, reg_init);
	return reg_ret;
}

static short to_poll(int events)
{
	return (short)((events & VIR_EVENT_HANDLE_READABLE ? POLLIN : 0) |
		       (events & VIR_EVENT_HANDLE_WRITABLE ? POLLOUT : 0));
}

static int from_poll(short revents)
{
	return (revents & POLLIN ? VIR_EVENT_HANDLE_READABLE : 0) |
	       (revents & POLLOUT ? VIR_EVENT_HANDLE_WRITABLE : 0) |
	       (revents & (POLLERR | POLLNVAL) ? VIR_EVENT_HANDLE_ERROR : 0) |
	       (revents & POLLHUP ? VIR_EVENT_HANDLE_HANGUP : 0);
}

/*
 * REQUIRES: lock held. Fills loop.pfd (the eventfd first, then every
 * handle turned on) and returns how many, or -ENOMEM; *wait_ms: until the
 * nearest timeout (-1: none).
 */
static int build(int *wait_ms)
{
	uint64_t now = wave_now_ns(), next = UINT64_MAX, ms;
	size_t n = 1;

	if (loop.cap_pfd < loop.nh + 1) {
		struct pollfd *p = realloc(loop.pfd, (loop.nh + 1) * sizeof(*p));
		int *ids = p ? realloc(loop.pid, (loop.nh + 1) * sizeof(*ids)) : NULL;

		if (p)
			loop.pfd = p;
		if (!ids)
			return -ENOMEM;
		loop.pid = ids;
		loop.cap_pfd = loop.nh + 1;
	}
	loop.pfd[0] = (struct pollfd){ .fd = loop.wfd, .events = POLLIN };
	for (size_t i = 0; i < loop.nh; i++) {
		if (loop.h[i].deleted || !loop.h[i].events)
			continue; /* off: not polled at all, or a hung-up socket would spin */
		loop.pfd[n] = (struct pollfd){ .fd = loop.h[i].fd, .events = to_poll(loop.h[i].events) };
		loop.pid[n++] = loop.h[i].id;
	}
	for (size_t i = 0; i < loop.nt; i++)
		if (!loop.t[i].deleted && loop.t[i].interval_ms >= 0 && loop.t[i].due_ns < next)
			next = loop.t[i].due_ns;
	/* Rounded up: a turn that wakes a little early would find nothing due and spin. */
	ms = next <= now ? 0 : (next - now + WAVE_NSEC_PER_MSEC - 1) / WAVE_NSEC_PER_MSEC;
	*wait_ms = next == UINT64_MAX ? -1 : ms > INT32_MAX ? INT32_MAX : (int)ms;
	return (int)n;
}

/*
 * REQUIRES: lock held; drops it around each callback. Only the timeouts
 * there when the turn began (a callback may add one: it waits for the next
 * turn; removed ones stay in place until purge, so indexes hold).
 */
static void run_timeouts(void)
{
	uint64_t now = wave_now_ns();
	size_t nt = loop.nt;

	for (size_t i = 0; i < nt; i++) {
		struct ev_timeout *t = &loop.t[i];
		virEventTimeoutCallback cb = t->cb;
		void *opaque = t->opaque;
		int id = t->id;

		if (t->deleted || t->interval_ms < 0 || t->due_ns > now)
			continue;
		t->due_ns = now + (uint64_t)t->interval_ms * WAVE_NSEC_PER_MSEC;
		pthread_mutex_unlock(&loop.lock);
		cb(id, opaque);
		pthread_mutex_lock(&loop.lock);
	}
}

/* REQUIRES: lock held; drops it around each callback. */
static void run_handles(int n)
{
	for (int i = 1; i < n; i++) {
		struct ev_handle *h;
		virEventHandleCallback cb;
		void *opaque;
		int fd, ev = from_poll(loop.pfd[i].revents);

		/* Turned off by an earlier callback of this turn: it wants nothing now. */
		if (!ev || !(h = handle_of(loop.pid[i])) || !h->events)
			continue;
		cb = h->cb;
		opaque = h->opaque;
		fd = h->fd;
		pthread_mutex_unlock(&loop.lock);
		cb(loop.pid[i], fd, ev, opaque);
		pthread_mutex_lock(&loop.lock);
	}
}

/* REQUIRES: lock held; drops it around each free function. */
static void purge(void)
{
	for (size_t i = 0; i < loop.nh;) {
		struct ev_handle h = loop.h[i];

		if (!h.deleted) {
			i++;
			continue;
		}
		loop.h[i] = loop.h[--loop.nh];
		if (h.ff) {
			pthread_mutex_unlock(&loop.lock);
			h.ff(h.opaque);
			pthread_mutex_lock(&loop.lock);
		}
	}
	for (size_t i = 0; i < loop.nt;) {
		struct ev_timeout t = loop.t[i];

		if (!t.deleted) {
			i++;
			continue;
		}
		loop.t[i] = loop.t[--loop.nt];
		if (t.ff) {
			pthread_mutex_unlock(&loop.lock);
			t.ff(t.opaque);
			pthread_mutex_lock(&loop.lock);
		}
	}
}

int vmm_evloop_run_once(void)
{
	int n, wait_ms, r, err = 0;
	uint64_t drain;

	pthread_mutex_lock(&loop.turn_lock);
	pthread_mutex_lock(&loop.lock);
	if ((n = build(&wait_ms)) < 0) {
		pthread_mutex_unlock(&loop.lock);
		pthread_mutex_unlock(&loop.turn_lock);
		return n;
	}
	loop.waiting = 1;
	loop.leader = pthread_self();
	pthread_mutex_unlock(&loop.lock);

	r = poll(loop.pfd, (nfds_t)n, wait_ms);
	err = r < 0 && errno != EINTR ? -errno : 0;

	pthread_mutex_lock(&loop.lock);
	loop.waiting = 0;
	if (r > 0 && loop.pfd[0].revents && read(loop.wfd, &drain, sizeof(drain)) < 0)
		drain = 0; /* drained by an earlier turn */
	if (!err) {
		run_timeouts();
		if (r > 0)
			run_handles(n);
	}
	purge();
	pthread_mutex_unlock(&loop.lock);
	pthread_mutex_unlock(&loop.turn_lock);
	return err;
}

virConnectPtr vmm_virt_open_unwatched(const char *uri)
{
	virConnectPtr c;

	unwatched = 1;
	c = virConnectOpen(uri);
	unwatched = 0;
	return c;
}

unsigned long vmm_evloop_refused(void)
{
	unsigned long n;

	pthread_mutex_lock(&loop.lock);
	n = loop.refused;
	pthread_mutex_unlock(&loop.lock);
	return n;
}

static void *loop_thread(void *arg)
{
	(void)arg;
	while (!runner.quit) {
		int err = vmm_evloop_run_once();

		if (err) {
			wave_dbg("vmm: event loop: %s", strerror(-err));
			usleep(10000); /* poll failed (ENOMEM): not a spin */
		}
	}
	return NULL;
}

int vmm_evloop_start(void)
{
	int ret = 0;

	pthread_mutex_lock(&runner.lock);
	if (!runner.users) {
		runner.quit = 0;
		ret = -pthread_create(&runner.thr, NULL, loop_thread, NULL);
	}
	runner.users += !ret;
	pthread_mutex_unlock(&runner.lock);
	return ret;
}

void vmm_evloop_stop(void)
{
	pthread_mutex_lock(&runner.lock);
	if (runner.users && !--runner.users) {
		runner.quit = 1;
		vmm_evloop_wake(); /* its turn returns, sees quit */
		pthread_join(runner.thr, NULL);
	}
	pthread_mutex_unlock(&runner.lock);
}
