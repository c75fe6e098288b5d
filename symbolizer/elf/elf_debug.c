// SPDX-License-Identifier: Apache-2.0
/*
 * Where a file's debug information is: the separate debug file found by
 * build-id or .gnu_debuglink as libdwfl would (without its debuginfod
 * fallback), then debuginfod when configured; and how much heap its DWARF
 * would take, to refuse what is over the limit before libdw loads it.
 */
#include "elf_file_impl.h"

#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "safe_open.h"

/* The largest debug file copied for libdwfl (private_copy()); larger ones are not used. */
#define DEBUG_COPY_MAX (256u << 20)

/*
 * The decompressed size of a compressed section, from its header alone:
 * gelf_getchdr() and dwelf_scn_gnu_compressed_size() would read the whole
 * section into the heap first (the Elf reads the file, it does not map it).
 */
static size_t compressed_size(Elf *elf, const GElf_Shdr *sh, bool gnu)
{
	Elf_Data *d;

	if (gnu) {
		const unsigned char *b;
		size_t n = 0;

		/* "ZLIB" and the size, big-endian */
		d = elf_getdata_rawchunk(elf, (int64_t)sh->sh_offset, 12, ELF_T_BYTE);
		if (!d || d->d_size < 12 || memcmp(d->d_buf, "ZLIB", 4) != 0)
			return 0;
		b = (const unsigned char *)d->d_buf + 4;
		for (int i = 0; i < 8; i++)
			n = n << 8 | b[i];
		return n;
	}
	if (gelf_getclass(elf) == ELFCLASS32) {
		d = elf_getdata_rawchunk(elf, (int64_t)sh->sh_offset, sizeof(Elf32_Chdr), ELF_T_CHDR);
		return d && d->d_size == sizeof(Elf32_Chdr) ? ((Elf32_Chdr *)d->d_buf)->ch_size : 0;
	}
	d = elf_getdata_rawchunk(elf, (int64_t)sh->sh_offset, sizeof(Elf64_Chdr), ELF_T_CHDR);
	return d && d->d_size == sizeof(Elf64_Chdr) ? ((Elf64_Chdr *)d->d_buf)->ch_size : 0;
}

static bool last_byte_is_nul(Elf *elf, const GElf_Shdr *sh)
{
	Elf_Data *d;

	if (!sh->sh_size)
		return true;
	d = elf_getdata_rawchunk(elf, (int64_t)(sh->sh_offset + sh->sh_size - 1), 1, ELF_T_BYTE);
	return d && d->d_size == 1 && ((const char *)d->d_buf)[0] == '\0';
}

size_t elf_debug_heap_bytes(Elf *elf, bool *has_info, bool *has_symtab)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx, total = 0;

	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return 0;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		size_t n;

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
		/* libdw reads these with strlen(): one without its final NUL would overrun */
		if ((strcmp(name, ".debug_str") == 0 || strcmp(name, ".debug_line_str") == 0) &&
		    !(sh.sh_flags & SHF_COMPRESSED) && !last_byte_is_nul(elf, &sh))
			return DWARF_UNUSABLE;
		if (strncmp(name, ".debug_", 7) == 0 && (sh.sh_flags & SHF_COMPRESSED))
			n = compressed_size(elf, &sh, false);
		else if (strncmp(name, ".zdebug_", 8) == 0)
			n = compressed_size(elf, &sh, true);
		else
			continue;
		/* sizes a file claims: saturate rather than wrap */
		total = n > SIZE_MAX - total ? SIZE_MAX : total + n;
	}
	return total;
}

/* CRC-32 of the whole file, as .gnu_debuglink records it; false past DEBUG_COPY_MAX bytes. */
static bool file_crc32(int fd, GElf_Word *crc)
{
	unsigned char buf[65536];
	uLong c = crc32(0, Z_NULL, 0);
	off_t off = 0;
	ssize_t n;

	while (off <= (off_t)DEBUG_COPY_MAX && (n = pread(fd, buf, sizeof(buf), off)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return false;
		c = crc32(c, buf, (uInt)n);
		off += n;
	}
	*crc = (GElf_Word)c;
	return off <= (off_t)DEBUG_COPY_MAX;
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
		elf = elf_begin(fd, ELF_C_READ, NULL);
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

/* Where a debug-file search runs: a root, and the main file's path inside it. */
struct debug_search {
	struct elf_file *ef;
	Dwfl_Module *mod;
	int root_fd;
	const char *prefix; /* the root as a path, root_len bytes: reported names */
	size_t root_len;
	const char *name;   /* the debug file's name, a single component */
	GElf_Word crc;
};

/*
 * Opens dir/sub/name inside the search's root if it is the module's debug
 * file: a regular file (never a FIFO or device), not the main file itself,
 * whose build-id or CRC matches. Its name in *found.
 */
static int try_debug_file(const struct debug_search *s, const char *dir, const char *sub,
			  char **found)
{
	struct safe_open_opts opts = { .max_size = DEBUG_COPY_MAX };
	struct stat st;
	char *path;
	int fd;

	if (asprintf(&path, "%s%s/%s", dir, sub, s->name) < 0)
		return -ENOMEM;
	fd = safe_open__in_root(s->root_fd, path, &opts, &st);
	if (fd < 0) {
		free(path);
		return fd == -ENOMEM ? fd : -ENOENT;
	}
	if ((st.st_dev == s->ef->main_dev && st.st_ino == s->ef->main_ino) ||
	    !debug_file_matches(s->mod, fd, s->crc)) {
		close(fd);
		free(path);
		return -ENOENT;
	}
	if (asprintf(found, "%.*s%s", (int)s->root_len, s->prefix, path) < 0) {
		*found = NULL;
		close(fd);
		fd = -ENOMEM;
	}
	free(path);
	return fd;
}

/*
 * The .gnu_debuglink search libdwfl does (the file's directory, its .debug/
 * and each debug root + the file's directory, then + its shorter suffixes),
 * all inside the process's root (a container's debug files are its own), and
 * without libdwfl's last resort: asking debuginfod servers, which dlopen()s
 * libdebuginfod and libcurl into the process on every miss. The name is a
 * single path component, or nothing is searched.
 */
static int find_by_debuglink(struct elf_file *ef, Dwfl_Module *mod, const char *file_name,
			     const char *debuglink, GElf_Word crc, char **found)
{
	char *dir = NULL, *base_name = NULL, *roots = NULL, *save = NULL, *root_dir = NULL, *root;
	struct debug_search s = { .ef = ef, .mod = mod, .root_fd = -1, .crc = crc };
	const char *slash, *inner, *sub;
	int fd = -ENOENT;

	if (!file_name || strlen(file_name) < ef->root_len || (debuglink &&
							       !safe_open__is_component(debuglink)))
		return -ENOENT;
	inner = file_name + ef->root_len;
	if (inner[0] != '/')
		return -ENOENT;
	s.prefix = file_name;
	s.root_len = ef->root_len;
	root_dir = ef->root_len ? strndup(file_name, ef->root_len) : strdup("/");
	slash = strrchr(inner, '/');
	dir = strndup(inner, (size_t)(slash - inner));
	if (!root_dir || !dir) {
		fd = -ENOMEM;
		goto cleanup;
	}
	s.root_fd = open(root_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s.root_fd < 0)
		goto cleanup;
	s.name = debuglink;
	if (!s.name) {
		if (asprintf(&base_name, "%s.debug", slash + 1) < 0) {
			base_name = NULL;
			fd = -ENOMEM;
			goto cleanup;
		}
		s.name = base_name;
	}
	fd = try_debug_file(&s, dir, "", found);
	if (fd == -ENOENT)
		fd = try_debug_file(&s, dir, "/.debug", found);
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
		/*
		 * <root>/a/b/c, <root>/b/c, <root>/c, <root> for the file in /a/b/c; a file
		 * in / has dir "", which names <root> itself and has no tail to step along.
		 */
		for (sub = dir; sub; sub = *sub ? strchr(sub + 1, '/') : NULL) {
			fd = try_debug_file(&s, root, sub, found);
			if (fd != -ENOENT)
				goto cleanup;
		}
		if (dir[0]) {
			fd = try_debug_file(&s, root, "", found);
			if (fd != -ENOENT)
				goto cleanup;
		}
	}
cleanup:
	if (s.root_fd >= 0)
		close(s.root_fd);
	free(root_dir);
	free(roots);
	free(base_name);
	free(dir);
	return fd;
}

/*
 * libdwfl maps the debug file it is given, and the file's owner could
 * truncate it under the agent (SIGBUS): it gets a sealed copy in memory the
 * agent owns instead, of at most DEBUG_COPY_MAX bytes. Consumes fd.
 */
static int private_copy(struct elf_file *ef, int fd)
{
	int copy = -1, err = 0;
	struct stat st;
	off_t off = 0;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size > DEBUG_COPY_MAX)
		goto cleanup;
	copy = memfd_create("fornax-debug", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (copy < 0)
		goto cleanup;
	while (off < st.st_size) {
		ssize_t n = sendfile(copy, fd, &off, (size_t)(st.st_size - off));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = -1; /* shrunk, or unreadable */
			break;
		}
	}
	if (!err && fcntl(copy, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
					   F_SEAL_SEAL) == 0) {
		ef->copy_bytes += (size_t)st.st_size;
		close(fd);
		return copy;
	}
cleanup:
	if (copy >= 0)
		close(copy);
	close(fd);
	return -1;
}

/*
 * find_debuginfo callback: by build-id under each debug root, else by
 * .gnu_debuglink; then, before libdw decompresses anything, a look at the
 * section headers of what was found. DWARF over the limit is refused when
 * the main file has its own symbol table; otherwise the file is kept for
 * its .symtab and DWARF is simply never asked for.
 */
int elf_debug_find(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
		   const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
		   char **debuginfo_file_name)
{
	struct elf_file *ef = *userdata;
	bool has_info = false, has_symtab = false;
	size_t bytes = 0;
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
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (elf) {
		bytes = elf_debug_heap_bytes(elf, &has_info, &has_symtab);
		elf_end(elf);
	}
	if (has_info) {
		ef->dwarf_bytes = bytes > SIZE_MAX - ef->dwarf_bytes ? SIZE_MAX : ef->dwarf_bytes + bytes;
		if (bytes == DWARF_UNUSABLE ||
		    (ef->max_dwarf_bytes && ef->dwarf_bytes > ef->max_dwarf_bytes)) {
			ef->dwarf_too_big = true;
			if (ef->main_has_symtab) {
				close(fd);
				goto refuse;
			}
		}
	}
	fd = private_copy(ef, fd);
	if (fd >= 0)
		return fd;
refuse:
	free(*debuginfo_file_name);
	*debuginfo_file_name = NULL;
	errno = ENOENT;
	return -1;
}
