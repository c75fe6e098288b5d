// SPDX-License-Identifier: Apache-2.0
/*
 * One libdwfl session per ELF file: open, PT_LOAD segments, build-id, the
 * address-sorted symbol index, and symbolize(), which asks the DWARF inline
 * chains (elf_inline.c) and the debug-file search (elf_debug.c) behind it.
 */
#include "elf_file_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hex.h"

#define DEFAULT_DEBUG_DIRS "/usr/lib/debug"
#define SIZELESS_MAX 4096 /* how far past a symbol without st_size we still attribute */
#define OVERLAP_SCAN 8    /* earlier symbols checked when the nearest one is too short */
/* heap estimate of a loaded DWARF's base (CU list, aranges) */
#define DWARF_BASE_BYTES (128u << 10)

int elf_segments__read(Elf *elf, struct elf_segment **out, size_t *n_out)
{
	struct elf_segment *segs;
	size_t phnum = 0, n = 0;

	if (elf_getphdrnum(elf, &phnum) != 0)
		return -ENOEXEC;
	segs = calloc(phnum ? phnum : 1, sizeof(*segs));
	if (!segs)
		return -ENOMEM;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr mem, *ph = gelf_getphdr(elf, (int)i, &mem);

		if (!ph || ph->p_type != PT_LOAD)
			continue;
		segs[n++] = (struct elf_segment){
			.offset = ph->p_offset,
			.vaddr = ph->p_vaddr,
			.filesz = ph->p_filesz,
			.memsz = ph->p_memsz,
			.flags = ph->p_flags,
		};
	}
	if (!n) {
		free(segs);
		return -ENOEXEC;
	}
	*out = segs;
	*n_out = n;
	return 0;
}

/*
 * libdwfl's find_elf callback: hands over the Elf that elf_file__open() made
 * and the fd it reads (libdwfl frees both). Given an fd instead, libdwfl
 * would map the file, and its owner could truncate it under the agent:
 * SIGBUS on the next symbol read.
 */
static int elf_file__find_elf(Dwfl_Module *mod, void **userdata, const char *modname,
			      Dwarf_Addr base, char **file_name, Elf **elfp)
{
	struct elf_file *ef = *userdata;
	int fd;

	(void)mod;
	(void)modname;
	(void)base;
	if (!ef || !ef->pending_elf) {
		errno = ENOENT;
		return -1;
	}
	*file_name = ef->file_path ? strdup(ef->file_path) : NULL;
	*elfp = ef->pending_elf;
	fd = ef->pending_fd;
	ef->pending_elf = NULL;
	ef->pending_fd = -1;
	return fd;
}

/* Module address range of the file: its PT_LOAD segments, the first aligned down. */
static int elf_file__range(Elf *elf, Dwarf_Addr *lo, Dwarf_Addr *hi)
{
	size_t phnum = 0;
	bool first = true;

	if (elf_getphdrnum(elf, &phnum) != 0)
		return -ENOEXEC;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr mem, *ph = gelf_getphdr(elf, (int)i, &mem);

		if (!ph || ph->p_type != PT_LOAD)
			continue;
		if (first) {
			/* as libdwfl computes the bias: against the first PT_LOAD, aligned */
			*lo = ph->p_align ? ph->p_vaddr & -ph->p_align : ph->p_vaddr;
			*hi = *lo;
			first = false;
		}
		if (ph->p_vaddr + ph->p_memsz > *hi)
			*hi = ph->p_vaddr + ph->p_memsz;
	}
	return first || *hi <= *lo ? -ENOEXEC : 0;
}

/*
 * Reports the file to the session as one module. The Elf reads the file
 * with pread() into buffers libelf owns (ELF_C_READ): a truncation fails
 * a read, it cannot fault.
 */
static int elf_file__report(struct elf_file *ef, int fd)
{
	Dwarf_Addr lo = 0, hi = 0;
	void **userdata;

	ef->pending_elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!ef->pending_elf || elf_kind(ef->pending_elf) != ELF_K_ELF ||
	    elf_file__range(ef->pending_elf, &lo, &hi))
		return -ENOEXEC;
	ef->pending_fd = fd;
	dwfl_report_begin(ef->dwfl);
	ef->mod = dwfl_report_module(ef->dwfl, "elf", lo, hi);
	/* libdwfl's error codes are private; out of memory shows up elsewhere */
	if (!ef->mod || dwfl_report_end(ef->dwfl, NULL, NULL) != 0)
		return -ENOEXEC;
	/* find_elf() and find_debuginfo() get ef through the module's user data */
	if (dwfl_module_info(ef->mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL))
		*userdata = ef;
	return 0;
}

struct elf_file *elf_file__open(int fd, const char *path, const struct elf_file_opts *opts)
{
	bool has_info = false, has_symtab = false;
	const char *debug_dirs = opts ? opts->debug_dirs : NULL;
	struct elf_file *ef = NULL;
	const unsigned char *bits;
	GElf_Addr bid_vaddr;
	struct stat st;
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
	ef->pending_fd = -1;
	ef->plt_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	ef->alt_fd = -1;
	ef->has_symbols = -1;
	ef->has_dwarf = -1;
	ef->max_dwarf_bytes = opts ? opts->max_dwarf_bytes : 0;
	ef->fetch_debuginfo = opts ? opts->fetch_debuginfo : NULL;
	ef->fetch_ctx = opts ? opts->fetch_ctx : NULL;
	ef->root_len = opts ? opts->root_len : 0;
	if (opts && opts->scratch_dir && !(ef->scratch_dir = strdup(opts->scratch_dir))) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (fstat(fd, &st) == 0) {
		ef->main_dev = st.st_dev;
		ef->main_ino = st.st_ino;
	}
	/* "" first: the file's own directory, then .debug/, then the roots */
	/* libdwfl reads the roots from it for .build-id/ lookups */
	ef->debug_dirs = strdup(debug_dirs ? debug_dirs : DEFAULT_DEBUG_DIRS);
	ef->file_path = strdup(path ? path : "");
	if (!ef->debug_dirs || !ef->file_path ||
	    asprintf(&ef->debuginfo_path, ":.debug:%s", ef->debug_dirs) < 0) {
		ef->debuginfo_path = NULL;
		err = -ENOMEM;
		goto cleanup;
	}
	ef->callbacks.find_elf = elf_file__find_elf;
	ef->callbacks.find_debuginfo = elf_debug_find;
	ef->callbacks.section_address = dwfl_offline_section_address;
	ef->callbacks.debuginfo_path = &ef->debuginfo_path;
	ef->dwfl = dwfl_begin(&ef->callbacks);
	if (!ef->dwfl) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = elf_file__report(ef, fd);
	if (ef->pending_fd >= 0)
		fd = -1; /* the pending Elf's now, then the session's */
	if (err)
		goto cleanup;
	elf = dwfl_module_getelf(ef->mod, &ef->bias);
	if (!elf) {
		err = -ENOEXEC;
		goto cleanup;
	}
	bytes = elf_debug_heap_bytes(elf, &has_info, &has_symtab);
	ef->main_has_symtab = has_symtab;
	if (has_info) {
		/* DWARF in the file itself */
		ef->dwarf_bytes = bytes;
		ef->dwarf_too_big = bytes == DWARF_UNUSABLE ||
				    (ef->max_dwarf_bytes && bytes > ef->max_dwarf_bytes);
	}
	err = elf_segments__read(elf, &ef->segs, &ef->n_segs);
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
	/* after the session: its Dwarf refers to them, and does not own them */
	dwarf_end(ef->alt_dwarf);
	elf_end(ef->alt_elf);
	if (ef->alt_fd >= 0)
		close(ef->alt_fd);
	free(ef->debug_name);
	/* never handed to the session */
	elf_end(ef->pending_elf);
	if (ef->pending_fd >= 0)
		close(ef->pending_fd);
	if (ef->plt_fd >= 0)
		close(ef->plt_fd);
	free(ef->file_path);
	free(ef->debuginfo_path);
	free(ef->debug_dirs);
	free(ef->scratch_dir);
	free(ef->build_id);
	free(ef->segs);
	free(ef->frames);
	free(ef->syms);
	free(ef->plt);
	strtab__clear(&ef->plt_names);
	free(ef->path);
	elf_file__free_cu_index(ef);
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

/* Is section shndx of elf (the file holding the symbol table) executable code? */
static bool in_code_section(Elf *elf, GElf_Word shndx)
{
	Elf_Scn *scn = elf ? elf_getscn(elf, shndx) : NULL;
	GElf_Shdr shdr;

	return scn && gelf_getshdr(scn, &shdr) && (shdr.sh_flags & SHF_EXECINSTR);
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
		const char *name;
		GElf_Addr addr;
		GElf_Word shndx;
		GElf_Sym sym;
		Elf *elf = NULL;
		int type;

		name = dwfl_module_getsym_info(ef->mod, i, &sym, &addr, &shndx, &elf, NULL);
		if (!name)
			continue;
		type = GELF_ST_TYPE(sym.st_info);
		if (sym.st_shndx == SHN_UNDEF || shndx == (GElf_Word)-1 || !addr)
			continue;
		/*
		 * Assembly labels such as ld.so's _start and _dl_start_user have no
		 * type and no size: perf names code up to the next symbol after
		 * them, and so does this (elf_file__symbol_at()).
		 */
		if (type != STT_FUNC && type != STT_GNU_IFUNC &&
		    !(type == STT_NOTYPE && name[0] && in_code_section(elf, shndx)))
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
	return elf_plt__load(ef);
}

const char *elf_file__symbol_at(struct elf_file *ef, Dwarf_Addr addr)
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
	Dwarf *dw;

	if (ef->has_dwarf < 0) {
		/* the symbol table first: its search may find DWARF too big */
		if (elf_file__load_symbols(ef) != 0)
			return false;
		dw = ef->dwarf_too_big ? NULL : dwfl_module_getdwarf(ef->mod, &bias);
		/* without the dwz file it needs, DWARF is not used (elf_debug_load_alt()) */
		ef->has_dwarf = dw && elf_debug_load_alt(ef, dw) == 0 && !ef->dwarf_too_big;
		if (ef->has_dwarf)
			elf_debug_intern_units(ef, dw);
	}
	return ef->has_dwarf;
}

bool elf_file__dwarf_skipped(const struct elf_file *ef)
{
	return ef->dwarf_too_big;
}

void elf_file__release_pages(struct elf_file *ef)
{
	if (ef)
		elf_debug_release_pages(ef);
}

size_t elf_file__memory(const struct elf_file *ef)
{
	size_t bytes = sizeof(*ef) + ef->n_syms * sizeof(*ef->syms) + ef->copy_bytes +
		       ef->n_plt * sizeof(*ef->plt) + ef->plt_names.bytes;
	/* sections mapped from an inflated copy on disk are page cache, not heap */
	size_t heap_sections = ef->dwarf_bytes > ef->inflated_bytes ?
				       ef->dwarf_bytes - ef->inflated_bytes : 0;

	/*
	 * Measured on a Debian libc6-dbg file: heap growth matched this within
	 * 20% from 10 to 2600 lookups (the CU list and aranges are the base).
	 */
	if (ef->has_dwarf > 0)
		bytes += DWARF_BASE_BYTES + heap_sections + ef->dwarf_bytes / 4 + ef->cu_bytes;
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
	ef->debug_pages_used = true;
	err = elf_file__load_symbols(ef);
	if (err)
		return err;
	symname = elf_plt__name(ef, addr) ?: elf_file__symbol_at(ef, addr);
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
