/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The profile model's inside, for its codec (proto/codec/) only: the
 * encoder walks the tables directly, and reuses the label sets samples
 * share. Other modules use the read views in pprof.h.
 */
#ifndef FORNAX_PPROF_IMPL_H
#define FORNAX_PPROF_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "hashmap.h"
#include "pprof.h"

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

/* The string_table index of a string the profile interned (NULL: 0, ""). */
static inline int64_t pprof_str_idx(const char *s)
{
	if (!s)
		return 0;
	return ((const struct str_entry *)(s - offsetof(struct str_entry, s)))->idx;
}

#endif /* FORNAX_PPROF_IMPL_H */
