// SPDX-License-Identifier: Apache-2.0
/*
 * spin SECONDS: burns CPU in main → hostile_outer → hostile_leaf, then exits.
 *
 * The hostile-input tests build it without DWARF (so the agent goes looking
 * for a separate debug file next to it), with and without a build-id, and
 * rename hostile_outer to a name full of terminal controls.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

volatile uint64_t sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

NOINLINE uint64_t hostile_leaf(uint64_t x)
{
	for (int i = 0; i < 100000; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	sink = x;
	return x;
}

NOINLINE uint64_t hostile_outer(uint64_t x)
{
	x = hostile_leaf(x);
	sink += 1;
	return x;
}

int main(int argc, char **argv)
{
	double end;
	uint64_t x = 1;
	char *rest;

	if (argc != 2) {
		fprintf(stderr, "usage: %s SECONDS\n", argv[0]);
		return 2;
	}
	end = strtod(argv[1], &rest);
	if (*rest || end <= 0)
		return 2;
	end += now();
	while (now() < end)
		x = hostile_outer(x);
	return (int)(x & 0);
}
