// SPDX-License-Identifier: BSD-3-Clause
/* Codec: byte order on the wire, and validation of every message type. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "channel/codec.h"

static char why[200];

static struct wave_msg vcpu_msg(void)
{
	struct wave_msg m;

	wave_msg_init(&m, WAVE_MSG_VCPU_STATE);
	m.p.vcpu.vm_id = 7;
	m.p.vcpu.index = 1;
	m.p.vcpu.kind = WAVE_KIND_VCPU;
	m.p.vcpu.state = WAVE_TS_RUNNING;
	m.p.vcpu.cpu = 1;
	m.p.vcpu.barrier = 42;
	m.p.vcpu.run_ns = 1000;
	return m;
}

static struct wave_msg txn_msg(enum wave_txn_op op)
{
	struct wave_msg m;

	wave_msg_init(&m, WAVE_MSG_TXN);
	m.p.txn.txn_id = 9;
	m.p.txn.epoch = 3;
	m.p.txn.vm_id = 7;
	m.p.txn.kind = WAVE_KIND_VCPU;
	m.p.txn.op = (uint8_t)op;
	m.p.txn.op_count = 1;
	switch (op) {
	case WAVE_OP_PLACE:
		m.p.txn.u.place.mask = 0x2;
		break;
	case WAVE_OP_SET_WEIGHT:
		m.p.txn.u.weight.weight = 100;
		break;
	case WAVE_OP_SET_QUOTA:
		m.p.txn.u.quota.quota_us = 50000;
		m.p.txn.u.quota.period_us = 100000;
		break;
	case WAVE_OP_SET_CLASS:
		m.p.txn.policy = WAVE_SCHED_DEADLINE;
		m.p.txn.u.cls.runtime_ns = 1000000;
		m.p.txn.u.cls.deadline_ns = 5000000;
		m.p.txn.u.cls.period_ns = 5000000;
		break;
	case WAVE_OP_SET_BALLOON:
		m.p.txn.u.balloon.target_kib = 262144;
		break;
	case WAVE_OP_SET_NET_RATE:
		m.p.txn.u.net.rate_bytes_s = 12500000;
		m.p.txn.u.net.burst_bytes = 65536;
		m.p.txn.u.net.dir = WAVE_NET_DIR_TO;
		break;
	default:
		break;
	}
	return m;
}

static void wire_fields_are_little_endian(void **state)
{
	struct wave_msg m = vcpu_msg();
	const uint8_t *b = (const uint8_t *)&m;

	m.h.seq = 0x01020304;
	m.p.vcpu.vm_id = 0x0a0b0c0d;
	m.p.vcpu.run_ns = 0x1122334455667788ull;
	wave_msg_to_wire(&m);
	assert_int_equal(b[0], 0x04);
	assert_int_equal(b[3], 0x01);
	assert_int_equal(b[16], 0x0d);
	assert_int_equal(b[19], 0x0a);
	assert_int_equal(b[16 + 16], 0x88);
	assert_int_equal(b[16 + 23], 0x11);
}

/*
 * The big-endian conversion, run here whatever the host's order: every
 * multi-byte field of the type is byte-reversed, single bytes are not, and
 * a second pass gives the message back.
 */
static void swab_reverses_every_field_and_is_its_own_inverse(void **state)
{
	enum wave_txn_op ops[] = { WAVE_OP_PLACE, WAVE_OP_SET_WEIGHT, WAVE_OP_SET_QUOTA,
				   WAVE_OP_SET_CLASS, WAVE_OP_SET_BALLOON, WAVE_OP_SET_NET_RATE };
	struct wave_msg m = vcpu_msg(), b;

	m.h.seq = 0x01020304;
	m.h.ts_ns = 0x1122334455667788ull;
	m.p.vcpu.vm_id = 0x0a0b0c0d;
	m.p.vcpu.index = 0x0102;
	m.p.vcpu.run_ns = 0x0102030405060708ull;
	b = m;
	wave_msg_swab(&b);
	assert_int_equal(b.h.seq, 0x04030201);
	assert_int_equal(b.h.type, WAVE_MSG_VCPU_STATE);
	assert_int_equal(b.h.ts_ns, 0x8877665544332211ull);
	assert_int_equal(b.p.vcpu.vm_id, 0x0d0c0b0a);
	assert_int_equal(b.p.vcpu.index, 0x0201);
	assert_int_equal(b.p.vcpu.kind, WAVE_KIND_VCPU);
	assert_int_equal(b.p.vcpu.run_ns, 0x0807060504030201ull);
	assert_int_equal(b.p.vcpu.barrier, __builtin_bswap32(42));
	wave_msg_swab(&b);
	assert_memory_equal(&m, &b, sizeof(m));
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct wave_msg a = txn_msg(ops[i]);

		b = a;
		wave_msg_swab(&b);
		assert_int_equal(b.p.txn.txn_id, __builtin_bswap32(9));
		assert_int_equal(b.p.txn.op, ops[i]);
		if (ops[i] == WAVE_OP_PLACE)
			assert_int_equal(b.p.txn.u.place.mask, __builtin_bswap64(0x2));
		if (ops[i] == WAVE_OP_SET_QUOTA)
			assert_int_equal(b.p.txn.u.quota.period_us, __builtin_bswap32(100000));
		if (ops[i] == WAVE_OP_SET_CLASS)
			assert_int_equal(b.p.txn.u.cls.period_ns, __builtin_bswap64(5000000));
		if (ops[i] == WAVE_OP_SET_BALLOON)
			assert_int_equal(b.p.txn.u.balloon.target_kib, __builtin_bswap32(262144));
		if (ops[i] == WAVE_OP_SET_NET_RATE) {
			assert_int_equal(b.p.txn.u.net.rate_bytes_s, __builtin_bswap64(12500000));
			assert_int_equal(b.p.txn.u.net.burst_bytes, __builtin_bswap32(65536));
			assert_int_equal(b.p.txn.u.net.dir, WAVE_NET_DIR_TO);
		}
		wave_msg_swab(&b);
		assert_memory_equal(&a, &b, sizeof(a));
	}
	wave_msg_init(&m, WAVE_MSG_WAKE_SUB);
	m.p.wake.vm_id = 0x01020304;
	m.p.wake.kinds = 3;
	b = m;
	wave_msg_swab(&b);
	assert_int_equal(b.p.wake.vm_id, 0x04030201);
	assert_int_equal(b.p.wake.kinds, 3);
	wave_msg_swab(&b);
	assert_memory_equal(&m, &b, sizeof(m));
	wave_msg_init(&m, WAVE_MSG_THREAD_CPUS);
	m.p.pin.vm_id = 0x01020304;
	m.p.pin.index = 0x0102;
	m.p.pin.cpu_base = 0x40;
	m.p.pin.mask = 0x0102030405060708ull;
	b = m;
	wave_msg_swab(&b);
	assert_int_equal(b.p.pin.vm_id, 0x04030201);
	assert_int_equal(b.p.pin.index, 0x0201);
	assert_int_equal(b.p.pin.cpu_base, 0x40000000);
	assert_int_equal(b.p.pin.mask, 0x0807060504030201ull);
	wave_msg_swab(&b);
	assert_memory_equal(&m, &b, sizeof(m));
	m = vcpu_msg();
	m.p.vcpu.flags = WAVE_THREAD_PINNED;
	b = m;
	wave_msg_swab(&b);
	assert_int_equal(b.p.vcpu.flags, WAVE_THREAD_PINNED << 8);
	wave_msg_init(&m, WAVE_MSG_NET_STATE);
	m.p.net.vm_id = 0x01020304;
	m.p.net.rx_pkts = 0x0102030405060708ull;
	m.p.net.tx_bytes = 0x1112131415161718ull;
	m.p.net.quiet_us = 0x01020304;
	m.p.net.source = WAVE_NET_SRC_BPF;
	b = m;
	wave_msg_swab(&b);
	assert_int_equal(b.p.net.vm_id, 0x04030201);
	assert_int_equal(b.p.net.rx_pkts, 0x0807060504030201ull);
	assert_int_equal(b.p.net.tx_bytes, 0x1817161514131211ull);
	assert_int_equal(b.p.net.quiet_us, 0x04030201);
	assert_int_equal(b.p.net.source, WAVE_NET_SRC_BPF);
	wave_msg_swab(&b);
	assert_memory_equal(&m, &b, sizeof(m));
	wave_msg_init(&m, WAVE_MSG_MEM_STATE);
	m.p.mem.vm_id = 0x01020304;
	m.p.mem.age_ms = 0x0a0b0c0d;
	b = m;
	wave_msg_swab(&b);
	assert_int_equal(b.p.mem.vm_id, 0x04030201);
	assert_int_equal(b.p.mem.age_ms, 0x0d0c0b0a);
	wave_msg_swab(&b);
	assert_memory_equal(&m, &b, sizeof(m));
	wave_msg_init(&m, WAVE_MSG_MEM_CTL);
	m.p.mctl.weight = 0x0102;
	m.p.mctl.flags = WAVE_MEM_BALLOON;
	m.p.mctl.psi_full_us = 0x0102030405060708ull;
	m.p.mctl.used_kib = 0x01020304;
	b = m;
	wave_msg_swab(&b);
	assert_int_equal(b.p.mctl.weight, 0x0201);
	assert_int_equal(b.p.mctl.used_kib, 0x04030201);
	assert_int_equal(b.p.mctl.flags, WAVE_MEM_BALLOON);
	assert_int_equal(b.p.mctl.psi_full_us, 0x0807060504030201ull);
	wave_msg_swab(&b);
	assert_memory_equal(&m, &b, sizeof(m));
	wave_msg_init(&m, WAVE_MSG_HOST_MEM);
	m.p.hmem.budget_kib = 0x0102030405060708ull;
	b = m;
	wave_msg_swab(&b);
	assert_int_equal(b.p.hmem.budget_kib, 0x0807060504030201ull);
	wave_msg_swab(&b);
	assert_memory_equal(&m, &b, sizeof(m));
}

static void valid_messages_pass(void **state)
{
	struct wave_msg m = vcpu_msg();

	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	for (int op = WAVE_OP_PLACE; op < WAVE_OP_MAX; op++) {
		m = txn_msg((enum wave_txn_op)op);
		assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	}
	wave_msg_hello(&m, WAVE_ROLE_AGENT, 1, 2, 1024);
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	wave_msg_init(&m, WAVE_MSG_HEARTBEAT);
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	wave_msg_init(&m, WAVE_MSG_VM_ADD);
	m.p.vm_add.nr_vcpus = 2;
	m.p.vm_add.weight = 100;
	strcpy(m.p.vm_add.name, "lat0");
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
}

static void hello_bad_magic_is_protocol_error(void **state)
{
	struct wave_msg m;

	wave_msg_hello(&m, WAVE_ROLE_HOST, 1, 1, 0);
	m.p.hello.magic = 0xdeadbeef;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "magic 0xdeadbeef"));
}

static void hello_version_mismatch_is_named(void **state)
{
	struct wave_msg m;
	char want[64];

	wave_msg_hello(&m, WAVE_ROLE_HOST, 1, 1, 0);
	m.p.hello.major = WAVE_PROTO_MAJOR + 1;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EPROTONOSUPPORT);
	snprintf(want, sizeof(want), "protocol version %u.%u, this side speaks %u.%u",
		 WAVE_PROTO_MAJOR + 1, WAVE_PROTO_MINOR, WAVE_PROTO_MAJOR, WAVE_PROTO_MINOR);
	assert_non_null(strstr(why, want));
	/* Older minors (1.3 read an echo's hold as a timestamp, 1.4 no switch source): refused by name. */
	wave_msg_hello(&m, WAVE_ROLE_HOST, 1, 1, 0);
	m.p.hello.minor = WAVE_PROTO_MIN_MINOR - 1;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EPROTONOSUPPORT);
	snprintf(want, sizeof(want), "needs %u.%u or later", WAVE_PROTO_MAJOR, WAVE_PROTO_MIN_MINOR);
	assert_non_null(strstr(why, want));
	m.p.hello.minor = WAVE_PROTO_MIN_MINOR;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
}

/* Heartbeats (1.4): known flags only; the host sends no hold, the agent's is bounded. */
static void heartbeat_flags_and_hold_checked(void **state)
{
	struct wave_msg m;

	wave_msg_init(&m, WAVE_MSG_HEARTBEAT);
	m.p.hb.flags = WAVE_HB_PROMPT;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	m.p.hb.flags = 0x2;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "unknown flags 0x2"));
	m.p.hb.flags = 0;
	m.p.hb.hold_ns = 1;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "hold_ns 1 must be zero"));
	m.h.type = WAVE_MSG_HEARTBEAT_ECHO;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	m.p.hb.hold_ns = WAVE_HB_MAX_HOLD_NS;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	m.p.hb.hold_ns = WAVE_HB_MAX_HOLD_NS + 1;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	m.p.hb.hold_ns = 0;
	m.p.hb.flags = 0x80000000u;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "HEARTBEAT_ECHO: unknown flags"));
}

static void hello_unknown_feature_rejected(void **state)
{
	struct wave_msg m;

	wave_msg_hello(&m, WAVE_ROLE_HOST, 1, 1, 0);
	m.p.hello.features |= 1ULL << 40;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "feature"));
}

static void unknown_type_rejected(void **state)
{
	struct wave_msg m;

	wave_msg_init(&m, WAVE_MSG_TYPE_MAX);
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EBADMSG);
	m.h.type = 0;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EBADMSG);
	m.h.type = 200;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "200"));
}

static void reserved_bytes_must_be_zero(void **state)
{
	struct wave_msg m = vcpu_msg();

	m.p.vcpu.slot = WAVE_KSTATE_SLOTS + 1; /* 1.7: the word is a slot, bounded */
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "slot 1025"));
	m.p.vcpu.slot = WAVE_KSTATE_SLOTS;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	m = vcpu_msg();
	m.h.rsvd = 1;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	m = vcpu_msg();
	m.h.flags = 0x80;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	/* The reason names the first offending byte and its value. */
	wave_msg_init(&m, WAVE_MSG_HEARTBEAT_ECHO);
	m.p.hb.rsvd1[1] = 0x700;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "reserved byte 57 is 0x07"));
	/* A TXN's reserved bytes depend on its op. */
	m = txn_msg(WAVE_OP_SET_QUOTA);
	m.p.txn.u.quota.rsvd[3] = 1;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	m = txn_msg(WAVE_OP_SET_CLASS);
	m.p.txn.u.cls.deadline_ns = 4999999; /* quota's reserved bytes: not reserved here */
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	/* A TRIGGER has no arguments: every argument byte is reserved. */
	m = txn_msg(WAVE_OP_TRIGGER);
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	m.p.txn.u.place.mask = 1;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
}

static void out_of_range_ids_rejected(void **state)
{
	struct wave_msg m = vcpu_msg();

	m.p.vcpu.vm_id = WAVE_MAX_VMS;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "vm_id 4096"));
	m = vcpu_msg();
	m.p.vcpu.index = WAVE_MAX_VCPUS;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	m = vcpu_msg();
	m.p.vcpu.kind = WAVE_KIND_EMULATOR;
	m.p.vcpu.index = WAVE_MAX_THREADS;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	m = vcpu_msg();
	m.p.vcpu.cpu = WAVE_MAX_CPUS;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	m.p.vcpu.cpu = WAVE_CPU_NONE;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	m = vcpu_msg();
	m.p.vcpu.state = WAVE_TS_MAX;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
}

static void vm_add_name_must_be_printable(void **state)
{
	struct wave_msg m;

	wave_msg_init(&m, WAVE_MSG_VM_ADD);
	m.p.vm_add.nr_vcpus = 1;
	m.p.vm_add.weight = 1;
	strcpy(m.p.vm_add.name, "a\x01");
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	memset(m.p.vm_add.name, 0, sizeof(m.p.vm_add.name));
	m.p.vm_add.name[0] = 'a';
	m.p.vm_add.name[2] = 'b'; /* garbage after the terminator */
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	memset(m.p.vm_add.name, 'x', sizeof(m.p.vm_add.name)); /* full, no NUL: ok */
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	m.p.vm_add.nr_vcpus = 0;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	m.p.vm_add.nr_vcpus = 1;
	m.p.vm_add.weight = WAVE_WEIGHT_MAX + 1;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
}

static void txn_arguments_checked(void **state)
{
	struct wave_msg m = txn_msg(WAVE_OP_PLACE);

	m.p.txn.u.place.mask = 0;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "empty CPU mask"));
	m = txn_msg(WAVE_OP_PLACE);
	m.p.txn.u.place.cpu_base = 32;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);

	m = txn_msg(WAVE_OP_SET_QUOTA);
	m.p.txn.u.quota.period_us = 999;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	m = txn_msg(WAVE_OP_SET_QUOTA);
	m.p.txn.u.quota.quota_us = WAVE_QUOTA_UNLIMITED;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);

	m = txn_msg(WAVE_OP_SET_CLASS);
	m.p.txn.u.cls.runtime_ns = 6000000; /* runtime > deadline */
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "runtime 6000000"));
	m = txn_msg(WAVE_OP_SET_CLASS);
	m.p.txn.policy = WAVE_SCHED_FIFO;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL); /* times set */
	memset(&m.p.txn.u, 0, sizeof(m.p.txn.u));
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL); /* prio 0 */
	m.p.txn.prio = 50;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	m.p.txn.policy = WAVE_SCHED_MAX;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);

	m = txn_msg(WAVE_OP_SET_WEIGHT);
	m.p.txn.prio = 1; /* only SET_CLASS may carry policy/prio */
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	m = txn_msg(WAVE_OP_SET_WEIGHT);
	m.p.txn.op_idx = 1; /* op_idx >= op_count */
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	m = txn_msg(WAVE_OP_SET_WEIGHT);
	m.p.txn.op_count = WAVE_TXN_MAX_OPS + 1;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	m = txn_msg(WAVE_OP_SET_WEIGHT);
	m.p.txn.op = WAVE_OP_MAX;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
}

static void txn_result_err_matches_status(void **state)
{
	struct wave_msg m;

	wave_msg_init(&m, WAVE_MSG_TXN_RESULT);
	m.p.result.status = WAVE_ST_FAILED;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	m.p.result.err = EBUSY;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	m.p.result.status = WAVE_ST_OK;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	m.p.result.err = 0;
	m.p.result.status = WAVE_ST_MAX;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
}

static void names_cover_every_value(void **state)
{
	for (unsigned int t = 1; t < WAVE_MSG_TYPE_MAX; t++)
		assert_string_not_equal(wave_msg_type_name(t), "UNKNOWN");
	assert_string_equal(wave_msg_type_name(999), "UNKNOWN");
	for (unsigned int s = 0; s < WAVE_ST_MAX; s++)
		assert_string_not_equal(wave_status_name(s), "unknown");
	assert_string_equal(wave_op_name(WAVE_OP_SET_CLASS), "SET_CLASS");
	for (unsigned int o = 1; o < WAVE_OP_MAX; o++)
		assert_string_not_equal(wave_op_name(o), "UNKNOWN");
}

static void wake_sub_checked(void **state)
{
	struct wave_msg m;

	wave_msg_init(&m, WAVE_MSG_WAKE_SUB);
	m.p.wake.vm_id = 3;
	m.p.wake.kinds = (1u << WAVE_KIND_VCPU) | (1u << WAVE_KIND_IOTHREAD);
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	m.p.wake.kinds = 1u << WAVE_KIND_MAX;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "kinds"));
	m.p.wake.kinds = WAVE_WAKE_NET | (1u << WAVE_KIND_VCPU); /* 1.2: arrivals too */
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	m.p.wake.kinds = 0;
	m.p.wake.vm_id = WAVE_MAX_VMS;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	m.p.wake.vm_id = 1;
	m.p.wake.rsvd0[1] = 1;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "reserved"));
}

/* VCPU_STATE flags and THREAD_CPUS (1.1): known flags only, windows of 64 in range. */
static void pins_checked(void **state)
{
	struct wave_msg m = vcpu_msg();

	m.p.vcpu.flags = WAVE_THREAD_PINNED;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	m.p.vcpu.flags = 0x8;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "flags"));
	wave_msg_init(&m, WAVE_MSG_THREAD_CPUS);
	m.p.pin.vm_id = 3;
	m.p.pin.cpu_base = 64;
	m.p.pin.mask = 0x3;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	m.p.pin.cpu_base = 65;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "cpu_base"));
	m.p.pin.cpu_base = WAVE_MAX_CPUS;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	m.p.pin.cpu_base = 0;
	m.p.pin.kind = WAVE_KIND_MAX;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	m.p.pin.kind = WAVE_KIND_VCPU;
	m.p.pin.rsvd1[5] = 1;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "reserved"));
}

/* NET_STATE (1.2): a known source, 1..64 interfaces, flags known, counts that make sense. */
static void net_state_checked(void **state)
{
	struct wave_msg m;

	wave_msg_init(&m, WAVE_MSG_NET_STATE);
	m.p.net.vm_id = 3;
	m.p.net.rx_pkts = 10;
	m.p.net.rx_bytes = 1000;
	m.p.net.source = WAVE_NET_SRC_IFSTATS;
	m.p.net.nr_ifaces = 2;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	m.p.net.flags = WAVE_NET_ARRIVAL;
	m.p.net.quiet_us = 5000;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	m.p.net.flags = 0;                     /* a quiet gap only with an arrival */
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "quiet_us"));
	m.p.net.quiet_us = 0;
	m.p.net.flags = 0x80;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "flags"));
	m.p.net.flags = 0;
	m.p.net.source = WAVE_NET_SRC_NONE;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "source"));
	m.p.net.source = WAVE_NET_SRC_MAX;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	m.p.net.source = WAVE_NET_SRC_BPF;
	m.p.net.nr_ifaces = 0;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	m.p.net.nr_ifaces = WAVE_MAX_IFACES + 1;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "nr_ifaces"));
	m.p.net.nr_ifaces = 1;
	m.p.net.rx_bytes = 9;                  /* fewer bytes than packets */
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "bytes"));
	m.p.net.rx_bytes = 1000;
	m.p.net.vm_id = WAVE_MAX_VMS;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	m.p.net.vm_id = 3;
	m.p.net.rsvd0 = 1;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "reserved"));
}

static struct wave_msg mem_msg(void)
{
	struct wave_msg m;

	wave_msg_init(&m, WAVE_MSG_MEM_STATE);
	m.p.mem.vm_id = 3;
	m.p.mem.actual_kib = 256 << 10;
	m.p.mem.max_kib = 512 << 10;
	m.p.mem.available_kib = 250 << 10;
	m.p.mem.usable_kib = 100 << 10;
	m.p.mem.unused_kib = 50 << 10;
	m.p.mem.caches_kib = 30 << 10;
	m.p.mem.rss_kib = 300 << 10;
	return m;
}

static void mem_state_checked(void **state)
{
	struct wave_msg m = mem_msg();

	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	m.p.mem.usable_kib = m.p.mem.unused_kib = m.p.mem.caches_kib = WAVE_MEM_NONE;
	m.p.mem.available_kib = m.p.mem.age_ms = WAVE_MEM_NONE; /* a guest that never reported */
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	m = mem_msg();
	m.p.mem.max_kib = 0;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "max_kib"));
	m = mem_msg();
	m.p.mem.actual_kib = (512 << 10) + 1;   /* more than the VM can have */
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "actual_kib"));
	m = mem_msg();
	m.p.mem.usable_kib = (250 << 10) + 1;   /* more than the guest's total */
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "usable_kib"));
	m = mem_msg();
	m.p.mem.vm_id = WAVE_MAX_VMS;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);

	wave_msg_init(&m, WAVE_MSG_MEM_CTL);
	m.p.mctl.vm_id = 3;
	m.p.mctl.target_kib = 256 << 10;
	m.p.mctl.floor_kib = 128 << 10;
	m.p.mctl.weight = 100;
	m.p.mctl.flags = WAVE_MEM_BALLOON | WAVE_MEM_STATS;
	m.p.mctl.psi_some_us = 10;
	m.p.mctl.psi_full_us = 5;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	m.p.mctl.psi_full_us = 11;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "stall"));
	m.p.mctl.psi_full_us = 5;
	m.p.mctl.weight = 0;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "weight"));
	m.p.mctl.weight = 100;
	m.p.mctl.flags = 0x80;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "flags"));
	m.p.mctl.flags = 0;
	m.p.mctl.target_kib = 0;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	m.p.mctl.target_kib = 1;
	m.p.mctl.used_kib = WAVE_MEM_NONE; /* 1.6: not known this time */
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	m.p.mctl.rsvd0 = 1;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "reserved"));

	wave_msg_init(&m, WAVE_MSG_HOST_MEM);
	m.p.hmem.total_kib = 1 << 20;
	m.p.hmem.avail_kib = 1 << 19;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	m.p.hmem.avail_kib = (1 << 20) + 1;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "available"));
}

static void set_balloon_names_a_vm(void **state)
{
	struct wave_msg m = txn_msg(WAVE_OP_SET_BALLOON);

	assert_true(wave_op_targets_vm(WAVE_OP_SET_BALLOON));
	assert_false(wave_op_targets_vm(WAVE_OP_PLACE));
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	m.p.txn.index = 1;                      /* a thread: not what it names */
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "names a VM"));
	m = txn_msg(WAVE_OP_SET_BALLOON);
	m.p.txn.kind = WAVE_KIND_EMULATOR;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	m = txn_msg(WAVE_OP_SET_BALLOON);
	m.p.txn.u.balloon.target_kib = 0;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "target_kib"));
	m = txn_msg(WAVE_OP_SET_BALLOON);
	m.p.txn.u.balloon.rsvd[4] = 1;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "reserved"));
}

/* SET_NET_RATE (1.5): a VM, a known direction, a rate in range, a burst of a frame or more. */
static void set_net_rate_checked(void **state)
{
	static const struct { uint64_t rate; uint32_t burst; uint8_t dir; const char *why; } bad[] = {
		{ 1000000, 65536, 0, "dir 0" },
		{ 1000000, 65536, 4, "dir 4" },
		{ WAVE_NET_MAX_RATE + 1, 65536, 1, "rate" },
		{ 1000000, 1000, 1, "burst 1000" },
		{ 1000000, (64u << 20) + 1, 1, "burst" },
		{ 0, 3000, 2, "must be 0 without a rate" },
	};
	struct wave_msg m = txn_msg(WAVE_OP_SET_NET_RATE);

	assert_true(wave_op_targets_vm(WAVE_OP_SET_NET_RATE));
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	m.p.txn.u.net.rate_bytes_s = 0; /* the meter lifted */
	m.p.txn.u.net.burst_bytes = 0;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = txn_msg(WAVE_OP_SET_NET_RATE);
		m.p.txn.u.net.rate_bytes_s = bad[i].rate;
		m.p.txn.u.net.burst_bytes = bad[i].burst;
		m.p.txn.u.net.dir = bad[i].dir;
		assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
		assert_non_null(strstr(why, bad[i].why));
	}
	m = txn_msg(WAVE_OP_SET_NET_RATE);
	m.p.txn.index = 1;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "names a VM"));
	m = txn_msg(WAVE_OP_SET_NET_RATE);
	m.p.txn.u.net.rsvd0[1] = 1;
	assert_int_equal(wave_msg_check(&m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "reserved"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(net_state_checked),
		cmocka_unit_test(mem_state_checked),
		cmocka_unit_test(set_balloon_names_a_vm),
		cmocka_unit_test(set_net_rate_checked),
		cmocka_unit_test(wire_fields_are_little_endian),
		cmocka_unit_test(swab_reverses_every_field_and_is_its_own_inverse),
		cmocka_unit_test(valid_messages_pass),
		cmocka_unit_test(hello_bad_magic_is_protocol_error),
		cmocka_unit_test(hello_version_mismatch_is_named),
		cmocka_unit_test(hello_unknown_feature_rejected),
		cmocka_unit_test(heartbeat_flags_and_hold_checked),
		cmocka_unit_test(unknown_type_rejected),
		cmocka_unit_test(reserved_bytes_must_be_zero),
		cmocka_unit_test(out_of_range_ids_rejected),
		cmocka_unit_test(vm_add_name_must_be_printable),
		cmocka_unit_test(txn_arguments_checked),
		cmocka_unit_test(txn_result_err_matches_status),
		cmocka_unit_test(names_cover_every_value),
		cmocka_unit_test(wake_sub_checked),
		cmocka_unit_test(pins_checked),
	};

	return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
