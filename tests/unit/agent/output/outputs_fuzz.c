// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: every output of a profile read from elsewhere, as
 * `fornax convert` makes them: folded stacks, the SVG flame graph, the --top
 * summary and pprof again (built with -DFORNAX_FUZZ=ON and clang). Seed it
 * with tests/fuzz/corpus/pprof_decode_fuzz.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "pprof_codec.h"
#include "top.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pprof_decode_info info;
	struct pprof *p = pprof__decode(data, size, &(struct pprof_decode_opts){
		.max_bytes = 64 << 20 }, &info);
	const char *unit;
	size_t len;
	char *text;
	void *buf;

	if (!p)
		return 0;
	/* as convert.c chooses it */
	unit = strcmp(info.sample_unit, "count") == 0 ? info.sample_type : info.sample_unit;
	if (output__folded(p, &text, &len) == 0)
		free(text);
	if (output__svg(p, &(struct output_opts){ .unit = unit, .title = unit }, &text, &len) == 0)
		free(text);
	if (top__format(p, 20, TOP_BY_FUNCTION, unit, &text) == 0)
		free(text);
	if (pprof__encode(p, true, &buf, &len) == 0)
		free(buf);
	pprof__free(p);
	return 0;
}
