/* SPDX-License-Identifier: BSD-3-Clause */
/* The memory worker's kernel files (mm/mechanism-procfs.c); internal to mm/. */
#ifndef WAVE_MM_MECHANISM_PROCFS_H
#define WAVE_MM_MECHANISM_PROCFS_H

#include "mm/mechanism.h"

/* A kernel file kept open and read from offset 0 each time. Its reader's only. */
struct kfile {
	int fd;                  /* -1: not open */
	char path[256];
};

void mm_kfile_close(struct kfile *f);
/* A PSI file's some and full totals (us), from f (opened as path if it is not). 0 or -errno. */
int mm_read_psi(struct kfile *f, const char *path, uint64_t *some, uint64_t *full);
/*
 * The host's memory pressure into h, and its memory too unless meminfo is
 * NULL (h's totals then stay as they are); zeros where unreadable.
 */
void mm_read_host(struct kfile *meminfo, struct kfile *psi, struct mm_host *h);

#endif
