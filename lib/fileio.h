/* SPDX-License-Identifier: Apache-2.0 */
/* Whole reads and writes of file descriptors, retried on EINTR and short counts. */
#ifndef FORNAX_BASE_FILEIO_H
#define FORNAX_BASE_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* Writes all of buf. 0, or -errno (-EIO if the file takes nothing). */
int write_all(int fd, const void *buf, size_t len);

/*
 * Reads exactly len bytes at offset off. 0, -errno, or -EIO when the file
 * ends first.
 */
int pread_all(int fd, void *buf, size_t len, off_t off);

/*
 * Reads fd from its position to the end into *buf (malloc'ed, with a NUL
 * after the data that *len does not count). 0, -EFBIG if the data is longer
 * than max bytes, -ENOMEM, or the read error.
 */
int read_fd_all(int fd, size_t max, void **buf, size_t *len);

/* read_fd_all() of path, opened O_RDONLY|O_CLOEXEC|O_NOCTTY. */
int read_file_all(const char *path, size_t max, void **buf, size_t *len);

/* mkdir -p: path and every missing parent with mode. 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);

/*
 * 0 if the directory dir_fd is this user's alone (owned by it, writable by
 * no one else); -EPERM if not: another user could plant links, FIFOs or
 * files of their choosing in it. Or fstat's -errno.
 */
int check_private_dir(int dir_fd);

#endif /* FORNAX_BASE_FILEIO_H */
