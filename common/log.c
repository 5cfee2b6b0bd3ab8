// SPDX-License-Identifier: BSD-3-Clause
/*
 * stderr logger with per-call-site rate limiting. Not thread-safe in its
 * counters (a lost increment only changes how many lines are printed), the
 * write itself is one fprintf, which stdio locks.
 */
#include <stdarg.h>
#include <stdio.h>

#include "common/clock.h"
#include "common/log.h"

static const char *log_prog = "wave";
static enum wave_log_level log_max = WAVE_LOG_INFO;

static const char *const level_name[] = {
	[WAVE_LOG_ERR] = "error",
	[WAVE_LOG_WARN] = "warning",
	[WAVE_LOG_INFO] = "info",
	[WAVE_LOG_DEBUG] = "debug",
};

void wave_log_init(const char *prog, enum wave_log_level max)
{
	if (prog)
		log_prog = prog;
	log_max = max;
}

void wave_log_set_level(enum wave_log_level max)
{
	log_max = max;
}

enum wave_log_level wave_log_get_level(void)
{
	return log_max;
}

void wave_log(enum wave_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if (lvl > log_max)
		return;
	va_start(ap, fmt);
	flockfile(stderr);
	fprintf(stderr, "%s: %s: ", log_prog, level_name[lvl]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
	va_end(ap);
}

int wave_ratelimit_ok(struct wave_ratelimit *rl)
{
	uint64_t now = wave_now_ns();

	if (now - rl->window_start_ns >= WAVE_NSEC_PER_SEC) {
		if (rl->suppressed)
			wave_log(WAVE_LOG_WARN, "%u similar messages suppressed",
				 rl->suppressed);
		rl->window_start_ns = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed < WAVE_LOG_BURST) {
		rl->printed++;
		return 1;
	}
	rl->suppressed++;
	return 0;
}

int wave_reason(char *why, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return err;
}
