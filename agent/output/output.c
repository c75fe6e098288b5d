// SPDX-License-Identifier: Apache-2.0
#include "output.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "array.h"
#include "fileio.h"
#include "flame.h"
#include "flamegraph.h"
#include "pprof_codec.h"

#define WINDOW_FILE_PREFIX "fornax-"

struct folded_line {
	char *text; /* "comm;root;...;leaf" */
	long long count;
};

struct strbuf {
	char *buf;
	size_t len, cap;
};

static int strbuf_append(struct strbuf *sb, const char *s, size_t n)
{
	if (ARRAY_GROW(&sb->buf, &sb->cap, sb->len + n + 1))
		return -ENOMEM;
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
	return 0;
}

/* ';' separates frames and a newline ends the line: neither may appear inside one. */
static int append_frame(struct strbuf *sb, const char *name, const char *suffix)
{
	int err = sb->len ? strbuf_append(sb, ";", 1) : 0;

	for (const char *p = name; !err && *p; p++) {
		char c = (*p == ';' || *p == '\n' || *p == '\r') ? '_' : *p;

		err = strbuf_append(sb, &c, 1);
	}
	if (!err && suffix)
		err = strbuf_append(sb, suffix, strlen(suffix));
	return err;
}

static bool is_kernel_location(const struct pprof *p, const struct pprof_location *loc)
{
	/*
	 * The upper half of the address space is the kernel's on 64-bit Linux.
	 * A frame-pointer walk of user memory can yield such values too, but
	 * those fall in no mapping.
	 */
	return (loc->address >> 63) && pprof__mapping(p, loc->mapping_id);
}

/* NULL for a profile that does not label samples with their process (Go's, for one). */
static const char *sample_comm(const struct pprof_sample *s)
{
	for (size_t i = 0; i < s->n_labels; i++)
		if (strcmp(s->labels[i].key, "comm") == 0 && s->labels[i].str)
			return s->labels[i].str;
	return NULL;
}

static int fold_sample(const struct pprof *p, const struct pprof_sample *s, struct strbuf *sb)
{
	const char *comm = sample_comm(s);
	int err = comm ? strbuf_append(sb, comm, strlen(comm)) : 0;

	/* Root first: locations are stored leaf first, lines innermost first. */
	for (size_t i = s->n_locations; !err && i-- > 0;) {
		const struct pprof_location *loc = pprof__location(p, s->location_ids[i]);
		const char *suffix;
		bool kernel;

		if (!loc)
			return -EINVAL;
		kernel = is_kernel_location(p, loc);
		suffix = kernel ? "_[k]" : flame__location_kind(p, loc) == FLAME_JIT ? "_[j]" : NULL;
		if (loc->n_lines == 0) {
			err = append_frame(sb, "[unknown]", suffix);
			continue;
		}
		for (size_t l = loc->n_lines; !err && l-- > 0;) {
			const struct pprof_function *fn = pprof__function(p, loc->lines[l].function_id);

			err = append_frame(sb, fn && fn->name ? fn->name : "[unknown]", suffix);
		}
	}
	return err;
}

static int compare_lines(const void *a, const void *b)
{
	return strcmp(((const struct folded_line *)a)->text, ((const struct folded_line *)b)->text);
}

int output__folded(const struct pprof *p, char **text, size_t *len)
{
	size_t n = pprof__num_samples(p), n_lines = 0;
	struct folded_line *lines = calloc(n ? n : 1, sizeof(*lines));
	struct strbuf out = { 0 };
	int err = 0;

	if (!lines)
		return -ENOMEM;
	for (size_t i = 0; i < n && !err; i++) {
		const struct pprof_sample *s = pprof__sample(p, i);
		struct strbuf sb = { 0 };

		err = fold_sample(p, s, &sb);
		/* no comm label and no locations (a Go profile can have such a sample) */
		if (!err && !sb.buf)
			err = strbuf_append(&sb, "[no stack]", strlen("[no stack]"));
		if (err) {
			free(sb.buf);
			break;
		}
		lines[n_lines++] = (struct folded_line){ .text = sb.buf, .count = s->count };
	}
	/* Samples differing only in labels fold to one line: sort, then sum neighbours. */
	if (!err)
		qsort(lines, n_lines, sizeof(*lines), compare_lines);
	for (size_t i = 0; i < n_lines && !err;) {
		long long count = 0;
		char num[32];
		size_t j = i;

		for (; j < n_lines && strcmp(lines[j].text, lines[i].text) == 0; j++)
			count += lines[j].count;
		snprintf(num, sizeof(num), " %lld\n", count);
		err = strbuf_append(&out, lines[i].text, strlen(lines[i].text));
		if (!err)
			err = strbuf_append(&out, num, strlen(num));
		i = j;
	}
	for (size_t i = 0; i < n_lines; i++)
		free(lines[i].text);
	free(lines);
	if (err) {
		free(out.buf);
		return err;
	}
	if (!out.buf && strbuf_append(&out, "", 0))
		return -ENOMEM;
	*text = out.buf;
	*len = out.len;
	return 0;
}

int output__svg(const struct pprof *p, const struct output_opts *opts, char **text, size_t *len)
{
	struct output_opts none = { 0 };

	if (!opts)
		opts = &none;
	return flamegraph__svg(p, &(struct flamegraph_opts){
		.title = opts->title,
		.width = opts->width,
		.icicle = opts->icicle,
		.unit = opts->unit,
	}, text, len, NULL);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

enum output_format output__format_from_extension(const char *path)
{
	if (has_suffix(path, ".folded") || has_suffix(path, ".txt"))
		return OUTPUT_FORMAT_FOLDED;
	if (has_suffix(path, ".svg"))
		return OUTPUT_FORMAT_SVG;
	if (has_suffix(path, ".pb.gz") || has_suffix(path, ".pprof") || has_suffix(path, ".pb"))
		return OUTPUT_FORMAT_PPROF;
	return OUTPUT_FORMAT_AUTO;
}

int output__write(const struct pprof *p, enum output_format format, const char *path)
{
	return output__write_opts(p, format, path, NULL);
}

int output__write_opts(const struct pprof *p, enum output_format format, const char *path,
		       const struct output_opts *opts)
{
	void *buf = NULL;
	size_t len = 0;
	int err;

	if (format == OUTPUT_FORMAT_FOLDED)
		err = output__folded(p, (char **)&buf, &len);
	else if (format == OUTPUT_FORMAT_SVG)
		err = output__svg(p, opts, (char **)&buf, &len);
	else
		err = pprof__encode(p, true, &buf, &len);
	if (!err)
		err = output__write_target(path, buf, len);
	free(buf);
	return err;
}

char *output__window_path(const char *dir, long long realtime_ns, enum output_format format)
{
	time_t secs = realtime_ns / 1000000000LL;
	int millis = (realtime_ns / 1000000LL) % 1000;
	char stamp[32];
	struct tm tm;
	size_t len;
	char *path;

	if (!gmtime_r(&secs, &tm) || !strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm)) {
		errno = EINVAL;
		return NULL;
	}
	len = strlen(dir) + strlen(stamp) + 64;
	path = malloc(len);
	if (!path)
		return NULL;
	snprintf(path, len, "%s/" WINDOW_FILE_PREFIX "%s.%03dZ.%s", dir, stamp, millis,
		 format == OUTPUT_FORMAT_FOLDED ? "folded"
		 : format == OUTPUT_FORMAT_SVG  ? "svg"
						: "pb.gz");
	return path;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_window_file(const char *name)
{
	size_t len = strlen(name);

	if (strncmp(name, WINDOW_FILE_PREFIX, strlen(WINDOW_FILE_PREFIX)) != 0)
		return false;
	return (len > 6 && strcmp(name + len - 6, ".pb.gz") == 0) ||
	       (len > 7 && strcmp(name + len - 7, ".folded") == 0) ||
	       (len > 4 && strcmp(name + len - 4, ".svg") == 0);
}

int output__prune(const char *dir, unsigned keep)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	int removed = 0, err = 0;
	struct dirent *de;
	DIR *d;

	if (!keep)
		return 0;
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!is_window_file(de->d_name))
			continue;
		err = ARRAY_GROW(&names, &cap, n + 1);
		if (err)
			break;
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			err = -ENOMEM;
			break;
		}
		n++;
	}
	/* The time stamp in the name sorts oldest first. */
	if (!err && n > keep) {
		qsort(names, n, sizeof(*names), compare_names);
		for (size_t i = 0; i < n - keep; i++)
			if (unlinkat(dirfd(d), names[i], 0) == 0)
				removed++;
	}
	closedir(d);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return err ? err : removed;
}
