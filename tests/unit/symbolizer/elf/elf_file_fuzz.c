// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: ELF and DWARF through elf_file (built with
 * -DFORNAX_FUZZ=ON and clang). Seed it with the fixture binaries.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "elf_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_file_opts opts = { .debug_dirs = "/nonexistent", .max_dwarf_bytes = 64 << 20 };
	const struct elf_segment *segs;
	struct elf_file *ef;
	size_t n;
	int fd;

	fd = memfd_create("fuzz", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	ef = elf_file__open(fd, "", &opts);
	if (!ef)
		return 0;
	segs = elf_file__segments(ef, &n);
	for (size_t i = 0; i < n; i++) {
		for (__u64 off = 0; off < segs[i].filesz && off < 4096; off += 61) {
			const struct elf_frame *fr;
			size_t nf;

			(void)elf_file__symbolize(ef, segs[i].vaddr + off, &fr, &nf);
		}
	}
	(void)elf_file__memory(ef);
	elf_file__free(ef);
	return 0;
}
