// SPDX-License-Identifier: Apache-2.0
#include "hashmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HMAP_MIN_CAP 16

static int hmap__resize(struct hmap *m, size_t new_cap)
{
	struct hmap_slot *slots;
	size_t mask = new_cap - 1;

	slots = calloc(new_cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->slots[i].val)
			continue;
		j = m->slots[i].hash & mask;
		while (slots[j].val)
			j = (j + 1) & mask;
		slots[j] = m->slots[i];
	}
	free(m->slots);
	m->slots = slots;
	m->cap = new_cap;
	return 0;
}

void *hmap__find(const struct hmap *m, __u64 hash, hmap_eq_fn eq, const void *key)
{
	size_t mask, i;

	if (!m->cap)
		return NULL;
	mask = m->cap - 1;
	for (i = hash & mask; m->slots[i].val; i = (i + 1) & mask) {
		if (m->slots[i].hash == hash && eq(m->slots[i].val, key))
			return m->slots[i].val;
	}
	return NULL;
}

int hmap__insert(struct hmap *m, __u64 hash, void *val)
{
	size_t mask, i;
	int err;

	if (!val)
		return -EINVAL;
	/* keep the load factor at or below 3/4 */
	if ((m->len + 1) * 4 > m->cap * 3) {
		err = hmap__resize(m, m->cap ? m->cap * 2 : HMAP_MIN_CAP);
		if (err)
			return err;
	}
	mask = m->cap - 1;
	for (i = hash & mask; m->slots[i].val; i = (i + 1) & mask)
		;
	m->slots[i].hash = hash;
	m->slots[i].val = val;
	m->len++;
	return 0;
}

int hmap__remove(struct hmap *m, __u64 hash, const void *val)
{
	size_t mask, i, j;

	if (!m->cap)
		return -ENOENT;
	mask = m->cap - 1;
	for (i = hash & mask; m->slots[i].val != val; i = (i + 1) & mask) {
		if (!m->slots[i].val)
			return -ENOENT;
	}
	/* backward-shift: pull later members of the cluster into the hole */
	for (j = (i + 1) & mask; m->slots[j].val; j = (j + 1) & mask) {
		size_t home = m->slots[j].hash & mask;
		bool movable;

		/* the entry at j may move to i unless its home lies in (i, j] */
		if (i <= j)
			movable = home <= i || home > j;
		else
			movable = home <= i && home > j;
		if (movable) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].val = NULL;
	m->slots[i].hash = 0;
	m->len--;
	return 0;
}

void *hmap__next(const struct hmap *m, size_t *pos)
{
	while (*pos < m->cap) {
		void *val = m->slots[(*pos)++].val;

		if (val)
			return val;
	}
	return NULL;
}

void hmap__shrink(struct hmap *m)
{
	size_t cap = m->cap;

	if (!m->len) {
		hmap__clear(m);
		return;
	}
	while (cap > HMAP_MIN_CAP && m->len * 8 < cap)
		cap /= 2;
	if (cap != m->cap)
		(void)hmap__resize(m, cap); /* on failure the table just stays larger */
}

void hmap__reset(struct hmap *m)
{
	if (m->cap)
		memset(m->slots, 0, m->cap * sizeof(*m->slots));
	m->len = 0;
}

void hmap__clear(struct hmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = 0;
	m->len = 0;
}
