// SPDX-License-Identifier: BSD-3-Clause
/*
 * The memory worker's libvirt reads: a domain looked up and its statistics
 * period set, its balloon and the guest's statistics read on their own
 * (live) or, for balloons at rest, all in one call. Worker thread only;
 * nothing here takes the lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "mm/mechanism-int.h"
#include "mm/mechanism-procfs.h"

#define MM_MAX_EVERY_MS 10000

static uint32_t kib32(unsigned long long v)
{
	return v >= MM_NONE ? MM_NONE - 1 : (uint32_t)v;
}

/* libvirt's last error on this thread as an errno and a line. */
int mm_virt_err(char *why, size_t len)
{
	virErrorPtr e = virGetLastError();
	int err = EIO;

	if (e && (e->code == VIR_ERR_INVALID_ARG || e->code == VIR_ERR_CONFIG_UNSUPPORTED))
		err = EINVAL;
	else if (e && e->code == VIR_ERR_NO_DOMAIN)
		err = ENOENT;
	else if (e && e->code == VIR_ERR_OPERATION_INVALID)
		err = EPERM;
	snprintf(why, len, "%s", e && e->message ? e->message : "libvirt failed");
	return err;
}

/* The worker's view of slot k: the domain looked up, its statistics period set. */
int mm_slot_ready(struct mm *m, struct mm_slot *s, const char *uuid, unsigned int gen)
{
	if (s->dom && s->wgen == gen)
		return 0;
	if (s->dom)
		virDomainFree(s->dom);
	s->dom = NULL;
	if (s->wgen != gen) { /* another VM in the slot: nothing of the last one's holds */
		s->seen_update = 0;
		s->made_after_ms = s->last_read_ms = 0;
		s->last_actual_kib = s->used_kib = MM_NONE;
		s->cycle_update = 0;
		s->late = s->quiet = s->rest = s->swapping = 0;
		s->rep_swap_in = s->rep_major = MM_NONE;
		m->realign = 1; /* its timer has a phase of its own: re-arm it with the others */
		s->moving_kib = s->max_kib = s->set_kib = 0;
		memset(&s->posted, 0, sizeof(s->posted));
	}
	s->wgen = gen;
	s->why[0] = '\0';
	m->calls += m->conn != NULL;
	if (!m->conn || !(s->dom = virDomainLookupByUUIDString(m->conn, uuid))) {
		if (m->conn)
			mm_virt_err(s->why, sizeof(s->why));
		else
			snprintf(s->why, sizeof(s->why), "no libvirt connection");
		return -ENOENT;
	}
	/* A balloon without statistics, or none at all, is not managed. */
	m->calls++;
	s->balloon = virDomainSetMemoryStatsPeriod(s->dom, (int)(m->period_ms + 999) / 1000,
						   VIR_DOMAIN_AFFECT_LIVE) == 0;
	if (!s->balloon)
		mm_virt_err(s->why, sizeof(s->why));
	return 0;
}

/* A call on the domain failed: why, in out, and the domain let go (looked up again next time: it may be gone). */
static void let_go(struct mm_slot *s, struct mm_stats *out)
{
	mm_virt_err(out->why, sizeof(out->why));
	virDomainFree(s->dom);
	s->dom = NULL;
	s->rest = 0;
}

/*
 * The domain's maximum, read again every MM_MAX_EVERY_MS (it changes only
 * with memory hotplug); 0, or -1 with the domain let go (let_go).
 */
static int read_max(struct mm *m, struct mm_slot *s, uint64_t now, struct mm_stats *out)
{
	unsigned long max;

	if (s->max_kib && now < s->max_read_ms + MM_MAX_EVERY_MS)
		return 0;
	m->calls++;
	if ((max = virDomainGetMaxMemory(s->dom)) == 0) {
		let_go(s, out);
		return -1;
	}
	s->max_kib = kib32(max);
	s->max_read_ms = now;
	return 0;
}

/* out with nothing known yet but what the slot says. */
static void stats_init(const struct mm_slot *s, struct mm_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->actual_kib = out->available_kib = out->usable_kib = out->unused_kib = MM_NONE;
	out->caches_kib = out->rss_kib = out->major_faults = out->minor_faults = MM_NONE;
	out->swap_in_kib = out->swap_out_kib = MM_NONE;
	out->balloon = s->balloon;
	snprintf(out->why, sizeof(out->why), "%s", s->why);
}

/* One statistic into out, by its libvirt tag (the live call's and the bulk call's alike). */
static void stat_set(struct mm_stats *out, int tag, unsigned long long v)
{
	switch (tag) {
	case VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON: out->actual_kib = kib32(v); break;
	case VIR_DOMAIN_MEMORY_STAT_AVAILABLE: out->available_kib = kib32(v); break;
	case VIR_DOMAIN_MEMORY_STAT_USABLE: out->usable_kib = kib32(v); break;
	case VIR_DOMAIN_MEMORY_STAT_UNUSED: out->unused_kib = kib32(v); break;
	case VIR_DOMAIN_MEMORY_STAT_DISK_CACHES: out->caches_kib = kib32(v); break;
	case VIR_DOMAIN_MEMORY_STAT_RSS: out->rss_kib = kib32(v); break;
	case VIR_DOMAIN_MEMORY_STAT_MAJOR_FAULT: out->major_faults = (uint32_t)v; break;
	case VIR_DOMAIN_MEMORY_STAT_MINOR_FAULT: out->minor_faults = (uint32_t)v; break;
	case VIR_DOMAIN_MEMORY_STAT_SWAP_IN: out->swap_in_kib = (uint32_t)v; break;
	case VIR_DOMAIN_MEMORY_STAT_SWAP_OUT: out->swap_out_kib = (uint32_t)v; break;
	case VIR_DOMAIN_MEMORY_STAT_LAST_UPDATE: out->last_update = (int64_t)v; break;
	default: break;
	}
}

/*
 * Fills out from the domain: its balloon as it is now and the guest's
 * last statistics, one call (virDomainMemoryStats: QEMU's query-balloon
 * and guest-stats), for any balloon that may be moving. Not the bulk
 * statistics (mm_read_bulk) then: their balloon.current is libvirt's copy,
 * moved by QEMU's BALLOON_CHANGE events, which QEMU sends at most once a
 * second, so a balloon on the move reads up to a second old there (seen:
 * 511 MiB while the guest was already down to 210), and the guest's use,
 * the balloon less what the guest has free, came out wrong by what it
 * moved meanwhile. host: this turn's read of the host, whose pressure
 * stands in where the VM has none of its own, or NULL on a quick read (a
 * balloon on the move: the pressure as read last).
 */
void mm_read_stats(struct mm *m, struct mm_slot *s, const char *psi, const struct mm_host *host,
		   uint64_t now, struct mm_stats *out)
{
	virDomainMemoryStatStruct ms[VIR_DOMAIN_MEMORY_STAT_NR];
	int n;

	stats_init(s, out);
	if (read_max(m, s, now, out))
		return; /* max_kib 0: nothing known */
	m->calls++;
	if ((n = virDomainMemoryStats(s->dom, ms, VIR_DOMAIN_MEMORY_STAT_NR, 0)) < 0) {
		let_go(s, out);
		return;
	}
	out->max_kib = s->max_kib;
	for (int i = 0; i < n; i++)
		stat_set(out, ms[i].tag, ms[i].val);
	mm_read_pressure(s, psi, host, out);
}

/* The VM's memory pressure: its cgroup's, else the host's (host NULL: as read last). */
void mm_read_pressure(struct mm_slot *s, const char *psi, const struct mm_host *host,
			  struct mm_stats *out)
{
	if (!host) {
		out->psi_vm = s->posted.psi_vm;
		out->psi_some_us = s->posted.psi_some_us;
		out->psi_full_us = s->posted.psi_full_us;
		return;
	}
	out->psi_vm = psi[0] && !mm_read_psi(&s->psi_file, psi, &out->psi_some_us, &out->psi_full_us);
	if (!out->psi_vm) {
		out->psi_some_us = host->psi_some_us;
		out->psi_full_us = host->psi_full_us;
	}
}

int mm_near(uint32_t a, uint32_t b)
{
	return a != MM_NONE && b != MM_NONE && a < b + 1024 && b < a + 1024;
}

/* The bulk call's names for the statistics; without the required ones a VM is read alone. */
static const struct {
	int tag;
	const char *name;
	int required;
} bulk_names[] = {
	{ VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON, "balloon.current", 1 },
	{ VIR_DOMAIN_MEMORY_STAT_AVAILABLE, "balloon.available", 1 },
	{ VIR_DOMAIN_MEMORY_STAT_USABLE, "balloon.usable", 1 },
	{ VIR_DOMAIN_MEMORY_STAT_LAST_UPDATE, "balloon.last-update", 1 },
	{ VIR_DOMAIN_MEMORY_STAT_UNUSED, "balloon.unused", 0 },
	{ VIR_DOMAIN_MEMORY_STAT_DISK_CACHES, "balloon.disk_caches", 0 },
	{ VIR_DOMAIN_MEMORY_STAT_RSS, "balloon.rss", 0 },
	{ VIR_DOMAIN_MEMORY_STAT_MAJOR_FAULT, "balloon.major_fault", 0 },
	{ VIR_DOMAIN_MEMORY_STAT_MINOR_FAULT, "balloon.minor_fault", 0 },
	{ VIR_DOMAIN_MEMORY_STAT_SWAP_IN, "balloon.swap_in", 0 },
	{ VIR_DOMAIN_MEMORY_STAT_SWAP_OUT, "balloon.swap_out", 0 },
};

static void bulk_fill(const struct mm_slot *s, const virDomainStatsRecordPtr r, struct mm_bulk *b)
{
	unsigned long long v;

	stats_init(s, &b->st);
	/* No guest statistics (NOWAIT: a job held the domain): read it alone. */
	if (virTypedParamsGetULLong(r->params, r->nparams, "balloon.maximum", &v) != 1)
		return;
	b->st.max_kib = kib32(v);
	for (size_t i = 0; i < sizeof(bulk_names) / sizeof(bulk_names[0]); i++) {
		if (virTypedParamsGetULLong(r->params, r->nparams, bulk_names[i].name, &v) == 1)
			stat_set(&b->st, bulk_names[i].tag, v);
		else if (bulk_names[i].required)
			return;
	}
	b->ok = 1;
}

/*
 * The statistics of every VM whose balloon is at rest, in one call
 * (virDomainListGetStats: measured 148 us of client CPU for three guests
 * against 586 us for three virDomainMemoryStats). Its balloon.current is
 * libvirt's copy, moved by QEMU's BALLOON_CHANGE events (see mm_read_stats):
 * right for a balloon at rest, and one that starts moving shows at once
 * (QEMU sends the first change of a quiet balloon without delay), so a
 * size other than the last one read sends the VM to a read of its own.
 */
void mm_read_bulk(struct mm *m, struct mm_bulk *b)
{
	virDomainPtr doms[MM_MAX_VMS + 1];
	virDomainStatsRecordPtr *recs = NULL;
	unsigned char want[VIR_UUID_BUFLEN], got[VIR_UUID_BUFLEN];
	int n = 0, nrec;

	memset(b, 0, sizeof(*b) * MM_MAX_VMS);
	for (unsigned int k = 0; k < MM_MAX_VMS; k++)
		if (m->s[k].dom && m->s[k].balloon && m->s[k].rest)
			doms[n++] = m->s[k].dom;
	if (n < 2)
		return; /* one VM: its own call costs the same */
	doms[n] = NULL;
	m->calls++;
	nrec = virDomainListGetStats(doms, VIR_DOMAIN_STATS_BALLOON, &recs,
				     VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
	for (int i = 0; i < nrec; i++) {
		if (virDomainGetUUID(recs[i]->dom, got))
			continue;
		for (unsigned int k = 0; k < MM_MAX_VMS; k++)
			if (m->s[k].dom && m->s[k].rest && !virDomainGetUUID(m->s[k].dom, want) &&
			    !memcmp(want, got, sizeof(want)))
				bulk_fill(&m->s[k], recs[i], &b[k]);
	}
	if (recs)
		virDomainStatsRecordListFree(recs);
}

uint32_t mm_used_then(uint32_t was_kib, uint32_t is_kib, uint32_t usable_kib)
{
	if (!mm_near(was_kib, is_kib) || usable_kib == MM_NONE || usable_kib >= is_kib)
		return MM_NONE;
	return is_kib - usable_kib;
}

static int grew(uint32_t was, uint32_t is)
{
	return was != MM_NONE && is != MM_NONE && is > was;
}

int mm_report_swapping(uint32_t was_swap_in_kib, uint32_t was_major, const struct mm_stats *is)
{
	return grew(was_swap_in_kib, is->swap_in_kib) || grew(was_major, is->major_faults);
}

int mm_at_rest(int full, int set_now, int was_rest, uint32_t was_kib, uint32_t is_kib,
	       uint32_t set_kib)
{
	if (!full)
		return was_rest && mm_near(is_kib, was_kib);
	return !set_now && (mm_near(is_kib, was_kib) || (set_kib && mm_near(is_kib, set_kib)));
}

int mm_awaits_room(int swapping, uint32_t usable_kib, uint32_t actual_kib, uint32_t max_kib)
{
	int short_of = swapping || (usable_kib != MM_NONE && usable_kib < MM_SHORT_KIB);

	return short_of && actual_kib != MM_NONE && max_kib && !mm_near(actual_kib, max_kib) &&
	       actual_kib < max_kib;
}

int mm_late_awaited(int quiet, int swapping, uint32_t moving_kib)
{
	return !quiet && !swapping && !moving_kib;
}
