// SPDX-License-Identifier: BSD-3-Clause
/*
 * TLS 1.3 over a non-blocking socket with OpenSSL (tls.h): contexts from
 * certificate or PSK files, sessions driven by the transport's event loop,
 * and the key material `wavectl keys` writes.
 *
 * OpenSSL writes to the socket with write(2): a peer that vanished would
 * raise SIGPIPE, so a context ignores SIGPIPE where the program left it at
 * its default (waved and wave-agent handle a lost peer as an error return).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "channel/tls.h"
#include "common/log.h"

#define PSK_MIN 16
#define PSK_MAX 64

struct tls_ctx {
	SSL_CTX *ctx;
	int server, psk;
	char identity[128];
	unsigned char key[PSK_MAX];
	unsigned int keylen;
};

struct tls_conn {
	SSL *ssl;
};

/* The reason OpenSSL gives for the last failure, with the peer's certificate verdict. */
static int ssl_reason(SSL *ssl, char *why, size_t len, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";
	/* The certificate verdict, where the peer showed one (PSK sessions have none). */
	long v = ssl && SSL_get0_peer_certificate(ssl) ? SSL_get_verify_result(ssl) : X509_V_OK;

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	if (v != X509_V_OK)
		return wave_reason(why, len, -EPROTO, "%s: peer certificate: %s", what,
				   X509_verify_cert_error_string(v));
	return wave_reason(why, len, -EPROTO, "%s: %s", what, buf[0] ? buf : "failed");
}

static struct tls_ctx *ctx_of(SSL *ssl)
{
	return SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
}

static unsigned int psk_server(SSL *ssl, const char *identity, unsigned char *psk,
			       unsigned int max)
{
	struct tls_ctx *c = ctx_of(ssl);

	/* An unknown identity gets no key: the handshake fails. */
	if (!identity || strcmp(identity, c->identity) || c->keylen > max)
		return 0;
	memcpy(psk, c->key, c->keylen);
	return c->keylen;
}

static unsigned int psk_client(SSL *ssl, const char *hint, char *identity,
			       unsigned int max_identity, unsigned char *psk, unsigned int max)
{
	struct tls_ctx *c = ctx_of(ssl);

	if (strlen(c->identity) + 1 > max_identity || c->keylen > max)
		return 0;
	strcpy(identity, c->identity);
	memcpy(psk, c->key, c->keylen);
	return c->keylen;
}

static int hexval(char h)
{
	return h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 :
	       h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
}

/* Reads "IDENTITY:HEX" from path, which only its owner may read. */
static int load_psk(struct tls_ctx *c, const char *path, char *why, size_t len)
{
	char line[512], *colon, *hex;
	struct stat st;
	size_t n;
	FILE *f = fopen(path, "re");

	if (!f)
		return wave_reason(why, len, -errno, "--psk-file %s: %s", path, strerror(errno));
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
		fclose(f);
		return wave_reason(why, len, -EPERM, "--psk-file %s: readable by others (mode %03o): "
				   "chmod 600 it", path, (unsigned int)(st.st_mode & 0777));
	}
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	colon = strchr(line, ':');
	if (!colon || colon == line || (size_t)(colon - line) >= sizeof(c->identity))
		return wave_reason(why, len, -EINVAL, "--psk-file %s: want one line IDENTITY:HEXKEY",
				   path);
	*colon = '\0';
	hex = colon + 1;
	n = strlen(hex);
	if (n % 2 || n / 2 < PSK_MIN || n / 2 > PSK_MAX)
		return wave_reason(why, len, -EINVAL, "--psk-file %s: the key must be %d to %d bytes "
				   "of hex", path, PSK_MIN, PSK_MAX);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return wave_reason(why, len, -EINVAL, "--psk-file %s: '%c%c' is not hex", path,
					   hex[2 * i], hex[2 * i + 1]);
		c->key[i] = (unsigned char)(hi << 4 | lo);
	}
	c->keylen = (unsigned int)(n / 2);
	snprintf(c->identity, sizeof(c->identity), "%s", line);
	OPENSSL_cleanse(line, sizeof(line));
	return 0;
}

static int load_certs(struct tls_ctx *c, const struct chan_tls_opts *o, char *why, size_t len)
{
	X509_VERIFY_PARAM *vp = SSL_CTX_get0_param(c->ctx);
	const char *name = o->peer_name ? o->peer_name : c->server ? TLS_AGENT_NAME : TLS_HOST_NAME;

	if (!o->cert || !o->key || !o->ca)
		return wave_reason(why, len, -EINVAL,
				   "certificates need all three of --tls-cert, --tls-key, --tls-ca");
	if (SSL_CTX_use_certificate_chain_file(c->ctx, o->cert) != 1)
		return ssl_reason(NULL, why, len, o->cert);
	if (SSL_CTX_use_PrivateKey_file(c->ctx, o->key, SSL_FILETYPE_PEM) != 1)
		return ssl_reason(NULL, why, len, o->key);
	if (SSL_CTX_check_private_key(c->ctx) != 1)
		return wave_reason(why, len, -EINVAL, "%s does not go with %s", o->key, o->cert);
	if (SSL_CTX_load_verify_locations(c->ctx, o->ca, NULL) != 1)
		return ssl_reason(NULL, why, len, o->ca);
	/* The peer must show a certificate from this CA, for its role, with its name. */
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	X509_VERIFY_PARAM_set_purpose(vp, c->server ? X509_PURPOSE_SSL_CLIENT : X509_PURPOSE_SSL_SERVER);
	X509_VERIFY_PARAM_set1_host(vp, name, 0);
	return 0;
}

/* SIGPIPE ignored unless the program handles it itself. */
static void ignore_sigpipe(void)
{
	struct sigaction old;

	if (!sigaction(SIGPIPE, NULL, &old) && old.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
}

int tls_ctx_new(const struct chan_tls_opts *o, int server, struct tls_ctx **out, char *why,
		size_t len)
{
	struct tls_ctx *c;
	int ret;

	if (!o->cert && !o->key && !o->ca && !o->psk_file)
		return wave_reason(why, len, -ENOENT, "no TLS credentials");
	if (o->psk_file && (o->cert || o->key || o->ca))
		return wave_reason(why, len, -EINVAL, "give certificates or --psk-file, not both");
	if (!(c = calloc(1, sizeof(*c))))
		return wave_reason(why, len, -ENOMEM, "out of memory");
	c->server = server;
	c->psk = !!o->psk_file;
	c->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!c->ctx) {
		free(c);
		return ssl_reason(NULL, why, len, "SSL_CTX_new");
	}
	SSL_CTX_set_app_data(c->ctx, c);
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(c->ctx, TLS1_3_VERSION);
	SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/*
	 * One read(2) takes every record the socket holds, not a header and a
	 * body per record. Safe with edge-free epoll: the channel reads until
	 * tls_read() says "not now", which OpenSSL says only with its buffer empty.
	 */
	SSL_CTX_set_read_ahead(c->ctx, 1);
	if (server)
		SSL_CTX_set_num_tickets(c->ctx, 0); /* every attach authenticates afresh */
	if (c->psk) {
		ret = load_psk(c, o->psk_file, why, len);
		if (server)
			SSL_CTX_set_psk_server_callback(c->ctx, psk_server);
		else
			SSL_CTX_set_psk_client_callback(c->ctx, psk_client);
	} else {
		ret = load_certs(c, o, why, len);
	}
	if (ret) {
		tls_ctx_free(c);
		return ret;
	}
	ignore_sigpipe();
	*out = c;
	return 0;
}

void tls_ctx_free(struct tls_ctx *c)
{
	if (!c)
		return;
	SSL_CTX_free(c->ctx);
	OPENSSL_cleanse(c->key, sizeof(c->key));
	free(c);
}

const char *tls_ctx_mode(const struct tls_ctx *c)
{
	return c->psk ? "TLS 1.3, pre-shared key" : "TLS 1.3, certificates";
}

struct tls_conn *tls_conn_new(struct tls_ctx *c, int fd)
{
	struct tls_conn *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	if (!(t->ssl = SSL_new(c->ctx)) || SSL_set_fd(t->ssl, fd) != 1) {
		SSL_free(t->ssl);
		free(t);
		return NULL;
	}
	if (c->server)
		SSL_set_accept_state(t->ssl);
	else
		SSL_set_connect_state(t->ssl);
	return t;
}

void tls_conn_free(struct tls_conn *t)
{
	if (!t)
		return;
	SSL_free(t->ssl);
	free(t);
}

/* Maps an OpenSSL return r of the last call on t to the convention of tls.h. */
static int outcome(struct tls_conn *t, int r, int *want_write, char *why, size_t len,
		   const char *what)
{
	switch (SSL_get_error(t->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		*want_write = 0;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		*want_write = 1;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return -EPIPE;
	case SSL_ERROR_SYSCALL:
		if (!ERR_peek_error())
			return errno == EAGAIN || errno == EINTR ? -EAGAIN : -EPIPE;
		/* fallthrough */
	default:
		return ssl_reason(t->ssl, why, len, what);
	}
}

int tls_handshake(struct tls_conn *t, int *want_write, char *why, size_t len)
{
	int r;

	ERR_clear_error();
	r = SSL_do_handshake(t->ssl);
	if (r == 1)
		return 1;
	return outcome(t, r, want_write, why, len, "TLS handshake");
}

ssize_t tls_read(struct tls_conn *t, void *buf, size_t n, int *want_write, char *why, size_t len)
{
	size_t got = 0;
	int r;

	ERR_clear_error();
	r = SSL_read_ex(t->ssl, buf, n, &got);
	if (r == 1)
		return (ssize_t)got;
	return outcome(t, r, want_write, why, len, "TLS record");
}

ssize_t tls_write(struct tls_conn *t, const void *buf, size_t n, int *want_write, char *why,
		  size_t len)
{
	size_t done = 0;
	int r;

	ERR_clear_error();
	r = SSL_write_ex(t->ssl, buf, n, &done);
	if (r == 1)
		return (ssize_t)done;
	return outcome(t, r, want_write, why, len, "TLS write");
}

void tls_close(struct tls_conn *t)
{
	if (t && SSL_is_init_finished(t->ssl))
		SSL_shutdown(t->ssl);
	ERR_clear_error();
}

/* ---- key material for a deployment (wavectl keys) ---- */

/* Opens path for writing a secret or a certificate: must not exist yet. */
static FILE *create(const char *path, mode_t mode, char *why, size_t len, int *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	FILE *f;

	if (fd < 0) {
		*err = wave_reason(why, len, -errno, "%s: %s", path,
				   errno == EEXIST ? "exists already (not overwritten)" : strerror(errno));
		return NULL;
	}
	if (!(f = fdopen(fd, "w"))) {
		*err = wave_reason(why, len, -errno, "%s: %s", path, strerror(errno));
		close(fd);
	}
	return f;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	if (!(ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value)))
		return 0;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* A certificate for key, named cn, signed by ca_key (ca: NULL for the CA itself). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *ca, EVP_PKEY *ca_key,
		       unsigned int days, const char *eku)
{
	X509 *x = X509_new();
	char san[160];
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	int ok;

	if (!x || RAND_bytes(serial, sizeof(serial)) != 1)
		goto err;
	serial[0] &= 0x7f; /* positive */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
	     X509_set_version(x, 2) && X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
	     X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) &&
	     X509_set_pubkey(x, key) &&
	     X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
					(const unsigned char *)cn, -1, -1, 0) &&
	     X509_set_issuer_name(x, ca ? X509_get_subject_name(ca) : X509_get_subject_name(x));
	if (ok && !ca)
		ok = add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") &&
		     add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") &&
		     add_ext(x, x, NID_subject_key_identifier, "hash");
	if (ok && ca) {
		snprintf(san, sizeof(san), "DNS:%s", cn);
		ok = add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") &&
		     add_ext(x, ca, NID_key_usage, "critical,digitalSignature") &&
		     add_ext(x, ca, NID_ext_key_usage, eku) &&
		     add_ext(x, ca, NID_subject_alt_name, san) &&
		     add_ext(x, ca, NID_authority_key_identifier, "keyid:always");
	}
	if (ok && X509_sign(x, ca_key, EVP_sha256()))
		goto out;
err:
	X509_free(x);
	x = NULL;
out:
	BN_free(bn);
	return x;
}

/* Writes DIR/NAME.key (0600) and DIR/NAME.pem. */
static int write_pair(const char *dir, const char *name, EVP_PKEY *key, X509 *cert, char *why,
		      size_t len)
{
	char path[4096];
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	if (!(f = create(path, 0600, why, len, &err)))
		return err;
	if (!PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL))
		err = wave_reason(why, len, -EIO, "%s: cannot write", path);
	fclose(f);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
	if (!(f = create(path, 0644, why, len, &err)))
		return err;
	if (!PEM_write_X509(f, cert))
		err = wave_reason(why, len, -EIO, "%s: cannot write", path);
	fclose(f);
	return err;
}

int tls_make_certs(const char *dir, unsigned int days, char *why, size_t len)
{
	static const struct { const char *file, *cn, *eku; } leaves[] = {
		{ "host", TLS_HOST_NAME, "serverAuth" },
		{ "agent", TLS_AGENT_NAME, "clientAuth" },
	};
	EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *key = NULL;
	X509 *ca = ca_key ? make_cert(ca_key, "wave-vm CA", NULL, ca_key, days, NULL) : NULL, *x;
	int ret;

	if (!ca) {
		ret = ssl_reason(NULL, why, len, "making the CA");
		goto out;
	}
	if ((ret = write_pair(dir, "ca", ca_key, ca, why, len)))
		goto out;
	for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]) && !ret; i++) {
		key = EVP_EC_gen("P-256");
		x = key ? make_cert(key, leaves[i].cn, ca, ca_key, days, leaves[i].eku) : NULL;
		ret = x ? write_pair(dir, leaves[i].file, key, x, why, len)
			: ssl_reason(NULL, why, len, leaves[i].file);
		X509_free(x);
		EVP_PKEY_free(key);
	}
out:
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	return ret;
}

int tls_make_psk(const char *path, const char *identity, char *why, size_t len)
{
	unsigned char key[32];
	FILE *f;
	int err = 0;

	if (!identity[0] || strchr(identity, ':') || strlen(identity) >= 128)
		return wave_reason(why, len, -EINVAL, "identity '%s': 1-127 characters, no ':'",
				   identity);
	if (RAND_bytes(key, sizeof(key)) != 1)
		return ssl_reason(NULL, why, len, "random key");
	if (!(f = create(path, 0600, why, len, &err)))
		return err;
	fprintf(f, "%s:", identity);
	for (size_t i = 0; i < sizeof(key); i++)
		fprintf(f, "%02x", key[i]);
	fprintf(f, "\n");
	OPENSSL_cleanse(key, sizeof(key));
	if (fclose(f))
		return wave_reason(why, len, -errno, "%s: %s", path, strerror(errno));
	return 0;
}
