// SPDX-License-Identifier: BSD-3-Clause
/*
 * libFuzzer target for the tcp:// receive path after TLS: what a peer's
 * decrypted byte stream goes through (stream.c: buffering, framing,
 * staging, the HELLO first and the sequence check; then byte order and
 * validation), fed in the chunk sizes the input chooses, as reads from a
 * socket would come. TLS itself is OpenSSL's to fuzz; an authenticated
 * peer is still untrusted, and this is what it reaches.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "channel/codec.h"
#include "channel/stream.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct stream st;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wave_msg m;
	uint64_t held, now = 1;
	int hello = 0, r;
	char why[200];

	wave_log_set_level(WAVE_LOG_ERR);
	stream_reset(&st);
	/* First byte of each chunk: its length (1..256). */
	while (size) {
		size_t chunk = (size_t)data[0] + 1, room;
		uint8_t *space;

		data++;
		size--;
		if (chunk > size)
			chunk = size;
		space = stream_rx_space(&st, &room);
		if (chunk > room)
			chunk = room;
		memcpy(space, data, chunk);
		data += chunk;
		size -= chunk;
		if (stream_rx_parse(&st, chunk, now++, why, sizeof(why)))
			return 0;
		if (stream_rx_staged(&st) > STREAM_STAGE)
			__builtin_trap();
		if (!hello) {
			if ((r = stream_rx_hello(&st, &m, why, sizeof(why))) < 0)
				return 0;
			hello = r;
		}
		while ((r = stream_rx_take(&st, &m, UINT64_MAX, &held, why, sizeof(why))) == 1) {
			wave_msg_from_wire(&m);
			(void)wave_msg_check(&m, why, sizeof(why));
		}
		if (r < 0)
			return 0;
		if (!room)
			return 0;
	}
	return 0;
}
