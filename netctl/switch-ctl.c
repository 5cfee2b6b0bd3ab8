// SPDX-License-Identifier: BSD-3-Clause
/*
 * wave-switch's control socket: a unix stream socket (mode 0600: only the
 * switch's user steers it), one request line per connection, one JSON
 * reply line, then the switch closes. Requests:
 *   stats                               every port's counters, the loop's
 *   add-vm NAME SOCKET [latency|batch]  a vhost-user port for a VM
 *   del-vm NAME
 *   rate NAME from|to|both BYTES_S BURST_BYTES   0 BYTES_S: unmetered
 *   class NAME latency|batch
 * Errors: {"error":"..."} naming the bad field. The request must arrive
 * whole within CTL_TIMEOUT_MS: a client that connects and says nothing,
 * or trickles, cannot hold the forwarding thread for longer than that.
 *
 * Alternative rejected: shared memory counters read by waved without a
 * syscall. waved reads them once per export tick at most, and a socket
 * keeps the switch's memory its own (a crashed reader cannot corrupt it).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <poll.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "channel/wire.h"
#include "common/log.h"
#include "common/parse.h"
#include "netctl/switch.h"

#define CTL_REQ_MAX   512
#define CTL_REPLY_MAX (64 * 1024)
#define CTL_TIMEOUT_MS 100
/* The same bounds as the channel's SET_NET_RATE (channel/wire.h). */
#define CTL_MAX_BYTES_S WAVE_NET_MAX_RATE
#define CTL_MAX_BURST ((unsigned long long)WAVE_NET_MAX_BURST)

struct reply {
	char buf[CTL_REPLY_MAX];
	size_t len;
};

static void put(struct reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct reply *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->len >= sizeof(r->buf))
		return;
	va_start(ap, fmt);
	n = vsnprintf(r->buf + r->len, sizeof(r->buf) - r->len, fmt, ap);
	va_end(ap);
	r->len = n < 0 ? r->len : r->len + (size_t)n;
	if (r->len >= sizeof(r->buf))
		r->len = sizeof(r->buf) - 1; /* truncated: never past the buffer */
}

static int fail(struct reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct reply *r, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->len = 0;
	put(r, "{\"error\":\"%s\"}", msg); /* msg never holds '"': callers quote nothing */
	return -EINVAL;
}

static void stats(struct sw *sw, struct reply *r)
{
	sw_links_refresh(sw); /* a guest that left is not asked for its queue */
	double up_s = (double)(rte_rdtsc() - sw->started_tsc) / (double)sw->hz;

	put(r, "{\"uptime_s\":%.3f,\"rounds\":%" PRIu64 ",\"busy_rounds\":%" PRIu64
	       ",\"sleeps\":%" PRIu64 ",\"wakeups\":%" PRIu64 ",\"mac_entries\":%u"
	       ",\"mac_full\":%" PRIu64 ",\"mac_moves\":%" PRIu64 ",\"ports\":[",
	    up_s, sw->rounds, sw->busy_rounds, sw->sleeps, sw->wakeups, sw->mac.n,
	    sw->mac.full, sw->mac.moves);
	for (unsigned int i = 0; i < sw->nports; i++) {
		const struct sw_port *p = sw->port[i];
		const struct sw_counters *c = &p->c;
		int backlog = sw_port_backlog(p);

		put(r, "%s{\"name\":\"%s\",\"kind\":\"%s\",\"class\":\"%s\",\"up\":%s,"
		       "\"rx_pkts\":%" PRIu64 ",\"rx_bytes\":%" PRIu64 ",\"tx_pkts\":%" PRIu64
		       ",\"tx_bytes\":%" PRIu64 ",\"drop_meter_from\":%" PRIu64
		       ",\"drop_meter_to\":%" PRIu64 ",\"held\":%" PRIu64 ",\"drop_full\":%" PRIu64 ",\"drop_down\":%" PRIu64
		       ",\"drop_bad\":%" PRIu64 ",\"flooded\":%" PRIu64 ",\"backlog\":%d"
		       ",\"connects\":%" PRIu64 ",\"disconnects\":%" PRIu64 ",\"wakeups\":%" PRIu64
		       ",\"rate_from\":%" PRIu64 ",\"burst_from\":%" PRIu64
		       ",\"rate_to\":%" PRIu64 ",\"burst_to\":%" PRIu64 "}",
		    i ? "," : "", p->name, p->kind == SW_VM ? "vm" : "host",
		    p->cls == SW_LATENCY ? "latency" : "batch", p->up ? "true" : "false",
		    c->rx_pkts, c->rx_bytes, c->tx_pkts, c->tx_bytes, c->drop_meter[SW_FROM_VM],
		    c->drop_meter[SW_TO_VM], c->held, c->drop_full, c->drop_down, c->drop_bad, c->flooded,
		    backlog < 0 ? -1 : backlog, c->connects, c->disconnects, c->wakeups,
		    p->meter[SW_FROM_VM].rate, p->meter[SW_FROM_VM].rate ? p->meter[SW_FROM_VM].burst : 0,
		    p->meter[SW_TO_VM].rate, p->meter[SW_TO_VM].rate ? p->meter[SW_TO_VM].burst : 0);
	}
	put(r, "]}");
}


static int parse_class(const char *s, enum sw_class *c)
{
	if (!s || !strcmp(s, "batch"))
		*c = SW_BATCH;
	else if (!strcmp(s, "latency"))
		*c = SW_LATENCY;
	else
		return -EINVAL;
	return 0;
}

static int do_rate(struct sw *sw, char **tok, int ntok, struct reply *r)
{
	struct sw_port *p;
	uint64_t rate, burst;
	int from, to;

	if (ntok != 5)
		return fail(r, "usage: rate NAME from|to|both BYTES_S BURST_BYTES");
	if (!(p = sw_port_find(sw, tok[1])) || p->kind != SW_VM)
		return fail(r, "no VM port named %s", sw_name_ok(tok[1]) ? tok[1] : "(bad name)");
	from = !strcmp(tok[2], "from") || !strcmp(tok[2], "both");
	to = !strcmp(tok[2], "to") || !strcmp(tok[2], "both");
	if (!from && !to)
		return fail(r, "direction must be from, to or both");
	if (wave_parse_u64("rate", tok[3], 0, CTL_MAX_BYTES_S, &rate) ||
	    wave_parse_u64("burst", tok[4], 0, CTL_MAX_BURST, &burst))
		return fail(r, "rate must be 0..%llu bytes/s, burst 0..%llu bytes",
			    CTL_MAX_BYTES_S, CTL_MAX_BURST);
	if (rate && burst < WAVE_NET_MIN_BURST)
		return fail(r, "a burst under one frame (1514 bytes) passes nothing");
	if ((from && sw_meter_set(p, SW_FROM_VM, rate, burst)) ||
	    (to && sw_meter_set(p, SW_TO_VM, rate, burst)))
		return fail(r, "rte_meter refused rate %s burst %s", tok[3], tok[4]);
	put(r, "{\"ok\":true}");
	return 0;
}

static int request(struct sw *sw, char *line, struct reply *r)
{
	char *tok[8], *save = NULL;
	int n = 0;
	enum sw_class cls;
	struct sw_port *p;

	for (char *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (n == 8)
			return fail(r, "too many words");
		tok[n++] = t;
	}
	if (!n)
		return fail(r, "empty request");
	if (!strcmp(tok[0], "stats") && n == 1) {
		stats(sw, r);
		return 0;
	}
	if (!strcmp(tok[0], "rate"))
		return do_rate(sw, tok, n, r);
	if (n < 2 || !sw_name_ok(tok[1]))
		return fail(r, "%s: needs a VM name of letters, digits, '-', '_', '.'", 
			    sw_name_ok(tok[0]) ? tok[0] : "request");
	if (!strcmp(tok[0], "add-vm") && (n == 3 || n == 4)) {
		if (parse_class(n == 4 ? tok[3] : NULL, &cls))
			return fail(r, "class must be latency or batch");
		if (sw_port_add_vm(sw, tok[1], tok[2], cls))
			return fail(r, "cannot add a port for %s (see the switch's log)", tok[1]);
		put(r, "{\"ok\":true}");
		return 0;
	}
	if (!(p = sw_port_find(sw, tok[1])) || p->kind != SW_VM)
		return fail(r, "no VM port named %s", tok[1]);
	if (!strcmp(tok[0], "del-vm") && n == 2) {
		sw_port_remove(sw, p);
		put(r, "{\"ok\":true}");
		return 0;
	}
	if (!strcmp(tok[0], "class") && n == 3) {
		if (parse_class(tok[2], &cls))
			return fail(r, "class must be latency or batch");
		p->cls = cls;
		sw_ports_sort(sw);
		put(r, "{\"ok\":true}");
		return 0;
	}
	return fail(r, "unknown request (stats, add-vm, del-vm, rate, class)");
}

/*
 * Reads one request line within CTL_TIMEOUT_MS in all (not per read: a
 * client that trickles bytes cannot hold the forwarding thread longer).
 * Returns the line's length (the newline replaced by NUL), or -1.
 */
static ssize_t read_request(int fd, char *line, size_t size)
{
	uint64_t end = rte_get_tsc_cycles() + rte_get_tsc_hz() / 1000 * CTL_TIMEOUT_MS;
	size_t len = 0;
	char *eol = NULL;

	while (len + 1 < size && !eol) {
		uint64_t now = rte_get_tsc_cycles();
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t got;

		int ready;

		if (now >= end)
			return -1;
		/* net_tap's SIGIO interrupts system calls here: EINTR is not the client's doing. */
		ready = poll(&pfd, 1, (int)((end - now) * 1000 / rte_get_tsc_hz()) + 1);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0)
			return -1;
		if ((got = read(fd, line + len, size - 1 - len)) < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		eol = memchr(line + len, '\n', (size_t)got);
		len += (size_t)got;
	}
	if (!eol || memchr(line, 0, (size_t)(eol - line)))
		return -1; /* too long, cut short, or a NUL inside */
	*eol = 0;
	return eol - line;
}

void sw_ctl_accept(struct sw *sw)
{
	static struct reply r;
	char line[CTL_REQ_MAX + 1];
	int fd;

	while ((fd = accept4(sw->ctl_fd, NULL, NULL, SOCK_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (fd < 0)
		return;
	r.len = 0;
	if (read_request(fd, line, sizeof(line)) < 0)
		fail(&r, "a request is one line of at most %d bytes without NUL, ended by a newline, "
		     "sent within %d ms", CTL_REQ_MAX - 1, CTL_TIMEOUT_MS);
	else
		request(sw, line, &r);
	put(&r, "\n");
	/* The client may be gone: no SIGPIPE, and a full socket is not waited on. */
	while (send(fd, r.buf, r.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno == EINTR)
		;
	close(fd);
}

/* The run directory may not exist yet on a fresh host; one level is made. */
static void mkdir_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) && slash != dir) {
		*slash = 0;
		mkdir(dir, 0755);
	}
}

int sw_ctl_open(struct sw *sw)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(sw->cfg.ctl_path) >= sizeof(a.sun_path)) {
		wave_log(WAVE_LOG_ERR, "control socket path too long: %s", sw->cfg.ctl_path);
		return -ENAMETOOLONG;
	}
	strcpy(a.sun_path, sw->cfg.ctl_path);
	mkdir_parent(a.sun_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return -errno;
	unlink(a.sun_path);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || chmod(a.sun_path, 0600) ||
	    listen(fd, 8)) {
		int err = errno;

		wave_log(WAVE_LOG_ERR, "control socket %s: %s", a.sun_path, strerror(err));
		close(fd);
		return -err;
	}
	sw->ctl_fd = fd;
	return 0;
}

void sw_ctl_close(struct sw *sw)
{
	if (sw->ctl_fd >= 0) {
		close(sw->ctl_fd);
		unlink(sw->cfg.ctl_path);
		sw->ctl_fd = -1;
	}
}
