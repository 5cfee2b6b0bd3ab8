// SPDX-License-Identifier: BSD-3-Clause
/*
 * Backend choice and slot bookkeeping for thread observation (observe.h),
 * and the /proc backend. The /proc backend reads, per sample:
 *   /proc/PID/task/TID/schedstat  run ns, runnable-wait ns
 *   /proc/PID/task/TID/stat       state letter, last CPU (field 39)
 *   /proc/PID/task/TID/status     voluntary / nonvoluntary switches
 * voluntary switches stand in for wakeups (each block ends in one).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/procstat.h"
#include "kvm-hooks/observe.h"

int obs_proc_sample(pid_t pid, pid_t tid, struct hooks_rec *r)
{
	char path[96], buf[1024];
	unsigned long long run = 0, wait = 0;
	struct wave_procstat ps;
	int ret;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)pid, (int)tid);
	if (!(f = fopen(path, "re")))
		return -errno;
	if (fscanf(f, "%llu %llu", &run, &wait) != 2) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	if ((ret = wave_procstat(pid, tid, &ps)))
		return ret;
	r->tid = (uint32_t)tid;
	r->run_ns = run;
	r->wait_ns = wait;
	r->cpu = (uint32_t)ps.cpu;
	r->state = ps.state == 'R' ? HOOKS_RUNNING
		   : (ps.state == 'Z' || ps.state == 'X') ? HOOKS_GONE : HOOKS_BLOCKED;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	if ((f = fopen(path, "re"))) {
		unsigned long long v;

		while (fgets(buf, sizeof(buf), f)) {
			if (sscanf(buf, "voluntary_ctxt_switches: %llu", &v) == 1)
				r->wakeups = v;
			else if (sscanf(buf, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
				r->preempts = v;
		}
		fclose(f);
	}
	return 0;
}

struct proc_slot {
	struct hooks_rec base;  /* counters at registration: records count from there */
	struct hooks_rec last;
};

static int proc_open(struct obs *o, char *why, size_t len)
{
	o->priv = calloc(HOOKS_MAX_THREADS, sizeof(struct proc_slot));
	return o->priv ? 0 : wave_reason(why, len, -ENOMEM, "out of memory");
}

static int proc_add(struct obs *o, unsigned int slot, pid_t pid, pid_t tid, int notify)
{
	(void)notify; /* no events from /proc */
	struct proc_slot *s = &((struct proc_slot *)o->priv)[slot];
	int ret;

	memset(s, 0, sizeof(*s));
	ret = obs_proc_sample(pid, tid, &s->base);
	s->last = s->base;
	return ret;
}

static void proc_del(struct obs *o, unsigned int slot)
{
	memset(&((struct proc_slot *)o->priv)[slot], 0, sizeof(struct proc_slot));
}

static int proc_read(struct obs *o, unsigned int slot, struct hooks_rec *r)
{
	struct proc_slot *s = &((struct proc_slot *)o->priv)[slot];
	struct hooks_rec now = s->last;

	if (obs_proc_sample(o->pid[slot], o->tid[slot], &now)) {
		now.state = HOOKS_GONE;
	} else if (now.run_ns != s->last.run_ns || now.wait_ns != s->last.wait_ns ||
		   now.state != s->last.state || now.cpu != s->last.cpu) {
		now.seq = s->last.seq + 1;
		now.since_ns = wave_now_ns();
	}
	s->last = now;
	*r = now;
	r->run_ns -= s->base.run_ns;
	r->wait_ns -= s->base.wait_ns;
	r->wakeups -= s->base.wakeups;
	r->preempts -= s->base.preempts;
	return 0;
}

static int proc_fd(const struct obs *o)
{
	(void)o;
	return -1;
}

static int proc_poll(struct obs *o, void (*cb)(const struct hooks_event *, void *), void *arg)
{
	(void)o;
	(void)cb;
	(void)arg;
	return 0;
}

static void proc_close(struct obs *o)
{
	free(o->priv);
}

const struct obs_ops obs_proc_ops = {
	.name = "proc",
	.open = proc_open,
	.add = proc_add,
	.del = proc_del,
	.read = proc_read,
	.fd = proc_fd,
	.poll = proc_poll,
	.close = proc_close,
};

const struct wave_name obs_backends[] = {
	{ "auto", OBS_AUTO }, { "bpf", OBS_BPF }, { "proc", OBS_PROC }, { NULL, 0 },
};

int obs_open(enum obs_backend want, uint64_t wake_min_idle_ns, unsigned int flags,
	     struct obs **out)
{
	const struct obs_ops *try[2] = { &obs_bpf_ops, &obs_proc_ops };
	struct obs *o = calloc(1, sizeof(*o));
	char why[256];
	int ret = -ENODEV;

	if (!o)
		return -ENOMEM;
	o->wake_min_idle_ns = wake_min_idle_ns;
	o->flags = flags;
	for (int i = 0; i < 2; i++) {
		if ((want == OBS_BPF && i == 1) || (want == OBS_PROC && i == 0))
			continue;
		o->ops = try[i];
		ret = o->ops->open(o, why, sizeof(why));
		if (!ret)
			break;
		wave_warn("observe: %s backend unavailable: %s", o->ops->name, why);
	}
	if (ret) {
		free(o);
		return ret;
	}
	wave_info("observe: thread records from %s", o->ops == &obs_bpf_ops ?
		  "BPF (sched_switch, sched_wakeup, sched_wakeup_new, sched_process_exit)" :
		  "/proc sampling (schedstat, stat, status)");
	*out = o;
	return 0;
}

void obs_close(struct obs *o)
{
	if (!o)
		return;
	o->ops->close(o);
	free(o);
}

const char *obs_name(const struct obs *o)
{
	return o->ops->name;
}

int obs_add(struct obs *o, pid_t pid, pid_t tid, int notify)
{
	for (unsigned int s = 0; s < HOOKS_MAX_THREADS; s++) {
		int ret;

		if (o->used[s])
			continue;
		o->pid[s] = pid;
		o->tid[s] = tid;
		ret = o->ops->add(o, s, pid, tid, notify);
		if (ret)
			return ret;
		o->used[s] = 1;
		return (int)s;
	}
	return -ENOSPC;
}

void obs_del(struct obs *o, int slot)
{
	if (slot < 0 || slot >= HOOKS_MAX_THREADS || !o->used[slot])
		return;
	o->ops->del(o, (unsigned int)slot);
	o->used[slot] = 0;
}

int obs_read(struct obs *o, int slot, struct hooks_rec *r)
{
	if (slot < 0 || slot >= HOOKS_MAX_THREADS || !o->used[slot])
		return -ENOENT;
	return o->ops->read(o, (unsigned int)slot, r);
}

void obs_notify(struct obs *o, int slot, int on)
{
	if (slot >= 0 && slot < HOOKS_MAX_THREADS && o->used[slot] && o->ops->notify)
		o->ops->notify(o, (unsigned int)slot, on);
}

int obs_share_fd(struct obs *o)
{
	return o->ops->share_fd ? o->ops->share_fd(o) : -ENOTSUP;
}

int obs_fd(const struct obs *o)
{
	return o->ops->fd(o);
}

int obs_poll(struct obs *o, void (*cb)(const struct hooks_event *ev, void *arg), void *arg)
{
	return o->ops->poll(o, cb, arg);
}
