/* SPDX-License-Identifier: BSD-3-Clause */
/* Benchmarks run by 'wavectl bench NAME'. Not part of 'make check'. */
#ifndef WAVE_BENCH_BENCH_H
#define WAVE_BENCH_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* wavectl bench channel|loop|sched [OPTIONS]: each prints its options with --help. */
int bench_channel_main(int argc, char **argv);
int bench_loop_main(int argc, char **argv);
int bench_sched_main(int argc, char **argv);
int bench_mem_main(int argc, char **argv);

/* Percentile p (0..1) of n samples; sorts them in place. 0 if n == 0. */
uint64_t bench_percentile(uint64_t *samples, size_t n, double p);

/* CPU time (user + system, ns) process pid has used so far, or 0 if it is gone. */
uint64_t bench_proc_cpu_ns(pid_t pid);

/* Pins the calling thread to one CPU. Returns 0 or -errno. */
int bench_pin(int cpu);

/* The first two CPUs this process may run on, for the two benchmark threads. */
int bench_default_cpus(int cpus[2]);

/* Runs gnuplot on DIR/plots.gp in DIR. 0, or -errno / -EIO (said, naming what). */
int bench_gnuplot(const char *dir, const char *what);

#endif
