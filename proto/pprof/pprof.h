/* SPDX-License-Identifier: Apache-2.0 */
/*
 * In-memory pprof profile: a builder that interns strings, mappings,
 * functions and locations (ids 1..N in insertion order, as Parca requires)
 * and merges samples with the same stack and labels; and read accessors for
 * every writer (folded stacks, flame graphs, the encoder in
 * proto/codec/pprof_codec.h). No wire format here.
 *
 * Library code: returns -errno / 0 ids with errno set, never logs.
 */
#ifndef FORNAX_PPROF_H
#define FORNAX_PPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct pprof;

struct pprof_opts {
	__u64 period_ns;  /* nanoseconds of CPU per sample: 1e9 / frequency; required */
	__s64 time_nanos; /* window start, ns since the Unix epoch */
};

struct pprof_mapping {
	__u64 start;
	__u64 limit;
	__u64 offset;
	const char *filename;
	const char *build_id; /* hex; NULL or "" if unknown */
	bool has_functions;
	bool has_filenames;
	bool has_line_numbers;
	bool has_inline_frames;
};

struct pprof_line {
	__u64 function_id;
	__s64 line;
};

struct pprof_function {
	const char *name;        /* demangled */
	const char *system_name; /* mangled; NULL means same as name */
	const char *filename;    /* NULL if unknown */
	__s64 start_line;
};

/* A label is a string label when str is non-NULL, else numeric (num, num_unit). */
struct pprof_label {
	const char *key;
	const char *str;
	__s64 num;
	const char *num_unit; /* NULL if none */
};

/*
 * Read-only views returned by the accessors; valid until the profile changes
 * or is freed. Their strings are the profile's interned copies; an optional
 * string that was NULL or "" reads back as NULL, and so does a system_name
 * equal to name.
 */
struct pprof_location {
	__u64 id;
	__u64 mapping_id; /* 0: none */
	__u64 address;
	const struct pprof_line *lines; /* lines[0] innermost inlined function, last the outer caller */
	size_t n_lines;
};

struct pprof_sample {
	const __u64 *location_ids; /* leaf first */
	size_t n_locations;
	__s64 count;               /* value[0]; value[1] is count * period_ns */
	const struct pprof_label *labels;
	size_t n_labels;
};

/* NULL with errno set on failure. */
struct pprof *pprof__new(const struct pprof_opts *opts);
void pprof__free(struct pprof *p);

/* Interned by all fields (limit >= start); returns the id (>= 1), or 0 with errno set. */
__u64 pprof__add_mapping(struct pprof *p, const struct pprof_mapping *m);
/* Interned by (name, system_name, filename, start_line); returns the id or 0 with errno set. */
__u64 pprof__add_function(struct pprof *p, const struct pprof_function *f);
/*
 * Interned by (mapping_id, address): a second call with the same pair returns
 * the first id and ignores lines. mapping_id 0 means no mapping. n_lines 0 is
 * an unsymbolized location. Returns the id or 0 with errno set.
 */
__u64 pprof__add_location(struct pprof *p, __u64 mapping_id, __u64 address,
			  const struct pprof_line *lines, size_t n_lines);
/*
 * Like pprof__add_location, but always adds a new location, even when one
 * with the same (mapping_id, address) exists. For profiles written by other
 * tools, whose locations may carry no address (0) and differ only in their
 * lines. pprof__add_location keeps returning the first one.
 */
__u64 pprof__append_location(struct pprof *p, __u64 mapping_id, __u64 address,
			     const struct pprof_line *lines, size_t n_lines);
/*
 * Adds count (> 0) samples of a stack (leaf first). A sample with the same
 * locations and labels (same keys, values, order) is merged by adding counts.
 * Label keys must be non-empty. Returns 0, -EINVAL for bad arguments or an
 * unknown location id, -EOVERFLOW if a count would overflow, or -ENOMEM.
 */
int pprof__add_sample(struct pprof *p, const __u64 *location_ids, size_t n_locations,
		      __s64 count, const struct pprof_label *labels, size_t n_labels);

int pprof__set_duration(struct pprof *p, __u64 duration_ns);
/* Free-text note carried in Profile.comment (e.g. what a window dropped). */
int pprof__add_comment(struct pprof *p, const char *comment);

/* Read access, for the writers. */
size_t pprof__num_samples(const struct pprof *p);
const struct pprof_sample *pprof__sample(const struct pprof *p, size_t index);
/* By id (1..N); NULL if out of range. */
const struct pprof_location *pprof__location(const struct pprof *p, __u64 id);
const struct pprof_mapping *pprof__mapping(const struct pprof *p, __u64 id);
const struct pprof_function *pprof__function(const struct pprof *p, __u64 id);
__s64 pprof__total_count(const struct pprof *p);
__u64 pprof__period_ns(const struct pprof *p);
__s64 pprof__time_nanos(const struct pprof *p);
__s64 pprof__duration_ns(const struct pprof *p);

/* Table sizes and comments, for writers that rebuild a profile (e.g. split it). */
size_t pprof__num_mappings(const struct pprof *p);
size_t pprof__num_functions(const struct pprof *p);
size_t pprof__num_locations(const struct pprof *p);
size_t pprof__num_comments(const struct pprof *p);
/* NULL with errno set if out of range. */
const char *pprof__comment(const struct pprof *p, size_t index);

#endif /* FORNAX_PPROF_H */
