/* SPDX-License-Identifier: Apache-2.0 */
/* Hexadecimal: the digits of /proc files and perf maps, build-ids as text. */
#ifndef FORNAX_BASE_HEX_H
#define FORNAX_BASE_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/* The value of one hex digit (either case), or -1. */
int hex_digit(char c);

/*
 * Parses the hex digits at *p (before end), at least one, no prefix, and
 * advances *p past them. false if there is no digit or the value does not
 * fit in 64 bits.
 */
bool hex_parse_u64(const char **p, const char *end, __u64 *out);

/* len bytes as 2 * len lower-case digits and a NUL. */
void hex_encode(const void *bytes, size_t len, char *out);
/* The same, malloc'ed; NULL on -ENOMEM. */
char *hex_string(const void *bytes, size_t len);

#endif /* FORNAX_BASE_HEX_H */
