// SPDX-License-Identifier: BSD-3-Clause
/*
 * Who may attach. Over tcp:// only a peer that completes TLS 1.3 with the
 * configured key or certificate (right CA, role and name); plaintext either
 * way is no downgrade but a refusal; a record tampered with in flight drops
 * the generation. Over shm: only a process whose kernel credentials the
 * other side accepts, so another user can neither attach nor squat the name.
 * On both: a peer that connects and stays silent is dropped at the attach
 * deadline. Each refusal is counted by its reason and the real agent is
 * unaffected.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "channel/chan.h"
#include "channel/codec.h"
#include "common/clock.h"
#include "common/log.h"
#include "tests/util.h"

/* ---- tcp with TLS --------------------------------------------------------- */

/* Options for role on uri with the given credentials (psk file, or certs from dir as name). */
static void tls_psk(struct chan_opts *o, enum chan_role role, const char *psk)
{
	static char path[2][128];

	chan_opts_init(o, role);
	snprintf(path[role == CHAN_HOST], sizeof(path[0]), "%s/%s", test_keys(), psk);
	o->tls.psk_file = path[role == CHAN_HOST];
}

static void tls_certs(struct chan_opts *o, enum chan_role role, const char *dir, const char *who)
{
	static char cert[2][160], key[2][160], ca[2][160];
	int k = role == CHAN_HOST;

	chan_opts_init(o, role);
	snprintf(cert[k], sizeof(cert[k]), "%s/%s.pem", dir, who);
	snprintf(key[k], sizeof(key[k]), "%s/%s.key", dir, who);
	snprintf(ca[k], sizeof(ca[k]), "%s/ca.pem", dir);
	o->tls.cert = cert[k];
	o->tls.key = key[k];
	o->tls.ca = ca[k];
}

/* Drives both until host refused `count` peers for reason r (or 3 s pass). */
static void expect_refused(struct chan *host, struct chan *agent, enum chan_reject r,
			   uint64_t count)
{
	for (int i = 0; i < 3000 && chan_get_stats(host)->rejected[r] < count; i++) {
		chan_process(host);
		if (agent)
			chan_process(agent);
		usleep(1000);
	}
	assert_int_equal(chan_get_stats(host)->rejected[r], count);
	assert_false(chan_is_up(host));
	if (agent)
		assert_false(chan_is_up(agent));
}

/* Both sides with the same PSK, and with certificates from one CA: attached, encrypted. */
static void tls_psk_and_certificates_attach(void **state)
{
	const char *uri = test_uri(*state);
	struct chan_opts ho, ao;
	struct chan *host, *agent;

	tls_psk(&ho, CHAN_HOST, "psk");
	tls_psk(&ao, CHAN_AGENT, "psk");
	test_open_pair(uri, &ho, &ao, &host, &agent);
	test_drain_hello(host, agent);
	test_stream(agent, host, 200, 7);
	chan_close(agent);
	chan_close(host);
	tls_certs(&ho, CHAN_HOST, test_keys(), "host");
	tls_certs(&ao, CHAN_AGENT, test_keys(), "agent");
	test_open_pair(uri, &ho, &ao, &host, &agent);
	test_drain_hello(host, agent);
	test_stream(host, agent, 200, 32);
	assert_int_equal(chan_get_stats(host)->hello_rejected, 0);
	chan_close(agent);
	chan_close(host);
}

/* A peer with another key, another CA, or the host's own certificate is refused. */
static void tls_wrong_key_or_certificate_refused(void **state)
{
	const char *uri = test_uri(*state);
	char other[64], why[256];
	struct chan_opts ho, ao;
	struct chan *host, *agent;

	tls_psk(&ho, CHAN_HOST, "psk");
	tls_psk(&ao, CHAN_AGENT, "psk-other");
	host = test_open_host(uri, &ho);
	agent = test_open_agent(uri, &ao);
	expect_refused(host, agent, CHAN_REJ_AUTH, 1);
	chan_close(agent);
	chan_close(host);
	/* Certificates from a CA the host does not trust. */
	snprintf(other, sizeof(other), "%s/other", test_keys());
	mkdir(other, 0700);
	if (access("/tmp", F_OK) == 0 && tls_make_certs(other, 1, why, sizeof(why)) &&
	    access(other, F_OK))
		fail_msg("certs: %s", why);
	tls_certs(&ho, CHAN_HOST, test_keys(), "host");
	tls_certs(&ao, CHAN_AGENT, other, "agent");
	host = test_open_host(uri, &ho);
	agent = test_open_agent(uri, &ao);
	expect_refused(host, agent, CHAN_REJ_AUTH, 1);
	assert_non_null(strstr(chan_get_stats(host)->last_reject, "TLS"));
	chan_close(agent);
	/* The host's own certificate, shown by an agent: wrong name and purpose. */
	tls_certs(&ao, CHAN_AGENT, test_keys(), "host");
	agent = test_open_agent(uri, &ao);
	expect_refused(host, agent, CHAN_REJ_AUTH, 2);
	chan_close(agent);
	chan_close(host);
	for (const char *f = "ca.pem\0ca.key\0host.pem\0host.key\0agent.pem\0agent.key\0"; *f;
	     f += strlen(f) + 1) {
		char path[160];

		snprintf(path, sizeof(path), "%s/%s", other, f);
		unlink(path);
	}
	rmdir(other);
}

/* Plaintext against TLS, either way: no downgrade, refused and counted. */
static void tls_plaintext_peer_refused(void **state)
{
	const char *uri = test_uri(*state);
	struct chan_opts ho, ao;
	struct chan *host, *agent;
	struct wave_msg hello = test_raw_hello(WAVE_ROLE_AGENT, 1);
	int fd;

	tls_psk(&ho, CHAN_HOST, "psk");
	host = test_open_host(uri, &ho);
	/* A raw plaintext agent that skips TLS and speaks Wave frames at once. */
	fd = test_tcp_connect(uri);
	wave_msg_to_wire(&hello);
	test_write_frame(fd, &hello, 1);
	expect_refused(host, NULL, CHAN_REJ_AUTH, 1);
	close(fd);
	/*
	 * A real agent told to use plaintext (--insecure): it waits for the
	 * host's HELLO, the host for its TLS hello. Neither holds the slot:
	 * the attach deadline drops it, counted on both sides.
	 */
	chan_opts_init(&ao, CHAN_AGENT);
	ao.tls.insecure = 1;
	agent = test_open_agent(uri, &ao);
	expect_refused(host, agent, CHAN_REJ_TIMEOUT, 1);
	assert_true(chan_get_stats(agent)->rejected[CHAN_REJ_TIMEOUT] >= 1);
	chan_close(agent);
	chan_close(host);
	/* A TLS agent does not settle for a plaintext host either. */
	chan_opts_init(&ho, CHAN_HOST);
	ho.tls.insecure = 1;
	host = test_open_host(uri, &ho);
	tls_psk(&ao, CHAN_AGENT, "psk");
	agent = test_open_agent(uri, &ao);
	expect_refused(agent, host, CHAN_REJ_AUTH, 1);
	chan_close(agent);
	chan_close(host);
	/* Nothing configured and no --insecure: refused at open. */
	chan_opts_init(&ho, CHAN_HOST);
	assert_int_equal(chan_open(uri, &ho, &host), -EINVAL);
}

/*
 * A byte flipped inside a record on the wire, by a man in the middle
 * forwarding between a TLS agent and host: the record fails its integrity
 * check, the host drops the generation, and the message is never delivered.
 */
static void tls_tampered_record_drops_generation(void **state)
{
	const char *uri = test_uri(*state);
	char mid[64];
	struct chan_opts ho, ao;
	struct chan *host, *agent;
	struct wave_msg m;
	int lfd, cfd = -1, sfd, flips = 0, n;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	uint8_t buf[4096];

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	getsockname(lfd, (struct sockaddr *)&a, &alen);
	snprintf(mid, sizeof(mid), "tcp://127.0.0.1:%d", ntohs(a.sin_port));
	tls_psk(&ho, CHAN_HOST, "psk");
	tls_psk(&ao, CHAN_AGENT, "psk");
	host = test_open_host(uri, &ho);
	agent = test_open_agent(mid, &ao);
	fcntl(lfd, F_SETFL, O_NONBLOCK);
	sfd = test_tcp_connect(uri);
	fcntl(sfd, F_SETFL, O_NONBLOCK);
	/* Forward both ways until attached; then flip a byte of the agent's next record. */
	for (int i = 0; i < 5000 && chan_get_stats(host)->proto_errors == 0; i++) {
		if (cfd < 0 && (cfd = accept(lfd, NULL, NULL)) >= 0)
			fcntl(cfd, F_SETFL, O_NONBLOCK);
		if (cfd >= 0 && (n = (int)read(cfd, buf, sizeof(buf))) > 0) {
			if (chan_is_up(host) && chan_is_up(agent) && !flips++)
				buf[n - 1] ^= 0x40;
			assert_int_equal(write(sfd, buf, (size_t)n), n);
		}
		if (cfd >= 0 && (n = (int)read(sfd, buf, sizeof(buf))) > 0)
			assert_int_equal(write(cfd, buf, (size_t)n), n);
		chan_process(host);
		chan_process(agent);
		if (chan_is_up(host) && chan_is_up(agent) && !flips) {
			test_drain_hello(host, agent);
			assert_int_equal(chan_send(agent, test_hb(&m, 42)), 0);
		}
		(void)chan_recv(host, &m, 1);
		usleep(200);
	}
	assert_int_equal(flips, 1);
	assert_int_equal(chan_get_stats(host)->proto_errors, 1);
	assert_int_equal(chan_get_stats(host)->rx_msgs, 0); /* the tampered one never came through */
	assert_false(chan_is_up(host));
	chan_close(agent);
	chan_close(host);
	close(sfd);
	if (cfd >= 0)
		close(cfd);
	close(lfd);
}

/*
 * A peer that connects and says nothing cannot hold the one agent slot:
 * after the attach deadline it is dropped and counted, and the real agent
 * attaches.
 */
static void silent_peer_cannot_hold_the_slot(void **state)
{
	const char *uri = test_uri(*state);
	struct chan *host = test_open_host(uri, NULL), *agent;
	int fd;

	if (!strncmp(uri, "tcp://", 6)) {
		fd = test_tcp_connect(uri);
	} else {
		struct sockaddr_un a;
		socklen_t len = test_shm_addr(uri, &a);

		fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		assert_int_equal(connect(fd, (struct sockaddr *)&a, len), 0);
	}
	expect_refused(host, NULL, CHAN_REJ_TIMEOUT, 1);
	agent = test_open_agent(uri, NULL);
	test_wait_up(host, agent);
	close(fd);
	chan_close(agent);
	chan_close(host);
}

/* ---- shm: the kernel's credentials ------------------------------------- */

/* Runs fn(uri) in a child process as user nobody; returns its pid. */
static pid_t as_nobody(void (*fn)(const char *), const char *uri)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(3);
		fn(uri);
		_exit(0);
	}
	return pid;
}

/* As nobody: try to attach as the agent for 1.5 s; exit 1 if it ever got in. */
static void nobody_agent(const char *uri)
{
	struct chan_opts o;
	struct chan *ch;
	uint64_t end = wave_now_ns() + 1500 * WAVE_NSEC_PER_MSEC;

	chan_opts_init(&o, CHAN_AGENT);
	if (chan_open(uri, &o, &ch))
		_exit(2);
	while (wave_now_ns() < end) {
		chan_process(ch);
		if (chan_is_up(ch))
			_exit(1);
		usleep(1000);
	}
	_exit(0);
}

/* As nobody: serve the name as a host, until killed. */
static void nobody_host(const char *uri)
{
	struct chan_opts o;
	struct chan *ch;

	chan_opts_init(&o, CHAN_HOST);
	if (chan_open(uri, &o, &ch))
		_exit(2);
	for (;;) {
		chan_process(ch);
		usleep(1000);
	}
}

/*
 * An unprivileged process can neither attach as the agent (the host checks
 * the kernel's credentials of the connecting process) nor squat the name
 * and pose as the host (the agent checks the listener's).
 */
static void shm_other_users_cannot_attach_or_squat(void **state)
{
	const char *uri = test_uri(*state);
	char squatted[64];
	struct chan *host, *agent;
	pid_t pid;
	int st;

	if (geteuid() != 0)
		test_skip("running a process as another user needs root");
	host = test_open_host(uri, NULL);
	pid = as_nobody(nobody_agent, uri);
	expect_refused(host, NULL, CHAN_REJ_CREDENTIALS, 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0); /* never attached */
	assert_non_null(strstr(chan_get_stats(host)->last_reject, "uid 65534"));
	agent = test_open_agent(uri, NULL); /* the real agent is unaffected */
	test_wait_up(host, agent);
	chan_close(agent);
	chan_close(host);
	/* nobody binds a fresh name first; a root agent will not take it for the host. */
	snprintf(squatted, sizeof(squatted), "%s-squat", uri);
	pid = as_nobody(nobody_host, squatted);
	usleep(200000);
	agent = test_open_agent(squatted, NULL);
	expect_refused(agent, NULL, CHAN_REJ_CREDENTIALS, 1);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	chan_close(agent);
}

#define ON(fn, kind) \
	cmocka_unit_test_prestate_setup_teardown(fn, test_uri_setup, test_uri_teardown, (void *)kind)

int main(void)
{
	const struct CMUnitTest tests[] = {
		ON(tls_psk_and_certificates_attach, "tls"),
		ON(tls_wrong_key_or_certificate_refused, "tls"),
		ON(tls_plaintext_peer_refused, "tls"),
		ON(tls_tampered_record_drops_generation, "tls"),
		ON(silent_peer_cannot_hold_the_slot, "tcp"),
		ON(silent_peer_cannot_hold_the_slot, "shm"),
		ON(shm_other_users_cannot_attach_or_squat, "shm"),
	};

	wave_log_init("test-chan-trust", getenv("WAVE_TEST_VERBOSE") ? WAVE_LOG_DEBUG : WAVE_LOG_ERR);
	return cmocka_run_group_tests_name("chan-trust", tests, NULL, NULL);
}
