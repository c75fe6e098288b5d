// SPDX-License-Identifier: Apache-2.0
#include "unwind_rows.h"

#include <errno.h>
#include <string.h>

/* The walker's row types, by the CFI module's. */
static const __u8 row_types[CFI_ROW_NR_TYPES] = {
	[CFI_ROW_NONE] = FORNAX_ROW_NONE,
	[CFI_ROW_CFA_SP] = FORNAX_ROW_CFA_SP,
	[CFI_ROW_CFA_FP] = FORNAX_ROW_CFA_FP,
	[CFI_ROW_PLT] = FORNAX_ROW_PLT,
	[CFI_ROW_SIGNAL] = FORNAX_ROW_SIGNAL,
	[CFI_ROW_OUTERMOST] = FORNAX_ROW_OUTERMOST,
	[CFI_ROW_UNSUPPORTED] = FORNAX_ROW_UNSUPPORTED,
};
_Static_assert((int)CFI_ROW_NR_TYPES == (int)FORNAX_ROW_NR_TYPES, "every row type has its walker twin");
_Static_assert(CFI_MAX_ROWS <= FORNAX_UNWIND_MAX_ROWS, "a table fits the row space's indexing");

int unwind_rows__layout(const struct cfi_table *t, struct unwind_rows_layout *out)
{
	size_t n_rows;
	const struct cfi_row *rows = cfi_table__rows(t, &n_rows);
	__u64 span = n_rows ? rows[n_rows - 1].pc : 0;
	__u64 per_row = n_rows ? span / n_rows : 0;
	__u64 buckets, slots;
	__u32 shift = 4;

	/* About four rows per bucket: a search of two or three probes. */
	while (shift < 24 && (1ULL << shift) < 4 * per_row)
		shift++;
	buckets = (span >> shift) + 1;
	slots = fornax_unwind_index_slots(buckets) + (__u64)n_rows;
	if (slots > FORNAX_UNWIND_MAX_ROWS)
		return -E2BIG;
	out->shift = shift;
	out->n_buckets = buckets;
	out->index_slots = fornax_unwind_index_slots(buckets);
	out->slots = slots;
	return 0;
}

void unwind_rows__serialize(const struct cfi_table *t, const struct unwind_rows_layout *layout,
			    struct fornax_unwind_row *out)
{
	struct fornax_unwind_index_slot *index = (struct fornax_unwind_index_slot *)out;
	struct fornax_unwind_row *dst = out + layout->index_slots;
	size_t n_rows, row = 0;
	const struct cfi_row *rows = cfi_table__rows(t, &n_rows);

	memset(index, 0, (size_t)layout->index_slots * sizeof(*index));
	/* start(k): the last row at or below the bucket's first address */
	for (__u64 k = 0; k <= layout->n_buckets; k++) {
		__u64 at = k << layout->shift;

		while (row + 1 < n_rows && rows[row + 1].pc <= at)
			row++;
		index[k / 2].start[k % 2] = row;
	}
	for (size_t i = 0; i < n_rows; i++)
		dst[i] = (struct fornax_unwind_row){
			.pc = rows[i].pc,
			.type = row_types[rows[i].type],
			.fp_off = rows[i].fp_off,
			.cfa_off = rows[i].cfa_off,
		};
}
