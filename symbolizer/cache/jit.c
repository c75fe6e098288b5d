// SPDX-License-Identifier: Apache-2.0
/*
 * JIT code: an address in anonymous executable memory, or in no mapping, is
 * looked up in the process's perf map, read incrementally (jit/) at most
 * once per cycle and only on a miss.
 */
#include "cache.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "perfmap_file.h"
#include "procfs.h"

static void perfmap_retire(struct symbolizer *sym, struct sym_proc *p)
{
	struct dead_perfmap *d;

	if (!p->perfmap)
		return;
	d = malloc(sizeof(*d));
	if (!d) {
		/* cannot defer: keep it, new entries are appended to it */
		return;
	}
	d->pm = p->perfmap;
	d->next = sym->dead_perfmaps;
	sym->dead_perfmaps = d;
	p->perfmap = NULL;
	p->perfmap_offset = 0;
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
	if (p->perfmap && ((__u64)st.st_ino != p->perfmap_ino ||
			   (__u64)st.st_size < p->perfmap_offset))
		perfmap_retire(sym, p);
	if (!p->perfmap) {
		p->perfmap = perfmap__new(0);
		if (!p->perfmap) {
			err = -ENOMEM;
			goto cleanup;
		}
		p->perfmap_ino = st.st_ino;
		p->perfmap_offset = 0;
	}
	if ((__u64)st.st_size == p->perfmap_offset)
		goto cleanup;
	sym->stats.perfmap_reads++;
	err = perfmap_file__read(p->perfmap, fd, &p->perfmap_offset, sym->max_perfmap_bytes);
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
		e = perfmap__find(p->perfmap, a);
	if (!e && !p->gone && p->perfmap_checked != sym->cycle + 1) {
		*err = perfmap_refresh(sym, p);
		if (*err)
			return false;
		e = p->perfmap ? perfmap__find(p->perfmap, a) : NULL;
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
		struct dead_perfmap *d = sym->dead_perfmaps;

		sym->dead_perfmaps = d->next;
		perfmap__free(d->pm);
		free(d);
	}
	while (sym->jframes) {
		struct jframe_chunk *c = sym->jframes;

		sym->jframes = c->next;
		free(c);
	}
}
