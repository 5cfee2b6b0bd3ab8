// SPDX-License-Identifier: BSD-3-Clause
/*
 * A tap for tests that play the guest on it (tap.h): created up, without
 * IPv6 (so the host sends nothing of its own on it), gone when closed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/tap.h"
#include "tests/tap.h"
#include "tests/util.h"

/* A tap with no IPv6 (no router solicitations of its own), up. Skips without one. */
void test_tap_open(struct test_tap *t)
{
	int fd;

	if (geteuid() != 0)
		test_skip("a tap needs root");
	snprintf(t->name, sizeof(t->name), "wvtest%d", (int)getpid() % 100000);
	if ((t->fd = wave_tap_open(t->name)) < 0)
		test_skip("no tap: %s", strerror(-t->fd));
	t->ifindex = if_nametoindex(t->name);
	assert_true(t->ifindex > 0);
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_TEST));
	assert_true(fd >= 0);
	t->pkt = fd;
}

void test_tap_close(struct test_tap *t)
{
	close(t->pkt);
	close(t->fd); /* a tap nobody holds goes away, with anything on its hooks */
}

static void frame(uint8_t *buf, size_t len)
{
	struct ether_header *e = (struct ether_header *)buf;

	memset(buf, 0, len);
	memset(e->ether_dhost, 0xff, ETH_ALEN);
	e->ether_shost[0] = 0x52;
	e->ether_shost[5] = 0x01;
	e->ether_type = htons(ETH_P_TEST);
}

/* n frames of len bytes, as the guest sends them. */
void test_tap_from_guest(struct test_tap *t, unsigned int n, size_t len)
{
	uint8_t buf[1500];

	frame(buf, len);
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(write(t->fd, buf, len), (ssize_t)len);
}

/* n frames of len bytes towards the guest; each is read back from the tap (the guest's side). */
void test_tap_to_guest(struct test_tap *t, unsigned int n, size_t len)
{
	struct sockaddr_ll sa = { .sll_family = AF_PACKET, .sll_ifindex = (int)t->ifindex,
				  .sll_halen = ETH_ALEN, .sll_protocol = htons(ETH_P_TEST) };
	uint8_t buf[1500];

	memset(sa.sll_addr, 0xff, ETH_ALEN);
	frame(buf, len);
	for (unsigned int i = 0; i < n; i++) {
		struct pollfd p = { .fd = t->fd, .events = POLLIN };

		assert_int_equal(sendto(t->pkt, buf, len, 0, (struct sockaddr *)&sa, sizeof(sa)),
				 (ssize_t)len);
		assert_int_equal(poll(&p, 1, 1000), 1);
		assert_int_equal(read(t->fd, buf, sizeof(buf)), (ssize_t)len);
	}
}
