// SPDX-License-Identifier: Apache-2.0
/*
 * A library the sigbus helper dlopen()s from a copy it owns. Each entry
 * calls back into the program and keeps its own frame (no tail call), so its
 * return address stays on the stack while the program runs elsewhere.
 */
#include <stdint.h>

#define NOINLINE __attribute__((noinline))

volatile uint64_t sigbus_sink;

/*
 * 2000 distinct instructions, so nearly every sample lands on an address the
 * profiler has not symbolized yet: it keeps using the file up to the end.
 */
NOINLINE void sigbus_warm(volatile int *stop)
{
	uint64_t x = 0;

	while (!*stop)
		__asm__ volatile(".rept 2000\n\taddq $1, %0\n\t.endr" : "+r"(x));
	sigbus_sink += x;
}

#define ENTRY(i)                                                  \
	NOINLINE void sigbus_entry_##i(void (*cb)(int), int arg) \
	{                                                         \
		cb(arg);                                          \
		sigbus_sink += i;                                 \
	}

ENTRY(1)
ENTRY(2)
ENTRY(3)
ENTRY(4)
ENTRY(5)
ENTRY(6)
ENTRY(7)
