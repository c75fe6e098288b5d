/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A space of fixed-size entries (unwind rows, or mapping entries) that the
 * BPF walker reads: an array of maps whose pages are equal-sized mmapable
 * array maps, created as allocation reaches them and deleted when they
 * empty, so map memory follows use. Ranges are handed out first fit
 * (range_alloc.h) and written through the pages' mmap.
 *
 * A range a program may still be reading is not put back at once: it is
 * retired, and freed after an RCU grace period (page_retire below).
 */
#ifndef FORNAX_UNWIND_PAGE_POOL_H
#define FORNAX_UNWIND_PAGE_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "grace.h"
#include "range_alloc.h"

struct page {
	int fd;     /* -1 until created */
	void *mem;  /* the array map's values, mmapped */
	__u32 used; /* allocated indexes */
};

/* Embedded by value; page_pool__init() before anything else, page_pool__destroy() always. */
struct page_pool {
	const char *name;
	int outer_fd; /* the array of maps the program reads */
	__u32 elem_size;
	__u32 page_shift;
	__u32 max_pages;
	struct page *pages;
	__u32 live_pages;
	struct range_alloc *alloc;
};

/*
 * Creates the outer map of max_pages pages of 1 << page_shift entries of
 * elem_size bytes (no page yet). 0 or -errno; destroy either way.
 */
int page_pool__init(struct page_pool *p, const char *name, __u32 elem_size, __u32 page_shift,
		    __u32 max_pages);
void page_pool__destroy(struct page_pool *p);

/*
 * n > 0 consecutive entries at *start, creating the pages they reach.
 * 0, -ENOSPC (the space is full), or -errno from map creation.
 */
int page_pool__get(struct page_pool *p, __u32 n, __u32 *start);
/* Writes n entries from src at start (a range from page_pool__get()). */
void page_pool__write(struct page_pool *p, __u32 start, const void *src, __u32 n);
/*
 * The memory of entry at (in a range from page_pool__get()), and in *span
 * how many of the n entries from there lie in it, on one page.
 */
void *page_pool__span(struct page_pool *p, __u32 at, __u32 n, __u32 *span);
/* Returns a range at once; a page left empty is deleted. */
void page_pool__put(struct page_pool *p, __u32 start, __u32 n);
/* Map memory of the live pages. */
__u64 page_pool__bytes(const struct page_pool *p);

/* Ranges programs may still read, freed after a grace period. */
struct page_retire {
	struct retired_range *items;
	size_t n, cap;
	__u64 *gen; /* the walker's cache generation, bumped at each retire; NULL: none */
	struct grace_period grace;
};

/*
 * Retires [start, start + n) of pool. The generation goes up first: the
 * program's per-CPU caches may hold copies from the range, and a walk that
 * sees the new generation empties them before the range can be reused.
 * 0, or -ENOMEM (the range is leaked: that beats reusing it under a
 * running program).
 */
int page_retire__add(struct page_retire *r, struct page_pool *pool, __u32 start, __u32 n);
/* Waits out a grace period if anything was retired, then puts every range back. */
void page_retire__flush(struct page_retire *r);
/* Frees the list; what is in it is not put back (the pools go too). */
void page_retire__free(struct page_retire *r);

#endif /* FORNAX_UNWIND_PAGE_POOL_H */
