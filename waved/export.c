// SPDX-License-Identifier: BSD-3-Clause
/*
 * State out of waved: snapshots, per-thread deltas, host CPUs, heartbeats.
 * Every message goes through wv_emit(): to the agent over the channel (via
 * a bounded outbox when its window is full) and, when waved runs a policy
 * itself (on-host mode, or the local fallback), into that policy's model.
 * Both policies therefore see exactly the same stream.
 *
 * Deltas are cheap when nothing changes: a thread is exported only when
 * its record's sequence moved, and with BPF reading a record is a memory
 * copy. A wakeup event (BPF ring buffer) exports its thread at once, so an
 * event-driven policy need not wait for the next period.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "channel/codec.h"
#include "common/clock.h"
#include "common/log.h"
#include "ipu-sched/kstate.h"
#include "ipu-sched/sched.h"
#include "waved/waved.h"

static int to_agent(const struct waved *w)
{
	return w->ch && chan_is_up(w->ch);
}

void wv_flush(struct waved *w)
{
	int n;

	if (!w->out_n || !to_agent(w))
		return;
	n = chan_send_batch(w->ch, w->outbox, w->out_n);
	if (n <= 0)
		return;
	memmove(w->outbox, w->outbox + n, (w->out_n - (unsigned int)n) * sizeof(w->outbox[0]));
	w->out_n -= (unsigned int)n;
}

int wv_emit(struct waved *w, const struct wave_msg *m)
{
	struct wave_msg plain;

	if (w->local)
		sched_feed(w->local, m, w->now);
	if (!to_agent(w))
		return 0;
	/* Traffic only to an agent that said it reads it (wire.h, WAVE_FEAT_NET). */
	if (m->h.type == WAVE_MSG_NET_STATE && !(chan_peer_features(w->ch) & WAVE_FEAT_NET))
		return 0;
	/* Memory only to an agent that said it reads it (wire.h, WAVE_FEAT_MEM). */
	if ((m->h.type == WAVE_MSG_MEM_STATE || m->h.type == WAVE_MSG_MEM_CTL ||
	     m->h.type == WAVE_MSG_HOST_MEM) && !(chan_peer_features(w->ch) & WAVE_FEAT_MEM))
		return 0;
	/*
	 * Pins only to an agent that said it reads them (wire.h, WAVE_FEAT_PINS);
	 * record slots only to one that reads the records (WAVE_FEAT_KSTATE).
	 */
	if (unlikely((m->h.type == WAVE_MSG_THREAD_CPUS ||
		      (m->h.type == WAVE_MSG_VCPU_STATE && m->p.vcpu.flags)) &&
		     !(chan_peer_features(w->ch) & WAVE_FEAT_PINS))) {
		if (m->h.type == WAVE_MSG_THREAD_CPUS)
			return 0;
		plain = *m;
		plain.p.vcpu.flags = 0;
		m = &plain;
	}
	if (m->h.type == WAVE_MSG_VCPU_STATE && m->p.vcpu.slot &&
	    !(chan_features(w->ch) & WAVE_FEAT_KSTATE)) {
		plain = *m;
		plain.p.vcpu.slot = 0;
		m = &plain;
	}
	if (w->out_n == WV_OUTBOX) {
		wv_flush(w);
		if (w->out_n == WV_OUTBOX) {
			/*
			 * The agent does not keep up: the watchdog (or the kernel's
			 * beat) will notice. Periodic state goes out again anyway;
			 * the caller keeps what must not be lost for later.
			 */
			w->st.tx_dropped++;
			return -ENOBUFS;
		}
	}
	w->outbox[w->out_n++] = *m;
	if (w->out_n >= 32)
		wv_flush(w);
	return 0;
}

static void fill_vm_add(const struct wv_vm *vm, struct wave_msg *m)
{
	unsigned int extra = 0;

	for (unsigned int i = WAVE_VM_VCPU_SLOTS; i < WV_MAX_THREADS; i++)
		extra += vm->th[i].used;
	wave_msg_init(m, WAVE_MSG_VM_ADD);
	m->p.vm_add.vm_id = vm->id;
	m->p.vm_add.nr_vcpus = (uint16_t)(vm->nr_vcpus ? vm->nr_vcpus : 1);
	m->p.vm_add.vm_class = vm->cls;
	m->p.vm_add.nr_threads = (uint8_t)extra;
	m->p.vm_add.weight = vm->weight;
	m->p.vm_add.barrier = vm->barrier;
	/* Printable, NUL-padded, truncated to the wire's 16 bytes. */
	for (unsigned int i = 0; i < WAVE_NAME_LEN && vm->name[i]; i++)
		m->p.vm_add.name[i] = vm->name[i] >= 0x20 && vm->name[i] < 0x7f ? vm->name[i] : '?';
}

void wv_export_vm(struct waved *w, const struct wv_vm *vm, int del)
{
	struct wave_msg m;

	if (del) {
		wave_msg_init(&m, WAVE_MSG_VM_DEL);
		m.p.vm_del.vm_id = vm->id;
		m.p.vm_del.barrier = vm->barrier;
	} else {
		fill_vm_add(vm, &m);
	}
	wv_emit(w, &m);
}

static void fill_thread(const struct wv_vm *vm, const struct wv_thread *t, struct wave_msg *m)
{
	kstate_fill(m, &t->rec, vm->id, t->index, t->kind, t->barrier,
		    t->pinned ? WAVE_THREAD_PINNED : 0,
		    t->slot >= 0 ? (uint32_t)t->slot + 1 : 0);
	m->p.vcpu.tid = (uint32_t)t->tid;
}

/* THREAD_CPUS for t, one per 64-CPU window up to the host's last CPU. */
static void export_pin(struct waved *w, const struct wv_vm *vm, const struct wv_thread *t)
{
	long ncpus = sysconf(_SC_NPROCESSORS_CONF);
	struct wave_msg m;

	if (ncpus < 1 || ncpus > (long)WAVE_MAX_CPUS)
		ncpus = ncpus < 1 ? 1 : (long)WAVE_MAX_CPUS;
	for (unsigned int base = 0; base < (unsigned int)ncpus; base += 64) {
		wave_msg_init(&m, WAVE_MSG_THREAD_CPUS);
		m.p.pin.vm_id = vm->id;
		m.p.pin.index = t->index;
		m.p.pin.kind = t->kind;
		m.p.pin.barrier = t->barrier;
		m.p.pin.cpu_base = base;
		for (unsigned int b = 0; b < 64 && base + b < CPU_SETSIZE; b++)
			if (CPU_ISSET(base + b, &t->pin))
				m.p.pin.mask |= 1ull << b;
		wv_emit(w, &m);
	}
}

/* Exports the record r just read for t. */
static void export_rec(struct waved *w, const struct wv_vm *vm, struct wv_thread *t,
		       const struct hooks_rec *r)
{
	struct wave_msg m;

	t->rec = *r;
	fill_thread(vm, t, &m);
	w->st.exports++;
	/* Dropped (the outbox is full): sent again at the next export, even an identity one. */
	if (wv_emit(w, &m))
		return;
	t->sent_seq = t->rec.seq;
	t->sent_barrier = t->barrier;
	t->exported = 1;
	if (t->pinned && t->pin_dirty)
		export_pin(w, vm, t);
	t->pin_dirty = 0;
}

void wv_export_gone(struct waved *w, struct wv_vm *vm, struct wv_thread *t)
{
	struct hooks_rec r = t->rec;

	r.state = HOOKS_GONE;
	r.seq++;
	export_rec(w, vm, t, &r);
}

void wv_export_thread(struct waved *w, struct wv_vm *vm, struct wv_thread *t)
{
	struct hooks_rec r;

	if (!obs_read(w->obs, t->slot, &r))
		export_rec(w, vm, t, &r);
}

void wv_export_deltas(struct waved *w, enum wv_export which)
{
	for (unsigned int v = 0; v < WV_MAX_VMS; v++) {
		struct wv_vm *vm = &w->vms[v];

		for (unsigned int i = 0; vm->used && i < WV_MAX_THREADS; i++) {
			struct wv_thread *t = &vm->th[i];
			struct hooks_rec r;

			if (!t->used)
				continue;
			if (which == WV_EXPORT_IDENTITY && t->exported && !t->pin_dirty &&
			    t->barrier == t->sent_barrier)
				continue;
			if (obs_read(w->obs, t->slot, &r))
				continue;
			if (which == WV_EXPORT_CHANGED && t->exported &&
			    hooks_rec_quiet(r.seq, r.state, t->sent_seq))
				continue;
			export_rec(w, vm, t, &r);
		}
	}
}

/* Reads /proc/stat: per-CPU busy and idle ns. Returns CPUs read. */
static unsigned int read_cpu_times(uint64_t *busy, uint64_t *idle, unsigned int max)
{
	unsigned long long u, n, s, i, io, irq, sirq, st;
	long hz = sysconf(_SC_CLK_TCK);
	char line[512];
	unsigned int c, count = 0;
	FILE *f = fopen("/proc/stat", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "cpu", 3) || line[3] == ' ')
			continue;
		if (sscanf(line, "cpu%u %llu %llu %llu %llu %llu %llu %llu %llu", &c, &u, &n, &s, &i,
			   &io, &irq, &sirq, &st) != 9 || c >= max)
			continue;
		busy[c] = (u + n + s + irq + sirq + st) * (1000000000ull / (uint64_t)hz);
		idle[c] = (i + io) * (1000000000ull / (uint64_t)hz);
		count = c + 1 > count ? c + 1 : count;
	}
	fclose(f);
	return count;
}

void wv_export_cpus(struct waved *w)
{
	uint64_t busy[WAVE_MANAGED_CPUS] = { 0 }, idle[WAVE_MANAGED_CPUS] = { 0 };
	unsigned int n = read_cpu_times(busy, idle, WAVE_MANAGED_CPUS);
	struct wave_msg m;

	for (unsigned int c = 0; c < n; c++) {
		wave_msg_init(&m, WAVE_MSG_HOST_CPU);
		m.p.cpu.cpu = (uint16_t)c;
		m.p.cpu.flags = WAVE_CPU_ONLINE |
				(CPU_ISSET(c, &w->cfg.allowed) ? WAVE_CPU_ALLOWED : 0);
		m.p.cpu.barrier = w->epoch;
		m.p.cpu.busy_ns = busy[c];
		m.p.cpu.idle_ns = idle[c];
		/* The safety envelope (apply.c), spread over the allowed CPUs: what a policy may ask. */
		if (CPU_ISSET(c, &w->cfg.allowed)) {
			double per_cpu = w->cfg.rt_max_total / CPU_COUNT(&w->cfg.allowed);

			m.p.cpu.rt_cap_ppm = (uint32_t)((per_cpu < 1 ? per_cpu : 1) * 1e6);
			m.p.cpu.rt_thread_cap_ppm = (uint32_t)(w->cfg.rt_max_thread * 1e6);
		}
		wv_emit(w, &m);
	}
}

void wv_snapshot(struct waved *w)
{
	struct wave_msg m;
	unsigned int count = 0;

	for (unsigned int v = 0; v < WV_MAX_VMS; v++)
		if (w->vms[v].used)
			count++;
	w->st.snapshots++;
	wv_clear_wake_subs(w);
	wave_msg_init(&m, WAVE_MSG_SNAPSHOT_BEGIN);
	m.p.snap.epoch = w->epoch;
	m.p.snap.snap_id = ++w->snap_id;
	m.p.snap.count = count;
	wv_emit(w, &m);
	for (unsigned int v = 0; v < WV_MAX_VMS; v++)
		if (w->vms[v].used)
			wv_export_vm(w, &w->vms[v], 0);
	wv_export_cpus(w);
	for (unsigned int v = 0; v < WV_MAX_VMS; v++)
		for (unsigned int i = 0; w->vms[v].used && i < WV_MAX_THREADS; i++)
			w->vms[v].th[i].pin_dirty = 1;
	wv_export_deltas(w, WV_EXPORT_ALL);
	wv_export_net(w, 1);
	wv_export_mem(w, 1);
	wave_msg_init(&m, WAVE_MSG_SNAPSHOT_END);
	m.p.snap.epoch = w->epoch;
	m.p.snap.snap_id = w->snap_id;
	m.p.snap.count = count;
	wv_emit(w, &m);
	wv_flush(w);
}

void wv_on_resync(struct waved *w)
{
	/* Not in charge: the hand-back brings a snapshot anyway. */
	if (wv_awaits_handback(w))
		return;
	/* A snapshot is the costliest thing an agent can ask for: one a second. */
	if (w->resync_ns && w->now - w->resync_ns < WAVE_NSEC_PER_SEC) {
		w->st.resyncs_refused++;
		wave_log_rl(WAVE_LOG_INFO, "waved: RESYNC_REQ ignored: the last snapshot went out "
			    "%.0f ms ago", (double)(w->now - w->resync_ns) / 1e6);
		return;
	}
	w->resync_ns = w->now;
	w->st.resyncs++;
	wv_snapshot(w);
}

void wv_heartbeat(struct waved *w)
{
	struct wave_msg m;

	if (!to_agent(w))
		return;
	wave_msg_init(&m, WAVE_MSG_HEARTBEAT);
	m.p.hb.t_host_ns = w->now;
	m.p.hb.hb_seq = wd_sent(&w->wd, w->now);
	m.p.hb.epoch = w->epoch;
	/*
	 * Timed (before a hand-back) only while the host is in control and
	 * means to hand it back: wire.h 1.4. In onhost and observe modes the
	 * agent never takes charge, and its echoes need not ring.
	 */
	m.p.hb.flags = wv_awaits_handback(w) ? WAVE_HB_PROMPT : 0;
	/* Heartbeats go straight out: queued behind a full outbox they would lie. */
	wv_flush(w);
	if (chan_send(w->ch, &m) && w->out_n < WV_OUTBOX)
		w->outbox[w->out_n++] = m;
}

void wv_on_wake_event(const struct hooks_event *ev, void *arg)
{
	struct waved *w = arg;

	w->st.wake_events++;
	if (ev->kind == HOOKS_RUNNABLE) {
		uint64_t now = wave_now_ns();

		if (now > ev->ts_ns)
			w->st.event_ns[w->st.events_timed++ % WV_LAT_SAMPLES] = now - ev->ts_ns;
	}
	for (unsigned int v = 0; v < WV_MAX_VMS; v++)
		for (unsigned int i = 0; w->vms[v].used && i < WV_MAX_THREADS; i++)
			if (w->vms[v].th[i].used && w->vms[v].th[i].slot == (int)ev->slot &&
			    w->vms[v].th[i].tid == (pid_t)ev->tid) {
				if (ev->kind == HOOKS_RUNNABLE) {
					w->vms[v].th[i].wake_ns = ev->ts_ns;
					/* First act on what was prestaged for this wakeup, then tell. */
					wv_fire_prestaged(w, &w->vms[v].th[i]);
				}
				wv_export_thread(w, &w->vms[v], &w->vms[v].th[i]);
				return;
			}
}

void wv_update_rates(struct waved *w)
{
	for (unsigned int v = 0; v < WV_MAX_VMS; v++)
		for (unsigned int i = 0; w->vms[v].used && i < WV_MAX_THREADS; i++) {
			struct wv_thread *t = &w->vms[v].th[i];
			struct hooks_rec r;

			if (!t->used || obs_read(w->obs, t->slot, &r))
				continue;
			if (t->rate_t0 && w->now > t->rate_t0) {
				double dt = (double)(w->now - t->rate_t0);

				t->run_pct = 100.0 * (double)(r.run_ns - t->rate_run0) / dt;
				t->delay_pct = 100.0 * (double)(r.wait_ns - t->rate_wait0) / dt;
			}
			t->rate_t0 = w->now;
			t->rate_run0 = r.run_ns;
			t->rate_wait0 = r.wait_ns;
			t->rec = r;
		}
}
