// SPDX-License-Identifier: BSD-3-Clause
/*
 * waved's decision path as a unit, without root, processes or timing: the
 * mechanisms are the fake kernel of tests/mech-fake.c (which can refuse
 * the k-th change with a chosen errno), observation is a fake backend that
 * records which threads' wakeups are pushed, and the channel is wrapped at
 * link time (tests/test-waved-apply.wrap) so every message waved sends to
 * the agent lands in sent[]. Threads of this test stand in for vCPUs (only
 * their thread ids are used). Checked:
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
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "channel/codec.h"
#include "common/clock.h"
#include "common/log.h"
#include "ipu-sched/policy.h"
#include "tests/mech-fake.h"
#include "waved/waved.h"

#define NTHREADS 4

/* ---- the channel, wrapped: what waved sends lands here ---- */

static struct wave_msg sent[4096];
static unsigned int nsent;

int __wrap_chan_is_up(const struct chan *ch);
int __wrap_chan_send_batch(struct chan *ch, const struct wave_msg *msgs, unsigned int n);
int __wrap_chan_send(struct chan *ch, const struct wave_msg *msg);

int __wrap_chan_is_up(const struct chan *ch)
{
	return 1;
}

int __wrap_chan_send_batch(struct chan *ch, const struct wave_msg *msgs, unsigned int n)
{
	for (unsigned int i = 0; i < n && nsent < sizeof(sent) / sizeof(sent[0]); i++)
		sent[nsent++] = msgs[i];
	return (int)n;
}

int __wrap_chan_send(struct chan *ch, const struct wave_msg *msg)
{
	return __wrap_chan_send_batch(ch, msg, 1) == 1 ? 0 : -EAGAIN;
}

/* What the wrapped agent announced in its HELLO. */
static uint64_t peer_features;
uint64_t __wrap_chan_peer_features(const struct chan *ch);

uint64_t __wrap_chan_peer_features(const struct chan *ch)
{
	return peer_features;
}

static unsigned int drops;
void __wrap_chan_drop(struct chan *ch, const char *why);

void __wrap_chan_drop(struct chan *ch, const char *why)
{
	drops++;
}

/* ---- observation, faked: records whose wakeups would be pushed ---- */

static int notified[HOOKS_MAX_THREADS];

static int fobs_add(struct obs *o, unsigned int slot, pid_t pid, pid_t tid, int notify)
{
	notified[slot] = notify;
	return 0;
}

static void fobs_del(struct obs *o, unsigned int slot)
{
	notified[slot] = 0;
}

static int fobs_read(struct obs *o, unsigned int slot, struct hooks_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->tid = (uint32_t)o->tid[slot];
	r->state = HOOKS_BLOCKED;
	return 0;
}

static int fobs_fd(const struct obs *o)
{
	return -1;
}

static void fobs_notify(struct obs *o, unsigned int slot, int on)
{
	notified[slot] = on;
}

static const struct obs_ops fake_obs_ops = {
	.name = "fake",
	.add = fobs_add,
	.del = fobs_del,
	.read = fobs_read,
	.fd = fobs_fd,
	.notify = fobs_notify,
};

/* ---- the stand-in vCPU threads: they only need to exist ---- */

static pid_t tids[NTHREADS];
static pthread_t thr[NTHREADS];
static int parked[2];

static void *standin(void *arg)
{
	char c;

	tids[(intptr_t)arg] = (pid_t)syscall(SYS_gettid);
	return read(parked[0], &c, 1) < 0 ? NULL : NULL;
}

static int group_setup(void **state)
{
	assert_int_equal(pipe(parked), 0);
	for (intptr_t i = 0; i < NTHREADS; i++)
		pthread_create(&thr[i], NULL, standin, (void *)i);
	for (int i = 0; i < NTHREADS; i++)
		while (!__atomic_load_n(&tids[i], __ATOMIC_ACQUIRE))
			sched_yield();
	return 0;
}

static int group_teardown(void **state)
{
	close(parked[1]);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(thr[i], NULL);
	close(parked[0]);
	return 0;
}

/* ---- waved, in memory: two VMs of two vCPUs, the agent in charge ---- */

static struct waved w;
static struct obs fobs;
static struct policy_conf conf;
static char rundir[64];
static struct wv_vm *lat, *bat;
static struct mech_state before[NTHREADS];

static struct wv_vm *vm_named(const char *name)
{
	for (unsigned int v = 0; v < WV_MAX_VMS; v++)
		if (w.vms[v].used && !strcmp(w.vms[v].name, name))
			return &w.vms[v];
	return NULL;
}

static int setup(void **state)
{
	struct wv_static_vm l = { .name = "lat", .cls = WAVE_CLASS_LATENCY, .nr_vcpus = 2 };
	struct wv_static_vm b = { .name = "bat", .cls = WAVE_CLASS_BATCH, .nr_vcpus = 2 };

	memset(&w, 0, sizeof(w));
	memset(&fobs, 0, sizeof(fobs));
	memset(notified, 0, sizeof(notified));
	nsent = 0;
	peer_features = WAVE_FEAT_PINS;
	mech_fake_reset();
	for (int i = 0; i < NTHREADS; i++)
		mech_fake_thread(tids[i]);
	snprintf(rundir, sizeof(rundir), "/tmp/wave-test-apply-%d", (int)getpid());
	mkdir(rundir, 0700);
	snprintf(w.journal, sizeof(w.journal), "%s/waved.journal", rundir);
	assert_int_equal(policy_conf_init(&conf, "cfs"), 0);
	w.cfg.mode = WAVED_OFFLOAD;
	w.cfg.fallback = WAVED_FB_CFS;
	w.cfg.policy = &conf;
	w.cfg.wake_events = WV_WAKE_POLICY;
	w.cfg.lag_threshold_ns = 10 * WAVE_NSEC_PER_MSEC;
	w.cfg.rt_max_thread = 0.5;
	w.cfg.rt_max_total = 1.0;
	w.cfg.evict_ns = 10 * WAVE_NSEC_PER_SEC;
	drops = 0;
	CPU_SET(0, &w.cfg.allowed);
	CPU_SET(1, &w.cfg.allowed);
	w.mech = &mech_fake_ops;
	fobs.ops = &fake_obs_ops;
	w.obs = &fobs;
	w.ch = (struct chan *)&fobs; /* any non-NULL: the channel is wrapped */
	w.epoch = 1;
	w.now = wave_now_ns();
	wd_init(&w.wd, w.cfg.lag_threshold_ns, 2);
	wd_peer(&w.wd, 1);
	w.wd.state = WD_OFFLOAD; /* the agent is in charge */
	wv_apply_init(&w);
	l.vcpus[0] = tids[0];
	l.vcpus[1] = tids[1];
	b.vcpus[0] = tids[2];
	b.vcpus[1] = tids[3];
	assert_int_equal(wv_add_static(&w, &l), 0);
	assert_int_equal(wv_add_static(&w, &b), 0);
	assert_non_null(lat = vm_named("lat"));
	assert_non_null(bat = vm_named("bat"));
	for (int i = 0; i < NTHREADS; i++)
		before[i] = *mech_fake_state(tids[i]);
	nsent = 0;
	return 0;
}

static int teardown(void **state)
{
	char path[128];

	unlink(w.journal);
	snprintf(path, sizeof(path), "%s/waved.journal.tmp", rundir);
	unlink(path);
	rmdir(rundir);
	return 0;
}

/* ---- transactions as the agent sends them ---- */

static struct wv_thread *vcpu(struct wv_vm *vm, unsigned int i)
{
	return wv_thread_find(vm, WAVE_KIND_VCPU, i);
}

/* One op on vm's vCPU i, with the barrier and epoch waved expects. */
static struct wave_txn op_on(struct wv_vm *vm, unsigned int i, enum wave_txn_op kind)
{
	struct wave_txn op = { .epoch = w.epoch, .vm_id = vm->id, .kind = WAVE_KIND_VCPU,
			       .index = (uint16_t)i, .op = (uint8_t)kind };

	op.barrier = vcpu(vm, i) ? vcpu(vm, i)->barrier : 0;
	return op;
}

static struct wave_txn place(struct wv_vm *vm, unsigned int i, uint64_t mask)
{
	struct wave_txn op = op_on(vm, i, WAVE_OP_PLACE);

	op.u.place.mask = mask;
	return op;
}

static struct wave_txn weight(struct wv_vm *vm, unsigned int i, uint32_t wt)
{
	struct wave_txn op = op_on(vm, i, WAVE_OP_SET_WEIGHT);

	op.u.weight.weight = wt;
	return op;
}

static struct wave_txn deadline(struct wv_vm *vm, unsigned int i)
{
	struct wave_txn op = op_on(vm, i, WAVE_OP_SET_CLASS);

	op.policy = WAVE_SCHED_DEADLINE;
	op.u.cls.runtime_ns = 1000000;
	op.u.cls.deadline_ns = op.u.cls.period_ns = 5000000;
	return op;
}

/* Hands waved the transaction ops[0..n-1] as txn id, op by op, as from the agent. */
static void submit(uint32_t id, struct wave_txn *ops, unsigned int n)
{
	for (unsigned int k = 0; k < n; k++) {
		ops[k].txn_id = id;
		ops[k].op_idx = (uint8_t)k;
		ops[k].op_count = (uint8_t)n;
		wv_on_txn(&w, &ops[k], 0);
	}
	wv_flush(&w);
}

/* The TXN_RESULT waved sent for txn id, or NULL. */
static const struct wave_txn_result *result(uint32_t id)
{
	for (unsigned int i = nsent; i-- > 0;)
		if (sent[i].h.type == WAVE_MSG_TXN_RESULT && sent[i].p.result.txn_id == id)
			return &sent[i].p.result;
	return NULL;
}

static int at_baseline(void)
{
	for (int i = 0; i < NTHREADS; i++)
		if (!mech_fake_same(mech_fake_state(tids[i]), &before[i]))
			return 0;
	return 1;
}

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

/* The fallback rule for memory: only acute pressure deflates, within the maximum and the headroom. */
static void memory_fallback_rule_only_for_acute_pressure(void **state)
{
	struct mm_stats a = { .balloon = 1, .max_kib = 512 << 10, .actual_kib = 256 << 10,
			      .usable_kib = 100 << 10, .swap_in_kib = 1000, .psi_some_us = 5000 };
	struct mm_stats b = a;
	const uint64_t sec = 1000000000ull;

	assert_int_equal(wv_mem_rule(&a, &b, sec, 256 << 10, 1 << 30), 0);     /* calm */
	b.psi_some_us = a.psi_some_us + 50000;                                  /* 5%: not acute */
	assert_int_equal(wv_mem_rule(&a, &b, sec, 256 << 10, 1 << 30), 0);
	b.psi_some_us = a.psi_some_us + 150000;                                 /* 15% stalled */
	assert_int_equal(wv_mem_rule(&a, &b, sec, 256 << 10, 1 << 30), 320 << 10); /* +max(64, 64) */
	b = a;
	b.swap_in_kib = a.swap_in_kib + 4096;                                   /* swapping in */
	assert_int_equal(wv_mem_rule(&a, &b, sec, 128 << 10, 1 << 30), (128 + 96) << 10);
	assert_int_equal(wv_mem_rule(&a, &b, sec, 128 << 10, 10 << 10), (128 + 10) << 10);
	assert_int_equal(wv_mem_rule(&a, &b, sec, 128 << 10, 0), 0);           /* no headroom */
	assert_int_equal(wv_mem_rule(&a, &b, sec, 512 << 10, 1 << 30), 0);     /* at its maximum */
	b = a;
	b.usable_kib = 8 << 10;                                                 /* nothing left */
	assert_int_equal(wv_mem_rule(&a, &b, sec, 480 << 10, 1 << 30), 512 << 10);
	b.balloon = 0;
	assert_int_equal(wv_mem_rule(&a, &b, sec, 256 << 10, 1 << 30), 0);
}

/* ---- a stand-in wave-switch: answers each request line with a fixed reply ---- */

static struct {
	int fd;
	struct sockaddr_un addr;
	char last[256];
	const char *reply;
} fsw = { .fd = -1 };

static void *fsw_serve(void *arg)
{
	int c = accept(fsw.fd, NULL, NULL);
	ssize_t n;

	if (c < 0)
		return NULL;
	n = read(c, fsw.last, sizeof(fsw.last) - 1);
	fsw.last[n > 0 ? n : 0] = 0;
	if (n > 0 && send(c, fsw.reply, strlen(fsw.reply), MSG_NOSIGNAL) < 0)
		fsw.last[0] = 0;
	close(c);
	return NULL;
}

/* Submits txn id to waved while the stand-in answers one request with reply. */
static void submit_to_switch(uint32_t id, struct wave_txn *ops, unsigned int n, const char *reply)
{
	pthread_t t;

	fsw.reply = reply;
	fsw.last[0] = 0;
	assert_int_equal(pthread_create(&t, NULL, fsw_serve, NULL), 0);
	submit(id, ops, n);
	if (!fsw.last[0]) { /* waved sent nothing: a call of our own ends the serve thread */
		int c = socket(AF_UNIX, SOCK_STREAM, 0);

		assert_int_equal(connect(c, (struct sockaddr *)&fsw.addr, sizeof(fsw.addr)), 0);
		close(c);
	}
	pthread_join(t, NULL);
}

static struct wave_txn net_rate(struct wv_vm *vm, uint8_t dir, uint64_t rate, uint32_t burst)
{
	struct wave_txn op = { .epoch = w.epoch, .vm_id = vm->id, .kind = WAVE_KIND_VCPU,
			       .op = WAVE_OP_SET_NET_RATE, .barrier = vm->barrier };

	op.u.net.dir = dir;
	op.u.net.rate_bytes_s = rate;
	op.u.net.burst_bytes = burst;
	return op;
}

static void listen_at(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	assert_true(strlen(path) < sizeof(a.sun_path));
	memcpy(a.sun_path, path, strlen(path) + 1);
	unlink(path);
	assert_true((fsw.fd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(fsw.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	fsw.addr = a;
	assert_int_equal(listen(fsw.fd, 4), 0);
}

/*
 * SET_NET_RATE goes to the switch as its rate request, for a VM on the
 * switch only; a stale or mixed transaction never reaches it; what the
 * switch refuses, or a switch that is gone, comes back FAILED.
 */
static void net_rate_goes_to_the_switch_and_is_checked(void **state)
{
	char path[128];
	struct wave_txn ops[2];

	snprintf(path, sizeof(path), "%s/switch.sock", rundir);
	w.cfg.switch_ctl = path;
	listen_at(path);
	lat->net_switch = 1;

	ops[0] = net_rate(bat, WAVE_NET_DIR_TO, 125000, 3000); /* not on the switch */
	submit_to_switch(1, ops, 1, "{\"ok\":true}\n");
	assert_int_equal(result(1)->status, WAVE_ST_INVALID);
	assert_string_equal(fsw.last, "");
	ops[0] = net_rate(lat, WAVE_NET_DIR_TO, 125000, 3000);
	submit_to_switch(2, ops, 1, "{\"ok\":true}\n");
	assert_int_equal(result(2)->status, WAVE_ST_OK);
	assert_string_equal(fsw.last, "rate lat to 125000 3000\n");
	ops[0] = net_rate(lat, WAVE_NET_DIR_BOTH, 0, 0);
	ops[0].barrier++;
	submit_to_switch(3, ops, 1, "{\"ok\":true}\n");
	assert_int_equal(result(3)->status, WAVE_ST_STALE_TARGET);
	ops[0] = net_rate(lat, WAVE_NET_DIR_FROM, 125000, 3000);
	ops[1] = net_rate(lat, WAVE_NET_DIR_TO, 125000, 3000);
	submit_to_switch(4, ops, 2, "{\"ok\":true}\n");
	assert_int_equal(result(4)->status, WAVE_ST_INVALID);
	assert_string_equal(fsw.last, "");
	ops[0] = net_rate(lat, WAVE_NET_DIR_FROM, 125000, 3000);
	submit_to_switch(5, ops, 1, "{\"error\":\"no\"}\n");
	assert_int_equal(result(5)->status, WAVE_ST_FAILED);
	assert_int_equal(result(5)->err, EINVAL);
	assert_int_equal(w.st.net_set, 1);
	assert_int_equal(w.st.net_refused, 2);
	assert_int_equal(w.st.net_failed, 1);
	close(fsw.fd);
	unlink(path);
	ops[0] = net_rate(lat, WAVE_NET_DIR_FROM, 125000, 3000);
	submit(6, ops, 1);                     /* no switch there at all */
	assert_int_equal(result(6)->status, WAVE_ST_FAILED);
	assert_int_equal(result(6)->err, ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(memory_fallback_rule_only_for_acute_pressure),
		cmocka_unit_test_setup_teardown(multi_op_txn_rolls_back_when_op_k_fails, setup,
						teardown),
		cmocka_unit_test_setup_teardown(refusals_touch_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(net_rate_goes_to_the_switch_and_is_checked, setup,
						teardown),
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
