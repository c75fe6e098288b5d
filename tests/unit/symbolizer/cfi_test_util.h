/* SPDX-License-Identifier: Apache-2.0 */
/* The CFI table of a file, for the tests of the rows and of their layout. */
#ifndef FORNAX_CFI_TEST_UTIL_H
#define FORNAX_CFI_TEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <libelf.h>
#include <unistd.h>

#include "cfi_table.h"

/* NULL with errno set. */
static inline struct cfi_table *build_file(const char *path)
{
	struct cfi_table *t = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf;

	if (fd < 0)
		return NULL;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf)
		t = cfi_table__build(elf);
	else
		errno = ENOEXEC;
	elf_end(elf);
	close(fd);
	return t;
}

#endif /* FORNAX_CFI_TEST_UTIL_H */
