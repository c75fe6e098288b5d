// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: kallsyms and /proc/modules parsing (built with -DFORNAX_FUZZ=ON and clang). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kallsyms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the first line, if any, is /proc/modules; the rest kallsyms */
	const uint8_t *nl = memchr(data, '\n', size);
	size_t msize = nl ? (size_t)(nl - data) + 1 : 0;
	FILE *k, *m = NULL;
	struct kallsyms *ks;

	k = fmemopen((void *)(data + msize), size - msize, "r");
	if (!k)
		return 0;
	if (msize)
		m = fmemopen((void *)data, msize, "r");
	ks = kallsyms__parse(k, m);
	for (size_t i = 0; ks && i < size; i += 8) {
		struct kallsyms_sym s;
		__u64 a;

		if (size - i < sizeof(a))
			break;
		memcpy(&a, data + i, sizeof(a));
		if (kallsyms__lookup(ks, a, &s) == 0 && (!s.name || s.index >= kallsyms__count(ks)))
			__builtin_trap();
	}
	kallsyms__free(ks);
	fclose(k);
	if (m)
		fclose(m);
	return 0;
}
