// SPDX-License-Identifier: Apache-2.0
/*
 * The pprof model: the builder that interns and merges, and the read views
 * every writer uses (the encoder and decoder are proto/codec/).
 *
 * Everything interned (strings, mappings, functions, locations, label sets,
 * samples) is carved out of an append-only arena and never freed before the
 * profile itself: that keeps entries at stable addresses (the hash tables
 * hold pointers to them, and the read views hand those pointers out) and
 * avoids a malloc header per entry. Lookups by id go through arrays of
 * pointers.
 *
 * Strings are interned first, so every string pointer stored in an entry is
 * canonical: two equal strings have the same pointer. That lets the other
 * tables hash their views byte for byte, pointers included, instead of
 * keeping a second copy of each key.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "pprof_impl.h"

#define ARENA_CHUNK_SIZE (64 * 1024)

/* Views are hashed as raw bytes: no padding may hide inside a key. */
_Static_assert(offsetof(struct pprof_mapping, filename) == 3 * sizeof(__u64), "mapping key padding");
_Static_assert(offsetof(struct pprof_mapping, build_id) ==
		       offsetof(struct pprof_mapping, filename) + sizeof(const char *),
	       "mapping key padding");
_Static_assert(offsetof(struct pprof_mapping, has_functions) ==
		       offsetof(struct pprof_mapping, build_id) + sizeof(const char *),
	       "mapping key padding");
_Static_assert(offsetof(struct pprof_mapping, has_inline_frames) ==
		       offsetof(struct pprof_mapping, has_functions) + 3 * sizeof(bool),
	       "mapping key padding");
#define MAPPING_KEY_LEN (offsetof(struct pprof_mapping, has_inline_frames) + sizeof(bool))
_Static_assert(sizeof(struct pprof_function) == 3 * sizeof(const char *) + sizeof(__s64),
	       "function key padding");
_Static_assert(offsetof(struct pprof_location, address) ==
		       offsetof(struct pprof_location, mapping_id) + sizeof(__u64),
	       "location key padding");
#define LOCATION_KEY_LEN (2 * sizeof(__u64))
_Static_assert(sizeof(struct pprof_label) == 3 * sizeof(const char *) + sizeof(__s64),
	       "label key padding");
_Static_assert(offsetof(struct sample_entry, ids) ==
		       offsetof(struct sample_entry, lset_key) + sizeof(__u64),
	       "sample key padding");

/* No key (or entry) is larger: keeps the size arithmetic from wrapping. */
#define MAX_KEY_LEN (UINT_MAX / 2)

/* What every table's lookup compares: the key's bytes. */
struct key_bytes {
	const void *p;
	size_t len;
};

static bool str_eq(const void *val, const void *key)
{
	const struct str_entry *e = val;
	const struct key_bytes *k = key;

	return e->len == k->len && memcmp(e->s, k->p, k->len) == 0;
}

static bool mapping_eq(const void *val, const void *key)
{
	return memcmp(&((const struct mapping_entry *)val)->view, key, MAPPING_KEY_LEN) == 0;
}

static bool function_eq(const void *val, const void *key)
{
	return memcmp(&((const struct function_entry *)val)->view, key,
		      sizeof(struct pprof_function)) == 0;
}

static bool location_eq(const void *val, const void *key)
{
	return memcmp(&((const struct location_entry *)val)->view.mapping_id, key,
		      LOCATION_KEY_LEN) == 0;
}

static bool labelset_eq(const void *val, const void *key)
{
	const struct labelset_entry *e = val;
	const struct key_bytes *k = key;

	return e->n * sizeof(e->labels[0]) == k->len && memcmp(e->labels, k->p, k->len) == 0;
}

static bool sample_eq(const void *val, const void *key)
{
	const struct sample_entry *e = val;
	const struct key_bytes *k = key;

	return (e->view.n_locations + 1) * sizeof(__u64) == k->len &&
	       memcmp(&e->lset_key, k->p, k->len) == 0;
}

static void *arena_alloc(struct arena *a, size_t size)
{
	struct arena_chunk *c;
	void *mem;

	/* No entry is bigger than a key can be; this also keeps the rounding from wrapping. */
	if (size > MAX_KEY_LEN)
		return NULL;
	size = (size + sizeof(__u64) - 1) & ~(sizeof(__u64) - 1);
	if (!a->cur || size > (size_t)(a->end - a->cur)) {
		if (size > ARENA_CHUNK_SIZE / 4) {
			/*
			 * A big entry gets a chunk of its own, linked behind the
			 * current one so the space left there is not wasted.
			 */
			c = malloc(sizeof(*c) + size);
			if (!c)
				return NULL;
			if (a->chunks) {
				c->next = a->chunks->next;
				a->chunks->next = c;
			} else {
				c->next = NULL;
				a->chunks = c;
			}
			return memset(c->data, 0, size);
		}
		c = malloc(ARENA_CHUNK_SIZE);
		if (!c)
			return NULL;
		c->next = a->chunks;
		a->chunks = c;
		a->cur = (char *)c->data;
		a->end = (char *)c + ARENA_CHUNK_SIZE;
	}
	mem = a->cur;
	a->cur += size;
	return memset(mem, 0, size);
}

static void arena_free(struct arena *a)
{
	struct arena_chunk *c, *next;

	for (c = a->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	a->chunks = NULL;
	a->cur = a->end = NULL;
}

/* Stores the canonical copy of s in *out. Returns 0 or -errno. */
static int str_intern(struct pprof *p, const char *s, const char **out)
{
	size_t len = strlen(s);
	struct key_bytes key = { s, len };
	struct str_entry *e;
	__u64 h;

	if (len >= MAX_KEY_LEN)
		return -E2BIG;
	h = hash_bytes(s, len);
	e = hmap__find(&p->str_tab, h, str_eq, &key);
	if (e) {
		*out = e->s;
		return 0;
	}
	if (p->n_strs >= UINT32_MAX)
		return -E2BIG;
	if (p->n_strs == p->cap_strs) {
		if (ARRAY_GROW(&p->strs, &p->cap_strs, p->n_strs + 1))
			return -ENOMEM;
	}
	e = arena_alloc(&p->arena, offsetof(struct str_entry, s) + len + 1);
	if (!e)
		return -ENOMEM;
	memcpy(e->s, s, len + 1);
	e->idx = (__u32)p->n_strs;
	e->len = (__u32)len;
	if (hmap__insert(&p->str_tab, h, e))
		return -ENOMEM;
	p->strs[p->n_strs++] = e->s;
	*out = e->s;
	return 0;
}

/* Optional strings: NULL and "" both mean unknown and become NULL. */
static int str_intern_opt(struct pprof *p, const char *s, const char **out)
{
	if (!s || !*s) {
		*out = NULL;
		return 0;
	}
	return str_intern(p, s, out);
}

static int str_intern_idx(struct pprof *p, const char *s, int64_t *idx)
{
	const char *canon;
	int err;

	err = str_intern(p, s, &canon);
	if (err)
		return err;
	*idx = pprof_str_idx(canon);
	return 0;
}

struct pprof *pprof__new(const struct pprof_opts *opts)
{
	struct pprof *p = NULL;
	const char *empty;
	int err;

	if (!opts || !opts->period_ns || opts->period_ns > INT64_MAX) {
		err = -EINVAL;
		goto cleanup;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		err = -ENOMEM;
		goto cleanup;
	}
	p->period_ns = opts->period_ns;
	p->time_nanos = opts->time_nanos;

	/* string_table[0] must be "". */
	err = str_intern(p, "", &empty);
	if (err)
		goto cleanup;
	/* Interned now so that encoding never has to change the profile. */
	err = str_intern_idx(p, "samples", &p->str_samples);
	if (err)
		goto cleanup;
	err = str_intern_idx(p, "count", &p->str_count);
	if (err)
		goto cleanup;
	err = str_intern_idx(p, "cpu", &p->str_cpu);
	if (err)
		goto cleanup;
	err = str_intern_idx(p, "nanoseconds", &p->str_nanoseconds);

cleanup:
	if (err) {
		pprof__free(p);
		errno = -err;
		return NULL;
	}
	return p;
}

void pprof__free(struct pprof *p)
{
	if (!p)
		return;
	/* the tables' slots only: the entries live in the arena */
	hmap__clear(&p->str_tab);
	hmap__clear(&p->map_tab);
	hmap__clear(&p->fn_tab);
	hmap__clear(&p->loc_tab);
	hmap__clear(&p->lset_tab);
	hmap__clear(&p->sample_tab);
	arena_free(&p->arena);
	free(p->lsets);
	free(p->strs);
	free(p->maps);
	free(p->fns);
	free(p->locs);
	free(p->samples);
	free(p->comments);
	free(p->key_buf);
	free(p->label_buf);
	free(p);
}

__u64 pprof__add_mapping(struct pprof *p, const struct pprof_mapping *m)
{
	struct mapping_entry *e = NULL;
	struct pprof_mapping key;
	int err = 0;
	__u64 h;

	if (!p || !m || m->limit < m->start) {
		err = -EINVAL;
		goto cleanup;
	}
	memset(&key, 0, sizeof(key));
	key.start = m->start;
	key.limit = m->limit;
	key.offset = m->offset;
	err = str_intern_opt(p, m->filename, &key.filename);
	if (err)
		goto cleanup;
	err = str_intern_opt(p, m->build_id, &key.build_id);
	if (err)
		goto cleanup;
	key.has_functions = m->has_functions;
	key.has_filenames = m->has_filenames;
	key.has_line_numbers = m->has_line_numbers;
	key.has_inline_frames = m->has_inline_frames;

	h = hash_bytes(&key, MAPPING_KEY_LEN);
	e = hmap__find(&p->map_tab, h, mapping_eq, &key);
	if (e)
		goto cleanup;

	if (p->n_maps == p->cap_maps) {
		if (ARRAY_GROW(&p->maps, &p->cap_maps, p->n_maps + 1)) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
	e = arena_alloc(&p->arena, sizeof(*e));
	if (!e) {
		err = -ENOMEM;
		goto cleanup;
	}
	e->id = p->n_maps + 1;
	e->view = key;
	if (hmap__insert(&p->map_tab, h, e)) {
		err = -ENOMEM;
		goto cleanup;
	}
	p->maps[p->n_maps++] = e;

cleanup:
	if (err) {
		errno = -err;
		return 0;
	}
	return e->id;
}

__u64 pprof__add_function(struct pprof *p, const struct pprof_function *f)
{
	struct function_entry *e = NULL;
	struct pprof_function key;
	int err = 0;
	__u64 h;

	if (!p || !f || !f->name) {
		err = -EINVAL;
		goto cleanup;
	}
	memset(&key, 0, sizeof(key));
	err = str_intern(p, f->name, &key.name);
	if (err)
		goto cleanup;
	err = str_intern_opt(p, f->system_name, &key.system_name);
	if (err)
		goto cleanup;
	/* One spelling for "same as name", so both intern to the same entry. */
	if (key.system_name == key.name)
		key.system_name = NULL;
	err = str_intern_opt(p, f->filename, &key.filename);
	if (err)
		goto cleanup;
	key.start_line = f->start_line;

	h = hash_bytes(&key, sizeof(key));
	e = hmap__find(&p->fn_tab, h, function_eq, &key);
	if (e)
		goto cleanup;

	if (p->n_fns == p->cap_fns) {
		if (ARRAY_GROW(&p->fns, &p->cap_fns, p->n_fns + 1)) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
	e = arena_alloc(&p->arena, sizeof(*e));
	if (!e) {
		err = -ENOMEM;
		goto cleanup;
	}
	e->id = p->n_fns + 1;
	e->view = key;
	if (hmap__insert(&p->fn_tab, h, e)) {
		err = -ENOMEM;
		goto cleanup;
	}
	p->fns[p->n_fns++] = e;

cleanup:
	if (err) {
		errno = -err;
		return 0;
	}
	return e->id;
}

static __u64 add_location(struct pprof *p, __u64 mapping_id, __u64 address,
			  const struct pprof_line *lines, size_t n_lines, bool always_new)
{
	struct location_entry *e = NULL, *existing = NULL;
	struct pprof_location key;
	size_t i;
	int err = 0;
	__u64 h;

	if (!p || (n_lines && !lines) || mapping_id > p->n_maps) {
		err = -EINVAL;
		goto cleanup;
	}
	for (i = 0; i < n_lines; i++) {
		if (!lines[i].function_id || lines[i].function_id > p->n_fns) {
			err = -EINVAL;
			goto cleanup;
		}
	}
	if (n_lines > (MAX_KEY_LEN - sizeof(*e)) / sizeof(*lines)) {
		err = -E2BIG;
		goto cleanup;
	}

	memset(&key, 0, sizeof(key));
	key.mapping_id = mapping_id;
	key.address = address;
	h = hash_pair(mapping_id, address);
	existing = hmap__find(&p->loc_tab, h, location_eq, &key.mapping_id);
	if (existing && !always_new) {
		e = existing;
		goto cleanup;
	}

	if (p->n_locs == p->cap_locs) {
		if (ARRAY_GROW(&p->locs, &p->cap_locs, p->n_locs + 1)) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
	e = arena_alloc(&p->arena, sizeof(*e) + n_lines * sizeof(*lines));
	if (!e) {
		err = -ENOMEM;
		goto cleanup;
	}
	e->view = key;
	e->view.id = p->n_locs + 1;
	if (n_lines) {
		memcpy(e->lines, lines, n_lines * sizeof(*lines));
		e->view.lines = e->lines;
		e->view.n_lines = n_lines;
	}
	/* Lookups keep finding the first location with this key; later ones are reached by id. */
	if (!existing && hmap__insert(&p->loc_tab, h, e)) {
		err = -ENOMEM;
		goto cleanup;
	}
	p->locs[p->n_locs++] = e;
	p->n_lines += n_lines;

cleanup:
	if (err) {
		errno = -err;
		return 0;
	}
	return e->view.id;
}

__u64 pprof__add_location(struct pprof *p, __u64 mapping_id, __u64 address,
			  const struct pprof_line *lines, size_t n_lines)
{
	return add_location(p, mapping_id, address, lines, n_lines, false);
}

__u64 pprof__append_location(struct pprof *p, __u64 mapping_id, __u64 address,
			     const struct pprof_line *lines, size_t n_lines)
{
	return add_location(p, mapping_id, address, lines, n_lines, true);
}

/* Interns a label list (n >= 1) and stores its entry in *out. Returns 0 or -errno. */
static int labelset_intern(struct pprof *p, const struct pprof_label *labels, size_t n,
			   const struct labelset_entry **out)
{
	struct labelset_entry *e;
	struct pprof_label *key;
	struct key_bytes kb;
	size_t i, key_len;
	int err;
	__u64 h;

	if (n > (MAX_KEY_LEN - sizeof(*e)) / sizeof(*labels))
		return -E2BIG;
	if (n > p->cap_label_buf) {
		if (ARRAY_GROW(&p->label_buf, &p->cap_label_buf, n))
			return -ENOMEM;
	}
	/* Check them all first, so a bad list leaves nothing behind. */
	for (i = 0; i < n; i++) {
		if (!labels[i].key || !*labels[i].key)
			return -EINVAL;
	}
	key = p->label_buf;
	memset(key, 0, n * sizeof(*key));
	for (i = 0; i < n; i++) {
		err = str_intern(p, labels[i].key, &key[i].key);
		if (err)
			return err;
		if (labels[i].str) {
			/* num and num_unit mean nothing on a string label. */
			err = str_intern(p, labels[i].str, &key[i].str);
		} else {
			key[i].num = labels[i].num;
			err = str_intern_opt(p, labels[i].num_unit, &key[i].num_unit);
		}
		if (err)
			return err;
	}
	key_len = n * sizeof(*key);
	kb = (struct key_bytes){ key, key_len };
	h = hash_bytes(key, key_len);
	e = hmap__find(&p->lset_tab, h, labelset_eq, &kb);
	if (e) {
		*out = e;
		return 0;
	}
	if (ARRAY_GROW(&p->lsets, &p->cap_lsets, p->n_lsets + 1))
		return -ENOMEM;
	e = arena_alloc(&p->arena, sizeof(*e) + key_len);
	if (!e)
		return -ENOMEM;
	e->idx = p->n_lsets;
	e->n = n;
	memcpy(e->labels, key, key_len);
	if (hmap__insert(&p->lset_tab, h, e))
		return -ENOMEM;
	p->lsets[p->n_lsets++] = e;
	p->n_lset_labels += n;
	*out = e;
	return 0;
}

int pprof__add_sample(struct pprof *p, const __u64 *location_ids, size_t n_locations,
		      __s64 count, const struct pprof_label *labels, size_t n_labels)
{
	const struct labelset_entry *lset = NULL;
	struct sample_entry *e;
	struct key_bytes kb;
	size_t i, key_len;
	__u64 h;
	__s64 total, merged;
	int err;

	if (!p || (n_locations && !location_ids) || (n_labels && !labels) || count <= 0)
		return -EINVAL;
	for (i = 0; i < n_locations; i++) {
		if (!location_ids[i] || location_ids[i] > p->n_locs)
			return -EINVAL;
	}
	if (n_locations > (MAX_KEY_LEN - sizeof(*e)) / sizeof(*location_ids))
		return -E2BIG;
	if (__builtin_add_overflow(p->total_count, count, &total))
		return -EOVERFLOW;

	if (n_labels) {
		err = labelset_intern(p, labels, n_labels, &lset);
		if (err)
			return err;
	}

	if (n_locations + 1 > p->cap_key_buf) {
		if (ARRAY_GROW(&p->key_buf, &p->cap_key_buf, n_locations + 1))
			return -ENOMEM;
	}
	p->key_buf[0] = lset ? lset->idx + 1 : 0;
	if (n_locations)
		memcpy(&p->key_buf[1], location_ids, n_locations * sizeof(*location_ids));
	key_len = (n_locations + 1) * sizeof(*p->key_buf);
	kb = (struct key_bytes){ p->key_buf, key_len };
	h = hash_bytes(p->key_buf, key_len);
	e = hmap__find(&p->sample_tab, h, sample_eq, &kb);
	if (e) {
		if (__builtin_add_overflow(e->view.count, count, &merged))
			return -EOVERFLOW;
		e->view.count = merged;
		p->total_count = total;
		return 0;
	}

	if (p->n_samples == p->cap_samples) {
		if (ARRAY_GROW(&p->samples, &p->cap_samples, p->n_samples + 1))
			return -ENOMEM;
	}
	e = arena_alloc(&p->arena, sizeof(*e) + n_locations * sizeof(*location_ids));
	if (!e)
		return -ENOMEM;
	e->lset_key = p->key_buf[0];
	if (n_locations) {
		memcpy(e->ids, &p->key_buf[1], n_locations * sizeof(*e->ids));
		e->view.location_ids = e->ids;
	}
	e->view.n_locations = n_locations;
	e->view.count = count;
	if (lset) {
		e->view.labels = lset->labels;
		e->view.n_labels = lset->n;
	}
	if (hmap__insert(&p->sample_tab, h, e))
		return -ENOMEM;
	p->samples[p->n_samples++] = e;
	p->total_count = total;
	return 0;
}

int pprof__set_duration(struct pprof *p, __u64 duration_ns)
{
	if (!p || duration_ns > INT64_MAX)
		return -EINVAL;
	p->duration_ns = (__s64)duration_ns;
	return 0;
}

int pprof__add_comment(struct pprof *p, const char *comment)
{
	int64_t idx;
	int err;

	if (!p || !comment)
		return -EINVAL;
	if (p->n_comments == p->cap_comments) {
		if (ARRAY_GROW(&p->comments, &p->cap_comments, p->n_comments + 1))
			return -ENOMEM;
	}
	err = str_intern_idx(p, comment, &idx);
	if (err)
		return err;
	p->comments[p->n_comments++] = idx;
	return 0;
}

size_t pprof__num_samples(const struct pprof *p)
{
	return p ? p->n_samples : 0;
}

const struct pprof_sample *pprof__sample(const struct pprof *p, size_t index)
{
	if (!p || index >= p->n_samples) {
		errno = ENOENT;
		return NULL;
	}
	return &p->samples[index]->view;
}

const struct pprof_location *pprof__location(const struct pprof *p, __u64 id)
{
	if (!p || !id || id > p->n_locs) {
		errno = ENOENT;
		return NULL;
	}
	return &p->locs[id - 1]->view;
}

const struct pprof_mapping *pprof__mapping(const struct pprof *p, __u64 id)
{
	if (!p || !id || id > p->n_maps) {
		errno = ENOENT;
		return NULL;
	}
	return &p->maps[id - 1]->view;
}

const struct pprof_function *pprof__function(const struct pprof *p, __u64 id)
{
	if (!p || !id || id > p->n_fns) {
		errno = ENOENT;
		return NULL;
	}
	return &p->fns[id - 1]->view;
}

__s64 pprof__total_count(const struct pprof *p)
{
	return p ? p->total_count : 0;
}

__u64 pprof__period_ns(const struct pprof *p)
{
	return p ? p->period_ns : 0;
}

__s64 pprof__time_nanos(const struct pprof *p)
{
	return p ? p->time_nanos : 0;
}

__s64 pprof__duration_ns(const struct pprof *p)
{
	return p ? p->duration_ns : 0;
}

size_t pprof__num_mappings(const struct pprof *p)
{
	return p ? p->n_maps : 0;
}

size_t pprof__num_functions(const struct pprof *p)
{
	return p ? p->n_fns : 0;
}

size_t pprof__num_locations(const struct pprof *p)
{
	return p ? p->n_locs : 0;
}

size_t pprof__num_comments(const struct pprof *p)
{
	return p ? p->n_comments : 0;
}

const char *pprof__comment(const struct pprof *p, size_t index)
{
	if (!p || index >= p->n_comments) {
		errno = ENOENT;
		return NULL;
	}
	return p->strs[p->comments[index]];
}
