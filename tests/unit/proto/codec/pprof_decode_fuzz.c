// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: pprof__decode on arbitrary bytes (built with
 * -DFORNAX_FUZZ=ON and clang). Seed it with tests/fixtures/pprof. A decoded
 * profile is walked through every accessor, so a dangling id would show.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "pprof_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pprof_decode_info info;
	struct pprof *p = pprof__decode(data, size, &(struct pprof_decode_opts){
		.max_bytes = 64 << 20 }, &info);

	if (!p)
		return 0;
	for (size_t i = 0; i < pprof__num_samples(p); i++) {
		const struct pprof_sample *s = pprof__sample(p, i);

		for (size_t j = 0; j < s->n_locations; j++) {
			const struct pprof_location *l = pprof__location(p, s->location_ids[j]);

			if (!l || (l->mapping_id && !pprof__mapping(p, l->mapping_id)))
				abort();
			for (size_t k = 0; k < l->n_lines; k++)
				if (!pprof__function(p, l->lines[k].function_id))
					abort();
		}
	}
	pprof__free(p);
	return 0;
}
