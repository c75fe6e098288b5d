// SPDX-License-Identifier: Apache-2.0
#include "table_cache.h"

#include <dirent.h>
#include <elf.h>
#include <link.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "fileio.h"
#include "hashmap.h"

#define MAGIC "FXCFI\0\2\n"
#define ALIAS_MAGIC "FXCFID\1\n"
#define SUFFIX ".cfi"
#define ALIAS_SUFFIX ".id"
/* elf_inflate's kept debug-file copies share the directory and its bound */
#define DEBUG_COPY_SUFFIX ".dbg"
/* what an alias is counted as on disk: its block */
#define ALIAS_BYTES 4096
#define TMP_PREFIX ".tmp."
/* Eviction goes below the limit by this much, so it does not run at every store. */
#define EVICT_TO(max) ((max) / 4 * 3)

/* An entry: this header, the table's stats, the inputs, the rows. */
struct entry_header {
	char magic[8];
	__u64 builder; /* builder_identity() of the agent that wrote it */
	__u32 row_size;
	__u32 stats_size;
	__u64 inputs_len;
	__u64 n_rows;
	__u64 origin;
	__u32 crc; /* zlib crc32 of the stats and the rows (the inputs are compared, not summed) */
	__u32 reserved;
};
_Static_assert(sizeof(struct entry_header) == 56, "the entry header is part of the format");

/* What stat() says of a file whose contents cannot change without changing it. */
struct file_identity {
	__u64 dev, ino, size;
	__u64 mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
};

/*
 * An alias: "the file with this identity had these inputs", written once an
 * entry was read or built for inputs read from that file. It lets a
 * restarted agent skip reading and comparing the inputs of files it has
 * seen (most of a load's cost for large binaries).
 */
struct alias {
	char magic[8];
	__u64 builder;
	__u64 entry; /* the entry's name: the inputs' hash */
	struct file_identity id;
};
_Static_assert(sizeof(struct alias) == 80, "the alias is part of the format");

struct table_cache {
	int dirfd;
	__u64 builder;
	__u64 max_bytes;
	pthread_mutex_t lock; /* stats, and eviction */
	struct table_cache_stats stats;
	__u64 tmp_seq;
};

static __u64 inputs_hash(const void *inputs, size_t len)
{
	return hash_bytes(inputs, len);
}

static void entry_name(__u64 hash, char *name, size_t size)
{
	snprintf(name, size, "%016llx" SUFFIX, (unsigned long long)hash);
}

static void identity_of(const struct stat *st, struct file_identity *id)
{
	memset(id, 0, sizeof(*id));
	id->dev = (__u64)st->st_dev;
	id->ino = (__u64)st->st_ino;
	id->size = (__u64)st->st_size;
	id->mtime_sec = (__u64)st->st_mtim.tv_sec;
	id->mtime_nsec = (__u64)st->st_mtim.tv_nsec;
	id->ctime_sec = (__u64)st->st_ctim.tv_sec;
	id->ctime_nsec = (__u64)st->st_ctim.tv_nsec;
}

static void alias_name(const struct table_cache *c, const struct file_identity *id, char *name,
		       size_t size)
{
	__u64 h = hash_pair(c->builder, hash_bytes(id, sizeof(*id)));

	snprintf(name, size, "%016llx" ALIAS_SUFFIX, (unsigned long long)h);
}

/* Mixes each loaded object's build-id into *(__u64 *)ctx. */
static int mix_build_id(struct dl_phdr_info *info, size_t size, void *ctx)
{
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
		size_t off = 0;

		if (ph->p_type != PT_NOTE)
			continue;
		while (off + sizeof(ElfW(Nhdr)) <= ph->p_memsz) {
			const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)(p + off);
			size_t name = (n->n_namesz + 3) & ~3u, desc = (n->n_descsz + 3) & ~3u;

			if (name + desc > ph->p_memsz - off - sizeof(*n))
				break;
			if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4) {
				__u64 id = hash_bytes(p + off + sizeof(*n) + name, n->n_descsz);

				*(__u64 *)ctx = hash_pair(*(__u64 *)ctx, id);
			}
			off += sizeof(*n) + name + desc;
		}
	}
	return 0;
}

/*
 * Which code built the rows: the agent and the libraries it has loaded (libdw
 * evaluates the CFI), by build-id. A new agent or libdw reads none of the
 * old entries, whose rows it might build differently.
 */
static __u64 builder_identity(void)
{
	__u64 h = hash_bytes(MAGIC, sizeof(MAGIC) - 1);

	dl_iterate_phdr(mix_build_id, &h);
	return h;
}

static bool has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);

	return n > s && strcmp(name + n - s, suffix) == 0;
}

struct listed {
	char name[64];
	struct timespec mtime;
	__u64 size;
};

static int by_mtime(const void *a, const void *b)
{
	const struct timespec *x = &((const struct listed *)a)->mtime;
	const struct timespec *y = &((const struct listed *)b)->mtime;

	if (x->tv_sec != y->tv_sec)
		return x->tv_sec < y->tv_sec ? -1 : 1;
	return (x->tv_nsec > y->tv_nsec) - (x->tv_nsec < y->tv_nsec);
}

/*
 * Counts the entries' bytes; with evict, deletes the oldest until the
 * total is below EVICT_TO(max_bytes); with clean, leftovers of interrupted
 * stores too. Called with the lock held (or before the cache is shared).
 */
static int scan(struct table_cache *c, bool evict, bool clean)
{
	struct listed *all = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	__u64 total = 0;
	int fd, err = 0;
	DIR *d;

	fd = fcntl(c->dirfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		err = -errno;
		close(fd);
		return err;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		struct stat st;

		if (clean && strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0) {
			unlinkat(c->dirfd, de->d_name, 0);
			continue;
		}
		if ((!has_suffix(de->d_name, SUFFIX) && !has_suffix(de->d_name, ALIAS_SUFFIX) &&
		     !has_suffix(de->d_name, DEBUG_COPY_SUFFIX)) ||
		    strlen(de->d_name) >= sizeof(all->name) ||
		    fstatat(c->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct listed *grown = realloc(all, ncap * sizeof(*all));

			if (!grown) {
				err = -ENOMEM;
				break;
			}
			all = grown;
			cap = ncap;
		}
		snprintf(all[n].name, sizeof(all[n].name), "%s", de->d_name);
		all[n].mtime = st.st_mtim;
		all[n].size = has_suffix(de->d_name, ALIAS_SUFFIX) ? ALIAS_BYTES : (__u64)st.st_size;
		total += all[n].size;
		n++;
	}
	closedir(d);
	if (!err && evict && total > c->max_bytes) {
		qsort(all, n, sizeof(*all), by_mtime);
		for (size_t i = 0; i < n && total > EVICT_TO(c->max_bytes); i++) {
			if (unlinkat(c->dirfd, all[i].name, 0) == 0) {
				total -= all[i].size;
				c->stats.evicted++;
			}
		}
	}
	if (!err)
		c->stats.bytes = total;
	free(all);
	return err;
}

struct table_cache *table_cache__new(const char *dir, __u64 max_bytes)
{
	struct table_cache *c;
	int err;

	if (!dir || !max_bytes) {
		errno = EINVAL;
		return NULL;
	}
	err = mkdir_p(dir, 0700);
	if (err) {
		errno = -err;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->max_bytes = max_bytes;
	c->builder = builder_identity();
	pthread_mutex_init(&c->lock, NULL);
	c->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->dirfd < 0) {
		err = -errno;
		goto fail;
	}
	/* What another user could write into could hand the agent rows of its choosing. */
	err = check_private_dir(c->dirfd) ?: scan(c, true, true);
	if (err)
		goto fail;
	return c;
fail:
	table_cache__free(c);
	errno = -err;
	return NULL;
}

void table_cache__free(struct table_cache *c)
{
	if (!c)
		return;
	if (c->dirfd >= 0)
		close(c->dirfd);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static void count(struct table_cache *c, __u64 *counter)
{
	pthread_mutex_lock(&c->lock);
	(*counter)++;
	pthread_mutex_unlock(&c->lock);
}

/* Reads len bytes at off of fd and compares them with want, a block at a time. */
static int same_bytes(int fd, off_t off, const void *want, size_t len)
{
	unsigned char buf[64 * 1024];

	for (size_t done = 0; done < len;) {
		size_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);
		int err = pread_all(fd, buf, n, off + (off_t)done);

		if (err)
			return err;
		if (memcmp(buf, (const unsigned char *)want + done, n))
			return 1;
		done += n;
	}
	return 0;
}

/*
 * The table in the entry open at fd (size bytes). When inputs is given, the
 * entry must have been made from them (1: other inputs); 2: written by
 * another agent or libdw, or in another format (stale); -errno: damaged.
 */
static int read_entry(struct table_cache *c, int fd, __u64 size, const void *inputs, size_t len,
		      struct cfi_table **out)
{
	struct cfi_table_stats stats = { 0 };
	struct entry_header h;
	struct cfi_row *rows = NULL;
	__u64 rows_len;
	uLong crc;
	int err;

	if (size < sizeof(h) + sizeof(stats))
		return -EINVAL;
	err = pread_all(fd, &h, sizeof(h), 0);
	if (err)
		return err;
	/* same name, other version of the format */
	if (memcmp(h.magic, MAGIC, 6) == 0 && memcmp(h.magic, MAGIC, sizeof(h.magic)))
		return 2;
	if (memcmp(h.magic, MAGIC, sizeof(h.magic)) || h.row_size != sizeof(struct cfi_row) ||
	    h.stats_size != sizeof(stats) || h.inputs_len > size - sizeof(h) - sizeof(stats))
		return -EINVAL;
	rows_len = size - sizeof(h) - sizeof(stats) - h.inputs_len;
	if (rows_len % sizeof(struct cfi_row) || h.n_rows != rows_len / sizeof(struct cfi_row))
		return -EINVAL;
	if (h.builder != c->builder)
		return 2;
	if (inputs) {
		if (h.inputs_len != len)
			return 1;
		err = same_bytes(fd, (off_t)(sizeof(h) + sizeof(stats)), inputs, len);
		if (err)
			return err;
	}
	rows = malloc(rows_len ? (size_t)rows_len : 1);
	if (!rows)
		return -ENOMEM;
	err = pread_all(fd, &stats, sizeof(stats), sizeof(h)) ?:
	      pread_all(fd, rows, (size_t)rows_len, (off_t)(size - rows_len));
	if (err)
		goto out;
	crc = crc32_z(0, (const Bytef *)&stats, sizeof(stats));
	crc = crc32_z(crc, (const Bytef *)rows, (size_t)rows_len);
	err = -EINVAL;
	if ((__u32)crc != h.crc)
		goto out;
	*out = cfi_table__adopt_rows(rows, h.n_rows, h.origin, &stats);
	rows = NULL;
	err = *out ? 0 : -errno;
out:
	free(rows);
	return err;
}

/* Deletes entry name (and counts why) after read_entry() said err; hits need nothing. */
static void account(struct table_cache *c, const char *name, int err)
{
	if (err == 1 || err == -ENOMEM) {
		count(c, &c->stats.misses);
	} else if (err == 2) {
		count(c, &c->stats.stale);
		unlinkat(c->dirfd, name, 0);
	} else if (err) {
		count(c, &c->stats.bad);
		unlinkat(c->dirfd, name, 0);
	} else {
		count(c, &c->stats.hits);
	}
}

/* Opens a file of the directory that must be a regular one; -errno otherwise. */
static int open_in_dir(struct table_cache *c, const char *name, struct stat *st)
{
	int fd = openat(c->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, st) || !S_ISREG(st->st_mode) || (__u64)st->st_size > c->max_bytes) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

/* The entry for hash, read (and checked against inputs when given); err as read_entry(). */
static struct cfi_table *load_entry(struct table_cache *c, __u64 hash, const void *inputs,
				    size_t len, int *err)
{
	struct cfi_table *t = NULL;
	char name[64];
	struct stat st;
	int fd;

	entry_name(hash, name, sizeof(name));
	fd = open_in_dir(c, name, &st);
	if (fd < 0) {
		*err = fd;
		if (fd != -ENOENT)
			account(c, name, fd);
		return NULL;
	}
	*err = read_entry(c, fd, (__u64)st.st_size, inputs, len, &t);
	/* used now: the last to be evicted */
	if (!*err)
		futimens(fd, NULL);
	close(fd);
	account(c, name, *err);
	return t;
}

/* Writes the alias of file: its identity had the inputs of entry hash. Best effort. */
static void remember(struct table_cache *c, const struct stat *file, __u64 hash)
{
	struct alias a = { .builder = c->builder, .entry = hash };
	char name[64], tmp[96];
	__u64 seq;
	int fd, err;

	memcpy(a.magic, ALIAS_MAGIC, sizeof(a.magic));
	identity_of(file, &a.id);
	alias_name(c, &a.id, name, sizeof(name));
	pthread_mutex_lock(&c->lock);
	seq = ++c->tmp_seq;
	pthread_mutex_unlock(&c->lock);
	snprintf(tmp, sizeof(tmp), TMP_PREFIX "%d.%llu", (int)getpid(), (unsigned long long)seq);
	fd = openat(c->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	err = write_all(fd, &a, sizeof(a));
	if (close(fd) && !err)
		err = -errno;
	if (err || renameat(c->dirfd, tmp, c->dirfd, name))
		unlinkat(c->dirfd, tmp, 0);
}

struct cfi_table *table_cache__load_file(struct table_cache *c, const struct stat *file)
{
	struct cfi_table *t = NULL;
	struct file_identity id;
	struct alias a;
	char name[64];
	struct stat st;
	int fd, err;

	if (!file || !S_ISREG(file->st_mode))
		return NULL;
	identity_of(file, &id);
	alias_name(c, &id, name, sizeof(name));
	fd = open_in_dir(c, name, &st);
	if (fd < 0)
		return NULL;
	err = st.st_size == sizeof(a) ? pread_all(fd, &a, sizeof(a), 0) : -EINVAL;
	if (!err && (memcmp(a.magic, ALIAS_MAGIC, sizeof(a.magic)) || a.builder != c->builder ||
		     memcmp(&a.id, &id, sizeof(id))))
		err = -EINVAL;
	if (!err) {
		t = load_entry(c, a.entry, NULL, 0, &err);
		if (t) {
			futimens(fd, NULL);
			count(c, &c->stats.by_identity);
		}
	}
	close(fd);
	/* an alias of another file (a hash collision), or of an entry gone or refused */
	if (!t)
		unlinkat(c->dirfd, name, 0);
	return t;
}

struct cfi_table *table_cache__load(struct table_cache *c, const struct stat *file,
				    const void *inputs, size_t len)
{
	__u64 hash = inputs_hash(inputs, len);
	struct cfi_table *t;
	int err;

	t = load_entry(c, hash, inputs, len, &err);
	if (err == -ENOENT)
		count(c, &c->stats.misses);
	if (t && file && S_ISREG(file->st_mode))
		remember(c, file, hash);
	return t;
}

int table_cache__store(struct table_cache *c, const struct stat *file, const void *inputs,
		       size_t len, const struct cfi_table *t)
{
	struct entry_header h = { .builder = c->builder, .row_size = sizeof(struct cfi_row),
				  .stats_size = sizeof(struct cfi_table_stats),
				  .inputs_len = len };
	const struct cfi_table_stats *stats = cfi_table__stats(t);
	size_t n_rows, rows_len, size;
	const struct cfi_row *rows = cfi_table__rows(t, &n_rows);
	__u64 hash = inputs_hash(inputs, len), seq;
	char name[64], tmp[96];
	struct stat old;
	uLong crc;
	int fd, err;

	h.n_rows = n_rows;
	rows_len = n_rows * sizeof(*rows);
	size = sizeof(h) + sizeof(*stats) + len + rows_len;
	if (size > c->max_bytes) {
		err = -EFBIG;
		goto fail;
	}
	memcpy(h.magic, MAGIC, sizeof(h.magic));
	h.origin = cfi_table__origin(t);
	crc = crc32_z(0, (const Bytef *)stats, sizeof(*stats));
	h.crc = (__u32)crc32_z(crc, (const Bytef *)rows, rows_len);
	entry_name(hash, name, sizeof(name));
	pthread_mutex_lock(&c->lock);
	seq = ++c->tmp_seq;
	pthread_mutex_unlock(&c->lock);
	snprintf(tmp, sizeof(tmp), TMP_PREFIX "%d.%llu", (int)getpid(), (unsigned long long)seq);
	fd = openat(c->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	err = write_all(fd, &h, sizeof(h)) ?: write_all(fd, stats, sizeof(*stats)) ?:
	      write_all(fd, inputs, len) ?: write_all(fd, rows, rows_len);
	if (close(fd) && !err)
		err = -errno;
	if (!err && fstatat(c->dirfd, name, &old, AT_SYMLINK_NOFOLLOW))
		old.st_size = 0;
	if (!err && renameat(c->dirfd, tmp, c->dirfd, name))
		err = -errno;
	if (err) {
		unlinkat(c->dirfd, tmp, 0);
		goto fail;
	}
	if (file && S_ISREG(file->st_mode))
		remember(c, file, hash);
	pthread_mutex_lock(&c->lock);
	c->stats.stored++;
	c->stats.bytes += size - (__u64)old.st_size;
	if (c->stats.bytes > c->max_bytes)
		scan(c, true, false);
	pthread_mutex_unlock(&c->lock);
	return 0;
fail:
	count(c, &c->stats.store_errors);
	return err;
}

void table_cache__stats(struct table_cache *c, struct table_cache_stats *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->stats;
	pthread_mutex_unlock(&c->lock);
}
