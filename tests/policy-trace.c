// SPDX-License-Identifier: BSD-3-Clause
/*
 * Synthetic traces for policy tests (test-policy*.c): a policy runtime fed
 * VM_ADD, HOST_CPU, VCPU_STATE and NET_STATE messages as a host would send
 * them, with time advanced by hand, and what the policy decided read back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "channel/codec.h"
#include "tests/policy-trace.h"
struct sched s;
struct wave_msg out[512];
uint64_t now;

void feed(const struct wave_msg *m)
{
	assert_true(sched_feed(&s, m, now) >= 0);
}

void add_vm(uint32_t id, enum wave_vm_class cls, uint16_t vcpus, uint32_t weight)
{
	struct wave_msg m;

	wave_msg_init(&m, WAVE_MSG_VM_ADD);
	m.p.vm_add.vm_id = id;
	m.p.vm_add.vm_class = (uint8_t)cls;
	m.p.vm_add.nr_vcpus = vcpus;
	m.p.vm_add.weight = weight;
	m.p.vm_add.barrier = id * 100;
	feed(&m);
}

void add_cpus(unsigned int n)
{
	struct wave_msg m;

	for (unsigned int c = 0; c < n; c++) {
		wave_msg_init(&m, WAVE_MSG_HOST_CPU);
		m.p.cpu.cpu = (uint16_t)c;
		m.p.cpu.flags = WAVE_CPU_ONLINE | WAVE_CPU_ALLOWED;
		feed(&m);
	}
}

void report(struct fake_thread *t)
{
	struct wave_msg m;

	wave_msg_init(&m, WAVE_MSG_VCPU_STATE);
	m.p.vcpu.vm_id = t->vm;
	m.p.vcpu.kind = (uint8_t)t->kind;
	m.p.vcpu.index = (uint16_t)t->index;
	m.p.vcpu.barrier = t->barrier;
	m.p.vcpu.state = t->state;
	m.p.vcpu.run_ns = t->run;
	m.p.vcpu.wait_ns = t->wait;
	m.p.vcpu.wakeups = t->wakeups;
	m.p.vcpu.tid = 1000 + t->vm * 10 + t->kind * 5 + t->index;
	m.p.vcpu.flags = t->pin ? WAVE_THREAD_PINNED : 0;
	feed(&m);
	if (t->pin) {
		wave_msg_init(&m, WAVE_MSG_THREAD_CPUS);
		m.p.pin.vm_id = t->vm;
		m.p.pin.kind = (uint8_t)t->kind;
		m.p.pin.index = (uint16_t)t->index;
		m.p.pin.barrier = t->barrier;
		m.p.pin.mask = t->pin;
		feed(&m);
	}
}

/* Advances time by dt with each thread running util and waiting delay of it. */
void run_for(struct fake_thread *ts, unsigned int n, uint64_t dt, double util,
		    double delay, uint64_t step)
{
	for (uint64_t done = 0; done < dt; done += step) {
		now += step;
		for (unsigned int i = 0; i < n; i++) {
			ts[i].run += (uint64_t)(util * (double)step);
			ts[i].wait += (uint64_t)(delay * (double)step);
			ts[i].state = util > 0 ? WAVE_TS_RUNNING : WAVE_TS_BLOCKED;
			report(&ts[i]);
		}
	}
}

/* out[i] is a TXN op of kind op. */
int is_op(unsigned int i, enum wave_txn_op op)
{
	return out[i].h.type == WAVE_MSG_TXN && out[i].p.txn.op == op;
}

unsigned int decide(void)
{
	sched_decide(&s, now);
	return sched_emit(&s, out, 512);
}

struct policy_conf conf;

/* name with lend=1 if lend, for a host that takes prestaged transactions if lend > 1. */
int setup_policy(const char *name, int lend)
{
	struct policy_env env = { .prestage = lend > 1, .wake_sub = 1 };

	assert_int_equal(policy_conf_init(&conf, name), 0);
	if (lend)
		assert_int_equal(policy_conf_set(&conf, "lend=on"), 0);
	now = 1000 * MS;
	assert_int_equal(sched_init(&s, &conf, &env), 0);
	return 0;
}

int teardown(void **state)
{
	sched_fini(&s);
	return 0;
}

void init_threads(struct fake_thread *t, unsigned int n, uint32_t vm, unsigned int vcpus)
{
	for (unsigned int i = 0; i < n; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].vm = vm;
		t[i].kind = i < vcpus ? WAVE_KIND_VCPU : WAVE_KIND_EMULATOR;
		t[i].index = i < vcpus ? i : 0;
		t[i].barrier = vm * 100 + i + 1;
	}
}

const struct wave_txn *find_op(unsigned int n, uint32_t vm, uint8_t kind, uint16_t idx)
{
	for (unsigned int i = 0; i < n; i++)
		if (out[i].p.txn.vm_id == vm && out[i].p.txn.kind == kind &&
		    out[i].p.txn.index == idx)
			return &out[i].p.txn;
	return NULL;
}


void net_report(uint32_t vm, uint64_t rx_pkts, uint64_t tx_pkts)
{
	struct wave_msg m;

	wave_msg_init(&m, WAVE_MSG_NET_STATE);
	m.p.net.vm_id = vm;
	m.p.net.barrier = vm * 100;
	m.p.net.rx_pkts = rx_pkts;
	m.p.net.rx_bytes = rx_pkts * 100;
	m.p.net.tx_pkts = tx_pkts;
	m.p.net.tx_bytes = tx_pkts * 100;
	m.p.net.source = WAVE_NET_SRC_BPF;
	m.p.net.nr_ifaces = 1;
	feed(&m);
}
