// SPDX-License-Identifier: BSD-3-Clause
/*
 * Contenders "unix" and "tcp": 64-byte messages over a unix stream
 * socketpair and over a TCP loopback connection (TCP_NODELAY), with
 * ordinary blocking reads and writes: what an RPC over sockets would cost,
 * for context. One socket pair serves both directions.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/pipe.h"

#define SOCK_BUF (64 * WAVE_MSG_SIZE)

struct sock_end {
	int fd;
	size_t have;               /* bytes of a partial message kept */
	uint8_t buf[SOCK_BUF];
};

struct sock_pipe {
	struct sock_end end[2];
};

static int unix_open(struct pipe *p)
{
	struct sock_pipe *s = calloc(1, sizeof(*s));
	int fds[2];

	if (!s)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds)) {
		free(s);
		return -errno;
	}
	s->end[0].fd = fds[0];
	s->end[1].fd = fds[1];
	p->priv = s;
	return 0;
}

static int tcp_open(struct pipe *p)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	struct sock_pipe *s = calloc(1, sizeof(*s));
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, ret = 0;

	if (!s || lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&a, &len)) {
		ret = -errno;
		goto out;
	}
	s->end[0].fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->end[0].fd < 0 || connect(s->end[0].fd, (struct sockaddr *)&a, sizeof(a))) {
		ret = -errno;
		goto out;
	}
	s->end[1].fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (s->end[1].fd < 0) {
		ret = -errno;
		goto out;
	}
	for (int i = 0; i < 2; i++)
		setsockopt(s->end[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	p->priv = s;
	s = NULL;
out:
	if (s && s->end[0].fd > 0)
		close(s->end[0].fd);
	free(s);
	if (lfd >= 0)
		close(lfd);
	return ret;
}

static int sock_send(struct pipe *p, int side, const struct wave_msg *m, unsigned int n)
{
	struct sock_pipe *s = p->priv;
	const uint8_t *b = (const uint8_t *)m;
	size_t left = (size_t)n * sizeof(*m);

	while (left) {
		ssize_t w = write(s->end[side].fd, b, left);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += w;
		left -= (size_t)w;
	}
	return (int)n;
}

static int sock_recv(struct pipe *p, int side, struct wave_msg *m, unsigned int max)
{
	struct sock_end *e = &((struct sock_pipe *)p->priv)->end[side];
	size_t want = (size_t)max * sizeof(*m), n;
	ssize_t r;

	if (want > SOCK_BUF)
		want = SOCK_BUF;
	r = read(e->fd, e->buf + e->have, want - e->have);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (r == 0)
		return -EPIPE;
	e->have += (size_t)r;
	n = e->have / sizeof(*m);
	memcpy(m, e->buf, n * sizeof(*m));
	memmove(e->buf, e->buf + n * sizeof(*m), e->have - n * sizeof(*m));
	e->have -= n * sizeof(*m);
	return (int)n;
}

static void sock_close(struct pipe *p)
{
	struct sock_pipe *s = p->priv;

	close(s->end[0].fd);
	close(s->end[1].fd);
	free(s);
}

const struct pipe_ops pipe_unix_ops = {
	.name = "unix",
	.open = unix_open,
	.send = sock_send,
	.recv = sock_recv,
	.close = sock_close,
};

const struct pipe_ops pipe_tcp_ops = {
	.name = "tcp",
	.open = tcp_open,
	.send = sock_send,
	.recv = sock_recv,
	.close = sock_close,
};
