/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Local profile files. A regular file is written under a name nobody else
 * can plant, synced, and renamed into place, so a reader never sees half a
 * profile; a device, FIFO or socket is written in place; "-" is stdout.
 */
#ifndef FORNAX_OUTPUT_H
#define FORNAX_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>

#include "pprof.h"

enum output_format {
	OUTPUT_FORMAT_AUTO, /* from the file extension; pprof otherwise */
	OUTPUT_FORMAT_PPROF,
	OUTPUT_FORMAT_FOLDED,
	OUTPUT_FORMAT_SVG,
};

/* The format an extension names (.pb.gz, .folded, .svg...), AUTO for none. */
enum output_format output__format_from_extension(const char *path);

/* How a path is written (target.c). */
enum output_target {
	OUTPUT_TARGET_FILE,   /* regular file or none yet: replaced atomically */
	OUTPUT_TARGET_STREAM, /* character device, FIFO, socket, /dev/fd/N: written in place */
	OUTPUT_TARGET_STDOUT, /* "-" or /dev/stdout */
};

/* "-" and /dev/stdout: the process's standard output. */
bool output__is_stdout(const char *path);

/*
 * How path would be written, checked now: a file's directory exists and is
 * writable, a stream is writable, nothing else (a directory, a block
 * device) is taken. Returns 0 or -errno, with *why a phrase for the
 * message when strerror() would not say it ("is in a directory that does
 * not exist"), else NULL.
 */
int output__classify(const char *path, enum output_target *target, const char **why);

/*
 * Continuous mode's directory: it exists and is writable, or its parent
 * does and is. Returns 0 or -errno, with *why as for output__classify().
 */
int output__check_dir(const char *path, const char **why);

/* Writes buf to path as output__classify() says. Returns 0 or -errno. */
int output__write_target(const char *path, const void *buf, size_t len);

/* Writes p to path in the given format (not AUTO). Returns 0 or -errno. */
int output__write(const struct pprof *p, enum output_format format, const char *path);

/* How flame graphs look; NULL fields and 0 take the renderer's defaults. */
struct output_opts {
	const char *title;
	unsigned width;
	bool icicle;
	const char *unit;  /* what a sample count counts, for profiles read from elsewhere */
};

/* output__write with options for the formats that take them. Returns 0 or -errno. */
int output__write_opts(const struct pprof *p, enum output_format format, const char *path,
		       const struct output_opts *opts);

/* Renders p into an interactive SVG flame graph in *text (malloc'ed). Returns 0 or -errno. */
int output__svg(const struct pprof *p, const struct output_opts *opts, char **text, size_t *len);

/* Brendan Gregg's collapsed stacks: "comm;root;...;leaf count\n", kernel frames suffixed _[k]. */
int output__folded(const struct pprof *p, char **text, size_t *len);

/*
 * Continuous mode: the file name for a window starting at realtime_ns,
 * "<dir>/fornax-YYYYmmddTHHMMSS.mmmZ.<ext>". Returns a malloc'ed path or NULL.
 */
char *output__window_path(const char *dir, long long realtime_ns, enum output_format format);

/* Deletes the oldest fornax-* profiles in dir beyond keep (0 keeps all). Returns how many went. */
int output__prune(const char *dir, unsigned keep);

#endif /* FORNAX_OUTPUT_H */
