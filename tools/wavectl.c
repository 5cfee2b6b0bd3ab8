// SPDX-License-Identifier: BSD-3-Clause
/*
 * wavectl: the Wave-VM command-line tool. Subcommands are dispatched from
 * one table; each lives in its own file with its own help text.
 */
#include <stdio.h>
#include <string.h>

#include "channel/wire.h"
#include "common/log.h"
#include "tools/wavectl.h"

static const struct wavectl_cmd *const commands[] = {
	&wavectl_launch_cmd,
	&wavectl_vms_cmd,
	&wavectl_stop_cmd,
	&wavectl_pin_cmd,
	&wavectl_net_cmd,
	&wavectl_status_cmd,
	&wavectl_bench_cmd,
	&wavectl_keys_cmd,
};

static void usage(FILE *f)
{
	fprintf(f, "usage: wavectl [-v] COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f, "\nOptions:\n  -v, --verbose  debug logging\n  -h, --help     this text\n"
		   "  --version      print the version\n"
		   "\n'wavectl COMMAND --help' describes a command.\n");
}

int main(int argc, char **argv)
{
	int i = 1;

	wave_log_init("wavectl", WAVE_LOG_INFO);
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("wavectl %s (protocol %d.%d)\n", WAVE_VERSION, WAVE_PROTO_MAJOR, WAVE_PROTO_MINOR);
			return 0;
		} else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			wave_log_set_level(WAVE_LOG_DEBUG);
		} else {
			wave_err("unknown option '%s'", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
		if (!strcmp(argv[i], commands[c]->name))
			return commands[c]->run(argc - i, argv + i);
	wave_err("unknown command '%s' (see 'wavectl --help')", argv[i]);
	return 2;
}
