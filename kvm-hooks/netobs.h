/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Observing the traffic of the VMs waved manages, on their taps: packets
 * and bytes each way (struct nettap_rec) and, where asked for, an event
 * when a packet reaches a guest after a quiet gap.
 *
 * Two backends behind one ops struct, as for threads (observe.h): BPF
 * (nettap.bpf.c on the taps' tc hooks: counters read from an mmapped array
 * without system calls, arrival events from a ring buffer) and sysfs (the
 * interfaces' kernel statistics, four small files per tap per read; no
 * events). netobs_open() tries BPF first and logs which one serves.
 *
 * Threading: one owner thread.
 */
#ifndef WAVE_KVM_HOOKS_NETOBS_H
#define WAVE_KVM_HOOKS_NETOBS_H

#include <stddef.h>
#include <stdint.h>

#include "common/parse.h"
#include "kvm-hooks/nettap.h"

struct netobs;

/*
 * @name:     "bpf" or "sysfs".
 * @open:     set the backend up; 0 or -errno (why says what failed).
 * @add:      start counting interface ifname (ifindex) in slot (free, <
 *            NETTAP_MAX_IFACES), from zero; notify: deliver arrivals after
 *            a quiet gap as events. 0 or -errno (why says what failed).
 * @del:      stop counting the interface in slot (it may be gone already).
 * @read:     the interface's counters now. 0 or -errno.
 * @fd:       (optional) pollable fd, readable when events are queued.
 * @poll:     (optional) deliver queued events to cb; returns how many.
 * @notify:   (optional) turn arrival events for slot on or off.
 * @close:    release everything (hooks come off the taps).
 */
struct netobs_ops {
	const char *name;
	int (*open)(struct netobs *n, char *why, size_t len);
	int (*add)(struct netobs *n, unsigned int slot, int notify, char *why, size_t len);
	void (*del)(struct netobs *n, unsigned int slot);
	int (*read)(struct netobs *n, unsigned int slot, struct nettap_rec *r);
	int (*fd)(const struct netobs *n);
	int (*poll)(struct netobs *n, void (*cb)(const struct nettap_event *ev, void *arg),
		    void *arg);
	void (*notify)(struct netobs *n, unsigned int slot, int on);
	void (*close)(struct netobs *n);
};

extern const struct netobs_ops netobs_bpf_ops;
extern const struct netobs_ops netobs_sysfs_ops;

enum netobs_backend { NETOBS_AUTO = 0, NETOBS_BPF, NETOBS_SYSFS, NETOBS_NONE };
/* Their names (common/parse.h): auto, bpf, sysfs, none. */
extern const struct wave_name netobs_backends[];

/*
 * Opens the requested backend (AUTO: BPF, else sysfs, logged; NONE is not
 * a backend: the caller observes nothing). Arrivals become events only
 * after at least quiet_ns without one. 0 or -errno.
 */
int netobs_open(enum netobs_backend want, uint64_t quiet_ns, struct netobs **out);
void netobs_close(struct netobs *n);
const char *netobs_name(const struct netobs *n);
/* WAVE_NET_SRC_* of the backend serving (channel/wire.h). */
int netobs_source(const struct netobs *n);

/*
 * Counts interface ifname; returns its slot (>= 0) or -errno (-ENODEV: no
 * such interface; -EEXIST: counted already).
 */
int netobs_add(struct netobs *n, const char *ifname, int notify);
void netobs_del(struct netobs *n, int slot);
int netobs_read(struct netobs *n, int slot, struct nettap_rec *r);
/* Pollable fd for arrival events, or -1 (the backend has none). */
int netobs_fd(const struct netobs *n);
int netobs_poll(struct netobs *n, void (*cb)(const struct nettap_event *ev, void *arg),
		void *arg);
void netobs_notify(struct netobs *n, int slot, int on);
/* The ifindex counted in slot, or 0 for a free slot. */
unsigned int netobs_ifindex(const struct netobs *n, int slot);
/* The interface in slot, for log lines. */
const char *netobs_ifname(const struct netobs *n, int slot);

/* Backend state; the ops above work on it. */
struct netobs {
	const struct netobs_ops *ops;
	unsigned char used[NETTAP_MAX_IFACES];
	unsigned int ifindex[NETTAP_MAX_IFACES];
	char ifname[NETTAP_MAX_IFACES][16];
	uint64_t quiet_ns;
	void *priv;
};

#endif
