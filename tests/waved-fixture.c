// SPDX-License-Identifier: BSD-3-Clause
/*
 * waved in memory for unit tests of its decision path (waved-fixture.h):
 * the channel wrapped at link time (each test's .wrap), observation and
 * the kernel faked, stand-in vCPU threads, two VMs with the agent in
 * charge.
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
#include "ipu-sched/policy.h"
#include "tests/mech-fake.h"
#include "tests/waved-fixture.h"

/* ---- the channel, wrapped: what waved sends lands here ---- */

struct wave_msg sent[4096];
unsigned int nsent;

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
uint64_t peer_features;
uint64_t __wrap_chan_peer_features(const struct chan *ch);

uint64_t __wrap_chan_peer_features(const struct chan *ch)
{
	return peer_features;
}

unsigned int drops;
void __wrap_chan_drop(struct chan *ch, const char *why);

void __wrap_chan_drop(struct chan *ch, const char *why)
{
	drops++;
}

/* ---- observation, faked: records whose wakeups would be pushed ---- */

int notified[HOOKS_MAX_THREADS];

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

pid_t tids[NTHREADS];
static pthread_t thr[NTHREADS];
static int parked[2];

static void *standin(void *arg)
{
	char c;

	tids[(intptr_t)arg] = (pid_t)syscall(SYS_gettid);
	return read(parked[0], &c, 1) < 0 ? NULL : NULL;
}

int group_setup(void **state)
{
	assert_int_equal(pipe(parked), 0);
	for (intptr_t i = 0; i < NTHREADS; i++)
		pthread_create(&thr[i], NULL, standin, (void *)i);
	for (int i = 0; i < NTHREADS; i++)
		while (!__atomic_load_n(&tids[i], __ATOMIC_ACQUIRE))
			sched_yield();
	return 0;
}

int group_teardown(void **state)
{
	close(parked[1]);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(thr[i], NULL);
	close(parked[0]);
	return 0;
}

/* ---- waved, in memory: two VMs of two vCPUs, the agent in charge ---- */

struct waved w;
static struct obs fobs;
static struct policy_conf conf;
char rundir[64];
struct wv_vm *lat, *bat;
struct mech_state before[NTHREADS];

struct wv_vm *vm_named(const char *name)
{
	for (unsigned int v = 0; v < WV_MAX_VMS; v++)
		if (w.vms[v].used && !strcmp(w.vms[v].name, name))
			return &w.vms[v];
	return NULL;
}

int setup(void **state)
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

int teardown(void **state)
{
	char path[128];

	unlink(w.journal);
	snprintf(path, sizeof(path), "%s/waved.journal.tmp", rundir);
	unlink(path);
	rmdir(rundir);
	return 0;
}

/* ---- transactions as the agent sends them ---- */

struct wv_thread *vcpu(struct wv_vm *vm, unsigned int i)
{
	return wv_thread_find(vm, WAVE_KIND_VCPU, i);
}

/* One op on vm's vCPU i, with the barrier and epoch waved expects. */
struct wave_txn op_on(struct wv_vm *vm, unsigned int i, enum wave_txn_op kind)
{
	struct wave_txn op = { .epoch = w.epoch, .vm_id = vm->id, .kind = WAVE_KIND_VCPU,
			       .index = (uint16_t)i, .op = (uint8_t)kind };

	op.barrier = vcpu(vm, i) ? vcpu(vm, i)->barrier : 0;
	return op;
}

struct wave_txn place(struct wv_vm *vm, unsigned int i, uint64_t mask)
{
	struct wave_txn op = op_on(vm, i, WAVE_OP_PLACE);

	op.u.place.mask = mask;
	return op;
}

struct wave_txn weight(struct wv_vm *vm, unsigned int i, uint32_t wt)
{
	struct wave_txn op = op_on(vm, i, WAVE_OP_SET_WEIGHT);

	op.u.weight.weight = wt;
	return op;
}

struct wave_txn deadline(struct wv_vm *vm, unsigned int i)
{
	struct wave_txn op = op_on(vm, i, WAVE_OP_SET_CLASS);

	op.policy = WAVE_SCHED_DEADLINE;
	op.u.cls.runtime_ns = 1000000;
	op.u.cls.deadline_ns = op.u.cls.period_ns = 5000000;
	return op;
}

/* Hands waved the transaction ops[0..n-1] as txn id, op by op, as from the agent. */
void submit(uint32_t id, struct wave_txn *ops, unsigned int n)
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
const struct wave_txn_result *result(uint32_t id)
{
	for (unsigned int i = nsent; i-- > 0;)
		if (sent[i].h.type == WAVE_MSG_TXN_RESULT && sent[i].p.result.txn_id == id)
			return &sent[i].p.result;
	return NULL;
}

int at_baseline(void)
{
	for (int i = 0; i < NTHREADS; i++)
		if (!mech_fake_same(mech_fake_state(tids[i]), &before[i]))
			return 0;
	return 1;
}

