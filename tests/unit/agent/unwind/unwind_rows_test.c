// SPDX-License-Identifier: Apache-2.0
/*
 * A file's CFI rows as the BPF walker reads them: the bucket index and the
 * rows the agent writes into the row space, searched the way the walker
 * searches them, against a plain search of the CFI module's rows, at every
 * address. Fixture programs and the system's libc.
 */
#include <elf.h>
#include <libelf.h>

#include "cfi_test_util.h"
#include "symbolizer_test_util.h"
#include "test.h"
#include "unwind_rows.h"

#define LIBC_PATH "/lib/x86_64-linux-gnu/libc.so.6"

/* The same rule, in the walker's terms. */
static bool same_row(const struct cfi_row *a, const struct fornax_unwind_row *b)
{
	static const __u8 types[CFI_ROW_NR_TYPES] = {
		[CFI_ROW_NONE] = FORNAX_ROW_NONE,	    [CFI_ROW_CFA_SP] = FORNAX_ROW_CFA_SP,
		[CFI_ROW_CFA_FP] = FORNAX_ROW_CFA_FP,	    [CFI_ROW_PLT] = FORNAX_ROW_PLT,
		[CFI_ROW_SIGNAL] = FORNAX_ROW_SIGNAL,	    [CFI_ROW_OUTERMOST] = FORNAX_ROW_OUTERMOST,
		[CFI_ROW_UNSUPPORTED] = FORNAX_ROW_UNSUPPORTED,
	};

	return a->pc == b->pc && types[a->type] == b->type && a->fp_off == b->fp_off &&
	       a->cfa_off == b->cfa_off;
}

/*
 * The walker's search (bpf/unwind.bpf.h: bucket, then a binary search of
 * the bucket's rows) over the serialized table, redone here.
 */
static const struct fornax_unwind_row *indexed_lookup(const struct fornax_unwind_row *image,
						      const struct unwind_rows_layout *l, __u32 rel)
{
	const struct fornax_unwind_index_slot *index = (const void *)image;
	const struct fornax_unwind_row *rows = image + l->index_slots;
	__u32 k = rel >> l->shift, first, last, lo, hi;

	if (k >= l->n_buckets)
		return NULL;
	first = index[k / 2].start[k % 2];
	last = index[(k + 1) / 2].start[(k + 1) % 2];
	if (last < first || rows[first].pc > rel)
		return NULL;
	lo = first + 1;
	hi = last + 1;
	while (lo < hi) {
		__u32 mid = lo + (hi - lo) / 2;

		if (rows[mid].pc <= rel)
			lo = mid + 1;
		else
			hi = mid;
	}
	return rows[lo - 1].type == FORNAX_ROW_NONE ? NULL : &rows[lo - 1];
}

/* Every address of a table: the indexed search finds what a plain search of the rows does. */
static int check_index(const char *path)
{
	struct cfi_table *t = build_file(path);
	struct unwind_rows_layout l;
	struct fornax_unwind_row *image;
	const struct cfi_row *rows;
	__u64 origin, max_bucket_rows = 0;
	size_t n;

	ASSERT_TRUE(t);
	rows = cfi_table__rows(t, &n);
	origin = cfi_table__origin(t);
	ASSERT_EQ(unwind_rows__layout(t, &l), 0);
	ASSERT_EQ(l.index_slots, fornax_unwind_index_slots(l.n_buckets));
	ASSERT_EQ(l.slots, l.index_slots + n);
	image = malloc(l.slots * sizeof(*image));
	ASSERT_TRUE(image);
	unwind_rows__serialize(t, &l, image);
	for (__u64 rel = 0; rel <= rows[n - 1].pc + 16; rel++) {
		const struct cfi_row *want = cfi_table__lookup(t, origin + rel);
		const struct fornax_unwind_row *got = indexed_lookup(image, &l, rel);

		if (!want != !got || (want && !same_row(want, got)))
			TEST_FAIL("%s: %#llx: indexed search disagrees", path, (unsigned long long)rel);
	}
	for (__u64 k = 0; k < l.n_buckets; k++) {
		const struct fornax_unwind_index_slot *index = (const void *)image;
		__u64 span = index[(k + 1) / 2].start[(k + 1) % 2] - index[k / 2].start[k % 2] + 1;

		if (span > max_bucket_rows)
			max_bucket_rows = span;
	}
	/* In runs of any length, as a table goes into the row space's pages: the same slots. */
	for (__u32 run = 1; run <= 4099; run = run * 3 + 2) {
		struct fornax_unwind_row *parts = calloc(l.slots, sizeof(*parts));

		ASSERT_TRUE(parts);
		for (__u32 at = 0; at < l.slots; at += run)
			unwind_rows__serialize_range(t, &l, at, l.slots - at < run ? l.slots - at : run,
						     parts + at);
		if (memcmp(parts, image, l.slots * sizeof(*image)))
			TEST_FAIL("%s: written in runs of %u, the slots differ", path, run);
		free(parts);
	}
	fprintf(stderr, "  %s: %zu rows, %u buckets of %u bytes, at most %llu rows in one\n", path,
		n, l.n_buckets, 1u << l.shift, (unsigned long long)max_bucket_rows);
	free(image);
	cfi_table__free(t);
	return 0;
}

TEST(bucket_index_finds_every_row)
{
	char *path = fx_path("cfx_nofp");
	int err;

	ASSERT_TRUE(path);
	err = check_index(path);
	free(path);
	if (err)
		return err;
	if (access(LIBC_PATH, R_OK) == 0)
		return check_index(LIBC_PATH);
	return 0;
}

int main(void)
{
	elf_version(EV_CURRENT);
	RUN(bucket_index_finds_every_row);
	return test_summary();
}
