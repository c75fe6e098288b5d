/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal string interner: each distinct string is stored once in a
 * chunked arena, so returned pointers never move while the table lives.
 * Used for function and source file names (shared by many cached
 * addresses) and for mapping paths.
 */
#ifndef FORNAX_BASE_STRTAB_H
#define FORNAX_BASE_STRTAB_H

#include <stddef.h>

#include "hashmap.h"

struct strtab_chunk;

/* Embedded by value; zero-initialised is an empty table. */
struct strtab {
	struct hmap set;
	struct strtab_chunk *chunks;
	size_t bytes; /* arena bytes allocated */
};

/* The interned copy of s[0..len), NUL-terminated; NULL on -ENOMEM. */
const char *strtab__intern_len(struct strtab *t, const char *s, size_t len);
const char *strtab__intern(struct strtab *t, const char *s);
/* Frees every string: pointers returned before become invalid. */
void strtab__clear(struct strtab *t);

#endif /* FORNAX_BASE_STRTAB_H */
