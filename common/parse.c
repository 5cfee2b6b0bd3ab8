// SPDX-License-Identifier: BSD-3-Clause
/*
 * Number parsing. strtoull alone accepts "-1", leading blanks and trailing
 * junk; these wrappers refuse all of them.
 */
#include <ctype.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/parse.h"

static int parse_digits(const char *s, uint64_t *v, const char **end)
{
	char *e;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &e, 10);
	if (errno == ERANGE)
		return -ERANGE;
	*end = e;
	return 0;
}

int wave_parse_u64(const char *what, const char *s, uint64_t min, uint64_t max,
		   uint64_t *out)
{
	const char *end;
	uint64_t v;
	int ret = parse_digits(s, &v, &end);

	if (ret == 0 && *end != '\0')
		ret = -EINVAL;
	if (ret == -EINVAL) {
		wave_err("%s: '%s' is not a non-negative integer", what, s ? s : "");
		return ret;
	}
	if (ret == -ERANGE || v < min || v > max) {
		wave_err("%s: %s is out of range [%llu, %llu]", what, s,
			 (unsigned long long)min, (unsigned long long)max);
		return -ERANGE;
	}
	*out = v;
	return 0;
}

int wave_parse_double(const char *what, const char *s, double min, double max, double *out)
{
	char *end;
	double d;

	errno = 0;
	d = s && *s ? strtod(s, &end) : 0;
	if (!s || !*s || *end || errno || d != d) {
		wave_err("%s: '%s' is not a number", what, s ? s : "");
		return -EINVAL;
	}
	if (d < min || d > max) {
		wave_err("%s: %s is out of range [%g, %g]", what, s, min, max);
		return -ERANGE;
	}
	*out = d;
	return 0;
}

static const struct {
	const char *suffix;
	uint64_t ns;
} duration_units[] = {
	{ "ns", 1 },
	{ "us", WAVE_NSEC_PER_USEC },
	{ "ms", WAVE_NSEC_PER_MSEC },
	{ "s", WAVE_NSEC_PER_SEC },
};

int wave_parse_duration(const char *what, const char *s, uint64_t default_unit_ns,
			uint64_t min_ns, uint64_t max_ns, uint64_t *out_ns)
{
	uint64_t v, unit = 0;
	const char *end;
	size_t i;
	int ret = parse_digits(s, &v, &end);

	if (ret == 0 && *end == '\0')
		unit = default_unit_ns;
	for (i = 0; ret == 0 && !unit && i < sizeof(duration_units) / sizeof(duration_units[0]); i++)
		if (strcmp(end, duration_units[i].suffix) == 0)
			unit = duration_units[i].ns;
	if (ret == -EINVAL || (ret == 0 && !unit)) {
		wave_err("%s: '%s' is not a duration (e.g. 250us, 10ms, 2s)", what,
			 s ? s : "");
		return -EINVAL;
	}
	if (ret == -ERANGE || v > max_ns / unit || v * unit < min_ns ||
	    v * unit > max_ns) {
		char lo[32], hi[32];

		wave_err("%s: %s is out of range [%s, %s]", what, s,
			 wave_format_duration(lo, sizeof(lo), min_ns),
			 wave_format_duration(hi, sizeof(hi), max_ns));
		return -ERANGE;
	}
	*out_ns = v * unit;
	return 0;
}

int wave_parse_cpulist(const char *what, const char *s, uint64_t *mask)
{
	uint64_t m = 0, a, b;
	const char *p = s, *end;

	for (;;) {
		if (parse_digits(p, &a, &end))
			goto bad;
		b = a;
		if (*end == '-' && parse_digits(end + 1, &b, &end))
			goto bad;
		if (a > b || b >= 64) {
			wave_err("%s: range %llu-%llu in '%s' is invalid (CPUs 0-63)",
				 what, (unsigned long long)a, (unsigned long long)b, s);
			return -ERANGE;
		}
		for (; a <= b; a++)
			m |= 1ULL << a;
		if (*end == '\0')
			break;
		if (*end != ',')
			goto bad;
		p = end + 1;
	}
	*mask = m;
	return 0;
bad:
	wave_err("%s: '%s' is not a CPU list (e.g. 0,1 or 0-3)", what, s ? s : "");
	return -EINVAL;
}

const char *wave_format_duration(char *buf, size_t len, uint64_t ns)
{
	size_t i = sizeof(duration_units) / sizeof(duration_units[0]) - 1;

	/* Exact in the largest unit that divides it; else one decimal of the largest below it. */
	while (i > 0 && ns % duration_units[i].ns)
		i--;
	if (!ns || i > 0 || ns < WAVE_NSEC_PER_USEC) {
		snprintf(buf, len, "%llu%s", (unsigned long long)(ns / duration_units[i].ns),
			 ns ? duration_units[i].suffix : "");
		return buf;
	}
	for (i = sizeof(duration_units) / sizeof(duration_units[0]) - 1; i > 0; i--)
		if (ns >= duration_units[i].ns)
			break;
	snprintf(buf, len, "%.1f%s", (double)ns / (double)duration_units[i].ns,
		 duration_units[i].suffix);
	return buf;
}

int wave_parse_name(const char *what, const char *s, const struct wave_name *t, int *out)
{
	char list[256];

	for (const struct wave_name *n = t; s && n->name; n++)
		if (!strcmp(n->name, s)) {
			*out = n->value;
			return 0;
		}
	wave_err("%s: '%s' is not one of %s", what, s ? s : "", wave_names_list(t, list, sizeof(list)));
	return -EINVAL;
}

const char *wave_name_of(const struct wave_name *t, int value)
{
	for (const struct wave_name *n = t; n->name; n++)
		if (n->value == value)
			return n->name;
	return "?";
}

const char *wave_names_list(const struct wave_name *t, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (const struct wave_name *n = t; n->name && used < len; n++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", n == t ? "" : ", ", n->name);
	return buf;
}
