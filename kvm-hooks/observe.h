/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Observing the threads waved manages: their state, CPU, run and runnable
 * time, wakeups and preemptions (struct hooks_rec), and an event when one
 * wakes up or exits.
 *
 * Two backends behind one ops struct: BPF (hooks.bpf.c: exact, event-driven,
 * read from an mmapped array without system calls) and /proc sampling
 * (schedstat, stat, status: no root or BPF needed, no wakeup events, state
 * as of the last sample). obs_open() tries BPF first and logs which one
 * serves.
 *
 * Threading: one owner thread.
 */
#ifndef WAVE_KVM_HOOKS_OBSERVE_H
#define WAVE_KVM_HOOKS_OBSERVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/parse.h"
#include "kvm-hooks/hooks.h"

struct obs;

/*
 * @name:     "bpf" or "proc".
 * @open:     set the backend up; 0 or -errno (why says what failed).
 * @add:      start following thread tid of process pid in slot (free,
 *            < HOOKS_MAX_THREADS); notify: deliver its wakeups as events.
 *            0 or -errno.
 * @del:      stop following the thread in slot.
 * @read:     the thread's record now (a consistent copy). 0, -ENOENT for a
 *            free slot, or -EAGAIN if it was being written (read it later).
 * @fd:       pollable fd that turns readable when events are queued, or -1.
 * @poll:     deliver queued events to cb; returns how many.
 * @notify:   (optional) turn events for the thread in slot on or off.
 * @share_fd: (optional) a new fd naming a copy of the records that a peer
 *            on this host's memory may map (HOOKS_MAX_THREADS of them,
 *            slot-indexed; what it writes there misleads only itself);
 *            -errno (-ENOTSUP: not opened with OBS_F_SHARE, or no BPF).
 * @close:    release everything (BPF programs detach).
 */
struct obs_ops {
	const char *name;
	int (*open)(struct obs *o, char *why, size_t len);
	int (*add)(struct obs *o, unsigned int slot, pid_t pid, pid_t tid, int notify);
	void (*del)(struct obs *o, unsigned int slot);
	int (*read)(struct obs *o, unsigned int slot, struct hooks_rec *r);
	int (*fd)(const struct obs *o);
	int (*poll)(struct obs *o, void (*cb)(const struct hooks_event *ev, void *arg),
		    void *arg);
	void (*notify)(struct obs *o, unsigned int slot, int on);
	int (*share_fd)(struct obs *o);
	void (*close)(struct obs *o);
};

extern const struct obs_ops obs_bpf_ops;
extern const struct obs_ops obs_proc_ops;

enum obs_backend { OBS_AUTO = 0, OBS_BPF, OBS_PROC };
/* Their names (common/parse.h): auto, bpf, proc. */
extern const struct wave_name obs_backends[];

/* obs_open() flags. SHARE: keep the records' copy for a peer (obs_share_fd). */
#define OBS_F_SHARE 1u

/*
 * Opens the requested backend (AUTO: BPF, else /proc, logged). Wakeups of
 * notify threads become events only after at least wake_min_idle_ns asleep.
 */
int obs_open(enum obs_backend want, uint64_t wake_min_idle_ns, unsigned int flags,
	     struct obs **out);
void obs_close(struct obs *o);
const char *obs_name(const struct obs *o);

/* Registers a thread; returns its slot (>= 0) or -errno (-ENOSPC: full). */
int obs_add(struct obs *o, pid_t pid, pid_t tid, int notify);
void obs_del(struct obs *o, int slot);
int obs_read(struct obs *o, int slot, struct hooks_rec *r);
int obs_fd(const struct obs *o);
/* Wakeups of the thread in slot become events (on) or not (off). */
void obs_notify(struct obs *o, int slot, int on);
int obs_poll(struct obs *o, void (*cb)(const struct hooks_event *ev, void *arg), void *arg);
/* See @share_fd; the caller owns the fd. */
int obs_share_fd(struct obs *o);

/* Backend state; the ops above work on it. */
struct obs {
	const struct obs_ops *ops;
	unsigned char used[HOOKS_MAX_THREADS];
	pid_t pid[HOOKS_MAX_THREADS];
	pid_t tid[HOOKS_MAX_THREADS];
	uint64_t wake_min_idle_ns;
	unsigned int flags;        /* OBS_F_* */
	void *priv;
};

/* /proc sampling of one thread into r (also used by BPF registration). 0 or -errno. */
int obs_proc_sample(pid_t pid, pid_t tid, struct hooks_rec *r);

#endif
