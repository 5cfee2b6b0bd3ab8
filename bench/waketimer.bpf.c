// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * A watchdog in the kernel, for 'wavectl bench wakeup': a BPF timer that
 * fires every period_ns and looks at a heartbeat word in an mmapable map
 * (what an agent would write with a posted store), counting the periods it
 * did not move. Nothing in user space wakes for it. The benchmark compares
 * what this costs the host with a user-space thread woken by a timerfd at
 * the same rate (waved's tick): is letting the kernel do the waiting worth
 * it on this host?
 *
 * Started once from user space (BPF_PROG_TEST_RUN on the syscall program:
 * no attach point, no event to hook); the timer lives in its map and stops
 * when the map is freed with the object.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct wt_timer {
	struct bpf_timer t;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, struct wt_timer);
} wt_timers SEC(".maps");

/* The heartbeat word: written by the peer, only read here. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, __u64);
	__uint(map_flags, BPF_F_MMAPABLE);
} wt_heartbeat SEC(".maps");

const volatile __u64 period_ns = 10000000;

__u64 fires, stalls, last_beat;

static int wt_fire(void *map, int *key, struct wt_timer *w)
{
	int k = 0;
	__u64 *beat = bpf_map_lookup_elem(&wt_heartbeat, &k);

	if (beat) {
		if (*beat == last_beat)
			stalls++;
		last_beat = *beat;
	}
	fires++;
	bpf_timer_start(&w->t, period_ns, 0);
	return 0;
}

SEC("syscall")
int wt_start(void *ctx)
{
	int k = 0;
	struct wt_timer *w = bpf_map_lookup_elem(&wt_timers, &k);

	if (!w)
		return 1;
	if (bpf_timer_init(&w->t, &wt_timers, 1 /* CLOCK_MONOTONIC */))
		return 2;
	bpf_timer_set_callback(&w->t, wt_fire);
	return bpf_timer_start(&w->t, period_ns, 0) ? 3 : 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
