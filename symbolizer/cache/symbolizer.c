// SPDX-License-Identifier: Apache-2.0
/*
 * The glue: processes → executable mappings → files → cached addresses.
 *
 *   sym_proc     one per (pid, start time); its executable mappings from
 *                /proc/PID/maps, re-read (at most once per cycle) when an
 *                address falls in none of them.
 *   sym_devino   one per (dev, inode) seen in any maps; the path first seen,
 *                and the sym_file once opened (or a negative entry).
 *   sym_file     one per build-id (or per devino without one): the libdwfl
 *                session (closed when idle, beyond max_files or beyond
 *                max_dwarf_bytes of estimated heap), PT_LOAD segments, and
 *                the interned strings of its cached frames.
 *   addr_entry   frames of one (file, ELF vaddr), LRU over all files. A warm
 *                lookup is a hash probe: sessions are only needed on misses.
 *
 * Everything handed out stays valid until symbolizer__end_cycle(): objects
 * dropped mid-cycle to respect a bound go to dead lists freed there.
 * One symbolizer is used by one thread at a time.
 */
#include "symbolizer.h"

#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "debuginfod.h"
#include "demangler.h"
#include "elf_file.h"
#include "hashmap.h"
#include "kallsyms.h"
#include "perfmap.h"
#include "procmaps.h"
#include "strtab.h"

#define DEFAULT_PROC_ROOT "/proc"
#define DEFAULT_NOTES_PATH "/sys/kernel/notes"
#define DEFAULT_DEBUG_DIRS "/usr/lib/debug"
#define DEFAULT_MAX_PROCESSES 8192
#define DEFAULT_MAX_FILES 256
#define DEFAULT_MAX_ADDRESSES 65536
#define DEFAULT_IDLE_CYCLES 60
#define DEFAULT_MAX_DWARF_BYTES (8u << 20)
#define DEFAULT_EXIT_GRACE_CYCLES 2
#define DEFAULT_MAX_PERFMAP_BYTES (64u << 20)
#define PERFMAP_READ_CHUNK (64u << 10)
#define JFRAME_CHUNK 256
#define TRIM_THRESHOLD_BYTES (1u << 20) /* closed this much: give the heap back */
#define KFRAME_CHUNK 256
#define VDSO_MAX_SIZE (1u << 20)

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

struct list_node {
	struct list_node *prev, *next;
};

static void list_init(struct list_node *n)
{
	n->prev = n->next = n;
}

static bool list_empty(const struct list_node *h)
{
	return h->next == h;
}

static void list_del(struct list_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	list_init(n);
}

static void list_add_front(struct list_node *h, struct list_node *n)
{
	n->next = h->next;
	n->prev = h;
	h->next->prev = n;
	h->next = n;
}

static void list_add_tail(struct list_node *h, struct list_node *n)
{
	list_add_front(h->prev, n);
}

static void list_move_front(struct list_node *h, struct list_node *n)
{
	if (h->next == n)
		return;
	n->prev->next = n->next;
	n->next->prev = n->prev;
	list_add_front(h, n);
}

struct sym_file {
	struct list_node node;      /* sym->files */
	struct list_node open_node; /* sym->open_files, most recent first, while elf is set */
	struct elf_file *elf;
	char *build_id;
	struct elf_segment *segs;
	size_t n_segs;
	struct strtab strings; /* names and source files of cached frames */
	size_t refs;           /* devinos and processes (vdso) pointing here */
	size_t n_addrs;        /* addr_entries, dead ones included */
	size_t mem;            /* elf_file__memory() of the open session, as last seen */
	__u64 last_used;
	bool probed;
	bool has_functions; /* some address got a function name */
	bool has_dwarf;
};

struct sym_devino {
	struct list_node node; /* sym->devinos */
	__u64 dev;             /* major << 32 | minor */
	__u64 ino;
	char *path;            /* as first seen in a process's maps */
	struct sym_file *file; /* NULL until opened */
	size_t refs;           /* process mappings */
	__u64 last_used;
	__u64 failed_cycle;
	bool failed;           /* negative entry: not retried for idle_cycles */
	/* the last process the file was opened through: a way back to it once others exit */
	__u32 opener_pid;
	__u64 opener_ticks;
};

enum map_kind {
	MAPPING_OTHER, /* anonymous or pseudo: unsymbolized */
	MAPPING_FILE,
	MAPPING_VDSO,
};

struct proc_mapping {
	struct symbolizer_mapping pub;
	struct sym_devino *dv; /* MAPPING_FILE: one reference */
	enum map_kind kind;
};

struct proc_maps {
	struct proc_maps *next_dead;
	size_t n;
	struct proc_mapping m[];
};

struct sym_proc {
	struct list_node node;     /* sym->procs, most recent first */
	struct sym_proc *next_pid; /* older entries for the same pid */
	struct sym_proc *next_dead;
	__u32 pid;
	__u64 start_ticks;         /* /proc/PID/stat field 22; 0 if unknown */
	struct proc_maps *maps;    /* executable mappings; NULL: never read */
	struct sym_file *vdso;     /* one reference */
	__u64 last_used;
	__u64 checked_cycle;       /* last maps read or liveness check */
	bool gone;                 /* exited or pid reused: never re-read */
	bool vdso_tried;
	bool exited;               /* reported by symbolizer__process_exit() */
	struct list_node exit_node; /* sym->exited, oldest exit first */
	__u64 exit_cycle;
	/* the image before the last exec, for samples taken before it */
	struct proc_maps *prev_maps;
	/*
	 * The parent's image at fork, which a child runs until it executes.
	 * Kept apart from prev_maps: a read at the child's first sample may
	 * land before or after its exec record.
	 */
	struct proc_maps *fork_maps;
	struct list_node prev_node; /* sym->prev_images, oldest first */
	__u64 prev_cycle;
	/* JIT code: the perf map as read so far */
	struct perfmap *perfmap;
	__u64 perfmap_offset;      /* bytes parsed */
	__u64 perfmap_ino;
	__u64 perfmap_checked;     /* cycle + 1 of the last look at the file; 0: never */
};

struct jframe_chunk {
	struct jframe_chunk *next;
	size_t used;
	struct symbolizer_frame items[JFRAME_CHUNK];
};

struct dead_perfmap {
	struct dead_perfmap *next;
	struct perfmap *pm;
};

struct addr_entry {
	struct list_node node; /* sym->addr_lru, most recent first; or sym->dead_addrs */
	struct sym_file *file;
	__u64 vaddr;
	__u64 last_used;
	__u32 n_frames;
	struct symbolizer_frame frames[];
};

struct kframe {
	__u32 index;
	struct symbolizer_frame frame;
};

struct kframe_chunk {
	struct kframe_chunk *next;
	size_t used;
	struct kframe items[KFRAME_CHUNK];
};

struct kernel_state {
	struct kallsyms *ks;
	int err; /* load error, kept */
	bool tried;
	char *build_id;
	struct symbolizer_mapping core;
	struct symbolizer_mapping *mods;
	char **mod_paths;
	size_t n_mods;
	struct hmap frames; /* symbol index → kframe, this cycle */
	struct kframe_chunk *chunks;
};

struct symbolizer {
	char *proc_root;
	char *kallsyms_path;
	char *modules_path;
	char *notes_path;
	char *debug_dirs;
	struct elf_file_opts elf_opts;
	size_t max_processes;
	size_t max_files;
	size_t max_addresses;
	size_t max_dwarf_bytes;
	unsigned idle_cycles;
	unsigned exit_grace_cycles;
	bool no_kernel;
	__u64 ns_per_tick;
	__u64 cycle;

	struct hmap procs_by_pid; /* pid → newest sym_proc */
	struct list_node procs;
	size_t n_procs;
	struct list_node exited;  /* exited processes waiting for their last samples */
	struct list_node prev_images; /* processes holding a pre-exec image */
	size_t max_perfmap_bytes;
	struct jframe_chunk *jframes;     /* JIT frames handed out this cycle */
	struct dead_perfmap *dead_perfmaps; /* replaced this cycle, names still in use */
	/*
	 * The vdso image is the same in every process of one ABI: the first
	 * one read serves the others, so the vdso of a process that exited
	 * before a drain still resolves.
	 */
	struct sym_file *vdso_file;
	__u64 vdso_size;
	struct hmap devinos;
	struct list_node devino_list;
	struct hmap files_by_bid;
	struct list_node files;
	struct list_node open_files;
	size_t n_open;
	size_t open_bytes;   /* sum of the open sessions' mem */
	size_t closed_bytes; /* closed since the last heap trim */
	struct hmap addrs;
	struct list_node addr_lru;
	size_t n_addrs;

	struct list_node dead_addrs;
	struct sym_proc *dead_procs;
	struct proc_maps *dead_maps;

	struct kernel_state k;
	struct debuginfod *debuginfod;
	struct symbolizer_stats stats;
};

/* ---- keys ---- */

struct devino_key {
	__u64 dev, ino;
};

static __u64 devino_hash(__u64 dev, __u64 ino)
{
	return hash_u64(ino ^ hash_u64(dev));
}

static bool devino_eq(const void *val, const void *key)
{
	const struct sym_devino *dv = val;
	const struct devino_key *k = key;

	return dv->dev == k->dev && dv->ino == k->ino;
}

static bool pid_eq(const void *val, const void *key)
{
	return ((const struct sym_proc *)val)->pid == *(const __u32 *)key;
}

static bool bid_eq(const void *val, const void *key)
{
	return strcmp(((const struct sym_file *)val)->build_id, key) == 0;
}

struct addr_key {
	const struct sym_file *file;
	__u64 vaddr;
};

static __u64 addr_hash(const struct sym_file *file, __u64 vaddr)
{
	return hash_u64(vaddr ^ hash_u64((__u64)(uintptr_t)file));
}

static bool addr_eq(const void *val, const void *key)
{
	const struct addr_entry *e = val;
	const struct addr_key *k = key;

	return e->file == k->file && e->vaddr == k->vaddr;
}

static bool kframe_eq(const void *val, const void *key)
{
	return ((const struct kframe *)val)->index == *(const __u32 *)key;
}

static bool idle(const struct symbolizer *sym, __u64 last_used)
{
	return sym->cycle - last_used >= sym->idle_cycles;
}

/* ---- files ---- */

static void file_close(struct symbolizer *sym, struct sym_file *f)
{
	if (!f->elf)
		return;
	elf_file__free(f->elf);
	f->elf = NULL;
	list_del(&f->open_node);
	sym->n_open--;
	sym->open_bytes -= f->mem;
	sym->closed_bytes += f->mem;
	f->mem = 0;
	sym->stats.evicted_files++;
}

/* Re-reads f's memory estimate; closes others beyond max_dwarf_bytes. */
static void file_account(struct symbolizer *sym, struct sym_file *f)
{
	size_t mem = elf_file__memory(f->elf);

	sym->open_bytes += mem - f->mem;
	f->mem = mem;
	while (sym->open_bytes > sym->max_dwarf_bytes) {
		struct sym_file *lru = container_of(sym->open_files.prev, struct sym_file, open_node);

		if (lru == f)
			break; /* alone over the limit: closed at the end of the cycle */
		file_close(sym, lru);
	}
}

/* Gives f the open session ef, closing the least recently used beyond max_files. */
static void file_attach(struct symbolizer *sym, struct sym_file *f, struct elf_file *ef)
{
	while (sym->n_open >= sym->max_files && !list_empty(&sym->open_files)) {
		struct sym_file *lru = container_of(sym->open_files.prev, struct sym_file, open_node);

		file_close(sym, lru);
	}
	f->elf = ef;
	f->mem = 0;
	list_add_front(&sym->open_files, &f->open_node);
	sym->n_open++;
	file_account(sym, f);
}

static void file_free(struct symbolizer *sym, struct sym_file *f)
{
	file_close(sym, f);
	if (f->build_id)
		(void)hmap__remove(&sym->files_by_bid, hash_bytes(f->build_id, strlen(f->build_id)), f);
	list_del(&f->node);
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
	list_init(&f->node);
	list_init(&f->open_node);
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
	list_add_front(&sym->files, &f->node);
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

static void file_unref(struct sym_file *f)
{
	if (f && f->refs)
		f->refs--;
}

/* ---- devinos ---- */

static struct sym_devino *devino_get(struct symbolizer *sym, __u64 dev, __u64 ino, const char *path)
{
	struct devino_key key = { .dev = dev, .ino = ino };
	__u64 h = devino_hash(dev, ino);
	struct sym_devino *dv;

	dv = hmap__find(&sym->devinos, h, devino_eq, &key);
	if (dv)
		return dv;
	dv = calloc(1, sizeof(*dv));
	if (!dv)
		return NULL;
	dv->dev = dev;
	dv->ino = ino;
	dv->last_used = sym->cycle;
	dv->path = strdup(path);
	if (!dv->path || hmap__insert(&sym->devinos, h, dv)) {
		free(dv->path);
		free(dv);
		return NULL;
	}
	list_add_front(&sym->devino_list, &dv->node);
	return dv;
}

static void devino_free(struct symbolizer *sym, struct sym_devino *dv)
{
	(void)hmap__remove(&sym->devinos, devino_hash(dv->dev, dv->ino), dv);
	list_del(&dv->node);
	file_unref(dv->file);
	free(dv->path);
	free(dv);
}

/* ---- /proc ---- */

static int proc_dir_open(const struct symbolizer *sym, __u32 pid)
{
	char *path;
	int fd, err;

	if (asprintf(&path, "%s/%u", sym->proc_root, pid) < 0)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = -errno;
	free(path);
	return fd >= 0 ? fd : err;
}

/* Field 22 of /proc/PID/stat: start time in clock ticks since boot. */
static int read_start_ticks(int dirfd, __u64 *ticks)
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
	p++;
	for (i = 3, tok = strtok_r(p, " ", &save); tok && i < 22; i++)
		tok = strtok_r(NULL, " ", &save);
	if (!tok)
		return -EINVAL;
	errno = 0;
	*ticks = strtoull(tok, &end, 10);
	if (errno || end == tok || (*end && *end != ' ' && *end != '\n'))
		return -EINVAL;
	return 0;
}

static bool ticks_match(__u64 a, __u64 b)
{
	/* start_boottime in ns truncated to ticks on either side: allow one tick */
	return a > b ? a - b <= 1 : b - a <= 1;
}

static void maps_release(struct proc_maps *maps)
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
static int proc_read_maps(struct symbolizer *sym, struct sym_proc *p, int dirfd)
{
	struct proc_maps *maps = NULL;
	struct procmaps *pm = NULL;
	FILE *f = NULL;
	size_t n;
	int fd, err = 0;

	fd = openat(dirfd, "maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "r");
	if (!f) {
		err = -errno;
		close(fd);
		return err;
	}
	pm = procmaps__parse_file(f, PROCMAPS_EXEC_ONLY);
	if (!pm) {
		err = -errno;
		goto cleanup;
	}
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
	if (p->maps) {
		/* locations handed out this cycle may point into the old ones */
		p->maps->next_dead = sym->dead_maps;
		sym->dead_maps = p->maps;
	}
	p->maps = maps;
	maps = NULL;

cleanup:
	maps_release(maps);
	procmaps__free(pm);
	fclose(f);
	return err;
}

static struct proc_mapping *maps_find(struct proc_maps *maps, __u64 addr)
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

/* ---- processes ---- */

static void proc_unlink(struct symbolizer *sym, struct sym_proc *p)
{
	struct sym_proc *head = hmap__find(&sym->procs_by_pid, hash_u64(p->pid), pid_eq, &p->pid);

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
	list_del(&p->node);
	list_del(&p->exit_node);
	list_del(&p->prev_node);
	sym->n_procs--;
}

static void proc_free(struct sym_proc *p)
{
	maps_release(p->maps);
	maps_release(p->prev_maps);
	maps_release(p->fork_maps);
	perfmap__free(p->perfmap);
	file_unref(p->vdso);
	free(p);
}

static int proc_insert(struct symbolizer *sym, struct sym_proc *p)
{
	__u64 h = hash_u64(p->pid);
	struct sym_proc *head;
	int err;

	while (sym->n_procs >= sym->max_processes && !list_empty(&sym->procs)) {
		struct sym_proc *lru = container_of(sym->procs.prev, struct sym_proc, node);

		proc_unlink(sym, lru);
		lru->next_dead = sym->dead_procs;
		sym->dead_procs = lru;
		sym->stats.evicted_processes++;
	}
	head = hmap__find(&sym->procs_by_pid, h, pid_eq, &p->pid);
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
	list_add_front(&sym->procs, &p->node);
	sym->n_procs++;
	return 0;
}

/*
 * A new entry for pid. dirfd >= 0 and live: ticks is the process's start
 * time and its maps are read now; otherwise a negative entry (gone, no
 * maps) remembering ticks.
 */
static struct sym_proc *proc_new(struct symbolizer *sym, __u32 pid, __u64 ticks, int dirfd,
				 int *err)
{
	struct sym_proc *p = calloc(1, sizeof(*p));

	if (!p) {
		*err = -ENOMEM;
		return NULL;
	}
	list_init(&p->node);
	list_init(&p->exit_node);
	list_init(&p->prev_node);
	p->pid = pid;
	p->start_ticks = ticks;
	p->last_used = sym->cycle;
	p->checked_cycle = sym->cycle;
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
		proc_free(p);
		return NULL;
	}
	return p;
}

static void proc_touch(struct symbolizer *sym, struct sym_proc *p)
{
	p->last_used = sym->cycle;
	list_move_front(&sym->procs, &p->node);
}

static struct sym_proc *proc_lookup(struct symbolizer *sym, __u32 pid, __u64 start_ns, int *err)
{
	__u64 want = start_ns / sym->ns_per_tick, ticks = 0;
	struct sym_proc *head, *p;
	int dirfd, r;

	*err = 0;
	head = hmap__find(&sym->procs_by_pid, hash_u64(pid), pid_eq, &pid);
	for (p = head; p; p = p->next_pid) {
		if (start_ns ? p->start_ticks && ticks_match(p->start_ticks, want) : p->maps && !p->gone) {
			proc_touch(sym, p);
			return p;
		}
	}
	if (!start_ns && head && head->checked_cycle == sym->cycle) {
		proc_touch(sym, head);
		return head;
	}

	dirfd = proc_dir_open(sym, pid);
	r = dirfd >= 0 ? read_start_ticks(dirfd, &ticks) : dirfd;
	if (r == -ENOMEM) {
		*err = r;
		goto cleanup;
	}
	if (r == 0 && (!start_ns || ticks_match(ticks, want))) {
		/* the process asked for is alive: is it one we had marked gone? */
		for (p = head; p; p = p->next_pid) {
			if (p->start_ticks && ticks_match(p->start_ticks, ticks))
				break;
		}
		if (p) {
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
		} else {
			p = proc_new(sym, pid, ticks, dirfd, err);
		}
		goto cleanup;
	}
	/* gone, or the pid now names another process */
	if (!start_ns && head) {
		head->checked_cycle = sym->cycle;
		proc_touch(sym, head);
		p = head;
		goto cleanup;
	}
	p = proc_new(sym, pid, want, -1, err);

cleanup:
	if (dirfd >= 0)
		close(dirfd);
	return p;
}

/* Re-reads p's maps if p is still the process it was. 0 or -ENOMEM. */
static int proc_reread(struct symbolizer *sym, struct sym_proc *p)
{
	__u64 ticks;
	int dirfd, err;

	p->checked_cycle = sym->cycle;
	dirfd = proc_dir_open(sym, p->pid);
	if (dirfd < 0) {
		if (dirfd == -ENOMEM)
			return dirfd;
		p->gone = true;
		return 0;
	}
	err = read_start_ticks(dirfd, &ticks);
	if (err || !ticks_match(ticks, p->start_ticks)) {
		p->gone = true;
		err = 0;
		goto cleanup;
	}
	err = proc_read_maps(sym, p, dirfd);
	if (err && err != -ENOMEM) {
		p->gone = true;
		err = 0;
	}
cleanup:
	close(dirfd);
	return err;
}

/*
 * An fd for the file behind mapping m of p: /proc/PID/map_files/<range>
 * (exact even for deleted or replaced files), else /proc/PID/root/<path>
 * (the process's mount namespace). -ESRCH if p is no longer there.
 */
static int open_mapping_fd(struct symbolizer *sym, __u32 pid, __u64 start_ticks,
			   const struct proc_mapping *m, bool own_mapping, char **debug_path)
{
	char *name = NULL;
	struct stat st;
	__u64 ticks;
	int dirfd, fd = -1, err;

	*debug_path = NULL;
	dirfd = proc_dir_open(sym, pid);
	if (dirfd < 0)
		return dirfd == -ENOMEM ? dirfd : -ESRCH;
	err = read_start_ticks(dirfd, &ticks);
	if (err || !ticks_match(ticks, start_ticks)) {
		err = -ESRCH;
		goto cleanup;
	}
	/* map_files/ needs the mapping's exact range in that process */
	if (own_mapping) {
		if (asprintf(&name, "map_files/%llx-%llx", (unsigned long long)m->pub.start,
			     (unsigned long long)m->pub.limit) < 0) {
			name = NULL;
			err = -ENOMEM;
			goto cleanup;
		}
		fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
		free(name);
		name = NULL;
	}
	if (fd < 0) {
		if (asprintf(&name, "root%s", m->pub.path) < 0) {
			name = NULL;
			err = -ENOMEM;
			goto cleanup;
		}
		/* O_NONBLOCK: the path may have been replaced by a FIFO since it was mapped */
		fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0) {
			err = -errno;
			goto cleanup;
		}
	}
	/* the inode must be the mapped one (st_dev differs on btrfs and overlayfs) */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (__u64)st.st_ino != m->dv->ino) {
		err = -ESTALE;
		goto cleanup;
	}
	if (asprintf(debug_path, "%s/%u/root%s", sym->proc_root, pid, m->pub.path) < 0) {
		*debug_path = NULL;
		err = -ENOMEM;
		goto cleanup;
	}
	err = 0;

cleanup:
	free(name);
	close(dirfd);
	if (err) {
		if (fd >= 0)
			close(fd);
		return err;
	}
	return fd;
}

/* The vdso image of p, copied from /proc/PID/mem into a memfd. */
static int open_vdso_fd(struct symbolizer *sym, struct sym_proc *p, const struct proc_mapping *m)
{
	size_t len = (size_t)(m->pub.limit - m->pub.start), done = 0;
	char *buf = NULL;
	int dirfd, memfd = -1, fd = -1, err;
	__u64 ticks;

	if (!len || len > VDSO_MAX_SIZE)
		return -EINVAL;
	dirfd = proc_dir_open(sym, p->pid);
	if (dirfd < 0)
		return dirfd == -ENOMEM ? dirfd : -ESRCH;
	err = read_start_ticks(dirfd, &ticks);
	if (err || !ticks_match(ticks, p->start_ticks)) {
		err = -ESRCH;
		goto cleanup;
	}
	buf = malloc(len);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	memfd = openat(dirfd, "mem", O_RDONLY | O_CLOEXEC);
	if (memfd < 0) {
		err = -errno;
		goto cleanup;
	}
	while (done < len) {
		ssize_t n = pread(memfd, buf + done, len - done, (off_t)(m->pub.start + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			goto cleanup;
		}
		done += (size_t)n;
	}
	fd = memfd_create("fornax-vdso", MFD_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto cleanup;
	}
	for (done = 0; done < len;) {
		ssize_t n = write(fd, buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			goto cleanup;
		}
		done += (size_t)n;
	}
	err = 0;

cleanup:
	free(buf);
	if (memfd >= 0)
		close(memfd);
	close(dirfd);
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
				 char **debug_path)
{
	struct stat st;
	int fd = -ESRCH;

	if (dv->opener_pid &&
	    (dv->opener_pid != p->pid || !ticks_match(dv->opener_ticks, p->start_ticks)))
		fd = open_mapping_fd(sym, dv->opener_pid, dv->opener_ticks, m, false, debug_path);
	if (fd >= 0 || fd == -ENOMEM)
		return fd;
	if (!dv->path || dv->path[0] != '/')
		return -ESRCH;
	fd = open(dv->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -ESRCH;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (__u64)st.st_ino != dv->ino ||
	    major(st.st_dev) != (dv->dev >> 32) || minor(st.st_dev) != (dv->dev & 0xffffffffu)) {
		close(fd);
		return -ESRCH;
	}
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
	char *debug_path = NULL;
	struct elf_file *ef;
	int fd;

	if (m->kind == MAPPING_VDSO) {
		fd = open_vdso_fd(sym, p, m);
	} else {
		fd = open_mapping_fd(sym, p->pid, p->start_ticks, m, true, &debug_path);
		if (fd >= 0) {
			m->dv->opener_pid = p->pid;
			m->dv->opener_ticks = p->start_ticks;
		} else if (fd == -ESRCH) {
			p->gone = true;
			fd = open_devino_elsewhere(sym, p, m->dv, m, &debug_path);
		}
	}
	if (fd < 0) {
		*err = fd;
		if (fd == -ESRCH)
			p->gone = true;
		return NULL;
	}
	ef = elf_file__open(fd, debug_path ? debug_path : "", &sym->elf_opts);
	*err = ef ? 0 : -errno;
	free(debug_path);
	return ef;
}

/* The file record behind m, opening it on first use. NULL: unsymbolizable (or *err). */
static struct sym_file *mapping_file(struct symbolizer *sym, struct sym_proc *p,
				     const struct proc_mapping *m, int *err)
{
	struct sym_devino *dv = m->dv;
	struct elf_file *ef;
	struct sym_file *f;

	*err = 0;
	if (m->kind == MAPPING_VDSO) {
		if (!p->vdso_tried) {
			__u64 size = m->pub.limit - m->pub.start;

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
		}
		return p->vdso;
	}
	if (m->kind != MAPPING_FILE)
		return NULL;
	dv->last_used = sym->cycle;
	if (dv->file)
		return dv->file;
	if (dv->failed && !idle(sym, dv->failed_cycle))
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

/* Reopens f's session (closed when idle or over max_files) through p's mapping m. */
static int file_reopen(struct symbolizer *sym, struct sym_proc *p, const struct proc_mapping *m,
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

/* ---- address cache ---- */

static void addr_entry_kill(struct symbolizer *sym, struct addr_entry *e)
{
	(void)hmap__remove(&sym->addrs, addr_hash(e->file, e->vaddr), e);
	list_del(&e->node);
	sym->n_addrs--;
	sym->stats.evicted_addresses++;
}

static void addr_entry_free(struct addr_entry *e)
{
	e->file->n_addrs--;
	free(e);
}

static const char *intern_or_null(struct sym_file *f, const char *s, int *err)
{
	const char *r;

	if (!s)
		return NULL;
	r = strtab__intern(&f->strings, s);
	if (!r)
		*err = -ENOMEM;
	return r;
}

static struct addr_entry *addr_entry_new(struct symbolizer *sym, struct sym_file *f, __u64 vaddr,
					 const struct elf_frame *frames, size_t n, int *err)
{
	struct addr_entry *e;

	*err = 0;
	if (n > UINT32_MAX)
		n = UINT32_MAX;
	e = malloc(sizeof(*e) + n * sizeof(e->frames[0]));
	if (!e) {
		*err = -ENOMEM;
		return NULL;
	}
	e->file = f;
	e->vaddr = vaddr;
	e->last_used = sym->cycle;
	e->n_frames = (__u32)n;
	for (size_t i = 0; i < n; i++) {
		struct symbolizer_frame *out = &e->frames[i];
		char *demangled;

		out->system_name = intern_or_null(f, frames[i].name, err);
		demangled = symbolizer_demangle(frames[i].name);
		out->function = demangled ? intern_or_null(f, demangled, err) : out->system_name;
		free(demangled);
		out->file = intern_or_null(f, frames[i].file, err);
		out->line = frames[i].line;
		out->start_line = frames[i].start_line;
		if (*err) {
			free(e);
			return NULL;
		}
	}
	*err = hmap__insert(&sym->addrs, addr_hash(f, vaddr), e);
	if (*err) {
		free(e);
		return NULL;
	}
	while (sym->n_addrs >= sym->max_addresses && !list_empty(&sym->addr_lru)) {
		struct addr_entry *lru = container_of(sym->addr_lru.prev, struct addr_entry, node);

		addr_entry_kill(sym, lru);
		list_add_front(&sym->dead_addrs, &lru->node);
	}
	list_add_front(&sym->addr_lru, &e->node);
	sym->n_addrs++;
	f->n_addrs++;
	return e;
}

static void set_unknown(struct symbolizer *sym, struct symbolizer_location *loc)
{
	loc->frames = NULL;
	loc->n_frames = 0;
	sym->stats.unknown_addresses++;
}

static int symbolize_in_mapping(struct symbolizer *sym, struct sym_proc *p, struct proc_mapping *m,
				__u64 addr, struct symbolizer_location *loc)
{
	const struct elf_frame *frames;
	struct addr_key key;
	struct addr_entry *e;
	struct sym_file *f;
	__u64 vaddr;
	size_t n;
	int err;

	f = mapping_file(sym, p, m, &err);
	if (!f)
		goto unknown;
	f->last_used = sym->cycle;
	m->pub.build_id = f->build_id;
	if (elf_segments__to_vaddr(f->segs, f->n_segs, addr - m->pub.start + m->pub.offset, &vaddr))
		goto unknown;

	key.file = f;
	key.vaddr = vaddr;
	e = hmap__find(&sym->addrs, addr_hash(f, vaddr), addr_eq, &key);
	if (e) {
		sym->stats.cache_hits++;
		e->last_used = sym->cycle;
		list_move_front(&sym->addr_lru, &e->node);
		goto found;
	}
	sym->stats.cache_misses++;
	if (!f->elf) {
		err = file_reopen(sym, p, m, f);
		if (err)
			goto unknown;
	} else {
		list_move_front(&sym->open_files, &f->open_node);
	}
	err = elf_file__symbolize(f->elf, vaddr, &frames, &n);
	if (err == -ENOMEM)
		goto unknown;
	if (err)
		n = 0; /* cached too: unknown addresses cost no DWARF work next time */
	if (!f->probed) {
		f->probed = true;
		f->has_dwarf = elf_file__has_dwarf(f->elf);
	}
	if (n)
		f->has_functions = true;
	file_account(sym, f);
	e = addr_entry_new(sym, f, vaddr, frames, n, &err);
	if (!e)
		goto unknown;

found:
	m->pub.has_functions = f->has_functions;
	m->pub.has_line_numbers = f->has_dwarf;
	m->pub.has_inline_frames = f->has_dwarf;
	if (!e->n_frames) {
		set_unknown(sym, loc);
		return 0;
	}
	loc->frames = e->frames;
	loc->n_frames = e->n_frames;
	return 0;

unknown:
	set_unknown(sym, loc);
	return err == -ENOMEM ? err : 0;
}

/* ---- JIT perf maps ---- */

/* The innermost pid namespace's pid of the process (NSpid), else pid. */
static __u32 read_nspid(int dirfd, __u32 pid)
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

/*
 * Reads what the process's perf map gained since the last look. The file is
 * opened in the process's root under its namespace pid, must be a regular
 * file (no symlink followed) owned by root or by the process's user: /tmp
 * is writable by anyone. 0 or -ENOMEM; a missing or refused file is 0.
 */
static int perfmap_refresh(struct symbolizer *sym, struct sym_proc *p)
{
	char *name = NULL, *buf = NULL;
	struct stat dst, st;
	int dirfd, fd = -1, err = 0;
	__u64 ticks;

	p->perfmap_checked = sym->cycle + 1;
	dirfd = proc_dir_open(sym, p->pid);
	if (dirfd < 0)
		return dirfd == -ENOMEM ? dirfd : 0;
	if (read_start_ticks(dirfd, &ticks) != 0 || !ticks_match(ticks, p->start_ticks) ||
	    fstat(dirfd, &dst) != 0)
		goto cleanup;
	if (asprintf(&name, "root/tmp/perf-%u.map", read_nspid(dirfd, p->pid)) < 0) {
		name = NULL;
		err = -ENOMEM;
		goto cleanup;
	}
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) != 0)
		goto cleanup;
	if (!S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != dst.st_uid)) {
		sym->stats.perfmap_rejected++;
		goto cleanup;
	}
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
	buf = malloc(PERFMAP_READ_CHUNK);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	sym->stats.perfmap_reads++;
	while (p->perfmap_offset < sym->max_perfmap_bytes) {
		ssize_t n = pread(fd, buf, PERFMAP_READ_CHUNK, (off_t)p->perfmap_offset), used;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used = perfmap__parse(p->perfmap, buf, (size_t)n);
		if (used < 0) {
			err = (int)used;
			break;
		}
		if (used == 0) {
			if (n < PERFMAP_READ_CHUNK)
				break; /* a line still being written */
			used = n; /* a line longer than a chunk is no symbol: skip it */
		}
		p->perfmap_offset += (__u64)used;
	}

cleanup:
	free(buf);
	free(name);
	if (fd >= 0)
		close(fd);
	close(dirfd);
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

/* Names a in p's perf map. false when it is not there (*err: -ENOMEM or 0). */
static bool jit_symbolize(struct symbolizer *sym, struct sym_proc *p, struct proc_mapping *m,
			  __u64 a, struct symbolizer_location *loc, int *err)
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

int symbolizer__lookup_user(struct symbolizer *sym, __u32 pid, __u64 process_start_ns,
			    const __u64 *addrs, size_t n, struct symbolizer_location *out)
{
	struct sym_proc *p;
	int err;

	if (!sym || (n && (!addrs || !out)))
		return -EINVAL;
	if (!n)
		return 0;
	p = proc_lookup(sym, pid, process_start_ns, &err);
	if (err)
		return err;
	if (!p)
		return -ENOMEM;
	if (!p->maps && !p->prev_maps && !p->fork_maps)
		sym->stats.process_gone++;
	for (size_t i = 0; i < n; i++) {
		struct symbolizer_location *loc = &out[i];
		struct proc_mapping *m;
		__u64 a = addrs[i];

		*loc = (struct symbolizer_location){ .address = addrs[i] };
		if (!p->maps && !p->prev_maps && !p->fork_maps) {
			set_unknown(sym, loc);
			continue;
		}
		/* a return address: the call instruction is just before it */
		if (i && a)
			a--;
		m = maps_find(p->maps, a);
		if (!m && !p->gone && p->checked_cycle != sym->cycle) {
			err = proc_reread(sym, p);
			if (err)
				return err;
			m = maps_find(p->maps, a);
		}
		/* taken before the last exec, or before the exec that followed a fork */
		if (!m && p->prev_maps)
			m = maps_find(p->prev_maps, a);
		if (!m && p->fork_maps)
			m = maps_find(p->fork_maps, a);
		if (!m || m->kind == MAPPING_OTHER) {
			/* anonymous executable memory, or none known: JIT code? */
			if (!jit_symbolize(sym, p, m, a, loc, &err)) {
				if (err)
					return err;
				if (m)
					loc->mapping = &m->pub;
				set_unknown(sym, loc);
			}
			continue;
		}
		loc->mapping = &m->pub;
		err = symbolize_in_mapping(sym, p, m, a, loc);
		if (err)
			return err;
	}
	return 0;
}

/* ---- lifecycle events ---- */

static struct sym_proc *proc_find(struct symbolizer *sym, __u32 pid, __u64 ticks)
{
	struct sym_proc *p = hmap__find(&sym->procs_by_pid, hash_u64(pid), pid_eq, &pid);

	for (; p; p = p->next_pid) {
		if (p->start_ticks && ticks_match(p->start_ticks, ticks))
			return p;
	}
	return NULL;
}

/* An exec: p's current mappings become its previous image for a while. */
static void proc_keep_prev_image(struct symbolizer *sym, struct sym_proc *p)
{
	if (p->maps) {
		if (p->prev_maps) {
			p->prev_maps->next_dead = sym->dead_maps;
			sym->dead_maps = p->prev_maps;
		}
		p->prev_maps = p->maps;
		p->maps = NULL;
	}
	if (!p->prev_maps && !p->fork_maps)
		return;
	/* both serve the samples taken before this exec, for the grace */
	p->prev_cycle = sym->cycle;
	list_del(&p->prev_node);
	list_add_tail(&sym->prev_images, &p->prev_node);
}

int symbolizer__process_read(struct symbolizer *sym, __u32 pid, __u64 start_ns, bool new_image)
{
	__u64 want, ticks = 0;
	struct sym_proc *p;
	int dirfd, err;

	if (!sym)
		return -EINVAL;
	want = start_ns / sym->ns_per_tick;
	/* an exec happened even if the process is gone now: the old image is kept aside */
	p = new_image && start_ns ? proc_find(sym, pid, want) : NULL;
	if (p)
		proc_keep_prev_image(sym, p);
	dirfd = proc_dir_open(sym, pid);
	if (dirfd == -ENOMEM)
		return dirfd;
	err = dirfd >= 0 ? read_start_ticks(dirfd, &ticks) : dirfd;
	if (err == -ENOMEM)
		goto cleanup;
	if (err || (start_ns && !ticks_match(ticks, want))) {
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
	 * A first sample says the process is being profiled: open its files now,
	 * it may be gone by the drain. An exec alone does not: most processes a
	 * machine starts are never sampled, and opening their files costs far
	 * more than reading their maps.
	 */
	for (size_t i = 0; !new_image && p->maps && i < p->maps->n; i++) {
		struct proc_mapping *m = &p->maps->m[i];

		if (m->kind == MAPPING_OTHER)
			continue;
		(void)mapping_file(sym, p, m, &err);
		if (err == -ENOMEM)
			goto cleanup;
	}
	err = 0;

cleanup:
	if (dirfd >= 0)
		close(dirfd);
	return err;
}

static struct sym_devino *devino_find(struct symbolizer *sym, __u64 dev, __u64 ino)
{
	struct devino_key key = { .dev = dev, .ino = ino };

	return hmap__find(&sym->devinos, devino_hash(dev, ino), devino_eq, &key);
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

/*
 * p's mappings from the kernel's exit report: its file mappings, plus the
 * vdso and anonymous ones read before (the report has files only).
 */
static int proc_maps_from_exit(struct symbolizer *sym, struct sym_proc *p,
			       const struct symbolizer_exit *ex)
{
	size_t old_n = p->maps ? p->maps->n : 0, n = 0;
	struct proc_maps *maps;
	bool have_vdso = false;

	maps = calloc(1, sizeof(*maps) + (ex->n_vmas + old_n + 1) * sizeof(maps->m[0]));
	if (!maps)
		return -ENOMEM;
	for (size_t i = 0; i < ex->n_vmas; i++) {
		const struct symbolizer_vma *v = &ex->vmas[i];
		struct proc_mapping *m = &maps->m[n];
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
	if (p->maps) {
		p->maps->next_dead = sym->dead_maps;
		sym->dead_maps = p->maps;
	}
	p->maps = maps;
	return 0;
}

static struct proc_maps *maps_dup(const struct proc_maps *src)
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

int symbolizer__process_fork(struct symbolizer *sym, __u32 parent_pid, __u64 parent_start_ns,
			     __u32 child_pid, __u64 child_start_ns)
{
	__u64 ticks;
	struct sym_proc *parent, *c;
	int err;

	if (!sym)
		return -EINVAL;
	ticks = child_start_ns / sym->ns_per_tick;
	if (proc_find(sym, child_pid, ticks))
		return 0;
	/* the parent is alive (it just forked): read it if it is new */
	parent = proc_lookup(sym, parent_pid, parent_start_ns, &err);
	if (err)
		return err;
	if (!parent)
		return 0;
	/*
	 * Maps read at the parent's own exec lack the libraries loaded since,
	 * which the child's first instructions (returning from fork) run in.
	 */
	if (!parent->gone && parent->checked_cycle != sym->cycle) {
		err = proc_reread(sym, parent);
		if (err)
			return err;
	}
	if (!parent->maps)
		return 0;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	list_init(&c->node);
	list_init(&c->exit_node);
	list_init(&c->prev_node);
	c->pid = child_pid;
	c->start_ticks = ticks;
	c->last_used = sym->cycle;
	c->checked_cycle = sym->cycle - 1;
	c->fork_maps = maps_dup(parent->maps);
	if (!c->fork_maps) {
		free(c);
		return -ENOMEM;
	}
	err = proc_insert(sym, c);
	if (err)
		proc_free(c);
	return err;
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
	list_add_tail(&sym->exited, &p->exit_node);
	return 0;
}

/* ---- kernel ---- */

static int kernel_load(struct symbolizer *sym)
{
	struct kernel_state *k = &sym->k;
	__u64 start, end;

	if (k->tried)
		return k->err;
	k->ks = kallsyms__load(sym->kallsyms_path, sym->modules_path);
	if (!k->ks) {
		int err = errno ? -errno : -EINVAL;

		if (err == -ENOMEM)
			return err; /* try again later */
		k->tried = true;
		k->err = err;
		return err;
	}
	k->tried = true;
	(void)kallsyms__read_build_id(sym->notes_path, &k->build_id); /* optional */
	kallsyms__core_range(k->ks, &start, &end);
	k->core = (struct symbolizer_mapping){
		.start = start,
		.limit = end,
		.path = "[kernel.kallsyms]",
		.build_id = k->build_id,
		.has_functions = true,
		.kernel = true,
	};
	k->n_mods = kallsyms__module_count(k->ks);
	if (k->n_mods) {
		k->mods = calloc(k->n_mods, sizeof(*k->mods));
		k->mod_paths = calloc(k->n_mods, sizeof(*k->mod_paths));
		if (!k->mods || !k->mod_paths)
			goto nomem;
	}
	for (size_t i = 0; i < k->n_mods; i++) {
		const struct kallsyms_module *km = kallsyms__module(k->ks, i);

		if (asprintf(&k->mod_paths[i], "[%s]", km->name) < 0) {
			k->mod_paths[i] = NULL;
			goto nomem;
		}
		k->mods[i] = (struct symbolizer_mapping){
			.start = km->start,
			.limit = km->end,
			.path = k->mod_paths[i],
			.has_functions = true,
			.kernel = true,
		};
	}
	return 0;

nomem:
	/* undo, so a later call can try again */
	for (size_t i = 0; k->mod_paths && i < k->n_mods; i++)
		free(k->mod_paths[i]);
	free(k->mod_paths);
	free(k->mods);
	free(k->build_id);
	kallsyms__free(k->ks);
	k->mod_paths = NULL;
	k->mods = NULL;
	k->build_id = NULL;
	k->ks = NULL;
	k->n_mods = 0;
	k->tried = false;
	return -ENOMEM;
}

int symbolizer__load_kernel(struct symbolizer *sym)
{
	if (!sym)
		return -EINVAL;
	if (sym->no_kernel)
		return -EOPNOTSUPP;
	return kernel_load(sym);
}

static const struct symbolizer_frame *kernel_frame(struct symbolizer *sym,
						   const struct kallsyms_sym *s)
{
	struct kernel_state *k = &sym->k;
	__u64 h = hash_u64(s->index);
	struct kframe *kf;

	kf = hmap__find(&k->frames, h, kframe_eq, &s->index);
	if (kf)
		return &kf->frame;
	if (!k->chunks || k->chunks->used == KFRAME_CHUNK) {
		struct kframe_chunk *c = malloc(sizeof(*c));

		if (!c)
			return NULL;
		c->used = 0;
		c->next = k->chunks;
		k->chunks = c;
	}
	kf = &k->chunks->items[k->chunks->used];
	kf->index = s->index;
	kf->frame = (struct symbolizer_frame){ .function = s->name, .system_name = s->name };
	if (hmap__insert(&k->frames, h, kf))
		return NULL;
	k->chunks->used++;
	return &kf->frame;
}

int symbolizer__lookup_kernel(struct symbolizer *sym, const __u64 *addrs, size_t n,
			      struct symbolizer_location *out)
{
	struct kernel_state *k;
	int err = 0;

	if (!sym || (n && (!addrs || !out)))
		return -EINVAL;
	k = &sym->k;
	if (!n)
		return 0;
	if (!sym->no_kernel)
		err = kernel_load(sym);
	if (err == -ENOMEM)
		return err;
	for (size_t i = 0; i < n; i++) {
		struct symbolizer_location *loc = &out[i];
		const struct symbolizer_frame *frame;
		struct kallsyms_sym s;
		__u64 a = addrs[i];

		*loc = (struct symbolizer_location){ .address = addrs[i] };
		if (!k->ks) {
			set_unknown(sym, loc);
			continue;
		}
		if (i && a)
			a--;
		if (kallsyms__lookup(k->ks, a, &s) != 0) {
			if (a >= k->core.start && a < k->core.limit)
				loc->mapping = &k->core;
			set_unknown(sym, loc);
			continue;
		}
		loc->mapping = s.module < 0 ? &k->core : &k->mods[s.module];
		frame = kernel_frame(sym, &s);
		if (!frame)
			return -ENOMEM;
		loc->frames = frame;
		loc->n_frames = 1;
	}
	return 0;
}

/* ---- lifecycle ---- */

static int fetch_debuginfo(void *ctx, const unsigned char *build_id, size_t len, char **path)
{
	struct symbolizer *sym = ctx;
	int fd = debuginfod__find_debuginfo(sym->debuginfod, build_id, len, path);

	if (fd >= 0)
		sym->stats.debuginfod_found++;
	else
		sym->stats.debuginfod_missed++;
	return fd;
}

static char *strdup_or_default(const char *s, const char *def)
{
	return strdup(s ? s : def);
}

struct symbolizer *symbolizer__new(const struct symbolizer_opts *opts)
{
	const struct symbolizer_opts empty = {};
	struct symbolizer *sym;
	long tck;
	int err = -ENOMEM;

	if (!opts)
		opts = &empty;
	sym = calloc(1, sizeof(*sym));
	if (!sym)
		goto cleanup;
	list_init(&sym->procs);
	list_init(&sym->exited);
	list_init(&sym->prev_images);
	list_init(&sym->devino_list);
	list_init(&sym->files);
	list_init(&sym->open_files);
	list_init(&sym->addr_lru);
	list_init(&sym->dead_addrs);
	sym->proc_root = strdup_or_default(opts->proc_root, DEFAULT_PROC_ROOT);
	if (!sym->proc_root)
		goto cleanup;
	if (opts->kallsyms_path)
		sym->kallsyms_path = strdup(opts->kallsyms_path);
	else if (asprintf(&sym->kallsyms_path, "%s/kallsyms", sym->proc_root) < 0)
		sym->kallsyms_path = NULL;
	if (opts->modules_path)
		sym->modules_path = strdup(opts->modules_path);
	else if (asprintf(&sym->modules_path, "%s/modules", sym->proc_root) < 0)
		sym->modules_path = NULL;
	sym->notes_path = strdup_or_default(opts->kernel_notes_path, DEFAULT_NOTES_PATH);
	sym->debug_dirs = strdup_or_default(opts->debug_dirs, DEFAULT_DEBUG_DIRS);
	if (!sym->kallsyms_path || !sym->modules_path || !sym->notes_path || !sym->debug_dirs)
		goto cleanup;
	sym->max_processes = opts->max_processes ? opts->max_processes : DEFAULT_MAX_PROCESSES;
	sym->max_files = opts->max_files ? opts->max_files : DEFAULT_MAX_FILES;
	sym->max_addresses = opts->max_cached_addresses ? opts->max_cached_addresses
							: DEFAULT_MAX_ADDRESSES;
	sym->idle_cycles = opts->idle_cycles ? opts->idle_cycles : DEFAULT_IDLE_CYCLES;
	sym->exit_grace_cycles = opts->exit_grace_cycles ? opts->exit_grace_cycles
							 : DEFAULT_EXIT_GRACE_CYCLES;
	sym->max_perfmap_bytes = opts->max_perfmap_bytes ? opts->max_perfmap_bytes
							 : DEFAULT_MAX_PERFMAP_BYTES;
	sym->max_dwarf_bytes = opts->max_dwarf_bytes ? opts->max_dwarf_bytes : DEFAULT_MAX_DWARF_BYTES;
	sym->elf_opts.debug_dirs = sym->debug_dirs;
	sym->elf_opts.max_dwarf_bytes = sym->max_dwarf_bytes;
	if (opts->debuginfod) {
		sym->debuginfod = debuginfod__new();
		if (!sym->debuginfod) {
			err = -errno;
			goto cleanup;
		}
		sym->elf_opts.fetch_debuginfo = fetch_debuginfo;
		sym->elf_opts.fetch_ctx = sym;
	}
	sym->no_kernel = opts->no_kernel;
	tck = sysconf(_SC_CLK_TCK);
	sym->ns_per_tick = 1000000000ULL / (__u64)(tck > 0 ? tck : 100);
	return sym;

cleanup:
	symbolizer__free(sym);
	errno = -err;
	return NULL;
}

static void free_dead(struct symbolizer *sym)
{
	while (!list_empty(&sym->dead_addrs)) {
		struct addr_entry *e = container_of(sym->dead_addrs.next, struct addr_entry, node);

		list_del(&e->node);
		addr_entry_free(e);
	}
	while (sym->dead_procs) {
		struct sym_proc *p = sym->dead_procs;

		sym->dead_procs = p->next_dead;
		proc_free(p);
	}
	while (sym->dead_maps) {
		struct proc_maps *maps = sym->dead_maps;

		sym->dead_maps = maps->next_dead;
		maps_release(maps);
	}
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

static void kernel_end_cycle(struct kernel_state *k)
{
	struct kframe_chunk *c = k->chunks;

	/* keep one chunk for the next cycle */
	if (c) {
		struct kframe_chunk *next = c->next;

		while (next) {
			struct kframe_chunk *tmp = next->next;

			free(next);
			next = tmp;
		}
		c->next = NULL;
		c->used = 0;
	}
	if (k->frames.len > KFRAME_CHUNK * 4)
		hmap__clear(&k->frames);
	else
		hmap__reset(&k->frames);
}

void symbolizer__end_cycle(struct symbolizer *sym)
{
	struct list_node *n, *prev;

	if (!sym)
		return;
	free_dead(sym);

	while (!list_empty(&sym->exited)) {
		struct sym_proc *p = container_of(sym->exited.next, struct sym_proc, exit_node);

		/* the drain of its exit cycle and the next ones, grace in all */
		if (sym->cycle - p->exit_cycle + 1 < sym->exit_grace_cycles)
			break;
		proc_unlink(sym, p);
		proc_free(p);
		sym->stats.exited_freed++;
	}
	while (!list_empty(&sym->prev_images)) {
		struct sym_proc *p = container_of(sym->prev_images.next, struct sym_proc, prev_node);

		if (sym->cycle - p->prev_cycle + 1 < sym->exit_grace_cycles)
			break;
		list_del(&p->prev_node);
		maps_release(p->prev_maps);
		maps_release(p->fork_maps);
		p->prev_maps = NULL;
		p->fork_maps = NULL;
	}
	while (!list_empty(&sym->procs)) {
		struct sym_proc *p = container_of(sym->procs.prev, struct sym_proc, node);

		if (!idle(sym, p->last_used))
			break;
		proc_unlink(sym, p);
		proc_free(p);
		sym->stats.evicted_processes++;
	}
	while (!list_empty(&sym->addr_lru)) {
		struct addr_entry *e = container_of(sym->addr_lru.prev, struct addr_entry, node);

		if (!idle(sym, e->last_used))
			break;
		addr_entry_kill(sym, e);
		addr_entry_free(e);
	}
	for (n = sym->devino_list.prev; n != &sym->devino_list; n = prev) {
		struct sym_devino *dv = container_of(n, struct sym_devino, node);

		prev = n->prev;
		if (!dv->refs && idle(sym, dv->last_used))
			devino_free(sym, dv);
	}
	for (n = sym->files.prev; n != &sym->files; n = prev) {
		struct sym_file *f = container_of(n, struct sym_file, node);

		prev = n->prev;
		if (!idle(sym, f->last_used))
			continue;
		file_close(sym, f);
		if (!f->refs && !f->n_addrs)
			file_free(sym, f);
		else if (!f->n_addrs)
			strtab__clear(&f->strings);
	}
	/* a session alone over the limit served this cycle's misses; now it goes */
	while (sym->open_bytes > sym->max_dwarf_bytes && !list_empty(&sym->open_files))
		file_close(sym, container_of(sym->open_files.prev, struct sym_file, open_node));
#ifdef __GLIBC__
	/*
	 * libdw's decompressed sections and per-CU tables are many blocks that
	 * free() leaves in the heap; hand them back after closing big sessions.
	 */
	if (sym->closed_bytes >= TRIM_THRESHOLD_BYTES)
		malloc_trim(0);
#endif
	sym->closed_bytes = 0;
	kernel_end_cycle(&sym->k);
	hmap__shrink(&sym->addrs);
	hmap__shrink(&sym->procs_by_pid);
	hmap__shrink(&sym->devinos);
	sym->cycle++;
}

void symbolizer__free(struct symbolizer *sym)
{
	struct kernel_state *k;

	if (!sym)
		return;
	k = &sym->k;
	if (sym->procs.next) {
		free_dead(sym);
		while (!list_empty(&sym->procs)) {
			struct sym_proc *p = container_of(sym->procs.next, struct sym_proc, node);

			proc_unlink(sym, p);
			proc_free(p);
		}
		while (!list_empty(&sym->addr_lru)) {
			struct addr_entry *e = container_of(sym->addr_lru.next, struct addr_entry, node);

			addr_entry_kill(sym, e);
			addr_entry_free(e);
		}
		while (!list_empty(&sym->devino_list))
			devino_free(sym, container_of(sym->devino_list.next, struct sym_devino, node));
		while (!list_empty(&sym->files))
			file_free(sym, container_of(sym->files.next, struct sym_file, node));
	}
	hmap__clear(&sym->procs_by_pid);
	hmap__clear(&sym->devinos);
	hmap__clear(&sym->files_by_bid);
	hmap__clear(&sym->addrs);

	kallsyms__free(k->ks);
	free(k->build_id);
	for (size_t i = 0; k->mod_paths && i < k->n_mods; i++)
		free(k->mod_paths[i]);
	free(k->mod_paths);
	free(k->mods);
	hmap__clear(&k->frames);
	while (k->chunks) {
		struct kframe_chunk *c = k->chunks;

		k->chunks = c->next;
		free(c);
	}
	free(sym->proc_root);
	free(sym->kallsyms_path);
	free(sym->modules_path);
	free(sym->notes_path);
	free(sym->debug_dirs);
	debuginfod__free(sym->debuginfod);
	free(sym);
}

void symbolizer__stats(const struct symbolizer *sym, struct symbolizer_stats *out)
{
	if (!sym || !out)
		return;
	*out = sym->stats;
	out->processes = sym->n_procs;
	out->files = sym->n_open;
	out->cached_addresses = sym->n_addrs;
}
