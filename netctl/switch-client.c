// SPDX-License-Identifier: BSD-3-Clause
/* The client side of wave-switch's control socket (see switch-client.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/site.h"
#include "netctl/switch-client.h"


void swc_path(char *buf, size_t size, const char *rundir)
{
	const char *env = getenv("WAVE_SWITCH_CTL");

	if (env && *env)
		snprintf(buf, size, "%s", env);
	else
		site_path(buf, size, rundir, SWC_SOCK);
}

int swc_add_vm(const char *path, const char *vm, const char *sock, int latency, uint64_t cap,
	       uint32_t cap_burst, char *reply, size_t size)
{
	char req[512];
	int ret;

	if (snprintf(req, sizeof(req), "add-vm %s %s %s", vm, sock,
		     latency ? "latency" : "batch") >= (int)sizeof(req))
		return -ENAMETOOLONG;
	if ((ret = swc_request(path, req, reply, size)) || !cap)
		return ret;
	if ((ret = swc_rate(path, vm, "from", cap, cap_burst, reply, size, SWC_TIMEOUT_MS)))
		swc_del_vm(path, vm); /* no port without its ceiling */
	return ret;
}

int swc_rate(const char *path, const char *vm, const char *dir, uint64_t rate, uint32_t burst,
	     char *reply, size_t size, int timeout_ms)
{
	char req[160];

	if (snprintf(req, sizeof(req), "rate %s %s %llu %u", vm, dir, (unsigned long long)rate,
		     burst) >= (int)sizeof(req))
		return -ENAMETOOLONG;
	return swc_request_ms(path, req, reply, size, timeout_ms);
}

int swc_del_vm(const char *path, const char *vm)
{
	char req[128], reply[256];

	if (snprintf(req, sizeof(req), "del-vm %s", vm) >= (int)sizeof(req))
		return -ENAMETOOLONG;
	return swc_request(path, req, reply, sizeof(reply));
}

void swc_vhost_path(const char *vm, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s/%s.sock", site_rundir(), SWC_VHOSTDIR, vm);
}

static int connect_to(const char *path, int timeout_ms)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

int swc_request(const char *path, const char *req, char *reply, size_t size)
{
	return swc_request_ms(path, req, reply, size, SWC_TIMEOUT_MS);
}

int swc_request_ms(const char *path, const char *req, char *reply, size_t size, int timeout_ms)
{
	char line[1024];
	size_t got = 0;
	ssize_t n = 0;
	char *nl;
	int fd, ret = 0, len = snprintf(line, sizeof(line), "%s\n", req);

	if (len < 0 || (size_t)len >= sizeof(line))
		return -EMSGSIZE;
	if ((fd = connect_to(path, timeout_ms)) < 0)
		return fd;
	/* The switch may be gone by now: no SIGPIPE for the caller (waved, wavectl). */
	if (send(fd, line, (size_t)len, MSG_NOSIGNAL) < 0) {
		ret = -errno;
		goto out;
	}
	while (got + 1 < size && (n = read(fd, reply + got, size - 1 - got)) > 0)
		got += (size_t)n;
	if (n < 0 && got + 1 < size)
		ret = errno == EAGAIN ? -ETIMEDOUT : -errno;
	reply[got] = 0;
	if (!ret && !(nl = strchr(reply, '\n')))
		ret = got + 1 >= size ? -EMSGSIZE : -EPROTO;
	else if (!ret) {
		*nl = 0;
		if (!strncmp(reply, "{\"error\"", 8))
			ret = -EPROTO;
	}
out:
	close(fd);
	return ret;
}
