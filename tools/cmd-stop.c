// SPDX-License-Identifier: BSD-3-Clause
/*
 * wavectl stop NAME...: destroy a VM and remove its definition (what
 * 'wavectl launch' created), or with --keep only destroy it.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "common/log.h"
#include "tools/site.h"
#include "tools/wavectl.h"
#include "vmm/conn.h"

static const char stop_help[] =
	"usage: wavectl stop [--keep] [--uri URI] NAME...\n"
	"\n"
	"Stops each named VM at once (virsh destroy) and undefines it.\n"
	"\n"
	"  --keep      keep the definition (only stop the VM)\n"
	"  --uri URI   libvirt URI (default: $WAVE_URI or qemu:///system)\n"
	"  -h, --help  this text\n";

static int stop_one(virConnectPtr v, const char *name, int keep)
{
	virDomainPtr dom = virDomainLookupByName(v, name);
	int ret = 0;

	if (!dom) {
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
	if (!ret)
		printf("%s: stopped%s\n", name, keep ? "" : " and undefined");
	virDomainFree(dom);
	return ret;
}

static int stop_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "keep", no_argument, NULL, 'k' }, { "uri", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *uri = NULL;
	struct vmm_conn *c;
	int keep = 0, ch, failed = 0;
	char why[512];

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'k': keep = 1; break;
		case 'u': uri = optarg; break;
		case 'h': fputs(stop_help, stdout); return 0;
		default: fputs(stop_help, stderr); return 2;
		}
	}
	if (optind >= argc) {
		wave_err("stop: name at least one VM");
		fputs(stop_help, stderr);
		return 2;
	}
	if (vmm_conn_open(site_uri(uri), 0, &c, why, sizeof(why))) {
		wave_err("stop: %s", why);
		return 1;
	}
	for (int i = optind; i < argc; i++)
		failed |= stop_one(vmm_conn_virt(c), argv[i], keep) != 0;
	vmm_conn_close(c);
	return failed ? 1 : 0;
}

const struct wavectl_cmd wavectl_stop_cmd = {
	.name = "stop",
	.summary = "stop VMs and remove their definitions",
	.run = stop_run,
};
