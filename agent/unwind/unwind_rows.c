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

/* The last row at or below pc: rows[0].pc is 0, so there is one. */
static size_t row_at(const struct cfi_row *rows, size_t n_rows, __u64 pc)
{
	size_t lo = 1, hi = n_rows;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rows[mid].pc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo - 1;
}

void unwind_rows__serialize_range(const struct cfi_table *t,
				  const struct unwind_rows_layout *layout, __u32 first, __u32 n,
				  struct fornax_unwind_row *out)
{
	size_t n_rows;
	const struct cfi_row *rows = cfi_table__rows(t, &n_rows);
	__u64 end = (__u64)first + n, slot = first;

	if (slot < layout->index_slots) {
		struct fornax_unwind_index_slot *index = (struct fornax_unwind_index_slot *)out;
		__u64 index_end = end < layout->index_slots ? end : layout->index_slots;
		/* start(k): the last row at or below the bucket's first address */
		size_t row = row_at(rows, n_rows, (__u64)(2 * slot) << layout->shift);

		memset(index, 0, (size_t)(index_end - slot) * sizeof(*index));
		for (__u64 k = 2 * slot; k < 2 * index_end && k <= layout->n_buckets; k++) {
			__u64 at = k << layout->shift;

			while (row + 1 < n_rows && rows[row + 1].pc <= at)
				row++;
			index[k / 2 - slot].start[k % 2] = row;
		}
		out += index_end - slot;
		slot = index_end;
	}
	for (; slot < end; slot++) {
		const struct cfi_row *r = &rows[slot - layout->index_slots];

		*out++ = (struct fornax_unwind_row){
			.pc = r->pc,
			.type = row_types[r->type],
			.fp_off = r->fp_off,
			.cfa_off = r->cfa_off,
		};
	}
}

void unwind_rows__serialize(const struct cfi_table *t, const struct unwind_rows_layout *layout,
			    struct fornax_unwind_row *out)
{
	unwind_rows__serialize_range(t, layout, 0, layout->slots, out);
}
