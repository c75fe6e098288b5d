// SPDX-License-Identifier: Apache-2.0
#include "safe_open.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

/* What the kernel allows a path lookup: 40 symlinks (MAXSYMLINKS). */
#define MAX_SYMLINKS 40
/* Directories the component walk holds open at once: the depth ".." can climb back. */
#define MAX_DEPTH 64
/* openat2() answers EAGAIN when a rename anywhere races RESOLVE_IN_ROOT. */
#define OPENAT2_TRIES 8

/* 0: not tried yet, 1: works, -1: the kernel (or a seccomp filter) refuses it */
static int openat2_state;

static int check_stat(const struct stat *st, const struct safe_open_opts *o)
{
	if (S_ISDIR(st->st_mode))
		return -EISDIR;
	if (!S_ISREG(st->st_mode))
		return -EBADFD;
	if ((o->ino && (__u64)st->st_ino != o->ino) || (o->dev && st->st_dev != o->dev))
		return -ESTALE;
	if ((o->owner == SAFE_OPEN_OWNER_UID && st->st_uid != o->uid) ||
	    (o->owner == SAFE_OPEN_OWNER_UID_OR_ROOT && st->st_uid != o->uid && st->st_uid != 0))
		return -EPERM;
	if ((o->flags & SAFE_OPEN_SINGLE_LINK) && st->st_nlink != 1)
		return -EMLINK;
	if (o->max_size && (__u64)st->st_size > o->max_size)
		return -EFBIG;
	return 0;
}

/*
 * path_fd (O_PATH) checked, then opened for reading. Through /proc/self/fd,
 * which reopens the very inode path_fd holds, so nothing can be swapped in
 * between the check and the open.
 */
static int reopen_checked(int path_fd, const struct safe_open_opts *o, struct stat *out)
{
	struct stat st, st2;
	char proc[32];
	int fd, err;

	if (fstat(path_fd, &st) < 0)
		return -errno;
	err = check_stat(&st, o);
	if (err)
		return err;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", path_fd);
	fd = open(proc, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st2) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	if (st2.st_ino != st.st_ino || st2.st_dev != st.st_dev || !S_ISREG(st2.st_mode)) {
		close(fd);
		return -ESTALE;
	}
	if (out)
		*out = st2;
	return fd;
}

/* An O_PATH fd of what path names inside root_fd, or -errno; -ENOSYS: use the walk. */
static int resolve_openat2(int root_fd, const char *path, unsigned int flags)
{
	struct open_how how = {
		/* O_NOFOLLOW with O_PATH: the symlink itself, refused as not a regular file */
		.flags = O_PATH | O_CLOEXEC | (flags & SAFE_OPEN_NO_FOLLOW ? O_NOFOLLOW : 0),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd = -1;

	if (__atomic_load_n(&openat2_state, __ATOMIC_RELAXED) < 0)
		return -ENOSYS;
	for (int i = 0; i < OPENAT2_TRIES; i++) {
		fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	if (fd >= 0) {
		__atomic_store_n(&openat2_state, 1, __ATOMIC_RELAXED);
		return fd;
	}
	switch (errno) {
	case ENOSYS: /* before 5.6 */
	case E2BIG:  /* a struct open_how this kernel does not know */
	case EPERM:  /* container runtimes' seccomp filters answer EPERM to new syscalls */
		if (__atomic_load_n(&openat2_state, __ATOMIC_RELAXED) == 0) {
			__atomic_store_n(&openat2_state, -1, __ATOMIC_RELAXED);
			return -ENOSYS;
		}
		return -errno;
	case EAGAIN: /* renames kept racing: the walk does not depend on them */
		return -ENOSYS;
	default:
		return -errno;
	}
}

struct walk {
	int dirs[MAX_DEPTH]; /* dirs[0] is the root; each next one opened from the one before */
	int depth;           /* dirs[depth] is the current directory */
	char *rest;          /* what is left of the path, symlink targets spliced in */
	int links;
	bool no_follow;      /* SAFE_OPEN_NO_FOLLOW: a symlink as the last component is refused */
};

static void walk_pop_to(struct walk *w, int depth)
{
	while (w->depth > depth)
		close(w->dirs[w->depth--]);
}

/* rest = target + "/" + rest, bounded by PATH_MAX; an absolute target restarts at the root. */
static int walk_splice(struct walk *w, const char *target, size_t len)
{
	size_t rest_len = strlen(w->rest);
	char *next;

	if (len + 1 + rest_len >= PATH_MAX)
		return -ENAMETOOLONG;
	next = malloc(len + 1 + rest_len + 1);
	if (!next)
		return -ENOMEM;
	memcpy(next, target, len);
	next[len] = '/';
	memcpy(next + len + 1, w->rest, rest_len + 1);
	free(w->rest);
	w->rest = next;
	if (target[0] == '/')
		walk_pop_to(w, 0);
	return 0;
}

/* The next component of w->rest into comp (NUL-terminated); false at the end. */
static bool walk_next(struct walk *w, char *comp)
{
	char *p = w->rest, *end;
	size_t len;

	for (;;) {
		while (*p == '/')
			p++;
		if (!*p) {
			w->rest[0] = '\0';
			return false;
		}
		end = strchrnul(p, '/');
		len = (size_t)(end - p);
		if (len == 1 && p[0] == '.') {
			p = end;
			continue;
		}
		break;
	}
	/* a component longer than NAME_MAX fails openat() with ENAMETOOLONG */
	if (len > NAME_MAX)
		len = NAME_MAX + 1;
	memcpy(comp, p, len);
	comp[len] = '\0';
	memmove(w->rest, end, strlen(end) + 1);
	return true;
}

static bool walk_more(const struct walk *w)
{
	for (const char *p = w->rest; *p; p++) {
		if (*p != '/' && !(*p == '.' && (p[1] == '/' || !p[1])))
			return true;
	}
	return false;
}

/* One component: descends, climbs, or splices a symlink in. 1 when the final file is in *out. */
static int walk_step(struct walk *w, const char *comp, int *out)
{
	char target[PATH_MAX];
	struct stat st;
	ssize_t n;
	int fd, err;

	if (strcmp(comp, "..") == 0) {
		/* the directory it came from: a directory moved away cannot lead out */
		walk_pop_to(w, w->depth > 0 ? w->depth - 1 : 0);
		return 0;
	}
	fd = openat(w->dirs[w->depth], comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto fail;
	}
	if (S_ISLNK(st.st_mode)) {
		/* procfs magic links read as text too: never a jump out of the root */
		if (++w->links > MAX_SYMLINKS || (w->no_follow && !walk_more(w))) {
			err = -ELOOP;
			goto fail;
		}
		n = readlinkat(fd, "", target, sizeof(target));
		err = n < 0 ? -errno : n == 0 ? -ENOENT : n >= (ssize_t)sizeof(target) ? -ENAMETOOLONG
											: 0;
		close(fd);
		return err ? err : walk_splice(w, target, (size_t)n);
	}
	if (S_ISDIR(st.st_mode) && walk_more(w)) {
		if (w->depth + 1 >= MAX_DEPTH) {
			err = -ENAMETOOLONG;
			goto fail;
		}
		w->dirs[++w->depth] = fd;
		return 0;
	}
	if (!S_ISDIR(st.st_mode) && walk_more(w)) {
		err = -ENOTDIR;
		goto fail;
	}
	*out = fd;
	return 1;
fail:
	close(fd);
	return err;
}

/* An O_PATH fd of what path names inside root_fd, resolved one component at a time. */
static int resolve_walk(int root_fd, const char *path, unsigned int flags)
{
	struct walk w = { .dirs = { root_fd }, .no_follow = flags & SAFE_OPEN_NO_FOLLOW };
	char comp[NAME_MAX + 2];
	int fd = -1, err = 0;

	if (strlen(path) >= PATH_MAX)
		return -ENAMETOOLONG;
	w.rest = strdup(path);
	if (!w.rest)
		return -ENOMEM;
	while (err == 0) {
		if (!walk_next(&w, comp)) {
			/* the path named a directory (the root, at least) */
			err = -EISDIR;
			break;
		}
		err = walk_step(&w, comp, &fd);
	}
	walk_pop_to(&w, 0);
	free(w.rest);
	return err == 1 ? fd : err;
}

int safe_open__in_root(int root_fd, const char *path, const struct safe_open_opts *opts,
		       struct stat *st)
{
	static const struct safe_open_opts defaults;
	const struct safe_open_opts *o = opts ? opts : &defaults;
	int path_fd = -ENOSYS, fd;

	if (root_fd < 0 || !path)
		return -EINVAL;
	if (!(o->flags & SAFE_OPEN_NO_OPENAT2))
		path_fd = resolve_openat2(root_fd, path, o->flags);
	if (path_fd == -ENOSYS)
		path_fd = resolve_walk(root_fd, path, o->flags);
	if (path_fd < 0)
		return path_fd;
	fd = reopen_checked(path_fd, o, st);
	close(path_fd);
	return fd;
}

int safe_open__proc_root(int pid_dirfd)
{
	int fd = openat(pid_dirfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int safe_open__mapping(int pid_dirfd, __u64 start, __u64 end, const char *path,
		       const struct safe_open_opts *opts, struct stat *st)
{
	static const struct safe_open_opts defaults;
	const struct safe_open_opts *o = opts ? opts : &defaults;
	int path_fd, root_fd, fd;
	char name[64];

	if (!(o->flags & SAFE_OPEN_NO_MAP_FILES)) {
		snprintf(name, sizeof(name), "map_files/%llx-%llx", (unsigned long long)start,
			 (unsigned long long)end);
		/* the kernel's own link to the mapped file: the one jump that is wanted */
		path_fd = openat(pid_dirfd, name, O_PATH | O_CLOEXEC);
		if (path_fd >= 0) {
			fd = reopen_checked(path_fd, o, st);
			close(path_fd);
			return fd;
		}
		/* EPERM: no CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE; ENOENT: unmapped since */
		if (errno != EPERM && errno != EACCES && errno != ENOENT)
			return -errno;
	}
	if (!path || path[0] != '/')
		return -ENOENT;
	root_fd = safe_open__proc_root(pid_dirfd);
	if (root_fd < 0)
		return root_fd;
	fd = safe_open__in_root(root_fd, path, o, st);
	close(root_fd);
	return fd;
}

bool safe_open__is_component(const char *name)
{
	size_t len = name ? strnlen(name, NAME_MAX + 1) : 0;

	return len > 0 && len <= NAME_MAX && !memchr(name, '/', len) && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0;
}
