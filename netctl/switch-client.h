/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client side of wave-switch's control socket (switch-ctl.c): one
 * request line, one JSON reply line. For wavectl (net up|down|status,
 * launch, stop) and waved. No DPDK here.
 */
#ifndef WAVE_NETCTL_SWITCH_CLIENT_H
#define WAVE_NETCTL_SWITCH_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#define SWC_SOCK     "switch.sock" /* in the run directory */
#define SWC_PID      "switch.pid"
#define SWC_LOG      "switch.log"
#define SWC_VHOSTDIR "vhost"       /* the VMs' vhost-user sockets */

/* The control socket's path: $WAVE_SWITCH_CTL, else RUNDIR/switch.sock (rundir NULL: the site's). */
void swc_path(char *buf, size_t size, const char *rundir);

/*
 * Sends req (without newline) and reads the reply line into reply
 * (NUL-terminated, newline removed). Returns 0; -ENOENT or -ECONNREFUSED
 * when no switch listens; -ETIMEDOUT; -EPROTO when the reply is an
 * {"error":...} (reply holds it); -EMSGSIZE when it does not fit.
 */
int swc_request(const char *path, const char *req, char *reply, size_t size);
/* The same with its own timeout (each of connect, send, read), for waved's loop. */
int swc_request_ms(const char *path, const char *req, char *reply, size_t size, int timeout_ms);
/* swc_request's timeout. */
#define SWC_TIMEOUT_MS 2000

/*
 * Makes vm's port on the switch at path, on vhost-user socket sock, and
 * paces what it sends at cap bytes/s (burst cap_burst) if cap is not 0
 * (its metadata net-rate); returns as swc_request. A port whose ceiling
 * the switch did not take is removed again.
 */
int swc_add_vm(const char *path, const char *vm, const char *sock, int latency, uint64_t cap,
	       uint32_t cap_burst, char *reply, size_t size);

/*
 * Sets vm's rate in one direction ("from", "to" or "both"): bytes/s and
 * burst bytes, 0 0 lifts it; waits at most timeout_ms for each step.
 * Returns as swc_request_ms.
 */
int swc_rate(const char *path, const char *vm, const char *dir, uint64_t rate, uint32_t burst,
	     char *reply, size_t size, int timeout_ms);

/* Removes vm's port if the switch at path is up and has one; returns as swc_request. */
int swc_del_vm(const char *path, const char *vm);

/* A VM's vhost-user socket path: RUNDIR/vhost/NAME.sock. */
void swc_vhost_path(const char *vm, char *buf, size_t size);

#endif
