/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compact unwind rows from an ELF file's call frame information (.eh_frame,
 * and .debug_frame for code .eh_frame does not describe), evaluated with
 * libdw's CFI API. One row per program-counter range says how the BPF walker finds the
 * caller (bpf/unwind.h): the CFA from rsp or rbp plus an offset, and where
 * the caller's rbp was saved. Ranges with the same rule are merged; gaps
 * between FDEs get a FORNAX_ROW_NONE row. x86-64 only.
 *
 * Rules the walker cannot follow become FORNAX_ROW_UNSUPPORTED rows and are
 * counted, except two DWARF expressions real binaries use: the lazy PLT's
 * CFA expression and the signal trampoline's (glibc's __restore_rt).
 *
 * Library code: returns -errno, never logs.
 */
#ifndef FORNAX_UNWIND_CFI_TABLE_H
#define FORNAX_UNWIND_CFI_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <gelf.h>
#include <linux/types.h>

#include "unwind.h"

struct cfi_table;

struct cfi_table_stats {
	__u64 fdes;        /* FDEs described by the rows */
	__u64 cfi_rows;    /* rows as libdw evaluated them, before merging */
	__u64 rows;        /* rows kept */
	__u64 rows_by_type[FORNAX_ROW_NR_TYPES];
	/* The caller's rbp is saved in a way rows cannot say: assumed unchanged. */
	__u64 rbp_unsupported;
	__u64 fde_errors;  /* FDEs libdw could not evaluate: covered by an unsupported row */
	bool debug_frame;  /* the file has .debug_frame, read with its .eh_frame */
};

/*
 * Builds the rows for elf (kept open by the caller; libdw reads it during
 * the call only). NULL with errno set: ENOENT (no CFI), ENOTSUP (not
 * x86-64 ELF64), E2BIG (code spans more than 4 GiB, or too many rows),
 * EINVAL (malformed CFI), ENOMEM.
 */
struct cfi_table *cfi_table__build(Elf *elf);
void cfi_table__free(struct cfi_table *t);

/* Rows sorted by pc; pc is relative to the origin. */
const struct fornax_unwind_row *cfi_table__rows(const struct cfi_table *t, size_t *n);
/* ELF virtual address of row pc 0. */
__u64 cfi_table__origin(const struct cfi_table *t);
const struct cfi_table_stats *cfi_table__stats(const struct cfi_table *t);

/*
 * The row that applies at ELF virtual address vaddr, or NULL if no row
 * covers it (before the first row, or in a FORNAX_ROW_NONE gap).
 */
const struct fornax_unwind_row *cfi_table__lookup(const struct cfi_table *t, __u64 vaddr);

/* How the table is laid out in the row space (bpf/unwind.h): index, then rows. */
struct cfi_table_layout {
	__u32 shift;       /* bucket size: 1 << shift bytes of code */
	__u32 n_buckets;
	__u32 index_slots; /* fornax_unwind_index_slots(n_buckets) */
	__u32 slots;       /* index_slots + rows */
};

/*
 * Chooses the bucket size (about four rows per bucket) and fills out.
 * -E2BIG if the index and rows would not fit the row space's indexing.
 */
int cfi_table__layout(const struct cfi_table *t, struct cfi_table_layout *out);

/* Writes the index, then the rows, into out (layout->slots entries). */
void cfi_table__serialize(const struct cfi_table *t, const struct cfi_table_layout *layout,
			  struct fornax_unwind_row *out);

#endif /* FORNAX_UNWIND_CFI_TABLE_H */
