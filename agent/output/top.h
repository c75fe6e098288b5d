/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The summary printed after an ad-hoc capture: the functions with the most
 * samples of their own (flat), with the share of samples they appear in
 * (cumulative), as `pprof -top` and `perf report` show them.
 */
#ifndef FORNAX_TOP_H
#define FORNAX_TOP_H

#include <stdbool.h>
#include <stddef.h>

#include "pprof.h"

/* What a row of the summary is. */
enum top_by {
	TOP_BY_FUNCTION, /* a function; unnamed code by its mapping, [liblzma.so.5.4.1] */
	TOP_BY_COMM,     /* a process, by its comm label */
};

struct top_entry {
	const char *name;  /* the profile's string; "[unknown]" for frames of no mapping */
	bool mapping;      /* name is a mapping's file: code in it that has no name */
	__s64 flat;        /* samples whose leaf is this function */
	__s64 cum;         /* samples with this function anywhere in the stack */
};

/*
 * Every function of p, most flat samples first (then most cumulative, then
 * by name), in *entries (malloc'ed). Returns the count or -errno.
 */
long top__compute(const struct pprof *p, enum top_by by, struct top_entry **entries);

/*
 * The first n rows as a table in *text (malloc'ed, NUL-terminated); unit
 * names the counts (NULL: "samples"). Returns 0 or -errno.
 */
int top__format(const struct pprof *p, size_t n, enum top_by by, const char *unit, char **text);

#endif /* FORNAX_TOP_H */
