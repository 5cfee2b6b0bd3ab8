// SPDX-License-Identifier: BSD-3-Clause
/*
 * wave-switch's loop, in two shapes (DPDK's l3fwd-power): run_poll()
 * receives bursts from every up port while there is traffic, and
 * run_wait() sleeps in epoll on the ports' Rx interrupts once nothing
 * came for poll_idle_ns. An idle switch costs a wakeup per frame burst,
 * not a core; a busy one never makes a syscall per frame.
 *
 * The race between "nothing came" and "asleep": Rx interrupts are turned
 * on first (for vhost: the guest is asked to kick), then every port is
 * polled once more; only if that finds nothing does the loop sleep. A
 * frame that arrived before the interrupts were on is found by that poll,
 * one after is announced by the interrupt.
 *
 * The control socket, signals and net_vhost's link events share the same
 * epoll; while polling they are looked at every SW_HOUSEKEEP_US.
 *
 * A paced VM whose tokens ran low does not kick (its ring is full and the
 * switch does not read it): the sleep ends when its tokens will be back at
 * half its burst (sw_pace_next, with epoll_pwait2's nanoseconds), so a
 * paced flood costs one wakeup per read.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>

#include "common/log.h"
#include "netctl/switch.h"

#define SW_HOUSEKEEP_US 1000
#define SW_DEAF_SLEEP_MS 1 /* a port without an interrupt is polled this often */

enum { EV_CTL = 1u << 16, EV_SIG, EV_EVT };

static unsigned int poll_once(struct sw *sw)
{
	uint64_t now = rte_rdtsc();
	unsigned int n = 0;

	for (unsigned int i = 0; i < sw->nports; i++)
		if (sw->port[i]->up)
			n += sw_rx_port(sw, sw->port[i], now);
	sw_flush(sw);
	sw->rounds++;
	sw->busy_rounds += n > 0;
	return n;
}

static void on_link_events(struct sw *sw)
{
	uint64_t n;

	if (read(sw->evfd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		wave_log_rl(WAVE_LOG_WARN, "link event fd: %m");
	sw_links_refresh(sw);
}

static void on_signal(struct sw *sw)
{
	struct signalfd_siginfo si;

	if (read(sw->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		wave_log(WAVE_LOG_INFO, "signal %u: stopping", si.ssi_signo);
		sw->quit = 1;
	}
}

/* Handles what epoll returned; returns how many were port interrupts. */
static unsigned int dispatch(struct sw *sw, const struct epoll_event *ev, int n)
{
	unsigned int ports = 0;

	for (int i = 0; i < n; i++) {
		uint64_t tag = ev[i].data.u64;

		if (tag == EV_CTL)
			sw_ctl_accept(sw);
		else if (tag == EV_SIG)
			on_signal(sw);
		else if (tag == EV_EVT)
			on_link_events(sw);
		else if (tag < SW_MAX_PORTS && sw->by_id[tag]) {
			sw_intr_drain(sw->by_id[tag]);
			sw->by_id[tag]->c.wakeups++;
			ports++;
		}
	}
	return ports;
}

static void housekeep(struct sw *sw)
{
	struct epoll_event ev[16];
	int n = epoll_wait(sw->epfd, ev, 16, 0);

	if (n > 0)
		dispatch(sw, ev, n);
}

/* Polls while frames come; returns after poll_idle_ns of nothing. */
static void run_poll(struct sw *sw)
{
	uint64_t idle_cycles = sw->cfg.poll_idle_ns * sw->hz / 1000000000ull;
	uint64_t hk_cycles = SW_HOUSEKEEP_US * sw->hz / 1000000ull;
	uint64_t last_rx = rte_rdtsc(), last_hk = last_rx, now;

	while (!sw->quit) {
		unsigned int n = poll_once(sw);

		now = rte_rdtsc();
		if (n)
			last_rx = now;
		else if (now - last_rx >= idle_cycles)
			return;
		if (now - last_hk >= hk_cycles) {
			housekeep(sw);
			last_hk = now;
		}
	}
}

/*
 * How long run_wait may sleep: until the earliest paced port may send,
 * at most SW_DEAF_SLEEP_MS if a port has no interrupt; NULL: no bound.
 */
static struct timespec *sleep_bound(const struct sw *sw, int deaf, struct timespec *ts)
{
	uint64_t next = sw_pace_next(sw), now = rte_rdtsc(), ns = UINT64_MAX;

	if (deaf)
		ns = SW_DEAF_SLEEP_MS * 1000000ull;
	if (next)
		ns = RTE_MIN(ns, next > now ? (uint64_t)((unsigned __int128)(next - now) *
							  1000000000ull / sw->hz) : 0);
	if (ns == UINT64_MAX)
		return NULL;
	ts->tv_sec = (time_t)(ns / 1000000000ull);
	ts->tv_nsec = (long)(ns % 1000000000ull);
	return ts;
}

/* Sleeps until a port, a paced port's tokens, the control socket, a signal or a link event. */
static void run_wait(struct sw *sw)
{
	struct epoll_event ev[16];
	struct timespec ts;
	int deaf = sw_intr_arm(sw, 1), n;

	if (poll_once(sw)) {
		sw_intr_arm(sw, 0);
		return;
	}
	sw->sleeps++;
	n = epoll_pwait2(sw->epfd, ev, 16, sleep_bound(sw, deaf, &ts), NULL);
	sw_intr_arm(sw, 0);
	if (n < 0 && errno != EINTR)
		wave_log_rl(WAVE_LOG_WARN, "epoll_pwait2: %m");
	if (n > 0 && dispatch(sw, ev, n))
		sw->wakeups++;
}

static int watch(struct sw *sw, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(sw->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int sw_run(struct sw *sw)
{
	int ret;

	if ((sw->ctl_fd >= 0 && (ret = watch(sw, sw->ctl_fd, EV_CTL))) ||
	    (ret = watch(sw, sw->sig_fd, EV_SIG)) || (ret = watch(sw, sw->evfd, EV_EVT))) {
		wave_log(WAVE_LOG_ERR, "epoll: %s", strerror(-ret));
		return ret;
	}
	sw->started_tsc = rte_rdtsc();
	while (!sw->quit) {
		run_poll(sw);
		if (!sw->quit)
			run_wait(sw);
	}
	return 0;
}
