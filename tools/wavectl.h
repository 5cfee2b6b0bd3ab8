/* SPDX-License-Identifier: BSD-3-Clause */
/* wavectl subcommands: one file each, one entry in wavectl.c's table. */
#ifndef WAVE_TOOLS_WAVECTL_H
#define WAVE_TOOLS_WAVECTL_H

#define WAVE_VERSION "0.1.0"

/*
 * @name:    the word after "wavectl".
 * @summary: one line for 'wavectl --help'.
 * @run:     argv[0] is the command name; returns the process exit status
 *           (0 ok, 1 failure, 2 usage error).
 */
struct wavectl_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

extern const struct wavectl_cmd wavectl_bench_cmd;
extern const struct wavectl_cmd wavectl_keys_cmd;
extern const struct wavectl_cmd wavectl_launch_cmd;
extern const struct wavectl_cmd wavectl_net_cmd;
extern const struct wavectl_cmd wavectl_pin_cmd;
extern const struct wavectl_cmd wavectl_stop_cmd;
extern const struct wavectl_cmd wavectl_status_cmd;
extern const struct wavectl_cmd wavectl_vms_cmd;

#endif
