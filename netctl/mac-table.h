/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wave-switch's MAC learning table: which port a source address was last
 * seen on, so a unicast frame goes to one port instead of all of them.
 *
 * Open addressing over a fixed power-of-two array with a bounded probe
 * window (MACT_PROBE slots from the hash): a lookup always looks at the
 * whole window, so clearing an entry (a port gone, an entry aged out)
 * needs no tombstone, and no operation costs more than MACT_PROBE
 * compares. A full window refuses to learn (counted): the frame is still
 * delivered, by flooding. The alternative, rte_hash, brings a DPDK
 * dependency into code the unit tests run without DPDK, and its
 * unbounded cuckoo displacement buys nothing for a few hundred guests.
 *
 * Single-threaded: the switch's forwarding loop owns it.
 */
#ifndef WAVE_NETCTL_MAC_TABLE_H
#define WAVE_NETCTL_MAC_TABLE_H

#include <stdint.h>

#define MACT_SLOTS 1024u /* a power of two */
#define MACT_PROBE 8u

struct mact_entry {
	uint8_t mac[6];
	uint16_t port;
	uint8_t used;
	uint64_t seen;   /* the caller's clock when last learned */
};

struct mac_table {
	struct mact_entry e[MACT_SLOTS];
	uint64_t age;          /* entries unseen this long are gone (caller's unit) */
	unsigned int n;        /* live or aged entries held */
	uint64_t moves;        /* an address seen on another port than before */
	uint64_t full;         /* learning refused: the probe window was full */
};

void mact_init(struct mac_table *t, uint64_t age);

/*
 * Records that mac was seen on port at now. Returns 0 (new or refreshed),
 * 1 (it was on another port: moved), or -ENOSPC (window full; counted).
 * Multicast and broadcast sources are never learned (-EINVAL).
 */
int mact_learn(struct mac_table *t, const uint8_t mac[6], uint16_t port, uint64_t now);

/* The port mac was last seen on, or -ENOENT (never, or longer ago than age). */
int mact_lookup(const struct mac_table *t, const uint8_t mac[6], uint64_t now);

/* Forgets every address learned on port (the port went away). */
void mact_forget_port(struct mac_table *t, uint16_t port);

static inline int mact_is_group(const uint8_t mac[6])
{
	return mac[0] & 1; /* the I/G bit: multicast, broadcast included */
}

#endif
