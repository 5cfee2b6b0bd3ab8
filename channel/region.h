/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shared region: one mapping that holds both directions of a channel.
 *
 *   +-------------------+ 0
 *   | region header     |  written once by the host, validated by the agent
 *   +-------------------+ side_off[HOST]      host's memory
 *   | ring_ctl          |  host as sender: credit/wake written by the agent
 *   | slots[nslots]     |  agent -> host messages (host polls these)
 *   +-------------------+ side_off[AGENT]     agent's (IPU) memory
 *   | ring_ctl          |  agent as sender: credit/wake written by the host
 *   | slots[nslots]     |  host -> agent messages (agent polls these)
 *   +-------------------+ region_size
 *
 * On a real IPU the two sides are different physical memories (host DRAM
 * and a BAR); here they are two page-aligned blocks of one memfd, so the
 * layout, not the transport, carries the placement rule of ring.h.
 * Everything in the header is untrusted to the side that did not write it:
 * region_validate() checks every size and offset before any use.
 */
#ifndef WAVE_CHANNEL_REGION_H
#define WAVE_CHANNEL_REGION_H

#include <stddef.h>
#include <stdint.h>

#include "channel/ring.h"
#include "common/clock.h"

#define REGION_MAGIC     0x3147455245564157ull /* "WAVEREG1" little-endian */
#define REGION_VERSION   1u
#define REGION_MIN_SLOTS 64u
#define REGION_MAX_SLOTS 65536u
#define REGION_ALIGN     4096u

enum region_side { REGION_SIDE_HOST = 0, REGION_SIDE_AGENT = 1 };

struct region_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t hdr_size;       /* sizeof(struct region_hdr) */
	uint64_t region_size;
	uint32_t slot_size;      /* WAVE_MSG_SIZE */
	uint32_t nslots;         /* per direction, power of two */
	uint64_t side_off[2];
	uint64_t side_size;      /* ring_ctl + slots, same for both sides */
	uint64_t generation;
	uint32_t clock_kind;     /* enum wave_clock_kind: time base of ts_ns */
	uint32_t clock_shift;    /* WAVE_CLOCK_TSC: ns = (ticks * mult) >> shift */
	uint64_t clock_mult;
	uint64_t rsvd[6];
};
_Static_assert(sizeof(struct region_hdr) == 128, "region header is two cache lines");

/* A validated view of a region. Pointers are inside the mapping. */
struct region {
	void *base;
	size_t size;
	uint32_t nslots;
	uint64_t generation;
	struct wave_clock clock;  /* both sides stamp and compare with this */
	struct ring_ctl *ctl[2];  /* ctl[s]: side s as sender */
	struct wave_msg *slots[2];/* slots[s]: messages to side s */
};

/* Bytes needed for a region with nslots per direction (0 if nslots invalid). */
size_t region_size_for(uint32_t nslots);

/*
 * Lays out a fresh region in [base, base + size): header, zeroed control
 * blocks, slots ready for position 0. REQUIRES: size >= region_size_for(nslots).
 * Fills *out. Returns 0 or -EINVAL.
 */
int region_init(void *base, size_t size, uint32_t nslots, uint64_t generation,
		const struct wave_clock *clock, struct region *out);

/*
 * Checks an untrusted region header against the mapping of mapped_size bytes
 * at base: magic, version, sizes, alignment, offsets inside the mapping and
 * not overlapping, a channel clock this machine can follow. Returns 0 and
 * fills *out, or -EINVAL/-EPROTO with the
 * reason (naming the field and value) in why.
 */
int region_validate(void *base, size_t mapped_size, struct region *out,
		    char *why, size_t why_len);

#endif
