/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Encode, decode and validate Wave messages. Shared by host and agent so both
 * sides accept exactly the same language.
 *
 * A message arriving from the peer goes through wave_msg_from_wire() (byte
 * order) and wave_msg_check() (every field in range) before anyone reads it;
 * the channel does both, so what chan_recv() returns is valid host-order data.
 */
#ifndef WAVE_CHANNEL_CODEC_H
#define WAVE_CHANNEL_CODEC_H

#include <stddef.h>

#include "channel/wire.h"

/*
 * Reverses the bytes of every multi-byte field in place (the fields the
 * message's type has); its own inverse. Only big-endian hosts need it:
 * wave_msg_to_wire() and wave_msg_from_wire() compile to nothing on
 * little-endian ones, so the receive path does not pay a call and a type
 * switch per message for a conversion that is the identity there.
 */
void wave_msg_swab(struct wave_msg *m);

static inline void wave_msg_to_wire(struct wave_msg *m)
{
	if (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)
		wave_msg_swab(m);
	(void)m;
}
#define wave_msg_from_wire(m) wave_msg_to_wire(m)

/*
 * Validates a host-order message: known type and flags, zero reserved
 * fields, every id, count and parameter in range. Returns 0, or -EPROTO
 * (HELLO magic), -EPROTONOSUPPORT (HELLO major version), -EBADMSG (unknown
 * type) or -EINVAL (a field), and writes a one-line reason that names the
 * field and its value into why (if non-NULL).
 */
int wave_msg_check(const struct wave_msg *m, char *why, size_t why_len);

/* Zeroes *m and sets its type; the channel fills seq and ts_ns at send. */
void wave_msg_init(struct wave_msg *m, enum wave_msg_type type);

/* A HELLO for this build with the given role, instance and generation. */
void wave_msg_hello(struct wave_msg *m, enum wave_role role, uint64_t instance,
		    uint64_t generation, uint32_t ring_slots);

const char *wave_msg_type_name(unsigned int type);
const char *wave_status_name(unsigned int status);
const char *wave_op_name(unsigned int op);

#endif
