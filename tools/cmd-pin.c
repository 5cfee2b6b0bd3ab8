// SPDX-License-Identifier: BSD-3-Clause
/*
 * wavectl pin DOMAIN VCPU|emulator CPULIST: 'virsh vcpupin' (or
 * 'emulatorpin') that also works on a thread Wave holds in SCHED_DEADLINE.
 *
 * The kernel refuses to narrow the affinity of a SCHED_DEADLINE thread
 * (its affinity must span the root domain), so a plain vcpupin on such a
 * vCPU fails with "Device or resource busy". This command asks waved to let
 * go of the VM for a moment through the VM's own Wave metadata (managed='no',
 * live only: waved puts every thread back as it found it), pins the vCPU
 * through libvirt, and puts the metadata back as it was. waved then manages
 * the VM again, sees the pin (libvirt's tuning is read at add), places the
 * vCPU only within it, and gives it a CFS weight instead of a reservation
 * (a pinned thread cannot have one). A thread that is not in DEADLINE is
 * pinned at once, with nothing else touched. The emulator thread (QEMU's
 * main thread, which the latency policy reserves for too) works the same.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/parse.h"
#include "common/site.h"
#include "tools/wavectl.h"
#include "vmm/conn.h"

static struct {
	const char *uri;
	int config;
	uint64_t timeout_ns;
} po = { .timeout_ns = 10 * WAVE_NSEC_PER_SEC };

static const struct opt pin_opts[] = {
	OPT_BOOL("config", 0, &po.config, "also pin in the persistent definition (next boot)"),
	OPT_DURATION("timeout", "T", &po.timeout_ns, WAVE_NSEC_PER_SEC, WAVE_NSEC_PER_SEC,
		     600 * WAVE_NSEC_PER_SEC,
		     "how long waved may take to let go of the thread (bare: s)"),
	OPT_STRING("uri", "URI", &po.uri, "libvirt URI (default: $WAVE_URI or qemu:///system)"),
	OPT_END(),
};

static const struct opt_cmd pin_cmd = {
	.name = "pin",
	.usage = "wavectl pin [--config] [--timeout T] [--uri URI] DOMAIN VCPU|emulator CPULIST",
	.about = "Pins vCPU VCPU (or the emulator thread) of a running domain to CPULIST (e.g. 1\n"
		 "or 0-3,6), as 'virsh vcpupin' ('emulatorpin') does, also when Wave holds that\n"
		 "thread in SCHED_DEADLINE (where virsh fails with \"Device or resource busy\"):\n"
		 "waved lets go of the VM for a moment (its Wave metadata, live: managed='no'),\n"
		 "the thread is pinned, the metadata is put back. Under Wave a pinned thread is\n"
		 "placed only within its pin and gets a CFS weight instead of a reservation.\n",
	.opts = pin_opts,
	.min_args = 3,
	.max_args = 3,
};

static int sys_errno(void)
{
	const virError *e = virGetLastError();

	return e && e->code == VIR_ERR_SYSTEM_ERROR ? e->int1 : 0;
}

/* What is pinned: vCPU index, or the emulator thread. */
#define PIN_EMULATOR (-1)

static const char *target_name(int vcpu, char *buf, size_t size)
{
	if (vcpu == PIN_EMULATOR)
		return "the emulator thread";
	snprintf(buf, size, "vCPU %d", vcpu);
	return buf;
}

static int pin_now(virDomainPtr dom, int vcpu, unsigned char *map, int maplen)
{
	unsigned int flags = VIR_DOMAIN_AFFECT_LIVE | (po.config ? VIR_DOMAIN_AFFECT_CONFIG : 0);

	if (vcpu == PIN_EMULATOR)
		return virDomainPinEmulator(dom, map, maplen, flags) ? -1 : 0;
	return virDomainPinVcpuFlags(dom, (unsigned int)vcpu, map, maplen, flags) ? -1 : 0;
}

/* Sets the Wave metadata element (NULL: removes it), live only. */
static int set_meta(virDomainPtr dom, const char *xml)
{
	return virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml,
				    xml ? VMM_META_PREFIX : NULL, VMM_META_NS,
				    VIR_DOMAIN_AFFECT_LIVE) ? -1 : 0;
}

/* The VM's Wave metadata, parsed (absent or unreadable: the defaults). */
static void meta_of(virDomainPtr dom, char **old, struct vmm_meta *m)
{
	char why[256];

	*old = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, VMM_META_NS,
				    VIR_DOMAIN_AFFECT_LIVE);
	if (!*old || vmm_meta_parse(*old, m, why, sizeof(why)))
		vmm_meta_defaults(m);
}

/*
 * Pins with waved's hands off the VM: managed='no', pin, metadata back.
 * The pin is tried again while the kernel still says busy: waved puts the
 * VM's threads back one by one, and which of them held the group in
 * SCHED_DEADLINE (a vCPU, QEMU's main thread) is not ours to guess.
 */
static int pin_released(virDomainPtr dom, const char *name, const char *what,
			const struct vmm_meta *m, char *old, int vcpu, unsigned char *map,
			int maplen)
{
	char xml[256], err[512] = "";
	uint64_t end, wait = 20 * WAVE_NSEC_PER_MSEC;
	int busy = 1, ret = -1;

	snprintf(xml, sizeof(xml), "<vm class='%s' weight='%u' managed='no'/>",
		 vmm_class_name(m->cls), m->weight);
	printf("%s: %s is busy (Wave holds the VM in SCHED_DEADLINE): asking waved to let go "
	       "of the VM\n", name, what);
	if (set_meta(dom, xml)) {
		wave_err("pin: %s: cannot set its metadata: %s", name, virGetLastErrorMessage());
		return -1;
	}
	end = wave_now_ns() + po.timeout_ns;
	while (busy) {
		if (!pin_now(dom, vcpu, map, maplen)) {
			ret = 0;
			break;
		}
		snprintf(err, sizeof(err), "%s", virGetLastErrorMessage());
		busy = sys_errno() == EBUSY;
		if (busy && wave_now_ns() >= end)
			break;
		if (busy) /* each refusal is a line in libvirtd's log: back off to 320 ms */
			wave_sleep_ns(wait);
		wait = wait < 320 * WAVE_NSEC_PER_MSEC ? 2 * wait : wait;
	}
	if (ret && busy)
		wave_err("pin: %s: %s still busy after %.0f s (%s): is waved running and "
			 "managing %s?", name, what, (double)po.timeout_ns / 1e9, err, name);
	else if (ret)
		wave_err("pin: %s: %s: %s", name, what, err);
	/* The metadata goes back whatever happened: the VM is Wave's again. */
	if (set_meta(dom, old)) {
		wave_err("pin: %s: cannot put its metadata back (%s): it stays unmanaged; "
			 "set it with virsh metadata", name, virGetLastErrorMessage());
		ret = -1;
	}
	return ret;
}

static int pin_run(int argc, char **argv)
{
	int first, ret = opt_parse(&pin_cmd, argc, argv, &first), ncpus, maplen;
	const char *name, *list;
	unsigned char *map = NULL;
	struct vmm_conn *c;
	virDomainPtr dom = NULL;
	uint64_t idx, mask;
	struct vmm_meta m;
	char why[512], buf[32], *old = NULL;
	const char *what;
	int vcpu, busy;

	if (ret)
		return ret > 0 ? 0 : 2;
	name = argv[first];
	list = argv[first + 2];
	if (!strcmp(argv[first + 1], "emulator"))
		idx = (uint64_t)-1;
	else if (wave_parse_u64("VCPU", argv[first + 1], 0, WAVE_MAX_VCPUS - 1, &idx))
		return 2;
	if (wave_parse_cpulist("CPULIST", list, &mask))
		return 2;
	vcpu = idx == (uint64_t)-1 ? PIN_EMULATOR : (int)idx;
	what = target_name(vcpu, buf, sizeof(buf));
	if (vmm_conn_open(site_uri(po.uri), 0, &c, why, sizeof(why))) {
		wave_err("pin: %s", why);
		return 1;
	}
	ret = 1;
	ncpus = virNodeGetCPUMap(vmm_conn_virt(c), NULL, NULL, 0);
	if (ncpus <= 0) {
		wave_err("pin: cannot read the host's CPUs: %s", virGetLastErrorMessage());
		goto out;
	}
	if (ncpus < 64 && (mask >> ncpus)) {
		wave_err("pin: CPULIST %s: this host has CPUs 0-%d", list, ncpus - 1);
		goto out;
	}
	maplen = VIR_CPU_MAPLEN(ncpus);
	map = calloc(1, (size_t)maplen);
	for (int b = 0; map && b < 64 && b < ncpus; b++)
		if (mask & (1ull << b))
			VIR_USE_CPU(map, b);
	dom = virDomainLookupByName(vmm_conn_virt(c), name);
	if (!dom || virDomainIsActive(dom) != 1) {
		wave_err("pin: no running domain named '%s'", name);
		goto out;
	}
	if (!pin_now(dom, vcpu, map, maplen)) {
		printf("%s: %s pinned to CPUs %s\n", name, what, list);
		ret = 0;
		goto out;
	}
	/* Read before anything else calls libvirt and resets it. */
	snprintf(why, sizeof(why), "%s", virGetLastErrorMessage());
	busy = sys_errno() == EBUSY;
	meta_of(dom, &old, &m);
	if (busy && m.managed) {
		if (!pin_released(dom, name, what, &m, old, vcpu, map, maplen)) {
			printf("%s: %s pinned to CPUs %s; Wave manages the VM again, within the pin\n",
			       name, what, list);
			ret = 0;
		}
	} else {
		wave_err("pin: %s: %s: %s", name, what, why);
	}
	free(old);
out:
	if (dom)
		virDomainFree(dom);
	free(map);
	vmm_conn_close(c);
	return ret;
}

const struct wavectl_cmd wavectl_pin_cmd = {
	.name = "pin",
	.summary = "pin a vCPU or the emulator thread, also one Wave holds in SCHED_DEADLINE",
	.run = pin_run,
};
