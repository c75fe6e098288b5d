// SPDX-License-Identifier: Apache-2.0
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zlib.h>

#include "fileio.h"

#define SPOOL_MAGIC "FNXSPOOL"
#define SPOOL_VERSION 1
#define HEADER_SIZE 24
#define SUFFIX ".window"
#define TEMP_PREFIX ".tmp-"
#define LOCK_NAME ".lock"
/* "<20-digit time_nanos>-<16 hex>.window" */
#define NAME_LEN (20 + 1 + 16 + sizeof(SUFFIX) - 1)
/* A window is at most what a store accepts in one request (Parca: 64 MiB). */
#define MAX_WINDOW_BYTES (64u << 20)

struct entry {
	char name[NAME_LEN + 1];
	__s64 time_nanos;
	__u64 bytes; /* file size */
};

struct spool {
	int dir_fd;
	int lock_fd;
	__u64 max_bytes;
	__u64 bytes;
	spool_evict_fn on_evict;
	void *ctx;
	/* Sorted by name, oldest first; entries[head..n) are live. */
	struct entry *entries;
	size_t head, n, cap;
	bool pinned; /* entries[head] is being sent */
};

static void put_le32(unsigned char *p, __u32 v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static __u32 get_le32(const unsigned char *p)
{
	return p[0] | (__u32)p[1] << 8 | (__u32)p[2] << 16 | (__u32)p[3] << 24;
}

static bool parse_name(const char *name, __s64 *time_nanos)
{
	char *end;

	if (strlen(name) != NAME_LEN || strcmp(name + NAME_LEN - (sizeof(SUFFIX) - 1), SUFFIX) != 0 ||
	    strspn(name, "0123456789") != 20 || name[20] != '-' ||
	    strspn(name + 21, "0123456789abcdef") != 16)
		return false;
	errno = 0;
	*time_nanos = strtoll(name, &end, 10);
	return !errno && end == name + 20;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* Live entries move to the front when the array must grow, so it never grows while mostly dead. */
static int reserve(struct spool *s, size_t more)
{
	struct entry *grown;
	size_t cap;

	if (s->n + more <= s->cap)
		return 0;
	if (s->head) {
		memmove(s->entries, s->entries + s->head, (s->n - s->head) * sizeof(*s->entries));
		s->n -= s->head;
		s->head = 0;
		if (s->n + more <= s->cap)
			return 0;
	}
	cap = s->cap ? s->cap * 2 : 64;
	while (cap < s->n + more)
		cap *= 2;
	grown = reallocarray(s->entries, cap, sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	s->entries = grown;
	s->cap = cap;
	return 0;
}

static int scan(struct spool *s, struct spool_open_stats *stats)
{
	int fd = openat(s->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int err = 0;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		err = -errno;
		close(fd);
		return err;
	}
	while ((errno = 0, de = readdir(d))) {
		struct stat st;
		__s64 t;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, LOCK_NAME) == 0)
			continue;
		if (strncmp(de->d_name, TEMP_PREFIX, strlen(TEMP_PREFIX)) == 0) {
			/* Never renamed into place: its window was not spooled. */
			if (unlinkat(s->dir_fd, de->d_name, 0) == 0)
				stats->temp_removed++;
			continue;
		}
		if (!parse_name(de->d_name, &t) ||
		    fstatat(s->dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode)) {
			stats->ignored++;
			continue;
		}
		err = reserve(s, 1);
		if (err)
			break;
		memcpy(s->entries[s->n].name, de->d_name, NAME_LEN + 1);
		s->entries[s->n].time_nanos = t;
		s->entries[s->n].bytes = st.st_size;
		s->bytes += st.st_size;
		s->n++;
	}
	if (!err && errno)
		err = -errno;
	closedir(d);
	if (err)
		return err;
	if (s->n)
		qsort(s->entries, s->n, sizeof(*s->entries), entry_cmp);
	stats->windows = s->n;
	stats->bytes = s->bytes;
	return 0;
}

static int sync_dir(struct spool *s)
{
	return fsync(s->dir_fd) < 0 ? -errno : 0;
}

/* why: 0 for max_bytes, else the errno of the write the file system refused. */
static int evict_oldest_unpinned(struct spool *s, int why)
{
	size_t i = s->head + (s->pinned ? 1 : 0);
	struct entry e;

	/* Only the window being sent is left: the new one cannot fit beside it. */
	if (i >= s->n)
		return -EFBIG;
	e = s->entries[i];
	if (unlinkat(s->dir_fd, e.name, 0) < 0 && errno != ENOENT)
		return -errno;
	memmove(&s->entries[i], &s->entries[i + 1], (s->n - i - 1) * sizeof(*s->entries));
	s->n--;
	s->bytes -= e.bytes;
	if (s->on_evict)
		s->on_evict(s->ctx, e.time_nanos, e.bytes, why);
	return 0;
}

/* Brings the spool under max_bytes - incoming by evicting the oldest windows. */
static int make_room(struct spool *s, __u64 incoming)
{
	int err;

	while (s->n > s->head && s->bytes + incoming > s->max_bytes) {
		err = evict_oldest_unpinned(s, 0);
		if (err)
			return err;
	}
	return 0;
}

/* Whether the file system, were it empty, could hold bytes: else evicting cannot help. */
static bool fs_could_hold(int dir_fd, __u64 bytes)
{
	struct statvfs st;

	return fstatvfs(dir_fd, &st) < 0 || (__u64)st.f_blocks * st.f_frsize >= bytes;
}

/*
 * The file system refused a write (why: ENOSPC or EDQUOT): evicts the oldest
 * windows, at least one and at least want bytes. False if nothing was left
 * to evict (or deleting failed), so the caller stops retrying.
 */
static bool evict_for_disk(struct spool *s, __u64 want, int why)
{
	__u64 freed = 0;

	do {
		size_t i = s->head + (s->pinned ? 1 : 0);
		__u64 bytes = i < s->n ? s->entries[i].bytes : 0;

		if (evict_oldest_unpinned(s, why))
			return freed > 0;
		freed += bytes;
	} while (freed < want);
	return true;
}

struct spool *spool__open(const struct spool_opts *opts, struct spool_open_stats *stats)
{
	struct spool_open_stats ignored;
	struct spool *s;
	int err;

	if (!stats)
		stats = &ignored;
	*stats = (struct spool_open_stats){ 0 };
	if (!opts || !opts->dir || !*opts->dir || !opts->max_bytes) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	s->dir_fd = s->lock_fd = -1;
	s->max_bytes = opts->max_bytes;
	s->on_evict = opts->on_evict;
	s->ctx = opts->ctx;
	/* Profiles name functions, files and processes: for root's eyes only. */
	if (mkdir(opts->dir, 0700) < 0 && errno != EEXIST) {
		err = -errno;
		goto fail;
	}
	s->dir_fd = open(opts->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dir_fd < 0) {
		err = -errno;
		goto fail;
	}
	err = check_private_dir(s->dir_fd);
	if (err)
		goto fail;
	s->lock_fd = openat(s->dir_fd, LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->lock_fd < 0) {
		err = -errno;
		goto fail;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto fail;
	}
	err = scan(s, stats);
	if (err)
		goto fail;
	/* A smaller --spool-max-bytes than last time applies at once. */
	err = make_room(s, 0);
	if (err)
		goto fail;
	return s;
fail:
	spool__close(s);
	errno = -err;
	return NULL;
}

void spool__close(struct spool *s)
{
	if (!s)
		return;
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* releases the lock */
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	free(s->entries);
	free(s);
}

size_t spool__count(const struct spool *s)
{
	return s->n - s->head;
}

__u64 spool__bytes(const struct spool *s)
{
	return s->bytes;
}

/*
 * Writes the window to temp, makes room under max_bytes, and renames it into
 * place. On failure nothing of it is left on disk.
 */
static int write_entry(struct spool *s, const struct entry *e, const char *temp,
		       const unsigned char *header, const void *buf, size_t len)
{
	int fd, err;

	fd = openat(s->dir_fd, temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	err = write_all(fd, header, HEADER_SIZE);
	if (!err)
		err = write_all(fd, buf, len);
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	/* Room is made only once the new window is safe on disk, so a failed write evicts nothing. */
	if (!err)
		err = make_room(s, e->bytes);
	if (!err && renameat(s->dir_fd, temp, s->dir_fd, e->name) < 0)
		err = -errno;
	if (err)
		unlinkat(s->dir_fd, temp, 0);
	return err;
}

int spool__put(struct spool *s, __s64 time_nanos, const void *buf, size_t len)
{
	unsigned char header[HEADER_SIZE] = SPOOL_MAGIC;
	char temp[sizeof(TEMP_PREFIX) + NAME_LEN];
	struct entry e = { .time_nanos = time_nanos, .bytes = HEADER_SIZE + len };
	__u64 rnd, want;
	size_t pos;
	int err;

	if (time_nanos < 0 || len > MAX_WINDOW_BYTES || e.bytes > s->max_bytes)
		return -EFBIG;
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (__u64)time_nanos * 0x9e3779b97f4a7c15ULL ^ (__u64)getpid();
	snprintf(e.name, sizeof(e.name), "%020" PRId64 "-%016" PRIx64 SUFFIX, (int64_t)time_nanos,
		 (uint64_t)rnd);
	snprintf(temp, sizeof(temp), TEMP_PREFIX "%s", e.name);

	err = reserve(s, 1);
	if (err)
		return err;
	put_le32(header + 8, SPOOL_VERSION);
	put_le32(header + 12, len);
	put_le32(header + 16, crc32(crc32(0, NULL, 0), buf, len));

	/*
	 * A full file system keeps the newest windows, as max_bytes does: the
	 * oldest make room. Each retry evicts twice what the last one did, so a
	 * window needs a few writes at most, and the loop ends when nothing is
	 * left to evict.
	 */
	for (want = e.bytes;; want = want > UINT64_MAX / 2 ? UINT64_MAX : want * 2) {
		err = write_entry(s, &e, temp, header, buf, len);
		if ((err != -ENOSPC && err != -EDQUOT) || !fs_could_hold(s->dir_fd, e.bytes) ||
		    !evict_for_disk(s, want, -err))
			break;
	}
	if (err)
		return err;
	err = sync_dir(s);
	/* The rename happened; an fsync error on the directory is reported but the index follows the disk. */
	pos = s->n;
	while (pos > s->head + (s->pinned ? 1 : 0) && strcmp(s->entries[pos - 1].name, e.name) > 0)
		pos--;
	memmove(&s->entries[pos + 1], &s->entries[pos], (s->n - pos) * sizeof(*s->entries));
	s->entries[pos] = e;
	s->n++;
	s->bytes += e.bytes;
	return err;
}

bool spool__oldest(const struct spool *s, __s64 *time_nanos)
{
	if (s->head >= s->n)
		return false;
	*time_nanos = s->entries[s->head].time_nanos;
	return true;
}

static int read_window_file(int fd, void **buf, size_t *len)
{
	unsigned char header[HEADER_SIZE];
	struct stat st;
	size_t want;
	char *data;
	int err;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < HEADER_SIZE ||
	    (__u64)st.st_size > HEADER_SIZE + (__u64)MAX_WINDOW_BYTES)
		return -EBADMSG;
	if (pread(fd, header, sizeof(header), 0) != sizeof(header))
		return -EBADMSG;
	want = get_le32(header + 12);
	if (memcmp(header, SPOOL_MAGIC, 8) != 0 || get_le32(header + 8) != SPOOL_VERSION ||
	    want != (size_t)st.st_size - HEADER_SIZE)
		return -EBADMSG;
	data = malloc(want ?: 1);
	if (!data)
		return -ENOMEM;
	err = pread_all(fd, data, want, HEADER_SIZE);
	if (err) {
		free(data);
		return err == -EIO ? -EBADMSG : err;
	}
	if (crc32(crc32(0, NULL, 0), (const Bytef *)data, want) != get_le32(header + 16)) {
		free(data);
		return -EBADMSG;
	}
	*buf = data;
	*len = want;
	return 0;
}

int spool__read_oldest(struct spool *s, void **buf, size_t *len, __s64 *time_nanos)
{
	int fd, err;

	if (s->head >= s->n)
		return -ENOENT;
	*time_nanos = s->entries[s->head].time_nanos;
	/* non-blocking and never a terminal, whatever was swapped in under the name */
	fd = openat(s->dir_fd, s->entries[s->head].name,
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? -EBADMSG : -errno;
	err = read_window_file(fd, buf, len);
	close(fd);
	if (!err)
		s->pinned = true;
	return err;
}

void spool__unpin(struct spool *s)
{
	s->pinned = false;
}

int spool__remove_oldest(struct spool *s)
{
	struct entry *e;

	if (s->head >= s->n)
		return -ENOENT;
	e = &s->entries[s->head];
	if (unlinkat(s->dir_fd, e->name, 0) < 0 && errno != ENOENT)
		return -errno;
	s->bytes -= e->bytes;
	s->head++;
	s->pinned = false;
	if (s->head == s->n)
		s->head = s->n = 0;
	return 0;
}
