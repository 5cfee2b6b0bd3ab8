/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the tests (cmocka assertions inside). */
#ifndef WAVE_TESTS_UTIL_H
#define WAVE_TESTS_UTIL_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "channel/chan.h"
#include "vmm/conn.h"

/*
 * Skips the running test case, saying why on a line tests/run.sh collects
 * ("SKIP <reason>"): a skip without a reason would read as a pass.
 */
#define test_skip(...)                          \
	do {                                    \
		test_skip_reason(__VA_ARGS__);  \
		skip();                         \
	} while (0)
void test_skip_reason(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * cmocka prestate is "shm", "tcp" (plaintext, --insecure) or "tls" (tcp://
 * with this process's PSK); setup turns it into a fresh URI, and
 * test_opts_init() gives the options that URI's tests need.
 */
int test_uri_setup(void **state);
int test_uri_teardown(void **state);
const char *test_uri(void *state);
void test_opts_init(struct chan_opts *o, enum chan_role role, const char *uri);
/*
 * This process's key material, made on first use and removed at exit:
 * DIR/psk and DIR/psk-other (two PSKs, identity "wave"), DIR/{ca,host,
 * agent}.{pem,key} (tls_make_certs). Returns DIR.
 */
const char *test_keys(void);
/* A free TCP port on 127.0.0.1 (bound and released). */
int test_free_port(void);

/* For raw peers that speak the attach protocol by hand. */
int test_tcp_connect(const char *uri);                    /* to tcp://127.0.0.1:PORT */
void test_write_frame(int fd, const struct wave_msg *m, unsigned int n);
struct wave_msg test_raw_hello(enum wave_role role, uint64_t gen);
socklen_t test_shm_addr(const char *uri, struct sockaddr_un *a); /* shm:NAME's socket */

struct chan *test_open_host(const char *uri, const struct chan_opts *o);
struct chan *test_open_agent(const char *uri, const struct chan_opts *o);
void test_open_pair(const char *uri, const struct chan_opts *ho, const struct chan_opts *ao,
		    struct chan **host, struct chan **agent);
void test_wait_up(struct chan *host, struct chan *agent);
/* Drives both channels (b may be NULL) until cond(arg) or timeout. */
int test_pump_until(struct chan *a, struct chan *b, int (*cond)(void *), void *arg,
		    int timeout_ms);
/* Waits up to 2 s for one message. Returns 1, or 0 on timeout. */
int test_recv_one(struct chan *ch, struct wave_msg *m);
/* Each non-NULL channel's next message must be the peer's HELLO. */
void test_drain_hello(struct chan *a, struct chan *b);
struct wave_msg *test_hb(struct wave_msg *m, uint64_t seq);
/* Sends n heartbeats tx -> rx in batches, checks every one arrives in order. */
void test_stream(struct chan *tx, struct chan *rx, unsigned int n, unsigned int batch);

/*
 * Drives the vmm connection until an event of kind (for name, if not NULL)
 * arrives, skipping others. Returns 0, or -ETIMEDOUT after timeout_ms.
 */
int test_vmm_wait_event(struct vmm_conn *c, enum vmm_event_kind kind, const char *name,
			int timeout_ms);

/* Runs argv to its end (quiet: output to /dev/null); its exit status, or -1. Signal-safe. */
int test_run(char *const argv[], int quiet);
/*
 * Waits up to timeout_s for the nth line of path that starts with prefix
 * (a guest's console); copies it into line if line is not NULL. Returns 0
 * or -ETIMEDOUT.
 */
int test_wait_line(const char *path, const char *prefix, int nth, char *line, size_t size,
		   int timeout_s);

/* Starts argv[0] (output to /dev/null unless TEST_VERBOSE); it dies with the test. */
pid_t test_spawn(char *const argv[]);
/* Ends a process this test started: SIGTERM, then SIGKILL after 2 s; *pid = 0. */
void test_end(pid_t *pid);

struct json_object;
/* waved's status document from RUNDIR/waved.sock, or NULL (json_object_put it). */
struct json_object *test_waved_status(const char *rundir);
/* Nonzero if waved's "state" is want (offload, fallback, onhost, observe). */
int test_waved_state_is(const char *rundir, const char *want);
/* Polls every ms until waved's state is want: ms waited, or -1 after timeout_ms. */
int test_wait_waved_state(const char *rundir, const char *want, int timeout_ms);
/*
 * Reads what waved sends for ms milliseconds as an agent would: heartbeats
 * are echoed at once, every other message is handed to fn.
 */
void test_agent_pump(struct chan *ch, int ms, void (*fn)(const struct wave_msg *m, void *arg),
		     void *arg);
/* Runs cmd (sh), which must exit 0 and print one JSON document: that document (to put). */
struct json_object *test_run_json(const char *cmd);
/* Each of dir/files[0..n-1] exists and is not empty, or the test fails naming it. */
void test_files_exist(const char *dir, const char *const *files, size_t n);
/* rm -rf dir (if dir is not ""): 0 or -1. */
int test_rm_dir(const char *dir);
/* The status object of VM name (a reference into *doc), or NULL; *doc to be put. */
struct json_object *test_status_vm(const char *rundir, const char *name, struct json_object **doc);
/* key of VM name (of its vCPU idx if idx >= 0), as a string; "" if absent. */
void test_status_field(const char *rundir, const char *name, int idx, const char *key, char *out,
		       size_t size);
/* A counter of waved's "stats", or -1. */
int64_t test_status_stat(const char *rundir, const char *key);
/* Polls until test_status_field() equals want: 0, or -ETIMEDOUT (and says what it saw). */
int test_wait_status_field(const char *rundir, const char *name, int idx, const char *key,
			   const char *want, int timeout_s);
/* Polls until the counter exceeds above: 0, or -ETIMEDOUT. */
int test_wait_status_stat_above(const char *rundir, const char *key, int64_t above, int timeout_s);

#endif
