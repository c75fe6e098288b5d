// SPDX-License-Identifier: Apache-2.0
#include "perfmap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "strtab.h"

#define DEFAULT_MAX_ENTRIES (1u << 20)
/* Entries before the nearest start still checked for one covering an address. */
#define OVERLAP_SCAN 16
#define MAX_NAME_LEN 4096

struct perfmap {
	struct perfmap_entry *entries;
	size_t n, cap, max_entries;
	size_t sorted;  /* entries[0..sorted) are in order */
	__u64 next_seq;
	size_t skipped, dropped;
	struct strtab names;
};

struct perfmap *perfmap__new(size_t max_entries)
{
	struct perfmap *pm = calloc(1, sizeof(*pm));

	if (!pm) {
		errno = ENOMEM;
		return NULL;
	}
	pm->max_entries = max_entries ? max_entries : DEFAULT_MAX_ENTRIES;
	return pm;
}

void perfmap__free(struct perfmap *pm)
{
	if (!pm)
		return;
	free(pm->entries);
	strtab__clear(&pm->names);
	free(pm);
}

/* A hex number at *p (optional 0x), ending at a space; advances *p past the space. */
static bool parse_hex(const char **p, const char *end, __u64 *out)
{
	const char *s = *p;

	if (end - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	if (!hex_parse_u64(&s, end, out) || s == end || *s != ' ')
		return false;
	*p = s + 1;
	return true;
}

static int add_line(struct perfmap *pm, const char *line, const char *end)
{
	const char *p = line, *name;
	__u64 start, size;
	size_t len;

	if (end > line && end[-1] == '\r')
		end--;
	if (!parse_hex(&p, end, &start) || !parse_hex(&p, end, &size))
		goto skip;
	name = p;
	len = (size_t)(end - name);
	if (!size || start + size < start || !len || len > MAX_NAME_LEN || memchr(name, '\0', len))
		goto skip;
	if (pm->n == pm->max_entries) {
		pm->dropped++;
		return 0;
	}
	if (pm->n == pm->cap) {
		size_t cap = pm->cap ? pm->cap * 2 : 256;
		struct perfmap_entry *e;

		if (cap > pm->max_entries)
			cap = pm->max_entries;
		e = reallocarray(pm->entries, cap, sizeof(*e));
		if (!e)
			return -ENOMEM;
		pm->entries = e;
		pm->cap = cap;
	}
	pm->entries[pm->n].name = strtab__intern_len(&pm->names, name, len);
	if (!pm->entries[pm->n].name)
		return -ENOMEM;
	pm->entries[pm->n].start = start;
	pm->entries[pm->n].end = start + size;
	pm->entries[pm->n].seq = pm->next_seq++;
	pm->n++;
	return 0;
skip:
	if (end > line) /* blank lines are not worth counting */
		pm->skipped++;
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct perfmap_entry *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

ssize_t perfmap__parse(struct perfmap *pm, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;

	if (!pm || (len && !buf))
		return -EINVAL;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		int err;

		if (!nl)
			break;
		err = add_line(pm, p, nl);
		if (err)
			return err;
		p = nl + 1;
	}
	return (ssize_t)(p - buf);
}

static void ensure_sorted(struct perfmap *pm)
{
	if (pm->sorted == pm->n)
		return;
	qsort(pm->entries, pm->n, sizeof(*pm->entries), entry_cmp);
	pm->sorted = pm->n;
}

const struct perfmap_entry *perfmap__find(struct perfmap *pm, __u64 addr)
{
	const struct perfmap_entry *best = NULL;
	size_t lo = 0, hi;

	if (!pm || !pm->n)
		return NULL;
	ensure_sorted(pm);
	hi = pm->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pm->entries[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i > 0 && lo - i < OVERLAP_SCAN; i--) {
		const struct perfmap_entry *e = &pm->entries[i - 1];

		if (addr < e->end && (!best || e->seq > best->seq))
			best = e;
	}
	return best;
}

size_t perfmap__count(const struct perfmap *pm)
{
	return pm ? pm->n : 0;
}

size_t perfmap__skipped(const struct perfmap *pm)
{
	return pm ? pm->skipped : 0;
}

size_t perfmap__dropped(const struct perfmap *pm)
{
	return pm ? pm->dropped : 0;
}

size_t perfmap__memory(const struct perfmap *pm)
{
	return pm ? sizeof(*pm) + pm->cap * sizeof(*pm->entries) + pm->names.bytes : 0;
}
