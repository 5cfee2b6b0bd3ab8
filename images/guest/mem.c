// SPDX-License-Identifier: BSD-3-Clause
/*
 * mem: a workload whose performance depends on memory. A child process
 * keeps an anonymous working set of the size asked for and touches its
 * pages in turn (one word a page); a unit is one MiB touched. While the
 * set fits in RAM a unit costs a few microseconds; once the guest is short
 * of memory its pages go to the zram swap (wave.zram_mb in /init) and come
 * back as major faults, so units per second fall long before the kernel
 * kills anything. That is the signal a memory policy must keep up.
 *
 * Its pace: wave.mem_hz passes over the whole set a second (a job whose
 * work grows with its data, as a cache's does: a VM that needs more memory
 * does more work with it), or wave.mem_rate MiB/s, or as fast as it can.
 * The size follows wave.mem_mb at start, then wave.mem_sched=S:MB,... (the
 * size from second S on) and MEM requests over UDP on wave.port (the echo
 * protocol, magic MEM_MAGIC, cost_us = MiB), which override the schedule.
 * A smaller set is given back at once (MADV_DONTNEED), so free-page
 * reporting returns it to the host.
 *
 * The parent is exempt from the OOM killer and only reports: if the
 * kernel kills the child, the kill is counted (the guest's oom_kill) and
 * a new child starts with the size asked for, so an OOM shows in the
 * reports instead of ending the guest. Every period:
 *   WAVE-MEM seq=N ms=T units=U ws_mib=W avail_mib=A majflt=F pswpin=P oom_kills=K
 *            balloon_mib=B
 * (cumulative counts; A is MemAvailable; B what the balloon holds now, from
 * the guest's own count of pages it gave the balloon and got back: a
 * measure of the balloon that owes nothing to the host's reading of it).
 */
#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "images/guest/guest.h"

#define MEM_MAX_MIB 16384u       /* address space reserved for the set */
#define PAGE 4096u

/* Shared between the reporter (parent) and the toucher (child). */
struct mem_shared {
	_Atomic unsigned int want_mib;
	_Atomic uint64_t units;
};

static struct mem_shared *sh;

static void toucher(unsigned int rate, unsigned int hz)
{
	size_t reserve = (size_t)MEM_MAX_MIB << 20;
	unsigned char *base = mmap(NULL, reserve, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	unsigned int have = 0, next = 0;
	uint64_t t0 = guest_now_ns(), done = 0;

	if (base == MAP_FAILED)
		_exit(1);
	for (;;) {
		unsigned int want = atomic_load(&sh->want_mib);

		if (want < have) /* give it back now: the host may take it */
			madvise(base + ((size_t)want << 20), (size_t)(have - want) << 20,
				MADV_DONTNEED);
		have = want;
		if (!have) {
			usleep(10000);
			continue;
		}
		if (next >= have)
			next = 0;
		for (size_t off = 0; off < 1u << 20; off += PAGE)
			base[((size_t)next << 20) + off]++;
		next++;
		atomic_fetch_add_explicit(&sh->units, 1, memory_order_relaxed);
		/* Paced: a pass every 1/hz s, or rate MiB/s; a new size starts the clock over. */
		if (hz && want * hz != rate) {
			rate = want * hz;
			t0 = guest_now_ns();
			done = 0;
		}
		if (rate) {
			uint64_t due = ++done * 1000000000ull / rate, el = guest_now_ns() - t0;

			if (due > el)
				usleep((useconds_t)((due - el) / 1000));
			else if (el - due > 1000000000ull) { /* a second behind: no catching up later */
				t0 = guest_now_ns();
				done = 0;
			}
		}
	}
}

/* Reads "key value" lines of /proc/vmstat or /proc/meminfo ("Key: value kB"). */
static unsigned long long proc_value(const char *path, const char *key)
{
	char line[128];
	size_t k = strlen(key);
	unsigned long long v = 0;
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, k) && (line[k] == ' ' || line[k] == ':')) {
			v = strtoull(line + k + 1 + strspn(line + k + 1, " :"), NULL, 10);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

/* What the balloon holds (pages given less pages taken back), MiB. */
static unsigned long long balloon_mib(void)
{
	unsigned long long in = proc_value("/proc/vmstat", "balloon_inflate");
	unsigned long long out = proc_value("/proc/vmstat", "balloon_deflate");

	return in > out ? (in - out) * PAGE >> 20 : 0;
}

static pid_t start_toucher(unsigned int rate, unsigned int hz)
{
	pid_t pid = fork();

	if (pid == 0) {
		FILE *f = fopen("/proc/self/oom_score_adj", "w");

		if (f) { /* the one to kill, if anything is */
			fputs("1000", f);
			fclose(f);
		}
		toucher(rate, hz);
	}
	return pid;
}

/* The schedule's size at second t, or 0 if it names none yet. */
static unsigned int scheduled(const char *sched, unsigned int t)
{
	unsigned int mb = 0, s, m;
	const char *p = sched;

	while (p && *p && sscanf(p, "%u:%u", &s, &m) == 2) {
		if (s <= t)
			mb = m;
		p = strchr(p, ',');
		p = p ? p + 1 : NULL;
	}
	return mb;
}

static int mem_socket(unsigned int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("wave-guest: mem: socket");
		return -1;
	}
	return fd;
}

/* A MEM request: the new size, acknowledged by sending the request back. */
static void take_requests(const struct guest_cfg *cfg, int fd, int *overridden)
{
	struct echo_msg m;
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);

	while (recvfrom(fd, &m, sizeof(m), 0, (struct sockaddr *)&from, &fl) == sizeof(m)) {
		unsigned int mb = le32toh(m.cost_us);

		if (le32toh(m.magic) != MEM_MAGIC || mb > MEM_MAX_MIB)
			continue;
		atomic_store(&sh->want_mib, mb);
		*overridden = 1;
		guest_report(cfg, "WAVE-MEMSET ws_mib=%u", mb);
		sendto(fd, &m, sizeof(m), 0, (struct sockaddr *)&from, fl);
		fl = sizeof(from);
	}
}

int guest_mem(const struct guest_cfg *cfg)
{
	FILE *f = fopen("/proc/self/oom_score_adj", "w");
	int fd = mem_socket(cfg->port), overridden = 0, st;
	uint64_t t0 = guest_now_ns(), kills0 = proc_value("/proc/vmstat", "oom_kill");
	struct timespec tick = { .tv_sec = 0, .tv_nsec = 100000000 };
	unsigned int ticks = 0, per = cfg->period_ms / 100 ? cfg->period_ms / 100 : 1;
	pid_t child;

	if (f) { /* the reporter is never the one killed */
		fputs("-1000", f);
		fclose(f);
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || fd < 0)
		return 1;
	atomic_store(&sh->want_mib, cfg->mem_mb);
	if ((child = start_toucher(cfg->mem_rate, cfg->mem_hz)) < 0)
		return 1;
	guest_report(cfg, "WAVE-READY workload=mem port=%u ws_mib=%u rate=%u hz=%u", cfg->port,
		     cfg->mem_mb, cfg->mem_rate, cfg->mem_hz);
	for (uint64_t seq = 1;; ticks++) {
		unsigned int t = (unsigned int)((guest_now_ns() - t0) / 1000000000ull), mb;

		nanosleep(&tick, NULL);
		take_requests(cfg, fd, &overridden);
		if (!overridden && cfg->mem_sched && (mb = scheduled(cfg->mem_sched, t)))
			atomic_store(&sh->want_mib, mb);
		/* Killed (the OOM killer): counted by the kernel, started again. */
		if (child < 0 || waitpid(child, &st, WNOHANG) == child)
			child = start_toucher(cfg->mem_rate, cfg->mem_hz);
		if (ticks % per)
			continue;
		guest_report(cfg, "WAVE-MEM seq=%llu ms=%llu units=%llu ws_mib=%u avail_mib=%llu "
			     "majflt=%llu pswpin=%llu oom_kills=%llu balloon_mib=%llu",
			     (unsigned long long)seq++,
			     (unsigned long long)((guest_now_ns() - t0) / 1000000),
			     (unsigned long long)atomic_load(&sh->units), atomic_load(&sh->want_mib),
			     proc_value("/proc/meminfo", "MemAvailable") / 1024,
			     proc_value("/proc/vmstat", "pgmajfault"),
			     proc_value("/proc/vmstat", "pswpin"),
			     proc_value("/proc/vmstat", "oom_kill") - kills0, balloon_mib());
	}
}
