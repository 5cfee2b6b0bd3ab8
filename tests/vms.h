/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What test-vms.c shares with its other cases' files (vms-operators.c):
 * the two real VMs it launched, waved's rundir and channel, the daemons
 * it started (ended by the group teardown whatever happens) and its
 * libvirt connection.
 */
#ifndef WAVE_TESTS_VMS_H
#define WAVE_TESTS_VMS_H

#include <sys/types.h>

struct vmm_conn;

extern char rundir[64], lat[32], bat[32], name_prefix[32], chan_uri[64];
extern pid_t waved_pid, agent_pid;
extern struct vmm_conn *conn;

/* Skips the case (cmocka) unless root. */
void need_root(void);
/* virsh -q -c qemu:///system with up to seven arguments (NULL ends them): its exit status. */
int virsh(const char *a1, const char *a2, const char *a3, const char *a4, const char *a5,
	  const char *a6, const char *a7);

/* vms-operators.c */
void operators_tools_under_wave(void **state);

#endif
