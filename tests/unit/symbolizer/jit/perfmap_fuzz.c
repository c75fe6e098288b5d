// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: JIT perf map parsing (built with -DFORNAX_FUZZ=ON and clang). */
#include <stddef.h>
#include <stdint.h>

#include "perfmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct perfmap *pm = perfmap__new(64);
	size_t half = size / 2;
	ssize_t used;

	if (!pm)
		return 0;
	/* in two pieces, as a growing file is read */
	used = perfmap__parse(pm, (const char *)data, half);
	if (used >= 0 && (size_t)used <= half)
		(void)perfmap__parse(pm, (const char *)data + used, size - (size_t)used);
	for (size_t i = 0; i + 8 <= size; i += 8) {
		uint64_t addr;
		const struct perfmap_entry *e;

		__builtin_memcpy(&addr, data + i, sizeof(addr));
		e = perfmap__find(pm, addr);
		if (e && (addr < e->start || addr >= e->end || !e->name))
			__builtin_trap();
	}
	perfmap__free(pm);
	return 0;
}
