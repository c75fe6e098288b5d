// SPDX-License-Identifier: Apache-2.0
/*
 * Process lifecycle as the kernel reports it: a process's maps read while it
 * is alive (exec, first sample), a child given its parent's image at fork,
 * and the final mappings kept for a while after exit.
 */
#include "cache.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "procfs.h"

/* p's previous images (prev_maps, fork_maps) serve the samples taken before its exec, for the grace. */
static void prev_images_hold(struct symbolizer *sym, struct sym_proc *p)
{
	p->prev_cycle = sym->cycle;
	if (p->in_prev_images)
		TAILQ_REMOVE(&sym->prev_images, p, prev_link);
	TAILQ_INSERT_TAIL(&sym->prev_images, p, prev_link);
	p->in_prev_images = true;
}

/* An exec: p's current mappings become its previous image for a while. */
static void proc_keep_prev_image(struct symbolizer *sym, struct sym_proc *p)
{
	if (p->maps) {
		maps_retire(sym, p->prev_maps);
		p->prev_maps = p->maps;
		p->maps = NULL;
	}
	if (p->prev_maps || p->fork_maps)
		prev_images_hold(sym, p);
}

/*
 * A first sample says the process is being profiled: its files are opened
 * now, it may be gone by the drain. 0 or -ENOMEM.
 */
static int open_files_now(struct symbolizer *sym, struct sym_proc *p)
{
	int err = 0;

	for (size_t i = 0; p->maps && i < p->maps->n; i++) {
		struct proc_mapping *m = &p->maps->m[i];

		if (m->kind == MAPPING_OTHER)
			continue;
		(void)mapping_file(sym, p, m, &err);
		if (err == -ENOMEM)
			return err;
	}
	return 0;
}

int symbolizer__process_exec(struct symbolizer *sym, __u32 pid, __u64 start_ns)
{
	struct sym_proc *p;

	if (!sym || !start_ns)
		return -EINVAL;
	p = proc_find(sym, pid, start_ns / sym->ns_per_tick);
	if (!p)
		return 0; /* read at its first lookup, or given at its exit */
	proc_keep_prev_image(sym, p);
	/* the next miss reads the new image, even in this very cycle */
	p->checked_cycle = sym->cycle - 1;
	sym->stats.exec_deferred++;
	return 0;
}

int symbolizer__process_read(struct symbolizer *sym, __u32 pid, __u64 start_ns, bool new_image)
{
	__u64 want, ticks = 0;
	struct sym_proc *p;
	int dirfd, err;

	if (!sym)
		return -EINVAL;
	want = start_ns / sym->ns_per_tick;
	p = start_ns ? proc_find(sym, pid, want) : NULL;
	if (p && p->exited) {
		/*
		 * Its exit report came first (a process shorter than the records'
		 * gap): what it said stands. A zombie's maps, read now, are empty.
		 */
		sym->stats.exec_gone++;
		return -ESRCH;
	}
	/* an exec happened even if the process is gone now: the old image is kept aside */
	if (p && new_image)
		proc_keep_prev_image(sym, p);
	dirfd = procfs__open(sym->proc_root, pid);
	if (dirfd == -ENOMEM)
		return dirfd;
	err = dirfd >= 0 ? procfs__start_ticks(dirfd, &ticks) : dirfd;
	if (err == -ENOMEM)
		goto cleanup;
	if (err || (start_ns && !procfs__ticks_match(ticks, want))) {
		sym->stats.exec_gone++;
		err = -ESRCH;
		goto cleanup;
	}
	p = proc_find(sym, pid, ticks);
	if (p) {
		/* a new image (set aside above), or libraries mapped since the last read */
		proc_touch(sym, p);
		p->gone = false;
		err = proc_read_maps(sym, p, dirfd);
		if (err && err != -ENOMEM)
			p->gone = true;
	} else {
		p = proc_new(sym, pid, ticks, dirfd, &err);
		if (!p)
			goto cleanup;
	}
	if (err == -ENOMEM)
		goto cleanup;
	if (p->gone) {
		sym->stats.exec_gone++;
		err = -ESRCH;
		goto cleanup;
	}
	sym->stats.exec_reads++;
	/* the loader maps libraries right after exec: a miss may re-read this very cycle */
	p->checked_cycle = sym->cycle - 1;
	/*
	 * An exec alone opens nothing: most processes a machine starts are
	 * never sampled, and opening their files costs far more than reading
	 * their maps.
	 */
	err = new_image ? 0 : open_files_now(sym, p);

cleanup:
	if (dirfd >= 0)
		close(dirfd);
	return err;
}

int symbolizer__process_fork(struct symbolizer *sym, __u32 parent_pid, __u64 parent_start_ns,
			     __u32 child_pid, __u64 child_start_ns)
{
	struct sym_proc *parent, *c, *known;
	__u64 ticks;
	int err;

	if (!sym)
		return -EINVAL;
	ticks = child_start_ns / sym->ns_per_tick;
	known = proc_find(sym, child_pid, ticks);
	if (known && known->fork_maps)
		return 0;
	/* the parent is alive (it just forked): read it if it is new */
	parent = proc_lookup(sym, parent_pid, parent_start_ns, &err);
	if (err)
		return err;
	if (!parent)
		return 0;
	/*
	 * Maps read at the parent's own exec lack the libraries loaded since,
	 * which the child's first instructions (returning from fork) run in;
	 * mappings just given from the kernel's records have them.
	 */
	if (!parent->gone && parent->checked_cycle != sym->cycle &&
	    parent->records_cycle != sym->cycle + 1) {
		err = proc_reread(sym, parent);
		if (err)
			return err;
	}
	if (!parent->maps)
		return 0;
	if (known) {
		/*
		 * Its first sample was heard of first, and its maps read then,
		 * maybe after its exec: what it ran before is its parent's image.
		 */
		known->fork_maps = maps_dup(parent->maps);
		if (!known->fork_maps)
			return -ENOMEM;
		prev_images_hold(sym, known);
		return 0;
	}
	c = proc_alloc(sym, child_pid, ticks);
	if (!c)
		return -ENOMEM;
	c->checked_cycle = sym->cycle - 1;
	c->fork_maps = maps_dup(parent->maps);
	if (!c->fork_maps) {
		free(c);
		return -ENOMEM;
	}
	err = proc_insert(sym, c);
	if (err)
		proc_free(sym, c);
	return err;
}

static int mapping_cmp(const void *a, const void *b)
{
	const struct proc_mapping *x = a, *y = b;

	return x->pub.start < y->pub.start ? -1 : x->pub.start > y->pub.start;
}

static bool overlaps_any(const struct symbolizer_exit *ex, __u64 start, __u64 end)
{
	for (size_t i = 0; i < ex->n_vmas; i++) {
		if (start < ex->vmas[i].end && ex->vmas[i].start < end)
			return true;
	}
	return false;
}

/* The exit report's file mappings, matched to known files by (dev, inode). Returns how many. */
static size_t exit_file_mappings(struct symbolizer *sym, const struct symbolizer_exit *ex,
				 struct proc_mapping *out)
{
	size_t n = 0;

	for (size_t i = 0; i < ex->n_vmas; i++) {
		const struct symbolizer_vma *v = &ex->vmas[i];
		struct proc_mapping *m = &out[n];
		struct sym_devino *dv;

		if (v->start >= v->end)
			continue;
		m->pub.start = v->start;
		m->pub.limit = v->end;
		m->pub.offset = v->offset;
		dv = devino_find(sym, (__u64)v->dev_major << 32 | v->dev_minor, v->inode);
		if (dv) {
			m->dv = dv;
			dv->refs++;
			dv->last_used = sym->cycle;
			m->kind = MAPPING_FILE;
			m->pub.path = dv->path;
		} else {
			m->kind = MAPPING_OTHER;
			m->pub.path = "[unknown file]";
			sym->stats.exit_unknown_files++;
		}
		n++;
	}
	return n;
}

/*
 * p's mappings from the kernel's exit report: its file mappings, plus the
 * vdso and anonymous ones read before (the report has files only).
 */
static int proc_maps_from_exit(struct symbolizer *sym, struct sym_proc *p,
			       const struct symbolizer_exit *ex)
{
	size_t old_n = p->maps ? p->maps->n : 0, n;
	struct proc_maps *maps;
	bool have_vdso = false;

	maps = calloc(1, sizeof(*maps) + (ex->n_vmas + old_n + 1) * sizeof(maps->m[0]));
	if (!maps)
		return -ENOMEM;
	n = exit_file_mappings(sym, ex, maps->m);
	for (size_t i = 0; i < old_n; i++) {
		const struct proc_mapping *old = &p->maps->m[i];

		if (old->kind == MAPPING_FILE || overlaps_any(ex, old->pub.start, old->pub.limit))
			continue;
		maps->m[n] = *old;
		maps->m[n].dv = NULL;
		have_vdso |= old->kind == MAPPING_VDSO;
		n++;
	}
	if (!have_vdso && ex->vdso_start && sym->vdso_size &&
	    !overlaps_any(ex, ex->vdso_start, ex->vdso_start + sym->vdso_size)) {
		maps->m[n++] = (struct proc_mapping){
			.pub = { .start = ex->vdso_start, .limit = ex->vdso_start + sym->vdso_size,
				 .path = "[vdso]" },
			.kind = MAPPING_VDSO,
		};
	}
	maps->n = n;
	qsort(maps->m, n, sizeof(maps->m[0]), mapping_cmp);
	maps_retire(sym, p->maps);
	p->maps = maps;
	return 0;
}

int symbolizer__process_exit(struct symbolizer *sym, __u32 pid, __u64 start_ns,
			     const struct symbolizer_exit *ex)
{
	bool report = ex && ex->complete;
	struct sym_proc *p;
	__u64 ticks;
	int err;

	if (!sym || (ex && ex->n_vmas && !ex->vmas))
		return -EINVAL;
	ticks = start_ns / sym->ns_per_tick;
	p = proc_find(sym, pid, ticks);
	if (!p) {
		if (!report)
			return 0; /* nothing known, nothing to keep */
		p = proc_new(sym, pid, ticks, -1, &err);
		if (!p)
			return err;
	}
	if (p->exited)
		return 0;
	if (report) {
		err = proc_maps_from_exit(sym, p, ex);
		if (err)
			return err;
		sym->stats.exits++;
	}
	p->gone = true;
	p->exited = true;
	p->exit_cycle = sym->cycle;
	p->last_used = sym->cycle;
	TAILQ_INSERT_TAIL(&sym->exited, p, exit_link);
	return 0;
}

int symbolizer__process_mappings(struct symbolizer *sym, __u32 pid, __u64 start_ns,
				 const struct symbolizer_exit *ex, bool open_files)
{
	struct sym_proc *p;
	__u64 ticks;
	int err;

	if (!sym || !ex || !ex->complete || (ex->n_vmas && !ex->vmas))
		return -EINVAL;
	ticks = start_ns / sym->ns_per_tick;
	p = proc_find(sym, pid, ticks);
	if (p && (p->exited || p->gone))
		return 0; /* its exit report, or a read, said more */
	if (!p) {
		p = proc_alloc(sym, pid, ticks);
		if (!p)
			return -ENOMEM;
		err = proc_insert(sym, p);
		if (err) {
			proc_free(sym, p);
			return err;
		}
	}
	err = proc_maps_from_exit(sym, p, ex);
	if (err)
		return err;
	proc_touch(sym, p);
	/* a miss still reads /proc: the records hold no anonymous (JIT) mappings */
	p->checked_cycle = sym->cycle - 1;
	p->records_cycle = sym->cycle + 1;
	sym->stats.mappings_given++;
	return open_files ? open_files_now(sym, p) : 0;
}

bool symbolizer__process_exited(struct symbolizer *sym, __u32 pid, __u64 start_ns)
{
	struct sym_proc *p = sym ? proc_find(sym, pid, start_ns / sym->ns_per_tick) : NULL;

	return p && p->exited;
}

bool symbolizer__process_gone(struct symbolizer *sym, __u32 pid, __u64 start_ns)
{
	struct sym_proc *p = sym ? proc_find(sym, pid, start_ns / sym->ns_per_tick) : NULL;

	return p && (p->exited || p->gone || (p->maps && p->maps->n == 0));
}

int symbolizer__file_mapped(struct symbolizer *sym, __u32 pid, const struct symbolizer_vma *v,
			    const char *path)
{
	__u64 dev;
	struct sym_devino *dv;

	if (!sym || !v || !path)
		return -EINVAL;
	dev = (__u64)v->dev_major << 32 | v->dev_minor;
	dv = devino_find(sym, dev, v->inode);
	if (dv) {
		dv->last_used = sym->cycle;
		return 0;
	}
	dv = devino_get(sym, dev, v->inode, path);
	if (!dv)
		return -ENOMEM;
	sym->stats.files_mapped++;
	/*
	 * Known by (dev, inode) and path from now on, and opened when a sample
	 * needs it: through a live process that maps it, else by the path on the
	 * host with device and inode checked. Parsing every new file as it is
	 * mapped costs the drain loop ELF files no sample may need.
	 */
	(void)pid;
	return 0;
}
