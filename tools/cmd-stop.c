// SPDX-License-Identifier: BSD-3-Clause
/*
 * wavectl stop NAME...: destroy a VM and remove its definition (what
 * 'wavectl launch' created), or with --keep only destroy it.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "common/log.h"
#include "common/opt.h"
#include "common/site.h"
#include "netctl/switch-client.h"
#include "tools/wavectl.h"
#include "vmm/conn.h"

static const char *stop_uri;
static int stop_keep;

static const struct opt stop_opts[] = {
	OPT_BOOL("keep", 0, &stop_keep, "keep the definition (only stop the VM)"),
	OPT_STRING("uri", "URI", &stop_uri, "libvirt URI (default: $WAVE_URI or qemu:///system)"),
	OPT_END(),
};

static const struct opt_cmd stop_cmd = {
	.name = "stop",
	.usage = "wavectl stop [--keep] [--uri URI] NAME...",
	.about = "Stops each named VM at once (virsh destroy) and undefines it.\n",
	.opts = stop_opts,
	.min_args = 1,
	.max_args = -1,
};

/* Its port on wave-switch goes too, if the switch is up and has one. */
static void off_switch(const char *name)
{
	char ctl[4096];

	swc_path(ctl, sizeof(ctl), NULL);
	if (!access(ctl, F_OK))
		swc_del_vm(ctl, name);
}

static int stop_one(virConnectPtr v, const char *name, int keep)
{
	virDomainPtr dom = virDomainLookupByName(v, name);
	int ret = 0;

	if (!dom) {
		off_switch(name); /* a port left behind would block a VM of that name later */
		wave_err("stop: no domain named '%s'", name);
		return -1;
	}
	if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom)) {
		wave_err("stop: %s: %s", name, virGetLastErrorMessage());
		ret = -1;
	}
	if (!ret && !keep && virDomainIsPersistent(dom) == 1 && virDomainUndefine(dom)) {
		wave_err("stop: undefining %s: %s", name, virGetLastErrorMessage());
		ret = -1;
	}
	if (!ret) {
		if (!keep) /* kept, it starts again on its socket: the port stays */
			off_switch(name);
		printf("%s: stopped%s\n", name, keep ? "" : " and undefined");
	}
	virDomainFree(dom);
	return ret;
}

static int stop_run(int argc, char **argv)
{
	struct vmm_conn *c;
	int first, failed = 0, ret = opt_parse(&stop_cmd, argc, argv, &first);
	char why[512];

	if (ret)
		return ret > 0 ? 0 : 2;
	if (vmm_conn_open(site_uri(stop_uri), 0, &c, why, sizeof(why))) {
		wave_err("stop: %s", why);
		return 1;
	}
	for (int i = first; i < argc; i++)
		failed |= stop_one(vmm_conn_virt(c), argv[i], stop_keep) != 0;
	vmm_conn_close(c);
	return failed ? 1 : 0;
}

const struct wavectl_cmd wavectl_stop_cmd = {
	.name = "stop",
	.summary = "stop VMs and remove their definitions",
	.run = stop_run,
};
