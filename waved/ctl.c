// SPDX-License-Identifier: BSD-3-Clause
/*
 * The status socket: a unix stream socket at RUNDIR/waved.sock. A client
 * connects and reads one JSON document (waved's mode, watchdog, counters,
 * VMs and threads), then waved closes. No request to parse means nothing a
 * client can send is interpreted. Written with json-c, so names are escaped.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "channel/codec.h"
#include "common/log.h"
#include "common/site.h"
#include "ipu-sched/policy.h"
#include "kvm-hooks/kbeat.h"
#include "waved/waved.h"

static void sock_path(const struct waved *w, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	site_path(a->sun_path, sizeof(a->sun_path), w->cfg.rundir, SITE_STATUS_SOCK);
}

int wv_ctl_open(struct waved *w)
{
	struct sockaddr_un a;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	sock_path(w, &a);
	mkdir(w->cfg.rundir, 0755);
	/* A stale socket of a dead waved: refuse if one still answers there. */
	if (!connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		wave_err("waved: another waved serves %s", a.sun_path);
		return -EADDRINUSE;
	}
	unlink(a.sun_path);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 8)) {
		int err = -errno;

		wave_err("waved: status socket %s: %s", a.sun_path, strerror(errno));
		close(fd);
		return err;
	}
	w->ctl_fd = fd;
	return 0;
}

void wv_ctl_close(struct waved *w)
{
	struct sockaddr_un a;

	if (w->ctl_fd < 0)
		return;
	close(w->ctl_fd);
	sock_path(w, &a);
	unlink(a.sun_path);
	w->ctl_fd = -1;
}

static json_object *thread_json(const struct wv_thread *t)
{
	static const char *const kinds[] = { "vcpu", "emulator", "iothread" };
	static const char *const states[] = { "blocked", "runnable", "running", "gone" };
	json_object *o = json_object_new_object();
	struct mech_state now;

	json_object_object_add(o, "kind", json_object_new_string(kinds[t->kind % 3]));
	json_object_object_add(o, "index", json_object_new_int(t->index));
	json_object_object_add(o, "tid", json_object_new_int((int)t->tid));
	json_object_object_add(o, "state", json_object_new_string(states[t->rec.state & 3]));
	json_object_object_add(o, "cpu", json_object_new_int((int)t->rec.cpu));
	json_object_object_add(o, "run_pct", json_object_new_double(t->run_pct));
	json_object_object_add(o, "delay_pct", json_object_new_double(t->delay_pct));
	json_object_object_add(o, "wakeups", json_object_new_int64((int64_t)t->rec.wakeups));
	json_object_object_add(o, "preempts", json_object_new_int64((int64_t)t->rec.preempts));
	json_object_object_add(o, "managed", json_object_new_boolean(t->mech.changed));
	if (!mech_get(&t->mech, &now)) {
		json_object_object_add(o, "sched", json_object_new_string(
			now.policy == SCHED_DEADLINE ? "deadline" :
			now.policy == SCHED_FIFO ? "fifo" : "other"));
		if (now.policy == SCHED_DEADLINE)
			json_object_object_add(o, "dl_runtime_us",
					       json_object_new_int64((int64_t)now.dl_runtime / 1000));
		json_object_object_add(o, "cpus_allowed", json_object_new_int(CPU_COUNT(&now.affinity)));
	}
	if (t->pinned) {
		char cpus[128];

		wv_cpulist(&t->pin, cpus, sizeof(cpus));
		json_object_object_add(o, "pinned", json_object_new_string(cpus));
	}
	return o;
}

static json_object *net_json(const struct waved *w, const struct wv_vm *vm)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();

	for (unsigned int i = 0; i < vm->nr_net; i++)
		json_object_array_add(a, json_object_new_string(netobs_ifname(w->net, vm->net_slot[i])));
	if (vm->net_switch)
		json_object_array_add(a, json_object_new_string("wave-switch"));
	json_object_object_add(o, "interfaces", a);
	json_object_object_add(o, "rx_pkts", json_object_new_int64((int64_t)vm->net_sent.rx_pkts));
	json_object_object_add(o, "rx_bytes", json_object_new_int64((int64_t)vm->net_sent.rx_bytes));
	json_object_object_add(o, "tx_pkts", json_object_new_int64((int64_t)vm->net_sent.tx_pkts));
	json_object_object_add(o, "tx_bytes", json_object_new_int64((int64_t)vm->net_sent.tx_bytes));
	json_object_object_add(o, "rx_pps", json_object_new_double(vm->rx_pps));
	json_object_object_add(o, "tx_pps", json_object_new_double(vm->tx_pps));
	return o;
}

/* A size or count the guest reported, or null. */
static json_object *mem_num(uint32_t v)
{
	return v == MM_NONE ? NULL : json_object_new_int64((int64_t)v);
}

static json_object *mem_json(const struct wv_vm *vm)
{
	const struct mm_stats *s = &vm->mem.st;
	json_object *o = json_object_new_object();

	json_object_object_add(o, "balloon", json_object_new_boolean(s->balloon));
	json_object_object_add(o, "max_kib", json_object_new_int64((int64_t)s->max_kib));
	json_object_object_add(o, "actual_kib", mem_num(s->actual_kib));
	json_object_object_add(o, "target_kib", json_object_new_int64((int64_t)vm->mem.target_kib));
	json_object_object_add(o, "floor_kib", json_object_new_int64((int64_t)vm->mem.floor_kib));
	json_object_object_add(o, "weight", json_object_new_int((int)vm->mem.weight));
	json_object_object_add(o, "available_kib", mem_num(s->available_kib));
	json_object_object_add(o, "usable_kib", mem_num(s->usable_kib));
	json_object_object_add(o, "used_kib", mem_num(s->used_kib));
	json_object_object_add(o, "unused_kib", mem_num(s->unused_kib));
	json_object_object_add(o, "caches_kib", mem_num(s->caches_kib));
	json_object_object_add(o, "rss_kib", mem_num(s->rss_kib));
	json_object_object_add(o, "major_faults", mem_num(s->major_faults));
	json_object_object_add(o, "swap_in_kib", mem_num(s->swap_in_kib));
	json_object_object_add(o, "psi_some_us", json_object_new_int64((int64_t)s->psi_some_us));
	json_object_object_add(o, "psi_vm", json_object_new_boolean(s->psi_vm));
	json_object_object_add(o, "refused", json_object_new_int64((int64_t)vm->mem.refused));
	if (s->why[0])
		json_object_object_add(o, "note", json_object_new_string(s->why));
	return o;
}

static json_object *vm_json(const struct waved *w, const struct wv_vm *vm)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();

	json_object_object_add(o, "name", json_object_new_string(vm->name));
	json_object_object_add(o, "id", json_object_new_int((int)vm->id));
	json_object_object_add(o, "class", json_object_new_string(vmm_class_name(vm->cls)));
	json_object_object_add(o, "weight", json_object_new_int((int)vm->weight));
	json_object_object_add(o, "applied", json_object_new_int64((int64_t)vm->applied));
	json_object_object_add(o, "rejected", json_object_new_int64((int64_t)vm->rejected));
	json_object_object_add(o, "demotions", json_object_new_int64((int64_t)vm->demotions));
	if (vm->nr_net || vm->net_switch)
		json_object_object_add(o, "net", net_json(w, vm));
	if (vm->mem.on)
		json_object_object_add(o, "mem", mem_json(vm));
	if (vm->state)
		json_object_object_add(o, "state", json_object_new_string(vmm_state_name(vm->state)));
	if (vm->memory_kib)
		json_object_object_add(o, "memory_kib", json_object_new_int64((int64_t)vm->memory_kib));
	if (vm->meta_refused[0])
		json_object_object_add(o, "metadata_refused", json_object_new_string(vm->meta_refused));
	for (unsigned int i = 0; i < WV_MAX_THREADS; i++)
		if (vm->th[i].used)
			json_object_array_add(a, thread_json(&vm->th[i]));
	json_object_object_add(o, "threads", a);
	return o;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* p50/p99 in us of the last WV_LAT_SAMPLES of a latency ring. */
static json_object *latency_json(const uint64_t *ring, uint64_t count)
{
	static uint64_t v[WV_LAT_SAMPLES];
	uint64_t n = count < WV_LAT_SAMPLES ? count : WV_LAT_SAMPLES;
	json_object *o = json_object_new_object();

	memcpy(v, ring, n * sizeof(v[0]));
	qsort(v, n, sizeof(v[0]), cmp_u64);
	json_object_object_add(o, "n", json_object_new_int64((int64_t)count));
	json_object_object_add(o, "p50", json_object_new_double(n ? (double)v[n / 2] / 1e3 : 0));
	json_object_object_add(o, "p99", json_object_new_double(
		n ? (double)v[n * 99 / 100] / 1e3 : 0));
	return o;
}

/* waved's counters as status keys (each a uint64_t of struct waved_stats). */
static const struct {
	const char *name;
	size_t offset;
} counters[] = {
	{ "wakeups", offsetof(struct waved_stats, wakeups) },
	{ "wakeups_tick", offsetof(struct waved_stats, wakeups_tick) },
	{ "wakeups_doorbell", offsetof(struct waved_stats, wakeups_doorbell) },
	{ "wakeups_watchdog", offsetof(struct waved_stats, wakeups_watchdog) },
	{ "wakeups_mem", offsetof(struct waved_stats, wakeups_mem) },
	{ "wakeups_obs", offsetof(struct waved_stats, wakeups_obs) },
	{ "wakeups_net", offsetof(struct waved_stats, wakeups_net) },
	{ "wakeups_other", offsetof(struct waved_stats, wakeups_other) },
	{ "wakeups_status", offsetof(struct waved_stats, wakeups_status) },
	{ "wakeups_kbeat", offsetof(struct waved_stats, wakeups_kbeat) },
	{ "kwatch_starts", offsetof(struct waved_stats, kwatch_starts) },
	{ "kwatch_refused", offsetof(struct waved_stats, kwatch_refused) },
	{ "kwatch_silent", offsetof(struct waved_stats, kwatch_silent) },
	{ "fallbacks", offsetof(struct waved_stats, fallbacks) },
	{ "handbacks", offsetof(struct waved_stats, handbacks) },
	{ "last_fallback_ns", offsetof(struct waved_stats, last_fallback_ns) },
	{ "snapshots", offsetof(struct waved_stats, snapshots) },
	{ "wake_events", offsetof(struct waved_stats, wake_events) },
	{ "exports", offsetof(struct waved_stats, exports) },
	{ "wake_subs", offsetof(struct waved_stats, wake_subs) },
	{ "bad_wake_subs", offsetof(struct waved_stats, bad_wake_subs) },
	{ "prestaged", offsetof(struct waved_stats, prestaged) },
	{ "prestaged_fired", offsetof(struct waved_stats, prestaged_fired) },
	{ "dl_repairs", offsetof(struct waved_stats, dl_repairs) },
	{ "rt_refused", offsetof(struct waved_stats, rt_refused) },
	{ "resyncs", offsetof(struct waved_stats, resyncs) },
	{ "resyncs_refused", offsetof(struct waved_stats, resyncs_refused) },
	{ "evictions", offsetof(struct waved_stats, evictions) },
	{ "threads_dropped", offsetof(struct waved_stats, threads_dropped) },
	{ "metadata_changes", offsetof(struct waved_stats, meta_changes) },
	{ "metadata_refused", offsetof(struct waved_stats, meta_refused) },
	{ "tunings_adopted", offsetof(struct waved_stats, tunings_adopted) },
	{ "net_exports", offsetof(struct waved_stats, net_exports) },
	{ "net_arrivals", offsetof(struct waved_stats, net_arrivals) },
	{ "net_fired", offsetof(struct waved_stats, net_fired) },
	{ "mem_exports", offsetof(struct waved_stats, mem_exports) },
	{ "mem_set", offsetof(struct waved_stats, mem_set) },
	{ "mem_refused", offsetof(struct waved_stats, mem_refused) },
	{ "net_set", offsetof(struct waved_stats, net_set) },
	{ "net_refused", offsetof(struct waved_stats, net_refused) },
	{ "net_failed", offsetof(struct waved_stats, net_failed) },
	{ "mem_failed", offsetof(struct waved_stats, mem_failed) },
	{ "mem_fallback_deflates", offsetof(struct waved_stats, mem_fallback_deflates) },
	{ "tx_dropped", offsetof(struct waved_stats, tx_dropped) },
	{ "bad_txns", offsetof(struct waved_stats, rx_invalid_txn) },
};

/*
 * The kernel's heartbeat (kwatch.c): whether it beats the agent now, and
 * its counters; the timer's own CPU time is part of what offloading costs
 * the host (it runs in softirq, charged to no process).
 */
static void kwatch_json(const struct waved *w, json_object *o)
{
	json_object *k = json_object_new_object();
	struct kbeat_stats s = { 0 };

	if (w->kb)
		kbeat_get_stats(w->kb, &s);
	json_object_object_add(k, "available", json_object_new_boolean(w->kb != NULL));
	json_object_object_add(k, "on", json_object_new_boolean(w->kw_on));
	json_object_object_add(k, "fires", json_object_new_int64((int64_t)s.fires));
	json_object_object_add(k, "beats", json_object_new_int64((int64_t)s.beats));
	json_object_object_add(k, "stalls", json_object_new_int64((int64_t)s.stalls));
	json_object_object_add(k, "missed_stalls", json_object_new_int64((int64_t)s.missed_stalls));
	json_object_object_add(k, "odd_echoes", json_object_new_int64((int64_t)s.odd_echoes));
	json_object_object_add(k, "run_ns", json_object_new_int64((int64_t)s.run_ns));
	json_object_object_add(k, "lag_us", json_object_new_double((double)s.last_lag_ns / 1e3));
	json_object_object_add(k, "lag_max_us", json_object_new_double((double)s.max_lag_ns / 1e3));
	json_object_object_add(o, "kernel_watch", k);
}

static json_object *status_json(const struct waved *w)
{
	json_object *o = json_object_new_object(), *st = json_object_new_object(), *vms;
	struct rusage ru;
	const char *mode = wave_name_of(wv_modes, w->cfg.mode);
	const char *state = w->cfg.mode != WAVED_OFFLOAD ? mode :
			    w->wd.state == WD_OFFLOAD ? "offload" : "fallback";

	getrusage(RUSAGE_SELF, &ru);
	json_object_object_add(o, "mode", json_object_new_string(mode));
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "why", json_object_new_string(w->wd.why ? w->wd.why : ""));
	json_object_object_add(o, "policy", json_object_new_string(w->cfg.policy->ops->name));
	json_object_object_add(o, "fallback", json_object_new_string(
		wave_name_of(wv_fallbacks, w->cfg.fallback)));
	json_object_object_add(o, "epoch", json_object_new_int64(w->epoch));
	json_object_object_add(o, "agent_up", json_object_new_boolean(w->ch && chan_is_up(w->ch)));
	json_object_object_add(o, "channel", json_object_new_string(w->cfg.channel ? w->cfg.channel : ""));
	json_object_object_add(o, "channel_auth", json_object_new_string(w->ch ? chan_auth(w->ch) : ""));
	json_object_object_add(o, "lag_us", json_object_new_double(
		(double)wd_lag(&w->wd, w->now) / 1000.0));
	/* The worst since the last transition (a hand-back starts it afresh). */
	json_object_object_add(o, "lag_max_us", json_object_new_double(
		(double)w->wd.max_lag_ns / 1000.0));
	json_object_object_add(o, "lag_threshold_us", json_object_new_int64(
		(int64_t)w->cfg.lag_threshold_ns / 1000));
	/* Echoes read without a doorbell carry no round trip (fallback.h): how many, and the hold. */
	json_object_object_add(o, "echoes", json_object_new_int64((int64_t)w->wd.echoes));
	json_object_object_add(o, "echoes_lazy", json_object_new_int64((int64_t)w->wd.lazy_echoes));
	json_object_object_add(o, "agent_hold_us", json_object_new_double(
		(double)w->wd.last_hold_ns / 1000.0));
	json_object_object_add(o, "agent_hold_max_us", json_object_new_double(
		(double)w->wd.max_hold_ns / 1000.0));
	json_object_object_add(o, "observe", json_object_new_string(obs_name(w->obs)));
	kwatch_json(w, o);
	json_object_object_add(o, "net_observe", json_object_new_string(w->net ? netobs_name(w->net)
										: "none"));
	json_object_object_add(o, "mem_observe", json_object_new_string(w->mm ? "libvirt" : "none"));
	json_object_object_add(o, "mem_budget_kib", json_object_new_int64((int64_t)w->cfg.mem_budget_kib));
	json_object_object_add(o, "mem_cpu_s", json_object_new_double(w->mm ? (double)mm_cpu_ns(w->mm) / 1e9
										 : 0));
	json_object_object_add(o, "rt_granted_cpus", json_object_new_double(w->rt_total));
	json_object_object_add(o, "rt_max_total_cpus", json_object_new_double(w->cfg.rt_max_total));
	json_object_object_add(o, "rt_max_thread_cpus",
			       json_object_new_double(w->cfg.rt_max_thread));
	json_object_object_add(o, "waved_cpu_s", json_object_new_double(
		(double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6));
	json_object_object_add(st, "txns", json_object_new_int64((int64_t)w->st.txns));
	for (unsigned int s = 0; s < WAVE_ST_MAX; s++)
		json_object_object_add(st, wave_status_name(s),
				       json_object_new_int64((int64_t)w->st.results[s]));
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		json_object_object_add(st, counters[i].name,
				       json_object_new_int64((int64_t)*(const uint64_t *)(
					       (const char *)&w->st + counters[i].offset)));
	if (w->mm) {
		struct mm_counters mc;

		mm_get_counters(w->mm, &mc);
		json_object_object_add(st, "mem_reads", json_object_new_int64((int64_t)mc.full_reads));
		json_object_object_add(st, "mem_bulk_reads", json_object_new_int64((int64_t)mc.bulk_reads));
		json_object_object_add(st, "mem_quick_reads",
				       json_object_new_int64((int64_t)mc.quick_reads));
		json_object_object_add(st, "mem_late_reads",
				       json_object_new_int64((int64_t)mc.late_reads));
		json_object_object_add(st, "mem_rearms", json_object_new_int64((int64_t)mc.rearms));
		json_object_object_add(st, "mem_calls", json_object_new_int64((int64_t)mc.calls));
		json_object_object_add(st, "mem_quiet_vms", json_object_new_int64((int64_t)mc.quiet_vms));
	}
	json_object_object_add(st, "last_fallback_lag_us",
			       json_object_new_double((double)w->st.last_fallback_lag_ns / 1e3));
	if (w->ch) {
		const struct chan_stats *cs = chan_get_stats(w->ch);

		json_object_object_add(st, "tx_msgs", json_object_new_int64((int64_t)cs->tx_msgs));
		json_object_object_add(st, "rx_msgs", json_object_new_int64((int64_t)cs->rx_msgs));
		json_object_object_add(st, "rx_invalid", json_object_new_int64((int64_t)cs->rx_invalid));
		json_object_object_add(st, "proto_errors",
				       json_object_new_int64((int64_t)cs->proto_errors));
		json_object_object_add(st, "peers_refused",
				       json_object_new_int64((int64_t)cs->hello_rejected));
		if (cs->hello_rejected) {
			json_object *r = json_object_new_object();

			for (unsigned int k = 0; k < CHAN_REJ_MAX; k++)
				json_object_object_add(r, chan_reject_name((enum chan_reject)k),
						       json_object_new_int64((int64_t)cs->rejected[k]));
			json_object_object_add(st, "refused_by_reason", r);
			json_object_object_add(st, "last_refusal",
					       json_object_new_string(cs->last_reject));
		}
	}
	json_object_object_add(o, "stats", st);
	/* wakeup seen in BPF -> decision about that thread applied */
	json_object_object_add(o, "decision_us",
			       latency_json(w->st.decision_ns, w->st.decisions_timed));
	/* wakeup seen in BPF -> its event in waved's hands (the kernel's share) */
	json_object_object_add(o, "event_us", latency_json(w->st.event_ns, w->st.events_timed));
	vms = json_object_new_array();
	for (unsigned int v = 0; v < WV_MAX_VMS; v++)
		if (w->vms[v].used)
			json_object_array_add(vms, vm_json(w, &w->vms[v]));
	json_object_object_add(o, "vms", vms);
	return o;
}

void wv_ctl_accept(struct waved *w)
{
	int fd;

	while ((fd = accept4(w->ctl_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		json_object *o = status_json(w);
		const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		size_t len = strlen(text), off = 0;

		/* A client that does not read does not stall waved: a short send is its loss. */
		while (off < len) {
			ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);

			if (n <= 0)
				break;
			off += (size_t)n;
		}
		send(fd, "\n", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		json_object_put(o);
	}
}
