// SPDX-License-Identifier: Apache-2.0
/*
 * Where a file's debug information is: the separate debug file found by
 * build-id or .gnu_debuglink where libdwfl would look, and dwz's shared
 * file, but through safe_open inside the process's root (libdwfl's and
 * libdw's own lookups open() whatever they find: a FIFO blocks, a terminal
 * becomes the agent's), then debuginfod when configured; and how much heap
 * their DWARF would take, to refuse what is over the limit before libdw
 * loads it.
 */
#include "elf_file_impl.h"

#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "elf_inflate.h"
#include "fileio.h"
#include "hex.h"
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
		else if (strncmp(name, ".debug_", 7) == 0)
			n = sh.sh_size; /* read into the heap too (ELF_C_READ), not mapped */
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

/* Where a debug-file search runs: a root, the main file's path inside it, what to match. */
struct debug_search {
	struct elf_file *ef;
	int root_fd;
	const char *prefix; /* the root as a path, root_len bytes: reported names */
	size_t root_len;
	char *dir;          /* the main file's directory inside the root ("" for /) */
	const char *name;   /* the debug file's name, a single component */
	const char *id_dir; /* "/.build-id/xx" of a build-id search */
	const unsigned char *id; /* the build-id the file must have; none: the CRC */
	size_t id_len;
	GElf_Word crc;
};

/* Is fd the file the search is for: its build-id, else the .gnu_debuglink CRC of the whole file? */
static bool debug_file_matches(const struct debug_search *s, int fd)
{
	const unsigned char *have;
	GElf_Word have_crc;
	int have_len;
	bool ok;
	Elf *elf;

	if (s->id_len) {
		elf = elf_begin(fd, ELF_C_READ, NULL);
		if (!elf)
			return false;
		have_len = dwelf_elf_gnu_build_id(elf, (const void **)&have);
		ok = have_len > 0 && (size_t)have_len == s->id_len && memcmp(have, s->id, s->id_len) == 0;
		elf_end(elf);
		return ok;
	}
	return file_crc32(fd, &have_crc) && have_crc == s->crc;
}

/*
 * Opens dir/sub/name inside the search's root if it is the file searched
 * for: a regular file (never a FIFO or device), not the main file itself,
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
	    !debug_file_matches(s, fd)) {
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
 * Starts a search for the file file_name (the root's path, then the path
 * inside it): opens the root, the process's own (a container's debug files
 * are its own). -ENOENT or -ENOMEM; search_end() either way.
 */
static int search_begin(struct debug_search *s, struct elf_file *ef, const char *file_name)
{
	char *root_dir;
	const char *inner;

	*s = (struct debug_search){ .ef = ef, .root_fd = -1 };
	if (!file_name || strlen(file_name) < ef->root_len)
		return -ENOENT;
	inner = file_name + ef->root_len;
	if (inner[0] != '/')
		return -ENOENT;
	s->prefix = file_name;
	s->root_len = ef->root_len;
	s->dir = strndup(inner, (size_t)(strrchr(inner, '/') - inner));
	root_dir = ef->root_len ? strndup(file_name, ef->root_len) : strdup("/");
	if (!s->dir || !root_dir) {
		free(root_dir);
		return -ENOMEM;
	}
	s->root_fd = open(root_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	free(root_dir);
	return s->root_fd < 0 ? -ENOENT : 0;
}

static void search_end(struct debug_search *s)
{
	if (s->root_fd >= 0)
		close(s->root_fd);
	free(s->dir);
}

/* Where a file is looked for under one debug root (an absolute directory). */
typedef int (*root_try_fn)(const struct debug_search *s, const char *root, char **found);

/* try under each debug root in turn, until one gives other than -ENOENT. */
static int each_debug_root(const struct debug_search *s, root_try_fn try, char **found)
{
	char *roots = strdup(s->ef->debug_dirs), *save = NULL, *root;
	int fd = -ENOENT;

	if (!roots)
		return -ENOMEM;
	for (root = strtok_r(roots, ":", &save); root && fd == -ENOENT;
	     root = strtok_r(NULL, ":", &save))
		if (root[0] == '/')
			fd = try(s, root, found);
	free(roots);
	return fd;
}

static int try_build_id(const struct debug_search *s, const char *root, char **found)
{
	return try_debug_file(s, root, s->id_dir, found);
}

/*
 * <root>/.build-id/xx/yyyy.debug under each debug root, inside the search's
 * root: what libdwfl's own lookup does, but through safe_open and with the
 * build-id checked.
 */
static int find_by_build_id(struct debug_search *s, char **found)
{
	char id_dir[sizeof("/.build-id/xx")], *name;
	int fd;

	/* libdwfl's bound: shorter ones are not build-ids, longer ones no hash makes */
	if (s->id_len < 3 || s->id_len > 64)
		return -ENOENT;
	name = malloc(2 * (s->id_len - 1) + sizeof(".debug"));
	if (!name)
		return -ENOMEM;
	hex_encode(s->id + 1, s->id_len - 1, name);
	memcpy(name + 2 * (s->id_len - 1), ".debug", sizeof(".debug"));
	snprintf(id_dir, sizeof(id_dir), "/.build-id/%02x", s->id[0]);
	s->name = name;
	s->id_dir = id_dir;
	fd = each_debug_root(s, try_build_id, found);
	s->name = NULL;
	s->id_dir = NULL;
	free(name);
	return fd;
}

/*
 * The same under the agent's own debug roots, for a process in another
 * root: files installed or mounted on the host for containers' binaries,
 * as libdwfl's lookup found them; the build-id makes sure of the file.
 */
static int find_by_build_id_on_host(const struct debug_search *s, char **found)
{
	struct debug_search host = *s;
	struct stat own, theirs;
	int fd = -ENOENT;

	host.root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (host.root_fd < 0)
		return -ENOENT;
	host.prefix = "";
	host.root_len = 0;
	/* also when the process's root is gone with the process */
	if (s->root_fd < 0 || (fstat(host.root_fd, &own) == 0 && fstat(s->root_fd, &theirs) == 0 &&
			       (own.st_dev != theirs.st_dev || own.st_ino != theirs.st_ino)))
		fd = find_by_build_id(&host, found);
	close(host.root_fd);
	return fd;
}

/*
 * <root>/a/b/c, <root>/b/c, <root>/c, <root> for the file in /a/b/c; a file
 * in / has dir "", which names <root> itself and has no tail to step along.
 */
static int try_debuglink_under(const struct debug_search *s, const char *root, char **found)
{
	const char *sub;
	int fd = -ENOENT;

	for (sub = s->dir; sub && fd == -ENOENT; sub = *sub ? strchr(sub + 1, '/') : NULL)
		fd = try_debug_file(s, root, sub, found);
	if (fd == -ENOENT && s->dir[0])
		fd = try_debug_file(s, root, "", found);
	return fd;
}

/*
 * The .gnu_debuglink search libdwfl does (the file's directory, its .debug/
 * and each debug root + the file's directory, then + its shorter suffixes),
 * and without libdwfl's last resort: asking debuginfod servers, which
 * dlopen()s libdebuginfod and libcurl into the process on every miss. The
 * name is a single path component, or nothing is searched.
 */
static int find_by_debuglink(struct debug_search *s, const char *file_name,
			     const char *debuglink, char **found)
{
	char *base_name = NULL;
	int fd;

	if (debuglink && !safe_open__is_component(debuglink))
		return -ENOENT;
	s->name = debuglink;
	if (!s->name) {
		if (asprintf(&base_name, "%s.debug", strrchr(file_name, '/') + 1) < 0)
			return -ENOMEM;
		s->name = base_name;
	}
	fd = try_debug_file(s, s->dir, "", found);
	if (fd == -ENOENT)
		fd = try_debug_file(s, s->dir, "/.debug", found);
	if (fd == -ENOENT)
		fd = each_debug_root(s, try_debuglink_under, found);
	s->name = NULL;
	free(base_name);
	return fd;
}

/*
 * The module's separate debug file: by build-id under each debug root, else
 * by .gnu_debuglink (with no build-id, checked by its CRC).
 */
static int find_debug_file(struct elf_file *ef, Dwfl_Module *mod, const char *file_name,
			   const char *debuglink, GElf_Word crc, char **found)
{
	struct debug_search s;
	const unsigned char *id;
	GElf_Addr vaddr;
	int len, fd;

	fd = search_begin(&s, ef, file_name);
	len = dwfl_module_build_id(mod, &id, &vaddr);
	s.id = len > 0 ? id : NULL;
	s.id_len = len > 0 ? (size_t)len : 0;
	s.crc = crc;
	if (!fd) {
		fd = find_by_build_id(&s, found);
		if (fd == -ENOENT)
			fd = find_by_debuglink(&s, file_name, debuglink, found);
	}
	if (fd == -ENOENT)
		fd = find_by_build_id_on_host(&s, found);
	search_end(&s);
	return fd;
}

/*
 * The copy with its sections inflated, in the scratch directory, or -1:
 * then libdw inflates them into the heap.
 */
static int inflated_copy(struct elf_file *ef, int fd)
{
	__u64 max = ef->max_dwarf_bytes ? ef->max_dwarf_bytes : DEBUG_COPY_MAX, inflated;
	int dir, copy = -1;

	if (!ef->scratch_dir)
		return -1;
	dir = open(ef->scratch_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0 && errno == ENOENT && mkdir_p(ef->scratch_dir, 0700) == 0)
		dir = open(ef->scratch_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return -1;
	if (elf_inflate__useful_dir(dir))
		copy = elf_inflate__copy(fd, dir, max, &inflated);
	close(dir);
	if (copy < 0)
		return -1;
	ef->inflated_bytes += inflated;
	return copy;
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
	copy = inflated_copy(ef, fd);
	if (copy >= 0) {
		close(fd);
		return copy;
	}
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
 * Counts the DWARF of a debug file (fd) against the limit before libdw
 * decompresses anything: a look at its section headers. Over the limit,
 * the file is refused when the main file has its own symbol table (and
 * DWARF is never loaded); else it is kept for its .symtab. Returns the
 * file's private copy, or -1 (fd consumed either way).
 */
static int admit_debug_file(struct elf_file *ef, int fd)
{
	bool has_info = false, has_symtab = false;
	size_t bytes = 0;
	Elf *elf;

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
				return -1;
			}
		}
	}
	return private_copy(ef, fd);
}

/*
 * libdwfl asks the find_debuginfo callback for dwz's alternate file too,
 * once DWARF is loaded, with the .gnu_debugaltlink name as debuglink and a
 * CRC of 0; elf_debug_load_alt() finds that file instead. For the module's
 * own debug file libdwfl passes the main file's .gnu_debuglink (or NULL).
 */
static bool is_altlink_request(Dwfl_Module *mod, const char *debuglink, GElf_Word crc)
{
	const char *own;
	GElf_Word own_crc = 0;
	GElf_Addr bias;
	Elf *main_elf;

	if (!debuglink)
		return false;
	main_elf = dwfl_module_getelf(mod, &bias);
	own = main_elf ? dwelf_elf_gnu_debuglink(main_elf, &own_crc) : NULL;
	return !own || strcmp(own, debuglink) != 0 || own_crc != crc;
}

/*
 * find_debuginfo callback: by build-id under each debug root, else by
 * .gnu_debuglink, all inside the process's root and through safe_open;
 * then debuginfod when configured; then admit_debug_file(). Nothing here is
 * left to libdwfl's own lookup, which opens paths with a plain open().
 */
int elf_debug_find(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
		   const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
		   char **debuginfo_file_name)
{
	struct elf_file *ef = *userdata;
	int fd;

	(void)modname;
	(void)base;
	if (!ef || ef->debug_found || is_altlink_request(mod, debuglink_file, debuglink_crc)) {
		errno = ENOENT;
		return -1;
	}
	fd = find_debug_file(ef, mod, file_name, debuglink_file, debuglink_crc,
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
	ef->debug_found = true;
	fd = admit_debug_file(ef, fd);
	if (fd >= 0) {
		struct stat st;

		if (fstat(fd, &st) == 0) {
			ef->debug_dev = st.st_dev;
			ef->debug_ino = st.st_ino;
			ef->debug_copy_known = true;
		}
		free(ef->debug_name);
		ef->debug_name = strdup(*debuginfo_file_name);
		return fd;
	}
	free(*debuginfo_file_name);
	*debuginfo_file_name = NULL;
	errno = ENOENT;
	return -1;
}

/*
 * The .gnu_debugaltlink file (altname) inside the search's root: as given
 * when absolute, else next to the file whose DWARF names it (base, a path
 * inside the root).
 */
static int find_by_altname(struct debug_search *s, const char *base, const char *altname,
			   char **found)
{
	char *path, *slash;
	int fd;

	if (altname[0] == '/')
		path = strdup(altname);
	else if (asprintf(&path, "%.*s/%s", (int)(strrchr(base, '/') - base), base, altname) < 0)
		path = NULL;
	if (!path)
		return -ENOMEM;
	slash = strrchr(path, '/');
	*slash = '\0';
	s->name = slash + 1;
	fd = try_debug_file(s, path, "", found);
	s->name = NULL;
	free(path);
	return fd;
}

/*
 * dwz's alternate file for dw, which holds the strings and DIEs several
 * debug files share: by its build-id under each debug root, then by its
 * .gnu_debugaltlink name, inside the process's root and through safe_open,
 * checked by build-id; then debuginfod. Without it, libdw would look for
 * the file itself, with plain open()s of the host's /usr/lib/debug and of
 * whatever path the name gives, the first time DWARF refers to it.
 */
static int find_alt_file(struct elf_file *ef, const char *altname, const void *id, size_t len,
			 char **found)
{
	const char *base;
	struct debug_search s;
	int fd;

	fd = search_begin(&s, ef, ef->file_path);
	s.id = id;
	s.id_len = len;
	if (!fd) {
		fd = find_by_build_id(&s, found);
		/* next to the separate debug file when it is inside the root, else the main file */
		base = ef->debug_name && strncmp(ef->debug_name, ef->file_path, ef->root_len) == 0 &&
			       ef->debug_name[ef->root_len] == '/' ?
			       ef->debug_name + ef->root_len :
			       ef->file_path + ef->root_len;
		if (fd == -ENOENT)
			fd = find_by_altname(&s, base, altname, found);
	}
	if (fd == -ENOENT)
		fd = find_by_build_id_on_host(&s, found);
	search_end(&s);
	if (fd == -ENOENT && ef->fetch_debuginfo)
		fd = ef->fetch_debuginfo(ef->fetch_ctx, id, len, found);
	return fd;
}

int elf_debug_load_alt(struct elf_file *ef, Dwarf *dw)
{
	const char *altname;
	const void *id;
	char *found = NULL;
	ssize_t len;
	int fd;

	/* no .gnu_debugaltlink (or a malformed one, which libdw ignores too) */
	len = dwelf_dwarf_gnu_debugaltlink(dw, &altname, &id);
	if (len <= 0)
		return 0;
	fd = find_alt_file(ef, altname, id, (size_t)len, &found);
	free(found);
	if (fd < 0)
		return fd;
	fd = admit_debug_file(ef, fd);
	if (fd < 0 || ef->dwarf_too_big) {
		if (fd >= 0)
			close(fd);
		return -EFBIG;
	}
	ef->alt_fd = fd;
	/* a sealed copy: mapping it cannot fault */
	ef->alt_elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	ef->alt_dwarf = ef->alt_elf ? dwarf_begin_elf(ef->alt_elf, DWARF_C_READ, NULL) : NULL;
	if (!ef->alt_dwarf)
		return -ENOEXEC;
	dwarf_setalt(dw, ef->alt_dwarf);
	return 0;
}

/*
 * Pages of the debug file that lookups read stay in the agent's RSS until
 * unmapped: libdw's first lookup alone reads a page of every unit up to the
 * one it wants (5.7 MB of libc6-dbg's 5.8 MB .debug_info). libdwfl maps the
 * copy privately and, for a native-endian file that is not ET_REL, never
 * writes to it (no relocations, no byte swapping), so MADV_DONTNEED only
 * hands the pages back to the page cache; they fault in again when read.
 * The mapping is found by the copy's device and inode, as the kernel lists
 * it: libdw does not say where it mapped a file.
 */
static void locate_debug_map(struct elf_file *ef)
{
	unsigned long start, end, off, ino;
	unsigned int dev_major, dev_minor;
	char line[512], perms[5];
	FILE *f;

	ef->debug_map_looked = true;
	if (!ef->debug_copy_known)
		return;
	f = fopen("/proc/self/maps", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %4s %lx %x:%x %lu", &start, &end, perms, &off, &dev_major,
			   &dev_minor, &ino) != 7)
			continue;
		if (ino != ef->debug_ino || makedev(dev_major, dev_minor) != ef->debug_dev ||
		    off != 0 || perms[3] != 'p' || end <= start)
			continue;
		ef->debug_map = (void *)start;
		ef->debug_map_len = end - start;
		break;
	}
	fclose(f);
}

static bool pages_may_be_dropped(Dwarf *dw)
{
	Elf *elf = dw ? dwarf_getelf(dw) : NULL;
	GElf_Ehdr eh;

	return elf && gelf_getehdr(elf, &eh) && eh.e_type != ET_REL &&
	       eh.e_ident[EI_DATA] == (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB
										 : ELFDATA2MSB);
}

static void drop_debug_pages(struct elf_file *ef)
{
	if (ef->debug_map)
		(void)madvise(ef->debug_map, ef->debug_map_len, MADV_DONTNEED);
}

/* Units interned between two releases of the pages read: RSS grows by about this much. */
#define INTERN_STEP_BYTES (512u << 10)

void elf_debug_intern_units(struct elf_file *ef, Dwarf *dw)
{
	Dwarf_Off off = 0, next, dropped_at = 0;
	size_t header;
	Dwarf_Die die;

	if (!ef->debug_map_looked && pages_may_be_dropped(dw))
		locate_debug_map(ef);
	if (!ef->debug_map)
		return;
	/*
	 * dwarf_offdie() interns every unit before the one asked for; each
	 * step asks for the unit INTERN_STEP_BYTES further on. A corrupt
	 * header ends the walk: libdw reports it at the lookup as before.
	 */
	while (dwarf_next_unit(dw, off, &next, &header, NULL, NULL, NULL, NULL, NULL, NULL) == 0 &&
	       next > off) {
		if (next - dropped_at >= INTERN_STEP_BYTES) {
			(void)dwarf_offdie(dw, off + header, &die);
			drop_debug_pages(ef);
			dropped_at = next;
		}
		off = next;
	}
	drop_debug_pages(ef);
}

void elf_debug_release_pages(struct elf_file *ef)
{
	/* located by elf_debug_intern_units() when the DWARF was loaded */
	if (ef->debug_pages_used)
		drop_debug_pages(ef);
	ef->debug_pages_used = false;
}
