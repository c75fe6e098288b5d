// SPDX-License-Identifier: Apache-2.0
/*
 * A debug file's private copy on disk, its compressed sections inflated.
 *
 * libdw inflates every compressed debug section into the heap when it loads
 * DWARF: for Debian's libc6-dbg, 15 MiB of anonymous memory held as long as
 * the file is open, of which a lookup touches a few pages. Inflated once into
 * an unlinked file of the agent's, the sections are mapped instead: only the
 * pages lookups touch are resident, and they are page cache the kernel can
 * take back.
 *
 * The source belongs to someone else: it is read with pread() (never mapped),
 * every header is bounds-checked against its size, and each section must
 * inflate to exactly the size its header claims.
 *
 * The copy is kept in the directory under the source's identity (device,
 * inode, size, mtime, ctime), so the next agent maps it instead of inflating
 * again (libc6-dbg: a tenth of a short capture's CPU). A file's contents do
 * not change without changing its ctime, which no one can set, so a kept
 * copy is only ever found for the very file it was made from. Copies are
 * published whole (linked in once written) and never written again; the
 * least recently used go beyond KEPT_MAX.
 */
#include "elf_inflate.h"

#include <dirent.h>
#include <elf.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <zlib.h>

#include "fileio.h"
#include "hashmap.h"

#define CHUNK (64u << 10)
/* Alignments a section may ask of its inflated data (ch_addralign). */
#define MAX_SECTION_ALIGN 4096u
/* e_shnum of 0 or SHN_LORESERVE and above mean "see section 0": not handled. */
#define MAX_SECTIONS (SHN_LORESERVE - 1)
#define KEPT_SUFFIX ".dbg"
/* Copies kept in the directory at most, the least recently used deleted first. */
#define KEPT_MAX 8
/* Part of the kept copies' names: another layout of the copy gets other names. */
#define KEPT_FORMAT 1ULL

static __u64 align_up(__u64 v, __u64 a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Copies n bytes of src from offset 0 to dst's start. */
static int copy_whole(int dst, int src, off_t n)
{
	off_t off = 0;

	while (off < n) {
		ssize_t r = sendfile(dst, src, &off, (size_t)(n - off));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO; /* shrunk */
	}
	return 0;
}

/*
 * Inflates the zlib stream of in_len bytes at src's in_off into dst at
 * out_off; it must come to exactly out_len bytes.
 */
static int inflate_section(int dst, __u64 out_off, __u64 out_len, int src, __u64 in_off,
			   __u64 in_len)
{
	unsigned char *in = NULL, *out = NULL;
	z_stream z = { 0 };
	__u64 done_in = 0, done_out = 0;
	int err = -ENOMEM, zr = Z_OK;
	size_t produced;

	in = malloc(CHUNK);
	out = malloc(CHUNK);
	if (!in || !out || inflateInit(&z) != Z_OK)
		goto cleanup;
	while (zr != Z_STREAM_END) {
		if (z.avail_in == 0) {
			size_t n = in_len - done_in < CHUNK ? in_len - done_in : CHUNK;

			err = -EBADMSG; /* the stream runs past its section */
			if (n == 0)
				goto end;
			err = pread_all(src, in, n, (off_t)(in_off + done_in));
			if (err)
				goto end;
			done_in += n;
			z.next_in = in;
			z.avail_in = (uInt)n;
		}
		z.next_out = out;
		z.avail_out = CHUNK;
		zr = inflate(&z, Z_NO_FLUSH);
		produced = CHUNK - z.avail_out;
		/* a corrupt stream, or more than the header said */
		if ((zr != Z_OK && zr != Z_STREAM_END) || produced > out_len - done_out) {
			err = -EBADMSG;
			goto end;
		}
		if (produced && pwrite(dst, out, produced, (off_t)(out_off + done_out)) !=
					(ssize_t)produced) {
			err = -EIO;
			goto end;
		}
		done_out += produced;
	}
	err = done_out == out_len ? 0 : -EBADMSG;
end:
	inflateEnd(&z);
cleanup:
	free(in);
	free(out);
	return err;
}

/* The section headers of an ELF64 little-endian file of size bytes, checked. */
static int read_headers(int fd, __u64 size, Elf64_Ehdr *eh, Elf64_Shdr **shdrs)
{
	size_t bytes;
	int err;

	*shdrs = NULL;
	if (size < sizeof(*eh))
		return -ENOEXEC;
	err = pread_all(fd, eh, sizeof(*eh), 0);
	if (err)
		return err;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB || __BYTE_ORDER != __LITTLE_ENDIAN)
		return -ENOTSUP;
	if (eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shnum == 0 ||
	    eh->e_shnum > MAX_SECTIONS || eh->e_shoff > size ||
	    (__u64)eh->e_shnum * sizeof(Elf64_Shdr) > size - eh->e_shoff)
		return -ENOTSUP;
	bytes = (size_t)eh->e_shnum * sizeof(Elf64_Shdr);
	*shdrs = malloc(bytes);
	if (!*shdrs)
		return -ENOMEM;
	err = pread_all(fd, *shdrs, bytes, (off_t)eh->e_shoff);
	if (err) {
		free(*shdrs);
		*shdrs = NULL;
	}
	return err;
}

/* A compressed section's header, if sh is one zlib can inflate; its bounds checked. */
static bool zlib_section(int fd, __u64 size, const Elf64_Shdr *sh, Elf64_Chdr *ch)
{
	if (!(sh->sh_flags & SHF_COMPRESSED) || sh->sh_type == SHT_NOBITS ||
	    sh->sh_size < sizeof(*ch) || sh->sh_offset > size || sh->sh_size > size - sh->sh_offset)
		return false;
	if (pread_all(fd, ch, sizeof(*ch), (off_t)sh->sh_offset))
		return false;
	/* zstd (ELFCOMPRESS_ZSTD) and anything else stays compressed for libdw */
	return ch->ch_type == ELFCOMPRESS_ZLIB && ch->ch_addralign &&
	       ch->ch_addralign <= MAX_SECTION_ALIGN &&
	       !(ch->ch_addralign & (ch->ch_addralign - 1));
}

bool elf_inflate__useful_dir(int dir_fd)
{
	struct statfs fs;

	/* on these, the copy's pages are never reclaimed: a sealed memfd is as good */
	return fstatfs(dir_fd, &fs) == 0 && fs.f_type != TMPFS_MAGIC &&
	       fs.f_type != RAMFS_MAGIC && check_private_dir(dir_fd) == 0;
}

/* The kept copy's name for the source fstat() described as src. */
static void kept_name(const struct stat *src, char *name, size_t size)
{
	const __u64 id[] = {
		KEPT_FORMAT, (__u64)src->st_dev, (__u64)src->st_ino, (__u64)src->st_size,
		(__u64)src->st_mtim.tv_sec, (__u64)src->st_mtim.tv_nsec,
		(__u64)src->st_ctim.tv_sec, (__u64)src->st_ctim.tv_nsec,
	};

	snprintf(name, size, "%016llx" KEPT_SUFFIX,
		 (unsigned long long)hash_bytes(id, sizeof(id)));
}

/*
 * The kept copy name of src (size bytes), if it is whole: an fd, with
 * *inflated set to the bytes it added. -ENOENT if there is none; a copy
 * that is not whole (an interrupted write back before a crash) is deleted.
 */
static int find_kept(int dir_fd, const char *name, __u64 src_size, __u64 max_bytes,
		     __u64 *inflated)
{
	Elf64_Ehdr eh;
	struct stat st;
	__u64 headers;
	int fd;

	fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (__u64)st.st_size <= src_size || pread_all(fd, &eh, sizeof(eh), 0) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_shentsize != sizeof(Elf64_Shdr))
		goto bad;
	headers = (__u64)eh.e_shnum * sizeof(Elf64_Shdr);
	/* the section headers are written last, at the end */
	if (eh.e_shoff < src_size || eh.e_shoff + headers != (__u64)st.st_size)
		goto bad;
	if (eh.e_shoff - src_size > max_bytes) {
		close(fd);
		return -EFBIG;
	}
	*inflated = eh.e_shoff - src_size;
	/* used now: the last to go */
	futimens(fd, NULL);
	return fd;
bad:
	close(fd);
	unlinkat(dir_fd, name, 0);
	return -ENOENT;
}

struct kept {
	char name[64];
	struct timespec mtime;
};

static int by_mtime(const void *a, const void *b)
{
	const struct timespec *x = &((const struct kept *)a)->mtime;
	const struct timespec *y = &((const struct kept *)b)->mtime;

	if (x->tv_sec != y->tv_sec)
		return x->tv_sec < y->tv_sec ? -1 : 1;
	return (x->tv_nsec > y->tv_nsec) - (x->tv_nsec < y->tv_nsec);
}

/* Deletes the least recently used copies beyond KEPT_MAX. */
static void evict_kept(int dir_fd)
{
	struct kept *all = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int fd;
	DIR *d;

	fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		struct stat st;

		if (len <= strlen(KEPT_SUFFIX) || len >= sizeof(all->name) ||
		    strcmp(de->d_name + len - strlen(KEPT_SUFFIX), KEPT_SUFFIX) != 0 ||
		    fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct kept *grown = realloc(all, ncap * sizeof(*all));

			if (!grown)
				break;
			all = grown;
			cap = ncap;
		}
		memcpy(all[n].name, de->d_name, len + 1);
		all[n++].mtime = st.st_mtim;
	}
	closedir(d);
	if (n > KEPT_MAX) {
		qsort(all, n, sizeof(*all), by_mtime);
		for (size_t i = 0; i < n - KEPT_MAX; i++)
			unlinkat(dir_fd, all[i].name, 0);
	}
	free(all);
}

/* Links the finished copy into the directory under name, for the next agent. */
static void keep(int copy, int dir_fd, const char *name)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", copy);
	/* EEXIST: another agent kept the same file's copy meanwhile */
	if (linkat(AT_FDCWD, path, dir_fd, name, AT_SYMLINK_FOLLOW) == 0)
		evict_kept(dir_fd);
}

int elf_inflate__copy(int src, int dir_fd, __u64 max_bytes, __u64 *inflated)
{
	Elf64_Shdr *shdrs = NULL;
	Elf64_Ehdr eh;
	struct stat st;
	__u64 end, total = 0;
	char name[64];
	int dst = -1, err;

	*inflated = 0;
	if (fstat(src, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size <= 0)
		return -EINVAL;
	kept_name(&st, name, sizeof(name));
	dst = find_kept(dir_fd, name, (__u64)st.st_size, max_bytes, inflated);
	if (dst >= 0 || dst == -EFBIG)
		return dst;
	dst = -1;
	err = read_headers(src, (__u64)st.st_size, &eh, &shdrs);
	if (err)
		goto cleanup;
	dst = openat(dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (dst < 0) {
		err = -errno;
		goto cleanup;
	}
	err = copy_whole(dst, src, st.st_size);
	if (err)
		goto cleanup;
	/* the inflated sections go after the original bytes, then the new headers */
	end = (__u64)st.st_size;
	for (unsigned i = 0; i < eh.e_shnum; i++) {
		Elf64_Shdr *sh = &shdrs[i];
		Elf64_Chdr ch;

		if (!zlib_section(src, (__u64)st.st_size, sh, &ch))
			continue;
		err = -EFBIG;
		if (ch.ch_size > max_bytes - total)
			goto cleanup;
		end = align_up(end, ch.ch_addralign);
		err = inflate_section(dst, end, ch.ch_size, src, sh->sh_offset + sizeof(ch),
				      sh->sh_size - sizeof(ch));
		if (err)
			goto cleanup;
		sh->sh_flags &= ~(__u64)SHF_COMPRESSED;
		sh->sh_offset = end;
		sh->sh_size = ch.ch_size;
		sh->sh_addralign = ch.ch_addralign;
		end += ch.ch_size;
		total += ch.ch_size;
	}
	err = -ENOTSUP; /* nothing to inflate: the caller's plain copy does */
	if (!total)
		goto cleanup;
	eh.e_shoff = align_up(end, 8);
	err = -EIO;
	if (pwrite(dst, shdrs, (size_t)eh.e_shnum * sizeof(*shdrs), (off_t)eh.e_shoff) !=
		    (ssize_t)(eh.e_shnum * sizeof(*shdrs)) ||
	    pwrite(dst, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh))
		goto cleanup;
	*inflated = total;
	free(shdrs);
	keep(dst, dir_fd, name);
	return dst;
cleanup:
	if (dst >= 0)
		close(dst);
	free(shdrs);
	return err;
}
