// SPDX-License-Identifier: BSD-3-Clause
/*
 * wave-switch's counters as the source of a VM's traffic (net.c), for VMs
 * whose interface is a vhost-user port of the switch and so has no tap to
 * count. One `stats` request on the switch's control socket serves every
 * such VM for WV_NETSW_MAX_AGE; the switch's view is mapped onto the taps':
 * what the switch sent to the VM's port is rx (towards the guest), what it
 * received from it is tx.
 *
 * The alternative, the switch pushing counters into shared memory, would
 * save a syscall per 100 ms; it is not worth a second way of reading the
 * same numbers while a read costs tens of microseconds.
 *
 * The reply is checked like anything from another process: a port whose
 * fields are missing or of the wrong type is skipped and counted.
 *
 * Rates: a policy's SET_NET_RATE, and the operator's ceiling on what a VM
 * sends (metadata net-rate, net-burst), which no policy passes: what the
 * VM may send is the policy's pace capped by the ceiling, the ceiling
 * alone where the policy sets none. The ceiling holds from the moment
 * waved sees the VM on the switch ('wavectl launch' puts it there at once
 * too), and a live change of it takes effect at once.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "channel/codec.h"
#include "common/clock.h"
#include "common/log.h"
#include "netctl/switch-client.h"
#include "vmm/meta.h"
#include "waved/waved.h"

#define WV_NETSW_MAX_AGE (50 * WAVE_NSEC_PER_MSEC)
/* A switch that does not answer this fast costs waved's loop no more than this. */
#define WV_NETSW_TIMEOUT_MS 50

static int field(json_object *o, const char *k, uint64_t *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0)
		return -EINVAL;
	*out = (uint64_t)json_object_get_int64(v);
	return 0;
}

static int parse(struct wv_netsw *s, const char *reply)
{
	json_object *root = json_tokener_parse(reply), *ports, *name, *kind;
	size_t n;

	s->n = 0;
	if (!root || !json_object_object_get_ex(root, "ports", &ports) ||
	    !json_object_is_type(ports, json_type_array)) {
		json_object_put(root);
		return -EPROTO;
	}
	n = json_object_array_length(ports);
	for (size_t i = 0; i < n && s->n < WV_NETSW_MAX_PORTS; i++) {
		json_object *p = json_object_array_get_idx(ports, i);
		struct wv_netsw_port *q = &s->p[s->n];

		if (!json_object_object_get_ex(p, "kind", &kind) ||
		    !json_object_is_type(kind, json_type_string) ||
		    strcmp(json_object_get_string(kind), "vm"))
			continue;
		if (!json_object_object_get_ex(p, "name", &name) ||
		    !json_object_is_type(name, json_type_string) ||
		    strlen(json_object_get_string(name)) >= sizeof(q->name) ||
		    field(p, "tx_pkts", &q->c.rx_pkts) || field(p, "tx_bytes", &q->c.rx_bytes) ||
		    field(p, "rx_pkts", &q->c.tx_pkts) || field(p, "rx_bytes", &q->c.tx_bytes)) {
			s->bad++;
			continue;
		}
		snprintf(q->name, sizeof(q->name), "%s", json_object_get_string(name));
		s->n++;
	}
	json_object_put(root);
	return 0;
}

static int refresh(struct waved *w)
{
	static char reply[64 * 1024];
	struct wv_netsw *s = &w->netsw;
	int ret;

	if (s->read_ns && w->now - s->read_ns < WV_NETSW_MAX_AGE)
		return s->ok;
	s->read_ns = w->now;
	s->reads++;
	ret = swc_request_ms(w->cfg.switch_ctl, "stats", reply, sizeof(reply), WV_NETSW_TIMEOUT_MS);
	if (!ret)
		ret = parse(s, reply);
	/* No socket at all is a host without the switch: nothing to say. */
	if (ret && ret != -ENOENT && !s->ok_before_err++)
		wave_warn("waved: wave-switch on %s: %s (its VMs' traffic is not counted until it "
			  "answers)", w->cfg.switch_ctl, strerror(-ret));
	if (!ret)
		s->ok_before_err = 0;
	s->ok = ret;
	return ret;
}

int wv_netsw_read(struct waved *w, const char *vm, struct nettap_rec *r)
{
	struct wv_netsw *s = &w->netsw;

	if (!w->cfg.switch_ctl || refresh(w))
		return -ENOENT;
	for (unsigned int i = 0; i < s->n; i++)
		if (!strcmp(s->p[i].name, vm)) {
			*r = s->p[i].c;
			return 0;
		}
	return -ENOENT;
}

/* Whether op may be applied now: what every whole-VM op is checked for, and the VM on the switch. */
static uint8_t check_rate(struct waved *w, const struct wave_txn *op, unsigned int n,
			  struct wv_vm **vmp, const char **why)
{
	uint8_t st = wv_check_vm_op(w, op, n, vmp, why);

	if (st == WAVE_ST_OK && !(*vmp)->net_switch) {
		*why = "the VM is not on wave-switch";
		return WAVE_ST_INVALID;
	}
	return st;
}

/* Sets one direction of vm's rate on the switch: 0, -EPROTO (reply holds why) or -errno. */
static int set_rate(struct waved *w, const struct wv_vm *vm, const char *dir, uint64_t rate,
		    uint32_t burst, char *reply, size_t size)
{
	return swc_rate(w->cfg.switch_ctl, vm->name, dir, rate, burst, reply, size,
			WV_NETSW_TIMEOUT_MS);
}

int wv_net_pace(struct waved *w, struct wv_vm *vm)
{
	uint64_t rate = vm->net_rate;
	uint32_t burst = vm->net_burst;
	char reply[256];
	int ret;

	if (vm->net_cap && (!rate || rate > vm->net_cap)) {
		rate = vm->net_cap;
		burst = vm->net_cap_burst;
	} else if (vm->net_cap && burst > vm->net_cap_burst) {
		burst = vm->net_cap_burst;
	}
	ret = set_rate(w, vm, "from", rate, burst, reply, sizeof(reply));
	vm->net_pace_owed = !!ret;
	return ret;
}

void wv_net_unpace(struct waved *w, struct wv_vm *vm)
{
	int ret;

	if (!vm->net_rate)
		return;
	vm->net_rate = 0;
	vm->net_burst = 0;
	if (vm->net_switch && w->cfg.switch_ctl && (ret = wv_net_pace(w, vm)))
		wave_warn("waved: %s: its pace could not be lifted yet: %s", vm->name, strerror(-ret));
}

int wv_net_cap(struct waved *w, struct wv_vm *vm, const struct vmm_meta *m)
{
	uint32_t burst;
	uint64_t cap = vmm_meta_net_cap(m, &burst);
	int ret;

	if (cap == vm->net_cap && burst == vm->net_cap_burst)
		return 0;
	vm->net_cap = cap;
	vm->net_cap_burst = burst;
	if (vm->net_switch && w->cfg.switch_ctl && (ret = wv_net_pace(w, vm)))
		wave_warn("waved: %s: wave-switch did not take its net-rate yet: %s", vm->name,
			  strerror(-ret));
	return 1;
}

void wv_net_txn(struct waved *w, const struct wave_txn *ops, unsigned int n, int local)
{
	char reply[256];
	const char *why = "";
	struct wv_vm *vm;
	uint8_t st = check_rate(w, ops, n, &vm, &why);
	uint8_t dir;
	int ret = 0;

	if (st != WAVE_ST_OK) {
		w->st.net_refused += st == WAVE_ST_INVALID;
		wave_log_rl(WAVE_LOG_INFO, "waved: TXN %u SET_NET_RATE refused (%s): %s", ops->txn_id,
			    wave_status_name(st), why);
		wv_send_result(w, ops, st, 0, 0, local);
		return;
	}
	/* The codec checked dir, rate and burst; the switch checks them again. */
	dir = ops->u.net.dir;
	if (dir & WAVE_NET_DIR_TO)
		ret = set_rate(w, vm, "to", ops->u.net.rate_bytes_s, ops->u.net.burst_bytes, reply,
			       sizeof(reply));
	if (!ret && (dir & WAVE_NET_DIR_FROM)) {
		vm->net_rate = ops->u.net.rate_bytes_s;
		vm->net_burst = ops->u.net.burst_bytes;
		ret = wv_net_pace(w, vm);
	}
	if (ret) {
		w->st.net_failed++;
		wave_log_rl(WAVE_LOG_WARN, "waved: %s: wave-switch did not take the rate: %s",
			    vm->name, ret == -EPROTO ? reply : strerror(-ret));
		wv_send_result(w, ops, WAVE_ST_FAILED, 0, ret == -EPROTO ? EINVAL : -ret, local);
		return;
	}
	w->st.net_set++;
	wv_send_result(w, ops, WAVE_ST_OK, 0, 0, local);
}
