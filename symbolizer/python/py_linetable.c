// SPDX-License-Identifier: Apache-2.0
#include "py_linetable.h"

#include <errno.h>

/* Entry kinds: the 4 bits after the entry's start bit (Objects/locations.md). */
enum {
	LOC_SHORT_MAX = 9,  /* 0..9: same line, column in the code and one byte */
	LOC_ONE_LINE0 = 10, /* 10..12: line + 0..2, start and end column bytes */
	LOC_NO_COLUMNS = 13,
	LOC_LONG = 14,
	LOC_NONE = 15,
};

static int read_byte(struct py_linetable_iter *it, __u32 *out)
{
	/* An entry's own bytes never have the start bit: one that does is a cut entry. */
	if (it->p >= it->end || (*it->p & 0x80))
		return -EINVAL;
	*out = *it->p++;
	return 0;
}

/* 6 bits a byte, low first, 0x40 continues; 32 bits at most. */
static int read_varint(struct py_linetable_iter *it, __u32 *out)
{
	__u32 b, v = 0;

	for (unsigned shift = 0; shift < 32; shift += 6) {
		if (read_byte(it, &b))
			return -EINVAL;
		v |= (b & 63) << shift;
		if (!(b & 64)) {
			*out = v;
			return 0;
		}
	}
	return -EINVAL;
}

static int read_svarint(struct py_linetable_iter *it, __s32 *out)
{
	__u32 u;

	if (read_varint(it, &u))
		return -EINVAL;
	*out = (u & 1) ? -(__s32)(u >> 1) : (__s32)(u >> 1);
	return 0;
}

void py_linetable__iter_init(struct py_linetable_iter *it, const void *table, size_t len,
			     __s32 firstlineno)
{
	it->p = table;
	it->end = it->p + len;
	it->addr = 0;
	it->line = firstlineno;
}

int py_linetable__next(struct py_linetable_iter *it, struct py_position *out)
{
	__u32 first, code, a, b;
	__s32 delta;

	if (it->p >= it->end)
		return 0;
	first = *it->p++;
	if (!(first & 0x80))
		return -EINVAL;
	code = (first >> 3) & 15;
	out->start = it->addr;
	out->end = it->addr + ((first & 7) + 1) * 2;
	switch (code) {
	case LOC_NONE:
		out->line = out->end_line = out->column = out->end_column = -1;
		break;
	case LOC_LONG:
		if (read_svarint(it, &delta) || read_varint(it, &a))
			return -EINVAL;
		it->line += delta;
		out->line = it->line;
		out->end_line = it->line + (__s32)a;
		if (read_varint(it, &a) || read_varint(it, &b))
			return -EINVAL;
		out->column = (__s32)a - 1;
		out->end_column = (__s32)b - 1;
		break;
	case LOC_NO_COLUMNS:
		if (read_svarint(it, &delta))
			return -EINVAL;
		it->line += delta;
		out->line = out->end_line = it->line;
		out->column = out->end_column = -1;
		break;
	case LOC_ONE_LINE0:
	case LOC_ONE_LINE0 + 1:
	case LOC_ONE_LINE0 + 2:
		it->line += (__s32)code - LOC_ONE_LINE0;
		out->line = out->end_line = it->line;
		if (read_byte(it, &a) || read_byte(it, &b))
			return -EINVAL;
		out->column = (__s32)a;
		out->end_column = (__s32)b;
		break;
	default: /* short forms */
		if (read_byte(it, &a))
			return -EINVAL;
		out->line = out->end_line = it->line;
		out->column = (__s32)(code << 3 | (a >> 4));
		out->end_column = out->column + (__s32)(a & 15);
		break;
	}
	it->addr = out->end;
	return 1;
}

int py_linetable__addr2line(const void *table, size_t len, __s32 firstlineno, __s64 addr,
			    __s32 *line)
{
	struct py_linetable_iter it;
	struct py_position pos;
	int ret;

	if (addr < 0) {
		*line = firstlineno;
		return 0;
	}
	py_linetable__iter_init(&it, table, len, firstlineno);
	while ((ret = py_linetable__next(&it, &pos)) > 0) {
		if ((__u64)addr < pos.end) {
			*line = pos.line;
			return 0;
		}
	}
	return ret < 0 ? ret : -ENOENT;
}
