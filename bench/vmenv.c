// SPDX-License-Identifier: BSD-3-Clause
/* The environment of benchmarks on real VMs (vmenv.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/vmenv.h"
#include "common/log.h"
#include "common/site.h"
#include "common/spawn.h"
#include "vmm/conn.h"
#include "waved/status-client.h"

/* Runs argv to completion (quiet: no output); its exit status or -1. */
static int run(char *const argv[], int quiet)
{
	pid_t pid = wave_spawn(argv, quiet);
	int st;

	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void paths(struct bench_env *e)
{
	char tmp[PATH_MAX + 32];

	site_bindir(e->bindir, sizeof(e->bindir));
	/* BIN = <repo>/build/bin: scripts in <repo>/scripts, images in <repo>/build/images */
	site_images_dir(e->images, sizeof(e->images));
	snprintf(tmp, sizeof(tmp), "%s/../../scripts", e->bindir);
	if (!realpath(tmp, e->scripts))
		snprintf(e->scripts, sizeof(e->scripts), "scripts");
}

static int script(const struct bench_env *e, const char *name, const char *verb, int quiet)
{
	char path[PATH_MAX + 32];
	char *argv[] = { path, (char *)verb, NULL };

	snprintf(path, sizeof(path), "%s/%s", e->scripts, name);
	return run(argv, quiet);
}

int be_wavectl(const struct bench_env *e, char *a1, char *a2, char *a3, char *a4, int quiet)
{
	char path[PATH_MAX + 16];
	char *argv[] = { path, a1, a2, a3, a4, NULL };

	snprintf(path, sizeof(path), "%s/wavectl", e->bindir);
	return run(argv, quiet);
}

int be_setup(struct bench_env *e, const char *what, const char *tag, int quiet)
{
	memset(e, 0, sizeof(*e));
	e->what = what;
	paths(e);
	snprintf(e->rundir, sizeof(e->rundir), "/tmp/wave-bench-%s-%d", tag, (int)getpid());
	snprintf(e->chan, sizeof(e->chan), "shm:bench-%s-%d", tag, (int)getpid());
	snprintf(e->prefix, sizeof(e->prefix), "wb%d-", (int)getpid());
	mkdir(e->rundir, 0700);
	/* WAVE_RUNDIR keeps this run's consoles and sockets apart from any other. */
	setenv("WAVE_RUNDIR", e->rundir, 1);
	e->up = 1;
	if (script(e, "libvirtd.sh", "start", quiet) || script(e, "net.sh", "up", quiet)) {
		wave_err("%s: libvirtd or the bridge would not start (root needed)", what);
		return -EIO;
	}
	return 0;
}

/* Resolves one running domain over a connection of its own. 0 or -errno. */
static int lookup_once(const struct bench_env *e, struct bench_vm *vm)
{
	struct vmm_domain d;
	struct vmm_conn *c;
	char why[512];
	int ret = vmm_conn_open(NULL, 0, &c, why, sizeof(why));

	if (ret)
		return ret;
	ret = vmm_domain_lookup(c, vm->name, &d, why, sizeof(why));
	if (ret) {
		wave_err("%s: %s", e->what, why);
	} else {
		snprintf(vm->ip, sizeof(vm->ip), "%s", d.ip);
		vm->pid = d.pid;
		snprintf(vm->accel, sizeof(vm->accel), "%s", d.accel);
		vmm_domain_clear(&d);
	}
	vmm_conn_close(c);
	return ret;
}

int be_launch(struct bench_env *e, const char *xml, const char *suffix, int quiet)
{
	char path[PATH_MAX + 64];
	struct bench_vm *vm;

	if (e->nr_vms == BE_MAX_VMS)
		return -ENOSPC;
	vm = &e->vm[e->nr_vms];
	snprintf(vm->name, sizeof(vm->name), "%s%s", e->prefix, suffix);
	snprintf(path, sizeof(path), "%s/../images/xml/%s", e->scripts, xml);
	e->nr_vms++; /* stopped at teardown even if the launch fails half-way */
	if (be_wavectl(e, "launch", path, "--name", vm->name, quiet)) {
		wave_err("%s: launching %s failed (run 'make images'?)", e->what, xml);
		return -EIO;
	}
	return lookup_once(e, vm) ? -ENOENT : (int)(e->nr_vms - 1);
}

int be_console_has(const struct bench_env *e, unsigned int k, const char *what)
{
	char path[256], line[512];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "%s/console/%s.log", e->rundir, e->vm[k].name);
	if (!(f = fopen(path, "r")))
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, what) != NULL;
	fclose(f);
	return found;
}

pid_t be_daemon(const struct bench_env *e, const char *name, char *const *args)
{
	char path[PATH_MAX + 16];
	char *argv[48] = { "/usr/bin/chrt", "-f", BE_DAEMON_PRIO, path };
	int n = 4;

	snprintf(path, sizeof(path), "%s/%s", e->bindir, name);
	for (int i = 0; args[i] && n < 47; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return wave_spawn(argv, !getenv("WAVE_BENCH_VERBOSE"));
}

int be_wait_state(const struct bench_env *e, const char *want, int timeout_ms)
{
	for (int ms = 0; ms < timeout_ms; ms += 10) {
		if (waved_state_is(e->rundir, want))
			return 0;
		usleep(10000);
	}
	wave_err("%s: waved did not reach state '%s' within %d ms", e->what, want, timeout_ms);
	return -ETIMEDOUT;
}

void be_stop_vms(struct bench_env *e)
{
	char path[256];

	for (unsigned int k = 0; k < e->nr_vms; k++) {
		be_wavectl(e, "stop", e->vm[k].name, NULL, NULL, 1);
		snprintf(path, sizeof(path), "%s/console/%s.log", e->rundir, e->vm[k].name);
		unlink(path);
	}
	e->nr_vms = 0;
}

void be_teardown(struct bench_env *e)
{
	char path[256];

	be_stop_vms(e);
	if (e->up) {
		script(e, "net.sh", "down", 1);
		script(e, "libvirtd.sh", "stop", 1);
		e->up = 0;
	}
	if (e->rundir[0]) {
		snprintf(path, sizeof(path), "%s/console", e->rundir);
		rmdir(path);
		site_path(path, sizeof(path), e->rundir, SITE_ACCEL_CACHE);
		unlink(path);
		site_path(path, sizeof(path), e->rundir, SITE_JOURNAL);
		unlink(path);
		rmdir(e->rundir);
		e->rundir[0] = '\0';
	}
}
