// SPDX-License-Identifier: BSD-3-Clause
/*
 * Option tables (opt.h): parsing through getopt_long with its struct option
 * array built from the table, and the usage text generated from the same
 * entries.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/opt.h"

#define OPT_MAX   96  /* entries of one table */
#define OPT_COL   24  /* column where help texts start */
#define OPT_FIRST 256 /* getopt_long val of entry 0 (above any short option) */

int opt_verbose(const struct opt *o, const char *arg)
{
	(void)o;
	(void)arg;
	wave_log_set_level(WAVE_LOG_DEBUG);
	return 0;
}

/* "--name" for messages. */
static const char *flag(const struct opt *o, char *buf, size_t len)
{
	snprintf(buf, len, "--%s", o->name);
	return buf;
}

/* Stores arg into o's destination; 0 or -EINVAL/-ERANGE (logged). */
static int set(const struct opt *o, const char *arg)
{
	char what[64];
	uint64_t v;
	int e, ret;

	flag(o, what, sizeof(what));
	switch (o->kind) {
	case OPT_KIND_BOOL:
		*(int *)o->value = 1;
		return 0;
	case OPT_KIND_STRING:
		*(const char **)o->value = arg;
		return 0;
	case OPT_KIND_U64:
		return wave_parse_u64(what, arg, o->min, o->max, (uint64_t *)o->value);
	case OPT_KIND_UINT:
		if ((ret = wave_parse_u64(what, arg, o->min, o->max, &v)))
			return ret;
		*(unsigned int *)o->value = (unsigned int)v;
		return 0;
	case OPT_KIND_DURATION:
		return wave_parse_duration(what, arg, o->unit, o->min, o->max, (uint64_t *)o->value);
	case OPT_KIND_ENUM:
		if ((ret = wave_parse_name(what, arg, o->names, &e)))
			return ret;
		*(int *)o->value = e;
		return 0;
	case OPT_KIND_DOUBLE:
		return wave_parse_double(what, arg, o->dmin, o->dmax, (double *)o->value);
	case OPT_KIND_CALLBACK:
		return o->cb(o, arg) ? -EINVAL : 0;
	default:
		return -EINVAL;
	}
}

/* "NAME: " for messages of a subcommand, "" for a binary (the log says its name). */
static const char *prefix(const struct opt_cmd *c)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "%s%s", c->name ? c->name : "", c->name ? ": " : "");
	return buf;
}

static int takes_arg(const struct opt *o)
{
	return o->kind != OPT_KIND_BOOL && (o->kind != OPT_KIND_CALLBACK || o->argh);
}

int opt_parse(const struct opt_cmd *c, int argc, char **argv, int *first)
{
	struct option lopts[OPT_MAX + 2];
	char shorts[2 * OPT_MAX + 4] = "h";
	unsigned int n = 0, ns = 1;
	int ch, ret, nargs;

	for (const struct opt *o = c->opts; o->kind != OPT_KIND_END; o++) {
		if (o->kind == OPT_KIND_GROUP)
			continue;
		if (n == OPT_MAX)
			return -E2BIG;
		lopts[n++] = (struct option){ o->name, takes_arg(o) ? required_argument : no_argument,
					      NULL, OPT_FIRST + (int)(o - c->opts) };
		if (o->short_name) {
			shorts[ns++] = o->short_name;
			if (takes_arg(o))
				shorts[ns++] = ':';
		}
	}
	/* Short names map back to their entry below. */
	lopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	lopts[n] = (struct option){ NULL, 0, NULL, 0 };
	shorts[ns] = '\0';
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shorts, lopts, NULL)) != -1) {
		const struct opt *o = NULL;

		if (ch == 'h') {
			opt_usage(c, stdout);
			return 1;
		}
		if (ch >= OPT_FIRST) {
			o = &c->opts[ch - OPT_FIRST];
		} else if (ch != '?' && ch != ':') {
			for (const struct opt *p = c->opts; p->kind != OPT_KIND_END; p++)
				if (p->short_name == ch)
					o = p;
		}
		if (!o) {
			wave_err("%sunknown option or missing value '%s' (see --help)", prefix(c),
				 argv[optind - 1]);
			return -EINVAL;
		}
		if ((ret = set(o, optarg)))
			return ret;
	}
	nargs = argc - optind;
	if (nargs < c->min_args || (c->max_args >= 0 && nargs > c->max_args)) {
		if (nargs > 0 && c->max_args >= 0 && nargs > c->max_args)
			wave_err("%sunexpected argument '%s' (see --help)", prefix(c),
				 argv[optind + c->max_args]);
		else
			wave_err("%smissing argument (see --help)", prefix(c));
		return -EINVAL;
	}
	if (first)
		*first = optind;
	return 0;
}

/* The current value of o as a default worth printing, or "" for none. */
static const char *current(const struct opt *o, char *buf, size_t len)
{
	buf[0] = '\0';
	switch (o->kind) {
	case OPT_KIND_STRING:
		if (*(const char *const *)o->value)
			snprintf(buf, len, "%s", *(const char *const *)o->value);
		break;
	/* A number left 0 usually means "none" or "chosen later": the help text says which. */
	case OPT_KIND_U64:
		if (*(const uint64_t *)o->value)
			snprintf(buf, len, "%llu", (unsigned long long)*(const uint64_t *)o->value);
		break;
	case OPT_KIND_UINT:
		if (*(const unsigned int *)o->value)
			snprintf(buf, len, "%u", *(const unsigned int *)o->value);
		break;
	case OPT_KIND_DURATION:
		wave_format_duration(buf, len, *(const uint64_t *)o->value);
		break;
	case OPT_KIND_DOUBLE:
		if (*(const double *)o->value)
			snprintf(buf, len, "%g", *(const double *)o->value);
		break;
	case OPT_KIND_ENUM:
		snprintf(buf, len, "%s", wave_name_of(o->names, *(const int *)o->value));
		break;
	case OPT_KIND_CALLBACK:
		if (o->show)
			snprintf(buf, len, "%s", o->show(o));
		break;
	default:
		break;
	}
	return buf;
}

/*
 * Prints text from column OPT_COL (where *col is), continuation lines
 * indented alike; a piece that would run past OPT_WIDTH starts a new line.
 */
#define OPT_WIDTH 80
static void help_text(FILE *f, const char *text, int *col)
{
	int len = (int)strcspn(text, "\n");

	if (*col > OPT_COL && *col + len >= OPT_WIDTH) {
		fprintf(f, "\n%*s", OPT_COL, "");
		*col = OPT_COL;
		text += *text == ' ';
	}
	for (const char *p = text; *p; p++) {
		fputc(*p, f);
		(*col)++;
		if (*p == '\n' && p[1]) {
			fprintf(f, "%*s", OPT_COL, "");
			*col = OPT_COL;
		}
	}
}

static void usage_line(FILE *f, const struct opt *o)
{
	char head[96], def[64], list[512], more[600];
	int w, col = OPT_COL;

	if (o->short_name)
		w = snprintf(head, sizeof(head), "  -%c, --%s%s%s", o->short_name, o->name,
			     o->argh ? " " : "", o->argh ? o->argh : "");
	else
		w = snprintf(head, sizeof(head), "  --%s%s%s", o->name, o->argh ? " " : "",
			     o->argh ? o->argh : "");
	fputs(head, f);
	if (w >= OPT_COL - 1)
		fprintf(f, "\n%*s", OPT_COL, "");
	else
		fprintf(f, "%*s", OPT_COL - w, "");
	help_text(f, o->help ? o->help : "", &col);
	/* " (a, b, c; default X)": the choices and the current value, as one piece. */
	list[0] = '\0';
	if (o->kind == OPT_KIND_ENUM)
		wave_names_list(o->names, list, sizeof(list));
	else if (o->choices)
		snprintf(list, sizeof(list), "%s", o->choices());
	current(o, def, sizeof(def));
	if (list[0] || def[0]) {
		snprintf(more, sizeof(more), " (%s%s%s%s)", list, list[0] && def[0] ? "; " : "",
			 def[0] ? "default " : "", def);
		help_text(f, more, &col);
	}
	fputc('\n', f);
}

void opt_usage(const struct opt_cmd *c, FILE *f)
{
	fprintf(f, "usage: %s\n", c->usage);
	if (c->about)
		fprintf(f, "\n%s", c->about);
	fputc('\n', f);
	for (const struct opt *o = c->opts; o->kind != OPT_KIND_END; o++) {
		if (o->kind == OPT_KIND_GROUP)
			fprintf(f, "\n%s:\n", o->name);
		else
			usage_line(f, o);
	}
	fprintf(f, "  -h, --help%*sthis text\n", OPT_COL - 12, "");
	if (c->epilog)
		fprintf(f, "\n%s", c->epilog);
	if (c->extra)
		c->extra(f);
}
