// SPDX-License-Identifier: BSD-3-Clause
/* Frame header encoding and the (untrusted-input) frame parser; see frame.h. */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "channel/frame.h"

void frame_put_header(uint8_t *buf, unsigned int count)
{
	uint32_t magic = htole32(FRAME_MAGIC);
	uint16_t c = htole16((uint16_t)count), rsvd = 0;

	memcpy(buf, &magic, 4);
	memcpy(buf + 4, &c, 2);
	memcpy(buf + 6, &rsvd, 2);
}

ssize_t frame_parse(const uint8_t *buf, size_t len, struct wave_msg *out,
		    unsigned int max_out, unsigned int *nout, char *why, size_t why_len)
{
	size_t off = 0;
	unsigned int n = 0;

	while (len - off >= FRAME_HDR_SIZE) {
		uint32_t magic;
		uint16_t count, rsvd;

		memcpy(&magic, buf + off, 4);
		memcpy(&count, buf + off + 4, 2);
		memcpy(&rsvd, buf + off + 6, 2);
		magic = le32toh(magic);
		count = le16toh(count);
		if (magic != FRAME_MAGIC || rsvd) {
			snprintf(why, why_len, "frame at byte %zu: bad %s (0x%08x/0x%04x)", off,
				 magic != FRAME_MAGIC ? "magic" : "reserved field", magic,
				 le16toh(rsvd));
			return -EBADMSG;
		}
		if (count == 0 || count > FRAME_MAX_MSGS) {
			snprintf(why, why_len, "frame at byte %zu: count %u not in 1..%u", off,
				 count, FRAME_MAX_MSGS);
			return -EMSGSIZE;
		}
		if (len - off - FRAME_HDR_SIZE < (size_t)count * WAVE_MSG_SIZE ||
		    max_out - n < count)
			break;
		memcpy(&out[n], buf + off + FRAME_HDR_SIZE, (size_t)count * WAVE_MSG_SIZE);
		n += count;
		off += FRAME_HDR_SIZE + (size_t)count * WAVE_MSG_SIZE;
	}
	*nout = n;
	return (ssize_t)off;
}
