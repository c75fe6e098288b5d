/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside elf_file: the session (elf_file.c: open, segments, symbols), the
 * debug-file search libdwfl calls back into (elf_debug.c) and the DWARF
 * inline chains (elf_inline.c). Not for other modules.
 */
#ifndef FORNAX_SYMBOLIZER_ELF_FILE_IMPL_H
#define FORNAX_SYMBOLIZER_ELF_FILE_IMPL_H

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <sys/types.h>

#include "elf_file.h"
#include "hashmap.h"
#include "strtab.h"

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

/* A PLT stub and the function it jumps to (elf_plt.c). */
struct plt_ent {
	__u64 addr; /* module address */
	__u32 size;
	const char *name; /* in elf_file.plt_names */
};

struct elf_file {
	/* libdwfl keeps pointers to both for the session's lifetime */
	Dwfl_Callbacks callbacks;
	char *debuginfo_path;
	Dwfl *dwfl;
	Dwfl_Module *mod;
	char *file_path;   /* as elf_file__open() was given it */
	Elf *pending_elf;  /* the file, until find_elf hands it to the session */
	int pending_fd;
	size_t root_len;   /* elf_file_opts.root_len */
	dev_t main_dev;    /* the file itself, never its own debug file */
	ino_t main_ino;
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
	/*
	 * The file again, for the PLT scan's own Elf: what that reads (a big
	 * library's .rela.dyn: 8 MB for libLLVM) is freed with it, where the
	 * session's Elf would keep it. Closed after the scan; -1 then.
	 */
	int plt_fd;
	/* PLT stubs by address, loaded with the symbols */
	struct plt_ent *plt;
	size_t n_plt, plt_cap;
	struct strtab plt_names;
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
	size_t copy_bytes;    /* the debug file's private copy in memory (elf_debug.c) */
	size_t inflated_bytes; /* of dwarf_bytes, mapped from an inflated copy on disk */
	char *scratch_dir;    /* elf_file_opts.scratch_dir */
	bool main_has_symtab;
	bool dwarf_too_big;   /* never load DWARF */
	bool debug_found;     /* the separate debug file was found */
	char *debug_name;     /* its name, as found */
	/* The copy of it libdwfl maps (elf_debug_release_pages()). */
	dev_t debug_dev;
	ino_t debug_ino;
	bool debug_copy_known; /* debug_dev and debug_ino are set */
	bool debug_map_looked; /* debug_map was looked for in /proc/self/maps */
	bool debug_pages_used; /* lookups read it since the last release */
	void *debug_map;
	size_t debug_map_len;
	/* dwz's alternate file of the DWARF (elf_debug_load_alt()), the session's libdw uses it */
	Dwarf *alt_dwarf;
	Elf *alt_elf;
	int alt_fd;
	char *debug_dirs;
	int (*fetch_debuginfo)(void *ctx, const unsigned char *build_id, size_t len, char **path);
	void *fetch_ctx;
};

/* elf_file.c: the function symbol covering module address addr, or NULL. */
const char *elf_file__symbol_at(struct elf_file *ef, Dwarf_Addr addr);

/* elf_plt.c */

/* Names ef's PLT stubs (after its symbols are loaded). 0 or -ENOMEM. */
int elf_plt__load(struct elf_file *ef);
/* The name of the PLT stub at module address addr, or NULL. */
const char *elf_plt__name(const struct elf_file *ef, __u64 addr);

/* elf_debug.c */

/*
 * Heap libdw would use for the debug sections of elf: compressed ones are
 * decompressed into malloc'd buffers, the others read into them (the file
 * is read with ELF_C_READ, never mapped). Also says whether elf has DWARF (.debug_info) and
 * a .symtab. DWARF_UNUSABLE when libdw must not load it.
 */
size_t elf_debug_heap_bytes(Elf *elf, bool *has_info, bool *has_symtab);
/* elf_debug_heap_bytes() of DWARF that libdw must not load (a string section without its NUL) */
#define DWARF_UNUSABLE SIZE_MAX

/* libdwfl's find_debuginfo callback; *userdata is the elf_file. */
int elf_debug_find(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
		   const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
		   char **debuginfo_file_name);

/*
 * When dw refers to dwz's alternate file (.gnu_debugaltlink), finds it
 * (safely, as debug files are) and gives it to dw. 0 when dw needs none or
 * has it now; -errno when it needs one that is not found or is refused:
 * the DWARF must not be used then, or libdw would look for the file itself.
 */
int elf_debug_load_alt(struct elf_file *ef, Dwarf *dw);
/* libdw's list of units, built once in steps with the pages read given back in between. */
void elf_debug_intern_units(struct elf_file *ef, Dwarf *dw);
/* Gives back the pages of the mapped debug file read since the last call. */
void elf_debug_release_pages(struct elf_file *ef);

/* elf_inline.c */

/* Appends f to ef->frames. 0 or -ENOMEM. */
int elf_file__push(struct elf_file *ef, size_t *n, const struct elf_frame *f);

/*
 * The inline chain at module address addr, innermost first, appended to
 * ef->frames (*n of them). 0 or -ENOMEM.
 */
int elf_file__inline_frames(struct elf_file *ef, Dwarf_Addr addr, const char *src, __u32 lineno,
			    size_t *n);

/* Frees the per-CU function indexes. */
void elf_file__free_cu_index(struct elf_file *ef);

#endif /* FORNAX_SYMBOLIZER_ELF_FILE_IMPL_H */
