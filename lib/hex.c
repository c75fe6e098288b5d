// SPDX-License-Identifier: Apache-2.0
#include "hex.h"

#include <stdlib.h>

static const char hex_digits[] = "0123456789abcdef";

int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool hex_parse_u64(const char **p, const char *end, __u64 *out)
{
	const char *s = *p;
	__u64 v = 0;
	int d;

	if (s >= end || hex_digit(*s) < 0)
		return false;
	for (; s < end && (d = hex_digit(*s)) >= 0; s++) {
		if (v >> 60)
			return false; /* a 17th significant digit */
		v = (v << 4) | (__u64)d;
	}
	*p = s;
	*out = v;
	return true;
}

void hex_encode(const void *bytes, size_t len, char *out)
{
	const unsigned char *b = bytes;

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex_digits[b[i] >> 4];
		out[2 * i + 1] = hex_digits[b[i] & 0xf];
	}
	out[2 * len] = '\0';
}

char *hex_string(const void *bytes, size_t len)
{
	char *s = malloc(2 * len + 1);

	if (s)
		hex_encode(bytes, len, s);
	return s;
}
