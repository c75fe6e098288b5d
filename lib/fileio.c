// SPDX-License-Identifier: Apache-2.0
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_START_BYTES 4096

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int pread_all(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

int read_fd_all(int fd, size_t max, void **buf, size_t *len)
{
	size_t cap = 0, used = 0;
	char *data = NULL;
	int err;

	if (max > SIZE_MAX / 2)
		max = SIZE_MAX / 2;
	for (;;) {
		ssize_t n;

		/* one byte beyond max tells a file of exactly max bytes from a longer one */
		if (used + 1 >= cap) {
			size_t want = cap ? cap * 2 : READ_START_BYTES;
			char *grown;

			if (cap > max + 1) {
				err = -EFBIG;
				goto cleanup;
			}
			if (want > max + 2)
				want = max + 2;
			grown = realloc(data, want);
			if (!grown) {
				err = -ENOMEM;
				goto cleanup;
			}
			data = grown;
			cap = want;
		}
		n = read(fd, data + used, cap - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto cleanup;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max) {
			err = -EFBIG;
			goto cleanup;
		}
	}
	data[used] = '\0';
	*buf = data;
	*len = used;
	return 0;

cleanup:
	free(data);
	return err;
}

int read_file_all(const char *path, size_t max, void **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int err;

	if (fd < 0)
		return -errno;
	err = read_fd_all(fd, max, buf, len);
	close(fd);
	return err;
}

int mkdir_p(const char *path, mode_t mode)
{
	char *copy = strdup(path);
	int err = 0;

	if (!copy)
		return -ENOMEM;
	for (char *p = copy + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST) {
			err = -errno;
			break;
		}
		*p = c;
		if (!c)
			break;
	}
	free(copy);
	return err;
}

int check_private_dir(int dir_fd)
{
	struct stat st;

	if (fstat(dir_fd, &st) < 0)
		return -errno;
	if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return -EPERM;
	return 0;
}
