// SPDX-License-Identifier: BSD-3-Clause
/*
 * The agent's reader of the host kernel's thread records and heartbeat
 * (kstate.h has the design). Mapping the fds is here too; the rest is
 * plain memory reads and two stores.
 */
#include <errno.h>
#include <fcntl.h>
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
	k->beats_fd = -1;
}

int kstate_mapped(const struct kstate *k)
{
	return k->recs != NULL;
}

void kstate_unmap(struct kstate *k)
{
	for (int i = 0; i < KSTATE_MAPS; i++)
		if (k->map[i])
			munmap(k->map[i], k->map_len[i]);
	if (k->beats_fd >= 0)
		close(k->beats_fd);
	kstate_init_mem(k, NULL, NULL, NULL);
}

static int map_one(struct kstate *k, int i, int fd, size_t len, int prot, off_t off)
{
	void *p = mmap(NULL, len, prot, MAP_SHARED, fd, off);

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

	kstate_init_mem(k, NULL, NULL, NULL);
	/* Records and the host's word read-only (their fds are, too); the echo ours. */
	what = "the thread records";
	if ((ret = map_one(k, 0, fds[0], recs_len, PROT_READ, 0)))
		goto err;
	what = "the beat word";
	if ((ret = map_one(k, 1, kb[KBEAT_FD_HOST], pg, PROT_READ, 0)))
		goto err;
	what = "the echo word";
	if ((ret = map_one(k, 2, kb[KBEAT_FD_ECHO], pg, PROT_READ | PROT_WRITE, 0)))
		goto err;
	/* The ring: its consumer page (writable) and producer page only (the kernel's ABI). */
	what = "the beats ring";
	if ((ret = map_one(k, 3, kb[KBEAT_FD_BEATS], pg, PROT_READ | PROT_WRITE,
			   KBEAT_RB_CONSUMER_OFF)) ||
	    (ret = map_one(k, 4, kb[KBEAT_FD_BEATS], pg, PROT_READ, (off_t)pg)))
		goto err;
	k->beats_fd = fcntl(kb[KBEAT_FD_BEATS], F_DUPFD_CLOEXEC, 0);
	if (k->beats_fd < 0) {
		ret = -errno;
		goto err;
	}
	k->recs = k->map[0];
	k->host = k->map[1];
	k->echo = k->map[2];
	k->rb_cons = k->map[3];
	k->rb_prod = k->map[4];
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
	if (k->rb_cons) {
		/* Consumed up to the producer: EPOLLIN re-arms on the next record. */
		uint64_t p = __atomic_load_n(k->rb_prod, __ATOMIC_ACQUIRE);

		__atomic_store_n(k->rb_cons, p, __ATOMIC_RELEASE);
	}
	/* Acquire: the records are read after the beat (pairs with the timer's xchg). */
	return k->host ? __atomic_load_n(&k->host->host_seq, __ATOMIC_ACQUIRE) : 0;
}

unsigned int kstate_read(struct kstate *k, uint64_t now, struct wave_msg *out, unsigned int max)
{
	unsigned int n = 0, i;
	char why[128];

	if (!k->cursor)
		k->reads++;
	for (i = k->cursor; i < WAVE_KSTATE_SLOTS && n < max; i++) {
		struct kstate_thread *t = &k->th[i];
		struct hooks_rec r;

		if (!t->used)
			continue;
		/* Being written, or the slot names another thread now: next time. */
		if (hooks_rec_read(&k->recs[i], &r) || r.tid != t->tid) {
			k->skipped++;
			continue;
		}
		if (t->exported && r.seq == t->sent_seq && r.state != HOOKS_RUNNING &&
		    r.state != HOOKS_RUNNABLE)
			continue;
		t->sent_seq = r.seq;
		t->exported = 1;
		hooks_rec_upto(&r, now);
		kstate_fill(&out[n], &r, t->vm_id, t->index, t->kind, t->barrier, t->flags, i + 1);
		if (wave_msg_check(&out[n], why, sizeof(why))) {
			k->bad++;
			wave_log_rl(WAVE_LOG_WARN, "agent: the host's record %u: %s: dropped", i, why);
			continue;
		}
		n++;
	}
	k->cursor = i < WAVE_KSTATE_SLOTS ? i : 0;
	return n;
}

int kstate_more(const struct kstate *k)
{
	return k->cursor != 0;
}

void kstate_echo(struct kstate *k, uint64_t seq, uint64_t hold_ns)
{
	k->echo->hold_ns = hold_ns;
	/* Release: the record reads this answer vouches for come before it. */
	__atomic_store_n(&k->echo->echo_seq, seq, __ATOMIC_RELEASE);
	k->echoed = seq;
	k->echoes++;
}
