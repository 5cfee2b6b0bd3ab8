/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * How many VMs and threads per VM the two sides manage, and where each
 * thread of a VM sits in per-VM tables. Both waved (its VM and thread
 * tables, its checks of a decision's target) and the agent (its model and
 * policies) size and index by these, so they are protocol facts like the
 * wire's own limits (wire.h). The wire may name larger indexes (up to
 * WAVE_MAX_VCPUS and WAVE_MAX_THREADS): such a thread is counted and left
 * unmanaged by either side, never misplaced.
 *
 * A per-VM table has WAVE_VM_SLOTS entries: vCPU i at i, emulator/I/O
 * thread j (emulator 0, I/O threads 1..) at WAVE_VM_VCPU_SLOTS + j.
 */
#ifndef WAVE_CHANNEL_SLOTS_H
#define WAVE_CHANNEL_SLOTS_H

#include "channel/wire.h"

#define WAVE_MANAGED_VMS    64  /* VMs managed at once */
#define WAVE_VM_VCPU_SLOTS  64  /* vCPUs managed per VM */
#define WAVE_VM_EXTRA_SLOTS 8   /* emulator + I/O threads managed per VM */
#define WAVE_VM_SLOTS       (WAVE_VM_VCPU_SLOTS + WAVE_VM_EXTRA_SLOTS)
#define WAVE_MANAGED_CPUS   256 /* host CPUs a policy may place on */

_Static_assert(WAVE_MANAGED_VMS <= WAVE_MAX_VMS, "managed VMs within the wire's ids");
_Static_assert(WAVE_VM_VCPU_SLOTS <= WAVE_MAX_VCPUS, "vCPU slots within the wire's indexes");
_Static_assert(WAVE_VM_EXTRA_SLOTS <= WAVE_MAX_THREADS, "extra slots within the wire's indexes");
_Static_assert(WAVE_MANAGED_CPUS <= WAVE_MAX_CPUS, "CPUs within the wire's numbers");

/* The slot of a thread known to be managed (index in range for its kind). */
static inline unsigned int wave_slot_of(unsigned int kind, unsigned int index)
{
	return kind == WAVE_KIND_VCPU ? index : WAVE_VM_VCPU_SLOTS + index;
}

/* The slot of thread (kind, index) in a per-VM table, or -1 if it is not managed. */
static inline int wave_slot(unsigned int kind, unsigned int index)
{
	if (index >= (kind == WAVE_KIND_VCPU ? WAVE_VM_VCPU_SLOTS : WAVE_VM_EXTRA_SLOTS))
		return -1;
	return (int)wave_slot_of(kind, index);
}

#endif
