// SPDX-License-Identifier: BSD-3-Clause
/*
 * wavectl net up|down|status: the network data plane (wave-switch).
 *   up      starts wave-switch in the background (log and pid in the run
 *           directory), waits until its control socket answers, and plugs
 *           its host port (a tap) into the guests' bridge, so the host and
 *           VMs still on the bridge reach the VMs behind the switch at
 *           their usual addresses. From then on 'wavectl launch' puts a
 *           VM's bridge interface on the switch (vhost-user).
 *   down    stops it (by the pid it wrote, checked to be wave-switch).
 *           VMs on it lose their network until it is up again: then
 *           'up' makes their ports again and their QEMU reconnects.
 *   status  every port's counters.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <json-c/json.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "common/log.h"
#include "common/opt.h"
#include "common/procstat.h"
#include "common/site.h"
#include "netctl/switch-client.h"
#include "tools/wavectl.h"
#include "vmm/meta.h"

#define NET_START_TIMEOUT_S 20
#define NET_STOP_TIMEOUT_S  10

static struct {
	const char *tap, *bridge, *qemu_group;
	unsigned int mem;
	const char *poll_idle;
	int json;
} no = { .tap = "wvsw0", .qemu_group = "libvirt-qemu", .mem = 64 };

static const struct opt net_opts[] = {
	OPT_STRING("tap", "NAME", &no.tap, "up: the switch's host port"),
	OPT_STRING("bridge", "NAME", &no.bridge, "up: the bridge it joins (default $WAVE_BRIDGE or "
		   "wavebr0)"),
	OPT_STRING("qemu-group", "GROUP", &no.qemu_group, "up: QEMU's group (may open the VMs' "
		   "vhost-user sockets)"),
	OPT_UINT("mem", "MIB", &no.mem, 16, 4096, "up: the switch's DPDK memory"),
	OPT_STRING("poll-idle", "US", &no.poll_idle, "up: the switch polls this long after the last "
		   "frame before it sleeps\n(default: wave-switch's)"),
	OPT_BOOL("json", 0, &no.json, "status: the switch's counters as JSON"),
	OPT_VERBOSE(),
	OPT_END(),
};

static const struct opt_cmd net_cmd = {
	.name = "net",
	.usage = "wavectl net up|down|status [OPTIONS]",
	.about = "Starts, stops or shows wave-switch, the VMs' network data plane (DPDK,\n"
		 "vhost-user). While it is up, 'wavectl launch' connects new VMs to it.\n",
	.opts = net_opts,
	.epilog = "Environment: WAVE_RUNDIR (log, pid, sockets), WAVE_SWITCH_CTL (its control "
		  "socket).\n",
	.min_args = 1,
	.max_args = 1,
};

static pid_t read_pid(void)
{
	char path[4096];

	site_path(path, sizeof(path), NULL, SWC_PID);
	return wave_pidfile_pid(path, "wave-switch");
}

/* Plugs the tap into the bridge (SIOCBRADDIF) and keeps the host's IPv6 chatter off it. */
static int join_bridge(const char *tap, const char *bridge)
{
	struct ifreq ifr = { 0 };
	char path[256];
	int fd, ret = 0, idx = (int)if_nametoindex(tap);
	FILE *f;

	if (!idx || !if_nametoindex(bridge)) {
		wave_err("net: %s missing (create the bridge with 'scripts/net.sh up')",
			 idx ? bridge : tap);
		return -ENODEV;
	}
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", tap);
	if ((f = fopen(path, "w"))) {
		fputs("1\n", f);
		fclose(f);
	}
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", bridge);
	ifr.ifr_ifindex = idx;
	if (ioctl(fd, SIOCBRADDIF, &ifr) && errno != EBUSY) {
		ret = -errno;
		wave_err("net: adding %s to bridge %s: %s", tap, bridge, strerror(errno));
	}
	close(fd);
	return ret;
}

/*
 * Whether QEMU (not root, group gid) can pass through dir and every
 * directory above it; if not, names the first that stops it.
 */
static int qemu_reaches(const char *dir, gid_t gid)
{
	char path[4096], *slash;
	struct stat st;

	snprintf(path, sizeof(path), "%s", dir);
	for (;;) {
		if (!stat(path, &st) && !(st.st_mode & S_IXOTH) &&
		    !(st.st_gid == gid && (st.st_mode & S_IXGRP))) {
			wave_err("net: QEMU (group %s) cannot pass through %s (mode %04o): its guests "
				 "could not reach the switch; let others through (chmod o+x %s) or use "
				 "another run directory (WAVE_RUNDIR)", no.qemu_group, path,
				 (unsigned int)(st.st_mode & 07777), path);
			return 0;
		}
		if (!(slash = strrchr(path, '/')) || slash == path)
			return 1;
		*slash = '\0';
	}
}

/* The VMs' socket directory: root and QEMU's group may enter, nobody else. */
static int make_dirs(void)
{
	char dir[4096];
	struct group *g = getgrnam(no.qemu_group);

	mkdir(site_rundir(), 0755);
	snprintf(dir, sizeof(dir), "%s/%s", site_rundir(), SWC_VHOSTDIR);
	if (mkdir(dir, 0750) && errno != EEXIST) {
		wave_err("net: %s: %s", dir, strerror(errno));
		return -errno;
	}
	if (!g)
		wave_warn("net: no group '%s': only root's QEMU may use the switch (--qemu-group)",
			  no.qemu_group);
	else if (chown(dir, 0, g->gr_gid) || chmod(dir, 0750))
		return -errno;
	else if (!qemu_reaches(site_rundir(), g->gr_gid))
		return -EACCES;
	return 0;
}

/*
 * VMs that were on a switch before this one (net down, then up; or a
 * switch that died): their QEMU keeps trying its socket. Each running
 * domain whose XML names its socket in our directory gets its port back,
 * with its class and its metadata's net-rate; the rest of its pace is the
 * policy's to set again.
 */
static void readd_vms(const char *ctl)
{
	virConnectPtr v = virConnectOpen(site_uri(NULL));
	virDomainPtr *doms = NULL;
	int n = v ? virConnectListAllDomains(v, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE) : -1;

	for (int i = 0; i < n; i++) {
		const char *name = virDomainGetName(doms[i]);
		char *xml = virDomainGetXMLDesc(doms[i], 0), sock[4096], reply[256];
		char *meta = virDomainGetMetadata(doms[i], VIR_DOMAIN_METADATA_ELEMENT, VMM_META_NS, 0);
		struct vmm_meta m;
		char why[256];
		uint32_t cap_burst;

		if (!meta || vmm_meta_parse(meta, &m, why, sizeof(why)))
			vmm_meta_defaults(&m);
		swc_vhost_path(name, sock, sizeof(sock));
		if (xml && strstr(xml, sock)) {
			uint64_t cap = vmm_meta_net_cap(&m, &cap_burst);

			if (swc_add_vm(ctl, name, sock, m.cls == WAVE_CLASS_LATENCY, cap, cap_burst,
				       reply, sizeof(reply)))
				wave_warn("net: %s: its port could not be made again: %s", name, reply);
			else
				printf("net: %s back on the switch\n", name);
		}
		free(xml);
		free(meta);
		virDomainFree(doms[i]);
	}
	free(doms);
	if (v)
		virConnectClose(v);
}

static pid_t start_switch(void)
{
	char bin[4096], log[4096], pidf[4096], ctl[4096], mem[16];
	char *argv[] = { bin, "--tap", (char *)no.tap, "--ctl", ctl, "--pid-file", pidf,
			 "--mem", mem, NULL, NULL, NULL };
	pid_t pid;
	int fd;

	site_bindir(bin, sizeof(bin));
	strncat(bin, "/wave-switch", sizeof(bin) - strlen(bin) - 1);
	site_path(log, sizeof(log), NULL, SWC_LOG);
	site_path(pidf, sizeof(pidf), NULL, SWC_PID);
	swc_path(ctl, sizeof(ctl), NULL);
	snprintf(mem, sizeof(mem), "%u", no.mem);
	if (no.poll_idle) {
		argv[9] = "--poll-idle";
		argv[10] = (char *)no.poll_idle;
	}
	if ((pid = fork()) < 0)
		return -errno;
	if (pid)
		return pid;
	setsid(); /* outlives wavectl: a daemon, not a child */
	if ((fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	if ((fd = open("/dev/null", O_RDONLY)) >= 0)
		dup2(fd, 0);
	execv(bin, argv);
	fprintf(stderr, "wavectl net up: cannot run %s: %s\n", bin, strerror(errno));
	_exit(127);
}

static int net_up(const char *ctl)
{
	char reply[256], log[4096];
	pid_t pid;
	int ret, status;

	ret = swc_request(ctl, "stats", reply, sizeof(reply));
	if (!ret || ret == -EMSGSIZE) {
		printf("net: wave-switch is up already (%s)\n", ctl);
		return join_bridge(no.tap, no.bridge ? no.bridge : site_bridge()); /* if it failed before */
	}
	if ((ret = make_dirs()) || (pid = start_switch()) < 0)
		return ret ? ret : -errno;
	site_path(log, sizeof(log), NULL, SWC_LOG);
	for (int i = 0; i < NET_START_TIMEOUT_S * 10; i++) {
		ret = swc_request(ctl, "stats", reply, sizeof(reply));
		if (!ret || ret == -EMSGSIZE)
			break;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			wave_err("net: wave-switch exited at start (status %d); see %s", status, log);
			return -EIO;
		}
		if (i == 20)
			fprintf(stderr, "net: waiting for wave-switch to answer on %s ...\n", ctl);
		usleep(100000);
	}
	if (ret && ret != -EMSGSIZE) {
		wave_err("net: wave-switch (pid %d) does not answer on %s; see %s", (int)pid, ctl, log);
		kill(pid, SIGTERM);
		return -ETIMEDOUT;
	}
	if ((ret = join_bridge(no.tap, no.bridge ? no.bridge : site_bridge())))
		return ret;
	readd_vms(ctl);
	printf("net: wave-switch up (pid %d): host port %s on bridge %s, control %s, log %s\n",
	       (int)pid, no.tap, no.bridge ? no.bridge : site_bridge(), ctl, log);
	return 0;
}

/* Whether pid is still a running process: a zombie (exited, not yet reaped) is not. */
static int running(pid_t pid)
{
	char path[64], buf[256], *rp;
	FILE *f;
	int alive = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r"))) {
		if (fgets(buf, sizeof(buf), f) && (rp = strrchr(buf, ')')))
			alive = rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
		fclose(f);
	}
	return alive;
}

static int net_down(void)
{
	pid_t pid = read_pid();

	if (!pid) {
		printf("net: wave-switch is not running\n");
		return 0;
	}
	kill(pid, SIGTERM);
	for (int i = 0; i < NET_STOP_TIMEOUT_S * 10 && running(pid); i++)
		usleep(100000);
	if (running(pid)) {
		wave_warn("net: wave-switch (pid %d) ignored SIGTERM for %d s: killed", (int)pid,
			  NET_STOP_TIMEOUT_S);
		kill(pid, SIGKILL);
	}
	printf("net: wave-switch stopped\n");
	return 0;
}

static uint64_t jnum(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? (uint64_t)json_object_get_int64(v) : 0;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "?";
}

static int net_status(const char *ctl)
{
	static char reply[64 * 1024];
	json_object *root, *ports;
	int ret = swc_request(ctl, "stats", reply, sizeof(reply));

	if (ret) {
		wave_err("net: wave-switch does not answer on %s: %s", ctl,
			 ret == -EPROTO ? reply : strerror(-ret));
		return ret;
	}
	if (no.json) {
		printf("%s\n", reply);
		return 0;
	}
	if (!(root = json_tokener_parse(reply)) || !json_object_object_get_ex(root, "ports", &ports)) {
		wave_err("net: wave-switch's reply is not what wavectl expects");
		json_object_put(root);
		return -EPROTO;
	}
	printf("wave-switch: up %.0f s, %llu sleeps, %llu wakeups, %llu MAC addresses\n",
	       (double)jnum(root, "uptime_s"), (unsigned long long)jnum(root, "sleeps"),
	       (unsigned long long)jnum(root, "wakeups"), (unsigned long long)jnum(root, "mac_entries"));
	printf("%-16s %-5s %-8s %-4s %10s %10s %8s %7s %6s %6s %8s %12s %12s\n", "port", "kind",
	       "class", "up", "rx pkts", "tx pkts", "policed", "held", "full", "down", "backlog",
	       "pace from", "meter to");
	for (size_t i = 0; i < json_object_array_length(ports); i++) {
		json_object *p = json_object_array_get_idx(ports, i);
		json_object *up, *bl;
		char backlog[24] = "-";

		json_object_object_get_ex(p, "up", &up);
		if (json_object_object_get_ex(p, "backlog", &bl) && json_object_get_int64(bl) >= 0)
			snprintf(backlog, sizeof(backlog), "%lld", (long long)json_object_get_int64(bl));
		printf("%-16s %-5s %-8s %-4s %10llu %10llu %8llu %7llu %6llu %6llu %8s %10.1fMb "
		       "%10.1fMb\n", jstr(p, "name"), jstr(p, "kind"), jstr(p, "class"),
		       json_object_get_boolean(up) ? "yes" : "no",
		       (unsigned long long)jnum(p, "rx_pkts"), (unsigned long long)jnum(p, "tx_pkts"),
		       (unsigned long long)jnum(p, "drop_meter_to"), (unsigned long long)jnum(p, "held"),
		       (unsigned long long)jnum(p, "drop_full"), (unsigned long long)jnum(p, "drop_down"),
		       backlog,
		       (double)jnum(p, "rate_from") * 8 / 1e6, (double)jnum(p, "rate_to") * 8 / 1e6);
	}
	json_object_put(root);
	return 0;
}

static int net_run(int argc, char **argv)
{
	char ctl[4096];
	int first, ret = opt_parse(&net_cmd, argc, argv, &first);

	if (ret)
		return ret > 0 ? 0 : 2;
	swc_path(ctl, sizeof(ctl), NULL);
	if (!strcmp(argv[first], "up"))
		ret = net_up(ctl);
	else if (!strcmp(argv[first], "down"))
		ret = net_down();
	else if (!strcmp(argv[first], "status"))
		ret = net_status(ctl);
	else {
		wave_err("net: unknown action '%s' (up, down, status)", argv[first]);
		return 2;
	}
	return ret ? 1 : 0;
}

const struct wavectl_cmd wavectl_net_cmd = {
	.name = "net",
	.summary = "start, stop or show wave-switch, the VMs' network data plane",
	.run = net_run,
};
