/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal open-addressing hash table of pointers. The caller computes the
 * hash and supplies the equality test, so one table type serves every cache
 * in symbolizer/. Linear probing with backward-shift deletion: no tombstones,
 * lookups stay short after churn. Not thread-safe.
 */
#ifndef FORNAX_SYMBOLIZER_HASHMAP_H
#define FORNAX_SYMBOLIZER_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct hmap_slot {
	__u64 hash;
	void *val; /* NULL: empty slot */
};

/* Embedded by value; zero-initialised is an empty table. */
struct hmap {
	struct hmap_slot *slots;
	size_t cap; /* power of two, or 0 */
	size_t len;
};

/* Returns true if the stored value val is the one key describes. */
typedef bool (*hmap_eq_fn)(const void *val, const void *key);

void *hmap__find(const struct hmap *m, __u64 hash, hmap_eq_fn eq, const void *key);
/* Adds val (non-NULL) without checking for duplicates. 0 or -ENOMEM. */
int hmap__insert(struct hmap *m, __u64 hash, void *val);
/* Removes the slot holding exactly val. 0 or -ENOENT. */
int hmap__remove(struct hmap *m, __u64 hash, const void *val);
/* Halves the table while it is mostly empty (after evictions). */
void hmap__shrink(struct hmap *m);
void hmap__clear(struct hmap *m);
/* Empties the table but keeps its slots allocated. */
void hmap__reset(struct hmap *m);

static inline size_t hmap__len(const struct hmap *m)
{
	return m->len;
}

static inline __u64 hash_u64(__u64 x)
{
	/* splitmix64 finaliser */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static inline __u64 hash_bytes(const void *data, size_t len)
{
	/* FNV-1a, then mixed so the low bits used for the slot index spread */
	const unsigned char *p = data;
	__u64 h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return hash_u64(h);
}

#endif /* FORNAX_SYMBOLIZER_HASHMAP_H */
