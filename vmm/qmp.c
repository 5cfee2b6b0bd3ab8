// SPDX-License-Identifier: BSD-3-Clause
/*
 * QMP commands through libvirt, replies parsed with json-c (see qmp.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

#include "common/log.h"
#include "vmm/qmp.h"

/* Highest thread id the kernel hands out (pid_max is at most 2^22). */
#define VMM_TID_MAX (1 << 22)

int vmm_qmp_command(virDomainPtr dom, const char *cmd, char **reply, char *why, size_t len)
{
	char *out = NULL;

	if (virDomainQemuMonitorCommand(dom, cmd, &out, VIR_DOMAIN_QEMU_MONITOR_COMMAND_DEFAULT)) {
		const virError *e = virGetLastError();

		return wave_reason(why, len, e && e->code == VIR_ERR_NO_DOMAIN ? -ENOENT : -EIO,
				   "QMP %s: %s", cmd, e && e->message ? e->message : "failed");
	}
	*reply = out;
	return 0;
}

/*
 * Parses reply and finds its "return" member of the given type. On error
 * the object is released and a reason written.
 */
static int qmp_return(const char *reply, json_type type, json_object **root,
		      json_object **ret, char *why, size_t len)
{
	json_object *err;

	*root = json_tokener_parse(reply);
	if (!*root || !json_object_is_type(*root, json_type_object)) {
		json_object_put(*root);
		return wave_reason(why, len, -EPROTO, "QMP reply is not a JSON object");
	}
	if (json_object_object_get_ex(*root, "error", &err)) {
		json_object *desc = NULL;
		int r;

		json_object_object_get_ex(err, "desc", &desc);
		r = wave_reason(why, len, -EREMOTEIO, "QMP error: %s",
				desc ? json_object_get_string(desc) : "(no description)");
		json_object_put(*root);
		return r;
	}
	if (!json_object_object_get_ex(*root, "return", ret) || !json_object_is_type(*ret, type)) {
		json_object_put(*root);
		return wave_reason(why, len, -EPROTO, "QMP reply has no \"return\" %s",
				   type == json_type_array ? "array" : "object");
	}
	return 0;
}

/* An integer member in [min, max]; 0 or -EPROTO. */
static int get_int(json_object *o, const char *key, int64_t min, int64_t max, int64_t *v)
{
	json_object *m;

	if (!json_object_object_get_ex(o, key, &m) || !json_object_is_type(m, json_type_int))
		return -EPROTO;
	*v = json_object_get_int64(m);
	return *v < min || *v > max ? -EPROTO : 0;
}

static int cmp_vcpu(const void *a, const void *b)
{
	const struct vmm_vcpu *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * The "return" array of reply, one element of size elem per entry, each
 * filled by fill(entry, array, index). All or nothing: on error the array
 * is freed and *out untouched.
 */
static int parse_array(const char *reply, size_t elem,
		       int (*fill)(json_object *e, void *arr, size_t i, char *why, size_t len),
		       void **out, unsigned int *n, char *why, size_t len)
{
	json_object *root, *arr;
	size_t i, cnt;
	void *a;
	int ret;

	if ((ret = qmp_return(reply, json_type_array, &root, &arr, why, len)))
		return ret;
	cnt = json_object_array_length(arr);
	a = calloc(cnt ? cnt : 1, elem);
	if (!a) {
		json_object_put(root);
		return wave_reason(why, len, -ENOMEM, "out of memory");
	}
	for (i = 0; i < cnt && !ret; i++)
		ret = fill(json_object_array_get_idx(arr, i), a, i, why, len);
	json_object_put(root);
	if (ret) {
		free(a);
		return ret;
	}
	*out = a;
	*n = (unsigned int)cnt;
	return 0;
}

static int fill_vcpu(json_object *c, void *arr, size_t i, char *why, size_t len)
{
	struct vmm_vcpu *v = arr;
	json_object *path;
	int64_t idx, tid;

	if (!json_object_is_type(c, json_type_object) ||
	    get_int(c, "cpu-index", 0, INT_MAX, &idx) ||
	    get_int(c, "thread-id", 1, VMM_TID_MAX, &tid))
		return wave_reason(why, len, -EPROTO,
				   "query-cpus-fast: entry %zu lacks a valid cpu-index or thread-id", i);
	v[i].index = (unsigned int)idx;
	v[i].tid = (pid_t)tid;
	if (json_object_object_get_ex(c, "qom-path", &path))
		snprintf(v[i].qom_path, sizeof(v[i].qom_path), "%s", json_object_get_string(path));
	for (size_t k = 0; k < i; k++)
		if (v[k].index == v[i].index)
			return wave_reason(why, len, -EPROTO,
					   "query-cpus-fast: cpu-index %u listed twice", v[i].index);
	return 0;
}

int vmm_qmp_parse_vcpus(const char *reply, struct vmm_vcpu **out, unsigned int *n,
			char *why, size_t len)
{
	void *v;
	int ret = parse_array(reply, sizeof(**out), fill_vcpu, &v, n, why, len);

	if (ret)
		return ret;
	qsort(v, *n, sizeof(**out), cmp_vcpu);
	*out = v;
	return 0;
}

static int fill_iothread(json_object *e, void *arr, size_t i, char *why, size_t len)
{
	int64_t tid;

	if (get_int(e, "thread-id", 1, VMM_TID_MAX, &tid))
		return wave_reason(why, len, -EPROTO,
				   "query-iothreads: entry %zu lacks a valid thread-id", i);
	((pid_t *)arr)[i] = (pid_t)tid;
	return 0;
}

int vmm_qmp_parse_iothreads(const char *reply, pid_t **out, unsigned int *n, char *why,
			    size_t len)
{
	void *t;
	int ret = parse_array(reply, sizeof(**out), fill_iothread, &t, n, why, len);

	if (!ret)
		*out = t;
	return ret;
}

/* Fills the counters we know from one provider's "stats" array. */
static void kvm_counters(json_object *stats, struct vmm_kvm_stats *s)
{
	static const struct { const char *name; size_t off; } known[] = {
		{ "halt_wait_ns", offsetof(struct vmm_kvm_stats, halt_wait_ns) },
		{ "exits", offsetof(struct vmm_kvm_stats, exits) },
		{ "preemption_reported", offsetof(struct vmm_kvm_stats, preemption_reported) },
	};

	for (size_t i = 0; i < json_object_array_length(stats); i++) {
		json_object *st = json_object_array_get_idx(stats, i), *name, *val;

		if (!json_object_object_get_ex(st, "name", &name) ||
		    !json_object_object_get_ex(st, "value", &val) ||
		    !json_object_is_type(val, json_type_int))
			continue;
		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (!strcmp(json_object_get_string(name), known[k].name)) {
				uint64_t v = (uint64_t)json_object_get_int64(val);

				memcpy((char *)s + known[k].off, &v, sizeof(v));
			}
	}
}

int vmm_qmp_parse_kvm_stats(const char *reply, struct vmm_kvm_stats **out, unsigned int *n,
			    char *why, size_t len)
{
	json_object *root, *arr;
	struct vmm_kvm_stats *s;
	unsigned int cnt = 0;
	int ret;

	if ((ret = qmp_return(reply, json_type_array, &root, &arr, why, len)))
		return ret;
	s = calloc(json_object_array_length(arr) + 1, sizeof(*s));
	if (!s) {
		json_object_put(root);
		return wave_reason(why, len, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *e = json_object_array_get_idx(arr, i), *prov, *path, *stats;

		if (!json_object_object_get_ex(e, "provider", &prov) ||
		    strcmp(json_object_get_string(prov), "kvm") ||
		    !json_object_object_get_ex(e, "qom-path", &path) ||
		    !json_object_object_get_ex(e, "stats", &stats) ||
		    !json_object_is_type(stats, json_type_array))
			continue;
		snprintf(s[cnt].qom_path, sizeof(s[cnt].qom_path), "%s", json_object_get_string(path));
		kvm_counters(stats, &s[cnt]);
		cnt++;
	}
	json_object_put(root);
	*out = s;
	*n = cnt;
	return 0;
}

int vmm_qmp_parse_balloon(const char *reply, struct vmm_balloon_stats *out, char *why,
			  size_t len)
{
	static const struct { const char *name; size_t off; } known[] = {
		{ "stat-free-memory", offsetof(struct vmm_balloon_stats, free) },
		{ "stat-total-memory", offsetof(struct vmm_balloon_stats, total) },
		{ "stat-available-memory", offsetof(struct vmm_balloon_stats, available) },
		{ "stat-major-faults", offsetof(struct vmm_balloon_stats, major_faults) },
		{ "stat-swap-in", offsetof(struct vmm_balloon_stats, swap_in) },
		{ "stat-swap-out", offsetof(struct vmm_balloon_stats, swap_out) },
	};
	json_object *root, *ret_obj, *stats;
	int64_t v;
	int ret;

	if ((ret = qmp_return(reply, json_type_object, &root, &ret_obj, why, len)))
		return ret;
	for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
		v = -1;
		memcpy((char *)out + known[k].off, &v, sizeof(v));
	}
	out->last_update = 0;
	if (!get_int(ret_obj, "last-update", 0, INT64_MAX, &v))
		out->last_update = v;
	if (json_object_object_get_ex(ret_obj, "stats", &stats))
		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (!get_int(stats, known[k].name, -1, INT64_MAX, &v))
				memcpy((char *)out + known[k].off, &v, sizeof(v));
	json_object_put(root);
	return 0;
}
