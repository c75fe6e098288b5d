// SPDX-License-Identifier: Apache-2.0
#include "perfmap_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "procfs.h"

#define READ_CHUNK (64u << 10)

int perfmap_file__open(int dirfd, __u32 pid, struct stat *st)
{
	struct stat dst;
	char *name;
	int fd;

	if (fstat(dirfd, &dst) != 0)
		return -errno;
	if (asprintf(&name, "root/tmp/perf-%u.map", procfs__nspid(dirfd, pid)) < 0)
		return -ENOMEM;
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	free(name);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) != 0) {
		close(fd);
		return -ENOENT;
	}
	if (!S_ISREG(st->st_mode) || (st->st_uid != 0 && st->st_uid != dst.st_uid)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

int perfmap_file__read(struct perfmap *pm, int fd, __u64 *offset, __u64 max_bytes)
{
	char *buf = malloc(READ_CHUNK);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	while (*offset < max_bytes) {
		ssize_t n = pread(fd, buf, READ_CHUNK, (off_t)*offset), used;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used = perfmap__parse(pm, buf, (size_t)n);
		if (used < 0) {
			err = (int)used;
			break;
		}
		if (used == 0) {
			if (n < READ_CHUNK)
				break; /* a line still being written */
			used = n; /* a line longer than a chunk is no symbol: skip it */
		}
		*offset += (__u64)used;
	}
	free(buf);
	return err;
}
