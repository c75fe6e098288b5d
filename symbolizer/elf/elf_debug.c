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
		ef->dwarf_bytes += bytes;
		if (ef->max_dwarf_bytes && ef->dwarf_bytes > ef->max_dwarf_bytes) {
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
