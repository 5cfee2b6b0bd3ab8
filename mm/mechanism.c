// SPDX-License-Identifier: BSD-3-Clause
/*
 * Memory mechanism: the libvirt worker (see mechanism.h for why a thread).
 *
 * Sharing between the owner and the worker is one mutex around the slot
 * table, the results and the host record; the worker never calls libvirt
 * while holding it (a libvirt call may block for seconds), so the owner's
 * calls never wait on libvirt. The worker takes a copy of what to do
 * under the lock, works unlocked, and posts under the lock, then writes
 * the eventfd. A slot's generation tells the worker that the owner
 * attached something else there since it last looked.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "common/clock.h"
#include "mm/mechanism.h"
#include "mm/mechanism-int.h"
#include "mm/mechanism-procfs.h"
#include "vmm/evloop.h"

/*
 * A balloon shrinking by MM_MOVING_KIB or more to a target set here is
 * read every period / MM_MOVING_DIV until it gets there (or MM_MOVING_MS
 * pass) while another VM awaits room (mm_awaits_room: short of memory at
 * its last report, and below its maximum): the room it leaves is what
 * that neighbour waits for, and a policy that learns of it a period late
 * answers pressure a period late. With no one waiting, the next full
 * read sees the shrink soon enough, as it sees the small
 * steps in which a policy takes idle memory back. Watched shrinks are
 * rare and short (a few hundred MiB take under two seconds), so this costs
 * next to nothing at rest.
 */
#define MM_MOVING_DIV 4
#define MM_MOVING_MS  5000
#define MM_MOVING_KIB (32 * 1024)
/*
 * Reads follow the guests' reports. A guest reports when QEMU's statistics
 * timer fires, which QEMU re-arms a period after each report arrives, so
 * each guest reports at a phase of its own that drifts later by its reply
 * time every period; read on a clock of its own, a report waits up to a
 * period (half on average) before the host sees it, and a guest that has
 * run short is answered that much later. Setting the period re-arms the
 * timer from that moment (QEMU ignores the period it already has: it is
 * set a second longer, then back): the worker does so for every guest at
 * once, then reads MM_PUSH_MARGIN_MS after the reports are due. A guest
 * whose report is not there yet is read again after MM_LATE_STEP_MS, then
 * after twice as long each time, up to MM_LATE_TRIES times (600 ms in
 * all); if that took more than MM_REARM_AFTER reads, every guest is
 * re-armed again (drift is only ever later, a few ms a period; a re-arm
 * costs two libvirt calls per guest, a late read one for the late guest
 * alone). A guest whose last report showed it swapping in or faulting is
 * not waited for: it is short of memory, its vCPU is busy bringing pages
 * back, so its reports come late every period (seen: 2.3 late reads a
 * second, each a libvirt call), and its next report adds little to what
 * the last said; it is read at the next period. Nor is a guest whose
 * balloon is shrinking (MM_MOVING_KIB): its vCPU is busy giving pages to
 * the balloon, its report comes late, and the reads of the moving balloon
 * (four a period while a neighbour awaits the room, else the next full
 * read) see the report when it comes. A VM attached since, or
 * reporting again after a pause, has a phase of its own, and is re-armed
 * with the rest. Only for periods in whole seconds (the guest's period
 * is): else reads keep their own clock.
 */
#define MM_PUSH_MARGIN_MS 60
/*
 * The host's MemTotal and MemAvailable (reported, not decided on) are
 * read this often; its PSI, which stands in for a VM without its own,
 * every period. meminfo is the dearest file the worker reads.
 */
#define MM_MEMINFO_EVERY_MS 10000
#define MM_LATE_STEP_MS   40
#define MM_LATE_TRIES     4
#define MM_REARM_AFTER    3

static void post_result(struct mm *m, unsigned int k, uint64_t cookie, uint32_t kib, int err,
			const char *why)
{
	struct mm_result *r;

	if (m->nres == MM_MAX_RESULTS)
		return; /* REQUIRES: at most one request per slot is out, and slots <= results */
	r = &m->res[m->nres++];
	*r = (struct mm_result){ .slot = k, .cookie = cookie, .kib = kib, .err = err };
	snprintf(r->why, sizeof(r->why), "%s", why);
}

/* CLOCK_MONOTONIC in ms (the owner's clock too: waved dates reports by it). */
static uint64_t mono_ms(void)
{
	return wave_now_ns() / WAVE_NSEC_PER_MSEC;
}

/* Whether a VM other than slot k awaits room (mm_awaits_room): k's shrink makes it. */
static int room_awaited(const struct mm *m, unsigned int k)
{
	for (unsigned int j = 0; j < MM_MAX_VMS; j++) {
		const struct mm_slot *s = &m->s[j];

		if (j != k && s->dom &&
		    mm_awaits_room(s->swapping, s->posted.usable_kib, s->posted.actual_kib, s->max_kib))
			return 1;
	}
	return 0;
}

/*
 * What a turn reads: nothing (targets only), the balloons on the move
 * (quick: the pressure as read last), the guests whose report is late
 * (quick too), or everything.
 */
enum mm_read { MM_READ_NONE, MM_READ_LATE, MM_READ_QUICK, MM_READ_FULL };

/*
 * One turn: the targets asked for, then (if due) every VM's memory: the
 * balloons at rest in one call (mm_read_bulk), the others one call each
 * (mm_read_stats). Returns whether a balloon is still on the
 * move (see MM_MOVING_DIV); sets *news if it handed the owner anything (a
 * result, or statistics that changed: the owner is not woken for the same
 * numbers again), and *late if a guest's report due at the last full read
 * is not in yet (see MM_PUSH_MARGIN_MS).
 */
static int turn(struct mm *m, enum mm_read read, int *news, int *late)
{
	int read_due = read != MM_READ_NONE, full = read == MM_READ_FULL;
	struct mm_bulk bulk[MM_MAX_VMS];
	struct mm_host host;
	struct mm_stats st;
	uint64_t t_bulk = 0;
	int moving = 0;

	if (full) {
		uint64_t now = mono_ms();
		int meminfo = !m->meminfo_ms || now >= m->meminfo_ms + MM_MEMINFO_EVERY_MS;

		host = m->host; /* the worker's own copy: only it writes m->host */
		mm_read_host(meminfo ? &m->meminfo : NULL, &m->host_psi, &host);
		m->meminfo_ms = meminfo ? now : m->meminfo_ms;
		t_bulk = mono_ms(); /* the read's time, not when the loop gets to a VM */
		mm_read_bulk(m, bulk);
	}

	for (unsigned int k = 0; k < MM_MAX_VMS; k++) {
		struct mm_slot *s = &m->s[k];
		char uuid[40], psi[256], why[128] = "";
		unsigned int gen;
		int want, was_late, from_bulk = 0, err = 0;
		uint32_t kib;
		uint64_t cookie;

		pthread_mutex_lock(&m->lock);
		if (!s->used) {
			pthread_mutex_unlock(&m->lock);
			if (s->dom) { /* let go: nothing re-arms or reads a VM no longer attached */
				virDomainFree(s->dom);
				s->dom = NULL;
			}
			continue;
		}
		gen = s->gen;
		want = s->want;
		kib = s->want_kib;
		cookie = s->cookie;
		s->want = 0;
		memcpy(uuid, s->uuid, sizeof(uuid));
		memcpy(psi, s->psi, sizeof(psi));
		pthread_mutex_unlock(&m->lock);
		/* A quick read is for the balloons on the move (and late reports), not for everyone. */
		if (!want && (!read_due || (read == MM_READ_LATE && !s->late) ||
			      (read == MM_READ_QUICK && !(s->moving_kib && room_awaited(m, k)) &&
			       !s->late)))
			continue;
		was_late = s->late; /* read again for that, or for a balloon on the move */
		if (want)
			s->rest = 0; /* it may move now: read alone until it stands still again */
		if (mm_slot_ready(m, s, uuid, gen))
			err = ENOENT;
		m->calls += want && !err;
		if (want && !err && virDomainSetMemoryFlags(s->dom, kib, VIR_DOMAIN_AFFECT_LIVE) < 0)
			err = mm_virt_err(why, sizeof(why));
		if (want && !err)
			s->set_kib = kib;
		/* A large shrink leaves room a neighbour may wait for (a growth frees none). */
		if (want && !err && s->posted.actual_kib != MM_NONE &&
		    kib + MM_MOVING_KIB <= s->posted.actual_kib) {
			s->moving_kib = kib;
			s->moving_until = mono_ms() + MM_MOVING_MS;
		}
		if (read_due && s->dom) {
			uint64_t t = mono_ms();

			if (full && !want && !s->moving_kib && bulk[k].ok &&
			    mm_near(bulk[k].st.actual_kib, s->last_actual_kib)) {
				t = t_bulk;
				st = bulk[k].st;
				s->max_kib = st.max_kib; /* read_max need not ask again */
				s->max_read_ms = t;
				mm_read_pressure(s, psi, &host, &st);
				from_bulk = 1;
			} else {
				mm_read_stats(m, s, psi, full ? &host : NULL, t, &st);
				/*
				 * A VM taxed in small steps gets to each target before the
				 * next full read: it is read alone once per step, not twice
				 * (a policy steps every other period at most: its statistics
				 * right after a step say nothing of its use).
				 */
				s->rest = mm_at_rest(full, want, s->rest, s->last_actual_kib,
						     st.actual_kib, s->set_kib);
			}
			if (st.last_update != s->seen_update) {
				s->seen_update = st.last_update;
				s->swapping = mm_report_swapping(s->rep_swap_in, s->rep_major, &st);
				s->rep_swap_in = st.swap_in_kib;
				s->rep_major = st.major_faults;
				s->made_after_ms = s->last_read_ms ? s->last_read_ms
								   : t - m->period_ms;
				s->used_kib = mm_used_then(s->last_read_ms ? s->last_actual_kib : MM_NONE,
							   st.actual_kib, st.usable_kib);
			}
			s->last_read_ms = t;
			s->last_actual_kib = st.actual_kib;
			/* Only full reads and the late one's own move the cycle's stamp. */
			if (s->balloon && st.last_update > 0 && full) {
				if (s->quiet && st.last_update != s->cycle_update)
					m->realign = 1; /* reports again, at the phase its pause left */
				s->quiet &= st.last_update == s->cycle_update;
				s->late = st.last_update == s->cycle_update &&
					  mm_late_awaited(s->quiet, s->swapping, s->moving_kib);
				s->cycle_update = st.last_update;
			} else if (s->late && st.last_update > 0 && st.last_update != s->cycle_update) {
				s->late = 0;
				s->cycle_update = st.last_update;
			}
			st.made_after_ms = s->made_after_ms;
			st.used_kib = s->used_kib;
			if (st.actual_kib == MM_NONE || t > s->moving_until ||
			    mm_near(st.actual_kib, s->moving_kib))
				s->moving_kib = 0;
		} else if (read_due) {
			memset(&st, 0, sizeof(st)); /* max_kib 0: nothing known */
			snprintf(st.why, sizeof(st.why), "%s", s->why);
		}
		pthread_mutex_lock(&m->lock);
		if (want)
			post_result(m, k, cookie, kib, err, err == ENOENT && !why[0] ? s->why : why);
		*news |= want;
		/* st and posted are zeroed before they are filled: memcmp sees no stale padding. */
		if (read_due && s->used && s->gen == gen && memcmp(&st, &s->posted, sizeof(st))) {
			s->st = s->posted = st;
			s->fresh = 1;
			*news = 1;
		}
		moving |= s->moving_kib && room_awaited(m, k);
		*late |= read_due && s->dom && s->late;
		m->cnt.bulk_reads += from_bulk;
		m->cnt.calls = m->calls;
		if (read_due && s->dom && full)
			m->cnt.full_reads++;
		else if (read_due && s->dom)
			*(was_late ? &m->cnt.late_reads : &m->cnt.quick_reads) += 1;
		s->quiet_posted = s->quiet;
		pthread_mutex_unlock(&m->lock);
	}
	if (full) {
		pthread_mutex_lock(&m->lock);
		m->cnt.calls = m->calls;
		m->host = host;
		m->host_fresh = 1;
		pthread_mutex_unlock(&m->lock);
		*news = 1;
	}
	return moving;
}

/* The owner's eventfd; a full counter (it has not read yet) needs no second write. */
static void tell_owner(struct mm *m)
{
	uint64_t one = 1;
	ssize_t n = write(m->efd, &one, sizeof(one));

	(void)n;
}

/*
 * Re-arms every guest's statistics timer now (see MM_PUSH_MARGIN_MS).
 * QEMU ignores a period equal to the one it has (measured: the next report
 * came anywhere in the period), so the period is set one second longer,
 * then back, which re-arms the timer from now (the next report came
 * 1006-1009 ms later): two calls per guest, only when they drifted.
 */
static void rearm(struct mm *m)
{
	int p = (int)m->period_ms / 1000;

	for (unsigned int k = 0; k < MM_MAX_VMS; k++) {
		virDomainPtr dom = m->s[k].dom;

		if (!dom || !m->s[k].balloon)
			continue;
		virDomainSetMemoryStatsPeriod(dom, p + 1, VIR_DOMAIN_AFFECT_LIVE);
		virDomainSetMemoryStatsPeriod(dom, p, VIR_DOMAIN_AFFECT_LIVE);
		m->calls += 2;
	}
	pthread_mutex_lock(&m->lock);
	m->cnt.rearms++;
	m->cnt.calls = m->calls;
	pthread_mutex_unlock(&m->lock);
}

void mm_get_counters(struct mm *m, struct mm_counters *c)
{
	pthread_mutex_lock(&m->lock);
	*c = m->cnt;
	c->quiet_vms = 0;
	for (unsigned int k = 0; k < MM_MAX_VMS; k++)
		c->quiet_vms += m->s[k].used && m->s[k].quiet_posted;
	pthread_mutex_unlock(&m->lock);
}

static void *worker(void *arg)
{
	struct mm *m = arg;
	uint64_t next_full = mono_ms(), next_quick = UINT64_MAX, next_late = UINT64_MAX;
	int lock = m->period_ms % 1000 == 0; /* reads follow the guests' reports */
	unsigned int late_tries = 0;         /* late reads since the last full one */

	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		uint64_t now = mono_ms(), next = next_full;
		enum mm_read read = MM_READ_NONE;
		int news = 0, late = 0;

		next = next_quick < next ? next_quick : next;
		next = next_late < next ? next_late : next;
		if (!m->work && now < next) {
			struct timespec until;

			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_sec += (time_t)((next - now) / 1000);
			until.tv_nsec += (long)((next - now) % 1000) * 1000000;
			if (until.tv_nsec >= 1000000000) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&m->cv, &m->lock, &until);
			continue;
		}
		m->work = 0;
		if (now >= next_full) {
			read = MM_READ_FULL;
			next_full = now + m->period_ms;
			late_tries = 0;
		} else if (now >= next_quick) {
			read = MM_READ_QUICK;
		} else if (now >= next_late) {
			read = MM_READ_LATE;
		}
		if (read >= MM_READ_QUICK)
			next_quick = UINT64_MAX;
		if (read)
			next_late = UINT64_MAX;
		pthread_mutex_unlock(&m->lock);
		/* Without an event-loop watch: its calls wake no other thread (vmm/evloop.h). */
		if (!m->conn)
			m->conn = vmm_virt_open_unwatched(m->uri[0] ? m->uri : NULL);
		/* A balloon on the move (a target set this turn, or one still under way): watch it. */
		if (turn(m, read, &news, &late) && next_quick > now + m->period_ms / MM_MOVING_DIV)
			next_quick = now + m->period_ms / MM_MOVING_DIV;
		if (lock && read && late && late_tries < MM_LATE_TRIES) {
			/* A little late is waited for; later than that, the timers are re-armed. */
			if (++late_tries > MM_REARM_AFTER)
				m->realign = 1;
			next_late = now + ((uint64_t)MM_LATE_STEP_MS << (late_tries - 1));
		} else if (lock && read && m->realign && m->conn) {
			rearm(m); /* counted first: status never shows a quiet VM before its re-arm */
			pthread_mutex_lock(&m->lock);
			for (unsigned int k = 0; k < MM_MAX_VMS; k++)
				if (m->s[k].used && m->s[k].late) /* paused, hung, or no longer reporting */
					m->s[k].late = 0, m->s[k].quiet = m->s[k].quiet_posted = 1;
			pthread_mutex_unlock(&m->lock);
			m->realign = 0;
			next_full = mono_ms() + m->period_ms + MM_PUSH_MARGIN_MS;
		}
		if (m->conn && virConnectIsAlive(m->conn) != 1) {
			virConnectClose(m->conn); /* reopened next turn */
			m->conn = NULL;
		}
		if (news)
			tell_owner(m);
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

int mm_open(const char *uri, unsigned int period_ms, struct mm **out)
{
	struct mm *m = calloc(1, sizeof(*m));
	pthread_condattr_t ca;
	int ret;

	if (!m)
		return -ENOMEM;
	snprintf(m->uri, sizeof(m->uri), "%s", uri ? uri : "");
	m->period_ms = period_ms ? period_ms : 1000;
	m->meminfo.fd = m->host_psi.fd = -1;
	for (unsigned int k = 0; k < MM_MAX_VMS; k++)
		m->s[k].psi_file.fd = -1;
	if ((m->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		ret = -errno;
		goto err_free;
	}
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((ret = -pthread_create(&m->thr, NULL, worker, m)))
		goto err_close;
	pthread_setname_np(m->thr, "waved-mm");
	*out = m;
	return 0;
err_close:
	close(m->efd);
err_free:
	free(m);
	return ret;
}

void mm_close(struct mm *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = 1;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thr, NULL);
	for (unsigned int k = 0; k < MM_MAX_VMS; k++) {
		if (m->s[k].dom)
			virDomainFree(m->s[k].dom);
		mm_kfile_close(&m->s[k].psi_file);
	}
	mm_kfile_close(&m->meminfo);
	mm_kfile_close(&m->host_psi);
	if (m->conn)
		virConnectClose(m->conn);
	close(m->efd);
	free(m);
}

uint64_t mm_cpu_ns(const struct mm *m)
{
	struct timespec ts;
	clockid_t cid;

	if (pthread_getcpuclockid(m->thr, &cid) || clock_gettime(cid, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int mm_fd(const struct mm *m)
{
	return m->efd;
}

static void kick(struct mm *m)
{
	m->work = 1;
	pthread_cond_signal(&m->cv);
}

int mm_attach(struct mm *m, unsigned int slot, const char *uuid, const char *psi)
{
	struct mm_slot *s;

	if (slot >= MM_MAX_VMS || !uuid || strlen(uuid) >= sizeof(s->uuid))
		return -EINVAL;
	s = &m->s[slot];
	pthread_mutex_lock(&m->lock);
	s->used = 1;
	s->gen++;
	s->want = s->busy = s->fresh = s->quiet_posted = 0;
	snprintf(s->uuid, sizeof(s->uuid), "%s", uuid);
	snprintf(s->psi, sizeof(s->psi), "%s", psi ? psi : "");
	kick(m);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

void mm_detach(struct mm *m, unsigned int slot)
{
	if (slot >= MM_MAX_VMS)
		return;
	pthread_mutex_lock(&m->lock);
	m->s[slot].used = 0;
	m->s[slot].gen++;
	m->s[slot].want = m->s[slot].busy = m->s[slot].fresh = m->s[slot].quiet_posted = 0;
	/* A result the worker posted for it is dropped at mm_poll (gen moved on). */
	for (unsigned int i = 0; i < m->nres; i++)
		if (m->res[i].slot == slot)
			m->res[i].err = ECANCELED;
	pthread_mutex_unlock(&m->lock);
}

int mm_set_target(struct mm *m, unsigned int slot, uint32_t kib, uint64_t cookie)
{
	int ret = 0;

	if (slot >= MM_MAX_VMS)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	if (!m->s[slot].used)
		ret = -ENOENT;
	else if (m->s[slot].busy)
		ret = -EBUSY;
	else {
		m->s[slot].want = m->s[slot].busy = 1;
		m->s[slot].want_kib = kib;
		m->s[slot].cookie = cookie;
		kick(m);
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

void mm_poll(struct mm *m, const struct mm_cb *cb, void *arg)
{
	struct mm_stats *st = m->poll_st;
	int *fresh = m->poll_fresh;
	struct mm_result res[MM_MAX_RESULTS];
	struct mm_host h;
	unsigned int nres;
	int host_fresh;
	uint64_t v;

	/* Nothing new, or read already: the tables say what there is. */
	(void)!read(m->efd, &v, sizeof(v));
	pthread_mutex_lock(&m->lock);
	for (unsigned int k = 0; k < MM_MAX_VMS; k++) {
		fresh[k] = m->s[k].used && m->s[k].fresh;
		if (fresh[k])
			st[k] = m->s[k].st;
		m->s[k].fresh = 0;
	}
	nres = m->nres;
	memcpy(res, m->res, nres * sizeof(res[0]));
	for (unsigned int i = 0; i < nres; i++)
		m->s[res[i].slot].busy = 0;
	m->nres = 0;
	h = m->host;
	host_fresh = m->host_fresh;
	m->host_fresh = 0;
	pthread_mutex_unlock(&m->lock);
	for (unsigned int i = 0; i < nres; i++)
		if (cb->result)
			cb->result(&res[i], arg);
	for (unsigned int k = 0; k < MM_MAX_VMS; k++)
		if (fresh[k] && cb->stats)
			cb->stats(k, &st[k], arg);
	if (host_fresh && cb->host)
		cb->host(&h, arg);
}
