// SPDX-License-Identifier: Apache-2.0
#include "kdyn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"

#define DEFAULT_MAX_SYMS 65536
/*
 * Cycles a gone range keeps its name: the one it went in and the next, so
 * the drain after the record that reported it still names its samples.
 */
#define GRACE_CYCLES 2
#define MASK_ID_BIT 0x80000000u

struct kdyn {
	struct kdyn_sym *syms; /* sorted by start, non-overlapping */
	size_t n, cap;
	size_t max;
	char **dead; /* names replaced this cycle, freed at its end */
	size_t n_dead, dead_cap;
	__u32 next_id;
	__u64 cycle;
};

struct kdyn *kdyn__new(size_t max_syms)
{
	struct kdyn *d = calloc(1, sizeof(*d));

	if (!d) {
		errno = ENOMEM;
		return NULL;
	}
	d->max = max_syms ? max_syms : DEFAULT_MAX_SYMS;
	return d;
}

void kdyn__free(struct kdyn *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		free(d->syms[i].name);
	for (size_t i = 0; i < d->n_dead; i++)
		free(d->dead[i]);
	free(d->syms);
	free(d->dead);
	free(d);
}

/* Index of the first range whose end is above addr. */
static size_t first_above(const struct kdyn *d, __u64 addr)
{
	size_t lo = 0, hi = d->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->syms[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Inserts s at its place; the caller made room and checked for overlaps. */
static int insert(struct kdyn *d, const struct kdyn_sym *s)
{
	size_t at = first_above(d, s->start);

	if (d->n >= d->max)
		return -ENOSPC;
	if (ARRAY_GROW(&d->syms, &d->cap, d->n + 1))
		return -ENOMEM;
	memmove(&d->syms[at + 1], &d->syms[at], (d->n - at) * sizeof(*d->syms));
	d->syms[at] = *s;
	d->n++;
	return 0;
}

int kdyn__add(struct kdyn *d, __u64 addr, __u64 len, const char *name)
{
	struct kdyn_sym s, rest[2];
	size_t first, last, n_rest = 0;
	int err;

	if (!d || !name || !len || addr + len < addr)
		return -EINVAL;
	/* room for the replaced names first, so that nothing fails half-way */
	first = first_above(d, addr);
	for (last = first; last < d->n && d->syms[last].start < addr + len; last++)
		;
	if (d->n - (last - first) >= d->max)
		return -ENOSPC;
	err = ARRAY_GROW(&d->dead, &d->dead_cap, d->n_dead + (last - first));
	if (err)
		return err;
	s = (struct kdyn_sym){ .start = addr, .end = addr + len, .name = strdup(name),
			       .id = d->next_id++ & ~MASK_ID_BIT };
	if (!s.name)
		return -ENOMEM;
	for (size_t i = first; i < last; i++) {
		struct kdyn_sym *o = &d->syms[i];

		if (o->name) {
			d->dead[d->n_dead++] = o->name;
		} else {
			/* what the new text does not cover stays masked (only the ends can stick out) */
			if (o->start < addr) {
				rest[n_rest] = *o;
				rest[n_rest++].end = addr;
			}
			if (o->end > addr + len) {
				rest[n_rest] = *o;
				rest[n_rest++].start = addr + len;
			}
		}
	}
	if (last > first) {
		memmove(&d->syms[first], &d->syms[last], (d->n - last) * sizeof(*d->syms));
		d->n -= last - first;
	}
	err = insert(d, &s);
	if (err) {
		free(s.name);
		return err;
	}
	/* at the bound, an end of a mask is lost: kallsyms' stale name for dead text */
	for (size_t i = 0; i < n_rest; i++)
		(void)insert(d, &rest[i]);
	return 0;
}

int kdyn__remove(struct kdyn *d, __u64 addr, __u64 len, bool mask_base)
{
	bool named = false, masked = false;

	if (!d || !len || addr + len < addr)
		return -EINVAL;
	for (size_t i = first_above(d, addr); i < d->n && d->syms[i].start < addr + len; i++) {
		struct kdyn_sym *s = &d->syms[i];

		if (!s->name) {
			masked = true;
			continue;
		}
		named = true;
		if (!s->gone) {
			s->gone = true;
			s->gone_cycle = d->cycle;
		}
	}
	if (named || masked)
		return 0;
	if (!mask_base)
		return -ENOENT;
	return insert(d, &(struct kdyn_sym){ .start = addr, .end = addr + len, .gone = true,
					     .gone_cycle = d->cycle, .id = MASK_ID_BIT });
}

const struct kdyn_sym *kdyn__lookup(const struct kdyn *d, __u64 addr)
{
	const struct kdyn_sym *s;
	size_t i;

	if (!d)
		return NULL;
	i = first_above(d, addr);
	if (i >= d->n || d->syms[i].start > addr)
		return NULL;
	s = &d->syms[i];
	if (!s->name && d->cycle - s->gone_cycle < GRACE_CYCLES)
		return NULL;
	return s;
}

void kdyn__end_cycle(struct kdyn *d)
{
	size_t out = 0;

	if (!d)
		return;
	for (size_t i = 0; i < d->n_dead; i++)
		free(d->dead[i]);
	d->n_dead = 0;
	d->cycle++;
	for (size_t i = 0; i < d->n; i++) {
		struct kdyn_sym *s = &d->syms[i];

		if (s->name && s->gone && d->cycle - s->gone_cycle >= GRACE_CYCLES) {
			free(s->name);
			continue;
		}
		d->syms[out++] = *s;
	}
	d->n = out;
}

void kdyn__drop_masks(struct kdyn *d)
{
	size_t out = 0;

	for (size_t i = 0; d && i < d->n; i++)
		if (d->syms[i].name)
			d->syms[out++] = d->syms[i];
	if (d)
		d->n = out;
}

size_t kdyn__count(const struct kdyn *d)
{
	return d ? d->n : 0;
}
