// SPDX-License-Identifier: BSD-3-Clause
/*
 * Integration: wave-switch, the DPDK data plane, with a real libvirt
 * guest on it. 'wavectl net up' starts the switch and plugs its tap into
 * the guests' bridge; 'wavectl launch' puts the echo VM's interface on
 * the switch (vhost-user). Checked: the switch sleeps when nothing comes;
 * ARP and UDP echo cross it (host - bridge - tap - switch - vhost - guest);
 * a meter towards the VM holds its rate and a pace holds a flood from a
 * VM without loss; bad control requests are refused and the switch goes
 * on; a paused guest's frames are counted and the guest survives; the guest's
 * QEMU leaving and coming back (destroy, start) is survived and counted,
 * and traffic flows again.
 *
 * Everything it starts goes on every path (group teardown, and SIGTERM
 * from the runner): the VM, the switch (by the pid it wrote, through
 * 'wavectl net down'), the bridge and libvirtd only if this test made
 * them, its run directory. Needs root; skipped otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "common/clock.h"
#include "common/site.h"
#include "images/guest/guest.h"
#include "netctl/switch-client.h"
#include "tests/util.h"

#define BOOT_TIMEOUT_S 180

static char rundir[64], vm[32], console[128], ctl[96], tap[16], vm_ip[32];
static char noisy[32], noisy_console[128], noisy_ip[32];
static int ready;
static pid_t waved_pid;

static void cleanup(void)
{
	char *stop[] = { "build/bin/wavectl", "stop", vm, noisy, NULL };
	char *down[] = { "build/bin/wavectl", "net", "down", NULL };
	char *net[] = { "scripts/net.sh", "down", NULL };
	char *lvd[] = { "scripts/libvirtd.sh", "stop", NULL };
	char p[160];

	if (!ready)
		return;
	ready = 0;
	if (waved_pid > 0) {
		kill(waved_pid, SIGTERM);
		waitpid(waved_pid, NULL, 0);
	}
	test_run(stop, 1);
	test_run(down, 1);
	test_run(net, 1);
	test_run(lvd, 1);
	unlink(console);
	unlink(noisy_console);
	snprintf(p, sizeof(p), "%s/console", rundir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/vhost", rundir);
	rmdir(p);
	for (const char *f = "switch.log\0switch.pid\0switch.sock\0accel\0waved.sock\0waved.journal\0";
	     *f; f += strlen(f) + 1) {
		snprintf(p, sizeof(p), "%s/%s", rundir, f);
		unlink(p);
	}
	rmdir(rundir);
}

static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static json_object *stats(void)
{
	static char reply[64 * 1024];

	assert_int_equal(swc_request(ctl, "stats", reply, sizeof(reply)), 0);
	return json_tokener_parse(reply);
}

static int64_t port_stat(json_object *root, const char *name, const char *key)
{
	json_object *ports, *v;

	assert_true(json_object_object_get_ex(root, "ports", &ports));
	for (size_t i = 0; i < json_object_array_length(ports); i++) {
		json_object *p = json_object_array_get_idx(ports, i);

		if (json_object_object_get_ex(p, "name", &v) &&
		    !strcmp(json_object_get_string(v), name)) {
			assert_true(json_object_object_get_ex(p, key, &v));
			return json_object_get_int64(v);
		}
	}
	fail_msg("no port %s", name);
	return -1;
}

static int64_t vm_stat(const char *key)
{
	json_object *s = stats();
	int64_t v = port_stat(s, vm, key);

	json_object_put(s);
	return v;
}

static int wait_console(const char *prefix, int nth, int timeout_s)
{
	return test_wait_line(console, prefix, nth, NULL, 0, timeout_s);
}

/* Sends n echo requests of size bytes (gap_us apart); returns the replies seen. */
static unsigned int echo(unsigned int n, size_t size, unsigned int gap_us, int wait_ms)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(7777) };
	struct timeval tv = { .tv_usec = 1000 };
	char buf[2048] = { 0 };
	struct echo_msg *m = (struct echo_msg *)buf;
	unsigned int got = 0;
	uint64_t end;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0 && size >= sizeof(*m) && size <= sizeof(buf));
	inet_pton(AF_INET, vm_ip, &a.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (unsigned int i = 0; i < n; i++) {
		m->magic = ECHO_MAGIC;
		m->cost_us = 0;
		m->seq = i;
		sendto(fd, buf, size, 0, (struct sockaddr *)&a, sizeof(a));
		got += recv(fd, buf + 1024, 64, MSG_DONTWAIT) > 0;
		if (gap_us)
			usleep(gap_us);
	}
	end = wave_now_ns() + (uint64_t)wait_ms * 1000000;
	while (wave_now_ns() < end)
		got += recv(fd, buf + 1024, 64, 0) > 0;
	close(fd);
	return got;
}

static int group_setup(void **state)
{
	char *lvd[] = { "scripts/libvirtd.sh", "start", NULL };
	char *net[] = { "scripts/net.sh", "up", NULL };
	char *up[] = { "build/bin/wavectl", "net", "up", "--tap", tap, NULL };
	char *launch[] = { "build/bin/wavectl", "launch", "images/xml/latency-echo.xml", "--name", vm,
			   "--ip", vm_ip, NULL };

	if (geteuid() != 0)
		return 0;
	snprintf(rundir, sizeof(rundir), "/run/wave-vm-test-%d", (int)getpid());
	snprintf(vm, sizeof(vm), "ws%d-echo", (int)getpid());
	snprintf(tap, sizeof(tap), "ws%d", (int)getpid() % 100000);
	snprintf(console, sizeof(console), "%s/console/%s.log", rundir, vm);
	snprintf(ctl, sizeof(ctl), "%s/%s", rundir, SWC_SOCK);
	snprintf(vm_ip, sizeof(vm_ip), "%s%d", SITE_NET, 200 + (int)getpid() % 50);
	snprintf(noisy, sizeof(noisy), "ws%d-blast", (int)getpid());
	snprintf(noisy_console, sizeof(noisy_console), "%s/console/%s.log", rundir, noisy);
	snprintf(noisy_ip, sizeof(noisy_ip), "%s%d", SITE_NET, 150 + (int)getpid() % 50);
	setenv("WAVE_RUNDIR", rundir, 1);
	unsetenv("WAVE_SWITCH_CTL");
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	ready = 1;
	if (test_run(lvd, 0) || test_run(net, 0) || test_run(up, 0) || test_run(launch, 0)) {
		fprintf(stderr, "test-switch: libvirtd, the bridge, the switch or the VM did not start\n");
		return -1;
	}
	if (wait_console("WAVE-READY", 1, BOOT_TIMEOUT_S)) {
		fprintf(stderr, "test-switch: the echo guest did not come up\n");
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	cleanup();
	return 0;
}

static void need_root(void)
{
	if (geteuid() != 0)
		test_skip("needs root (libvirtd, QEMU guests, DPDK's tap)");
}

static void echo_crosses_the_switch(void **state)
{
	json_object *s;

	need_root();
	assert_true(echo(20, sizeof(struct echo_msg), 20000, 500) >= 18);
	s = stats();
	assert_int_equal(port_stat(s, vm, "up"), 1);
	assert_true(port_stat(s, vm, "rx_pkts") >= 18);  /* the replies, from the guest */
	assert_true(port_stat(s, vm, "tx_pkts") >= 18);  /* the requests, to it */
	assert_true(port_stat(s, tap, "rx_pkts") >= 18);
	json_object_put(s);
	{
		/* What an operator reads: the VM's row under wavectl net status's header. */
		char line[512];
		int header = 0, row = 0;
		FILE *f = popen("build/bin/wavectl net status", "r");

		assert_non_null(f);
		while (fgets(line, sizeof(line), f)) {
			header |= strstr(line, "policed") && strstr(line, "pace from") != NULL;
			row |= !strncmp(line, vm, strlen(vm)) && strstr(line, " vm ") != NULL;
		}
		assert_int_equal(pclose(f), 0);
		assert_true(header && row);
	}
}

/* Nothing to forward: the switch sleeps instead of polling a core away. */
static void idle_switch_sleeps(void **state)
{
	char path[160];
	json_object *s0, *s1, *v;
	int64_t sleeps0, sleeps1;
	uint64_t run0, run1, t0, t1;
	FILE *f;
	long pid;

	need_root();
	snprintf(path, sizeof(path), "%s/%s", rundir, SWC_PID);
	assert_non_null(f = fopen(path, "r"));
	assert_int_equal(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%ld/schedstat", pid);
	s0 = stats();
	assert_non_null(f = fopen(path, "r"));
	assert_int_equal(fscanf(f, "%" SCNu64, &run0), 1);
	fclose(f);
	t0 = wave_now_ns();
	sleep(2);
	assert_non_null(f = fopen(path, "r"));
	assert_int_equal(fscanf(f, "%" SCNu64, &run1), 1);
	fclose(f);
	t1 = wave_now_ns();
	s1 = stats();
	json_object_object_get_ex(s0, "sleeps", &v);
	sleeps0 = json_object_get_int64(v);
	json_object_object_get_ex(s1, "sleeps", &v);
	sleeps1 = json_object_get_int64(v);
	/* A polling loop would take the whole 2 s; a sleeping one next to nothing. */
	assert_true(run1 - run0 < (t1 - t0) / 2);
	assert_true(sleeps1 > sleeps0); /* woken by the first stats request, asleep again */
	json_object_put(s0);
	json_object_put(s1);
}

/*
 * 100 kB/s with a 4 kB burst towards the VM, then 400 frames of 1000
 * bytes as fast as the host sends: what reaches the VM is at most the
 * rate times the time since the meter was set, plus the burst.
 */
static void meter_holds_a_vms_rate(void **state)
{
	char req[128], reply[256];
	int64_t tx0, bytes0, drops0, tx1, bytes1, drops1;
	uint64_t t0;
	double allowed;

	need_root();
	tx0 = vm_stat("tx_pkts");
	bytes0 = vm_stat("tx_bytes");
	drops0 = vm_stat("drop_meter_to");
	snprintf(req, sizeof(req), "rate %s to 100000 4000", vm);
	t0 = wave_now_ns();
	assert_int_equal(swc_request(ctl, req, reply, sizeof(reply)), 0);
	echo(400, 1000, 0, 300);
	tx1 = vm_stat("tx_pkts");
	bytes1 = vm_stat("tx_bytes");
	drops1 = vm_stat("drop_meter_to");
	allowed = 100000.0 * (double)(wave_now_ns() - t0) / 1e9 + 4000 + 1100;
	print_message("meter: %lld frames (%lld bytes) passed in %.2f s, %lld dropped, %.0f bytes "
		      "allowed\n", (long long)(tx1 - tx0), (long long)(bytes1 - bytes0),
		      (double)(wave_now_ns() - t0) / 1e9, (long long)(drops1 - drops0), allowed);
	assert_true(drops1 - drops0 > 0);
	assert_true((double)(bytes1 - bytes0) <= allowed);
	snprintf(req, sizeof(req), "rate %s to 0 0", vm);
	assert_int_equal(swc_request(ctl, req, reply, sizeof(reply)), 0);
	assert_true(echo(10, sizeof(struct echo_msg), 20000, 500) >= 9);
}

/* A raw connection to the switch's control socket, for requests swc_request would not send. */
static int ctl_connect(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", ctl);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void bad_requests_are_refused(void **state)
{
	static const char *const bad[] = {
		"", "nonsense", "rate", "rate nosuchvm to 1000 3000", "add-vm a\"b /tmp/x.sock",
		"add-vm x /tmp/a,b.sock", "class nosuchvm latency", "del-vm", "stats extra",
	};
	static const struct { const char *bytes; size_t len; } raw[] = {
		{ "stats", 5 },                 /* no newline: the connection just ends */
		{ "sta\0ts\n", 7 },             /* a NUL inside */
	};
	char reply[512], req[160];

	need_root();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object *j;

		assert_int_equal(swc_request(ctl, bad[i], reply, sizeof(reply)), -EPROTO);
		assert_non_null(j = json_tokener_parse(reply)); /* an error is still JSON */
		json_object_put(j);
		assert_non_null(strstr(reply, "\"error\""));
	}
	for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		int fd = ctl_connect();
		ssize_t n;

		assert_int_equal(send(fd, raw[i].bytes, raw[i].len, MSG_NOSIGNAL), (ssize_t)raw[i].len);
		shutdown(fd, SHUT_WR);
		n = recv(fd, reply, sizeof(reply) - 1, 0);
		reply[n > 0 ? n : 0] = 0;
		close(fd);
		assert_non_null(strstr(reply, "\"error\""));
	}
	/* A client that sends nothing and goes: the switch answers the next one. */
	close(ctl_connect());
	snprintf(req, sizeof(req), "rate %s to 99999999999999999 3000", vm);
	assert_int_equal(swc_request(ctl, req, reply, sizeof(reply)), -EPROTO);
	snprintf(req, sizeof(req), "rate %s sideways 1000 3000", vm);
	assert_int_equal(swc_request(ctl, req, reply, sizeof(reply)), -EPROTO);
	snprintf(req, sizeof(req), "rate %s to 1000 10", vm); /* a burst under a frame */
	assert_int_equal(swc_request(ctl, req, reply, sizeof(reply)), -EPROTO);
	assert_int_equal(vm_stat("rate_to"), 0);
	assert_int_equal(vm_stat("up"), 1);
}

/* Asks the blast guest for a rate (Mbit/s; 0 quiet); 0 once it acknowledged. */
static int blast_rate(uint32_t mbit)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(7777) };
	struct timeval tv = { .tv_usec = 200000 };
	struct echo_msg m = { .magic = BLAST_MAGIC, .cost_us = mbit }, r;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ok = -1;

	inet_pton(AF_INET, noisy_ip, &a.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (int i = 0; i < 10 && ok; i++) {
		sendto(fd, &m, sizeof(m), 0, (struct sockaddr *)&a, sizeof(a));
		ok = recv(fd, &r, sizeof(r), 0) == sizeof(r) && r.magic == BLAST_MAGIC ? 0 : -1;
	}
	close(fd);
	return ok;
}

static int flooding; /* the blast guest was told to flood and not yet to stop */

/* A failed flood check must not leave the neighbour flooding through the next tests. */
/* Unpaces the blast guest (its answer would wait behind its own flood) and quiets it. */
static void unpace(void)
{
	char req[128], reply[256];

	snprintf(req, sizeof(req), "rate %s from 0 0", noisy);
	swc_request(ctl, req, reply, sizeof(reply));
}

static int stop_flood(void **state)
{
	unpace();
	if (flooding && !blast_rate(0))
		flooding = 0;
	return 0;
}

/* Bytes of the flood that reach the host's sink (UDP 9999) in secs seconds. */
static uint64_t sink_bytes(int fd, double secs)
{
	uint64_t end = wave_now_ns() + (uint64_t)(secs * 1e9), got = 0;
	char buf[2048];
	ssize_t n;

	while (wave_now_ns() < end)
		if ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
			got += (uint64_t)n;
	return got;
}

/*
 * A neighbour floods the host flat out through the switch; a pace of
 * 1 Mbit/s on what it sends holds: the sink sees no more than the rate
 * times the time plus the burst (payload only, so frames' headers make
 * it stricter). The switch drops nothing: the flood waits in the guest
 * (its ring is full: the backlog), and the times its pace ran out are
 * counted.
 */
static void meter_holds_a_flood_from_a_vm(void **state)
{
	char *launch[] = { "build/bin/wavectl", "launch", "images/xml/blast.xml", "--name", noisy,
			   "--ip", noisy_ip, NULL };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9999) };
	struct timeval tv = { .tv_usec = 50000 };
	char req[128], reply[256];
	uint64_t free_bytes, metered;
	int64_t held, dropped, backlog;
	int fd;

	need_root();
	assert_int_equal(test_run(launch, 1), 0);
	assert_int_equal(test_wait_line(noisy_console, "WAVE-READY", 1, NULL, 0, BOOT_TIMEOUT_S), 0);
	assert_true((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(blast_rate(BLAST_FLAT_OUT), 0);
	flooding = 1;
	free_bytes = sink_bytes(fd, 2);
	snprintf(req, sizeof(req), "rate %s from 125000 16000", noisy);
	assert_int_equal(swc_request(ctl, req, reply, sizeof(reply)), 0);
	sink_bytes(fd, 0.3); /* what was queued before the meter */
	metered = sink_bytes(fd, 3);
	{
		json_object *s = stats();

		held = port_stat(s, noisy, "held");
		dropped = port_stat(s, noisy, "drop_meter_from");
		backlog = port_stat(s, noisy, "backlog");
		json_object_put(s);
	}
	unpace();
	assert_int_equal(blast_rate(0), 0);
	flooding = 0;
	close(fd);
	print_message("flood: %.1f Mbit/s unpaced, %.2f Mbit/s under a 1 Mbit/s pace; "
		      "pace ran out %lld times, %lld frames waiting in the guest's ring\n",
		      (double)free_bytes * 8 / 2e6, (double)metered * 8 / 3e6, (long long)held,
		      (long long)backlog);
	assert_true(free_bytes * 8 / 2 > 4000000);    /* the flood is real: well over the pace */
	assert_true(metered <= 125000 * 3 + 16000 + 125000 * 0.3);
	assert_true(metered > 0);                      /* paced, not cut off */
	assert_true(held > 0);
	assert_int_equal(dropped, 0);                  /* held back in the guest, not dropped */
	assert_true(backlog > 0);
}

/* The VM's net counts in waved's status (0 if absent); its interfaces' first name into via. */
static int64_t waved_net(const char *key, char *via, size_t size)
{
	json_object *doc, *vmo = test_status_vm(rundir, vm, &doc), *net, *v, *a;
	int64_t n = 0;

	if (via)
		via[0] = 0;
	if (vmo && json_object_object_get_ex(vmo, "net", &net)) {
		if (json_object_object_get_ex(net, key, &v))
			n = json_object_get_int64(v);
		if (via && json_object_object_get_ex(net, "interfaces", &a) &&
		    json_object_array_length(a) > 0)
			snprintf(via, size, "%s", json_object_get_string(json_object_array_get_idx(a, 0)));
	}
	json_object_put(doc);
	return n;
}

/*
 * waved finds the VM has no tap but a port on the switch, and counts its
 * traffic there (what the policy sees as NET_STATE): the echo requests
 * sent to it appear as frames towards the guest.
 */
static void waved_counts_a_vm_on_the_switch(void **state)
{
	char *wv[] = { "build/bin/waved", "--mode", "observe", "--match", vm, "--rundir", rundir, NULL };
	char via[32] = "";
	int64_t before = 0, after = 0;

	need_root();
	waved_pid = test_spawn(wv);
	for (int i = 0; i < 100 && strcmp(via, "wave-switch"); i++) {
		usleep(100000);
		before = waved_net("rx_pkts", via, sizeof(via));
	}
	assert_string_equal(via, "wave-switch");
	assert_true(echo(20, sizeof(struct echo_msg), 20000, 500) >= 18);
	for (int i = 0; i < 30 && after < before + 20; i++) {
		usleep(100000);
		after = waved_net("rx_pkts", NULL, 0);
	}
	assert_true(after >= before + 20);
	test_end(&waved_pid);
}

/* The switch stopped and started again: the VM's port comes back, QEMU reconnects, frames flow. */
static void switch_restart_brings_vms_back(void **state)
{
	char *down[] = { "build/bin/wavectl", "net", "down", NULL };
	char *up[] = { "build/bin/wavectl", "net", "up", "--tap", tap, NULL };
	json_object *s = NULL;
	int64_t up_now = 0;

	need_root();
	assert_int_equal(test_run(down, 1), 0);
	assert_int_equal(test_run(up, 0), 0);
	for (int i = 0; i < 100 && up_now != 1; i++) {
		usleep(100000);
		up_now = vm_stat("up");
	}
	assert_int_equal(up_now, 1);
	assert_true(echo(20, sizeof(struct echo_msg), 20000, 500) >= 18);
	s = stats();
	assert_int_equal(port_stat(s, vm, "connects"), 1); /* a new switch, a new count */
	json_object_put(s);
}

/* QEMU goes away and comes back on the same socket: counted, and frames flow again. */
static void guest_leaving_and_returning_is_survived(void **state)
{
	char cmd[256];
	int64_t connects = 0;

	need_root();
	snprintf(cmd, sizeof(cmd), "virsh -q destroy %s >/dev/null", vm);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(truncate(console, 0), 0); /* the next WAVE-READY is the new boot's */
	snprintf(cmd, sizeof(cmd), "virsh -q start %s >/dev/null", vm);
	assert_int_equal(system(cmd), 0);
	for (int i = 0; i < 100 && connects < 2; i++) {
		usleep(100000);
		connects = vm_stat("connects");
	}
	assert_int_equal(connects, 2);
	assert_int_equal(vm_stat("disconnects"), 1);
	assert_int_equal(wait_console("WAVE-READY", 1, BOOT_TIMEOUT_S), 0);
	assert_true(echo(20, sizeof(struct echo_msg), 20000, 500) >= 18);
}

static int resume_vm(void **state)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "virsh -q resume %s >/dev/null 2>&1", vm);
	return system(cmd) < 0;
}

/*
 * A paused guest (virsh suspend): QEMU stops its queues and its port goes
 * down; frames for it are dropped and counted on its port, not flooded to
 * every other port; the switch goes on answering; the guest, resumed, is
 * up and gets frames again.
 */
static void a_paused_guest_is_survived(void **state)
{
	char cmd[256];
	json_object *s;
	int64_t down0, flood0, down, flooded;

	need_root();
	down0 = vm_stat("drop_down");
	s = stats();
	flood0 = port_stat(s, tap, "flooded");
	json_object_put(s);
	snprintf(cmd, sizeof(cmd), "virsh -q suspend %s >/dev/null", vm);
	assert_int_equal(system(cmd), 0);
	for (int i = 0; i < 50 && vm_stat("up") != 0; i++)
		usleep(100000);
	assert_int_equal(echo(600, 1000, 0, 200), 0);
	s = stats();
	down = port_stat(s, vm, "drop_down") - down0;
	flooded = port_stat(s, tap, "flooded") - flood0;
	print_message("paused guest: up %lld, %lld frames for it dropped, %lld flooded\n",
		      (long long)port_stat(s, vm, "up"), (long long)down, (long long)flooded);
	assert_int_equal(port_stat(s, vm, "up"), 0);
	json_object_put(s);
	assert_true(down >= 590);      /* the 600 requests (ARP aside) */
	assert_true(flooded < 10);
	assert_int_equal(resume_vm(state), 0);
	for (int i = 0; i < 50 && vm_stat("up") != 1; i++)
		usleep(100000);
	assert_true(echo(20, sizeof(struct echo_msg), 20000, 500) >= 18);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(echo_crosses_the_switch),
		cmocka_unit_test(idle_switch_sleeps),
		cmocka_unit_test(meter_holds_a_vms_rate),
		cmocka_unit_test_teardown(meter_holds_a_flood_from_a_vm, stop_flood),
		cmocka_unit_test(bad_requests_are_refused),
		cmocka_unit_test_teardown(a_paused_guest_is_survived, resume_vm),
		cmocka_unit_test(waved_counts_a_vm_on_the_switch),
		cmocka_unit_test(switch_restart_brings_vms_back),
		cmocka_unit_test(guest_leaving_and_returning_is_survived),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
