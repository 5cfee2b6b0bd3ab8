/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Strict number parsing for command lines and config: the whole string must
 * be a number in range, with an optional unit suffix; every failure says
 * which option and which value were wrong.
 */
#ifndef WAVE_COMMON_PARSE_H
#define WAVE_COMMON_PARSE_H

#include <stdint.h>

/*
 * Parses a decimal unsigned integer in [min, max] into *out.
 * Returns 0, or -EINVAL (not a number, trailing junk) or -ERANGE; on error
 * logs "<what>: ..." naming the value and leaves *out unchanged.
 */
int wave_parse_u64(const char *what, const char *s, uint64_t min, uint64_t max,
		   uint64_t *out);

/*
 * Parses a duration: a number followed by ns, us, ms or s (no suffix means
 * default_unit_ns units). Result in ns, in [min_ns, max_ns].
 */
int wave_parse_duration(const char *what, const char *s, uint64_t default_unit_ns,
			uint64_t min_ns, uint64_t max_ns, uint64_t *out_ns);

/* Parses "A,B,..." CPU numbers (ranges "A-B" allowed) into a 64-bit mask. */
int wave_parse_cpulist(const char *what, const char *s, uint64_t *mask);

#endif
