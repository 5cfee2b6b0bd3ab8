// SPDX-License-Identifier: BSD-3-Clause
/* /proc stat fields (procstat.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/procstat.h"

int wave_procstat(pid_t pid, pid_t tid, struct wave_procstat *s)
{
	char path[96], buf[1024], *p, *end;
	unsigned long long utime = 0, stime = 0;
	int field, found = 0;
	FILE *f;

	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)tid);
	if (!(f = fopen(path, "re")))
		return -errno;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	if (!p || p[1] != ' ' || !p[2])
		return -EIO;
	memset(s, 0, sizeof(*s));
	s->state = p[2];
	/* p + 2 starts field 3; each space before a field counts it. */
	for (field = 3, p += 2; *p && field < 39; p++) {
		if (*p != ' ')
			continue;
		field++;
		switch (field) {
		case 14: utime = strtoull(p + 1, &end, 10); found++; break;
		case 15: stime = strtoull(p + 1, &end, 10); found++; break;
		case 22: s->start = strtoull(p + 1, &end, 10); found++; break;
		case 39: s->cpu = (int)strtol(p + 1, &end, 10); found++; break;
		}
	}
	if (found != 4)
		return -EIO;
	s->cpu_ns = (utime + stime) * (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK));
	return 0;
}

uint64_t wave_proc_runtime_ns(pid_t pid)
{
	char path[64];
	struct dirent *d;
	uint64_t sum = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if (!(dir = opendir(path)))
		return 0;
	while ((d = readdir(dir))) {
		unsigned long long run;
		char file[96];
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "/proc/%d/task/%.16s/schedstat", (int)pid, d->d_name);
		if (!(f = fopen(file, "re")))
			continue;
		if (fscanf(f, "%llu", &run) == 1)
			sum += run;
		fclose(f);
	}
	closedir(dir);
	return sum;
}

pid_t wave_pidfile_pid(const char *pidfile, const char *comm)
{
	char path[64], name[64] = "";
	FILE *f = fopen(pidfile, "r");
	long pid = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	if (pid <= 0 || !(f = fopen(path, "r")))
		return 0;
	if (!fgets(name, sizeof(name), f))
		name[0] = '\0';
	fclose(f);
	return strncmp(name, comm, strlen(comm)) ? 0 : (pid_t)pid;
}
