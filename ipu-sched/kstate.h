/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The agent's reader of the host kernel's state (protocol 1.7,
 * WAVE_FEAT_KSTATE): for an agent on the host's memory (shm:), the host
 * passes the fds of the kernel's per-thread records (kvm-hooks/hooks.h)
 * and of its heartbeat (kvm-hooks/kbeat.h). Once the agent is in charge,
 * the kernel publishes a beat every half lag threshold; the agent looks a
 * little after each one is due, reads the records of the threads the host
 * told it about, and answers the beat.
 * waved then sleeps: it exports only new threads, pins and exits, and
 * wakes for the agent's decisions and for a beat left unanswered.
 *
 * From the records the reader builds the very VCPU_STATE messages waved
 * would have sent (kstate_fill, which waved uses too), checked like any
 * message from the host, so the policy sees one stream either way. Which
 * record is whose comes from the host's own VCPU_STATE (its slot word);
 * a record that names another thread than the host said is skipped.
 *
 * Alternative rejected: a second ring the kernel fills with state records.
 * The records array already is the state, updated in place at every
 * switch; reading it at the beat costs the host nothing.
 *
 * Threading: the agent's thread. The logic (learn, read) works on any
 * memory, so tests drive it with plain arrays (kstate_init_mem).
 */
#ifndef WAVE_IPU_SCHED_KSTATE_H
#define WAVE_IPU_SCHED_KSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "channel/wire.h"
#include "kvm-hooks/hooks.h"
#include "kvm-hooks/kbeat.h"

/*
 * Looking for a beat: this long after it is due (a BPF timer fires within
 * tens of microseconds of its time; the answer must be in before the next
 * fire, a period later), and again this often while it is late. The host
 * beats no faster than every 5 ms (WV_KWATCH_MIN_THRESHOLD_NS).
 */
#define KSTATE_LOOK_AFTER_NS  (200 * 1000ull)
#define KSTATE_LOOK_AGAIN_NS  (500 * 1000ull)
#define KSTATE_MIN_PERIOD_NS  (1000 * 1000ull)
#define KSTATE_MAX_PERIOD_NS  (60 * 1000 * 1000 * 1000ull)

struct kstate_thread {
	uint32_t tid, vm_id, barrier, sent_seq;
	uint16_t index, flags;
	uint8_t kind, used, exported;
};

struct kstate {
	const struct hooks_rec *recs;   /* WAVE_KSTATE_SLOTS records, read-only */
	const struct kbeat_host *host;  /* the kernel's beat word, read-only */
	struct kbeat_echo *echo;        /* ours */
#define KSTATE_MAPS 3
	void *map[KSTATE_MAPS];
	size_t map_len[KSTATE_MAPS];
	struct kstate_thread th[WAVE_KSTATE_SLOTS];
	unsigned int cursor;            /* where a read that filled its buffer goes on */
	uint64_t echoed;                /* the last beat answered */
	uint64_t seen, seen_ns;         /* the newest beat seen, and when (for a link delay) */
	uint64_t due_ns;                /* when the next beat is due (the host's clock: ours) */
	uint64_t period_ns;             /* the beat period, as the host word says (checked) */
	int beating;                    /* the host may be beating us: look for beats */
	struct kstate_counters {
		uint64_t beats, echoes, reads, skipped, bad;
	} c;                            /* over the process's life */
};

/* Fills m with the VCPU_STATE of record r for the thread named by the rest. */
void kstate_fill(struct wave_msg *m, const struct hooks_rec *r, uint32_t vm_id, uint16_t index,
		 uint8_t kind, uint32_t barrier, uint16_t flags, uint32_t slot1);

/* On plain memory (tests): nothing to map. */
void kstate_init_mem(struct kstate *k, const struct hooks_rec *recs,
		     const struct kbeat_host *host, struct kbeat_echo *echo);

/*
 * Maps what fds name (CHAN_SHARE_FDS of them, in the channel's order), in
 * place of what was mapped. 0 or -errno (why says which failed); on error
 * nothing stays mapped. kstate_unmap() undoes it (idempotent).
 */
int kstate_map(struct kstate *k, const int *fds, char *why, size_t len);
void kstate_unmap(struct kstate *k);
int kstate_mapped(const struct kstate *k);

/* Learns from a host message: which record is whose (VCPU_STATE), who left. */
void kstate_learn(struct kstate *k, const struct wave_msg *m);

/*
 * The newest beat the kernel published (0: none yet); a new one also sets
 * when the next is due.
 */
uint64_t kstate_beat(struct kstate *k);

/*
 * The host may have just handed control over (a snapshot came): look for
 * a first beat. kstate_quiet(): it heartbeats on the channel (a HEARTBEAT
 * came), so it does not beat through the kernel: stop looking.
 */
void kstate_expect(struct kstate *k);
void kstate_quiet(struct kstate *k);

/*
 * When to look for the next beat, at now: a little after it is due; if it
 * is late (or the first is awaited), again shortly, until it comes or the
 * host is heard heartbeating. 0: no beat is expected.
 */
uint64_t kstate_next_look(const struct kstate *k, uint64_t now);

/*
 * Builds up to max VCPU_STATE messages at now: every known thread whose
 * record moved since the last read, or that runs or waits for a CPU (its
 * times grow). Each is checked as a message from the host is; a bad one
 * is counted and dropped. Returns the count; if the buffer filled up,
 * kstate_more() is nonzero and the next call goes on where this one ended.
 */
unsigned int kstate_read(struct kstate *k, uint64_t now, struct wave_msg *out, unsigned int max);
int kstate_more(const struct kstate *k);

/*
 * For a VCPU_STATE m from the host about a thread whose record we read:
 * the record as it is now into *out, 1; else 0 (use m). The host's copy
 * was read earlier than ours: fed after ours, its times would go back.
 */
int kstate_reread(struct kstate *k, const struct wave_msg *m, uint64_t now, struct wave_msg *out);

/*
 * Answers beat seq at now, with the lag since the kernel published it (one
 * clock: the host's memory is ours). Release: after the reads it vouches for.
 */
void kstate_echo(struct kstate *k, uint64_t seq, uint64_t now);

#endif
