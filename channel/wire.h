/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Wave-VM wire format, protocol version 1.7.
 *
 * Every message is one 64-byte cache line: a 16-byte header and a 48-byte
 * payload whose layout depends on the type. All fields have explicit widths
 * and are little-endian on the wire; codec.c converts to and from host order
 * at the channel boundary, so users of the channel only see host order.
 * Every size and offset is pinned by a _Static_assert: a layout change is a
 * compile error here, not a silent protocol break.
 *
 * Why one cache line: on PCIe a message is then one posted write burst, and
 * a receiver polling its own memory sees a whole message or none of it once
 * the sequence word (written last) is valid. Variable-length messages were
 * rejected: they need a length word read before the payload, i.e. a second
 * dependent load across a slow link, and a bounds check per message.
 *
 * Reserved fields must be zero: a receiver rejects non-zero reserved bytes,
 * so later versions can give them a meaning behind a feature bit.
 *
 * Changes: 1.1 replaces the HELLO feature bit WAKEUPS (1 << 3: "send me
 * every wakeup of latency-class VMs", the host choosing which) with the
 * WAKE_SUB message: the agent names the VMs and thread kinds whose wakeups
 * it wants pushed, since which wakeups matter is the policy's choice.
 * 1.1 also tells an agent that announces WAVE_FEAT_PINS which threads the
 * operator pinned (VCPU_STATE flags, WAVE_THREAD_PINNED) and to which CPUs
 * (THREAD_CPUS); a host sends neither to an agent that did not announce it.
 * 1.2 adds NET_STATE, each VM's traffic as the host counts it, sent only to
 * an agent that announces WAVE_FEAT_NET, and the WAKE_SUB bit WAVE_WAKE_NET
 * (push a NET_STATE when a packet reaches a quiet VM).
 * 1.3 adds guest memory, sent only to an agent that announces
 * WAVE_FEAT_MEM: MEM_STATE (the guest's memory as its balloon reports it,
 * and QEMU's resident memory), MEM_CTL (what the host controls: the
 * balloon target, the VM's floor and weight, its memory pressure) and
 * HOST_MEM (the budget for guest memory and the host's own state); and
 * the transaction op SET_BALLOON, a whole VM's balloon target, which a
 * host applies only if it announced WAVE_FEAT_MEM too.
 * 1.4 makes heartbeats cost the host no wakeup of their own. The echo's
 * t_agent_ns (the agent's receive time, a timestamp on the agent's clock)
 * becomes hold_ns: how long the agent held the heartbeat before echoing,
 * a duration on its own clock, never compared with the host's. The
 * heartbeat's reserved word becomes flags: WAVE_HB_PROMPT asks for the
 * echo at once with a doorbell (the host times it); without it the agent
 * echoes without ringing, and the host reads the echo when it next looks
 * (at the latest when the heartbeat would turn overdue).
 * 1.4 also gives HOST_CPU what the host admits: rt_cap_ppm and
 * rt_thread_cap_ppm (its SCHED_DEADLINE envelope), so that a policy can
 * keep its reservations within what the host will accept.
 * 1.5 adds the op SET_NET_RATE (a VM's rate on wave-switch), applied only
 * by a host that announces WAVE_FEAT_NETCTL, and the NET_STATE source
 * WAVE_NET_SRC_SWITCH.
 * 1.6 turns MEM_CTL's reserved word into used_kib: what the guest used
 * when it made its last statistics, paired by the host with the balloon
 * as it was then. An agent cannot pair them itself: the host reads the
 * balloon and the guest's statistics at its own moments, and the balloon
 * moves between them.
 * 1.7 adds WAVE_FEAT_KSTATE: a host on the agent's memory (shm:) passes,
 * with the region, the fds of the kernel's thread records and of its
 * heartbeat (kvm-hooks/kbeat.h). Once the agent is in charge, the kernel
 * beats it every half lag threshold and the agent reads the thread records
 * itself at each beat; the host sends VCPU_STATE only for what the records
 * do not say (new threads, pins, new barriers, exits), for wakeups the
 * policy subscribed to and in snapshots, and no HEARTBEAT (it hears from
 * the kernel when a beat goes unanswered). VCPU_STATE's reserved word
 * becomes slot: the thread's record in that array, plus one (0: none, or
 * no KSTATE). A 1.6 peer expects two fds at a shm attach: 1.7 is the
 * oldest minor a peer may speak.
 */
#ifndef WAVE_CHANNEL_WIRE_H
#define WAVE_CHANNEL_WIRE_H

#include <stddef.h>
#include <stdint.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ||
	       __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__, "mixed-endian host");

#define WAVE_MAGIC         0x45564157u /* "WAVE" read as little-endian u32 */
#define WAVE_PROTO_MAJOR   1
#define WAVE_PROTO_MINOR   7
#define WAVE_PROTO_MIN_MINOR 7 /* the oldest minor a peer may speak */
#define WAVE_MSG_SIZE      64
#define WAVE_PAYLOAD_SIZE  48

/* Feature bits announced in HELLO; a peer uses a feature only if both set it. */
#define WAVE_FEAT_BATCH    (1ULL << 0) /* receiver handles batches */
#define WAVE_FEAT_PRESTAGE (1ULL << 1) /* prestaged decisions (WAVE_OP_TRIGGER) */
#define WAVE_FEAT_TIMESTAMPS (1ULL << 2) /* stamp ts_ns on what you send me */
/* 1 << 3 was WAKEUPS in 1.0; see WAVE_MSG_WAKE_SUB. */
#define WAVE_FEAT_WAKE_SUB (1ULL << 4) /* host: send me WAKE_SUB (1.1) */
#define WAVE_FEAT_PINS     (1ULL << 5) /* agent: send me pins (VCPU_STATE flags, THREAD_CPUS; 1.1) */
#define WAVE_FEAT_NET      (1ULL << 6) /* agent: send me NET_STATE (1.2) */
/* agent: send me MEM_STATE, MEM_CTL, HOST_MEM; host: I apply SET_BALLOON (1.3) */
#define WAVE_FEAT_MEM      (1ULL << 7)
/* host: I apply SET_NET_RATE on VMs on wave-switch (1.5) */
#define WAVE_FEAT_NETCTL   (1ULL << 8)
/* host: I pass the kernel's records and heartbeat fds; agent: I read them (1.7) */
#define WAVE_FEAT_KSTATE   (1ULL << 9)
#define WAVE_FEAT_KNOWN    (WAVE_FEAT_BATCH | WAVE_FEAT_PRESTAGE | WAVE_FEAT_TIMESTAMPS | \
			    WAVE_FEAT_WAKE_SUB | WAVE_FEAT_PINS | WAVE_FEAT_NET | WAVE_FEAT_MEM | \
			    WAVE_FEAT_NETCTL | WAVE_FEAT_KSTATE)

/* Limits every receiver enforces on ids and counts. */
#define WAVE_MAX_VMS       4096u /* vm_id < WAVE_MAX_VMS */
#define WAVE_MAX_VCPUS     1024u /* vCPU index < WAVE_MAX_VCPUS */
#define WAVE_MAX_THREADS   64u   /* emulator/I/O thread index */
#define WAVE_MAX_CPUS      1024u /* host CPU number < WAVE_MAX_CPUS */
#define WAVE_CPU_NONE      0xffffu
#define WAVE_TXN_MAX_OPS   16u
#define WAVE_WEIGHT_MIN    1u
#define WAVE_WEIGHT_MAX    10000u
#define WAVE_NAME_LEN      16
#define WAVE_KSTATE_SLOTS  1024u /* the kernel's thread records (HOOKS_MAX_THREADS) */

enum wave_msg_type {
	WAVE_MSG_INVALID = 0,
	WAVE_MSG_HELLO = 1,          /* both ways: first message of a generation */
	WAVE_MSG_SNAPSHOT_BEGIN = 2, /* host->agent: full state follows */
	WAVE_MSG_SNAPSHOT_END = 3,
	WAVE_MSG_VM_ADD = 4,         /* host->agent */
	WAVE_MSG_VM_DEL = 5,
	WAVE_MSG_VCPU_STATE = 6,     /* host->agent: per-thread state, carries a barrier */
	WAVE_MSG_HOST_CPU = 7,       /* host->agent */
	WAVE_MSG_HEARTBEAT = 8,      /* host->agent */
	WAVE_MSG_HEARTBEAT_ECHO = 9, /* agent->host */
	WAVE_MSG_TXN = 10,           /* agent->host: one op of a transaction */
	WAVE_MSG_TXN_RESULT = 11,    /* host->agent */
	WAVE_MSG_RESYNC_REQ = 12,    /* agent->host: send me a snapshot */
	WAVE_MSG_WAKE_SUB = 13,      /* agent->host: push these threads' wakeups (1.1) */
	WAVE_MSG_THREAD_CPUS = 14,   /* host->agent: the CPUs a pinned thread may use (1.1) */
	WAVE_MSG_NET_STATE = 15,     /* host->agent: a VM's traffic, carries the VM's barrier (1.2) */
	WAVE_MSG_MEM_STATE = 16,     /* host->agent: a VM's memory as its guest reports it (1.3) */
	WAVE_MSG_MEM_CTL = 17,       /* host->agent: a VM's balloon target, floor, weight, pressure (1.3) */
	WAVE_MSG_HOST_MEM = 18,      /* host->agent: the guest memory budget, the host's memory (1.3) */
	WAVE_MSG_TYPE_MAX = 19,
};

/* Header flags. */
#define WAVE_F_SNAPSHOT  (1u << 0) /* part of a snapshot (between BEGIN and END) */
#define WAVE_F_KNOWN     (WAVE_F_SNAPSHOT)

struct wave_hdr {
	/*
	 * Stream position + 1 within the current generation, mod 2^32. In a
	 * ring slot it is written last with release order: a receiver that
	 * reads the expected value may read the rest of the slot.
	 */
	uint32_t seq;
	uint8_t type;    /* enum wave_msg_type */
	uint8_t flags;   /* WAVE_F_* */
	uint16_t rsvd;   /* zero */
	/*
	 * Send time in channel-clock ns (common/clock.h) if the receiver asked
	 * for timestamps in its HELLO (WAVE_FEAT_TIMESTAMPS: it emulates link
	 * delay or traces), else 0. A clock read is a third of the cost of a
	 * one-message send, so it is paid only where someone reads the value.
	 */
	uint64_t ts_ns;
};

enum wave_role { WAVE_ROLE_HOST = 1, WAVE_ROLE_AGENT = 2 };

struct wave_hello {
	uint32_t magic;      /* WAVE_MAGIC */
	uint16_t major;      /* must equal WAVE_PROTO_MAJOR */
	uint16_t minor;      /* informational */
	uint64_t features;   /* WAVE_FEAT_* */
	uint64_t instance;   /* random per process start: tells a restart apart */
	uint64_t generation; /* host-assigned per attach; agents echo it */
	uint8_t role;        /* enum wave_role of the sender */
	uint8_t rsvd0[3];
	uint32_t ring_slots; /* slots of the sender's receive ring (0 for tcp) */
	uint64_t rsvd1;
};

struct wave_snapshot {       /* SNAPSHOT_BEGIN and SNAPSHOT_END */
	uint32_t epoch;      /* host epoch the snapshot belongs to */
	uint32_t snap_id;
	uint32_t count;      /* BEGIN: messages that follow; END: messages sent */
	uint32_t rsvd[9];
};

enum wave_vm_class { WAVE_CLASS_BATCH = 0, WAVE_CLASS_LATENCY = 1, WAVE_CLASS_MAX };

struct wave_vm_add {
	uint32_t vm_id;
	uint16_t nr_vcpus;   /* 1..WAVE_MAX_VCPUS */
	uint8_t vm_class;    /* enum wave_vm_class */
	uint8_t nr_threads;  /* emulator + I/O threads, < WAVE_MAX_THREADS */
	uint32_t weight;     /* WAVE_WEIGHT_MIN..WAVE_WEIGHT_MAX */
	uint32_t barrier;
	uint8_t uuid[16];
	char name[WAVE_NAME_LEN]; /* NUL-padded, printable, may be truncated */
};

struct wave_vm_del {
	uint32_t vm_id;
	uint32_t barrier;
	uint32_t rsvd[10];
};

/* What a thread record describes. */
enum wave_kind { WAVE_KIND_VCPU = 0, WAVE_KIND_EMULATOR = 1, WAVE_KIND_IOTHREAD = 2,
		 WAVE_KIND_MAX };
enum wave_thread_state { WAVE_TS_BLOCKED = 0, WAVE_TS_RUNNABLE = 1, WAVE_TS_RUNNING = 2,
			 WAVE_TS_GONE = 3, WAVE_TS_MAX };

struct wave_vcpu_state {
	uint32_t vm_id;
	uint16_t index;      /* vCPU index, or emulator/I/O thread index */
	uint8_t kind;        /* enum wave_kind */
	uint8_t state;       /* enum wave_thread_state */
	uint16_t cpu;        /* last host CPU, or WAVE_CPU_NONE */
	uint16_t flags;      /* WAVE_THREAD_*; zero unless the agent announced WAVE_FEAT_PINS */
	uint32_t barrier;    /* per-target sequence; a TXN names it */
	uint64_t run_ns;     /* cumulative on-CPU time */
	uint64_t wait_ns;    /* cumulative runnable-but-waiting time */
	uint32_t wakeups;
	uint32_t preempts;   /* involuntary switches */
	uint32_t tid;        /* host thread id, informational */
	uint32_t slot;       /* 1.7, WAVE_FEAT_KSTATE: record slot + 1, <= WAVE_KSTATE_SLOTS; else 0 */
};

/*
 * VCPU_STATE flags. PINNED: the operator pinned the thread (libvirt's
 * vcpupin, emulatorpin or iothreadpin, live or in the domain XML). The host
 * refuses a PLACE outside its CPUs (the THREAD_CPUS that follow) and
 * SCHED_DEADLINE for it: the kernel requires a DEADLINE thread's affinity
 * to span every CPU of its root domain, so a pinned thread cannot have a
 * reservation, and a thread in one cannot be pinned. Without the flag the
 * thread has no pin (any set the agent holds for it is void).
 */
#define WAVE_THREAD_PINNED  (1u << 0)
#define WAVE_THREAD_F_KNOWN (WAVE_THREAD_PINNED)

/*
 * THREAD_CPUS: the CPUs a pinned thread may run on, 64 at a time. Right
 * after every VCPU_STATE that carries WAVE_THREAD_PINNED in a snapshot or
 * after a pin changed (not with every periodic export), the host sends one
 * per 64-CPU window from CPU 0 up to its highest CPU; each replaces its
 * window. A pin change also moves the thread's barrier, so a decision made
 * against the old pin is stale.
 */
struct wave_thread_cpus {
	uint32_t vm_id;
	uint16_t index;
	uint8_t kind;        /* enum wave_kind */
	uint8_t rsvd0;
	uint32_t barrier;
	uint32_t cpu_base;   /* multiple of 64, < WAVE_MAX_CPUS */
	uint64_t mask;       /* bit i: CPU cpu_base + i */
	uint32_t rsvd1[6];
};

#define WAVE_CPU_ONLINE   (1u << 0)
#define WAVE_CPU_ALLOWED  (1u << 1) /* in the operator's --cpus set */
#define WAVE_CPU_F_KNOWN  (WAVE_CPU_ONLINE | WAVE_CPU_ALLOWED)

struct wave_host_cpu {
	uint16_t cpu;
	uint16_t flags;      /* WAVE_CPU_* */
	uint32_t barrier;
	uint64_t busy_ns;    /* cumulative */
	uint64_t idle_ns;    /* cumulative */
	uint32_t nr_running;
	/*
	 * (1.4) What the host admits on this CPU: SCHED_DEADLINE bandwidth for
	 * all the agent's reservations together, and for one thread, in
	 * millionths of the CPU; summed over the allowed CPUs it is the host's
	 * whole budget. 0: not said (a policy assumes its own default).
	 */
	uint32_t rt_cap_ppm;
	uint32_t rt_thread_cap_ppm;
	uint32_t rsvd[3];
};

struct wave_heartbeat {      /* HEARTBEAT and HEARTBEAT_ECHO */
	uint64_t hb_seq;
	uint32_t epoch;
	uint32_t flags;      /* WAVE_HB_*; echoed unchanged (1.4) */
	uint64_t t_host_ns;  /* host send time, echoed unchanged */
	uint64_t hold_ns;    /* ECHO: how long the agent held it, at most WAVE_HB_MAX_HOLD_NS;
			      * HEARTBEAT: zero (1.4) */
	uint64_t rsvd1[2];
};

/*
 * The host times this heartbeat (it is deciding whether to hand control
 * back): echo it at once and ring the host's doorbell. Without the flag the
 * echo rings nothing; the host reads it on its next wakeup.
 */
#define WAVE_HB_PROMPT      (1u << 0)
#define WAVE_HB_F_KNOWN     WAVE_HB_PROMPT
#define WAVE_HB_MAX_HOLD_NS (60ull * 1000000000ull)

enum wave_txn_op {
	WAVE_OP_PLACE = 1,      /* CPU set: cpu_base + mask bits */
	WAVE_OP_SET_WEIGHT = 2,
	WAVE_OP_SET_QUOTA = 3,  /* CFS bandwidth */
	WAVE_OP_SET_CLASS = 4,  /* scheduling policy and parameters */
	/*
	 * Prestaging: a transaction that starts with TRIGGER ops (no
	 * arguments) is not applied now. The host checks it, keeps it, and
	 * applies its other ops the moment any trigger thread next wakes up,
	 * without a round trip to the agent; its TXN_RESULT comes then. A
	 * newer prestaged transaction on a trigger replaces the older one
	 * (STALE_TARGET). Only if both sides announce WAVE_FEAT_PRESTAGE.
	 */
	WAVE_OP_TRIGGER = 5,
	/*
	 * A whole VM's balloon target (1.3): kind VCPU and index 0 (the op
	 * names the VM, not a thread), the barrier is the VM's (VM_ADD).
	 * The host refuses a target below the VM's floor, above its maximum
	 * or past the budget (INVALID). It cannot be prestaged.
	 */
	WAVE_OP_SET_BALLOON = 6,
	/*
	 * A whole VM's network rate on wave-switch (1.5), named like
	 * SET_BALLOON (kind VCPU, index 0, the VM's barrier): the meter on
	 * what the guest sends (dir FROM), on what goes to it (TO) or both.
	 * rate_bytes_s 0 lifts the meter; otherwise burst_bytes is at least
	 * one full frame. The host refuses it for a VM not on the switch
	 * (INVALID). Alone in its transaction; never prestaged.
	 */
	WAVE_OP_SET_NET_RATE = 7,
	WAVE_OP_MAX = 8,
};

#define WAVE_NET_DIR_FROM    1u
#define WAVE_NET_DIR_TO      2u
#define WAVE_NET_DIR_BOTH    3u
#define WAVE_NET_MAX_RATE    12500000000ull /* bytes/s: 100 Gbit/s */
#define WAVE_NET_MIN_BURST   1514u          /* one full Ethernet frame */
#define WAVE_NET_MAX_BURST   (64u << 20)

/* Whether op names a whole VM rather than one of its threads. */
static inline int wave_op_targets_vm(unsigned int op)
{
	return op == WAVE_OP_SET_BALLOON || op == WAVE_OP_SET_NET_RATE;
}

enum wave_sched_policy { WAVE_SCHED_OTHER = 0, WAVE_SCHED_FIFO = 1, WAVE_SCHED_DEADLINE = 2,
			 WAVE_SCHED_MAX };

#define WAVE_QUOTA_UNLIMITED   0xffffffffu
#define WAVE_PERIOD_US_MIN     1000u    /* kernel CFS bandwidth limits */
#define WAVE_PERIOD_US_MAX     1000000u
#define WAVE_DL_RUNTIME_NS_MIN 1024u    /* SCHED_DEADLINE granularity */
#define WAVE_DL_PERIOD_NS_MAX  4000000000ull
#define WAVE_FIFO_PRIO_MAX     99u

/*
 * One operation of a transaction. A transaction of N ops is N TXN messages
 * with the same txn_id, op_idx 0..N-1 and op_count N, sent in one batch; the
 * host applies it only when all N arrived and all validate (txn.c). Each op
 * names its target (vm_id, kind, index) and the barrier it was computed from.
 */
struct wave_txn {
	uint32_t txn_id;
	uint32_t epoch;      /* host epoch the agent computed under */
	uint32_t vm_id;
	uint32_t barrier;    /* target's barrier seen by the agent */
	uint16_t index;
	uint8_t kind;        /* enum wave_kind */
	uint8_t op;          /* enum wave_txn_op */
	uint8_t op_idx;
	uint8_t op_count;    /* 1..WAVE_TXN_MAX_OPS */
	uint8_t policy;      /* SET_CLASS: enum wave_sched_policy; else zero */
	uint8_t prio;        /* SET_CLASS FIFO: 1..99; else zero */
	union {
		struct {
			uint32_t cpu_base; /* multiple of 64 */
			uint32_t rsvd0;
			uint64_t mask;     /* bit i: CPU cpu_base + i */
			uint64_t rsvd1;
		} place;
		struct {
			uint32_t weight;
			uint32_t rsvd[5];
		} weight;
		struct {
			uint32_t quota_us; /* WAVE_QUOTA_UNLIMITED or >= 1000 */
			uint32_t period_us;
			uint32_t rsvd[4];
		} quota;
		struct {
			uint64_t runtime_ns;
			uint64_t deadline_ns;
			uint64_t period_ns;
		} cls;
		struct {
			uint32_t target_kib; /* > 0 */
			uint32_t rsvd[5];
		} balloon;
		struct {
			uint64_t rate_bytes_s; /* 0: unmetered; <= WAVE_NET_MAX_RATE */
			uint32_t burst_bytes;  /* rate 0: 0; else MIN..MAX_BURST */
			uint8_t dir;           /* WAVE_NET_DIR_* */
			uint8_t rsvd0[3];
			uint64_t rsvd1;
		} net;
	} u;
};

enum wave_status {
	WAVE_ST_OK = 0,
	WAVE_ST_STALE_EPOCH = 1,   /* computed under an older epoch */
	WAVE_ST_STALE_TARGET = 2,  /* target's barrier moved on */
	WAVE_ST_NO_TARGET = 3,     /* no such VM or thread */
	WAVE_ST_INVALID = 4,       /* arguments out of range or not allowed */
	WAVE_ST_FALLBACK = 5,      /* host is in fallback; agent decisions refused */
	WAVE_ST_FAILED = 6,        /* the OS refused; err holds the errno */
	WAVE_ST_MAX = 7,
};

struct wave_txn_result {
	uint32_t txn_id;
	uint32_t epoch;      /* host epoch now */
	uint8_t status;      /* enum wave_status */
	uint8_t op_idx;      /* op that decided the status */
	uint16_t rsvd0;
	int32_t err;         /* positive errno with WAVE_ST_FAILED, else 0 */
	uint32_t vm_id;      /* target of op_idx */
	uint32_t barrier;    /* that target's barrier now */
	uint32_t rsvd1[6];
};

enum wave_resync_reason { WAVE_RESYNC_START = 0, WAVE_RESYNC_GAP = 1, WAVE_RESYNC_STALE = 2,
			  WAVE_RESYNC_MAX };

struct wave_resync_req {
	uint32_t epoch;      /* epoch the agent last knew */
	uint8_t reason;      /* enum wave_resync_reason */
	uint8_t rsvd0[3];
	uint32_t rsvd1[10];
};

/*
 * WAKE_SUB: which threads of one VM the agent wants to see wake up as it
 * happens (a VCPU_STATE pushed at the wakeup, instead of with the next
 * periodic export). Each such push costs the host a wakeup, so it is the
 * policy's to ask for and the host's to grant: the host may refuse all of
 * them (waved --wake-events none). Sent only to a host that announced
 * WAVE_FEAT_WAKE_SUB, and only after the first snapshot. Valid for the
 * epoch it names and the VM with that barrier; a snapshot clears every
 * subscription, and the agent sends its wishes again after each one.
 * kinds 0 unsubscribes.
 */
struct wave_wake_sub {
	uint32_t epoch;      /* host epoch the agent decided under */
	uint32_t vm_id;
	uint32_t barrier;    /* the VM's barrier (VM_ADD) */
	uint8_t kinds;       /* bit k: threads of enum wave_kind k */
	uint8_t rsvd0[3];
	uint32_t rsvd1[8];
};

/*
 * WAKE_SUB kinds bit (1.2): push a NET_STATE with WAVE_NET_ARRIVAL when a
 * packet reaches the VM after the host's quiet gap (waved --net-quiet)
 * without one. Only to an agent that announced WAVE_FEAT_NET.
 */
#define WAVE_WAKE_NET      (1u << 7)

/*
 * NET_STATE: one VM's traffic as the host counts it on the VM's network
 * interfaces (its taps: a BPF program on their tc hooks, or their kernel
 * statistics), cumulative since the host began counting this VM; they
 * never go back while it does (a receiver takes counts that do as a new
 * start).
 * rx is towards the guest (requests arriving), tx is what the guest sends.
 * Sent in snapshots, when a count moved (at most every 100 ms), and at once
 * with WAVE_NET_ARRIVAL to a subscriber (WAVE_WAKE_NET).
 */
enum wave_net_source { WAVE_NET_SRC_NONE = 0, WAVE_NET_SRC_BPF = 1, WAVE_NET_SRC_IFSTATS = 2,
		       WAVE_NET_SRC_SWITCH = 3, /* wave-switch's per-VM counters (1.5) */
		       WAVE_NET_SRC_MAX };

#define WAVE_NET_ARRIVAL   (1u << 0) /* pushed at a packet that ended a quiet gap */
#define WAVE_NET_F_KNOWN   (WAVE_NET_ARRIVAL)
#define WAVE_MAX_IFACES    64u

struct wave_net_state {
	uint32_t vm_id;
	uint32_t barrier;    /* the VM's barrier (VM_ADD) */
	uint64_t rx_pkts;    /* to the guest */
	uint64_t rx_bytes;
	uint64_t tx_pkts;    /* from the guest */
	uint64_t tx_bytes;
	uint32_t quiet_us;   /* ARRIVAL: time without arrivals before this one (saturates); else 0 */
	uint8_t flags;       /* WAVE_NET_* */
	uint8_t source;      /* enum wave_net_source */
	uint8_t nr_ifaces;   /* interfaces counted, <= WAVE_MAX_IFACES */
	uint8_t rsvd0;
};

/*
 * Guest memory (1.3). Sizes are KiB in u32 (libvirt's unit: a VM up to
 * 4 TiB; a host does not manage a larger one), WAVE_MEM_NONE where the
 * guest did not report the value. Fault and swap counts are cumulative
 * modulo 2^32: a receiver takes differences modulo 2^32. Everything a
 * guest reports is clamped by the host before it is sent (a guest may
 * lie; the agent must not count its own host's messages as invalid).
 *
 * MEM_STATE is sent when the guest's report changed (its balloon driver
 * reports every stats period, about a second), MEM_CTL when a setting or
 * the pressure moved, HOST_MEM when the host's memory moved; all three in
 * snapshots. The barrier of MEM_STATE and MEM_CTL is the VM's (VM_ADD),
 * HOST_MEM's is the epoch's (as HOST_CPU's).
 */
#define WAVE_MEM_NONE      0xffffffffu

struct wave_mem_state {
	uint32_t vm_id;
	uint32_t barrier;
	uint32_t actual_kib;     /* the balloon's current size: what the guest has */
	uint32_t max_kib;        /* the VM's maximum (<memory>): the balloon fully deflated */
	uint32_t available_kib;  /* guest MemTotal */
	uint32_t usable_kib;     /* guest MemAvailable: what it could still use without swapping */
	uint32_t unused_kib;     /* guest MemFree */
	uint32_t caches_kib;     /* guest page cache that can be dropped */
	uint32_t rss_kib;        /* QEMU's resident memory, on the host */
	uint32_t major_faults;   /* cumulative, mod 2^32 */
	uint32_t swap_in_kib;    /* cumulative, mod 2^32 */
	uint32_t age_ms;         /* since the guest made its last report, at most (saturates); NONE: never */
};

#define WAVE_MEM_BALLOON  (1u << 0) /* a virtio balloon the host can set */
#define WAVE_MEM_STATS    (1u << 1) /* the guest reports statistics */
#define WAVE_MEM_PSI_VM   (1u << 2) /* the pressure is the VM's own (else the host's) */
#define WAVE_MEM_F_KNOWN  (WAVE_MEM_BALLOON | WAVE_MEM_STATS | WAVE_MEM_PSI_VM)

struct wave_mem_ctl {
	uint32_t vm_id;
	uint32_t barrier;
	uint32_t target_kib;     /* the balloon target last set (by anyone); <= max */
	uint32_t floor_kib;      /* never below this (metadata mem-min); 0: none */
	uint16_t weight;         /* share of what is left (metadata mem-weight) */
	uint8_t flags;           /* WAVE_MEM_* */
	uint8_t rsvd0;
	uint32_t minor_faults;   /* cumulative, mod 2^32 */
	uint32_t swap_out_kib;   /* cumulative, mod 2^32 */
	/*
	 * (1.6) What the guest used when it made the statistics in its last
	 * MEM_STATE, in balloon terms: the balloon then less its MemAvailable.
	 * NONE: not known (no statistics, or the balloon moved while they were
	 * made); the last known stands. The host pairs the two, since only it
	 * knows when it read what.
	 */
	uint32_t used_kib;
	uint64_t psi_some_us;    /* memory pressure stall, cumulative (PSI total) */
	uint64_t psi_full_us;
};

struct wave_host_mem {
	uint32_t barrier;        /* the epoch */
	uint32_t rsvd0;
	uint64_t budget_kib;     /* what the guests' balloons may add up to; 0: not managed */
	uint64_t total_kib;      /* host MemTotal */
	uint64_t avail_kib;      /* host MemAvailable */
	uint64_t psi_some_us;    /* host memory pressure, cumulative */
	uint64_t psi_full_us;
};

struct wave_msg {
	struct wave_hdr h;
	union {
		uint8_t raw[WAVE_PAYLOAD_SIZE];
		struct wave_hello hello;
		struct wave_snapshot snap;
		struct wave_vm_add vm_add;
		struct wave_vm_del vm_del;
		struct wave_vcpu_state vcpu;
		struct wave_host_cpu cpu;
		struct wave_heartbeat hb;
		struct wave_txn txn;
		struct wave_txn_result result;
		struct wave_resync_req resync;
		struct wave_wake_sub wake;
		struct wave_thread_cpus pin;
		struct wave_net_state net;
		struct wave_mem_state mem;
		struct wave_mem_ctl mctl;
		struct wave_host_mem hmem;
	} p;
} __attribute__((aligned(WAVE_MSG_SIZE)));

/* Layout pins. */
#define WAVE_PAYLOAD_IS_48(t) _Static_assert(sizeof(struct t) == WAVE_PAYLOAD_SIZE, #t " is not 48 bytes")
_Static_assert(sizeof(struct wave_hdr) == 16, "header is not 16 bytes");
_Static_assert(offsetof(struct wave_hdr, seq) == 0, "seq offset");
_Static_assert(offsetof(struct wave_hdr, type) == 4, "type offset");
_Static_assert(offsetof(struct wave_hdr, flags) == 5, "flags offset");
_Static_assert(offsetof(struct wave_hdr, ts_ns) == 8, "ts offset");
_Static_assert(sizeof(struct wave_msg) == WAVE_MSG_SIZE, "message is not 64 bytes");
_Static_assert(offsetof(struct wave_msg, p) == 16, "payload offset");
WAVE_PAYLOAD_IS_48(wave_hello);
WAVE_PAYLOAD_IS_48(wave_snapshot);
WAVE_PAYLOAD_IS_48(wave_vm_add);
WAVE_PAYLOAD_IS_48(wave_vm_del);
WAVE_PAYLOAD_IS_48(wave_vcpu_state);
WAVE_PAYLOAD_IS_48(wave_host_cpu);
WAVE_PAYLOAD_IS_48(wave_heartbeat);
WAVE_PAYLOAD_IS_48(wave_txn);
WAVE_PAYLOAD_IS_48(wave_txn_result);
WAVE_PAYLOAD_IS_48(wave_resync_req);
WAVE_PAYLOAD_IS_48(wave_wake_sub);
WAVE_PAYLOAD_IS_48(wave_thread_cpus);
WAVE_PAYLOAD_IS_48(wave_net_state);
WAVE_PAYLOAD_IS_48(wave_mem_state);
WAVE_PAYLOAD_IS_48(wave_mem_ctl);
WAVE_PAYLOAD_IS_48(wave_host_mem);
_Static_assert(offsetof(struct wave_mem_state, age_ms) == 44, "mem.age_ms");
_Static_assert(offsetof(struct wave_mem_ctl, weight) == 16, "mctl.weight");
_Static_assert(offsetof(struct wave_mem_ctl, psi_some_us) == 32, "mctl.psi_some_us");
_Static_assert(offsetof(struct wave_host_mem, budget_kib) == 8, "hmem.budget_kib");
_Static_assert(offsetof(struct wave_txn, u.balloon.rsvd) == 28, "txn.balloon.rsvd");
_Static_assert(offsetof(struct wave_txn, u.net.rate_bytes_s) == 24, "txn.net.rate_bytes_s");
_Static_assert(offsetof(struct wave_txn, u.net.burst_bytes) == 32, "txn.net.burst_bytes");
_Static_assert(offsetof(struct wave_txn, u.net.dir) == 36, "txn.net.dir");
_Static_assert(offsetof(struct wave_txn, u.net.rsvd1) == 40, "txn.net.rsvd1");
_Static_assert(offsetof(struct wave_net_state, rx_pkts) == 8, "net.rx_pkts");
_Static_assert(offsetof(struct wave_net_state, quiet_us) == 40, "net.quiet_us");
_Static_assert(offsetof(struct wave_thread_cpus, mask) == 16, "pin.mask");
_Static_assert(offsetof(struct wave_vcpu_state, flags) == 10, "vcpu.flags");
_Static_assert(offsetof(struct wave_wake_sub, kinds) == 12, "wake.kinds");
_Static_assert(offsetof(struct wave_hello, features) == 8, "hello.features");
_Static_assert(offsetof(struct wave_hello, generation) == 24, "hello.generation");
_Static_assert(offsetof(struct wave_hello, role) == 32, "hello.role");
_Static_assert(offsetof(struct wave_hello, ring_slots) == 36, "hello.ring_slots");
_Static_assert(offsetof(struct wave_vm_add, uuid) == 16, "vm_add.uuid");
_Static_assert(offsetof(struct wave_vm_add, name) == 32, "vm_add.name");
_Static_assert(offsetof(struct wave_vcpu_state, barrier) == 12, "vcpu.barrier");
_Static_assert(offsetof(struct wave_vcpu_state, run_ns) == 16, "vcpu.run_ns");
_Static_assert(offsetof(struct wave_vcpu_state, tid) == 40, "vcpu.tid");
_Static_assert(offsetof(struct wave_host_cpu, busy_ns) == 8, "cpu.busy_ns");
_Static_assert(offsetof(struct wave_host_cpu, rt_cap_ppm) == 28, "cpu.rt_cap_ppm");
_Static_assert(offsetof(struct wave_heartbeat, t_host_ns) == 16, "hb.t_host_ns");
_Static_assert(offsetof(struct wave_heartbeat, flags) == 12, "hb.flags");
_Static_assert(offsetof(struct wave_heartbeat, hold_ns) == 24, "hb.hold_ns");
_Static_assert(offsetof(struct wave_txn, index) == 16, "txn.index");
_Static_assert(offsetof(struct wave_txn, op_count) == 21, "txn.op_count");
_Static_assert(offsetof(struct wave_txn, u) == 24, "txn.u");
_Static_assert(offsetof(struct wave_txn, u.place.mask) == 32, "txn.place.mask");
_Static_assert(offsetof(struct wave_txn, u.cls.period_ns) == 40, "txn.cls.period");
_Static_assert(offsetof(struct wave_txn_result, err) == 12, "result.err");

#endif
