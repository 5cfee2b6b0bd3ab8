// SPDX-License-Identifier: BSD-3-Clause
/*
 * tcp://HOST:PORT transport: for an agent on a DPU reached over the network.
 *
 * The same 64-byte messages travel in length-framed batches (frame.h) over
 * one TCP connection with TCP_NODELAY; a batch of up to 64 messages is one
 * frame and, when the socket has room, one write. The host listens on
 * HOST:PORT, the agent connects and reconnects with backoff (chan-sock.c).
 *
 * The connection is TLS 1.3, mutually authenticated (tls.h), unless the
 * operator asked for plaintext (--insecure): the TLS handshake comes first,
 * and a peer that fails it is refused and counted (CHAN_REJ_AUTH) before a
 * single Wave message is read. Then each side's first frame is its HELLO
 * (seq 0); data messages carry seq 1, 2, ... per connection, and any gap
 * breaks the connection (stream.c): TCP itself does not lose bytes, so a
 * gap means a bug or a hostile peer.
 *
 * Received messages are staged with their arrival times; link-delay
 * emulation releases them arrival + delay later (sender clocks on two
 * machines are not comparable, so unlike shm the arrival time, not the
 * send time, is the reference).
 */
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
#include "channel/stream.h"
#include "channel/tls.h"
#include "common/clock.h"
#include "common/log.h"

struct tcp_priv {
	struct chan_sock sock;  /* the connection's lifecycle */
	struct tls_ctx *tls;    /* NULL: plaintext (--insecure) */
	struct tls_conn *conn;  /* this connection's TLS session */
	int tls_up;             /* its handshake is done */
	int want_write;         /* TLS needs the socket writable to go on */
	int rx_paused;          /* EPOLLIN off: staging is full */
	int tx_waiting;         /* EPOLLOUT on: tx buffer not flushed */
	struct stream st;
};

static struct tcp_priv *priv(struct chan *ch)
{
	return ch->priv;
}

/* Forget the current peer's stream and TLS session (chan_sock closes the socket). */
static void tcp_reset(struct chan *ch)
{
	struct tcp_priv *p = priv(ch);

	tls_close(p->conn);
	tls_conn_free(p->conn);
	p->conn = NULL;
	p->tls_up = p->want_write = 0;
	p->rx_paused = p->tx_waiting = 0;
	stream_reset(&p->st);
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
	if (p->tx_waiting || p->want_write)
		ev |= EPOLLOUT;
	return ev;
}

/* EPOLLIN/EPOLLOUT follow rx_paused, tx_waiting and want_write. */
static void update_events(struct chan *ch, uint32_t before)
{
	struct tcp_priv *p = priv(ch);

	if (conn_events(p) != before)
		chan_epoll_mod(ch, p->sock.conn_fd, conn_events(p), CHAN_TAG_CONN);
}

/*
 * Reads what the connection has into buf: > 0 bytes, 0 nothing now, -EPIPE
 * (closed) or -EPROTO (a TLS record failed: tampered, or not TLS; logged).
 */
static ssize_t io_read(struct chan *ch, void *buf, size_t n)
{
	struct tcp_priv *p = priv(ch);
	char why[256];
	ssize_t r;

	if (!p->conn) {
		r = recv(p->sock.conn_fd, buf, n, MSG_DONTWAIT);
		if (r == 0)
			return -EPIPE;
		return r > 0 ? r : errno == EAGAIN || errno == EINTR ? 0 : -EPIPE;
	}
	r = tls_read(p->conn, buf, n, &p->want_write, why, sizeof(why));
	if (r == -EAGAIN)
		return 0;
	if (r == -EPROTO)
		wave_log_rl(WAVE_LOG_ERR, "%s: %s", ch->label, why);
	return r;
}

/* Writes buf: bytes taken (0: not now), or -EPIPE (gone or broken). */
static ssize_t io_write(struct chan *ch, const void *buf, size_t n)
{
	struct tcp_priv *p = priv(ch);
	char why[256];
	ssize_t w;

	if (!p->conn) {
		w = send(p->sock.conn_fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		return w >= 0 ? w : errno == EAGAIN || errno == EINTR ? 0 : -EPIPE;
	}
	w = tls_write(p->conn, buf, n, &p->want_write, why, sizeof(why));
	if (w == -EAGAIN)
		return 0;
	if (w == -EPROTO)
		wave_log_rl(WAVE_LOG_ERR, "%s: %s", ch->label, why);
	return w < 0 ? -EPIPE : w;
}

/* Writes what the tx buffer holds. Returns 0, or -EPIPE if the peer is gone. */
static int flush(struct chan *ch)
{
	struct tcp_priv *p = priv(ch);
	uint32_t before = conn_events(p);
	const uint8_t *data;
	size_t len;
	ssize_t w;

	p->want_write = 0;
	while ((data = stream_tx_data(&p->st, &len)), len) {
		if ((w = io_write(ch, data, len)) < 0)
			return -EPIPE;
		if (!w)
			break;
		stream_tx_consumed(&p->st, (size_t)w);
	}
	stream_tx_data(&p->st, &len);
	p->tx_waiting = len != 0;
	update_events(ch, before);
	return 0;
}

static int send_hello(struct chan *ch)
{
	struct tcp_priv *p = priv(ch);
	struct wave_msg hello;

	chan_make_hello(ch, &hello, 0);
	hello.h.ts_ns = wave_now_ns();
	wave_msg_to_wire(&hello);
	if (stream_tx_hello(&p->st, &hello))
		return -EPIPE;
	return flush(ch);
}

/*
 * Stages what the connection holds: reads until the socket (or the TLS
 * session) has nothing more or staging is full. Returns 0, -EPIPE (peer
 * closed) or -EPROTO (broken stream or record, logged).
 */
static int fill(struct chan *ch)
{
	struct tcp_priv *p = priv(ch);
	uint32_t before = conn_events(p);
	char why[160];
	uint8_t *space;
	size_t room;
	ssize_t r;
	int ret = 0;

	for (;;) {
		if (!stream_rx_room(&p->st)) {
			p->rx_paused = 1;
			break;
		}
		space = stream_rx_space(&p->st, &room);
		r = room ? io_read(ch, space, room) : 0;
		if (r < 0) {
			ret = (int)r;
			break;
		}
		if (stream_rx_parse(&p->st, (size_t)r, wave_now_ns(), why, sizeof(why))) {
			wave_log_rl(WAVE_LOG_ERR, "%s: bad frame from peer: %s", ch->label, why);
			ret = -EPROTO;
			break;
		}
		if (!r)
			break;
	}
	update_events(ch, before);
	return ret;
}

static void resume_rx(struct chan *ch)
{
	struct tcp_priv *p = priv(ch);
	uint32_t before = conn_events(p);

	if (p->rx_paused && stream_rx_room(&p->st)) {
		p->rx_paused = 0;
		update_events(ch, before);
	}
}

/* Handshake: the first staged message must be the peer's HELLO. */
static void handshake(struct chan *ch)
{
	struct tcp_priv *p = priv(ch);
	struct wave_msg hello;
	char why[160];
	int ret = fill(ch);

	if (ret) {
		peer_lost(ch, ret == -EPIPE ? "connection closed during attach" : "bad frame");
		return;
	}
	ret = stream_rx_hello(&p->st, &hello, why, sizeof(why));
	if (!ret)
		return;
	if (ret < 0) {
		chan_reject(ch, CHAN_REJ_HELLO, "%s", why);
		peer_lost(ch, why);
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

/*
 * The TLS part of an attach: 1 done (the Wave HELLOs may go), 0 not yet,
 * -1 refused (counted, logged, the connection dropped). Plaintext: 1.
 */
static int tls_step(struct chan *ch)
{
	struct tcp_priv *p = priv(ch);
	uint32_t before = conn_events(p);
	char why[256];
	int r;

	if (!p->conn || p->tls_up)
		return 1;
	r = tls_handshake(p->conn, &p->want_write, why, sizeof(why));
	update_events(ch, before);
	if (r == -EAGAIN)
		return 0;
	if (r < 0) {
		chan_reject(ch, CHAN_REJ_AUTH, "%s", r == -EPROTO ? why :
			    "the peer closed the connection during the TLS handshake");
		chan_sock_refused(ch, &p->sock);
		return -1;
	}
	before = conn_events(p);
	p->tls_up = 1;
	p->want_write = 0;
	update_events(ch, before);
	wave_dbg("%s: %s session up", ch->label, tls_ctx_mode(p->tls));
	return 1;
}

/* Host: a new agent; after TLS (if any), the host speaks first. */
static int accepted(struct chan *ch, int fd)
{
	struct tcp_priv *p = priv(ch);

	set_nodelay(fd);
	ch->generation = p->sock.next_gen++;
	if (p->tls)
		return (p->conn = tls_conn_new(p->tls, fd)) ? 0 : -ENOMEM;
	return send_hello(ch) ? -EPIPE : 0;
}

/* Agent: connected; start TLS (if any), then wait for the host's HELLO. */
static void connected(struct chan *ch)
{
	struct tcp_priv *p = priv(ch);

	set_nodelay(p->sock.conn_fd);
	if (!p->tls)
		return;
	if (!(p->conn = tls_conn_new(p->tls, p->sock.conn_fd))) {
		peer_lost(ch, "out of memory");
		return;
	}
	tls_step(ch);
}

static void conn_event(struct chan *ch, uint32_t events)
{
	struct tcp_priv *p = priv(ch);
	int ret;

	switch (p->sock.state) {
	case CHAN_SOCK_HANDSHAKE:
		if (p->conn && !p->tls_up) {
			if (tls_step(ch) <= 0)
				return;
			/* TLS is up: the host's Wave HELLO goes first. */
			if (ch->opts.role == CHAN_HOST && send_hello(ch)) {
				peer_lost(ch, "cannot greet the agent");
				return;
			}
		}
		if ((events & EPOLLOUT) && flush(ch)) {
			peer_lost(ch, "connection closed during attach");
			return;
		}
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

/* The TLS context the options ask for; plaintext only with --insecure (logged). */
static int tls_setup(struct chan *ch, const char *addr)
{
	struct tcp_priv *p = priv(ch);
	int host = ch->opts.role == CHAN_HOST;
	char why[256];
	int ret = tls_ctx_new(&ch->opts.tls, host, &p->tls, why, sizeof(why));

	if (!ret) {
		snprintf(ch->auth, sizeof(ch->auth), "%s", tls_ctx_mode(p->tls));
		wave_info("%s: tcp://%s: %s", ch->label, addr, ch->auth);
		return 0;
	}
	if (ret != -ENOENT) {
		wave_err("%s: tcp://%s: TLS: %s", ch->label, addr, why);
		return ret;
	}
	if (!ch->opts.tls.insecure) {
		wave_err("%s: tcp://%s needs TLS: --tls-cert, --tls-key and --tls-ca, or --psk-file "
			 "('wavectl keys' makes them); --insecure for plaintext", ch->label, addr);
		return -EINVAL;
	}
	snprintf(ch->auth, sizeof(ch->auth), "none (plaintext, --insecure)");
	wave_warn("%s: tcp://%s in PLAINTEXT (--insecure): whoever reaches it %s", ch->label, addr,
		  host ? "can steer every VM on this host" : "can pose as the host");
	return 0;
}

static int tcp_open(struct chan *ch, const char *addr)
{
	struct tcp_priv *p = calloc(1, sizeof(*p));
	int ret;

	if (!p)
		return -ENOMEM;
	ch->priv = p;
	p->sock.listen_fd = p->sock.conn_fd = p->sock.retry_tfd = p->sock.attach_tfd = -1;
	p->sock.type = SOCK_STREAM;
	p->sock.ops = &tcp_sock_ops;
	ret = resolve(ch, addr, ch->opts.role == CHAN_HOST);
	if (!ret)
		ret = tls_setup(ch, addr);
	if (!ret)
		ret = chan_sock_open(ch, &p->sock);
	if (!ret)
		return 0;
	ch->ops->close(ch);
	return ret;
}

static int tcp_send(struct chan *ch, const struct wave_msg *m, unsigned int n, uint64_t ts)
{
	unsigned int done = stream_tx_enqueue(&priv(ch)->st, m, n, ts);

	if (flush(ch)) {
		peer_lost(ch, "connection closed");
		return -ENOTCONN;
	}
	chan_count_tx(ch, (int)done, n);
	return (int)done;
}

static int tcp_recv(struct chan *ch, struct wave_msg *out, unsigned int max,
		    uint64_t visible_ts, uint64_t *held_ts)
{
	struct tcp_priv *p = priv(ch);
	unsigned int n = 0;
	char why[160];
	int ret = fill(ch);

	*held_ts = 0;
	if (ret == -EPIPE) {
		peer_lost(ch, "connection closed");
		return 0;
	}
	while (ret == 0 && n < max &&
	       (ret = stream_rx_take(&p->st, &out[n], visible_ts, held_ts, why, sizeof(why))) == 1) {
		n++;
		ret = 0;
	}
	if (ret < 0)
		wave_log_rl(WAVE_LOG_ERR, "%s: %s", ch->label, why);
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
	if (!stream_rx_staged(&p->st))
		return 0;
	if (p->st.stage[p->st.st_head & (STREAM_STAGE - 1)].arrival_ns > visible_ts) {
		*held_ts = p->st.stage[p->st.st_head & (STREAM_STAGE - 1)].arrival_ns;
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
	tls_ctx_free(p->tls);
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
