// SPDX-License-Identifier: BSD-3-Clause
/*
 * share: the network policy (the policy half of netctl/; no I/O, like
 * every policy, so it runs in wave-agent and, for onhost mode and the
 * local fallback, in waved). It sets how fast each VM on wave-switch may
 * send onto the link the VMs share (SET_NET_RATE, direction from the VM:
 * the switch paces, so what a VM sends beyond its rate waits in its own
 * ring and nothing is lost).
 *
 * The link is what the host's uplink carries (link, Mbit/s: the port's
 * speed on a real host, an option because the host cannot know what lies
 * beyond its tap). Latency-class VMs are never paced: each is reserved
 * what it sends now times 1 + margin, at least lat-min, so a request
 * burst finds room before the next decision. What is left, less headroom
 * (a link loaded to 100% has a standing queue that every latency packet
 * waits behind), is shared between the other VMs, max-min fair: a VM that
 * sends less than an equal share keeps what it sends (times 1 + margin),
 * and the rest is split between those that want more. A VM counts as
 * wanting more while it sends at limited x its pace or faster (it may
 * want far more: its pace hides it). Every such VM is paced at the fair
 * level, never below min, so the sharing is work-conserving: one noisy
 * VM alone gets the whole link but the latency VMs' reserve.
 *   - Without a latency-class VM on the switch nothing needs protecting:
 *     every VM is unpaced (the link's own fairness, Linux alone).
 *   - The pace is corrected by what the VM really sends (closed loop): the
 *     switch keeps a pace in tokens, and a read that comes late on a busy
 *     host loses what overflowed the bucket, so a VM paced at the fair
 *     level sends a few percent less. While a VM that wants more sends
 *     under its fair level (by more than hyst), its pace is raised a
 *     little each report, at most to catch-up x the level and never past
 *     the link less the latency VMs' reserve (the headroom may pay for the
 *     pacer's losses, nothing more); once it sends more than the level,
 *     the pace comes back down. So what it gets is the level, not the
 *     level less the pacer's losses, and never more for long.
 *   - Pacing, not policing: a VM paced below what it offers loses no
 *     packet, it blocks (its guest's socket waits), which is what lets the
 *     host's CPU go to other VMs as well.
 *   - Changes under hyst (relative) are not sent; each VM's rate is its
 *     own transaction (the host applies SET_NET_RATE alone).
 *   - A refused or failed rate is not sent again for a second.
 * Alternative rejected: fixed per-VM limits (tc's way): either too low
 * (a neighbour starves while the link is idle) or too high (no
 * protection when the latency VM is busy); the fair level follows both.
 * Without a link rate, or a host that cannot pace (no WAVE_FEAT_NETCTL),
 * it decides nothing.
 */
#include <stddef.h>
#include <string.h>

#include "ipu-sched/policy.h"

#define RETRY_NS  1000000000ull
#define FRAME     1514u

struct share_cfg {
	uint32_t link_mbit;      /* the shared link; 0: unknown, decide nothing */
	double headroom;         /* of the link left unused so its queue drains */
	double margin;           /* a VM's measured rate is counted times 1 + this */
	uint32_t lat_min_kbit;   /* reserved for each latency VM at least */
	uint32_t min_kbit;       /* no VM is paced below this */
	uint64_t burst_ns;       /* a pace's burst: this long at its rate */
	double hyst;             /* relative changes below this are not sent */
	double limited;          /* sending at this share of its pace: it wants more */
	double catch_up;         /* a pace may rise to this times the fair level to fill the link */
};

static const struct share_cfg share_defaults = {
	.link_mbit = 0,
	.headroom = 0.03,
	.margin = 0.5,
	.lat_min_kbit = 2000,
	.min_kbit = 1000,
	.burst_ns = 4000000ull,
	.hyst = 0.02,
	.limited = 0.9,
	.catch_up = 1.1,
};

#define SHARE_PARAM(...) POLICY_PARAM(struct share_cfg, __VA_ARGS__)
static const struct policy_param share_params[] = {
	SHARE_PARAM("link", UINT32, link_mbit, 0, 100000,
		    "the link the VMs share, Mbit/s (0: unknown, decide nothing)"),
	SHARE_PARAM("headroom", FRACTION, headroom, 0, 0.5, "share of the link left free"),
	SHARE_PARAM("margin", FRACTION, margin, 0, 10,
		    "a VM's measured rate is counted times 1 + this"),
	SHARE_PARAM("lat-min", UINT32, lat_min_kbit, 0, 100000000,
		    "kbit/s reserved for each latency VM at least"),
	SHARE_PARAM("min", UINT32, min_kbit, 8, 100000000, "no VM is paced below this (kbit/s)"),
	SHARE_PARAM("burst", DURATION, burst_ns, 100000, 1e9, "a pace's burst, as time at its rate"),
	SHARE_PARAM("hyst", FRACTION, hyst, 0, 1, "relative rate changes below this are not sent"),
	SHARE_PARAM("limited", FRACTION, limited, 0.1, 1,
		    "a VM sending at this share of its pace wants more"),
	SHARE_PARAM("catch-up", FRACTION, catch_up, 1, 2,
		    "a pace may rise to this times the fair level while the link has room"),
	{ .name = NULL },
};

struct share_vm {
	uint32_t id;             /* the VM this slot decided for (0: none yet) */
	int known;               /* rate is what the host has (sent, not refused) */
	uint64_t rate;           /* bytes/s; 0: unpaced */
	int failed;              /* the host refused the last one */
	uint64_t retry_ns;       /* not before this after a refusal */
	double boost;            /* its pace over the fair level (closed loop), >= 1 */
	uint64_t stepped_ns;     /* when boost last moved: once per report at most */
};

struct share_state {
	struct share_cfg cfg;
	int netctl;
	struct share_vm vm[WAVE_MANAGED_VMS];
};

static void share_init(void *priv, const void *cfg, const struct policy_env *env)
{
	struct share_state *s = priv;

	memset(s, 0, sizeof(*s));
	s->cfg = *(const struct share_cfg *)cfg;
	s->netctl = env->netctl;
}

static int on_switch(const struct model_vm *vm)
{
	return vm->present && vm->net.present && vm->net.source == WAVE_NET_SRC_SWITCH;
}

/*
 * The fair level of r bytes/s between n VMs wanting want[] bytes/s each
 * (1e300: more than any share), max-min: the most any of them may send.
 * When all wants fit, the largest want plus what is left (any one of them
 * may grow into it). Sorts want[].
 */
static double fair_level(double *want, unsigned int n, double r)
{
	double most = 0;

	/* Insertion sort: n is a host's VMs, tens at most. */
	for (unsigned int i = 1; i < n; i++)
		for (unsigned int j = i; j > 0 && want[j] < want[j - 1]; j--) {
			double t = want[j];

			want[j] = want[j - 1];
			want[j - 1] = t;
		}
	for (unsigned int i = 0; i < n; i++) {
		double share = r / (double)(n - i);

		if (want[i] >= share)
			return share;
		r -= want[i];
		most = want[i];
	}
	return most + r;
}

static void emit(struct share_state *s, const struct model_vm *vm, unsigned int v, uint64_t rate,
		 struct policy_out *out)
{
	struct share_vm *x = &s->vm[v];
	uint64_t burst = rate * s->cfg.burst_ns / 1000000000ull;
	struct wave_txn op;

	if (x->known && (!rate) == (!x->rate) &&
	    (!rate || (double)(rate > x->rate ? rate - x->rate : x->rate - rate) <=
			      s->cfg.hyst * (double)x->rate))
		return;
	policy_vm_op_init(&op, vm, WAVE_OP_SET_NET_RATE);
	op.u.net.dir = WAVE_NET_DIR_FROM;
	if (rate) {
		op.u.net.rate_bytes_s = rate < WAVE_NET_MAX_RATE ? rate : WAVE_NET_MAX_RATE;
		burst = burst < 2 * FRAME ? 2 * FRAME : burst;
		op.u.net.burst_bytes = (uint32_t)(burst < WAVE_NET_MAX_BURST ? burst : WAVE_NET_MAX_BURST);
	}
	policy_emit(out, &op, 0);
	x->known = 1;
	x->rate = op.u.net.rate_bytes_s;
}

/* Brings slot v up to date with the VM there now; 0 if it may not be decided for now. */
static int slot_ready(struct share_state *s, const struct model_vm *vm, unsigned int v,
		      uint64_t now)
{
	struct share_vm *x = &s->vm[v];

	if (x->id != vm->id) {
		memset(x, 0, sizeof(*x));
		x->id = vm->id;
		x->boost = 1;
	}
	if (x->failed) {
		x->failed = 0;
		x->known = 0;
		x->retry_ns = now + RETRY_NS;
	}
	return now >= x->retry_ns;
}

/*
 * The closed loop, once per host report: a VM that wants more and sends
 * under its fair level gets a little more pace (steps of at most 5%); one
 * that sends over it, or wants no more, gives it back.
 */
static void catch_up(struct share_state *s, struct share_vm *x, int wants, double tx,
		     double level, uint64_t now)
{
	const struct share_cfg *c = &s->cfg;
	double step;

	if (now - x->stepped_ns < MODEL_NET_PERIOD_NS)
		return;
	x->stepped_ns = now;
	if (wants && tx < level * (1 - c->hyst)) {
		step = (level - tx) / level;
		x->boost *= 1 + (step < 0.05 ? step : 0.05);
		x->boost = x->boost < c->catch_up ? x->boost : c->catch_up;
	} else if (!wants || tx > level * (1 + c->hyst / 2)) {
		x->boost *= 0.95;
		x->boost = x->boost > 1 ? x->boost : 1;
	}
}

static void share_decide(void *priv, const struct model *m, uint64_t now, struct policy_out *out)
{
	struct share_state *s = priv;
	const struct share_cfg *c = &s->cfg;
	double want[WAVE_MANAGED_VMS], tx[WAVE_MANAGED_VMS];
	double link = (double)c->link_mbit * 125000.0, reserve = 0, r, level = 0, top;
	double lat_min = c->lat_min_kbit * 125.0, vm_min = c->min_kbit * 125.0;
	unsigned int n = 0, nlat = 0;
	uint8_t wants[WAVE_MANAGED_VMS] = { 0 };

	if (!s->netctl || !c->link_mbit)
		return;
	for (unsigned int v = 0; v < WAVE_MANAGED_VMS; v++) {
		const struct model_vm *vm = &m->vms[v];
		const struct share_vm *x = &s->vm[v];

		if (!on_switch(vm))
			continue;
		tx[v] = model_net_bytes_rate(vm, now, 1);
		if (vm->cls == WAVE_CLASS_LATENCY) {
			reserve += tx[v] * (1 + c->margin) > lat_min ? tx[v] * (1 + c->margin) : lat_min;
			nlat++;
			continue;
		}
		wants[v] = x->id == vm->id && x->known && x->rate && tx[v] >= c->limited * (double)x->rate;
		want[n++] = wants[v] ? 1e300 : tx[v] * (1 + c->margin);
	}
	if (nlat && n) {
		r = link * (1 - c->headroom) - reserve;
		level = fair_level(want, n, r > 0 ? r : 0);
		level = level > vm_min ? level : vm_min;
	}
	/* A pace may use the headroom, never what the latency VMs are reserved. */
	top = link - reserve > level ? link - reserve : level;
	for (unsigned int v = 0; v < WAVE_MANAGED_VMS; v++) {
		const struct model_vm *vm = &m->vms[v];
		double pace;

		if (!on_switch(vm) || !slot_ready(s, vm, v, now))
			continue;
		/* Latency VMs, and all of them while none is here: unpaced. */
		if (!nlat || vm->cls == WAVE_CLASS_LATENCY) {
			emit(s, vm, v, 0, out);
			continue;
		}
		catch_up(s, &s->vm[v], wants[v], tx[v], level, now);
		pace = level * s->vm[v].boost;
		emit(s, vm, v, (uint64_t)(pace < top ? pace : top), out);
	}
}

static void share_result(void *priv, const struct model *m, const struct wave_txn *ops,
			 unsigned int n, const struct wave_txn_result *r)
{
	struct share_state *s = priv;

	(void)r;
	for (unsigned int k = 0; k < n; k++)
		for (unsigned int v = 0; v < WAVE_MANAGED_VMS; v++)
			if (m->vms[v].present && m->vms[v].id == ops[k].vm_id && s->vm[v].id == ops[k].vm_id)
				s->vm[v].failed = 1;
}

/*
 * A new epoch (fallback and hand-back, or a restarted host): the host
 * keeps the rates it had (it does not restore them), but whether what was
 * sent arrived is not known: every rate is sent again.
 */
static void share_reset(void *priv)
{
	struct share_state *s = priv;

	for (unsigned int v = 0; v < WAVE_MANAGED_VMS; v++)
		s->vm[v].known = 0;
}

const struct policy_ops net_share_ops = {
	.name = "share",
	.summary = "pace VMs on wave-switch: latency VMs' traffic first, the rest shared max-min fair",
	.subsys = POLICY_NET,
	.priv_size = sizeof(struct share_state),
	.cfg_size = sizeof(struct share_cfg),
	.cfg_default = &share_defaults,
	.params = share_params,
	.init = share_init,
	.decide = share_decide,
	.result = share_result,
	.reset = share_reset,
};
