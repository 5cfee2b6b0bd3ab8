/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Command-line options from one table per command: each entry holds the
 * flag, where its value goes, its range or choices and its help text, so
 * parsing, checking and the usage text cannot drift apart (kvmtool's
 * OPT_* tables are the model). Fragments that several binaries take are
 * macros expanding to entries (CHAN_LINK_OPTS in channel/chan.h,
 * POLICY_OPTS in ipu-sched/policy.h).
 *
 * The alternative, getopt_long with a switch and a hand-written help string
 * per binary, kept three lists per binary that had to agree; they did not.
 *
 * Usage is generated: "  --name ARG   help" with the choices of an enum
 * and the current (default) value of a number, duration, string or enum
 * appended, so a default is stated only where it is set.
 *
 * Errors are returned, never fatal: a bad value is logged naming the option
 * and the value, and the parse returns -EINVAL.
 */
#ifndef WAVE_COMMON_OPT_H
#define WAVE_COMMON_OPT_H

#include <stdint.h>
#include <stdio.h>

#include "common/parse.h"

enum opt_kind {
	OPT_KIND_END = 0,
	OPT_KIND_GROUP,     /* a heading in the usage text */
	OPT_KIND_BOOL,      /* int *: set to 1 */
	OPT_KIND_STRING,    /* const char **: the argument itself */
	OPT_KIND_U64,       /* uint64_t *: in [min, max] */
	OPT_KIND_UINT,      /* unsigned int *: in [min, max] */
	OPT_KIND_DURATION,  /* uint64_t * ns: a number with ns/us/ms/s, bare = unit */
	OPT_KIND_DOUBLE,    /* double *: in [dmin, dmax] */
	OPT_KIND_ENUM,      /* int *: one of names */
	OPT_KIND_CALLBACK,  /* cb(opt, arg): anything else */
};

struct opt;
/* A callback option's parser: 0, or -EINVAL after logging what was wrong. */
typedef int (*opt_cb)(const struct opt *o, const char *arg);

struct opt {
	enum opt_kind kind;
	const char *name;              /* long name without "--"; GROUP: the heading */
	char short_name;               /* 0: none */
	const char *argh;              /* the argument in usage ("MS", "URI"); NULL: none */
	void *value;
	const char *help;              /* '\n' starts a continuation line */
	uint64_t min, max;             /* U64, UINT, DURATION (ns) */
	uint64_t unit;                 /* DURATION: ns of a bare number */
	double dmin, dmax;             /* DOUBLE: range */
	const struct wave_name *names; /* ENUM: the choices */
	opt_cb cb;                     /* CALLBACK */
	const char *(*choices)(void);  /* optional list of the choices, for the usage text */
	const char *(*show)(const struct opt *o); /* CALLBACK: optional current value */
};

#define OPT_END() { .kind = OPT_KIND_END }
#define OPT_GROUP(title) { .kind = OPT_KIND_GROUP, .name = (title) }
#define OPT_BOOL(l, s, v, h) \
	{ .kind = OPT_KIND_BOOL, .name = (l), .short_name = (s), .value = (v), .help = (h) }
#define OPT_STRING(l, a, v, h) \
	{ .kind = OPT_KIND_STRING, .name = (l), .argh = (a), .value = (v), .help = (h) }
#define OPT_U64(l, a, v, lo, hi, h) \
	{ .kind = OPT_KIND_U64, .name = (l), .argh = (a), .value = (v), .min = (lo), \
	  .max = (hi), .help = (h) }
#define OPT_UINT(l, a, v, lo, hi, h) \
	{ .kind = OPT_KIND_UINT, .name = (l), .argh = (a), .value = (v), .min = (lo), \
	  .max = (hi), .help = (h) }
#define OPT_DURATION(l, a, v, u, lo, hi, h) \
	{ .kind = OPT_KIND_DURATION, .name = (l), .argh = (a), .value = (v), .unit = (u), \
	  .min = (lo), .max = (hi), .help = (h) }
#define OPT_DOUBLE(l, a, v, lo, hi, h) \
	{ .kind = OPT_KIND_DOUBLE, .name = (l), .argh = (a), .value = (v), .dmin = (lo), \
	  .dmax = (hi), .help = (h) }
#define OPT_ENUM(l, a, v, n, h) \
	{ .kind = OPT_KIND_ENUM, .name = (l), .argh = (a), .value = (v), .names = (n), \
	  .help = (h) }
#define OPT_CALLBACK(l, a, v, f, h) \
	{ .kind = OPT_KIND_CALLBACK, .name = (l), .argh = (a), .value = (v), .cb = (f), \
	  .help = (h) }
#define OPT_CALLBACK_LIST(l, a, v, f, list, h) \
	{ .kind = OPT_KIND_CALLBACK, .name = (l), .argh = (a), .value = (v), .cb = (f), \
	  .choices = (list), .help = (h) }
/* -v, --verbose: debug logging (every binary takes it). */
#define OPT_VERBOSE() \
	{ .kind = OPT_KIND_CALLBACK, .name = "verbose", .short_name = 'v', .cb = opt_verbose, \
	  .help = "debug logging" }

/*
 * A command: "usage: <usage>", a paragraph about it, its options, and an
 * optional epilog (printed as is) and extra(f) (for text built at run time).
 */
struct opt_cmd {
	const char *name;              /* subcommand name for messages, or NULL */
	const char *usage;
	const char *about;
	const struct opt *opts;
	const char *epilog;
	void (*extra)(FILE *f);
	int min_args, max_args;        /* positional arguments allowed (max -1: any) */
};

/*
 * Parses argv[1..argc-1]. -h/--help prints the usage to stdout and returns
 * 1. On success returns 0 and sets *first to the index in argv of the first
 * positional argument (argv is permuted: positionals last). On a bad option,
 * value or argument count logs why and returns -EINVAL.
 */
int opt_parse(const struct opt_cmd *c, int argc, char **argv, int *first);

void opt_usage(const struct opt_cmd *c, FILE *f);

int opt_verbose(const struct opt *o, const char *arg);

#endif
