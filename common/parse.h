/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Strict parsing for command lines and config: the whole string must be a
 * number in range, with an optional unit suffix, or one of a table's names;
 * every failure says which option and which value were wrong.
 */
#ifndef WAVE_COMMON_PARSE_H
#define WAVE_COMMON_PARSE_H

#include <stddef.h>
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

/* Parses a decimal number (e.g. 0.5) in [min, max]; logs like wave_parse_u64. */
int wave_parse_double(const char *what, const char *s, double min, double max, double *out);

/* Parses "A,B,..." CPU numbers (ranges "A-B" allowed) into a 64-bit mask. */
int wave_parse_cpulist(const char *what, const char *s, uint64_t *mask);

/* A duration as people write it: "250us", "10ms", "1.5s", "0". Returns buf. */
const char *wave_format_duration(char *buf, size_t len, uint64_t ns);

/*
 * Name tables for enums: what an option's value may be called and what it
 * means, in one place for parsing, help texts and status output. A table is
 * an array of { name, value } ended by { NULL, 0 }.
 */
struct wave_name {
	const char *name;
	int value;
};

/* The value named s, into *out. 0, or -EINVAL logged as "<what>: 's' is not one of a, b". */
int wave_parse_name(const char *what, const char *s, const struct wave_name *t, int *out);
/* The name of value, or "?" if the table has none. */
const char *wave_name_of(const struct wave_name *t, int value);
/* "a, b, c" into buf (truncated to len). Returns buf. */
const char *wave_names_list(const struct wave_name *t, char *buf, size_t len);

#endif
