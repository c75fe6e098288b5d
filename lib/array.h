/* SPDX-License-Identifier: Apache-2.0 */
/* Growing arrays: the one doubling rule every stage's vectors use. */
#ifndef FORNAX_BASE_ARRAY_H
#define FORNAX_BASE_ARRAY_H

#include <stddef.h>

/*
 * Makes *arr (of *cap elements of elem bytes) hold at least need elements,
 * doubling from 16. 0, or -ENOMEM with *arr and *cap untouched (also when
 * the size would overflow).
 */
int array_grow(void **arr, size_t *cap, size_t need, size_t elem);

/* The same for a typed pointer: ARRAY_GROW(&v, &cap, n + 1). */
#define ARRAY_GROW(arrp, capp, need) \
	array_grow((void **)(arrp), (capp), (need), sizeof(**(arrp)))

#endif /* FORNAX_BASE_ARRAY_H */
