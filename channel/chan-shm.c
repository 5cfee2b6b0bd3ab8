// SPDX-License-Identifier: BSD-3-Clause
/*
 * shm:NAME transport: both processes on one host.
 *
 * Data moves only through the rings of a sealed memfd region (region.h,
 * ring.h). A SOCK_SEQPACKET unix socket in the abstract namespace
 * ("wave-vm/shm/NAME") is the control path: the host listens, an agent
 * connects, and the host passes a FRESH memfd for every attach together with
 * its doorbell eventfd; the agent answers with its own eventfd. The socket
 * also tells each side at once when the other dies (EOF/HUP). This is the
 * ivshmem-server model (fds over a unix socket), so an ivshmem transport can
 * reuse the same attach protocol.
 *
 * Why a fresh region per attach: a restarted peer can never read a slot
 * written for an earlier generation, by construction rather than by
 * generation checks on every message. The alternative, resetting one
 * long-lived region, races with a dying peer that still writes into it.
 *
 * The memfd is sealed against shrinking and growing before it is passed, and
 * the agent refuses an unsealed one: otherwise the host could truncate it and
 * kill the agent with SIGBUS on its next poll.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "channel/chan-sock.h"
#include "channel/codec.h"
#include "channel/region.h"
#include "common/clock.h"
#include "common/log.h"

#define SHM_NAME_MAX 48
#define SHM_SEALS    (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
/* The host's offer: the region, its doorbell, and with KSTATE the shared fds. */
#define SHM_MAX_FDS  (2 + CHAN_SHARE_FDS)

struct shm_priv {
	struct chan_sock sock;  /* the control connection's lifecycle */
	char name[SHM_NAME_MAX + 1];
	int efd;         /* our doorbell */
	int peer_efd;
	int memfd;
	int share[CHAN_SHARE_FDS]; /* agent: what the host shared (KSTATE), or -1 */
	struct region region;
	struct ring_tx tx;
	struct ring_rx rx;
};

static struct shm_priv *priv(struct chan *ch)
{
	return ch->priv;
}

/* Forget the current peer: unmap its region and close its fds (chan_sock closes the socket). */
static void shm_reset(struct chan *ch)
{
	struct shm_priv *p = priv(ch);

	chan_close_fd(&p->peer_efd);
	chan_close_fd(&p->memfd);
	for (unsigned int i = 0; i < CHAN_SHARE_FDS; i++)
		chan_close_fd(&p->share[i]);
	if (p->region.base)
		munmap(p->region.base, p->region.size);
	memset(&p->region, 0, sizeof(p->region));
}

static void peer_lost(struct chan *ch, const char *why)
{
	chan_sock_lost(ch, &priv(ch)->sock, why);
}

/* Sends one 64-byte message with fds attached. */
static int send_with_fds(int sock, const struct wave_msg *m, const int *fds, int nfds)
{
	char cbuf[CMSG_SPACE(SHM_MAX_FDS * sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = (void *)m, .iov_len = sizeof(*m) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = CMSG_SPACE(nfds * sizeof(int)),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(*m) ? 0 : -errno ? -errno : -EIO;
}

/*
 * Receives one 64-byte message and exactly want_fds fds, or alt_fds if
 * alt_fds is not 0 (*got says which). Every fd received is closed on any
 * error, so a hostile peer cannot make us leak fds. Returns 0, -EAGAIN
 * (nothing yet), -EPIPE (peer closed) or -EPROTO (why set).
 */
static int recv_with_fds(int sock, struct wave_msg *m, int *fds, int want_fds, int alt_fds,
			 int *got_fds, char *why, size_t len)
{
	char cbuf[CMSG_SPACE(8 * sizeof(int))];
	struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
	_Static_assert(SHM_MAX_FDS <= 8, "the control buffer holds 8 fds");
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	int got = 0, i, n;
	ssize_t r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? -EAGAIN : -EPIPE;
	if (r == 0)
		return -EPIPE;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (got < (alt_fds > want_fds ? alt_fds : want_fds))
				fds[got] = fd;
			else
				close(fd);
			got++;
		}
	}
	if (r != sizeof(*m) || (got != want_fds && (!alt_fds || got != alt_fds)) ||
	    (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		snprintf(why, len, "attach message of %zd bytes with %d fds (want %zu bytes, %d fds)",
			 r, got, sizeof(*m), want_fds);
		for (i = 0; i < got && i < (alt_fds > want_fds ? alt_fds : want_fds); i++) {
			close(fds[i]);
			fds[i] = -1; /* the caller's slots must not name closed fds */
		}
		return -EPROTO;
	}
	if (got_fds)
		*got_fds = got;
	return 0;
}

static int name_ok(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > SHM_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

/*
 * The fds to share with this offer (WAVE_FEAT_KSTATE): appended to fds at
 * *n. Returns 0, or -errno with nothing appended (offer without them).
 */
static int share_fds(struct chan *ch, int *fds, int *n)
{
	int ret;

	if (!(ch->opts.features & WAVE_FEAT_KSTATE) || !ch->opts.share)
		return -ENOTSUP;
	if ((ret = ch->opts.share(ch->opts.share_arg, fds + *n)))
		return ret;
	*n += CHAN_SHARE_FDS;
	return 0;
}

/* Host: a new agent connected. Build its region and offer it. */
static int host_offer(struct chan *ch, int fd)
{
	struct shm_priv *p = priv(ch);
	size_t size = region_size_for(ch->opts.ring_slots);
	struct wave_msg hello;
	char mname[80];
	void *base;
	int ret, fds[SHM_MAX_FDS], nfds = 2;

	snprintf(mname, sizeof(mname), "wave-shm-%s", p->name);
	p->memfd = memfd_create(mname, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (p->memfd < 0)
		return -errno;
	if (ftruncate(p->memfd, (off_t)size) || fcntl(p->memfd, F_ADD_SEALS, SHM_SEALS))
		return -errno;
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, p->memfd, 0);
	if (base == MAP_FAILED)
		return -errno;
	ret = region_init(base, size, ch->opts.ring_slots, p->sock.next_gen, &ch->clock, &p->region);
	if (ret) {
		munmap(base, size);
		return ret;
	}
	ch->generation = p->sock.next_gen++;
	chan_make_hello(ch, &hello, ch->opts.ring_slots);
	fds[0] = p->memfd;
	fds[1] = p->efd;
	/* The KSTATE bit says the fds come with it (the agent checks). */
	if (share_fds(ch, fds, &nfds)) {
		hello.p.hello.features &= ~WAVE_FEAT_KSTATE;
		ch->our_features = hello.p.hello.features;
	}
	wave_msg_to_wire(&hello);
	ret = send_with_fds(fd, &hello, fds, nfds);
	for (int i = 2; i < nfds; i++)
		close(fds[i]);
	return ret;
}

static void host_finish(struct chan *ch)
{
	struct shm_priv *p = priv(ch);
	struct wave_msg hello;
	char why[160];
	int ret;

	ret = recv_with_fds(p->sock.conn_fd, &hello, &p->peer_efd, 1, 0, NULL, why, sizeof(why));
	if (ret == -EAGAIN)
		return;
	if (ret == -EPROTO)
		chan_reject(ch, CHAN_REJ_ATTACH, "%s", why);
	if (ret || chan_check_hello(ch, &hello, WAVE_ROLE_AGENT, 1)) {
		chan_sock_reset(ch, &p->sock);
		return;
	}
	ring_tx_init(&p->tx, p->region.slots[REGION_SIDE_AGENT], p->region.nslots,
		     p->region.ctl[REGION_SIDE_HOST], 0);
	ring_rx_init(&p->rx, p->region.slots[REGION_SIDE_HOST], p->region.nslots,
		     p->region.ctl[REGION_SIDE_AGENT]);
	chan_sock_up(&p->sock);
	chan_peer_up(ch, ch->generation, &hello);
}

/*
 * Agent: map and check what the host offered, then answer. A refusal is
 * counted with its reason (chan_reject) and returns -EPROTO; -EPIPE if the
 * answer cannot be sent.
 */
static int agent_accept_offer(struct chan *ch, struct wave_msg *hello)
{
	struct shm_priv *p = priv(ch);
	struct wave_msg reply;
	struct stat stb;
	char why[160];
	void *base;
	int seals;

	if (fstat(p->memfd, &stb) || stb.st_size <= 0) {
		chan_reject(ch, CHAN_REJ_ATTACH, "region fd is not a sized file");
		return -EPROTO;
	}
	seals = fcntl(p->memfd, F_GET_SEALS);
	if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW)) {
		chan_reject(ch, CHAN_REJ_UNSEALED,
			    "region memfd is not sealed against resizing (seals 0x%x)", seals);
		return -EPROTO;
	}
	base = mmap(NULL, (size_t)stb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, p->memfd, 0);
	if (base == MAP_FAILED) {
		chan_reject(ch, CHAN_REJ_ATTACH, "cannot map the region: %s", strerror(errno));
		return -EPROTO;
	}
	if (region_validate(base, (size_t)stb.st_size, &p->region, why, sizeof(why))) {
		munmap(base, (size_t)stb.st_size);
		memset(&p->region, 0, sizeof(p->region));
		chan_reject(ch, CHAN_REJ_REGION, "%s", why);
		return -EPROTO;
	}
	p->region.size = (size_t)stb.st_size; /* unmap what we mapped */
	if (p->region.generation != hello->p.hello.generation) {
		chan_reject(ch, CHAN_REJ_GENERATION, "region generation %llu differs from HELLO's %llu",
			    (unsigned long long)p->region.generation,
			    (unsigned long long)hello->p.hello.generation);
		return -EPROTO;
	}
	ch->generation = hello->p.hello.generation;
	ch->clock = p->region.clock;
	ring_tx_init(&p->tx, p->region.slots[REGION_SIDE_HOST], p->region.nslots,
		     p->region.ctl[REGION_SIDE_AGENT], 0);
	/* The host may sleep without a settle window (chan_prepare_sleep). */
	p->tx.fenced_kick = 1;
	ring_rx_init(&p->rx, p->region.slots[REGION_SIDE_AGENT], p->region.nslots,
		     p->region.ctl[REGION_SIDE_HOST]);
	chan_make_hello(ch, &reply, p->region.nslots);
	wave_msg_to_wire(&reply);
	if (send_with_fds(p->sock.conn_fd, &reply, &p->efd, 1))
		return -EPIPE;
	return 0;
}

static void agent_finish(struct chan *ch)
{
	struct shm_priv *p = priv(ch);
	struct wave_msg hello;
	int fds[SHM_MAX_FDS] = { -1, -1, -1, -1, -1 };
	char why[160];
	int ret, got = 0;

	ret = recv_with_fds(p->sock.conn_fd, &hello, fds, 2, SHM_MAX_FDS, &got, why, sizeof(why));
	if (ret == -EAGAIN)
		return;
	if (ret == -EPIPE) {
		peer_lost(ch, "host closed the connection during attach (another agent attached?)");
		return;
	}
	if (ret == -EPROTO) {
		chan_reject(ch, CHAN_REJ_ATTACH, "%s", why);
		peer_lost(ch, "bad offer");
		return;
	}
	p->memfd = fds[0];
	p->peer_efd = fds[1];
	for (int i = 2; i < got; i++)
		p->share[i - 2] = fds[i];
	if (chan_check_hello(ch, &hello, WAVE_ROLE_HOST, 0)) {
		peer_lost(ch, "host HELLO rejected");
		return;
	}
	/* The shared fds come exactly with the KSTATE bit (wave_msg_from_wire ran in check_hello). */
	if ((got == SHM_MAX_FDS) != !!(hello.p.hello.features & WAVE_FEAT_KSTATE)) {
		chan_reject(ch, CHAN_REJ_ATTACH, "offer with %d fds and KSTATE %s", got,
			    hello.p.hello.features & WAVE_FEAT_KSTATE ? "on" : "off");
		peer_lost(ch, "bad offer");
		return;
	}
	ret = agent_accept_offer(ch, &hello);
	if (ret) {
		peer_lost(ch, ret == -EPIPE ? "cannot answer the host" : "bad offer");
		return;
	}
	chan_sock_up(&p->sock);
	chan_peer_up(ch, ch->generation, &hello);
}

static void conn_event(struct chan *ch, uint32_t events)
{
	struct shm_priv *p = priv(ch);
	ssize_t r;
	char c;

	if (p->sock.state == CHAN_SOCK_HANDSHAKE) {
		if (ch->opts.role == CHAN_HOST)
			host_finish(ch);
		else
			agent_finish(ch);
		return;
	}
	/* Once up, the control socket carries nothing: data is a protocol error. */
	r = recv(p->sock.conn_fd, &c, 1, MSG_DONTWAIT);
	if (r > 0) {
		ch->st.proto_errors++;
		peer_lost(ch, "unexpected data on the control connection");
		return;
	}
	if (r < 0 && (errno == EAGAIN || errno == EINTR) &&
	    !(events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR)))
		return;
	peer_lost(ch, "control connection closed");
}

static void doorbell(struct chan *ch)
{
	uint64_t v;

	if (read(priv(ch)->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		wave_log_rl(WAVE_LOG_WARN, "%s: doorbell read: %s", ch->label, strerror(errno));
}

static const struct chan_sock_ops shm_sock_ops = {
	.accepted = host_offer,
	.conn_event = conn_event,
	.doorbell = doorbell,
	.reset = shm_reset,
};

static void shm_event(struct chan *ch, enum chan_tag tag, uint32_t events)
{
	chan_sock_event(ch, &priv(ch)->sock, tag, events);
}

static int shm_chan_open(struct chan *ch, const char *addr)
{
	struct sockaddr_un *un;
	struct shm_priv *p;
	int ret;

	if (!name_ok(addr)) {
		wave_err("channel URI 'shm:%s': NAME must be 1-%d characters of [A-Za-z0-9._-]",
			 addr, SHM_NAME_MAX);
		return -EINVAL;
	}
	if (ch->opts.role == CHAN_HOST && !region_size_for(ch->opts.ring_slots)) {
		wave_err("ring slots %u: must be a power of two in %u..%u", ch->opts.ring_slots,
			 REGION_MIN_SLOTS, REGION_MAX_SLOTS);
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	ch->priv = p;
	p->sock.listen_fd = p->sock.conn_fd = p->sock.retry_tfd = p->sock.attach_tfd = -1;
	p->peer_efd = p->memfd = -1;
	for (unsigned int i = 0; i < CHAN_SHARE_FDS; i++)
		p->share[i] = -1;
	strcpy(p->name, addr);
	un = (struct sockaddr_un *)&p->sock.addr;
	un->sun_family = AF_UNIX;
	/* Abstract namespace: leading NUL, no file to clean up after a crash. */
	ret = snprintf(un->sun_path + 1, sizeof(un->sun_path) - 1, "wave-vm/shm/%s", addr);
	p->sock.addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + ret);
	p->sock.type = SOCK_SEQPACKET;
	p->sock.ops = &shm_sock_ops;
	snprintf(p->sock.desc, sizeof(p->sock.desc), "shm:%s", addr);

	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->efd < 0 || chan_epoll_add(ch, p->efd, EPOLLIN, CHAN_TAG_DOORBELL)) {
		ret = -errno;
		goto err;
	}
	if (ch->opts.role == CHAN_HOST)
		wave_clock_best(&ch->clock);
	chan_auth_uids(ch);
	if ((ret = chan_sock_open(ch, &p->sock)))
		goto err;
	return 0;
err:
	ch->ops->close(ch);
	return ret ? ret : -EIO;
}

static int shm_send(struct chan *ch, const struct wave_msg *m, unsigned int n, uint64_t ts)
{
	struct shm_priv *p = priv(ch);
	static const uint64_t one = 1;
	int ret = ring_send(&p->tx, m, n, ts);

	if (unlikely(ret < 0)) {
		chan_protocol_error(ch, "peer wrote an impossible credit");
		return -ENOTCONN;
	}
	chan_count_tx(ch, ret, n);
	/* A quiet send leaves the wake flag set: the next ordinary send rings. */
	if (ret > 0 && !ch->quiet && ring_tx_need_kick(&p->tx)) {
		ch->st.tx_kicks++;
		if (write(p->peer_efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			wave_log_rl(WAVE_LOG_WARN, "%s: doorbell: %s", ch->label, strerror(errno));
	}
	return ret;
}

static int shm_recv(struct chan *ch, struct wave_msg *out, unsigned int max,
		    uint64_t visible_ts, uint64_t *held_ts)
{
	return ring_recv(&priv(ch)->rx, out, max, visible_ts, held_ts);
}

static int shm_ready(struct chan *ch, uint64_t visible_ts, uint64_t *held_ts)
{
	uint64_t ts;

	*held_ts = 0;
	if (!ring_rx_peek(&priv(ch)->rx, &ts))
		return 0;
	if (ts > visible_ts) {
		*held_ts = ts;
		return 0;
	}
	return 1;
}

static int shm_arm(struct chan *ch)
{
	return ring_rx_arm_wake(&priv(ch)->rx);
}

static void shm_disarm(struct chan *ch)
{
	ring_rx_disarm_wake(&priv(ch)->rx);
}

static void shm_drop(struct chan *ch)
{
	chan_sock_drop(ch, &priv(ch)->sock);
}

static void shm_close(struct chan *ch)
{
	struct shm_priv *p = priv(ch);

	if (!p)
		return;
	chan_sock_close(ch, &p->sock);
	chan_close_fd(&p->efd);
	free(p);
	ch->priv = NULL;
}

static int shm_shared_fd(const struct chan *ch, unsigned int i)
{
	return ((const struct shm_priv *)ch->priv)->share[i];
}

const struct chan_transport_ops chan_shm_ops = {
	.scheme = "shm:",
	.open = shm_chan_open,
	.event = shm_event,
	.send = shm_send,
	.recv = shm_recv,
	.ready = shm_ready,
	.arm = shm_arm,
	.disarm = shm_disarm,
	.drop = shm_drop,
	.close = shm_close,
	.shared_fd = shm_shared_fd,
};
