// SPDX-License-Identifier: Apache-2.0
#include "strtab.h"

#include <stdlib.h>
#include <string.h>

#define STRTAB_CHUNK_MIN 4096

struct strtab_chunk {
	struct strtab_chunk *next;
	size_t size;
	size_t used;
	char data[];
};

struct strtab_key {
	const char *s;
	size_t len;
};

static bool strtab_eq(const void *val, const void *key)
{
	const struct strtab_key *k = key;
	const char *v = val;

	return strncmp(v, k->s, k->len) == 0 && v[k->len] == '\0';
}

static char *strtab__alloc(struct strtab *t, size_t n)
{
	struct strtab_chunk *c = t->chunks;
	size_t size;

	if (!c || c->size - c->used < n) {
		size = n > STRTAB_CHUNK_MIN / 4 ? n : STRTAB_CHUNK_MIN - sizeof(*c);
		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->size = size;
		c->used = 0;
		if (n > STRTAB_CHUNK_MIN / 4 && t->chunks) {
			/* a big string gets its own chunk behind the current one,
			 * so the current chunk's free space is not wasted */
			c->next = t->chunks->next;
			t->chunks->next = c;
		} else {
			c->next = t->chunks;
			t->chunks = c;
		}
		t->bytes += sizeof(*c) + size;
	}
	c->used += n;
	return c->data + c->used - n;
}

const char *strtab__intern_len(struct strtab *t, const char *s, size_t len)
{
	struct strtab_key key = { .s = s, .len = len };
	__u64 h = hash_bytes(s, len);
	char *copy;

	copy = hmap__find(&t->set, h, strtab_eq, &key);
	if (copy)
		return copy;
	copy = strtab__alloc(t, len + 1);
	if (!copy)
		return NULL;
	memcpy(copy, s, len);
	copy[len] = '\0';
	if (hmap__insert(&t->set, h, copy)) {
		/* the bytes stay in the arena unused until the table is cleared */
		return NULL;
	}
	return copy;
}

const char *strtab__intern(struct strtab *t, const char *s)
{
	return strtab__intern_len(t, s, strlen(s));
}

void strtab__clear(struct strtab *t)
{
	struct strtab_chunk *c, *next;

	for (c = t->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	t->chunks = NULL;
	t->bytes = 0;
	hmap__clear(&t->set);
}
