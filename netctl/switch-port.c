// SPDX-License-Identifier: BSD-3-Clause
/*
 * wave-switch's ports: the EAL, the host's tap port and one net_vhost
 * port per VM, each with one queue pair, Rx interrupts on, created at
 * run time (rte_eal_hotplug_add) so VMs come and go without a restart.
 *
 * Interrupts: the switch sleeps in its own epoll (with its control
 * socket, signals and link events), not in DPDK's rte_epoll_wait. For the
 * tap, the fd is the PMD's Rx interrupt fd, the queue's own fd: readable
 * while frames wait, nothing to turn on, never read by anyone but the
 * PMD. For a VM it is the guest's kick eventfd on the vring the guest
 * transmits on, with the guest asked to kick only while the switch
 * sleeps (rte_vhost_enable_guest_notification); the switch drains it.
 * net_vhost's own Rx interrupts were rejected: they re-register the kick
 * fd in DPDK's per-thread epoll from the vhost thread each time the guest
 * re-sends it, which an epoll of our own cannot follow.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_eal.h>
#include <rte_eth_vhost.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_vhost.h>

#include "common/log.h"
#include "netctl/switch.h"

#define SW_RING     512
#define SW_MBUFS    4095
#define SW_MBUF_CACHE 64
#define SW_GUEST_TXQ  1 /* virtio-net's first transmit queue: vring 1 */

int sw_eal_init(struct sw *sw, const char *prog)
{
	char mem[16], prefix[64];
	char *argv[] = { (char *)prog, "--no-huge", "-m", mem, "--no-pci", "--no-shconf",
			 "--no-telemetry", "--file-prefix", prefix, "--log-level", "lib.*:warning",
			 "--log-level", "pmd.*:warning", "-l", "0", NULL };
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1, ret;

	snprintf(mem, sizeof(mem), "%u", sw->cfg.mem_mib);
	snprintf(prefix, sizeof(prefix), "wave-switch-%d", (int)getpid());
	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		wave_log(WAVE_LOG_ERR, "DPDK's EAL did not start: %s", rte_strerror(rte_errno));
		return -rte_errno ? -rte_errno : -EIO;
	}
	sw->hz = rte_get_tsc_hz();
	sw->pool = rte_pktmbuf_pool_create("sw_mbufs", SW_MBUFS, SW_MBUF_CACHE, 0,
					   RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (!sw->pool) {
		wave_log(WAVE_LOG_ERR, "no mbuf pool (%u mbufs in %u MiB): %s", SW_MBUFS,
			 sw->cfg.mem_mib, rte_strerror(rte_errno));
		rte_eal_cleanup();
		return -ENOMEM;
	}
	return 0;
}

/* net_vhost's thread: a guest connected or left. Only flags and rings. */
static int on_link(uint16_t port_id, enum rte_eth_event_type type, void *arg, void *ret_param)
{
	struct sw *sw = arg;
	uint64_t one = 1;

	if (port_id < SW_MAX_PORTS) {
		atomic_store(&sw->link_changed[port_id], 1);
		if (write(sw->evfd, &one, sizeof(one)) < 0)
			return 0; /* counter saturated: the loop is already due */
	}
	return 0;
}

static int port_setup(struct sw *sw, struct sw_port *p)
{
	/* Rx interrupts from the PMD for the tap only: see intr_fd_of(). */
	struct rte_eth_conf conf = { .intr_conf = { .rxq = p->kind == SW_HOST,
						    .lsc = p->kind == SW_VM } };
	int ret;

	if ((ret = rte_eth_dev_configure(p->port_id, 1, 1, &conf)) ||
	    (ret = rte_eth_rx_queue_setup(p->port_id, 0, SW_RING, (unsigned int)rte_socket_id(),
					  NULL, sw->pool)) ||
	    (ret = rte_eth_tx_queue_setup(p->port_id, 0, SW_RING, (unsigned int)rte_socket_id(),
					  NULL))) {
		wave_log(WAVE_LOG_ERR, "port %s: configure: %s", p->name, rte_strerror(-ret));
		return ret;
	}
	/* A guest's kick fd also changes when it re-sends a queue's state, link up or not. */
	if (p->kind == SW_VM &&
	    ((ret = rte_eth_dev_callback_register(p->port_id, RTE_ETH_EVENT_INTR_LSC, on_link, sw)) ||
	     (ret = rte_eth_dev_callback_register(p->port_id, RTE_ETH_EVENT_QUEUE_STATE, on_link,
						  sw)))) {
		wave_log(WAVE_LOG_ERR, "port %s: link events: %s", p->name, rte_strerror(-ret));
		return ret;
	}
	if ((ret = rte_eth_dev_start(p->port_id))) {
		wave_log(WAVE_LOG_ERR, "port %s: start: %s", p->name, rte_strerror(-ret));
		return ret;
	}
	if (p->kind == SW_HOST)
		rte_eth_promiscuous_enable(p->port_id);
	return 0;
}

/* Creates the vdev, finds its ethdev and sets the port up. On error nothing is left. */
static int port_create(struct sw *sw, struct sw_port *p, const char *dev, const char *args)
{
	uint16_t id;
	int ret;

	if (sw->nports == SW_MAX_PORTS) {
		wave_log(WAVE_LOG_ERR, "port %s: the switch has %u ports already", p->name,
			 SW_MAX_PORTS);
		return -ENOSPC;
	}
	if ((ret = rte_eal_hotplug_add("vdev", dev, args))) {
		wave_log(WAVE_LOG_ERR, "port %s: cannot create %s (%s): %s", p->name, dev, args,
			 rte_strerror(-ret));
		return ret;
	}
	if ((ret = rte_eth_dev_get_port_by_name(dev, &id)) || id >= SW_MAX_PORTS) {
		wave_log(WAVE_LOG_ERR, "port %s: %s made no usable ethdev", p->name, dev);
		rte_eal_hotplug_remove("vdev", dev);
		return ret ? ret : -ENOSPC;
	}
	p->port_id = id;
	p->intr_fd = -1;
	sw->by_id[id] = p;
	if ((ret = port_setup(sw, p))) {
		sw->by_id[id] = NULL;
		rte_eth_dev_close(id);
		rte_eal_hotplug_remove("vdev", dev);
		return ret;
	}
	sw->port[sw->nports++] = p;
	sw_ports_sort(sw);
	sw_port_refresh(sw, p);
	return 0;
}

static struct sw_port *port_alloc(const char *name, enum sw_kind kind)
{
	struct sw_port *p = aligned_alloc(RTE_CACHE_LINE_SIZE, sizeof(*p));

	if (p) {
		memset(p, 0, sizeof(*p));
		snprintf(p->name, sizeof(p->name), "%s", name);
		p->kind = kind;
		p->intr_fd = -1;
	}
	return p;
}

int sw_port_add_tap(struct sw *sw, const char *ifname)
{
	struct sw_port *p = port_alloc(ifname, SW_HOST);
	char args[64];
	int ret;

	if (!p)
		return -ENOMEM;
	p->cls = SW_LATENCY; /* the host's replies are never held behind a VM's */
	snprintf(args, sizeof(args), "iface=%s", ifname);
	if ((ret = port_create(sw, p, "net_tap_host", args)))
		free(p);
	return ret;
}

/*
 * QEMU runs as its own user (libvirt's qemu user): the socket gets the
 * group of the directory it is in and mode 0660, so whoever may enter
 * that directory's group (wavectl makes it root:QEMU's group, 0750) may
 * connect, and nobody else.
 */
static int socket_for_qemu(const struct sw_port *p)
{
	char dir[sizeof(p->path)];
	struct stat st;
	char *slash;

	snprintf(dir, sizeof(dir), "%s", p->path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = 0;
	else if (slash)
		*slash = 0;
	else
		snprintf(dir, sizeof(dir), ".");
	if (stat(dir, &st) || chown(p->path, (uid_t)-1, st.st_gid) || chmod(p->path, 0660)) {
		int err = errno;

		wave_log(WAVE_LOG_ERR, "VM %s: socket %s: %s", p->name, p->path, strerror(err));
		return -err;
	}
	return 0;
}

int sw_port_add_vm(struct sw *sw, const char *name, const char *path, enum sw_class cls)
{
	static unsigned int seq;
	char dev[32], args[160];
	struct sw_port *p;
	struct stat st;
	int ret;

	if (!sw_name_ok(name)) {
		wave_log(WAVE_LOG_ERR, "bad VM name '%.*s' (letters, digits, '-', '_', '.', at most %d)",
			 SW_NAME_MAX, name, SW_NAME_MAX - 1);
		return -EINVAL;
	}
	if (sw_port_find(sw, name)) {
		wave_log(WAVE_LOG_ERR, "VM %s has a port already", name);
		return -EEXIST;
	}
	if (!*path || strlen(path) >= sizeof(p->path) || strpbrk(path, ",= ")) {
		wave_log(WAVE_LOG_ERR, "VM %s: bad vhost-user socket path '%s' (at most %zu bytes, "
			 "no ',', '=' or spaces)", name, path, sizeof(p->path) - 1);
		return -EINVAL;
	}
	/* net_vhost binds the path and fails if anything is there: a socket left by a switch that died goes. */
	if (!lstat(path, &st) && S_ISSOCK(st.st_mode))
		unlink(path);
	if (!(p = port_alloc(name, SW_VM)))
		return -ENOMEM;
	p->cls = cls;
	snprintf(p->path, sizeof(p->path), "%s", path);
	snprintf(dev, sizeof(dev), "net_vhost_w%u", seq++);
	snprintf(args, sizeof(args), "iface=%s,queues=1", path);
	if ((ret = port_create(sw, p, dev, args)))
		free(p);
	else if ((ret = socket_for_qemu(p))) {
		sw_port_remove(sw, p);
	} else
		wave_log(WAVE_LOG_INFO, "VM %s: vhost-user socket %s (%s)", name, path,
			 cls == SW_LATENCY ? "latency" : "batch");
	return ret;
}

int sw_port_remove(struct sw *sw, struct sw_port *p)
{
	char dev[RTE_ETH_NAME_MAX_LEN];
	unsigned int i, j;

	if (p->intr_fd >= 0) {
		epoll_ctl(sw->epfd, EPOLL_CTL_DEL, p->intr_fd, NULL);
		close(p->intr_fd);
	}
	if (p->kind == SW_VM) {
		rte_eth_dev_callback_unregister(p->port_id, RTE_ETH_EVENT_INTR_LSC, on_link, sw);
		rte_eth_dev_callback_unregister(p->port_id, RTE_ETH_EVENT_QUEUE_STATE, on_link, sw);
	}
	mact_forget_port(&sw->mac, p->port_id);
	for (i = j = 0; i < sw->nports; i++)
		if (sw->port[i] != p)
			sw->port[j++] = sw->port[i];
	sw->nports = j;
	sw->by_id[p->port_id] = NULL;
	if (p->txn)
		rte_pktmbuf_free_bulk(p->tx, p->txn);
	if (rte_eth_dev_get_name_by_port(p->port_id, dev))
		dev[0] = 0;
	rte_eth_dev_stop(p->port_id);
	rte_eth_dev_close(p->port_id);
	if (dev[0])
		rte_eal_hotplug_remove("vdev", dev);
	free(p);
	return 0;
}

int sw_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= SW_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (!(*s == '-' || *s == '_' || *s == '.' || (*s >= '0' && *s <= '9') ||
		      (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
			return 0;
	return 1;
}

void sw_links_refresh(struct sw *sw)
{
	for (unsigned int i = 0; i < sw->nports; i++)
		if (atomic_load(&sw->link_changed[sw->port[i]->port_id]))
			sw_port_refresh(sw, sw->port[i]);
}

/* Only while the guest is there: the vhost library does not check a stale device id. */
int sw_port_backlog(const struct sw_port *p)
{
	if (!p->up || (p->kind == SW_VM && rte_eth_vhost_get_vid_from_port_id(p->port_id) < 0))
		return -1;
	return rte_eth_rx_queue_count(p->port_id, 0);
}

struct sw_port *sw_port_find(struct sw *sw, const char *name)
{
	for (unsigned int i = 0; i < sw->nports; i++)
		if (!strcmp(sw->port[i]->name, name))
			return sw->port[i];
	return NULL;
}

/* Latency-class ports first, then the rest; stable (insertion sort, few ports). */
void sw_ports_sort(struct sw *sw)
{
	for (unsigned int i = 1; i < sw->nports; i++) {
		struct sw_port *p = sw->port[i];
		unsigned int j = i;

		for (; j > 0 && sw->port[j - 1]->cls > p->cls; j--)
			sw->port[j] = sw->port[j - 1];
		sw->port[j] = p;
	}
}

/*
 * What wakes the switch for a port: the tap's queue fd (net_tap's Rx
 * interrupt, readable while frames wait), or the guest's kick eventfd of
 * the vring it transmits on, taken from the vhost library directly: the
 * PMD's own Rx interrupts re-register the fd in DPDK's per-thread epoll
 * from net_vhost's thread, which does not mix with an epoll of our own.
 */
static int intr_fd_of(const struct sw_port *p)
{
	struct rte_vhost_vring vr;
	int vid;

	if (p->kind == SW_HOST)
		return rte_eth_dev_rx_intr_ctl_q_get_fd(p->port_id, 0);
	vid = rte_eth_vhost_get_vid_from_port_id(p->port_id);
	if (vid < 0 || rte_vhost_get_vhost_vring(vid, SW_GUEST_TXQ, &vr))
		return -ENOENT;
	return vr.kickfd;
}

/* Asks the guest to kick (on) or not (off: the switch polls). The tap needs nothing. */
static int intr_set(const struct sw_port *p, int on)
{
	int vid;

	if (p->kind == SW_HOST)
		return 0;
	vid = rte_eth_vhost_get_vid_from_port_id(p->port_id);
	return vid < 0 ? -ENOTCONN : rte_vhost_enable_guest_notification(vid, SW_GUEST_TXQ, on);
}

/*
 * The port's queue interrupt fd, dup'ed: net_vhost closes and replaces a
 * guest's kick fd from its own thread whenever the guest re-sends it, and
 * the number may be reused before the switch hears of it. Its own copy
 * keeps the switch reading the eventfd it registered (stale at worst,
 * never another file). The copy is checked to be an eventfd for a VM
 * port: the number was taken from a table another thread writes.
 */
static int watch_intr(struct sw *sw, struct sw_port *p)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = p->port_id };
	char link[64], what[64];
	int fd = intr_fd_of(p), dup;
	ssize_t n;

	if (fd < 0 || (dup = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		wave_log(WAVE_LOG_DEBUG, "port %s: interrupt fd %d", p->name, fd);
		return -ENOENT;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dup);
	n = readlink(link, what, sizeof(what) - 1);
	what[n > 0 ? n : 0] = 0;
	wave_log(WAVE_LOG_DEBUG, "port %s: interrupt fd %d (%s)", p->name, fd, what);
	if ((p->kind == SW_VM && strcmp(what, "anon_inode:[eventfd]")) ||
	    epoll_ctl(sw->epfd, EPOLL_CTL_ADD, dup, &ev)) {
		close(dup);
		return -EINVAL;
	}
	p->intr_fd = dup;
	return 0;
}

/*
 * After a link change (and once at creation): is the guest there, and
 * which fd is its queue's interrupt now. A guest that left (paused,
 * restarting) keeps its addresses on its port until they age or move: its
 * frames are dropped and counted there (drop_down), not flooded to every
 * other VM as unknown ones would be. Removing the port forgets them.
 */
void sw_port_refresh(struct sw *sw, struct sw_port *p)
{
	struct rte_eth_link link = { 0 };
	int up;

	atomic_store(&sw->link_changed[p->port_id], 0);
	up = p->kind == SW_HOST ||
	     (!rte_eth_link_get_nowait(p->port_id, &link) && link.link_status);
	if (p->intr_fd >= 0) {
		epoll_ctl(sw->epfd, EPOLL_CTL_DEL, p->intr_fd, NULL);
		close(p->intr_fd);
		p->intr_fd = -1;
	}
	if (up != p->up) {
		if (up)
			p->c.connects++;
		else
			p->c.disconnects++;
		if (p->kind == SW_VM)
			wave_log(WAVE_LOG_INFO, "VM %s: guest %s", p->name,
				 up ? "connected" : "disconnected");
	}
	p->up = up;
	if (up && watch_intr(sw, p))
		/* Still forwarded, by polling: the loop never sleeps past a port it cannot hear. */
		wave_log(WAVE_LOG_WARN, "port %s: no Rx interrupt: polled", p->name);
}

/*
 * Turns every up port's Rx interrupt on (before sleeping) or off (after).
 * Returns the number of up ports that cannot wake the switch: if any,
 * it must not sleep for long.
 */
int sw_intr_arm(struct sw *sw, int on)
{
	int deaf = 0;

	for (unsigned int i = 0; i < sw->nports; i++) {
		struct sw_port *p = sw->port[i];

		int ret;

		if (!p->up)
			continue;
		ret = p->intr_fd < 0 ? -ENOENT : intr_set(p, on);
		if (ret) {
			wave_log_rl(WAVE_LOG_DEBUG, "port %s: Rx interrupt %s: %s", p->name,
				    on ? "on" : "off", rte_strerror(-ret));
			deaf++;
		}
	}
	return deaf;
}

void sw_intr_drain(struct sw_port *p)
{
	uint64_t n;

	if (p->kind == SW_VM && p->intr_fd >= 0 && read(p->intr_fd, &n, sizeof(n)) < 0)
		wave_log_rl(WAVE_LOG_DEBUG, "port %s: drain fd %d: %m", p->name, p->intr_fd);
}

void sw_close(struct sw *sw)
{
	while (sw->nports)
		sw_port_remove(sw, sw->port[sw->nports - 1]);
	if (sw->pool)
		rte_mempool_free(sw->pool);
	rte_eal_cleanup();
}
