/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Logging for every Wave-VM binary and library: one line per event on stderr,
 * "<prog>: <level>: message". Library code logs through the rate-limited
 * macro when the event can be triggered by the peer or the user, so a flood
 * of bad input costs a counter, not a flood of lines (the alternative, a
 * global "quiet" switch, would also hide the first occurrence).
 */
#ifndef WAVE_COMMON_LOG_H
#define WAVE_COMMON_LOG_H

#include <stddef.h>
#include <stdint.h>

enum wave_log_level { WAVE_LOG_ERR, WAVE_LOG_WARN, WAVE_LOG_INFO, WAVE_LOG_DEBUG };

void wave_log_init(const char *prog, enum wave_log_level max);
void wave_log_set_level(enum wave_log_level max);
enum wave_log_level wave_log_get_level(void);
void wave_log(enum wave_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Per-call-site budget: at most WAVE_LOG_BURST lines per second. */
struct wave_ratelimit {
	uint64_t window_start_ns;
	unsigned int printed;
	unsigned int suppressed;
};
#define WAVE_LOG_BURST 10
int wave_ratelimit_ok(struct wave_ratelimit *rl);

#define wave_log_rl(lvl, ...)                                  \
	do {                                                   \
		static struct wave_ratelimit rl__;             \
		if (wave_ratelimit_ok(&rl__))                  \
			wave_log(lvl, __VA_ARGS__);            \
	} while (0)

/*
 * For validators that explain a rejection to their caller instead of
 * logging it: formats the reason into why (if why and len are non-zero) and
 * returns err, so a check reads "return wave_reason(why, len, -EINVAL, ...)".
 */
int wave_reason(char *why, size_t len, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define wave_err(...)  wave_log(WAVE_LOG_ERR, __VA_ARGS__)
#define wave_warn(...) wave_log(WAVE_LOG_WARN, __VA_ARGS__)
#define wave_info(...) wave_log(WAVE_LOG_INFO, __VA_ARGS__)
#define wave_dbg(...)  wave_log(WAVE_LOG_DEBUG, __VA_ARGS__)

#endif
