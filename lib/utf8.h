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

/*
 * Makes s safe to print on a terminal, in place: every C0 control (but the
 * ones in keep, which may be NULL), DEL, C1 control (U+0080..U+009F, which
 * terminals read as ESC sequences) and byte that is not UTF-8 becomes '?'.
 * Returns how many were replaced.
 */
size_t utf8_make_printable(char *s, const char *keep);

#endif /* FORNAX_BASE_UTF8_H */
