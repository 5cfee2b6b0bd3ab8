// SPDX-License-Identifier: BSD-3-Clause
/*
 * wavectl vms: the running VMs as Wave-VM sees them: class and weight from
 * the Wave metadata, state, and each vCPU thread with the host CPU it ran
 * on last. --json for scripts (built with json-c, so names are escaped).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "common/log.h"
#include "common/opt.h"
#include "common/site.h"
#include "tools/wavectl.h"
#include "vmm/conn.h"

static const char *vms_uri;
static int vms_json;

static const struct opt vms_opts[] = {
	OPT_BOOL("json", 0, &vms_json,
		 "one JSON object: {\"vms\": [{\"name\", \"uuid\", \"class\",\n"
		 "\"weight\", \"metadata\", \"state\", \"accel\", \"pid\", \"ip\",\n"
		 "\"console\", \"taps\", \"emulator\": {\"tid\", \"cpu\"},\n"
		 "\"vcpus\": [{\"index\", \"tid\", \"cpu\", \"cgroup\"}],\n"
		 "\"iothreads\": [...], \"notes\"}]}"),
	OPT_STRING("uri", "URI", &vms_uri, "libvirt URI (default: $WAVE_URI or qemu:///system)"),
	OPT_END(),
};

static const struct opt_cmd vms_cmd = {
	.name = "vms",
	.usage = "wavectl vms [--json] [--uri URI]",
	.about = "Lists running VMs: name, Wave class and weight, state, accelerator, and\n"
		 "for each vCPU its host thread and the host CPU it ran on last.\n",
	.opts = vms_opts,
};

static const char *state_name(int state)
{
	static const char *const names[] = { "nostate", "running", "blocked", "paused",
					     "shutdown", "shutoff", "crashed", "pmsuspended" };

	return state >= 0 && state < (int)(sizeof(names) / sizeof(names[0])) ? names[state] : "?";
}

static json_object *thread_json(const struct vmm_thread *t, int with_index)
{
	json_object *o = json_object_new_object();

	if (with_index)
		json_object_object_add(o, "index", json_object_new_int((int)t->index));
	json_object_object_add(o, "tid", json_object_new_int((int)t->tid));
	json_object_object_add(o, "cpu", json_object_new_int(t->last_cpu));
	json_object_object_add(o, "cgroup", json_object_new_string(t->cgroup));
	return o;
}

static json_object *domain_json(const struct vmm_domain *d)
{
	json_object *o = json_object_new_object(), *a;

	json_object_object_add(o, "name", json_object_new_string(d->name));
	json_object_object_add(o, "uuid", json_object_new_string(d->uuid));
	json_object_object_add(o, "class", json_object_new_string(vmm_class_name(d->meta.cls)));
	json_object_object_add(o, "weight", json_object_new_int((int)d->meta.weight));
	json_object_object_add(o, "metadata", json_object_new_boolean(d->meta.present));
	json_object_object_add(o, "state", json_object_new_string(state_name(d->state)));
	json_object_object_add(o, "accel", json_object_new_string(d->accel));
	json_object_object_add(o, "pid", json_object_new_int((int)d->pid));
	json_object_object_add(o, "ip", json_object_new_string(d->ip));
	json_object_object_add(o, "console", json_object_new_string(d->console));
	a = json_object_new_array();
	for (unsigned int i = 0; i < d->nr_taps; i++)
		json_object_array_add(a, json_object_new_string(d->taps[i]));
	json_object_object_add(o, "taps", a);
	json_object_object_add(o, "emulator", thread_json(&d->emulator, 0));
	a = json_object_new_array();
	for (unsigned int i = 0; i < d->nr_vcpus; i++)
		json_object_array_add(a, thread_json(&d->vcpus[i], 1));
	json_object_object_add(o, "vcpus", a);
	a = json_object_new_array();
	for (unsigned int i = 0; i < d->nr_iothreads; i++)
		json_object_array_add(a, thread_json(&d->iothreads[i], 1));
	json_object_object_add(o, "iothreads", a);
	json_object_object_add(o, "notes", json_object_new_string(d->notes));
	return o;
}

static void print_table(const struct vmm_domain *d, int n)
{
	printf("%-16s %-8s %6s %-8s %-5s %-15s %s\n", "NAME", "CLASS", "WEIGHT", "STATE", "ACCEL",
	       "ADDRESS", "vCPU:thread@cpu");
	for (int i = 0; i < n; i++) {
		printf("%-16s %-8s %6u %-8s %-5s %-15s", d[i].name, vmm_class_name(d[i].meta.cls),
		       d[i].meta.weight, state_name(d[i].state), d[i].accel[0] ? d[i].accel : "-",
		       d[i].ip[0] ? d[i].ip : "-");
		for (unsigned int k = 0; k < d[i].nr_vcpus; k++)
			printf(" %u:%d@%d", d[i].vcpus[k].index, (int)d[i].vcpus[k].tid,
			       d[i].vcpus[k].last_cpu);
		printf("\n");
		if (d[i].notes[0])
			printf("  note: %s\n", d[i].notes);
	}
	if (!n)
		printf("(no running VMs)\n");
}

static int vms_run(int argc, char **argv)
{
	struct vmm_domain *d = NULL;
	struct vmm_conn *c;
	char why[512];
	int n, ret = opt_parse(&vms_cmd, argc, argv, NULL);

	if (ret)
		return ret > 0 ? 0 : 2;
	if (vmm_conn_open(site_uri(vms_uri), 0, &c, why, sizeof(why))) {
		wave_err("vms: %s", why);
		return 1;
	}
	n = vmm_domain_list(c, &d);
	vmm_conn_close(c);
	if (n < 0) {
		wave_err("vms: cannot list domains: %s", strerror(-n));
		return 1;
	}
	if (vms_json) {
		json_object *root = json_object_new_object(), *arr = json_object_new_array();

		for (int i = 0; i < n; i++)
			json_object_array_add(arr, domain_json(&d[i]));
		json_object_object_add(root, "vms", arr);
		printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
		json_object_put(root);
	} else {
		print_table(d, n);
	}
	vmm_domains_free(d, (unsigned int)n);
	return 0;
}

const struct wavectl_cmd wavectl_vms_cmd = {
	.name = "vms",
	.summary = "list running VMs, their class and vCPU threads",
	.run = vms_run,
};
