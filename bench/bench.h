/* SPDX-License-Identifier: BSD-3-Clause */
/* Benchmarks run by 'wavectl bench NAME'. Not part of 'make check'. */
#ifndef WAVE_BENCH_BENCH_H
#define WAVE_BENCH_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/types.h>

/* wavectl bench channel|loop|sched [OPTIONS]: each prints its options with --help. */
int bench_channel_main(int argc, char **argv);
int bench_loop_main(int argc, char **argv);
int bench_sched_main(int argc, char **argv);
int bench_mem_main(int argc, char **argv);
int bench_net_main(int argc, char **argv);
int bench_scale_main(int argc, char **argv);
int bench_wakeup_main(int argc, char **argv);

/* Percentile p (0..1) of n samples; sorts them in place. 0 if n == 0. */
uint64_t bench_percentile(uint64_t *samples, size_t n, double p);

/*
 * CPU time (ns, exact: the scheduler's) that the live threads of process pid have
 * used so far, or 0 if it is gone (or pid <= 0). For differences over a window
 * in which the process keeps its threads.
 */
uint64_t bench_proc_cpu_ns(pid_t pid);

/*
 * "WHO: ..." and a newline on stderr (progress lines of long benchmarks),
 * unless quiet (--json) and stderr is not a terminal.
 */
void bench_say(int quiet, const char *who, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Sleeps s seconds, or less once *stop is set: 0, or -EINTR if stopped. */
int bench_pause(double s, volatile sig_atomic_t *stop);
/*
 * A comma-separated list of names (names[0..n-1]) as a bit mask; an
 * unknown one is named, with those known, under option opt: -EINVAL.
 */
int bench_parse_names(const char *opt, const char *arg, const char *const *names, unsigned int n,
		      unsigned int *mask);

/* Pins the calling thread to one CPU. Returns 0 or -errno. */
int bench_pin(int cpu);

/* The first two CPUs this process may run on, for the two benchmark threads. */
int bench_default_cpus(int cpus[2]);

/*
 * Sends a guest workload's command (struct echo_msg: magic, value in
 * cost_us) to ip:port until it echoes the magic back, up to tries times,
 * each waiting wait_ms. 0 once acknowledged, -ETIMEDOUT, or -EINVAL.
 */
int bench_guest_cmd(const char *ip, unsigned int port, uint32_t magic, uint32_t value,
		    unsigned int tries, unsigned int wait_ms);

/* Runs gnuplot on DIR/plots.gp in DIR. 0, or -errno / -EIO (said, naming what). */
int bench_gnuplot(const char *dir, const char *what);

#endif
