/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The attach lifecycle every socket-based transport shares (chan-shm.c,
 * chan-tcp.c; later ivshmem): the host listens and accepts one agent at a
 * time, refusing a second while one is attached; the agent connects and
 * retries with backoff (10 ms doubling to 500 ms) until a host answers,
 * and again after it loses one; either side may drop the peer. The
 * transport keeps only what differs: how an attach is negotiated over the
 * connection (its handshake), how data moves, and what it holds per peer.
 *
 * Why a helper and not a transport of its own: the data paths (rings in
 * shared memory, frames on a stream) have nothing in common, the lifecycle
 * everything; an ops struct lets each transport plug its handshake into one
 * state machine instead of keeping a copy of it.
 *
 * States: IDLE (no connection) -> CONNECTING (agent, connect in progress)
 * -> HANDSHAKE (connected, the transport negotiates) -> UP (the transport
 * called chan_sock_up() and chan_peer_up()). Every path back to IDLE goes
 * through chan_sock_reset(), which calls the transport's @reset first. A
 * connection that is not UP within CHAN_ATTACH_NS is dropped and counted
 * (CHAN_REJ_TIMEOUT): a peer that connects and says nothing, or speaks
 * another protocol, cannot hold the one agent slot.
 * All on the channel's thread.
 */
#ifndef WAVE_CHANNEL_CHAN_SOCK_H
#define WAVE_CHANNEL_CHAN_SOCK_H

#include <stdint.h>
#include <sys/socket.h>

#include "channel/chan-internal.h"

enum chan_sock_state { CHAN_SOCK_IDLE, CHAN_SOCK_CONNECTING, CHAN_SOCK_HANDSHAKE, CHAN_SOCK_UP };

/*
 * @accepted:   host: fd (non-blocking, registered for EPOLLIN|EPOLLRDHUP as
 *              CHAN_TAG_CONN, state HANDSHAKE) is a new agent: start the
 *              attach. 0, or -errno to refuse it (the helper resets).
 * @connected:  (optional) agent: the connection is established (state
 *              HANDSHAKE); the host speaks first.
 * @conn_event: the connection has events (state HANDSHAKE or UP).
 * @doorbell:   (optional) CHAN_TAG_DOORBELL fired.
 * @reset:      forget everything held for the current peer (buffers,
 *              regions, fds it sent); the helper closes the connection.
 */
struct chan_sock_ops {
	int (*accepted)(struct chan *ch, int fd);
	void (*connected)(struct chan *ch);
	void (*conn_event)(struct chan *ch, uint32_t events);
	void (*doorbell)(struct chan *ch);
	void (*reset)(struct chan *ch);
};

struct chan_sock {
	const struct chan_sock_ops *ops;
	char desc[320];                 /* "shm:NAME", "tcp://HOST:PORT": for log lines */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int type;                       /* SOCK_SEQPACKET, SOCK_STREAM */
	enum chan_sock_state state;
	int listen_fd, conn_fd, retry_tfd;
	int attach_tfd;                 /* the attach deadline (CHAN_ATTACH_NS) */
	uint64_t retry_ns;
	uint64_t next_gen;              /* host: generation of the next attach */
	int waiting_logged;
};

/*
 * Sets s up (addr, addrlen, type, desc and ops filled in by the caller):
 * host: bind, listen (logged on failure); agent: the retry timer and a
 * first connect. Returns 0 or -errno.
 */
int chan_sock_open(struct chan *ch, struct chan_sock *s);
/* A transport's .event: listen, connection, retry timer and doorbell tags. */
void chan_sock_event(struct chan *ch, struct chan_sock *s, enum chan_tag tag, uint32_t events);
/* The transport finished its handshake: state UP (it then calls chan_peer_up()). */
void chan_sock_up(struct chan_sock *s);
/* Closes the connection and forgets the peer (transport @reset first): state IDLE. */
void chan_sock_reset(struct chan *ch, struct chan_sock *s);
/* A transport's .drop: reset, and an agent reconnects with its backoff started over. */
void chan_sock_drop(struct chan *ch, struct chan_sock *s);
/*
 * The peer was refused at attach (already counted by chan_reject): reset,
 * and an agent retries with its backoff growing, not started over, so a
 * host that keeps refusing is not hammered.
 */
void chan_sock_refused(struct chan *ch, struct chan_sock *s);
/* The peer is gone (why is logged): chan_peer_down(), then as chan_sock_drop(). */
void chan_sock_lost(struct chan *ch, struct chan_sock *s, const char *why);
/* A transport's .close: everything released. */
void chan_sock_close(struct chan *ch, struct chan_sock *s);

#endif
