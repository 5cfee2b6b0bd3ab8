// SPDX-License-Identifier: BSD-3-Clause
/*
 * The agent's reader of the host kernel's thread records and heartbeat
 * (kstate.h has the design). Mapping the fds is here too; the rest is
 * plain memory reads and two stores.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "channel/chan.h"
#include "channel/codec.h"
#include "common/log.h"
#include "ipu-sched/kstate.h"

_Static_assert(WAVE_KSTATE_SLOTS == HOOKS_MAX_THREADS, "the wire's slot bound is the records'");
_Static_assert(CHAN_SHARE_FDS == 1 + KBEAT_NR_FDS, "records, then the heartbeat's fds");

static uint8_t wire_state(uint32_t s)
{
	switch (s) {
	case HOOKS_RUNNING:
		return WAVE_TS_RUNNING;
	case HOOKS_RUNNABLE:
		return WAVE_TS_RUNNABLE;
	case HOOKS_GONE:
		return WAVE_TS_GONE;
	default:
		return WAVE_TS_BLOCKED;
	}
}

void kstate_fill(struct wave_msg *m, const struct hooks_rec *r, uint32_t vm_id, uint16_t index,
		 uint8_t kind, uint32_t barrier, uint16_t flags, uint32_t slot1)
{
	struct wave_vcpu_state *s = &m->p.vcpu;

	wave_msg_init(m, WAVE_MSG_VCPU_STATE);
	s->vm_id = vm_id;
	s->index = index;
	s->kind = kind;
	s->state = wire_state(r->state);
	s->cpu = r->cpu < WAVE_MAX_CPUS ? (uint16_t)r->cpu : WAVE_CPU_NONE;
	s->barrier = barrier;
	s->run_ns = r->run_ns;
	s->wait_ns = r->wait_ns;
	s->wakeups = (uint32_t)r->wakeups;
	s->preempts = (uint32_t)r->preempts;
	s->tid = r->tid;
	s->flags = flags;
	s->slot = slot1;
}

void kstate_init_mem(struct kstate *k, const struct hooks_rec *recs,
		     const struct kbeat_host *host, struct kbeat_echo *echo)
{
	memset(k, 0, sizeof(*k));
	k->recs = recs;
	k->host = host;
	k->echo = echo;
}

int kstate_mapped(const struct kstate *k)
{
	return k->recs != NULL;
}

/* Forgets the mapping and the threads; the counters go on over attaches. */
static void forget(struct kstate *k)
{
	struct kstate_counters c = k->c;

	kstate_init_mem(k, NULL, NULL, NULL);
	k->c = c;
}

void kstate_unmap(struct kstate *k)
{
	for (int i = 0; i < KSTATE_MAPS; i++)
		if (k->map[i])
			munmap(k->map[i], k->map_len[i]);
	forget(k);
}

static int map_one(struct kstate *k, int i, int fd, size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	k->map[i] = p;
	k->map_len[i] = len;
	return 0;
}

int kstate_map(struct kstate *k, const int *fds, char *why, size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t recs_len = (sizeof(struct hooks_rec) * HOOKS_MAX_THREADS + pg - 1) / pg * pg;
	const int *kb = fds + 1;
	const char *what;
	int ret;

	kstate_unmap(k);
	/* Only the echo is written: the others are mapped read-only, whatever their fds allow. */
	what = "the thread records";
	if ((ret = map_one(k, 0, fds[0], recs_len, PROT_READ)))
		goto err;
	what = "the beat word";
	if ((ret = map_one(k, 1, kb[KBEAT_FD_HOST], pg, PROT_READ)))
		goto err;
	what = "the echo word";
	if ((ret = map_one(k, 2, kb[KBEAT_FD_ECHO], pg, PROT_READ | PROT_WRITE)))
		goto err;
	k->recs = k->map[0];
	k->host = k->map[1];
	k->echo = k->map[2];
	return 0;
err:
	snprintf(why, len, "cannot map %s the host shared: %s", what, strerror(-ret));
	kstate_unmap(k);
	return ret;
}

void kstate_learn(struct kstate *k, const struct wave_msg *m)
{
	const struct wave_vcpu_state *s = &m->p.vcpu;
	struct kstate_thread *t;

	switch (m->h.type) {
	case WAVE_MSG_SNAPSHOT_BEGIN:
		memset(k->th, 0, sizeof(k->th));
		return;
	case WAVE_MSG_VM_DEL:
		for (unsigned int i = 0; i < WAVE_KSTATE_SLOTS; i++)
			if (k->th[i].used && k->th[i].vm_id == m->p.vm_del.vm_id)
				k->th[i].used = 0;
		return;
	case WAVE_MSG_VCPU_STATE:
		break;
	default:
		return;
	}
	/* slot is bounded by the codec: 1..WAVE_KSTATE_SLOTS, 0 for none. */
	if (!s->slot)
		return;
	t = &k->th[s->slot - 1];
	if (s->state == WAVE_TS_GONE) {
		t->used = 0;
		return;
	}
	if (!t->used || t->tid != s->tid) {
		/* A thread new to this slot: export it at the next read. */
		t->exported = 0;
	}
	t->used = 1;
	t->tid = s->tid;
	t->vm_id = s->vm_id;
	t->index = s->index;
	t->kind = s->kind;
	t->barrier = s->barrier;
	t->flags = s->flags;
}

uint64_t kstate_beat(struct kstate *k)
{
	/* Acquire: host_ns and the records are read after the beat (pairs with the timer's xchg). */
	uint64_t seq = k->host ? __atomic_load_n(&k->host->host_seq, __ATOMIC_ACQUIRE) : 0;

	if (seq && seq != k->seen) {
		uint64_t period = k->host->period_ns;

		/* The host's word is read, never trusted: a period out of range is the default. */
		if (period < KSTATE_MIN_PERIOD_NS || period > KSTATE_MAX_PERIOD_NS)
			period = KSTATE_MIN_PERIOD_NS * 10;
		k->period_ns = period;
		k->due_ns = k->host->host_ns + period;
		k->beating = 1;
	}
	return seq;
}

void kstate_expect(struct kstate *k)
{
	k->beating = 1;
	k->due_ns = 0;
}

void kstate_quiet(struct kstate *k)
{
	k->beating = 0;
}

uint64_t kstate_next_look(const struct kstate *k, uint64_t now)
{
	if (!k->beating)
		return 0;
	if (k->due_ns && now < k->due_ns + KSTATE_LOOK_AFTER_NS)
		return k->due_ns + KSTATE_LOOK_AFTER_NS;
	/*
	 * The first beat, or a late one: the timer runs in softirq, which a
	 * loaded host defers, for milliseconds, to ksoftirqd. Never given up
	 * on while the host may be beating: a beat looked for only at the next
	 * decision would go unanswered.
	 */
	return now + KSTATE_LOOK_AGAIN_NS;
}

/* The thread in slot i, read now into out: 1, or 0 if unknown or unreadable (counted). */
static int read_one(struct kstate *k, unsigned int i, uint64_t now, struct wave_msg *out)
{
	struct kstate_thread *t = &k->th[i];
	struct hooks_rec r;
	char why[128];

	/* Being written, or the slot names another thread now: next time. */
	if (!t->used || hooks_rec_read(&k->recs[i], &r) || r.tid != t->tid) {
		k->c.skipped++;
		return 0;
	}
	t->sent_seq = r.seq;
	t->exported = 1;
	hooks_rec_upto(&r, now);
	kstate_fill(out, &r, t->vm_id, t->index, t->kind, t->barrier, t->flags, i + 1);
	if (wave_msg_check(out, why, sizeof(why))) {
		k->c.bad++;
		wave_log_rl(WAVE_LOG_WARN, "agent: the host's record %u: %s: dropped", i, why);
		return 0;
	}
	return 1;
}

int kstate_reread(struct kstate *k, const struct wave_msg *m, uint64_t now, struct wave_msg *out)
{
	const struct wave_vcpu_state *s = &m->p.vcpu;

	if (!k->recs || m->h.type != WAVE_MSG_VCPU_STATE || !s->slot || s->state == WAVE_TS_GONE)
		return 0;
	return read_one(k, s->slot - 1, now, out);
}

unsigned int kstate_read(struct kstate *k, uint64_t now, struct wave_msg *out, unsigned int max)
{
	unsigned int n = 0, i;

	if (!k->cursor)
		k->c.reads++;
	for (i = k->cursor; i < WAVE_KSTATE_SLOTS && n < max; i++) {
		const struct kstate_thread *t = &k->th[i];
		const struct hooks_rec *r = &k->recs[i];

		if (!t->used)
			continue;
		/* A first look without the seqcount: read_one() makes a consistent copy. */
		if (t->exported && hooks_rec_quiet(__atomic_load_n(&r->seq, __ATOMIC_ACQUIRE),
						   __atomic_load_n(&r->state, __ATOMIC_RELAXED),
						   t->sent_seq))
			continue;
		n += (unsigned int)read_one(k, i, now, &out[n]);
	}
	k->cursor = i < WAVE_KSTATE_SLOTS ? i : 0;
	return n;
}

int kstate_more(const struct kstate *k)
{
	return k->cursor != 0;
}

void kstate_echo(struct kstate *k, uint64_t seq, uint64_t now)
{
	uint64_t at = k->host ? k->host->host_ns : 0;

	k->echo->lag_ns = now > at ? now - at : 0;
	/* Release: the record reads this answer vouches for come before it. */
	__atomic_store_n(&k->echo->echo_seq, seq, __ATOMIC_RELEASE);
	k->echoed = seq;
	k->c.echoes++;
}
