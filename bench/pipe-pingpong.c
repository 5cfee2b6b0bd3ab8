// SPDX-License-Identifier: BSD-3-Clause
/*
 * Contender "pingpong": the floor. One mailbox per direction: a flag word
 * and room for one batch; the sender copies the batch and releases the flag,
 * the receiver acquires it, copies and clears it. No ring, no indices, no
 * validation: the least two cores can do to hand 64 bytes over, so the
 * others' latency is judged against half its round trip.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench/pipe.h"

#define MBOX_MAX 64

struct mbox {
	_Alignas(64) uint32_t full; /* messages in the box; 0 = empty */
	_Alignas(64) struct wave_msg slot[MBOX_MAX];
};

static int pp_open(struct pipe *p)
{
	struct mbox *b = aligned_alloc(64, 2 * sizeof(*b));

	if (!b)
		return -ENOMEM;
	memset(b, 0, 2 * sizeof(*b));
	p->priv = b;
	return 0;
}

static int pp_send(struct pipe *p, int side, const struct wave_msg *m, unsigned int n)
{
	struct mbox *b = (struct mbox *)p->priv + side;

	if (__atomic_load_n(&b->full, __ATOMIC_ACQUIRE))
		return 0;
	if (n > MBOX_MAX)
		n = MBOX_MAX;
	memcpy(b->slot, m, n * sizeof(*m));
	__atomic_store_n(&b->full, n, __ATOMIC_RELEASE);
	return (int)n;
}

static int pp_recv(struct pipe *p, int side, struct wave_msg *m, unsigned int max)
{
	struct mbox *b = (struct mbox *)p->priv + !side;
	uint32_t n = __atomic_load_n(&b->full, __ATOMIC_ACQUIRE);

	if (!n)
		return 0;
	if (n > max)
		return -EMSGSIZE; /* the harness never asks for less than it sends */
	memcpy(m, b->slot, n * sizeof(*m));
	__atomic_store_n(&b->full, 0, __ATOMIC_RELEASE);
	return (int)n;
}

static void pp_close(struct pipe *p)
{
	free(p->priv);
}

const struct pipe_ops pipe_pingpong_ops = {
	.name = "pingpong",
	.open = pp_open,
	.send = pp_send,
	.recv = pp_recv,
	.close = pp_close,
};
