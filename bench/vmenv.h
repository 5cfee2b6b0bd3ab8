/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What every benchmark on real VMs needs, with the project's own tools
 * doing the work: libvirtd and the guests' bridge (scripts/libvirtd.sh,
 * scripts/net.sh: started only if missing, stopped only if started here),
 * VMs launched from images/xml/ with names unique to the run ('wavectl
 * launch'/'stop'), a run directory of their own (consoles, waved's status
 * socket), and the daemons at SCHED_FIFO 20 (a host's control plane is not
 * starved by its own VMs), the agent with a SCHED_DEADLINE reservation of
 * its own on top (BE_AGENT_RESERVE: it stands for an IPU's cores, and FIFO
 * waits behind the latency VMs' reservations). Everything
 * started is stopped by be_teardown(), also after a partial setup.
 */
#ifndef WAVE_BENCH_VMENV_H
#define WAVE_BENCH_VMENV_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#define BE_MAX_VMS 8
#define BE_DAEMON_PRIO "20"
#define BE_AGENT_RESERVE "1ms/5ms"  /* wave-agent --reserve */

struct bench_vm {
	char name[48];
	char ip[64];
	pid_t pid;                  /* its QEMU */
	char accel[8];              /* "TCG" or "KVM", from its vCPU threads' names */
};

struct bench_env {
	const char *what;           /* "bench sched": for messages */
	char bindir[PATH_MAX], scripts[PATH_MAX], images[PATH_MAX];
	char rundir[64], chan[64], prefix[32];
	struct bench_vm vm[BE_MAX_VMS];
	unsigned int nr_vms;        /* launched (to stop) */
	int up;                     /* libvirtd and the bridge asked for */
};

/*
 * Zeroes e, finds the binaries, scripts and images, makes the run
 * directory (tag: "sched" gives /tmp/wave-bench-sched-PID), and starts
 * libvirtd and the bridge if needed. 0 or -errno.
 */
int be_setup(struct bench_env *e, const char *what, const char *tag, int quiet);
/* Launches images/xml/XML as PREFIX+suffix and reads its address and QEMU pid: its index, or -errno. */
int be_launch(struct bench_env *e, const char *xml, const char *suffix, int quiet);
/* Whether VM k's console holds a line containing what. */
int be_console_has(const struct bench_env *e, unsigned int k, const char *what);
/* Runs bindir/name with args (NULL-ended) at SCHED_FIFO BE_DAEMON_PRIO: its pid, or -1. */
pid_t be_daemon(const struct bench_env *e, const char *name, char *const *args);
/* Waits until waved's status says state want: 0 or -ETIMEDOUT (said). */
int be_wait_state(const struct bench_env *e, const char *want, int timeout_ms);
/* Runs wavectl with up to four arguments (quiet: no output): its exit status or -1. */
int be_wavectl(const struct bench_env *e, char *a1, char *a2, char *a3, char *a4, int quiet);
/* Stops the VMs launched so far and removes their consoles; more may be launched after. */
void be_stop_vms(struct bench_env *e);
/* Stops the VMs, removes their consoles, the bridge and libvirtd if started here, the run directory. */
void be_teardown(struct bench_env *e);

#endif
