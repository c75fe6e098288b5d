// SPDX-License-Identifier: Apache-2.0
/*
 * Three threads. Two builders only turn files into rows (cfi_table__build:
 * tens of milliseconds for libc, seconds for the largest libraries), files
 * a process waits for first, smallest first; one of them takes only files
 * with less than FAST_LANE_CFI_BYTES of CFI, so a giant library never
 * holds up small programs. The worker owns every object below and never
 * waits for a build; its loop, every POLL_NS or when a builder hands back
 * a table:
 *
 *   1. reads the kernel's requests: a new (or exec'd) process gets its
 *      executable mappings described once its tables are in (or after
 *      INSTALL_WAIT_NS); a pc in no known mapping re-reads the process's
 *      maps (with backoff, for JIT code that never maps a file);
 *   2. loads finished tables into the row pages and rewrites the entries of
 *      the processes that map them;
 *   3. every SWEEP_NS, drops processes that exited and files no process maps;
 *   4. frees what it retired, after an RCU grace period: a program run that
 *      read an old process entry may still be walking the old ranges.
 *
 * The threads share only jobs, stats and flags, under the mutex.
 *
 * Objects:
 *   utable   one per build-id (or device+inode without one): the rows'
 *            place in the row space, the executable PT_LOAD segments
 *   udevino  one per (device, inode) seen in a maps file: its utable (or why
 *            it has none); lingers unused for LINGER_NS, so short-lived
 *            processes of one binary share the table
 *   uproc    one per process with a kernel entry: its mappings, and the
 *            range of mapping entries the kernel reads
 */
#include "unwinder.h"

#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cfi_table.h"
#include "elf_file.h"
#include "grace.h"
#include "hashmap.h"
#include "hex.h"
#include "log.h"
#include "procfs.h"
#include "range_alloc.h"
#include "timeconst.h"
#include "unwind.h"
#include "unwind_rows.h"

#define DEFAULT_PROC_ROOT "/proc"
#define DEFAULT_MAX_TABLE_BYTES (256ULL << 20)
#define POLL_NS (10 * NSEC_PER_MSEC)
/* With no requests and no builds for a while, the poll slows down to this. */
#define IDLE_POLL_NS (250 * NSEC_PER_MSEC)
#define SWEEP_NS (5 * NSEC_PER_SEC)
#define LINGER_NS (60 * NSEC_PER_SEC)
#define REFRESH_MIN_NS (1 * NSEC_PER_SEC)
#define REFRESH_MAX_NS (64 * NSEC_PER_SEC)
#define NO_SPACE_RETRY_NS (30 * NSEC_PER_SEC)
/* A new process's entry waits for its tables to be built, for up to this long. */
#define INSTALL_WAIT_NS (1 * NSEC_PER_SEC)
/* The fast builder's limit: libc has about 150 KiB of .eh_frame, python3 500 KiB. */
#define FAST_LANE_CFI_BYTES (2ULL << 20)
#define N_BUILDERS 2
#define REQUESTS_PER_CPU 256
#define MIN_REQUESTS 1024
#define DEFAULT_PID_MAX 4194304
/*
 * The process hash's bucket array is allocated up front, 16 bytes per
 * entry it may hold: the table memory budget sizes it, one process per
 * 4 KiB (65536 at the default), never beyond pid_max.
 */
#define TABLE_BYTES_PER_PROCESS 4096
#define MIN_PROCESSES 1024

enum table_state {
	TABLE_PENDING,
	TABLE_READY,
	TABLE_FAILED, /* err says why; ENOSPC is retried */
};

struct useg {
	__u64 offset;
	__u64 vaddr;
	__u64 filesz;
};

struct utable {
	char key[96]; /* "b:<build-id>" or "d:<dev>:<ino>" */
	enum table_state state;
	int err;
	struct build_job *job;   /* PENDING: with the builder */
	__u64 cost;              /* PENDING: bytes of CFI to evaluate */
	double score;            /* PENDING: scratch for reprioritize() */
	struct cfi_table *built; /* FAILED with ENOSPC: the rows, kept for a retry */
	__u64 retry_at;          /* ... when to try again */
	__u32 first_slot; /* READY: where the index and rows start in the row space */
	__u32 slots;
	__u32 n_rows;
	__u32 n_buckets;
	__u32 shift;
	__u64 origin;    /* ELF vaddr of row pc 0 */
	struct useg *segs; /* executable PT_LOADs */
	size_t n_segs;
	__u32 refs;      /* udevinos and uprocs (vdso) pointing here */
	TAILQ_ENTRY(utable) link;
};

/* A file handed to the builder, and what came back. */
struct build_job {
	char key[96];     /* the table's, to find it again */
	int fd;           /* the file, or */
	char *image;      /* its bytes (the vdso) */
	size_t image_len;
	__u64 cost;       /* bytes of CFI to evaluate */
	/* Guarded by the mutex until handed back. */
	double priority;  /* set by the worker: which job saves most samples soonest */
	bool cancelled;   /* the table was dropped meanwhile */
	struct cfi_table *result;
	int err;
	__u64 build_ns;
	struct build_job *next;
};

struct devino_key {
	__u64 dev;
	__u64 ino;
};

struct udevino {
	struct devino_key key;
	struct utable *table; /* NULL: the file could not be opened or is not ours to read */
	int err;
	__u32 proc_refs;      /* process mappings of it */
	__u64 unused_since;
	TAILQ_ENTRY(udevino) link;
};

struct umapping {
	__u64 start;
	__u64 end;
	__u64 pgoff;
	struct udevino *devino; /* file mappings */
	struct utable *vdso;    /* [vdso] */
	bool anon;              /* executable memory without a file: JIT */
};

struct uproc {
	__u32 tgid;
	__u64 start_ns;
	__u64 exec_id;
	struct umapping *maps;
	size_t n_maps;
	__u32 first;          /* the range of mapping entries the kernel reads */
	__u32 count;
	bool fp_only;         /* not ours to walk (32-bit, unreadable): n_mappings 0 */
	bool installed;       /* the kernel has its entry */
	__u64 requests;       /* not installed yet: how often the kernel asked for it */
	__u64 waiting_since;  /* not installed yet: since when its tables are awaited */
	bool dirty;           /* a table it maps came in: rewrite its entries */
	__u64 next_refresh;
	__u64 refresh_backoff;
	TAILQ_ENTRY(uproc) link;
};

struct page {
	int fd;     /* -1 until created */
	void *mem;  /* the array map's values, mmapped */
	__u32 used; /* allocated indexes */
};

/* A space of fixed-size entries split into array maps of one size, created as it fills. */
struct page_pool {
	const char *name;
	int outer_fd;
	__u32 elem_size;
	__u32 page_shift;
	__u32 max_pages;
	struct page *pages;
	__u32 live_pages;
	struct range_alloc *alloc;
};

struct retired {
	struct page_pool *pool;
	__u32 start;
	__u32 n;
};

struct unwinder {
	__u32 mode;
	char *proc_root;
	__u32 *pids;
	size_t n_pids;
	__u64 ns_per_tick;
	struct sampler_unwind_maps maps;
	__u64 *gen;              /* unwind_gen's value, mmapped */
	__u32 max_processes;     /* entries the process hash holds */
	struct page_pool rows;
	struct page_pool mappings;
	struct grace_period grace;

	/* Each kind indexed by its key, and listed to be walked. */
	struct hmap tables;  /* key → utable */
	struct hmap devinos; /* devino_key → udevino */
	struct hmap procs;   /* tgid → uproc */
	TAILQ_HEAD(, utable) table_list;
	TAILQ_HEAD(, udevino) devino_list;
	TAILQ_HEAD(, uproc) proc_list;
	size_t n_pending;        /* tables waiting for the builder */
	bool reprioritize;       /* waiting processes or pending tables changed */
	struct retired *retired;
	size_t n_retired, retired_cap;
	struct fornax_unwind_mapping *scratch;
	size_t scratch_cap;
	__u64 next_sweep;

	pthread_t thread;
	bool thread_started;
	pthread_t builders[N_BUILDERS];
	int n_builders;
	pthread_mutex_t lock;
	pthread_cond_t cond;       /* wakes the worker (and unwinder__wait_ready) */
	pthread_cond_t build_cond; /* wakes the builder */
	/* Guarded by lock. */
	bool stop;
	bool ready;
	struct build_job **jobs;   /* queued for the builder */
	size_t n_jobs, jobs_cap;
	struct build_job *done;    /* built, for the worker to load */
	struct unwinder_stats stats;
};

static __u64 now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static void stats_add(struct unwinder *u, __u64 *field, __s64 delta)
{
	pthread_mutex_lock(&u->lock);
	*field += delta;
	pthread_mutex_unlock(&u->lock);
}

#define STAT_ADD(u, field, delta) stats_add((u), &(u)->stats.field, (delta))

/* ---- indexes ---- */

static bool table_eq(const void *val, const void *key)
{
	return strcmp(((const struct utable *)val)->key, key) == 0;
}

static struct utable *table_find(struct unwinder *u, const char *key)
{
	return hmap__find(&u->tables, hash_bytes(key, strlen(key)), table_eq, key);
}

static int table_link(struct unwinder *u, struct utable *t)
{
	int err = hmap__insert(&u->tables, hash_bytes(t->key, strlen(t->key)), t);

	if (!err)
		TAILQ_INSERT_TAIL(&u->table_list, t, link);
	return err;
}

static void table_unlink(struct unwinder *u, struct utable *t)
{
	(void)hmap__remove(&u->tables, hash_bytes(t->key, strlen(t->key)), t);
	TAILQ_REMOVE(&u->table_list, t, link);
}

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

/* ---- pages ---- */

static int pool_init(struct page_pool *p, const char *name, __u32 elem_size, __u32 page_shift,
		     __u32 max_pages)
{
	LIBBPF_OPTS(bpf_map_create_opts, inner_opts, .map_flags = BPF_F_MMAPABLE);
	LIBBPF_OPTS(bpf_map_create_opts, outer_opts);
	int template_fd, err = 0;

	p->name = name;
	p->elem_size = elem_size;
	p->page_shift = page_shift;
	p->max_pages = max_pages;
	p->outer_fd = -1;
	p->pages = calloc(max_pages, sizeof(*p->pages));
	p->alloc = range_alloc__new((__u64)max_pages << page_shift);
	if (!p->pages || !p->alloc)
		return -ENOMEM;
	for (__u32 i = 0; i < max_pages; i++)
		p->pages[i].fd = -1;
	/* The outer map takes its pages' shape from a template, then forgets it. */
	template_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, name, sizeof(__u32), elem_size,
				     1u << page_shift, &inner_opts);
	if (template_fd < 0)
		return -errno;
	outer_opts.inner_map_fd = template_fd;
	p->outer_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, name, sizeof(__u32), sizeof(__u32),
				     max_pages, &outer_opts);
	if (p->outer_fd < 0)
		err = -errno;
	close(template_fd);
	return err;
}

static void pool_release_page(struct page_pool *p, __u32 i)
{
	struct page *pg = &p->pages[i];

	if (pg->fd < 0)
		return;
	/* The kernel frees the map once no program can reach it any more. */
	bpf_map_delete_elem(p->outer_fd, &i);
	munmap(pg->mem, (size_t)p->elem_size << p->page_shift);
	close(pg->fd);
	pg->fd = -1;
	pg->mem = NULL;
	p->live_pages--;
}

static void pool_destroy(struct page_pool *p)
{
	if (p->pages)
		for (__u32 i = 0; i < p->max_pages; i++)
			pool_release_page(p, i);
	free(p->pages);
	range_alloc__free(p->alloc);
	if (p->outer_fd >= 0)
		close(p->outer_fd);
}

static int pool_create_page(struct page_pool *p, __u32 i)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	struct page *pg = &p->pages[i];
	size_t bytes = (size_t)p->elem_size << p->page_shift;
	int fd, err;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, p->name, sizeof(__u32), p->elem_size,
			    1u << p->page_shift, &opts);
	if (fd < 0)
		return -errno;
	pg->mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (pg->mem == MAP_FAILED) {
		err = -errno;
		pg->mem = NULL;
		close(fd);
		return err;
	}
	if (bpf_map_update_elem(p->outer_fd, &i, &fd, BPF_ANY)) {
		err = -errno;
		munmap(pg->mem, bytes);
		pg->mem = NULL;
		close(fd);
		return err;
	}
	pg->fd = fd;
	p->live_pages++;
	return 0;
}

/* Accounts [start, start + n) to its pages; delta +1 or -1 per index. */
static void pool_account(struct page_pool *p, __u32 start, __u32 n, bool add)
{
	__u64 end = (__u64)start + n;

	for (__u64 at = start; at < end;) {
		__u32 page = at >> p->page_shift;
		__u64 page_end = ((__u64)page + 1) << p->page_shift;
		__u32 span = (page_end < end ? page_end : end) - at;

		if (add) {
			p->pages[page].used += span;
		} else {
			p->pages[page].used -= span;
			if (!p->pages[page].used)
				pool_release_page(p, page);
		}
		at += span;
	}
}

static int pool_get(struct page_pool *p, __u32 n, __u32 *start)
{
	__u64 end;
	int err = range_alloc__get(p->alloc, n, start);

	if (err)
		return err;
	end = (__u64)*start + n;
	for (__u64 page = *start >> p->page_shift; page << p->page_shift < end; page++) {
		if (p->pages[page].fd >= 0)
			continue;
		err = pool_create_page(p, page);
		if (err) {
			/* Pages created so far have no users: give them back. */
			for (__u64 q = *start >> p->page_shift; q < page; q++)
				if (!p->pages[q].used)
					pool_release_page(p, q);
			range_alloc__put(p->alloc, *start, n);
			return err;
		}
	}
	pool_account(p, *start, n, true);
	return 0;
}

static void pool_write(struct page_pool *p, __u32 start, const void *src, __u32 n)
{
	const char *from = src;
	__u64 end = (__u64)start + n;

	for (__u64 at = start; at < end;) {
		__u32 page = at >> p->page_shift;
		__u32 slot = at & ((1u << p->page_shift) - 1);
		__u32 span = (1u << p->page_shift) - slot;

		if (span > end - at)
			span = end - at;
		memcpy((char *)p->pages[page].mem + (size_t)slot * p->elem_size, from,
		       (size_t)span * p->elem_size);
		from += (size_t)span * p->elem_size;
		at += span;
	}
}

static void pool_put(struct page_pool *p, __u32 start, __u32 n)
{
	if (range_alloc__put(p->alloc, start, n))
		return;
	pool_account(p, start, n, false);
}

static __u64 pool_bytes(const struct page_pool *p)
{
	return ((__u64)p->live_pages * p->elem_size) << p->page_shift;
}

/* ---- grace periods ---- */

static void retire(struct unwinder *u, struct page_pool *pool, __u32 start, __u32 n)
{
	struct retired *r;

	if (!n)
		return;
	/*
	 * The program's per-CPU caches may hold copies from this range: a new
	 * generation empties them at the next walk, before the grace period
	 * after which the range is reused.
	 */
	if (u->gen)
		__atomic_fetch_add(u->gen, 1, __ATOMIC_SEQ_CST);
	if (u->n_retired == u->retired_cap) {
		size_t cap = u->retired_cap ? 2 * u->retired_cap : 64;

		r = realloc(u->retired, cap * sizeof(*r));
		if (!r) {
			/* Leaking the range beats reusing it under a running program. */
			STAT_ADD(u, errors, 1);
			return;
		}
		u->retired = r;
		u->retired_cap = cap;
	}
	u->retired[u->n_retired++] = (struct retired){ pool, start, n };
}

/* After a grace period no program run can still read a retired range. */
static void free_retired(struct unwinder *u)
{
	if (!u->n_retired)
		return;
	grace_period__wait(&u->grace);
	for (size_t i = 0; i < u->n_retired; i++)
		pool_put(u->retired[i].pool, u->retired[i].start, u->retired[i].n);
	u->n_retired = 0;
}

/* ---- tables ---- */

static void job_free(struct build_job *job)
{
	if (!job)
		return;
	if (job->fd >= 0)
		close(job->fd);
	free(job->image);
	cfi_table__free(job->result);
	free(job);
}

/* Hands t's file to the builder; fd or image moves into the job. */
static int queue_table(struct unwinder *u, struct utable *t, int *fd, char **image,
		       size_t image_len, __u64 cost)
{
	struct build_job *job = calloc(1, sizeof(*job));
	int err = 0;

	if (!job)
		return -ENOMEM;
	snprintf(job->key, sizeof(job->key), "%s", t->key);
	job->fd = -1;
	job->cost = cost;
	pthread_mutex_lock(&u->lock);
	if (u->n_jobs == u->jobs_cap) {
		size_t cap = u->jobs_cap ? 2 * u->jobs_cap : 64;
		struct build_job **q = realloc(u->jobs, cap * sizeof(*q));

		if (q) {
			u->jobs = q;
			u->jobs_cap = cap;
		} else {
			err = -ENOMEM;
		}
	}
	if (!err) {
		if (fd) {
			job->fd = *fd;
			*fd = -1;
		}
		if (image) {
			job->image = *image;
			job->image_len = image_len;
			*image = NULL;
		}
		u->jobs[u->n_jobs++] = job;
		u->stats.tables_pending++;
		/* Either builder may be the one that can take it. */
		pthread_cond_broadcast(&u->build_cond);
	}
	pthread_mutex_unlock(&u->lock);
	if (err) {
		free(job);
		return err;
	}
	t->job = job;
	t->cost = cost;
	t->state = TABLE_PENDING;
	u->n_pending++;
	u->reprioritize = true;
	return 0;
}


/* The table no longer wants its job: the builder drops or hands back a cancelled one. */
static void cancel_job(struct unwinder *u, struct utable *t)
{
	if (!t->job)
		return;
	pthread_mutex_lock(&u->lock);
	t->job->cancelled = true;
	pthread_mutex_unlock(&u->lock);
	t->job = NULL;
	u->n_pending--;
}

static void table_free(struct unwinder *u, struct utable *t)
{
	if (t->state == TABLE_PENDING)
		cancel_job(u, t);
	if (t->state == TABLE_READY) {
		retire(u, &u->rows, t->first_slot, t->slots);
		STAT_ADD(u, tables_evicted, 1);
		STAT_ADD(u, tables, -1);
		STAT_ADD(u, rows, -(__s64)t->n_rows);
	}
	if (t->state == TABLE_FAILED && t->err != -ENOSPC)
		STAT_ADD(u, files_failed, -1);
	table_unlink(u, t);
	cfi_table__free(t->built);
	free(t->segs);
	free(t);
}

static void table_unref(struct unwinder *u, struct utable *t)
{
	if (t && --t->refs == 0)
		table_free(u, t);
}

/* The executable PT_LOAD segments, where a mapping's table applies. */
static int read_segments(Elf *elf, struct utable *t)
{
	struct elf_segment *segs;
	size_t n;
	int err = elf_segments__read(elf, &segs, &n);

	if (err)
		return err;
	t->segs = calloc(n, sizeof(*t->segs));
	for (size_t i = 0; t->segs && i < n; i++) {
		if (segs[i].flags & PF_X)
			t->segs[t->n_segs++] = (struct useg){ segs[i].offset, segs[i].vaddr,
							      segs[i].filesz };
	}
	free(segs);
	if (!t->segs)
		return -ENOMEM;
	return t->n_segs ? 0 : -ENOEXEC;
}

/*
 * Finds or creates the table for an open ELF file. key_fallback names it
 * when it has no build-id. fd (or image) moves into a new pending table.
 */
static struct utable *table_for_elf(struct unwinder *u, Elf *elf, const char *key_fallback, int *fd,
				    char **image, size_t image_len, int *err)
{
	const unsigned char *id;
	char key[sizeof(((struct utable *)0)->key)];
	struct utable *t;
	GElf_Ehdr ehdr;
	ssize_t len;

	if (!gelf_getehdr(elf, &ehdr)) {
		*err = -ENOEXEC;
		return NULL;
	}
	if (ehdr.e_ident[EI_CLASS] != ELFCLASS64 || ehdr.e_machine != EM_X86_64) {
		*err = -ENOTSUP;
		return NULL;
	}
	len = dwelf_elf_gnu_build_id(elf, (const void **)&id);
	if (len > 0 && len <= 40) {
		key[0] = 'b';
		key[1] = ':';
		hex_encode(id, (size_t)len, key + 2);
	} else {
		snprintf(key, sizeof(key), "%s", key_fallback);
	}
	t = table_find(u, key);
	if (t) {
		t->refs++;
		return t;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		*err = -ENOMEM;
		return NULL;
	}
	snprintf(t->key, sizeof(t->key), "%s", key);
	*err = read_segments(elf, t);
	if (*err) {
		free(t->segs);
		free(t);
		return NULL;
	}
	if (table_link(u, t)) {
		free(t->segs);
		free(t);
		*err = -ENOMEM;
		return NULL;
	}
	t->refs = 1;
	*err = queue_table(u, t, fd, image, image_len, cfi_table__cfi_bytes(elf));
	if (*err) {
		table_unlink(u, t);
		free(t->segs);
		free(t);
		return NULL;
	}
	return t;
}

/* Builds one job's rows (builder thread): nothing but the job is touched. */
static void build_job(struct build_job *job)
{
	__u64 start = now_ns();
	Elf *elf;

	if (job->image)
		elf = elf_memory(job->image, job->image_len);
	else
		elf = elf_begin(job->fd, ELF_C_READ_MMAP, NULL);
	if (elf) {
		job->result = cfi_table__build(elf);
		job->err = job->result ? 0 : -errno;
		elf_end(elf);
	} else {
		job->err = -ENOEXEC;
	}
	if (job->fd >= 0)
		close(job->fd);
	job->fd = -1;
	free(job->image);
	job->image = NULL;
	job->build_ns = now_ns() - start;
}

/* The job a builder limited to max_cost should take next; -1 if none. */
static long pick_job(const struct unwinder *u, __u64 max_cost)
{
	long best = -1;

	for (size_t i = 0; i < u->n_jobs; i++) {
		const struct build_job *a = u->jobs[i], *b = best >= 0 ? u->jobs[best] : NULL;

		if (a->cost > max_cost && !a->cancelled)
			continue;
		/* Dropped jobs first (they cost nothing), then by priority, then smallest. */
		if (!b || (a->cancelled != b->cancelled  ? a->cancelled :
			   a->priority != b->priority ? a->priority > b->priority :
							a->cost < b->cost))
			best = i;
	}
	return best;
}

static void *build_loop(struct unwinder *u, __u64 max_cost)
{
	pthread_mutex_lock(&u->lock);
	for (;;) {
		struct build_job *job;
		long best = -1;

		while (!u->stop && (best = pick_job(u, max_cost)) < 0)
			pthread_cond_wait(&u->build_cond, &u->lock);
		if (u->stop)
			break;
		job = u->jobs[best];
		u->jobs[best] = u->jobs[--u->n_jobs];
		if (!job->cancelled) {
			pthread_mutex_unlock(&u->lock);
			build_job(job);
			pthread_mutex_lock(&u->lock);
		}
		job->next = u->done;
		u->done = job;
		pthread_cond_broadcast(&u->cond);
	}
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

static void *builder_any(void *arg)
{
	return build_loop(arg, UINT64_MAX);
}

static void *builder_small(void *arg)
{
	return build_loop(arg, FAST_LANE_CFI_BYTES);
}

/* Puts a built table's index and rows into the row pages. 0 or -errno (ENOSPC: no room). */
static int load_rows(struct unwinder *u, struct utable *t, const struct cfi_table *ct)
{
	struct unwind_rows_layout layout;
	struct fornax_unwind_row *image;
	size_t n;
	int err;

	cfi_table__rows(ct, &n);
	err = unwind_rows__layout(ct, &layout);
	if (err)
		return err;
	image = malloc((size_t)layout.slots * sizeof(*image));
	if (!image)
		return -ENOMEM;
	unwind_rows__serialize(ct, &layout, image);
	err = pool_get(&u->rows, layout.slots, &t->first_slot);
	if (err == -ENOSPC) {
		/* Make room from files no process maps any more, then try once more. */
		struct udevino *d, *next;

		for (d = TAILQ_FIRST(&u->devino_list); d; d = next) {
			next = TAILQ_NEXT(d, link);
			if (d->proc_refs || d->table == t)
				continue;
			devino_unlink(u, d);
			if (!d->table)
				STAT_ADD(u, files_failed, -1);
			table_unref(u, d->table);
			free(d);
		}
		free_retired(u);
		err = pool_get(&u->rows, layout.slots, &t->first_slot);
	}
	if (!err)
		pool_write(&u->rows, t->first_slot, image, layout.slots);
	free(image);
	if (err)
		return err;
	t->slots = layout.slots;
	t->n_rows = n;
	t->n_buckets = layout.n_buckets;
	t->shift = layout.shift;
	t->origin = cfi_table__origin(ct);
	pthread_mutex_lock(&u->lock);
	u->stats.tables++;
	u->stats.rows += n;
	pthread_mutex_unlock(&u->lock);
	return 0;
}

static void rewrite_dirty(struct unwinder *u, const struct utable *t);

/* A table is in (or failed): load it, and point the processes that map it at it. */
static void finish_table(struct unwinder *u, struct utable *t, struct cfi_table *ct, int err)
{
	size_t n = 0;

	if (!err) {
		cfi_table__rows(ct, &n);
		err = load_rows(u, t, ct);
	}
	t->err = err;
	t->state = err ? TABLE_FAILED : TABLE_READY;
	if (err == -ENOSPC) {
		/* Kept: sweep() tries again once room may have been freed. */
		t->built = ct;
		t->retry_at = now_ns() + NO_SPACE_RETRY_NS;
		STAT_ADD(u, tables_no_space, 1);
		log_warn_ratelimited("unwind tables: no room for %s (%zu rows) within "
				     "--unwind-memory; its code is walked by frame pointers",
				     t->key, n);
		return;
	}
	cfi_table__free(ct);
	if (err)
		STAT_ADD(u, files_failed, 1);
	if (err && err != -ENOENT)
		log_debug("unwind table %s: %s", t->key, strerror(-err));
	if (!err)
		rewrite_dirty(u, t);
}

/* Takes what the builder finished. */
static void collect_built(struct unwinder *u)
{
	struct build_job *done;

	pthread_mutex_lock(&u->lock);
	done = u->done;
	u->done = NULL;
	pthread_mutex_unlock(&u->lock);
	while (done) {
		struct build_job *job = done;
		struct utable *t = NULL;

		done = job->next;
		if (!job->cancelled)
			t = table_find(u, job->key);
		pthread_mutex_lock(&u->lock);
		u->stats.tables_pending--;
		if (t && t->job == job && !job->err) {
			u->stats.tables_built++;
			u->stats.build_ns += job->build_ns;
		}
		pthread_mutex_unlock(&u->lock);
		if (t && t->job == job) {
			t->job = NULL;
			u->n_pending--;
			u->reprioritize = true;
			finish_table(u, t, job->result, job->err);
			job->result = NULL;
		}
		job_free(job);
	}
}

/* ---- files ---- */

static struct udevino *devino_for(struct unwinder *u, int dirfd, const struct procmaps_entry *e)
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
	fd = procfs__open_mapped(dirfd, e->start, e->end, e->path, e->inode);
	if (fd < 0) {
		d->err = fd;
	} else {
		elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
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
	return d;
}

static void devino_unref(struct udevino *d)
{
	if (d && --d->proc_refs == 0)
		d->unused_since = now_ns();
}

/* The vdso as process pid maps it, read from its memory. */
static struct utable *vdso_table(struct unwinder *u, int dirfd, const struct procmaps_entry *e)
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

/* ---- processes ---- */

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

static void release_mappings(struct unwinder *u, struct umapping *maps, size_t n)
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

static struct utable *mapping_table(const struct umapping *m)
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
		if (p->n_maps > u->scratch_cap) {
			struct fornax_unwind_mapping *s = realloc(u->scratch, p->n_maps * sizeof(*s));

			if (!s)
				return -ENOMEM;
			u->scratch = s;
			u->scratch_cap = p->n_maps;
		}
		for (size_t i = 0; i < p->n_maps; i++)
			fill_entry(&p->maps[i], &u->scratch[i]);
		err = pool_get(&u->mappings, p->n_maps, &entry.first_mapping);
		if (err)
			return err;
		pool_write(&u->mappings, entry.first_mapping, u->scratch, p->n_maps);
		entry.n_mappings = p->n_maps;
	}
	if (bpf_map_update_elem(u->maps.procs, &p->tgid, &entry, BPF_ANY)) {
		err = -errno;
		if (entry.n_mappings)
			pool_put(&u->mappings, entry.first_mapping, entry.n_mappings);
		return err;
	}
	p->first = entry.first_mapping;
	p->count = entry.n_mappings;
	p->dirty = false;
	/* A program run may still walk the old entries: free them after a grace period. */
	retire(u, &u->mappings, old_first, old_count);
	return 0;
}

static void proc_free(struct unwinder *u, struct uproc *p, bool delete_entry)
{
	if (delete_entry)
		bpf_map_delete_elem(u->maps.procs, &p->tgid);
	retire(u, &u->mappings, p->first, p->count);
	release_mappings(u, p->maps, p->n_maps);
	proc_unlink(u, p);
	pthread_mutex_lock(&u->lock);
	u->stats.processes--;
	u->stats.processes_fp -= p->fp_only;
	pthread_mutex_unlock(&u->lock);
	free(p);
}

/* After a table loads, the processes mapping it get entries that point at it. */
static void rewrite_dirty(struct unwinder *u, const struct utable *t)
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
static void reprioritize(struct unwinder *u)
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
static void install_waiting(struct unwinder *u)
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

/* Returns how many requests were read. */
static int handle_requests(struct unwinder *u)
{
	int handled = 0;

	/* Each request is deleted as it is read, so the first key is always the next one. */
	for (int budget = 4096; budget > 0; budget--, handled++) {
		struct fornax_unwind_request req;
		__u32 key;

		if (bpf_map_get_next_key(u->maps.requests, NULL, &key))
			break;
		if (bpf_map_lookup_and_delete_elem(u->maps.requests, &key, &req)) {
			bpf_map_delete_elem(u->maps.requests, &key);
			continue;
		}
		STAT_ADD(u, requests, 1);
		if (req.reason & FORNAX_REQ_NEW_PROCESS)
			new_process(u, key, &req);
		else if (req.reason & FORNAX_REQ_UNKNOWN_PC)
			refresh_process(u, key);
	}
	return handled;
}


static void sweep(struct unwinder *u)
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
		devino_unlink(u, d);
		if (!d->table)
			STAT_ADD(u, files_failed, -1);
		table_unref(u, d->table);
		free(d);
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

/*
 * With --pid, the targets are known before the first sample: read their
 * files ahead. Otherwise tables are built as processes are sampled; reading
 * every process's files at start would cost a busy host seconds of CPU for
 * programs that may never be sampled.
 */
static void prescan(struct unwinder *u)
{
	for (size_t i = 0; i < u->n_pids; i++)
		read_ahead(u, u->pids[i]);
}

static bool should_stop(struct unwinder *u)
{
	bool stop;

	pthread_mutex_lock(&u->lock);
	stop = u->stop;
	pthread_mutex_unlock(&u->lock);
	return stop;
}

static void *worker(void *arg)
{
	struct unwinder *u = arg;

	/*
	 * Requests sit in a map the program writes, so they are polled: every
	 * POLL_NS while there is work, slowing to IDLE_POLL_NS when there is
	 * none, so an idle agent does not wake a hundred times a second.
	 */
	__u64 poll_ns = POLL_NS;

	prescan(u);
	while (!should_stop(u)) {
		struct timespec until;
		bool busy;
		__u64 now;

		busy = handle_requests(u) > 0;
		collect_built(u);
		install_waiting(u);
		reprioritize(u);
		now = now_ns();
		if (now >= u->next_sweep) {
			sweep(u);
			u->next_sweep = now + SWEEP_NS;
		}
		free_retired(u);

		pthread_mutex_lock(&u->lock);
		u->stats.row_bytes = pool_bytes(&u->rows);
		u->stats.mapping_bytes = pool_bytes(&u->mappings);
		if (!u->ready && !u->n_pending) {
			u->ready = true;
			pthread_cond_broadcast(&u->cond);
		}
		busy = busy || u->n_pending;
		poll_ns = busy ? POLL_NS : poll_ns * 2 < IDLE_POLL_NS ? poll_ns * 2 : IDLE_POLL_NS;
		/* Until the next poll of the requests, or until the builder hands something back. */
		if (!u->stop && !u->done) {
			until = timespec_after_ns(CLOCK_MONOTONIC, poll_ns);
			pthread_cond_timedwait(&u->cond, &u->lock, &until);
		}
		pthread_mutex_unlock(&u->lock);
	}
	return NULL;
}

static __u32 pid_max(void)
{
	unsigned long v = 0;
	FILE *f = fopen("/proc/sys/kernel/pid_max", "re");

	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v && v <= DEFAULT_PID_MAX ? v : DEFAULT_PID_MAX;
}

static int create_maps(struct unwinder *u, size_t max_table_bytes)
{
	LIBBPF_OPTS(bpf_map_create_opts, no_prealloc, .map_flags = BPF_F_NO_PREALLOC);
	LIBBPF_OPTS(bpf_map_create_opts, mmapable, .map_flags = BPF_F_MMAPABLE);
	size_t page_bytes = sizeof(struct fornax_unwind_row) << FORNAX_UNWIND_ROW_PAGE_SHIFT;
	__u32 row_pages = max_table_bytes / page_bytes;
	/* Mapping entries are 32 bytes against rows' 8: a quarter of the budget is plenty. */
	__u32 map_pages = max_table_bytes / 4 /
			  (sizeof(struct fornax_unwind_mapping) << FORNAX_UNWIND_MAP_PAGE_SHIFT);
	int cpus = libbpf_num_possible_cpus();
	__u32 requests = cpus > 0 ? (__u32)cpus * REQUESTS_PER_CPU : MIN_REQUESTS;
	int err;

	if (row_pages < 1)
		row_pages = 1;
	if (map_pages < 1)
		map_pages = 1;
	if (requests < MIN_REQUESTS)
		requests = MIN_REQUESTS;
	err = pool_init(&u->rows, "fornax_rows", sizeof(struct fornax_unwind_row),
			FORNAX_UNWIND_ROW_PAGE_SHIFT, row_pages);
	if (!err)
		err = pool_init(&u->mappings, "fornax_maps", sizeof(struct fornax_unwind_mapping),
				FORNAX_UNWIND_MAP_PAGE_SHIFT, map_pages);
	if (err)
		return err;
	u->maps.row_pages = u->rows.outer_fd;
	u->maps.map_pages = u->mappings.outer_fd;
	/* Entries are allocated as processes appear; only the buckets are up front. */
	u->max_processes = max_table_bytes / TABLE_BYTES_PER_PROCESS;
	if (u->max_processes < MIN_PROCESSES)
		u->max_processes = MIN_PROCESSES;
	if (u->max_processes > pid_max())
		u->max_processes = pid_max();
	u->maps.procs = bpf_map_create(BPF_MAP_TYPE_HASH, "fornax_procs", sizeof(__u32),
				       sizeof(struct fornax_unwind_proc), u->max_processes,
				       &no_prealloc);
	if (u->maps.procs < 0)
		return -errno;
	/* The program inserts into this one from interrupt context: preallocated. */
	u->maps.requests = bpf_map_create(BPF_MAP_TYPE_HASH, "fornax_requests", sizeof(__u32),
					  sizeof(struct fornax_unwind_request), requests, NULL);
	if (u->maps.requests < 0)
		return -errno;
	u->maps.gen = bpf_map_create(BPF_MAP_TYPE_ARRAY, "fornax_gen", sizeof(__u32), sizeof(__u64),
				     1, &mmapable);
	if (u->maps.gen < 0)
		return -errno;
	u->gen = mmap(NULL, sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE, MAP_SHARED, u->maps.gen,
		      0);
	if (u->gen == MAP_FAILED) {
		u->gen = NULL;
		return -errno;
	}
	return 0;
}

struct unwinder *unwinder__new(const struct unwinder_opts *opts)
{
	struct unwinder *u;
	sigset_t all, old;
	int err;

	if (!opts || (opts->mode != FORNAX_UNWIND_AUTO && opts->mode != FORNAX_UNWIND_DWARF)) {
		errno = EINVAL;
		return NULL;
	}
#if !defined(__x86_64__)
	/* Rows and the walker know the x86-64 psABI only. */
	errno = ENOTSUP;
	return NULL;
#endif
	u = calloc(1, sizeof(*u));
	if (!u) {
		errno = ENOMEM;
		return NULL;
	}
	u->maps = (struct sampler_unwind_maps){ -1, -1, -1, -1, -1 };
	TAILQ_INIT(&u->table_list);
	TAILQ_INIT(&u->devino_list);
	TAILQ_INIT(&u->proc_list);
	u->rows.outer_fd = u->mappings.outer_fd = -1;
	pthread_mutex_init(&u->lock, NULL);
	{
		pthread_condattr_t attr;

		/* Deadlines are CLOCK_MONOTONIC: the wall clock may jump. */
		pthread_condattr_init(&attr);
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		pthread_cond_init(&u->cond, &attr);
		pthread_condattr_destroy(&attr);
		pthread_cond_init(&u->build_cond, NULL);
	}
	u->mode = opts->mode;
	u->ns_per_tick = procfs__ns_per_tick();
	u->proc_root = strdup(opts->proc_root ? opts->proc_root : DEFAULT_PROC_ROOT);
	if (!u->proc_root) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (opts->n_pids) {
		u->pids = calloc(opts->n_pids, sizeof(*u->pids));
		if (!u->pids) {
			err = -ENOMEM;
			goto cleanup;
		}
		memcpy(u->pids, opts->pids, opts->n_pids * sizeof(*u->pids));
		u->n_pids = opts->n_pids;
	}
	elf_version(EV_CURRENT);
	err = create_maps(u, opts->max_table_bytes ? opts->max_table_bytes
						   : DEFAULT_MAX_TABLE_BYTES);
	if (err) {
		log_error("creating the unwinder's maps: %s", strerror(-err));
		goto cleanup;
	}
	grace_period__init(&u->grace);
	u->next_sweep = now_ns() + SWEEP_NS;

	/* Signals belong to the main thread's signalfd: the worker takes none. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = -pthread_create(&u->builders[0], NULL, builder_any, u);
	if (!err) {
		u->n_builders++;
		err = -pthread_create(&u->builders[1], NULL, builder_small, u);
	}
	if (!err) {
		u->n_builders++;
		err = -pthread_create(&u->thread, NULL, worker, u);
		u->thread_started = !err;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		log_error("starting the unwinder threads: %s", strerror(-err));
		goto cleanup;
	}
	return u;

cleanup:
	unwinder__free(u);
	errno = -err;
	return NULL;
}

void unwinder__free(struct unwinder *u)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	u->stop = true;
	pthread_cond_broadcast(&u->cond);
	pthread_cond_broadcast(&u->build_cond);
	pthread_mutex_unlock(&u->lock);
	if (u->thread_started)
		pthread_join(u->thread, NULL);
	for (int i = 0; i < u->n_builders; i++)
		pthread_join(u->builders[i], NULL);

	while (!TAILQ_EMPTY(&u->proc_list)) {
		struct uproc *p = TAILQ_FIRST(&u->proc_list);

		proc_unlink(u, p);
		release_mappings(u, p->maps, p->n_maps);
		free(p);
	}
	while (!TAILQ_EMPTY(&u->devino_list)) {
		struct udevino *d = TAILQ_FIRST(&u->devino_list);

		devino_unlink(u, d);
		table_unref(u, d->table);
		free(d);
	}
	while (!TAILQ_EMPTY(&u->table_list))
		table_free(u, TAILQ_FIRST(&u->table_list));
	hmap__clear(&u->tables);
	hmap__clear(&u->devinos);
	hmap__clear(&u->procs);
	/* Both threads are gone: the jobs they left behind are ours. */
	for (size_t i = 0; i < u->n_jobs; i++)
		job_free(u->jobs[i]);
	while (u->done) {
		struct build_job *job = u->done;

		u->done = job->next;
		job_free(job);
	}
	/* Nothing runs the program any more once the agent frees this: no grace period. */
	pool_destroy(&u->rows);
	pool_destroy(&u->mappings);
	if (u->maps.procs >= 0)
		close(u->maps.procs);
	if (u->maps.requests >= 0)
		close(u->maps.requests);
	if (u->gen)
		munmap(u->gen, sysconf(_SC_PAGESIZE));
	if (u->maps.gen >= 0)
		close(u->maps.gen);
	free(u->retired);
	free(u->jobs);
	free(u->scratch);
	free(u->pids);
	free(u->proc_root);
	pthread_mutex_destroy(&u->lock);
	pthread_cond_destroy(&u->cond);
	pthread_cond_destroy(&u->build_cond);
	free(u);
}

const struct sampler_unwind_maps *unwinder__maps(const struct unwinder *u)
{
	return &u->maps;
}

bool unwinder__wait_ready(struct unwinder *u, __u64 timeout_ns)
{
	struct timespec until = timespec_after_ns(CLOCK_MONOTONIC, timeout_ns);
	bool ready;

	pthread_mutex_lock(&u->lock);
	while (!u->ready && !u->stop)
		if (pthread_cond_timedwait(&u->cond, &u->lock, &until))
			break;
	ready = u->ready;
	pthread_mutex_unlock(&u->lock);
	return ready;
}

void unwinder__stats(struct unwinder *u, struct unwinder_stats *out)
{
	pthread_mutex_lock(&u->lock);
	*out = u->stats;
	pthread_mutex_unlock(&u->lock);
}
