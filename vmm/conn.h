/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The libvirt connection layer: which VMs run on this host, what each one
 * is made of (QEMU process, vCPU threads, emulator and I/O threads, cgroup
 * directories, taps, Wave metadata), and when they start and stop.
 *
 * libvirt's event loop (Wave's own, vmm/evloop.h: it lets a connection
 * for synchronous calls go without a watch) runs on a thread of its own;
 * its lifecycle callbacks only queue events and make vmm_conn_fd()
 * readable, so the owner (waved's epoll loop, wavectl) handles them on its
 * own thread and never blocks in a callback. The alternative, running the
 * loop inside waved's epoll, would tie libvirt's keepalive to the owner's
 * pace.
 *
 * Besides starts and stops, what operators do to a running domain through
 * libvirt is queued as events too: tuning (vcpupin, emulatorpin,
 * iothreadpin, schedinfo: libvirt's TUNABLE event), a change of the Wave
 * metadata (METADATA_CHANGE), pause and resume, a guest shutting down, and
 * the balloon moving (setmem). The owner re-reads what changed.
 *
 * Missed events are repaired, not trusted away: when libvirtd restarts (or
 * the event queue overflows) the layer reconnects, lists the running
 * domains again and queues STARTED/STOPPED for whatever changed, so the
 * owner's view converges on libvirt's.
 *
 * Threading: every function is called from one owner thread.
 */
#ifndef WAVE_VMM_CONN_H
#define WAVE_VMM_CONN_H

#include <sched.h>
#include <stddef.h>
#include <sys/types.h>

#include <libvirt/libvirt.h>

#include "vmm/meta.h"
#include "vmm/qmp.h"

#define VMM_DEFAULT_URI   "qemu:///system"
#define VMM_NAME_MAX      64
#define VMM_UUID_LEN      VIR_UUID_STRING_BUFLEN
#define VMM_PATH_MAX      512
#define VMM_MAX_TAPS      8

struct vmm_conn;

enum vmm_event_kind {
	VMM_EV_STARTED = 1,   /* a domain is running (or was found running) */
	VMM_EV_STOPPED,       /* a domain stopped (or vanished while we were away) */
	VMM_EV_CONNECTED,     /* (re)connected to libvirt */
	VMM_EV_DISCONNECTED,  /* lost libvirt; reconnecting */
	VMM_EV_TUNED,         /* cputune changed (pins, shares, quota): re-read them */
	VMM_EV_METADATA,      /* the Wave metadata changed: re-read it */
	VMM_EV_PAUSED,        /* suspended (virsh suspend, or by libvirt) */
	VMM_EV_RESUMED,
	VMM_EV_SHUTDOWN,      /* the guest is shutting down (it stops later) */
	VMM_EV_BALLOON,       /* the balloon moved: value is the guest's memory, KiB */
};

struct vmm_event {
	enum vmm_event_kind kind;
	char name[VMM_NAME_MAX];
	char uuid[VMM_UUID_LEN];
	unsigned long long value;
};

struct vmm_thread {
	pid_t tid;
	unsigned int index;        /* vCPU: QEMU cpu-index; I/O thread: position */
	int last_cpu;              /* host CPU it ran on last, or -1 */
	char cgroup[VMM_PATH_MAX]; /* its CPU-controller cgroup directory, or "" */
	int pinned;                /* the operator pinned it (vcpupin, emulatorpin, iothreadpin) */
	cpu_set_t pin;             /* then: the CPUs libvirt lets it run on */
};

struct vmm_domain {
	char name[VMM_NAME_MAX];
	char uuid[VMM_UUID_LEN];
	int id;                    /* libvirt's domain id */
	int state;                 /* virDomainState */
	struct vmm_meta meta;
	pid_t pid;                 /* QEMU; its main thread is the emulator thread */
	char accel[8];             /* from the vCPU thread names: "TCG", "KVM" */
	unsigned int nr_vcpus;
	struct vmm_thread *vcpus;  /* sorted by index */
	struct vmm_thread emulator;
	unsigned int nr_iothreads;
	struct vmm_thread *iothreads;
	unsigned int nr_taps;
	char taps[VMM_MAX_TAPS][16];
	char console[VMM_PATH_MAX];/* serial console file, or "" */
	char ip[64];               /* wave.ip from the kernel command line, or "" */
	int cgroup_writable;       /* we may write the vCPU cgroups (root) */
	unsigned long long memory_kib; /* the guest's memory now (balloon), KiB */
	char notes[256];           /* what was odd but not fatal, for the log */
};

/*
 * Connects to uri (NULL: VMM_DEFAULT_URI) and starts the event thread.
 * With retry, a libvirtd that is not up yet is not an error: the layer
 * keeps trying from vmm_conn_process() and queues CONNECTED when it gets
 * there. Returns 0, or -errno with the reason in why (naming the URI and
 * what to do about it).
 */
int vmm_conn_open(const char *uri, int retry, struct vmm_conn **out, char *why, size_t len);
void vmm_conn_close(struct vmm_conn *c);

/* Readable when events are queued or a reconnect is due: call vmm_conn_process(). */
int vmm_conn_fd(const struct vmm_conn *c);

/*
 * Reconnects if needed (at most once a second) and re-lists domains after
 * a reconnect or an overflow. Never blocks for longer than a libvirt call.
 */
void vmm_conn_process(struct vmm_conn *c);

/* Pops the next event: 1 if *ev was filled, 0 if none is queued. */
int vmm_conn_next_event(struct vmm_conn *c, struct vmm_event *ev);

int vmm_conn_is_up(const struct vmm_conn *c);

/* The libvirt connection, for calls this layer does not wrap (NULL when down). */
virConnectPtr vmm_conn_virt(const struct vmm_conn *c);

/*
 * Resolves a running domain by name. Returns 0, -ENOENT (no such running
 * domain, or it went away while being resolved), or -errno; why says
 * which. The caller frees with vmm_domain_clear().
 */
int vmm_domain_lookup(struct vmm_conn *c, const char *name, struct vmm_domain *d,
		      char *why, size_t len);

/*
 * Resolves every running domain. Domains that fail (vanished mid-query)
 * are skipped and logged; returns the count (*out malloc'd, free with
 * vmm_domains_free) or -errno.
 */
int vmm_domain_list(struct vmm_conn *c, struct vmm_domain **out);
void vmm_domains_free(struct vmm_domain *d, unsigned int n);
void vmm_domain_clear(struct vmm_domain *d);

/*
 * Reads the domain's Wave metadata now: 0 and *m, or -EINVAL with the
 * reason (naming the attribute and value) in why, *m untouched; a domain
 * without Wave metadata gets the defaults.
 */
int vmm_domain_meta(struct vmm_conn *c, const char *name, struct vmm_meta *m, char *why,
		    size_t len);

/* "running", "paused", "shutting down", ...: a virDomainState for status output. */
const char *vmm_state_name(int state);

/* Refreshes last_cpu of every thread of d from /proc. */
void vmm_domain_refresh_cpus(struct vmm_domain *d);

#endif
