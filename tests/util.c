// SPDX-License-Identifier: BSD-3-Clause
/* Channel test helpers; see util.h. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "channel/codec.h"
#include "channel/frame.h"
#include "channel/tls.h"
#include "common/clock.h"
#include "common/site.h"
#include "common/spawn.h"
#include "tests/util.h"
#include "waved/status-client.h"

int test_free_port(void)
{
	int port = site_free_port();

	assert_true(port > 0);
	return port;
}

int test_tcp_connect(const char *uri)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_port = htons((uint16_t)atoi(strrchr(uri, ':') + 1));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

void test_write_frame(int fd, const struct wave_msg *m, unsigned int n)
{
	uint8_t buf[FRAME_MAX_SIZE];

	frame_put_header(buf, n);
	memcpy(buf + FRAME_HDR_SIZE, m, n * sizeof(*m));
	assert_int_equal(write(fd, buf, FRAME_HDR_SIZE + n * sizeof(*m)),
			 (ssize_t)(FRAME_HDR_SIZE + n * sizeof(*m)));
}

struct wave_msg test_raw_hello(enum wave_role role, uint64_t gen)
{
	struct wave_msg m;

	wave_msg_hello(&m, role, 0x1234, gen, 0);
	return m;
}

socklen_t test_shm_addr(const char *uri, struct sockaddr_un *a)
{
	int n;

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	n = snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "wave-vm/shm/%s", uri + 4);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

void test_skip_reason(const char *fmt, ...)
{
	va_list ap;

	printf("SKIP ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Key material for this test process, made once, removed at exit. */
static char keys_dir[64];

static void remove_keys(void)
{
	static const char *const files[] = { "psk", "psk-other", "ca.pem", "ca.key", "host.pem",
					     "host.key", "agent.pem", "agent.key" };
	char path[128];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", keys_dir, files[i]);
		unlink(path);
	}
	rmdir(keys_dir);
}

const char *test_keys(void)
{
	char why[256], path[128];

	if (keys_dir[0])
		return keys_dir;
	snprintf(keys_dir, sizeof(keys_dir), "/tmp/wave-test-keys-%d", (int)getpid());
	assert_int_equal(mkdir(keys_dir, 0700), 0);
	atexit(remove_keys);
	snprintf(path, sizeof(path), "%s/psk", keys_dir);
	if (tls_make_psk(path, "wave", why, sizeof(why)))
		fail_msg("psk: %s", why);
	snprintf(path, sizeof(path), "%s/psk-other", keys_dir);
	if (tls_make_psk(path, "wave", why, sizeof(why)))
		fail_msg("psk: %s", why);
	if (tls_make_certs(keys_dir, 2, why, sizeof(why)))
		fail_msg("certs: %s", why);
	return keys_dir;
}

/* The URIs this process made for TLS ("tls" prestate): tcp:// with a PSK. */
static char tls_uris[64][64];
static unsigned int nr_tls_uris;

int test_uri_setup(void **state)
{
	static unsigned int counter;
	char *uri = malloc(64);

	if (strcmp(*state, "shm") == 0) {
		snprintf(uri, 64, "shm:test-%d-%u", getpid(), counter++);
	} else {
		snprintf(uri, 64, "tcp://127.0.0.1:%d", test_free_port());
		if (strcmp(*state, "tls") == 0 && nr_tls_uris < 64) {
			snprintf(tls_uris[nr_tls_uris++], 64, "%s", uri);
			test_keys(); /* here, not in a child process later */
		}
	}
	*state = uri;
	return 0;
}

void test_opts_init(struct chan_opts *o, enum chan_role role, const char *uri)
{
	static char psk[128];

	chan_opts_init(o, role);
	if (strncmp(uri, "tcp://", 6))
		return;
	for (unsigned int i = 0; i < nr_tls_uris; i++)
		if (!strcmp(tls_uris[i], uri)) {
			snprintf(psk, sizeof(psk), "%s/psk", test_keys());
			o->tls.psk_file = psk;
			return;
		}
	o->tls.insecure = 1; /* the raw hostile peers of these tests speak plaintext */
}

int test_uri_teardown(void **state)
{
	free(*state);
	return 0;
}

const char *test_uri(void *state)
{
	return state;
}

static struct chan *open_role(const char *uri, const struct chan_opts *o, enum chan_role role)
{
	struct chan_opts def;
	struct chan *ch = NULL;

	if (!o) {
		test_opts_init(&def, role, uri);
		o = &def;
	}
	assert_int_equal(chan_open(uri, o, &ch), 0);
	return ch;
}

struct chan *test_open_host(const char *uri, const struct chan_opts *o)
{
	return open_role(uri, o, CHAN_HOST);
}

struct chan *test_open_agent(const char *uri, const struct chan_opts *o)
{
	return open_role(uri, o, CHAN_AGENT);
}

int test_pump_until(struct chan *a, struct chan *b, int (*cond)(void *), void *arg,
		    int timeout_ms)
{
	uint64_t end = wave_now_ns() + (uint64_t)timeout_ms * WAVE_NSEC_PER_MSEC;

	while (!cond(arg)) {
		if (wave_now_ns() > end)
			return 0;
		assert_int_equal(chan_process(a), 0);
		if (b)
			assert_int_equal(chan_process(b), 0);
		usleep(500);
	}
	return 1;
}

struct pair {
	struct chan *a, *b;
};

static int both_up(void *arg)
{
	struct pair *p = arg;

	return chan_is_up(p->a) && chan_is_up(p->b);
}

void test_wait_up(struct chan *host, struct chan *agent)
{
	struct pair p = { host, agent };

	assert_true(test_pump_until(host, agent, both_up, &p, 5000));
}

void test_open_pair(const char *uri, const struct chan_opts *ho, const struct chan_opts *ao,
		    struct chan **host, struct chan **agent)
{
	*host = test_open_host(uri, ho);
	*agent = test_open_agent(uri, ao);
	test_wait_up(*host, *agent);
}

int test_recv_one(struct chan *ch, struct wave_msg *m)
{
	uint64_t end = wave_now_ns() + 2 * WAVE_NSEC_PER_SEC;
	int n;

	while ((n = chan_recv(ch, m, 1)) == 0 && wave_now_ns() < end)
		chan_wait(ch, 10);
	return n;
}

void test_drain_hello(struct chan *a, struct chan *b)
{
	struct wave_msg m;

	if (a) {
		assert_int_equal(test_recv_one(a, &m), 1);
		assert_int_equal(m.h.type, WAVE_MSG_HELLO);
	}
	if (b) {
		assert_int_equal(test_recv_one(b, &m), 1);
		assert_int_equal(m.h.type, WAVE_MSG_HELLO);
	}
}

struct wave_msg *test_hb(struct wave_msg *m, uint64_t seq)
{
	wave_msg_init(m, WAVE_MSG_HEARTBEAT);
	m->p.hb.hb_seq = seq;
	return m;
}

void test_stream(struct chan *tx, struct chan *rx, unsigned int n, unsigned int batch)
{
	struct wave_msg out[64], in[64];
	uint64_t sent = 0, got = 0, end = wave_now_ns() + 20 * WAVE_NSEC_PER_SEC;
	int r;

	assert_true(batch <= 64);
	while (got < n) {
		assert_true(wave_now_ns() < end);
		if (sent < n) {
			unsigned int k = n - sent < batch ? (unsigned int)(n - sent) : batch;

			for (unsigned int i = 0; i < k; i++)
				test_hb(&out[i], sent + i);
			r = chan_send_batch(tx, out, k);
			assert_true(r >= 0);
			sent += (unsigned int)r;
		}
		chan_process(tx);
		r = chan_recv(rx, in, 64);
		assert_true(r >= 0);
		for (int i = 0; i < r; i++) {
			assert_int_equal(in[i].h.type, WAVE_MSG_HEARTBEAT);
			assert_int_equal(in[i].p.hb.hb_seq, got);
			got++;
		}
		if (r == 0)
			chan_wait(rx, 1);
	}
}

int test_vmm_wait_event(struct vmm_conn *c, enum vmm_event_kind kind, const char *name,
			int timeout_ms)
{
	uint64_t end = wave_now_ns() + (uint64_t)timeout_ms * WAVE_NSEC_PER_MSEC;
	struct vmm_event ev;

	do {
		struct pollfd p = { .fd = vmm_conn_fd(c), .events = POLLIN };

		vmm_conn_process(c);
		while (vmm_conn_next_event(c, &ev))
			if (ev.kind == kind && (!name || !strcmp(ev.name, name)))
				return 0;
		poll(&p, 1, 20);
	} while (wave_now_ns() < end);
	return -ETIMEDOUT;
}

pid_t test_spawn(char *const argv[])
{
	return wave_spawn(argv, !getenv("TEST_VERBOSE"));
}

void test_end(pid_t *pid)
{
	wave_reap(pid, 2000);
}

struct json_object *test_waved_status(const char *rundir)
{
	return waved_status(rundir, NULL, 0);
}

int test_waved_state_is(const char *rundir, const char *want)
{
	return waved_state_is(rundir, want);
}

int test_wait_waved_state(const char *rundir, const char *want, int timeout_ms)
{
	for (int ms = 0; ms <= timeout_ms; ms++) {
		if (waved_state_is(rundir, want))
			return ms;
		usleep(1000);
	}
	return -1;
}

/* The status object of VM name (a reference into *doc), or NULL; *doc to be put. */
json_object *test_status_vm(const char *rundir, const char *name, json_object **doc)
{
	json_object *vms, *vm, *n;

	*doc = test_waved_status(rundir);
	if (!*doc || !json_object_object_get_ex(*doc, "vms", &vms))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(vms); i++)
		if ((vm = json_object_array_get_idx(vms, i)) &&
		    json_object_object_get_ex(vm, "name", &n) &&
		    !strcmp(json_object_get_string(n), name))
			return vm;
	return NULL;
}

/* key of VM name in waved's status (of its vCPU idx if idx >= 0), as a string; "" if absent. */
void test_status_field(const char *rundir, const char *name, int idx, const char *key, char *out,
		       size_t size)
{
	json_object *doc, *vm = test_status_vm(rundir, name, &doc), *ths, *v;

	out[0] = '\0';
	if (vm && idx < 0 && json_object_object_get_ex(vm, key, &v))
		snprintf(out, size, "%s", json_object_get_string(v));
	if (vm && idx >= 0 && json_object_object_get_ex(vm, "threads", &ths))
		for (size_t i = 0; i < json_object_array_length(ths); i++) {
			json_object *t = json_object_array_get_idx(ths, i), *k, *x;

			if (json_object_object_get_ex(t, "kind", &k) &&
			    !strcmp(json_object_get_string(k), "vcpu") &&
			    json_object_object_get_ex(t, "index", &x) &&
			    json_object_get_int(x) == idx && json_object_object_get_ex(t, key, &v))
				snprintf(out, size, "%s", json_object_get_string(v));
		}
	json_object_put(doc);
}

int64_t test_status_stat(const char *rundir, const char *key)
{
	json_object *doc = test_waved_status(rundir), *st, *v;
	int64_t n = -1;

	if (doc && json_object_object_get_ex(doc, "stats", &st) &&
	    json_object_object_get_ex(st, key, &v))
		n = json_object_get_int64(v);
	json_object_put(doc);
	return n;
}

/* Polls until field() equals want. */
int test_wait_status_field(const char *rundir, const char *name, int idx, const char *key,
			   const char *want, int timeout_s)
{
	char got[128];

	for (int i = 0; i < timeout_s * 10; i++) {
		test_status_field(rundir, name, idx, key, got, sizeof(got));
		if (!strcmp(got, want))
			return 0;
		usleep(100000);
	}
	fprintf(stderr, "test: %s %d %s: '%s', want '%s'\n", name, idx, key, got, want);
	return -ETIMEDOUT;
}

/* Polls until the stat exceeds above. */
int test_wait_status_stat_above(const char *rundir, const char *key, int64_t above, int timeout_s)
{
	for (int i = 0; i < timeout_s * 10; i++) {
		if (test_status_stat(rundir, key) > above)
			return 0;
		usleep(100000);
	}
	fprintf(stderr, "test: stat %s still %lld\n", key, (long long)test_status_stat(rundir, key));
	return -ETIMEDOUT;
}

/* vCPU idx of name runs on exactly CPU cpu, as the kernel has it. */

void test_agent_pump(struct chan *ch, int ms, void (*fn)(const struct wave_msg *m, void *arg),
		     void *arg)
{
	struct wave_msg m[64], echo;
	uint64_t end = wave_now_ns() + (uint64_t)ms * WAVE_NSEC_PER_MSEC;
	int n;

	do {
		chan_wait(ch, 1);
		while ((n = chan_recv(ch, m, 64)) > 0)
			for (int i = 0; i < n; i++) {
				if (m[i].h.type != WAVE_MSG_HEARTBEAT) {
					fn(&m[i], arg);
					continue;
				}
				chan_echo(ch, &m[i], 0, &echo);
			}
	} while (wave_now_ns() < end);
}

json_object *test_run_json(const char *cmd)
{
	char *out = calloc(1, 1 << 20);
	json_object *root;
	size_t n;
	FILE *f = popen(cmd, "r");

	assert_non_null(out);
	assert_non_null(f);
	n = fread(out, 1, (1 << 20) - 1, f);
	assert_int_equal(pclose(f), 0);
	out[n] = '\0';
	root = json_tokener_parse(out);
	if (!root)
		fail_msg("not JSON: %.200s", out);
	free(out);
	return root;
}

void test_files_exist(const char *dir, const char *const *files, size_t n)
{
	char path[512];

	for (size_t i = 0; i < n; i++) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (stat(path, &st) || st.st_size == 0)
			fail_msg("file %s missing or empty", path);
	}
}

int test_rm_dir(const char *dir)
{
	char cmd[600];

	if (!dir[0])
		return 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

int test_run(char *const argv[], int quiet)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		if (quiet) {
			int fd = open("/dev/null", O_WRONLY);

			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int test_wait_line(const char *path, const char *prefix, int nth, char *line, size_t size,
		   int timeout_s)
{
	time_t end = time(NULL) + timeout_s;

	while (time(NULL) <= end) {
		FILE *f = fopen(path, "r");
		char buf[256];
		int seen = 0;

		while (f && fgets(buf, sizeof(buf), f))
			if (!strncmp(buf, prefix, strlen(prefix)) && ++seen == nth) {
				if (line)
					snprintf(line, size, "%s", buf);
				fclose(f);
				return 0;
			}
		if (f)
			fclose(f);
		usleep(200000);
	}
	return -ETIMEDOUT;
}
