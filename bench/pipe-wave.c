// SPDX-License-Identifier: BSD-3-Clause
/*
 * Contender: the Wave channel over shm, through its public API exactly as
 * waved and wave-agent use it (validation of every message included). Host
 * and agent ends are opened and attached on the harness thread, then each
 * is used by one benchmark thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench/pipe.h"
#include "channel/chan.h"
#include "common/clock.h"
#include "common/log.h"

struct wave_pipe {
	struct chan *end[2]; /* side 0: host, side 1: agent */
};

static int wave_open(struct pipe *p)
{
	struct wave_pipe *w = calloc(1, sizeof(*w));
	struct chan_opts ho, ao;
	struct wave_msg m;
	char uri[64];
	uint64_t end;
	int ret;

	if (!w)
		return -ENOMEM;
	snprintf(uri, sizeof(uri), "shm:bench-%d", getpid());
	chan_opts_init(&ho, CHAN_HOST);
	chan_opts_init(&ao, CHAN_AGENT);
	ho.link_delay_ns = ao.link_delay_ns = p->link_delay_ns;
	ret = chan_open(uri, &ho, &w->end[0]);
	if (!ret)
		ret = chan_open(uri, &ao, &w->end[1]);
	end = wave_now_ns() + 5 * WAVE_NSEC_PER_SEC;
	while (!ret && !(chan_is_up(w->end[0]) && chan_is_up(w->end[1]))) {
		if (wave_now_ns() > end)
			ret = -ETIMEDOUT;
		chan_process(w->end[0]);
		chan_process(w->end[1]);
		usleep(200);
	}
	/* Each side takes its peer's HELLO before measuring. */
	for (int s = 0; !ret && s < 2; s++)
		while (chan_recv(w->end[s], &m, 1) == 0)
			chan_wait(w->end[s], 10);
	if (ret) {
		chan_close(w->end[1]);
		chan_close(w->end[0]);
		free(w);
		return ret;
	}
	p->priv = w;
	return 0;
}

static int wave_send(struct pipe *p, int side, const struct wave_msg *m, unsigned int n)
{
	struct wave_pipe *w = p->priv;

	return chan_send_batch(w->end[side], m, n);
}

static int wave_recv(struct pipe *p, int side, struct wave_msg *m, unsigned int max)
{
	struct wave_pipe *w = p->priv;

	return chan_recv(w->end[side], m, max);
}

static void wave_close(struct pipe *p)
{
	struct wave_pipe *w = p->priv;

	chan_close(w->end[1]);
	chan_close(w->end[0]);
	free(w);
}

const struct pipe_ops pipe_wave_ops = {
	.name = "wave_shm",
	.open = wave_open,
	.send = wave_send,
	.recv = wave_recv,
	.close = wave_close,
};
