/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Kernel knobs (cgroup and sysfs files): one value written in one write(),
 * as the kernel parses it.
 */
#ifndef WAVE_COMMON_KNOB_H
#define WAVE_COMMON_KNOB_H

/*
 * Writes val to dir/file; 0 or -errno (-ENAMETOOLONG if the path does not
 * fit). Opened with O_TRUNC, as a shell's '>' does: kernel files ignore it,
 * and a plain file (a test's stand-in for a cgroup) then holds exactly val.
 */
int wave_knob_write(const char *dir, const char *file, const char *val);

#endif
