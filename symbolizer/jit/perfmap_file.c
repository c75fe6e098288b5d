// SPDX-License-Identifier: Apache-2.0
#include "perfmap_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "procfs.h"
#include "safe_open.h"

#define READ_CHUNK (64u << 10)

int perfmap_file__open(int dirfd, __u32 pid, struct stat *st)
{
	/* not a symlink: that would let the process's owner name any file of root's */
	struct safe_open_opts opts = {
		.owner = SAFE_OPEN_OWNER_UID_OR_ROOT,
		.flags = SAFE_OPEN_NO_FOLLOW,
	};
	struct stat dst;
	char name[64];
	int root, fd;

	if (fstat(dirfd, &dst) != 0)
		return -errno;
	opts.uid = dst.st_uid;
	snprintf(name, sizeof(name), "/tmp/perf-%u.map", procfs__nspid(dirfd, pid));
	/* in the process's root: a container's /tmp may be a symlink to a host directory */
	root = safe_open__proc_root(dirfd);
	if (root < 0)
		return root;
	fd = safe_open__in_root(root, name, &opts, st);
	close(root);
	return fd == -EBADFD || fd == -EISDIR || fd == -ELOOP ? -EPERM : fd;
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
