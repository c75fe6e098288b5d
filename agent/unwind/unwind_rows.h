/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A file's CFI rows (symbolizer/elf/cfi_table.h) as the BPF walker reads
 * them (bpf/unwind.h): a bucket index, then the rows, in one run of the row
 * space.
 */
#ifndef FORNAX_UNWIND_ROWS_H
#define FORNAX_UNWIND_ROWS_H

#include <linux/types.h>

#include "cfi_table.h"
#include "unwind.h"

struct unwind_rows_layout {
	__u32 shift;       /* bucket size: 1 << shift bytes of code */
	__u32 n_buckets;
	__u32 index_slots; /* fornax_unwind_index_slots(n_buckets) */
	__u32 slots;       /* index_slots + rows */
};

/*
 * Chooses the bucket size (about four rows per bucket) and fills out.
 * -E2BIG if the index and rows would not fit the row space's indexing.
 */
int unwind_rows__layout(const struct cfi_table *t, struct unwind_rows_layout *out);

/* Writes the index, then the rows, into out (layout->slots entries). */
void unwind_rows__serialize(const struct cfi_table *t, const struct unwind_rows_layout *layout,
			    struct fornax_unwind_row *out);
/*
 * Writes slots [first, first + n) of the same, within layout->slots: a
 * table goes straight into the row space's pages, one page's run at a
 * time, with no image of it all in between.
 */
void unwind_rows__serialize_range(const struct cfi_table *t,
				  const struct unwind_rows_layout *layout, __u32 first, __u32 n,
				  struct fornax_unwind_row *out);

#endif /* FORNAX_UNWIND_ROWS_H */
