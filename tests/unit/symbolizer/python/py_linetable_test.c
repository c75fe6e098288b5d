// SPDX-License-Identifier: Apache-2.0
/*
 * Location tables decoded here against CPython's own decoding of them:
 * /usr/bin/python3 prints co_linetable, co_positions() and co_lines() of
 * real functions (linetable_cases.py), and every code unit must agree.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "py_linetable.h"
#include "test.h"

#define MAX_UNITS 4096

struct code_case {
	char name[256];
	int firstlineno;
	unsigned char table[16384];
	size_t table_len;
	size_t units;
	__s32 pos[MAX_UNITS][4];
	size_t n_pos;
	__s32 line_of[MAX_UNITS]; /* from co_lines() */
};

static struct code_case cc;
static int cases_checked, units_checked;

static int hex_decode(const char *hex, unsigned char *out, size_t cap, size_t *len)
{
	size_t n = strlen(hex);

	*len = 0;
	if (strcmp(hex, "-") == 0)
		return 0;
	if (n % 2 || n / 2 > cap)
		return -EINVAL;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		out[i] = (unsigned char)v;
	}
	*len = n / 2;
	return 0;
}

/* Compares one code object's decoding with what CPython printed. */
static int check_case(void)
{
	struct py_linetable_iter it;
	struct py_position p;
	size_t unit = 0;
	int ret;

	py_linetable__iter_init(&it, cc.table, cc.table_len, cc.firstlineno);
	while ((ret = py_linetable__next(&it, &p)) > 0) {
		for (__u32 a = p.start; a < p.end; a += 2, unit++) {
			if (unit >= cc.n_pos)
				TEST_FAIL("%s: table covers more than %zu units", cc.name, cc.n_pos);
			if (p.line != cc.pos[unit][0] || p.end_line != cc.pos[unit][1] ||
			    p.column != cc.pos[unit][2] || p.end_column != cc.pos[unit][3])
				TEST_FAIL("%s unit %zu: (%d %d %d %d), co_positions (%d %d %d %d)",
					  cc.name, unit, p.line, p.end_line, p.column, p.end_column,
					  cc.pos[unit][0], cc.pos[unit][1], cc.pos[unit][2],
					  cc.pos[unit][3]);
		}
	}
	ASSERT_EQ(ret, 0);
	ASSERT_EQ(unit, cc.units);
	for (size_t u = 0; u < cc.units; u++) {
		__s32 line = -2;

		ASSERT_EQ(py_linetable__addr2line(cc.table, cc.table_len, cc.firstlineno,
						  (__s64)u * 2, &line), 0);
		if (line != cc.line_of[u])
			TEST_FAIL("%s addr %zu: line %d, co_lines %d", cc.name, u * 2, line,
				  cc.line_of[u]);
		units_checked++;
	}
	/* A frame that has not started is at its first line, as PyCode_Addr2Line says. */
	{
		__s32 line;

		ASSERT_EQ(py_linetable__addr2line(cc.table, cc.table_len, cc.firstlineno, -2, &line),
			  0);
		ASSERT_EQ(line, cc.firstlineno);
	}
	/* Every cut of the table decodes a prefix or says it is malformed, never more. */
	for (size_t cut = 0; cut < cc.table_len; cut++) {
		size_t covered = 0;

		py_linetable__iter_init(&it, cc.table, cut, cc.firstlineno);
		while ((ret = py_linetable__next(&it, &p)) > 0)
			covered = p.end;
		ASSERT_TRUE(ret == 0 || ret == -EINVAL);
		ASSERT_TRUE(covered <= cc.units * 2);
	}
	cases_checked++;
	return 0;
}

TEST(matches_cpython)
{
	char line[40000], kind[4], name[256], hex[33000];
	int a, b, c, d, have = 0;
	FILE *f;

	if (access("/usr/bin/python3", X_OK) != 0) {
		fprintf(stderr, "  no /usr/bin/python3\n");
		exit(77);
	}
	f = popen("/usr/bin/python3 " PY_TEST_DIR "/linetable_cases.py", "r");
	ASSERT_TRUE(f != NULL);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%3s", kind) != 1)
			continue;
		if (strcmp(kind, "F") == 0) {
			unsigned long units;

			if (have && check_case())
				goto fail;
			memset(&cc, 0, sizeof(cc));
			if (sscanf(line, "F %255s %d %32999s %lu", name, &cc.firstlineno, hex,
				   &units) != 4 ||
			    hex_decode(hex, cc.table, sizeof(cc.table), &cc.table_len) ||
			    units > MAX_UNITS)
				goto fail;
			snprintf(cc.name, sizeof(cc.name), "%s", name);
			cc.units = units;
			have = 1;
		} else if (strcmp(kind, "P") == 0 && sscanf(line, "P %d %d %d %d", &a, &b, &c, &d) == 4 &&
			   cc.n_pos < MAX_UNITS) {
			cc.pos[cc.n_pos][0] = a;
			cc.pos[cc.n_pos][1] = b;
			cc.pos[cc.n_pos][2] = c;
			cc.pos[cc.n_pos][3] = d;
			cc.n_pos++;
		} else if (strcmp(kind, "L") == 0 && sscanf(line, "L %d %d %d", &a, &b, &c) == 3) {
			for (int u = a / 2; u < b / 2 && u < MAX_UNITS; u++)
				cc.line_of[u] = c;
		}
	}
	ASSERT_EQ(pclose(f), 0);
	if (have && check_case())
		return 1;
	/* module bodies, nested functions, lambdas, generated code far from line 1 */
	ASSERT_TRUE(cases_checked >= 15);
	fprintf(stderr, "  %d code objects, %d code units\n", cases_checked, units_checked);
	return 0;
fail:
	pclose(f);
	TEST_FAIL("case %s", cc.name);
}

TEST(malformed)
{
	/* an entry without its start bit, a varint that never ends, an entry cut short */
	static const unsigned char no_start[] = { 0x00 };
	static const unsigned char endless[] = { 0xf0, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41 };
	static const unsigned char cut[] = { 0xd0 };
	__s32 line;

	ASSERT_EQ(py_linetable__addr2line(no_start, 1, 1, 0, &line), -EINVAL);
	ASSERT_EQ(py_linetable__addr2line(endless, sizeof(endless), 1, 0, &line), -EINVAL);
	ASSERT_EQ(py_linetable__addr2line(cut, 1, 1, 0, &line), -EINVAL);
	/* past the table */
	ASSERT_EQ(py_linetable__addr2line((const unsigned char[]){ 0xe8, 0x02 }, 2, 5, 4, &line),
		  -ENOENT);
	ASSERT_EQ(py_linetable__addr2line((const unsigned char[]){ 0xe8, 0x02 }, 2, 5, 0, &line), 0);
	ASSERT_EQ(line, 6); /* no-columns entry, line delta +1 */
	return 0;
}

int main(void)
{
	RUN(matches_cpython);
	RUN(malformed);
	return test_summary();
}
