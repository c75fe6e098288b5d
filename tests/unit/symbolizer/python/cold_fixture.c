// SPDX-License-Identifier: Apache-2.0
/*
 * A function with a cold part of its own, as GCC splits off the unlikely
 * blocks of CPython's eval loop: each check below calls a cold function, so
 * its block goes to check.cold, reached by a jump from the hot part.
 * Built with plain -O2 (tests/unit/symbolizer/python/python.cmake); its
 * .symtab names check.cold, which py_cold_test compares with what
 * py_cold__find() finds without it.
 */
#include <stdio.h>
#include <stdlib.h>

__attribute__((cold, noinline)) void complain(const char *what, long v)
{
	fprintf(stderr, "%s: %ld\n", what, v);
}

#define CHECK(cond, what)                       \
	do {                                    \
		if (cond) {                     \
			complain(what, v[i]);   \
			bad += v[i] ^ (long)i;  \
			continue;               \
		}                               \
	} while (0)

__attribute__((noinline)) long check(const long *v, int n)
{
	long sum = 0, bad = 0;

	for (int i = 0; i < n; i++) {
		CHECK(v[i] < 0, "negative");
		CHECK(v[i] == 13, "unlucky");
		CHECK(v[i] > 1000000, "too large");
		CHECK(v[i] % 1009 == 7, "residue 7");
		CHECK(v[i] % 1013 == 11, "residue 11");
		CHECK(v[i] % 1019 == 17, "residue 17");
		CHECK(v[i] % 1021 == 19, "residue 19");
		CHECK(v[i] % 1031 == 23, "residue 23");
		CHECK(v[i] % 1033 == 29, "residue 29");
		CHECK(v[i] % 1039 == 31, "residue 31");
		sum += v[i] * 3;
	}
	return sum + bad;
}

int main(int argc, char **argv)
{
	long v[4] = { argc, 2, 3, 4 };

	(void)argv;
	return check(v, 4) == 0;
}
