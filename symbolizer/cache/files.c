// SPDX-License-Identifier: Apache-2.0
/*
 * ELF files: one sym_file per build-id (or per (dev, inode) without one),
 * found through the (dev, inode) of the mappings that name them, and opened
 * through a process that maps them.
 */
#include "cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fileio.h"
#include "procfs.h"
#include "safe_open.h"

/* ---- files ---- */

static bool bid_eq(const void *val, const void *key)
{
	return strcmp(((const struct sym_file *)val)->build_id, key) == 0;
}

void file_close(struct symbolizer *sym, struct sym_file *f)
{
	if (!f->elf)
		return;
	elf_file__free(f->elf);
	f->elf = NULL;
	TAILQ_REMOVE(&sym->open_files, f, open_link);
	sym->n_open--;
	sym->open_bytes -= f->mem;
	sym->closed_bytes += f->mem;
	f->mem = 0;
	sym->stats.evicted_files++;
}

/*
 * Re-reads f's memory estimate; closes others beyond max_dwarf_bytes, but
 * none this cycle has used: the samples of one drain alternate between a
 * few files, and closing one for the next would read each of them again
 * for every switch. Until the cycle ends the budget may be overshot.
 */
void file_account(struct symbolizer *sym, struct sym_file *f)
{
	size_t mem = elf_file__memory(f->elf);
	struct sym_file *lru, *prev;

	sym->open_bytes += mem - f->mem;
	f->mem = mem;
	for (lru = TAILQ_LAST(&sym->open_files, sym_file_list);
	     lru && sym->open_bytes > sym->max_dwarf_bytes; lru = prev) {
		prev = TAILQ_PREV(lru, sym_file_list, open_link);
		if (lru == f || lru->last_used == sym->cycle)
			continue;
		file_close(sym, lru);
		sym->stats.budget_closed_files++;
	}
}

/* Gives f the open session ef, closing the least recently used beyond max_files. */
static void file_attach(struct symbolizer *sym, struct sym_file *f, struct elf_file *ef)
{
	while (sym->n_open >= sym->max_files && !TAILQ_EMPTY(&sym->open_files))
		file_close(sym, TAILQ_LAST(&sym->open_files, sym_file_list));
	f->elf = ef;
	f->mem = 0;
	TAILQ_INSERT_HEAD(&sym->open_files, f, open_link);
	sym->n_open++;
	file_account(sym, f);
}

void file_free(struct symbolizer *sym, struct sym_file *f)
{
	file_close(sym, f);
	if (f->build_id)
		(void)hmap__remove(&sym->files_by_bid, hash_bytes(f->build_id, strlen(f->build_id)), f);
	TAILQ_REMOVE(&sym->files, f, link);
	strtab__clear(&f->strings);
	free(f->build_id);
	free(f->segs);
	free(f);
}

/*
 * The file record for the freshly opened ef: an existing one with the same
 * build-id (ef is then kept only if that one had no open session), or a new
 * one. Consumes ef. NULL on -ENOMEM.
 */
static struct sym_file *file_for_elf(struct symbolizer *sym, struct elf_file *ef)
{
	const char *bid = elf_file__build_id(ef);
	const struct elf_segment *segs;
	struct sym_file *f;
	__u64 h = 0;
	size_t n;

	if (bid) {
		h = hash_bytes(bid, strlen(bid));
		f = hmap__find(&sym->files_by_bid, h, bid_eq, bid);
		if (f) {
			if (!f->elf)
				file_attach(sym, f, ef);
			else
				elf_file__free(ef);
			return f;
		}
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		goto err_free;
	segs = elf_file__segments(ef, &n);
	f->segs = calloc(n ? n : 1, sizeof(*f->segs));
	if (!f->segs)
		goto err_free;
	memcpy(f->segs, segs, n * sizeof(*segs));
	f->n_segs = n;
	if (bid) {
		f->build_id = strdup(bid);
		if (!f->build_id || hmap__insert(&sym->files_by_bid, h, f))
			goto err_free;
	}
	f->last_used = sym->cycle;
	TAILQ_INSERT_HEAD(&sym->files, f, link);
	file_attach(sym, f, ef);
	return f;

err_free:
	if (f) {
		free(f->build_id);
		free(f->segs);
		free(f);
	}
	elf_file__free(ef);
	return NULL;
}

void file_unref(struct sym_file *f)
{
	if (f && f->refs)
		f->refs--;
}

/* ---- devinos ---- */

struct devino_key {
	__u64 dev, ino;
};

static __u64 devino_hash(__u64 dev, __u64 ino)
{
	return hash_pair(dev, ino);
}

static bool devino_eq(const void *val, const void *key)
{
	const struct sym_devino *dv = val;
	const struct devino_key *k = key;

	return dv->dev == k->dev && dv->ino == k->ino;
}

struct sym_devino *devino_find(struct symbolizer *sym, __u64 dev, __u64 ino)
{
	struct devino_key key = { .dev = dev, .ino = ino };

	return hmap__find(&sym->devinos, devino_hash(dev, ino), devino_eq, &key);
}

struct sym_devino *devino_get(struct symbolizer *sym, __u64 dev, __u64 ino, const char *path)
{
	struct sym_devino *dv = devino_find(sym, dev, ino);

	if (dv)
		return dv;
	dv = calloc(1, sizeof(*dv));
	if (!dv)
		return NULL;
	dv->dev = dev;
	dv->ino = ino;
	dv->last_used = sym->cycle;
	dv->path = strdup(path);
	if (!dv->path || hmap__insert(&sym->devinos, devino_hash(dev, ino), dv)) {
		free(dv->path);
		free(dv);
		return NULL;
	}
	TAILQ_INSERT_HEAD(&sym->devino_list, dv, link);
	return dv;
}

void devino_free(struct symbolizer *sym, struct sym_devino *dv)
{
	(void)hmap__remove(&sym->devinos, devino_hash(dv->dev, dv->ino), dv);
	TAILQ_REMOVE(&sym->devino_list, dv, link);
	file_unref(dv->file);
	free(dv->path);
	free(dv);
}

/* ---- opening ---- */

/*
 * An fd for the file behind mapping m as process (pid, start_ticks) sees it
 * (procfs__open_mapped: its map_files entry when own_mapping, else its
 * root), and in *debug_path where its debug link is looked for. -ESRCH if
 * the process is no longer there.
 */
static int open_mapping_fd(struct symbolizer *sym, __u32 pid, __u64 start_ticks,
			   const struct proc_mapping *m, bool own_mapping, char **debug_path,
			   size_t *root_len)
{
	int dirfd, fd;

	*debug_path = NULL;
	*root_len = 0;
	dirfd = procfs__open_same(sym->proc_root, pid, start_ticks);
	if (dirfd < 0)
		return dirfd;
	fd = procfs__open_mapped(dirfd, own_mapping ? m->pub.start : 0, m->pub.limit, m->pub.path,
				 m->dv->ino, NULL);
	close(dirfd);
	if (fd >= 0 && asprintf(debug_path, "%s/%u/root%s", sym->proc_root, pid, m->pub.path) < 0) {
		*debug_path = NULL;
		close(fd);
		return -ENOMEM;
	}
	if (fd >= 0)
		*root_len = strlen(*debug_path) - strlen(m->pub.path);
	return fd;
}

/* The vdso image of p, copied from its memory into a memfd. */
static int open_vdso_fd(struct symbolizer *sym, struct sym_proc *p, const struct proc_mapping *m)
{
	void *image = NULL;
	size_t len = 0;
	int dirfd, fd, err;

	dirfd = procfs__open_same(sym->proc_root, p->pid, p->start_ticks);
	if (dirfd < 0)
		return dirfd;
	err = procfs__read_vdso(dirfd, m->pub.start, m->pub.limit, &image, &len);
	close(dirfd);
	if (err)
		return err;
	fd = memfd_create("fornax-vdso", MFD_CLOEXEC);
	err = fd < 0 ? -errno : write_all(fd, image, len);
	free(image);
	if (err) {
		if (fd >= 0)
			close(fd);
		return err;
	}
	return fd;
}

/*
 * p is gone: the file it mapped, through another process that opened it
 * (its root, verified by inode), or by its path if the host sees the very
 * same file there (device and inode). -ESRCH when neither works.
 */
static int open_devino_elsewhere(struct symbolizer *sym, const struct sym_proc *p,
				 const struct sym_devino *dv, const struct proc_mapping *m,
				 char **debug_path, size_t *root_len)
{
	struct safe_open_opts opts = {
		.ino = dv->ino,
		.dev = makedev(dv->dev >> 32, dv->dev & 0xffffffffu),
	};
	int root, fd = -ESRCH;

	if (dv->opener_pid &&
	    (dv->opener_pid != p->pid || !procfs__ticks_match(dv->opener_ticks, p->start_ticks)))
		fd = open_mapping_fd(sym, dv->opener_pid, dv->opener_ticks, m, false, debug_path,
				     root_len);
	if (fd >= 0 || fd == -ENOMEM)
		return fd;
	if (!dv->path || dv->path[0] != '/')
		return -ESRCH;
	/*
	 * Resolved on the host, but only the very file the kernel reported is
	 * accepted, and nothing is opened before its (device, inode) is checked:
	 * a container's path that names another host file opens nothing.
	 */
	root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -ESRCH;
	fd = safe_open__in_root(root, dv->path, &opts, NULL);
	close(root);
	if (fd < 0)
		return fd == -ENOMEM ? fd : -ESRCH;
	*root_len = 0;
	*debug_path = strdup(dv->path);
	if (!*debug_path) {
		close(fd);
		return -ENOMEM;
	}
	return fd;
}

/* Opens the ELF behind m. NULL with *err: -ESRCH (p gone), -ENOMEM, other. */
static struct elf_file *open_mapping_elf(struct symbolizer *sym, struct sym_proc *p,
					 const struct proc_mapping *m, int *err)
{
	struct elf_file_opts opts = sym->elf_opts;
	char *debug_path = NULL;
	struct elf_file *ef;
	int fd;

	if (m->kind == MAPPING_VDSO) {
		fd = open_vdso_fd(sym, p, m);
	} else {
		fd = open_mapping_fd(sym, p->pid, p->start_ticks, m, true, &debug_path,
				     &opts.root_len);
		if (fd >= 0) {
			m->dv->opener_pid = p->pid;
			m->dv->opener_ticks = p->start_ticks;
		} else if (fd == -ESRCH) {
			p->gone = true;
			fd = open_devino_elsewhere(sym, p, m->dv, m, &debug_path, &opts.root_len);
		}
	}
	if (fd < 0) {
		*err = fd;
		if (fd == -ESRCH)
			p->gone = true;
		return NULL;
	}
	ef = elf_file__open(fd, debug_path ? debug_path : "", &opts);
	*err = ef ? 0 : -errno;
	free(debug_path);
	return ef;
}

/* The vdso's file: the one every process of the ABI shares, else read from p. */
static struct sym_file *vdso_file(struct symbolizer *sym, struct sym_proc *p,
				  const struct proc_mapping *m, int *err)
{
	__u64 size = m->pub.limit - m->pub.start;
	struct elf_file *ef;

	if (p->vdso_tried)
		return p->vdso;
	p->vdso_tried = true;
	if (sym->vdso_file && sym->vdso_size == size) {
		p->vdso = sym->vdso_file;
		p->vdso->refs++;
		return p->vdso;
	}
	ef = open_mapping_elf(sym, p, m, err);
	if (!ef) {
		if (*err != -ENOMEM)
			sym->stats.file_open_errors++;
		return NULL;
	}
	p->vdso = file_for_elf(sym, ef);
	if (!p->vdso) {
		*err = -ENOMEM;
		return NULL;
	}
	p->vdso->refs++;
	if (!sym->vdso_file) {
		sym->vdso_file = p->vdso;
		sym->vdso_size = size;
		p->vdso->refs++;
	}
	return p->vdso;
}

struct sym_file *mapping_file(struct symbolizer *sym, struct sym_proc *p,
			      const struct proc_mapping *m, int *err)
{
	struct sym_devino *dv = m->dv;
	struct elf_file *ef;
	struct sym_file *f;

	*err = 0;
	if (m->kind == MAPPING_VDSO)
		return vdso_file(sym, p, m, err);
	if (m->kind != MAPPING_FILE)
		return NULL;
	dv->last_used = sym->cycle;
	if (dv->file)
		return dv->file;
	if (dv->failed && !sym_idle(sym, dv->failed_cycle))
		return NULL;
	ef = open_mapping_elf(sym, p, m, err);
	if (!ef) {
		if (*err == -ENOMEM)
			return NULL;
		if (*err != -ESRCH) {
			/* the file's fault, not the process's: negative entry */
			dv->failed = true;
			dv->failed_cycle = sym->cycle;
			sym->stats.file_open_errors++;
		}
		*err = 0;
		return NULL;
	}
	dv->failed = false;
	f = file_for_elf(sym, ef);
	if (!f) {
		*err = -ENOMEM;
		return NULL;
	}
	dv->file = f;
	f->refs++;
	return f;
}

int file_reopen(struct symbolizer *sym, struct sym_proc *p, const struct proc_mapping *m,
		struct sym_file *f)
{
	struct elf_file *ef;
	const char *bid;
	int err;

	ef = open_mapping_elf(sym, p, m, &err);
	if (!ef) {
		if (err != -ENOMEM && err != -ESRCH)
			sym->stats.file_open_errors++;
		return err == -ENOMEM ? err : -ENOENT;
	}
	bid = elf_file__build_id(ef);
	if ((bid || f->build_id) && (!bid || !f->build_id || strcmp(bid, f->build_id) != 0)) {
		/* replaced in place under the same inode */
		elf_file__free(ef);
		sym->stats.file_open_errors++;
		return -ENOENT;
	}
	file_attach(sym, f, ef);
	return 0;
}
