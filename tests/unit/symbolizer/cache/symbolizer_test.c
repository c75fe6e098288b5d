// SPDX-License-Identifier: Apache-2.0
/*
 * symbolizer end to end on live processes: fixture programs print their
 * own runtime addresses, the symbolizer turns them back into functions,
 * lines and inline chains through /proc/PID/maps and the mapped files.
 * Also: PID reuse, exited processes, eviction, bounds, vdso, dlopen,
 * kernel addresses, and the cost of cold and warm lookups.
 */
#include <dlfcn.h>
#include <gelf.h>
#include <link.h>
#include <sys/auxv.h>
#include <time.h>

#include "kallsyms.h"
#include "symbolizer.h"
#include "symbolizer_test_util.h"
#include "test.h"

#define NS_PER_SEC 1000000000ULL

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static struct symbolizer *new_sym(const char *debug_dirs, unsigned idle)
{
	struct symbolizer_opts opts = {
		.debug_dirs = debug_dirs,
		.idle_cycles = idle,
	};

	return symbolizer__new(&opts);
}

static struct symbolizer_stats stats_of(const struct symbolizer *sym)
{
	struct symbolizer_stats st;

	symbolizer__stats(sym, &st);
	return st;
}

/* A runtime address inside fx_leaf where fx_mix is inlined. */
static __u64 find_inlined(struct symbolizer *sym, const struct fx_proc *fx, const char *nm_file,
			  __u64 start_ns)
{
	unsigned long long vaddr, size;
	char *path = fx_path(nm_file);
	__u64 leaf = fx_addr(fx, "fx_leaf");
	int err;

	err = path ? nm_symbol(path, "fx_leaf", &vaddr, &size) : -ENOMEM;
	free(path);
	if (err || !leaf)
		return 0;
	for (__u64 k = 0; k < size; k++) {
		struct symbolizer_location loc;
		__u64 a = leaf + k;

		if (symbolizer__lookup_user(sym, (__u32)fx->pid, start_ns, &a, 1, &loc))
			return 0;
		if (loc.n_frames == 2 && strcmp(loc.frames[0].function, "fx_mix") == 0)
			return a;
	}
	return 0;
}

/*
 * The fixture's stack fx_mix (inlined) → fx_leaf → fx_middle → fx_top, as
 * the BPF side would report it: the sampled pc, then return addresses.
 */
static int check_fixture_stack(struct symbolizer *sym, const struct fx_proc *fx, const char *file,
			       const char *nm_file, bool lines)
{
	__u64 start_ns = proc_start_ns(fx->pid), stack[3];
	struct symbolizer_location out[3];
	const struct symbolizer_frame *f;
	char *path = fx_path(file), *bid = path ? readelf_build_id(path) : NULL;

	ASSERT_TRUE(start_ns && bid);
	stack[1] = fx_addr(fx, "ret_in_middle");
	stack[2] = fx_addr(fx, "ret_in_top");
	if (lines) {
		stack[0] = find_inlined(sym, fx, nm_file, start_ns);
		ASSERT_TRUE(stack[0]);
	} else {
		stack[0] = fx_addr(fx, "fx_leaf") + 4;
	}
	ASSERT_EQ(symbolizer__lookup_user(sym, (__u32)fx->pid, start_ns, stack, 3, out), 0);
	for (int i = 0; i < 3; i++) {
		ASSERT_UEQ(out[i].address, stack[i]); /* as sampled, not minus one */
		ASSERT_TRUE(out[i].mapping);
		ASSERT_STREQ(out[i].mapping->path, path);
		ASSERT_STREQ(out[i].mapping->build_id, bid);
		ASSERT_TRUE(out[i].mapping->start <= stack[i] && stack[i] < out[i].mapping->limit);
		ASSERT_TRUE(!out[i].mapping->kernel);
		ASSERT_TRUE(out[i].mapping->has_functions);
		ASSERT_EQ(out[i].mapping->has_line_numbers, lines);
		ASSERT_TRUE(out[i].n_frames >= 1);
	}
	if (lines) {
		ASSERT_EQ(out[0].n_frames, 2);
		f = &out[0].frames[0];
		ASSERT_STREQ(f->function, "fx_mix");
		ASSERT_STREQ(f->system_name, "fx_mix");
		ASSERT_TRUE(ends_with(f->file, "/fixture.c"));
		ASSERT_TRUE(f->line >= marker_line("fixture.c", "FX_MIX_FIRST") &&
			    f->line <= marker_line("fixture.c", "FX_MIX_LAST"));
		ASSERT_EQ(f->start_line, marker_line("fixture.c", "FX_MIX_DECL"));
		f = &out[0].frames[1];
		ASSERT_STREQ(f->function, "fx_leaf");
		ASSERT_EQ(f->line, marker_line("fixture.c", "FX_LEAF_CALLS_MIX"));
		ASSERT_EQ(f->start_line, marker_line("fixture.c", "FX_LEAF_DECL"));
		ASSERT_EQ(out[1].n_frames, 1);
		ASSERT_STREQ(out[1].frames[0].function, "fx_middle");
		ASSERT_EQ(out[1].frames[0].line, marker_line("fixture.c", "FX_MIDDLE_CALLS_LEAF"));
		ASSERT_EQ(out[2].n_frames, 1);
		ASSERT_STREQ(out[2].frames[0].function, "fx_top");
		ASSERT_EQ(out[2].frames[0].line, marker_line("fixture.c", "FX_TOP_CALLS_MIDDLE"));
		ASSERT_EQ(out[2].frames[0].start_line, marker_line("fixture.c", "FX_TOP_DECL"));
	} else {
		ASSERT_STREQ(out[0].frames[0].function, "fx_leaf");
		ASSERT_STREQ(out[1].frames[0].function, "fx_middle");
		ASSERT_STREQ(out[2].frames[0].function, "fx_top");
		for (int i = 0; i < 3; i++)
			ASSERT_TRUE(out[i].frames[0].file == NULL && out[i].frames[0].line == 0);
	}
	free(path);
	free(bid);
	return 0;
}

/* nm_file: where nm finds the symbols (the debug file of a stripped binary) */
static int run_fixture_case(const char *file, const char *nm_file, const char *debug_dirs,
			    bool lines)
{
	struct symbolizer *sym = new_sym(debug_dirs, 0);
	struct fx_proc fx;
	int rc;

	ASSERT_TRUE(sym);
	ASSERT_EQ(fx_spawn(file, &fx), 0);
	rc = check_fixture_stack(sym, &fx, file, nm_file, lines);
	fx_stop(&fx);
	symbolizer__free(sym);
	return rc;
}

TEST(live_pie)
{
	return run_fixture_case("fx_pie", "fx_pie", NULL, true);
}

TEST(live_non_pie)
{
	return run_fixture_case("fx_nopie", "fx_nopie", NULL, true);
}

TEST(live_no_debug_info)
{
	return run_fixture_case("fx_nodebug", "fx_nodebug", "/nonexistent", false);
}

TEST(live_debuglink)
{
	return run_fixture_case("fx_debuglink", "fx_debuglink.debug", "/nonexistent", true);
}

static int make_debug_root(char *root, const char *from_rel, const char *to_fmt, const char *arg)
{
	char *from = fx_path(from_rel), *to = NULL, *cmd = NULL;
	int rc = -1;

	if (!from || !mkdtemp(root))
		goto out;
	if (asprintf(&to, to_fmt, root, arg) < 0) {
		to = NULL;
		goto out;
	}
	if (asprintf(&cmd, "mkdir -p \"$(dirname '%s')\" && cp '%s' '%s'", to, from, to) < 0) {
		cmd = NULL;
		goto out;
	}
	rc = system(cmd) == 0 ? 0 : -1;
out:
	free(from);
	free(to);
	free(cmd);
	return rc;
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

TEST(live_debuglink_in_debug_dir)
{
	char root[] = "/tmp/fornax-dbg-XXXXXX";
	int rc;

	/* <root>/<binary's directory>/<debuglink>, reached through /proc/PID/root */
	ASSERT_EQ(make_debug_root(root, "debugfiles/fx_dbgdir.debug", "%s%s/fx_dbgdir.debug", FX_DIR),
		  0);
	rc = run_fixture_case("fx_dbgdir", "debugfiles/fx_dbgdir.debug", root, true);
	remove_tree(root);
	return rc;
}

TEST(live_build_id_in_debug_dir)
{
	char root[] = "/tmp/fornax-dbg-XXXXXX", *bin = fx_path("fx_buildid");
	char *id = bin ? readelf_build_id(bin) : NULL, *dirs = NULL, idpath[128];
	struct symbolizer *sym;
	struct symbolizer_location loc;
	struct fx_proc fx;
	__u64 a;
	int rc;

	ASSERT_TRUE(id && strlen(id) == 40);
	snprintf(idpath, sizeof(idpath), "%.2s/%s", id, id + 2);
	ASSERT_EQ(make_debug_root(root, "debugfiles/fx_buildid.debug", "%s/.build-id/%s.debug", idpath),
		  0);

	/* without the root: no symbol table, nothing but the mapping */
	sym = new_sym("/nonexistent", 0);
	ASSERT_TRUE(sym);
	ASSERT_EQ(fx_spawn("fx_buildid", &fx), 0);
	a = fx_addr(&fx, "fx_leaf");
	ASSERT_EQ(symbolizer__lookup_user(sym, (__u32)fx.pid, proc_start_ns(fx.pid), &a, 1, &loc), 0);
	ASSERT_EQ(loc.n_frames, 0);
	ASSERT_TRUE(loc.mapping && ends_with(loc.mapping->path, "/fx_buildid"));
	ASSERT_STREQ(loc.mapping->build_id, id);
	ASSERT_TRUE(!loc.mapping->has_functions);
	fx_stop(&fx);
	symbolizer__free(sym);

	ASSERT_TRUE(asprintf(&dirs, "/nonexistent:%s", root) > 0);
	rc = run_fixture_case("fx_buildid", "debugfiles/fx_buildid.debug", dirs, true);
	remove_tree(root);
	free(dirs);
	free(bin);
	free(id);
	return rc;
}

TEST(live_cxx)
{
	struct symbolizer *sym = new_sym(NULL, 0);
	struct symbolizer_location out[2];
	struct fx_proc fx;
	__u64 a[2];

	ASSERT_TRUE(sym);
	ASSERT_EQ(fx_spawn("fx_cxx", &fx), 0);
	a[0] = fx_addr(&fx, "spin");
	a[1] = fx_addr(&fx, "scale") + 1; /* a return address: looked up at scale */
	ASSERT_TRUE(a[0] && a[1]);
	ASSERT_EQ(symbolizer__lookup_user(sym, (__u32)fx.pid, proc_start_ns(fx.pid), a, 2, out), 0);
	ASSERT_EQ(out[0].n_frames, 1);
	ASSERT_STREQ(out[0].frames[0].function, "fxns::Widget::spin(int)");
	ASSERT_STREQ(out[0].frames[0].system_name, "_ZN4fxns6Widget4spinEi");
	ASSERT_TRUE(ends_with(out[0].frames[0].file, "/fixture_cxx.cpp"));
	ASSERT_EQ(out[0].frames[0].start_line, marker_line("fixture_cxx.cpp", "FX_SPIN_DECL"));
	ASSERT_EQ(out[1].n_frames, 1);
	ASSERT_STREQ(out[1].frames[0].function, "int fxns::scale<int>(int)");
	ASSERT_STREQ(out[1].frames[0].system_name, "_ZN4fxns5scaleIiEET_S1_");
	fx_stop(&fx);
	symbolizer__free(sym);
	return 0;
}

TEST(process_identity_and_exit)
{
	struct symbolizer *sym = new_sym(NULL, 2);
	struct symbolizer_location loc[2];
	struct symbolizer_stats st, st2;
	struct fx_proc fx;
	__u64 start_ns, a[2];
	__u32 pid;

	ASSERT_TRUE(sym);
	ASSERT_EQ(fx_spawn("fx_pie", &fx), 0);
	pid = (__u32)fx.pid;
	start_ns = proc_start_ns(fx.pid);
	a[0] = fx_addr(&fx, "fx_top");
	a[1] = fx_addr(&fx, "fx_middle");

	/* another process that had this pid: unsymbolized, no mapping */
	ASSERT_EQ(symbolizer__lookup_user(sym, pid, start_ns + 5 * NS_PER_SEC, a, 1, loc), 0);
	ASSERT_EQ(loc[0].n_frames, 0);
	ASSERT_TRUE(loc[0].mapping == NULL);
	ASSERT_UEQ(loc[0].address, a[0]);
	st = stats_of(sym);
	ASSERT_EQ(st.process_gone, 1);
	ASSERT_EQ(st.maps_reads, 0);
	/* rounding of the start time to clock ticks is tolerated */
	ASSERT_EQ(symbolizer__lookup_user(sym, pid, start_ns + NS_PER_SEC / 200, a, 1, loc), 0);
	ASSERT_STREQ(loc[0].frames[0].function, "fx_top");
	/* 0 skips the check */
	ASSERT_EQ(symbolizer__lookup_user(sym, pid, 0, a, 1, loc), 0);
	ASSERT_STREQ(loc[0].frames[0].function, "fx_top");
	st = stats_of(sym);
	ASSERT_EQ(st.maps_reads, 1);
	ASSERT_EQ(st.processes, 2); /* the live one and the negative entry */

	/* samples drained after the process exited still symbolize */
	fx_stop(&fx);
	symbolizer__end_cycle(sym);
	ASSERT_EQ(symbolizer__lookup_user(sym, pid, start_ns, a, 2, loc), 0);
	ASSERT_STREQ(loc[0].frames[0].function, "fx_top");
	/* a[1] is a return address: looked up at fx_middle - 1, before fx_middle */
	ASSERT_TRUE(loc[1].n_frames == 0 || strcmp(loc[1].frames[0].function, "fx_middle") != 0);
	a[1] = fx_addr(&fx, "fx_middle") + 1;
	ASSERT_EQ(symbolizer__lookup_user(sym, pid, start_ns, a, 2, loc), 0);
	ASSERT_STREQ(loc[1].frames[0].function, "fx_middle");
	/* an address in no mapping: the process is gone, no second maps read */
	a[0] = 0x1000;
	ASSERT_EQ(symbolizer__lookup_user(sym, pid, start_ns, a, 1, loc), 0);
	ASSERT_TRUE(loc[0].mapping == NULL && loc[0].n_frames == 0);
	st2 = stats_of(sym);
	ASSERT_EQ(st2.maps_reads, 1);

	/* idle for idle_cycles cycles: evicted */
	for (int i = 0; i < 3; i++)
		symbolizer__end_cycle(sym);
	st2 = stats_of(sym);
	ASSERT_EQ(st2.processes, 0);
	ASSERT_EQ(st2.cached_addresses, 0);
	ASSERT_EQ(st2.files, 0);
	ASSERT_EQ(st2.evicted_processes, 2);
	ASSERT_TRUE(st2.evicted_addresses >= 3);
	ASSERT_EQ(st2.evicted_files, 1);
	/* now the exited process is unknown */
	a[0] = fx_addr(&fx, "fx_top");
	ASSERT_EQ(symbolizer__lookup_user(sym, pid, start_ns, a, 1, loc), 0);
	ASSERT_EQ(loc[0].n_frames, 0);
	symbolizer__free(sym);
	return 0;
}

TEST(eviction_and_reread)
{
	struct symbolizer *sym = new_sym(NULL, 2);
	struct symbolizer_location loc;
	struct symbolizer_stats st;
	struct fx_proc fx;
	__u64 start_ns, a;

	ASSERT_TRUE(sym);
	ASSERT_EQ(fx_spawn("fx_pie", &fx), 0);
	start_ns = proc_start_ns(fx.pid);
	a = fx_addr(&fx, "fx_top");
	ASSERT_EQ(symbolizer__lookup_user(sym, (__u32)fx.pid, start_ns, &a, 1, &loc), 0);
	ASSERT_STREQ(loc.frames[0].function, "fx_top");
	/* used every cycle: kept, and served from the cache */
	for (int i = 0; i < 5; i++) {
		symbolizer__end_cycle(sym);
		ASSERT_EQ(symbolizer__lookup_user(sym, (__u32)fx.pid, start_ns, &a, 1, &loc), 0);
		ASSERT_STREQ(loc.frames[0].function, "fx_top");
	}
	st = stats_of(sym);
	ASSERT_EQ(st.maps_reads, 1);
	ASSERT_EQ(st.cache_misses, 1);
	ASSERT_EQ(st.cache_hits, 5);
	ASSERT_EQ(st.evicted_processes, 0);
	/* idle: two cycles are kept, the third evicts */
	symbolizer__end_cycle(sym);
	symbolizer__end_cycle(sym);
	ASSERT_EQ(stats_of(sym).processes, 1);
	symbolizer__end_cycle(sym);
	st = stats_of(sym);
	ASSERT_EQ(st.processes, 0);
	ASSERT_EQ(st.evicted_processes, 1);
	ASSERT_EQ(st.cached_addresses, 0);
	/* back: maps read again, file reopened */
	ASSERT_EQ(symbolizer__lookup_user(sym, (__u32)fx.pid, start_ns, &a, 1, &loc), 0);
	ASSERT_STREQ(loc.frames[0].function, "fx_top");
	st = stats_of(sym);
	ASSERT_EQ(st.maps_reads, 2);
	ASSERT_EQ(st.cache_misses, 2);
	ASSERT_EQ(st.files, 1);
	fx_stop(&fx);
	symbolizer__free(sym);
	return 0;
}

TEST(dlopen_rereads_maps)
{
	struct symbolizer *sym = new_sym(NULL, 0);
	__u64 start_ns = proc_start_ns(getpid()), a;
	char *lib = fx_path("libfx_dl.so");
	struct symbolizer_location loc;
	struct symbolizer_stats st;
	void *h, *fn;

	ASSERT_TRUE(sym && lib && start_ns);
	a = (__u64)(uintptr_t)&now_us;
	ASSERT_EQ(symbolizer__lookup_user(sym, (__u32)getpid(), start_ns, &a, 1, &loc), 0);
	ASSERT_STREQ(loc.frames[0].function, "now_us");
	ASSERT_TRUE(ends_with(loc.frames[0].file, "/symbolizer_test.c"));
	ASSERT_EQ(stats_of(sym).maps_reads, 1);
	symbolizer__end_cycle(sym);

	h = dlopen(lib, RTLD_NOW);
	ASSERT_TRUE(h);
	fn = dlsym(h, "fx_dl_func");
	ASSERT_TRUE(fn);
	a = (__u64)(uintptr_t)fn + 2;
	ASSERT_EQ(symbolizer__lookup_user(sym, (__u32)getpid(), start_ns, &a, 1, &loc), 0);
	ASSERT_EQ(loc.n_frames, 1);
	ASSERT_STREQ(loc.frames[0].function, "fx_dl_func");
	ASSERT_TRUE(ends_with(loc.frames[0].file, "/fx_dl.c"));
	ASSERT_STREQ(loc.mapping->path, lib);
	ASSERT_EQ(stats_of(sym).maps_reads, 2);
	/* once per cycle at most */
	a = 0x1000;
	ASSERT_EQ(symbolizer__lookup_user(sym, (__u32)getpid(), start_ns, &a, 1, &loc), 0);
	ASSERT_TRUE(loc.mapping == NULL);
	st = stats_of(sym);
	ASSERT_EQ(st.maps_reads, 2);
	ASSERT_TRUE(st.unknown_addresses >= 1);
	dlclose(h);
	symbolizer__free(sym);
	free(lib);
	return 0;
}

static const char *vdso_symbol(__u64 *addr)
{
	unsigned long base = getauxval(AT_SYSINFO_EHDR);
	const char *found = NULL;
	Elf_Scn *scn = NULL;
	Elf *elf;

	if (!base || elf_version(EV_CURRENT) == EV_NONE)
		return NULL;
	elf = elf_memory((char *)base, 8192);
	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM)
			continue;
		d = elf_getdata(scn, NULL);
		for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;
			const char *name;

			if (!gelf_getsym(d, (int)i, &s))
				continue;
			name = elf_strptr(elf, sh.sh_link, s.st_name);
			if (name && strcmp(name, "__vdso_clock_gettime") == 0) {
				*addr = base + s.st_value;
				found = "clock_gettime";
			}
		}
	}
	elf_end(elf);
	return found;
}

TEST(vdso)
{
	struct symbolizer *sym = new_sym(NULL, 0);
	struct symbolizer_location loc;
	__u64 a = 0;

	ASSERT_TRUE(sym);
	if (!vdso_symbol(&a)) {
		symbolizer__free(sym);
		TEST_SKIP("no vdso clock_gettime");
	}
	a += 4;
	ASSERT_EQ(symbolizer__lookup_user(sym, (__u32)getpid(), proc_start_ns(getpid()), &a, 1, &loc), 0);
	ASSERT_TRUE(loc.mapping);
	ASSERT_STREQ(loc.mapping->path, "[vdso]");
	ASSERT_TRUE(loc.mapping->build_id != NULL);
	ASSERT_TRUE(loc.n_frames >= 1);
	ASSERT_TRUE(strstr(loc.frames[loc.n_frames - 1].function, "clock_gettime"));
	fprintf(stderr, "  vdso: %s, build-id %s\n", loc.frames[loc.n_frames - 1].function,
		loc.mapping->build_id);
	symbolizer__free(sym);
	return 0;
}

TEST(bounds)
{
	struct symbolizer_opts opts = { .max_files = 1, .max_cached_addresses = 4, .max_processes = 1 };
	__u64 self_start = proc_start_ns(getpid()), fx_start;
	struct symbolizer_location locs[8], floc;
	struct symbolizer *sym = symbolizer__new(&opts);
	struct symbolizer_stats st;
	struct fx_proc fx;
	__u64 a[8];

	ASSERT_TRUE(sym);
	/* three files of this process: the test binary, libc, libelf */
	a[0] = (__u64)(uintptr_t)&now_us + 1;
	a[1] = (__u64)(uintptr_t)&strtoull + 1;
	a[2] = (__u64)(uintptr_t)&elf_version + 1;
	a[3] = (__u64)(uintptr_t)&new_sym + 1;
	a[4] = (__u64)(uintptr_t)&qsort + 1;
	a[5] = (__u64)(uintptr_t)&elf_nextscn + 1;
	a[6] = (__u64)(uintptr_t)&stats_of + 1;
	a[7] = (__u64)(uintptr_t)&getpid + 1;
	for (int i = 0; i < 8; i++)
		ASSERT_EQ(symbolizer__lookup_user(sym, (__u32)getpid(), self_start, &a[i], 1, &locs[i]), 0);
	st = stats_of(sym);
	ASSERT_EQ(st.files, 1);
	ASSERT_TRUE(st.evicted_files >= 5);
	ASSERT_EQ(st.cached_addresses, 4);
	ASSERT_EQ(st.evicted_addresses, 4);
	/* another process beyond max_processes */
	ASSERT_EQ(fx_spawn("fx_pie", &fx), 0);
	fx_start = proc_start_ns(fx.pid);
	a[0] = fx_addr(&fx, "fx_top");
	ASSERT_EQ(symbolizer__lookup_user(sym, (__u32)fx.pid, fx_start, a, 1, &floc), 0);
	ASSERT_STREQ(floc.frames[0].function, "fx_top");
	st = stats_of(sym);
	ASSERT_EQ(st.processes, 1);
	ASSERT_EQ(st.evicted_processes, 1);
	/* everything returned this cycle is still valid (ASan would see otherwise) */
	ASSERT_STREQ(locs[0].frames[0].function, "now_us");
	ASSERT_STREQ(locs[3].frames[0].function, "new_sym");
	ASSERT_STREQ(locs[6].frames[0].function, "stats_of");
	ASSERT_TRUE(ends_with(locs[0].mapping->path, "/symbolizer_test"));
	for (int i = 0; i < 8; i++)
		ASSERT_TRUE(locs[i].n_frames >= 1);
	ASSERT_TRUE(strstr(locs[1].mapping->path, "libc.so"));
	ASSERT_TRUE(strstr(locs[2].mapping->path, "libelf"));
	symbolizer__end_cycle(sym);
	fx_stop(&fx);
	symbolizer__free(sym);
	return 0;
}

/* The estimated heap of open DWARF sessions is bounded by max_dwarf_bytes. */
TEST(dwarf_budget)
{
	struct symbolizer_opts opts = { .max_dwarf_bytes = 64 };
	struct symbolizer_location loc[2];
	struct symbolizer_stats st;
	struct symbolizer *sym;
	struct fx_proc fx, fx2;
	__u64 a;

	/* compressed DWARF over the limit: names from the symbol table only */
	sym = symbolizer__new(&opts);
	ASSERT_TRUE(sym);
	ASSERT_EQ(fx_spawn("fx_gzlink", &fx), 0);
	a = fx_addr(&fx, "fx_middle") + 4;
	ASSERT_EQ(symbolizer__lookup_user(sym, (__u32)fx.pid, proc_start_ns(fx.pid), &a, 1, loc), 0);
	ASSERT_EQ(loc[0].n_frames, 1);
	ASSERT_STREQ(loc[0].frames[0].function, "fx_middle");
	ASSERT_TRUE(loc[0].frames[0].file == NULL);
	ASSERT_TRUE(loc[0].mapping->has_functions && !loc[0].mapping->has_line_numbers);
	fx_stop(&fx);
	symbolizer__free(sym);

	/*
	 * Two sessions of ~140 KiB each under a 200 KiB limit. Misses that
	 * alternate between them in one cycle close neither (each switch would
	 * read a file again); the cycle's end closes one.
	 */
	opts.max_dwarf_bytes = 200 << 10;
	sym = symbolizer__new(&opts);
	ASSERT_TRUE(sym);
	ASSERT_EQ(fx_spawn("fx_pie", &fx), 0);
	ASSERT_EQ(fx_spawn("fx_nopie", &fx2), 0);
	for (int round = 0; round < 2; round++) {
		static const char *const fns[] = { "fx_middle", "fx_top" };

		a = fx_addr(&fx, fns[round]) + 4;
		ASSERT_EQ(symbolizer__lookup_user(sym, (__u32)fx.pid, proc_start_ns(fx.pid), &a, 1,
						  &loc[0]), 0);
		a = fx_addr(&fx2, fns[round]) + 4;
		ASSERT_EQ(symbolizer__lookup_user(sym, (__u32)fx2.pid, proc_start_ns(fx2.pid), &a, 1,
						  &loc[1]), 0);
		for (int i = 0; i < 2; i++) {
			ASSERT_STREQ(loc[i].frames[0].function, fns[round]);
			ASSERT_TRUE(loc[i].mapping->has_line_numbers);
		}
		if (round == 0)
			for (int i = 0; i < 2; i++)
				ASSERT_EQ(loc[i].frames[0].line,
					  marker_line("fixture.c", "FX_MIDDLE_CALLS_LEAF"));
	}
	st = stats_of(sym);
	ASSERT_EQ(st.files, 2);
	ASSERT_EQ(st.evicted_files, 0);
	symbolizer__end_cycle(sym);
	st = stats_of(sym);
	ASSERT_EQ(st.files, 1);
	ASSERT_EQ(st.evicted_files, 1);
	ASSERT_EQ(st.budget_closed_files, 1);
	/* next cycle: the closed one reopens on its next miss, the one idle since goes */
	a = fx_addr(&fx, "fx_middle") + 8;
	ASSERT_EQ(symbolizer__lookup_user(sym, (__u32)fx.pid, proc_start_ns(fx.pid), &a, 1, &loc[0]), 0);
	a = fx_addr(&fx2, "fx_middle") + 8;
	ASSERT_EQ(symbolizer__lookup_user(sym, (__u32)fx2.pid, proc_start_ns(fx2.pid), &a, 1, &loc[1]),
		  0);
	ASSERT_STREQ(loc[0].frames[0].function, "fx_middle");
	ASSERT_STREQ(loc[1].frames[0].function, "fx_middle");
	ASSERT_EQ(stats_of(sym).files, 2);
	fx_stop(&fx);
	fx_stop(&fx2);
	symbolizer__free(sym);
	return 0;
}

static __u64 kallsyms_addr(const char *name)
{
	FILE *f = fopen("/proc/kallsyms", "re");
	char line[512], sym[256], type;
	unsigned long long a;
	__u64 found = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &a, &type, sym) == 3 && strcmp(sym, name) == 0) {
			found = a;
			break;
		}
	}
	fclose(f);
	return found;
}

TEST(kernel_live)
{
	struct symbolizer *sym = new_sym(NULL, 0);
	__u64 a[3] = { kallsyms_addr("schedule"), 0, 0x1000 };
	struct symbolizer_location out[3];
	char *bid = NULL;

	ASSERT_TRUE(sym);
	if (!a[0]) {
		ASSERT_TRUE(symbolizer__load_kernel(sym) != 0);
		symbolizer__free(sym);
		TEST_SKIP("/proc/kallsyms not readable or restricted");
	}
	a[1] = a[0] + 5; /* a return address into schedule */
	ASSERT_EQ(symbolizer__load_kernel(sym), 0);
	ASSERT_EQ(symbolizer__lookup_kernel(sym, a, 3, out), 0);
	ASSERT_EQ(out[0].n_frames, 1);
	ASSERT_STREQ(out[0].frames[0].function, "schedule");
	ASSERT_STREQ(out[0].frames[0].system_name, "schedule");
	ASSERT_TRUE(out[0].frames[0].file == NULL);
	ASSERT_STREQ(out[1].frames[0].function, "schedule");
	ASSERT_UEQ(out[1].address, a[1]);
	ASSERT_TRUE(out[0].mapping && out[0].mapping->kernel);
	ASSERT_STREQ(out[0].mapping->path, "[kernel.kallsyms]");
	ASSERT_TRUE(out[0].mapping->start <= a[0] && a[0] < out[0].mapping->limit);
	if (kallsyms__read_build_id("/sys/kernel/notes", &bid) == 0)
		ASSERT_STREQ(out[0].mapping->build_id, bid);
	free(bid);
	ASSERT_EQ(out[2].n_frames, 0);
	ASSERT_TRUE(out[2].mapping == NULL);
	/* the same frame for the same symbol within a cycle */
	ASSERT_TRUE(out[0].frames == out[1].frames);
	symbolizer__end_cycle(sym);
	ASSERT_EQ(symbolizer__lookup_kernel(sym, a, 1, out), 0);
	ASSERT_STREQ(out[0].frames[0].function, "schedule");
	symbolizer__free(sym);
	return 0;
}

TEST(kernel_fixture)
{
	struct symbolizer_opts opts = {
		.kallsyms_path = FX_SRC_DIR "/kallsyms.txt",
		.modules_path = FX_SRC_DIR "/modules.txt",
		.kernel_notes_path = "/nonexistent/notes",
	};
	__u64 a[4] = { 0xffffffffc0400020ULL, 0xffffffff81000300ULL, 0xffffffff81200000ULL,
		       0xffffffffc0500011ULL };
	struct symbolizer *sym = symbolizer__new(&opts);
	struct symbolizer_location out[4];

	ASSERT_TRUE(sym);
	ASSERT_EQ(symbolizer__lookup_kernel(sym, a, 4, out), 0);
	ASSERT_STREQ(out[0].frames[0].function, "ext4_fill_super");
	ASSERT_STREQ(out[0].mapping->path, "[ext4]");
	ASSERT_UEQ(out[0].mapping->start, 0xffffffffc0400000ULL);
	ASSERT_UEQ(out[0].mapping->limit, 0xffffffffc0500000ULL);
	ASSERT_TRUE(out[0].mapping->kernel && out[0].mapping->build_id == NULL);
	ASSERT_STREQ(out[1].frames[0].function, "schedule");
	ASSERT_STREQ(out[1].mapping->path, "[kernel.kallsyms]");
	/* data past _etext: inside the kernel image, but no function */
	ASSERT_EQ(out[2].n_frames, 0);
	ASSERT_TRUE(out[2].mapping == out[1].mapping);
	ASSERT_STREQ(out[3].frames[0].function, "bpf_prog_6deef7357e7b4530_sd_fw_ingress");
	ASSERT_STREQ(out[3].mapping->path, "[bpf]");
	symbolizer__free(sym);
	return 0;
}

TEST(kernel_unavailable)
{
	char dir[] = "/tmp/fornax-ks-XXXXXX", path[64];
	struct symbolizer_opts opts = { .no_kernel = true };
	struct symbolizer_location out;
	struct symbolizer *sym;
	__u64 a = 0xffffffff81000300ULL;
	FILE *f;

	sym = symbolizer__new(&opts);
	ASSERT_TRUE(sym);
	ASSERT_EQ(symbolizer__load_kernel(sym), -EOPNOTSUPP);
	ASSERT_EQ(symbolizer__lookup_kernel(sym, &a, 1, &out), 0);
	ASSERT_TRUE(out.n_frames == 0 && out.mapping == NULL && out.address == a);
	symbolizer__free(sym);

	ASSERT_TRUE(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/kallsyms", dir);
	f = fopen(path, "we");
	ASSERT_TRUE(f);
	fputs("0000000000000000 T _stext\n0000000000000000 T schedule\n", f);
	fclose(f);
	opts = (struct symbolizer_opts){ .kallsyms_path = path };
	sym = symbolizer__new(&opts);
	ASSERT_TRUE(sym);
	ASSERT_EQ(symbolizer__lookup_kernel(sym, &a, 1, &out), 0);
	ASSERT_EQ(out.n_frames, 0);
	ASSERT_EQ(symbolizer__load_kernel(sym), -EPERM);
	symbolizer__free(sym);
	unlink(path);
	rmdir(dir);
	return 0;
}

TEST(bad_args)
{
	struct symbolizer *sym = new_sym(NULL, 0);
	struct symbolizer_location out;
	__u64 a = 1;

	ASSERT_EQ(symbolizer__lookup_user(NULL, 1, 0, &a, 1, &out), -EINVAL);
	ASSERT_EQ(symbolizer__lookup_user(sym, 1, 0, NULL, 1, &out), -EINVAL);
	ASSERT_EQ(symbolizer__lookup_user(sym, 1, 0, &a, 1, NULL), -EINVAL);
	ASSERT_EQ(symbolizer__lookup_user(sym, 1, 0, NULL, 0, NULL), 0);
	ASSERT_EQ(symbolizer__lookup_kernel(NULL, &a, 1, &out), -EINVAL);
	ASSERT_EQ(symbolizer__load_kernel(NULL), -EINVAL);
	/* a pid that does not exist */
	ASSERT_EQ(symbolizer__lookup_user(sym, 0x7ffffff0, 0, &a, 1, &out), 0);
	ASSERT_TRUE(out.n_frames == 0 && out.mapping == NULL);
	symbolizer__end_cycle(NULL);
	symbolizer__stats(NULL, NULL);
	symbolizer__free(sym);
	symbolizer__free(NULL);
	return 0;
}

/* A line of /proc/self/status, in KiB ("VmRSS", "RssAnon", "RssFile"). */
static long status_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "re");
	size_t klen = strlen(key);
	char line[256];
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			kib = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kib;
}

/* Function addresses from the .dynsym of libraries this test has loaded. */
struct addr_set {
	__u64 *a;
	size_t n, cap;
};

static int collect_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct addr_set *set = arg;
	Elf_Scn *scn = NULL;
	Elf *elf;
	int fd;

	(void)size;
	if (!info->dlpi_name || !info->dlpi_name[0] || strstr(info->dlpi_name, "vdso") ||
	    strstr(info->dlpi_name, "libfx_dl"))
		return 0;
	fd = open(info->dlpi_name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM)
			continue;
		d = elf_getdata(scn, NULL);
		for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize && set->n < set->cap; i++) {
			GElf_Sym s;

			if (gelf_getsym(d, (int)i, &s) && GELF_ST_TYPE(s.st_info) == STT_FUNC &&
			    s.st_value && s.st_size > 8)
				set->a[set->n++] = info->dlpi_addr + s.st_value + 4;
		}
	}
	elf_end(elf);
	close(fd);
	return 0;
}

static int cmp_u64(const void *x, const void *y)
{
	__u64 a = *(const __u64 *)x, b = *(const __u64 *)y;

	return a < b ? -1 : a > b;
}

/*
 * Cold and warm lookups of every exported function of the libraries this
 * test has loaded, then a warm drain of 1000 stacks of 20 frames. Prints
 * the figures; asserts only what must hold on any machine.
 */
static int measure_cost(size_t max_dwarf_bytes, const char *label)
{
	struct symbolizer_opts opts = { .max_dwarf_bytes = max_dwarf_bytes };
	struct symbolizer *sym = symbolizer__new(&opts);
	__u64 start_ns = proc_start_ns(getpid());
	struct addr_set set = { .cap = 20000 };
	struct symbolizer_location *out;
	size_t known = 0, lines = 0, stacks = 1000, depth = 20;
	double t0, cold, warm, drain;
	long anon0, anon1, file0, file1;
	struct symbolizer_stats st;
	__u64 *stack;

	ASSERT_TRUE(sym);
	set.a = calloc(set.cap, sizeof(*set.a));
	out = calloc(set.cap, sizeof(*out));
	stack = calloc(depth, sizeof(*stack));
	ASSERT_TRUE(set.a && out && stack);
	ASSERT_EQ(elf_version(EV_CURRENT) != EV_NONE, 1);
	dl_iterate_phdr(collect_cb, &set);
	qsort(set.a, set.n, sizeof(*set.a), cmp_u64);
	for (size_t i = 0, j = 0; i < set.n; i++) { /* aliases share an address */
		if (!j || set.a[j - 1] != set.a[i])
			set.a[j++] = set.a[i];
		if (i == set.n - 1)
			set.n = j;
	}
	ASSERT_TRUE(set.n > 500);
	memset(out, 0, set.cap * sizeof(*out)); /* touched before measuring memory */

	anon0 = status_kib("RssAnon");
	file0 = status_kib("RssFile");
	t0 = now_us();
	for (size_t i = 0; i < set.n; i++)
		ASSERT_EQ(symbolizer__lookup_user(sym, (__u32)getpid(), start_ns, &set.a[i], 1, &out[i]), 0);
	cold = now_us() - t0;
	anon1 = status_kib("RssAnon");
	file1 = status_kib("RssFile");
	for (size_t i = 0; i < set.n; i++) {
		known += out[i].n_frames > 0;
		lines += out[i].n_frames > 0 && out[i].frames[0].line > 0;
	}
	symbolizer__end_cycle(sym);
	t0 = now_us();
	for (size_t i = 0; i < set.n; i++)
		ASSERT_EQ(symbolizer__lookup_user(sym, (__u32)getpid(), start_ns, &set.a[i], 1, &out[i]), 0);
	warm = now_us() - t0;
	symbolizer__end_cycle(sym);

	/* a warm drain: 1000 distinct stacks of 20 frames from the cached set */
	t0 = now_us();
	for (size_t s = 0; s < stacks; s++) {
		for (size_t d = 0; d < depth; d++)
			stack[d] = set.a[(s * 7 + d * 131) % set.n] + (d ? 1 : 0);
		ASSERT_EQ(symbolizer__lookup_user(sym, (__u32)getpid(), start_ns, stack, depth, out), 0);
	}
	drain = now_us() - t0;
	st = stats_of(sym);
	fprintf(stderr,
		"  %s: %zu addresses (%zu with a function, %zu with a line): cold %.2f us/addr,"
		" warm %.3f us/addr; warm drain of %zu stacks x %zu frames: %.2f ms;"
		" during the cold pass RSS +%ld KiB anonymous, +%ld KiB file-backed\n",
		label, set.n, known, lines, cold / (double)set.n, warm / (double)set.n, stacks, depth,
		drain / 1e3, anon1 - anon0, file1 - file0);
	ASSERT_TRUE(known > set.n * 9 / 10);
	ASSERT_EQ(st.cache_misses, set.n); /* nothing looked up twice */
	free(set.a);
	free(out);
	free(stack);
	symbolizer__free(sym);
	return 0;
}

TEST(cost)
{
	if (measure_cost(0, "default DWARF limit"))
		return 1;
	return measure_cost(256u << 20, "DWARF limit 256 MiB");
}

/* ./symbolizer_test [case] runs one case */
#define RUN_IF(name)                                          \
	do {                                                  \
		if (argc < 2 || strcmp(argv[1], #name) == 0) \
			RUN(name);                           \
	} while (0)

int main(int argc, char **argv)
{
	RUN_IF(live_pie);
	RUN_IF(live_non_pie);
	RUN_IF(live_no_debug_info);
	RUN_IF(live_debuglink);
	RUN_IF(live_debuglink_in_debug_dir);
	RUN_IF(live_build_id_in_debug_dir);
	RUN_IF(live_cxx);
	RUN_IF(process_identity_and_exit);
	RUN_IF(eviction_and_reread);
	RUN_IF(dlopen_rereads_maps);
	RUN_IF(vdso);
	RUN_IF(bounds);
	RUN_IF(dwarf_budget);
	RUN_IF(kernel_live);
	RUN_IF(kernel_fixture);
	RUN_IF(kernel_unavailable);
	RUN_IF(bad_args);
	RUN_IF(cost);
	return test_summary();
}
