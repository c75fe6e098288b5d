/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The stacks of a profile merged into a tree, root first: what a flame
 * graph draws. One node per distinct path of frames; a frame is a function
 * (name and source file) of a kind, and an inlined function is a frame of
 * its own, as in the folded output. Nodes point into the profile's strings,
 * so the profile must outlive the tree.
 */
#ifndef FORNAX_FLAME_H
#define FORNAX_FLAME_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "pprof.h"

/*
 * What a frame is, for colours and for the folded suffixes. How a location
 * is classified (see flame__location_kind):
 *   KERNEL  its mapping is the kernel's: named "[kernel...]" (fornax and
 *           Parca use "[kernel.kallsyms]"), or any mapping at an address in
 *           the upper half of the address space;
 *   JIT     symbolized code in a mapping that is not an ELF file: a perf map
 *           ("/tmp/perf-PID.map", which perf and fornax name as the mapping
 *           of JIT frames), a jitdump image ("jitted-*"), "[jit]", or an
 *           anonymous mapping ("", "//anon", "[anon:*]");
 *   PYTHON  a Python frame: the mapping "[python]" that fornax gives the
 *           frames its walker found in CPython processes;
 *   UNKNOWN no function could be named (no lines), or a pseudo frame such
 *           as "[truncated]" or "[python: unreadable]" that has no mapping;
 *   NATIVE  everything else: user code in an ELF file.
 */
enum flame_kind {
	FLAME_ROOT,
	FLAME_PROCESS, /* the process (comm label) a stack belongs to */
	FLAME_NATIVE,
	FLAME_KERNEL,
	FLAME_JIT,
	FLAME_PYTHON,
	FLAME_UNKNOWN,
	NR_FLAME_KINDS,
};

#define FLAME_NONE ((size_t)-1)

struct flame_node {
	const char *name;    /* never NULL */
	const char *file;    /* source file; for unknown frames the mapping's file; NULL if none */
	__s64 line_min;      /* lines seen in this frame; 0 if none */
	__s64 line_max;
	__s64 total;         /* count of samples through this frame */
	__s64 self;          /* count of samples ending here */
	size_t parent;       /* FLAME_NONE for the root */
	size_t first_child;  /* children sorted by name, then file, then kind */
	size_t next_sibling;
	__u32 depth;         /* root 0 */
	enum flame_kind kind;
};

struct flame_opts {
	bool no_process;     /* no per-process level under the root */
	unsigned max_depth;  /* deeper frames fold into one; 0: 1024 */
};

struct flame_stats {
	size_t nodes;
	__s64 total;
	unsigned depth;              /* deepest node */
	__s64 truncated_samples;     /* samples whose stack was cut at max_depth */
};

struct flame;

/* NULL with errno set. */
struct flame *flame__new(const struct pprof *p, const struct flame_opts *opts);
void flame__free(struct flame *f);

/* Node 0 is the root ("all"); a parent's index is below its children's. */
size_t flame__num_nodes(const struct flame *f);
const struct flame_node *flame__node(const struct flame *f, size_t index);
void flame__stats(const struct flame *f, struct flame_stats *out);

enum flame_kind flame__location_kind(const struct pprof *p, const struct pprof_location *loc);

#endif /* FORNAX_FLAME_H */
