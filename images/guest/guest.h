/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wave-guest: the workloads that run inside Wave-VM's test and benchmark
 * guests, one static binary started by the initramfs' /init with the
 * workload named on the kernel command line (wave.workload=spin|echo|idle|probe|mem).
 *
 * Guests talk to the host in two ways: lines on the serial console (which
 * libvirt writes to a file: human-readable, and the readiness signal tests
 * wait for) and UDP datagrams (precise enough for a benchmark). Every line a
 * workload prints for machines starts with "WAVE-" and is key=value pairs.
 *
 * The binary is static and uses only libc: the initramfs has no loader.
 */
#ifndef WAVE_GUEST_H
#define WAVE_GUEST_H

#include <netinet/in.h>
#include <stdint.h>

/* Settings from the kernel command line (wave.KEY=VALUE), with defaults. */
struct guest_cfg {
	const char *workload;      /* wave.workload */
	struct sockaddr_in report; /* wave.report=IP:PORT: UDP reports; port 0 = none */
	unsigned int port;         /* wave.port: echo's UDP port (default 7777) */
	unsigned int cost_us;      /* wave.cost_us: echo's default per-request CPU cost */
	unsigned int threads;      /* wave.threads: spin threads (default: online CPUs) */
	unsigned int period_ms;    /* wave.period_ms: report period (default 1000) */
	unsigned int mem_mb;       /* wave.mem_mb: mem's working set at start, MiB (default 64) */
	unsigned int mem_rate;     /* wave.mem_rate: mem's touches, MiB/s (0: as fast as it can) */
	unsigned int mem_hz;       /* wave.mem_hz: ... or the whole set this often a second */
	const char *mem_sched;     /* wave.mem_sched=S:MB,S:MB,...: working set from second S on */
	struct sockaddr_in blast_to; /* wave.blast_to=IP:PORT: blast's sink */
	unsigned int blast_size;   /* wave.blast_size: UDP payload bytes (default 1400) */
	unsigned int blast_mbit;   /* wave.blast_mbit: rate at start, Mbit/s (0: quiet) */
};

/*
 * Echo protocol (UDP, little-endian). A request carries a sequence number
 * and a CPU cost; the reply is the request, sent back after burning that
 * much CPU. A HOG request starts (or, with threads = 0, stops) threads that
 * burn CPU without end: a well-behaved latency VM turning into a CPU hog.
 */
#define ECHO_MAGIC      0x48434557u /* "WECH" */
#define HOG_MAGIC       0x474f4857u /* "WHOG" */
#define MEM_MAGIC       0x4d454d57u /* "WMEM": cost_us is mem's new working set, MiB */
/* "WBLS": cost_us is blast's new rate, Mbit/s (0: quiet, BLAST_FLAT_OUT: as fast as it can) */
#define BLAST_MAGIC     0x534c4257u
#define BLAST_FLAT_OUT  0xffffffffu
#define ECHO_COST_DEFAULT 0xffffffffu

struct echo_msg {
	uint32_t magic;
	uint32_t cost_us;   /* ECHO: CPU to burn, or ECHO_COST_DEFAULT; HOG: threads */
	uint64_t seq;
	uint64_t t_send_ns; /* the client's clock, echoed unchanged */
};
_Static_assert(sizeof(struct echo_msg) == 24, "echo_msg is 24 bytes");

int guest_cfg_load(struct guest_cfg *cfg, const char *cmdline);

/* Prints a "WAVE-..." line to the console and, if configured, as a UDP report. */
void guest_report(const struct guest_cfg *cfg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

uint64_t guest_now_ns(void);
unsigned int guest_nr_cpus(void);

/*
 * Burns CPU: iterations of a dependent arithmetic chain that the compiler
 * cannot remove. guest_burn_calibrate() measures iterations per microsecond
 * (best of several short runs, so a preempted run does not skew it).
 */
uint64_t guest_burn(uint64_t iterations);
uint64_t guest_burn_calibrate(void);

int guest_spin(const struct guest_cfg *cfg);
int guest_echo(const struct guest_cfg *cfg);
int guest_idle(const struct guest_cfg *cfg);
int guest_probe(const struct guest_cfg *cfg);
int guest_mem(const struct guest_cfg *cfg);
int guest_blast(const struct guest_cfg *cfg);

#endif
