// SPDX-License-Identifier: BSD-3-Clause
/* The scheduling runtime (sched.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "channel/codec.h"
#include "ipu-sched/sched.h"

static void policy_start(struct sched *s, struct sched_policy *p)
{
	memset(p->priv, 0, p->ops->priv_size ? p->ops->priv_size : 1);
	if (p->ops->init)
		p->ops->init(p->priv, p->conf->cfg, &s->env);
}

int sched_add(struct sched *s, const struct policy_conf *conf)
{
	struct sched_policy *p;

	if (s->nr_pol == SCHED_MAX_POLICIES)
		return -ENOSPC;
	p = &s->pol[s->nr_pol];
	p->ops = conf->ops;
	p->conf = conf;
	p->priv = calloc(1, p->ops->priv_size ? p->ops->priv_size : 1);
	if (!p->priv)
		return -ENOMEM;
	s->nr_pol++;
	policy_start(s, p);
	return 0;
}

int sched_init(struct sched *s, const struct policy_conf *conf, const struct policy_env *env)
{
	memset(s, 0, sizeof(*s));
	s->env = *env;
	model_init(&s->model);
	s->next_txn = 1;
	return sched_add(s, conf);
}

void sched_fini(struct sched *s)
{
	for (unsigned int k = 0; k < s->nr_pol; k++) {
		free(s->pol[k].priv);
		s->pol[k].priv = NULL;
	}
	s->nr_pol = 0;
}

/*
 * Ops policy k emitted since out.n was start: marked as k's, and never
 * joined to another policy's transaction.
 */
static void own(struct sched *s, unsigned int k, unsigned int start)
{
	for (unsigned int i = start; i < s->out.n; i++)
		s->out.pol[i] = (uint8_t)k;
	if (start < s->out.n)
		s->out.join[start] = 0;
}

int sched_feed(struct sched *s, const struct wave_msg *m, uint64_t now_ns)
{
	const struct wave_vcpu_state *v = &m->p.vcpu;
	const struct model_thread *t;
	int woke = 0, ret;

	/*
	 * A wakeup is a grown wakeup count, whatever the state now: a short
	 * burst may be over (BLOCKED again) by the time the host reads it.
	 */
	if (m->h.type == WAVE_MSG_VCPU_STATE && v->state != WAVE_TS_GONE) {
		t = model_thread_c(&s->model, v->vm_id, v->kind, v->index);
		woke = t && t->present && t->barrier == v->barrier &&
		       (v->wakeups != t->wakeups ||
			(t->state == WAVE_TS_BLOCKED && v->state != WAVE_TS_BLOCKED));
	}
	ret = model_apply(&s->model, m, now_ns);
	/* A new VM, or a snapshot (the host forgot every subscription): ask @wakes. */
	if (ret > 0 && m->h.type == WAVE_MSG_SNAPSHOT_END)
		memset(s->sub, 0, sizeof(s->sub));
	if (ret > 0 && (m->h.type == WAVE_MSG_SNAPSHOT_END || m->h.type == WAVE_MSG_VM_ADD))
		s->subs_dirty = 1;
	if (ret > 0 && woke && !s->model.in_snapshot) {
		struct model_vm *vm = model_vm(&s->model, v->vm_id);

		t = model_thread_c(&s->model, v->vm_id, v->kind, v->index);
		s->st.wakeups++;
		for (unsigned int k = 0, start = s->out.n; k < s->nr_pol; k++, start = s->out.n)
			if (s->pol[k].ops->wakeup) {
				s->pol[k].ops->wakeup(s->pol[k].priv, &s->model, vm, t, now_ns,
						      &s->out);
				own(s, k, start);
			}
	}
	if (ret > 0 && m->h.type == WAVE_MSG_NET_STATE && (m->p.net.flags & WAVE_NET_ARRIVAL) &&
	    !s->model.in_snapshot) {
		struct model_vm *vm = model_vm(&s->model, m->p.net.vm_id);

		s->st.arrivals++;
		for (unsigned int k = 0, start = s->out.n; k < s->nr_pol; k++, start = s->out.n)
			if (s->pol[k].ops->arrival) {
				s->pol[k].ops->arrival(s->pol[k].priv, &s->model, vm, now_ns, &s->out);
				own(s, k, start);
			}
	}
	return ret;
}

void sched_decide(struct sched *s, uint64_t now_ns)
{
	/* Decisions on a half-received snapshot would use a half-built model. */
	if (s->model.in_snapshot)
		return;
	s->st.decides++;
	for (unsigned int k = 0, start = s->out.n; k < s->nr_pol; k++, start = s->out.n)
		if (s->pol[k].ops->decide) {
			s->pol[k].ops->decide(s->pol[k].priv, &s->model, now_ns, &s->out);
			own(s, k, start);
		}
}

/* WAKE_SUB for every VM whose wish differs from what the host was told. */
static unsigned int emit_subs(struct sched *s, struct wave_msg *msgs, unsigned int max)
{
	unsigned int w = 0;

	/* Only to a host that takes them, and from the first snapshot on (its epoch). */
	if (!s->subs_dirty || !s->env.wake_sub || s->model.in_snapshot || !s->model.epoch)
		return 0;
	for (unsigned int v = 0; v < WAVE_MANAGED_VMS; v++) {
		const struct model_vm *vm = &s->model.vms[v];
		struct sched_sub *sub = &s->sub[v];
		uint8_t kinds;

		if (!vm->present)
			continue;
		if (sub->vm_id != vm->id || sub->barrier != vm->barrier)
			*sub = (struct sched_sub){ .vm_id = vm->id, .barrier = vm->barrier };
		kinds = 0;
		for (unsigned int k = 0; k < s->nr_pol; k++)
			if (s->pol[k].ops->wakes)
				kinds |= s->pol[k].ops->wakes(s->pol[k].priv, vm);
		kinds &= POLICY_WAKES_ALL | (s->env.net ? POLICY_WAKES_NET : 0);
		if (kinds == sub->kinds)
			continue;
		if (w == max)
			return w; /* the rest next call: still dirty */
		wave_msg_init(&msgs[w], WAVE_MSG_WAKE_SUB);
		msgs[w].p.wake.epoch = s->model.epoch;
		msgs[w].p.wake.vm_id = vm->id;
		msgs[w].p.wake.barrier = vm->barrier;
		msgs[w].p.wake.kinds = kinds;
		sub->kinds = kinds;
		s->st.subs++;
		w++;
	}
	s->subs_dirty = 0;
	return w;
}

/* Length of the transaction starting at op i (ops joined to it), capped. */
static unsigned int group_len(const struct policy_out *o, unsigned int i)
{
	unsigned int n = 1;

	while (i + n < o->n && o->join[i + n] && n < WAVE_TXN_MAX_OPS)
		n++;
	return n;
}

unsigned int sched_emit(struct sched *s, struct wave_msg *msgs, unsigned int max)
{
	struct policy_out *o = &s->out;
	unsigned int i = 0, w = emit_subs(s, msgs, max);

	while (i < o->n) {
		unsigned int n = group_len(o, i);
		struct sched_pending *p;
		uint32_t id;

		if (w + n > max)
			break;
		id = s->next_txn++;
		p = &s->pend[id % SCHED_PENDING];
		p->txn_id = id;
		p->n = n;
		p->pol = o->pol[i];
		for (unsigned int k = 0; k < n; k++) {
			struct wave_txn *op = &msgs[w].p.txn;
			const struct model_thread *t;

			wave_msg_init(&msgs[w], WAVE_MSG_TXN);
			*op = o->ops[i + k];
			op->txn_id = id;
			op->epoch = s->model.epoch;
			op->op_idx = (uint8_t)k;
			op->op_count = (uint8_t)n;
			if (wave_op_targets_vm(op->op)) {
				const struct model_vm *vm = model_vm(&s->model, op->vm_id);

				op->barrier = vm ? vm->barrier : 0;
			} else {
				t = model_thread_c(&s->model, op->vm_id, op->kind, op->index);
				op->barrier = t ? t->barrier : 0;
			}
			p->ops[k] = *op;
			w++;
		}
		i += n;
		s->st.txns++;
		s->st.ops += n;
	}
	/* Keep what did not fit for the next call. */
	memmove(o->ops, o->ops + i, (o->n - i) * sizeof(o->ops[0]));
	memmove(o->join, o->join + i, (o->n - i) * sizeof(o->join[0]));
	memmove(o->pol, o->pol + i, (o->n - i) * sizeof(o->pol[0]));
	o->n -= i;
	if (o->n)
		o->join[0] = 0;
	s->st.dropped_ops += o->dropped;
	o->dropped = 0;
	return w;
}

void sched_result(struct sched *s, const struct wave_txn_result *r)
{
	struct sched_pending *p = &s->pend[r->txn_id % SCHED_PENDING];

	if (r->status < WAVE_ST_MAX)
		s->st.results[r->status]++;
	if (p->txn_id != r->txn_id || !p->n) {
		s->st.unknown_results++;
		return;
	}
	if (r->status != WAVE_ST_OK && p->pol < s->nr_pol && s->pol[p->pol].ops->result)
		s->pol[p->pol].ops->result(s->pol[p->pol].priv, &s->model, p->ops, p->n, r);
	p->n = 0;
}

void sched_reset(struct sched *s)
{
	s->out.n = 0;
	for (unsigned int k = 0; k < s->nr_pol; k++) {
		if (s->pol[k].ops->reset)
			s->pol[k].ops->reset(s->pol[k].priv);
		else
			policy_start(s, &s->pol[k]);
	}
	/* A fresh policy may want other wakeups (the host keeps what it was told). */
	s->subs_dirty = 1;
}
