// SPDX-License-Identifier: BSD-3-Clause
/*
 * libFuzzer target for the shared-region validator: the input is the
 * region as a hostile host could lay it out (header, control blocks and
 * slots). Whatever validates must then be safe to use: the agent's rings are
 * set up on it and driven (receive, send, wake), under ASan.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "channel/region.h"

static const struct wave_clock mono = { .kind = WAVE_CLOCK_MONO };
#include "channel/ring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wave_msg out[8], msgs[4] = { 0 };
	struct ring_rx rx;
	struct ring_tx tx;
	struct region reg;
	uint64_t held;
	char why[200];
	void *base;

	if (size > (1u << 20))
		return 0;
	base = malloc(size ? size : 1);
	memcpy(base, data, size);
	if (region_validate(base, size, &reg, why, sizeof(why)) == 0) {
		ring_rx_init(&rx, reg.slots[REGION_SIDE_AGENT], reg.nslots, reg.ctl[REGION_SIDE_HOST]);
		ring_tx_init(&tx, reg.slots[REGION_SIDE_HOST], reg.nslots, reg.ctl[REGION_SIDE_AGENT], 0);
		for (int i = 0; i < 4; i++) {
			if (ring_recv(&rx, out, 8, UINT64_MAX, &held) < 0)
				break;
			if (ring_send(&tx, msgs, 4, 1) < 0)
				break;
		}
		ring_rx_arm_wake(&rx);
		ring_tx_need_kick(&tx);
	}
	free(base);
	return 0;
}
