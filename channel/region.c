// SPDX-License-Identifier: BSD-3-Clause
/*
 * Shared region layout and validation. The header is little-endian on the
 * wire like every message; it is read once per attach, so it is converted
 * field by field with le*toh rather than with a swab pass.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "channel/region.h"
#include "common/log.h"

#define CTL_SIZE 128u

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static int slots_ok(uint32_t nslots)
{
	return nslots >= REGION_MIN_SLOTS && nslots <= REGION_MAX_SLOTS &&
	       (nslots & (nslots - 1)) == 0;
}

static uint64_t side_size_for(uint32_t nslots)
{
	return CTL_SIZE + (uint64_t)nslots * WAVE_MSG_SIZE;
}

size_t region_size_for(uint32_t nslots)
{
	if (!slots_ok(nslots))
		return 0;
	return REGION_ALIGN + 2 * align_up(side_size_for(nslots), REGION_ALIGN);
}

static void fill_view(void *base, size_t size, uint32_t nslots, uint64_t gen,
		      const uint64_t off[2], struct region *out)
{
	int s;

	out->base = base;
	out->size = size;
	out->nslots = nslots;
	out->generation = gen;
	for (s = 0; s < 2; s++) {
		uint8_t *side = (uint8_t *)base + off[s];

		out->ctl[s] = (struct ring_ctl *)side;
		out->slots[s] = (struct wave_msg *)(side + CTL_SIZE);
	}
}

int region_init(void *base, size_t size, uint32_t nslots, uint64_t generation,
		const struct wave_clock *clock, struct region *out)
{
	struct region_hdr *h = base;
	uint64_t off[2], step;
	size_t need = region_size_for(nslots);

	if (!need || size < need)
		return -EINVAL;
	step = align_up(side_size_for(nslots), REGION_ALIGN);
	off[REGION_SIDE_HOST] = REGION_ALIGN;
	off[REGION_SIDE_AGENT] = REGION_ALIGN + step;

	memset(base, 0, need);
	h->magic = htole64(REGION_MAGIC);
	h->version = htole32(REGION_VERSION);
	h->hdr_size = htole32(sizeof(*h));
	h->region_size = htole64(need);
	h->slot_size = htole32(WAVE_MSG_SIZE);
	h->nslots = htole32(nslots);
	h->side_off[0] = htole64(off[0]);
	h->side_off[1] = htole64(off[1]);
	h->side_size = htole64(side_size_for(nslots));
	h->generation = htole64(generation);
	h->clock_kind = htole32(clock->kind);
	h->clock_shift = htole32(clock->shift);
	h->clock_mult = htole64(clock->mult);

	fill_view(base, need, nslots, generation, off, out);
	out->clock = *clock;
	ring_slots_init(out->slots[0], nslots);
	ring_slots_init(out->slots[1], nslots);
	return 0;
}

#define BAD(...) return wave_reason(why, len, -EINVAL, __VA_ARGS__)

int region_validate(void *base, size_t mapped, struct region *out, char *why, size_t len)
{
	struct region_hdr h;
	struct wave_clock clock;
	uint64_t off[2], side_size, rsize;
	uint32_t nslots;
	int s;

	if (mapped < sizeof(h))
		BAD("region: mapping of %zu bytes is smaller than the header", mapped);
	memcpy(&h, base, sizeof(h)); /* one snapshot: the peer may change it under us */
	if (le64toh(h.magic) != REGION_MAGIC)
		return wave_reason(why, len, -EPROTO, "region: bad magic 0x%016llx",
			      (unsigned long long)le64toh(h.magic));
	if (le32toh(h.version) != REGION_VERSION)
		return wave_reason(why, len, -EPROTO, "region: version %u, this side speaks %u",
			      le32toh(h.version), REGION_VERSION);
	if (le32toh(h.hdr_size) != sizeof(h))
		BAD("region: hdr_size %u (want %zu)", le32toh(h.hdr_size), sizeof(h));
	if (le32toh(h.slot_size) != WAVE_MSG_SIZE)
		BAD("region: slot_size %u (want %u)", le32toh(h.slot_size), WAVE_MSG_SIZE);
	nslots = le32toh(h.nslots);
	if (!slots_ok(nslots))
		BAD("region: nslots %u is not a power of two in %u..%u", nslots,
		    REGION_MIN_SLOTS, REGION_MAX_SLOTS);
	rsize = le64toh(h.region_size);
	if (rsize > mapped)
		BAD("region: region_size %llu exceeds the %zu bytes mapped",
		    (unsigned long long)rsize, mapped);
	side_size = le64toh(h.side_size);
	if (side_size != side_size_for(nslots))
		BAD("region: side_size %llu (want %llu for %u slots)",
		    (unsigned long long)side_size,
		    (unsigned long long)side_size_for(nslots), nslots);
	for (s = 0; s < 2; s++) {
		off[s] = le64toh(h.side_off[s]);
		if (off[s] % 64)
			BAD("region: side_off[%d] %llu is not cache-line aligned", s,
			    (unsigned long long)off[s]);
		if (off[s] < sizeof(h) || off[s] > rsize || rsize - off[s] < side_size)
			BAD("region: side_off[%d] %llu + %llu lies outside the header..%llu",
			    s, (unsigned long long)off[s], (unsigned long long)side_size,
			    (unsigned long long)rsize);
	}
	if ((off[0] < off[1] && off[1] - off[0] < side_size) ||
	    (off[1] <= off[0] && off[0] - off[1] < side_size))
		BAD("region: sides at %llu and %llu overlap", (unsigned long long)off[0],
		    (unsigned long long)off[1]);
	for (s = 0; s < 6; s++)
		if (h.rsvd[s])
			BAD("region: reserved word %d is not zero", s);
	clock.kind = (enum wave_clock_kind)le32toh(h.clock_kind);
	clock.shift = le32toh(h.clock_shift);
	clock.mult = le64toh(h.clock_mult);
	if (clock.kind == WAVE_CLOCK_MONO && (clock.shift || clock.mult))
		BAD("region: monotonic clock with shift %u mult %llu", clock.shift,
		    (unsigned long long)clock.mult);
	if (clock.kind == WAVE_CLOCK_TSC &&
	    (clock.shift != 32 || clock.mult < (1ull << 32) / 10 || clock.mult > (10ull << 32)))
		BAD("region: TSC clock shift %u mult %llu is not a 0.1-10 GHz scale", clock.shift,
		    (unsigned long long)clock.mult);
	if (clock.kind != WAVE_CLOCK_MONO && clock.kind != WAVE_CLOCK_TSC)
		BAD("region: clock kind %u unknown", (unsigned int)clock.kind);
	if (!wave_clock_usable(&clock))
		return wave_reason(why, len, -EPROTO,
			      "region: the host stamps with the TSC, which this CPU cannot follow");

	fill_view(base, rsize, nslots, le64toh(h.generation), off, out);
	out->clock = clock;
	return 0;
}
