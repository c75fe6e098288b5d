// SPDX-License-Identifier: Apache-2.0
/*
 * pprof builder and encoder.
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
#include <zlib.h>

#include "array.h"
#include "hashmap.h"
#include "pprof.h"
#include "profile.pb-c.h"

/*
 * Level 1, as Go's runtime/pprof uses: on measured profiles level 6 saved
 * only ~10% of the bytes for 3-4x the CPU, and deflate is most of the cost
 * of an encode.
 */
#ifndef PPROF_GZIP_LEVEL
#define PPROF_GZIP_LEVEL 1
#endif
#define ARENA_CHUNK_SIZE (64 * 1024)

struct arena_chunk {
	struct arena_chunk *next;
	__u64 data[]; /* __u64 so carved entries are 8-byte aligned */
};

struct arena {
	struct arena_chunk *chunks;
	char *cur;
	char *end;
};

struct str_entry {
	__u32 idx;
	__u32 len;
	char s[]; /* the key, NUL-terminated */
};

struct mapping_entry {
	__u64 id;
	struct pprof_mapping view; /* key: every field up to has_inline_frames */
};

struct function_entry {
	__u64 id;
	/* key: the whole view (canonical string pointers, system_name NULL when equal to name) */
	struct pprof_function view;
};

struct location_entry {
	struct pprof_location view; /* key: (mapping_id, address) */
	struct pprof_line lines[];
};

/*
 * Label lists are few (one per process or thread) while samples are many,
 * so samples share them instead of carrying a copy each.
 */
struct labelset_entry {
	size_t idx; /* 0.. in insertion order; the encoder's index */
	size_t n;
	struct pprof_label labels[]; /* key: canonical pointers, num 0 for string labels */
};

struct sample_entry {
	struct pprof_sample view;
	__u64 lset_key; /* key starts here: labelset idx + 1, 0 for no labels */
	__u64 ids[];    /* and continues with the stack */
};

struct pprof {
	__u64 period_ns;
	__s64 time_nanos;
	__s64 duration_ns;
	__s64 total_count;

	struct arena arena;

	struct hmap str_tab;
	char **strs; /* by index; doubles as Profile.string_table */
	size_t n_strs, cap_strs;

	struct hmap map_tab;
	struct mapping_entry **maps; /* by id - 1 */
	size_t n_maps, cap_maps;

	struct hmap fn_tab;
	struct function_entry **fns;
	size_t n_fns, cap_fns;

	struct hmap loc_tab; /* the first location of each (mapping_id, address) */
	struct location_entry **locs;
	size_t n_locs, cap_locs;
	size_t n_lines; /* over all locations, to size the encoder's arrays */

	struct hmap lset_tab;
	struct labelset_entry **lsets; /* by idx, for the encoder */
	size_t n_lsets, cap_lsets;
	size_t n_lset_labels;

	struct hmap sample_tab;
	struct sample_entry **samples;
	size_t n_samples, cap_samples;

	int64_t *comments;
	size_t n_comments, cap_comments;

	/* Scratch for lookups, reused so a hit allocates nothing. */
	__u64 *key_buf;
	size_t cap_key_buf;
	struct pprof_label *label_buf;
	size_t cap_label_buf;

	/* string_table indexes of the fixed sample and period types */
	int64_t str_samples, str_count, str_cpu, str_nanoseconds;
};

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

_Static_assert(sizeof(__u64) == sizeof(uint64_t), "location ids are handed to protobuf-c as is");

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

static int64_t str_idx(const char *s)
{
	if (!s)
		return 0;
	return ((const struct str_entry *)(s - offsetof(struct str_entry, s)))->idx;
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
	*idx = str_idx(canon);
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

/* Every element is written before use, so no zeroing. */
static void *alloc_array(size_t n, size_t elem, int *err)
{
	void *a;

	if (!n)
		return NULL;
	a = reallocarray(NULL, n, elem);
	if (!a)
		*err = -ENOMEM;
	return a;
}

/*
 * Builds the protobuf-c view of the profile in arrays allocated for this call
 * and packs it into *buf (malloc'ed). The arrays are gone on return, so a
 * gzip that follows does not hold them too.
 */
static int encode_raw(const struct pprof *p, void **buf, size_t *len)
{
	Perftools__Profiles__Profile prof = PERFTOOLS__PROFILES__PROFILE__INIT;
	Perftools__Profiles__ValueType sample_type[2] = { PERFTOOLS__PROFILES__VALUE_TYPE__INIT,
							  PERFTOOLS__PROFILES__VALUE_TYPE__INIT };
	Perftools__Profiles__ValueType *sample_type_ptrs[2] = { &sample_type[0], &sample_type[1] };
	Perftools__Profiles__ValueType period_type = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	Perftools__Profiles__Mapping *maps = NULL, **map_ptrs = NULL;
	Perftools__Profiles__Function *fns = NULL, **fn_ptrs = NULL;
	Perftools__Profiles__Location *locs = NULL, **loc_ptrs = NULL;
	Perftools__Profiles__Line *lines = NULL, **line_ptrs = NULL;
	Perftools__Profiles__Label *labels = NULL, **label_ptrs = NULL;
	Perftools__Profiles__Label ***lset_ptrs = NULL; /* by labelset idx: its slice of label_ptrs */
	Perftools__Profiles__Sample *samples = NULL, **sample_ptrs = NULL;
	int64_t *values = NULL;
	const struct labelset_entry *lset;
	size_t i, j, n_line = 0, n_label = 0;
	void *out = NULL;
	size_t out_len;
	int err = 0;

	maps = alloc_array(p->n_maps, sizeof(*maps), &err);
	map_ptrs = alloc_array(p->n_maps, sizeof(*map_ptrs), &err);
	fns = alloc_array(p->n_fns, sizeof(*fns), &err);
	fn_ptrs = alloc_array(p->n_fns, sizeof(*fn_ptrs), &err);
	locs = alloc_array(p->n_locs, sizeof(*locs), &err);
	loc_ptrs = alloc_array(p->n_locs, sizeof(*loc_ptrs), &err);
	lines = alloc_array(p->n_lines, sizeof(*lines), &err);
	line_ptrs = alloc_array(p->n_lines, sizeof(*line_ptrs), &err);
	labels = alloc_array(p->n_lset_labels, sizeof(*labels), &err);
	label_ptrs = alloc_array(p->n_lset_labels, sizeof(*label_ptrs), &err);
	lset_ptrs = alloc_array(p->n_lsets, sizeof(*lset_ptrs), &err);
	samples = alloc_array(p->n_samples, sizeof(*samples), &err);
	sample_ptrs = alloc_array(p->n_samples, sizeof(*sample_ptrs), &err);
	if (p->n_samples > SIZE_MAX / 2) {
		err = -E2BIG;
		goto cleanup;
	}
	values = alloc_array(2 * p->n_samples, sizeof(*values), &err);
	if (err)
		goto cleanup;

	sample_type[0].type = p->str_samples;
	sample_type[0].unit = p->str_count;
	sample_type[1].type = p->str_cpu;
	sample_type[1].unit = p->str_nanoseconds;
	period_type.type = p->str_cpu;
	period_type.unit = p->str_nanoseconds;

	for (i = 0; i < p->n_maps; i++) {
		const struct pprof_mapping *m = &p->maps[i]->view;

		perftools__profiles__mapping__init(&maps[i]);
		maps[i].id = p->maps[i]->id;
		maps[i].memory_start = m->start;
		maps[i].memory_limit = m->limit;
		maps[i].file_offset = m->offset;
		maps[i].filename = str_idx(m->filename);
		maps[i].build_id = str_idx(m->build_id);
		maps[i].has_functions = m->has_functions;
		maps[i].has_filenames = m->has_filenames;
		maps[i].has_line_numbers = m->has_line_numbers;
		maps[i].has_inline_frames = m->has_inline_frames;
		map_ptrs[i] = &maps[i];
	}

	for (i = 0; i < p->n_fns; i++) {
		const struct pprof_function *f = &p->fns[i]->view;

		perftools__profiles__function__init(&fns[i]);
		fns[i].id = p->fns[i]->id;
		fns[i].name = str_idx(f->name);
		fns[i].system_name = str_idx(f->system_name ? f->system_name : f->name);
		fns[i].filename = str_idx(f->filename);
		fns[i].start_line = f->start_line;
		fn_ptrs[i] = &fns[i];
	}

	for (i = 0; i < p->n_locs; i++) {
		const struct pprof_location *l = &p->locs[i]->view;

		perftools__profiles__location__init(&locs[i]);
		locs[i].id = l->id;
		locs[i].mapping_id = l->mapping_id;
		locs[i].address = l->address;
		locs[i].n_line = l->n_lines;
		if (l->n_lines)
			locs[i].line = &line_ptrs[n_line];
		for (j = 0; j < l->n_lines; j++, n_line++) {
			perftools__profiles__line__init(&lines[n_line]);
			lines[n_line].function_id = l->lines[j].function_id;
			lines[n_line].line = l->lines[j].line;
			line_ptrs[n_line] = &lines[n_line];
		}
		loc_ptrs[i] = &locs[i];
	}

	for (i = 0; i < p->n_lsets; i++) {
		lset = p->lsets[i];
		lset_ptrs[lset->idx] = &label_ptrs[n_label];
		for (j = 0; j < lset->n; j++, n_label++) {
			const struct pprof_label *l = &lset->labels[j];
			Perftools__Profiles__Label *msg = &labels[n_label];

			perftools__profiles__label__init(msg);
			msg->key = str_idx(l->key);
			msg->str = str_idx(l->str);
			msg->num = l->num;
			msg->num_unit = str_idx(l->num_unit);
			label_ptrs[n_label] = msg;
		}
	}

	for (i = 0; i < p->n_samples; i++) {
		struct sample_entry *s = p->samples[i];

		perftools__profiles__sample__init(&samples[i]);
		/*
		 * __u64 and uint64_t have the same representation (asserted
		 * above); protobuf-c only reads the ids, from another
		 * translation unit.
		 */
		samples[i].n_location_id = s->view.n_locations;
		samples[i].location_id = (uint64_t *)s->ids;
		values[2 * i] = s->view.count;
		if (__builtin_mul_overflow(s->view.count, (int64_t)p->period_ns, &values[2 * i + 1])) {
			err = -EOVERFLOW;
			goto cleanup;
		}
		samples[i].n_value = 2;
		samples[i].value = &values[2 * i];
		if (s->lset_key) {
			samples[i].n_label = s->view.n_labels;
			samples[i].label = lset_ptrs[s->lset_key - 1];
		}
		sample_ptrs[i] = &samples[i];
	}

	prof.n_sample_type = 2;
	prof.sample_type = sample_type_ptrs;
	prof.n_sample = p->n_samples;
	prof.sample = sample_ptrs;
	prof.n_mapping = p->n_maps;
	prof.mapping = map_ptrs;
	prof.n_location = p->n_locs;
	prof.location = loc_ptrs;
	prof.n_function = p->n_fns;
	prof.function = fn_ptrs;
	prof.n_string_table = p->n_strs;
	prof.string_table = p->strs;
	prof.time_nanos = p->time_nanos;
	prof.duration_nanos = p->duration_ns;
	prof.period_type = &period_type;
	prof.period = (int64_t)p->period_ns;
	prof.n_comment = p->n_comments;
	prof.comment = p->comments;

	/*
	 * One flat pack, then one deflate over it: measured ~15% faster than
	 * deflating as protobuf-c streams into a ProtobufCBuffer, for a
	 * transient buffer the size of the raw message.
	 */
	out_len = perftools__profiles__profile__get_packed_size(&prof);
	out = malloc(out_len ? out_len : 1);
	if (!out) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (perftools__profiles__profile__pack(&prof, out) != out_len) {
		free(out);
		err = -EIO;
		goto cleanup;
	}
	*buf = out;
	*len = out_len;

cleanup:
	free(values);
	free(sample_ptrs);
	free(samples);
	free(lset_ptrs);
	free(label_ptrs);
	free(labels);
	free(line_ptrs);
	free(lines);
	free(loc_ptrs);
	free(locs);
	free(fn_ptrs);
	free(fns);
	free(map_ptrs);
	free(maps);
	return err;
}

/*
 * Gzips in into *out (malloc'ed). The output starts at half the input, which
 * pprof's varints rarely exceed at level 1, and doubles when they do.
 */
static int gzip_buffer(const void *in, size_t in_len, void **out, size_t *out_len)
{
	unsigned char *buf = NULL;
	size_t cap, used;
	bool zs_live = false;
	z_stream zs;
	void *grown;
	int err = 0, ret;

	if (in_len > UINT_MAX / 2)
		return -E2BIG;
	cap = in_len / 2 + 1024;
	buf = malloc(cap);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	memset(&zs, 0, sizeof(zs));
	/* windowBits 15 + 16: a gzip wrapper rather than zlib's. */
	ret = deflateInit2(&zs, PPROF_GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	if (ret != Z_OK) {
		err = ret == Z_MEM_ERROR ? -ENOMEM : -EIO;
		goto cleanup;
	}
	zs_live = true;
	zs.next_in = (unsigned char *)in;
	zs.avail_in = (uInt)in_len;
	zs.next_out = buf;
	zs.avail_out = (uInt)cap;
	for (;;) {
		ret = deflate(&zs, Z_FINISH);
		if (ret == Z_STREAM_END)
			break;
		/* Anything else but "out of room" is a bug in how zlib was driven. */
		if ((ret != Z_OK && ret != Z_BUF_ERROR) || zs.avail_out) {
			err = -EIO;
			goto cleanup;
		}
		used = (size_t)(zs.next_out - buf);
		if (ARRAY_GROW(&buf, &cap, cap * 2)) {
			err = -ENOMEM;
			goto cleanup;
		}
		if (cap - used > UINT_MAX) {
			err = -E2BIG;
			goto cleanup;
		}
		zs.next_out = buf + used;
		zs.avail_out = (uInt)(cap - used);
	}
	*out_len = zs.total_out;
	/* Hand back no more than was used; a failed shrink keeps the big one. */
	grown = realloc(buf, *out_len);
	*out = grown ? grown : buf;
	buf = NULL;

cleanup:
	if (zs_live)
		deflateEnd(&zs);
	free(buf);
	return err;
}

int pprof__encode(const struct pprof *p, bool gzip, void **buf, size_t *len)
{
	void *raw = NULL;
	size_t raw_len = 0;
	int err;

	if (!p || !buf || !len)
		return -EINVAL;
	err = encode_raw(p, &raw, &raw_len);
	if (err)
		return err;
	if (!gzip) {
		*buf = raw;
		*len = raw_len;
		return 0;
	}
	err = gzip_buffer(raw, raw_len, buf, len);
	free(raw);
	return err;
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
