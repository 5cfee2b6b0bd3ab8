/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The memory mechanism's insides, shared by mechanism.c (the worker and
 * the owner's API) and mechanism-read.c (its libvirt reads). Not for use
 * outside mm/.
 */
#ifndef WAVE_MM_MECHANISM_INT_H
#define WAVE_MM_MECHANISM_INT_H

#include <pthread.h>
#include <stdint.h>

#include <libvirt/libvirt.h>

#include "mm/mechanism.h"
#include "mm/mechanism-procfs.h"

#define MM_MAX_RESULTS 64

struct mm_slot {
	/* owner, under the lock */
	int used;
	unsigned int gen;
	char uuid[40], psi[256];
	int want;                /* a target asked for, not yet taken by the worker */
	int busy;                /* a target asked for, its result not yet handed over */
	uint32_t want_kib;
	uint64_t cookie;
	struct mm_stats st;      /* worker posts, owner collects when fresh */
	int fresh;
	/* worker only */
	unsigned int wgen;
	virDomainPtr dom;
	int balloon;
	char why[128];
	int64_t seen_update;     /* the guest's stamp last read, the read time before it, and */
	uint64_t made_after_ms, last_read_ms; /* ... the last read's (see mm_stats.made_after_ms) */
	uint32_t last_actual_kib; /* the balloon at the last read */
	int rest;                /* stood still from one full read to the next, no target or move seen since */
	uint32_t set_kib;        /* the last target set here (0: none since attached) */
	int64_t cycle_update;    /* the guest's stamp at the last full read (or late read that saw it) */
	int late;                /* its report due at the last full read is not in yet */
	int swapping;            /* its last report showed swap-ins or major faults since the one before */
	uint32_t rep_swap_in, rep_major; /* ... that report's counters (MM_NONE: none yet) */
	int quiet;               /* ... nor after MM_LATE_TRIES: not waited for until it reports */
	int quiet_posted;        /* quiet, as the owner's side sees it (under the lock) */
	uint32_t used_kib;       /* see mm_stats.used_kib */
	struct kfile psi_file;
	struct mm_stats posted;  /* what was last handed to the owner */
	uint32_t max_kib;        /* the domain's maximum, and when it was read */
	uint64_t max_read_ms;
	uint32_t moving_kib;     /* a target set here that the balloon has not reached */
	uint64_t moving_until;   /* ... watched until then (ms, monotonic) */
};

struct mm {
	pthread_t thr;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	int efd, stop, work;
	char uri[256];
	unsigned int period_ms;
	int realign;             /* the worker's: re-arm every guest's statistics timer at the end of this cycle */
	virConnectPtr conn;      /* the worker's */
	struct mm_slot s[MM_MAX_VMS];
	struct mm_result res[MM_MAX_RESULTS];
	unsigned int nres;
	struct mm_host host;
	int host_fresh;
	uint64_t meminfo_ms;     /* the worker's: when it last read the host's meminfo */
	struct mm_counters cnt;  /* the worker's, under the lock (quiet_vms: counted when asked) */
	uint64_t calls;          /* the worker's: libvirt calls made (cnt.calls: as last posted) */
	struct kfile meminfo, host_psi; /* the worker's */
	/* the owner's, for mm_poll */
	struct mm_stats poll_st[MM_MAX_VMS];
	int poll_fresh[MM_MAX_VMS];
};

/* One VM's statistics from the bulk call, if they are all there. */
struct mm_bulk {
	int ok;
	struct mm_stats st;
};

/* libvirt's last error on this thread as an errno and a line. */
int mm_virt_err(char *why, size_t len);
/* The worker's view of slot s: the domain looked up, its statistics period set. 0 or -ENOENT. */
int mm_slot_ready(struct mm *m, struct mm_slot *s, const char *uuid, unsigned int gen);
/* Within a MiB of each other, both known. */
int mm_near(uint32_t a, uint32_t b);
/* s's balloon and statistics, live; pressure from psi, else host (NULL: as read last). */
void mm_read_stats(struct mm *m, struct mm_slot *s, const char *psi, const struct mm_host *host,
		   uint64_t now, struct mm_stats *out);
void mm_read_pressure(struct mm_slot *s, const char *psi, const struct mm_host *host,
		      struct mm_stats *out);
/* The statistics of every VM at rest, in one call, into b[slot] (MM_MAX_VMS). */
void mm_read_bulk(struct mm *m, struct mm_bulk *b);

#endif
