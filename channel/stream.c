// SPDX-License-Identifier: BSD-3-Clause
/* Messages over a byte stream (stream.h). */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "channel/codec.h"
#include "channel/stream.h"
#include "common/log.h"

void stream_reset(struct stream *s)
{
	s->tx_seq = s->rx_seq = 0;
	s->rxlen = s->txoff = s->txlen = 0;
	s->st_head = s->st_tail = 0;
}

uint8_t *stream_rx_space(struct stream *s, size_t *room)
{
	*room = STREAM_RXBUF - s->rxlen;
	return s->rxbuf + s->rxlen;
}

unsigned int stream_rx_staged(const struct stream *s)
{
	return s->st_tail - s->st_head;
}

int stream_rx_room(const struct stream *s)
{
	return STREAM_STAGE - stream_rx_staged(s) >= FRAME_MAX_MSGS;
}

int stream_rx_parse(struct stream *s, size_t n, uint64_t now, char *why, size_t len)
{
	struct wave_msg msgs[FRAME_MAX_MSGS * 4];
	unsigned int got, room;
	ssize_t used;

	s->rxlen += n > STREAM_RXBUF - s->rxlen ? STREAM_RXBUF - s->rxlen : n;
	/* Frames left behind when staging was full are parsed before more bytes come. */
	do {
		room = STREAM_STAGE - stream_rx_staged(s);
		used = frame_parse(s->rxbuf, s->rxlen, msgs,
				   room < FRAME_MAX_MSGS * 4 ? room : FRAME_MAX_MSGS * 4, &got, why,
				   len);
		if (used < 0)
			return -EPROTO;
		memmove(s->rxbuf, s->rxbuf + used, s->rxlen - (size_t)used);
		s->rxlen -= (size_t)used;
		for (unsigned int i = 0; i < got; i++) {
			struct stream_staged *st = &s->stage[s->st_tail++ & (STREAM_STAGE - 1)];

			st->m = msgs[i];
			st->arrival_ns = now;
		}
	} while (got && used);
	return 0;
}

int stream_rx_hello(struct stream *s, struct wave_msg *hello, char *why, size_t len)
{
	if (s->st_head == s->st_tail)
		return 0;
	*hello = s->stage[s->st_head++ & (STREAM_STAGE - 1)].m;
	if (le32toh(hello->h.seq) != 0)
		return wave_reason(why, len, -EPROTO, "first message is not a HELLO with seq 0");
	return 1;
}

int stream_rx_take(struct stream *s, struct wave_msg *out, uint64_t visible_ts, uint64_t *held,
		   char *why, size_t len)
{
	struct stream_staged *st;

	if (s->st_head == s->st_tail)
		return 0;
	st = &s->stage[s->st_head & (STREAM_STAGE - 1)];
	if (st->arrival_ns > visible_ts) {
		*held = st->arrival_ns;
		return 0;
	}
	if (le32toh(st->m.h.seq) != s->rx_seq + 1)
		return wave_reason(why, len, -EPROTO, "sequence jump: got %u, expected %u",
				   le32toh(st->m.h.seq), s->rx_seq + 1);
	s->rx_seq++;
	s->st_head++;
	if (out)
		*out = st->m;
	return 1;
}

/* Makes room at the end of the tx buffer by moving what is left to send to its start. */
static void tx_compact(struct stream *s)
{
	if (s->txoff && s->txlen + FRAME_MAX_SIZE > STREAM_TXBUF) {
		memmove(s->txbuf, s->txbuf + s->txoff, s->txlen - s->txoff);
		s->txlen -= s->txoff;
		s->txoff = 0;
	}
}

unsigned int stream_tx_enqueue(struct stream *s, const struct wave_msg *m, unsigned int n,
			       uint64_t ts)
{
	unsigned int done = 0;

	tx_compact(s);
	while (done < n) {
		size_t room = STREAM_TXBUF - s->txlen;
		unsigned int k = n - done, i;
		struct wave_msg *dst;

		if (room < FRAME_HDR_SIZE + WAVE_MSG_SIZE)
			break;
		if (k > FRAME_MAX_MSGS)
			k = FRAME_MAX_MSGS;
		if (k > (room - FRAME_HDR_SIZE) / WAVE_MSG_SIZE)
			k = (unsigned int)((room - FRAME_HDR_SIZE) / WAVE_MSG_SIZE);
		frame_put_header(s->txbuf + s->txlen, k);
		dst = (struct wave_msg *)(s->txbuf + s->txlen + FRAME_HDR_SIZE);
		for (i = 0; i < k; i++) {
			struct wave_msg w = m[done + i];

			w.h.seq = ++s->tx_seq;
			w.h.ts_ns = ts;
			wave_msg_to_wire(&w);
			memcpy(&dst[i], &w, sizeof(w));
		}
		s->txlen += FRAME_HDR_SIZE + (size_t)k * WAVE_MSG_SIZE;
		done += k;
	}
	return done;
}

int stream_tx_hello(struct stream *s, const struct wave_msg *hello)
{
	tx_compact(s);
	if (STREAM_TXBUF - s->txlen < FRAME_HDR_SIZE + WAVE_MSG_SIZE)
		return -ENOSPC;
	frame_put_header(s->txbuf + s->txlen, 1);
	memcpy(s->txbuf + s->txlen + FRAME_HDR_SIZE, hello, WAVE_MSG_SIZE);
	s->txlen += FRAME_HDR_SIZE + WAVE_MSG_SIZE;
	return 0;
}

const uint8_t *stream_tx_data(const struct stream *s, size_t *len)
{
	*len = s->txlen - s->txoff;
	return s->txbuf + s->txoff;
}

void stream_tx_consumed(struct stream *s, size_t n)
{
	s->txoff += n;
	if (s->txoff >= s->txlen)
		s->txoff = s->txlen = 0;
}
