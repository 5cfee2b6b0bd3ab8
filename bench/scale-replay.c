// SPDX-License-Identifier: BSD-3-Clause
/*
 * bench scale, part two: the real wave-agent at the full export rate of a
 * large host, which a thousand real threads waking every 10 ms would not
 * fit on this machine (each wakeup costs tens of microseconds here). This
 * process plays the host over the real shm channel: a snapshot of N vCPUs
 * in VMs of up to 64, then every 10 ms a VCPU_STATE for every vCPU (a
 * synthetic stream: each vCPU runs 2-10% of the time, wakes each period),
 * HOST_CPU every 100 ms with the host's default envelope, and a heartbeat
 * (PROMPT, so each echo is timed when it arrives). It answers every
 * transaction OK and a RESYNC_REQ with a new snapshot, and measures what
 * keeping up costs the agent.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "bench/bench.h"
#include "bench/scale.h"
#include "channel/chan.h"
#include "channel/codec.h"
#include "channel/txn.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/spawn.h"

#define TICK_NS   (10 * WAVE_NSEC_PER_MSEC)
#define NR_CPUS   2
#define MAX_LAG   4096

struct replay {
	struct chan *ch;
	unsigned int n, vms;
	uint32_t epoch, snap_id;
	uint64_t run_ns[STANDIN_VCPUS_MAX];
	uint32_t wakeups[STANDIN_VCPUS_MAX];
	uint64_t busy_ns, idle_ns, tick;
	struct txn_asm txa;
	uint64_t lag_ns[MAX_LAG];
	unsigned int lags;
	uint64_t lag_max_ns, resyncs, txns, sent, late_ticks;
	int attached;
};

static unsigned int vm_of(const struct replay *r, unsigned int i, unsigned int *index)
{
	unsigned int per = (r->n + r->vms - 1) / r->vms;

	*index = i % per;
	return i / per;
}

/* Sends all n, pumping the channel while the window is full; 0, or -ETIME past deadline. */
static int send_all(struct replay *r, const struct wave_msg *m, unsigned int n, uint64_t deadline)
{
	unsigned int done = 0;

	while (done < n) {
		int k = chan_send_batch(r->ch, m + done, n - done);

		if (k < 0)
			return k;
		done += (unsigned int)k;
		r->sent += (uint64_t)k;
		if (done < n) {
			if (wave_now_ns() > deadline)
				return -ETIME;
			chan_process(r->ch);
		}
	}
	return 0;
}

static void fill_vcpu(const struct replay *r, unsigned int i, struct wave_msg *m)
{
	unsigned int index, vm = vm_of(r, i, &index);

	wave_msg_init(m, WAVE_MSG_VCPU_STATE);
	m->p.vcpu.vm_id = vm + 1;
	m->p.vcpu.index = (uint16_t)index;
	m->p.vcpu.kind = WAVE_KIND_VCPU;
	m->p.vcpu.state = (r->tick + i) % 8 ? WAVE_TS_BLOCKED : WAVE_TS_RUNNING;
	m->p.vcpu.cpu = (uint16_t)(i % NR_CPUS);
	m->p.vcpu.barrier = i + 1;
	m->p.vcpu.run_ns = r->run_ns[i];
	m->p.vcpu.wakeups = r->wakeups[i];
	m->p.vcpu.tid = 100000 + i;
}

static int send_cpus(struct replay *r, uint64_t deadline)
{
	struct wave_msg m[NR_CPUS];

	for (unsigned int c = 0; c < NR_CPUS; c++) {
		wave_msg_init(&m[c], WAVE_MSG_HOST_CPU);
		m[c].p.cpu.cpu = (uint16_t)c;
		m[c].p.cpu.flags = WAVE_CPU_ONLINE | WAVE_CPU_ALLOWED;
		m[c].p.cpu.barrier = r->epoch;
		m[c].p.cpu.busy_ns = r->busy_ns;
		m[c].p.cpu.idle_ns = r->idle_ns;
		/* waved's default envelope: 3/4 of the CPUs, 0.8 of one per thread. */
		m[c].p.cpu.rt_cap_ppm = 750000;
		m[c].p.cpu.rt_thread_cap_ppm = 800000;
	}
	return send_all(r, m, NR_CPUS, deadline);
}

static int send_snapshot(struct replay *r)
{
	static struct wave_msg m[STANDIN_VCPUS_MAX + 64];
	uint64_t deadline = wave_now_ns() + WAVE_NSEC_PER_SEC;
	unsigned int k = 0;
	int ret;

	wave_msg_init(&m[k], WAVE_MSG_SNAPSHOT_BEGIN);
	m[k].p.snap.epoch = r->epoch;
	m[k].p.snap.snap_id = ++r->snap_id;
	m[k++].p.snap.count = r->vms;
	for (unsigned int v = 0; v < r->vms; v++) {
		unsigned int per = (r->n + r->vms - 1) / r->vms;

		wave_msg_init(&m[k], WAVE_MSG_VM_ADD);
		m[k].p.vm_add.vm_id = v + 1;
		m[k].p.vm_add.nr_vcpus = (uint16_t)(v + 1 < r->vms ? per : r->n - per * v);
		m[k].p.vm_add.vm_class = v % 8 ? WAVE_CLASS_BATCH : WAVE_CLASS_LATENCY;
		m[k].p.vm_add.weight = 100;
		m[k].p.vm_add.barrier = 1;
		snprintf(m[k++].p.vm_add.name, WAVE_NAME_LEN, "replay%u", v);
	}
	if ((ret = send_all(r, m, k, deadline)) || (ret = send_cpus(r, deadline)))
		return ret;
	for (k = 0; k < r->n; k++)
		fill_vcpu(r, k, &m[k]);
	wave_msg_init(&m[k], WAVE_MSG_SNAPSHOT_END);
	m[k].p.snap.epoch = r->epoch;
	m[k].p.snap.snap_id = r->snap_id;
	m[k++].p.snap.count = r->vms;
	return send_all(r, m, k, deadline);
}

static void on_txn(struct replay *r, const struct wave_txn *op)
{
	struct wave_msg res;
	uint32_t bad;
	char why[128];
	int ret = txn_asm_push(&r->txa, op, &bad, why, sizeof(why));

	if (ret == TXN_ASM_INTERRUPTED)
		ret = txn_asm_push(&r->txa, op, &bad, why, sizeof(why));
	if (ret != TXN_ASM_DONE)
		return;
	r->txns++;
	wave_msg_init(&res, WAVE_MSG_TXN_RESULT);
	res.p.result.txn_id = op->txn_id;
	res.p.result.epoch = r->epoch;
	res.p.result.status = WAVE_ST_OK;
	res.p.result.vm_id = r->txa.ops[0].vm_id;
	res.p.result.barrier = r->txa.ops[0].barrier;
	chan_send(r->ch, &res);
}

static void drain(struct replay *r)
{
	struct wave_msg m[64];
	int n;

	chan_process(r->ch);
	while ((n = chan_recv(r->ch, m, 64)) > 0) {
		uint64_t now = wave_now_ns();

		for (int i = 0; i < n; i++) {
			switch (m[i].h.type) {
			case WAVE_MSG_HELLO:
				r->attached = 1;
				txn_asm_reset(&r->txa);
				break;
			case WAVE_MSG_HEARTBEAT_ECHO: {
				uint64_t lag = now - m[i].p.hb.t_host_ns;

				r->lag_ns[r->lags++ % MAX_LAG] = lag;
				if (lag > r->lag_max_ns)
					r->lag_max_ns = lag;
				break;
			}
			case WAVE_MSG_TXN:
				on_txn(r, &m[i].p.txn);
				break;
			case WAVE_MSG_RESYNC_REQ:
				r->resyncs++;
				send_snapshot(r);
				break;
			default:
				break;
			}
		}
	}
}

/* One export period: every vCPU's state, a heartbeat, the CPUs every tenth. */
static int tick(struct replay *r, uint64_t now)
{
	static struct wave_msg m[STANDIN_VCPUS_MAX + 1];
	unsigned int k;

	r->tick++;
	for (k = 0; k < r->n; k++) {
		/* 2% to 10% of a CPU, by vCPU. */
		r->run_ns[k] += TICK_NS / 50 * (1 + k % 5);
		r->wakeups[k]++;
		fill_vcpu(r, k, &m[k]);
	}
	wave_msg_init(&m[k], WAVE_MSG_HEARTBEAT);
	m[k].p.hb.hb_seq = r->tick;
	m[k].p.hb.epoch = r->epoch;
	m[k].p.hb.flags = WAVE_HB_PROMPT;
	m[k++].p.hb.t_host_ns = now;
	r->busy_ns += TICK_NS / 2;
	r->idle_ns += TICK_NS / 2;
	if (send_all(r, m, k, now + TICK_NS))
		return -ETIME;
	return r->tick % 10 ? 0 : send_cpus(r, now + TICK_NS);
}

/* Resident memory of pid, MiB (0 if unknown). */
static double rss_mib(pid_t pid)
{
	char path[64], line[256];
	double kib = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "re")))
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lf kB", &kib) == 1)
			break;
	fclose(f);
	return kib / 1024;
}

/* Runs the host side for secs (the first settle_s not measured). */
static int run_host(struct replay *r, pid_t agent, const char *stats, unsigned int settle_s,
		    unsigned int secs, struct scale_replay_point *p)
{
	uint64_t start = wave_now_ns(), next = start, t0 = 0, c0 = 0, sent0 = 0, txns0 = 0;
	double d0 = 0;

	while (!r->attached && wave_now_ns() - start < 5 * WAVE_NSEC_PER_SEC) {
		chan_wait(r->ch, 10);
		drain(r);
	}
	if (!r->attached || send_snapshot(r))
		return -ETIMEDOUT;
	for (;;) {
		uint64_t now = wave_now_ns();

		if (!t0 && now - start >= (uint64_t)settle_s * WAVE_NSEC_PER_SEC) {
			json_object *a = json_object_from_file(stats);

			t0 = now;
			c0 = bench_proc_cpu_ns(agent);
			sent0 = r->sent;
			txns0 = r->txns;
			d0 = a ? json_object_get_double(json_object_object_get(a, "decides")) : 0;
			if (a)
				json_object_put(a);
			r->lags = 0;
			r->lag_max_ns = 0;
			r->resyncs = 0;
			r->late_ticks = 0;
		}
		if (t0 && now - t0 >= (uint64_t)secs * WAVE_NSEC_PER_SEC)
			break;
		if (now >= next) {
			if (tick(r, now))
				r->late_ticks++;
			next += TICK_NS;
			if (next < now)
				next = now + TICK_NS; /* behind by more than a period: count, go on */
			continue;
		}
		chan_wait(r->ch, (int)((next - now + WAVE_NSEC_PER_MSEC - 1) / WAVE_NSEC_PER_MSEC));
		drain(r);
	}
	{
		double dt = (double)(wave_now_ns() - t0);
		json_object *a = json_object_from_file(stats);
		unsigned int nl = r->lags < MAX_LAG ? r->lags : MAX_LAG;

		p->agent_cpu_pct = 100.0 * (double)(bench_proc_cpu_ns(agent) - c0) / dt;
		p->agent_rss_mib = rss_mib(agent);
		p->msgs_per_s = (double)(r->sent - sent0) * 1e9 / dt;
		p->txns_per_s = (double)(r->txns - txns0) * 1e9 / dt;
		p->decides_per_s = a ? (json_object_get_double(json_object_object_get(a, "decides")) -
					d0) * 1e9 / dt : 0;
		p->decide_us_p99 = a ? json_object_get_double(json_object_object_get(a,
										  "decide_us_p99")) : 0;
		if (a)
			json_object_put(a);
		p->lag_p99_ms = (double)bench_percentile(r->lag_ns, nl, 0.99) / 1e6;
		p->lag_max_ms = (double)r->lag_max_ns / 1e6;
		p->resyncs = (double)r->resyncs;
		p->late_ticks = (double)r->late_ticks;
		p->kept_up = !r->resyncs && !r->late_ticks && nl && p->lag_max_ms < 10;
	}
	return 0;
}

int scale_replay(const char *bindir, const char *rundir, unsigned int n, unsigned int secs,
		 struct scale_replay_point *p)
{
	static struct replay r;
	char agent[PATH_MAX + 16], uri[64], stats[96];
	char *ag[] = { agent, "--channel", uri, "--policy", "latency", "--report-s", "1",
		       "--stats", stats, NULL };
	struct chan_opts o;
	pid_t pid;
	int ret;

	memset(&r, 0, sizeof(r));
	memset(p, 0, sizeof(*p));
	r.n = p->n = n < STANDIN_VCPUS_MAX ? n : STANDIN_VCPUS_MAX;
	r.vms = (n + 63) / 64 < 2 ? 2 : (n + 63) / 64;
	r.epoch = 1;
	snprintf(agent, sizeof(agent), "%s/wave-agent", bindir);
	snprintf(uri, sizeof(uri), "shm:bench-replay-%d", (int)getpid());
	snprintf(stats, sizeof(stats), "%s/replay-agent.json", rundir);
	chan_opts_init(&o, CHAN_HOST);
	o.label = "bench scale";
	o.ring_slots = 4096;
	if ((ret = chan_open(uri, &o, &r.ch)))
		return ret;
	pid = wave_spawn(ag, 1);
	ret = pid < 0 ? -ECHILD : run_host(&r, pid, stats, 2, secs, p);
	wave_reap(&pid, 3000);
	chan_close(r.ch);
	unlink(stats);
	return ret;
}
