// SPDX-License-Identifier: BSD-3-Clause
/* The attach lifecycle of socket-based transports (chan-sock.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "channel/chan-sock.h"
#include "common/log.h"

/* The attach deadline: armed when a connection starts, off once up or gone. */
static void deadline(struct chan_sock *s, int on)
{
	if (s->attach_tfd >= 0)
		wave_timerfd_at(s->attach_tfd, on ? wave_now_ns() + CHAN_ATTACH_NS : 0);
}

void chan_sock_reset(struct chan *ch, struct chan_sock *s)
{
	deadline(s, 0);
	s->ops->reset(ch);
	if (s->conn_fd >= 0)
		chan_epoll_del(ch, s->conn_fd);
	chan_close_fd(&s->conn_fd);
	s->state = CHAN_SOCK_IDLE;
}

void chan_sock_drop(struct chan *ch, struct chan_sock *s)
{
	chan_sock_reset(ch, s);
	if (ch->opts.role == CHAN_AGENT)
		chan_retry_arm(s->retry_tfd, &s->retry_ns, 1);
}

void chan_sock_refused(struct chan *ch, struct chan_sock *s)
{
	chan_sock_reset(ch, s);
	if (ch->opts.role == CHAN_AGENT)
		chan_retry_arm(s->retry_tfd, &s->retry_ns, 0);
}

void chan_sock_lost(struct chan *ch, struct chan_sock *s, const char *why)
{
	chan_peer_down(ch, why);
	chan_sock_drop(ch, s);
}

void chan_sock_up(struct chan_sock *s)
{
	s->state = CHAN_SOCK_UP;
	s->waiting_logged = 0;
	deadline(s, 0);
}

/* Who is on the other end of fd, for log lines: "pid N" on a unix socket, else "". */
static void peer_name(const struct chan_sock *s, int fd, char *buf, size_t len)
{
	struct ucred cred = { 0 };
	socklen_t clen = sizeof(cred);

	buf[0] = '\0';
	if (s->addr.ss_family == AF_UNIX && !getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen))
		snprintf(buf, len, " (pid %d)", (int)cred.pid);
}

/*
 * On a unix socket, the kernel's word on who the peer is (SO_PEERCRED, set
 * when it connected or listened: it cannot lie about it): only root, this
 * process's user, or the configured one may be the other side. Counted and
 * logged when refused. 1 allowed (or not a unix socket), 0 refused.
 */
static int peer_allowed(struct chan *ch, struct chan_sock *s, int fd, const char *role)
{
	struct ucred cred = { 0 };
	socklen_t clen = sizeof(cred);

	if (s->addr.ss_family != AF_UNIX)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen)) {
		chan_reject(ch, CHAN_REJ_CREDENTIALS, "%s on %s: no credentials: %s", role, s->desc,
			    strerror(errno));
		return 0;
	}
	if (chan_peer_uid_ok(ch, cred.uid))
		return 1;
	chan_reject(ch, CHAN_REJ_CREDENTIALS, "%s on %s is pid %d of uid %u: neither root nor "
		    "an allowed user (%s)", role, s->desc, (int)cred.pid, (unsigned int)cred.uid,
		    ch->opts.role == CHAN_HOST ? "--agent-user" : "--host-user");
	return 0;
}

static void host_accept(struct chan *ch, struct chan_sock *s)
{
	char who[32];
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), ret;

	if (fd < 0)
		return;
	peer_name(s, fd, who, sizeof(who));
	if (!peer_allowed(ch, s, fd, "the agent")) {
		close(fd);
		return;
	}
	if (s->state == CHAN_SOCK_UP) {
		chan_reject(ch, CHAN_REJ_BUSY, "a second agent%s on %s: generation %llu is attached",
			    who, s->desc, (unsigned long long)ch->generation);
		close(fd);
		return;
	}
	if (s->state != CHAN_SOCK_IDLE) {
		wave_warn("%s: a new agent%s replaces an unfinished attach", ch->label, who);
		chan_sock_reset(ch, s);
	}
	s->conn_fd = fd;
	s->state = CHAN_SOCK_HANDSHAKE;
	deadline(s, 1);
	ret = chan_epoll_add(ch, fd, EPOLLIN | EPOLLRDHUP, CHAN_TAG_CONN);
	if (!ret)
		ret = s->ops->accepted(ch, fd);
	if (ret) {
		wave_log_rl(WAVE_LOG_ERR, "%s: cannot attach the agent%s: %s", ch->label, who,
			    strerror(-ret));
		chan_sock_reset(ch, s);
	}
}

static void waiting(struct chan *ch, struct chan_sock *s, int err)
{
	if (!s->waiting_logged++)
		wave_info("%s: waiting for a host on %s (%s)", ch->label, s->desc, strerror(err));
	chan_retry_arm(s->retry_tfd, &s->retry_ns, 0);
}

static void connected(struct chan *ch, struct chan_sock *s)
{
	/* Whoever serves the name must be a legitimate host, or anyone could squat it. */
	if (!peer_allowed(ch, s, s->conn_fd, "the host")) {
		chan_sock_refused(ch, s); /* backing off from an impostor */
		return;
	}
	s->state = CHAN_SOCK_HANDSHAKE;
	if (chan_epoll_mod(ch, s->conn_fd, EPOLLIN | EPOLLRDHUP, CHAN_TAG_CONN)) {
		chan_sock_drop(ch, s);
		return;
	}
	if (s->ops->connected)
		s->ops->connected(ch);
}

static void agent_connect(struct chan *ch, struct chan_sock *s)
{
	int fd = socket(s->addr.ss_family, s->type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		waiting(ch, s, errno);
		return;
	}
	if (connect(fd, (struct sockaddr *)&s->addr, s->addrlen) && errno != EINPROGRESS) {
		int err = errno;

		close(fd);
		waiting(ch, s, err);
		return;
	}
	s->conn_fd = fd;
	s->state = CHAN_SOCK_CONNECTING;
	deadline(s, 1);
	/* EPOLLOUT: a stream connect in progress completes by turning writable. */
	if (chan_epoll_add(ch, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP, CHAN_TAG_CONN)) {
		chan_sock_drop(ch, s);
		return;
	}
}

/* Agent: the connect in progress finished, one way or the other. */
static void connect_done(struct chan *ch, struct chan_sock *s)
{
	int err = 0;
	socklen_t len = sizeof(err);

	getsockopt(s->conn_fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err) {
		chan_sock_reset(ch, s);
		waiting(ch, s, err);
		return;
	}
	connected(ch, s);
}

void chan_sock_event(struct chan *ch, struct chan_sock *s, enum chan_tag tag, uint32_t events)
{
	uint64_t v;

	switch (tag) {
	case CHAN_TAG_LISTEN:
		host_accept(ch, s);
		break;
	case CHAN_TAG_CONN:
		if (s->conn_fd < 0)
			break;
		if (s->state == CHAN_SOCK_CONNECTING)
			connect_done(ch, s);
		else
			s->ops->conn_event(ch, events);
		break;
	case CHAN_TAG_RETRY:
		if (read(s->retry_tfd, &v, sizeof(v)) == sizeof(v) && s->state == CHAN_SOCK_IDLE)
			agent_connect(ch, s);
		break;
	case CHAN_TAG_DOORBELL:
		if (s->ops->doorbell)
			s->ops->doorbell(ch);
		break;
	case CHAN_TAG_ATTACH:
		if (read(s->attach_tfd, &v, sizeof(v)) != sizeof(v) ||
		    (s->state != CHAN_SOCK_CONNECTING && s->state != CHAN_SOCK_HANDSHAKE))
			break;
		chan_reject(ch, CHAN_REJ_TIMEOUT, "attach on %s not finished within %llu ms",
			    s->desc, (unsigned long long)(CHAN_ATTACH_NS / 1000000));
		chan_sock_refused(ch, s);
		break;
	default:
		break;
	}
}

static int open_host(struct chan *ch, struct chan_sock *s)
{
	int one = 1, err;

	s->listen_fd = socket(s->addr.ss_family, s->type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0)
		return -errno;
	if (s->addr.ss_family != AF_UNIX)
		setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->listen_fd, (struct sockaddr *)&s->addr, s->addrlen) || listen(s->listen_fd, 64)) {
		err = errno;
		wave_err("%s: cannot serve %s: %s", ch->label, s->desc,
			 err == EADDRINUSE ? "another host process serves it already" : strerror(err));
		return -err;
	}
	s->next_gen = 1;
	return chan_epoll_add(ch, s->listen_fd, EPOLLIN, CHAN_TAG_LISTEN);
}

int chan_sock_open(struct chan *ch, struct chan_sock *s)
{
	s->listen_fd = s->conn_fd = s->retry_tfd = -1;
	s->state = CHAN_SOCK_IDLE;
	s->attach_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->attach_tfd < 0 || chan_epoll_add(ch, s->attach_tfd, EPOLLIN, CHAN_TAG_ATTACH))
		return -errno;
	if (ch->opts.role == CHAN_HOST)
		return open_host(ch, s);
	s->retry_ns = CHAN_RETRY_MIN_NS;
	s->retry_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->retry_tfd < 0)
		return -errno;
	if (chan_epoll_add(ch, s->retry_tfd, EPOLLIN, CHAN_TAG_RETRY))
		return -errno;
	agent_connect(ch, s);
	return 0;
}

void chan_sock_close(struct chan *ch, struct chan_sock *s)
{
	chan_sock_reset(ch, s);
	chan_close_fd(&s->listen_fd);
	chan_close_fd(&s->retry_tfd);
	chan_close_fd(&s->attach_tfd);
}
