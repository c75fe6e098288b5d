// SPDX-License-Identifier: Apache-2.0
#include "range_alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"

struct free_range {
	__u64 start;
	__u64 len;
};

struct range_alloc {
	__u64 capacity;
	__u64 used;
	struct free_range *free; /* sorted by start, never adjacent */
	size_t n_free, cap_free;
};

struct range_alloc *range_alloc__new(__u64 capacity)
{
	struct range_alloc *a;

	if (!capacity || capacity > (1ULL << 32)) {
		errno = EINVAL;
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a || ARRAY_GROW(&a->free, &a->cap_free, 1)) {
		free(a);
		errno = ENOMEM;
		return NULL;
	}
	a->capacity = capacity;
	a->free[0] = (struct free_range){ 0, capacity };
	a->n_free = 1;
	return a;
}

void range_alloc__free(struct range_alloc *a)
{
	if (!a)
		return;
	free(a->free);
	free(a);
}

int range_alloc__get(struct range_alloc *a, __u32 n, __u32 *start)
{
	if (!n)
		return -EINVAL;
	for (size_t i = 0; i < a->n_free; i++) {
		struct free_range *f = &a->free[i];

		if (f->len < n)
			continue;
		*start = f->start;
		f->start += n;
		f->len -= n;
		if (!f->len) {
			memmove(f, f + 1, (a->n_free - i - 1) * sizeof(*f));
			a->n_free--;
		}
		a->used += n;
		return 0;
	}
	return -ENOSPC;
}

int range_alloc__put(struct range_alloc *a, __u32 start, __u32 n)
{
	__u64 end = (__u64)start + n;
	size_t lo = 0, hi = a->n_free;
	struct free_range *prev, *next;

	if (!n || end > a->capacity)
		return -EINVAL;
	/* i: the first free range after start */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a->free[mid].start < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	prev = lo ? &a->free[lo - 1] : NULL;
	next = lo < a->n_free ? &a->free[lo] : NULL;
	/* Overlapping free space means a double put: refuse rather than corrupt. */
	if ((prev && prev->start + prev->len > start) || (next && next->start < end))
		return -EINVAL;

	if (prev && prev->start + prev->len == start) {
		prev->len += n;
		if (next && next->start == end) {
			prev->len += next->len;
			memmove(next, next + 1, (a->n_free - lo - 1) * sizeof(*next));
			a->n_free--;
		}
	} else if (next && next->start == end) {
		next->start = start;
		next->len += n;
	} else {
		if (ARRAY_GROW(&a->free, &a->cap_free, a->n_free + 1))
			return -ENOMEM;
		memmove(&a->free[lo + 1], &a->free[lo], (a->n_free - lo) * sizeof(*a->free));
		a->free[lo] = (struct free_range){ start, n };
		a->n_free++;
	}
	a->used -= n;
	return 0;
}

__u64 range_alloc__used(const struct range_alloc *a)
{
	return a->used;
}

__u64 range_alloc__capacity(const struct range_alloc *a)
{
	return a->capacity;
}
