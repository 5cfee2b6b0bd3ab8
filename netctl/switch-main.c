// SPDX-License-Identifier: BSD-3-Clause
/*
 * wave-switch: Wave-VM's network data plane (see switch.h). Options, the
 * EAL, the ports named on the command line, the loop, and cleanup.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/site.h"
#include "netctl/switch-client.h"
#include "netctl/switch.h"

#define MAX_CLI_VMS 16

static struct {
	const char *spec[MAX_CLI_VMS];
	unsigned int n;
} cli_vms;

static int opt_vm(const struct opt *o, const char *arg)
{
	if (cli_vms.n == MAX_CLI_VMS) {
		wave_log(WAVE_LOG_ERR, "--vm: at most %d on the command line (add more with "
			 "the control socket)", MAX_CLI_VMS);
		return -EINVAL;
	}
	if (!strchr(arg, '=')) {
		wave_log(WAVE_LOG_ERR, "--vm '%s': expected NAME=SOCKET[,latency|,batch]", arg);
		return -EINVAL;
	}
	cli_vms.spec[cli_vms.n++] = arg;
	return 0;
}

static struct sw sw = {
	.cfg = { .tap = "wvsw0", .mem_mib = 64, .poll_idle_ns = 20 * WAVE_NSEC_PER_USEC,
		 .mac_age_ns = 300 * WAVE_NSEC_PER_SEC },
	.epfd = -1, .evfd = -1, .ctl_fd = -1, .sig_fd = -1,
};
static char ctl_default[256];

static const struct opt sw_opts[] = {
	OPT_STRING("tap", "NAME", &sw.cfg.tap, "the host's port: a tap interface of this name"),
	OPT_CALLBACK("vm", "NAME=SOCKET[,CLASS]", NULL, opt_vm,
		     "a VM's port: a vhost-user socket the switch listens on (QEMU connects);\n"
		     "CLASS latency or batch (default), repeatable"),
	OPT_STRING("ctl", "PATH", &sw.cfg.ctl_path, "control socket (stats, add-vm, rate)"),
	OPT_STRING("pid-file", "PATH", &sw.cfg.pid_file, "write the pid here"),
	OPT_UINT("mem", "MIB", &sw.cfg.mem_mib, 16, 4096, "DPDK memory, without hugepages"),
	OPT_DURATION("poll-idle", "US", &sw.cfg.poll_idle_ns, WAVE_NSEC_PER_USEC, 0,
		     WAVE_NSEC_PER_SEC, "keep polling this long with nothing before sleeping"),
	OPT_VERBOSE(),
	OPT_END(),
};

static const struct opt_cmd sw_cmd = {
	.usage = "wave-switch [OPTIONS]",
	.about = "Wave-VM's network data plane (DPDK): switches frames between VMs (vhost-user)\n"
		 "and the host (a tap), meters each VM, serves latency-class VMs first, counts\n"
		 "per VM, and sleeps when there is nothing to forward. Runs without hugepages.\n",
	.opts = sw_opts,
	.epilog = "Control socket requests (one line, JSON reply): stats | add-vm NAME SOCKET\n"
		  "[latency|batch] | del-vm NAME | rate NAME from|to|both BYTES_S BURST_BYTES |\n"
		  "class NAME latency|batch. 'wavectl net up|down|status' wraps them.\n",
};

static int add_cli_vm(const char *spec)
{
	char buf[256], *name = buf, *path, *cls;
	enum sw_class c = SW_BATCH;

	snprintf(buf, sizeof(buf), "%s", spec);
	path = strchr(buf, '=');
	*path++ = 0;
	if ((cls = strchr(path, ','))) {
		*cls++ = 0;
		if (!strcmp(cls, "latency"))
			c = SW_LATENCY;
		else if (strcmp(cls, "batch")) {
			wave_log(WAVE_LOG_ERR, "--vm %s: class must be latency or batch", spec);
			return -EINVAL;
		}
	}
	return sw_port_add_vm(&sw, name, path, c);
}

static int setup_fds(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	signal(SIGPIPE, SIG_IGN); /* a control client gone mid-reply is not a reason to die */
	/* Blocked before the EAL starts its threads, so they inherit the mask. */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) ||
	    (sw.sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0 ||
	    (sw.evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
	    (sw.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		wave_log(WAVE_LOG_ERR, "signalfd/eventfd/epoll: %m");
		return -errno;
	}
	return 0;
}

static void write_pid(void)
{
	FILE *f;

	if (!sw.cfg.pid_file)
		return;
	if (!(f = fopen(sw.cfg.pid_file, "w")) || fprintf(f, "%d\n", (int)getpid()) < 0 ||
	    fclose(f))
		wave_log(WAVE_LOG_WARN, "--pid-file %s: %m", sw.cfg.pid_file);
}

int main(int argc, char **argv)
{
	static char reply[64 * 1024];
	int first, ret;

	wave_log_init("wave-switch", WAVE_LOG_INFO);
	swc_path(ctl_default, sizeof(ctl_default), NULL);
	sw.cfg.ctl_path = ctl_default;
	if ((ret = opt_parse(&sw_cmd, argc, argv, &first)))
		return ret > 0 ? 0 : 2;
	if (!swc_request(sw.cfg.ctl_path, "stats", reply, sizeof(reply))) {
		wave_log(WAVE_LOG_ERR, "a wave-switch already answers on %s", sw.cfg.ctl_path);
		return 1;
	}
	mact_init(&sw.mac, 0);
	if (setup_fds() || sw_eal_init(&sw, argv[0]))
		return 1;
	sw.mac.age = sw.cfg.mac_age_ns / WAVE_NSEC_PER_SEC * sw.hz;
	ret = sw_port_add_tap(&sw, sw.cfg.tap);
	for (unsigned int i = 0; !ret && i < cli_vms.n; i++)
		ret = add_cli_vm(cli_vms.spec[i]);
	if (!ret)
		ret = sw_ctl_open(&sw);
	if (!ret) {
		write_pid();
		wave_log(WAVE_LOG_INFO, "ready: host port %s, %u VM ports, control %s", sw.cfg.tap,
			 sw.nports - 1, sw.cfg.ctl_path);
		ret = sw_run(&sw);
	}
	sw_ctl_close(&sw);
	sw_close(&sw);
	if (sw.cfg.pid_file)
		unlink(sw.cfg.pid_file);
	return ret ? 1 : 0;
}
