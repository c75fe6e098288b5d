/* SPDX-License-Identifier: Apache-2.0 */
/* UTF-8 decoding, strict: the one decoder every text check and escaper uses. */
#ifndef FORNAX_BASE_UTF8_H
#define FORNAX_BASE_UTF8_H

#include <stddef.h>

/*
 * Decodes the character at s (len > 0 bytes available; SIZE_MAX for a
 * NUL-terminated string, whose NUL ends any sequence) and returns its length
 * with *cp set, or returns 1 with *cp = -1 for a byte that does not start a
 * complete, shortest-form sequence of a code point up to U+10FFFF.
 * Surrogates decode as themselves; callers that refuse them check *cp.
 */
size_t utf8_decode(const unsigned char *s, size_t len, long *cp);

#endif /* FORNAX_BASE_UTF8_H */
