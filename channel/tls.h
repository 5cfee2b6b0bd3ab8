/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TLS 1.3 for the tcp:// transport (OpenSSL): a DPU reached over a network
 * steers every VM on the host, so the link is mutually authenticated and
 * encrypted unless the operator asks for plaintext (--insecure).
 *
 * Two ways to authenticate, both mutual:
 *   certificates  each side presents a certificate signed by the CA both
 *                 trust (--tls-cert, --tls-key, --tls-ca) and checks the
 *                 peer's: a chain to that CA, the right purpose (the host
 *                 is a TLS server, the agent a client) and the expected
 *                 name (the agent wants "waved" by default, the host
 *                 "wave-agent"; --tls-peer-name changes it);
 *   pre-shared    both sides hold the same 256-bit key (--psk-file, one
 *   key           line "IDENTITY:HEX"); TLS 1.3 PSK with (EC)DHE, so
 *                 recorded traffic stays secret if the key leaks later.
 * `wavectl keys` makes both. Only TLS 1.3 is offered: there is nothing to
 * downgrade to, and a peer that speaks plaintext fails the handshake.
 *
 * The alternative, a bespoke MAC on each frame, was rejected: the channel
 * would need its own key exchange, replay protection and review, where
 * TLS 1.3 has all three.
 */
#ifndef WAVE_CHANNEL_TLS_H
#define WAVE_CHANNEL_TLS_H

#include <stddef.h>
#include <sys/types.h>

/* What --tls-* / --psk-file / --insecure set (channel/chan.h CHAN_TLS_OPTS). */
struct chan_tls_opts {
	const char *cert, *key, *ca;   /* PEM files */
	const char *psk_file;          /* "IDENTITY:HEX" */
	const char *peer_name;         /* expected name in the peer's certificate */
	int insecure;                  /* plaintext, on purpose */
};

#define TLS_HOST_NAME  "waved"       /* the host's certificate name by default */
#define TLS_AGENT_NAME "wave-agent"  /* the agent's */

struct tls_ctx;
struct tls_conn;

/*
 * A context for one side (server: the host). Returns 0, -ENOENT (no TLS
 * configured: plaintext only if o->insecure) or -EINVAL with the reason
 * (a file, a key, a mismatch) in why.
 */
int tls_ctx_new(const struct chan_tls_opts *o, int server, struct tls_ctx **out, char *why,
		size_t len);
void tls_ctx_free(struct tls_ctx *c);
/* "certificates" or "pre-shared key", for log lines. */
const char *tls_ctx_mode(const struct tls_ctx *c);

/* A TLS session over connected socket fd (not owned). NULL if out of memory. */
struct tls_conn *tls_conn_new(struct tls_ctx *c, int fd);
void tls_conn_free(struct tls_conn *t);

/*
 * Each returns the same way: >= 0 progress (bytes for read/write, 1 done
 * for the handshake), -EAGAIN (try again when the socket is readable, or
 * writable if *want_write was set), -EPIPE (the peer closed), -EPROTO (the
 * peer failed authentication or broke a record: why says how).
 */
int tls_handshake(struct tls_conn *t, int *want_write, char *why, size_t len);
ssize_t tls_read(struct tls_conn *t, void *buf, size_t n, int *want_write, char *why, size_t len);
ssize_t tls_write(struct tls_conn *t, const void *buf, size_t n, int *want_write, char *why,
		  size_t len);
/* Says goodbye (close_notify), best effort. */
void tls_close(struct tls_conn *t);

/*
 * Key material for a deployment (wavectl keys): a CA, and certificates it
 * signs for the host and the agent (names TLS_HOST_NAME, TLS_AGENT_NAME),
 * written as DIR/{ca,host,agent}.{pem,key} (keys 0600); or a PSK file. 0
 * or -errno with the reason in why; existing files are not overwritten.
 */
int tls_make_certs(const char *dir, unsigned int days, char *why, size_t len);
int tls_make_psk(const char *path, const char *identity, char *why, size_t len);

#endif
