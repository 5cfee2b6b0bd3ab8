// SPDX-License-Identifier: BSD-3-Clause
/* wavectl bench NAME: runs one of the benchmarks in bench/. */
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "common/log.h"
#include "tools/wavectl.h"

static const struct {
	const char *name;
	const char *summary;
	int (*main)(int argc, char **argv);
} benches[] = {
	{ "channel", "host<->IPU channel vs rte_ring, cache-line floor, unix, tcp",
	  bench_channel_main },
	{ "loop", "offloaded control loop: decision latency, waved CPU, fallback time",
	  bench_loop_main },
	{ "sched", "real VMs: cfs vs pin vs rt vs offload vs onhost (latency, throughput)",
	  bench_sched_main },
	{ "mem", "real VMs: balloons by policy vs static split vs none (work, faults, budget)",
	  bench_mem_main },
	{ "net", "real VMs: a flood against a latency VM: bridge vs tc vs switch vs policy",
	  bench_net_main },
	{ "scale", "one agent against 16 to 1000 stand-in vCPUs: CPU, decisions, lag",
	  bench_scale_main },
	{ "wakeup", "what a periodic wakeup costs the host: user-space timer vs BPF timer",
	  bench_wakeup_main },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: wavectl bench NAME [OPTIONS]\n\nBenchmarks:\n");
	for (size_t i = 0; i < sizeof(benches) / sizeof(benches[0]); i++)
		fprintf(f, "  %-10s %s\n", benches[i].name, benches[i].summary);
	fprintf(f, "\n'wavectl bench NAME --help' lists a benchmark's options.\n");
}

static int bench_run(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < sizeof(benches) / sizeof(benches[0]); i++)
		if (!strcmp(argv[1], benches[i].name))
			return benches[i].main(argc - 1, argv + 1);
	wave_err("bench: unknown benchmark '%s'", argv[1]);
	usage(stderr);
	return 2;
}

const struct wavectl_cmd wavectl_bench_cmd = {
	.name = "bench",
	.summary = "run a benchmark (channel, loop, sched, mem, net, scale, wakeup)",
	.run = bench_run,
};
