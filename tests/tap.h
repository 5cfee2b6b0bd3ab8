/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A real tap a test plays the guest on: frames written into its fd are what
 * a guest sends; frames sent to it through a packet socket are what reaches
 * the guest (read back from the fd).
 */
#ifndef WAVE_TESTS_TAP_H
#define WAVE_TESTS_TAP_H

#include <net/if.h>
#include <stddef.h>

#define ETH_P_TEST 0x88b5 /* IEEE local experimental: nothing on the host answers it */

struct test_tap {
	int fd, pkt;
	unsigned int ifindex;
	char name[IFNAMSIZ];
};

/* A tap named wvtestPID, up, no IPv6. Skips the test without root or /dev/net/tun. */
void test_tap_open(struct test_tap *t);
/* Closes it: a tap nobody holds goes away, with anything on its hooks. */
void test_tap_close(struct test_tap *t);
/* n frames of len bytes, as the guest sends them. */
void test_tap_from_guest(struct test_tap *t, unsigned int n, size_t len);
/* n frames of len bytes towards the guest, each read back from the tap. */
void test_tap_to_guest(struct test_tap *t, unsigned int n, size_t len);

#endif
