// SPDX-License-Identifier: BSD-3-Clause
/*
 * The memory worker's kernel files: the host's /proc/meminfo and PSI, and
 * each VM's cgroup memory.pressure. Each is opened once and read again
 * from offset 0 every turn (procfs and cgroup files render afresh at
 * offset 0), which spares a path walk and two syscalls a read.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mm/mechanism.h"
#include "mm/mechanism-procfs.h"

int mm_psi_parse(const char *text, uint64_t *some_us, uint64_t *full_us)
{
	const char *some = strstr(text, "some "), *full = strstr(text, "full ");
	const char *t;

	*some_us = *full_us = 0;
	if (!some || !(t = strstr(some, "total=")) || sscanf(t, "total=%" SCNu64, some_us) != 1)
		return -EINVAL;
	/* Old kernels have no "full" line for memory: some only. */
	if (full && (t = strstr(full, "total=")) && sscanf(t, "total=%" SCNu64, full_us) != 1)
		return -EINVAL;
	return 0;
}

/* Reads f (opening it as path if it is not, or names another) into buf; -errno on failure. */
static int kfile_read(struct kfile *f, const char *path, char *buf, size_t len)
{
	ssize_t n;

	if (f->fd >= 0 && strcmp(f->path, path)) {
		close(f->fd);
		f->fd = -1;
	}
	if (f->fd < 0) {
		if ((f->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return -errno;
		snprintf(f->path, sizeof(f->path), "%s", path);
	}
	if ((n = pread(f->fd, buf, len - 1, 0)) < 0) {
		n = -errno;
		close(f->fd);
		f->fd = -1;
		return (int)n;
	}
	buf[n] = '\0';
	return 0;
}

void mm_kfile_close(struct kfile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

int mm_read_psi(struct kfile *f, const char *path, uint64_t *some, uint64_t *full)
{
	char buf[512];
	int ret = kfile_read(f, path, buf, sizeof(buf));

	return ret ? ret : mm_psi_parse(buf, some, full);
}

/* A "Key:   N kB" line of /proc/meminfo, or 0. */
static uint64_t meminfo_kib(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

void mm_read_host(struct kfile *meminfo, struct kfile *psi, struct mm_host *h)
{
	char buf[4096];

	if (meminfo) {
		h->total_kib = h->avail_kib = 0;
		if (!kfile_read(meminfo, "/proc/meminfo", buf, sizeof(buf))) {
			h->total_kib = meminfo_kib(buf, "MemTotal:");
			h->avail_kib = meminfo_kib(buf, "MemAvailable:");
		}
		if (h->avail_kib > h->total_kib)
			h->avail_kib = h->total_kib;
	}
	if (mm_read_psi(psi, "/proc/pressure/memory", &h->psi_some_us, &h->psi_full_us))
		h->psi_some_us = h->psi_full_us = 0;
}
