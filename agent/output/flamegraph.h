/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Interactive SVG flame graphs, drawn from the profile model by fornax's own
 * code: one self-contained file (inline style and script, nothing fetched)
 * that a browser opens offline. Frames are sized by samples and coloured by
 * kind (see flame.h); a click zooms, a search shows the share matched, and
 * the details line and each frame's tooltip give the full name, file:line,
 * count and share.
 *
 * A big profile stays quick to open: frames narrower than min_width pixels
 * are not drawn but merged, per parent, into one "[N frames hidden]" frame,
 * and if the frames would still take more than max_bytes, the narrowest go
 * the same way until they fit. The subtitle says how many were hidden.
 */
#ifndef FORNAX_FLAMEGRAPH_H
#define FORNAX_FLAMEGRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "flame.h"
#include "pprof.h"

#define FLAMEGRAPH_DEFAULT_WIDTH 1200
#define FLAMEGRAPH_MIN_WIDTH 200
#define FLAMEGRAPH_MAX_WIDTH 100000

struct flamegraph_opts {
	const char *title;     /* NULL: "CPU flame graph" */
	const char *subtitle;  /* NULL: the profile's time, duration and total */
	unsigned width;        /* pixels, FLAMEGRAPH_MIN_WIDTH..MAX_WIDTH; 0: default */
	bool icicle;           /* root at the top, stacks growing down */
	double min_width;      /* pixels; 0: 0.1 */
	size_t max_bytes;      /* budget for the frames; 0: 3 MB */
	const char *unit;      /* what a count is; NULL: "samples" */
	bool no_process;       /* no per-process level */
};

struct flamegraph_stats {
	size_t frames;         /* drawn, merged blocks included */
	size_t hidden;         /* frames merged away */
	double min_width;      /* the narrowest width drawn, in pixels, after the budget */
};

/* Renders f into *svg (malloc'ed, NUL-terminated). Returns 0 or -errno. */
int flamegraph__render(const struct flame *f, const struct flamegraph_opts *opts,
		       const char *default_subtitle, char **svg, size_t *len,
		       struct flamegraph_stats *stats);

/* Builds the tree of p and renders it. Returns 0 or -errno. */
int flamegraph__svg(const struct pprof *p, const struct flamegraph_opts *opts, char **svg,
		    size_t *len, struct flamegraph_stats *stats);

/*
 * Appends s to an XML text or attribute as escaped UTF-8: <, >, &, quotes
 * as entities; bytes that are not UTF-8 and characters XML forbids
 * (controls, surrogates, U+FFFE/FFFF) as U+FFFD. Stops after max_chars
 * characters (0: no limit). Exposed for tests. Returns the characters
 * written, or -ENOMEM.
 */
struct flamegraph_buf {
	char *buf;
	size_t len, cap;
};
long flamegraph__escape(struct flamegraph_buf *b, const char *s, size_t max_chars);

#endif /* FORNAX_FLAMEGRAPH_H */
