// SPDX-License-Identifier: BSD-3-Clause
/* Host layout defaults and their environment overrides (site.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <netinet/in.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/site.h"

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v && *v ? v : def;
}

void site_bindir(char *buf, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0) {
		snprintf(buf, size, ".");
		return;
	}
	exe[n] = '\0';
	snprintf(buf, size, "%s", dirname(exe));
}

void site_images_dir(char *buf, size_t size)
{
	const char *env = getenv("WAVE_IMAGES");
	char bin[PATH_MAX];

	/* Made absolute: the paths go into domain XML, where libvirt takes no relative one. */
	if (env && *env) {
		char abs[PATH_MAX];

		snprintf(buf, size, "%s", realpath(env, abs) ? abs : env);
		return;
	}
	/*
	 * .../build/bin/wavectl -> .../build/images in the build tree;
	 * PREFIX/bin/wavectl -> PREFIX/share/wave-vm/images once installed.
	 */
	site_bindir(bin, sizeof(bin));
	snprintf(buf, size, "%s/images", dirname(bin));
	if (access(buf, F_OK) == 0)
		return;
	snprintf(buf, size, "%s/share/wave-vm/images", bin);
}

void site_path(char *buf, size_t size, const char *rundir, const char *name)
{
	snprintf(buf, size, "%s/%s", rundir ? rundir : site_rundir(), name);
}

const char *site_rundir(void)
{
	return env_or("WAVE_RUNDIR", SITE_RUNDIR);
}

const char *site_bridge(void)
{
	return env_or("WAVE_BRIDGE", SITE_BRIDGE);
}

const char *site_host_ip(void)
{
	return env_or("WAVE_HOST_IP", SITE_HOST_IP);
}

const char *site_uri(const char *opt)
{
	return opt ? opt : env_or("WAVE_URI", NULL);
}

int site_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || getsockname(fd, (struct sockaddr *)&a, &len))
		ret = -errno;
	else
		ret = ntohs(a.sin_port);
	close(fd);
	return ret;
}
