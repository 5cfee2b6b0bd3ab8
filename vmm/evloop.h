/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvirt's event loop, Wave's own: poll(2) over the handles libvirt adds
 * and a list of its timeouts, registered with virEventRegisterImpl and
 * run by one thread per process (vmm_evloop_start, for vmm/conn.c).
 *
 * Why not libvirt's default loop (virEventRegisterDefaultImpl): libvirt's
 * client puts a watch on every connection's socket once any loop is
 * registered, and every synchronous call takes that watch off and puts
 * it back, waking the loop's thread twice. On a host whose system calls
 * are dear that is a quarter of what a call costs the process (measured
 * here: 309 against 411 us of process CPU per virDomainMemoryStats). A
 * connection that only ever makes synchronous calls from one thread (the
 * memory worker's) needs no watch: libvirt runs a client without one, as
 * it does in a program that registers no loop, minus events and
 * keepalive. The default loop cannot be told to refuse a handle; this one
 * refuses those added on a thread inside vmm_virt_open_unwatched().
 *
 * Semantics follow libvirt's contract for an event implementation:
 * handle and timeout ids are positive; a timeout of -1 is off, 0 fires on
 * every turn; callbacks run on the loop's thread without its lock held
 * (they may add, update and remove handles and timeouts); a removed
 * one's free function runs at the end of the turn, never inside the
 * remove call (libvirt takes its own locks in there).
 */
#ifndef WAVE_VMM_EVLOOP_H
#define WAVE_VMM_EVLOOP_H

#include <libvirt/libvirt.h>

/* Registers this loop with libvirt (once per process). 0 or -errno. */
int vmm_evloop_register(void);

/*
 * One turn, on the loop's thread: waits for a handle to be ready or the
 * next timeout to be due (or vmm_evloop_wake), then runs their callbacks.
 * 0, or -errno if the wait failed.
 */
int vmm_evloop_run_once(void);

/* Makes a turn that is waiting return (any thread). */
void vmm_evloop_wake(void);

/*
 * The process's one loop thread, shared by its users (every vmm
 * connection): the first start creates it, the last stop ends it after a
 * last turn (which runs the free functions of what was removed before).
 * Turns are never run by two threads at once. 0 or -errno.
 */
int vmm_evloop_start(void);
void vmm_evloop_stop(void);

/*
 * Opens uri (NULL: libvirt's default) for synchronous calls from the
 * calling thread only: the connection gets no event-loop watch, so its
 * calls wake no other thread. It delivers no domain events and sends no
 * keepalives (virConnectIsAlive still tells a closed socket). NULL on
 * error, as virConnectOpen.
 */
virConnectPtr vmm_virt_open_unwatched(const char *uri);

/* Handles refused to vmm_virt_open_unwatched so far (for tests). */
unsigned long vmm_evloop_refused(void);

#endif
