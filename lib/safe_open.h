/* SPDX-License-Identifier: Apache-2.0 */
#ifndef FORNAX_SAFE_OPEN_H
#define FORNAX_SAFE_OPEN_H
/*
 * Opening files that another user or a container controls.
 *
 * The agent is root and reads binaries, debug files, perf maps, token files
 * and spool entries that others may replace at any moment: by a symlink out
 * of their container, a FIFO, a device, a terminal, a hard link to a file of
 * root's. Every such open goes through here:
 *
 * - the path is resolved inside a root directory (a process's /proc/PID/root,
 *   or a directory of the agent's own): absolute symlinks and ".." stop at that
 *   root and procfs magic links are not followed. openat2(RESOLVE_IN_ROOT |
 *   RESOLVE_NO_MAGICLINKS) where the kernel has it (5.6+); elsewhere, or where
 *   a seccomp filter refuses it, a walk of one component at a time with
 *   O_PATH | O_NOFOLLOW that reads each symlink itself, at most 40 of them;
 * - what the path names is reached with O_PATH, which opens nothing, and
 *   checked with fstat(); only a regular file that passes every check is then
 *   opened for reading, with O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC. A
 *   FIFO cannot block the caller, a device is never opened, a terminal never
 *   becomes the agent's controlling terminal;
 * - the checks: the (device, inode) the kernel reported for a mapping, the
 *   owner, a single link, a size bound.
 *
 * Read what it opens with bounds (fileio.h: read_fd_all(), pread_all()), never
 * through a mapping of the file, which its owner turns into SIGBUS by
 * truncating it.
 *
 * Functions return an fd or 0 on success, -errno on failure:
 *   -ENOENT, -ENOTDIR, -ELOOP, -ENAMETOOLONG   resolution
 *   -EISDIR, -EBADFD                           a directory / not a regular file
 *   -ESTALE                                    not the expected (device, inode)
 *   -EPERM                                     the owner policy refused it
 *   -EMLINK                                    more than one link (SAFE_OPEN_SINGLE_LINK)
 *   -EFBIG                                     larger than the size bound
 */
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <linux/types.h>

enum safe_open_owner {
	SAFE_OPEN_OWNER_ANY = 0,
	SAFE_OPEN_OWNER_UID,         /* owned by opts->uid */
	SAFE_OPEN_OWNER_UID_OR_ROOT, /* by opts->uid or by root */
};

enum safe_open_flags {
	SAFE_OPEN_SINGLE_LINK = 1 << 0,  /* refuse a file with more than one name */
	SAFE_OPEN_NO_MAP_FILES = 1 << 1, /* safe_open__mapping(): by path only */
	SAFE_OPEN_NO_OPENAT2 = 1 << 2,   /* the component walk even where openat2() works */
	SAFE_OPEN_NO_FOLLOW = 1 << 3,    /* the last component may not be a symlink (-ELOOP,
					  * or -EBADFD through openat2()) */
};

struct safe_open_opts {
	__u64 ino;      /* the inode the file must have; 0: any */
	dev_t dev;      /* the device it must be on, as st_dev; 0: any (overlayfs and
			 * btrfs report another st_dev than /proc/PID/maps) */
	enum safe_open_owner owner;
	uid_t uid;
	__u64 max_size; /* refuse larger files; 0: any size */
	unsigned int flags; /* enum safe_open_flags */
};

/*
 * Opens path (absolute or not, it makes no difference) inside the directory
 * root_fd, which may be an O_PATH fd. opts may be NULL. On success *st, if
 * given, is the opened file's stat.
 */
int safe_open__in_root(int root_fd, const char *path, const struct safe_open_opts *opts,
		       struct stat *st);

/* The root directory of the process whose /proc/PID directory is pid_dirfd, as an O_PATH fd. */
int safe_open__proc_root(int pid_dirfd);

/*
 * The file a process maps at [start, end): /proc/PID/map_files/<start>-<end>
 * (the mapped file itself, even deleted or in another mount namespace) where
 * the kernel lets the agent use it, else path inside the process's root.
 * Give opts->ino: by the time of the open, the path may name another file.
 */
int safe_open__mapping(int pid_dirfd, __u64 start, __u64 end, const char *path,
		       const struct safe_open_opts *opts, struct stat *st);

/*
 * Whether name is a single path component: not empty, not "." or "..", no
 * '/', at most NAME_MAX bytes. A .gnu_debuglink name must be one.
 */
bool safe_open__is_component(const char *name);

#endif /* FORNAX_SAFE_OPEN_H */
