/* SPDX-License-Identifier: Apache-2.0 */
/*
 * First-fit allocator of index ranges in [0, capacity): which rows of the
 * unwind row space (or entries of the mapping space) a table (or a
 * process) owns. Free ranges are kept sorted and merged with their
 * neighbours, so space returns whole; first fit keeps use low, which lets
 * the pages at the top of the space be released when they empty.
 */
#ifndef FORNAX_UNWIND_RANGE_ALLOC_H
#define FORNAX_UNWIND_RANGE_ALLOC_H

#include <stddef.h>
#include <linux/types.h>

struct range_alloc;

/* NULL with errno set (EINVAL for capacity 0 or above 2^32, ENOMEM). */
struct range_alloc *range_alloc__new(__u64 capacity);
void range_alloc__free(struct range_alloc *a);

/* n > 0 consecutive indexes: 0 and *start, -ENOSPC, -EINVAL, or -ENOMEM. */
int range_alloc__get(struct range_alloc *a, __u32 n, __u32 *start);
/* Returns a range from range_alloc__get(). 0, -EINVAL (not allocated), -ENOMEM. */
int range_alloc__put(struct range_alloc *a, __u32 start, __u32 n);

__u64 range_alloc__used(const struct range_alloc *a);
__u64 range_alloc__capacity(const struct range_alloc *a);

#endif /* FORNAX_UNWIND_RANGE_ALLOC_H */
