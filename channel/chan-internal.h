/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Between the generic channel (chan.c) and its transports (chan-shm.c,
 * chan-tcp.c). Not for users of the channel.
 */
#ifndef WAVE_CHANNEL_CHAN_INTERNAL_H
#define WAVE_CHANNEL_CHAN_INTERNAL_H

#include <stdint.h>
#include <sys/epoll.h>

#include "channel/chan.h"
#include "common/clock.h"

/* epoll tags: what an event in chan->epfd is about. */
enum chan_tag {
	CHAN_TAG_DELAY = 1,   /* generic: link-delay timer */
	CHAN_TAG_LISTEN,      /* transport: listening socket */
	CHAN_TAG_CONN,        /* transport: connection to the peer */
	CHAN_TAG_DOORBELL,    /* transport: our doorbell eventfd */
	CHAN_TAG_RETRY,       /* transport: reconnect timer */
	CHAN_TAG_ATTACH,      /* transport: attach deadline */
};

struct chan;

/*
 * A transport. Every callback runs on the channel's thread.
 * @open:    parse addr, start listening or connecting, register fds in
 *           ch->epfd. Returns 0 or -errno (logged).
 * @event:   an epoll event with a transport tag fired. Must not block.
 *           Attach: call chan_peer_up(); detach: chan_peer_down().
 * @send:    publish up to n host-order messages stamped ts_ns; only called
 *           while up. Counts them with chan_count_tx(). Returns the count
 *           accepted, or -ENOTCONN when the peer is gone or broke the stream
 *           (already handled, with chan_protocol_error() for the latter).
 *           With ch->quiet set it rings no doorbell (transports that have one).
 *           chan_send_batch() hands over to it in a tail call.
 * @recv:    take up to max messages with send/arrival time <= visible_ts,
 *           in wire order; *held_ts = time of a held-back message or 0.
 *           Returns count or -EPROTO (stream broken).
 * @ready:   nonzero if recv(visible_ts) would return a message; same held_ts.
 * @arm:     about to sleep: ask the peer for a doorbell. Returns nonzero if
 *           a message arrived meanwhile (then do not sleep).
 * @disarm:  woke up.
 * @drop:    throw the current peer away (protocol error); reconnect/accept anew.
 * @close:   release everything.
 * @shared_fd: (optional) fd i of those the peer shared at attach
 *           (CHAN_SHARE_FDS, WAVE_FEAT_KSTATE), or -1. Owned by the channel.
 */
struct chan_transport_ops {
	const char *scheme;
	int (*open)(struct chan *ch, const char *addr);
	void (*event)(struct chan *ch, enum chan_tag tag, uint32_t events);
	int (*send)(struct chan *ch, const struct wave_msg *m, unsigned int n, uint64_t ts_ns);
	int (*recv)(struct chan *ch, struct wave_msg *out, unsigned int max,
		    uint64_t visible_ts, uint64_t *held_ts);
	int (*ready)(struct chan *ch, uint64_t visible_ts, uint64_t *held_ts);
	int (*arm)(struct chan *ch);
	void (*disarm)(struct chan *ch);
	void (*drop)(struct chan *ch);
	void (*close)(struct chan *ch);
	int (*shared_fd)(const struct chan *ch, unsigned int i);
};

extern const struct chan_transport_ops chan_shm_ops;
extern const struct chan_transport_ops chan_tcp_ops;

struct chan {
	const struct chan_transport_ops *ops;
	struct chan_opts opts;
	const char *label;
	int epfd;
	int delay_tfd;
	uint64_t delay_armed_for;  /* absolute ns the delay timer is set to, or 0 */
	int up;
	uint64_t generation;       /* of the current (or last) attach */
	uint64_t instance;         /* ours, random per process */
	uint64_t peer_instance;
	struct wave_msg peer_hello;/* host order, delivered first after attach */
	uint64_t our_features;     /* what our HELLO of the current attach announced */
	int hello_pending;
	int stamp;                 /* the peer asked for send timestamps */
	int quiet;                 /* this send rings no doorbell (chan_send_quiet) */
	uint64_t open_ns;
	struct wave_clock clock;   /* time base of ts_ns for this generation */
	struct chan_stats st;
	char auth[96];             /* how a peer proves who it is (chan_auth) */
	void *priv;                /* transport state */
};

/* For transports. */
void chan_auth_uids(struct chan *ch); /* ch->auth: the peer uids accepted */
int chan_epoll_add(struct chan *ch, int fd, uint32_t events, enum chan_tag tag);
int chan_epoll_mod(struct chan *ch, int fd, uint32_t events, enum chan_tag tag);
void chan_epoll_del(struct chan *ch, int fd);

/*
 * Checks a peer HELLO (wire order in, host order out in *hello): valid
 * message, the expected role, and (agents' reply) the generation we gave.
 * Logs and counts a rejection. Returns 0 or -errno.
 */
int chan_check_hello(struct chan *ch, struct wave_msg *hello, enum wave_role want_role,
		     int check_generation);
/* A peer is refused at attach for reason r: counted, remembered, logged. */
void chan_reject(struct chan *ch, enum chan_reject r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Our HELLO for this channel (host order): role, instance, generation, features. */
void chan_make_hello(struct chan *ch, struct wave_msg *m, uint32_t ring_slots);
/* The peer is attached as generation gen; hello (host order) is queued for chan_recv. */
void chan_peer_up(struct chan *ch, uint64_t gen, const struct wave_msg *hello);
/* The peer is gone (why is logged). */
void chan_peer_down(struct chan *ch, const char *why);
/* The peer broke the stream: count, log, drop the generation. */
void chan_protocol_error(struct chan *ch, const char *what);

/* Transports account what send() accepted out of n. */
static inline void chan_count_tx(struct chan *ch, int ret, unsigned int n)
{
	if (__builtin_expect(ret > 0, 1)) {
		ch->st.tx_msgs += (unsigned int)ret;
		ch->st.tx_batches++;
	}
	if (ret >= 0 && (unsigned int)ret < n)
		ch->st.tx_full++;
}

/* Whether a local peer running as uid may attach: root, our user, or opts.peer_uid. */
int chan_peer_uid_ok(const struct chan *ch, uid_t uid);

/* Closes *fd if open and marks it closed (-1). */
void chan_close_fd(int *fd);

/* Reconnect backoff for connecting sides: 10 ms doubling to 500 ms. */
#define CHAN_RETRY_MIN_NS (10 * 1000000ull)
#define CHAN_RETRY_MAX_NS (500 * 1000000ull)
/*
 * Connecting side: arms the retry timer tfd *backoff_ns from now and doubles
 * *backoff_ns up to CHAN_RETRY_MAX_NS. With restart nonzero the backoff
 * starts over at CHAN_RETRY_MIN_NS first (a peer was just lost).
 */
void chan_retry_arm(int tfd, uint64_t *backoff_ns, int restart);

#endif
