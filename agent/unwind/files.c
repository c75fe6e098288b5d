// SPDX-License-Identifier: Apache-2.0
/*
 * Files by (device, inode), as processes' maps name them: each opened once,
 * through a process that maps it (procfs), and pointed at its table. The
 * vdso is read from a process's memory.
 */
#include "unwind_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "procfs.h"

static __u64 devino_hash(const struct devino_key *k)
{
	return hash_pair(k->dev, k->ino);
}

static bool devino_eq(const void *val, const void *key)
{
	const struct devino_key *a = &((const struct udevino *)val)->key, *b = key;

	return a->dev == b->dev && a->ino == b->ino;
}

static struct udevino *devino_find(struct unwinder *u, const struct devino_key *key)
{
	return hmap__find(&u->devinos, devino_hash(key), devino_eq, key);
}

static int devino_link(struct unwinder *u, struct udevino *d)
{
	int err = hmap__insert(&u->devinos, devino_hash(&d->key), d);

	if (!err)
		TAILQ_INSERT_TAIL(&u->devino_list, d, link);
	return err;
}

static void devino_unlink(struct unwinder *u, struct udevino *d)
{
	(void)hmap__remove(&u->devinos, devino_hash(&d->key), d);
	TAILQ_REMOVE(&u->devino_list, d, link);
}

/* The kernel's encoding of a device number (MKDEV), as a VMA's inode has it. */
static struct fornax_file_id kernel_file_id(const struct devino_key *k)
{
	return (struct fornax_file_id){
		.dev = ((__u64)major(k->dev) << 20) | minor(k->dev),
		.ino = k->ino,
	};
}

/*
 * Tells the walker which table d's file has, for processes it meets before
 * the agent has described them (bpf/unwind_vmas.bpf.h). Once per file whose
 * table is ready; the entry goes when the file does.
 */
static void devino_publish(struct unwinder *u, struct udevino *d)
{
	const struct utable *t = d->table;
	struct fornax_file_id id = kernel_file_id(&d->key);
	struct fornax_unwind_file f = { 0 };

	if (d->published || !t || t->state != TABLE_READY)
		return;
	f.table = t->first_slot;
	f.n_buckets = t->n_buckets;
	f.flags = t->shift << FORNAX_MAPPING_SHIFT_BIT;
	for (size_t i = 0; i < t->n_segs && f.n_segs < FORNAX_UNWIND_FILE_SEGS; i++) {
		const struct useg *s = &t->segs[i];

		/* as fill_entry() in procs.c: origin = start - pgoff + bias */
		f.segs[f.n_segs++] = (struct fornax_unwind_file_seg){
			.offset = s->offset,
			.filesz = s->filesz,
			.bias = (__s64)(t->origin - s->vaddr + s->offset),
		};
	}
	if (bpf_map_update_elem(u->maps.files, &id, &f, BPF_ANY)) {
		STAT_ADD(u, errors, 1);
		return;
	}
	d->published = true;
}

static void devino_unpublish(struct unwinder *u, struct udevino *d)
{
	struct fornax_file_id id = kernel_file_id(&d->key);

	if (d->published)
		bpf_map_delete_elem(u->maps.files, &id);
	d->published = false;
}

void devinos_publish(struct unwinder *u, const struct utable *t)
{
	struct udevino *d;

	TAILQ_FOREACH(d, &u->devino_list, link) {
		if (d->table == t)
			devino_publish(u, d);
	}
}

struct udevino *devino_for(struct unwinder *u, int dirfd, const struct procmaps_entry *e)
{
	struct devino_key key = { makedev(e->dev_major, e->dev_minor), e->inode };
	char fallback[64];
	struct udevino *d;
	Elf *elf;
	int fd, err = 0;

	d = devino_find(u, &key);
	if (d)
		return d;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->key = key;
	/* map_files names the mapped file itself, even deleted or in another mount namespace. */
	fd = procfs__open_mapped(dirfd, e->start, e->end, e->path, e->inode, NULL);
	if (fd < 0) {
		/*
		 * Not the file's failure but this process's (gone, or its mapping
		 * changed since its maps were read): remembered, it would leave the
		 * file without a table for every later process mapping it.
		 */
		free(d);
		STAT_ADD(u, open_failures, 1);
		return NULL;
	} else {
		elf = elf_begin(fd, ELF_C_READ, NULL);
		snprintf(fallback, sizeof(fallback), "d:%llx:%llx", (unsigned long long)key.dev,
			 (unsigned long long)key.ino);
		if (elf)
			d->table = table_for_elf(u, elf, fallback, &fd, NULL, 0, &err);
		else
			err = -ENOEXEC;
		elf_end(elf);
		if (fd >= 0)
			close(fd);
		d->err = err;
	}
	if (d->err == -EMFILE || d->err == -ENFILE || d->err == -ENOMEM) {
		/* Transient: do not remember the failure. */
		free(d);
		STAT_ADD(u, errors, 1);
		return NULL;
	}
	if (devino_link(u, d)) {
		table_unref(u, d->table);
		free(d);
		return NULL;
	}
	if (!d->table)
		STAT_ADD(u, files_failed, 1);
	d->unused_since = now_ns();
	devino_publish(u, d);
	return d;
}

void devino_unref(struct udevino *d)
{
	if (d && --d->proc_refs == 0)
		d->unused_since = now_ns();
}

void devino_drop(struct unwinder *u, struct udevino *d)
{
	devino_unpublish(u, d);
	devino_unlink(u, d);
	if (!d->table)
		STAT_ADD(u, files_failed, -1);
	table_unref(u, d->table);
	free(d);
}

/* The vdso as process pid maps it, read from its memory. */
struct utable *vdso_table(struct unwinder *u, int dirfd, const struct procmaps_entry *e)
{
	struct utable *t = NULL;
	char *image = NULL;
	char key[32];
	size_t len;
	Elf *elf;
	int err;

	if (procfs__read_vdso(dirfd, e->start, e->end, (void **)&image, &len))
		return NULL;
	elf = elf_memory(image, len);
	if (elf) {
		bool known;

		snprintf(key, sizeof(key), "vdso:%zu", len);
		t = table_for_elf(u, elf, key, NULL, &image, len, &err);
		/*
		 * One image per kernel ABI, mapped by nearly every process: the
		 * agent keeps it for good rather than rebuild it as processes come
		 * and go.
		 */
		known = t && t->refs > 1;
		if (t && !known)
			t->refs++;
	}
	elf_end(elf);
	free(image); /* NULL if the new table took it */
	return t;
}

/* Everything, when the unwinder goes. */
void devinos_free(struct unwinder *u)
{
	while (!TAILQ_EMPTY(&u->devino_list)) {
		struct udevino *d = TAILQ_FIRST(&u->devino_list);

		devino_unlink(u, d);
		table_unref(u, d->table);
		free(d);
	}
	hmap__clear(&u->devinos);
}
