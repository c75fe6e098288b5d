// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: unwind rows from an ELF file's CFI (.eh_frame,
 * .debug_frame), then every lookup, and the layout the BPF walker reads
 * (agent/unwind/unwind_rows.c) (built with -DFORNAX_FUZZ=ON and clang). Seed
 * it with ELF files.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gelf.h>

#include "cfi_table.h"
#include "unwind_rows.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct unwind_rows_layout layout;
	const struct cfi_row *rows;
	struct fornax_unwind_row *out;
	struct cfi_table *t;
	char *image;
	size_t n;
	Elf *elf;

	if (!size)
		return 0;
	(void)elf_version(EV_CURRENT);
	image = malloc(size);
	if (!image)
		return 0;
	memcpy(image, data, size);
	elf = elf_memory(image, size);
	t = elf ? cfi_table__build(elf) : NULL;
	if (t) {
		rows = cfi_table__rows(t, &n);
		for (size_t i = 0; i < n; i++) {
			__u64 vaddr = cfi_table__origin(t) + rows[i].pc;

			(void)cfi_table__lookup(t, vaddr);
			(void)cfi_table__lookup(t, vaddr - 1);
		}
		if (unwind_rows__layout(t, &layout) == 0 && layout.slots) {
			out = calloc(layout.slots, sizeof(*out));
			if (out)
				unwind_rows__serialize(t, &layout, out);
			free(out);
		}
		cfi_table__free(t);
	}
	if (elf)
		elf_end(elf);
	free(image);
	return 0;
}
