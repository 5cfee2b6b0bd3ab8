// SPDX-License-Identifier: BSD-3-Clause
/*
 * Loader of kbeat.bpf.c (kbeat.h): open, load, set the period, run the
 * syscall program that arms the timer; stalls come back through a ring
 * buffer that waved polls with its other fds. There is nothing to attach.
 *
 * The agent gets two fds, a fresh pair for each attach: the host's beat
 * word and its own echo word, each a one-entry array that waved puts in
 * the slot the timer reads (a map of maps). Both are writable (a shared
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
};

static int on_stall(void *ctx, void *data, size_t size)
{
	struct kbeat *kb = ctx;
	struct kbeat_event ev;

	if (size < sizeof(ev))
		return 0;
	memcpy(&ev, data, sizeof(ev));
	if (ev.arm_gen != __atomic_load_n(&kb->skel->bss->arm_gen, __ATOMIC_RELAXED))
		return 0;
	kb->last = ev;
	kb->got++;
	return 0;
}

int kbeat_open(struct kbeat **out, char *why, size_t len)
{
	struct kbeat *kb = calloc(1, sizeof(*kb));
	int ret;

	if (!kb)
		return wave_reason(why, len, -ENOMEM, "out of memory");
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
	*out = kb;
	return 0;

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
	ring_buffer__free(kb->stalls);
	/* Freeing the timers map cancels a pending timer. */
	kbeat_bpf__destroy(kb->skel);
	free(kb);
}

/* A new one-entry mmapable array like template, put in slot 0 of outer; its fd, or -errno. */
static int new_word(const struct bpf_map *template, const struct bpf_map *outer)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_MMAPABLE);
	int k = 0, fd, ret;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, bpf_map__name(template), sizeof(int),
			    bpf_map__value_size(template), 1, &o);
	if (fd < 0)
		return -errno;
	if (bpf_map_update_elem(bpf_map__fd(outer), &k, &fd, BPF_ANY)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int kbeat_new_words(struct kbeat *kb, int fds[KBEAT_NR_FDS])
{
	int ret;

	fds[KBEAT_FD_HOST] = new_word(kb->skel->maps.kb_host, kb->skel->maps.kb_host_of);
	if (fds[KBEAT_FD_HOST] < 0)
		return fds[KBEAT_FD_HOST];
	fds[KBEAT_FD_ECHO] = new_word(kb->skel->maps.kb_echo, kb->skel->maps.kb_echo_of);
	if (fds[KBEAT_FD_ECHO] < 0) {
		ret = fds[KBEAT_FD_ECHO];
		close(fds[KBEAT_FD_HOST]);
		return ret;
	}
	return 0;
}

int kbeat_arm(struct kbeat *kb, uint64_t threshold_ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, topts);
	int ret;

	kb->skel->bss->period_ns = threshold_ns / 2;
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

void kbeat_get_stats(const struct kbeat *kb, struct kbeat_stats *s)
{
	const typeof(*kb->skel->bss) *b = kb->skel->bss;

	s->fires = __atomic_load_n(&b->fires, __ATOMIC_RELAXED);
	s->beats = __atomic_load_n(&b->beats, __ATOMIC_RELAXED);
	s->stalls = __atomic_load_n(&b->stalls, __ATOMIC_RELAXED);
	s->missed_stalls = __atomic_load_n(&b->missed_stalls, __ATOMIC_RELAXED);
	s->odd_echoes = __atomic_load_n(&b->odd_echoes, __ATOMIC_RELAXED);
	s->run_ns = __atomic_load_n(&b->run_ns, __ATOMIC_RELAXED);
	s->last_lag_ns = __atomic_load_n(&b->last_lag_ns, __ATOMIC_RELAXED);
	s->max_lag_ns = __atomic_load_n(&b->max_lag_ns, __ATOMIC_RELAXED);
}
