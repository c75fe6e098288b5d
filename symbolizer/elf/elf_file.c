// SPDX-License-Identifier: Apache-2.0
#include "elf_file.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "hashmap.h"
#include "hex.h"

#define DEFAULT_DEBUG_DIRS "/usr/lib/debug"
#define SIZELESS_MAX 4096 /* how far past a symbol without st_size we still attribute */
#define OVERLAP_SCAN 8    /* earlier symbols checked when the nearest one is too short */
#define MAX_SCOPE_DEPTH 256 /* DIE nesting followed, against malformed DWARF */
/* heap estimate per CU used: libdw's CU, abbreviations, files; per line row */
#define DWARF_BASE_BYTES (128u << 10)
#define CU_BASE_BYTES 4096
#define LINE_ROW_BYTES 48

/* A range of a function DIE directly under a CU (or namespace). */
struct fn_range {
	Dwarf_Addr lo, hi;
	Dwarf_Die die;
};

struct cu_index {
	Dwarf_Off cu_off;
	struct fn_range *fns; /* sorted by lo */
	size_t n, cap;
};

/* A function symbol in the address-sorted index: 16 bytes. */
struct sym_ent {
	__u64 addr;  /* module address (bias applied) */
	__u32 size;  /* st_size, clamped; 0 if unknown */
	__u32 index; /* for dwfl_module_getsym_info() */
};

struct elf_file {
	/* libdwfl keeps pointers to both for the session's lifetime */
	Dwfl_Callbacks callbacks;
	char *debuginfo_path;
	Dwfl *dwfl;
	Dwfl_Module *mod;
	Dwarf_Addr bias; /* module address = ELF vaddr + bias */
	char *build_id;
	struct elf_segment *segs;
	size_t n_segs;
	struct elf_frame *frames;
	size_t frames_cap;
	/*
	 * dwfl_module_addrinfo() scans the whole symbol table per call; this
	 * index, built on first use, makes the lookup a binary search.
	 */
	struct sym_ent *syms;
	size_t n_syms;
	bool syms_loaded;
	/* scratch path of DIEs */
	Dwarf_Die *path;
	size_t path_cap;
	/* per CU (by DIE offset), its functions' ranges, built on first use */
	struct hmap cu_index;
	int has_symbols; /* -1: not probed yet */
	int has_dwarf;
	size_t max_dwarf_bytes;
	size_t dwarf_bytes;   /* decompressed debug sections of the DWARF file */
	size_t cu_bytes;      /* estimated per-CU state */
	bool main_has_symtab;
	bool dwarf_too_big;   /* never load DWARF */
	bool debug_found;     /* the separate debug file was found */
	char *debug_dirs;
	int (*fetch_debuginfo)(void *ctx, const unsigned char *build_id, size_t len, char **path);
	void *fetch_ctx;
};

static int elf_file__read_segments(struct elf_file *ef, Elf *elf)
{
	size_t phnum = 0;

	if (elf_getphdrnum(elf, &phnum) != 0)
		return -ENOEXEC;
	ef->segs = calloc(phnum ? phnum : 1, sizeof(*ef->segs));
	if (!ef->segs)
		return -ENOMEM;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr mem, *ph = gelf_getphdr(elf, (int)i, &mem);

		if (!ph || ph->p_type != PT_LOAD)
			continue;
		ef->segs[ef->n_segs++] = (struct elf_segment){
			.offset = ph->p_offset,
			.vaddr = ph->p_vaddr,
			.filesz = ph->p_filesz,
			.memsz = ph->p_memsz,
			.flags = ph->p_flags,
		};
	}
	return ef->n_segs ? 0 : -ENOEXEC;
}

/*
 * Heap libdw would use for the debug sections of elf: compressed ones are
 * decompressed into malloc'd buffers, the rest is mmapped.
 */
static size_t debug_heap_bytes(Elf *elf, bool *has_info, bool *has_symtab)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx, total = 0;

	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return 0;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB)
			*has_symtab = true;
		if (sh.sh_type == SHT_NOBITS)
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name)
			continue;
		if (strcmp(name, ".debug_info") == 0 || strcmp(name, ".zdebug_info") == 0)
			*has_info = true;
		if (strncmp(name, ".debug_", 7) == 0 && (sh.sh_flags & SHF_COMPRESSED)) {
			GElf_Chdr ch;

			if (gelf_getchdr(scn, &ch))
				total += ch.ch_size;
		} else if (strncmp(name, ".zdebug_", 8) == 0) {
			ssize_t n = dwelf_scn_gnu_compressed_size(scn);

			if (n > 0)
				total += (size_t)n;
		}
	}
	return total;
}

/* CRC-32 of the whole file, as .gnu_debuglink records it. */
static bool file_crc32(int fd, GElf_Word *crc)
{
	unsigned char buf[65536];
	uLong c = crc32(0, Z_NULL, 0);
	off_t off = 0;
	ssize_t n;

	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		c = crc32(c, buf, (uInt)n);
		off += n;
	}
	*crc = (GElf_Word)c;
	return n == 0;
}

/* Does the candidate debug file belong to the module? */
static bool debug_file_matches(Dwfl_Module *mod, int fd, GElf_Word crc)
{
	const unsigned char *want, *have;
	GElf_Word have_crc;
	GElf_Addr vaddr;
	int want_len, have_len;
	bool ok = false;
	Elf *elf;

	want_len = dwfl_module_build_id(mod, &want, &vaddr);
	if (want_len > 0) {
		elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
		if (!elf)
			return false;
		have_len = dwelf_elf_gnu_build_id(elf, (const void **)&have);
		ok = have_len == want_len && memcmp(have, want, (size_t)want_len) == 0;
		elf_end(elf);
		return ok;
	}
	/* no build-id: the .gnu_debuglink CRC of the whole debug file */
	return file_crc32(fd, &have_crc) && have_crc == crc;
}

/* Opens dir/sub/name if it is the module's debug file; path in *found. */
static int try_debug_file(Dwfl_Module *mod, const struct stat *main_st, const char *dir,
			  const char *sub, const char *name, GElf_Word crc, char **found)
{
	struct stat st;
	char *path;
	int fd;

	if (asprintf(&path, "%s%s/%s", dir, sub, name) < 0)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(path);
		return -ENOENT;
	}
	/* not the main file itself, and the right one */
	if (fstat(fd, &st) != 0 || (main_st && st.st_dev == main_st->st_dev &&
				     st.st_ino == main_st->st_ino) ||
	    !debug_file_matches(mod, fd, crc)) {
		close(fd);
		free(path);
		return -ENOENT;
	}
	*found = path;
	return fd;
}

/*
 * The .gnu_debuglink search libdwfl does (the file's directory, its .debug/
 * and each debug root + the file's directory, then + its shorter suffixes),
 * without libdwfl's last resort: asking debuginfod servers, which dlopen()s
 * libdebuginfod and libcurl into the process on every miss.
 */
static int find_by_debuglink(struct elf_file *ef, Dwfl_Module *mod, const char *file_name,
			     const char *debuglink, GElf_Word crc, char **found)
{
	char *dir = NULL, *base_name = NULL, *roots = NULL, *save = NULL, *root;
	struct stat main_st, *mst = NULL;
	const char *slash, *name, *sub;
	int fd = -ENOENT;

	if (!file_name || file_name[0] != '/')
		return -ENOENT;
	slash = strrchr(file_name, '/');
	dir = strndup(file_name, (size_t)(slash - file_name));
	if (!dir)
		return -ENOMEM;
	if (stat(file_name, &main_st) == 0)
		mst = &main_st;
	name = debuglink;
	if (!name) {
		if (asprintf(&base_name, "%s.debug", slash + 1) < 0) {
			base_name = NULL;
			fd = -ENOMEM;
			goto cleanup;
		}
		name = base_name;
	}
	fd = try_debug_file(mod, mst, dir, "", name, crc, found);
	if (fd == -ENOENT)
		fd = try_debug_file(mod, mst, dir, "/.debug", name, crc, found);
	if (fd != -ENOENT)
		goto cleanup;
	roots = strdup(ef->debug_dirs);
	if (!roots) {
		fd = -ENOMEM;
		goto cleanup;
	}
	for (root = strtok_r(roots, ":", &save); root; root = strtok_r(NULL, ":", &save)) {
		if (root[0] != '/')
			continue;
		/* <root>/a/b/c, <root>/b/c, <root>/c, <root> for the file in /a/b/c */
		for (sub = dir;; sub = strchr(sub + 1, '/')) {
			fd = try_debug_file(mod, mst, root, sub ? sub : "", name, crc, found);
			if (fd != -ENOENT || !sub)
				goto cleanup;
		}
	}
cleanup:
	free(roots);
	free(base_name);
	free(dir);
	return fd;
}

/*
 * find_debuginfo callback: by build-id under each debug root, else by
 * .gnu_debuglink; then, before libdw decompresses anything, a look at the
 * section headers of what was found. DWARF over the limit is refused when
 * the main file has its own symbol table; otherwise the file is kept for
 * its .symtab and DWARF is simply never asked for.
 */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
			  const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
			  char **debuginfo_file_name)
{
	struct elf_file *ef = *userdata;
	bool has_info = false, has_symtab = false;
	size_t bytes;
	Elf *elf;
	int fd;

	if (!ef) {
		errno = ENOENT;
		return -1;
	}
	fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file,
					  debuglink_crc, debuginfo_file_name);
	if (fd >= 0) {
		/* libdwfl opens without O_CLOEXEC */
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	} else if (!ef->debug_found) {
		/* not for dwz's alternate files: those are found by build-id */
		fd = find_by_debuglink(ef, mod, file_name, debuglink_file, debuglink_crc,
				       debuginfo_file_name);
		if (fd == -ENOENT && ef->fetch_debuginfo) {
			const unsigned char *bits;
			GElf_Addr vaddr;
			int len = dwfl_module_build_id(mod, &bits, &vaddr);

			if (len > 0)
				fd = ef->fetch_debuginfo(ef->fetch_ctx, bits, (size_t)len,
							 debuginfo_file_name);
		}
		if (fd < 0) {
			errno = -fd;
			return -1;
		}
	} else {
		errno = ENOENT;
		return -1;
	}
	ef->debug_found = true;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return fd;
	bytes = debug_heap_bytes(elf, &has_info, &has_symtab);
	elf_end(elf);
	if (!has_info)
		return fd;
	ef->dwarf_bytes += bytes;
	if (!ef->max_dwarf_bytes || ef->dwarf_bytes <= ef->max_dwarf_bytes)
		return fd;
	ef->dwarf_too_big = true;
	if (ef->main_has_symtab) {
		close(fd);
		free(*debuginfo_file_name);
		*debuginfo_file_name = NULL;
		errno = ENOENT;
		return -1;
	}
	return fd;
}

struct elf_file *elf_file__open(int fd, const char *path, const struct elf_file_opts *opts)
{
	bool has_info = false, has_symtab = false;
	const char *debug_dirs = opts ? opts->debug_dirs : NULL;
	struct elf_file *ef = NULL;
	const unsigned char *bits;
	GElf_Addr bid_vaddr;
	void **userdata;
	size_t bytes;
	Elf *elf;
	int err, len;

	if (fd < 0) {
		errno = EINVAL;
		return NULL;
	}
	ef = calloc(1, sizeof(*ef));
	if (!ef) {
		err = -ENOMEM;
		goto cleanup;
	}
	ef->has_symbols = -1;
	ef->has_dwarf = -1;
	ef->max_dwarf_bytes = opts ? opts->max_dwarf_bytes : 0;
	ef->fetch_debuginfo = opts ? opts->fetch_debuginfo : NULL;
	ef->fetch_ctx = opts ? opts->fetch_ctx : NULL;
	/* "" first: the file's own directory, then .debug/, then the roots */
	/* libdwfl reads the roots from it for .build-id/ lookups */
	ef->debug_dirs = strdup(debug_dirs ? debug_dirs : DEFAULT_DEBUG_DIRS);
	if (!ef->debug_dirs ||
	    asprintf(&ef->debuginfo_path, ":.debug:%s", ef->debug_dirs) < 0) {
		ef->debuginfo_path = NULL;
		err = -ENOMEM;
		goto cleanup;
	}
	ef->callbacks.find_elf = NULL; /* fd given: never called */
	ef->callbacks.find_debuginfo = find_debuginfo;
	ef->callbacks.section_address = dwfl_offline_section_address;
	ef->callbacks.debuginfo_path = &ef->debuginfo_path;
	ef->dwfl = dwfl_begin(&ef->callbacks);
	if (!ef->dwfl) {
		err = -ENOMEM;
		goto cleanup;
	}
	dwfl_report_begin(ef->dwfl);
	/*
	 * base 0 with add_p_vaddr: ET_DYN sits at its own p_vaddr, as ET_EXEC
	 * always does, so module addresses are ELF vaddrs (bias 0). The bias
	 * is still read back below rather than assumed.
	 */
	ef->mod = dwfl_report_elf(ef->dwfl, "elf", path ? path : "", fd, 0, true);
	if (!ef->mod) {
		/* libdwfl's error codes are private; out of memory shows up elsewhere */
		err = -ENOEXEC;
		goto cleanup;
	}
	fd = -1; /* owned by the session now */
	if (dwfl_report_end(ef->dwfl, NULL, NULL) != 0) {
		err = -ENOEXEC;
		goto cleanup;
	}
	/* find_debuginfo() gets ef through the module's user data */
	if (dwfl_module_info(ef->mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL))
		*userdata = ef;
	elf = dwfl_module_getelf(ef->mod, &ef->bias);
	if (!elf) {
		err = -ENOEXEC;
		goto cleanup;
	}
	bytes = debug_heap_bytes(elf, &has_info, &has_symtab);
	ef->main_has_symtab = has_symtab;
	if (has_info) {
		/* DWARF in the file itself */
		ef->dwarf_bytes = bytes;
		ef->dwarf_too_big = ef->max_dwarf_bytes && bytes > ef->max_dwarf_bytes;
	}
	err = elf_file__read_segments(ef, elf);
	if (err)
		goto cleanup;
	len = dwfl_module_build_id(ef->mod, &bits, &bid_vaddr);
	if (len > 0) {
		ef->build_id = hex_string(bits, (size_t)len);
		if (!ef->build_id) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
	return ef;

cleanup:
	if (fd >= 0)
		close(fd);
	elf_file__free(ef);
	errno = -err;
	return NULL;
}

void elf_file__free(struct elf_file *ef)
{
	if (!ef)
		return;
	if (ef->dwfl)
		dwfl_end(ef->dwfl); /* closes the fd it owns */
	free(ef->debuginfo_path);
	free(ef->debug_dirs);
	free(ef->build_id);
	free(ef->segs);
	free(ef->frames);
	free(ef->syms);
	free(ef->path);
	for (size_t i = 0; i < ef->cu_index.cap; i++) {
		struct cu_index *ci = ef->cu_index.slots[i].val;

		if (ci) {
			free(ci->fns);
			free(ci);
		}
	}
	hmap__clear(&ef->cu_index);
	free(ef);
}

const char *elf_file__build_id(const struct elf_file *ef)
{
	return ef ? ef->build_id : NULL;
}

const struct elf_segment *elf_file__segments(const struct elf_file *ef, size_t *n)
{
	*n = ef ? ef->n_segs : 0;
	return ef ? ef->segs : NULL;
}

static int sym_ent_cmp(const void *a, const void *b)
{
	const struct sym_ent *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* aliases: the sized one first, then the first in the table */
	if ((x->size == 0) != (y->size == 0))
		return x->size ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int elf_file__load_symbols(struct elf_file *ef)
{
	int n, kept = 0;

	if (ef->syms_loaded)
		return 0;
	/* .symtab, else .dynsym, plus MiniDebugInfo's .gnu_debugdata */
	n = dwfl_module_getsymtab(ef->mod);
	if (n > 1) {
		ef->syms = calloc((size_t)n, sizeof(*ef->syms));
		if (!ef->syms)
			return -ENOMEM;
	}
	for (int i = 1; i < n; i++) {
		GElf_Addr addr;
		GElf_Word shndx;
		GElf_Sym sym;
		int type;

		if (!dwfl_module_getsym_info(ef->mod, i, &sym, &addr, &shndx, NULL, NULL))
			continue;
		type = GELF_ST_TYPE(sym.st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF ||
		    shndx == (GElf_Word)-1 || !addr)
			continue;
		ef->syms[kept++] = (struct sym_ent){
			.addr = addr,
			.size = sym.st_size > UINT32_MAX ? UINT32_MAX : (__u32)sym.st_size,
			.index = (__u32)i,
		};
	}
	ef->n_syms = (size_t)kept;
	if (kept)
		qsort(ef->syms, ef->n_syms, sizeof(*ef->syms), sym_ent_cmp);
	ef->syms_loaded = true;
	return 0;
}

/* The function symbol covering addr, or NULL. */
static const char *elf_file__symbol_at(struct elf_file *ef, Dwarf_Addr addr)
{
	size_t lo = 0, hi = ef->n_syms, i;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ef->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	/* the nearest start at or below addr, else a longer one starting earlier */
	for (i = lo; i > 0 && lo - i < OVERLAP_SCAN; i--) {
		const struct sym_ent *e = &ef->syms[i - 1];
		__u64 off = addr - e->addr;
		GElf_Addr sym_addr;
		GElf_Sym sym;

		if (e->size ? off < e->size : (i == lo && off < SIZELESS_MAX))
			return dwfl_module_getsym_info(ef->mod, (int)e->index, &sym, &sym_addr, NULL,
						       NULL, NULL);
	}
	return NULL;
}

bool elf_file__has_symbols(struct elf_file *ef)
{
	if (ef->has_symbols < 0)
		ef->has_symbols = elf_file__load_symbols(ef) == 0 && ef->n_syms > 0;
	return ef->has_symbols;
}

bool elf_file__has_dwarf(struct elf_file *ef)
{
	Dwarf_Addr bias;

	if (ef->has_dwarf < 0) {
		/* the symbol table first: its search may find DWARF too big */
		if (elf_file__load_symbols(ef) != 0)
			return false;
		ef->has_dwarf = !ef->dwarf_too_big && dwfl_module_getdwarf(ef->mod, &bias) != NULL;
	}
	return ef->has_dwarf;
}

bool elf_file__dwarf_skipped(const struct elf_file *ef)
{
	return ef->dwarf_too_big;
}

size_t elf_file__memory(const struct elf_file *ef)
{
	size_t bytes = sizeof(*ef) + ef->n_syms * sizeof(*ef->syms);

	/*
	 * Measured on a Debian libc6-dbg file: heap growth matched this within
	 * 20% from 10 to 2600 lookups (the CU list and aranges are the base).
	 */
	if (ef->has_dwarf > 0)
		bytes += DWARF_BASE_BYTES + ef->dwarf_bytes + ef->dwarf_bytes / 4 + ef->cu_bytes;
	return bytes;
}

int elf_segments__to_vaddr(const struct elf_segment *segs, size_t n, __u64 file_off,
			   __u64 *vaddr)
{
	const struct elf_segment *found = NULL;

	for (size_t i = 0; i < n; i++) {
		const struct elf_segment *s = &segs[i];

		if (file_off < s->offset || file_off - s->offset >= s->filesz)
			continue;
		if (!found || ((s->flags & PF_X) && !(found->flags & PF_X)))
			found = s;
	}
	if (!found)
		return -ENOENT;
	*vaddr = file_off - found->offset + found->vaddr;
	return 0;
}

static int elf_file__push(struct elf_file *ef, size_t *n, const struct elf_frame *f)
{
	if (*n == ef->frames_cap) {
		size_t cap = ef->frames_cap ? ef->frames_cap * 2 : 8;
		struct elf_frame *tmp = reallocarray(ef->frames, cap, sizeof(*tmp));

		if (!tmp)
			return -ENOMEM;
		ef->frames = tmp;
		ef->frames_cap = cap;
	}
	ef->frames[(*n)++] = *f;
	return 0;
}

static const char *die_function_name(Dwarf_Die *die)
{
	Dwarf_Attribute mem, *attr;
	const char *name;

	/* follows DW_AT_abstract_origin and DW_AT_specification */
	attr = dwarf_attr_integrate(die, DW_AT_linkage_name, &mem);
	if (!attr)
		attr = dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &mem);
	name = attr ? dwarf_formstring(attr) : NULL;
	return name ? name : dwarf_diename(die);
}

static __u32 die_decl_line(Dwarf_Die *die)
{
	int line = 0;

	if (dwarf_decl_line(die, &line) != 0 || line < 0)
		return 0;
	return (__u32)line;
}

/* DW_AT_call_file / DW_AT_call_line of an inlined_subroutine. */
static void die_call_site(Dwarf_Die *die, const char **file, __u32 *line)
{
	Dwarf_Attribute mem;
	Dwarf_Word val;
	Dwarf_Files *files;
	Dwarf_Die cu;
	size_t nfiles;

	*file = NULL;
	*line = 0;
	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &mem), &val) == 0 && val <= UINT32_MAX)
		*line = (__u32)val;
	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &mem), &val) != 0)
		return;
	if (!dwarf_diecu(die, &cu, NULL, NULL))
		return;
	if (dwarf_getsrcfiles(&cu, &files, &nfiles) != 0 || val >= nfiles)
		return;
	*file = dwarf_filesrc(files, val, NULL, NULL);
}

static bool is_function_scope(Dwarf_Die *die)
{
	int tag = dwarf_tag(die);

	return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine;
}

/* DIEs with code ranges whose children may hold more scopes. */
static bool is_code_scope(int tag)
{
	switch (tag) {
	case DW_TAG_subprogram:
	case DW_TAG_inlined_subroutine:
	case DW_TAG_lexical_block:
	case DW_TAG_try_block:
	case DW_TAG_catch_block:
	case DW_TAG_entry_point:
		return true;
	default:
		return false;
	}
}

static int elf_file__push_scope(struct elf_file *ef, size_t *n, const Dwarf_Die *die)
{
	if (*n == ef->path_cap) {
		size_t cap = ef->path_cap ? ef->path_cap * 2 : 16;
		Dwarf_Die *tmp = reallocarray(ef->path, cap, sizeof(*tmp));

		if (!tmp)
			return -ENOMEM;
		ef->path = tmp;
		ef->path_cap = cap;
	}
	ef->path[(*n)++] = *die;
	return 0;
}

/*
 * Appends to ef->path the code scopes below parent that contain pc,
 * outermost first. Descends only into the scope holding pc (and into
 * namespaces, which have no ranges), skipping other subtrees through
 * DW_AT_sibling, so the cost is the scopes passed on the way down rather
 * than the whole CU (dwarf_getscopes_die() walks the whole CU).
 */
static int elf_file__scope_path(struct elf_file *ef, const Dwarf_Die *parent_die, Dwarf_Addr pc,
				size_t *n, unsigned depth)
{
	Dwarf_Die parent = *parent_die, child;
	int err;

	for (; depth < MAX_SCOPE_DEPTH; depth++) {
		bool found = false;

		if (dwarf_child(&parent, &child) != 0)
			return 0;
		do {
			int tag = dwarf_tag(&child);

			if (is_code_scope(tag)) {
				if (dwarf_haspc(&child, pc) <= 0)
					continue;
				err = elf_file__push_scope(ef, n, &child);
				if (err)
					return err;
				parent = child;
				found = true;
				break;
			}
			if (tag == DW_TAG_namespace || tag == DW_TAG_module) {
				size_t before = *n;

				err = elf_file__scope_path(ef, &child, pc, n, depth + 1);
				if (err || *n > before)
					return err;
			}
		} while (dwarf_siblingof(&child, &child) == 0);
		if (!found)
			return 0;
	}
	return 0; /* nested deeper than any compiler emits: stop there */
}

static int cu_index_add(struct cu_index *ci, Dwarf_Addr lo, Dwarf_Addr hi, const Dwarf_Die *die)
{
	if (ci->n == ci->cap) {
		size_t cap = ci->cap ? ci->cap * 2 : 16;
		struct fn_range *tmp = reallocarray(ci->fns, cap, sizeof(*tmp));

		if (!tmp)
			return -ENOMEM;
		ci->fns = tmp;
		ci->cap = cap;
	}
	ci->fns[ci->n++] = (struct fn_range){ .lo = lo, .hi = hi, .die = *die };
	return 0;
}

/* Records the ranges of the subprograms under parent (namespaces included). */
static int cu_index_scan(struct cu_index *ci, Dwarf_Die *parent, unsigned depth)
{
	Dwarf_Die child;
	int err;

	if (depth >= MAX_SCOPE_DEPTH || dwarf_child(parent, &child) != 0)
		return 0;
	do {
		int tag = dwarf_tag(&child);

		if (tag == DW_TAG_subprogram) {
			Dwarf_Addr base, lo, hi;
			ptrdiff_t off = 0;

			while ((off = dwarf_ranges(&child, off, &base, &lo, &hi)) > 0) {
				if (lo >= hi)
					continue;
				err = cu_index_add(ci, lo, hi, &child);
				if (err)
					return err;
			}
		} else if (tag == DW_TAG_namespace || tag == DW_TAG_module) {
			err = cu_index_scan(ci, &child, depth + 1);
			if (err)
				return err;
		}
	} while (dwarf_siblingof(&child, &child) == 0);
	return 0;
}

static int fn_range_cmp(const void *a, const void *b)
{
	const struct fn_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static bool cu_index_eq(const void *val, const void *key)
{
	return ((const struct cu_index *)val)->cu_off == *(const Dwarf_Off *)key;
}

/* The function DIE directly under cu whose ranges hold pc. */
static int elf_file__cu_function(struct elf_file *ef, Dwarf_Die *cu, Dwarf_Addr pc,
				 const Dwarf_Die **fn)
{
	Dwarf_Off off = dwarf_dieoffset(cu);
	__u64 h = hash_u64(off);
	struct cu_index *ci;
	Dwarf_Lines *lines;
	size_t nlines;
	size_t lo = 0, hi;
	int err;

	*fn = NULL;
	ci = hmap__find(&ef->cu_index, h, cu_index_eq, &off);
	if (!ci) {
		ci = calloc(1, sizeof(*ci));
		if (!ci)
			return -ENOMEM;
		ci->cu_off = off;
		err = cu_index_scan(ci, cu, 0);
		if (!err)
			err = hmap__insert(&ef->cu_index, h, ci);
		if (err) {
			free(ci->fns);
			free(ci);
			return err;
		}
		if (ci->n)
			qsort(ci->fns, ci->n, sizeof(*ci->fns), fn_range_cmp);
		/* what this CU costs from now on: its line table is decoded too */
		ef->cu_bytes += CU_BASE_BYTES + ci->cap * sizeof(*ci->fns);
		if (dwarf_getsrclines(cu, &lines, &nlines) == 0)
			ef->cu_bytes += nlines * LINE_ROW_BYTES;
	}
	hi = ci->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ci->fns[mid].lo <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && pc < ci->fns[lo - 1].hi)
		*fn = &ci->fns[lo - 1].die;
	return 0;
}

/*
 * The inline chain, like eu-addr2line -i: the function scopes holding addr,
 * innermost first, up to the DW_TAG_subprogram. Frame 0 takes the line
 * table's position; each outer frame takes the call site recorded on the
 * inlined_subroutine it contains.
 */
static int elf_file__inline_frames(struct elf_file *ef, Dwarf_Addr addr, const char *src,
				   __u32 lineno, size_t *n)
{
	Dwarf_Die *cu, *prev = NULL;
	const Dwarf_Die *fn;
	Dwarf_Addr cu_bias, pc;
	size_t depth = 0;
	int err;

	cu = dwfl_module_addrdie(ef->mod, addr, &cu_bias);
	if (!cu)
		return 0;
	pc = addr - cu_bias;
	/* the CU's functions are indexed once; then only the function is walked */
	err = elf_file__cu_function(ef, cu, pc, &fn);
	if (err || !fn)
		return err;
	err = elf_file__push_scope(ef, &depth, fn);
	if (!err)
		err = elf_file__scope_path(ef, fn, pc, &depth, 1);
	if (err)
		return err;

	for (size_t i = depth; i > 0; i--) {
		Dwarf_Die *d = &ef->path[i - 1];
		struct elf_frame f = {};

		if (!is_function_scope(d))
			continue;
		f.name = die_function_name(d);
		f.start_line = die_decl_line(d);
		if (!prev) {
			f.file = src;
			f.line = lineno;
		} else {
			die_call_site(prev, &f.file, &f.line);
		}
		err = elf_file__push(ef, n, &f);
		if (err)
			return err;
		if (dwarf_tag(d) == DW_TAG_subprogram)
			break;
		prev = d;
	}
	return 0;
}

int elf_file__symbolize(struct elf_file *ef, __u64 vaddr, const struct elf_frame **frames,
			size_t *n)
{
	Dwarf_Addr addr = vaddr + ef->bias;
	const char *symname, *src = NULL;
	Dwfl_Line *line;
	__u32 lineno = 0;
	int l = 0, err;

	*n = 0;
	*frames = NULL;
	err = elf_file__load_symbols(ef);
	if (err)
		return err;
	symname = elf_file__symbol_at(ef, addr);
	line = elf_file__has_dwarf(ef) ? dwfl_module_getsrc(ef->mod, addr) : NULL;
	if (line) {
		src = dwfl_lineinfo(line, NULL, &l, NULL, NULL, NULL);
		if (l > 0)
			lineno = (__u32)l;
	}
	if (ef->has_dwarf > 0) {
		err = elf_file__inline_frames(ef, addr, src, lineno, n);
		if (err)
			return err;
	}
	if (*n) {
		/* a subprogram DIE without a name: the symbol table knows */
		if (!ef->frames[*n - 1].name)
			ef->frames[*n - 1].name = symname;
		for (size_t i = 0; i < *n; i++) {
			if (!ef->frames[i].name)
				ef->frames[i].name = "??";
		}
	} else if (symname || src) {
		struct elf_frame f = {
			.name = symname ? symname : "??",
			.file = src,
			.line = lineno,
		};

		err = elf_file__push(ef, n, &f);
		if (err)
			return err;
	}
	if (!*n)
		return -ENOENT;
	*frames = ef->frames;
	return 0;
}
