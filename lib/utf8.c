// SPDX-License-Identifier: Apache-2.0
#include "utf8.h"

#include <stdint.h>
#include <string.h>

size_t utf8_decode(const unsigned char *s, size_t len, long *cp)
{
	long c;
	size_t n;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	/* lead bytes of shortest forms only: C0, C1 and F5..FF never start one */
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		c = s[0] & 0x07;
	} else {
		*cp = -1;
		return 1;
	}
	if (len < n) {
		*cp = -1;
		return 1;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*cp = -1;
			return 1;
		}
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff))) {
		*cp = -1;
		return 1;
	}
	*cp = c;
	return n;
}

size_t utf8_make_printable(char *s, const char *keep)
{
	unsigned char *in = (unsigned char *)s, *out = (unsigned char *)s;
	size_t replaced = 0;

	while (*in) {
		long cp;
		size_t n = utf8_decode(in, SIZE_MAX, &cp);

		if (cp < 0 || (cp < 0x20 && !(keep && strchr(keep, (int)cp))) ||
		    (cp >= 0x7f && cp <= 0x9f)) {
			*out++ = '?';
			replaced++;
		} else {
			memmove(out, in, n);
			out += n;
		}
		in += n;
	}
	*out = '\0';
	return replaced;
}
