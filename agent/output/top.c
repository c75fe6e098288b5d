// SPDX-License-Identifier: Apache-2.0
#include "top.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "hashmap.h"
#include "utf8.h"

static const char unknown_name[] = "[unknown]";

/*
 * Functions are keyed by their name's pointer: the profile interns strings,
 * so two functions with one name (say, in two files) are one row, as pprof
 * shows them.
 */
struct row {
	struct top_entry e;
	size_t stamp; /* the last sample counted in cum, plus one */
};

/* Rows move when their array grows: the index holds a row's index + 1. */
struct table {
	struct row *rows;
	size_t n, cap;
	struct hmap index; /* name pointer → row index + 1 */
};

struct row_key {
	const struct table *t;
	const char *name;
	bool mapping;
};

static bool row_eq(const void *val, const void *key)
{
	const struct row_key *k = key;
	const struct top_entry *e = &k->t->rows[(uintptr_t)val - 1].e;

	return e->name == k->name && e->mapping == k->mapping;
}

static struct row *table_get(struct table *t, const char *name, bool mapping)
{
	struct row_key key = { t, name, mapping };
	__u64 h = hash_u64((uintptr_t)name ^ mapping);
	void *found = hmap__find(&t->index, h, row_eq, &key);

	if (found)
		return &t->rows[(uintptr_t)found - 1];
	if (ARRAY_GROW(&t->rows, &t->cap, t->n + 1) ||
	    hmap__insert(&t->index, h, (void *)(uintptr_t)(t->n + 1)))
		return NULL;
	t->rows[t->n] = (struct row){ .e.name = name, .e.mapping = mapping };
	return &t->rows[t->n++];
}

static int compare_entries(const void *a, const void *b)
{
	const struct top_entry *x = a, *y = b;

	if (x->flat != y->flat)
		return x->flat > y->flat ? -1 : 1;
	if (x->cum != y->cum)
		return x->cum > y->cum ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Counts one frame of sample i (stamp i + 1): cum once per sample, flat for the leaf. */
static int count_frame(struct table *t, const char *name, bool mapping, size_t stamp,
		       __s64 count, bool leaf)
{
	struct row *r = table_get(t, name, mapping);

	if (!r)
		return -ENOMEM;
	if (r->stamp != stamp) {
		r->stamp = stamp;
		r->e.cum += count;
	}
	if (leaf)
		r->e.flat += count;
	return 0;
}

static const char *sample_comm(const struct pprof_sample *s)
{
	for (size_t i = 0; i < s->n_labels; i++)
		if (strcmp(s->labels[i].key, "comm") == 0 && s->labels[i].str)
			return s->labels[i].str;
	return unknown_name;
}

/*
 * Code without a name is counted under its mapping, as pprof shows it:
 * "[unknown]" for a whole capture's worth of libraries hides where it ran.
 */
static int count_location(struct table *t, const struct pprof *p,
			  const struct pprof_location *loc, size_t stamp, __s64 count, bool leaf)
{
	int err = 0;

	if (!loc->n_lines) {
		const struct pprof_mapping *m = pprof__mapping(p, loc->mapping_id);
		bool named = m && m->filename && *m->filename;

		return count_frame(t, named ? m->filename : unknown_name, named, stamp, count, leaf);
	}
	/* lines[0] is the innermost inlined function: the leaf's own code. */
	for (size_t l = 0; l < loc->n_lines && !err; l++) {
		const struct pprof_function *fn = pprof__function(p, loc->lines[l].function_id);

		err = count_frame(t, fn && fn->name ? fn->name : unknown_name, false, stamp, count,
				  leaf && l == 0);
	}
	return err;
}

long top__compute(const struct pprof *p, enum top_by by, struct top_entry **entries)
{
	struct table t = { 0 };
	struct top_entry *out;
	int err = 0;

	for (size_t i = 0; i < pprof__num_samples(p) && !err; i++) {
		const struct pprof_sample *s = pprof__sample(p, i);

		if (by == TOP_BY_COMM) {
			err = count_frame(&t, sample_comm(s), false, i + 1, s->count, true);
			continue;
		}
		for (size_t j = 0; j < s->n_locations && !err; j++) {
			const struct pprof_location *loc = pprof__location(p, s->location_ids[j]);

			err = loc ? count_location(&t, p, loc, i + 1, s->count, j == 0) : -EINVAL;
		}
	}
	out = err ? NULL : calloc(t.n ? t.n : 1, sizeof(*out));
	if (!err && !out)
		err = -ENOMEM;
	if (!err) {
		for (size_t i = 0; i < t.n; i++)
			out[i] = t.rows[i].e;
		qsort(out, t.n, sizeof(*out), compare_entries);
		*entries = out;
	}
	free(t.rows);
	hmap__clear(&t.index);
	return err ? err : (long)t.n;
}

static void thousands(__s64 v, char *buf, size_t size)
{
	char digits[32];
	int len = snprintf(digits, sizeof(digits), "%" PRId64, (int64_t)v);
	size_t out = 0;

	for (int i = 0; i < len && out + 2 < size; i++) {
		buf[out++] = digits[i];
		if (digits[i] != '-' && (len - i - 1) % 3 == 0 && i + 1 < len)
			buf[out++] = ',';
	}
	buf[out] = '\0';
}

static double share(__s64 part, __s64 total)
{
	return total > 0 ? 100.0 * (double)part / (double)total : 0;
}

/*
 * Names and units come from files anyone can write: no control character,
 * C1 ones included, reaches the terminal.
 */
static void put_printable(FILE *f, const char *s)
{
	char *copy = strdup(s);

	if (!copy) {
		fputs("?", f);
		return;
	}
	(void)utf8_make_printable(copy, NULL);
	fputs(copy, f);
	free(copy);
}

static void put_name(FILE *f, const struct top_entry *e)
{
	const char *name = e->name, *slash = strrchr(name, '/');
	bool brackets = e->mapping && name[0] != '[';

	if (e->mapping && slash && slash[1])
		name = slash + 1;
	if (brackets)
		fputc('[', f);
	put_printable(f, name);
	if (brackets)
		fputc(']', f);
	fputc('\n', f);
}

int top__format(const struct pprof *p, size_t n, enum top_by by, const char *unit, char **text)
{
	const char *what = by == TOP_BY_COMM ? "process" : "function";
	__s64 total = pprof__total_count(p), sum = 0;
	struct top_entry *e = NULL;
	long count = top__compute(p, by, &e);
	char *buf = NULL;
	size_t len = 0;
	char t[32];
	FILE *f;

	if (count < 0)
		return (int)count;
	f = open_memstream(&buf, &len);
	if (!f) {
		free(e);
		return -ENOMEM;
	}
	if ((size_t)count < n)
		n = (size_t)count;
	thousands(total, t, sizeof(t));
	fprintf(f, "Top %zu of %ld %s, %s ", n, count,
		by == TOP_BY_COMM ? "processes" : "functions", t);
	put_printable(f, unit ? unit : "samples");
	fputs(":\n", f);
	fprintf(f, "%12s %7s %7s %12s %7s  %s\n", "flat", "flat%", "sum%", "cum", "cum%", what);
	for (size_t i = 0; i < n; i++) {
		char flat[32], cum[32];

		sum += e[i].flat;
		thousands(e[i].flat, flat, sizeof(flat));
		thousands(e[i].cum, cum, sizeof(cum));
		fprintf(f, "%12s %6.2f%% %6.2f%% %12s %6.2f%%  ", flat, share(e[i].flat, total),
			share(sum, total), cum, share(e[i].cum, total));
		put_name(f, &e[i]);
	}
	free(e);
	if (fclose(f) || !buf) {
		free(buf);
		return -ENOMEM;
	}
	*text = buf;
	return 0;
}
