// SPDX-License-Identifier: BSD-3-Clause
/*
 * The VMs and threads waved manages. A VM comes from libvirt (STARTED
 * events resolved through vmm/conn.h) or from --vm (plain threads, for
 * tests without VMs). Each managed thread is registered with observation
 * and gets a mechanism handle; its barrier is unique over waved's lifetime,
 * so a decision made for a thread can never apply to another one that
 * later takes its place. Only threads in this table are ever touched.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/site.h"
#include "vmm/procfs.h"
#include "waved/waved.h"

struct wv_vm *wv_vm_find(struct waved *w, uint32_t id)
{
	for (unsigned int i = 0; i < WV_MAX_VMS; i++)
		if (w->vms[i].used && w->vms[i].id == id)
			return &w->vms[i];
	return NULL;
}

struct wv_thread *wv_thread_find(struct wv_vm *vm, unsigned int kind, unsigned int index)
{
	int s = wave_slot(kind, index);

	if (s < 0)
		return NULL;
	return vm->th[s].used && vm->th[s].kind == kind ? &vm->th[s] : NULL;
}

static struct wv_vm *vm_by_name(struct waved *w, const char *name)
{
	for (unsigned int i = 0; i < WV_MAX_VMS; i++)
		if (w->vms[i].used && !strcmp(w->vms[i].name, name))
			return &w->vms[i];
	return NULL;
}

void wv_journal(struct waved *w)
{
	static struct mech_thread *list[WV_MAX_VMS * WV_MAX_THREADS]; /* every managed thread */
	unsigned int n = 0;
	int ret;

	for (unsigned int v = 0; v < WV_MAX_VMS; v++)
		for (unsigned int i = 0; w->vms[v].used && i < WV_MAX_THREADS; i++)
			if (w->vms[v].th[i].used && w->vms[v].th[i].mech.changed &&
			    n < sizeof(list) / sizeof(list[0]))
				list[n++] = &w->vms[v].th[i].mech;
	if ((ret = mech_journal_write(w->journal, list, n)))
		wave_log_rl(WAVE_LOG_WARN, "waved: journal %s: %s", w->journal, strerror(-ret));
}

/*
 * Whether t's wakeups are pushed as events now: it triggers a prestaged
 * transaction, or the policy in charge subscribed to its kind of thread
 * (WAKE_SUB) and the operator allows pushed wakeups at all.
 */
static int thread_notify(const struct waved *w, const struct wv_vm *vm, const struct wv_thread *t)
{
	int who = wv_runs_policy(w) ? WV_SUB_LOCAL : wv_agent_in_charge(w) ? WV_SUB_AGENT : -1;

	if (t->prestaged)
		return 1;
	return who >= 0 && w->cfg.wake_events == WV_WAKE_POLICY &&
	       (vm->wake[who] & (1u << t->kind));
}

void wv_thread_notify(struct waved *w, const struct wv_vm *vm, struct wv_thread *t)
{
	obs_notify(w->obs, t->slot, thread_notify(w, vm, t));
}

static void vm_notify(struct waved *w, struct wv_vm *vm)
{
	for (unsigned int i = 0; i < WV_MAX_THREADS; i++)
		if (vm->th[i].used)
			wv_thread_notify(w, vm, &vm->th[i]);
	wv_net_notify(w, vm);
}

void wv_update_notify(struct waved *w)
{
	for (unsigned int v = 0; v < WV_MAX_VMS; v++)
		if (w->vms[v].used)
			vm_notify(w, &w->vms[v]);
}

void wv_on_wake_sub(struct waved *w, const struct wave_wake_sub *sub, int who)
{
	struct wv_vm *vm = wv_vm_find(w, sub->vm_id);

	if (!vm || vm->barrier != sub->barrier || sub->epoch != w->epoch) {
		w->st.bad_wake_subs++;
		wave_log_rl(WAVE_LOG_INFO, "waved: WAKE_SUB for VM %u ignored: %s", sub->vm_id,
			    !vm ? "no such VM" : vm->barrier != sub->barrier ? "the VM changed since"
										: "another epoch");
		return;
	}
	w->st.wake_subs++;
	if (vm->wake[who] == sub->kinds)
		return;
	vm->wake[who] = sub->kinds;
	wave_dbg("waved: %s: %s wants wakeups of thread kinds 0x%x", vm->name,
		 who == WV_SUB_LOCAL ? "the local policy" : "the agent", sub->kinds);
	vm_notify(w, vm);
}

void wv_clear_wake_subs(struct waved *w)
{
	for (unsigned int v = 0; v < WV_MAX_VMS; v++)
		memset(w->vms[v].wake, 0, sizeof(w->vms[v].wake));
	wv_update_notify(w);
}

/* "0-3,6": a CPU set for log lines and status. */
void wv_cpulist(const cpu_set_t *set, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int c = 0; c < CPU_SETSIZE && used + 12 < size; c++) {
		int e = c;

		if (!CPU_ISSET(c, set))
			continue;
		while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, set))
			e++;
		used += (size_t)snprintf(buf + used, size - used, e > c ? "%s%d-%d" : "%s%d",
					 used ? "," : "", c, e);
		c = e;
	}
}

static const char *kind_what(unsigned int kind)
{
	return kind == WAVE_KIND_VCPU ? "vCPU" : kind == WAVE_KIND_EMULATOR ? "emulator" : "I/O thread";
}

const char *wv_thread_what(const struct wv_thread *t)
{
	return kind_what(t->kind);
}

/* vt: what libvirt says of the thread (its cgroup, the operator's pin), or NULL. */
static int add_thread(struct waved *w, struct wv_vm *vm, unsigned int kind, unsigned int index,
		      pid_t pid, pid_t tid, const struct vmm_thread *vt)
{
	const char *cgroup = vt ? vt->cgroup : NULL;
	struct wv_thread *t;
	char dir[MECH_CGROUP_MAX];
	int ver = 1, ret, s = wave_slot(kind, index);

	if (s < 0) {
		wave_warn("waved: %s: thread index %u beyond what waved manages: left alone",
			  vm->name, index);
		return -ERANGE;
	}
	t = &vm->th[s];
	memset(t, 0, sizeof(*t));
	if (!cgroup || !cgroup[0]) {
		if (procfs_cpu_cgroup("", tid, dir, sizeof(dir), &ver))
			dir[0] = '\0';
		cgroup = dir;
	} else if (procfs_cpu_cgroup("", tid, dir, sizeof(dir), &ver)) {
		ver = 1;
	}
	if ((ret = mech_thread_init(&t->mech, w->mech, tid, cgroup, ver)))
		return ret;
	/* A cgroup other threads share is not ours to tune: weight by nice, no quota. */
	if (t->mech.cgroup[0] && t->mech.ops->cg_exclusive(&t->mech)) {
		wave_info("waved: %s %s %u: cgroup %s holds other threads too: weight by nice, "
			  "no CPU quota", vm->name, kind_what(kind), index,
			  t->mech.cgroup);
		t->mech.cgroup[0] = '\0';
	}
	t->slot = obs_add(w->obs, pid, tid, 0); /* no subscription for a new VM yet */
	if (t->slot < 0) {
		wave_warn("waved: %s: cannot observe thread %d: %s", vm->name, (int)tid,
			  strerror(-t->slot));
		return t->slot;
	}
	t->used = 1;
	t->kind = (uint8_t)kind;
	t->index = (uint16_t)index;
	t->pid = pid;
	t->tid = tid;
	t->barrier = ++w->next_barrier;
	if (vt && vt->pinned) {
		char cpus[128];

		t->pinned = 1;
		t->pin = vt->pin;
		t->pin_dirty = 1;
		wv_cpulist(&t->pin, cpus, sizeof(cpus));
		wave_info("waved: %s %s %u: pinned by the operator to CPUs %s: placed only there, "
			  "no SCHED_DEADLINE", vm->name, wv_thread_what(t), index, cpus);
	}
	return 0;
}

static struct wv_vm *new_vm(struct waved *w, const char *name, const char *uuid, uint8_t cls,
			    uint32_t weight)
{
	for (unsigned int i = 0; i < WV_MAX_VMS; i++) {
		struct wv_vm *vm = &w->vms[i];

		if (vm->used)
			continue;
		memset(vm, 0, sizeof(*vm));
		vm->used = 1;
		vm->id = ++w->next_vm_id;
		vm->barrier = ++w->next_barrier;
		vm->cls = cls;
		vm->weight = weight;
		snprintf(vm->name, sizeof(vm->name), "%s", name);
		snprintf(vm->uuid, sizeof(vm->uuid), "%s", uuid ? uuid : "");
		return vm;
	}
	wave_err("waved: more than %d VMs: %s is not managed", WV_MAX_VMS, name);
	return NULL;
}

static void announce(struct waved *w, struct wv_vm *vm)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < WV_MAX_THREADS; i++)
		n += vm->th[i].used;
	wave_info("waved: managing %s (%s, weight %u): %u vCPUs, %u threads", vm->name,
		  vmm_class_name(vm->cls), vm->weight, vm->nr_vcpus, n);
	wv_export_vm(w, vm, 0);
	for (unsigned int i = 0; i < WV_MAX_THREADS; i++)
		if (vm->th[i].used)
			wv_export_thread(w, vm, &vm->th[i]);
}

static int add_domain(struct waved *w, const struct vmm_domain *d)
{
	struct wv_vm *vm;

	if (vm_by_name(w, d->name))
		return 0;
	if (!(vm = new_vm(w, d->name, d->uuid, (uint8_t)d->meta.cls, d->meta.weight)))
		return -ENOSPC;
	for (unsigned int i = 0; i < d->nr_vcpus; i++)
		if (!add_thread(w, vm, WAVE_KIND_VCPU, d->vcpus[i].index, d->pid, d->vcpus[i].tid,
				&d->vcpus[i]))
			vm->nr_vcpus++;
	add_thread(w, vm, WAVE_KIND_EMULATOR, 0, d->pid, d->emulator.tid, &d->emulator);
	for (unsigned int i = 0; i < d->nr_iothreads && i + 1 < WAVE_VM_EXTRA_SLOTS; i++)
		add_thread(w, vm, WAVE_KIND_IOTHREAD, i + 1, d->pid, d->iothreads[i].tid,
			   &d->iothreads[i]);
	vm->state = d->state;
	vm->memory_kib = d->memory_kib;
	wv_net_cap(w, vm, &d->meta); /* before attaching: the switch gets it then */
	wv_net_attach(w, vm, d->taps, d->nr_taps < WV_MAX_TAPS ? d->nr_taps : WV_MAX_TAPS);
	wv_mem_attach(w, vm, d->uuid, d->memory_kib, &d->meta);
	if (d->notes[0])
		wave_info("waved: %s: %s", d->name, d->notes);
	if (!vm->nr_vcpus) {
		wv_remove_vm(w, vm, "no vCPU thread could be managed");
		return -ESRCH;
	}
	announce(w, vm);
	return 0;
}

int wv_add_static(struct waved *w, const struct wv_static_vm *s)
{
	pid_t pid = s->nr_vcpus ? procfs_tgid(s->vcpus[0]) : -ESRCH;
	struct wv_vm *vm;

	if (pid <= 0) {
		wave_err("waved: --vm %s: thread %d does not exist", s->name, (int)s->vcpus[0]);
		return -ESRCH;
	}
	if (!(vm = new_vm(w, s->name, NULL, (uint8_t)s->cls, 100)))
		return -ENOSPC;
	for (unsigned int i = 0; i < s->nr_vcpus; i++)
		if (!add_thread(w, vm, WAVE_KIND_VCPU, i, procfs_tgid(s->vcpus[i]), s->vcpus[i],
				NULL))
			vm->nr_vcpus++;
	if (s->emulator)
		add_thread(w, vm, WAVE_KIND_EMULATOR, 0, procfs_tgid(s->emulator), s->emulator,
			   NULL);
	if (vm->nr_vcpus != s->nr_vcpus) {
		wv_remove_vm(w, vm, "a thread given with --vm does not exist");
		return -ESRCH;
	}
	wv_net_attach(w, vm, s->taps, s->nr_taps);
	announce(w, vm);
	return 0;
}

void wv_remove_vm(struct waved *w, struct wv_vm *vm, const char *why)
{
	int changed = 0, left_dl = 0;

	wv_drop_prestaged(w, vm, WAVE_ST_NO_TARGET);
	for (unsigned int i = 0; i < WV_MAX_THREADS; i++) {
		struct wv_thread *t = &vm->th[i];

		if (!t->used)
			continue;
		changed |= t->mech.changed;
		mech_restore(&t->mech);
		obs_del(w->obs, t->slot);
		t->used = 0;
		left_dl |= t->mech.left_dl;
	}
	wv_net_unpace(w, vm);
	wv_net_detach(w, vm);
	wv_mem_detach(w, vm);
	if (left_dl)
		wv_dl_repair(w, "a VM's threads left DEADLINE on removal");
	wave_info("waved: %s no longer managed: %s", vm->name, why);
	wv_export_vm(w, vm, 1);
	vm->used = 0;
	wv_rt_recount(w);
	if (changed)
		wv_journal(w);
}

void wv_drop_thread(struct waved *w, struct wv_vm *vm, struct wv_thread *t, const char *why)
{
	wave_log_rl(WAVE_LOG_WARN, "waved: %s thread %d no longer managed: %s", vm->name,
		    (int)t->tid, why);
	w->st.threads_dropped++;
	wv_drop_prestaged(w, vm, WAVE_ST_NO_TARGET);
	obs_del(w->obs, t->slot);
	/* Tell the policy it is gone, and never touch the tid again. */
	t->rt_bw = 0;
	wv_export_gone(w, vm, t);
	t->used = 0;
	if (t->mech.changed) {
		t->mech.changed = 0;
		wv_journal(w);
	}
	wv_rt_recount(w);
}

/*
 * The threads of vm (of every VM if NULL) back to their baselines, and its
 * pace on the switch back to its ceiling alone; why goes in the log.
 */
static void restore(struct waved *w, struct wv_vm *only, const char *why)
{
	unsigned int n = 0, failed = 0;
	int left_dl = 0;

	for (unsigned int v = 0; v < WV_MAX_VMS; v++) {
		struct wv_vm *vm = &w->vms[v];

		if (vm->used && (!only || vm == only))
			wv_net_unpace(w, vm);
		for (unsigned int i = 0; vm->used && (!only || vm == only) && i < WV_MAX_THREADS; i++) {
			struct wv_thread *t = &vm->th[i];

			if (!t->used || !t->mech.changed)
				continue;
			if (mech_restore(&t->mech))
				failed++;
			t->rt_bw = 0;
			t->capped = 0;
			left_dl |= t->mech.left_dl;
			t->mech.left_dl = 0;
			n++;
		}
	}
	if (n)
		wave_info("waved: %s: %u threads back to their baseline%s", why, n,
			  failed ? " (some could not be restored)" : "");
	if (left_dl)
		wv_dl_repair(w, why);
	wv_rt_recount(w);
	if (n || !only)
		wv_journal(w);
}

void wv_restore_all(struct waved *w, const char *why)
{
	restore(w, NULL, why);
}

static void on_started(struct waved *w, const char *name)
{
	struct vmm_domain d;
	char why[512];
	int ret;

	if (w->cfg.match && strncmp(name, w->cfg.match, strlen(w->cfg.match))) {
		wave_dbg("waved: %s does not match --match %s: not managed", name, w->cfg.match);
		return;
	}
	ret = vmm_domain_lookup(w->conn, name, &d, why, sizeof(why));
	if (ret) {
		wave_warn("waved: %s", why);
		return;
	}
	if (!d.meta.managed)
		wave_info("waved: %s: its metadata says managed='no': left alone", name);
	else
		add_domain(w, &d);
	vmm_domain_clear(&d);
}

/* A new barrier for the VM and each of its threads: decisions made before are stale. */
static void new_barriers(struct waved *w, struct wv_vm *vm)
{
	wv_drop_prestaged(w, vm, WAVE_ST_STALE_TARGET);
	vm->barrier = ++w->next_barrier;
	for (unsigned int i = 0; i < WV_MAX_THREADS; i++)
		if (vm->th[i].used)
			vm->th[i].barrier = ++w->next_barrier;
	/* Wakeup subscriptions name the VM's barrier: the policy asks again. */
	memset(vm->wake, 0, sizeof(vm->wake));
	vm_notify(w, vm);
}

/*
 * The operator changed the Wave metadata (virsh metadata --live): it takes
 * effect now, or is refused whole with the reason, the old setting kept.
 */
static void on_metadata(struct waved *w, const char *name)
{
	struct wv_vm *vm = vm_by_name(w, name);
	struct vmm_meta m;
	char why[300];

	if (vmm_domain_meta(w->conn, name, &m, why, sizeof(why))) {
		w->st.meta_refused++;
		wave_warn("waved: %s: new Wave metadata refused, %s kept: %s", name,
			  vm ? "the old setting" : "not managing it", why);
		if (vm)
			snprintf(vm->meta_refused, sizeof(vm->meta_refused), "%s", why);
		return;
	}
	if (!vm) {
		if (m.managed)
			on_started(w, name); /* managed='yes' again, or --match aside, a new one */
		return;
	}
	vm->meta_refused[0] = '\0';
	if (!m.managed) {
		wv_remove_vm(w, vm, "its metadata says managed='no' now");
		return;
	}
	if (wv_net_cap(w, vm, &m)) {
		w->st.meta_changes++;
		wave_info("waved: %s: metadata now net-rate %u Mbit/s, net-burst %u KiB", name,
			  m.net_rate_mbit, m.net_burst_kib);
	}
	if (m.cls == vm->cls && m.weight == vm->weight &&
	    m.mem_min_mib * 1024u == vm->mem.floor_kib && m.mem_weight == vm->mem.weight)
		return;
	wave_info("waved: %s: metadata now class %s, weight %u, mem-min %u MiB, mem-weight %u "
		  "(was %s, %u, %u MiB, %u)", name, vmm_class_name(m.cls), m.weight, m.mem_min_mib,
		  m.mem_weight, vmm_class_name(vm->cls), vm->weight, vm->mem.floor_kib / 1024,
		  vm->mem.weight);
	wv_mem_meta(vm, &m);
	w->st.meta_changes++;
	if (m.cls != vm->cls)
		restore(w, vm, "a VM changed class: the policy starts afresh");
	vm->cls = (uint8_t)m.cls;
	vm->weight = m.weight;
	new_barriers(w, vm);
	announce(w, vm);
}

/*
 * libvirt's tuning changed (vcpupin, emulatorpin, iothreadpin, schedinfo):
 * new pins are honoured from now on; settings the operator changed on a
 * thread Wave had changed become its baseline (mech_adopt), so Wave neither
 * fights them nor puts the old ones back when it lets go.
 */
static void on_tuned(struct waved *w, const char *name)
{
	struct wv_vm *vm = vm_by_name(w, name);
	struct vmm_domain d;
	char why[512], cpus[128];

	if (!vm)
		return;
	if (vmm_domain_lookup(w->conn, name, &d, why, sizeof(why))) {
		wave_warn("waved: %s: tuning changed but cannot be read: %s", name, why);
		return;
	}
	for (unsigned int i = 0; i < WV_MAX_THREADS; i++) {
		struct wv_thread *t = &vm->th[i];
		const struct vmm_thread *vt = NULL;
		int moved, adopted;

		if (!t->used)
			continue;
		if (t->kind == WAVE_KIND_EMULATOR)
			vt = &d.emulator;
		for (unsigned int k = 0; t->kind == WAVE_KIND_VCPU && k < d.nr_vcpus; k++)
			if (d.vcpus[k].index == t->index)
				vt = &d.vcpus[k];
		if (t->kind == WAVE_KIND_IOTHREAD && t->index >= 1 && t->index <= d.nr_iothreads)
			vt = &d.iothreads[t->index - 1];
		if (!vt || vt->tid != t->tid)
			continue;
		moved = vt->pinned != t->pinned || (vt->pinned && !CPU_EQUAL(&vt->pin, &t->pin));
		adopted = mech_adopt(&t->mech, moved ? &vt->pin : NULL);
		if (adopted > 0)
			wave_info("waved: %s %s %u: the operator changed%s%s%s%s%s: kept, and what "
				  "Wave restores to", name, wv_thread_what(t), t->index,
				  adopted & MECH_K_AFFINITY ? " its CPUs" : "",
				  adopted & MECH_K_CLASS ? " its scheduling class" : "",
				  adopted & MECH_K_NICE ? " its nice value" : "",
				  adopted & MECH_K_WEIGHT ? " its cgroup weight" : "",
				  adopted & MECH_K_QUOTA ? " its CPU quota" : "");
		if (adopted > 0 && (adopted & MECH_K_CLASS))
			t->rt_bw = 0;
		if (!moved && adopted <= 0)
			continue;
		if (moved) {
			t->pinned = vt->pinned;
			t->pin = vt->pin;
			t->conflicts = 0;
			wv_cpulist(&t->pin, cpus, sizeof(cpus));
			wave_info("waved: %s %s %u: %s%s", name, wv_thread_what(t), t->index,
				  t->pinned ? "pinned by the operator to CPUs " : "no longer pinned",
				  t->pinned ? cpus : "");
		}
		/* Decisions made before the change are stale; the policy hears of it now. */
		t->barrier = ++w->next_barrier;
		t->pin_dirty = 1;
		w->st.tunings_adopted++;
		wv_export_thread(w, vm, t);
	}
	wv_rt_recount(w);
	wv_journal(w);
	vmm_domain_clear(&d);
}

static void on_state(struct waved *w, const char *name, int state, const char *what)
{
	struct wv_vm *vm = vm_by_name(w, name);

	if (!vm)
		return;
	vm->state = state;
	wave_info("waved: %s %s", name, what);
}

void wv_vm_source_event(struct waved *w)
{
	struct vmm_event ev;
	struct wv_vm *vm;

	vmm_conn_process(w->conn);
	while (vmm_conn_next_event(w->conn, &ev)) {
		switch (ev.kind) {
		case VMM_EV_STARTED:
			on_started(w, ev.name);
			break;
		case VMM_EV_STOPPED:
			if ((vm = vm_by_name(w, ev.name)))
				wv_remove_vm(w, vm, "the domain stopped");
			break;
		case VMM_EV_TUNED:
			on_tuned(w, ev.name);
			break;
		case VMM_EV_METADATA:
			on_metadata(w, ev.name);
			break;
		case VMM_EV_PAUSED:
			on_state(w, ev.name, VIR_DOMAIN_PAUSED, "paused: its threads stay managed");
			break;
		case VMM_EV_RESUMED:
			on_state(w, ev.name, VIR_DOMAIN_RUNNING, "resumed");
			break;
		case VMM_EV_SHUTDOWN:
			on_state(w, ev.name, VIR_DOMAIN_SHUTDOWN, "is shutting down");
			break;
		case VMM_EV_BALLOON:
			if ((vm = vm_by_name(w, ev.name)))
				vm->memory_kib = ev.value;
			break;
		case VMM_EV_CONNECTED:
			wave_info("waved: libvirt connected");
			break;
		case VMM_EV_DISCONNECTED:
			wave_warn("waved: libvirt gone; VMs stay managed, reconnecting");
			break;
		}
	}
}

int wv_vms_init(struct waved *w)
{
	char why[512];
	int ret, left_dl = 0;

	site_path(w->journal, sizeof(w->journal), w->cfg.rundir, SITE_JOURNAL);
	ret = mech_journal_repair(w->journal, w->mech, &left_dl);
	if (ret > 0)
		wave_info("waved: repaired %d threads left changed by a previous waved", ret);
	if (left_dl)
		wv_dl_repair(w, "threads a previous waved left in DEADLINE were restored");
	ret = obs_open(w->cfg.obs, w->cfg.wake_min_idle_ns,
		       w->kb ? OBS_F_SHARE : 0, &w->obs);
	if (ret) {
		wave_err("waved: no way to observe threads: %s", strerror(-ret));
		return ret;
	}
	/* Traffic is insight, not a must: without it the policies see CPU only. */
	if (w->cfg.net_obs != NETOBS_NONE &&
	    (ret = netobs_open(w->cfg.net_obs, w->cfg.net_quiet_ns, &w->net))) {
		if (w->cfg.net_obs != NETOBS_AUTO)
			return ret;
		wave_warn("waved: VM traffic is not observed: %s", strerror(-ret));
	}
	for (unsigned int i = 0; i < w->cfg.nr_static; i++)
		if ((ret = wv_add_static(w, &w->cfg.statics[i])))
			return ret;
	if (!w->cfg.use_libvirt)
		return 0;
	wv_mem_open(w); /* before the first domain is added */
	if ((ret = vmm_conn_open(site_uri(w->cfg.uri), 1, &w->conn, why, sizeof(why)))) {
		wave_err("waved: %s", why);
		return ret;
	}
	wv_vm_source_event(w);
	return 0;
}

void wv_vms_fini(struct waved *w)
{
	for (unsigned int v = 0; v < WV_MAX_VMS; v++) {
		if (!w->vms[v].used)
			continue;
		for (unsigned int i = 0; i < WV_MAX_THREADS; i++)
			if (w->vms[v].th[i].used)
				obs_del(w->obs, w->vms[v].th[i].slot);
		wv_net_detach(w, &w->vms[v]);
		wv_mem_detach(w, &w->vms[v]);
	}
	wv_mem_close(w);
	vmm_conn_close(w->conn);
	obs_close(w->obs);
	netobs_close(w->net);
}
