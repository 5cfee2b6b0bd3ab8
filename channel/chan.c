// SPDX-License-Identifier: BSD-3-Clause
/*
 * Generic channel: URI dispatch, sequence/timestamp stamping, validation of
 * everything received, link emulation (receiver-side delay, fault windows),
 * generations and statistics. Transports (chan-shm.c, chan-tcp.c) only move
 * bytes and manage their peer.
 *
 * The pollable fd is an epoll instance holding the transport's fds and the
 * link-delay timer, so an event loop watches one fd however many the
 * transport uses and however often it reconnects (libbpf's ring_buffer does
 * the same). The alternative, exposing every transport fd, would make users
 * re-register fds on every reconnect.
 */
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "channel/chan-internal.h"
#include "channel/codec.h"
#include "channel/ring.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/parse.h"

void chan_opts_init(struct chan_opts *o, enum chan_role role)
{
	memset(o, 0, sizeof(*o));
	o->role = role;
	o->ring_slots = CHAN_DEFAULT_SLOTS;
	o->spin_ns = CHAN_DEFAULT_SPIN_NS;
	o->label = role == CHAN_HOST ? "host" : "agent";
	o->peer_uid = (uid_t)-1;
}

static int parse_fault(struct chan_opts *o, const char *arg)
{
	static const struct { const char *name; enum chan_fault_kind kind; } kinds[] = {
		{ "stall", CHAN_FAULT_STALL },
		{ "drop-hb", CHAN_FAULT_DROP_HB },
	};
	char buf[128], *at, *plus;
	struct chan_fault f = { 0 };
	size_t i;
	int ret;

	if (o->nr_faults >= CHAN_MAX_FAULTS) {
		wave_err("--link-fault: at most %d faults", CHAN_MAX_FAULTS);
		return -EINVAL;
	}
	if (strlen(arg) >= sizeof(buf) || !(at = strchr(strcpy(buf, arg), '@'))) {
		wave_err("--link-fault: '%s' is not KIND@AFTER[+FOR] (e.g. stall@2s+500ms)", arg);
		return -EINVAL;
	}
	*at++ = '\0';
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(buf, kinds[i].name) == 0)
			f.kind = kinds[i].kind;
	if (!f.kind) {
		wave_err("--link-fault: unknown kind '%s' (stall, drop-hb)", buf);
		return -EINVAL;
	}
	f.len_ns = UINT64_MAX;
	plus = strchr(at, '+');
	if (plus)
		*plus++ = '\0';
	ret = wave_parse_duration("--link-fault AFTER", at, WAVE_NSEC_PER_MSEC, 0,
				  3600 * WAVE_NSEC_PER_SEC, &f.at_ns);
	if (!ret && plus)
		ret = wave_parse_duration("--link-fault FOR", plus, WAVE_NSEC_PER_MSEC, 1,
					  3600 * WAVE_NSEC_PER_SEC, &f.len_ns);
	if (ret)
		return ret;
	o->faults[o->nr_faults++] = f;
	return 1;
}

int chan_opts_parse_link(struct chan_opts *o, const char *opt, const char *arg)
{
	uint64_t us;

	if (strcmp(opt, "--link-delay") == 0) {
		if (wave_parse_u64("--link-delay", arg, 0, 1000000, &us))
			return -EINVAL;
		o->link_delay_ns = us * WAVE_NSEC_PER_USEC;
		return 1;
	}
	if (strcmp(opt, "--link-fault") == 0)
		return parse_fault(o, arg ? arg : "");
	return 0;
}

int chan_opt_link(const struct opt *o, const char *arg)
{
	char flag[32];

	snprintf(flag, sizeof(flag), "--%s", o->name);
	return chan_opts_parse_link(o->value, flag, arg) == 1 ? 0 : -EINVAL;
}

int chan_opt_user(const struct opt *o, const char *arg)
{
	struct chan_opts *c = o->value;
	struct passwd *pw = getpwnam(arg);
	uint64_t uid;

	if (pw) {
		c->peer_uid = pw->pw_uid;
		return 0;
	}
	if (wave_parse_u64("--agent-user/--host-user", arg, 0, 0xfffffffe, &uid)) {
		wave_err("--%s: no user '%s'", o->name, arg);
		return -EINVAL;
	}
	c->peer_uid = (uid_t)uid;
	return 0;
}

const char *chan_auth(const struct chan *ch)
{
	return ch->auth;
}

/* The users chan_peer_uid_ok() accepts, as chan_auth() says them. */
void chan_auth_uids(struct chan *ch)
{
	uid_t me = geteuid(), other = ch->opts.peer_uid;
	int n = snprintf(ch->auth, sizeof(ch->auth), "peer credentials: uid 0");

	if (me != 0)
		n += snprintf(ch->auth + n, sizeof(ch->auth) - (size_t)n, ", %u", (unsigned int)me);
	if (other != (uid_t)-1 && other != 0 && other != me)
		snprintf(ch->auth + n, sizeof(ch->auth) - (size_t)n, ", %u", (unsigned int)other);
}

int chan_peer_uid_ok(const struct chan *ch, uid_t uid)
{
	return uid == 0 || uid == geteuid() || (ch->opts.peer_uid != (uid_t)-1 &&
						uid == ch->opts.peer_uid);
}

int chan_epoll_add(struct chan *ch, int fd, uint32_t events, enum chan_tag tag)
{
	struct epoll_event ev = { .events = events, .data.u32 = tag };

	return epoll_ctl(ch->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int chan_epoll_mod(struct chan *ch, int fd, uint32_t events, enum chan_tag tag)
{
	struct epoll_event ev = { .events = events, .data.u32 = tag };

	return epoll_ctl(ch->epfd, EPOLL_CTL_MOD, fd, &ev) ? -errno : 0;
}

void chan_epoll_del(struct chan *ch, int fd)
{
	epoll_ctl(ch->epfd, EPOLL_CTL_DEL, fd, NULL);
}

void chan_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void chan_retry_arm(int tfd, uint64_t *backoff_ns, int restart)
{
	if (restart)
		*backoff_ns = CHAN_RETRY_MIN_NS;
	wave_timerfd_at(tfd, wave_now_ns() + *backoff_ns);
	*backoff_ns = *backoff_ns * 2 > CHAN_RETRY_MAX_NS ? CHAN_RETRY_MAX_NS : *backoff_ns * 2;
}

int chan_check_hello(struct chan *ch, struct wave_msg *m, enum wave_role want_role,
		     int check_generation)
{
	enum chan_reject r = CHAN_REJ_HELLO;
	char why[160];
	int ret;

	wave_msg_from_wire(m);
	ret = wave_msg_check(m, why, sizeof(why));
	if (!ret && m->h.type != WAVE_MSG_HELLO) {
		snprintf(why, sizeof(why), "expected HELLO, got %s", wave_msg_type_name(m->h.type));
		ret = -EPROTO;
	}
	if (!ret && m->p.hello.role != want_role) {
		snprintf(why, sizeof(why), "peer says it is %s, expected %s",
			 m->p.hello.role == WAVE_ROLE_HOST ? "a host" : "an agent",
			 want_role == WAVE_ROLE_HOST ? "a host" : "an agent");
		ret = -EPROTO;
	}
	if (!ret && check_generation && m->p.hello.generation != ch->generation) {
		snprintf(why, sizeof(why), "peer answered generation %llu, offered %llu",
			 (unsigned long long)m->p.hello.generation,
			 (unsigned long long)ch->generation);
		r = CHAN_REJ_GENERATION;
		ret = -EPROTO;
	}
	if (ret)
		chan_reject(ch, r, "%s", why);
	return ret;
}

static const char *const reject_names[CHAN_REJ_MAX] = {
	[CHAN_REJ_HELLO] = "hello", [CHAN_REJ_GENERATION] = "generation",
	[CHAN_REJ_BUSY] = "busy", [CHAN_REJ_ATTACH] = "attach",
	[CHAN_REJ_UNSEALED] = "unsealed", [CHAN_REJ_REGION] = "region",
	[CHAN_REJ_AUTH] = "auth", [CHAN_REJ_CREDENTIALS] = "credentials",
	[CHAN_REJ_TIMEOUT] = "timeout",
};

const char *chan_reject_name(enum chan_reject r)
{
	return r < CHAN_REJ_MAX ? reject_names[r] : "?";
}

void chan_reject(struct chan *ch, enum chan_reject r, const char *fmt, ...)
{
	va_list ap;

	ch->st.hello_rejected++;
	ch->st.rejected[r]++;
	va_start(ap, fmt);
	vsnprintf(ch->st.last_reject, sizeof(ch->st.last_reject), fmt, ap);
	va_end(ap);
	wave_log_rl(WAVE_LOG_ERR, "%s: peer refused at attach (%s): %s", ch->label,
		    chan_reject_name(r), ch->st.last_reject);
}

void chan_make_hello(struct chan *ch, struct wave_msg *m, uint32_t ring_slots)
{
	wave_msg_hello(m, (enum wave_role)ch->opts.role, ch->instance, ch->generation, ring_slots);
	if (ch->opts.timestamps || ch->opts.link_delay_ns)
		m->p.hello.features |= WAVE_FEAT_TIMESTAMPS;
	m->p.hello.features |= ch->opts.features & WAVE_FEAT_KNOWN;
	ch->our_features = m->p.hello.features;
}

void chan_peer_up(struct chan *ch, uint64_t gen, const struct wave_msg *hello)
{
	ch->up = 1;
	ch->stamp = !!(hello->p.hello.features & WAVE_FEAT_TIMESTAMPS);
	ch->generation = gen;
	ch->peer_instance = hello->p.hello.instance;
	ch->peer_hello = *hello;
	ch->hello_pending = 1;
	ch->st.attaches++;
	wave_log_rl(WAVE_LOG_INFO, "%s: peer attached: generation %llu, peer instance %016llx",
		    ch->label, (unsigned long long)gen, (unsigned long long)ch->peer_instance);
}

void chan_peer_down(struct chan *ch, const char *why)
{
	if (!ch->up)
		return;
	ch->up = 0;
	ch->hello_pending = 0;
	ch->delay_armed_for = 0;
	wave_timerfd_at(ch->delay_tfd, 0);
	ch->st.detaches++;
	wave_log_rl(WAVE_LOG_INFO, "%s: peer detached (generation %llu): %s", ch->label,
		    (unsigned long long)ch->generation, why);
}

static const struct chan_transport_ops *const transports[] = {
	&chan_shm_ops,
	&chan_tcp_ops,
};

int chan_open(const char *uri, const struct chan_opts *o, struct chan **out)
{
	const struct chan_transport_ops *ops = NULL;
	struct chan *ch;
	size_t i;
	int ret;

	for (i = 0; uri && i < sizeof(transports) / sizeof(transports[0]); i++)
		if (strncmp(uri, transports[i]->scheme, strlen(transports[i]->scheme)) == 0)
			ops = transports[i];
	if (!ops) {
		wave_err("channel URI '%s': unknown scheme (use shm:NAME or tcp://HOST:PORT)",
			 uri ? uri : "");
		return -EINVAL;
	}
	if (o->role != CHAN_HOST && o->role != CHAN_AGENT)
		return -EINVAL;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->ops = ops;
	ch->opts = *o;
	ch->label = o->label ? o->label : "chan";
	ch->open_ns = wave_now_ns();
	if (getrandom(&ch->instance, sizeof(ch->instance), 0) != sizeof(ch->instance))
		ch->instance = ch->open_ns ^ ((uint64_t)getpid() << 32);
	ch->epfd = epoll_create1(EPOLL_CLOEXEC);
	ch->delay_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (ch->epfd < 0 || ch->delay_tfd < 0) {
		ret = -errno;
		goto err_fds;
	}
	ret = chan_epoll_add(ch, ch->delay_tfd, EPOLLIN, CHAN_TAG_DELAY);
	if (ret)
		goto err_fds;
	ret = ops->open(ch, uri + strlen(ops->scheme));
	if (ret)
		goto err_fds;
	*out = ch;
	return 0;

err_fds:
	if (ch->delay_tfd >= 0)
		close(ch->delay_tfd);
	if (ch->epfd >= 0)
		close(ch->epfd);
	free(ch);
	return ret;
}

void chan_close(struct chan *ch)
{
	if (!ch)
		return;
	ch->ops->close(ch);
	close(ch->delay_tfd);
	close(ch->epfd);
	free(ch);
}

static int fault_active(const struct chan *ch, enum chan_fault_kind kind, uint64_t now)
{
	uint64_t t = now - ch->open_ns;
	unsigned int i;

	for (i = 0; i < ch->opts.nr_faults; i++) {
		const struct chan_fault *f = &ch->opts.faults[i];

		if (f->kind == kind && t >= f->at_ns && t - f->at_ns < f->len_ns)
			return 1;
	}
	return 0;
}

int chan_fault_now(const struct chan *ch, enum chan_fault_kind kind)
{
	return fault_active(ch, kind, wave_now_ns());
}

int chan_shared_fd(const struct chan *ch, unsigned int i)
{
	if (!ch->up || i >= CHAN_SHARE_FDS || !ch->ops->shared_fd)
		return -1;
	return ch->ops->shared_fd(ch, i);
}

static int is_heartbeat(const struct wave_msg *m)
{
	return m->h.type == WAVE_MSG_HEARTBEAT || m->h.type == WAVE_MSG_HEARTBEAT_ECHO;
}

void chan_drop(struct chan *ch, const char *why)
{
	if (!ch->up)
		return;
	ch->ops->drop(ch);
	chan_peer_down(ch, why);
}

void chan_protocol_error(struct chan *ch, const char *what)
{
	ch->st.proto_errors++;
	wave_log_rl(WAVE_LOG_ERR, "%s: %s: dropping generation %llu", ch->label, what,
		    (unsigned long long)ch->generation);
	chan_drop(ch, what);
}

/* Sends with heartbeats filtered out; dropped ones count as sent. */
static int send_dropping_hb(struct chan *ch, const struct wave_msg *m, unsigned int n,
			    uint64_t now)
{
	unsigned int i = 0, run;
	int ret;

	while (i < n) {
		if (is_heartbeat(&m[i])) {
			ch->st.fault_dropped_hb++;
			i++;
			continue;
		}
		for (run = 0; i + run < n && !is_heartbeat(&m[i + run]); run++)
			;
		ret = ch->ops->send(ch, &m[i], run, now);
		if (ret < 0)
			return ret;
		i += (unsigned int)ret;
		if ((unsigned int)ret < run)
			break;
	}
	return (int)i;
}

/* Index of the first message the channel refuses to carry, or n. */
static inline unsigned int first_foreign(const struct wave_msg *msgs, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (unlikely(msgs[i].h.type <= WAVE_MSG_HELLO || msgs[i].h.type >= WAVE_MSG_TYPE_MAX))
			break;
	return i;
}

/* Everything but the common case: not attached, refused types, timestamps, faults. */
static __attribute__((noinline)) int send_slow(struct chan *ch,
						     const struct wave_msg *msgs,
						     unsigned int n)
{
	unsigned int ok = first_foreign(msgs, n);
	uint64_t now;

	if (!ch->up) {
		ch->st.tx_notconn++;
		return -ENOTCONN;
	}
	if (ok < n) {
		wave_log_rl(WAVE_LOG_ERR, "%s: refusing to send message %u of type %u (%s)",
			    ch->label, ok, msgs[ok].h.type, wave_msg_type_name(msgs[ok].h.type));
		if (ok == 0)
			return -EINVAL;
		n = ok;
	}
	now = ch->stamp ? wave_clock_now(&ch->clock) : 0;
	if (!ch->opts.nr_faults)
		return ch->ops->send(ch, msgs, n, now);
	if (fault_active(ch, CHAN_FAULT_STALL, wave_now_ns())) {
		ch->st.fault_stalled++;
		return 0;
	}
	if (fault_active(ch, CHAN_FAULT_DROP_HB, wave_now_ns()))
		return send_dropping_hb(ch, msgs, n, now);
	return ch->ops->send(ch, msgs, n, now);
}

/*
 * The common case stays small on purpose: every register it saves and every
 * call level it adds is a store queued behind the slot stores, and at one
 * message per call those queue entries are what limits a sender.
 */
int chan_send_batch(struct chan *ch, const struct wave_msg *msgs, unsigned int n)
{
	if (likely(ch->up && !ch->opts.nr_faults && !ch->stamp && first_foreign(msgs, n) == n))
		return ch->ops->send(ch, msgs, n, 0);
	return send_slow(ch, msgs, n);
}

int chan_send(struct chan *ch, const struct wave_msg *msg)
{
	int ret = chan_send_batch(ch, msg, 1);

	return ret == 1 ? 0 : ret == 0 ? -EAGAIN : ret;
}

int chan_send_quiet(struct chan *ch, const struct wave_msg *msg)
{
	int ret;

	ch->quiet = 1;
	ret = chan_send(ch, msg);
	ch->quiet = 0;
	if (!ret)
		ch->st.tx_quiet++;
	return ret;
}

int chan_echo(struct chan *ch, const struct wave_msg *hb, uint64_t hold_ns,
	      struct wave_msg *echo)
{
	*echo = *hb;
	echo->h.type = WAVE_MSG_HEARTBEAT_ECHO;
	echo->p.hb.hold_ns = hold_ns < WAVE_HB_MAX_HOLD_NS ? hold_ns : WAVE_HB_MAX_HOLD_NS;
	return hb->p.hb.flags & WAVE_HB_PROMPT ? chan_send(ch, echo) : chan_send_quiet(ch, echo);
}

static uint64_t visible_limit(const struct chan *ch)
{
	uint64_t now;

	if (!ch->opts.link_delay_ns)
		return UINT64_MAX;
	now = wave_clock_now(&ch->clock);
	return now > ch->opts.link_delay_ns ? now - ch->opts.link_delay_ns : 0;
}

/*
 * A message is held back by the emulated link: make the channel fd readable
 * when it becomes visible. The timer is re-armed only if it is idle or set
 * for later: a timer set for an earlier time has fired (or will) and keeps
 * the fd readable until chan_process() reads it, so no wake-up is lost, and
 * a busy-polling receiver makes no timer system call per message.
 */
static void note_held(struct chan *ch, uint64_t held_ts)
{
	uint64_t due = held_ts + ch->opts.link_delay_ns, now;

	if (!held_ts)
		return;
	ch->st.rx_held++;
	if (ch->delay_armed_for && ch->delay_armed_for <= due)
		return;
	ch->delay_armed_for = due;
	/* The timer runs on CLOCK_MONOTONIC; due is in channel-clock ns. */
	now = wave_clock_now(&ch->clock);
	wave_timerfd_at(ch->delay_tfd, wave_now_ns() + (due > now ? due - now : 0));
}

/* Converts, validates and compacts received messages in place. */
static unsigned int admit(struct chan *ch, struct wave_msg *m, unsigned int n)
{
	unsigned int i, kept = 0;
	char why[160];

	for (i = 0; i < n; i++) {
		wave_msg_from_wire(&m[i]);
		if (unlikely(wave_msg_check(&m[i], why, sizeof(why)) ||
			     m[i].h.type == WAVE_MSG_HELLO)) {
			ch->st.rx_invalid++;
			wave_log_rl(WAVE_LOG_WARN, "%s: dropped invalid message (seq %u): %s",
				    ch->label, m[i].h.seq, m[i].h.type == WAVE_MSG_HELLO ?
				    "HELLO in the middle of a generation" : why);
			continue;
		}
		if (kept != i)
			m[kept] = m[i];
		kept++;
	}
	return kept;
}

int chan_recv(struct chan *ch, struct wave_msg *out, unsigned int max)
{
	unsigned int got = 0;
	uint64_t held;
	int ret;

	if (unlikely(!ch->up))
		return -ENOTCONN;
	if (unlikely(!max))
		return 0;
	if (unlikely(ch->hello_pending)) {
		out[got++] = ch->peer_hello;
		ch->hello_pending = 0;
	}
	ret = ch->ops->recv(ch, out + got, max - got, visible_limit(ch), &held);
	if (unlikely(ret < 0)) {
		chan_protocol_error(ch, "peer broke the message stream");
		return got ? (int)got : -ENOTCONN;
	}
	if (unlikely(held))
		note_held(ch, held);
	if (ret) {
		ret = (int)admit(ch, out + got, (unsigned int)ret);
		ch->st.rx_msgs += (unsigned int)ret;
		ch->st.rx_batches++;
	}
	return (int)got + ret;
}

int chan_fd(const struct chan *ch)
{
	return ch->epfd;
}

static void dispatch(struct chan *ch, const struct epoll_event *ev, int n)
{
	uint64_t v;
	int i;

	for (i = 0; i < n; i++) {
		if (ev[i].data.u32 == CHAN_TAG_DELAY) {
			if (read(ch->delay_tfd, &v, sizeof(v)) == sizeof(v))
				ch->delay_armed_for = 0;
			continue;
		}
		ch->ops->event(ch, (enum chan_tag)ev[i].data.u32, ev[i].events);
	}
}

int chan_process(struct chan *ch)
{
	struct epoll_event ev[8];
	int n;

	do {
		n = epoll_wait(ch->epfd, ev, 8, 0);
		if (n < 0)
			return errno == EINTR ? 0 : -errno;
		dispatch(ch, ev, n);
	} while (n == 8);
	return 0;
}

static int ready(struct chan *ch)
{
	uint64_t held;
	int r;

	if (!ch->up)
		return 0;
	if (ch->hello_pending)
		return 1;
	r = ch->ops->ready(ch, visible_limit(ch), &held);
	if (r < 0) {
		chan_protocol_error(ch, "peer broke the message stream");
		return 0;
	}
	if (!r && held)
		note_held(ch, held);
	return r;
}

/*
 * Polls until a message is ready or spin_end; 1 if ready. The peer is asked
 * for a doorbell (arm) from the start of the spin, so the spin doubles as
 * the settle window that makes the fence-free sender safe (ring.h).
 */
static int spin(struct chan *ch, uint64_t spin_end)
{
	int armed = ch->ops->arm(ch);

	while (!armed || wave_now_ns() < spin_end) {
		if (ready(ch) || !ch->up) {
			if (ch->up)
				ch->ops->disarm(ch);
			return ch->up;
		}
		armed = 1;
		wave_cpu_relax();
	}
	return 0;
}

/* Spins, then sleeps until a message, an event, or timeout (as epoll_pwait2's; NULL: forever). */
static int wait_for(struct chan *ch, const struct timespec *timeout)
{
	struct epoll_event ev[8];
	uint64_t spin_ns;
	int n, r;

	if (ready(ch))
		return 1;
	if (ch->up) {
		spin_ns = ch->opts.spin_ns > RING_SETTLE_NS ? ch->opts.spin_ns : RING_SETTLE_NS;
		if (spin(ch, wave_now_ns() + spin_ns))
			return 1;
	}
	n = epoll_pwait2(ch->epfd, ev, 8, timeout, NULL);
	if (ch->up)
		ch->ops->disarm(ch);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	dispatch(ch, ev, n);
	r = chan_process(ch);
	if (r)
		return r;
	return ready(ch);
}

int chan_wait(struct chan *ch, int timeout_ms)
{
	struct timespec t = { .tv_sec = timeout_ms / 1000, .tv_nsec = (timeout_ms % 1000) * 1000000L };

	return wait_for(ch, timeout_ms < 0 ? NULL : &t);
}

int chan_wait_until(struct chan *ch, uint64_t deadline_ns)
{
	uint64_t now = wave_now_ns(), d = deadline_ns > now ? deadline_ns - now : 0;
	struct timespec t = { .tv_sec = (time_t)(d / WAVE_NSEC_PER_SEC),
			      .tv_nsec = (long)(d % WAVE_NSEC_PER_SEC) };

	return wait_for(ch, &t);
}

int chan_prepare_sleep(struct chan *ch)
{
	if (!ch->up)
		return 0;
	if (ready(ch))
		return 1;
	return ch->ops->arm(ch) ? 1 : 0;
}

int chan_is_up(const struct chan *ch)
{
	return ch->up;
}

uint64_t chan_peer_features(const struct chan *ch)
{
	return ch->peer_hello.p.hello.features;
}

uint64_t chan_features(const struct chan *ch)
{
	return ch->up ? ch->our_features & ch->peer_hello.p.hello.features : 0;
}

uint64_t chan_generation(const struct chan *ch)
{
	return ch->generation;
}

const struct chan_stats *chan_get_stats(const struct chan *ch)
{
	return &ch->st;
}
