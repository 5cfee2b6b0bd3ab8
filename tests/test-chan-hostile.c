// SPDX-License-Identifier: BSD-3-Clause
/*
 * Hostile peers. A raw peer speaks the attach protocol by hand and then
 * sends what a buggy or malicious side could: invalid messages, sequence
 * jumps, bad frames, impossible credit, wrong versions, unsealed or corrupt
 * regions. The channel must reject and count each, never deliver it, and
 * stay usable or drop the generation cleanly. Who may attach at all
 * (TLS, kernel credentials, the attach deadline) is test-chan-trust.c's.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "channel/chan.h"
#include "channel/codec.h"
#include "channel/frame.h"
#include "channel/region.h"
#include "common/clock.h"
#include "common/log.h"
#include "tests/util.h"

static const struct wave_clock mono = { .kind = WAVE_CLOCK_MONO };

static int is_down(void *arg)
{
	return !chan_is_up(arg);
}

static int is_up(void *arg)
{
	return chan_is_up(arg);
}

/* ---- tcp ---------------------------------------------------------------- */

/* Reads the host's HELLO frame; returns the generation it offers. */
static uint64_t read_host_hello(int fd)
{
	uint8_t buf[FRAME_HDR_SIZE + WAVE_MSG_SIZE];
	struct wave_msg m;
	size_t got = 0;

	while (got < sizeof(buf)) {
		ssize_t r = read(fd, buf + got, sizeof(buf) - got);

		assert_true(r > 0);
		got += (size_t)r;
	}
	memcpy(&m, buf + FRAME_HDR_SIZE, sizeof(m));
	wave_msg_from_wire(&m);
	assert_int_equal(m.h.type, WAVE_MSG_HELLO);
	return m.p.hello.generation;
}

/* Attaches a raw agent to host over tcp; returns its socket. */
static int tcp_raw_agent(struct chan *host, const char *uri)
{
	int fd = test_tcp_connect(uri);
	struct wave_msg hello;
	uint64_t gen;

	assert_true(test_pump_until(host, NULL, is_up, host, 10) == 0);
	/* The host sends HELLO when it accepts: drive it. */
	for (int i = 0; i < 100 && !chan_get_stats(host)->attaches; i++) {
		chan_process(host);
		usleep(1000);
		if (i == 2)
			break;
	}
	gen = read_host_hello(fd);
	hello = test_raw_hello(WAVE_ROLE_AGENT, gen);
	test_write_frame(fd, &hello, 1);
	assert_true(test_pump_until(host, NULL, is_up, host, 2000));
	test_drain_hello(host, NULL);
	return fd;
}

static struct wave_msg seq_hb(uint32_t seq, uint64_t v)
{
	struct wave_msg m;

	test_hb(&m, v);
	m.h.seq = seq;
	return m;
}

static void tcp_invalid_message_dropped_stream_continues(void **state)
{
	const char *uri = test_uri(*state);
	struct chan *host = test_open_host(uri, NULL);
	struct wave_msg m[3], out[4];
	int fd = tcp_raw_agent(host, uri), n = 0;

	m[0] = seq_hb(1, 10);
	m[1] = seq_hb(2, 11);
	m[1].h.type = 99;        /* unknown type */
	m[2] = seq_hb(3, 12);
	test_write_frame(fd, m, 3);
	for (int i = 0; i < 200 && n < 2; i++) {
		int r = chan_recv(host, out + n, 4 - (unsigned int)n);

		assert_true(r >= 0);
		n += r;
		usleep(1000);
	}
	assert_int_equal(n, 2);
	assert_int_equal(out[0].p.hb.hb_seq, 10);
	assert_int_equal(out[1].p.hb.hb_seq, 12);
	assert_int_equal(chan_get_stats(host)->rx_invalid, 1);
	assert_true(chan_is_up(host));
	close(fd);
	chan_close(host);
}

static void tcp_sequence_jump_drops_generation(void **state)
{
	const char *uri = test_uri(*state);
	struct chan *host = test_open_host(uri, NULL);
	int fd = tcp_raw_agent(host, uri);
	struct wave_msg m = seq_hb(5, 1), out[2];

	test_write_frame(fd, &m, 1);
	for (int i = 0; i < 200 && chan_is_up(host); i++) {
		assert_true(chan_recv(host, out, 2) <= 0);
		usleep(1000);
	}
	assert_false(chan_is_up(host));
	assert_int_equal(chan_get_stats(host)->proto_errors, 1);
	assert_int_equal(chan_get_stats(host)->rx_msgs, 0);
	close(fd);
	/* The host serves the next agent as usual. */
	struct chan *agent = test_open_agent(uri, NULL);
	test_wait_up(host, agent);
	chan_close(agent);
	chan_close(host);
}

static void tcp_oversized_frame_drops_generation(void **state)
{
	const char *uri = test_uri(*state);
	struct chan *host = test_open_host(uri, NULL);
	int fd = tcp_raw_agent(host, uri);
	uint8_t hdr[FRAME_HDR_SIZE];

	frame_put_header(hdr, 5000);
	assert_int_equal(write(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	assert_true(test_pump_until(host, NULL, is_down, host, 2000));
	assert_int_equal(chan_get_stats(host)->proto_errors, 1);
	close(fd);
	chan_close(host);
}

static void tcp_wrong_version_refused_at_attach(void **state)
{
	const char *uri = test_uri(*state);
	struct chan *host = test_open_host(uri, NULL);
	int fd = test_tcp_connect(uri);
	struct wave_msg hello;
	char c;

	for (int i = 0; i < 3; i++) {
		chan_process(host);
		usleep(1000);
	}
	hello = test_raw_hello(WAVE_ROLE_AGENT, read_host_hello(fd));
	hello.p.hello.major = 2;
	test_write_frame(fd, &hello, 1);
	for (int i = 0; i < 500 && !chan_get_stats(host)->hello_rejected; i++) {
		chan_process(host);
		usleep(1000);
	}
	assert_int_equal(chan_get_stats(host)->hello_rejected, 1);
	assert_int_equal(chan_get_stats(host)->rejected[CHAN_REJ_HELLO], 1);
	assert_non_null(strstr(chan_get_stats(host)->last_reject, "protocol version 2."));
	assert_false(chan_is_up(host));
	assert_int_equal(read(fd, &c, 1), 0); /* host closed the connection */
	close(fd);
	chan_close(host);
}

static void tcp_truncated_frame_then_close(void **state)
{
	const char *uri = test_uri(*state);
	struct chan *host = test_open_host(uri, NULL);
	int fd = tcp_raw_agent(host, uri);
	struct wave_msg m = seq_hb(1, 1);
	uint8_t buf[FRAME_HDR_SIZE + 30];

	frame_put_header(buf, 1);
	memcpy(buf + FRAME_HDR_SIZE, &m, 30);
	assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fd);
	assert_true(test_pump_until(host, NULL, is_down, host, 2000));
	assert_int_equal(chan_get_stats(host)->rx_msgs, 0);
	chan_close(host);
}

static void tcp_agent_refuses_wrong_host_version(void **state)
{
	const char *uri = test_uri(*state);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1, cfd;
	struct chan *agent;
	struct wave_msg hello = test_raw_hello(WAVE_ROLE_HOST, 1);

	a.sin_port = htons((uint16_t)atoi(strrchr(uri, ':') + 1));
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	agent = test_open_agent(uri, NULL);
	for (int i = 0; i < 5; i++) {
		chan_process(agent);
		usleep(1000);
	}
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	hello.p.hello.magic = 0x11111111;
	test_write_frame(cfd, &hello, 1);
	for (int i = 0; i < 500 && !chan_get_stats(agent)->hello_rejected; i++) {
		chan_process(agent);
		usleep(1000);
	}
	assert_int_equal(chan_get_stats(agent)->hello_rejected, 1);
	assert_int_equal(chan_get_stats(agent)->rejected[CHAN_REJ_HELLO], 1);
	assert_non_null(strstr(chan_get_stats(agent)->last_reject, "bad magic"));
	assert_false(chan_is_up(agent));
	close(cfd);
	close(lfd);
	chan_close(agent);
}

/* ---- shm ---------------------------------------------------------------- */

static void send_fds(int sock, const struct wave_msg *m, const int *fds, int nfds)
{
	char cbuf[CMSG_SPACE(4 * sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = (void *)m, .iov_len = sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (nfds) {
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	assert_int_equal(sendmsg(sock, &mh, 0), (ssize_t)sizeof(*m));
}

struct raw_shm {
	int sock, efd;
	struct region reg;
	size_t size;
	uint64_t pos;  /* next position in the agent->host ring */
};

/*
 * A raw agent: takes the host's region and answers HELLO by hand, claiming
 * protocol version major. With the right version, waits until the host is up.
 */
static void shm_raw_attach(struct chan *host, const char *uri, struct raw_shm *r,
			   uint16_t major)
{
	char cbuf[CMSG_SPACE(2 * sizeof(int))];
	struct wave_msg hello;
	struct iovec iov = { .iov_base = &hello, .iov_len = sizeof(hello) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct sockaddr_un a;
	socklen_t alen;
	int fds[2];
	void *base;

	alen = test_shm_addr(uri, &a);
	r->sock = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_int_equal(connect(r->sock, (struct sockaddr *)&a, alen), 0);
	for (int i = 0; i < 5; i++) {
		chan_process(host);
		usleep(1000);
	}
	assert_int_equal(recvmsg(r->sock, &mh, 0), (ssize_t)sizeof(hello));
	memcpy(fds, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(fds));
	close(fds[1]);
	r->size = (size_t)lseek(fds[0], 0, SEEK_END);
	base = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	assert_true(base != MAP_FAILED);
	close(fds[0]);
	assert_int_equal(region_validate(base, r->size, &r->reg, NULL, 0), 0);
	wave_msg_from_wire(&hello);
	hello = test_raw_hello(WAVE_ROLE_AGENT, hello.p.hello.generation);
	hello.p.hello.major = major;
	r->efd = eventfd(0, 0);
	send_fds(r->sock, &hello, &r->efd, 1);
	r->pos = 0;
	if (major != WAVE_PROTO_MAJOR)
		return;
	assert_true(test_pump_until(host, NULL, is_up, host, 2000));
	test_drain_hello(host, NULL);
}

static void shm_raw_agent(struct chan *host, const char *uri, struct raw_shm *r)
{
	shm_raw_attach(host, uri, r, WAVE_PROTO_MAJOR);
}

static void shm_raw_close(struct raw_shm *r)
{
	munmap(r->reg.base, r->size);
	close(r->sock);
	close(r->efd);
}

/* Publishes m into the host's receive ring with the given seq word. */
static void raw_publish(struct raw_shm *r, const struct wave_msg *m, uint32_t seq)
{
	struct wave_msg *s = &r->reg.slots[REGION_SIDE_HOST][r->pos & (r->reg.nslots - 1)];

	memcpy((uint8_t *)s + 4, (const uint8_t *)m + 4, sizeof(*m) - 4);
	__atomic_store_n(&s->h.seq, htole32(seq), __ATOMIC_RELEASE);
	r->pos++;
}

static void shm_invalid_message_dropped_stream_continues(void **state)
{
	const char *uri = test_uri(*state);
	struct chan *host = test_open_host(uri, NULL);
	struct raw_shm r;
	struct wave_msg m, out[4];

	shm_raw_agent(host, uri, &r);
	raw_publish(&r, test_hb(&m, 10), 1);
	test_hb(&m, 11);
	m.p.hb.rsvd1[0] = 7; /* reserved field set */
	raw_publish(&r, &m, 2);
	raw_publish(&r, test_hb(&m, 12), 3);
	assert_int_equal(chan_recv(host, out, 4), 2);
	assert_int_equal(out[0].p.hb.hb_seq, 10);
	assert_int_equal(out[1].p.hb.hb_seq, 12);
	assert_int_equal(chan_get_stats(host)->rx_invalid, 1);
	assert_true(chan_is_up(host));
	shm_raw_close(&r);
	chan_close(host);
}

static void shm_corrupt_sequence_drops_generation(void **state)
{
	const char *uri = test_uri(*state);
	struct chan *host = test_open_host(uri, NULL);
	struct raw_shm r;
	struct wave_msg m, out[4];

	shm_raw_agent(host, uri, &r);
	raw_publish(&r, test_hb(&m, 1), 1);
	raw_publish(&r, test_hb(&m, 2), 9); /* jump */
	assert_int_equal(chan_recv(host, out, 4), 1);
	assert_true(chan_recv(host, out, 4) < 0);
	assert_false(chan_is_up(host));
	assert_int_equal(chan_get_stats(host)->proto_errors, 1);
	shm_raw_close(&r);
	/* A proper agent attaches afterwards. */
	struct chan *agent = test_open_agent(uri, NULL);
	test_wait_up(host, agent);
	test_drain_hello(host, agent);
	test_stream(host, agent, 100, 16);
	chan_close(agent);
	chan_close(host);
}

static void shm_impossible_credit_drops_generation(void **state)
{
	const char *uri = test_uri(*state);
	struct chan *host = test_open_host(uri, NULL);
	struct raw_shm r;
	struct wave_msg m[64];
	int sent = 0, ret = 0;

	shm_raw_agent(host, uri, &r);
	r.reg.ctl[REGION_SIDE_HOST]->credit = 1ULL << 40;
	for (int i = 0; i < 64; i++)
		test_hb(&m[i], (uint64_t)i);
	while (sent <= (int)r.reg.nslots && (ret = chan_send_batch(host, m, 64)) > 0)
		sent += ret;
	assert_int_equal(ret, -ENOTCONN);
	assert_int_equal(chan_get_stats(host)->proto_errors, 1);
	assert_false(chan_is_up(host));
	shm_raw_close(&r);
	chan_close(host);
}

static void shm_wrong_version_refused_at_attach(void **state)
{
	const char *uri = test_uri(*state);
	struct chan *host = test_open_host(uri, NULL);
	struct raw_shm r;

	shm_raw_attach(host, uri, &r, 9);
	for (int i = 0; i < 500 && !chan_get_stats(host)->hello_rejected; i++) {
		chan_process(host);
		usleep(1000);
	}
	assert_int_equal(chan_get_stats(host)->hello_rejected, 1);
	assert_int_equal(chan_get_stats(host)->rejected[CHAN_REJ_HELLO], 1);
	assert_non_null(strstr(chan_get_stats(host)->last_reject, "protocol version 9."));
	assert_false(chan_is_up(host));
	shm_raw_close(&r);
	chan_close(host);
}

/*
 * A raw host offering a region; flaw() spoils it before it is sent. The
 * agent must refuse it for reason r, saying what (text in its reason).
 */
static void shm_raw_host_offer_as(const char *uri, int seal, void (*flaw)(void *base),
				  uint64_t features, enum chan_reject r, const char *text)
{
	struct sockaddr_un a;
	socklen_t alen;
	struct region reg;
	struct chan *agent;
	size_t size = region_size_for(64);
	int lsock = socket(AF_UNIX, SOCK_SEQPACKET, 0), csock, fds[2];
	struct wave_msg hello = test_raw_hello(WAVE_ROLE_HOST, 1);
	void *base;

	alen = test_shm_addr(uri, &a);
	assert_int_equal(bind(lsock, (struct sockaddr *)&a, alen), 0);
	assert_int_equal(listen(lsock, 1), 0);
	fds[0] = memfd_create("hostile", MFD_ALLOW_SEALING);
	assert_int_equal(ftruncate(fds[0], (off_t)size), 0);
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	assert_int_equal(region_init(base, size, 64, 1, &mono, &reg), 0);
	if (flaw)
		flaw(base);
	if (seal)
		assert_int_equal(fcntl(fds[0], F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	fds[1] = eventfd(0, 0);
	hello.p.hello.features |= features;

	agent = test_open_agent(uri, NULL);
	csock = accept(lsock, NULL, NULL);
	assert_true(csock >= 0);
	wave_msg_to_wire(&hello);
	send_fds(csock, &hello, fds, 2);
	for (int i = 0; i < 500 && !chan_get_stats(agent)->hello_rejected; i++) {
		chan_process(agent);
		usleep(1000);
	}
	assert_int_equal(chan_get_stats(agent)->hello_rejected, 1);
	assert_int_equal(chan_get_stats(agent)->rejected[r], 1);
	assert_non_null(strstr(chan_get_stats(agent)->last_reject, text));
	assert_false(chan_is_up(agent));
	chan_close(agent);
	munmap(base, size);
	close(fds[0]);
	close(fds[1]);
	close(csock);
	close(lsock);
}

static void shm_raw_host_offer(const char *uri, int seal, void (*flaw)(void *base),
			       enum chan_reject r, const char *text)
{
	shm_raw_host_offer_as(uri, seal, flaw, 0, r, text);
}

/* A host that says it shares its kernel's state (1.7) must pass the fds for it. */
static void shm_agent_refuses_kstate_without_its_fds(void **state)
{
	shm_raw_host_offer_as(test_uri(*state), 1, NULL, WAVE_FEAT_KSTATE, CHAN_REJ_ATTACH,
			      "offer with 2 fds and KSTATE on");
}

static void shm_agent_refuses_unsealed_region(void **state)
{
	shm_raw_host_offer(test_uri(*state), 0, NULL, CHAN_REJ_UNSEALED, "not sealed");
}

static void break_magic(void *base)
{
	((struct region_hdr *)base)->magic = 0;
}

static void break_offsets(void *base)
{
	((struct region_hdr *)base)->side_off[1] = htole64(1ULL << 40);
}

static void shm_agent_refuses_corrupt_region(void **state)
{
	shm_raw_host_offer(test_uri(*state), 1, break_magic, CHAN_REJ_REGION, "bad magic");
}

static void shm_agent_refuses_region_offsets_outside(void **state)
{
	shm_raw_host_offer(test_uri(*state), 1, break_offsets, CHAN_REJ_REGION,
			   "side_off[1] 1099511627776");
}

#define ON(fn, kind) \
	cmocka_unit_test_prestate_setup_teardown(fn, test_uri_setup, test_uri_teardown, (void *)kind)

int main(void)
{
	const struct CMUnitTest tests[] = {
		ON(tcp_invalid_message_dropped_stream_continues, "tcp"),
		ON(tcp_sequence_jump_drops_generation, "tcp"),
		ON(tcp_oversized_frame_drops_generation, "tcp"),
		ON(tcp_wrong_version_refused_at_attach, "tcp"),
		ON(tcp_truncated_frame_then_close, "tcp"),
		ON(tcp_agent_refuses_wrong_host_version, "tcp"),
		ON(shm_invalid_message_dropped_stream_continues, "shm"),
		ON(shm_corrupt_sequence_drops_generation, "shm"),
		ON(shm_impossible_credit_drops_generation, "shm"),
		ON(shm_wrong_version_refused_at_attach, "shm"),
		ON(shm_agent_refuses_unsealed_region, "shm"),
		ON(shm_agent_refuses_kstate_without_its_fds, "shm"),
		ON(shm_agent_refuses_corrupt_region, "shm"),
		ON(shm_agent_refuses_region_offsets_outside, "shm"),
	};

	wave_log_init("test-chan-hostile", getenv("WAVE_TEST_VERBOSE") ? WAVE_LOG_DEBUG : WAVE_LOG_ERR);
	return cmocka_run_group_tests_name("chan-hostile", tests, NULL, NULL);
}
