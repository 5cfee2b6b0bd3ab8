// SPDX-License-Identifier: BSD-3-Clause
/*
 * wavectl status: waved's live view, like virt-top. Reads the JSON document
 * waved writes on its status socket (RUNDIR/waved.sock), refreshes every
 * interval on a terminal, prints once otherwise (or with --once / --json).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/parse.h"
#include "common/site.h"
#include "tools/wavectl.h"
#include "waved/status-client.h"

static int st_json, st_once;
static uint64_t st_interval_ns = WAVE_NSEC_PER_SEC;

static const struct opt status_opts[] = {
	OPT_BOOL("json", 0, &st_json, "print waved's status document once (for scripts)"),
	OPT_BOOL("once", 0, &st_once, "print the table once (the default when not on a terminal)"),
	OPT_DURATION("interval", "S", &st_interval_ns, WAVE_NSEC_PER_SEC, 100 * WAVE_NSEC_PER_MSEC,
		     3600 * WAVE_NSEC_PER_SEC, "refresh period"),
	OPT_END(),
};

static const struct opt_cmd status_cmd = {
	.name = "status",
	.usage = "wavectl status [--json] [--once] [--interval S]",
	.about = "Shows waved's mode (offload, onhost, observe; fallback when the agent is\n"
		 "unhealthy), the measured agent lag, decisions applied and rejected, and\n"
		 "every managed VM thread: state, host CPU now, run %, runnable-delay %\n"
		 "(steal) and scheduling class. Refreshes every second on a terminal.\n",
	.opts = status_opts,
	.epilog = "waved's socket is waved.sock in $WAVE_RUNDIR (default " SITE_RUNDIR ").\n",
};

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
		else if (json_object_object_get_ex(t, "pinned", NULL))
			snprintf(sched, sizeof(sched), "%s, pinned %s", waved_str(t, "sched"),
				 waved_str(t, "pinned"));
		else
			snprintf(sched, sizeof(sched), "%s", waved_str(t, "sched"));
		printf("  %-14s %-8s %-10s %7d %-8s %3d %6.1f %7.1f  %s%s\n", i ? "" : waved_str(vm, "name"),
		       i ? "" : waved_str(vm, "class"), what, (int)waved_num(t, "tid"), waved_str(t, "state"),
		       (int)waved_num(t, "cpu"), waved_num(t, "run_pct"), waved_num(t, "delay_pct"), sched,
		       (int)waved_num(t, "cpus_allowed") > 0 && json_object_get_boolean(
			       json_object_object_get(t, "managed")) ? " *" : "");
	}
}

/* waved's wakeup counters (under "stats"), shown as rates: the first is the total. */
static const char *const wake_keys[] = { "wakeups", "wakeups_tick", "wakeups_doorbell",
					 "wakeups_watchdog", "wakeups_mem", "wakeups_obs",
					 "wakeups_net", "wakeups_status" };
static const char *const wake_names[] = { "", "tick", "doorbell", "watchdog", "memory",
					  "BPF events", "traffic", "status requests" };
#define NR_WAKE (sizeof(wake_keys) / sizeof(wake_keys[0]))

/* "N wakeups/s (tick a, doorbell b, ...)" from rates, or the totals so far without them. */
static void print_wakeups(json_object *st, const double *rate)
{
	printf("waved woken ");
	if (rate[0] < 0) {
		printf("%.0f times so far\n", waved_num(st, wake_keys[0]));
		return;
	}
	printf("%.0f times a second (", rate[0]);
	for (size_t k = 1; k < NR_WAKE; k++)
		printf("%s%s %.0f", k > 1 ? ", " : "", wake_names[k], rate[k]);
	printf(")\n");
}

static void print_table(json_object *s, double cpu_pct, const double *wake)
{
	json_object *st = json_object_object_get(s, "stats"), *vms;
	const char *last;
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
	printf("       ");
	print_wakeups(st, wake);
	if (waved_num(s, "echoes") > 0)
		printf("       heartbeats: %.0f echoed, %.0f of them read without a doorbell; "
		       "the agent held one %.0f us at most\n", waved_num(s, "echoes"),
		       waved_num(s, "echoes_lazy"), waved_num(s, "agent_hold_max_us"));
	printf("decisions: %.0f applied, %.0f rejected (stale %.0f, no target %.0f, invalid %.0f, "
	       "in fallback %.0f, failed %.0f); fallbacks %.0f, hand-backs %.0f\n", ok, rej,
	       waved_num(st, "stale-epoch") + waved_num(st, "stale-target"), waved_num(st, "no-target"),
	       waved_num(st, "invalid"), waved_num(st, "refused-in-fallback"), waved_num(st, "failed"),
	       waved_num(st, "fallbacks"), waved_num(st, "handbacks"));
	last = json_object_object_get_ex(st, "last_refusal", NULL) ? waved_str(st, "last_refusal")
								     : NULL;
	printf("channel %s (%s): peers refused at attach %.0f%s%s\n",
	       *waved_str(s, "channel") ? waved_str(s, "channel") : "none",
	       *waved_str(s, "channel_auth") ? waved_str(s, "channel_auth") : "no agent",
	       waved_num(st, "peers_refused"), last ? ", last: " : "", last ? last : "");
	printf("safety: real-time granted %.2f of %.2f CPUs (%.2f a thread); refused: %.0f past the "
	       "caps, %.0f bad transactions, %.0f invalid messages, %.0f resyncs; %.0f agents "
	       "evicted, %.0f threads dropped (gone)\n",
	       waved_num(s, "rt_granted_cpus"), waved_num(s, "rt_max_total_cpus"),
	       waved_num(s, "rt_max_thread_cpus"), waved_num(st, "rt_refused"),
	       waved_num(st, "bad_txns"), waved_num(st, "rx_invalid"), waved_num(st, "resyncs_refused"),
	       waved_num(st, "evictions"), waved_num(st, "threads_dropped"));
	if (!strcmp(waved_str(s, "mem_observe"), "libvirt"))
		printf("memory: budget %.0f MiB; balloons set %.0f, refused %.0f, failed %.0f; "
		       "VMs read %.0f times (%.0f of them together, at rest; again: %.0f while "
		       "a balloon moved, %.0f for a late report), report timers re-armed %.0f "
		       "times, %.0f VMs not reporting; %.0f libvirt calls, %.2f s CPU so far\n",
		       waved_num(s, "mem_budget_kib") / 1024,
		       waved_num(st, "mem_set"), waved_num(st, "mem_refused"),
		       waved_num(st, "mem_failed"), waved_num(st, "mem_reads"),
		       waved_num(st, "mem_bulk_reads"),
		       waved_num(st, "mem_quick_reads"), waved_num(st, "mem_late_reads"),
		       waved_num(st, "mem_rearms"), waved_num(st, "mem_quiet_vms"),
		       waved_num(st, "mem_calls"), waved_num(s, "mem_cpu_s"));
	printf("host: SCHED_DEADLINE accounting rebuilt %.0f times\n\n", waved_num(st, "dl_repairs"));
	printf("  %-14s %-8s %-10s %7s %-8s %3s %6s %7s  %s\n", "VM", "CLASS", "THREAD", "TID",
	       "STATE", "CPU", "RUN%", "DELAY%", "SCHED (* changed by Wave)");
	if (json_object_object_get_ex(s, "vms", &vms))
		for (size_t i = 0; i < json_object_array_length(vms); i++)
			print_threads(json_object_array_get_idx(vms, i));
	if (!vms || !json_object_array_length(vms))
		printf("  (no managed VMs)\n");
	for (size_t i = 0; vms && i < json_object_array_length(vms); i++) {
		json_object *vm = json_object_array_get_idx(vms, i);
		int odd = json_object_object_get_ex(vm, "state", NULL) &&
			  strcmp(waved_str(vm, "state"), "running");

		if (odd)
			printf("  %s is %s\n", waved_str(vm, "name"), waved_str(vm, "state"));
		if (json_object_object_get_ex(vm, "metadata_refused", NULL))
			printf("  %s: last metadata change refused: %s\n", waved_str(vm, "name"),
			       waved_str(vm, "metadata_refused"));
	}
}

static int status_run(int argc, char **argv)
{
	double prev_cpu = -1, prev_wake[NR_WAKE];
	struct timespec prev_t = { 0 };
	int ret = opt_parse(&status_cmd, argc, argv, NULL);

	if (ret)
		return ret > 0 ? 0 : 2;
	st_once |= !isatty(1);
	signal(SIGINT, on_sigint);
	do {
		json_object *s = fetch(), *st;
		struct timespec t;
		double cpu = -1, wake[NR_WAKE];

		if (!s)
			return 1;
		st = json_object_object_get(s, "stats");
		clock_gettime(CLOCK_MONOTONIC, &t);
		for (size_t k = 0; k < NR_WAKE; k++)
			wake[k] = -1;
		if (prev_cpu >= 0) {
			double dt = (double)(t.tv_sec - prev_t.tv_sec) +
				    (double)(t.tv_nsec - prev_t.tv_nsec) / 1e9;

			cpu = dt > 0 ? 100.0 * (waved_num(s, "waved_cpu_s") - prev_cpu) / dt : -1;
			for (size_t k = 0; dt > 0 && k < NR_WAKE; k++)
				wake[k] = (waved_num(st, wake_keys[k]) - prev_wake[k]) / dt;
		}
		prev_cpu = waved_num(s, "waved_cpu_s");
		for (size_t k = 0; k < NR_WAKE; k++)
			prev_wake[k] = waved_num(st, wake_keys[k]);
		prev_t = t;
		if (st_json) {
			printf("%s\n", json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN));
			json_object_put(s);
			return 0;
		}
		if (!st_once)
			printf("\033[H\033[2J");
		print_table(s, cpu, wake);
		fflush(stdout);
		json_object_put(s);
		if (!st_once)
			wave_sleep_ns(st_interval_ns);
	} while (!st_once && !stop);
	return 0;
}

const struct wavectl_cmd wavectl_status_cmd = {
	.name = "status",
	.summary = "waved's live view: mode, agent lag, VMs and their threads",
	.run = status_run,
};
