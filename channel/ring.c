// SPDX-License-Identifier: BSD-3-Clause
/*
 * SPSC ring implementation; the protocol and its invariants are described in
 * ring.h. Positions are 64-bit and never wrap in practice (centuries at a
 * billion messages a second); the 32-bit seq word in each slot is the low
 * half of position + 1.
 */
#include <endian.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "channel/codec.h"
#include "channel/ring.h"
#include "common/clock.h"

/* Slot seq words are little-endian like every wire field. */
#define SEQ_OF(pos)   htole32((uint32_t)((pos) + 1))
#define LOAD_ACQ(p)   __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define LOAD_RLX(p)   __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define STORE_RLX(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

void ring_slots_init(struct wave_msg *slots, uint32_t nslots)
{
	uint32_t i;

	memset(slots, 0, (size_t)nslots * sizeof(*slots));
	for (i = 0; i < nslots; i++)
		slots[i].h.seq = SEQ_OF((uint64_t)i - nslots);
}

void ring_tx_init(struct ring_tx *t, struct wave_msg *slots, uint32_t nslots,
		  struct ring_ctl *ctl, int write_combining)
{
	t->slots = slots;
	t->ctl = ctl;
	t->mask = nslots - 1;
	t->wc = write_combining;
	t->head = 0;
	t->credit = 0;
}

void ring_rx_init(struct ring_rx *r, struct wave_msg *slots, uint32_t nslots,
		  struct ring_ctl *peer_ctl)
{
	r->slots = slots;
	r->peer_ctl = peer_ctl;
	r->mask = nslots - 1;
	r->credit_step = nslots / 4;
	r->tail = 0;
	r->credited = 0;
}

/*
 * Refreshes the credit from our control block. The peer may write anything
 * there; a value outside [credit, head] is a protocol violation.
 */
static int tx_refresh_credit(struct ring_tx *t)
{
	uint64_t c = LOAD_ACQ(&t->ctl->credit);

	if (unlikely(c < t->credit || c > t->head))
		return -EPROTO;
	t->credit = c;
	return 0;
}

int ring_send(struct ring_tx *t, const struct wave_msg *msgs, unsigned int n,
	      uint64_t ts_ns)
{
	uint64_t room = (uint64_t)t->mask + 1 - (t->head - t->credit);
	unsigned int i;

	if (room < n) {
		/* Acquire pairs with the receiver's release: it is done with those slots. */
		if (tx_refresh_credit(t))
			return -EPROTO;
		room = (uint64_t)t->mask + 1 - (t->head - t->credit);
		if (room < n)
			n = (unsigned int)room;
	}
	for (i = 0; i < n; i++) {
		struct wave_msg *s = &t->slots[(t->head + i) & t->mask];

		const struct wave_msg *src = &msgs[i];
		struct wave_msg wire;

		if (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__) {
			wire = msgs[i];
			wave_msg_to_wire(&wire);
			src = &wire;
		}
		/* Everything but seq; seq is the publication word, written last. */
		memcpy((uint8_t *)s + sizeof(s->h.seq), (const uint8_t *)src + sizeof(s->h.seq),
		       WAVE_MSG_SIZE - sizeof(s->h.seq));
		s->h.ts_ns = htole64(ts_ns);
		/*
		 * Body before seq. On write-back memory release order is enough;
		 * write-combining buffers may drain out of order, so fence them.
		 */
		if (t->wc)
			atomic_thread_fence(memory_order_seq_cst);
		STORE_REL(&s->h.seq, SEQ_OF(t->head + i));
	}
	t->head += n;
	return (int)n;
}

static void rx_return_credit(struct ring_rx *r)
{
	/* Release: our reads of the consumed slots happen before the sender reuses them. */
	STORE_REL(&r->peer_ctl->credit, r->tail);
	r->credited = r->tail;
}

int ring_recv(struct ring_rx *r, struct wave_msg *out, unsigned int max,
	      uint64_t visible_ts, uint64_t *held_ts)
{
	unsigned int i = 0;
	int drained = 0, corrupt = 0;

	*held_ts = 0;
	while (i < max) {
		const struct wave_msg *s = &r->slots[r->tail & r->mask];
		uint32_t seq = LOAD_ACQ(&s->h.seq);

		if (seq != SEQ_OF(r->tail)) {
			if (seq != SEQ_OF(r->tail - r->mask - 1))
				corrupt = 1;
			drained = 1;
			break;
		}
		if (unlikely(le64toh(s->h.ts_ns) > visible_ts)) {
			*held_ts = le64toh(s->h.ts_ns);
			break;
		}
		memcpy(&out[i], s, sizeof(*s));
		r->tail++;
		i++;
	}
	if (r->tail != r->credited && (drained || r->tail - r->credited >= r->credit_step))
		rx_return_credit(r);
	/* Deliver what was good; the corrupt slot is reported on the next call. */
	return corrupt && !i ? -EPROTO : (int)i;
}

int ring_rx_ready(const struct ring_rx *r)
{
	return LOAD_ACQ(&r->slots[r->tail & r->mask].h.seq) == SEQ_OF(r->tail);
}

int ring_rx_peek(const struct ring_rx *r, uint64_t *ts_ns)
{
	const struct wave_msg *s = &r->slots[r->tail & r->mask];

	if (LOAD_ACQ(&s->h.seq) != SEQ_OF(r->tail))
		return 0;
	*ts_ns = le64toh(s->h.ts_ns);
	return 1;
}

int ring_rx_arm_wake(struct ring_rx *r)
{
	/*
	 * Everything consumed must be credited before we sleep, or a sender
	 * waiting for room would never be able to wake us.
	 */
	if (r->tail != r->credited)
		rx_return_credit(r);
	STORE_RLX(&r->peer_ctl->wake, 1);
	/* Orders the flag store before the slot load; pairs with ring_tx_need_kick. */
	atomic_thread_fence(memory_order_seq_cst);
	return ring_rx_ready(r);
}

void ring_rx_disarm_wake(struct ring_rx *r)
{
	STORE_RLX(&r->peer_ctl->wake, 0);
}

int ring_tx_need_kick(struct ring_tx *t)
{
	/* Orders our seq stores before the flag load; pairs with ring_rx_arm_wake. */
	atomic_thread_fence(memory_order_seq_cst);
	if (!LOAD_RLX(&t->ctl->wake))
		return 0;
	return __atomic_exchange_n(&t->ctl->wake, 0, __ATOMIC_RELAXED) != 0;
}
