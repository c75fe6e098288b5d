/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Python code objects read out of their processes, cached per (process,
 * code object address): qualified name, file name, first line and the
 * location table, from which each frame's line is computed. Entries come
 * from the copies the walker sends while a process lives
 * (py_code_cache__add), or are read from the process at a lookup.
 *
 * A code object can be freed and its memory reused for another one. Each
 * entry keeps the fields a code object never changes (its type, size,
 * first line and the addresses of its name, file name and location table)
 * and re-reads them the first time it is used in a cycle: a different
 * object there replaces the entry (counted as reused). Samples taken
 * before such a reuse and drained after it can still name the new object;
 * that window is one drain interval.
 *
 * Bounded in entries and bytes; entries unused for idle_cycles cycles, and
 * those of processes reported gone, are freed by py_code_cache__end_cycle().
 * Library code: returns -errno, never logs.
 */
#ifndef FORNAX_PY_CODE_H
#define FORNAX_PY_CODE_H

#include <stddef.h>
#include <linux/types.h>

#include "py_detect.h"
#include "py_mem.h"

struct py_code_cache;

struct py_code_cache_opts {
	size_t max_entries;   /* 0: 65536 */
	size_t max_bytes;     /* names, file names and location tables; 0: 64 MiB */
	unsigned idle_cycles; /* 0: 60 */
	size_t max_string;    /* characters of a name or file name; 0: 4096 */
	size_t max_linetable; /* bytes of one location table; 0: 1 MiB */
	/* Called for each entry evicted (idle, or for room); NULL: none. */
	void (*evicted)(void *ctx, __u32 pid, __u64 start_ns, __u64 code_addr);
	void *ctx;
};

/* One Python frame; strings valid until the next lookup or end_cycle. */
struct py_frame_info {
	const char *function; /* co_qualname */
	const char *file;     /* co_filename */
	__u32 line;           /* of the instruction; 0: unknown */
	__u32 start_line;     /* co_firstlineno */
};

struct py_code_cache_stats {
	__u64 entries;
	__u64 bytes;
	__u64 hits;
	__u64 reads;        /* code objects read */
	__u64 read_errors;  /* unreadable, or not a code object */
	__u64 revalidated;  /* entries checked again in a later cycle */
	__u64 reused;       /* ... and found to be another code object */
	__u64 evicted;
	__u64 copies;        /* code objects added from the walker's copies */
	__u64 copies_known;  /* ... already cached, unchanged */
	__u64 copy_errors;   /* ... not a code object */
	__u64 no_linetable;  /* entries kept without a location table: the process was gone */
};

/* NULL with errno set. */
struct py_code_cache *py_code_cache__new(const struct py_code_cache_opts *opts);
void py_code_cache__free(struct py_code_cache *c);

/*
 * The frame of code object code_addr in process (pid, start_ns) described
 * by proc, executing at instr_delta bytes past the object's address (as
 * the walker records it; 0: unknown, line 0). 0, or -EFAULT (not a
 * readable code object), -ESRCH (process gone and not cached), -ENOMEM.
 */
int py_code_cache__lookup(struct py_code_cache *c, const struct py_process *proc, __u32 pid,
			  __u64 start_ns, __u64 code_addr, __u32 instr_delta,
			  struct py_frame_info *out);

/*
 * The code object at code_addr in process (pid, start_ns), from copies of
 * its memory (the code object's header, its names, its location table);
 * what the copies lack is read from the process. Replaces a cached entry
 * of another object at that address (counted as reused). 0, -EFAULT (not
 * a code object), -ESRCH (what the copies lack could not be read: the
 * process is gone), -ENOMEM.
 */
int py_code_cache__add(struct py_code_cache *c, const struct py_process *proc, __u32 pid,
		       __u64 start_ns, __u64 code_addr, const struct py_mem_copy *copies,
		       size_t n_copies);

/* Process (pid, start_ns) is gone: its entries go at the next end_cycle. */
int py_code_cache__forget_process(struct py_code_cache *c, __u32 pid, __u64 start_ns);

/* Ends a cycle (one drain): frees idle entries and those of forgotten processes. */
void py_code_cache__end_cycle(struct py_code_cache *c);

void py_code_cache__stats(const struct py_code_cache *c, struct py_code_cache_stats *out);

#endif /* FORNAX_PY_CODE_H */
