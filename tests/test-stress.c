// SPDX-License-Identifier: BSD-3-Clause
/*
 * Two-process stress: a producer (host side) streams millions of checksummed
 * messages to a consumer (agent side) in another process, over shm and over
 * tcp. Mid-stream the consumer is killed with SIGKILL and restarted, later
 * the producer too. At the end the consumer must have taken every message
 * exactly once and in order: no loss, duplication or reordering.
 *
 * Resumption is the application's job, as it will be for waved and the
 * agent: on each new generation (the HELLO it receives first) the consumer
 * tells the producer, in a HEARTBEAT_ECHO, how far it has durably got; the
 * producer sends nothing in a generation before it has heard that. The
 * consumer's progress (count and a hash chain over every message taken, in
 * order) is committed to shared memory after each message with a two-slot
 * flip, so a SIGKILL at any instruction leaves a consistent record.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "channel/chan.h"
#include "channel/codec.h"
#include "common/clock.h"
#include "common/log.h"
#include "tests/util.h"

struct progress {
	uint64_t count;
	uint64_t chain;
};

struct durable {
	struct progress slot[2];
	uint32_t cur;          /* slot holding the committed progress */
	uint32_t errors;
	uint32_t done;         /* parent: producer may exit */
	uint64_t prod_next, prod_resume, prod_resumes; /* for the failure report */
	char why[160];
};

static struct durable *D;
static pid_t children[2]; /* producer, consumer */
static uint64_t N;

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t chain_step(uint64_t chain, uint64_t index)
{
	return mix(chain ^ index) + index;
}

static void commit(struct durable *d, uint64_t count, uint64_t chain)
{
	uint32_t next = !__atomic_load_n(&d->cur, __ATOMIC_ACQUIRE);

	d->slot[next].count = count;
	d->slot[next].chain = chain;
	__atomic_store_n(&d->cur, next, __ATOMIC_RELEASE);
}

static struct progress committed(const struct durable *d)
{
	return d->slot[__atomic_load_n(&d->cur, __ATOMIC_ACQUIRE)];
}

static void __attribute__((noreturn, format(printf, 1, 2))) child_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(D->why, sizeof(D->why), fmt, ap);
	va_end(ap);
	D->errors++;
	_exit(2);
}

static void consumer(const char *uri)
{
	struct progress p = committed(D);
	struct wave_msg in[64], echo;
	struct chan_opts o;
	struct chan *ch;
	int n;

	wave_log_init("stress-consumer", getenv("WAVE_TEST_VERBOSE") ? WAVE_LOG_DEBUG : WAVE_LOG_WARN);
	test_opts_init(&o, CHAN_AGENT, uri);
	if (chan_open(uri, &o, &ch))
		_exit(3);
	while (p.count < N) {
		n = chan_recv(ch, in, 64);
		if (n <= 0) {
			chan_wait(ch, 10);
			continue;
		}
		for (int i = 0; i < n; i++) {
			if (in[i].h.type == WAVE_MSG_HELLO) {
				wave_msg_init(&echo, WAVE_MSG_HEARTBEAT_ECHO);
				echo.p.hb.hb_seq = p.count; /* resume point */
				int er = chan_send(ch, &echo);
				wave_dbg("consumer: generation %llu: resume from %llu (send %d)",
					 (unsigned long long)in[i].p.hello.generation,
					 (unsigned long long)p.count, er);
				continue;
			}
			if (in[i].h.type != WAVE_MSG_HEARTBEAT)
				child_fail("unexpected type %u at %llu", in[i].h.type,
					   (unsigned long long)p.count);
			if (in[i].p.hb.hb_seq != p.count)
				child_fail("got message %llu, expected %llu",
					   (unsigned long long)in[i].p.hb.hb_seq,
					   (unsigned long long)p.count);
			if (in[i].p.hb.t_host_ns != mix(p.count))
				child_fail("checksum mismatch at %llu (%llx)",
					   (unsigned long long)p.count,
					   (unsigned long long)in[i].p.hb.t_host_ns);
			p.chain = chain_step(p.chain, p.count);
			p.count++;
			commit(D, p.count, p.chain);
		}
	}
	chan_close(ch);
	_exit(0);
}

static void producer(const char *uri)
{
	struct wave_msg out[32], in[8];
	uint64_t next = 0;
	int resumed = 0, n;
	struct chan_opts o;
	struct chan *ch;

	wave_log_init("stress-producer", getenv("WAVE_TEST_VERBOSE") ? WAVE_LOG_DEBUG : WAVE_LOG_WARN);
	test_opts_init(&o, CHAN_HOST, uri);
	if (chan_open(uri, &o, &ch))
		_exit(3);
	while (!__atomic_load_n(&D->done, __ATOMIC_ACQUIRE)) {
		n = chan_recv(ch, in, 8);
		for (int i = 0; i < n; i++) {
			if (in[i].h.type == WAVE_MSG_HELLO)
				resumed = 0;
			else if (in[i].h.type == WAVE_MSG_HEARTBEAT_ECHO) {
				next = in[i].p.hb.hb_seq;
				resumed = 1;
				D->prod_resume = next;
				D->prod_resumes++;
				wave_dbg("producer: resume from %llu", (unsigned long long)next);
			}
		}
		if (n < 0 || !resumed || next >= N) {
			chan_wait(ch, 10);
			continue;
		}
		unsigned int k = N - next < 32 ? (unsigned int)(N - next) : 32;

		for (unsigned int i = 0; i < k; i++) {
			wave_msg_init(&out[i], WAVE_MSG_HEARTBEAT);
			out[i].p.hb.hb_seq = next + i;
			out[i].p.hb.t_host_ns = mix(next + i);
		}
		n = chan_send_batch(ch, out, k);
		if (n > 0)
			next += (uint64_t)n;
		else
			chan_process(ch);
		D->prod_next = next;
	}
	chan_close(ch);
	_exit(0);
}

static pid_t spawn(void (*fn)(const char *), const char *uri)
{
	pid_t parent = getpid(), pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		/* A child never outlives the test, however the test ends. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(4);
		fn(uri);
	}
	return pid;
}

/* Waits up to timeout_s for child k; kills it after that. Returns its status. */
static int reap_within(int k, int timeout_s)
{
	uint64_t end = wave_now_ns() + (uint64_t)timeout_s * WAVE_NSEC_PER_SEC;
	int status = -1;

	if (children[k] <= 0)
		return status;
	while (waitpid(children[k], &status, WNOHANG) == 0) {
		if (wave_now_ns() > end) {
			kill(children[k], SIGKILL);
			waitpid(children[k], &status, 0);
			break;
		}
		usleep(1000);
	}
	children[k] = 0;
	return status;
}

static int reap(int k)
{
	return reap_within(k, 60);
}

static void kill_and_reap(int k)
{
	if (children[k] > 0)
		kill(children[k], SIGKILL);
	reap(k);
}

static int wait_count(uint64_t target, int timeout_s)
{
	uint64_t end = wave_now_ns() + (uint64_t)timeout_s * WAVE_NSEC_PER_SEC;

	while (committed(D).count < target && !D->errors) {
		if (wave_now_ns() > end)
			return 0;
		usleep(500);
	}
	return !D->errors;
}

static int setup(void **state)
{
	int ret = test_uri_setup(state);

	D = mmap(NULL, sizeof(*D), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(D != MAP_FAILED);
	memset(D, 0, sizeof(*D));
	return ret;
}

/* Runs on success and on failure: no child outlives the test. */
static int teardown(void **state)
{
	D->done = 1;
	kill_and_reap(1);
	kill_and_reap(0);
	munmap(D, sizeof(*D));
	return test_uri_teardown(state);
}

static void stream_survives_kills(void **state)
{
	const char *uri = test_uri(*state);
	uint64_t expect = 0, t0 = wave_now_ns(), kill_c, kill_p;
	struct progress p;
	int status;

	for (uint64_t i = 0; i < N; i++)
		expect = chain_step(expect, i);

	children[0] = spawn(producer, uri);
	children[1] = spawn(consumer, uri);
	assert_true(wait_count(N / 3, 60));
	kill_and_reap(1);                     /* consumer dies mid-stream */
	p = committed(D);
	kill_c = p.count;
	children[1] = spawn(consumer, uri);
	assert_true(wait_count(p.count + N / 3, 60));
	kill_and_reap(0);                     /* then the producer */
	kill_p = committed(D).count;
	children[0] = spawn(producer, uri);
	status = reap(1);                     /* the consumer finishes */
	if (!WIFEXITED(status))
		printf("  consumer stuck at %llu of %llu messages; producer at %llu, resumed %llu times, last from %llu\n",
		       (unsigned long long)committed(D).count, (unsigned long long)N,
		       (unsigned long long)D->prod_next, (unsigned long long)D->prod_resumes,
		       (unsigned long long)D->prod_resume);
	assert_string_equal(D->why, "");
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	p = committed(D);
	assert_int_equal(p.count, N);
	assert_int_equal(p.chain, expect);
	assert_int_equal(D->errors, 0);
	D->done = 1;
	status = reap(0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	printf("  %s: %llu messages in order; consumer killed at %llu, producer at %llu; %.1f s\n",
	       uri, (unsigned long long)N, (unsigned long long)kill_c,
	       (unsigned long long)kill_p, (double)(wave_now_ns() - t0) / 1e9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate_setup_teardown(stream_survives_kills, setup, teardown,
							 (void *)"shm"),
		cmocka_unit_test_prestate_setup_teardown(stream_survives_kills, setup, teardown,
							 (void *)"tcp"),
	};
	const char *n = getenv("WAVE_STRESS_N");

	N = n ? strtoull(n, NULL, 10) : 3000000;
	wave_log_init("test-stress", WAVE_LOG_WARN);
	return cmocka_run_group_tests_name("stress", tests, NULL, NULL);
}
