// SPDX-License-Identifier: Apache-2.0
/*
 * A library the unwind workload dlopen()s while it is being profiled, so its
 * code appears after the agent has read the process's mappings. Built
 * without frame pointers, like the workload.
 */
#include <stdint.h>

#define NOINLINE __attribute__((noinline))

volatile uint64_t dl_sink;

NOINLINE uint64_t dl_middle(uint64_t (*leaf)(uint64_t), uint64_t x)
{
	x = leaf(x + 1);
	dl_sink += x;
	return x ^ 3;
}

NOINLINE uint64_t dl_entry(uint64_t (*leaf)(uint64_t), uint64_t x)
{
	x = dl_middle(leaf, x + 2);
	dl_sink += x;
	return x + 5;
}
