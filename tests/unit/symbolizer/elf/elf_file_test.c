// SPDX-License-Identifier: Apache-2.0
/*
 * ELF/DWARF symbolization of the fixture programs, file by file: names,
 * lines and inline chains against binutils (nm, readelf, addr2line), debug
 * files found by .gnu_debuglink and by build-id, C++ and Rust demangling.
 */
#include <elf.h>
#include <sys/stat.h>

#include "demangler.h"
#include "elf_file.h"
#include "symbolizer_test_util.h"
#include "test.h"

static struct elf_file *open_path_limit(const char *path, const char *debug_dirs,
					size_t max_dwarf_bytes)
{
	struct elf_file_opts opts = { .debug_dirs = debug_dirs, .max_dwarf_bytes = max_dwarf_bytes };
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	return fd >= 0 ? elf_file__open(fd, path, &opts) : NULL;
}

static struct elf_file *open_fixture_limit(const char *name, const char *debug_dirs,
					   size_t max_dwarf_bytes)
{
	char *path = fx_path(name);
	struct elf_file *ef = path ? open_path_limit(path, debug_dirs, max_dwarf_bytes) : NULL;

	free(path);
	return ef;
}

static struct elf_file *open_fixture(const char *name, const char *debug_dirs)
{
	return open_fixture_limit(name, debug_dirs, 0);
}

/* Symbolizes name's st_value (from nm) in fixture file. */
static int frames_at_symbol(struct elf_file *ef, const char *file, const char *name, __u64 delta,
			    const struct elf_frame **frames, size_t *n)
{
	unsigned long long addr, size;
	char *path = fx_path(file);
	int err;

	err = path ? nm_symbol(path, name, &addr, &size) : -ENOMEM;
	free(path);
	if (err)
		return err;
	return elf_file__symbolize(ef, addr + delta, frames, n);
}

static int check_build_id(struct elf_file *ef, const char *name)
{
	char *path = fx_path(name), *want = path ? readelf_build_id(path) : NULL;

	free(path);
	ASSERT_TRUE(want && strlen(want) == 40);
	ASSERT_STREQ(elf_file__build_id(ef), want);
	free(want);
	return 0;
}

/* The chain fx_leaf → fx_middle → fx_top by name, line and declaration line. */
static int check_functions(struct elf_file *ef, const char *file, bool lines)
{
	static const char *const fns[] = { "fx_leaf", "fx_middle", "fx_top" };
	static const char *const decls[] = { "FX_LEAF_DECL", "FX_MIDDLE_DECL", "FX_TOP_DECL" };
	const struct elf_frame *fr;
	size_t n;

	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(frames_at_symbol(ef, file, fns[i], 0, &fr, &n), 0);
		ASSERT_TRUE(n >= 1);
		ASSERT_STREQ(fr[n - 1].name, fns[i]);
		if (!lines) {
			ASSERT_TRUE(fr[n - 1].file == NULL);
			ASSERT_EQ(fr[n - 1].line, 0);
			continue;
		}
		ASSERT_TRUE(ends_with(fr[0].file, "/fixture.c"));
		ASSERT_EQ(fr[n - 1].start_line, marker_line("fixture.c", decls[i]));
		ASSERT_TRUE(fr[0].line >= marker_line("fixture.c", "FX_MIX_DECL"));
		ASSERT_TRUE(fr[0].line <= marker_line("fixture.c", "FX_TOP_CALLS_MIDDLE") + 1);
	}
	return 0;
}

/*
 * Every address of fx_leaf, fx_middle and fx_top against binutils
 * addr2line -i (an independent DWARF reader): the same functions and lines,
 * innermost first. Also requires that fx_mix shows up inlined in fx_leaf
 * with the call-site line.
 */
static int check_against_addr2line(struct elf_file *ef, const char *file)
{
	static const char *const fns[] = { "fx_leaf", "fx_middle", "fx_top" };
	unsigned mix_first = marker_line("fixture.c", "FX_MIX_FIRST");
	unsigned mix_last = marker_line("fixture.c", "FX_MIX_LAST");
	unsigned call_line = marker_line("fixture.c", "FX_LEAF_CALLS_MIX");
	char *path = fx_path(file);
	int inlined = 0, compared = 0;

	ASSERT_TRUE(path && mix_first && mix_last && call_line);
	for (int i = 0; i < 3; i++) {
		unsigned long long start, size;

		ASSERT_EQ(nm_symbol(path, fns[i], &start, &size), 0);
		ASSERT_TRUE(size > 0);
		for (unsigned long long a = start; a < start + size; a++) {
			char *out = addr2line_inlines(path, a), *save = NULL, *tok;
			const struct elf_frame *fr;
			size_t n, k = 0;

			ASSERT_TRUE(out);
			ASSERT_EQ(elf_file__symbolize(ef, a, &fr, &n), 0);
			for (tok = strtok_r(out, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save), k++) {
				const char *colon;
				unsigned line;

				ASSERT_TRUE(k / 2 < n);
				if (k % 2 == 0) {
					if (strcmp(tok, fr[k / 2].name) != 0)
						TEST_FAIL("0x%llx frame %zu: %s vs addr2line %s", a,
							  k / 2, fr[k / 2].name, tok);
					continue;
				}
				colon = strrchr(tok, ':');
				ASSERT_TRUE(colon);
				line = (unsigned)strtoul(colon + 1, NULL, 10);
				if (line != fr[k / 2].line)
					TEST_FAIL("0x%llx frame %zu (%s): line %u vs addr2line %s", a,
						  k / 2, fr[k / 2].name, fr[k / 2].line, tok);
			}
			ASSERT_EQ(k, 2 * n);
			if (n == 2 && strcmp(fr[0].name, "fx_mix") == 0) {
				ASSERT_STREQ(fr[1].name, "fx_leaf");
				ASSERT_TRUE(fr[0].line >= mix_first && fr[0].line <= mix_last);
				ASSERT_EQ(fr[0].start_line, marker_line("fixture.c", "FX_MIX_DECL"));
				ASSERT_EQ(fr[1].line, call_line);
				ASSERT_TRUE(ends_with(fr[1].file, "/fixture.c"));
				ASSERT_EQ(fr[1].start_line, marker_line("fixture.c", "FX_LEAF_DECL"));
				inlined++;
			}
			compared++;
			free(out);
		}
	}
	free(path);
	ASSERT_TRUE(inlined > 0);
	fprintf(stderr, "  %s: %d addresses agree with addr2line, %d in the inlined fx_mix\n", file,
		compared, inlined);
	return 0;
}

static int check_segments(struct elf_file *ef, const char *file)
{
	const struct elf_segment *segs;
	unsigned long long addr, size;
	char *path = fx_path(file);
	__u64 vaddr;
	size_t n, i;

	ASSERT_TRUE(path);
	ASSERT_EQ(nm_symbol(path, "fx_leaf", &addr, &size), 0);
	free(path);
	segs = elf_file__segments(ef, &n);
	ASSERT_TRUE(n >= 1);
	for (i = 0; i < n; i++) {
		if (addr >= segs[i].vaddr && addr < segs[i].vaddr + segs[i].filesz)
			break;
	}
	ASSERT_TRUE(i < n && (segs[i].flags & PF_X));
	/* file offset of fx_leaf → its vaddr */
	ASSERT_EQ(elf_segments__to_vaddr(segs, n, addr - segs[i].vaddr + segs[i].offset, &vaddr), 0);
	ASSERT_UEQ(vaddr, addr);
	return 0;
}

TEST(pie)
{
	struct elf_file *ef = open_fixture("fx_pie", NULL);

	ASSERT_TRUE(ef);
	if (check_build_id(ef, "fx_pie") || check_segments(ef, "fx_pie") ||
	    check_functions(ef, "fx_pie", true) || check_against_addr2line(ef, "fx_pie"))
		return 1;
	ASSERT_TRUE(elf_file__has_symbols(ef));
	ASSERT_TRUE(elf_file__has_dwarf(ef));
	elf_file__free(ef);
	return 0;
}

TEST(non_pie)
{
	struct elf_file *ef = open_fixture("fx_nopie", NULL);
	const struct elf_segment *segs;
	size_t n;

	ASSERT_TRUE(ef);
	segs = elf_file__segments(ef, &n);
	ASSERT_TRUE(n > 0 && segs[0].vaddr >= 0x400000); /* ET_EXEC at its link address */
	if (check_build_id(ef, "fx_nopie") || check_segments(ef, "fx_nopie") ||
	    check_functions(ef, "fx_nopie", true) || check_against_addr2line(ef, "fx_nopie"))
		return 1;
	elf_file__free(ef);
	return 0;
}

TEST(no_debug_info)
{
	struct elf_file *ef = open_fixture("fx_nodebug", "/nonexistent");
	const struct elf_frame *fr;
	size_t n;

	ASSERT_TRUE(ef);
	if (check_build_id(ef, "fx_nodebug") || check_functions(ef, "fx_nodebug", false))
		return 1;
	/* inside the function, not only at its start */
	ASSERT_EQ(frames_at_symbol(ef, "fx_nodebug", "fx_leaf", 5, &fr, &n), 0);
	ASSERT_EQ(n, 1);
	ASSERT_STREQ(fr[0].name, "fx_leaf");
	ASSERT_TRUE(elf_file__has_symbols(ef));
	ASSERT_TRUE(!elf_file__has_dwarf(ef));
	elf_file__free(ef);
	return 0;
}

TEST(minidebuginfo)
{
	struct elf_file *ef = open_fixture("fx_minidebug", "/nonexistent");
	const struct elf_frame *fr;
	char *path = fx_path("fx_minidebug");
	char cmd[512];
	size_t n;

	ASSERT_TRUE(ef && path);
	/* the premise: no .symtab, and fx_leaf is not exported */
	snprintf(cmd, sizeof(cmd), "readelf -S %s | grep -q ' .symtab' || "
		 "nm -D %s | grep -q fx_leaf", path, path);
	ASSERT_TRUE(system(cmd) != 0);
	snprintf(cmd, sizeof(cmd), "readelf -S %s | grep -q .gnu_debugdata", path);
	ASSERT_EQ(system(cmd), 0);
	free(path);
	if (check_build_id(ef, "fx_minidebug"))
		return 1;
	ASSERT_EQ(frames_at_symbol(ef, "fx_minidebug.full", "fx_leaf", 5, &fr, &n), 0);
	ASSERT_EQ(n, 1);
	ASSERT_STREQ(fr[0].name, "fx_leaf");
	ASSERT_EQ(frames_at_symbol(ef, "fx_minidebug.full", "fx_middle", 0, &fr, &n), 0);
	ASSERT_STREQ(fr[n - 1].name, "fx_middle");
	ASSERT_TRUE(elf_file__has_symbols(ef));
	elf_file__free(ef);
	return 0;
}

TEST(debuglink_next_to_binary)
{
	struct elf_file *ef = open_fixture("fx_debuglink", "/nonexistent");

	ASSERT_TRUE(ef);
	/* same id in the stripped file and in its debug file */
	if (check_build_id(ef, "fx_debuglink") || check_build_id(ef, "fx_debuglink.debug") ||
	    check_functions(ef, "fx_debuglink.debug", true))
		return 1;
	ASSERT_TRUE(elf_file__has_dwarf(ef));
	elf_file__free(ef);
	return 0;
}

static int copy_file(const char *from, const char *to)
{
	char *cmd;
	int rc;

	if (asprintf(&cmd, "mkdir -p \"$(dirname '%s')\" && cp '%s' '%s'", to, from, to) < 0)
		return -ENOMEM;
	rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : -EIO;
}

static void remove_tree(const char *dir)
{
	char *cmd;

	if (asprintf(&cmd, "rm -rf '%s'", dir) >= 0) {
		if (system(cmd) != 0)
			fprintf(stderr, "  could not remove %s\n", dir);
		free(cmd);
	}
}

TEST(debuglink_in_debug_dir)
{
	char root[] = "/tmp/fornax-dbg-XXXXXX", *to = NULL, *from = fx_path("debugfiles/fx_dbgdir.debug");
	const struct elf_frame *fr;
	struct elf_file *ef;
	size_t n;

	ASSERT_TRUE(from && mkdtemp(root));
	/* not found without the debug root: no .symtab either, so nothing */
	ef = open_fixture("fx_dbgdir", "/nonexistent");
	ASSERT_TRUE(ef);
	ASSERT_TRUE(!elf_file__has_dwarf(ef));
	ASSERT_TRUE(frames_at_symbol(ef, "debugfiles/fx_dbgdir.debug", "fx_leaf", 0, &fr, &n) != 0 ||
		    fr[0].file == NULL);
	elf_file__free(ef);

	/* <root>/<directory of the binary>/<debuglink name> */
	ASSERT_TRUE(asprintf(&to, "%s%s/fx_dbgdir.debug", root, FX_DIR) > 0);
	ASSERT_EQ(copy_file(from, to), 0);
	ef = open_fixture("fx_dbgdir", root);
	ASSERT_TRUE(ef);
	if (check_functions(ef, "debugfiles/fx_dbgdir.debug", true))
		return 1;
	elf_file__free(ef);
	remove_tree(root);
	free(to);
	free(from);
	return 0;
}

TEST(build_id_in_debug_dir)
{
	char root[] = "/tmp/fornax-dbg-XXXXXX", *to = NULL, *from = fx_path("debugfiles/fx_buildid.debug");
	char *bin = fx_path("fx_buildid"), *id = bin ? readelf_build_id(bin) : NULL;
	const struct elf_frame *fr;
	struct elf_file *ef;
	size_t n;

	ASSERT_TRUE(from && id && mkdtemp(root));
	ef = open_fixture("fx_buildid", root); /* empty root: nothing */
	ASSERT_TRUE(ef);
	ASSERT_TRUE(!elf_file__has_dwarf(ef));
	ASSERT_TRUE(frames_at_symbol(ef, "debugfiles/fx_buildid.debug", "fx_leaf", 0, &fr, &n) != 0 ||
		    fr[0].file == NULL);
	elf_file__free(ef);

	ASSERT_TRUE(asprintf(&to, "%s/.build-id/%.2s/%s.debug", root, id, id + 2) > 0);
	ASSERT_EQ(copy_file(from, to), 0);
	/* a root among others, as a ':'-list */
	{
		char *dirs;

		ASSERT_TRUE(asprintf(&dirs, "/nonexistent:%s", root) > 0);
		ef = open_fixture("fx_buildid", dirs);
		free(dirs);
	}
	ASSERT_TRUE(ef);
	ASSERT_STREQ(elf_file__build_id(ef), id);
	if (check_functions(ef, "debugfiles/fx_buildid.debug", true))
		return 1;
	elf_file__free(ef);
	remove_tree(root);
	free(to);
	free(from);
	free(bin);
	free(id);
	return 0;
}

/* DWARF whose names and types dwz moved to a shared file (.gnu_debugaltlink). */
TEST(dwz_alternate_file)
{
	char root[] = "/tmp/fornax-dwz-XXXXXX", *multi = fx_path("dwzfiles/fx_dwz.multi");
	char *bin = fx_path("fx_dwz"), *id = NULL, *to = NULL, *copy = NULL, *dirs = NULL;
	struct elf_file *ef;

	ASSERT_TRUE(multi && bin);
	if (access(bin, F_OK) != 0)
		TEST_SKIP("no fx_dwz fixture: dwz is not installed (scripts/setup.sh)");
	id = readelf_build_id(multi);
	ASSERT_TRUE(id && strlen(id) == 40 && mkdtemp(root));
	/* nowhere: DWARF that needs it is not used, names come from .symtab */
	ef = open_fixture("fx_dwz", root);
	ASSERT_TRUE(ef);
	ASSERT_TRUE(!elf_file__has_dwarf(ef));
	if (check_functions(ef, "fx_dwz", false))
		return 1;
	elf_file__free(ef);

	/* by its build-id under a debug root */
	ASSERT_TRUE(asprintf(&to, "%s/ids/.build-id/%.2s/%s.debug", root, id, id + 2) > 0);
	ASSERT_EQ(copy_file(multi, to), 0);
	ASSERT_TRUE(asprintf(&dirs, "/nonexistent:%s/ids", root) > 0);
	ef = open_fixture("fx_dwz", dirs);
	ASSERT_TRUE(ef && elf_file__has_dwarf(ef));
	if (check_functions(ef, "fx_dwz", true))
		return 1;
	elf_file__free(ef);
	free(to);

	/* by its name, next to the binary */
	ASSERT_TRUE(asprintf(&copy, "%s/bin/fx_dwz", root) > 0);
	ASSERT_TRUE(asprintf(&to, "%s/bin/fx_dwz.multi", root) > 0);
	ASSERT_EQ(copy_file(bin, copy), 0);
	ASSERT_EQ(copy_file(multi, to), 0);
	ef = open_path_limit(copy, "/nonexistent", 0);
	ASSERT_TRUE(ef && elf_file__has_dwarf(ef));
	if (check_functions(ef, "fx_dwz", true))
		return 1;
	elf_file__free(ef);

	/* another file under that name: its build-id is not the one named */
	ASSERT_EQ(unlink(to), 0);
	ASSERT_EQ(copy_file(bin, to), 0);
	ef = open_path_limit(copy, "/nonexistent", 0);
	ASSERT_TRUE(ef && !elf_file__has_dwarf(ef));
	elf_file__free(ef);

	/* a FIFO under that name: never opened (libdw's own lookup would block on it) */
	ASSERT_EQ(unlink(to), 0);
	ASSERT_EQ(mkfifo(to, 0600), 0);
	alarm(60);
	ef = open_path_limit(copy, "/nonexistent", 0);
	ASSERT_TRUE(ef && !elf_file__has_dwarf(ef));
	if (check_functions(ef, "fx_dwz", false))
		return 1;
	alarm(0);
	elf_file__free(ef);

	remove_tree(root);
	free(copy);
	free(to);
	free(dirs);
	free(id);
	free(bin);
	free(multi);
	return 0;
}

/* Compressed DWARF: loaded within the limit, symbol table only beyond it. */
TEST(dwarf_memory_limit)
{
	static const char *const files[][2] = {
		{ "fx_gz", "fx_gz" },                  /* compressed sections in the binary */
		{ "fx_gzlink", "fx_gzlink.debug" },    /* in the debug file; no .symtab in the binary */
	};

	for (size_t i = 0; i < 2; i++) {
		struct elf_file *ef = open_fixture_limit(files[i][0], "/nonexistent", 1 << 20);
		const struct elf_frame *fr;
		size_t n, small, used;

		ASSERT_TRUE(ef);
		small = elf_file__memory(ef);
		if (check_functions(ef, files[i][1], true))
			return 1;
		ASSERT_TRUE(elf_file__has_dwarf(ef) && !elf_file__dwarf_skipped(ef));
		used = elf_file__memory(ef);
		ASSERT_TRUE(used > small); /* decompressed sections and CUs counted */
		elf_file__free(ef);

		ef = open_fixture_limit(files[i][0], "/nonexistent", 64);
		ASSERT_TRUE(ef);
		if (check_functions(ef, files[i][1], false))
			return 1;
		ASSERT_TRUE(!elf_file__has_dwarf(ef) && elf_file__dwarf_skipped(ef));
		ASSERT_EQ(frames_at_symbol(ef, files[i][1], "fx_leaf", 3, &fr, &n), 0);
		ASSERT_TRUE(n == 1 && fr[0].file == NULL);
		ASSERT_TRUE(elf_file__memory(ef) < used);
		elf_file__free(ef);
	}
	return 0;
}

TEST(cxx_names)
{
	struct elf_file *ef = open_fixture("fx_cxx", NULL);
	const struct elf_frame *fr;
	char *dm;
	size_t n;

	ASSERT_TRUE(ef);
	ASSERT_EQ(frames_at_symbol(ef, "fx_cxx", "_ZN4fxns6Widget4spinEi", 0, &fr, &n), 0);
	ASSERT_STREQ(fr[n - 1].name, "_ZN4fxns6Widget4spinEi");
	ASSERT_EQ(fr[n - 1].start_line, marker_line("fixture_cxx.cpp", "FX_SPIN_DECL"));
	dm = symbolizer_demangle(fr[n - 1].name);
	ASSERT_STREQ(dm, "fxns::Widget::spin(int)");
	free(dm);
	ASSERT_EQ(frames_at_symbol(ef, "fx_cxx", "_ZN4fxns5scaleIiEET_S1_", 0, &fr, &n), 0);
	ASSERT_STREQ(fr[n - 1].name, "_ZN4fxns5scaleIiEET_S1_");
	ASSERT_TRUE(ends_with(fr[0].file, "/fixture_cxx.cpp"));
	dm = symbolizer_demangle(fr[n - 1].name);
	ASSERT_STREQ(dm, "int fxns::scale<int>(int)");
	free(dm);
	elf_file__free(ef);
	return 0;
}

TEST(demangle)
{
	char *s;

	ASSERT_TRUE(symbolizer_demangle("main") == NULL);
	ASSERT_TRUE(symbolizer_demangle("_start") == NULL);
	ASSERT_TRUE(symbolizer_demangle("_Znot_really") == NULL);
	ASSERT_TRUE(symbolizer_demangle(NULL) == NULL);
	s = symbolizer_demangle("_ZNSt6vectorIiSaIiEE9push_backERKi");
	ASSERT_STREQ(s, "std::vector<int, std::allocator<int> >::push_back(int const&)");
	free(s);
	/* Rust, legacy mangling: the hash is dropped */
	s = symbolizer_demangle("_ZN4core3fmt5write17h0123456789abcdefE");
	ASSERT_STREQ(s, "core::fmt::write");
	free(s);
	/* Rust v0 mangling */
	s = symbolizer_demangle("_RNvNtCs1234_7mycrate3foo3bar");
	ASSERT_STREQ(s, "mycrate::foo::bar");
	free(s);
	return 0;
}

TEST(open_errors)
{
	char *src = fx_src_path("fixture.c");
	int fd;

	errno = 0;
	ASSERT_TRUE(elf_file__open(-1, NULL, NULL) == NULL);
	ASSERT_EQ(errno, EINVAL);
	fd = open(src, O_RDONLY | O_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	errno = 0;
	ASSERT_TRUE(elf_file__open(fd, src, NULL) == NULL);
	ASSERT_EQ(errno, ENOEXEC);
	/* the fd was consumed even though opening failed */
	ASSERT_TRUE(fcntl(fd, F_GETFD) == -1 && errno == EBADF);
	free(src);
	elf_file__free(NULL);
	return 0;
}

/*
 * Each PLT stub of path, as objdump labels it ("<addr> <name@plt>:"),
 * symbolized a few bytes in. Stubs objdump calls *ABS*+0x...@plt (an
 * ifunc's IRELATIVE slot) are named after the ifunc here, as perf does;
 * PLT0 (objdump's "...@plt-0x10") is "[plt]". Returns how many matched.
 */
static int check_plt(const char *path, size_t *n_checked, size_t *n_ifunc)
{
	char cmd[512], *out, *line, *save = NULL;
	struct elf_file *ef = open_path_limit(path, "/nonexistent", 0);

	*n_checked = *n_ifunc = 0;
	ASSERT_TRUE(ef);
	snprintf(cmd, sizeof(cmd), "objdump -d -j .plt -j .plt.sec -j .plt.got '%s'", path);
	out = run_capture(cmd);
	ASSERT_TRUE(out);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long addr;
		const struct elf_frame *fr;
		char label[256];
		size_t n;

		if (sscanf(line, "%llx <%255[^>]>:", &addr, label) != 2)
			continue;
		ASSERT_EQ(elf_file__symbolize(ef, addr + 3, &fr, &n), 0);
		ASSERT_EQ(n, 1);
		if (ends_with(label, "@plt-0x10")) {
			ASSERT_STREQ(fr[0].name, "[plt]");
		} else if (strncmp(label, "*ABS*+0x", 8) == 0) {
			ASSERT_TRUE(ends_with(fr[0].name, "@plt") && fr[0].name[0] != '*');
			(*n_ifunc)++;
		} else {
			ASSERT_STREQ(fr[0].name, label);
		}
		(*n_checked)++;
	}
	free(out);
	elf_file__free(ef);
	return 0;
}

/* PLT stubs, lazy (.plt) and not (.plt.got), named after what they call. */
TEST(plt_stubs)
{
	size_t n, n_ifunc;
	char *path = fx_path("fx_pie");

	ASSERT_TRUE(path);
	if (check_plt(path, &n, &n_ifunc))
		return 1;
	free(path);
	ASSERT_TRUE(n >= 3);
	/* libc's stubs mostly lead to ifuncs (strlen, memcpy...) */
	if (check_plt("/lib/x86_64-linux-gnu/libc.so.6", &n, &n_ifunc))
		return 1;
	ASSERT_TRUE(n >= 10 && n_ifunc >= 5);
	return 0;
}

TEST(segments)
{
	const struct elf_segment segs[] = {
		{ .offset = 0, .vaddr = 0, .filesz = 0x618, .memsz = 0x618, .flags = PF_R },
		{ .offset = 0x1000, .vaddr = 0x1000, .filesz = 0x1c5, .memsz = 0x1c5, .flags = PF_R | PF_X },
		{ .offset = 0x2dd0, .vaddr = 0x3dd0, .filesz = 0x248, .memsz = 0x250, .flags = PF_R | PF_W },
	};
	__u64 v;

	ASSERT_EQ(elf_segments__to_vaddr(segs, 3, 0x1010, &v), 0);
	ASSERT_UEQ(v, 0x1010);
	ASSERT_EQ(elf_segments__to_vaddr(segs, 3, 0x2dd8, &v), 0);
	ASSERT_UEQ(v, 0x3dd8);
	ASSERT_EQ(elf_segments__to_vaddr(segs, 3, 0x11c5, &v), -ENOENT);
	ASSERT_EQ(elf_segments__to_vaddr(segs, 3, 0x9000, &v), -ENOENT);
	return 0;
}

int main(void)
{
	RUN(pie);
	RUN(non_pie);
	RUN(no_debug_info);
	RUN(minidebuginfo);
	RUN(debuglink_next_to_binary);
	RUN(debuglink_in_debug_dir);
	RUN(build_id_in_debug_dir);
	RUN(dwz_alternate_file);
	RUN(dwarf_memory_limit);
	RUN(cxx_names);
	RUN(demangle);
	RUN(open_errors);
	RUN(plt_stubs);
	RUN(segments);
	return test_summary();
}
