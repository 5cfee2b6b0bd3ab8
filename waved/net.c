// SPDX-License-Identifier: BSD-3-Clause
/*
 * Each managed VM's traffic, out of waved: the VM's taps are counted by
 * kvm-hooks' traffic observation (BPF on their tc hooks, or their kernel
 * statistics), a VM on wave-switch by the switch (netsw.c), and the sums
 * go to the policy as NET_STATE.
 *
 * Cost first: the counters are read every 100 ms (not at the export
 * period: request rates move over tenths of a second, not milliseconds),
 * with BPF from mmapped memory, and a NET_STATE goes out only when a
 * count moved, so an idle VM costs nothing on the channel. The one
 * exception is an arrival event, which the policy in charge must have
 * asked for (WAKE_SUB, WAVE_WAKE_NET): a packet reaching the VM after a
 * quiet gap wakes waved, which pushes a NET_STATE flagged ARRIVAL at once.
 * With --net-fire, what was prestaged on the VM's threads fires at that
 * moment (the packet is about to wake one of them) instead of at the
 * thread's wakeup: off by default, see the README for what it measured.
 */
#include <string.h>

#include "channel/codec.h"
#include "common/clock.h"
#include "common/log.h"
#include "waved/waved.h"

static void reset_counts(struct wv_vm *vm)
{
	memset(&vm->net_sent, 0, sizeof(vm->net_sent));
	memset(&vm->net_acc, 0, sizeof(vm->net_acc));
	memset(vm->net_last, 0, sizeof(vm->net_last));
	vm->net_exported = 0;
}

/* Whether vm's traffic is counted at all: on its taps, or by wave-switch. */
static int counted(const struct waved *w, const struct wv_vm *vm)
{
	return vm->used && ((w->net && vm->nr_net) || vm->net_switch);
}

/*
 * Counts a VM's taps. Taps that cannot be counted are logged and left out.
 * A VM without a tap that wave-switch has a port for is counted there.
 */
void wv_net_attach(struct waved *w, struct wv_vm *vm, const char (*taps)[16], unsigned int n)
{
	struct nettap_rec r;

	vm->nr_net = 0;
	vm->net_switch = 0;
	reset_counts(vm);
	if (!n && !wv_netsw_read(w, vm->name, &r)) {
		vm->net_switch = 1;
		wave_info("waved: %s: counting traffic on wave-switch", vm->name);
		if (vm->net_cap && wv_net_pace(w, vm))
			wave_warn("waved: %s: wave-switch did not take its net-rate yet", vm->name);
		return;
	}
	if (!w->net)
		return;
	for (unsigned int i = 0; i < n && vm->nr_net < WV_MAX_TAPS; i++) {
		int slot = netobs_add(w->net, taps[i], 0);

		if (slot < 0) {
			wave_warn("waved: %s: traffic on %s is not counted: %s", vm->name, taps[i],
				  strerror(-slot));
			continue;
		}
		vm->net_slot[vm->nr_net++] = slot;
	}
	if (vm->nr_net)
		wave_info("waved: %s: counting traffic on %u interface%s (%s)", vm->name, vm->nr_net,
			  vm->nr_net == 1 ? "" : "s", netobs_name(w->net));
}

void wv_net_detach(struct waved *w, struct wv_vm *vm)
{
	for (unsigned int i = 0; w->net && i < vm->nr_net; i++)
		netobs_del(w->net, vm->net_slot[i]);
	vm->nr_net = 0;
	vm->net_switch = 0;
}

/* What a counter moved by since it was last seen: all of it if it went back (the tap started over). */
static uint64_t moved(uint64_t now, uint64_t *last)
{
	uint64_t d = now >= *last ? now - *last : now;

	*last = now;
	return d;
}

/*
 * The VM's counts now: what its taps counted, summed as deltas, so they
 * never go back (wire.h) when a tap restarts its counters or cannot be
 * read for a while. 0, or -ENOENT if no tap could be read.
 */
static int vm_counts(struct waved *w, struct wv_vm *vm, struct nettap_rec *sum)
{
	unsigned int n = vm->net_switch ? 1 : vm->nr_net;
	int got = 0;

	for (unsigned int i = 0; i < n; i++) {
		struct nettap_rec r, *last = &vm->net_last[i];

		if (vm->net_switch ? wv_netsw_read(w, vm->name, &r)
				   : netobs_read(w->net, vm->net_slot[i], &r))
			continue;
		vm->net_acc.rx_pkts += moved(r.rx_pkts, &last->rx_pkts);
		vm->net_acc.rx_bytes += moved(r.rx_bytes, &last->rx_bytes);
		vm->net_acc.tx_pkts += moved(r.tx_pkts, &last->tx_pkts);
		vm->net_acc.tx_bytes += moved(r.tx_bytes, &last->tx_bytes);
		got = 1;
	}
	/* Bytes are added before packets (nettap.h), but a restart may skew one read. */
	if (vm->net_acc.rx_bytes < vm->net_acc.rx_pkts)
		vm->net_acc.rx_bytes = vm->net_acc.rx_pkts;
	if (vm->net_acc.tx_bytes < vm->net_acc.tx_pkts)
		vm->net_acc.tx_bytes = vm->net_acc.tx_pkts;
	*sum = vm->net_acc;
	return got ? 0 : -ENOENT;
}

static void export_vm(struct waved *w, struct wv_vm *vm, const struct nettap_rec *c,
		      uint8_t flags, uint64_t quiet_ns)
{
	struct wave_msg m;

	wave_msg_init(&m, WAVE_MSG_NET_STATE);
	m.p.net.vm_id = vm->id;
	m.p.net.barrier = vm->barrier;
	m.p.net.rx_pkts = c->rx_pkts;
	m.p.net.rx_bytes = c->rx_bytes;
	m.p.net.tx_pkts = c->tx_pkts;
	m.p.net.tx_bytes = c->tx_bytes;
	m.p.net.flags = flags;
	if (flags & WAVE_NET_ARRIVAL) {
		uint64_t us = quiet_ns / 1000;

		m.p.net.quiet_us = us > UINT32_MAX ? UINT32_MAX : us ? (uint32_t)us : 1;
	}
	m.p.net.source = (uint8_t)(vm->net_switch ? WAVE_NET_SRC_SWITCH : netobs_source(w->net));
	m.p.net.nr_ifaces = (uint8_t)(vm->net_switch ? 1 : vm->nr_net);
	vm->net_sent = *c;
	vm->net_exported = 1;
	w->st.net_exports++;
	wv_emit(w, &m);
}

void wv_export_net(struct waved *w, int all)
{
	for (unsigned int v = 0; v < WV_MAX_VMS; v++) {
		struct wv_vm *vm = &w->vms[v];
		struct nettap_rec c;

		if (!counted(w, vm) || vm_counts(w, vm, &c))
			continue;
		if (vm->net_switch && vm->net_pace_owed && w->cfg.switch_ctl)
			wv_net_pace(w, vm); /* the switch answers again: what it missed */
		if (!all && vm->net_exported && c.rx_pkts == vm->net_sent.rx_pkts &&
		    c.tx_pkts == vm->net_sent.tx_pkts)
			continue;
		export_vm(w, vm, &c, 0, 0);
	}
}

/* Whether arrivals on vm's taps are pushed now: the policy in charge asked, the operator allows. */
static int net_notify(const struct waved *w, const struct wv_vm *vm)
{
	int who = wv_runs_policy(w) ? WV_SUB_LOCAL : wv_agent_in_charge(w) ? WV_SUB_AGENT : -1;

	/* An agent subscribes only if it reads NET_STATE; refuse to push to one that does not. */
	if (who == WV_SUB_AGENT && !(w->ch && (chan_peer_features(w->ch) & WAVE_FEAT_NET)))
		return 0;
	return who >= 0 && w->cfg.wake_events == WV_WAKE_POLICY && (vm->wake[who] & WAVE_WAKE_NET);
}

void wv_net_notify(struct waved *w, const struct wv_vm *vm)
{
	int on = net_notify(w, vm);

	for (unsigned int i = 0; w->net && i < vm->nr_net; i++)
		netobs_notify(w->net, vm->net_slot[i], on);
}

void wv_on_net_event(const struct nettap_event *ev, void *arg)
{
	struct waved *w = arg;

	w->st.net_arrivals++;
	for (unsigned int v = 0; v < WV_MAX_VMS; v++) {
		struct wv_vm *vm = &w->vms[v];
		struct nettap_rec c;

		for (unsigned int i = 0; vm->used && i < vm->nr_net; i++) {
			/* An event queued before its slot went to another interface: stale. */
			if (vm->net_slot[i] != (int)ev->slot ||
			    netobs_ifindex(w->net, vm->net_slot[i]) != ev->ifindex)
				continue;
			if (!net_notify(w, vm))
				return;
			for (unsigned int k = 0; w->cfg.net_fire && k < WV_MAX_THREADS; k++)
				if (vm->th[k].used && vm->th[k].prestaged) {
					w->st.net_fired++;
					wv_fire_prestaged(w, &vm->th[k]);
				}
			if (vm_counts(w, vm, &c))
				return;
			export_vm(w, vm, &c, WAVE_NET_ARRIVAL, ev->quiet_ns);
			return;
		}
	}
}

void wv_net_rates(struct waved *w)
{
	for (unsigned int v = 0; v < WV_MAX_VMS; v++) {
		struct wv_vm *vm = &w->vms[v];
		struct nettap_rec c;

		if (!counted(w, vm) || vm_counts(w, vm, &c))
			continue;
		if (vm->net_rate_t0 && w->now > vm->net_rate_t0 && c.rx_pkts >= vm->net_rate0.rx_pkts &&
		    c.tx_pkts >= vm->net_rate0.tx_pkts) {
			double dt = (double)(w->now - vm->net_rate_t0) / 1e9;

			vm->rx_pps = (double)(c.rx_pkts - vm->net_rate0.rx_pkts) / dt;
			vm->tx_pps = (double)(c.tx_pkts - vm->net_rate0.tx_pkts) / dt;
		}
		vm->net_rate_t0 = w->now;
		vm->net_rate0 = c;
	}
}
