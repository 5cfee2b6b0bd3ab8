// SPDX-License-Identifier: BSD-3-Clause
/*
 * The agent's reader of the host kernel's records and heartbeat
 * (ipu-sched/kstate.h) on plain memory: which record is whose comes from
 * the host's VCPU_STATE; a record becomes the VCPU_STATE waved would have
 * sent; a record that names another thread, or that is half written, is
 * skipped; garbage in a record never makes an invalid message; a running
 * thread is reported at every read, a sleeping one only when it changed;
 * the host's own (older) reading is replaced by a fresh one; when to look
 * for a beat; and the answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "channel/codec.h"
#include "ipu-sched/kstate.h"

#define MS 1000000ull

static struct hooks_rec recs[WAVE_KSTATE_SLOTS];
static struct kbeat_host host;
static struct kbeat_echo echo;
static struct kstate k;

static int setup(void **state)
{
	(void)state;
	memset(recs, 0, sizeof(recs));
	memset(&host, 0, sizeof(host));
	memset(&echo, 0, sizeof(echo));
	kstate_init_mem(&k, recs, &host, &echo);
	return 0;
}

/* What waved sends for the thread in slot (0-based): its identity, and slot + 1. */
static struct wave_msg host_msg(uint32_t vm, uint16_t index, uint32_t tid, unsigned int slot,
				uint8_t state)
{
	struct hooks_rec r = { .tid = tid, .state = HOOKS_BLOCKED };
	struct wave_msg m;

	kstate_fill(&m, &r, vm, index, WAVE_KIND_VCPU, 7, 0, slot + 1);
	m.p.vcpu.state = state;
	return m;
}

static void set_rec(unsigned int slot, uint32_t tid, uint32_t state, uint64_t run, uint64_t since)
{
	recs[slot].tid = tid;
	recs[slot].state = state;
	recs[slot].cpu = 1;
	recs[slot].run_ns = run;
	recs[slot].since_ns = since;
	recs[slot].seq += 2;
}

static void records_become_the_messages_waved_would_send(void **state)
{
	struct wave_msg m = host_msg(3, 1, 4242, 17, WAVE_TS_BLOCKED), out[8];
	char why[128];

	kstate_learn(&k, &m);
	set_rec(17, 4242, HOOKS_RUNNING, 5 * MS, 100 * MS);
	assert_int_equal(kstate_read(&k, 102 * MS, out, 8), 1);
	assert_int_equal(wave_msg_check(&out[0], why, sizeof(why)), 0);
	assert_int_equal(out[0].h.type, WAVE_MSG_VCPU_STATE);
	assert_int_equal(out[0].p.vcpu.vm_id, 3);
	assert_int_equal(out[0].p.vcpu.index, 1);
	assert_int_equal(out[0].p.vcpu.barrier, 7);
	assert_int_equal(out[0].p.vcpu.slot, 18);
	assert_int_equal(out[0].p.vcpu.tid, 4242);
	assert_int_equal(out[0].p.vcpu.state, WAVE_TS_RUNNING);
	/* Running since 100 ms, read at 102 ms: 2 ms more than the record holds. */
	assert_int_equal(out[0].p.vcpu.run_ns, 7 * MS);
	/* Still running: again at the next read, its time grown. */
	assert_int_equal(kstate_read(&k, 103 * MS, out, 8), 1);
	assert_int_equal(out[0].p.vcpu.run_ns, 8 * MS);
}

static void a_sleeping_thread_is_reported_only_when_it_changed(void **state)
{
	struct wave_msg m = host_msg(3, 0, 500, 2, WAVE_TS_BLOCKED), out[8];

	kstate_learn(&k, &m);
	set_rec(2, 500, HOOKS_BLOCKED, 1 * MS, 10 * MS);
	assert_int_equal(kstate_read(&k, 20 * MS, out, 8), 1);
	assert_int_equal(kstate_read(&k, 30 * MS, out, 8), 0);
	set_rec(2, 500, HOOKS_BLOCKED, 2 * MS, 25 * MS);
	assert_int_equal(kstate_read(&k, 40 * MS, out, 8), 1);
	assert_int_equal(out[0].p.vcpu.run_ns, 2 * MS);
}

static void a_record_of_another_thread_or_half_written_is_skipped(void **state)
{
	struct wave_msg m = host_msg(3, 0, 500, 4, WAVE_TS_BLOCKED), out[8];

	kstate_learn(&k, &m);
	/* The slot went to another thread (the host reuses slots). */
	set_rec(4, 501, HOOKS_RUNNING, 1 * MS, 10 * MS);
	assert_int_equal(kstate_read(&k, 20 * MS, out, 8), 0);
	/* The right thread, but the writer never finished (an odd seqcount). */
	set_rec(4, 500, HOOKS_RUNNING, 1 * MS, 10 * MS);
	recs[4].seq |= 1;
	assert_int_equal(kstate_read(&k, 20 * MS, out, 8), 0);
	assert_true(k.c.skipped >= 2);
	/* Unknown slots are never read, whatever they hold. */
	set_rec(5, 900, HOOKS_RUNNING, 1 * MS, 10 * MS);
	recs[4].seq++;
	assert_int_equal(kstate_read(&k, 20 * MS, out, 8), 1);
	assert_int_equal(out[0].p.vcpu.tid, 500);
}

/*
 * The peer can write its copy of the records: a seq it leaves odd hides the
 * record only until the next write of it (hooks_peer_write_*), which the
 * kernel's programs and waved use on that copy.
 */
static void an_odd_seq_left_by_the_peer_heals_at_the_next_write(void **state)
{
	struct wave_msg m = host_msg(3, 0, 500, 8, WAVE_TS_BLOCKED), out[8];
	uint32_t odd;

	kstate_learn(&k, &m);
	set_rec(8, 500, HOOKS_RUNNING, 1 * MS, 10 * MS);
	recs[8].seq = 77;
	assert_int_equal(kstate_read(&k, 20 * MS, out, 8), 0);
	odd = hooks_peer_write_begin(&recs[8]);
	assert_true(odd & 1);
	recs[8].run_ns = 2 * MS;
	hooks_peer_write_end(&recs[8], odd);
	assert_int_equal(recs[8].seq & 1, 0);
	assert_int_equal(kstate_read(&k, 20 * MS, out, 8), 1);
	assert_int_equal(out[0].p.vcpu.run_ns, 12 * MS);
	/* From an even seq, a write moves it on by two, as the records' own writers do. */
	odd = hooks_peer_write_begin(&recs[8]);
	hooks_peer_write_end(&recs[8], odd);
	assert_int_equal(recs[8].seq, 80);
}

static void garbage_in_a_record_never_makes_a_bad_message(void **state)
{
	struct wave_msg m = host_msg(3, 0, 500, 9, WAVE_TS_BLOCKED), out[8];
	char why[128];

	kstate_learn(&k, &m);
	set_rec(9, 500, 77, 1 * MS, 10 * MS);
	recs[9].cpu = 0xfffffff0u;
	assert_int_equal(kstate_read(&k, 20 * MS, out, 8), 1);
	assert_int_equal(wave_msg_check(&out[0], why, sizeof(why)), 0);
	assert_int_equal(out[0].p.vcpu.state, WAVE_TS_BLOCKED);
	assert_int_equal(out[0].p.vcpu.cpu, WAVE_CPU_NONE);
}

static void exits_and_removed_vms_are_forgotten(void **state)
{
	struct wave_msg a = host_msg(3, 0, 500, 1, WAVE_TS_BLOCKED);
	struct wave_msg b = host_msg(4, 0, 600, 2, WAVE_TS_BLOCKED), out[8], del;

	kstate_learn(&k, &a);
	kstate_learn(&k, &b);
	set_rec(1, 500, HOOKS_RUNNING, 1 * MS, 10 * MS);
	set_rec(2, 600, HOOKS_RUNNING, 1 * MS, 10 * MS);
	assert_int_equal(kstate_read(&k, 20 * MS, out, 8), 2);
	a.p.vcpu.state = WAVE_TS_GONE;
	kstate_learn(&k, &a);
	assert_int_equal(kstate_read(&k, 21 * MS, out, 8), 1);
	assert_int_equal(out[0].p.vcpu.vm_id, 4);
	wave_msg_init(&del, WAVE_MSG_VM_DEL);
	del.p.vm_del.vm_id = 4;
	kstate_learn(&k, &del);
	assert_int_equal(kstate_read(&k, 22 * MS, out, 8), 0);
}

static void a_full_buffer_goes_on_where_it_ended(void **state)
{
	struct wave_msg m, out[2];
	unsigned int got = 0, n;

	for (unsigned int i = 0; i < 5; i++) {
		m = host_msg(3, (uint16_t)i, 100 + i, 10 * i, WAVE_TS_BLOCKED);
		kstate_learn(&k, &m);
		set_rec(10 * i, 100 + i, HOOKS_RUNNING, 1 * MS, 10 * MS);
	}
	do {
		n = kstate_read(&k, 20 * MS, out, 2);
		got += n;
	} while (kstate_more(&k));
	assert_int_equal(got, 5);
	assert_int_equal(k.c.reads, 1);
}

static void the_hosts_older_reading_is_replaced_by_a_fresh_one(void **state)
{
	struct wave_msg m = host_msg(3, 0, 500, 6, WAVE_TS_RUNNING), fresh;

	kstate_learn(&k, &m);
	set_rec(6, 500, HOOKS_RUNNING, 5 * MS, 100 * MS);
	m.p.vcpu.run_ns = 6 * MS; /* read by waved at 101 ms */
	assert_int_equal(kstate_reread(&k, &m, 104 * MS, &fresh), 1);
	assert_int_equal(fresh.p.vcpu.run_ns, 9 * MS);
	/* Without a slot (an older host, or no records), the host's message stands. */
	m.p.vcpu.slot = 0;
	assert_int_equal(kstate_reread(&k, &m, 104 * MS, &fresh), 0);
	/* An exit is the host's to say. */
	m.p.vcpu.slot = 7;
	m.p.vcpu.state = WAVE_TS_GONE;
	assert_int_equal(kstate_reread(&k, &m, 104 * MS, &fresh), 0);
}

static void beats_are_looked_for_after_they_are_due_and_answered(void **state)
{
	uint64_t seq;

	/* No beat yet, none expected: nothing to wait for. */
	assert_int_equal(kstate_next_look(&k, 1000 * MS), 0);
	/* Control came (a snapshot): look often for the first beat. */
	kstate_expect(&k);
	assert_int_equal(kstate_next_look(&k, 1000 * MS), 1000 * MS + KSTATE_LOOK_AGAIN_NS);
	host.period_ns = 20 * MS;
	host.host_ns = 1001 * MS;
	host.host_seq = 1;
	seq = kstate_beat(&k);
	assert_int_equal(seq, 1);
	k.seen = seq;
	/* The next is due at 1021 ms: look just after it. */
	assert_int_equal(kstate_next_look(&k, 1002 * MS), 1021 * MS + KSTATE_LOOK_AFTER_NS);
	/* Late (softirq deferred): look again shortly, however late, ... */
	assert_int_equal(kstate_next_look(&k, 1023 * MS), 1023 * MS + KSTATE_LOOK_AGAIN_NS);
	assert_int_equal(kstate_next_look(&k, 1142 * MS), 1142 * MS + KSTATE_LOOK_AGAIN_NS);
	/* ... until the host is heard heartbeating on the channel. */
	kstate_quiet(&k);
	assert_int_equal(kstate_next_look(&k, 1142 * MS), 0);
	kstate_echo(&k, seq, 1002 * MS + 300000);
	assert_int_equal(echo.echo_seq, 1);
	assert_int_equal(echo.lag_ns, 1 * MS + 300000);
	/* A period out of range in the host's word is not believed: the default (10 ms). */
	host.period_ns = 1;
	host.host_seq = 2;
	kstate_beat(&k);
	assert_int_equal(k.period_ns, 10 * MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(records_become_the_messages_waved_would_send, setup),
		cmocka_unit_test_setup(a_sleeping_thread_is_reported_only_when_it_changed, setup),
		cmocka_unit_test_setup(a_record_of_another_thread_or_half_written_is_skipped, setup),
		cmocka_unit_test_setup(an_odd_seq_left_by_the_peer_heals_at_the_next_write, setup),
		cmocka_unit_test_setup(garbage_in_a_record_never_makes_a_bad_message, setup),
		cmocka_unit_test_setup(exits_and_removed_vms_are_forgotten, setup),
		cmocka_unit_test_setup(a_full_buffer_goes_on_where_it_ended, setup),
		cmocka_unit_test_setup(the_hosts_older_reading_is_replaced_by_a_fresh_one, setup),
		cmocka_unit_test_setup(beats_are_looked_for_after_they_are_due_and_answered, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
