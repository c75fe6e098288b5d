/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compact unwind rows from an ELF file's call frame information (.eh_frame,
 * and .debug_frame for code .eh_frame does not describe), evaluated with
 * libdw's CFI API. One row per program-counter range says how to find the
 * caller: the CFA from rsp or rbp plus an offset, and where the caller's rbp
 * was saved. Ranges with the same rule are merged; gaps between FDEs get a
 * CFI_ROW_NONE row. x86-64 only.
 *
 * Rules a stack walker that keeps only these registers cannot follow become
 * CFI_ROW_UNSUPPORTED rows and are counted, except two DWARF expressions
 * real binaries use: the lazy PLT's CFA expression and the signal
 * trampoline's (glibc's __restore_rt). The rows are the walker's neutral
 * input: agent/unwind/ turns them into the BPF program's tables.
 *
 * Library code: returns -errno, never logs.
 */
#ifndef FORNAX_SYMBOLIZER_CFI_TABLE_H
#define FORNAX_SYMBOLIZER_CFI_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <gelf.h>
#include <linux/types.h>

/* How to get from a frame to its caller at a range of program counters. */
enum cfi_row_type {
	CFI_ROW_NONE = 0,    /* no CFI covers these addresses (a gap between FDEs) */
	CFI_ROW_CFA_SP,      /* CFA = rsp + cfa_off */
	CFI_ROW_CFA_FP,      /* CFA = rbp + cfa_off */
	/* the lazy PLT: CFA = rsp + 8, plus 8 once (rip & 15) >= cfa_off */
	CFI_ROW_PLT,
	/*
	 * A signal trampoline: rsp points at the ucontext; the interrupted rsp
	 * is at rsp + cfa_off, rip right after it, rbp at rsp + 8 * fp_off.
	 */
	CFI_ROW_SIGNAL,
	CFI_ROW_OUTERMOST,   /* return address undefined: the thread's first frame */
	CFI_ROW_UNSUPPORTED, /* any other expression or register rule */
	CFI_ROW_NR_TYPES,
};

/*
 * One row, 8 bytes (libraries have hundreds of thousands). The return
 * address is always at CFA - 8 on x86-64, so it needs no field; a CFA more
 * than 64 KiB above rsp does not fit one and is unsupported; rbp saved
 * where a row cannot say (more than 1 KiB below the CFA, in another
 * register, by an expression) is CFI_FP_LOST, counted.
 */
struct cfi_row {
	__u32 pc;      /* first covered address, relative to the table's origin */
	__u8 type;     /* enum cfi_row_type */
	__s8 fp_off;   /* caller's rbp saved at CFA + 8 * fp_off; 0: rbp unchanged */
	__u16 cfa_off;
};

/*
 * fp_off of a row after which the caller's rbp is not known: a later step
 * that needs rbp (a CFA based on it, a frame-pointer step) cannot be trusted.
 */
#define CFI_FP_LOST 127

/* Rows one table may hold. */
#define CFI_MAX_ROWS (1u << 28)

struct cfi_table;

struct cfi_table_stats {
	__u64 fdes;        /* FDEs described by the rows */
	__u64 cfi_rows;    /* rows as libdw evaluated them, before merging */
	__u64 rows;        /* rows kept */
	__u64 rows_by_type[CFI_ROW_NR_TYPES];
	/* The caller's rbp is saved in a way rows cannot say: assumed unchanged. */
	__u64 rbp_unsupported;
	__u64 fde_errors;  /* FDEs libdw could not evaluate: covered by an unsupported row */
	__u64 entry_rows;  /* 1: the entry point had no CFI and ends stacks (ld.so's _start) */
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
const struct cfi_row *cfi_table__rows(const struct cfi_table *t, size_t *n);
/* ELF virtual address of row pc 0. */
__u64 cfi_table__origin(const struct cfi_table *t);
const struct cfi_table_stats *cfi_table__stats(const struct cfi_table *t);

/*
 * The row that applies at ELF virtual address vaddr, or NULL if no row
 * covers it (before the first row, or in a CFI_ROW_NONE gap).
 */
const struct cfi_row *cfi_table__lookup(const struct cfi_table *t, __u64 vaddr);

/*
 * A table from n rows (struct cfi_row, at any alignment) another table's
 * cfi_table__rows() gave, as one kept on disk: checked as the builder
 * leaves them (pc 0 first, pcs rising, known types); NULL with errno EINVAL
 * otherwise, or ENOMEM. The rows are copied.
 */
struct cfi_table *cfi_table__from_rows(const void *rows, size_t n, __u64 origin,
				       const struct cfi_table_stats *stats);

/*
 * The same from n rows in a malloc()ed array of struct cfi_row, which the
 * table takes (freed here if the rows are refused): no copy.
 */
struct cfi_table *cfi_table__adopt_rows(struct cfi_row *rows, size_t n, __u64 origin,
					const struct cfi_table_stats *stats);

/*
 * Everything of elf that cfi_table__build() reads, as one malloc()ed blob
 * of *len bytes: the ELF header, the program and section headers with the
 * sections' names, and the bytes of .eh_frame, .eh_frame_hdr and
 * .debug_frame as stored. Two files with the same blob get the same rows,
 * so a table kept on disk is checked against it. Call it before building
 * (the build decompresses sections in place). NULL with errno set: EINVAL,
 * ENOMEM, E2BIG (more than max_bytes).
 */
void *cfi_table__inputs(Elf *elf, size_t max_bytes, size_t *len);

/* Bytes of CFI in elf (.eh_frame and .debug_frame): what building its table costs, roughly. */
__u64 cfi_table__cfi_bytes(Elf *elf);

#endif /* FORNAX_SYMBOLIZER_CFI_TABLE_H */
