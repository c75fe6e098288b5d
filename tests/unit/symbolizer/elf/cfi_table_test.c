// SPDX-License-Identifier: Apache-2.0
/*
 * Unwind rows against an independent reader: for every FDE binutils readelf
 * --debug-dump=frames-interp prints, the row our table gives at each of its
 * locations (and just before the next) must say the same thing: the CFA
 * rule, where rbp is saved, and whether the return address is defined.
 * Checked on fixture programs built with and without frame pointers, one
 * whose CFI is only in .debug_frame, and the system's libc.
 */
#include <elf.h>
#include <libelf.h>

#include "cfi_test_util.h"
#include "symbolizer_test_util.h"
#include "test.h"

#define LIBC_PATH "/lib/x86_64-linux-gnu/libc.so.6"

struct re_row {
	unsigned long long loc;
	char cfa[32];
	char rbp[32];
	char ra[32];
};

struct re_entry {
	bool is_cie;
	bool debug_frame;
	bool signal; /* CIE augmentation has 'S' */
	unsigned long long offset;
	unsigned long long cie; /* FDE: offset of its CIE */
	unsigned long long start, end;
	struct re_row *rows;
	size_t n_rows;
};

struct re_dump {
	struct re_entry *entries;
	size_t n;
};

static void re_free(struct re_dump *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->entries[i].rows);
	free(d->entries);
}

/* Parses readelf's interpreted CFI; 0 or -1. */
static int re_parse(const char *path, struct re_dump *d)
{
	char *cmd, *out, *line, *save = NULL;
	char cols[16][16];
	int n_cols = 0;
	bool debug_frame = false;
	struct re_entry *cur = NULL;

	memset(d, 0, sizeof(*d));
	/* readelf exits 1 on libc without saying why; its output is complete regardless. */
	if (asprintf(&cmd, "readelf -W --debug-dump=frames-interp '%s' 2>/dev/null || true",
		     path) < 0)
		return -1;
	out = run_capture(cmd);
	free(cmd);
	if (!out)
		return -1;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long off, len, id, loc;
		char kind[8];

		if (strstr(line, "Contents of the .eh_frame section")) {
			debug_frame = false;
			continue;
		}
		if (strstr(line, "Contents of the .debug_frame section")) {
			debug_frame = true;
			continue;
		}
		if (strncmp(line, "   LOC", 6) == 0) {
			char *tok, *s2 = NULL, *copy = strdup(line);

			n_cols = 0;
			for (tok = strtok_r(copy, " ", &s2); tok && n_cols < 16;
			     tok = strtok_r(NULL, " ", &s2))
				snprintf(cols[n_cols++], sizeof(cols[0]), "%s", tok);
			free(copy);
			continue;
		}
		if (sscanf(line, "%llx %llx %llx %7s", &off, &len, &id, kind) == 4 &&
		    (strcmp(kind, "CIE") == 0 || strcmp(kind, "FDE") == 0)) {
			struct re_entry *e;

			e = realloc(d->entries, (d->n + 1) * sizeof(*e));
			if (!e)
				break;
			d->entries = e;
			cur = &d->entries[d->n++];
			memset(cur, 0, sizeof(*cur));
			cur->offset = off;
			cur->debug_frame = debug_frame;
			cur->is_cie = kind[0] == 'C';
			if (cur->is_cie) {
				const char *q = strchr(line, '"'), *q2 = q ? strchr(q + 1, '"') : NULL;

				cur->signal = q && q2 && memchr(q, 'S', q2 - q);
			} else {
				const char *c = strstr(line, "cie=");

				if (!c || sscanf(c, "cie=%llx pc=%llx..%llx", &cur->cie, &cur->start,
						 &cur->end) != 3)
					d->n--;
			}
			n_cols = 0;
			continue;
		}
		if (cur && n_cols >= 3 && strspn(line, "0123456789abcdef") == 16 &&
		    sscanf(line, "%llx", &loc) == 1) {
			struct re_row row = { .loc = loc }, *rows;
			char *tok, *s2 = NULL, *copy = strdup(line);
			int col = 0;

			snprintf(row.rbp, sizeof(row.rbp), "u");
			for (tok = strtok_r(copy, " ", &s2); tok && col < n_cols;
			     tok = strtok_r(NULL, " ", &s2), col++) {
				/* "r10 (r10)": the name in parentheses belongs to the previous value */
				if (tok[0] == '(') {
					col--;
					continue;
				}
				if (strcmp(cols[col], "CFA") == 0)
					snprintf(row.cfa, sizeof(row.cfa), "%s", tok);
				else if (strcmp(cols[col], "rbp") == 0)
					snprintf(row.rbp, sizeof(row.rbp), "%s", tok);
				else if (strcmp(cols[col], "ra") == 0)
					snprintf(row.ra, sizeof(row.ra), "%s", tok);
			}
			free(copy);
			rows = realloc(cur->rows, (cur->n_rows + 1) * sizeof(*rows));
			if (!rows)
				break;
			cur->rows = rows;
			cur->rows[cur->n_rows++] = row;
		}
	}
	free(out);
	return d->n ? 0 : -1;
}

static const struct re_entry *re_cie(const struct re_dump *d, const struct re_entry *fde)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->entries[i].is_cie && d->entries[i].debug_frame == fde->debug_frame &&
		    d->entries[i].offset == fde->cie)
			return &d->entries[i];
	return NULL;
}

/* An address some FDE of the given kind covers. */
static bool re_covered(const struct re_dump *d, unsigned long long addr, bool eh_only)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct re_entry *e = &d->entries[i];

		if (!e->is_cie && (!eh_only || !e->debug_frame) && e->start <= addr && addr < e->end)
			return true;
	}
	return false;
}

enum expect_kind { EXPECT_EXACT, EXPECT_EXPRESSION };

/* The row readelf's columns call for. */
static enum expect_kind expected_row(const struct re_row *r, bool signal,
				     struct cfi_row *want)
{
	long n;
	char *end;

	memset(want, 0, sizeof(*want));
	if (strcmp(r->ra, "u") == 0) {
		want->type = CFI_ROW_OUTERMOST;
		return EXPECT_EXACT;
	}
	if (strcmp(r->cfa, "exp") == 0) {
		want->type = signal ? CFI_ROW_SIGNAL : CFI_ROW_PLT;
		return EXPECT_EXPRESSION;
	}
	want->type = CFI_ROW_UNSUPPORTED;
	if (strncmp(r->cfa, "rsp+", 4) && strncmp(r->cfa, "rbp+", 4))
		return EXPECT_EXACT;
	n = strtol(r->cfa + 4, &end, 10);
	if (*end || n <= 0 || n > 0xffff || strcmp(r->ra, "c-8") != 0)
		return EXPECT_EXACT;
	want->type = r->cfa[1] == 's' ? CFI_ROW_CFA_SP : CFI_ROW_CFA_FP;
	want->cfa_off = n;
	if (r->rbp[0] == 'c' && r->rbp[1] == '-') {
		n = strtol(r->rbp + 1, &end, 10);
		if (!*end && n % 8 == 0 && n / 8 >= -128)
			want->fp_off = n / 8;
	}
	return EXPECT_EXACT;
}

static int check_at(const struct cfi_table *t, unsigned long long addr,
		    const struct cfi_row *want, enum expect_kind kind)
{
	const struct cfi_row *got = cfi_table__lookup(t, addr);

	if (!got)
		TEST_FAIL("%#llx: no row, want type %u", addr, want->type);
	if (kind == EXPECT_EXPRESSION) {
		/* An expression we recognise, or one counted as unsupported; never a plain rule. */
		if (got->type != want->type && got->type != CFI_ROW_UNSUPPORTED)
			TEST_FAIL("%#llx: expression row has type %u", addr, got->type);
		return 0;
	}
	if (got->type != want->type ||
	    (want->type <= CFI_ROW_CFA_FP &&
	     (got->cfa_off != want->cfa_off || got->fp_off != want->fp_off)))
		TEST_FAIL("%#llx: got type %u cfa_off %u fp_off %d, want type %u cfa_off %u fp_off %d",
			  addr, got->type, got->cfa_off, got->fp_off, want->type, want->cfa_off,
			  want->fp_off);
	return 0;
}

/* Every FDE readelf prints, every location: the same rule. */
static int compare_with_readelf(const char *path, size_t *n_checked)
{
	struct cfi_table *t = build_file(path);
	struct re_dump d;
	int failed = 0;

	*n_checked = 0;
	if (!t)
		TEST_FAIL("%s: %s", path, strerror(errno));
	if (re_parse(path, &d)) {
		cfi_table__free(t);
		TEST_FAIL("%s: cannot read readelf's output", path);
	}
	for (size_t i = 0; i < d.n && !failed; i++) {
		const struct re_entry *e = &d.entries[i], *cie;
		const struct re_row *rows;
		size_t n_rows;

		if (e->is_cie || e->start == 0 || e->start >= e->end)
			continue;
		/* Where .eh_frame also describes the code, its rows are the ones used. */
		if (e->debug_frame && re_covered(&d, e->start, true))
			continue;
		cie = re_cie(&d, e);
		rows = e->n_rows ? e->rows : cie ? cie->rows : NULL;
		n_rows = e->n_rows ? e->n_rows : cie ? cie->n_rows : 0;
		for (size_t r = 0; r < n_rows && !failed; r++) {
			unsigned long long at = e->n_rows ? rows[r].loc : e->start;
			unsigned long long next = r + 1 < n_rows ? rows[r + 1].loc : e->end;
			struct cfi_row want;
			enum expect_kind kind = expected_row(&rows[r], cie && cie->signal, &want);

			if (!e->n_rows && r > 0)
				break; /* a CIE's table has one row */
			failed |= check_at(t, at, &want, kind);
			if (next > at + 1)
				failed |= check_at(t, next - 1, &want, kind);
			*n_checked += 1;
		}
		if (!failed && !re_covered(&d, e->end, false) && cfi_table__lookup(t, e->end)) {
			fprintf(stderr, "  %#llx (end of an FDE, in no other) has a row\n", e->end);
			failed = 1;
		}
	}
	re_free(&d);
	cfi_table__free(t);
	return failed;
}

static int check_fixture(const char *name, size_t min_checked)
{
	char *path = fx_path(name);
	size_t n;
	int err;

	ASSERT_TRUE(path);
	err = compare_with_readelf(path, &n);
	free(path);
	if (err)
		return err;
	ASSERT_TRUE(n >= min_checked);
	return 0;
}

TEST(fixture_without_frame_pointers_matches_readelf)
{
	return check_fixture("cfx_nofp", 20);
}

TEST(fixture_with_frame_pointers_matches_readelf)
{
	return check_fixture("cfx_fp", 20);
}

TEST(debug_frame_only_fixture_matches_readelf)
{
	char *path = fx_path("cfx_debug_frame");
	struct cfi_table *t = path ? build_file(path) : NULL;
	int err;

	ASSERT_TRUE(t);
	ASSERT_TRUE(cfi_table__stats(t)->debug_frame);
	cfi_table__free(t);
	free(path);
	err = check_fixture("cfx_debug_frame", 20);
	return err;
}

TEST(libc_matches_readelf)
{
	size_t n;

	if (access(LIBC_PATH, R_OK) != 0)
		TEST_SKIP("no %s", LIBC_PATH);
	if (compare_with_readelf(LIBC_PATH, &n))
		return 1;
	ASSERT_TRUE(n > 10000);
	return 0;
}

/* Rows at known functions, by symbol, in the program without frame pointers. */
TEST(known_functions)
{
	char *path = fx_path("cfx_nofp");
	struct cfi_table *t = path ? build_file(path) : NULL;
	const struct cfi_row *r, *rows;
	unsigned long long addr, size;
	unsigned max_off = 0;
	bool saw_fp = false;
	size_t n;

	ASSERT_TRUE(t);
	rows = cfi_table__rows(t, &n);
	ASSERT_TRUE(n > 10);
	ASSERT_EQ(cfi_table__stats(t)->fde_errors, 0);
	ASSERT_EQ(cfi_table__stats(t)->rows_by_type[CFI_ROW_UNSUPPORTED], 0);

	/* A leaf: the CIE's rule only. */
	ASSERT_EQ(nm_symbol(path, "fx_leaf", &addr, &size), 0);
	for (unsigned long long a = addr; a < addr + size; a++) {
		r = cfi_table__lookup(t, a);
		ASSERT_TRUE(r);
		ASSERT_EQ(r->type, CFI_ROW_CFA_SP);
		ASSERT_EQ(r->cfa_off, 8);
	}
	/* The big frame needs a two-byte offset. */
	ASSERT_EQ(nm_symbol(path, "fx_big_frame", &addr, &size), 0);
	for (unsigned long long a = addr; a < addr + size; a++) {
		r = cfi_table__lookup(t, a);
		ASSERT_TRUE(r && r->type == CFI_ROW_CFA_SP);
		if (r->cfa_off > max_off)
			max_off = r->cfa_off;
	}
	ASSERT_TRUE(max_off > 20000);
	/* The VLA keeps a frame pointer: CFA from rbp, rbp saved just below the return address. */
	ASSERT_EQ(nm_symbol(path, "fx_dynamic_frame", &addr, &size), 0);
	for (unsigned long long a = addr; a < addr + size; a++) {
		r = cfi_table__lookup(t, a);
		ASSERT_TRUE(r);
		if (r->type == CFI_ROW_CFA_FP) {
			ASSERT_EQ(r->cfa_off, 16);
			ASSERT_EQ(r->fp_off, -2);
			saw_fp = true;
		}
	}
	ASSERT_TRUE(saw_fp);
	/* _start ends every main thread's stack. */
	ASSERT_EQ(nm_symbol(path, "_start", &addr, &size), 0);
	r = cfi_table__lookup(t, addr);
	ASSERT_TRUE(r);
	ASSERT_EQ(r->type, CFI_ROW_OUTERMOST);
	/* Rows are sorted and merged: no two neighbours say the same thing. */
	for (size_t i = 1; i < n; i++) {
		ASSERT_TRUE(rows[i - 1].pc < rows[i].pc);
		ASSERT_TRUE(rows[i - 1].type != rows[i].type || rows[i - 1].cfa_off != rows[i].cfa_off ||
			    rows[i - 1].fp_off != rows[i].fp_off);
	}
	cfi_table__free(t);
	free(path);
	return 0;
}

/* The lazy PLT's CFA expression, and glibc's signal trampoline. */
TEST(plt_and_signal_frame_rows)
{
	char *path = fx_path("cfx_nofp");
	struct cfi_table *t = path ? build_file(path) : NULL;
	const struct cfi_row *r;
	char *out;
	unsigned long long plt = 0;
	size_t n_signal = 0;

	ASSERT_TRUE(t);
	out = run_capture("readelf -SW " FX_DIR "/cfx_nofp | awk '$2 == \".plt\" {print $4}'");
	ASSERT_TRUE(out && sscanf(out, "%llx", &plt) == 1);
	free(out);
	/* PLT0 pushes then jumps; each later 16-byte entry is described by the expression. */
	r = cfi_table__lookup(t, plt + 16);
	ASSERT_TRUE(r);
	ASSERT_EQ(r->type, CFI_ROW_PLT);
	ASSERT_EQ(r->cfa_off, 11);
	cfi_table__free(t);
	free(path);

	if (access(LIBC_PATH, R_OK) != 0)
		return 0;
	t = build_file(LIBC_PATH);
	ASSERT_TRUE(t);
	{
		size_t n;
		const struct cfi_row *rows = cfi_table__rows(t, &n);

		for (size_t i = 0; i < n; i++) {
			if (rows[i].type != CFI_ROW_SIGNAL)
				continue;
			/* __restore_rt: rsp at ucontext + 160, rip after it, rbp at + 120 */
			ASSERT_EQ(rows[i].cfa_off, 160);
			ASSERT_EQ(rows[i].fp_off, 15);
			n_signal++;
		}
	}
	ASSERT_EQ(n_signal, 1);
	cfi_table__free(t);
	return 0;
}

TEST(no_cfi_is_enoent)
{
	char *path = fx_path("cfx_nocfi");
	struct cfi_table *t;

	ASSERT_TRUE(path);
	errno = 0;
	t = build_file(path);
	ASSERT_TRUE(!t);
	ASSERT_EQ(errno, ENOENT);
	free(path);
	return 0;
}

/* Corrupted CFI gives a table or an error, never a crash (run under ASan too). */
TEST(corrupt_cfi_is_survived)
{
	char *path = fx_path("cfx_nofp"), *image = NULL;
	unsigned long long off = 0, size = 0;
	unsigned seed = 12345;
	size_t len = 0;
	int built = 0, failed = 0;
	char *out;
	FILE *f;

	ASSERT_TRUE(path);
	out = run_capture("readelf -SW " FX_DIR "/cfx_nofp | awk '$2 == \".eh_frame\" {print $5, $6}'");
	ASSERT_TRUE(out && sscanf(out, "%llx %llx", &off, &size) == 2 && size > 16);
	free(out);
	f = fopen(path, "re");
	ASSERT_TRUE(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	image = malloc(len);
	ASSERT_TRUE(image && fread(image, 1, len, f) == len);
	fclose(f);

	for (int round = 0; round < 300; round++) {
		char *copy = malloc(len);
		struct cfi_table *t;
		Elf *elf;

		ASSERT_TRUE(copy);
		memcpy(copy, image, len);
		for (int k = 0; k < 1 + round % 8; k++) {
			seed = seed * 1103515245 + 12345;
			copy[off + (seed >> 8) % size] = (char)(seed >> 3);
		}
		elf = elf_memory(copy, len);
		t = elf ? cfi_table__build(elf) : NULL;
		if (t) {
			size_t n;
			const struct cfi_row *rows = cfi_table__rows(t, &n);

			built++;
			for (size_t i = 1; i < n; i++)
				failed |= rows[i - 1].pc >= rows[i].pc;
			for (size_t i = 0; i < n; i++)
				failed |= rows[i].type >= CFI_ROW_NR_TYPES;
		}
		cfi_table__free(t);
		elf_end(elf);
		free(copy);
	}
	fprintf(stderr, "  %d of 300 corrupted copies still gave a table\n", built);
	ASSERT_TRUE(!failed);
	free(image);
	free(path);
	return 0;
}

/*
 * ld.so's _start and _dl_start_user have no CFI: the entry point's gap is
 * the outermost frame, so stacks in the dynamic loader end there complete.
 */
TEST(entry_point_without_cfi_is_outermost)
{
	const char *ldso = "/lib64/ld-linux-x86-64.so.2";
	unsigned long long entry = 0;
	struct cfi_table *t;
	const struct cfi_row *r;
	char *out;

	if (access(ldso, R_OK) != 0)
		TEST_SKIP("no %s", ldso);
	out = run_capture("readelf -hW /lib64/ld-linux-x86-64.so.2 | awk '/Entry point/ {print $4}'");
	ASSERT_TRUE(out && sscanf(out, "%llx", &entry) == 1 && entry);
	free(out);
	t = build_file(ldso);
	ASSERT_TRUE(t);
	ASSERT_EQ(cfi_table__stats(t)->entry_rows, 1);
	/* _start: mov %rsp,%rdi; call _dl_start; then _dl_start_user */
	r = cfi_table__lookup(t, entry);
	ASSERT_TRUE(r);
	ASSERT_EQ(r->type, CFI_ROW_OUTERMOST);
	r = cfi_table__lookup(t, entry + 8);
	ASSERT_TRUE(r);
	ASSERT_EQ(r->type, CFI_ROW_OUTERMOST);
	cfi_table__free(t);

	/* A program whose _start has CFI keeps it (glibc marks rip undefined there). */
	t = build_file("/usr/bin/true");
	ASSERT_TRUE(t);
	ASSERT_EQ(cfi_table__stats(t)->entry_rows, 0);
	cfi_table__free(t);
	return 0;
}

int main(void)
{
	elf_version(EV_CURRENT);
	RUN(fixture_without_frame_pointers_matches_readelf);
	RUN(fixture_with_frame_pointers_matches_readelf);
	RUN(debug_frame_only_fixture_matches_readelf);
	RUN(libc_matches_readelf);
	RUN(known_functions);
	RUN(plt_and_signal_frame_rows);
	RUN(no_cfi_is_enoent);
	RUN(corrupt_cfi_is_survived);
	RUN(entry_point_without_cfi_is_outermost);
	return test_summary();
}
