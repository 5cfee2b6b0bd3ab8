/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What /proc and the cgroup mounts say about a QEMU process and its
 * threads: thread names (QEMU names vCPU threads "CPU n/KVM" or
 * "CPU n/TCG" when started with debug-threads=on, as libvirt does), the
 * process a thread belongs to, where a thread runs now, and the cgroup
 * directory libvirt gave it. Every function tolerates the thread exiting
 * under it: it returns -ENOENT (or -ESRCH), never garbage.
 */
#ifndef WAVE_VMM_PROCFS_H
#define WAVE_VMM_PROCFS_H

#include <stddef.h>
#include <sys/types.h>

/* The thread's name (comm), without the newline. 0 or -errno. */
int procfs_comm(pid_t pid, pid_t tid, char *buf, size_t size);

/* The process (thread group) a thread belongs to, or -errno. */
pid_t procfs_tgid(pid_t tid);

/* The CPU the thread last ran on (field 39 of stat), or -errno. */
int procfs_last_cpu(pid_t tid);

/*
 * Parses a QEMU vCPU thread name: "CPU 3/TCG" -> index 3, accel "TCG".
 * Returns 0, or -EINVAL if name is not a vCPU thread's.
 */
int procfs_parse_vcpu_name(const char *name, unsigned int *index, char *accel, size_t size);

/*
 * Calls fn(tid, index, accel, arg) for each vCPU thread of process pid, by
 * thread name. Returns the count, or -errno if the process is gone.
 */
int procfs_for_each_vcpu(pid_t pid,
			 void (*fn)(pid_t tid, unsigned int index, const char *accel, void *arg),
			 void *arg);

/*
 * The directory of the cgroup that holds tid for the CPU controller:
 * "/sys/fs/cgroup/cpu/machine/qemu-1-vm.libvirt-qemu/vcpu0" on cgroup v1,
 * the unified hierarchy's directory on v2 (only if it has the cpu
 * controller). *version is 1 or 2. Returns 0, or -ENOENT (thread gone, no
 * CPU controller anywhere, or the thread sits in the root cgroup, which
 * belongs to the whole host and is never to be tuned). Reads from root:
 * prefix for tests ("" normally).
 */
int procfs_cpu_cgroup(const char *root, pid_t tid, char *dir, size_t size, int *version);

#endif
