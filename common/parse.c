// SPDX-License-Identifier: BSD-3-Clause
/*
 * Number parsing. strtoull alone accepts "-1", leading blanks and trailing
 * junk; these wrappers refuse all of them.
 */
#include <ctype.h>
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
		wave_err("%s: %s is out of range [%lluns, %lluns]", what, s,
			 (unsigned long long)min_ns, (unsigned long long)max_ns);
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
