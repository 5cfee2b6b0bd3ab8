// SPDX-License-Identifier: BSD-3-Clause
/* TCP framing: complete, partial, oversized and malformed frames. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "channel/frame.h"

static char why[200];
static uint8_t buf[4 * FRAME_MAX_SIZE];
static struct wave_msg out[4 * FRAME_MAX_MSGS];

static size_t put_frame(uint8_t *p, unsigned int count, uint8_t tag)
{
	frame_put_header(p, count);
	memset(p + FRAME_HDR_SIZE, tag, (size_t)count * WAVE_MSG_SIZE);
	return FRAME_HDR_SIZE + (size_t)count * WAVE_MSG_SIZE;
}

static void two_frames_parse_whole(void **state)
{
	size_t len = put_frame(buf, 3, 0xaa);
	unsigned int n = 0;

	len += put_frame(buf + len, 2, 0xbb);
	assert_int_equal(frame_parse(buf, len, out, 64, &n, why, sizeof(why)), (ssize_t)len);
	assert_int_equal(n, 5);
	assert_int_equal(((uint8_t *)&out[2])[0], 0xaa);
	assert_int_equal(((uint8_t *)&out[3])[63], 0xbb);
}

static void partial_frame_waits(void **state)
{
	size_t len = put_frame(buf, 3, 1);
	unsigned int n = 9;

	assert_int_equal(frame_parse(buf, len - 1, out, 64, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(frame_parse(buf, 5, out, 64, &n, why, sizeof(why)), 0);
}

static void frame_not_fitting_output_waits(void **state)
{
	size_t len = put_frame(buf, 3, 1);
	unsigned int n = 0;

	len += put_frame(buf + len, 3, 2);
	assert_int_equal(frame_parse(buf, len, out, 5, &n, why, sizeof(why)),
			 (ssize_t)(FRAME_HDR_SIZE + 3 * WAVE_MSG_SIZE));
	assert_int_equal(n, 3);
}

static void bad_count_rejected(void **state)
{
	unsigned int n;

	frame_put_header(buf, 0);
	assert_int_equal(frame_parse(buf, 8, out, 64, &n, why, sizeof(why)), -EMSGSIZE);
	frame_put_header(buf, FRAME_MAX_MSGS + 1);
	assert_int_equal(frame_parse(buf, 8, out, 64, &n, why, sizeof(why)), -EMSGSIZE);
	assert_non_null(strstr(why, "count 65"));
}

static void bad_magic_or_reserved_rejected(void **state)
{
	unsigned int n;
	size_t len = put_frame(buf, 1, 0);

	buf[0] ^= 0xff;
	assert_int_equal(frame_parse(buf, len, out, 64, &n, why, sizeof(why)), -EBADMSG);
	buf[0] ^= 0xff;
	buf[7] = 1;
	assert_int_equal(frame_parse(buf, len, out, 64, &n, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "reserved"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(two_frames_parse_whole),
		cmocka_unit_test(partial_frame_waits),
		cmocka_unit_test(frame_not_fitting_output_waits),
		cmocka_unit_test(bad_count_rejected),
		cmocka_unit_test(bad_magic_or_reserved_rejected),
	};

	return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
