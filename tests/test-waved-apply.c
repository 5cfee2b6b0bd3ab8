// SPDX-License-Identifier: BSD-3-Clause
/*
 * waved's decision path on threads as a unit, without root, processes or
 * timing, on waved in memory (tests/waved-fixture.h: the fake kernel of
 * tests/mech-fake.c, which can refuse the k-th change with a chosen errno;
 * fake observation; the channel wrapped at link time). Whole-VM decisions
 * are in test-waved-vmops.c. Checked:
 *   - a multi-op transaction whose op k the kernel refuses is rolled back
 *     whole (every earlier op undone) and its TXN_RESULT names op k and the
 *     errno, for every k;
 *   - refusals by epoch, target, barrier, allowed CPUs, arguments, mode and
 *     fallback, none touching the kernel;
 *   - prestaged transactions: kept, replaced by a newer one on the same
 *     trigger, fired by the trigger's wakeup, dropped on fallback;
 *   - fallback restores every baseline and repairs the DEADLINE accounting;
 *   - a refused DEADLINE admission is repaired and retried once;
 *   - wakeups are pushed exactly for the threads the policy in charge
 *     subscribed to.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include "channel/codec.h"
#include "common/clock.h"
#include "common/log.h"
#include "ipu-sched/policy.h"
#include "tests/mech-fake.h"
#include "tests/waved-fixture.h"
#include "waved/waved.h"

/* ---- the cases ---- */

/* Op k of four refused by the kernel: ops 0..k-1 undone, op k and its errno reported. */
static void multi_op_txn_rolls_back_when_op_k_fails(void **state)
{
	static const int errs[4] = { EPERM, EACCES, EINVAL, EPERM };

	for (unsigned int k = 0; k < 4; k++) {
		struct wave_txn ops[4] = { place(bat, 0, 0x2), weight(bat, 1, 300),
					   deadline(lat, 0), place(bat, 1, 0x1) };
		const struct wave_txn_result *r;

		mech_fake_fail(k, errs[k]);
		submit(10 + k, ops, 4);
		assert_non_null(r = result(10 + k));
		assert_int_equal(r->status, WAVE_ST_FAILED);
		assert_int_equal(r->op_idx, k);
		assert_int_equal(r->err, errs[k]);
		assert_true(at_baseline());
	}
	assert_int_equal(w.st.results[WAVE_ST_FAILED], 4);
	assert_int_equal(w.st.ops_applied, 0);
	/* Nothing refused: all four apply, one result. */
	{
		struct wave_txn ops[4] = { place(bat, 0, 0x2), weight(bat, 1, 300),
					   deadline(lat, 0), place(bat, 1, 0x1) };

		submit(20, ops, 4);
		assert_int_equal(result(20)->status, WAVE_ST_OK);
		assert_int_equal(w.st.ops_applied, 4);
		assert_int_equal(mech_fake_state(tids[0])->policy, SCHED_DEADLINE);
		assert_int_equal(CPU_COUNT(&mech_fake_state(tids[2])->affinity), 1);
		assert_true(CPU_ISSET(1, &mech_fake_state(tids[2])->affinity));
		assert_int_equal(access(w.journal, F_OK), 0); /* baselines journaled */
	}
}

/* Every refusal is a status and leaves the kernel untouched. */
static void refusals_touch_nothing(void **state)
{
	struct {
		struct wave_txn op;
		uint8_t status;
	} cases[] = {
		{ place(bat, 0, 0x2), WAVE_ST_STALE_EPOCH },
		{ place(bat, 0, 0x2), WAVE_ST_NO_TARGET },     /* no such VM */
		{ place(bat, 5, 0x2), WAVE_ST_NO_TARGET },     /* no such vCPU */
		{ place(bat, 0, 0x2), WAVE_ST_STALE_TARGET },  /* old barrier */
		{ place(bat, 0, 0x4), WAVE_ST_INVALID },       /* CPU 2 not in --cpus */
		{ op_on(bat, 0, WAVE_OP_SET_QUOTA), WAVE_ST_INVALID }, /* no cgroup */
		/* a balloon target where memory is not controlled: nothing touched */
		{ op_on(bat, 0, WAVE_OP_SET_BALLOON), WAVE_ST_INVALID },
	};
	unsigned int changes = mech_fake_changes();

	cases[0].op.epoch = w.epoch + 1;
	cases[1].op.vm_id = 999;
	cases[3].op.barrier--;
	cases[6].op.u.balloon.target_kib = 128 << 10;
	cases[6].op.barrier = bat->barrier; /* a balloon target names the VM */
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		submit(100 + i, &cases[i].op, 1);
		assert_non_null(result(100 + i));
		assert_int_equal(result(100 + i)->status, cases[i].status);
	}
	/* A TRIGGER after another op. */
	{
		struct wave_txn ops[2] = { place(bat, 0, 0x2), op_on(lat, 0, WAVE_OP_TRIGGER) };

		submit(200, ops, 2);
		assert_int_equal(result(200)->status, WAVE_ST_INVALID);
	}
	/* The agent's decisions while the host is in fallback; nothing at all in observe mode. */
	w.wd.state = WD_FALLBACK;
	{
		struct wave_txn op = place(bat, 0, 0x2);

		submit(300, &op, 1);
		assert_int_equal(result(300)->status, WAVE_ST_FALLBACK);
	}
	w.wd.state = WD_OFFLOAD;
	w.cfg.mode = WAVED_OBSERVE;
	{
		struct wave_txn op = place(bat, 0, 0x2);

		submit(301, &op, 1);
		assert_int_equal(result(301)->status, WAVE_ST_INVALID);
	}
	assert_int_equal(mech_fake_changes(), changes);
	assert_true(at_baseline());
	assert_int_equal(w.st.ops_applied, 0);
}

/* A wakeup of lat's vCPU i, as BPF reports it. */
static void wakes(unsigned int i)
{
	struct hooks_event ev = { .tid = (uint32_t)vcpu(lat, i)->tid,
				  .slot = (uint32_t)vcpu(lat, i)->slot, .kind = HOOKS_RUNNABLE,
				  .ts_ns = wave_now_ns() };

	wv_on_wake_event(&ev, &w);
	wv_flush(&w);
}

static void prestaged_replaced_fired_and_dropped(void **state)
{
	struct wave_txn a[2] = { op_on(lat, 0, WAVE_OP_TRIGGER), place(bat, 0, 0x2) };
	struct wave_txn b[2] = { op_on(lat, 0, WAVE_OP_TRIGGER), place(bat, 0, 0x1) };
	struct wave_txn c[2] = { op_on(lat, 1, WAVE_OP_TRIGGER), place(bat, 1, 0x2) };
	unsigned int changes = mech_fake_changes();

	submit(1, a, 2);
	assert_null(result(1));                    /* kept, not answered yet */
	assert_int_equal(mech_fake_changes(), changes);
	assert_true(notified[vcpu(lat, 0)->slot]); /* its trigger's wakeups are pushed */
	assert_false(notified[vcpu(lat, 1)->slot]);
	submit(2, b, 2);                           /* the same trigger: the newer one wins */
	assert_int_equal(result(1)->status, WAVE_ST_STALE_TARGET);
	assert_null(result(2));
	wakes(1);                                  /* not a trigger: nothing fires */
	assert_null(result(2));
	wakes(0);
	assert_non_null(result(2));
	assert_int_equal(result(2)->status, WAVE_ST_OK);
	assert_true(CPU_ISSET(0, &mech_fake_state(tids[2])->affinity));
	assert_int_equal(CPU_COUNT(&mech_fake_state(tids[2])->affinity), 1);
	assert_false(notified[vcpu(lat, 0)->slot]); /* fired: no longer pushed */
	assert_int_equal(w.st.prestaged_fired, 1);
	/* One more, then the agent dies: dropped with FALLBACK, never applied. */
	submit(3, c, 2);
	assert_true(notified[vcpu(lat, 1)->slot]);
	w.wd.peer_up = 0;
	w.now = wave_now_ns();
	wv_fallback_check(&w);
	wv_flush(&w);
	assert_int_equal(result(3)->status, WAVE_ST_FALLBACK);
	assert_false(notified[vcpu(lat, 1)->slot]);
	wakes(1);
	assert_int_equal(w.st.prestaged_fired, 1);
	assert_true(at_baseline()); /* and the fallback put bat's vCPU 0 back */
}

static void fallback_restores_every_baseline(void **state)
{
	struct wave_txn ops[4] = { place(bat, 0, 0x2), weight(bat, 1, 300), deadline(lat, 0),
				   deadline(lat, 1) };
	struct wave_txn late = place(bat, 0, 0x2);

	submit(1, ops, 4);
	assert_int_equal(result(1)->status, WAVE_ST_OK);
	assert_false(at_baseline());
	assert_int_equal(mech_fake_dl_repairs(), 0);
	w.wd.peer_up = 0; /* the channel says the agent is gone */
	w.now = wave_now_ns();
	wv_fallback_check(&w);
	assert_int_equal(w.st.fallbacks, 1);
	assert_true(at_baseline());
	/* Threads left DEADLINE: the accounting is rebuilt once, logged and counted. */
	assert_int_equal(mech_fake_dl_repairs(), 1);
	assert_int_equal(w.st.dl_repairs, 1);
	assert_int_equal(access(w.journal, F_OK), -1); /* nothing left to repair */
	submit(2, &late, 1);
	assert_int_equal(result(2)->status, WAVE_ST_FALLBACK);
	assert_true(at_baseline());
}

/* EBUSY on a DEADLINE admission may be the kernel's leak: rebuild, retry once. */
static void busy_admission_is_repaired_and_retried(void **state)
{
	struct wave_txn op = deadline(lat, 0);

	mech_fake_fail(0, EBUSY);
	submit(1, &op, 1);
	assert_int_equal(result(1)->status, WAVE_ST_OK);
	assert_int_equal(mech_fake_dl_repairs(), 1);
	assert_int_equal(mech_fake_state(tids[0])->policy, SCHED_DEADLINE);
}

static void sub(struct wv_vm *vm, uint8_t kinds, uint32_t epoch, uint32_t barrier)
{
	struct wave_wake_sub s = { .epoch = epoch, .vm_id = vm->id, .barrier = barrier,
				   .kinds = kinds };

	wv_on_wake_sub(&w, &s, WV_SUB_AGENT);
}

/* Wakeups are pushed for what the policy in charge asked, and only while it is in charge. */
static void wakeups_follow_the_subscriptions(void **state)
{
	sub(lat, 1u << WAVE_KIND_VCPU, w.epoch, lat->barrier);
	assert_true(notified[vcpu(lat, 0)->slot]);
	assert_true(notified[vcpu(lat, 1)->slot]);
	assert_false(notified[vcpu(bat, 0)->slot]);
	assert_int_equal(w.st.wake_subs, 1);
	/* From another epoch, or for a VM that changed since: counted, ignored. */
	sub(bat, 1u << WAVE_KIND_VCPU, w.epoch + 1, bat->barrier);
	sub(bat, 1u << WAVE_KIND_VCPU, w.epoch, bat->barrier + 1);
	assert_int_equal(w.st.bad_wake_subs, 2);
	assert_false(notified[vcpu(bat, 0)->slot]);
	/* The operator's cap. */
	w.cfg.wake_events = WV_WAKE_NONE;
	wv_update_notify(&w);
	assert_false(notified[vcpu(lat, 0)->slot]);
	w.cfg.wake_events = WV_WAKE_POLICY;
	wv_update_notify(&w);
	assert_true(notified[vcpu(lat, 0)->slot]);
	/* The agent loses charge: its subscriptions no longer count. */
	w.wd.peer_up = 0;
	w.now = wave_now_ns();
	wv_fallback_check(&w);
	assert_false(notified[vcpu(lat, 0)->slot]);
	/* A snapshot forgets every subscription. */
	w.wd.state = WD_OFFLOAD;
	wv_update_notify(&w);
	assert_true(notified[vcpu(lat, 0)->slot]);
	wv_snapshot(&w);
	assert_false(notified[vcpu(lat, 0)->slot]);
	sub(lat, 0, w.epoch, lat->barrier);
	assert_false(notified[vcpu(lat, 1)->slot]);
}

static struct wave_txn deadline_of(struct wv_vm *vm, unsigned int i, uint64_t runtime_us)
{
	struct wave_txn op = deadline(vm, i);

	op.u.cls.runtime_ns = runtime_us * 1000;
	return op;
}

/* The host's caps on real-time classes hold whoever decides. */
static void realtime_is_capped_per_thread_and_in_total(void **state)
{
	struct wave_txn big = deadline_of(lat, 0, 3000);  /* 0.6 of a CPU: over 0.5 */
	struct wave_txn fifo = op_on(lat, 0, WAVE_OP_SET_CLASS);
	struct wave_txn ok[2] = { deadline_of(lat, 0, 2250), deadline_of(lat, 1, 2250) };
	struct wave_txn third = deadline_of(bat, 0, 2250); /* 0.45 x 3 > 1.0 in total */
	struct wave_txn again = deadline_of(lat, 0, 1000); /* shrinking one is fine */

	fifo.policy = WAVE_SCHED_FIFO;
	fifo.prio = 10;
	submit(1, &big, 1);
	assert_int_equal(result(1)->status, WAVE_ST_INVALID);
	submit(2, &fifo, 1);
	assert_int_equal(result(2)->status, WAVE_ST_INVALID);
	assert_true(at_baseline());
	submit(3, ok, 2);
	assert_int_equal(result(3)->status, WAVE_ST_OK);
	assert_true(w.rt_total > 0.89 && w.rt_total < 0.91);
	submit(4, &third, 1);
	assert_int_equal(result(4)->status, WAVE_ST_INVALID);
	assert_int_equal(mech_fake_state(tids[2])->policy, SCHED_OTHER);
	submit(5, &again, 1);
	assert_int_equal(result(5)->status, WAVE_ST_OK);
	assert_int_equal(w.st.rt_refused, 3);
	/* Restored: nothing granted any more. */
	w.wd.peer_up = 0;
	w.now = wave_now_ns();
	wv_fallback_check(&w);
	assert_true(w.rt_total == 0);
}

/* A thread that exits and whose tid is reused never gets a decision or a restore. */
static void reused_tid_is_never_touched(void **state)
{
	struct wave_txn first = weight(bat, 0, 300), later = place(bat, 0, 0x2);
	struct mech_state fresh;

	submit(1, &first, 1);
	assert_int_equal(result(1)->status, WAVE_ST_OK);
	mech_fake_reuse(tids[2]); /* vCPU 0 of bat exits; an unrelated thread gets its tid */
	fresh = *mech_fake_state(tids[2]);
	later.barrier = vcpu(bat, 0)->barrier;
	submit(2, &later, 1);
	assert_int_equal(result(2)->status, WAVE_ST_FAILED);
	assert_int_equal(result(2)->err, ESRCH);
	assert_true(mech_fake_same(mech_fake_state(tids[2]), &fresh));
	assert_null(vcpu(bat, 0));           /* no longer managed */
	assert_int_equal(w.st.threads_dropped, 1);
	w.wd.peer_up = 0;                    /* fallback restores the others, not it */
	w.now = wave_now_ns();
	wv_fallback_check(&w);
	assert_true(mech_fake_same(mech_fake_state(tids[2]), &fresh));
}

/* The last message of this type sent to the agent, or NULL. */
static const struct wave_msg *last_sent(uint8_t type)
{
	for (unsigned int i = nsent; i-- > 0;)
		if (sent[i].h.type == type)
			return &sent[i];
	return NULL;
}

/*
 * A thread the operator pinned (libvirt): a placement outside the pin and
 * SCHED_DEADLINE are refused (the kernel would refuse DEADLINE too), within
 * the pin is fine; the agent hears of the pin only if it announced
 * WAVE_FEAT_PINS, and an agent that did not gets VCPU_STATE without flags.
 */
static void pinned_threads_stay_within_the_pin(void **state)
{
	struct wave_txn out = place(bat, 0, 0x1), in = place(bat, 0, 0x2), dl = deadline(bat, 0);
	struct wv_thread *t = vcpu(bat, 0);
	const struct wave_msg *m;

	t->pinned = 1;
	CPU_ZERO(&t->pin);
	CPU_SET(1, &t->pin);
	t->pin_dirty = 1;
	submit(1, &out, 1);
	assert_int_equal(result(1)->status, WAVE_ST_INVALID);
	submit(2, &dl, 1);
	assert_int_equal(result(2)->status, WAVE_ST_INVALID);
	assert_true(at_baseline());
	assert_int_equal(t->conflicts, WV_CONFLICT_PLACE | WV_CONFLICT_DEADLINE);
	submit(3, &in, 1);
	assert_int_equal(result(3)->status, WAVE_ST_OK);
	assert_int_equal(CPU_COUNT(&mech_fake_state(tids[2])->affinity), 1);
	assert_true(CPU_ISSET(1, &mech_fake_state(tids[2])->affinity));
	/* An agent that reads pins: PINNED, then the pin itself. */
	nsent = 0;
	wv_export_thread(&w, bat, t);
	wv_flush(&w);
	assert_non_null(m = last_sent(WAVE_MSG_VCPU_STATE));
	assert_int_equal(m->p.vcpu.flags, WAVE_THREAD_PINNED);
	assert_non_null(m = last_sent(WAVE_MSG_THREAD_CPUS));
	assert_int_equal(m->p.pin.mask, 0x2);
	assert_int_equal(m->p.pin.barrier, t->barrier);
	assert_int_equal(wave_msg_check(m, NULL, 0), 0);
	/* Only once: the next export carries the flag, not the pin again. */
	nsent = 0;
	wv_export_thread(&w, bat, t);
	wv_flush(&w);
	assert_null(last_sent(WAVE_MSG_THREAD_CPUS));
	/* An agent that does not: no flags, no THREAD_CPUS. */
	peer_features = 0;
	t->pin_dirty = 1;
	nsent = 0;
	wv_export_thread(&w, bat, t);
	wv_flush(&w);
	assert_non_null(m = last_sent(WAVE_MSG_VCPU_STATE));
	assert_int_equal(m->p.vcpu.flags, 0);
	assert_null(last_sent(WAVE_MSG_THREAD_CPUS));
}

/* NET_STATE only to an agent that announced it reads it (WAVE_FEAT_NET). */
static void traffic_only_to_an_agent_that_reads_it(void **state)
{
	struct wave_msg m;

	wave_msg_init(&m, WAVE_MSG_NET_STATE);
	m.p.net.vm_id = bat->id;
	m.p.net.barrier = bat->barrier;
	m.p.net.source = WAVE_NET_SRC_BPF;
	m.p.net.nr_ifaces = 1;
	peer_features = WAVE_FEAT_PINS;
	nsent = 0;
	wv_emit(&w, &m);
	wv_flush(&w);
	assert_null(last_sent(WAVE_MSG_NET_STATE));
	peer_features = WAVE_FEAT_NET;
	wv_emit(&w, &m);
	wv_flush(&w);
	assert_non_null(last_sent(WAVE_MSG_NET_STATE));
}

/* Snapshots on request at most once a second; an agent that stays unhealthy is disconnected. */
static void resyncs_limited_and_unhealthy_agent_evicted(void **state)
{
	uint64_t t0;

	w.now = wave_now_ns();
	wv_on_resync(&w);
	wv_on_resync(&w);
	assert_int_equal(w.st.resyncs, 1);
	assert_int_equal(w.st.resyncs_refused, 1);
	w.now += WAVE_NSEC_PER_SEC;
	wv_on_resync(&w);
	assert_int_equal(w.st.resyncs, 2);
	/* Attached, not in charge (no healthy echoes): 10 s later, out. */
	w.wd.state = WD_FALLBACK;
	t0 = w.now;
	wv_fallback_check(&w);
	w.now = t0 + 9 * WAVE_NSEC_PER_SEC;
	wv_fallback_check(&w);
	assert_int_equal(drops, 0);
	w.now = t0 + 11 * WAVE_NSEC_PER_SEC;
	wv_fallback_check(&w);
	assert_int_equal(drops, 1);
	assert_int_equal(w.st.evictions, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(multi_op_txn_rolls_back_when_op_k_fails, setup,
						teardown),
		cmocka_unit_test_setup_teardown(refusals_touch_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(traffic_only_to_an_agent_that_reads_it, setup,
						teardown),
		cmocka_unit_test_setup_teardown(prestaged_replaced_fired_and_dropped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(fallback_restores_every_baseline, setup, teardown),
		cmocka_unit_test_setup_teardown(busy_admission_is_repaired_and_retried, setup,
						teardown),
		cmocka_unit_test_setup_teardown(wakeups_follow_the_subscriptions, setup, teardown),
		cmocka_unit_test_setup_teardown(realtime_is_capped_per_thread_and_in_total, setup,
						teardown),
		cmocka_unit_test_setup_teardown(reused_tid_is_never_touched, setup, teardown),
		cmocka_unit_test_setup_teardown(pinned_threads_stay_within_the_pin, setup, teardown),
		cmocka_unit_test_setup_teardown(resyncs_limited_and_unhealthy_agent_evicted, setup,
						teardown),
	};

	wave_log_init("test-waved-apply", getenv("WAVE_TEST_VERBOSE") ? WAVE_LOG_DEBUG
								      : WAVE_LOG_ERR);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
