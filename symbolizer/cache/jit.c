// SPDX-License-Identifier: Apache-2.0
/*
 * JIT code: an address in anonymous executable memory, or in no mapping, is
 * looked up in the process's perf map, read incrementally (jit/) at most
 * once per cycle and only on a miss. Perf maps are shared by (device,
 * inode), within a per-file bound and a total.
 */
#include "cache.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "perfmap_file.h"
#include "procfs.h"

static __u64 perfmap_hash(dev_t dev, __u64 ino)
{
	return hash_pair((__u64)dev, ino);
}

static bool perfmap_eq(const void *val, const void *key)
{
	const struct sym_perfmap *a = val;
	const struct stat *st = key;

	return a->dev == st->st_dev && a->ino == (__u64)st->st_ino;
}

/* Drops one process's use of pm; its names stay valid to the end of the cycle. */
static void perfmap_put(struct symbolizer *sym, struct sym_perfmap *pm)
{
	if (!pm || --pm->refs)
		return;
	if (pm->linked)
		(void)hmap__remove(&sym->perfmaps, perfmap_hash(pm->dev, pm->ino), pm);
	sym->perfmap_bytes -= pm->offset;
	pm->next = sym->dead_perfmaps;
	sym->dead_perfmaps = pm;
}

/* The shared perf map of the file st describes, started over if it was cut short. */
static struct sym_perfmap *perfmap_get(struct symbolizer *sym, const struct stat *st)
{
	__u64 hash = perfmap_hash(st->st_dev, (__u64)st->st_ino);
	struct sym_perfmap *pm = hmap__find(&sym->perfmaps, hash, perfmap_eq, st);

	if (pm && (__u64)st->st_size >= pm->offset) {
		pm->refs++;
		return pm;
	}
	if (pm) {
		/* its holders let go at their next look */
		(void)hmap__remove(&sym->perfmaps, hash, pm);
		pm->linked = false;
	}
	pm = calloc(1, sizeof(*pm));
	if (!pm)
		return NULL;
	pm->pm = perfmap__new(0);
	if (!pm->pm || hmap__insert(&sym->perfmaps, hash, pm)) {
		perfmap__free(pm->pm);
		free(pm);
		return NULL;
	}
	pm->dev = st->st_dev;
	pm->ino = (__u64)st->st_ino;
	pm->refs = 1;
	pm->linked = true;
	return pm;
}

void jit_release(struct symbolizer *sym, struct sym_proc *p)
{
	perfmap_put(sym, p->perfmap);
	p->perfmap = NULL;
}

/*
 * Reads what pm's file gained, within the per-file bound and what the total
 * leaves; a read the budget stops is counted.
 */
static int perfmap_read(struct symbolizer *sym, struct sym_perfmap *pm, int fd, __u64 size)
{
	__u64 room = sym->max_perfmap_total_bytes > sym->perfmap_bytes ?
			     sym->max_perfmap_total_bytes - sym->perfmap_bytes : 0;
	__u64 limit = pm->offset + room, before = pm->offset;
	int err;

	if (limit > sym->max_perfmap_bytes)
		limit = sym->max_perfmap_bytes;
	if (limit <= pm->offset) {
		sym->stats.perfmap_budget_hits++;
		return 0;
	}
	sym->stats.perfmap_reads++;
	err = perfmap_file__read(pm->pm, fd, &pm->offset, limit);
	sym->perfmap_bytes += pm->offset - before;
	if (pm->offset < size && pm->offset >= limit)
		sym->stats.perfmap_budget_hits++;
	return err;
}

/* Reads what the process's perf map gained since the last look. 0 or -ENOMEM. */
static int perfmap_refresh(struct symbolizer *sym, struct sym_proc *p)
{
	struct stat st;
	int dirfd, fd, err = 0;

	p->perfmap_checked = sym->cycle + 1;
	dirfd = procfs__open_same(sym->proc_root, p->pid, p->start_ticks);
	if (dirfd < 0)
		return dirfd == -ENOMEM ? dirfd : 0;
	fd = perfmap_file__open(dirfd, p->pid, &st);
	close(dirfd);
	if (fd == -EPERM)
		sym->stats.perfmap_rejected++;
	if (fd < 0)
		return fd == -ENOMEM ? fd : 0;
	/* a new file under the name, or one cut short: start over */
	if (p->perfmap && (!p->perfmap->linked || p->perfmap->dev != st.st_dev ||
			   p->perfmap->ino != (__u64)st.st_ino ||
			   (__u64)st.st_size < p->perfmap->offset))
		jit_release(sym, p);
	if (!p->perfmap) {
		p->perfmap = perfmap_get(sym, &st);
		if (!p->perfmap) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
	if ((__u64)st.st_size > p->perfmap->offset)
		err = perfmap_read(sym, p->perfmap, fd, (__u64)st.st_size);
cleanup:
	close(fd);
	return err;
}

static struct symbolizer_frame *jit_frame(struct symbolizer *sym, const char *name)
{
	struct jframe_chunk *c = sym->jframes;

	if (!c || c->used == JFRAME_CHUNK) {
		c = malloc(sizeof(*c));
		if (!c)
			return NULL;
		c->used = 0;
		c->next = sym->jframes;
		sym->jframes = c;
	}
	c->items[c->used] = (struct symbolizer_frame){ .function = name, .system_name = name };
	return &c->items[c->used++];
}

bool jit_symbolize(struct symbolizer *sym, struct sym_proc *p, struct proc_mapping *m, __u64 a,
		   struct symbolizer_location *loc, int *err)
{
	const struct perfmap_entry *e = NULL;
	struct symbolizer_frame *frame;

	*err = 0;
	if (p->perfmap)
		e = perfmap__find(p->perfmap->pm, a);
	if (!e && !p->gone && p->perfmap_checked != sym->cycle + 1) {
		*err = perfmap_refresh(sym, p);
		if (*err)
			return false;
		e = p->perfmap ? perfmap__find(p->perfmap->pm, a) : NULL;
	}
	if (!e)
		return false;
	frame = jit_frame(sym, e->name);
	if (!frame) {
		*err = -ENOMEM;
		return false;
	}
	if (m) {
		m->pub.has_functions = true;
		loc->mapping = &m->pub;
	}
	loc->frames = frame;
	loc->n_frames = 1;
	sym->stats.jit_frames++;
	return true;
}

/* The frames handed out this cycle, and the perf maps their names were in. */
void jit_end_cycle(struct symbolizer *sym)
{
	while (sym->dead_perfmaps) {
		struct sym_perfmap *pm = sym->dead_perfmaps;

		sym->dead_perfmaps = pm->next;
		perfmap__free(pm->pm);
		free(pm);
	}
	while (sym->jframes) {
		struct jframe_chunk *c = sym->jframes;

		sym->jframes = c->next;
		free(c);
	}
}
