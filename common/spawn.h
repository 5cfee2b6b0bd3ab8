/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Child processes that tools, benchmarks and tests start: each dies with
 * its parent (PR_SET_PDEATHSIG) and is ended by its pid, never by name.
 */
#ifndef WAVE_COMMON_SPAWN_H
#define WAVE_COMMON_SPAWN_H

#include <sys/types.h>

/* Starts argv[0] with argv; quiet sends its output to /dev/null. Returns pid or -errno. */
pid_t wave_spawn(char *const argv[], int quiet);

/*
 * Ends a child started with wave_spawn(): SIGCONT (it may be stopped),
 * SIGTERM, SIGKILL after timeout_ms, then reaps it. *pid becomes 0.
 * Returns its exit status, or -1 if it had to be killed or was not ours.
 */
int wave_reap(pid_t *pid, int timeout_ms);

#endif
