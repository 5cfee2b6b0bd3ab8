// SPDX-License-Identifier: BSD-3-Clause
/*
 * wave-guest main: reads the kernel command line, then runs the workload it
 * names (or the one given as the first argument). Exits only on a
 * configuration error; /init powers the guest off then, so a broken guest
 * shows up as a stopped domain, not a hung one.
 */
#include <stdio.h>
#include <string.h>

#include "images/guest/guest.h"

static const struct {
	const char *name;
	int (*run)(const struct guest_cfg *cfg);
} workloads[] = {
	{ "spin", guest_spin },
	{ "echo", guest_echo },
	{ "idle", guest_idle },
	{ "probe", guest_probe },
	{ "mem", guest_mem },
	{ "blast", guest_blast },
};

int main(int argc, char **argv)
{
	struct guest_cfg cfg;
	char cmdline[4096] = "";
	FILE *f = fopen("/proc/cmdline", "r");

	if (f) {
		if (!fgets(cmdline, sizeof(cmdline), f))
			cmdline[0] = '\0';
		fclose(f);
	}
	if (guest_cfg_load(&cfg, cmdline))
		return 2;
	if (argc > 1)
		cfg.workload = argv[1];
	for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
		if (!strcmp(cfg.workload, workloads[i].name))
			return workloads[i].run(&cfg);
	fprintf(stderr, "wave-guest: unknown workload '%s' (spin, echo, idle, probe, mem, blast)\n", cfg.workload);
	return 2;
}
