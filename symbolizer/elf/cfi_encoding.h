/* SPDX-License-Identifier: Apache-2.0 */
/* DW_EH_PE pointer encodings, as CIEs and FDEs use them (cfi_table.c). */
#ifndef FORNAX_ELF_CFI_ENCODING_H
#define FORNAX_ELF_CFI_ENCODING_H

#include <linux/types.h>
#include <stdbool.h>

/*
 * Reads one DW_EH_PE-encoded value at *p (not past end) and advances *p.
 * field_vaddr is the address of the encoded bytes, for pc-relative values;
 * apply is false for lengths (an FDE's address range has the format but not
 * the application). 0, -EINVAL past end or for a malformed value, -ENOTSUP for an
 * encoding it does not read.
 */
int cfi_read_encoded(const __u8 **p, const __u8 *end, __u8 enc, __u64 field_vaddr, bool apply,
		     __u64 *out);

#endif /* FORNAX_ELF_CFI_ENCODING_H */
