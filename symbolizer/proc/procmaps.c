// SPDX-License-Identifier: Apache-2.0
#include "procmaps.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "strtab.h"

struct procmaps {
	struct procmaps_entry *entries;
	size_t n;
	size_t cap;
	size_t skipped;
	unsigned flags;
	struct strtab paths; /* each distinct path once */
};

static const char deleted_suffix[] = " (deleted)";

static bool parse_dec(const char **p, const char *end, __u64 *out)
{
	const char *s = *p;
	__u64 v = 0;

	if (s >= end || *s < '0' || *s > '9')
		return false;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		__u64 d = (__u64)(*s - '0');

		if (v > (~0ULL - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*p = s;
	*out = v;
	return true;
}

static bool expect(const char **p, const char *end, char c)
{
	if (*p >= end || **p != c)
		return false;
	(*p)++;
	return true;
}

static bool parse_perms(const char **p, const char *end, __u32 *perms)
{
	const char *s = *p;
	__u32 v = 0;

	if (end - s < 4)
		return false;
	if (s[0] == 'r')
		v |= PROCMAPS_READ;
	else if (s[0] != '-')
		return false;
	if (s[1] == 'w')
		v |= PROCMAPS_WRITE;
	else if (s[1] != '-')
		return false;
	if (s[2] == 'x')
		v |= PROCMAPS_EXEC;
	else if (s[2] != '-')
		return false;
	if (s[3] == 's')
		v |= PROCMAPS_SHARED;
	else if (s[3] != 'p')
		return false;
	*p = s + 4;
	*perms = v;
	return true;
}

/*
 * The kernel prints paths with seq_path(..., "\n"): only '\n' is escaped,
 * as "\012". Decodes that in place; returns the new length.
 */
static size_t unescape_path(char *s, size_t len)
{
	size_t r, w;

	for (r = 0, w = 0; r < len; r++, w++) {
		if (s[r] == '\\' && len - r >= 4 && memcmp(s + r, "\\012", 4) == 0) {
			s[w] = '\n';
			r += 3;
		} else {
			s[w] = s[r];
		}
	}
	return w;
}

static int procmaps__add(struct procmaps *maps, const struct procmaps_entry *e)
{
	if (maps->n == maps->cap) {
		size_t cap = maps->cap ? maps->cap * 2 : 64;
		struct procmaps_entry *tmp;

		tmp = reallocarray(maps->entries, cap, sizeof(*tmp));
		if (!tmp)
			return -ENOMEM;
		maps->entries = tmp;
		maps->cap = cap;
	}
	maps->entries[maps->n++] = *e;
	return 0;
}

/*
 * Parses one line (without its '\n'). Returns 1 if an entry was added, 0 if
 * the line was skipped (garbage or filtered), -ENOMEM.
 */
static int procmaps__parse_line(struct procmaps *maps, const char *line, size_t len)
{
	const char *p = line, *end = line + len;
	struct procmaps_entry e = {};
	__u64 major, minor;
	char *path = NULL;
	size_t plen;
	int err;

	if (!hex_parse_u64(&p, end, &e.start) || !expect(&p, end, '-') ||
	    !hex_parse_u64(&p, end, &e.end) || !expect(&p, end, ' ') ||
	    !parse_perms(&p, end, &e.perms) || !expect(&p, end, ' ') ||
	    !hex_parse_u64(&p, end, &e.offset) || !expect(&p, end, ' ') ||
	    !hex_parse_u64(&p, end, &major) || !expect(&p, end, ':') ||
	    !hex_parse_u64(&p, end, &minor) || !expect(&p, end, ' ') ||
	    !parse_dec(&p, end, &e.inode))
		goto skip;
	if (e.end <= e.start || major > 0xffffffffULL || minor > 0xffffffffULL)
		goto skip;
	e.dev_major = (__u32)major;
	e.dev_minor = (__u32)minor;
	if (p < end && *p != ' ')
		goto skip; /* junk glued to the inode */
	while (p < end && *p == ' ')
		p++;

	if ((maps->flags & PROCMAPS_EXEC_ONLY) && !(e.perms & PROCMAPS_EXEC))
		return 0;

	if (p < end) {
		plen = (size_t)(end - p);
		if (plen > sizeof(deleted_suffix) - 1 &&
		    memcmp(end - (sizeof(deleted_suffix) - 1), deleted_suffix,
			   sizeof(deleted_suffix) - 1) == 0) {
			plen -= sizeof(deleted_suffix) - 1;
			e.deleted = true;
		}
		if (memchr(p, '\\', plen)) {
			path = malloc(plen);
			if (!path)
				return -ENOMEM;
			memcpy(path, p, plen);
			plen = unescape_path(path, plen);
			p = path;
		}
		e.pseudo = e.inode == 0 && plen >= 2 && p[0] == '[' && p[plen - 1] == ']';
		e.path = strtab__intern_len(&maps->paths, p, plen);
		free(path);
		if (!e.path)
			return -ENOMEM;
	}
	err = procmaps__add(maps, &e);
	return err ? err : 1;

skip:
	maps->skipped++;
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct procmaps_entry *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

static void procmaps__finish(struct procmaps *maps)
{
	for (size_t i = 1; i < maps->n; i++) {
		if (maps->entries[i - 1].start > maps->entries[i].start) {
			qsort(maps->entries, maps->n, sizeof(*maps->entries), entry_cmp);
			break;
		}
	}
}

static struct procmaps *procmaps__alloc(unsigned flags)
{
	struct procmaps *maps = calloc(1, sizeof(*maps));

	if (!maps)
		return NULL;
	maps->flags = flags;
	return maps;
}

struct procmaps *procmaps__parse_buf(const char *buf, size_t len, unsigned flags)
{
	struct procmaps *maps;
	size_t pos = 0;
	int err = 0;

	if (!buf && len) {
		errno = EINVAL;
		return NULL;
	}
	maps = procmaps__alloc(flags);
	if (!maps)
		return NULL;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - (buf + pos)) : len - pos;

		if (llen) {
			err = procmaps__parse_line(maps, buf + pos, llen);
			if (err < 0)
				goto cleanup;
		}
		pos += llen + 1;
	}
	procmaps__finish(maps);
	return maps;

cleanup:
	procmaps__free(maps);
	errno = -err;
	return NULL;
}

struct procmaps *procmaps__parse_file(FILE *f, unsigned flags)
{
	struct procmaps *maps;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int err = 0;

	if (!f) {
		errno = EINVAL;
		return NULL;
	}
	maps = procmaps__alloc(flags);
	if (!maps)
		return NULL;
	errno = 0;
	while ((n = getline(&line, &cap, f)) >= 0) {
		size_t llen = (size_t)n;

		if (llen && line[llen - 1] == '\n')
			llen--;
		if (!llen)
			continue;
		err = procmaps__parse_line(maps, line, llen);
		if (err < 0)
			goto cleanup;
		errno = 0;
	}
	if (ferror(f)) {
		err = errno ? -errno : -EIO;
		goto cleanup;
	}
	free(line);
	procmaps__finish(maps);
	return maps;

cleanup:
	free(line);
	procmaps__free(maps);
	errno = -err;
	return NULL;
}

void procmaps__free(struct procmaps *maps)
{
	if (!maps)
		return;
	free(maps->entries);
	strtab__clear(&maps->paths);
	free(maps);
}

size_t procmaps__count(const struct procmaps *maps)
{
	return maps ? maps->n : 0;
}

const struct procmaps_entry *procmaps__entry(const struct procmaps *maps, size_t i)
{
	if (!maps || i >= maps->n)
		return NULL;
	return &maps->entries[i];
}

const struct procmaps_entry *procmaps__find(const struct procmaps *maps, __u64 addr)
{
	size_t lo = 0, hi;

	if (!maps)
		return NULL;
	hi = maps->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (maps->entries[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || addr >= maps->entries[lo - 1].end)
		return NULL;
	return &maps->entries[lo - 1];
}

size_t procmaps__skipped(const struct procmaps *maps)
{
	return maps ? maps->skipped : 0;
}
