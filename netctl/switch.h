/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wave-switch: the network data plane of Wave-VM, a DPDK application that
 * stands for the IPU's cores. Each managed VM's virtio-net reaches it
 * through vhost-user (the net_vhost PMD: the switch owns the socket,
 * QEMU connects), the host through a net_tap port; it switches frames
 * between them by learned MAC address, paces what each VM sends (a token
 * bucket that leaves frames in the guest's ring: backpressure, not loss),
 * polices what goes to it (rte_meter srTCM: rate and burst), serves
 * latency-class VMs first, and counts per VM. The control socket (switch-ctl.c) shows the counters and
 * takes rates.
 *
 * Threads: one forwarding thread (the process's main thread) owns every
 * structure here. net_vhost reports a guest that connects or leaves from
 * its own thread; that callback only raises a port's flag and rings an
 * eventfd (see sw.link_changed).
 *
 * Files: switch-port.c (EAL, ports, interrupts), switch-fwd.c (a burst:
 * learn, look up, meter, queue, send), switch-loop.c (polling and
 * sleeping), switch-ctl.c (control socket), switch-main.c (options).
 */
#ifndef WAVE_NETCTL_SWITCH_H
#define WAVE_NETCTL_SWITCH_H

#include <stdatomic.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_meter.h>

#include "netctl/mac-table.h"

#define SW_MAX_PORTS 64
#define SW_BURST     32
#define SW_NAME_MAX  48

enum sw_kind { SW_HOST, SW_VM };
enum sw_class { SW_LATENCY, SW_BATCH }; /* service order: latency first */
enum sw_dir { SW_FROM_VM, SW_TO_VM, SW_NR_DIRS };

/*
 * One direction of a VM's limit: rate 0 means none. SW_TO_VM polices with
 * the srTCM (prof, m); SW_FROM_VM paces with tokens (switch-fwd.c).
 */
struct sw_meter {
	uint64_t rate;   /* bytes per second */
	uint64_t burst;  /* bytes */
	struct rte_meter_srtcm_profile prof;
	struct rte_meter_srtcm m;
	int64_t tokens;  /* pace: bytes it may still send; below 0 after a read overdrew */
	uint64_t last;   /* pace: TSC of the last refill */
	uint64_t ready;  /* pace: TSC at which tokens reach half the burst (when below) */
};

/* Per port; "rx" is what the switch received from the port (a VM's sends). */
struct sw_counters {
	uint64_t rx_pkts, rx_bytes;
	uint64_t tx_pkts, tx_bytes;
	uint64_t drop_meter[SW_NR_DIRS]; /* over the VM's rate, by direction (to: police) */
	uint64_t held;           /* reads that left its pace under half a burst: its sends wait */
	uint64_t drop_full;      /* the port's ring was full (a guest not draining) */
	uint64_t drop_down;      /* for it while its guest was away (link down): not flooded */
	uint64_t drop_bad;       /* runt frames, frames looping back to their port */
	uint64_t flooded;        /* sent to every port: group or unknown address */
	uint64_t connects, disconnects;
	uint64_t wakeups;        /* the switch woke on this port's interrupt */
};

struct sw_port {
	char name[SW_NAME_MAX];  /* the VM's name, or the tap's */
	char path[108];          /* vhost-user socket (VM ports) */
	enum sw_kind kind;
	enum sw_class cls;
	uint16_t port_id;        /* the ethdev */
	int up;                  /* link up: the guest is connected (tap: always) */
	int intr_fd;             /* the queue's interrupt fd while up, else -1 */
	struct sw_meter meter[SW_NR_DIRS];
	struct sw_counters c;
	uint16_t txn;            /* frames queued for this port this round */
	struct rte_mbuf *tx[SW_BURST * 4];
};

struct sw_cfg {
	const char *tap;         /* host port's interface name */
	const char *ctl_path;    /* control socket */
	const char *pid_file;
	unsigned int mem_mib;    /* DPDK memory without hugepages */
	uint64_t poll_idle_ns;   /* poll this long with nothing before sleeping */
	uint64_t mac_age_ns;
};

struct sw {
	struct sw_cfg cfg;
	struct sw_port *port[SW_MAX_PORTS]; /* in service order once sorted */
	unsigned int nports;
	struct sw_port *by_id[SW_MAX_PORTS]; /* by ethdev port id */
	/*
	 * Set by net_vhost's thread (a guest came, left, or re-sent a queue),
	 * cleared by the loop before it looks. By port id, in the switch and
	 * not in the port: the callback may run while the loop frees a port.
	 */
	atomic_int link_changed[SW_MAX_PORTS];
	struct rte_mempool *pool;
	struct mac_table mac;
	int epfd;                /* ports' interrupts, control socket, signals, events */
	int evfd;                /* rung by net_vhost's thread */
	int ctl_fd, sig_fd;
	volatile int quit;
	uint64_t hz;             /* TSC ticks per second */
	/* the loop's own counters */
	uint64_t rounds, sleeps, wakeups, busy_rounds;
	uint64_t started_tsc;
};

/* switch-port.c */
int sw_eal_init(struct sw *sw, const char *prog);
int sw_port_add_tap(struct sw *sw, const char *ifname);
int sw_port_add_vm(struct sw *sw, const char *name, const char *path, enum sw_class cls);
int sw_port_remove(struct sw *sw, struct sw_port *p);
void sw_port_refresh(struct sw *sw, struct sw_port *p); /* after link_changed */
int sw_intr_arm(struct sw *sw, int on);  /* all up ports' rx interrupts */
void sw_intr_drain(struct sw_port *p);   /* after a wakeup on its fd */
struct sw_port *sw_port_find(struct sw *sw, const char *name);
void sw_links_refresh(struct sw *sw);      /* every port whose link_changed is set */
int sw_port_backlog(const struct sw_port *p); /* frames the guest queued, or -1 */
/* A port's name as it may appear in a reply: letters, digits, '-', '_', '.'; < SW_NAME_MAX. */
int sw_name_ok(const char *s);
void sw_ports_sort(struct sw *sw);
void sw_close(struct sw *sw);

/* switch-fwd.c */
int sw_meter_set(struct sw_port *p, enum sw_dir d, uint64_t rate, uint64_t burst);
/* The TSC at which the earliest paced port may send again, or 0 if none waits. */
uint64_t sw_pace_next(const struct sw *sw);
unsigned int sw_rx_port(struct sw *sw, struct sw_port *p, uint64_t now_tsc);
void sw_flush(struct sw *sw);

/* switch-loop.c */
int sw_run(struct sw *sw);

/* switch-ctl.c */
int sw_ctl_open(struct sw *sw);
void sw_ctl_accept(struct sw *sw);
void sw_ctl_close(struct sw *sw);

#endif
