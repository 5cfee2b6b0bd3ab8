/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Framing for stream transports (tcp://): a batch of messages is one frame,
 * an 8-byte header followed by count 64-byte messages in wire order.
 *
 *   le32 magic "WVFR" | le16 count (1..FRAME_MAX_MSGS) | le16 reserved (0)
 *
 * A fixed maximum keeps the receiver's buffer bounded; a count of zero or
 * above the maximum, a bad magic or a non-zero reserved field breaks the
 * stream (there is no way to resynchronise a byte stream safely).
 */
#ifndef WAVE_CHANNEL_FRAME_H
#define WAVE_CHANNEL_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "channel/wire.h"

#define FRAME_MAGIC    0x52465657u /* "WVFR" little-endian */
#define FRAME_HDR_SIZE 8u
#define FRAME_MAX_MSGS 64u
#define FRAME_MAX_SIZE (FRAME_HDR_SIZE + FRAME_MAX_MSGS * WAVE_MSG_SIZE)

/* Writes a frame header for count messages at buf (FRAME_HDR_SIZE bytes). */
void frame_put_header(uint8_t *buf, unsigned int count);

/*
 * Parses complete frames from buf[0, len) into out (wire order), stopping
 * before a frame that is incomplete or would not fit in max_out messages.
 * Returns the bytes consumed (>= 0) with *nout messages written, or
 * -EBADMSG (bad magic or reserved field) / -EMSGSIZE (bad count) with the
 * reason in why.
 */
ssize_t frame_parse(const uint8_t *buf, size_t len, struct wave_msg *out,
		    unsigned int max_out, unsigned int *nout, char *why, size_t why_len);

#endif
