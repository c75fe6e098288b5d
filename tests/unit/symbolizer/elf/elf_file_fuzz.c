// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: ELF and DWARF through elf_file (built with
 * -DFORNAX_FUZZ=ON and clang). Seed it with the fixture binaries. An input
 * whose compressed sections elf_inflate accepts is read from its inflated
 * copy, as the agent reads debug files.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "elf_file.h"
#include "elf_inflate.h"

static char scratch_path[] = "/var/tmp/fornax-fuzz-XXXXXX";

/* The copies kept there (elf_inflate keeps the last few), then the directory. */
static void remove_scratch(void)
{
	DIR *d = opendir(scratch_path);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		int dfd = dirfd(d);

		if (de->d_name[0] != '.')
			unlinkat(dfd, de->d_name, 0);
	}
	if (d)
		closedir(d);
	rmdir(scratch_path);
}

/* A private directory on disk for the inflated copies, or -1. */
static int scratch_dir(void)
{
	static int fd = -2;

	if (fd == -2) {
		fd = -1;
		if (mkdtemp(scratch_path)) {
			atexit(remove_scratch);
			fd = open(scratch_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		}
	}
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_file_opts opts = { .debug_dirs = "/nonexistent", .max_dwarf_bytes = 64 << 20 };
	const struct elf_segment *segs;
	struct elf_file *ef;
	__u64 inflated;
	size_t n;
	int fd, copy;

	fd = memfd_create("fuzz", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	if (scratch_dir() >= 0 &&
	    (copy = elf_inflate__copy(fd, scratch_dir(), 64 << 20, &inflated)) >= 0) {
		close(fd);
		fd = copy;
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
