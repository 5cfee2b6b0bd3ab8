// SPDX-License-Identifier: BSD-3-Clause
/*
 * Guests that do nothing: idle reports once and sleeps for good; probe
 * reports and exits at once, so /init powers the guest off (the host's
 * accelerator probe boots it to see whether a Linux guest can boot at all).
 */
#include <unistd.h>

#include "images/guest/guest.h"

int guest_idle(const struct guest_cfg *cfg)
{
	guest_report(cfg, "WAVE-READY workload=idle");
	for (;;)
		pause();
}

int guest_probe(const struct guest_cfg *cfg)
{
	guest_report(cfg, "WAVE-READY workload=probe");
	return 0;
}
