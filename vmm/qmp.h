/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * QMP for what libvirt's API does not expose: each vCPU's host thread id
 * (query-cpus-fast), I/O thread ids (query-iothreads), KVM's per-vCPU
 * counters (query-stats; empty under TCG) and the balloon driver's guest
 * memory statistics (qom-get guest-stats). Commands go through libvirt's
 * QEMU monitor passthrough (virDomainQemuMonitorCommand), so libvirt keeps
 * owning the monitor socket; the replies are parsed here with json-c.
 *
 * The parsers take the reply text, so they are tested without a VM. A
 * reply is untrusted: wrong types, missing members, negative or absurd
 * thread ids give -EPROTO with a reason, never a partial result.
 */
#ifndef WAVE_VMM_QMP_H
#define WAVE_VMM_QMP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <libvirt/libvirt.h>

#define VMM_QOM_PATH_MAX 64

struct vmm_vcpu {
	unsigned int index;   /* QEMU cpu-index: may have gaps after hot-unplug */
	pid_t tid;
	char qom_path[VMM_QOM_PATH_MAX];
};

/* KVM per-vCPU counters from query-stats (cumulative). */
struct vmm_kvm_stats {
	char qom_path[VMM_QOM_PATH_MAX];
	uint64_t halt_wait_ns;
	uint64_t exits;
	uint64_t preemption_reported;
};

/* Guest memory as the balloon driver reports it (bytes; -1: not reported). */
struct vmm_balloon_stats {
	int64_t free, total, available, major_faults, swap_in, swap_out;
	int64_t last_update;  /* guest time of the report, s; 0: never */
};

/*
 * Runs one QMP command (JSON text) on a running domain. Returns 0 and a
 * malloc'd reply in *reply, or -errno with libvirt's message in why.
 */
int vmm_qmp_command(virDomainPtr dom, const char *cmd, char **reply, char *why, size_t len);

/*
 * Parse replies. On success return 0 and a malloc'd array (free()) of *n
 * entries, sorted by index where there is one; on error -EPROTO (bad reply)
 * or -EREMOTEIO (QMP returned an error; its description is in why).
 */
int vmm_qmp_parse_vcpus(const char *reply, struct vmm_vcpu **out, unsigned int *n,
			char *why, size_t len);
int vmm_qmp_parse_iothreads(const char *reply, pid_t **out, unsigned int *n, char *why,
			    size_t len);
int vmm_qmp_parse_kvm_stats(const char *reply, struct vmm_kvm_stats **out, unsigned int *n,
			    char *why, size_t len);
int vmm_qmp_parse_balloon(const char *reply, struct vmm_balloon_stats *out, char *why,
			  size_t len);

#define VMM_QMP_QUERY_CPUS  "{\"execute\":\"query-cpus-fast\"}"
#define VMM_QMP_QUERY_IOTHREADS "{\"execute\":\"query-iothreads\"}"
#define VMM_QMP_QUERY_STATS "{\"execute\":\"query-stats\",\"arguments\":{\"target\":\"vcpu\"}}"
#define VMM_QMP_BALLOON_STATS \
	"{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/machine/peripheral/balloon0\"," \
	"\"property\":\"guest-stats\"}}"

#endif
