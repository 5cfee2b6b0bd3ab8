/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Single-producer single-consumer message ring built for a slow,
 * non-coherent link (PCIe between host and IPU).
 *
 * Placement rule: the ring's slots live in the RECEIVER's memory; the
 * sender's control block (credit, wake flag) lives in the SENDER's memory.
 * So each side only ever READS its own memory on the fast path:
 *   - the sender writes slots across the link (posted writes) and reads the
 *     credit the receiver wrote into the sender's control block;
 *   - the receiver polls the sequence word of the next slot in its own
 *     memory and writes credit across the link.
 * Nothing on the fast path reads across the link. Compare DPDK's rte_ring,
 * whose producer reads the consumer's tail on every enqueue: one link round
 * trip per batch on PCIe, and a contended cache line between two cores.
 *
 * Publication: a slot is valid when its seq equals (position + 1) mod 2^32.
 * The sender writes the body, then seq with release order (an extra store
 * fence with write-combining mappings). The receiver loads seq with acquire
 * order and then reads the body. A slot not yet written for this lap holds
 * (position + 1 - nslots); any other value means the peer corrupted the ring.
 *
 * Credit: the receiver stores how many messages it has consumed (a 64-bit
 * position, never wraps) into the sender's control block. It does so once
 * per nslots/4 messages or when it has drained the ring, so credit traffic
 * is a small fraction of message traffic. The sender re-reads credit only
 * when its cached window is used up. Credit is untrusted: it must lie in
 * [previous credit, head].
 *
 * Sleeping: a receiver that wants to sleep sets the wake flag in the
 * sender's control block, issues a full fence, and then keeps polling the
 * ring for at least RING_SETTLE_NS before it really sleeps. A sender checks
 * its (local) wake flag after publishing, with NO fence, and kicks the
 * receiver's doorbell if it is set.
 *
 * Why no fence on the sender: a full fence after every publish (the classic
 * Dekker pairing, as virtio does before reading its notify flags) stalls the
 * sender until its slot stores reach the receiver's cache: on a fast path
 * that is the cost of a cross-core round trip per send, and it halved
 * throughput at batch 1 in our measurements. Without it, a sender may read
 * the flag as 0 while its own seq store is still in its store buffer; but
 * then that store becomes visible within the store-buffer drain time (well
 * under a microsecond; a context switch or VM exit drains it at once), so
 * the receiver's settle window, RING_SETTLE_NS of polling after its fence,
 * sees the message. A sender whose flag load comes after the receiver's
 * fence sees 1 and kicks. Either way no wake-up is lost, and the price is
 * paid once per sleep instead of once per message.
 *
 * The exception is a receiver that sleeps in an event loop of its own and
 * must not spin (waved: host CPU is what Wave-VM saves). For it the sender
 * sets fenced_kick: a full fence between its last seq store and the flag
 * load (the classic pairing), so arming and checking the ring once is
 * enough. The agent sends that way to the host; its CPU is the IPU's.
 */
#define RING_SETTLE_NS 20000u
#ifndef WAVE_CHANNEL_RING_H
#define WAVE_CHANNEL_RING_H

#include <endian.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "channel/codec.h"
#include "channel/wire.h"
#include "common/clock.h"

/* A slot holds its position + 1, little-endian like every wire field. */
#define RING_SEQ_OF(pos) htole32((uint32_t)((pos) + 1))

struct ring_ctl {
	_Alignas(64) uint64_t credit; /* messages consumed; written by the receiver */
	uint8_t pad0[56];
	_Alignas(64) uint32_t wake;   /* 1: receiver sleeps, kick its doorbell */
	uint8_t pad1[60];
};
_Static_assert(sizeof(struct ring_ctl) == 128, "ring_ctl is two cache lines");

struct ring_tx {
	struct wave_msg *slots;      /* in the receiver's memory */
	struct ring_ctl *ctl;        /* in our memory */
	uint32_t mask;
	int wc;                      /* slots are write-combining: fence before seqs */
	int atomic16;                /* aligned 16-byte stores are atomic (x86 AVX) */
	int avx2;                    /* 32-byte stores */
	int fenced_kick;             /* full fence before reading the wake flag (see "Sleeping") */
	uint64_t head;               /* next position to write */
	uint64_t credit;             /* last valid credit seen */
};

struct ring_rx {
	struct wave_msg *slots;      /* in our memory */
	struct ring_ctl *peer_ctl;   /* in the sender's memory */
	uint32_t mask;
	uint32_t credit_step;        /* return credit after this many messages */
	uint64_t tail;               /* next position to read */
	uint64_t credited;           /* last credit written to the peer */
	uint32_t avail;              /* slots from tail known to be published */
};

#define RING_PROBE 32u

/* Prepares slots for a fresh generation: slot i holds "previous lap". */
void ring_slots_init(struct wave_msg *slots, uint32_t nslots);

/* REQUIRES: nslots is a power of two >= 4; ctl zeroed for a fresh generation. */
void ring_tx_init(struct ring_tx *t, struct wave_msg *slots, uint32_t nslots,
		  struct ring_ctl *ctl, int write_combining);
void ring_rx_init(struct ring_rx *r, struct wave_msg *slots, uint32_t nslots,
		  struct ring_ctl *peer_ctl);

/*
 * Consumes up to max messages whose send timestamp is <= visible_ts (pass
 * UINT64_MAX without link delay). If a published message is held back by
 * visible_ts, its timestamp is stored in *held_ts (else *held_ts = 0).
 * Returns the count, or -EPROTO when the next slot holds a sequence that is
 * neither the expected one nor the previous lap's (the peer corrupted the
 * ring); messages before a corrupt slot are delivered first.
 * Messages are returned in wire order; the caller converts and validates.
 */
int ring_recv(struct ring_rx *r, struct wave_msg *out, unsigned int max,
	      uint64_t visible_ts, uint64_t *held_ts);

/* Nonzero if the next slot is published (visible or not). */
int ring_rx_ready(const struct ring_rx *r);
/* Like ring_rx_ready, and gives the published message's send time. */
int ring_rx_peek(const struct ring_rx *r, uint64_t *ts_ns);

/*
 * Receiver: announce that we intend to sleep. Returns nonzero if the ring is
 * ready. REQUIRES: keep polling for RING_SETTLE_NS before sleeping.
 */
int ring_rx_arm_wake(struct ring_rx *r);
void ring_rx_disarm_wake(struct ring_rx *r);

/*
 * Sender, after ring_send: nonzero if the receiver asked to be woken (the
 * flag is then cleared). No fence unless fenced_kick: that is the point of
 * the settle window. Inline: it runs after every send.
 */
static inline int ring_tx_need_kick(struct ring_tx *t)
{
	if (t->fenced_kick)
		atomic_thread_fence(memory_order_seq_cst);
	if (__builtin_expect(!__atomic_load_n(&t->ctl->wake, __ATOMIC_RELAXED), 1))
		return 0;
	return __atomic_exchange_n(&t->ctl->wake, 0, __ATOMIC_RELAXED) != 0;
}

/* Messages sent but not yet credited. */
static inline uint64_t ring_tx_inflight(const struct ring_tx *t)
{
	return t->head - t->credit;
}

/*
 * The sender's fast path, inline: it runs once per send, and on a sender
 * whose slot stores wait for their cache lines every call level costs store
 * buffer entries (return address, saved registers) that queue behind them.
 */

/*
 * Refreshes the credit from our control block. The peer may write anything
 * there; a value outside [credit, head] is a protocol violation.
 */
static inline int ring_tx_refresh_credit(struct ring_tx *t)
{
	uint64_t c = __atomic_load_n(&t->ctl->credit, __ATOMIC_ACQUIRE);

	if (unlikely(c < t->credit || c > t->head))
		return -EPROTO;
	t->credit = c;
	return 0;
}

/*
 * Writes slot s from src with sequence word seq and timestamp ts, header
 * last. x86 with AVX guarantees that an aligned 16-byte SSE store is atomic
 * (Intel SDM 3A 9.1.1; AMD likewise), so the header (seq, type, flags, ts)
 * goes in one store after the three payload stores: four stores per slot,
 * the same as copying a 64-byte element, and a reader that sees seq sees ts.
 * Elsewhere: payload and ts, then seq with a release store.
 */
/*
 * The payload is read from the caller in 4-byte pieces and written as
 * 16-byte stores. Callers build a message and send it at once, so its fields
 * are often still in the store buffer; a 16-byte load that spans a narrower
 * pending store cannot be forwarded from it and waits until every older
 * store has committed, including our previous slot stores, which wait on the
 * receiver's core for their cache line. That wait serialised one-message
 * sends. A 4-byte load inside a pending 4- or 8-byte store is forwarded.
 */
static inline void ring_slot_payload(struct wave_msg *s, const struct wave_msg *src)
{
#if defined(__x86_64__)
	/* volatile: keeps the compiler from merging the loads back into one. */
	const volatile uint32_t *w = (const volatile uint32_t *)src->p.raw;
	__m128i *d = (__m128i *)s->p.raw;

	for (int c = 0; c < 3; c++, w += 4) {
		uint32_t a = w[0], b = w[1], e = w[2], f = w[3];

		_mm_store_si128(&d[c], _mm_set_epi32((int)f, (int)e, (int)b, (int)a));
	}
#else
	memcpy(&s->p, &src->p, sizeof(s->p));
#endif
}

static inline void ring_slot_publish(struct ring_tx *t, struct wave_msg *s,
				const struct wave_msg *src, uint32_t seq, uint64_t ts)
{
#if defined(__x86_64__)
	if (likely(t->atomic16)) {
		uint64_t w0;

		memcpy(&w0, src, sizeof(w0));
		w0 = (w0 & ~0xffffffffull) | seq;
		/* The compiler must not sink earlier payload stores below this one. */
		atomic_signal_fence(memory_order_release);
		_mm_store_si128((__m128i *)s, _mm_set_epi64x((long long)ts, (long long)w0));
		return;
	}
#endif
	memcpy((uint8_t *)s + sizeof(s->h.seq), (const uint8_t *)src + sizeof(s->h.seq),
	       sizeof(s->h) - sizeof(s->h.seq));
	s->h.ts_ns = ts;
	__atomic_store_n(&s->h.seq, seq, __ATOMIC_RELEASE);
}

/*
 * Publishes up to n messages (host order in, wire order in the slots) with
 * send timestamp ts_ns. Returns how many were sent (0 when the window is
 * full), or -EPROTO when the peer wrote an impossible credit (the ring is
 * then unusable and the caller must drop the generation).
 */
static inline int ring_send(struct ring_tx *t, const struct wave_msg *msgs,
			    unsigned int n, uint64_t ts_ns)
{
	uint64_t room = (uint64_t)t->mask + 1 - (t->head - t->credit);
	struct wave_msg wire[8];
	const struct wave_msg *src = msgs;
	unsigned int i;

	if (room < n) {
		/* Acquire pairs with the receiver's release: it is done with those slots. */
		if (ring_tx_refresh_credit(t))
			return -EPROTO;
		room = (uint64_t)t->mask + 1 - (t->head - t->credit);
		if (room < n)
			n = (unsigned int)room;
	}
	if (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__) {
		/* Convert a few at a time; the loop below then publishes them. */
		if (n > 8)
			n = 8;
		for (i = 0; i < n; i++) {
			wire[i] = msgs[i];
			wave_msg_to_wire(&wire[i]);
		}
		src = wire;
	}
	/*
	 * One pass, each slot's header right after its payload, so each line
	 * is owned once. (Writing every payload first and every header after
	 * measured 5% slower at batch 32: the first line of the batch, which
	 * the receiver polls, had to be fetched twice.)
	 */
	for (i = 0; i < n; i++) {
		struct wave_msg *s = &t->slots[(t->head + i) & t->mask];

		ring_slot_payload(s, &src[i]);
		/* Write-combining buffers may drain out of order: fence them. */
		if (t->wc)
			atomic_thread_fence(memory_order_seq_cst);
		ring_slot_publish(t, s, &src[i], RING_SEQ_OF(t->head + i), htole64(ts_ns));
	}
	t->head += n;
	return (int)n;
}

#endif
