// SPDX-License-Identifier: BSD-3-Clause
/* waved's status socket, client side (status-client.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/site.h"
#include "waved/status-client.h"

json_object *waved_status(const char *rundir, char *why, size_t len)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	size_t cap = 1 << 16, used = 0;
	char *buf = malloc(cap);
	json_object *o = NULL;
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	site_path(a.sun_path, sizeof(a.sun_path), rundir, SITE_STATUS_SOCK);
	if (fd < 0 || !buf || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		wave_reason(why, len, -errno, "waved does not answer on %s: %s (is it running?)",
			    a.sun_path, strerror(errno));
		goto out;
	}
	while ((n = read(fd, buf + used, cap - used - 1)) > 0) {
		used += (size_t)n;
		if (used + 1 == cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				goto out;
			buf = nb;
			cap *= 2;
		}
	}
	buf[used] = '\0';
	if (!(o = json_tokener_parse(buf)))
		wave_reason(why, len, -EPROTO, "waved's answer on %s is not JSON", a.sun_path);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return o;
}

const char *waved_str(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "?";
}

double waved_num(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_double(v) : 0;
}

int waved_state_is(const char *rundir, const char *want)
{
	json_object *s = waved_status(rundir, NULL, 0);
	int yes = s && !strcmp(waved_str(s, "state"), want);

	json_object_put(s);
	return yes;
}
