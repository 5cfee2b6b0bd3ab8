// SPDX-License-Identifier: BSD-3-Clause
/*
 * Message codec. Validation is table-free code, one function per type, so a
 * reader can see every rule for a message in one place; the alternative (a
 * generic field-descriptor table) is shorter but hides the cross-field rules
 * (runtime <= deadline <= period) that matter most.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "channel/codec.h"
#include "common/clock.h"
#include "common/log.h"

static const char *const type_names[WAVE_MSG_TYPE_MAX] = {
	[WAVE_MSG_INVALID] = "INVALID",
	[WAVE_MSG_HELLO] = "HELLO",
	[WAVE_MSG_SNAPSHOT_BEGIN] = "SNAPSHOT_BEGIN",
	[WAVE_MSG_SNAPSHOT_END] = "SNAPSHOT_END",
	[WAVE_MSG_VM_ADD] = "VM_ADD",
	[WAVE_MSG_VM_DEL] = "VM_DEL",
	[WAVE_MSG_VCPU_STATE] = "VCPU_STATE",
	[WAVE_MSG_HOST_CPU] = "HOST_CPU",
	[WAVE_MSG_HEARTBEAT] = "HEARTBEAT",
	[WAVE_MSG_HEARTBEAT_ECHO] = "HEARTBEAT_ECHO",
	[WAVE_MSG_TXN] = "TXN",
	[WAVE_MSG_TXN_RESULT] = "TXN_RESULT",
	[WAVE_MSG_RESYNC_REQ] = "RESYNC_REQ",
	[WAVE_MSG_WAKE_SUB] = "WAKE_SUB",
	[WAVE_MSG_THREAD_CPUS] = "THREAD_CPUS",
	[WAVE_MSG_NET_STATE] = "NET_STATE",
	[WAVE_MSG_MEM_STATE] = "MEM_STATE",
	[WAVE_MSG_MEM_CTL] = "MEM_CTL",
	[WAVE_MSG_HOST_MEM] = "HOST_MEM",
};

static const char *const status_names[WAVE_ST_MAX] = {
	[WAVE_ST_OK] = "ok",
	[WAVE_ST_STALE_EPOCH] = "stale-epoch",
	[WAVE_ST_STALE_TARGET] = "stale-target",
	[WAVE_ST_NO_TARGET] = "no-target",
	[WAVE_ST_INVALID] = "invalid",
	[WAVE_ST_FALLBACK] = "refused-in-fallback",
	[WAVE_ST_FAILED] = "failed",
};

static const char *const op_names[WAVE_OP_MAX] = {
	[WAVE_OP_PLACE] = "PLACE",
	[WAVE_OP_SET_WEIGHT] = "SET_WEIGHT",
	[WAVE_OP_SET_QUOTA] = "SET_QUOTA",
	[WAVE_OP_SET_CLASS] = "SET_CLASS",
	[WAVE_OP_TRIGGER] = "TRIGGER",
	[WAVE_OP_SET_BALLOON] = "SET_BALLOON",
	[WAVE_OP_SET_NET_RATE] = "SET_NET_RATE",
};

const char *wave_msg_type_name(unsigned int type)
{
	return type < WAVE_MSG_TYPE_MAX ? type_names[type] : "UNKNOWN";
}

const char *wave_status_name(unsigned int status)
{
	return status < WAVE_ST_MAX ? status_names[status] : "unknown";
}

const char *wave_op_name(unsigned int op)
{
	return op && op < WAVE_OP_MAX ? op_names[op] : "UNKNOWN";
}

void wave_msg_init(struct wave_msg *m, enum wave_msg_type type)
{
	memset(m, 0, sizeof(*m));
	m->h.type = (uint8_t)type;
}

void wave_msg_hello(struct wave_msg *m, enum wave_role role, uint64_t instance,
		    uint64_t generation, uint32_t ring_slots)
{
	wave_msg_init(m, WAVE_MSG_HELLO);
	m->p.hello.magic = WAVE_MAGIC;
	m->p.hello.major = WAVE_PROTO_MAJOR;
	m->p.hello.minor = WAVE_PROTO_MINOR;
	m->p.hello.features = WAVE_FEAT_BATCH;
	m->p.hello.instance = instance;
	m->p.hello.generation = generation;
	m->p.hello.role = (uint8_t)role;
	m->p.hello.ring_slots = ring_slots;
}

/*
 * Byte order. Every multi-byte field's bytes are reversed, whatever the
 * host: an involution, so this one function converts in either direction,
 * and tests run it on little-endian hosts too (wave_msg_to_wire() calls it
 * only on big-endian ones). The header type byte and a TXN's op byte are
 * read before anything is swapped (single bytes, order-free).
 */
#define SW16(x) ((x) = __builtin_bswap16(x))
#define SW32(x) ((x) = __builtin_bswap32(x))
#define SW64(x) ((x) = __builtin_bswap64(x))

static void swab_txn(struct wave_txn *t)
{
	SW32(t->txn_id); SW32(t->epoch); SW32(t->vm_id); SW32(t->barrier);
	SW16(t->index);
	switch (t->op) {
	case WAVE_OP_PLACE:
		SW32(t->u.place.cpu_base); SW64(t->u.place.mask);
		break;
	case WAVE_OP_SET_WEIGHT:
		SW32(t->u.weight.weight);
		break;
	case WAVE_OP_SET_QUOTA:
		SW32(t->u.quota.quota_us); SW32(t->u.quota.period_us);
		break;
	case WAVE_OP_SET_CLASS:
		SW64(t->u.cls.runtime_ns); SW64(t->u.cls.deadline_ns);
		SW64(t->u.cls.period_ns);
		break;
	case WAVE_OP_SET_BALLOON:
		SW32(t->u.balloon.target_kib);
		break;
	case WAVE_OP_SET_NET_RATE:
		SW64(t->u.net.rate_bytes_s); SW32(t->u.net.burst_bytes);
		break;
	}
}

void wave_msg_swab(struct wave_msg *m)
{
	SW32(m->h.seq); SW16(m->h.rsvd); SW64(m->h.ts_ns);
	switch (m->h.type) {
	case WAVE_MSG_HELLO: {
		struct wave_hello *p = &m->p.hello;
		SW32(p->magic); SW16(p->major); SW16(p->minor); SW64(p->features);
		SW64(p->instance); SW64(p->generation); SW32(p->ring_slots);
		break;
	}
	case WAVE_MSG_SNAPSHOT_BEGIN:
	case WAVE_MSG_SNAPSHOT_END:
		SW32(m->p.snap.epoch); SW32(m->p.snap.snap_id); SW32(m->p.snap.count);
		break;
	case WAVE_MSG_VM_ADD:
		SW32(m->p.vm_add.vm_id); SW16(m->p.vm_add.nr_vcpus);
		SW32(m->p.vm_add.weight); SW32(m->p.vm_add.barrier);
		break;
	case WAVE_MSG_VM_DEL:
		SW32(m->p.vm_del.vm_id); SW32(m->p.vm_del.barrier);
		break;
	case WAVE_MSG_VCPU_STATE: {
		struct wave_vcpu_state *p = &m->p.vcpu;
		SW32(p->vm_id); SW16(p->index); SW16(p->cpu); SW16(p->flags); SW32(p->barrier);
		SW64(p->run_ns); SW64(p->wait_ns); SW32(p->wakeups); SW32(p->preempts);
		SW32(p->tid); SW32(p->slot);
		break;
	}
	case WAVE_MSG_HOST_CPU: {
		struct wave_host_cpu *p = &m->p.cpu;
		SW16(p->cpu); SW16(p->flags); SW32(p->barrier); SW64(p->busy_ns);
		SW64(p->idle_ns); SW32(p->nr_running); SW32(p->rt_cap_ppm); SW32(p->rt_thread_cap_ppm);
		break;
	}
	case WAVE_MSG_HEARTBEAT:
	case WAVE_MSG_HEARTBEAT_ECHO:
		SW64(m->p.hb.hb_seq); SW32(m->p.hb.epoch); SW32(m->p.hb.flags);
		SW64(m->p.hb.t_host_ns); SW64(m->p.hb.hold_ns);
		break;
	case WAVE_MSG_TXN:
		swab_txn(&m->p.txn);
		break;
	case WAVE_MSG_TXN_RESULT: {
		struct wave_txn_result *p = &m->p.result;
		SW32(p->txn_id); SW32(p->epoch); SW32(p->err); SW32(p->vm_id);
		SW32(p->barrier);
		break;
	}
	case WAVE_MSG_RESYNC_REQ:
		SW32(m->p.resync.epoch);
		break;
	case WAVE_MSG_WAKE_SUB:
		SW32(m->p.wake.epoch); SW32(m->p.wake.vm_id); SW32(m->p.wake.barrier);
		break;
	case WAVE_MSG_THREAD_CPUS:
		SW32(m->p.pin.vm_id); SW16(m->p.pin.index); SW32(m->p.pin.barrier);
		SW32(m->p.pin.cpu_base); SW64(m->p.pin.mask);
		break;
	case WAVE_MSG_NET_STATE: {
		struct wave_net_state *p = &m->p.net;
		SW32(p->vm_id); SW32(p->barrier); SW64(p->rx_pkts); SW64(p->rx_bytes);
		SW64(p->tx_pkts); SW64(p->tx_bytes); SW32(p->quiet_us);
		break;
	}
	case WAVE_MSG_MEM_STATE: {
		uint32_t *f = &m->p.mem.vm_id; /* twelve u32, nothing else */

		for (int i = 0; i < 12; i++)
			SW32(f[i]);
		break;
	}
	case WAVE_MSG_MEM_CTL: {
		struct wave_mem_ctl *p = &m->p.mctl;
		SW32(p->vm_id); SW32(p->barrier); SW32(p->target_kib); SW32(p->floor_kib);
		SW16(p->weight); SW32(p->minor_faults); SW32(p->swap_out_kib); SW32(p->used_kib);
		SW64(p->psi_some_us); SW64(p->psi_full_us);
		break;
	}
	case WAVE_MSG_HOST_MEM: {
		struct wave_host_mem *p = &m->p.hmem;
		SW32(p->barrier); SW64(p->budget_kib); SW64(p->total_kib); SW64(p->avail_kib);
		SW64(p->psi_some_us); SW64(p->psi_full_us);
		break;
	}
	}
}

/* Validation. Each check_* returns 0 or -errno after writing the reason. */

#define FAIL(...) return wave_reason(why, len, -EINVAL, __VA_ARGS__)

/*
 * Reserved bytes. Each type has a mask of the bytes that must be zero (bit i:
 * byte i of the 64-byte message), so the check is one vector compare per
 * message instead of a loop per reserved field: the receive path validates
 * every message, and per-field loops cost more than the ring itself. A TXN
 * adds the reserved bytes of its op's arguments.
 */
#define ZERO_BYTES(off, n) ((((n) >= 64) ? ~0ull : ((1ull << (n)) - 1)) << (off))
#define ZF(f) ZERO_BYTES(offsetof(struct wave_msg, f), sizeof(((struct wave_msg *)0)->f))

static const uint64_t zero_bytes[WAVE_MSG_TYPE_MAX] = {
	[WAVE_MSG_HELLO] = ZF(h.rsvd) | ZF(p.hello.rsvd0) | ZF(p.hello.rsvd1),
	[WAVE_MSG_SNAPSHOT_BEGIN] = ZF(h.rsvd) | ZF(p.snap.rsvd),
	[WAVE_MSG_SNAPSHOT_END] = ZF(h.rsvd) | ZF(p.snap.rsvd),
	[WAVE_MSG_VM_ADD] = ZF(h.rsvd),
	[WAVE_MSG_VM_DEL] = ZF(h.rsvd) | ZF(p.vm_del.rsvd),
	[WAVE_MSG_VCPU_STATE] = ZF(h.rsvd),
	[WAVE_MSG_HOST_CPU] = ZF(h.rsvd) | ZF(p.cpu.rsvd),
	[WAVE_MSG_HEARTBEAT] = ZF(h.rsvd) | ZF(p.hb.rsvd1),
	[WAVE_MSG_HEARTBEAT_ECHO] = ZF(h.rsvd) | ZF(p.hb.rsvd1),
	[WAVE_MSG_TXN] = ZF(h.rsvd),
	[WAVE_MSG_TXN_RESULT] = ZF(h.rsvd) | ZF(p.result.rsvd0) | ZF(p.result.rsvd1),
	[WAVE_MSG_RESYNC_REQ] = ZF(h.rsvd) | ZF(p.resync.rsvd0) | ZF(p.resync.rsvd1),
	[WAVE_MSG_WAKE_SUB] = ZF(h.rsvd) | ZF(p.wake.rsvd0) | ZF(p.wake.rsvd1),
	[WAVE_MSG_THREAD_CPUS] = ZF(h.rsvd) | ZF(p.pin.rsvd0) | ZF(p.pin.rsvd1),
	[WAVE_MSG_NET_STATE] = ZF(h.rsvd) | ZF(p.net.rsvd0),
	[WAVE_MSG_MEM_STATE] = ZF(h.rsvd),
	[WAVE_MSG_MEM_CTL] = ZF(h.rsvd) | ZF(p.mctl.rsvd0),
	[WAVE_MSG_HOST_MEM] = ZF(h.rsvd) | ZF(p.hmem.rsvd0),
};

static const uint64_t txn_zero_bytes[WAVE_OP_MAX] = {
	[WAVE_OP_PLACE] = ZF(p.txn.u.place.rsvd0) | ZF(p.txn.u.place.rsvd1),
	[WAVE_OP_SET_WEIGHT] = ZF(p.txn.u.weight.rsvd),
	[WAVE_OP_SET_QUOTA] = ZF(p.txn.u.quota.rsvd),
	[WAVE_OP_TRIGGER] = ZF(p.txn.u),
	[WAVE_OP_SET_BALLOON] = ZF(p.txn.u.balloon.rsvd),
	[WAVE_OP_SET_NET_RATE] = ZF(p.txn.u.net.rsvd0) | ZF(p.txn.u.net.rsvd1),
};

/* Bit i set: byte i of m is not zero. Unrolled: a loop here costs a third more. */
static inline uint64_t nonzero_bytes(const struct wave_msg *m)
{
#if defined(__SSE2__)
	const __m128i *v = (const __m128i *)m;
	const __m128i z = _mm_setzero_si128();
	uint64_t a = (uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_load_si128(&v[0]), z));
	uint64_t b = (uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_load_si128(&v[1]), z));
	uint64_t c = (uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_load_si128(&v[2]), z));
	uint64_t d = (uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_load_si128(&v[3]), z));

	return ~(a | b << 16 | c << 32 | d << 48);
#else
	const uint8_t *b = (const uint8_t *)m;
	uint64_t nz = 0;

	for (int i = 0; i < WAVE_MSG_SIZE; i++)
		nz |= (uint64_t)(b[i] != 0) << i;
	return nz;
#endif
}

static __attribute__((noinline)) int bad_reserved(const struct wave_msg *m, uint64_t set,
						   char *why, size_t len)
{
	unsigned int off = (unsigned int)__builtin_ctzll(set);

	FAIL("%s: reserved byte %u is 0x%02x (must be zero)", wave_msg_type_name(m->h.type),
	     off, ((const uint8_t *)m)[off]);
}

static int check_hello(const struct wave_msg *m, char *why, size_t len)
{
	const struct wave_hello *p = &m->p.hello;

	if (p->magic != WAVE_MAGIC)
		return wave_reason(why, len, -EPROTO, "HELLO: bad magic 0x%08x (want 0x%08x)",
			   p->magic, WAVE_MAGIC);
	if (p->major != WAVE_PROTO_MAJOR)
		return wave_reason(why, len, -EPROTONOSUPPORT,
			   "HELLO: protocol version %u.%u, this side speaks %u.%u",
			   p->major, p->minor, WAVE_PROTO_MAJOR, WAVE_PROTO_MINOR);
	/* 1.4 changed what an echo carries (wire.h): an older peer would misread it. */
	if (p->minor < WAVE_PROTO_MIN_MINOR)
		return wave_reason(why, len, -EPROTONOSUPPORT,
			   "HELLO: protocol version %u.%u, this side needs %u.%u or later",
			   p->major, p->minor, WAVE_PROTO_MAJOR, WAVE_PROTO_MIN_MINOR);
	if (p->role != WAVE_ROLE_HOST && p->role != WAVE_ROLE_AGENT)
		FAIL("HELLO: role %u is neither host (1) nor agent (2)", p->role);
	if (p->features & ~WAVE_FEAT_KNOWN)
		FAIL("HELLO: unknown feature bits 0x%llx",
		     (unsigned long long)(p->features & ~WAVE_FEAT_KNOWN));
	if (p->ring_slots & (p->ring_slots - 1))
		FAIL("HELLO: ring_slots %u is not a power of two", p->ring_slots);
	return 0;
}

static int check_name(const char *name, char *why, size_t len)
{
	int i, ended = 0;

	for (i = 0; i < WAVE_NAME_LEN; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == 0)
			ended = 1;
		else if (ended || c < 0x20 || c > 0x7e)
			FAIL("VM_ADD: name byte %d is 0x%02x (want printable, NUL-padded)",
			     i, c);
	}
	return 0;
}

static int check_vm_add(const struct wave_msg *m, char *why, size_t len)
{
	const struct wave_vm_add *p = &m->p.vm_add;

	if (p->vm_id >= WAVE_MAX_VMS)
		FAIL("VM_ADD: vm_id %u >= %u", p->vm_id, WAVE_MAX_VMS);
	if (p->nr_vcpus == 0 || p->nr_vcpus > WAVE_MAX_VCPUS)
		FAIL("VM_ADD: nr_vcpus %u not in 1..%u", p->nr_vcpus, WAVE_MAX_VCPUS);
	if (p->vm_class >= WAVE_CLASS_MAX)
		FAIL("VM_ADD: class %u unknown", p->vm_class);
	if (p->nr_threads > WAVE_MAX_THREADS)
		FAIL("VM_ADD: nr_threads %u > %u", p->nr_threads, WAVE_MAX_THREADS);
	if (p->weight < WAVE_WEIGHT_MIN || p->weight > WAVE_WEIGHT_MAX)
		FAIL("VM_ADD: weight %u not in %u..%u", p->weight, WAVE_WEIGHT_MIN,
		     WAVE_WEIGHT_MAX);
	return check_name(p->name, why, len);
}

static int check_target(const char *what, uint32_t vm_id, unsigned int kind,
			unsigned int index, char *why, size_t len)
{
	if (vm_id >= WAVE_MAX_VMS)
		FAIL("%s: vm_id %u >= %u", what, vm_id, WAVE_MAX_VMS);
	if (kind >= WAVE_KIND_MAX)
		FAIL("%s: kind %u unknown", what, kind);
	if (kind == WAVE_KIND_VCPU && index >= WAVE_MAX_VCPUS)
		FAIL("%s: vCPU index %u >= %u", what, index, WAVE_MAX_VCPUS);
	if (kind != WAVE_KIND_VCPU && index >= WAVE_MAX_THREADS)
		FAIL("%s: thread index %u >= %u", what, index, WAVE_MAX_THREADS);
	return 0;
}

static int check_vcpu(const struct wave_msg *m, char *why, size_t len)
{
	const struct wave_vcpu_state *p = &m->p.vcpu;
	int ret = check_target("VCPU_STATE", p->vm_id, p->kind, p->index, why, len);

	if (ret)
		return ret;
	if (p->state >= WAVE_TS_MAX)
		FAIL("VCPU_STATE: state %u unknown", p->state);
	if (p->cpu >= WAVE_MAX_CPUS && p->cpu != WAVE_CPU_NONE)
		FAIL("VCPU_STATE: cpu %u >= %u", p->cpu, WAVE_MAX_CPUS);
	if (p->flags & ~WAVE_THREAD_F_KNOWN)
		FAIL("VCPU_STATE: unknown flags 0x%x", p->flags);
	if (p->slot > WAVE_KSTATE_SLOTS)
		FAIL("VCPU_STATE: slot %u > %u", p->slot, WAVE_KSTATE_SLOTS);
	return 0;
}

static int check_thread_cpus(const struct wave_msg *m, char *why, size_t len)
{
	const struct wave_thread_cpus *p = &m->p.pin;
	int ret = check_target("THREAD_CPUS", p->vm_id, p->kind, p->index, why, len);

	if (ret)
		return ret;
	if (p->cpu_base % 64 || p->cpu_base >= WAVE_MAX_CPUS)
		FAIL("THREAD_CPUS: cpu_base %u not a multiple of 64 below %u", p->cpu_base,
		     WAVE_MAX_CPUS);
	return 0;
}

static int check_host_cpu(const struct wave_msg *m, char *why, size_t len)
{
	const struct wave_host_cpu *p = &m->p.cpu;

	if (p->cpu >= WAVE_MAX_CPUS)
		FAIL("HOST_CPU: cpu %u >= %u", p->cpu, WAVE_MAX_CPUS);
	if (p->flags & ~WAVE_CPU_F_KNOWN)
		FAIL("HOST_CPU: unknown flags 0x%x", p->flags);
	if (p->rt_cap_ppm > 1000000 || p->rt_thread_cap_ppm > 1000000)
		FAIL("HOST_CPU: rt_cap_ppm %u / rt_thread_cap_ppm %u over a whole CPU (1000000)",
		     p->rt_cap_ppm, p->rt_thread_cap_ppm);
	return 0;
}

static int check_hb(const struct wave_msg *m, char *why, size_t len)
{
	const char *name = m->h.type == WAVE_MSG_HEARTBEAT ? "HEARTBEAT" : "HEARTBEAT_ECHO";

	if (m->p.hb.flags & ~WAVE_HB_F_KNOWN)
		FAIL("%s: unknown flags 0x%x", name, m->p.hb.flags);
	if (m->h.type == WAVE_MSG_HEARTBEAT && m->p.hb.hold_ns)
		FAIL("HEARTBEAT: hold_ns %llu must be zero", (unsigned long long)m->p.hb.hold_ns);
	if (m->p.hb.hold_ns > WAVE_HB_MAX_HOLD_NS)
		FAIL("HEARTBEAT_ECHO: hold_ns %llu over %llu",
		     (unsigned long long)m->p.hb.hold_ns, WAVE_HB_MAX_HOLD_NS);
	return 0;
}

static int check_place(const struct wave_txn *t, char *why, size_t len)
{
	uint32_t base = t->u.place.cpu_base;
	uint64_t mask = t->u.place.mask;

	if (base % 64 || base >= WAVE_MAX_CPUS)
		FAIL("TXN PLACE: cpu_base %u not a multiple of 64 below %u", base,
		     WAVE_MAX_CPUS);
	if (!mask)
		FAIL("TXN PLACE: empty CPU mask");
	return 0;
}

static int check_quota(const struct wave_txn *t, char *why, size_t len)
{
	uint32_t q = t->u.quota.quota_us, p = t->u.quota.period_us;

	if (p < WAVE_PERIOD_US_MIN || p > WAVE_PERIOD_US_MAX)
		FAIL("TXN SET_QUOTA: period_us %u not in %u..%u", p, WAVE_PERIOD_US_MIN,
		     WAVE_PERIOD_US_MAX);
	if (q != WAVE_QUOTA_UNLIMITED && q < WAVE_PERIOD_US_MIN)
		FAIL("TXN SET_QUOTA: quota_us %u below %u", q, WAVE_PERIOD_US_MIN);
	return 0;
}

static int check_class(const struct wave_txn *t, char *why, size_t len)
{
	uint64_t r = t->u.cls.runtime_ns, d = t->u.cls.deadline_ns, p = t->u.cls.period_ns;

	switch (t->policy) {
	case WAVE_SCHED_OTHER:
		if (t->prio || r || d || p)
			FAIL("TXN SET_CLASS OTHER: prio and times must be zero");
		return 0;
	case WAVE_SCHED_FIFO:
		if (t->prio < 1 || t->prio > WAVE_FIFO_PRIO_MAX)
			FAIL("TXN SET_CLASS FIFO: prio %u not in 1..%u", t->prio,
			     WAVE_FIFO_PRIO_MAX);
		if (r || d || p)
			FAIL("TXN SET_CLASS FIFO: times must be zero");
		return 0;
	case WAVE_SCHED_DEADLINE:
		if (t->prio)
			FAIL("TXN SET_CLASS DEADLINE: prio %u must be zero", t->prio);
		if (r < WAVE_DL_RUNTIME_NS_MIN || r > d || d > p || p > WAVE_DL_PERIOD_NS_MAX)
			FAIL("TXN SET_CLASS DEADLINE: need %u <= runtime %llu <= deadline %llu <= period %llu <= %llu",
			     WAVE_DL_RUNTIME_NS_MIN, (unsigned long long)r,
			     (unsigned long long)d, (unsigned long long)p,
			     (unsigned long long)WAVE_DL_PERIOD_NS_MAX);
		return 0;
	}
	FAIL("TXN SET_CLASS: policy %u unknown", t->policy);
}

static int check_net_rate(const struct wave_txn *t, char *why, size_t len)
{
	uint64_t r = t->u.net.rate_bytes_s;
	uint32_t b = t->u.net.burst_bytes;

	if (t->kind != WAVE_KIND_VCPU || t->index)
		FAIL("TXN SET_NET_RATE: names a VM: kind and index must be zero");
	if (t->u.net.dir < WAVE_NET_DIR_FROM || t->u.net.dir > WAVE_NET_DIR_BOTH)
		FAIL("TXN SET_NET_RATE: dir %u not in 1..3", t->u.net.dir);
	if (r > WAVE_NET_MAX_RATE)
		FAIL("TXN SET_NET_RATE: rate %llu bytes/s over %llu", (unsigned long long)r,
		     (unsigned long long)WAVE_NET_MAX_RATE);
	if (r ? b < WAVE_NET_MIN_BURST || b > WAVE_NET_MAX_BURST : b != 0)
		FAIL("TXN SET_NET_RATE: burst %u bytes (%s)", b,
		     r ? "not in 1514..64 MiB" : "must be 0 without a rate");
	return 0;
}

static int check_txn(const struct wave_msg *m, char *why, size_t len)
{
	const struct wave_txn *t = &m->p.txn;
	int ret = check_target("TXN", t->vm_id, t->kind, t->index, why, len);

	if (ret)
		return ret;
	if (t->op_count == 0 || t->op_count > WAVE_TXN_MAX_OPS)
		FAIL("TXN: op_count %u not in 1..%u", t->op_count, WAVE_TXN_MAX_OPS);
	if (t->op_idx >= t->op_count)
		FAIL("TXN: op_idx %u >= op_count %u", t->op_idx, t->op_count);
	if (t->op != WAVE_OP_SET_CLASS && (t->policy || t->prio))
		FAIL("TXN %s: policy/prio must be zero", wave_op_name(t->op));
	switch (t->op) {
	case WAVE_OP_PLACE:
		return check_place(t, why, len);
	case WAVE_OP_SET_WEIGHT:
		if (t->u.weight.weight < WAVE_WEIGHT_MIN || t->u.weight.weight > WAVE_WEIGHT_MAX)
			FAIL("TXN SET_WEIGHT: weight %u not in %u..%u", t->u.weight.weight,
			     WAVE_WEIGHT_MIN, WAVE_WEIGHT_MAX);
		return 0;
	case WAVE_OP_SET_QUOTA:
		return check_quota(t, why, len);
	case WAVE_OP_SET_CLASS:
		return check_class(t, why, len);
	case WAVE_OP_TRIGGER:
		return 0; /* no arguments: all reserved */
	case WAVE_OP_SET_BALLOON:
		if (t->kind != WAVE_KIND_VCPU || t->index)
			FAIL("TXN SET_BALLOON: names a VM: kind and index must be zero");
		if (!t->u.balloon.target_kib || t->u.balloon.target_kib == WAVE_MEM_NONE)
			FAIL("TXN SET_BALLOON: target_kib %u", t->u.balloon.target_kib);
		return 0;
	case WAVE_OP_SET_NET_RATE:
		return check_net_rate(t, why, len);
	}
	FAIL("TXN: op %u unknown", t->op);
}

static int check_result(const struct wave_msg *m, char *why, size_t len)
{
	const struct wave_txn_result *p = &m->p.result;

	if (p->status >= WAVE_ST_MAX)
		FAIL("TXN_RESULT: status %u unknown", p->status);
	if ((p->status == WAVE_ST_FAILED) != (p->err > 0))
		FAIL("TXN_RESULT: err %d does not fit status %s", p->err,
		     wave_status_name(p->status));
	if (p->op_idx >= WAVE_TXN_MAX_OPS)
		FAIL("TXN_RESULT: op_idx %u >= %u", p->op_idx, WAVE_TXN_MAX_OPS);
	return 0;
}

static int check_vm_del(const struct wave_msg *m, char *why, size_t len)
{
	if (m->p.vm_del.vm_id >= WAVE_MAX_VMS)
		FAIL("VM_DEL: vm_id %u >= %u", m->p.vm_del.vm_id, WAVE_MAX_VMS);
	return 0;
}

static int check_resync(const struct wave_msg *m, char *why, size_t len)
{
	if (m->p.resync.reason >= WAVE_RESYNC_MAX)
		FAIL("RESYNC_REQ: reason %u unknown", m->p.resync.reason);
	return 0;
}

static int check_wake_sub(const struct wave_msg *m, char *why, size_t len)
{
	if (m->p.wake.vm_id >= WAVE_MAX_VMS)
		FAIL("WAKE_SUB: vm_id %u >= %u", m->p.wake.vm_id, WAVE_MAX_VMS);
	if (m->p.wake.kinds & ~(((1u << WAVE_KIND_MAX) - 1) | WAVE_WAKE_NET))
		FAIL("WAKE_SUB: kinds 0x%02x name unknown thread kinds", m->p.wake.kinds);
	return 0;
}

static int check_net(const struct wave_msg *m, char *why, size_t len)
{
	const struct wave_net_state *p = &m->p.net;

	if (p->vm_id >= WAVE_MAX_VMS)
		FAIL("NET_STATE: vm_id %u >= %u", p->vm_id, WAVE_MAX_VMS);
	if (p->flags & ~WAVE_NET_F_KNOWN)
		FAIL("NET_STATE: unknown flags 0x%02x", p->flags);
	if (p->source == WAVE_NET_SRC_NONE || p->source >= WAVE_NET_SRC_MAX)
		FAIL("NET_STATE: source %u unknown", p->source);
	if (p->nr_ifaces == 0 || p->nr_ifaces > WAVE_MAX_IFACES)
		FAIL("NET_STATE: nr_ifaces %u not in 1..%u", p->nr_ifaces, WAVE_MAX_IFACES);
	if (!(p->flags & WAVE_NET_ARRIVAL) && p->quiet_us)
		FAIL("NET_STATE: quiet_us %u without ARRIVAL", p->quiet_us);
	if (p->rx_bytes < p->rx_pkts || p->tx_bytes < p->tx_pkts)
		FAIL("NET_STATE: fewer bytes than packets (rx %llu/%llu, tx %llu/%llu)",
		     (unsigned long long)p->rx_bytes, (unsigned long long)p->rx_pkts,
		     (unsigned long long)p->tx_bytes, (unsigned long long)p->tx_pkts);
	return 0;
}

/* A size the guest reported: within what the VM has, or not reported. */
#define MEM_WITHIN(what, v, lim)                                                         \
	do {                                                                             \
		if ((v) != WAVE_MEM_NONE && (v) > (lim))                                 \
			FAIL("MEM_STATE: %s %u KiB > %u KiB", what, (v), (lim));           \
	} while (0)

static int check_mem(const struct wave_msg *m, char *why, size_t len)
{
	const struct wave_mem_state *p = &m->p.mem;

	if (p->vm_id >= WAVE_MAX_VMS)
		FAIL("MEM_STATE: vm_id %u >= %u", p->vm_id, WAVE_MAX_VMS);
	if (!p->max_kib || p->max_kib == WAVE_MEM_NONE)
		FAIL("MEM_STATE: max_kib %u", p->max_kib);
	MEM_WITHIN("actual_kib", p->actual_kib, p->max_kib);
	MEM_WITHIN("available_kib", p->available_kib, p->max_kib);
	if (p->available_kib != WAVE_MEM_NONE) {
		MEM_WITHIN("usable_kib", p->usable_kib, p->available_kib);
		MEM_WITHIN("unused_kib", p->unused_kib, p->available_kib);
		MEM_WITHIN("caches_kib", p->caches_kib, p->available_kib);
	}
	return 0;
}

static int check_mem_ctl(const struct wave_msg *m, char *why, size_t len)
{
	const struct wave_mem_ctl *p = &m->p.mctl;

	if (p->vm_id >= WAVE_MAX_VMS)
		FAIL("MEM_CTL: vm_id %u >= %u", p->vm_id, WAVE_MAX_VMS);
	if (p->flags & ~WAVE_MEM_F_KNOWN)
		FAIL("MEM_CTL: unknown flags 0x%02x", p->flags);
	if (p->weight < WAVE_WEIGHT_MIN || p->weight > WAVE_WEIGHT_MAX)
		FAIL("MEM_CTL: weight %u not in %u..%u", p->weight, WAVE_WEIGHT_MIN,
		     WAVE_WEIGHT_MAX);
	if (!p->target_kib || p->target_kib == WAVE_MEM_NONE)
		FAIL("MEM_CTL: target_kib %u", p->target_kib);
	if (p->psi_full_us > p->psi_some_us)
		FAIL("MEM_CTL: full stall %llu us > some stall %llu us",
		     (unsigned long long)p->psi_full_us, (unsigned long long)p->psi_some_us);
	return 0;
}

static int check_host_mem(const struct wave_msg *m, char *why, size_t len)
{
	const struct wave_host_mem *p = &m->p.hmem;

	if (p->avail_kib > p->total_kib)
		FAIL("HOST_MEM: available %llu KiB > total %llu KiB",
		     (unsigned long long)p->avail_kib, (unsigned long long)p->total_kib);
	if (p->psi_full_us > p->psi_some_us)
		FAIL("HOST_MEM: full stall %llu us > some stall %llu us",
		     (unsigned long long)p->psi_full_us, (unsigned long long)p->psi_some_us);
	return 0;
}

/*
 * The rules of each type beyond its reserved bytes; NULL: none. A table
 * rather than a switch so that wave_msg_check() stays a small leaf-like
 * function that tail-calls: the receive path runs it on every message.
 */
static int (*const check_type[WAVE_MSG_TYPE_MAX])(const struct wave_msg *, char *, size_t) = {
	[WAVE_MSG_HELLO] = check_hello,
	[WAVE_MSG_VM_ADD] = check_vm_add,
	[WAVE_MSG_VM_DEL] = check_vm_del,
	[WAVE_MSG_VCPU_STATE] = check_vcpu,
	[WAVE_MSG_HOST_CPU] = check_host_cpu,
	[WAVE_MSG_HEARTBEAT] = check_hb,
	[WAVE_MSG_HEARTBEAT_ECHO] = check_hb,
	[WAVE_MSG_TXN] = check_txn,
	[WAVE_MSG_TXN_RESULT] = check_result,
	[WAVE_MSG_RESYNC_REQ] = check_resync,
	[WAVE_MSG_WAKE_SUB] = check_wake_sub,
	[WAVE_MSG_THREAD_CPUS] = check_thread_cpus,
	[WAVE_MSG_NET_STATE] = check_net,
	[WAVE_MSG_MEM_STATE] = check_mem,
	[WAVE_MSG_MEM_CTL] = check_mem_ctl,
	[WAVE_MSG_HOST_MEM] = check_host_mem,
};

static __attribute__((noinline)) int bad_header(const struct wave_msg *m, char *why, size_t len)
{
	if (m->h.type == WAVE_MSG_INVALID || m->h.type >= WAVE_MSG_TYPE_MAX)
		return wave_reason(why, len, -EBADMSG, "unknown message type %u", m->h.type);
	FAIL("%s: unknown header flags 0x%02x", wave_msg_type_name(m->h.type), m->h.flags);
}

int wave_msg_check(const struct wave_msg *m, char *why, size_t len)
{
	unsigned int type = m->h.type;
	uint64_t zero, set;

	if (unlikely(type - 1u >= WAVE_MSG_TYPE_MAX - 1u || (m->h.flags & ~WAVE_F_KNOWN)))
		return bad_header(m, why, len);
	zero = zero_bytes[type];
	if (type == WAVE_MSG_TXN && m->p.txn.op < WAVE_OP_MAX)
		zero |= txn_zero_bytes[m->p.txn.op];
	set = nonzero_bytes(m) & zero;
	if (unlikely(set))
		return bad_reserved(m, set, why, len);
	return check_type[type] ? check_type[type](m, why, len) : 0;
}
