// SPDX-License-Identifier: Apache-2.0
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "safe_open.h"
#include "timeconst.h"

#define STAT_START_FIELD 22

__u64 procfs__ns_per_tick(void)
{
	long tck = sysconf(_SC_CLK_TCK);

	/* a rate that does not divide a second is not one the kernel uses */
	if (tck <= 0 || NSEC_PER_SEC % (__u64)tck)
		tck = 100;
	return NSEC_PER_SEC / (__u64)tck;
}

bool procfs__ticks_match(__u64 a, __u64 b)
{
	return a > b ? a - b <= 1 : b - a <= 1;
}

int procfs__open(const char *proc_root, __u32 pid)
{
	char *path;
	int fd, err;

	if (asprintf(&path, "%s/%u", proc_root, pid) < 0)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = -errno;
	free(path);
	return fd >= 0 ? fd : err;
}

int procfs__start_ticks(int dirfd, __u64 *ticks)
{
	char buf[1024]; /* the stat line is bounded: 52 numbers and a 16-byte comm */
	char *p, *end, *save = NULL, *tok;
	ssize_t n;
	int fd, i;

	fd = openat(dirfd, "stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do {
		n = read(fd, buf, sizeof(buf) - 1);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	buf[n] = '\0';
	/* comm may hold spaces and ')': fields resume after the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	for (i = 3, tok = strtok_r(p + 1, " ", &save); tok && i < STAT_START_FIELD; i++)
		tok = strtok_r(NULL, " ", &save);
	if (!tok)
		return -EINVAL;
	errno = 0;
	*ticks = strtoull(tok, &end, 10);
	if (errno || end == tok || (*end && *end != ' ' && *end != '\n'))
		return -EINVAL;
	return 0;
}

int procfs__open_same(const char *proc_root, __u32 pid, __u64 ticks)
{
	__u64 now;
	int dirfd = procfs__open(proc_root, pid);

	if (dirfd < 0)
		return dirfd == -ENOMEM ? dirfd : -ESRCH;
	if (procfs__start_ticks(dirfd, &now) || !procfs__ticks_match(now, ticks)) {
		close(dirfd);
		return -ESRCH;
	}
	return dirfd;
}

struct procmaps *procfs__read_maps(int dirfd, unsigned flags)
{
	struct procmaps *pm;
	FILE *f;
	int fd, err;

	fd = openat(dirfd, "maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	f = fdopen(fd, "re");
	if (!f) {
		err = errno;
		close(fd);
		errno = err;
		return NULL;
	}
	pm = procmaps__parse_file(f, flags);
	err = errno;
	fclose(f);
	errno = err;
	return pm;
}

int procfs__open_mapped(int dirfd, __u64 start, __u64 end, const char *path, __u64 ino,
			struct stat *st)
{
	/* the inode must be the mapped one (st_dev differs on btrfs and overlayfs) */
	struct safe_open_opts opts = {
		.ino = ino,
		.flags = start ? 0 : SAFE_OPEN_NO_MAP_FILES,
	};
	int fd = safe_open__mapping(dirfd, start, end, path, &opts, st);

	return fd == -EBADFD || fd == -EISDIR ? -ESTALE : fd;
}

int procfs__read_mem(int dirfd, __u64 addr, void *buf, size_t len)
{
	int fd, err;

	if (addr > INT64_MAX)
		return -EINVAL;
	fd = openat(dirfd, "mem", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = pread_all(fd, buf, len, (off_t)addr);
	close(fd);
	return err;
}

int procfs__read_vdso(int dirfd, __u64 start, __u64 end, void **image, size_t *len)
{
	size_t n = end > start ? (size_t)(end - start) : 0;
	void *buf;
	int err;

	if (!n || end - start > PROCFS_VDSO_MAX_BYTES)
		return -EINVAL;
	buf = malloc(n);
	if (!buf)
		return -ENOMEM;
	err = procfs__read_mem(dirfd, start, buf, n);
	if (err) {
		free(buf);
		return err;
	}
	*image = buf;
	*len = n;
	return 0;
}

int procfs__read_exe(int dirfd, void *buf, size_t len)
{
	int fd = openat(dirfd, "exe", O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	int err;

	if (fd < 0)
		return -errno;
	err = pread_all(fd, buf, len, 0);
	close(fd);
	return err;
}

__u32 procfs__nspid(int dirfd, __u32 pid)
{
	char *line = NULL, *p, *end;
	unsigned long v, last = pid;
	size_t cap = 0;
	FILE *f;
	int fd;

	fd = openat(dirfd, "status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pid;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return pid;
	}
	while (getline(&line, &cap, f) > 0) {
		if (strncmp(line, "NSpid:", 6) != 0)
			continue;
		for (p = line + 6;; p = end) {
			errno = 0;
			v = strtoul(p, &end, 10);
			if (end == p || errno || v > UINT32_MAX)
				break;
			last = v;
		}
		break;
	}
	free(line);
	fclose(f);
	return (__u32)last;
}
