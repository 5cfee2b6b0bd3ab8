/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Where things live on a Wave-VM host, with the environment variables that
 * move them. One place, so waved, wavectl, the benchmarks, the vmm layer,
 * the scripts (scripts/net.sh, scripts/libvirtd.sh) and the tests agree.
 *   WAVE_IMAGES   guest images (default: ../images next to the binary's bin/
 *                 in the build tree, ../share/wave-vm/images once installed)
 *   WAVE_RUNDIR   runtime state: waved's status socket and journal, the
 *                 accelerator cache, consoles (default /run/wave-vm)
 *   WAVE_BRIDGE   the guests' bridge (default wavebr0)
 *   WAVE_HOST_IP  the host's address on it (default 10.77.0.1)
 *   WAVE_URI      libvirt URI (default qemu:///system)
 */
#ifndef WAVE_COMMON_SITE_H
#define WAVE_COMMON_SITE_H

#include <stddef.h>

#define SITE_RUNDIR   "/run/wave-vm"
#define SITE_BRIDGE   "wavebr0"
#define SITE_HOST_IP  "10.77.0.1"
#define SITE_NET      "10.77.0."   /* guests get SITE_NET 10..250 */

/* Files in the run directory. */
#define SITE_STATUS_SOCK "waved.sock"    /* waved's status socket */
#define SITE_JOURNAL     "waved.journal" /* baselines of threads waved changed */
#define SITE_ACCEL_CACHE "accel"         /* the accelerator probe's answer */
#define SITE_CONSOLES    "console"       /* guests' console logs */

/* The directory of this executable (build/bin), or "." if unknown. */
void site_bindir(char *buf, size_t size);
/*
 * The guest image directory: $WAVE_IMAGES (made absolute where it exists:
 * its paths go into domain XML), else BIN/../images or
 * BIN/../share/wave-vm/images.
 */
void site_images_dir(char *buf, size_t size);
const char *site_rundir(void);
/* DIR/NAME with DIR the run directory rundir, or site_rundir() if NULL. */
void site_path(char *buf, size_t size, const char *rundir, const char *name);
const char *site_bridge(void);
const char *site_host_ip(void);
/* libvirt URI: the option if given, else $WAVE_URI, else NULL (the default). */
const char *site_uri(const char *opt);
/*
 * A TCP port on 127.0.0.1 that nothing listens on now (the kernel picks it),
 * for a tcp:// channel the tests and benchmarks set up on loopback. Another
 * process may take it before the caller binds: good enough on a test host.
 * Returns the port or -errno.
 */
int site_free_port(void);

#endif
