// SPDX-License-Identifier: BSD-3-Clause
/*
 * Policy registry (policy.h): the table every name, help text and
 * --policy-opt lookup comes from; per-policy configuration; helpers for
 * policies; and cfs, the policy that does nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/opt.h"
#include "common/parse.h"
#include "ipu-sched/policy.h"

static const struct policy_ops *const policies[] = {
	&policy_cfs_ops,
	&policy_pin_ops,
	&policy_latency_ops,
	&policy_wakeprobe_ops,
	&mm_none_ops,
	&mm_balloon_ops,
	&net_none_ops,
	&net_share_ops,
};

/* Per subsystem: its option names and what --help calls its policies. */
static const struct {
	const char *opt, *opt_set, *title;
} subsys[POLICY_SUBSYS_MAX] = {
	[POLICY_SCHED] = { "--policy", "--policy-opt", "Scheduling policies" },
	[POLICY_MEM] = { "--mem-policy", "--mem-policy-opt", "Memory policies" },
	[POLICY_NET] = { "--net-policy", "--net-policy-opt", "Network policies" },
};

#define NR_POLICIES (sizeof(policies) / sizeof(policies[0]))

const struct policy_ops *policy_find(enum policy_subsys k, const char *name)
{
	for (size_t i = 0; name && i < NR_POLICIES; i++)
		if (policies[i]->subsys == k && !strcmp(policies[i]->name, name))
			return policies[i];
	return NULL;
}

static const char *names_of(enum policy_subsys k, char *buf, size_t size)
{
	size_t used = 0;

	if (buf[0])
		return buf;
	for (size_t i = 0; i < NR_POLICIES && used < size; i++)
		if (policies[i]->subsys == k)
			used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "",
						 policies[i]->name);
	return buf;
}

const char *policy_names(void)
{
	static char buf[256];

	return names_of(POLICY_SCHED, buf, sizeof(buf));
}

const char *mem_policy_names(void)
{
	static char buf[256];

	return names_of(POLICY_MEM, buf, sizeof(buf));
}

const char *net_policy_names(void)
{
	static char buf[256];

	return names_of(POLICY_NET, buf, sizeof(buf));
}

static const char *names_by_subsys(enum policy_subsys k)
{
	return k == POLICY_MEM ? mem_policy_names() :
	       k == POLICY_NET ? net_policy_names() : policy_names();
}

int policy_conf_init(struct policy_conf *c, const char *name)
{
	return policy_conf_init_as(c, POLICY_SCHED, name);
}

int policy_conf_init_as(struct policy_conf *c, enum policy_subsys k, const char *name)
{
	const struct policy_ops *ops = policy_find(k, name);

	if (!ops) {
		wave_err("%s: unknown policy '%s' (%s)", subsys[k].opt, name ? name : "",
			 names_by_subsys(k));
		return -EINVAL;
	}
	memset(c, 0, sizeof(*c));
	c->ops = ops;
	if (ops->cfg_size)
		memcpy(c->cfg, ops->cfg_default, ops->cfg_size);
	return 0;
}

static const struct policy_param *find_param(const struct policy_ops *ops, const char *name,
					     size_t len)
{
	for (const struct policy_param *p = ops->params; p && p->name; p++)
		if (strlen(p->name) == len && !strncmp(p->name, name, len))
			return p;
	return NULL;
}

static int parse_bool(const char *what, const char *v, int *out)
{
	static const struct wave_name bools[] = {
		{ "0", 0 }, { "off", 0 }, { "no", 0 }, { "false", 0 },
		{ "1", 1 }, { "on", 1 }, { "yes", 1 }, { "true", 1 }, { NULL, 0 },
	};

	return wave_parse_name(what, v, bools, out);
}

int policy_conf_set(struct policy_conf *c, const char *kv)
{
	const char *eq = strchr(kv, '=');
	const struct policy_param *p = eq ? find_param(c->ops, kv, (size_t)(eq - kv)) : NULL;
	void *field;
	char what[96];

	const char *opt = subsys[c->ops->subsys].opt_set;

	if (!eq) {
		wave_err("%s '%s': want KEY=VALUE", opt, kv);
		return -EINVAL;
	}
	if (!p) {
		wave_err("%s: policy %s has no tunable '%.*s' (see --help)", opt, c->ops->name,
			 (int)(eq - kv), kv);
		return -EINVAL;
	}
	field = c->cfg + p->offset;
	snprintf(what, sizeof(what), "%s %s", opt, p->name);
	c->nr_set++;
	switch (p->type) {
	case POLICY_PARAM_BOOL:
		return parse_bool(what, eq + 1, (int *)field);
	case POLICY_PARAM_DURATION:
		return wave_parse_duration(what, eq + 1, 1000000, (uint64_t)p->min,
					   (uint64_t)p->max, (uint64_t *)field);
	case POLICY_PARAM_FRACTION:
		return wave_parse_double(what, eq + 1, p->min, p->max, (double *)field);
	case POLICY_PARAM_UINT32: {
		uint64_t v;
		int ret = wave_parse_u64(what, eq + 1, (uint64_t)p->min, (uint64_t)p->max, &v);

		if (!ret)
			*(uint32_t *)field = (uint32_t)v;
		return ret;
	}
	}
	return -EINVAL;
}

static void param_help(FILE *f, const struct policy_ops *ops, const struct policy_param *p)
{
	const void *field = (const unsigned char *)ops->cfg_default + p->offset;
	char def[32];

	switch (p->type) {
	case POLICY_PARAM_BOOL:
		snprintf(def, sizeof(def), "%s", *(const int *)field ? "on" : "off");
		break;
	case POLICY_PARAM_DURATION:
		wave_format_duration(def, sizeof(def), *(const uint64_t *)field);
		break;
	case POLICY_PARAM_FRACTION:
		snprintf(def, sizeof(def), "%g", *(const double *)field);
		break;
	case POLICY_PARAM_UINT32:
		snprintf(def, sizeof(def), "%u", *(const uint32_t *)field);
		break;
	}
	fprintf(f, "    %-14s %s (default %s)\n", p->name, p->help, def);
}

void policy_conf_help(FILE *f)
{
	for (int k = 0; k < POLICY_SUBSYS_MAX; k++) {
		fprintf(f, "\n%s (%s) and their tunables (%s KEY=VALUE):\n", subsys[k].title,
			subsys[k].opt, subsys[k].opt_set);
		for (size_t i = 0; i < NR_POLICIES; i++) {
			if (policies[i]->subsys != (enum policy_subsys)k)
				continue;
			fprintf(f, "  %-10s %s\n", policies[i]->name, policies[i]->summary);
			for (const struct policy_param *p = policies[i]->params; p && p->name; p++)
				param_help(f, policies[i], p);
		}
	}
}

int policy_opt_policy(const struct opt *o, const char *arg)
{
	struct policy_conf *c = o->value;
	enum policy_subsys k = c->ops ? c->ops->subsys : POLICY_SCHED;

	if (c->nr_set) {
		wave_err("%s %s: give %s before %s", subsys[k].opt, arg, subsys[k].opt,
			 subsys[k].opt_set);
		return -EINVAL;
	}
	return policy_conf_init_as(c, k, arg);
}

const char *policy_opt_show(const struct opt *o)
{
	const struct policy_conf *c = o->value;

	return c->ops ? c->ops->name : "";
}

int policy_opt_set(const struct opt *o, const char *arg)
{
	return policy_conf_set(o->value, arg);
}

void policy_emit(struct policy_out *o, const struct wave_txn *op, int join)
{
	if (o->n >= POLICY_MAX_OPS) {
		o->dropped++;
		return;
	}
	o->ops[o->n] = *op;
	o->join[o->n] = o->n && join;
	o->n++;
}

void policy_op_init(struct wave_txn *op, const struct model_vm *vm,
		    const struct model_thread *t, enum wave_txn_op kind)
{
	memset(op, 0, sizeof(*op));
	op->vm_id = vm->id;
	op->kind = t->kind;
	op->index = t->index;
	op->op = (uint8_t)kind;
}

void policy_vm_op_init(struct wave_txn *op, const struct model_vm *vm, enum wave_txn_op kind)
{
	memset(op, 0, sizeof(*op));
	op->vm_id = vm->id;
	op->kind = WAVE_KIND_VCPU; /* with index 0: "the VM" (wire.h) */
	op->op = (uint8_t)kind;
}

/* cfs: the baseline. Linux decides everything; the policy never acts. */
const struct policy_ops policy_cfs_ops = {
	.name = "cfs",
	.summary = "no decisions: Linux CFS alone (the baseline)",
};
