/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The byte-stream half of a stream transport (tcp://, plain or TLS): what
 * turns received bytes into checked, staged messages and messages to send
 * into frames (frame.h), with no I/O of its own. The transport moves the
 * bytes (recv/SSL_read, send/SSL_write); this keeps the rest, so the parse
 * of everything a peer sends can be fuzzed without sockets (fuzz-stream).
 *
 * Received: bytes are appended to a bounded buffer (stream_rx_space, then
 * stream_rx_parse); complete frames move into a bounded staging ring with
 * their arrival time. The first message of a connection is the peer's
 * HELLO (seq 0, stream_rx_hello); every later one must carry the next
 * sequence number (stream_rx_take): TCP loses no bytes, so a gap is a bug
 * or a hostile peer, and breaks the stream.
 *
 * Sent: messages are stamped (seq, ts), converted to wire order and framed
 * into a bounded buffer the transport drains (stream_tx_data/_consumed).
 */
#ifndef WAVE_CHANNEL_STREAM_H
#define WAVE_CHANNEL_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "channel/frame.h"
#include "channel/wire.h"

#define STREAM_STAGE 1024u                    /* staged messages, power of two */
#define STREAM_RXBUF (4 * FRAME_MAX_SIZE)
#define STREAM_TXBUF (16 * FRAME_MAX_SIZE)

struct stream_staged {
	struct wave_msg m;       /* wire order */
	uint64_t arrival_ns;
};

struct stream {
	uint32_t tx_seq, rx_seq;
	size_t rxlen, txoff, txlen;
	unsigned int st_head, st_tail;           /* staging ring positions */
	struct stream_staged stage[STREAM_STAGE];
	uint8_t rxbuf[STREAM_RXBUF];
	uint8_t txbuf[STREAM_TXBUF];
};

/* Forgets everything: a new connection. */
void stream_reset(struct stream *s);

/* Where received bytes go and how many fit (0: parse or take first). */
uint8_t *stream_rx_space(struct stream *s, size_t *room);
/*
 * n bytes were written at stream_rx_space(): moves complete frames into
 * staging, stamped now. 0, or -EPROTO (a bad frame; why says what).
 */
int stream_rx_parse(struct stream *s, size_t n, uint64_t now, char *why, size_t len);
/* Staging has room for a whole frame more (else stop reading the transport). */
int stream_rx_room(const struct stream *s);
/* Messages staged. */
unsigned int stream_rx_staged(const struct stream *s);

/*
 * The connection's first message, which must be the peer's HELLO with seq 0
 * (wire order in *hello). 1 taken, 0 none yet, -EPROTO (why).
 */
int stream_rx_hello(struct stream *s, struct wave_msg *hello, char *why, size_t len);
/*
 * The next staged message if it arrived at or before visible_ts (else
 * *held = its arrival, 0 returned), checking its sequence number. 1 taken
 * (wire order in *out, if out), 0 none, -EPROTO (a sequence jump; why).
 */
int stream_rx_take(struct stream *s, struct wave_msg *out, uint64_t visible_ts, uint64_t *held,
		   char *why, size_t len);

/* Frames up to n host-order messages, stamping seq and ts. Returns how many fit. */
unsigned int stream_tx_enqueue(struct stream *s, const struct wave_msg *m, unsigned int n,
			       uint64_t ts);
/* Frames one wire-order HELLO (seq 0, not counted). 0, or -ENOSPC. */
int stream_tx_hello(struct stream *s, const struct wave_msg *hello);
/* Bytes waiting to go out; the transport calls stream_tx_consumed() with what it sent. */
const uint8_t *stream_tx_data(const struct stream *s, size_t *len);
void stream_tx_consumed(struct stream *s, size_t n);

#endif
