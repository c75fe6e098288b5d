// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: /proc/PID/maps parsing (built with -DFORNAX_FUZZ=ON and clang). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "procmaps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct procmaps *m = procmaps__parse_buf((const char *)data, size, 0);
	FILE *f;

	for (size_t i = 0; m && i < procmaps__count(m); i++) {
		const struct procmaps_entry *e = procmaps__entry(m, i);

		if (e->start >= e->end || procmaps__find(m, e->start) == NULL)
			__builtin_trap();
	}
	procmaps__free(m);
	f = fmemopen((void *)data, size, "r");
	if (f) {
		procmaps__free(procmaps__parse_file(f, PROCMAPS_EXEC_ONLY));
		fclose(f);
	}
	return 0;
}
