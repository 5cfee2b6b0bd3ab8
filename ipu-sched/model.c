// SPDX-License-Identifier: BSD-3-Clause
/*
 * The policy model (model.h). Signals are exponentially weighted moving
 * averages over the time between samples, so irregular sample spacing
 * (batches, link delay) weighs each sample by the time it covers:
 *   alpha = 1 - exp(-dt / tau),  avg += alpha * (sample - avg).
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "ipu-sched/model.h"

void model_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
}

struct model_vm *model_vm(struct model *m, uint32_t vm_id)
{
	for (unsigned int i = 0; i < WAVE_MANAGED_VMS; i++)
		if (m->vms[i].present && m->vms[i].id == vm_id)
			return &m->vms[i];
	return NULL;
}

struct model_thread *model_thread(struct model *m, uint32_t vm_id, unsigned int kind,
				  unsigned int index)
{
	struct model_vm *vm = model_vm(m, vm_id);

	if (!vm)
		return NULL;
	if (kind == WAVE_KIND_VCPU)
		return index < WAVE_VM_VCPU_SLOTS ? &vm->vcpu[index] : NULL;
	return index < WAVE_VM_EXTRA_SLOTS ? &vm->extra[index] : NULL;
}

const struct model_thread *model_thread_c(const struct model *m, uint32_t vm_id,
					  unsigned int kind, unsigned int index)
{
	return model_thread((struct model *)m, vm_id, kind, index);
}

/* An EWMA of a rate over dt with time constant tau (no clamp: packets/s). */
static double ewma_rate(double avg, double sample, uint64_t dt, uint64_t tau)
{
	return avg + (1.0 - exp(-(double)dt / (double)tau)) * (sample - avg);
}

/* An EWMA of a fraction of time: the sample clamped to [0, 1]. */
static double ewma(double avg, double sample, uint64_t dt, uint64_t tau)
{
	return ewma_rate(avg, sample < 0 ? 0 : sample > 1 ? 1 : sample, dt, tau);
}

/*
 * Per-activation averages weigh each sample by the activations it covers
 * (1/32 per activation, at most half per sample): a burst of wakeups moves
 * them faster than one lone wakeup does.
 */
static double per_wake(double avg, double sample, double activations)
{
	double a = activations / 32.0;

	if (a > 0.5)
		a = 0.5;
	return avg + a * (sample - avg);
}

static int apply_vm_add(struct model *m, const struct wave_vm_add *a)
{
	struct model_vm *vm = model_vm(m, a->vm_id);

	for (unsigned int i = 0; !vm && i < WAVE_MANAGED_VMS; i++)
		if (!m->vms[i].present)
			vm = &m->vms[i];
	if (!vm)
		return -ENOENT;
	if (!vm->present || vm->barrier != a->barrier) {
		memset(vm, 0, sizeof(*vm));
		vm->present = 1;
	}
	vm->id = a->vm_id;
	vm->barrier = a->barrier;
	vm->weight = a->weight;
	vm->cls = a->vm_class;
	vm->nr_vcpus = a->nr_vcpus;
	memcpy(vm->name, a->name, WAVE_NAME_LEN);
	vm->name[WAVE_NAME_LEN] = '\0';
	return 1;
}

static int apply_vcpu(struct model *m, const struct wave_vcpu_state *s, uint64_t now)
{
	struct model_thread *t = model_thread(m, s->vm_id, s->kind, s->index);

	if (!t)
		return -ENOENT;
	if (s->state == WAVE_TS_GONE) {
		memset(t, 0, sizeof(*t));
		return 1;
	}
	/* A new thread behind the target: start over. */
	if (!t->present || t->barrier != s->barrier || t->tid != s->tid) {
		memset(t, 0, sizeof(*t));
		t->present = 1;
		t->seen_ns = now;
	} else if (now > t->seen_ns) {
		uint64_t dt = now - t->seen_ns;
		/*
		 * The counters only grow, but each sample is brought up to the
		 * time its reader took it (hooks_rec_upto: a running or waiting
		 * thread's current stretch counted so far), and samples of one
		 * thread come from two readers, waved and this agent's own
		 * look at the records, each at its own time: a sample taken
		 * earlier can arrive after a later one, counters up to the
		 * thread's current stretch behind (measured: waits 0.1-36 ms
		 * back, every second or two under load). That is no progress,
		 * not a new thread: starting over there zeroed the thread's use
		 * for a moment, and the latency policy once learned a busy
		 * server's cost per packet from that moment and demoted it.
		 */
		double ran = s->run_ns > t->run_ns ? (double)(s->run_ns - t->run_ns) : 0;
		double waited = s->wait_ns > t->wait_ns ? (double)(s->wait_ns - t->wait_ns) : 0;

		if (s->run_ns < t->run_ns || s->wait_ns < t->wait_ns)
			m->steps_back++;
		t->util = ewma(t->util, ran / (double)dt, dt, MODEL_TAU_NS);
		t->delay = ewma(t->delay, waited / (double)dt, dt, MODEL_TAU_NS);
		t->util_slow = ewma(t->util_slow, ran / (double)dt, dt, 10 * MODEL_TAU_NS);
		/* Per activation: what a wakeup costs, and how long it waits to run. */
		if (s->wakeups > t->wakeups) {
			double w = (double)(s->wakeups - t->wakeups);

			t->burst_ns = per_wake(t->burst_ns, ran / w, w);
			t->wait_per_wake_ns = per_wake(t->wait_per_wake_ns, waited / w, w);
		}
		t->seen_ns = now;
	}
	/* Monotonic (above): what the thread is known to have run and waited so far. */
	if (s->run_ns > t->run_ns)
		t->run_ns = s->run_ns;
	if (s->wait_ns > t->wait_ns)
		t->wait_ns = s->wait_ns;
	t->kind = s->kind;
	t->index = s->index;
	t->tid = s->tid;
	t->barrier = s->barrier;
	t->state = s->state;
	t->cpu = s->cpu;
	if (s->wakeups > t->wakeups)
		t->wakeups = s->wakeups;
	t->preempts = s->preempts;
	t->flags = s->flags;
	if (!(s->flags & WAVE_THREAD_PINNED))
		memset(t->pin, 0, sizeof(t->pin));
	return 1;
}

static int apply_net(struct model *m, const struct wave_net_state *s, uint64_t now)
{
	struct model_vm *vm = model_vm(m, s->vm_id);
	struct model_net *n;

	if (!vm || vm->barrier != s->barrier)
		return -ENOENT;
	n = &vm->net;
	/* Two reports at one instant: the later one's packets count with the next report. */
	if (n->present && now <= n->seen_ns && s->rx_pkts >= n->rx_pkts &&
	    s->tx_pkts >= n->tx_pkts) {
		if (s->flags & WAVE_NET_ARRIVAL)
			n->arrival_ns = now;
		return 1;
	}
	/* First counts, or counts that went back (the host started over): a new baseline. */
	if (!n->present || s->rx_pkts < n->rx_pkts || s->tx_pkts < n->tx_pkts ||
	    s->rx_bytes < n->rx_bytes || s->tx_bytes < n->tx_bytes) {
		memset(n, 0, sizeof(*n));
		n->present = 1;
	} else if (now > n->seen_ns) {
		uint64_t dt = now - n->seen_ns;
		double rx, tx;

		/* Silence beyond one export period had no traffic: the host would have said. */
		if (dt > MODEL_NET_PERIOD_NS) {
			uint64_t quiet = dt - MODEL_NET_PERIOD_NS;

			n->rx_pps = ewma_rate(n->rx_pps, 0, quiet, MODEL_TAU_NS);
			n->rx_pps_slow = ewma_rate(n->rx_pps_slow, 0, quiet, 10 * MODEL_TAU_NS);
			n->tx_pps = ewma_rate(n->tx_pps, 0, quiet, MODEL_TAU_NS);
			n->rx_bytes_s = ewma_rate(n->rx_bytes_s, 0, quiet, MODEL_TAU_NS);
			n->tx_bytes_s = ewma_rate(n->tx_bytes_s, 0, quiet, MODEL_TAU_NS);
			dt = MODEL_NET_PERIOD_NS;
		}
		rx = (double)(s->rx_pkts - n->rx_pkts) * 1e9 / (double)dt;
		tx = (double)(s->tx_pkts - n->tx_pkts) * 1e9 / (double)dt;
		n->rx_pps = ewma_rate(n->rx_pps, rx, dt, MODEL_TAU_NS);
		n->rx_pps_slow = ewma_rate(n->rx_pps_slow, rx, dt, 10 * MODEL_TAU_NS);
		n->tx_pps = ewma_rate(n->tx_pps, tx, dt, MODEL_TAU_NS);
		/* Bytes move with packets: counts that went back were caught above. */
		n->rx_bytes_s = ewma_rate(n->rx_bytes_s, (double)(s->rx_bytes - n->rx_bytes) * 1e9 /
					  (double)dt, dt, MODEL_TAU_NS);
		n->tx_bytes_s = ewma_rate(n->tx_bytes_s, (double)(s->tx_bytes - n->tx_bytes) * 1e9 /
					  (double)dt, dt, MODEL_TAU_NS);
	}
	if (s->flags & WAVE_NET_ARRIVAL)
		n->arrival_ns = now;
	n->source = s->source;
	n->rx_pkts = s->rx_pkts;
	n->rx_bytes = s->rx_bytes;
	n->tx_pkts = s->tx_pkts;
	n->tx_bytes = s->tx_bytes;
	n->seen_ns = now;
	return 1;
}

/*
 * avg decayed with time constant tau over the silence since seen beyond
 * period: a host that reports only what changed said nothing moved then.
 */
static double silence_decay(double avg, uint64_t seen, uint64_t now, uint64_t period,
			    uint64_t tau)
{
	if (now <= seen + period)
		return avg;
	return avg * exp(-(double)(now - seen - period) / (double)tau);
}

double model_net_rx_rate(const struct model_vm *vm, uint64_t now_ns, int slow)
{
	const struct model_net *n = &vm->net;

	if (!n->present)
		return 0;
	return silence_decay(slow ? n->rx_pps_slow : n->rx_pps, n->seen_ns, now_ns,
			     MODEL_NET_PERIOD_NS, slow ? 10 * MODEL_TAU_NS : MODEL_TAU_NS);
}

double model_net_bytes_rate(const struct model_vm *vm, uint64_t now_ns, int tx)
{
	const struct model_net *n = &vm->net;

	if (!n->present)
		return 0;
	return silence_decay(tx ? n->tx_bytes_s : n->rx_bytes_s, n->seen_ns, now_ns,
			     MODEL_NET_PERIOD_NS, MODEL_TAU_NS);
}

/* What a counter that wraps at 2^32 moved by, per second, over dt ns. */
static double rate32(uint32_t now, uint32_t before, uint64_t dt)
{
	return dt ? (double)(uint32_t)(now - before) * 1e9 / (double)dt : 0;
}

/*
 * The share of time stalled, from a PSI total (us) that went from was to
 * is over dt ns (a total that went back: a new start, nothing learned).
 */
static double stall_share(uint64_t was, uint64_t is, uint64_t dt)
{
	double share;

	if (!dt || is < was)
		return 0;
	share = (double)(is - was) * 1e3 / (double)dt;
	return share > 1 ? 1 : share;
}

/* A rate from two counts the guest reported, or 0 if either is missing. */
static double mem_rate(uint32_t is, uint32_t was, uint64_t dt)
{
	return is == WAVE_MEM_NONE || was == WAVE_MEM_NONE ? 0 : rate32(is, was, dt);
}

/*
 * The rates move only with new guest statistics: a report the host sent
 * again because another value changed (QEMU's RSS, say) carries the same
 * statistics, and a rate of 0 over the fraction of a second between the
 * two would read as calm.
 */
static int apply_mem(struct model *m, const struct wave_mem_state *s, uint64_t now)
{
	struct model_vm *vm = model_vm(m, s->vm_id);
	uint64_t age = s->age_ms == WAVE_MEM_NONE ? 0 : (uint64_t)s->age_ms * 1000000ull;
	uint64_t guest = now > age ? now - age : 0;
	struct model_mem *x;

	if (!vm || vm->barrier != s->barrier)
		return -ENOENT;
	x = &vm->mem;
	if (x->present && guest < x->guest_ns + MODEL_MEM_SAME_NS) {
		x->state_ns = now;
		x->actual_kib = s->actual_kib; /* the balloon and RSS move between the guest's reports */
		x->rss_kib = s->rss_kib;
		return 1;
	}
	if (x->present) {
		uint64_t dt = guest - x->guest_ns;

		x->major_per_s = mem_rate(s->major_faults, x->major_faults, dt);
		x->swap_in_kib_per_s = mem_rate(s->swap_in_kib, x->swap_in_kib, dt);
	}
	x->present = 1;
	x->actual_kib = s->actual_kib;
	x->max_kib = s->max_kib;
	x->available_kib = s->available_kib;
	x->usable_kib = s->usable_kib;
	x->unused_kib = s->unused_kib;
	x->caches_kib = s->caches_kib;
	x->rss_kib = s->rss_kib;
	x->age_ms = s->age_ms;
	x->major_faults = s->major_faults;
	x->swap_in_kib = s->swap_in_kib;
	x->state_ns = now;
	x->guest_ns = guest;
	return 1;
}

static int apply_mem_ctl(struct model *m, const struct wave_mem_ctl *c, uint64_t now)
{
	struct model_vm *vm = model_vm(m, c->vm_id);
	struct model_mem *x;

	if (!vm || vm->barrier != c->barrier)
		return -ENOENT;
	x = &vm->mem;
	if (x->ctl && now > x->ctl_ns)
		x->stall = stall_share(x->psi_some_us, c->psi_some_us, now - x->ctl_ns);
	x->ctl = 1;
	x->target_kib = c->target_kib;
	x->floor_kib = c->floor_kib;
	x->weight = c->weight;
	x->flags = c->flags;
	x->psi_some_us = c->psi_some_us;
	x->ctl_ns = now;
	/* Not known this time (the balloon moved while the guest counted): the last estimate stands. */
	x->used_stale = !c->used_kib || c->used_kib == WAVE_MEM_NONE;
	if (!x->used_stale)
		x->used_kib = c->used_kib;
	return 1;
}

void model_mem_now(const struct model_vm *vm, uint64_t now_ns, struct model_mem_now *out)
{
	const struct model_mem *x = &vm->mem;
	int quiet = now_ns > x->guest_ns + MODEL_MEM_QUIET_NS;

	out->major_per_s = quiet ? 0 : x->major_per_s;
	out->swap_in_kib_per_s = quiet ? 0 : x->swap_in_kib_per_s;
	out->stall = now_ns > x->ctl_ns + MODEL_MEM_QUIET_NS ? 0 : x->stall;
}

static int apply_host_mem(struct model *m, const struct wave_host_mem *h, uint64_t now)
{
	struct model_host_mem *x = &m->host_mem;

	if (x->present && now > x->seen_ns)
		x->stall = stall_share(x->psi_some_us, h->psi_some_us, now - x->seen_ns);
	x->present = 1;
	x->budget_kib = h->budget_kib;
	x->total_kib = h->total_kib;
	x->avail_kib = h->avail_kib;
	x->psi_some_us = h->psi_some_us;
	x->seen_ns = now;
	return 1;
}

/* One window of a pinned thread's CPUs; CPUs beyond what the model holds are not placed on anyway. */
static int apply_pin(struct model *m, const struct wave_thread_cpus *p)
{
	struct model_thread *t = model_thread(m, p->vm_id, p->kind, p->index);

	if (!t || !t->present || t->barrier != p->barrier)
		return -ENOENT;
	if (p->cpu_base < WAVE_MANAGED_CPUS)
		t->pin[p->cpu_base / 64] = p->mask;
	return 1;
}

static int apply_cpu(struct model *m, const struct wave_host_cpu *c, uint64_t now)
{
	struct model_cpu *cpu;

	if (c->cpu >= WAVE_MANAGED_CPUS)
		return -ENOENT;
	cpu = &m->cpus[c->cpu];
	if (cpu->present && now > cpu->seen_ns && c->busy_ns >= cpu->busy_ns &&
	    c->idle_ns >= cpu->idle_ns) {
		uint64_t busy = c->busy_ns - cpu->busy_ns, idle = c->idle_ns - cpu->idle_ns;

		if (busy + idle)
			cpu->util = ewma(cpu->util, (double)busy / (double)(busy + idle),
					 now - cpu->seen_ns, MODEL_TAU_NS);
	}
	cpu->present = !!(c->flags & WAVE_CPU_ONLINE);
	cpu->allowed = !!(c->flags & WAVE_CPU_ALLOWED);
	cpu->busy_ns = c->busy_ns;
	cpu->idle_ns = c->idle_ns;
	cpu->nr_running = c->nr_running;
	cpu->rt_cap = c->rt_cap_ppm / 1e6;
	cpu->rt_thread_cap = c->rt_thread_cap_ppm / 1e6;
	cpu->seen_ns = now;
	return 1;
}

int model_apply(struct model *m, const struct wave_msg *msg, uint64_t now_ns)
{
	int ret = 0;

	switch (msg->h.type) {
	case WAVE_MSG_SNAPSHOT_BEGIN:
		/* A snapshot replaces everything: the host may have restarted. */
		model_init(m);
		m->epoch = msg->p.snap.epoch;
		m->in_snapshot = 1;
		return 1;
	case WAVE_MSG_SNAPSHOT_END:
		m->in_snapshot = 0;
		m->epoch = msg->p.snap.epoch;
		return 1;
	case WAVE_MSG_VM_ADD:
		ret = apply_vm_add(m, &msg->p.vm_add);
		break;
	case WAVE_MSG_VM_DEL: {
		struct model_vm *vm = model_vm(m, msg->p.vm_del.vm_id);

		if (vm)
			memset(vm, 0, sizeof(*vm));
		ret = vm ? 1 : -ENOENT;
		break;
	}
	case WAVE_MSG_VCPU_STATE:
		ret = apply_vcpu(m, &msg->p.vcpu, now_ns);
		break;
	case WAVE_MSG_HOST_CPU:
		ret = apply_cpu(m, &msg->p.cpu, now_ns);
		break;
	case WAVE_MSG_THREAD_CPUS:
		ret = apply_pin(m, &msg->p.pin);
		break;
	case WAVE_MSG_NET_STATE:
		ret = apply_net(m, &msg->p.net, now_ns);
		break;
	case WAVE_MSG_MEM_STATE:
		ret = apply_mem(m, &msg->p.mem, now_ns);
		break;
	case WAVE_MSG_MEM_CTL:
		ret = apply_mem_ctl(m, &msg->p.mctl, now_ns);
		break;
	case WAVE_MSG_HOST_MEM:
		ret = apply_host_mem(m, &msg->p.hmem, now_ns);
		break;
	default:
		return 0;
	}
	if (ret < 0)
		m->ignored++;
	else
		m->updates++;
	return ret;
}

double model_rt_capacity(const struct model *m, double *per_thread)
{
	double sum = 0;

	*per_thread = 0;
	for (unsigned int c = 0; c < WAVE_MANAGED_CPUS; c++)
		if (m->cpus[c].present && m->cpus[c].allowed) {
			sum += m->cpus[c].rt_cap;
			if (m->cpus[c].rt_thread_cap > *per_thread)
				*per_thread = m->cpus[c].rt_thread_cap;
		}
	return sum;
}

unsigned int model_allowed_cpus(const struct model *m, unsigned int *list, unsigned int max)
{
	unsigned int n = 0;

	for (unsigned int c = 0; c < WAVE_MANAGED_CPUS && n < max; c++)
		if (m->cpus[c].present && m->cpus[c].allowed)
			list[n++] = c;
	return n;
}
