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

#define SEQ_OF(pos)   RING_SEQ_OF(pos)
#define LOAD_ACQ(p)   __atomic_load_n((p), __ATOMIC_ACQUIRE)
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
	t->fenced_kick = 0;
#if defined(__x86_64__)
	t->atomic16 = __builtin_cpu_supports("avx");
#endif
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
	r->avail = 0;
}

static void rx_return_credit(struct ring_rx *r)
{
	/* Release: our reads of the consumed slots happen before the sender reuses them. */
	STORE_REL(&r->peer_ctl->credit, r->tail);
	r->credited = r->tail;
}

/*
 * How many slots from tail are published (up to RING_PROBE). While the ring
 * is empty only the next slot is polled: one line the sender will write,
 * like polling a producer index. Once it is published, the run behind it is
 * measured by probing tail + 31, + 15, ... (B-Queue's backtracking, Wang et
 * al. 2013): a published slot implies every slot before it is published
 * (in-order release stores), and the receiver then consumes the run without
 * touching the line the sender is writing. Polling slot after slot instead
 * would sit on the very line the sender writes next and trade it between
 * the two cores once per message (the FastForward problem).
 * Returns 0 with *avail set, or -EPROTO if the next slot holds a sequence
 * that is neither this lap's nor the previous lap's.
 */
static int rx_probe(struct ring_rx *r, uint32_t *avail)
{
	uint32_t probe = RING_PROBE < r->mask + 1 ? RING_PROBE : r->mask + 1;
	uint32_t seq = LOAD_ACQ(&r->slots[r->tail & r->mask].h.seq);

	*avail = 0;
	if (seq != SEQ_OF(r->tail))
		return seq == SEQ_OF(r->tail - r->mask - 1) ? 0 : -EPROTO;
	for (; probe > 1; probe >>= 1) {
		uint64_t pos = r->tail + probe - 1;

		if (LOAD_ACQ(&r->slots[pos & r->mask].h.seq) == SEQ_OF(pos))
			break;
	}
	*avail = probe;
	return 0;
}

int ring_recv(struct ring_rx *r, struct wave_msg *out, unsigned int max,
	      uint64_t visible_ts, uint64_t *held_ts)
{
	unsigned int i = 0;
	int corrupt = 0;

	*held_ts = 0;
	if (!r->avail && rx_probe(r, &r->avail))
		corrupt = 1;
	while (i < max && r->avail) {
		const struct wave_msg *s = &r->slots[r->tail & r->mask];

		/* Acquire: the body is read after seq; each slot is checked, probed or not. */
		if (unlikely(LOAD_ACQ(&s->h.seq) != SEQ_OF(r->tail))) {
			corrupt = 1;
			break;
		}
		if (unlikely(le64toh(s->h.ts_ns) > visible_ts)) {
			*held_ts = le64toh(s->h.ts_ns);
			break;
		}
		memcpy(&out[i], s, sizeof(*s));
		r->tail++;
		r->avail--;
		i++;
		if (!r->avail && i < max && rx_probe(r, &r->avail))
			corrupt = 1;
	}
	/*
	 * Credit: every credit_step messages, and whenever we have caught up
	 * with the sender, so a sender waiting for room is never stranded.
	 */
	if (r->tail != r->credited && (!r->avail || r->tail - r->credited >= r->credit_step))
		rx_return_credit(r);
	/*
	 * Deliver what was good first; the corrupt slot is reported by the
	 * call that reaches it. A slot that does not hold its seq although a
	 * later one is published means the sender broke the order: corrupt too.
	 */
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
	/*
	 * Makes the flag globally visible before we look at the ring again.
	 * The sender has no matching fence (see "Sleeping" in ring.h): the
	 * caller must keep polling for RING_SETTLE_NS before it sleeps.
	 */
	atomic_thread_fence(memory_order_seq_cst);
	return ring_rx_ready(r);
}

void ring_rx_disarm_wake(struct ring_rx *r)
{
	STORE_RLX(&r->peer_ctl->wake, 0);
}
