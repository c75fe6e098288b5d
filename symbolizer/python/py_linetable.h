/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CPython 3.11+ location tables (co_linetable; Objects/locations.md): the
 * line and columns of every code unit, as code.co_positions() and
 * code.co_lines() report them. Bad input (a table cut short, a varint that
 * does not end) is -EINVAL, never a read past the end.
 */
#ifndef FORNAX_PY_LINETABLE_H
#define FORNAX_PY_LINETABLE_H

#include <stddef.h>
#include <linux/types.h>

/* One entry: code bytes [start, end) and their position; -1 for "None". */
struct py_position {
	__u32 start;
	__u32 end;
	__s32 line;
	__s32 end_line;
	__s32 column;
	__s32 end_column;
};

struct py_linetable_iter {
	const __u8 *p;
	const __u8 *end;
	__u32 addr;
	__s32 line; /* the running line: deltas add to it */
};

void py_linetable__iter_init(struct py_linetable_iter *it, const void *table, size_t len,
			     __s32 firstlineno);
/* 1 with *out filled, 0 at the end of the table, -EINVAL if it is malformed. */
int py_linetable__next(struct py_linetable_iter *it, struct py_position *out);

/*
 * The line of the code unit at byte offset addr, as PyCode_Addr2Line()
 * gives it: firstlineno for addr < 0 (a frame that has not started), -1
 * where the table says "no line". -ENOENT past the table, -EINVAL.
 */
int py_linetable__addr2line(const void *table, size_t len, __s32 firstlineno, __s64 addr,
			    __s32 *line);

#endif /* FORNAX_PY_LINETABLE_H */
