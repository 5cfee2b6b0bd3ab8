// SPDX-License-Identifier: BSD-3-Clause
/*
 * tcp://HOST:PORT transport: for an agent on a DPU reached over the network.
 *
 * The same 64-byte messages travel in length-framed batches (frame.h) over
 * one TCP connection with TCP_NODELAY; a batch of up to 64 messages is one
 * frame and, when the socket has room, one write. The host listens on
 * HOST:PORT, the agent connects and reconnects with backoff. Each side's
 * first frame is its HELLO (seq 0); data messages carry seq 1, 2, ... per
 * connection, and any gap breaks the connection: TCP itself does not lose
 * bytes, so a gap means a bug or a hostile peer.
 *
 * Received messages are parsed into a bounded staging queue that also
 * carries arrival times; link-delay emulation releases them arrival + delay
 * later (sender clocks on two machines are not comparable, so unlike shm
 * the arrival time, not the send time, is the reference).
 */
#include <endian.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel/chan-sock.h"
#include "channel/codec.h"
#include "channel/frame.h"
#include "common/clock.h"
#include "common/log.h"

#define TCP_STAGE   1024u               /* power of two */
#define TCP_RXBUF   (4 * FRAME_MAX_SIZE)
#define TCP_TXBUF   (16 * FRAME_MAX_SIZE)

struct staged {
	struct wave_msg m;
	uint64_t arrival_ns;
};

struct tcp_priv {
	struct chan_sock sock;  /* the connection's lifecycle */
	int rx_paused;      /* EPOLLIN off: staging is full */
	int tx_waiting;     /* EPOLLOUT on: tx buffer not flushed */
	uint32_t tx_seq, rx_seq;
	size_t rxlen, txoff, txlen;
	unsigned int st_head, st_tail;  /* staging ring positions */
	struct staged stage[TCP_STAGE];
	uint8_t rxbuf[TCP_RXBUF];
	uint8_t txbuf[TCP_TXBUF];
};

static struct tcp_priv *priv(struct chan *ch)
{
	return ch->priv;
}

/* Forget the current peer's stream state (chan_sock closes the socket). */
static void tcp_reset(struct chan *ch)
{
	struct tcp_priv *p = priv(ch);

	p->rx_paused = p->tx_waiting = 0;
	p->tx_seq = p->rx_seq = 0;
	p->rxlen = p->txoff = p->txlen = 0;
	p->st_head = p->st_tail = 0;
}

static void peer_lost(struct chan *ch, const char *why)
{
	chan_sock_lost(ch, &priv(ch)->sock, why);
}

static uint32_t conn_events(const struct tcp_priv *p)
{
	uint32_t ev = EPOLLRDHUP;

	if (!p->rx_paused)
		ev |= EPOLLIN;
	if (p->tx_waiting)
		ev |= EPOLLOUT;
	return ev;
}

/* Writes what the tx buffer holds. Returns 0, or -EPIPE if the peer is gone. */
static int flush(struct chan *ch)
{
	struct tcp_priv *p = priv(ch);
	int waiting = p->tx_waiting;

	while (p->txoff < p->txlen) {
		ssize_t w = send(p->sock.conn_fd, p->txbuf + p->txoff, p->txlen - p->txoff,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -EPIPE;
			break;
		}
		p->txoff += (size_t)w;
	}
	if (p->txoff == p->txlen)
		p->txoff = p->txlen = 0;
	p->tx_waiting = p->txlen != 0;
	if (waiting != p->tx_waiting)
		chan_epoll_mod(ch, p->sock.conn_fd, conn_events(p), CHAN_TAG_CONN);
	return 0;
}

/* Appends messages as frames; seq and ts stamped here. Returns count taken. */
static unsigned int enqueue(struct tcp_priv *p, const struct wave_msg *m, unsigned int n,
			    uint64_t ts)
{
	unsigned int done = 0;

	if (p->txoff && p->txlen + FRAME_MAX_SIZE > TCP_TXBUF) {
		memmove(p->txbuf, p->txbuf + p->txoff, p->txlen - p->txoff);
		p->txlen -= p->txoff;
		p->txoff = 0;
	}
	while (done < n) {
		size_t room = TCP_TXBUF - p->txlen;
		unsigned int k = n - done, i;
		struct wave_msg *dst;

		if (room < FRAME_HDR_SIZE + WAVE_MSG_SIZE)
			break;
		if (k > FRAME_MAX_MSGS)
			k = FRAME_MAX_MSGS;
		if (k > (room - FRAME_HDR_SIZE) / WAVE_MSG_SIZE)
			k = (unsigned int)((room - FRAME_HDR_SIZE) / WAVE_MSG_SIZE);
		frame_put_header(p->txbuf + p->txlen, k);
		dst = (struct wave_msg *)(p->txbuf + p->txlen + FRAME_HDR_SIZE);
		for (i = 0; i < k; i++) {
			struct wave_msg w = m[done + i];

			w.h.seq = ++p->tx_seq;
			w.h.ts_ns = ts;
			wave_msg_to_wire(&w);
			memcpy(&dst[i], &w, sizeof(w));
		}
		p->txlen += FRAME_HDR_SIZE + (size_t)k * WAVE_MSG_SIZE;
		done += k;
	}
	return done;
}

static int send_hello(struct chan *ch)
{
	struct tcp_priv *p = priv(ch);
	struct wave_msg hello;

	chan_make_hello(ch, &hello, 0);
	hello.h.ts_ns = wave_now_ns();
	wave_msg_to_wire(&hello);
	frame_put_header(p->txbuf + p->txlen, 1);
	memcpy(p->txbuf + p->txlen + FRAME_HDR_SIZE, &hello, sizeof(hello));
	p->txlen += FRAME_HDR_SIZE + sizeof(hello);
	return flush(ch);
}

/* Moves complete frames from the receive buffer into the staging queue. */
static int parse_buffered(struct chan *ch)
{
	struct tcp_priv *p = priv(ch);
	struct wave_msg msgs[FRAME_MAX_MSGS * 4];
	unsigned int n, i, room = TCP_STAGE - (p->st_tail - p->st_head);
	uint64_t now = wave_now_ns();
	char why[160];
	ssize_t used;

	used = frame_parse(p->rxbuf, p->rxlen, msgs,
			   room < FRAME_MAX_MSGS * 4 ? room : FRAME_MAX_MSGS * 4, &n, why, sizeof(why));
	if (used < 0) {
		wave_log_rl(WAVE_LOG_ERR, "%s: bad frame from peer: %s", ch->label, why);
		return -EPROTO;
	}
	memmove(p->rxbuf, p->rxbuf + used, p->rxlen - (size_t)used);
	p->rxlen -= (size_t)used;
	for (i = 0; i < n; i++) {
		struct staged *s = &p->stage[p->st_tail++ & (TCP_STAGE - 1)];

		s->m = msgs[i];
		s->arrival_ns = now;
	}
	return 0;
}

/*
 * Stages what the receive buffer and then the socket hold. Frames already
 * buffered are parsed first: a frame left behind because the staging queue
 * was full must not wait for more bytes that may never come. Returns 0,
 * -EPIPE (peer closed) or -EPROTO (broken stream, reason logged).
 */
static int fill(struct chan *ch)
{
	struct tcp_priv *p = priv(ch);
	ssize_t r;

	for (;;) {
		if (parse_buffered(ch))
			return -EPROTO;
		if (TCP_STAGE - (p->st_tail - p->st_head) < FRAME_MAX_MSGS) {
			if (!p->rx_paused) {
				p->rx_paused = 1;
				chan_epoll_mod(ch, p->sock.conn_fd, conn_events(p), CHAN_TAG_CONN);
			}
			return 0;
		}
		r = recv(p->sock.conn_fd, p->rxbuf + p->rxlen, TCP_RXBUF - p->rxlen, MSG_DONTWAIT);
		if (r == 0)
			return -EPIPE;
		if (r < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -EPIPE;
		p->rxlen += (size_t)r;
	}
}

static void resume_rx(struct chan *ch)
{
	struct tcp_priv *p = priv(ch);

	if (p->rx_paused && TCP_STAGE - (p->st_tail - p->st_head) >= FRAME_MAX_MSGS) {
		p->rx_paused = 0;
		chan_epoll_mod(ch, p->sock.conn_fd, conn_events(p), CHAN_TAG_CONN);
	}
}

/* Handshake: the first staged message must be the peer's HELLO. */
static void handshake(struct chan *ch)
{
	struct tcp_priv *p = priv(ch);
	struct wave_msg hello;
	int ret = fill(ch);

	if (ret) {
		peer_lost(ch, ret == -EPIPE ? "connection closed during attach" : "bad frame");
		return;
	}
	if (p->st_tail == p->st_head)
		return;
	hello = p->stage[p->st_head++ & (TCP_STAGE - 1)].m;
	if (le32toh(hello.h.seq) != 0) {
		chan_reject(ch, CHAN_REJ_HELLO, "first message is not a HELLO with seq 0");
		peer_lost(ch, "first message is not a HELLO with seq 0");
		return;
	}
	if (ch->opts.role == CHAN_HOST) {
		if (chan_check_hello(ch, &hello, WAVE_ROLE_AGENT, 1)) {
			peer_lost(ch, "agent HELLO rejected");
			return;
		}
	} else {
		if (chan_check_hello(ch, &hello, WAVE_ROLE_HOST, 0)) {
			peer_lost(ch, "host HELLO rejected");
			return;
		}
		ch->generation = hello.p.hello.generation;
		if (send_hello(ch)) {
			peer_lost(ch, "cannot answer the host");
			return;
		}
	}
	chan_sock_up(&p->sock);
	chan_peer_up(ch, ch->generation, &hello);
}

static void set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Host: a new agent; the host speaks first. */
static int accepted(struct chan *ch, int fd)
{
	struct tcp_priv *p = priv(ch);

	set_nodelay(fd);
	ch->generation = p->sock.next_gen++;
	return send_hello(ch) ? -EPIPE : 0;
}

/* Agent: connected; wait for the host's HELLO. */
static void connected(struct chan *ch)
{
	set_nodelay(priv(ch)->sock.conn_fd);
}

static void conn_event(struct chan *ch, uint32_t events)
{
	struct tcp_priv *p = priv(ch);
	int ret;

	switch (p->sock.state) {
	case CHAN_SOCK_HANDSHAKE:
		handshake(ch);
		return;
	case CHAN_SOCK_UP:
		if ((events & EPOLLOUT) && flush(ch)) {
			peer_lost(ch, "connection closed");
			return;
		}
		ret = fill(ch);
		if (ret == -EPROTO) {
			ch->st.proto_errors++;
			peer_lost(ch, "peer broke the frame stream");
		} else if (ret) {
			peer_lost(ch, "connection closed");
		}
		return;
	default:
		return;
	}
}

static const struct chan_sock_ops tcp_sock_ops = {
	.accepted = accepted,
	.connected = connected,
	.conn_event = conn_event,
	.reset = tcp_reset,
};

static void tcp_event(struct chan *ch, enum chan_tag tag, uint32_t events)
{
	chan_sock_event(ch, &priv(ch)->sock, tag, events);
}

/* Splits "HOST:PORT" or "[V6]:PORT" and resolves it (numeric port). */
static int resolve(struct chan *ch, const char *addr, int passive)
{
	struct tcp_priv *p = priv(ch);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0) };
	struct addrinfo *res;
	char host[256];
	const char *colon, *h = addr;
	size_t hl;
	int ret;

	colon = strrchr(addr, ':');
	if (addr[0] == '[') {
		const char *rb = strchr(addr, ']');

		if (!rb || rb[1] != ':')
			colon = NULL;
		h = addr + 1;
		hl = rb ? (size_t)(rb - h) : 0;
	} else {
		hl = colon ? (size_t)(colon - addr) : 0;
	}
	if (!colon || !colon[1] || hl >= sizeof(host) || strlen(addr) + 7 >= sizeof(p->sock.desc)) {
		wave_err("channel URI 'tcp://%s': expected tcp://HOST:PORT", addr);
		return -EINVAL;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(p->sock.desc, sizeof(p->sock.desc), "tcp://%s", addr);
	ret = getaddrinfo(hl ? host : NULL, colon + 1, &hints, &res);
	if (ret) {
		wave_err("channel URI 'tcp://%s': %s", addr, gai_strerror(ret));
		return -EINVAL;
	}
	memcpy(&p->sock.addr, res->ai_addr, res->ai_addrlen);
	p->sock.addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int tcp_open(struct chan *ch, const char *addr)
{
	struct tcp_priv *p = calloc(1, sizeof(*p));
	int ret;

	if (!p)
		return -ENOMEM;
	ch->priv = p;
	p->sock.listen_fd = p->sock.conn_fd = p->sock.retry_tfd = -1;
	p->sock.type = SOCK_STREAM;
	p->sock.ops = &tcp_sock_ops;
	ret = resolve(ch, addr, ch->opts.role == CHAN_HOST);
	if (!ret)
		ret = chan_sock_open(ch, &p->sock);
	if (!ret)
		return 0;
	ch->ops->close(ch);
	return ret;
}

static int tcp_send(struct chan *ch, const struct wave_msg *m, unsigned int n, uint64_t ts)
{
	unsigned int done = enqueue(priv(ch), m, n, ts);

	if (flush(ch)) {
		peer_lost(ch, "connection closed");
		return -ENOTCONN;
	}
	chan_count_tx(ch, (int)done, n);
	return (int)done;
}

/* Checks and takes the next staged message if visible. 1 taken, 0 not, <0 broken. */
static int take(struct chan *ch, struct wave_msg *out, uint64_t visible_ts, uint64_t *held)
{
	struct tcp_priv *p = priv(ch);
	struct staged *s;

	if (p->st_head == p->st_tail)
		return 0;
	s = &p->stage[p->st_head & (TCP_STAGE - 1)];
	if (s->arrival_ns > visible_ts) {
		*held = s->arrival_ns;
		return 0;
	}
	if (le32toh(s->m.h.seq) != p->rx_seq + 1) {
		wave_log_rl(WAVE_LOG_ERR, "%s: sequence jump: got %u, expected %u", ch->label,
			    le32toh(s->m.h.seq), p->rx_seq + 1);
		return -EPROTO;
	}
	p->rx_seq++;
	p->st_head++;
	if (out)
		*out = s->m;
	return 1;
}

static int tcp_recv(struct chan *ch, struct wave_msg *out, unsigned int max,
		    uint64_t visible_ts, uint64_t *held_ts)
{
	unsigned int n = 0;
	int ret = fill(ch);

	*held_ts = 0;
	if (ret == -EPIPE) {
		peer_lost(ch, "connection closed");
		return 0;
	}
	while (ret == 0 && n < max && (ret = take(ch, &out[n], visible_ts, held_ts)) == 1) {
		n++;
		ret = 0;
	}
	resume_rx(ch);
	if (ret < 0 && !n)
		return -EPROTO;
	return (int)n;
}

static int tcp_ready(struct chan *ch, uint64_t visible_ts, uint64_t *held_ts)
{
	struct tcp_priv *p = priv(ch);
	int ret = fill(ch);

	*held_ts = 0;
	if (ret == -EPIPE) {
		peer_lost(ch, "connection closed");
		return 0;
	}
	if (ret < 0)
		return ret;
	if (p->st_head == p->st_tail)
		return 0;
	if (p->stage[p->st_head & (TCP_STAGE - 1)].arrival_ns > visible_ts) {
		*held_ts = p->stage[p->st_head & (TCP_STAGE - 1)].arrival_ns;
		return 0;
	}
	return 1;
}

static int tcp_arm(struct chan *ch)
{
	return 0; /* the socket itself wakes us */
}

static void tcp_disarm(struct chan *ch)
{
}

static void tcp_drop(struct chan *ch)
{
	chan_sock_drop(ch, &priv(ch)->sock);
}

static void tcp_close(struct chan *ch)
{
	struct tcp_priv *p = priv(ch);

	if (!p)
		return;
	if (p->sock.state == CHAN_SOCK_UP)
		flush(ch);
	chan_sock_close(ch, &p->sock);
	free(p);
	ch->priv = NULL;
}

const struct chan_transport_ops chan_tcp_ops = {
	.scheme = "tcp://",
	.open = tcp_open,
	.event = tcp_event,
	.send = tcp_send,
	.recv = tcp_recv,
	.ready = tcp_ready,
	.arm = tcp_arm,
	.disarm = tcp_disarm,
	.drop = tcp_drop,
	.close = tcp_close,
};
