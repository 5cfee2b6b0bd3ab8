/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Where things live on a Wave-VM host, with the environment variables that
 * move them. One place, so wavectl, the scripts (scripts/net.sh,
 * scripts/libvirtd.sh) and the tests agree.
 *   WAVE_IMAGES   guest images (default: ../images next to wavectl's bin/)
 *   WAVE_RUNDIR   runtime state, consoles (default /run/wave-vm)
 *   WAVE_BRIDGE   the guests' bridge (default wavebr0)
 *   WAVE_HOST_IP  the host's address on it (default 10.77.0.1)
 *   WAVE_URI      libvirt URI (default qemu:///system)
 */
#ifndef WAVE_TOOLS_SITE_H
#define WAVE_TOOLS_SITE_H

#include <stddef.h>

#define SITE_RUNDIR   "/run/wave-vm"
#define SITE_BRIDGE   "wavebr0"
#define SITE_HOST_IP  "10.77.0.1"
#define SITE_NET      "10.77.0."   /* guests get SITE_NET 10..250 */

/* The guest image directory: $WAVE_IMAGES, else BIN/../images of this executable. */
void site_images_dir(char *buf, size_t size);
const char *site_rundir(void);
const char *site_bridge(void);
const char *site_host_ip(void);
/* libvirt URI: the option if given, else $WAVE_URI, else NULL (the default). */
const char *site_uri(const char *opt);

#endif
