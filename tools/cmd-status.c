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
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/log.h"
#include "common/parse.h"
#include "tools/site.h"
#include "tools/wavectl.h"

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

/* Reads waved's status document; NULL (logged) if waved does not answer. */
static json_object *fetch(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	json_object *o = NULL;
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s/waved.sock", site_rundir());
	if (fd < 0 || !buf || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		wave_err("status: waved does not answer on %s: %s (is waved running?)", a.sun_path,
			 strerror(errno));
		goto out;
	}
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (len + 1 == cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				goto out;
			buf = nb;
			cap *= 2;
		}
	}
	buf[len] = '\0';
	o = json_tokener_parse(buf);
	if (!o)
		wave_err("status: waved's answer is not JSON");
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return o;
}

static const char *str(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "?";
}

static double num(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_double(v) : 0;
}

static void print_threads(json_object *vm)
{
	json_object *ths;

	if (!json_object_object_get_ex(vm, "threads", &ths))
		return;
	for (size_t i = 0; i < json_object_array_length(ths); i++) {
		json_object *t = json_object_array_get_idx(ths, i);
		char what[24], sched[32];

		snprintf(what, sizeof(what), "%s%d", str(t, "kind"), (int)num(t, "index"));
		if (!strcmp(str(t, "sched"), "deadline"))
			snprintf(sched, sizeof(sched), "deadline %dus", (int)num(t, "dl_runtime_us"));
		else
			snprintf(sched, sizeof(sched), "%s", str(t, "sched"));
		printf("  %-14s %-8s %-10s %7d %-8s %3d %6.1f %7.1f  %s%s\n", i ? "" : str(vm, "name"),
		       i ? "" : str(vm, "class"), what, (int)num(t, "tid"), str(t, "state"),
		       (int)num(t, "cpu"), num(t, "run_pct"), num(t, "delay_pct"), sched,
		       (int)num(t, "cpus_allowed") > 0 && json_object_get_boolean(
			       json_object_object_get(t, "managed")) ? " *" : "");
	}
}

static void print_table(json_object *s, double cpu_pct)
{
	json_object *st = json_object_object_get(s, "stats"), *vms;
	double ok = num(st, "ok");
	double rej = num(st, "stale-epoch") + num(st, "stale-target") + num(st, "no-target") +
		     num(st, "invalid") + num(st, "refused-in-fallback") + num(st, "failed");

	printf("waved: mode %s, now %s (%s), agent lag %.2f ms (threshold %.1f ms), epoch %d\n",
	       str(s, "mode"), str(s, "state"), str(s, "why"), num(s, "lag_us") / 1000.0,
	       num(s, "lag_threshold_us") / 1000.0, (int)num(s, "epoch"));
	printf("       policy %s, fallback %s, observing with %s, ", str(s, "policy"),
	       str(s, "fallback"), str(s, "observe"));
	if (cpu_pct >= 0)
		printf("waved CPU %.2f%% of one core\n", cpu_pct);
	else
		printf("waved CPU %.2f s so far\n", num(s, "waved_cpu_s"));
	printf("decisions: %.0f applied, %.0f rejected (stale %.0f, no target %.0f, invalid %.0f, "
	       "in fallback %.0f, failed %.0f); fallbacks %.0f, hand-backs %.0f\n\n", ok, rej,
	       num(st, "stale-epoch") + num(st, "stale-target"), num(st, "no-target"),
	       num(st, "invalid"), num(st, "refused-in-fallback"), num(st, "failed"),
	       num(st, "fallbacks"), num(st, "handbacks"));
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

			cpu = dt > 0 ? 100.0 * (num(s, "waved_cpu_s") - prev_cpu) / dt : -1;
		}
		prev_cpu = num(s, "waved_cpu_s");
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
