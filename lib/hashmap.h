/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The project's one hash table: open addressing over pointers. The caller
 * computes the hash (hash_u64(), hash_bytes() below) and supplies the
 * equality test, so one table type serves every cache and index. Linear
 * probing with backward-shift deletion: no tombstones, lookups stay short
 * after churn. An insert that cannot allocate returns -ENOMEM and leaves the
 * table as it was. Not thread-safe.
 */
#ifndef FORNAX_BASE_HASHMAP_H
#define FORNAX_BASE_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
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

/*
 * Walks the values: start with *pos = 0; returns the next value, or NULL
 * after the last. The table must not change during the walk (a value may be
 * freed once returned, if it is not removed from the table until the end).
 */
void *hmap__next(const struct hmap *m, size_t *pos);

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

/* Two values in one hash, order mattering. */
static inline __u64 hash_pair(__u64 a, __u64 b)
{
	return hash_u64(b ^ hash_u64(a));
}

static inline __u64 hash_bytes(const void *data, size_t len)
{
	/* eight bytes a step through the finaliser, the tail and length last */
	const unsigned char *p = data;
	__u64 h = 0x9e3779b97f4a7c15ULL ^ len, w;

	for (; len >= sizeof(w); p += sizeof(w), len -= sizeof(w)) {
		memcpy(&w, p, sizeof(w));
		h = hash_u64(h ^ w);
	}
	w = 0;
	if (len)
		memcpy(&w, p, len);
	return hash_u64(h ^ w ^ ((__u64)len << 56));
}

#endif /* FORNAX_BASE_HASHMAP_H */
