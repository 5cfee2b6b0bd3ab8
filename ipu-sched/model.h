/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The policy's view of the host: VMs, their vCPU and emulator threads, host
 * CPUs, and signals derived from the state stream (EWMA utilisation and
 * runnable-delay fraction per thread, packet rates per VM, memory pressure
 * per VM). Built only from channel messages (VM_ADD, VM_DEL, VCPU_STATE,
 * THREAD_CPUS, HOST_CPU, NET_STATE, MEM_STATE, MEM_CTL, HOST_MEM,
 * snapshots), so the agent on the IPU and waved in on-host mode
 * build exactly the same model from exactly the same input. Pure C: no I/O, no clock; callers pass the time.
 */
#ifndef WAVE_IPU_SCHED_MODEL_H
#define WAVE_IPU_SCHED_MODEL_H

#include <stdint.h>

#include "channel/slots.h"
#include "channel/wire.h"

/* EWMA time constant of the fast signals (utilisation, delay). */
#define MODEL_TAU_NS       (100 * 1000000ull)

struct model_thread {
	int present;
	uint8_t kind;             /* enum wave_kind */
	uint16_t index;
	uint32_t tid, barrier;
	uint8_t state;            /* enum wave_thread_state */
	uint16_t cpu;
	uint64_t run_ns, wait_ns; /* cumulative, as last reported */
	uint32_t wakeups, preempts;
	uint64_t seen_ns;         /* when the last sample arrived */
	double util;              /* EWMA fraction of one CPU spent running */
	double delay;             /* EWMA fraction of time runnable but waiting */
	double util_slow;         /* EWMA with 10x the time constant: sustained demand */
	double burst_ns;          /* EWMA of CPU time per wakeup: one activation's demand */
	double wait_per_wake_ns;  /* EWMA of runnable-wait per wakeup: queueing before it runs */
	uint16_t flags;           /* WAVE_THREAD_* */
	uint64_t pin[WAVE_MANAGED_CPUS / 64]; /* PINNED: the CPUs it may use (THREAD_CPUS) */
};

/*
 * A VM's traffic (NET_STATE), towards the guest (rx) and from it (tx). The
 * host sends a NET_STATE only when a count moved (at most every
 * MODEL_NET_PERIOD_NS): silence means nothing arrived, so readers take the
 * rates through model_net_rx_rate(), which decays them over the silence.
 */
#define MODEL_NET_PERIOD_NS (100 * 1000000ull)

struct model_net {
	int present;              /* counts have arrived for this VM */
	uint8_t source;           /* enum wave_net_source */
	uint64_t rx_pkts, rx_bytes, tx_pkts, tx_bytes; /* cumulative, as last reported */
	uint64_t seen_ns;         /* when the last NET_STATE arrived */
	uint64_t arrival_ns;      /* last ARRIVAL push (a packet after a quiet gap), or 0 */
	double rx_pps;            /* EWMA packets/s to the guest (MODEL_TAU_NS) */
	double rx_pps_slow;       /* ... with 10x the time constant */
	double tx_pps;
	double rx_bytes_s, tx_bytes_s; /* EWMA bytes/s each way (MODEL_TAU_NS) */
};

/*
 * A VM's memory (MEM_STATE, MEM_CTL), KiB; WAVE_MEM_NONE where the guest
 * did not report. The rates are over the guest's latest statistics
 * interval (about a second): fault and swap-in rates per second, and the
 * share of time the VM stalled on memory (PSI "some") between MEM_CTLs.
 * No smoothing on purpose: a guest that thrashed at 10,000 faults/s and
 * stopped must read calm at its next report, not seconds later, and the
 * policy keeps its own hysteresis.
 */
/*
 * The host sends a memory report only when something in it changed, at
 * most every statistics period (a second by default), and the guest's
 * statistics can be up to a period old when read: silence this long
 * after the guest's last report means the counts stood still, and the
 * rates read 0 (model_mem_now()).
 */
#define MODEL_MEM_QUIET_NS (2500 * 1000000ull)
/*
 * Two reports whose guest statistics are this close in time carry the same
 * statistics: the host dates them by its own reads, a quarter of a period
 * apart at the closest (mm/mechanism.c), so what differs less is the
 * channel's jitter.
 */
#define MODEL_MEM_SAME_NS (100 * 1000000ull)

struct model_mem {
	int present;              /* MEM_STATE seen */
	int ctl;                  /* MEM_CTL seen */
	uint32_t actual_kib, max_kib, available_kib, usable_kib, unused_kib, caches_kib, rss_kib;
	uint32_t age_ms;
	uint32_t target_kib, floor_kib;
	uint16_t weight;
	uint8_t flags;            /* WAVE_MEM_* */
	uint32_t major_faults, swap_in_kib; /* as last reported (mod 2^32) */
	uint64_t psi_some_us;
	uint64_t state_ns, ctl_ns;/* when the last of each arrived */
	uint64_t guest_ns;        /* when the guest made the statistics last seen (now - age) */
	/*
	 * What the guest used at its last statistics whose balloon size the
	 * host knew, in balloon terms (MEM_CTL used_kib), KiB; 0: unknown.
	 */
	uint32_t used_kib;
	/*
	 * The host could not tell the use at the latest statistics (the
	 * balloon moved while the guest counted): used_kib is older than them.
	 */
	int used_stale;
	double major_per_s, swap_in_kib_per_s; /* over the guest's last interval */
	double stall;             /* share over the last MEM_CTL interval */
};

/* The host's memory (HOST_MEM). */
struct model_host_mem {
	int present;
	uint64_t budget_kib, total_kib, avail_kib;
	uint64_t psi_some_us, seen_ns;
	double stall;             /* share of time some task stalled on memory, last interval */
};

struct model_vm {
	int present;
	uint32_t id, barrier, weight;
	uint8_t cls;              /* enum wave_vm_class */
	uint16_t nr_vcpus;
	char name[WAVE_NAME_LEN + 1];
	struct model_thread vcpu[WAVE_VM_VCPU_SLOTS];
	struct model_thread extra[WAVE_VM_EXTRA_SLOTS]; /* by thread index */
	struct model_net net;
	struct model_mem mem;
};

struct model_cpu {
	int present, allowed;
	uint64_t busy_ns, idle_ns, seen_ns;
	uint32_t nr_running;
	double util;
	double rt_cap, rt_thread_cap; /* what the host admits, CPUs (HOST_CPU 1.4); 0: not said */
};

struct model {
	uint32_t epoch;           /* of the snapshot the model was built from */
	int in_snapshot;
	struct model_vm vms[WAVE_MANAGED_VMS];
	struct model_cpu cpus[WAVE_MANAGED_CPUS];
	struct model_host_mem host_mem;
	uint64_t ignored;         /* messages naming what the model cannot hold */
	uint64_t updates;         /* state messages applied */
	uint64_t steps_back;      /* thread samples behind one already applied (no progress) */
};

void model_init(struct model *m);

/*
 * Applies one validated host->agent message received at now_ns. Returns 1
 * if the model changed, 0 if the message is not state (heartbeats, results),
 * -ENOENT if it named something unknown or out of range (counted).
 */
int model_apply(struct model *m, const struct wave_msg *msg, uint64_t now_ns);

struct model_vm *model_vm(struct model *m, uint32_t vm_id);
const struct model_thread *model_thread_c(const struct model *m, uint32_t vm_id,
					  unsigned int kind, unsigned int index);
struct model_thread *model_thread(struct model *m, uint32_t vm_id, unsigned int kind,
				  unsigned int index);

/* The slot of a thread the model holds (so always in range). */
static inline unsigned int model_thread_slot(const struct model_thread *t)
{
	return wave_slot_of(t->kind, t->index);
}

/* Calls fn for every present thread of vm (vCPUs first, by index). */
#define MODEL_FOR_EACH_THREAD(vm, t)                                             \
	for (unsigned int _i = 0; _i < WAVE_VM_SLOTS; _i++)                       \
		if (((t) = _i < WAVE_VM_VCPU_SLOTS ? &(vm)->vcpu[_i]               \
						   : &(vm)->extra[_i - WAVE_VM_VCPU_SLOTS])->present)

/*
 * Packets per second arriving for vm now: the EWMA (slow: its 10x time
 * constant version), decayed over any silence longer than the host's
 * export period (no NET_STATE: nothing arrived). 0 without counts.
 */
double model_net_rx_rate(const struct model_vm *vm, uint64_t now_ns, int slow);

/* Bytes per second vm sends (tx) or receives now, decayed over silence like the packet rate. */
double model_net_bytes_rate(const struct model_vm *vm, uint64_t now_ns, int tx);

/*
 * The SCHED_DEADLINE bandwidth the host admits for all reservations
 * together (summed over the allowed CPUs) and for one thread, in CPUs;
 * each 0 where the host did not say.
 */
double model_rt_capacity(const struct model *m, double *per_thread);

/* A VM's memory signals now: 0 after a silence (see MODEL_MEM_QUIET_NS). */
struct model_mem_now {
	double major_per_s, swap_in_kib_per_s, stall;
};
void model_mem_now(const struct model_vm *vm, uint64_t now_ns, struct model_mem_now *out);

unsigned int model_allowed_cpus(const struct model *m, unsigned int *list, unsigned int max);

/* The operator pinned t (libvirt): no SCHED_DEADLINE, and PLACE only within its pin. */
static inline int model_thread_pinned(const struct model_thread *t)
{
	return !!(t->flags & WAVE_THREAD_PINNED);
}

/*
 * Of CPUs 0..63 (the PLACE masks the policies here build start at CPU 0),
 * those t may be placed on: its pin, or all of them if it has none.
 */
static inline uint64_t model_thread_cpus64(const struct model_thread *t)
{
	return model_thread_pinned(t) ? t->pin[0] : ~0ull;
}

#endif
