/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The mechanism half of memory control, on the host: each managed VM's
 * memory as libvirt reports it (the virtio balloon's statistics, which
 * libvirt drives over QMP, and QEMU's resident memory), the VM's memory
 * pressure (PSI of its cgroup where the host has one, else the host's),
 * the host's own memory, and the actuator: the balloon target
 * (virDomainSetMemoryFlags, live).
 *
 * Everything that talks to libvirt runs on a worker thread of its own with
 * its own connection (one without an event-loop watch, so that its calls
 * wake no other thread: vmm/evloop.h): a statistics call takes the domain's job in libvirtd
 * and can wait on a guest, and waved's loop must never stall (a stall there
 * reads as agent lag). The worker reads every period and carries out
 * targets as they are asked for; its results wait in a mailbox, and an
 * eventfd (mm_fd) tells the owner to collect them with mm_poll. Calling
 * libvirt from the owner's loop at the period was rejected for that reason.
 *
 * Every function but the worker's own is called from one owner thread.
 */
#ifndef WAVE_MM_MECHANISM_H
#define WAVE_MM_MECHANISM_H

#include <stdint.h>

#include "channel/slots.h"

#define MM_MAX_VMS WAVE_MANAGED_VMS
#define MM_NONE    0xffffffffu     /* a size or count the guest did not report */

/* One VM's memory, KiB; MM_NONE where not reported. */
struct mm_stats {
	uint32_t actual_kib, max_kib;          /* balloon now; the VM's maximum */
	uint32_t available_kib, usable_kib, unused_kib, caches_kib; /* the guest's view */
	uint32_t rss_kib;                      /* QEMU's resident memory */
	uint32_t major_faults, minor_faults, swap_in_kib, swap_out_kib; /* cumulative */
	int64_t last_update;                   /* the guest's last report (libvirt's stamp, s); 0: never */
	/*
	 * The guest made that report after this moment (CLOCK_MONOTONIC, ms):
	 * the read before the one that first saw it. libvirt's stamp is in
	 * whole seconds, too coarse to tell one report from the next.
	 */
	uint64_t made_after_ms;
	/*
	 * What the guest used when it made that report, in balloon terms: the
	 * balloon then less the guest's MemAvailable (its own use and what its
	 * kernel keeps from MemTotal; with deflate-on-OOM the balloon's pages
	 * count in neither). MM_NONE if unknown: the balloon moved between the
	 * read before the report and the read that saw it, so its size when
	 * the guest made it is not known (the next report, a period later,
	 * tells). Read the balloon and the report apart and they are up to a
	 * period apart: a balloon on the move is off by what it moved.
	 */
	uint32_t used_kib;
	uint64_t psi_some_us, psi_full_us;     /* memory pressure, cumulative */
	int psi_vm;                            /* the pressure is the VM's own cgroup's */
	int balloon;                           /* a balloon that reports statistics */
	char why[128];                         /* why not, or why the last read failed; "" */
};

/* The host's memory. */
struct mm_host {
	uint64_t total_kib, avail_kib;
	uint64_t psi_some_us, psi_full_us;
};

/* A target carried out (or not): err 0 or a positive errno. */
struct mm_result {
	unsigned int slot;
	uint64_t cookie;
	uint32_t kib;
	int err;
	char why[128];
};

/* What mm_poll hands its owner; each callback optional. */
struct mm_cb {
	void (*stats)(unsigned int slot, const struct mm_stats *s, void *arg);
	void (*result)(const struct mm_result *r, void *arg);
	void (*host)(const struct mm_host *h, void *arg);
};

struct mm;

/*
 * What a guest used when it made statistics first seen at a read, from
 * the balloon at the read before (was) and at this one (is), both KiB,
 * and the statistics' MemAvailable: they were made between the two reads,
 * so the balloon's size then is known only if it stood still (within a
 * MiB). MM_NONE if not known (or any input is MM_NONE, or the guest says
 * it has more available than its balloon holds).
 */
uint32_t mm_used_then(uint32_t was_kib, uint32_t is_kib, uint32_t usable_kib);
/*
 * Whether a guest's new report (is) shows it short of memory: its
 * swap-ins or major faults grew since its report before, whose counts
 * were was_swap_in_kib and was_major (MM_NONE, on either side: not
 * reported, says nothing). Such a guest is not waited for when its next
 * report is late (see mechanism.c).
 */
int mm_report_swapping(uint32_t was_swap_in_kib, uint32_t was_major, const struct mm_stats *is);
/*
 * Whether a guest whose report is not in at a full read is read again for
 * it (see mechanism.c): not if it stopped reporting (quiet), if its last
 * report showed it swapping (mm_report_swapping), or if its balloon is
 * shrinking to a target (moving_kib: giving pages to the balloon keeps its
 * vCPU busy, so its reports come late while it moves; it is read four
 * times a period while a neighbour awaits the room, else at the next full
 * read).
 */
int mm_late_awaited(int quiet, int swapping, uint32_t moving_kib);
/*
 * Whether a guest awaits room made elsewhere: short of memory as its last
 * report shows (swapping in or faulting: swapping, mm_report_swapping; or
 * under MM_SHORT_KIB usable) with its balloon below its maximum (a guest
 * at its maximum cannot take room, however short it is). A balloon
 * shrinking for room is watched only while some other guest awaits it
 * (see mechanism.c). KiB; MM_NONE (or max 0): not known, says nothing.
 */
#define MM_SHORT_KIB (8 * 1024)
int mm_awaits_room(int swapping, uint32_t usable_kib, uint32_t actual_kib, uint32_t max_kib);
/*
 * Whether a balloon read alone is at rest after this read, so that the
 * next full read may take it from the bulk call (libvirt's copy of its
 * size, which QEMU's BALLOON_CHANGE events keep, a second late at most):
 * a full read (full) with no target set this turn (set_now) that finds it
 * where the read before did (was_kib) or at the last target set (set_kib:
 * it got there, and moves no more). A quick or late read only keeps rest
 * (was_rest) while it stands still: reads tens of ms apart would take a
 * slow creep for rest. All KiB; MM_NONE or 0 compares as unknown.
 */
int mm_at_rest(int full, int set_now, int was_rest, uint32_t was_kib, uint32_t is_kib,
	       uint32_t set_kib);

/*
 * Connects to libvirt at uri (NULL: the default) on a new worker thread
 * that reads every period_ms. 0 or -errno (nothing started).
 */
int mm_open(const char *uri, unsigned int period_ms, struct mm **out);
/* Stops the worker; targets set stay as they are. */
void mm_close(struct mm *m);
/* Readable when mm_poll has something. */
int mm_fd(const struct mm *m);

/*
 * Reads domain uuid into slot from the worker's next turn on, with the
 * guest's statistics period set to the read period; psi is the VM's
 * cgroup memory.pressure file, or NULL for the host's. 0 or -errno.
 */
int mm_attach(struct mm *m, unsigned int slot, const char *uuid, const char *psi);
void mm_detach(struct mm *m, unsigned int slot);
/*
 * Asks for slot's balloon target kib; the result comes with cookie. 0,
 * -EBUSY (one at a time: until mm_poll handed over the last one's result),
 * -ENOENT (nothing attached there).
 */
int mm_set_target(struct mm *m, unsigned int slot, uint32_t kib, uint64_t cookie);
/* Hands over what the worker posted since the last call. */
void mm_poll(struct mm *m, const struct mm_cb *cb, void *arg);

/*
 * The worker's reads so far, for status: what following the guests'
 * reports costs (each read is one libvirt call for one VM).
 */
struct mm_counters {
	uint64_t full_reads;  /* VMs read at the period's read */
	uint64_t bulk_reads;  /* ... of them, read together in one call (at rest) */
	uint64_t quick_reads; /* VMs read again while their balloon moved */
	uint64_t late_reads;  /* VMs read again because their report was late */
	uint64_t rearms;      /* times every guest's statistics timer was re-armed */
	uint64_t calls;       /* libvirt calls made (each a round trip to libvirtd: what the CPU goes on) */
	uint64_t quiet_vms;   /* VMs that stopped reporting, not waited for (now) */
};
void mm_get_counters(struct mm *m, struct mm_counters *c);

/* CPU time the worker thread has used (ns): what observing and setting memory costs the host. */
uint64_t mm_cpu_ns(const struct mm *m);

/* Parses a PSI file's "some" and "full" totals (us). 0 or -errno. Exposed for tests. */
int mm_psi_parse(const char *text, uint64_t *some_us, uint64_t *full_us);

#endif
