// SPDX-License-Identifier: Apache-2.0
/*
 * Kernel symbols that came or went after kallsyms was read, through the
 * symbolizer: named in front of kallsyms, under "[bpf]", counted; a gone
 * program of the kallsyms table stops being named after the grace.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "symbolizer.h"
#include "test.h"

#define PROG_A 0xffffffffc0600000ULL /* past every fixture module */
#define FX_PROG 0xffffffffc0500000ULL /* bpf_prog_6deef7357e7b4530_sd_fw_ingress */

static struct symbolizer *fixture_sym(void)
{
	return symbolizer__new(&(struct symbolizer_opts){
		.kallsyms_path = FX_SRC_DIR "/kallsyms.txt",
		.modules_path = FX_SRC_DIR "/modules.txt",
		.kernel_notes_path = "/nonexistent/notes",
	});
}

static const char *name_at(struct symbolizer *sym, __u64 addr)
{
	struct symbolizer_location loc;

	if (symbolizer__lookup_kernel(sym, &addr, 1, &loc) != 0 || !loc.n_frames)
		return NULL;
	return loc.frames[0].function;
}

TEST(later_program_named)
{
	struct symbolizer *sym = fixture_sym();
	__u64 a[2] = { PROG_A + 0x40, 0xffffffff81000300ULL };
	struct symbolizer_location out[2];
	struct symbolizer_stats st;

	ASSERT_TRUE(sym);
	ASSERT_EQ(symbolizer__load_kernel(sym), 0);
	ASSERT_TRUE(name_at(sym, PROG_A + 0x40) == NULL);
	ASSERT_EQ(symbolizer__kernel_symbol_add(sym, PROG_A, 0x100, "bpf_prog_0123456789abcdef_late"),
		  0);
	ASSERT_EQ(symbolizer__lookup_kernel(sym, a, 2, out), 0);
	ASSERT_EQ(out[0].n_frames, 1);
	ASSERT_STREQ(out[0].frames[0].function, "bpf_prog_0123456789abcdef_late");
	ASSERT_TRUE(out[0].mapping && out[0].mapping->kernel);
	ASSERT_STREQ(out[0].mapping->path, "[bpf]");
	ASSERT_TRUE(out[0].mapping->start <= a[0] && a[0] < out[0].mapping->limit);
	ASSERT_STREQ(out[1].frames[0].function, "schedule");
	/* a return address at the program's end is the program's */
	a[1] = PROG_A + 0x100;
	ASSERT_EQ(symbolizer__lookup_kernel(sym, a, 2, out), 0);
	ASSERT_STREQ(out[1].frames[0].function, "bpf_prog_0123456789abcdef_late");
	ASSERT_TRUE(out[0].frames == out[1].frames); /* one frame per symbol and cycle */

	ASSERT_EQ(symbolizer__kernel_symbol_remove(sym, PROG_A, 0x100), 0);
	ASSERT_STREQ(name_at(sym, PROG_A + 0x40), "bpf_prog_0123456789abcdef_late");
	symbolizer__end_cycle(sym);
	ASSERT_STREQ(name_at(sym, PROG_A + 0x40), "bpf_prog_0123456789abcdef_late");
	symbolizer__end_cycle(sym);
	ASSERT_TRUE(name_at(sym, PROG_A + 0x40) == NULL);

	symbolizer__stats(sym, &st);
	ASSERT_UEQ(st.kernel_symbols_added, 1);
	ASSERT_UEQ(st.kernel_symbols_removed, 1);
	ASSERT_UEQ(st.kernel_symbols_dropped, 0);
	ASSERT_UEQ(st.kernel_symbols, 0);
	symbolizer__free(sym);
	return 0;
}

TEST(gone_kallsyms_program)
{
	struct symbolizer *sym = fixture_sym();

	ASSERT_TRUE(sym);
	ASSERT_STREQ(name_at(sym, FX_PROG + 0x10), "bpf_prog_6deef7357e7b4530_sd_fw_ingress");
	ASSERT_EQ(symbolizer__kernel_symbol_remove(sym, FX_PROG, 0x80), 0);
	symbolizer__end_cycle(sym);
	symbolizer__end_cycle(sym);
	/* kallsyms, read before, still lists it: not its name any more */
	ASSERT_TRUE(name_at(sym, FX_PROG + 0x10) == NULL);
	/* a new program at the reused address is named at once */
	ASSERT_EQ(symbolizer__kernel_symbol_add(sym, FX_PROG, 0x40, "bpf_prog_fedcba9876543210_new"),
		  0);
	ASSERT_STREQ(name_at(sym, FX_PROG + 0x10), "bpf_prog_fedcba9876543210_new");
	ASSERT_TRUE(name_at(sym, FX_PROG + 0x60) == NULL);
	ASSERT_STREQ(name_at(sym, 0xffffffffc0502010ULL), "bpf_prog_ee0e253c78993a24_handler");
	symbolizer__free(sym);
	return 0;
}

/* Copies fixture file name to path, then appends extra. */
static int copy_with(const char *name, const char *path, const char *extra)
{
	char buf[4096];
	FILE *in = fopen(name, "re"), *out = fopen(path, "we");
	size_t n;

	while (in && out && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, out);
	if (out)
		fputs(extra, out);
	if (in)
		fclose(in);
	return out && fclose(out) == 0 ? 0 : -1;
}

/*
 * A module loaded after the read (no PERF_RECORD_KSYMBOL comes for it): an
 * address outside the core kernel that nothing names has the table read
 * again at a cycle's end; reads that find nothing new come ever more rarely.
 */
TEST(module_loaded_later)
{
	char dir[] = "/tmp/fornax_kallsyms_XXXXXX", ks[64], mods[64];
	struct symbolizer_location loc;
	__u64 addr = 0xffffffffc0700010ULL;
	struct symbolizer_stats st;
	struct symbolizer *sym;

	ASSERT_TRUE(mkdtemp(dir));
	snprintf(ks, sizeof(ks), "%s/kallsyms", dir);
	snprintf(mods, sizeof(mods), "%s/modules", dir);
	ASSERT_EQ(copy_with(FX_SRC_DIR "/kallsyms.txt", ks, ""), 0);
	ASSERT_EQ(copy_with(FX_SRC_DIR "/modules.txt", mods, ""), 0);
	/* idle_cycles 4: a read at most every cycle */
	sym = symbolizer__new(&(struct symbolizer_opts){ .kallsyms_path = ks, .modules_path = mods,
		.kernel_notes_path = "/nonexistent/notes", .idle_cycles = 4 });
	ASSERT_TRUE(sym);
	ASSERT_TRUE(name_at(sym, addr) == NULL);
	ASSERT_EQ(copy_with(FX_SRC_DIR "/kallsyms.txt", ks,
			    "ffffffffc0700000 t dummy_xmit\t[dummy]\n"), 0);
	ASSERT_EQ(copy_with(FX_SRC_DIR "/modules.txt", mods,
			    "dummy 4096 0 - Live 0xffffffffc0700000\n"), 0);
	symbolizer__end_cycle(sym);
	symbolizer__end_cycle(sym);
	ASSERT_EQ(symbolizer__lookup_kernel(sym, &addr, 1, &loc), 0);
	ASSERT_EQ(loc.n_frames, 1);
	ASSERT_STREQ(loc.frames[0].function, "dummy_xmit");
	ASSERT_STREQ(loc.mapping->path, "[dummy]");
	ASSERT_STREQ(name_at(sym, 0xffffffff81000300ULL), "schedule");
	symbolizer__stats(sym, &st);
	ASSERT_UEQ(st.kernel_rereads, 1);

	/* an address nothing will name: 16 cycles of misses, reads at waits of 1, 2, 4, 8 */
	for (int i = 0; i < 16; i++) {
		ASSERT_TRUE(name_at(sym, 0xffffffffc0900000ULL) == NULL);
		symbolizer__end_cycle(sym);
	}
	symbolizer__stats(sym, &st);
	ASSERT_TRUE(st.kernel_rereads >= 3 && st.kernel_rereads <= 5);
	ASSERT_UEQ(st.kernel_reread_errors, 0);
	symbolizer__free(sym);
	unlink(ks);
	unlink(mods);
	rmdir(dir);
	return 0;
}

TEST(args_and_no_kernel)
{
	struct symbolizer *sym = symbolizer__new(&(struct symbolizer_opts){ .no_kernel = true });
	struct symbolizer_stats st;

	ASSERT_TRUE(sym);
	ASSERT_EQ(symbolizer__kernel_symbol_add(NULL, PROG_A, 1, "x"), -EINVAL);
	ASSERT_EQ(symbolizer__kernel_symbol_add(sym, PROG_A, 0, "x"), -EINVAL);
	ASSERT_EQ(symbolizer__kernel_symbol_add(sym, PROG_A, 1, NULL), -EINVAL);
	ASSERT_EQ(symbolizer__kernel_symbol_remove(sym, ~0ULL, 2), -EINVAL);
	/* without kernel stacks there is nothing to name */
	ASSERT_EQ(symbolizer__kernel_symbol_add(sym, PROG_A, 1, "x"), 0);
	symbolizer__stats(sym, &st);
	ASSERT_UEQ(st.kernel_symbols_added, 0);
	symbolizer__free(sym);
	return 0;
}

int main(void)
{
	RUN(later_program_named);
	RUN(gone_kallsyms_program);
	RUN(module_loaded_later);
	RUN(args_and_no_kernel);
	return test_summary();
}
