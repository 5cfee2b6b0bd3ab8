/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A tap device for a test or a benchmark that plays the guest on it:
 * frames written into its fd are what a guest sends; what the host sends
 * to the interface is read from the fd. It goes away when the fd closes.
 */
#ifndef WAVE_COMMON_TAP_H
#define WAVE_COMMON_TAP_H

#include <stddef.h>

/*
 * Creates tap name (non-blocking fd), turns IPv6 off on it (so the host
 * sends nothing of its own there) and brings it up. Returns the fd, or
 * -errno (-EPERM: not root; -ENOENT: no /dev/net/tun).
 */
int wave_tap_open(const char *name);

#endif
