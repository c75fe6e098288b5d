// SPDX-License-Identifier: Apache-2.0
/*
 * Processes: the kernel asks for the ones it does not know (a request map),
 * and each gets an entry describing its executable mappings once their
 * tables are in; a pc in no known mapping re-reads the maps; exits, reported
 * or found by the sweep, drop the entry. Which table the builders take next
 * follows from the processes waiting (reprioritize()).
 */
#include "unwind_impl.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "array.h"
#include "log.h"
#include "procfs.h"

static bool proc_eq(const void *val, const void *key)
{
	return ((const struct uproc *)val)->tgid == *(const __u32 *)key;
}

static struct uproc *proc_find(struct unwinder *u, __u32 tgid)
{
	return hmap__find(&u->procs, hash_u64(tgid), proc_eq, &tgid);
}

static int proc_link(struct unwinder *u, struct uproc *p)
{
	int err = hmap__insert(&u->procs, hash_u64(p->tgid), p);

	if (!err)
		TAILQ_INSERT_TAIL(&u->proc_list, p, link);
	return err;
}

static void proc_unlink(struct unwinder *u, struct uproc *p)
{
	(void)hmap__remove(&u->procs, hash_u64(p->tgid), p);
	TAILQ_REMOVE(&u->proc_list, p, link);
}

/* /proc/PID of pid if it is still the process that started at start_ns (boottime). */
static int open_process(struct unwinder *u, __u32 pid, __u64 start_ns)
{
	return procfs__open_same(u->proc_root, pid, start_ns / u->ns_per_tick);
}

/* Only 64-bit x86 processes: the walker reads 8-byte frames. */
static bool walkable_process(int dirfd)
{
	unsigned char ident[EI_NIDENT + 4];
	__u16 machine;

	if (procfs__read_exe(dirfd, ident, sizeof(ident)) || memcmp(ident, ELFMAG, SELFMAG))
		return false;
	memcpy(&machine, ident + EI_NIDENT + 2, sizeof(machine));
	return ident[EI_CLASS] == ELFCLASS64 && ident[EI_DATA] == ELFDATA2LSB &&
	       machine == EM_X86_64;
}

void release_mappings(struct unwinder *u, struct umapping *maps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		devino_unref(maps[i].devino);
		table_unref(u, maps[i].vdso);
	}
	free(maps);
}

/* Reads the executable mappings of the process at dirfd, taking references; NULL with *n 0 on failure. */
static struct umapping *read_mappings(struct unwinder *u, int dirfd, size_t *n_out)
{
	struct procmaps *pm;
	struct umapping *maps;
	size_t n, k = 0;

	*n_out = 0;
	pm = procfs__read_maps(dirfd, PROCMAPS_EXEC_ONLY);
	if (!pm)
		return NULL;
	STAT_ADD(u, maps_reads, 1);
	n = procmaps__count(pm);
	maps = calloc(n ? n : 1, sizeof(*maps));
	if (!maps) {
		procmaps__free(pm);
		return NULL;
	}
	for (size_t i = 0; i < n && k < FORNAX_UNWIND_MAX_MAPPINGS; i++) {
		const struct procmaps_entry *e = procmaps__entry(pm, i);
		struct umapping *m = &maps[k];

		/* The walker compares 32-bit lengths; [vsyscall] lies outside user space. */
		if (e->end - e->start > 0xffffffffULL || (__s64)e->start < 0)
			continue;
		*m = (struct umapping){ .start = e->start, .end = e->end, .pgoff = e->offset };
		if (e->path && e->pseudo && strcmp(e->path, "[vdso]") == 0) {
			m->vdso = vdso_table(u, dirfd, e);
			m->anon = !m->vdso;
		} else if (!e->path || e->pseudo || !e->inode) {
			m->anon = true;
		} else {
			m->devino = devino_for(u, dirfd, e);
			if (m->devino)
				m->devino->proc_refs++;
		}
		k++;
	}
	procmaps__free(pm);
	*n_out = k;
	return maps;
}

struct utable *mapping_table(const struct umapping *m)
{
	return m->devino ? m->devino->table : m->vdso;
}

static void fill_entry(const struct umapping *m, struct fornax_unwind_mapping *out)
{
	const struct utable *t = mapping_table(m);

	*out = (struct fornax_unwind_mapping){
		.start = m->start,
		.len = m->end - m->start,
		.flags = m->anon ? FORNAX_MAPPING_ANON : 0,
	};
	if (!t || t->state != TABLE_READY)
		return;
	for (size_t i = 0; i < t->n_segs; i++) {
		const struct useg *s = &t->segs[i];

		if (m->pgoff < s->offset || m->pgoff >= s->offset + s->filesz)
			continue;
		/* runtime = vaddr - p_vaddr + p_offset - pgoff + start */
		out->origin = t->origin - s->vaddr + s->offset - m->pgoff + m->start;
		out->table = t->first_slot;
		out->n_buckets = t->n_buckets;
		out->flags |= t->shift << FORNAX_MAPPING_SHIFT_BIT;
		return;
	}
}

/* Writes p's mapping entries to a fresh range and points the kernel's entry at it. */
static int install_proc(struct unwinder *u, struct uproc *p)
{
	struct fornax_unwind_proc entry = {
		.start_ns = p->start_ns,
		.exec_id = p->exec_id,
	};
	__u32 old_first = p->first, old_count = p->count;
	int err;

	if (!p->fp_only && p->n_maps) {
		if (ARRAY_GROW(&u->scratch, &u->scratch_cap, p->n_maps))
			return -ENOMEM;
		for (size_t i = 0; i < p->n_maps; i++)
			fill_entry(&p->maps[i], &u->scratch[i]);
		err = page_pool__get(&u->mappings, p->n_maps, &entry.first_mapping);
		if (err)
			return err;
		page_pool__write(&u->mappings, entry.first_mapping, u->scratch, p->n_maps);
		entry.n_mappings = p->n_maps;
	}
	if (bpf_map_update_elem(u->maps.procs, &p->tgid, &entry, BPF_ANY)) {
		err = -errno;
		if (entry.n_mappings)
			page_pool__put(&u->mappings, entry.first_mapping, entry.n_mappings);
		return err;
	}
	p->first = entry.first_mapping;
	p->count = entry.n_mappings;
	p->dirty = false;
	/* A program run may still walk the old entries: free them after a grace period. */
	unwinder_retire(u, &u->mappings, old_first, old_count);
	return 0;
}

static void proc_free(struct unwinder *u, struct uproc *p, bool delete_entry)
{
	if (delete_entry)
		bpf_map_delete_elem(u->maps.procs, &p->tgid);
	unwinder_retire(u, &u->mappings, p->first, p->count);
	release_mappings(u, p->maps, p->n_maps);
	proc_unlink(u, p);
	pthread_mutex_lock(&u->lock);
	u->stats.processes--;
	u->stats.processes_fp -= p->fp_only;
	pthread_mutex_unlock(&u->lock);
	free(p);
}

void rewrite_dirty(struct unwinder *u, const struct utable *t)
{
	struct uproc *p;

	TAILQ_FOREACH(p, &u->proc_list, link) {
		if (!p->installed)
			continue;
		for (size_t i = 0; i < p->n_maps && !p->dirty; i++)
			p->dirty = mapping_table(&p->maps[i]) == t;
		if (p->dirty && install_proc(u, p))
			STAT_ADD(u, errors, 1);
	}
}

/*
 * Until its entry is in, the program walks a process by frame pointers and
 * labels the stacks so. An entry whose tables are still pending would be
 * worse: CFI for some frames, frame-pointer guesses (garbage, in code built
 * without them) for others. So a new process waits for its tables, within
 * INSTALL_WAIT_NS.
 */
static bool proc_waits(const struct uproc *p)
{
	for (size_t i = 0; i < p->n_maps; i++) {
		const struct utable *t = mapping_table(&p->maps[i]);

		if (t && t->state == TABLE_PENDING)
			return true;
	}
	return false;
}

static void install_new(struct unwinder *u, struct uproc *p)
{
	static struct log_ratelimit rl;
	int err = install_proc(u, p);

	log_ratelimited(&rl, LOG_DEBUG, "unwind entry for process %u: %zu mappings, %.1f ms after "
			"its first request%s", p->tgid, p->n_maps,
			(double)(now_ns() - p->waiting_since) / NSEC_PER_MSEC,
			proc_waits(p) ? ", some tables still pending" : "");
	p->installed = true; /* or given up on: the program keeps using frame pointers */
	if (err == -E2BIG) {
		STAT_ADD(u, processes_no_room, 1);
		log_warn_ratelimited("unwind: more processes than --unwind-memory allows for (%u, one "
				     "per 4 KiB): process %u is walked by frame pointers",
				     u->max_processes, p->tgid);
	} else if (err) {
		log_warn_ratelimited("unwind entry for process %u: %s; it is walked by frame pointers",
				     p->tgid, strerror(-err));
		STAT_ADD(u, errors, 1);
	}
}

static void new_process(struct unwinder *u, __u32 tgid, const struct fornax_unwind_request *req)
{
	struct uproc *p;
	int dirfd;

	p = proc_find(u, tgid);
	if (p && p->start_ns == req->start_ns && p->exec_id == req->exec_id) {
		/* Sampled again while waiting for its tables: they matter more. */
		if (!p->installed) {
			p->requests++;
			u->reprioritize = true;
		}
		return;
	}
	dirfd = open_process(u, tgid, req->start_ns);
	if (dirfd < 0)
		return; /* gone, or the pid names another process by now */
	if (p)
		proc_free(u, p, true); /* exec or pid reuse: the old entry describes another image */

	p = calloc(1, sizeof(*p));
	if (!p) {
		close(dirfd);
		STAT_ADD(u, errors, 1);
		return;
	}
	p->tgid = tgid;
	p->start_ns = req->start_ns;
	p->exec_id = req->exec_id;
	p->refresh_backoff = REFRESH_MIN_NS;
	p->next_refresh = now_ns() + REFRESH_MIN_NS;
	p->fp_only = !walkable_process(dirfd);
	if (!p->fp_only) {
		p->maps = read_mappings(u, dirfd, &p->n_maps);
		p->fp_only = !p->maps;
	}
	close(dirfd);
	if (!p->fp_only && !p->n_maps) {
		/*
		 * A running image has its program (and [vdso]) mapped executable:
		 * nothing means an exec was still mapping it. An entry without
		 * mappings would have the process walked by frame pointers for
		 * its whole life; without one the walker asks again next sample.
		 */
		free(p->maps);
		free(p);
		STAT_ADD(u, maps_mid_exec, 1);
		return;
	}
	if (proc_link(u, p)) {
		release_mappings(u, p->maps, p->n_maps);
		free(p);
		STAT_ADD(u, errors, 1);
		return;
	}
	pthread_mutex_lock(&u->lock);
	u->stats.processes++;
	u->stats.processes_fp += p->fp_only;
	pthread_mutex_unlock(&u->lock);
	p->waiting_since = now_ns();
	p->requests = 1;
	if (!proc_waits(p))
		install_new(u, p);
	u->reprioritize = true;
}

/*
 * Which table to build next? Each waiting process loses samples to frame
 * pointers at the rate it is sampled (its requests) until all its tables
 * are in; it spreads that rate over the work it waits for. A table scores
 * what its waiting processes put on it per byte, so libc, which every new
 * process waits for, goes before the hundredth library of one big program.
 */
void reprioritize(struct unwinder *u)
{
	struct uproc *p;
	struct utable *t;

	if (!u->reprioritize)
		return;
	u->reprioritize = false;
	TAILQ_FOREACH(t, &u->table_list, link)
		t->score = 0;
	TAILQ_FOREACH(p, &u->proc_list, link) {
		double remaining = 0;

		if (p->installed)
			continue;
		for (size_t i = 0; i < p->n_maps; i++) {
			t = mapping_table(&p->maps[i]);
			if (t && t->state == TABLE_PENDING)
				remaining += t->cost + 1;
		}
		for (size_t i = 0; remaining && i < p->n_maps; i++) {
			t = mapping_table(&p->maps[i]);
			if (t && t->state == TABLE_PENDING)
				t->score += p->requests / remaining;
		}
	}
	pthread_mutex_lock(&u->lock);
	TAILQ_FOREACH(t, &u->table_list, link)
		if (t->state == TABLE_PENDING && t->job)
			t->job->priority = t->score;
	pthread_mutex_unlock(&u->lock);
}

/* Processes whose tables came in (or that waited long enough) get their entries. */
void install_waiting(struct unwinder *u)
{
	__u64 now = now_ns();
	struct uproc *p;

	TAILQ_FOREACH(p, &u->proc_list, link) {
		if (!p->installed && (!proc_waits(p) || now - p->waiting_since >= INSTALL_WAIT_NS))
			install_new(u, p);
	}
}

static bool same_mappings(const struct umapping *a, size_t na, const struct umapping *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].start != b[i].start || a[i].end != b[i].end || a[i].pgoff != b[i].pgoff ||
		    a[i].devino != b[i].devino || a[i].vdso != b[i].vdso || a[i].anon != b[i].anon)
			return false;
	return true;
}

/* A pc fell in no mapping the kernel knows: dlopen, or JIT code. */
static void refresh_process(struct unwinder *u, __u32 tgid)
{
	struct umapping *maps;
	struct uproc *p;
	int dirfd;
	size_t n;
	__u64 now = now_ns();

	p = proc_find(u, tgid);
	if (!p || !p->installed || p->fp_only || now < p->next_refresh)
		return;
	dirfd = open_process(u, tgid, p->start_ns);
	if (dirfd < 0)
		return;
	maps = read_mappings(u, dirfd, &n);
	close(dirfd);
	if (maps && !n) {
		/* read mid-exec (see new_process()): the exec brings a new request */
		free(maps);
		STAT_ADD(u, maps_mid_exec, 1);
		return;
	}
	if (!maps)
		return;
	if (same_mappings(maps, n, p->maps, p->n_maps)) {
		/* Nothing new: the pc is in memory no file backs. Ask less often. */
		release_mappings(u, maps, n);
		if (p->refresh_backoff < REFRESH_MAX_NS)
			p->refresh_backoff *= 2;
	} else {
		release_mappings(u, p->maps, p->n_maps);
		p->maps = maps;
		p->n_maps = n;
		p->refresh_backoff = REFRESH_MIN_NS;
		if (install_proc(u, p))
			STAT_ADD(u, errors, 1);
	}
	p->next_refresh = now + p->refresh_backoff;
}

/* The kernel's record of the process's mappings, if it is of the image req names. */
static bool kernel_entry(struct unwinder *u, __u32 tgid, const struct fornax_unwind_request *req,
			 struct fornax_unwind_vmas *v)
{
	return !bpf_map_lookup_elem(u->maps.vmas, &tgid, v) && v->start_ns == req->start_ns &&
	       v->exec_id == req->exec_id;
}

/*
 * Does the kernel walk this process whole without the agent: its mappings
 * registered at exec and mmap, each file's table published?
 */
static bool kernel_walks(struct unwinder *u, __u32 tgid, const struct fornax_unwind_request *req)
{
	struct fornax_unwind_vmas v;
	struct fornax_unwind_file f;
	bool any = false;

	if (!kernel_entry(u, tgid, req, &v) || v.overflow)
		return false;
	for (__u32 i = 0; i < v.n && i < FORNAX_UNWIND_VMAS; i++) {
		if (!v.vmas[i].end)
			continue;
		if (bpf_map_lookup_elem(u->maps.files, &v.vmas[i].file, &f))
			return false;
		any = true;
	}
	return any;
}

static bool deferred_eq(const void *val, const void *key)
{
	return ((const struct deferred_request *)val)->tgid == *(const __u32 *)key;
}

static void deferred_drop(struct unwinder *u, struct deferred_request *d)
{
	(void)hmap__remove(&u->deferred, hash_u64(d->tgid), d);
	TAILQ_REMOVE(&u->deferred_list, d, link);
	free(d);
}

/*
 * Puts off reading a new process the kernel walks whole. Once per process
 * image: the kernel asks again at every sample until the agent describes it.
 */
static bool defer_request(struct unwinder *u, __u32 tgid, const struct fornax_unwind_request *req)
{
	struct deferred_request *d = hmap__find(&u->deferred, hash_u64(tgid), deferred_eq, &tgid);

	if (d && d->req.start_ns == req->start_ns && d->req.exec_id == req->exec_id)
		return true;
	if (d)
		deferred_drop(u, d); /* another image by now */
	/* one that already lived DEFER_NS asks because it did (bpf/unwind.bpf.h): read now */
	if (clock_ns(CLOCK_BOOTTIME) - req->start_ns >= DEFER_NS)
		return false;
	if (hmap__len(&u->deferred) >= u->max_processes || !kernel_walks(u, tgid, req))
		return false;
	d = calloc(1, sizeof(*d));
	if (!d)
		return false;
	*d = (struct deferred_request){ .tgid = tgid, .due = now_ns() + DEFER_NS, .req = *req };
	if (hmap__insert(&u->deferred, hash_u64(tgid), d)) {
		free(d);
		return false;
	}
	TAILQ_INSERT_TAIL(&u->deferred_list, d, link);
	STAT_ADD(u, requests_deferred, 1);
	return true;
}

/* The deferred processes that lived DEFER_NS: still the same image, they are read now. */
static void handle_deferred(struct unwinder *u)
{
	__u64 now = now_ns();
	struct deferred_request *d;

	while ((d = TAILQ_FIRST(&u->deferred_list)) && d->due <= now) {
		struct fornax_unwind_vmas v;
		__u32 tgid = d->tgid;
		struct fornax_unwind_request req = d->req;

		deferred_drop(u, d);
		/* gone (the exit hook dropped its entry) or exec'd (a new request comes) */
		if (kernel_entry(u, tgid, &req, &v))
			new_process(u, tgid, &req);
	}
}

__u64 deferred_next_due(struct unwinder *u)
{
	struct deferred_request *d = TAILQ_FIRST(&u->deferred_list);

	return d ? d->due : UINT64_MAX;
}

void deferred_free(struct unwinder *u)
{
	while (!TAILQ_EMPTY(&u->deferred_list))
		deferred_drop(u, TAILQ_FIRST(&u->deferred_list));
	hmap__clear(&u->deferred);
}

/* Returns how many requests were read. */
int handle_requests(struct unwinder *u, int *deferred)
{
	int acted = 0;

	*deferred = 0;
	handle_deferred(u);
	/* Each request is deleted as it is read, so the first key is always the next one. */
	for (int budget = 4096; budget > 0; budget--) {
		struct fornax_unwind_request req;
		__u32 key;

		if (bpf_map_get_next_key(u->maps.requests, NULL, &key))
			break;
		if (bpf_map_lookup_and_delete_elem(u->maps.requests, &key, &req)) {
			bpf_map_delete_elem(u->maps.requests, &key);
			continue;
		}
		STAT_ADD(u, requests, 1);
		if (req.reason & FORNAX_REQ_NEW_PROCESS) {
			if (!proc_find(u, key) && defer_request(u, key, &req)) {
				(*deferred)++;
				continue;
			}
			new_process(u, key, &req);
		}
		else if (req.reason & FORNAX_REQ_UNKNOWN_PC)
			refresh_process(u, key);
		acted++;
	}
	return acted;
}

/* Processes whose exit the kernel reported: dropped now rather than at the sweep. */
void handle_exits(struct unwinder *u)
{
	struct unwind_exit *exits;
	size_t n;

	pthread_mutex_lock(&u->lock);
	exits = u->exits;
	n = u->n_exits;
	u->exits = NULL;
	u->n_exits = u->exits_cap = 0;
	pthread_mutex_unlock(&u->lock);
	for (size_t i = 0; i < n; i++) {
		struct uproc *p = proc_find(u, exits[i].tgid);

		if (!p || p->start_ns != exits[i].start_ns)
			continue; /* not one we know, or the pid names another process by now */
		proc_free(u, p, true);
		STAT_ADD(u, process_exits, 1);
	}
	free(exits);
}

void sweep(struct unwinder *u)
{
	__u64 now = now_ns();
	struct uproc *p, *pnext;
	struct udevino *d, *dnext;
	struct utable *t;

	for (p = TAILQ_FIRST(&u->proc_list); p; p = pnext) {
		int dirfd = open_process(u, p->tgid, p->start_ns);

		pnext = TAILQ_NEXT(p, link);
		if (dirfd >= 0) {
			close(dirfd);
			continue;
		}
		if (dirfd == -ENOMEM)
			continue; /* not known to be gone */
		proc_free(u, p, true);
		STAT_ADD(u, process_exits, 1);
	}
	for (d = TAILQ_FIRST(&u->devino_list); d; d = dnext) {
		dnext = TAILQ_NEXT(d, link);
		if (d->proc_refs || now - d->unused_since < LINGER_NS)
			continue;
		devino_drop(u, d);
	}
	/*
	 * Room may have been freed: try a table that did not fit again. One per
	 * sweep: making room may drop other tables, so the walk stops here.
	 */
	TAILQ_FOREACH(t, &u->table_list, link) {
		struct cfi_table *ct = t->built;

		if (t->state != TABLE_FAILED || t->err != -ENOSPC || now < t->retry_at)
			continue;
		t->built = NULL;
		finish_table(u, t, ct, 0);
		break;
	}
	hmap__shrink(&u->procs);
	hmap__shrink(&u->devinos);
	hmap__shrink(&u->tables);
}

/* Opens pid's files and queues their tables, without a process entry. */
static void read_ahead(struct unwinder *u, __u32 pid)
{
	int dirfd = procfs__open(u->proc_root, pid);
	struct umapping *maps;
	size_t n;

	if (dirfd < 0)
		return;
	if (walkable_process(dirfd)) {
		maps = read_mappings(u, dirfd, &n);
		release_mappings(u, maps, n);
	}
	close(dirfd);
}

/* Is pid a user process on a CPU (state R) right now? */
static bool running_now(int procfd, const char *name)
{
	char path[64], buf[512], *p;
	unsigned long flags = 0;
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "%s/stat", name);
	fd = openat(procfd, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return false;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return false;
	buf[len] = '\0';
	/* "pid (comm) S ppid pgrp session tty tpgid flags ...": comm may hold anything */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) != 1)
		return false;
	return p[2] == 'R' && !(flags & PF_KTHREAD_FLAG);
}

/* With --pid, the targets are known before the first sample: their files are read ahead. */
void prescan(struct unwinder *u)
{
	for (size_t i = 0; i < u->n_pids; i++)
		read_ahead(u, u->pids[i]);
}

/*
 * Without --pid, the processes on a CPU at start, the ones the first
 * samples will hit (a few per CPU: a run queue can be long), once the
 * agent is ready to sample: their tables race the first samples rather
 * than hold up the start (a large program's take seconds). The rest are
 * built as they are sampled: reading every process's files at start would
 * cost a busy host seconds of CPU for programs that may never be sampled.
 */
void prescan_running(struct unwinder *u)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = 0, max = PRESCAN_PER_CPU * (size_t)(cpus > 0 ? cpus : 1);
	struct dirent *e;
	DIR *dir;

	if (u->n_pids)
		return;
	dir = opendir(u->proc_root);
	if (!dir)
		return;
	while ((e = readdir(dir)) && n < max) {
		char *end;
		unsigned long pid = strtoul(e->d_name, &end, 10);

		if (*end || !pid || pid == (unsigned long)getpid() ||
		    !running_now(dirfd(dir), e->d_name))
			continue;
		read_ahead(u, (__u32)pid);
		n++;
	}
	closedir(dir);
}

/* Everything, when the unwinder goes (nothing runs the program any more). */
void procs_free(struct unwinder *u)
{
	while (!TAILQ_EMPTY(&u->proc_list)) {
		struct uproc *p = TAILQ_FIRST(&u->proc_list);

		proc_unlink(u, p);
		release_mappings(u, p->maps, p->n_maps);
		free(p);
	}
	hmap__clear(&u->procs);
}
