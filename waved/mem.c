// SPDX-License-Identifier: BSD-3-Clause
/*
 * Each managed VM's memory, out of waved, and balloon targets, into it.
 *
 * Out: mm/mechanism.h reads every VM's memory on its own thread every
 * --mem-period; what it read reaches this loop through an eventfd, and a
 * MEM_STATE, MEM_CTL or HOST_MEM goes out only when something in it
 * changed (memory moves in seconds, not milliseconds: an idle host costs
 * nothing on the channel).
 *
 * In: SET_BALLOON, one VM per transaction (a balloon moves in seconds and
 * cannot be rolled back atomically, so a transaction over several VMs
 * would promise what the host cannot keep: a policy shifting memory sends
 * the shrink first, then the growth, each checked against the budget as it
 * comes). The host refuses a target below the VM's floor (mem-min), above
 * its maximum, or that would take the sum of targets past --mem-budget.
 * An accepted target counts against the budget at once; its result comes
 * when libvirt has applied it (FAILED with errno, and the old target
 * counted again, if it could not).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "channel/codec.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/site.h"
#include "waved/waved.h"

static unsigned int slot_of(const struct waved *w, const struct wv_vm *vm)
{
	return (unsigned int)(vm - w->vms);
}

/* The VM's own memory.pressure under the unified hierarchy, found from a vCPU's v1 cgroup. */
static void psi_path(const struct wv_vm *vm, char *out, size_t size)
{
	const char *cg = "", *m;

	out[0] = '\0';
	for (unsigned int i = 0; i < WV_MAX_THREADS && !cg[0]; i++)
		if (vm->th[i].used && vm->th[i].kind == WAVE_KIND_VCPU)
			cg = vm->th[i].mech.cgroup;
	if (!(m = strstr(cg, "/machine/")))
		return;
	m += strlen("/machine/");
	snprintf(out, size, "/sys/fs/cgroup/unified/machine/%.*s/memory.pressure",
		 (int)strcspn(m, "/"), m);
	if (access(out, R_OK))
		out[0] = '\0';
}

void wv_mem_attach(struct waved *w, struct wv_vm *vm, const char *uuid, unsigned long long kib,
		   const struct vmm_meta *meta)
{
	char psi[256];

	memset(&vm->mem, 0, sizeof(vm->mem));
	if (!w->mm || !uuid || !uuid[0])
		return;
	psi_path(vm, psi, sizeof(psi));
	if (mm_attach(w->mm, slot_of(w, vm), uuid, psi[0] ? psi : NULL))
		return;
	vm->mem.on = 1;
	vm->mem.target_kib = kib && kib < WAVE_MEM_NONE ? (uint32_t)kib : 0;
	vm->mem.floor_kib = meta->mem_min_mib * 1024u;
	vm->mem.weight = (uint16_t)meta->mem_weight;
}

void wv_mem_detach(struct waved *w, struct wv_vm *vm)
{
	if (w->mm && vm->mem.on)
		mm_detach(w->mm, slot_of(w, vm));
	/* A target out to libvirt for it is answered now: its VM is gone. */
	if (vm->mem.busy && vm->mem.txn.txn_id)
		wv_send_result(w, &vm->mem.txn, WAVE_ST_NO_TARGET, 0, 0, vm->mem.txn_local);
	memset(&vm->mem, 0, sizeof(vm->mem));
}

void wv_mem_meta(struct wv_vm *vm, const struct vmm_meta *meta)
{
	vm->mem.floor_kib = meta->mem_min_mib * 1024u;
	vm->mem.weight = (uint16_t)meta->mem_weight;
}

static uint32_t at_most(uint32_t v, uint32_t lim)
{
	return v != WAVE_MEM_NONE && v > lim ? lim : v;
}

/* What the guest said, clamped so that a lying guest cannot make the message invalid. */
static int fill_state(const struct wv_vm *vm, struct wave_mem_state *p)
{
	const struct mm_stats *s = &vm->mem.st;
	uint64_t now = wave_now_ns() / WAVE_NSEC_PER_MSEC, age;

	if (!s->max_kib || s->max_kib == WAVE_MEM_NONE)
		return -ENODATA;
	memset(p, 0, sizeof(*p));
	p->vm_id = vm->id;
	p->barrier = vm->barrier;
	p->max_kib = s->max_kib;
	p->actual_kib = at_most(s->actual_kib, s->max_kib);
	p->available_kib = at_most(s->available_kib, s->max_kib);
	p->usable_kib = at_most(s->usable_kib, p->available_kib);
	p->unused_kib = at_most(s->unused_kib, p->available_kib);
	p->caches_kib = at_most(s->caches_kib, p->available_kib);
	p->rss_kib = s->rss_kib;
	p->major_faults = s->major_faults;
	p->swap_in_kib = s->swap_in_kib;
	age = now > s->made_after_ms ? now - s->made_after_ms : 0;
	p->age_ms = s->last_update <= 0 ? WAVE_MEM_NONE
		    : age >= WAVE_MEM_NONE - 1 ? WAVE_MEM_NONE - 1 : (uint32_t)age;
	return 0;
}

static void fill_ctl(const struct wv_vm *vm, struct wave_mem_ctl *p)
{
	const struct mm_stats *s = &vm->mem.st;
	uint32_t target = vm->mem.target_kib ? vm->mem.target_kib : s->actual_kib;

	memset(p, 0, sizeof(*p));
	p->vm_id = vm->id;
	p->barrier = vm->barrier;
	p->target_kib = at_most(target && target != WAVE_MEM_NONE ? target : s->max_kib, s->max_kib);
	p->floor_kib = vm->mem.floor_kib;
	p->weight = vm->mem.weight ? vm->mem.weight : 100;
	p->flags = (uint8_t)((s->balloon ? WAVE_MEM_BALLOON : 0) |
			     (s->available_kib != WAVE_MEM_NONE ? WAVE_MEM_STATS : 0) |
			     (s->psi_vm ? WAVE_MEM_PSI_VM : 0));
	p->minor_faults = s->minor_faults;
	p->swap_out_kib = s->swap_out_kib;
	p->used_kib = at_most(s->used_kib, s->max_kib);
	p->psi_some_us = s->psi_some_us;
	p->psi_full_us = s->psi_full_us < s->psi_some_us ? s->psi_full_us : s->psi_some_us;
}

static void export_vm(struct waved *w, struct wv_vm *vm, int all)
{
	struct wave_mem_state now;
	struct wave_msg m;

	wave_msg_init(&m, WAVE_MSG_MEM_CTL);
	if (!vm->mem.on || fill_state(vm, &now))
		return;
	fill_ctl(vm, &m.p.mctl);
	if (all || !vm->mem.exported || memcmp(&m.p.mctl, &vm->mem.sent_ctl, sizeof(m.p.mctl))) {
		vm->mem.sent_ctl = m.p.mctl;
		w->st.mem_exports++;
		wv_emit(w, &m);
	}
	wave_msg_init(&m, WAVE_MSG_MEM_STATE);
	m.p.mem = now;
	/* The age moves every second by itself: a report that only aged is not news. */
	m.p.mem.age_ms = vm->mem.sent_state.age_ms;
	if (all || !vm->mem.exported || memcmp(&m.p.mem, &vm->mem.sent_state, sizeof(m.p.mem))) {
		m.p.mem.age_ms = now.age_ms;
		vm->mem.sent_state = m.p.mem;
		w->st.mem_exports++;
		wv_emit(w, &m);
	}
	vm->mem.exported = 1;
}

static void export_host(struct waved *w, int all)
{
	struct wave_msg m;

	if (!w->mm || !w->mem_host_read)
		return;
	wave_msg_init(&m, WAVE_MSG_HOST_MEM);
	m.p.hmem.barrier = w->epoch;
	m.p.hmem.budget_kib = w->cfg.mem_budget_kib;
	m.p.hmem.total_kib = w->mem_host.total_kib;
	m.p.hmem.avail_kib = w->mem_host.avail_kib;
	m.p.hmem.psi_some_us = w->mem_host.psi_some_us;
	m.p.hmem.psi_full_us = w->mem_host.psi_full_us < w->mem_host.psi_some_us
			       ? w->mem_host.psi_full_us : w->mem_host.psi_some_us;
	if (!all && !memcmp(&m.p.hmem, &w->mem_host_sent, sizeof(m.p.hmem)))
		return;
	w->mem_host_sent = m.p.hmem;
	w->st.mem_exports++;
	wv_emit(w, &m);
}

void wv_export_mem(struct waved *w, int all)
{
	export_host(w, all);
	for (unsigned int v = 0; v < WV_MAX_VMS; v++)
		if (w->vms[v].used)
			export_vm(w, &w->vms[v], all);
}

uint32_t wv_mem_rule(const struct mm_stats *prev, const struct mm_stats *s, uint64_t dt_ns,
		     uint32_t target_kib, uint64_t headroom_kib)
{
	uint64_t grow, room;
	int acute;

	if (!s->balloon || !s->max_kib || !prev->max_kib || !dt_ns || target_kib >= s->max_kib)
		return 0;
	acute = (s->usable_kib != MM_NONE && s->usable_kib < WV_MEM_ACUTE_FREE_KIB) ||
		(s->swap_in_kib != MM_NONE && prev->swap_in_kib != MM_NONE &&
		 (uint32_t)(s->swap_in_kib - prev->swap_in_kib) >= WV_MEM_ACUTE_SWAP_KIB) ||
		(s->psi_some_us >= prev->psi_some_us &&
		 (s->psi_some_us - prev->psi_some_us) * 1000 * 10 >= dt_ns); /* 10% stalled */
	if (!acute)
		return 0;
	grow = (s->max_kib - target_kib) / 4;
	grow = grow > WV_MEM_ACUTE_STEP_KIB ? grow : WV_MEM_ACUTE_STEP_KIB;
	room = s->max_kib - target_kib;
	grow = grow < room ? grow : room;
	grow = grow < headroom_kib ? grow : headroom_kib;
	return grow ? target_kib + (uint32_t)grow : 0;
}

/* The sum of every VM's target with vm's replaced by kib. */
static uint64_t targets_with(const struct waved *w, const struct wv_vm *vm, uint32_t kib);

/*
 * In fallback to cfs the host changes no target, but for a VM in acute
 * pressure: deflated by the rule above, at most every two seconds, within
 * the budget. The local fallback runs the memory policy itself instead.
 */
static void fallback_rule(struct waved *w, struct wv_vm *vm, const struct mm_stats *prev)
{
	uint64_t sum, room;
	uint32_t cur = vm->mem.target_kib ? vm->mem.target_kib : vm->mem.st.actual_kib, kib;

	if (w->cfg.mode != WAVED_OFFLOAD || wv_agent_in_charge(w) || wv_runs_policy(w) ||
	    !w->cfg.mem_budget_kib || vm->mem.busy || cur == MM_NONE ||
	    w->now < vm->mem.rule_ns + 2 * WAVE_NSEC_PER_SEC)
		return;
	sum = targets_with(w, vm, cur);
	room = w->cfg.mem_budget_kib > sum ? w->cfg.mem_budget_kib - sum : 0;
	kib = wv_mem_rule(prev, &vm->mem.st, (uint64_t)w->cfg.mem_period_ms * WAVE_NSEC_PER_MSEC,
			  cur, room);
	if (!kib || mm_set_target(w->mm, slot_of(w, vm), kib, 0))
		return;
	vm->mem.rule_ns = w->now;
	vm->mem.prev_target_kib = cur;
	vm->mem.target_kib = kib;
	vm->mem.busy = 1;
	vm->mem.txn = (struct wave_txn){ 0 }; /* txn_id 0: the host's own, nobody to answer */
	w->st.mem_fallback_deflates++;
	wave_info("waved: %s: acute memory pressure in fallback: balloon %u -> %u MiB", vm->name,
		  cur / 1024, kib / 1024);
}

static void on_stats(unsigned int slot, const struct mm_stats *s, void *arg)
{
	struct waved *w = arg;
	struct wv_vm *vm = slot < WV_MAX_VMS ? &w->vms[slot] : NULL;
	struct mm_stats prev;

	if (!vm || !vm->used || !vm->mem.on)
		return;
	if (!s->balloon && vm->mem.st.balloon != s->balloon && !vm->mem.noted)
		wave_info("waved: %s: memory not controlled (no virtio balloon with statistics): %s",
			  vm->name, s->why);
	vm->mem.noted |= !s->balloon;
	prev = vm->mem.st;
	vm->mem.st = *s;
	fallback_rule(w, vm, &prev);
	export_vm(w, vm, 0);
}

static void on_result(const struct mm_result *r, void *arg)
{
	struct waved *w = arg;
	struct wv_vm *vm = r->slot < WV_MAX_VMS ? &w->vms[r->slot] : NULL;

	if (!vm || !vm->used || !vm->mem.busy || vm->mem.txn.txn_id != r->cookie)
		return; /* for a VM that has gone since: answered when it went */
	vm->mem.busy = 0;
	if (!r->cookie) { /* the fallback rule's own */
		if (r->err)
			vm->mem.target_kib = vm->mem.prev_target_kib;
		return;
	}
	if (r->err) {
		w->st.mem_failed++;
		vm->mem.target_kib = vm->mem.prev_target_kib; /* counted again */
		wave_log_rl(WAVE_LOG_WARN, "waved: %s: balloon target %u MiB failed: %s", vm->name,
			    r->kib / 1024, r->why);
		wv_send_result(w, &vm->mem.txn, WAVE_ST_FAILED, 0, r->err, vm->mem.txn_local);
		return;
	}
	w->st.mem_set++;
	wv_send_result(w, &vm->mem.txn, WAVE_ST_OK, 0, 0, vm->mem.txn_local);
	export_vm(w, vm, 0); /* the new target, now: the policy waits to see it */
}

static void on_host(const struct mm_host *h, void *arg)
{
	struct waved *w = arg;

	w->mem_host = *h;
	w->mem_host_read = 1;
	export_host(w, 0);
}

void wv_mem_poll(struct waved *w)
{
	static const struct mm_cb cb = { .stats = on_stats, .result = on_result, .host = on_host };

	if (w->mm)
		mm_poll(w->mm, &cb, w);
}

static uint64_t targets_with(const struct waved *w, const struct wv_vm *vm, uint32_t kib)
{
	uint64_t sum = 0;

	for (unsigned int v = 0; v < WV_MAX_VMS; v++) {
		const struct wv_vm *x = &w->vms[v];

		if (x->used && x->mem.on)
			sum += x == vm ? kib : x->mem.target_kib ? x->mem.target_kib
									: x->mem.st.actual_kib;
	}
	return sum;
}

/* Whether op may be applied now; WAVE_ST_OK or the status to refuse with, and why. */
static uint8_t check(struct waved *w, const struct wave_txn *op, unsigned int n,
		     struct wv_vm **vmp, const char **why)
{
	uint32_t kib = op->u.balloon.target_kib;
	uint8_t st = wv_check_vm_op(w, op, n, vmp, why);
	struct wv_vm *vm = *vmp;

	if (st != WAVE_ST_OK)
		return st;
	if (!w->cfg.mem_budget_kib || !vm->mem.on || !vm->mem.st.balloon) {
		*why = !w->cfg.mem_budget_kib ? "memory is not controlled here (--mem-budget 0)"
					      : "the VM has no balloon to set";
		return WAVE_ST_INVALID;
	}
	if (vm->mem.busy) {
		*why = "a target for the VM is still being applied";
		return WAVE_ST_INVALID;
	}
	if (kib < vm->mem.floor_kib || kib > vm->mem.st.max_kib) {
		*why = kib < vm->mem.floor_kib ? "below the VM's floor (mem-min)"
					       : "above the VM's maximum";
		return WAVE_ST_INVALID;
	}
	if (targets_with(w, vm, kib) > w->cfg.mem_budget_kib && kib > vm->mem.target_kib) {
		*why = "past the memory budget (--mem-budget)";
		return WAVE_ST_INVALID;
	}
	return WAVE_ST_OK;
}

void wv_mem_txn(struct waved *w, const struct wave_txn *ops, unsigned int n, int local)
{
	const char *why = "";
	struct wv_vm *vm;
	uint8_t st = check(w, ops, n, &vm, &why);
	int ret;

	if (st == WAVE_ST_OK) {
		vm->mem.prev_target_kib = vm->mem.target_kib;
		vm->mem.target_kib = ops->u.balloon.target_kib;
		vm->mem.txn = *ops;
		vm->mem.txn_local = local;
		vm->mem.busy = 1;
		if ((ret = mm_set_target(w->mm, slot_of(w, vm), ops->u.balloon.target_kib,
					 ops->txn_id)) == 0)
			return; /* answered when libvirt has done it (on_result) */
		vm->mem.busy = 0;
		vm->mem.target_kib = vm->mem.prev_target_kib;
		w->st.mem_failed++;
		wv_send_result(w, ops, WAVE_ST_FAILED, 0, -ret, local);
		return;
	}
	if (st == WAVE_ST_INVALID) {
		w->st.mem_refused++;
		if (vm)
			vm->mem.refused++;
	}
	wave_log_rl(WAVE_LOG_INFO, "waved: TXN %u SET_BALLOON %u MiB refused (%s): %s",
		    ops->txn_id, ops->u.balloon.target_kib / 1024, wave_status_name(st), why);
	wv_send_result(w, ops, st, 0, 0, local);
}

int wv_mem_open(struct waved *w)
{
	int ret;

	if (!w->cfg.mem_period_ms)
		return 0;
	if ((ret = mm_open(site_uri(w->cfg.uri), w->cfg.mem_period_ms, &w->mm))) {
		wave_warn("waved: guest memory is not observed: %s", strerror(-ret));
		w->mm = NULL;
	}
	return 0;
}

void wv_mem_close(struct waved *w)
{
	mm_close(w->mm);
	w->mm = NULL;
}
