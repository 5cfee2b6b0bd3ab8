// SPDX-License-Identifier: BSD-3-Clause
/*
 * Loader of kbeat.bpf.c (kbeat.h): open, set the period, load, run the
 * syscall program that arms the timer; stalls come back through a ring
 * buffer that waved polls with its other fds. There is nothing to attach.
 *
 * The agent gets two fds, made once here and passed at every attach: the
 * host's beat word and its own echo word. Both are writable (a shared
 * mapping needs a writable fd: one opened with BPF_F_RDONLY cannot be
 * mapped at all), so nothing the timer trusts lives in them: the beat it
 * checks is its own (.bss), the host word only a copy for the agent.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/log.h"
#include "kvm-hooks/kbeat.h"
#include "kvm-hooks/kbeat.skel.h" /* generated in build/ */

struct kbeat {
	struct kbeat_bpf *skel;
	struct ring_buffer *stalls;
	struct kbeat_event last;
	int got;
	int agent_fds[KBEAT_NR_FDS];
};

static int on_stall(void *ctx, void *data, size_t size)
{
	struct kbeat *kb = ctx;

	if (size >= sizeof(struct kbeat_event)) {
		memcpy(&kb->last, data, sizeof(kb->last));
		kb->got++;
	}
	return 0;
}

int kbeat_open(struct kbeat **out, char *why, size_t len)
{
	struct kbeat *kb = calloc(1, sizeof(*kb));
	int ret;

	if (!kb)
		return wave_reason(why, len, -ENOMEM, "out of memory");
	for (int i = 0; i < KBEAT_NR_FDS; i++)
		kb->agent_fds[i] = -1;
	kb->skel = kbeat_bpf__open();
	if (!kb->skel) {
		ret = wave_reason(why, len, -errno, "open: %s", strerror(errno));
		goto err_free;
	}
	if ((ret = kbeat_bpf__load(kb->skel))) {
		ret = wave_reason(why, len, ret, "load: %s (root and BPF timers needed)",
				  strerror(-ret));
		goto err_destroy;
	}
	kb->stalls = ring_buffer__new(bpf_map__fd(kb->skel->maps.kb_stalls), on_stall, kb, NULL);
	if (!kb->stalls) {
		ret = wave_reason(why, len, -errno, "ring buffer: %s", strerror(errno));
		goto err_destroy;
	}
	kb->agent_fds[KBEAT_FD_HOST] = fcntl(bpf_map__fd(kb->skel->maps.kb_host), F_DUPFD_CLOEXEC, 0);
	kb->agent_fds[KBEAT_FD_ECHO] = fcntl(bpf_map__fd(kb->skel->maps.kb_echo), F_DUPFD_CLOEXEC, 0);
	for (int i = 0; i < KBEAT_NR_FDS; i++)
		if (kb->agent_fds[i] < 0) {
			ret = wave_reason(why, len, -errno, "the agent's fds: %s", strerror(errno));
			goto err_fds;
		}
	*out = kb;
	return 0;

err_fds:
	for (int i = 0; i < KBEAT_NR_FDS; i++)
		if (kb->agent_fds[i] >= 0)
			close(kb->agent_fds[i]);
	ring_buffer__free(kb->stalls);
err_destroy:
	kbeat_bpf__destroy(kb->skel);
err_free:
	free(kb);
	return ret;
}

void kbeat_close(struct kbeat *kb)
{
	if (!kb)
		return;
	kbeat_disarm(kb);
	for (int i = 0; i < KBEAT_NR_FDS; i++)
		close(kb->agent_fds[i]);
	ring_buffer__free(kb->stalls);
	/* Freeing the timers map cancels a pending timer. */
	kbeat_bpf__destroy(kb->skel);
	free(kb);
}

int kbeat_arm(struct kbeat *kb, uint64_t period_ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, topts);
	int ret;

	kb->skel->bss->period_ns = period_ns;
	ret = bpf_prog_test_run_opts(bpf_program__fd(kb->skel->progs.kb_arm), &topts);
	if (ret)
		return ret < 0 ? ret : -EIO;
	if (topts.retval) {
		wave_warn("kbeat: arming failed at step %u", topts.retval);
		return -EIO;
	}
	return 0;
}

void kbeat_disarm(struct kbeat *kb)
{
	__atomic_store_n(&kb->skel->bss->armed, 0, __ATOMIC_RELAXED);
}

int kbeat_armed(const struct kbeat *kb)
{
	return (int)__atomic_load_n(&kb->skel->bss->armed, __ATOMIC_RELAXED);
}

int kbeat_fd(const struct kbeat *kb)
{
	return ring_buffer__epoll_fd(kb->stalls);
}

int kbeat_poll(struct kbeat *kb, struct kbeat_event *last)
{
	int n;

	kb->got = 0;
	ring_buffer__consume(kb->stalls);
	n = kb->got;
	if (n && last)
		*last = kb->last;
	return n;
}

const int *kbeat_agent_fds(const struct kbeat *kb)
{
	return kb->agent_fds;
}

void kbeat_get_stats(const struct kbeat *kb, struct kbeat_stats *s)
{
	const typeof(*kb->skel->bss) *b = kb->skel->bss;

	s->fires = __atomic_load_n(&b->fires, __ATOMIC_RELAXED);
	s->beats = __atomic_load_n(&b->beats, __ATOMIC_RELAXED);
	s->stalls = __atomic_load_n(&b->stalls, __ATOMIC_RELAXED);
	s->missed_stalls = __atomic_load_n(&b->missed_stalls, __ATOMIC_RELAXED);
	s->odd_echoes = __atomic_load_n(&b->odd_echoes, __ATOMIC_RELAXED);
	s->run_ns = __atomic_load_n(&b->run_ns, __ATOMIC_RELAXED);
	s->last_hold_ns = __atomic_load_n(&b->last_hold_ns, __ATOMIC_RELAXED);
}
