// SPDX-License-Identifier: Apache-2.0
/*
 * Processes by (pid, start time): each one's executable mappings from
 * /proc/PID/maps, read through procfs and re-read when an address falls in
 * none of them. The newest entry of a pid heads a chain of older ones
 * (exited, or the pid reused), all bounded by max_processes, LRU.
 */
#include "cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"

static bool pid_eq(const void *val, const void *key)
{
	return ((const struct sym_proc *)val)->pid == *(const __u32 *)key;
}

static struct sym_proc *pid_head(struct symbolizer *sym, __u32 pid)
{
	return hmap__find(&sym->procs_by_pid, hash_u64(pid), pid_eq, &pid);
}

/* ---- mappings ---- */

void maps_release(struct proc_maps *maps)
{
	if (!maps)
		return;
	for (size_t i = 0; i < maps->n; i++) {
		struct sym_devino *dv = maps->m[i].dv;

		if (dv && dv->refs)
			dv->refs--;
	}
	free(maps);
}

/* Locations handed out this cycle may point into maps: freed at the end of the cycle. */
void maps_retire(struct symbolizer *sym, struct proc_maps *maps)
{
	if (!maps)
		return;
	maps->next_dead = sym->dead_maps;
	sym->dead_maps = maps;
}

struct proc_maps *maps_dup(const struct proc_maps *src)
{
	struct proc_maps *maps;

	maps = malloc(sizeof(*maps) + src->n * sizeof(maps->m[0]));
	if (!maps)
		return NULL;
	memcpy(maps->m, src->m, src->n * sizeof(maps->m[0]));
	maps->n = src->n;
	maps->next_dead = NULL;
	for (size_t i = 0; i < maps->n; i++) {
		if (maps->m[i].dv)
			maps->m[i].dv->refs++;
	}
	return maps;
}

struct proc_mapping *maps_find(struct proc_maps *maps, __u64 addr)
{
	size_t lo = 0, hi = maps ? maps->n : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (maps->m[mid].pub.start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || addr >= maps->m[lo - 1].pub.limit)
		return NULL;
	return &maps->m[lo - 1];
}

static const char *pseudo_path(const struct procmaps_entry *e, enum map_kind *kind)
{
	*kind = MAPPING_OTHER;
	if (e->path && strcmp(e->path, "[vdso]") == 0) {
		*kind = MAPPING_VDSO;
		return "[vdso]";
	}
	if (e->path && strcmp(e->path, "[vsyscall]") == 0)
		return "[vsyscall]";
	return "[anon]";
}

/* Reads the executable mappings through dirfd into p. 0, -ENOMEM, or the read error. */
int proc_read_maps(struct symbolizer *sym, struct sym_proc *p, int dirfd)
{
	struct proc_maps *maps = NULL;
	struct procmaps *pm;
	size_t n;
	int err = 0;

	pm = procfs__read_maps(dirfd, PROCMAPS_EXEC_ONLY);
	if (!pm)
		return -errno;
	sym->stats.maps_reads++;
	n = procmaps__count(pm);
	maps = calloc(1, sizeof(*maps) + n * sizeof(maps->m[0]));
	if (!maps) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		const struct procmaps_entry *e = procmaps__entry(pm, i);
		struct proc_mapping *m = &maps->m[maps->n];

		m->pub.start = e->start;
		m->pub.limit = e->end;
		m->pub.offset = e->offset;
		if (e->path && !e->pseudo && e->inode) {
			m->dv = devino_get(sym, (__u64)e->dev_major << 32 | e->dev_minor, e->inode, e->path);
			if (!m->dv) {
				err = -ENOMEM;
				goto cleanup;
			}
			m->dv->refs++;
			m->kind = MAPPING_FILE;
			m->pub.path = m->dv->path;
		} else {
			m->pub.path = pseudo_path(e, &m->kind);
		}
		maps->n++;
	}
	maps_retire(sym, p->maps);
	p->maps = maps;
	maps = NULL;

cleanup:
	maps_release(maps);
	procmaps__free(pm);
	return err;
}

/* ---- processes ---- */

void proc_unlink(struct symbolizer *sym, struct sym_proc *p)
{
	struct sym_proc *head = pid_head(sym, p->pid);

	if (head == p) {
		(void)hmap__remove(&sym->procs_by_pid, hash_u64(p->pid), p);
		/* cannot fail: the slot just freed is reused without growing */
		if (p->next_pid)
			(void)hmap__insert(&sym->procs_by_pid, hash_u64(p->pid), p->next_pid);
	} else {
		for (struct sym_proc *q = head; q; q = q->next_pid) {
			if (q->next_pid == p) {
				q->next_pid = p->next_pid;
				break;
			}
		}
	}
	p->next_pid = NULL;
	TAILQ_REMOVE(&sym->procs, p, lru);
	if (p->exited)
		TAILQ_REMOVE(&sym->exited, p, exit_link);
	if (p->in_prev_images) {
		TAILQ_REMOVE(&sym->prev_images, p, prev_link);
		p->in_prev_images = false;
	}
	sym->n_procs--;
}

void proc_free(struct symbolizer *sym, struct sym_proc *p)
{
	maps_release(p->maps);
	maps_release(p->prev_maps);
	maps_release(p->fork_maps);
	jit_release(sym, p);
	file_unref(p->vdso);
	free(p);
}

struct sym_proc *proc_alloc(struct symbolizer *sym, __u32 pid, __u64 ticks)
{
	struct sym_proc *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->pid = pid;
	p->start_ticks = ticks;
	p->last_used = sym->cycle;
	p->checked_cycle = sym->cycle;
	return p;
}

int proc_insert(struct symbolizer *sym, struct sym_proc *p)
{
	__u64 h = hash_u64(p->pid);
	struct sym_proc *head;
	int err;

	while (sym->n_procs >= sym->max_processes && !TAILQ_EMPTY(&sym->procs)) {
		struct sym_proc *lru = TAILQ_LAST(&sym->procs, sym_proc_list);

		proc_unlink(sym, lru);
		lru->next_dead = sym->dead_procs;
		sym->dead_procs = lru;
		sym->stats.evicted_processes++;
	}
	head = pid_head(sym, p->pid);
	if (head) {
		(void)hmap__remove(&sym->procs_by_pid, h, head);
		p->next_pid = head;
	}
	err = hmap__insert(&sym->procs_by_pid, h, p);
	if (err) {
		/* removal above freed a slot, so only a first entry can fail */
		p->next_pid = NULL;
		return err;
	}
	TAILQ_INSERT_HEAD(&sym->procs, p, lru);
	sym->n_procs++;
	return 0;
}

/*
 * A new entry for pid. dirfd >= 0 and live: ticks is the process's start
 * time and its maps are read now; otherwise a negative entry (gone, no
 * maps) remembering ticks.
 */
struct sym_proc *proc_new(struct symbolizer *sym, __u32 pid, __u64 ticks, int dirfd, int *err)
{
	struct sym_proc *p = proc_alloc(sym, pid, ticks);

	if (!p) {
		*err = -ENOMEM;
		return NULL;
	}
	if (dirfd >= 0) {
		*err = proc_read_maps(sym, p, dirfd);
		if (*err == -ENOMEM) {
			free(p);
			return NULL;
		}
		if (*err)
			p->gone = true; /* exited while we looked */
	} else {
		p->gone = true;
	}
	*err = proc_insert(sym, p);
	if (*err) {
		proc_free(sym, p);
		return NULL;
	}
	return p;
}

void proc_touch(struct symbolizer *sym, struct sym_proc *p)
{
	p->last_used = sym->cycle;
	if (TAILQ_FIRST(&sym->procs) != p) {
		TAILQ_REMOVE(&sym->procs, p, lru);
		TAILQ_INSERT_HEAD(&sym->procs, p, lru);
	}
}

struct sym_proc *proc_find(struct symbolizer *sym, __u32 pid, __u64 ticks)
{
	for (struct sym_proc *p = pid_head(sym, pid); p; p = p->next_pid) {
		if (p->start_ticks && procfs__ticks_match(p->start_ticks, ticks))
			return p;
	}
	return NULL;
}

/* A live process (its /proc dir dirfd, started at ticks): our entry for it, revived or new. */
static struct sym_proc *proc_alive(struct symbolizer *sym, struct sym_proc *head, __u32 pid,
				   __u64 ticks, int dirfd, int *err)
{
	struct sym_proc *p;

	/* is it one we had marked gone? */
	for (p = head; p; p = p->next_pid) {
		if (p->start_ticks && procfs__ticks_match(p->start_ticks, ticks))
			break;
	}
	if (!p)
		return proc_new(sym, pid, ticks, dirfd, err);
	/* a transient failure had made it look gone */
	p->gone = false;
	p->checked_cycle = sym->cycle;
	proc_touch(sym, p);
	if (!p->maps) {
		*err = proc_read_maps(sym, p, dirfd);
		if (*err && *err != -ENOMEM) {
			p->gone = true;
			*err = 0;
		}
	}
	return p;
}

struct sym_proc *proc_lookup(struct symbolizer *sym, __u32 pid, __u64 start_ns, int *err)
{
	__u64 want = start_ns / sym->ns_per_tick, ticks = 0;
	struct sym_proc *head, *p;
	int dirfd, r;

	*err = 0;
	head = pid_head(sym, pid);
	for (p = head; p; p = p->next_pid) {
		if (start_ns ? p->start_ticks && procfs__ticks_match(p->start_ticks, want)
			     : p->maps && !p->gone) {
			proc_touch(sym, p);
			return p;
		}
	}
	if (!start_ns && head && head->checked_cycle == sym->cycle) {
		proc_touch(sym, head);
		return head;
	}

	dirfd = procfs__open(sym->proc_root, pid);
	r = dirfd >= 0 ? procfs__start_ticks(dirfd, &ticks) : dirfd;
	if (r == -ENOMEM) {
		*err = r;
		p = NULL;
	} else if (r == 0 && (!start_ns || procfs__ticks_match(ticks, want))) {
		p = proc_alive(sym, head, pid, ticks, dirfd, err);
	} else if (!start_ns && head) {
		/* gone, or the pid now names another process */
		head->checked_cycle = sym->cycle;
		proc_touch(sym, head);
		p = head;
	} else {
		p = proc_new(sym, pid, want, -1, err);
	}
	if (dirfd >= 0)
		close(dirfd);
	return p;
}

int proc_reread(struct symbolizer *sym, struct sym_proc *p)
{
	int dirfd, err;

	p->checked_cycle = sym->cycle;
	dirfd = procfs__open_same(sym->proc_root, p->pid, p->start_ticks);
	if (dirfd < 0) {
		if (dirfd == -ENOMEM)
			return dirfd;
		p->gone = true;
		return 0;
	}
	err = proc_read_maps(sym, p, dirfd);
	if (err && err != -ENOMEM) {
		p->gone = true;
		err = 0;
	}
	close(dirfd);
	return err;
}
