// SPDX-License-Identifier: BSD-3-Clause
/*
 * /proc parsing for vmm (see procfs.h). The cgroup lookup reads the thread's
 * /proc/TID/cgroup and the mount table, so it finds libvirt's directories
 * whatever the layout (v1 or v2, "machine/..." without systemd or
 * "machine.slice/..." with it) instead of guessing names.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/procstat.h"
#include "vmm/procfs.h"

static int read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	int ret = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)size, f))
		ret = -EIO;
	fclose(f);
	if (!ret)
		buf[strcspn(buf, "\n")] = '\0';
	return ret;
}

int procfs_comm(pid_t pid, pid_t tid, char *buf, size_t size)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, (int)tid);
	return read_line(path, buf, size);
}

pid_t procfs_tgid(pid_t tid)
{
	char path[64], line[256];
	FILE *f;
	pid_t tgid = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

int procfs_last_cpu(pid_t tid)
{
	struct wave_procstat ps;
	int ret = wave_procstat(0, tid, &ps);

	return ret ? ret : ps.cpu;
}

int procfs_parse_vcpu_name(const char *name, unsigned int *index, char *accel, size_t size)
{
	unsigned int idx;
	char acc[16];
	int used = 0;

	if (sscanf(name, "CPU %u/%15[A-Za-z]%n", &idx, acc, &used) != 2 || name[used])
		return -EINVAL;
	*index = idx;
	if (accel)
		snprintf(accel, size, "%s", acc);
	return 0;
}

int procfs_for_each_vcpu(pid_t pid,
			 void (*fn)(pid_t tid, unsigned int index, const char *accel, void *arg),
			 void *arg)
{
	char path[64], name[64], accel[16];
	struct dirent *de;
	unsigned int idx;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)atoi(de->d_name);

		if (tid <= 0 || procfs_comm(pid, tid, name, sizeof(name)))
			continue;
		if (procfs_parse_vcpu_name(name, &idx, accel, sizeof(accel)))
			continue;
		fn(tid, idx, accel, arg);
		n++;
	}
	closedir(d);
	return n;
}

/* Nonzero if tok is one of the sep-separated words of list. */
static int has_token(const char *list, const char *tok, char sep)
{
	size_t n = strlen(tok);

	for (const char *p = list; (p = strstr(p, tok)); p += n)
		if ((p == list || p[-1] == sep) && (p[n] == sep || p[n] == '\0'))
			return 1;
	return 0;
}

/*
 * Mount point of the cgroup v1 hierarchy with the cpu controller (version
 * 1), or of cgroup2 (version 2). Reads ROOT/proc/self/mountinfo.
 */
static int cgroup_mount(const char *root, int version, char *mnt, size_t size)
{
	char path[4096], line[4096];
	int ret = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "%s/proc/self/mountinfo", root);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (ret && fgets(line, sizeof(line), f)) {
		char mp[4096], fstype[64], opts[1024];
		const char *sep = strstr(line, " - ");

		/* id parent maj:min root mountpoint ... - fstype source superopts */
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 ||
		    sscanf(sep + 3, "%63s %*s %1023s", fstype, opts) != 2)
			continue;
		if ((version == 1 && !strcmp(fstype, "cgroup") && has_token(opts, "cpu", ',')) ||
		    (version == 2 && !strcmp(fstype, "cgroup2"))) {
			snprintf(mnt, size, "%s", mp);
			ret = 0;
		}
	}
	fclose(f);
	return ret;
}

static int v2_has_cpu(const char *root, const char *mnt)
{
	char path[8192], buf[1024];

	snprintf(path, sizeof(path), "%s%s/cgroup.controllers", root, mnt);
	return !read_line(path, buf, sizeof(buf)) && has_token(buf, "cpu", ' ');
}

int procfs_cpu_cgroup(const char *root, pid_t tid, char *dir, size_t size, int *version)
{
	char path[4096], line[4096], v1[4096] = "", v2[4096] = "", mnt[4096];
	int found1 = 0, found2 = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/proc/%d/cgroup", root, (int)tid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		*c2 = '\0';
		c2[1 + strcspn(c2 + 1, "\n")] = '\0';
		/* "0::PATH" is the unified (v2) hierarchy; "N:ctrl,ctrl:PATH" a v1 one. */
		if (c1 == line + 1 && line[0] == '0' && c2 == c1 + 1) {
			snprintf(v2, sizeof(v2), "%s", c2 + 1);
			found2 = 1;
		} else if (has_token(c1 + 1, "cpu", ',')) {
			snprintf(v1, sizeof(v1), "%s", c2 + 1);
			found1 = 1;
		}
	}
	fclose(f);
	/* The root cgroup is the whole host's: never a VM's to tune. */
	if (found1 && strcmp(v1, "/") && !cgroup_mount(root, 1, mnt, sizeof(mnt))) {
		*version = 1;
		snprintf(dir, size, "%s%s", mnt, v1);
		return 0;
	}
	if (found2 && strcmp(v2, "/") && !cgroup_mount(root, 2, mnt, sizeof(mnt)) &&
	    v2_has_cpu(root, mnt)) {
		*version = 2;
		snprintf(dir, size, "%s%s", mnt, v2);
		return 0;
	}
	return -ENOENT;
}
