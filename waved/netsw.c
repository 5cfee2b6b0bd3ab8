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
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "channel/codec.h"
#include "common/clock.h"
#include "common/log.h"
#include "netctl/switch-client.h"
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

void wv_net_txn(struct waved *w, const struct wave_txn *ops, unsigned int n, int local)
{
	static const char *const dirs[] = { [WAVE_NET_DIR_FROM] = "from", [WAVE_NET_DIR_TO] = "to",
					    [WAVE_NET_DIR_BOTH] = "both" };
	char req[160], reply[256];
	const char *why = "";
	struct wv_vm *vm;
	uint8_t st = check_rate(w, ops, n, &vm, &why);
	int ret;

	if (st != WAVE_ST_OK) {
		w->st.net_refused += st == WAVE_ST_INVALID;
		wave_log_rl(WAVE_LOG_INFO, "waved: TXN %u SET_NET_RATE refused (%s): %s", ops->txn_id,
			    wave_status_name(st), why);
		wv_send_result(w, ops, st, 0, 0, local);
		return;
	}
	/* The codec checked dir, rate and burst; the switch checks them again. */
	snprintf(req, sizeof(req), "rate %s %s %llu %u", vm->name, dirs[ops->u.net.dir],
		 (unsigned long long)ops->u.net.rate_bytes_s, ops->u.net.burst_bytes);
	ret = swc_request_ms(w->cfg.switch_ctl, req, reply, sizeof(reply), WV_NETSW_TIMEOUT_MS);
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
