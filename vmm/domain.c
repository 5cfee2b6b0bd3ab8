// SPDX-License-Identifier: BSD-3-Clause
/*
 * Resolving a running domain into what Wave-VM manages (conn.h): QMP for
 * the vCPU and I/O thread ids, /proc for the QEMU process, thread names
 * and cgroups, the live XML for taps and the console, the metadata API for
 * Wave settings.
 *
 * QMP's query-cpus-fast is the source of truth for vCPU threads; the
 * thread names ("CPU n/TCG") are the cross-check, and the fallback when
 * the monitor cannot be asked (another management layer holds it, or the
 * driver has none). A domain that stops mid-query yields -ENOENT, never a
 * half-filled record.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "common/log.h"
#include "vmm/conn-internal.h"
#include "vmm/domxml.h"
#include "vmm/procfs.h"

static void note(struct vmm_domain *d, const char *what)
{
	size_t used = strlen(d->notes);

	snprintf(d->notes + used, sizeof(d->notes) - used, "%s%s", used ? "; " : "", what);
}

/* libvirt failed on dom: -ENOENT if the domain went away, else -EIO. */
static int virt_fail(const struct vmm_domain *d, const char *what, char *why, size_t len)
{
	if (vmm_virt_gone())
		return wave_reason(why, len, -ENOENT, "domain %s went away while being resolved",
				   d->name);
	return wave_reason(why, len, -EIO, "domain %s: %s: %s", d->name, what, vmm_virt_error());
}

static void resolve_meta(virDomainPtr dom, struct vmm_domain *d)
{
	char *xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, VMM_META_NS,
					 VIR_DOMAIN_AFFECT_LIVE);
	char why[256];

	vmm_meta_defaults(&d->meta);
	if (!xml) {
		note(d, "no Wave metadata: batch, weight 100");
		return;
	}
	if (vmm_meta_parse(xml, &d->meta, why, sizeof(why))) {
		char msg[300];

		snprintf(msg, sizeof(msg), "bad Wave metadata (%s): defaults used", why);
		note(d, msg);
		vmm_meta_defaults(&d->meta);
	}
	free(xml);
}

struct by_name {
	struct vmm_thread *t;
	unsigned int n, cap;
	char accel[8];
};

static void add_named(pid_t tid, unsigned int index, const char *accel, void *arg)
{
	struct by_name *b = arg;

	if (b->n < b->cap) {
		b->t[b->n].tid = tid;
		b->t[b->n].index = index;
		b->n++;
	}
	snprintf(b->accel, sizeof(b->accel), "%s", accel);
}

static int cmp_thread(const void *a, const void *b)
{
	const struct vmm_thread *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

/* vCPUs from thread names alone (no QMP). */
static int vcpus_from_names(struct vmm_domain *d, unsigned int max, char *why, size_t len)
{
	struct by_name b = { .cap = max };
	int n;

	b.t = calloc(max, sizeof(*b.t));
	if (!b.t)
		return wave_reason(why, len, -ENOMEM, "out of memory");
	n = procfs_for_each_vcpu(d->pid, add_named, &b);
	if (n <= 0) {
		free(b.t);
		return wave_reason(why, len, n < 0 ? -ENOENT : -ESRCH,
				   "domain %s: QEMU %d has no \"CPU n/...\" threads", d->name,
				   (int)d->pid);
	}
	qsort(b.t, b.n, sizeof(*b.t), cmp_thread);
	d->vcpus = b.t;
	d->nr_vcpus = b.n;
	snprintf(d->accel, sizeof(d->accel), "%s", b.accel);
	return 0;
}

/* The QEMU pid from libvirt's pidfile (system or session instance). */
static pid_t pid_from_file(const char *name)
{
	char path[512], buf[32];
	const char *rt = getenv("XDG_RUNTIME_DIR");
	FILE *f;
	pid_t pid = -ENOENT;

	if (geteuid() == 0 || !rt)
		snprintf(path, sizeof(path), "/run/libvirt/qemu/%s.pid", name);
	else
		snprintf(path, sizeof(path), "%s/libvirt/qemu/run/%s.pid", rt, name);
	f = fopen(path, "re");
	if (f && fgets(buf, sizeof(buf), f))
		pid = (pid_t)atoi(buf);
	if (f)
		fclose(f);
	return pid > 0 ? pid : -ENOENT;
}

/* Checks QMP's vCPU list against the thread names; differences are noted. */
static void cross_check(struct vmm_domain *d)
{
	char name[64], accel[8], msg[128];
	unsigned int idx;

	for (unsigned int i = 0; i < d->nr_vcpus; i++) {
		if (procfs_comm(d->pid, d->vcpus[i].tid, name, sizeof(name)))
			continue; /* thread gone: the next refresh sees it */
		if (procfs_parse_vcpu_name(name, &idx, accel, sizeof(accel)) ||
		    idx != d->vcpus[i].index) {
			snprintf(msg, sizeof(msg), "vCPU %u thread %d is named '%s'",
				 d->vcpus[i].index, (int)d->vcpus[i].tid, name);
			note(d, msg);
			continue;
		}
		snprintf(d->accel, sizeof(d->accel), "%s", accel);
	}
}

static int resolve_vcpus(virDomainPtr dom, struct vmm_domain *d, char *why, size_t len)
{
	struct vmm_vcpu *v = NULL;
	unsigned int n = 0;
	char *reply = NULL, qwhy[256];
	int ret;

	ret = vmm_qmp_command(dom, VMM_QMP_QUERY_CPUS, &reply, qwhy, sizeof(qwhy));
	if (!ret)
		ret = vmm_qmp_parse_vcpus(reply, &v, &n, qwhy, sizeof(qwhy));
	free(reply);
	if (ret == -ENOENT)
		return wave_reason(why, len, -ENOENT, "domain %s went away while being resolved",
				   d->name);
	d->pid = n ? procfs_tgid(v[0].tid) : pid_from_file(d->name);
	if (d->pid <= 0) {
		free(v);
		return wave_reason(why, len, -ENOENT, "domain %s: its QEMU process is gone",
				   d->name);
	}
	if (ret || !n) {
		char msg[300];

		free(v);
		snprintf(msg, sizeof(msg), "vCPU threads from thread names (%s)",
			 ret ? qwhy : "QMP listed none");
		note(d, msg);
		return vcpus_from_names(d, WAVE_MAX_VCPUS, why, len);
	}
	d->vcpus = calloc(n, sizeof(*d->vcpus));
	if (!d->vcpus) {
		free(v);
		return wave_reason(why, len, -ENOMEM, "out of memory");
	}
	for (unsigned int i = 0; i < n; i++) {
		d->vcpus[i].tid = v[i].tid;
		d->vcpus[i].index = v[i].index;
	}
	d->nr_vcpus = n;
	free(v);
	cross_check(d);
	return 0;
}

static void resolve_iothreads(virDomainPtr dom, struct vmm_domain *d)
{
	char *reply = NULL, why[256];
	pid_t *t = NULL;
	unsigned int n = 0;

	if (vmm_qmp_command(dom, VMM_QMP_QUERY_IOTHREADS, &reply, why, sizeof(why)) ||
	    vmm_qmp_parse_iothreads(reply, &t, &n, why, sizeof(why))) {
		free(reply);
		return;
	}
	free(reply);
	d->iothreads = n ? calloc(n, sizeof(*d->iothreads)) : NULL;
	for (unsigned int i = 0; d->iothreads && i < n; i++) {
		d->iothreads[i].tid = t[i];
		d->iothreads[i].index = i;
	}
	d->nr_iothreads = d->iothreads ? n : 0;
	free(t);
}

static void resolve_cgroup(struct vmm_thread *t)
{
	int version;

	if (procfs_cpu_cgroup("", t->tid, t->cgroup, sizeof(t->cgroup), &version))
		t->cgroup[0] = '\0';
}

static void resolve_cgroups(struct vmm_domain *d)
{
	resolve_cgroup(&d->emulator);
	for (unsigned int i = 0; i < d->nr_vcpus; i++)
		resolve_cgroup(&d->vcpus[i]);
	for (unsigned int i = 0; i < d->nr_iothreads; i++)
		resolve_cgroup(&d->iothreads[i]);
	d->cgroup_writable = d->nr_vcpus && d->vcpus[0].cgroup[0] &&
			     access(d->vcpus[0].cgroup, W_OK) == 0;
	if (d->nr_vcpus && !d->vcpus[0].cgroup[0])
		note(d, "vCPU threads have no CPU-controller cgroup");
	else if (!d->cgroup_writable)
		note(d, "vCPU cgroups not writable (not root?): no quota or weight control");
}

static int resolve_live(virDomainPtr dom, struct vmm_domain *d, char *why, size_t len)
{
	struct vmm_domxml_live live;
	char *xml = virDomainGetXMLDesc(dom, 0);
	int ret;

	if (!xml)
		return virt_fail(d, "live XML", why, len);
	ret = vmm_domxml_live(xml, &live, why, len);
	free(xml);
	if (ret)
		return ret;
	d->nr_taps = live.nr_taps;
	memcpy(d->taps, live.taps, sizeof(d->taps));
	snprintf(d->console, sizeof(d->console), "%s", live.console);
	snprintf(d->ip, sizeof(d->ip), "%s", live.ip);
	return 0;
}

/* A libvirt CPU map of ncpus into a cpu_set_t; pinned unless it holds every online CPU. */
static void map_to_set(const unsigned char *map, int ncpus, const unsigned char *online,
		       struct vmm_thread *t)
{
	CPU_ZERO(&t->pin);
	t->pinned = 0;
	for (int c = 0; c < ncpus && c < CPU_SETSIZE; c++) {
		if (VIR_CPU_USABLE(map, VIR_CPU_MAPLEN(ncpus), 0, c))
			CPU_SET(c, &t->pin);
		else if (VIR_CPU_USED(online, c))
			t->pinned = 1;
	}
}

/*
 * The operators' pins as libvirt holds them live: vcpupin, emulatorpin,
 * iothreadpin (I/O threads matched by position, as libvirt numbers them).
 * A domain whose pins cannot be read is treated as unpinned, and noted.
 */
static void resolve_pins(virDomainPtr dom, struct vmm_domain *d)
{
	unsigned char *online = NULL, *maps = NULL;
	int ncpus = virNodeGetCPUMap(virDomainGetConnect(dom), &online, NULL, 0);
	unsigned int nmaps = 0;
	virDomainIOThreadInfoPtr *io = NULL;
	int maplen, n;

	if (ncpus <= 0 || !online) {
		note(d, "host CPU map unreadable: pins not read");
		free(online);
		return;
	}
	maplen = VIR_CPU_MAPLEN(ncpus);
	for (unsigned int i = 0; i < d->nr_vcpus; i++)
		if (d->vcpus[i].index + 1 > nmaps)
			nmaps = d->vcpus[i].index + 1;
	maps = calloc(nmaps ? nmaps : 1, (size_t)maplen);
	n = maps ? virDomainGetVcpuPinInfo(dom, (int)nmaps, maps, maplen, VIR_DOMAIN_AFFECT_LIVE)
		 : -1;
	for (unsigned int i = 0; n > 0 && i < d->nr_vcpus; i++)
		if (d->vcpus[i].index < (unsigned int)n)
			map_to_set(VIR_GET_CPUMAP(maps, maplen, d->vcpus[i].index), ncpus, online,
				   &d->vcpus[i]);
	if (n < 0)
		note(d, "vCPU pins unreadable: treated as unpinned");
	if (maps && virDomainGetEmulatorPinInfo(dom, maps, maplen, VIR_DOMAIN_AFFECT_LIVE) >= 0)
		map_to_set(maps, ncpus, online, &d->emulator);
	n = virDomainGetIOThreadInfo(dom, &io, VIR_DOMAIN_AFFECT_LIVE);
	for (int i = 0; i < n; i++) {
		if ((unsigned int)i < d->nr_iothreads && io[i]->cpumaplen > 0)
			map_to_set(io[i]->cpumap, io[i]->cpumaplen * 8 < ncpus ? io[i]->cpumaplen * 8
										: ncpus,
				   online, &d->iothreads[i]);
		virDomainIOThreadInfoFree(io[i]);
	}
	free(io);
	free(maps);
	free(online);
}

static int resolve(virDomainPtr dom, struct vmm_domain *d, char *why, size_t len)
{
	int reason, ret;

	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", virDomainGetName(dom));
	if (virDomainGetUUIDString(dom, d->uuid) ||
	    virDomainGetState(dom, &d->state, &reason, 0))
		return virt_fail(d, "state", why, len);
	if (!virDomainIsActive(dom))
		return wave_reason(why, len, -ENOENT, "domain %s is not running", d->name);
	d->id = (int)virDomainGetID(dom);
	resolve_meta(dom, d);
	ret = resolve_vcpus(dom, d, why, len);
	if (!ret)
		ret = resolve_live(dom, d, why, len);
	if (ret) {
		vmm_domain_clear(d);
		return ret;
	}
	d->emulator.tid = d->pid;
	resolve_iothreads(dom, d);
	resolve_cgroups(d);
	resolve_pins(dom, d);
	{
		virDomainInfo info;

		if (!virDomainGetInfo(dom, &info))
			d->memory_kib = info.memory;
	}
	vmm_domain_refresh_cpus(d);
	/* The process may have exited while we looked: then nothing above holds. */
	if (procfs_tgid(d->pid) != d->pid) {
		vmm_domain_clear(d);
		return wave_reason(why, len, -ENOENT, "domain %s went away while being resolved",
				   d->name);
	}
	return 0;
}

int vmm_domain_lookup(struct vmm_conn *c, const char *name, struct vmm_domain *d, char *why,
		      size_t len)
{
	virConnectPtr v = vmm_conn_virt(c);
	virDomainPtr dom;
	int ret;

	memset(d, 0, sizeof(*d));
	if (!v)
		return wave_reason(why, len, -ENOTCONN, "not connected to libvirt");
	dom = virDomainLookupByName(v, name);
	if (!dom)
		return wave_reason(why, len, -ENOENT, "no domain named '%s'", name);
	ret = resolve(dom, d, why, len);
	virDomainFree(dom);
	return ret;
}

int vmm_domain_list(struct vmm_conn *c, struct vmm_domain **out)
{
	virConnectPtr v = vmm_conn_virt(c);
	virDomainPtr *doms = NULL;
	struct vmm_domain *d;
	int n, k = 0;
	char why[512];

	if (!v)
		return -ENOTCONN;
	n = virConnectListAllDomains(v, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	if (n < 0) {
		wave_err("listing domains: %s", vmm_virt_error());
		return -EIO;
	}
	d = calloc((size_t)n + 1, sizeof(*d));
	for (int i = 0; i < n; i++) {
		if (d && !resolve(doms[i], &d[k], why, sizeof(why)))
			k++;
		else if (d)
			wave_warn("%s", why);
		virDomainFree(doms[i]);
	}
	free(doms);
	if (!d)
		return -ENOMEM;
	*out = d;
	return k;
}

int vmm_domain_meta(struct vmm_conn *c, const char *name, struct vmm_meta *m, char *why,
		    size_t len)
{
	virConnectPtr v = vmm_conn_virt(c);
	virDomainPtr dom = v ? virDomainLookupByName(v, name) : NULL;
	struct vmm_meta got;
	char *xml;
	int ret = 0;

	if (!dom)
		return wave_reason(why, len, -ENOENT, "no domain named '%s'", name);
	xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, VMM_META_NS,
				   VIR_DOMAIN_AFFECT_LIVE);
	if (!xml && virGetLastErrorCode() != VIR_ERR_NO_DOMAIN_METADATA)
		ret = wave_reason(why, len, -EIO, "domain %s: metadata: %s", name,
				  vmm_virt_error());
	else if (!xml)
		vmm_meta_defaults(&got);
	else
		ret = vmm_meta_parse(xml, &got, why, len);
	free(xml);
	virDomainFree(dom);
	if (!ret)
		*m = got;
	return ret;
}

const char *vmm_state_name(int state)
{
	static const char *const names[] = {
		[VIR_DOMAIN_NOSTATE] = "no state",   [VIR_DOMAIN_RUNNING] = "running",
		[VIR_DOMAIN_BLOCKED] = "blocked",    [VIR_DOMAIN_PAUSED] = "paused",
		[VIR_DOMAIN_SHUTDOWN] = "shutting down", [VIR_DOMAIN_SHUTOFF] = "shut off",
		[VIR_DOMAIN_CRASHED] = "crashed",    [VIR_DOMAIN_PMSUSPENDED] = "suspended by the guest",
	};

	return state >= 0 && (size_t)state < sizeof(names) / sizeof(names[0]) && names[state]
		       ? names[state]
		       : "unknown";
}

void vmm_domain_clear(struct vmm_domain *d)
{
	free(d->vcpus);
	free(d->iothreads);
	d->vcpus = NULL;
	d->iothreads = NULL;
	d->nr_vcpus = d->nr_iothreads = 0;
}

void vmm_domains_free(struct vmm_domain *d, unsigned int n)
{
	for (unsigned int i = 0; d && i < n; i++)
		vmm_domain_clear(&d[i]);
	free(d);
}

void vmm_domain_refresh_cpus(struct vmm_domain *d)
{
	d->emulator.last_cpu = procfs_last_cpu(d->emulator.tid);
	for (unsigned int i = 0; i < d->nr_vcpus; i++)
		d->vcpus[i].last_cpu = procfs_last_cpu(d->vcpus[i].tid);
	for (unsigned int i = 0; i < d->nr_iothreads; i++)
		d->iothreads[i].last_cpu = procfs_last_cpu(d->iothreads[i].tid);
}
