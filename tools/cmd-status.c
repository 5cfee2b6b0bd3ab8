// SPDX-License-Identifier: BSD-3-Clause
/*
 * wavectl status: waved's live view, like virt-top. Reads the JSON document
 * waved writes on its status socket (RUNDIR/waved.sock), refreshes every
 * interval on a terminal, prints once otherwise (or with --once / --json).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/log.h"
#include "common/parse.h"
#include "tools/site.h"
#include "tools/wavectl.h"
#include "waved/status-client.h"

static const char status_help[] =
	"usage: wavectl status [--json] [--once] [--interval S]\n"
	"\n"
	"Shows waved's mode (offload, onhost, observe; fallback when the agent is\n"
	"unhealthy), the measured agent lag, decisions applied and rejected, and\n"
	"every managed VM thread: state, host CPU now, run %, runnable-delay %\n"
	"(steal) and scheduling class. Refreshes every second on a terminal.\n"
	"\n"
	"  --json         print waved's status document once (for scripts)\n"
	"  --once         print the table once\n"
	"  --interval S   refresh period in seconds (default 1)\n"
	"  -h, --help     this text\n"
	"waved's socket is $WAVE_RUNDIR/waved.sock (default /run/wave-vm).\n";

static volatile sig_atomic_t stop;

static void on_sigint(int sig)
{
	(void)sig;
	stop = 1;
}

static json_object *fetch(void)
{
	char why[512];
	json_object *o = waved_status(site_rundir(), why, sizeof(why));

	if (!o)
		wave_err("status: %s", why);
	return o;
}

static void print_threads(json_object *vm)
{
	json_object *ths;

	if (!json_object_object_get_ex(vm, "threads", &ths))
		return;
	for (size_t i = 0; i < json_object_array_length(ths); i++) {
		json_object *t = json_object_array_get_idx(ths, i);
		char what[24], sched[32];

		snprintf(what, sizeof(what), "%s%d", waved_str(t, "kind"), (int)waved_num(t, "index"));
		if (!strcmp(waved_str(t, "sched"), "deadline"))
			snprintf(sched, sizeof(sched), "deadline %dus", (int)waved_num(t, "dl_runtime_us"));
		else
			snprintf(sched, sizeof(sched), "%s", waved_str(t, "sched"));
		printf("  %-14s %-8s %-10s %7d %-8s %3d %6.1f %7.1f  %s%s\n", i ? "" : waved_str(vm, "name"),
		       i ? "" : waved_str(vm, "class"), what, (int)waved_num(t, "tid"), waved_str(t, "state"),
		       (int)waved_num(t, "cpu"), waved_num(t, "run_pct"), waved_num(t, "delay_pct"), sched,
		       (int)waved_num(t, "cpus_allowed") > 0 && json_object_get_boolean(
			       json_object_object_get(t, "managed")) ? " *" : "");
	}
}

static void print_table(json_object *s, double cpu_pct)
{
	json_object *st = json_object_object_get(s, "stats"), *vms;
	double ok = waved_num(st, "ok");
	double rej = waved_num(st, "stale-epoch") + waved_num(st, "stale-target") + waved_num(st, "no-target") +
		     waved_num(st, "invalid") + waved_num(st, "refused-in-fallback") + waved_num(st, "failed");

	printf("waved: mode %s, now %s (%s), agent lag %.2f ms (threshold %.1f ms), epoch %d\n",
	       waved_str(s, "mode"), waved_str(s, "state"), waved_str(s, "why"), waved_num(s, "lag_us") / 1000.0,
	       waved_num(s, "lag_threshold_us") / 1000.0, (int)waved_num(s, "epoch"));
	printf("       policy %s, fallback %s, observing with %s, ", waved_str(s, "policy"),
	       waved_str(s, "fallback"), waved_str(s, "observe"));
	if (cpu_pct >= 0)
		printf("waved CPU %.2f%% of one core\n", cpu_pct);
	else
		printf("waved CPU %.2f s so far\n", waved_num(s, "waved_cpu_s"));
	printf("decisions: %.0f applied, %.0f rejected (stale %.0f, no target %.0f, invalid %.0f, "
	       "in fallback %.0f, failed %.0f); fallbacks %.0f, hand-backs %.0f\n\n", ok, rej,
	       waved_num(st, "stale-epoch") + waved_num(st, "stale-target"), waved_num(st, "no-target"),
	       waved_num(st, "invalid"), waved_num(st, "refused-in-fallback"), waved_num(st, "failed"),
	       waved_num(st, "fallbacks"), waved_num(st, "handbacks"));
	printf("  %-14s %-8s %-10s %7s %-8s %3s %6s %7s  %s\n", "VM", "CLASS", "THREAD", "TID",
	       "STATE", "CPU", "RUN%", "DELAY%", "SCHED (* changed by Wave)");
	if (json_object_object_get_ex(s, "vms", &vms))
		for (size_t i = 0; i < json_object_array_length(vms); i++)
			print_threads(json_object_array_get_idx(vms, i));
	if (!vms || !json_object_array_length(vms))
		printf("  (no managed VMs)\n");
}

static int status_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "once", no_argument, NULL, 'o' },
		{ "interval", required_argument, NULL, 'i' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int json = 0, once = !isatty(1), c;
	uint64_t interval = 1;
	double prev_cpu = -1;
	struct timespec prev_t = { 0 };

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'o': once = 1; break;
		case 'i':
			if (wave_parse_u64("--interval", optarg, 1, 3600, &interval))
				return 2;
			break;
		case 'h': fputs(status_help, stdout); return 0;
		default: fputs(status_help, stderr); return 2;
		}
	}
	signal(SIGINT, on_sigint);
	do {
		json_object *s = fetch();
		struct timespec t;
		double cpu = -1;

		if (!s)
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (prev_cpu >= 0) {
			double dt = (double)(t.tv_sec - prev_t.tv_sec) +
				    (double)(t.tv_nsec - prev_t.tv_nsec) / 1e9;

			cpu = dt > 0 ? 100.0 * (waved_num(s, "waved_cpu_s") - prev_cpu) / dt : -1;
		}
		prev_cpu = waved_num(s, "waved_cpu_s");
		prev_t = t;
		if (json) {
			printf("%s\n", json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN));
			json_object_put(s);
			return 0;
		}
		if (!once)
			printf("\033[H\033[2J");
		print_table(s, cpu);
		fflush(stdout);
		json_object_put(s);
		if (!once)
			sleep((unsigned int)interval);
	} while (!once && !stop);
	return 0;
}

const struct wavectl_cmd wavectl_status_cmd = {
	.name = "status",
	.summary = "waved's live view: mode, agent lag, VMs and their threads",
	.run = status_run,
};
