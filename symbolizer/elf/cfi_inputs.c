// SPDX-License-Identifier: Apache-2.0
/*
 * What building a table reads of a file: how much CFI it has (the cost of
 * a build) and the inputs a table kept on disk is checked against.
 */
#include "cfi_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"

__u64 cfi_table__cfi_bytes(Elf *elf)
{
	Elf_Scn *scn = NULL;
	__u64 bytes = 0;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx) < 0)
		return 0;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && (strcmp(name, ".eh_frame") == 0 || strcmp(name, ".debug_frame") == 0))
			bytes += sh.sh_size;
	}
	return bytes;
}

struct blob {
	unsigned char *buf;
	size_t len, cap, max;
};

static int blob_add(struct blob *b, const void *p, size_t n)
{
	if (n > b->max - b->len)
		return -E2BIG;
	if (ARRAY_GROW(&b->buf, &b->cap, b->len + n))
		return -ENOMEM;
	if (n)
		memcpy(b->buf + b->len, p, n);
	b->len += n;
	return 0;
}

static bool is_cfi_section(const char *name)
{
	return strcmp(name, ".eh_frame") == 0 || strcmp(name, ".eh_frame_hdr") == 0 ||
	       strcmp(name, ".debug_frame") == 0;
}

/*
 * The headers say where every section is and what it is called (which
 * ones libdw reads, at which addresses); the CFI sections' bytes are taken
 * as stored, before any decompression.
 */
void *cfi_table__inputs(Elf *elf, size_t max_bytes, size_t *len)
{
	struct blob b = { .max = max_bytes };
	Elf_Scn *scn = NULL;
	size_t shstrndx, n_phdrs;
	GElf_Ehdr ehdr;
	int err = -EINVAL;

	if (!elf || !len || !gelf_getehdr(elf, &ehdr) || elf_getphdrnum(elf, &n_phdrs) ||
	    elf_getshdrstrndx(elf, &shstrndx) < 0)
		goto fail;
	err = blob_add(&b, &ehdr, sizeof(ehdr));
	for (size_t i = 0; i < n_phdrs && !err; i++) {
		GElf_Phdr ph;

		err = gelf_getphdr(elf, (int)i, &ph) ? blob_add(&b, &ph, sizeof(ph)) : -EINVAL;
	}
	while (!err && (scn = elf_nextscn(elf, scn))) {
		const char *name;
		Elf_Data *data;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh)) {
			err = -EINVAL;
			break;
		}
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name)
			name = "";
		err = blob_add(&b, &sh, sizeof(sh)) ?: blob_add(&b, name, strlen(name) + 1);
		if (err || sh.sh_type == SHT_NOBITS || !is_cfi_section(name))
			continue;
		data = elf_rawdata(scn, NULL);
		if (!data || (sh.sh_size && !data->d_buf) || data->d_size != sh.sh_size) {
			err = -EINVAL;
			break;
		}
		err = blob_add(&b, data->d_buf, data->d_size);
	}
	if (err)
		goto fail;
	*len = b.len;
	return b.buf;
fail:
	free(b.buf);
	errno = -err;
	return NULL;
}
