/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * waved, the host daemon: discovers VMs, observes their threads, exports
 * their state to the agent over the channel, applies the agent's
 * transactions, and falls back to an on-host policy when the agent lags or
 * dies. Split by job:
 *   main.c      options, set-up, the epoll loop, shutdown
 *   vms.c       the managed VMs and threads (libvirt or --vm), baselines
 *   export.c    state out: snapshots, deltas, host CPUs, heartbeats
 *   apply.c     transactions in: validation, all-or-nothing apply, results
 *   fallback.c  who is in charge: the agent watchdog, fallback, hand-back
 *   net.c       each VM's traffic out (NET_STATE)
 *   mem.c       each VM's memory out (MEM_*), balloon targets in (SET_BALLOON)
 *   ctl.c       the status socket 'wavectl status' reads (status-client.c
 *               is the reading side, for wavectl, benchmarks and tests)
 * Everything runs on one thread, but for the memory mechanism's libvirt
 * worker (mm/mechanism.h), whose results come back through an eventfd.
 */
#ifndef WAVE_WAVED_H
#define WAVE_WAVED_H

#include <sched.h>
#include <stdint.h>
#include <sys/types.h>

#include "channel/chan.h"
#include "channel/slots.h"
#include "channel/txn.h"
#include "common/parse.h"
#include "kvm-hooks/mech.h"
#include "kvm-hooks/netobs.h"
#include "kvm-hooks/observe.h"
#include "mm/mechanism.h"
#include "vmm/conn.h"
#include "waved/fallback.h"

#define WV_MAX_VMS      WAVE_MANAGED_VMS
#define WV_MAX_THREADS  (WAVE_VM_SLOTS)
#define WV_MAX_STATIC   16
#define WV_OUTBOX       8192
#define WV_LAT_SAMPLES  4096
#define WV_PRESTAGED    64
#define WV_MAX_TAPS     8

enum waved_mode { WAVED_OFFLOAD = 0, WAVED_ONHOST, WAVED_OBSERVE };
enum waved_fallback { WAVED_FB_CFS = 0, WAVED_FB_LOCAL };
/* Which wakeups BPF pushes at once: those the policy in charge asks for, or none. */
enum waved_wake { WV_WAKE_POLICY = 0, WV_WAKE_NONE };

/* Whether the kernel may beat a shm: agent in charge (kwatch.c). */
enum waved_kwatch { WV_KWATCH_AUTO = 0, WV_KWATCH_OFF };
/* waved's tick while the kernel beats the agent: the host CPUs' export. */
#define WV_KWATCH_TICK_NS (100 * WAVE_NSEC_PER_MSEC)
/*
 * The shortest lag threshold the kernel watches (it beats every half of
 * it): the agent waits in whole milliseconds, and looks about a
 * millisecond after each beat is due.
 */
#define WV_KWATCH_MIN_THRESHOLD_NS (5 * WAVE_NSEC_PER_MSEC)

/* Name tables (common/parse.h) of the enums above, for options and status. */
extern const struct wave_name wv_modes[], wv_fallbacks[], wv_wake_modes[];
extern const struct wave_name wv_kernel_watch_modes[];

struct sched;       /* the policy runtime (ipu-sched/sched.h), for onhost and local fallback */
struct policy_conf; /* a policy and its configuration (ipu-sched/policy.h) */

/* A VM of plain threads given on the command line (tests, no libvirt). */
struct wv_static_vm {
	char name[64];
	enum wave_vm_class cls;
	unsigned int nr_vcpus;
	pid_t vcpus[WAVE_VM_VCPU_SLOTS];
	pid_t emulator;            /* 0: none */
	unsigned int nr_taps;
	char taps[WV_MAX_TAPS][16]; /* its network interfaces (net=IF[+IF...]) */
};

struct waved_cfg {
	enum waved_mode mode;
	enum waved_fallback fallback;
	const struct policy_conf *policy;
	const struct policy_conf *mem_policy; /* beside it, unless none */
	const struct policy_conf *net_policy; /* ... */
	const char *channel;       /* URI, or NULL for none (onhost/observe) */
	const char *uri;           /* libvirt */
	const char *match;         /* manage only libvirt domains whose name starts so */
	const char *rundir;
	struct chan_opts chan_opts;
	cpu_set_t allowed;
	uint64_t lag_threshold_ns, hb_period_ns, export_ns;
	double rt_max_thread;      /* the most SCHED_DEADLINE/FIFO one thread may get (CPUs) */
	double rt_max_total;       /* ... all managed threads together (CPUs) */
	uint64_t evict_ns;         /* an attached agent unhealthy this long is disconnected */
	unsigned int handback_n;
	enum obs_backend obs;
	enum waved_wake wake_events;
	uint64_t wake_min_idle_ns;
	enum netobs_backend net_obs;
	const char *switch_ctl;    /* wave-switch's control socket, or NULL: not read */
	uint64_t net_quiet_ns;     /* an arrival after this long without one is an event */
	int net_fire;              /* an arrival fires what is prestaged on the VM's threads */
	unsigned int mem_period_ms;/* guest memory read this often (0: not at all) */
	uint64_t mem_budget_kib;   /* the guests' balloon targets add up to at most this (0: not set) */
	int use_libvirt, libvirt_too;
	int kernel_watch;          /* --kernel-watch: let the kernel beat a shm: agent (auto) or not */
	unsigned int nr_static;
	struct wv_static_vm statics[WV_MAX_STATIC];
};

struct wv_thread {
	int used;
	uint8_t kind;
	uint16_t index;
	pid_t pid, tid;
	int slot;                  /* observation slot, or -1 */
	uint32_t barrier;
	struct mech_thread mech;
	uint32_t sent_seq;         /* record seq last exported */
	uint32_t sent_barrier;     /* barrier last exported */
	int exported;              /* sent at least once this epoch */
	struct hooks_rec rec;      /* last read */
	uint64_t rate_t0, rate_run0, rate_wait0;
	double run_pct, delay_pct; /* over the last second, for status */
	uint64_t wake_ns;          /* last wakeup seen in BPF not yet followed by a decision */
	double rt_bw;              /* real-time bandwidth waved granted it (CPUs; FIFO: 1) */
	int prestaged;             /* 1 + slot of the prestaged transaction it triggers, or 0 */
	int pinned;                /* the operator pinned it (libvirt): only within pin */
	cpu_set_t pin;
	int pin_dirty;             /* the agent has not been told its pin yet */
	uint8_t conflicts;         /* WV_CONFLICT_* already logged (once each) */
	int capped;                /* a decision put a CFS quota on it (restored: not) */
};

/* Conflicts between decisions and an operator's settings, logged once per thread. */
enum { WV_CONFLICT_PLACE = 1, WV_CONFLICT_DEADLINE = 2 };

/* A transaction waiting for one of its TRIGGER threads to wake up. */
struct wv_prestaged {
	int used, local;
	unsigned int n, ntrig;
	struct wave_txn ops[WAVE_TXN_MAX_OPS];
};

/* A VM's memory (mem.c). */
struct wv_vm_mem {
	int on;                    /* read by the memory mechanism */
	int noted;                 /* said once that it cannot be controlled */
	struct mm_stats st;        /* as last read */
	uint32_t target_kib;       /* the balloon target counted against the budget (0: not known) */
	uint32_t prev_target_kib;  /* ... before the one being applied */
	uint32_t floor_kib;        /* metadata mem-min */
	uint16_t weight;           /* metadata mem-weight */
	int busy;                  /* a target is being applied: */
	struct wave_txn txn;       /* ... its transaction, answered when done */
	int txn_local;
	uint64_t refused;          /* SET_BALLOONs refused (floor, maximum, budget) */
	uint64_t rule_ns;          /* the fallback rule last deflated it */
	int exported;
	struct wave_mem_state sent_state;
	struct wave_mem_ctl sent_ctl;
};

/* Whose wakeup subscriptions (WAKE_SUB) a VM holds. */
enum { WV_SUB_AGENT = 0, WV_SUB_LOCAL = 1 };

struct wv_vm {
	int used;
	uint32_t id, barrier, weight;
	uint8_t cls;
	uint8_t wake[2];           /* thread kinds (bits) whose wakeups each side wants pushed */
	char name[64];
	char uuid[40];
	unsigned int nr_vcpus;
	struct wv_thread th[WV_MAX_THREADS]; /* vCPU i at i, extra thread j at WAVE_VM_VCPU_SLOTS + j */
	uint64_t applied, rejected;
	int state;                 /* virDomainState as libvirt last said (0: not from libvirt) */
	unsigned long long memory_kib; /* guest memory (balloon) as libvirt last said */
	char meta_refused[320];    /* why the last live metadata change was refused, or "" */
	unsigned int nr_net;       /* its taps waved counts (net.c) */
	int net_switch;            /* no tap: counted by wave-switch (netsw.c) */
	uint64_t net_cap;          /* metadata net-rate: the most it may send, bytes/s (0: none) */
	uint32_t net_cap_burst;
	uint64_t net_rate;         /* the policy's pace on what it sends (0: none), before the cap */
	uint32_t net_burst;
	int net_pace_owed;         /* its pace did not reach the switch: sent again at the next export */
	int net_slot[WV_MAX_TAPS];
	struct nettap_rec net_sent;/* counts last exported */
	struct nettap_rec net_acc; /* counts so far, summed from each tap's deltas */
	struct nettap_rec net_last[WV_MAX_TAPS]; /* each tap's counters as last read */
	int net_exported;
	double rx_pps, tx_pps;     /* over the last second, for status */
	uint64_t net_rate_t0;
	struct nettap_rec net_rate0;
	uint64_t demotions;        /* times its vCPUs went from no CFS quota to one (a hog's cap) */
	struct wv_vm_mem mem;
};

struct waved_stats {
	/*
	 * Times waved's loop slept and was woken, and by what (one wakeup may
	 * have several causes): the host's currency is CPU, and on a
	 * paravirtual host each wakeup costs tens of microseconds.
	 */
	uint64_t wakeups, wakeups_tick, wakeups_doorbell, wakeups_watchdog, wakeups_mem;
	uint64_t wakeups_obs, wakeups_net, wakeups_other;
	uint64_t wakeups_status;   /* of those: for status requests alone (an observer's cost) */
	uint64_t wakeups_kbeat;    /* the kernel told of a beat left unanswered (kwatch.c) */
	uint64_t kwatch_starts;    /* times the kernel took over beating the agent */
	uint64_t kwatch_refused;   /* agents that never answered its beats: watched on the channel */
	uint64_t kwatch_silent;    /* its timer stopped without telling: taken as a stall */
	uint64_t txns, results[WAVE_ST_MAX], ops_applied;
	uint64_t tx_dropped, rx_invalid_txn, snapshots, fallbacks, handbacks;
	uint64_t wake_events, exports, wake_subs, bad_wake_subs;
	uint64_t prestaged, prestaged_fired;
	uint64_t dl_repairs;       /* SCHED_DEADLINE accounting rebuilt (wv_dl_repair) */
	uint64_t rt_refused;       /* decisions over --rt-max-thread/--rt-max-total */
	uint64_t resyncs, resyncs_refused; /* snapshots the agent asked for; too soon */
	uint64_t evictions;        /* agents disconnected for staying unhealthy */
	uint64_t threads_dropped;  /* threads gone or tids reused under a decision */
	uint64_t meta_changes;     /* live metadata changes taken */
	uint64_t meta_refused;     /* live metadata changes refused (bad values) */
	uint64_t net_exports, net_arrivals; /* NET_STATE sent; arrival events from the taps */
	uint64_t net_fired;        /* prestaged transactions fired by an arrival (--net-fire) */
	uint64_t mem_exports;      /* MEM_STATE, MEM_CTL, HOST_MEM sent */
	uint64_t mem_set, mem_refused, mem_failed; /* SET_BALLOON applied, refused, failed */
	uint64_t net_set, net_refused, net_failed; /* SET_NET_RATE applied, refused, failed */
	uint64_t mem_fallback_deflates; /* the fallback rule deflated a VM in acute pressure */
	uint64_t tunings_adopted;  /* threads whose operator's tuning (pins, knobs) was taken */
	uint64_t last_fallback_ns, last_fallback_lag_ns; /* CLOCK_MONOTONIC, when; lag then */
	/* wakeup seen in BPF -> decision about that thread applied, ns (ring) */
	uint64_t decision_ns[WV_LAT_SAMPLES];
	uint64_t decisions_timed;
	/* wakeup in BPF -> its event handled by waved, ns (ring): the kernel's part */
	uint64_t event_ns[WV_LAT_SAMPLES];
	uint64_t events_timed;
};

/* wave-switch's counters, read at most every 50 ms for every VM on it (netsw.c). */
#define WV_NETSW_MAX_PORTS 64
struct wv_netsw_port {
	char name[48];
	struct nettap_rec c;       /* mapped onto a tap's view: rx towards the guest */
};
struct wv_netsw {
	uint64_t read_ns;
	int ok;                    /* 0, or why the last read failed */
	unsigned int n, ok_before_err;
	uint64_t reads, bad;       /* requests made; ports skipped as malformed */
	struct wv_netsw_port p[WV_NETSW_MAX_PORTS];
};

struct waved {
	struct waved_cfg cfg;
	int epfd, tfd, sfd, ctl_fd;
	int wdfd;                  /* one-shot: the watchdog's next deadline */
	uint64_t wd_armed;
	uint64_t tick_ns;                  /* the periodic timer's period now */
	struct chan *ch;
	struct kbeat *kb;          /* the kernel's heartbeat of a shm: agent, or NULL (kwatch.c) */
	int kw_on;                 /* ... beating the agent in charge now */
	uint64_t kw_beats0;        /* its beat count when armed */
	uint64_t kw_fires, kw_fires_ns; /* its fires as last seen moving, and when */
	uint64_t kw_gen;           /* 1 + the attach kw_unanswered counts for */
	unsigned int kw_unanswered;/* arms in a row this attach answered no beat of */
	uint64_t kw_refused_gen;   /* 1 + the attach whose agent never answered it */
	struct obs *obs;
	struct netobs *net;        /* traffic on the VMs' taps, or NULL (--net-observe none) */
	struct mm *mm;             /* the guests' memory, or NULL (no libvirt, --mem-period 0) */
	struct mm_host mem_host;   /* the host's memory as last read */
	int mem_host_read;
	struct wave_host_mem mem_host_sent;
	const struct mech_ops *mech; /* mech_linux_ops; a fake in unit tests */
	struct vmm_conn *conn;
	struct wv_vm vms[WV_MAX_VMS];
	uint32_t next_vm_id, next_barrier, epoch, snap_id;
	struct watchdog wd;
	struct sched *local;       /* onhost policy, or the local fallback policy */
	struct txn_asm txa, txa_local; /* agent's and local transactions assemble apart */
	struct wv_prestaged pre[WV_PRESTAGED];
	struct wave_msg outbox[WV_OUTBOX];
	unsigned int out_n;
	struct waved_stats st;
	uint64_t now;              /* CLOCK_MONOTONIC ns of this loop turn */
	uint64_t next_export, next_hb, next_cpu, next_rate;
	uint64_t cpu_prev_busy[WAVE_MANAGED_CPUS], cpu_prev_idle[WAVE_MANAGED_CPUS];
	int stop;
	uint64_t dl_repair_ns;     /* last SCHED_DEADLINE accounting rebuild */
	uint64_t resync_ns;        /* last snapshot the agent asked for */
	uint64_t unhealthy_since;  /* an attached agent not in charge since (0: healthy or none) */
	double rt_total;           /* real-time bandwidth granted, all threads (CPUs) */
	const char *dl_repair_owed;/* why a rebuild asked for too soon is still owed, or NULL */
	char journal[512];
	struct wv_netsw netsw;
};

/* vms.c */
int wv_vms_init(struct waved *w);
void wv_vms_fini(struct waved *w);
void wv_vm_source_event(struct waved *w);   /* libvirt events are due */
struct wv_vm *wv_vm_find(struct waved *w, uint32_t id);
struct wv_thread *wv_thread_find(struct wv_vm *vm, unsigned int kind, unsigned int index);
void wv_restore_all(struct waved *w, const char *why);
void wv_journal(struct waved *w);
/* "vCPU", "emulator", "I/O thread": for log lines. */
const char *wv_thread_what(const struct wv_thread *t);
/* "0-3,6": a CPU set for log lines and status. */
void wv_cpulist(const cpu_set_t *set, char *buf, size_t size);
/* Pushes wakeups as events exactly where the policy in charge wants them. */
void wv_update_notify(struct waved *w);
/* Events for one thread: on if its policy wants wakeups or it triggers a prestaged txn. */
void wv_thread_notify(struct waved *w, const struct wv_vm *vm, struct wv_thread *t);
/* A WAKE_SUB from the agent (who WV_SUB_AGENT) or the local policy: checked, then held. */
void wv_on_wake_sub(struct waved *w, const struct wave_wake_sub *sub, int who);
/* A snapshot goes out: every subscription is forgotten (the policies send them again). */
void wv_clear_wake_subs(struct waved *w);
int wv_add_static(struct waved *w, const struct wv_static_vm *s);
void wv_remove_vm(struct waved *w, struct wv_vm *vm, const char *why);
/* A thread waved may no longer touch (gone, or its tid reused): unmanaged, not restored. */
void wv_drop_thread(struct waved *w, struct wv_vm *vm, struct wv_thread *t, const char *why);
/* Recomputes w->rt_total, the real-time bandwidth waved has granted (CPUs). */
void wv_rt_recount(struct waved *w);

/* export.c */
/* 0, or -ENOBUFS if the agent's outbox was full and m was dropped (counted). */
int wv_emit(struct waved *w, const struct wave_msg *m);
void wv_flush(struct waved *w);
void wv_snapshot(struct waved *w);
void wv_export_vm(struct waved *w, const struct wv_vm *vm, int del);
/*
 * VCPU_STATE for the threads: CHANGED, those whose record moved (and those
 * that run or wait: their times grow); ALL, every one; IDENTITY, only what
 * an agent reading the records itself cannot know (new threads, new pins
 * or barriers, exits), with the record as it is.
 */
enum wv_export { WV_EXPORT_CHANGED = 0, WV_EXPORT_ALL, WV_EXPORT_IDENTITY };
void wv_export_deltas(struct waved *w, enum wv_export which);
void wv_export_thread(struct waved *w, struct wv_vm *vm, struct wv_thread *t);
/* The policy learns t is gone (a GONE state). */
void wv_export_gone(struct waved *w, struct wv_vm *vm, struct wv_thread *t);
void wv_export_cpus(struct waved *w);
void wv_heartbeat(struct waved *w);
/* The agent asked for a snapshot (RESYNC_REQ): sent if it is in charge, at most once a second. */
void wv_on_resync(struct waved *w);
void wv_on_wake_event(const struct hooks_event *ev, void *arg);
void wv_update_rates(struct waved *w);

/* net.c */
/* Counts the VM's taps (n names); those that cannot be counted are logged and left out. */
void wv_net_attach(struct waved *w, struct wv_vm *vm, const char (*taps)[16], unsigned int n);
void wv_net_detach(struct waved *w, struct wv_vm *vm);
/* NET_STATE for every VM whose counts moved (all: every VM with taps). */
void wv_export_net(struct waved *w, int all);
/* Arrival events on vm's taps on or off, as the policy in charge wants them. */
void wv_net_notify(struct waved *w, const struct wv_vm *vm);
void wv_on_net_event(const struct nettap_event *ev, void *arg);
/* Packet rates over the last second, for status. */
void wv_net_rates(struct waved *w);
/*
 * What every op on a whole VM (SET_BALLOON, SET_NET_RATE) is checked for:
 * alone in its transaction, this epoch, a VM that exists, its barrier.
 * WAVE_ST_OK or the status to refuse with; *vmp the VM or NULL, *why why.
 */
uint8_t wv_check_vm_op(struct waved *w, const struct wave_txn *op, unsigned int n,
		       struct wv_vm **vmp, const char **why);
/* SET_NET_RATE: checked, applied on wave-switch, answered (netsw.c). */
void wv_net_txn(struct waved *w, const struct wave_txn *ops, unsigned int n, int local);
/* A VM's counters from wave-switch (netsw.c): 0, or -ENOENT (no switch, no port). */
int wv_netsw_read(struct waved *w, const char *vm, struct nettap_rec *r);
/*
 * The ceiling the metadata (net-rate, net-burst) sets on what vm sends
 * (netsw.c): kept, and put on the switch at once if the VM is there and it
 * changed. Returns whether it changed.
 */
int wv_net_cap(struct waved *w, struct wv_vm *vm, const struct vmm_meta *m);
/*
 * Puts vm's pace on the switch: the policy's, within the ceiling. 0 or
 * -errno; on error it is owed, and sent again with the VM's next export.
 */
int wv_net_pace(struct waved *w, struct wv_vm *vm);
/* The policy's pace gone (fallback to CFS, exit, a VM let go): the ceiling alone again. */
void wv_net_unpace(struct waved *w, struct wv_vm *vm);

/* mem.c */
/* Starts the memory mechanism (--mem-period); without it memory is not observed. Always 0. */
int wv_mem_open(struct waved *w);
void wv_mem_close(struct waved *w);
/* Reads domain uuid's memory into vm; kib: its balloon now; meta: its floor and weight. */
void wv_mem_attach(struct waved *w, struct wv_vm *vm, const char *uuid, unsigned long long kib,
		   const struct vmm_meta *meta);
/* Stops reading vm's memory; a target being applied is answered NO_TARGET. */
void wv_mem_detach(struct waved *w, struct wv_vm *vm);
/* The metadata changed (floor, weight). */
void wv_mem_meta(struct wv_vm *vm, const struct vmm_meta *meta);
/* Takes what the mechanism read or applied (its fd was readable). */
void wv_mem_poll(struct waved *w);
/* MEM_* for what changed (all: everything, as in a snapshot). */
void wv_export_mem(struct waved *w, int all);
/*
 * The fallback rule: a VM in acute memory pressure between two reports dt
 * apart (almost nothing usable, swapping in, or stalled 10% of the time)
 * gets its balloon target raised by max(64 MiB, a quarter of what the
 * balloon holds back), within its maximum and headroom. The new target,
 * or 0 for none. Pure, for tests.
 */
#define WV_MEM_ACUTE_FREE_KIB (16u << 10)
#define WV_MEM_ACUTE_SWAP_KIB (1u << 10)
#define WV_MEM_ACUTE_STEP_KIB (64u << 10)
uint32_t wv_mem_rule(const struct mm_stats *prev, const struct mm_stats *s, uint64_t dt_ns,
		     uint32_t target_kib, uint64_t headroom_kib);
/* A checked, assembled transaction of SET_BALLOON ops (apply.c hands it over). */
void wv_mem_txn(struct waved *w, const struct wave_txn *ops, unsigned int n, int local);

/* apply.c */
void wv_on_txn(struct waved *w, const struct wave_txn *op, int local);
/* The TXN_RESULT for the transaction that starts at first (to the agent, or the local policy). */
void wv_send_result(struct waved *w, const struct wave_txn *first, uint8_t status,
		    unsigned int op_idx, int err, int local);
void wv_local_decide(struct waved *w);
void wv_apply_init(struct waved *w);
/* A managed thread woke up: fire the prestaged transaction it triggers, if any. */
void wv_fire_prestaged(struct waved *w, struct wv_thread *t);
/* Drops every prestaged transaction (or those triggered by vm's threads) with status. */
void wv_drop_prestaged(struct waved *w, const struct wv_vm *vm, uint8_t status);
/*
 * Rebuilds the kernel's SCHED_DEADLINE accounting, host-wide (mech_ops
 * dl_repair; see mech-linux.c for the leak it works around): logged,
 * counted, at most every 10 ms (-EAGAIN). 0 or -errno.
 */
int wv_dl_repair(struct waved *w, const char *why);
/* A rebuild refused by the 10 ms limit is owed: done now if so (each tick). */
void wv_dl_repair_owed(struct waved *w);
/* Rebuilds it if any of threads t[0..n-1] (NULL entries skipped) left DEADLINE since. */
void wv_dl_check(struct waved *w, struct wv_thread *const *t, unsigned int n, const char *why);

/* fallback.c */
/* The agent's decisions apply now (offload mode, watchdog healthy). */
int wv_agent_in_charge(const struct waved *w);
/* The host is in control and means to hand it back (offload mode, watchdog unhealthy). */
int wv_awaits_handback(const struct waved *w);
/* Whether waved runs the policy itself now (onhost, or the local fallback in force). */
int wv_runs_policy(const struct waved *w);
/* Evaluates the watchdog now (w->now) and acts on a transition. */
void wv_fallback_check(struct waved *w);
/* Sets the watchdog timer to the current deadline (or off). */
void wv_fallback_arm(struct waved *w);
/* The watchdog timer fired: returns 1 (drain the channel, then check and re-arm). */
int wv_fallback_timer(struct waved *w);

/* kwatch.c: the kernel beats a shm: agent in charge, so that waved can sleep. */
/* Before observation starts: load the heartbeat (or log why not). */
void wv_kwatch_load(struct waved *w);
/* Before the channel opens: share the records and the words at each offer (or log why not). */
void wv_kwatch_setup(struct waved *w);
void wv_kwatch_fini(struct waved *w);
/* Readable when the kernel told of a beat left unanswered, or -1. */
int wv_kwatch_fd(const struct waved *w);
/* The agent took charge: the kernel beats it, if it can read what we shared. */
void wv_kwatch_start(struct waved *w);
/* Fallback (or detach): waved heartbeats the agent on the channel again. */
void wv_kwatch_stop(struct waved *w);
/* wv_kwatch_fd() turned readable: a stall falls back. */
void wv_kwatch_event(struct waved *w);
/* At the tick: a timer that stopped without a stall is taken as one. */
void wv_kwatch_check(struct waved *w);

/* ctl.c */
int wv_ctl_open(struct waved *w);
void wv_ctl_accept(struct waved *w);
void wv_ctl_close(struct waved *w);


#endif /* WAVE_WAVED_H */
