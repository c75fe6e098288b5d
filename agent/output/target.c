// SPDX-License-Identifier: Apache-2.0
/*
 * Where a profile goes. The agent runs as root and may be pointed into a
 * directory other users write to: a regular file is replaced atomically
 * through a name nobody can plant (an unnamed O_TMPFILE, or else a random
 * name created O_EXCL), and is on disk before it takes the target's name.
 * A device, FIFO or socket is the reader the user named, so it is written
 * in place, never replaced by a file.
 */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"

/* Names of the process's own descriptors: written through the descriptor, never replaced. */
static bool is_own_fd_path(const char *path)
{
	return strncmp(path, "/dev/fd/", 8) == 0 || strncmp(path, "/proc/self/fd/", 14) == 0 ||
	       strcmp(path, "/dev/stderr") == 0;
}

bool output__is_stdout(const char *path)
{
	return strcmp(path, "-") == 0 || strcmp(path, "/dev/stdout") == 0;
}

/* The directory part of path ("." for a bare name), malloc'ed; NULL on ENOMEM. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, slash - path);
}

static const char *base_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

int output__classify(const char *path, enum output_target *target, const char **why)
{
	struct stat st;
	char *dir;
	int err = 0;

	*why = NULL;
	if (output__is_stdout(path)) {
		*target = OUTPUT_TARGET_STDOUT;
		return 0;
	}
	if (lstat(path, &st) < 0) {
		if (errno != ENOENT)
			return -errno;
		st.st_mode = S_IFREG; /* created */
	} else if (S_ISLNK(st.st_mode)) {
		/* A link to a file (or to nothing) is replaced, never followed: it may be a trap. */
		bool dangling = stat(path, &st) < 0;

		if (dangling && errno != ENOENT)
			return -errno;
		if (dangling || (S_ISREG(st.st_mode) && !is_own_fd_path(path)))
			st.st_mode = S_IFREG;
	}
	if (S_ISDIR(st.st_mode)) {
		*why = "is a directory";
		return -EISDIR;
	}
	if (S_ISBLK(st.st_mode)) {
		*why = "is a block device: fornax does not write to disks";
		return -EINVAL;
	}
	if (!S_ISREG(st.st_mode) || is_own_fd_path(path)) {
		*target = OUTPUT_TARGET_STREAM;
		return access(path, W_OK) < 0 ? -errno : 0;
	}
	*target = OUTPUT_TARGET_FILE;
	dir = dir_of(path);
	if (!dir)
		return -ENOMEM;
	if (stat(dir, &st) < 0) {
		err = -errno;
		*why = err == -ENOENT ? "is in a directory that does not exist" : NULL;
	} else if (!S_ISDIR(st.st_mode)) {
		err = -ENOTDIR;
		*why = "is in something that is not a directory";
	} else if (access(dir, W_OK | X_OK) < 0) {
		err = -errno;
		*why = "is in a directory fornax cannot write to";
	}
	free(dir);
	return err;
}

int output__check_dir(const char *path, const char **why)
{
	struct stat st;
	char *parent;
	int err = 0;

	*why = NULL;
	if (stat(path, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			*why = "is not a directory: continuous mode writes a profile per interval "
			       "into one (--duration writes a single profile)";
			return -ENOTDIR;
		}
		if (access(path, W_OK | X_OK) < 0) {
			*why = "is a directory fornax cannot write to";
			return -errno;
		}
		return 0;
	}
	if (errno != ENOENT)
		return -errno;
	parent = dir_of(path);
	if (!parent)
		return -ENOMEM;
	if (stat(parent, &st) < 0 || !S_ISDIR(st.st_mode)) {
		err = -ENOENT;
		*why = "cannot be created: its parent directory does not exist";
	} else if (access(parent, W_OK | X_OK) < 0) {
		err = -errno;
		*why = "cannot be created: its parent directory is not writable";
	}
	free(parent);
	return err;
}

/* An unnamed file in dirfd, or else one created under a random name there (*tmp_name). */
static int open_temp(int dirfd, const char *base, char **tmp_name)
{
	int fd = openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);

	*tmp_name = NULL;
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd >= 0 ? fd : -errno;
	for (int attempt = 0; attempt < 16; attempt++) {
		uint64_t rnd;

		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			return -EIO;
		free(*tmp_name);
		if (asprintf(tmp_name, ".%s.%016" PRIx64 ".tmp", base, rnd) < 0) {
			*tmp_name = NULL;
			return -ENOMEM;
		}
		/* O_EXCL: whatever sits at that name (a planted symlink too) is never opened. */
		fd = openat(dirfd, *tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0644);
		if (fd >= 0 || errno != EEXIST)
			return fd >= 0 ? fd : -errno;
	}
	return -EEXIST;
}

/*
 * The unnamed file gets a random name of its own first: linkat() cannot
 * replace, renameat() can, and replaces in one step.
 */
static int link_temp(int dirfd, int fd, char **tmp_name)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	for (int attempt = 0; attempt < 16; attempt++) {
		uint64_t rnd;

		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			return -EIO;
		free(*tmp_name);
		if (asprintf(tmp_name, ".fornax.%016" PRIx64 ".tmp", rnd) < 0) {
			*tmp_name = NULL;
			return -ENOMEM;
		}
		if (linkat(AT_FDCWD, proc, dirfd, *tmp_name, AT_SYMLINK_FOLLOW) == 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

static int write_file_atomically(const char *path, const void *buf, size_t len)
{
	char *dir = dir_of(path), *tmp = NULL;
	const char *base = base_of(path);
	int dirfd = -1, fd = -1, err;

	if (!dir)
		return -ENOMEM;
	dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		err = -errno;
		goto cleanup;
	}
	fd = open_temp(dirfd, base, &tmp);
	if (fd < 0) {
		err = fd;
		goto cleanup;
	}
	err = write_all(fd, buf, len);
	/* Renamed before it is on disk, a crash could leave an empty file under the name. */
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (!err && !tmp)
		err = link_temp(dirfd, fd, &tmp);
	if (!err && renameat(dirfd, tmp, dirfd, base) < 0)
		err = -errno;
	if (err && tmp)
		unlinkat(dirfd, tmp, 0);
cleanup:
	if (fd >= 0)
		close(fd);
	if (dirfd >= 0)
		close(dirfd);
	free(tmp);
	free(dir);
	return err;
}

/*
 * In place: a FIFO without a reader is an error, not a hang. O_NONBLOCK is
 * for the open only; the write waits for a slow reader.
 */
static int write_stream(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC), flags, err;

	if (fd < 0)
		return -errno;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	err = write_all(fd, buf, len);
	if (close(fd) < 0 && !err)
		err = -errno;
	return err;
}

int output__write_target(const char *path, const void *buf, size_t len)
{
	enum output_target target;
	const char *why;
	int err = output__classify(path, &target, &why);

	if (err)
		return err;
	if (target == OUTPUT_TARGET_STDOUT)
		return write_all(STDOUT_FILENO, buf, len);
	if (target == OUTPUT_TARGET_STREAM)
		return write_stream(path, buf, len);
	return write_file_atomically(path, buf, len);
}
