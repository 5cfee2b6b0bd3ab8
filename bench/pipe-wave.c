// SPDX-License-Identifier: BSD-3-Clause
/*
 * Contenders "wave_shm", "wave_tcp" and "wave_tls": the Wave channel
 * through its public API exactly as waved and wave-agent use it
 * (validation of every message included), over shm, over tcp:// on
 * loopback in plaintext (--insecure), and over tcp:// with TLS 1.3 and a
 * pre-shared key (made for the run in a private directory, removed after).
 * wave_tls / wave_tcp is what authentication and encryption cost the
 * channel. Host and agent ends are opened and attached on the harness
 * thread, then each is used by one benchmark thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/pipe.h"
#include "channel/chan.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/site.h"

enum wave_link { LINK_SHM, LINK_TCP, LINK_TLS };

struct wave_pipe {
	struct chan *end[2];    /* side 0: host, side 1: agent */
	char keydir[64];        /* LINK_TLS: the run's PSK lives here */
	char psk[96];
};

static void remove_keys(struct wave_pipe *w)
{
	if (!w->keydir[0])
		return;
	unlink(w->psk);
	rmdir(w->keydir);
}

static int wave_open_link(struct pipe *p, enum wave_link link)
{
	struct wave_pipe *w = calloc(1, sizeof(*w));
	struct chan_opts ho, ao;
	struct wave_msg m;
	char uri[64], why[256];
	uint64_t end;
	int ret = 0, port;

	if (!w)
		return -ENOMEM;
	chan_opts_init(&ho, CHAN_HOST);
	chan_opts_init(&ao, CHAN_AGENT);
	ho.link_delay_ns = ao.link_delay_ns = p->link_delay_ns;
	if (link == LINK_SHM) {
		snprintf(uri, sizeof(uri), "shm:bench-%d", getpid());
	} else if ((port = site_free_port()) < 0) {
		ret = port;
	} else {
		snprintf(uri, sizeof(uri), "tcp://127.0.0.1:%d", port);
		ho.tls.insecure = ao.tls.insecure = link == LINK_TCP;
	}
	if (!ret && link == LINK_TLS) {
		snprintf(w->keydir, sizeof(w->keydir), "/tmp/wave-bench-keys-XXXXXX");
		if (!mkdtemp(w->keydir)) {
			ret = -errno;
			w->keydir[0] = '\0';
		} else {
			snprintf(w->psk, sizeof(w->psk), "%s/psk", w->keydir);
			if (tls_make_psk(w->psk, "wave-bench", why, sizeof(why))) {
				wave_err("bench channel: %s", why);
				ret = -EINVAL;
			}
			ho.tls.psk_file = ao.tls.psk_file = w->psk;
		}
	}
	if (!ret)
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
		remove_keys(w);
		free(w);
		return ret;
	}
	p->priv = w;
	return 0;
}

static int shm_open_pipe(struct pipe *p)
{
	return wave_open_link(p, LINK_SHM);
}

static int tcp_open_pipe(struct pipe *p)
{
	return wave_open_link(p, LINK_TCP);
}

static int tls_open_pipe(struct pipe *p)
{
	return wave_open_link(p, LINK_TLS);
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

/* A stream may hold the tail of a batch until the socket takes it. */
static void wave_idle(struct pipe *p, int side)
{
	struct wave_pipe *w = p->priv;

	chan_process(w->end[side]);
}

static void wave_close(struct pipe *p)
{
	struct wave_pipe *w = p->priv;

	chan_close(w->end[1]);
	chan_close(w->end[0]);
	remove_keys(w);
	free(w);
}

const struct pipe_ops pipe_wave_ops = {
	.name = "wave_shm",
	.open = shm_open_pipe,
	.send = wave_send,
	.recv = wave_recv,
	.close = wave_close,
};

const struct pipe_ops pipe_wave_tcp_ops = {
	.name = "wave_tcp",
	.open = tcp_open_pipe,
	.send = wave_send,
	.recv = wave_recv,
	.idle = wave_idle,
	.close = wave_close,
};

const struct pipe_ops pipe_wave_tls_ops = {
	.name = "wave_tls",
	.open = tls_open_pipe,
	.send = wave_send,
	.recv = wave_recv,
	.idle = wave_idle,
	.close = wave_close,
};
