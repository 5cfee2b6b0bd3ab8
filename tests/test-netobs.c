// SPDX-License-Identifier: BSD-3-Clause
/*
 * Traffic observation (kvm-hooks/netobs.h) against a real tap that this
 * test creates and plays the guest on: frames written into the tap's fd are
 * what a guest sends, frames sent to the tap through a packet socket are
 * what reaches the guest. Both backends must count exactly what was sent
 * each way; BPF must also push an arrival after a quiet gap and none
 * within it, and take its tc hooks off again. Needs root (a tap; BPF).
 */
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/log.h"
#include "kvm-hooks/netobs.h"
#include "tests/util.h"

#define ETH_P_TEST 0x88b5 /* IEEE local experimental: nothing on the host answers it */

struct tap {
	int fd, pkt;
	unsigned int ifindex;
	char name[IFNAMSIZ];
};

/* A tap with no IPv6 (no router solicitations of its own), up. Skips without one. */
static void tap_open(struct tap *t)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	char path[128];
	int s, fd;
	FILE *f;

	if (geteuid() != 0)
		test_skip("a tap needs root");
	if ((t->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK)) < 0)
		test_skip("no /dev/net/tun: %s", strerror(errno));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "wvtest%d", (int)getpid() % 100000);
	if (ioctl(t->fd, TUNSETIFF, &ifr)) {
		close(t->fd);
		test_skip("TUNSETIFF: %s", strerror(errno));
	}
	snprintf(t->name, sizeof(t->name), "%s", ifr.ifr_name);
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", t->name);
	if ((f = fopen(path, "we"))) {
		fputs("1", f);
		fclose(f);
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(s >= 0);
	assert_int_equal(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	assert_int_equal(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
	close(s);
	t->ifindex = if_nametoindex(t->name);
	assert_true(t->ifindex > 0);
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_TEST));
	assert_true(fd >= 0);
	t->pkt = fd;
}

static void tap_close(struct tap *t)
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
static void from_guest(struct tap *t, unsigned int n, size_t len)
{
	uint8_t buf[1500];

	frame(buf, len);
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(write(t->fd, buf, len), (ssize_t)len);
}

/* n frames of len bytes towards the guest; each is read back from the tap (the guest's side). */
static void to_guest(struct tap *t, unsigned int n, size_t len)
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

static void counts_each_way(enum netobs_backend which)
{
	struct nettap_rec r;
	struct netobs *n;
	struct tap t;
	int slot;

	tap_open(&t);
	if (netobs_open(which, 1000000, &n)) {
		tap_close(&t);
		test_skip("the %s backend is not available here", which == NETOBS_BPF ? "BPF" : "sysfs");
	}
	assert_int_equal(netobs_add(n, "wv-no-such-if", 0), -ENODEV);
	slot = netobs_add(n, t.name, 0);
	assert_true(slot >= 0);
	from_guest(&t, 7, 100);
	to_guest(&t, 5, 200);
	assert_int_equal(netobs_read(n, slot, &r), 0);
	assert_int_equal(r.tx_pkts, 7);
	assert_int_equal(r.tx_bytes, 700);
	assert_int_equal(r.rx_pkts, 5);
	assert_int_equal(r.rx_bytes, 1000);
	netobs_del(n, slot);
	assert_int_equal(netobs_read(n, slot, &r), -ENOENT);
	netobs_close(n);
	tap_close(&t);
}

static void sysfs_counts_each_way(void **state)
{
	counts_each_way(NETOBS_SYSFS);
}

static void bpf_counts_each_way(void **state)
{
	counts_each_way(NETOBS_BPF);
}

static void count_arrivals(const struct nettap_event *ev, void *arg)
{
	unsigned int *n = arg;

	assert_true(ev->quiet_ns >= 1000000);
	(*n)++;
}

/* How many arrival events are queued within ms. */
static unsigned int arrivals(struct netobs *n, int ms)
{
	struct pollfd p = { .fd = netobs_fd(n), .events = POLLIN };
	unsigned int got = 0;

	if (poll(&p, 1, ms) == 1)
		netobs_poll(n, count_arrivals, &got);
	return got;
}

/* Only packets after a quiet gap (here 1 ms) to a guest that asked are events. */
static void bpf_arrival_after_quiet_gap(void **state)
{
	char cmd[128], out[256] = "";
	struct netobs *n;
	struct tap t;
	FILE *p;
	int slot;

	tap_open(&t);
	if (netobs_open(NETOBS_BPF, 1000000, &n)) {
		tap_close(&t);
		test_skip("BPF is not available here");
	}
	slot = netobs_add(n, t.name, 1);
	assert_true(slot >= 0);
	assert_true(netobs_fd(n) >= 0);
	to_guest(&t, 1, 64);
	assert_int_equal(arrivals(n, 1000), 1);
	from_guest(&t, 3, 64);                /* what the guest sends is no arrival */
	assert_int_equal(arrivals(n, 20), 0);
	usleep(5000);
	to_guest(&t, 1, 64);
	assert_int_equal(arrivals(n, 1000), 1);
	netobs_notify(n, slot, 0);
	usleep(5000);
	to_guest(&t, 1, 64);
	assert_int_equal(arrivals(n, 20), 0);
	/* Off the tap again: our clsact qdisc (we created it) is gone. */
	netobs_del(n, slot);
	snprintf(cmd, sizeof(cmd), "tc qdisc show dev %s 2>&1", t.name);
	if ((p = popen(cmd, "r"))) {
		size_t k = fread(out, 1, sizeof(out) - 1, p);

		out[k] = '\0';
		pclose(p);
		assert_null(strstr(out, "clsact"));
	}
	netobs_close(n);
	tap_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sysfs_counts_each_way),
		cmocka_unit_test(bpf_counts_each_way),
		cmocka_unit_test(bpf_arrival_after_quiet_gap),
	};

	wave_log_init("test-netobs", WAVE_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
