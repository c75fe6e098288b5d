/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One ELF file (executable, shared library, vdso image) and its debug
 * information, through one libdwfl session per file, shared by every
 * process that maps the file. Addresses here are ELF virtual addresses
 * (st_value / DW_AT_low_pc space): the caller converts a runtime address
 * with elf_segments__to_vaddr() first.
 *
 * Debug files are searched where libdwfl would look, but by our own lookup
 * (elf_debug.c, through safe_open, inside the process's root): by build-id
 * under <dir>/.build-id/xx/yyyy.debug for each absolute debug dir, then by
 * the .gnu_debuglink name next to the file, in its .debug/ subdirectory and
 * under each debug dir, then by build-id under the agent's own debug dirs.
 * dwz's shared file (.gnu_debugaltlink) is found the same way. MiniDebugInfo
 * (.gnu_debugdata) is read when there is no .symtab.
 */
#ifndef FORNAX_SYMBOLIZER_ELF_FILE_H
#define FORNAX_SYMBOLIZER_ELF_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <gelf.h>
#include <linux/types.h>

struct elf_file;

/* A PT_LOAD program header. */
struct elf_segment {
	__u64 offset;
	__u64 vaddr;
	__u64 filesz;
	__u64 memsz;
	__u32 flags; /* PF_X, PF_W, PF_R */
};

/* One frame; strings are owned by the elf_file. */
struct elf_frame {
	const char *name; /* as in the symbol table / DW_AT_linkage_name: mangled */
	const char *file; /* NULL if unknown */
	__u32 line;       /* 0 if unknown */
	__u32 start_line; /* DW_AT_decl_line of the function, 0 if unknown */
};

struct elf_file_opts {
	const char *debug_dirs; /* ':'-separated debug roots; NULL: "/usr/lib/debug" */
	/*
	 * libdw decompresses all compressed debug sections into the heap when
	 * it loads DWARF (a Debian libc6-dbg file: about 10 MiB). DWARF that
	 * would take more than this is not loaded: names then come from the
	 * symbol table alone. 0: no limit.
	 */
	size_t max_dwarf_bytes;
	/*
	 * Last resort when no local debug file is found: fetch one by build-id
	 * (debuginfod). Returns an fd and sets *path, or -errno. NULL: none.
	 */
	int (*fetch_debuginfo)(void *ctx, const unsigned char *build_id, size_t len, char **path);
	void *fetch_ctx;
	/*
	 * The first root_len bytes of elf_file__open()'s path name the root
	 * the rest is resolved in (a process's /proc/PID/root): debug files
	 * are looked for inside it, never through a symlink out of it.
	 * 0: the agent's own root.
	 */
	size_t root_len;
	/*
	 * A directory of the agent's own on a disk filesystem: debug files are
	 * copied there (unlinked) with their compressed sections inflated, so
	 * libdw maps the DWARF rather than inflating it into the heap. NULL, or
	 * unusable: copies in memory, inflated by libdw.
	 */
	const char *scratch_dir;
};

/*
 * Opens the ELF file behind fd, which is always consumed (closed on
 * failure). path names the file as seen by its process (for example
 * "/proc/PID/root/usr/lib/libc.so.6"); it is where a .gnu_debuglink file is
 * looked for. opts may be NULL. NULL with errno set: EINVAL, ENOMEM,
 * ENOEXEC (not an ELF file libdwfl accepts).
 */
struct elf_file *elf_file__open(int fd, const char *path, const struct elf_file_opts *opts);
void elf_file__free(struct elf_file *ef);

/* Lower-case hex GNU build-id, NULL if the file has none. */
const char *elf_file__build_id(const struct elf_file *ef);
const struct elf_segment *elf_file__segments(const struct elf_file *ef, size_t *n);

/*
 * Frames for vaddr, innermost (inlined) first, the containing function
 * last; valid until the next call or elf_file__free(). 0, -ENOENT if
 * nothing is known about vaddr, -ENOMEM.
 */
int elf_file__symbolize(struct elf_file *ef, __u64 vaddr, const struct elf_frame **frames,
			size_t *n);

/* What the file offers; the first call may load symbol tables / DWARF. */
bool elf_file__has_symbols(struct elf_file *ef);
bool elf_file__has_dwarf(struct elf_file *ef);
/* DWARF exists but was left unloaded because of opts.max_dwarf_bytes. */
bool elf_file__dwarf_skipped(const struct elf_file *ef);
/*
 * Gives the pages of the mapped separate debug file that lookups read
 * since the last call back to the page cache: they were the agent's RSS.
 */
void elf_file__release_pages(struct elf_file *ef);
/*
 * Estimated heap held: the symbol index, decompressed debug sections and
 * per-CU state (line tables, function ranges) of the CUs used so far.
 */
size_t elf_file__memory(const struct elf_file *ef);

/*
 * The PT_LOAD segments of elf, malloc'ed in *segs. 0, -ENOEXEC (none, or no
 * program headers), -ENOMEM.
 */
int elf_segments__read(Elf *elf, struct elf_segment **segs, size_t *n);

/*
 * Converts a file offset (runtime address - mapping start + mapping offset)
 * to an ELF virtual address through the PT_LOAD segment holding it,
 * preferring executable segments. 0 or -ENOENT.
 */
int elf_segments__to_vaddr(const struct elf_segment *segs, size_t n, __u64 file_off,
			   __u64 *vaddr);

#endif /* FORNAX_SYMBOLIZER_ELF_FILE_H */
