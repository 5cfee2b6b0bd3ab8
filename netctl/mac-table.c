// SPDX-License-Identifier: BSD-3-Clause
/* wave-switch's MAC learning table (see mac-table.h). */
#include <errno.h>
#include <string.h>

#include "netctl/mac-table.h"

void mact_init(struct mac_table *t, uint64_t age)
{
	memset(t, 0, sizeof(*t));
	t->age = age;
}

/* FNV-1a over the six bytes: guests' MACs share their first bytes. */
static unsigned int mact_hash(const uint8_t mac[6])
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < 6; i++)
		h = (h ^ mac[i]) * 16777619u;
	return h & (MACT_SLOTS - 1);
}

static int live(const struct mac_table *t, const struct mact_entry *e, uint64_t now)
{
	return e->used && now - e->seen <= t->age;
}

/* The slot holding mac (live or aged), or -1. The whole window is looked at. */
static int find(const struct mac_table *t, const uint8_t mac[6])
{
	unsigned int h = mact_hash(mac);

	for (unsigned int i = 0; i < MACT_PROBE; i++) {
		unsigned int k = (h + i) & (MACT_SLOTS - 1);

		if (t->e[k].used && !memcmp(t->e[k].mac, mac, 6))
			return (int)k;
	}
	return -1;
}

int mact_learn(struct mac_table *t, const uint8_t mac[6], uint16_t port, uint64_t now)
{
	int k = find(t, mac), moved;
	struct mact_entry *e = k < 0 ? NULL : &t->e[k], *spare = NULL;
	unsigned int h = mact_hash(mac);

	if (mact_is_group(mac))
		return -EINVAL;
	if (e) {
		moved = e->port != port && live(t, e, now);
		e->port = port;
		e->seen = now;
		t->moves += moved;
		return moved;
	}
	for (unsigned int i = 0; i < MACT_PROBE && !spare; i++) {
		struct mact_entry *c = &t->e[(h + i) & (MACT_SLOTS - 1)];

		if (!live(t, c, now))
			spare = c;
	}
	if (!spare) {
		t->full++;
		return -ENOSPC;
	}
	t->n += !spare->used;
	memcpy(spare->mac, mac, 6);
	spare->port = port;
	spare->seen = now;
	spare->used = 1;
	return 0;
}

int mact_lookup(const struct mac_table *t, const uint8_t mac[6], uint64_t now)
{
	int k = find(t, mac);

	return k >= 0 && live(t, &t->e[k], now) ? t->e[k].port : -ENOENT;
}

void mact_forget_port(struct mac_table *t, uint16_t port)
{
	for (unsigned int i = 0; i < MACT_SLOTS; i++) {
		struct mact_entry *e = &t->e[i];

		if (e->used && e->port == port) {
			e->used = 0;
			t->n--;
		}
	}
}
