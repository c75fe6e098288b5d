/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside the symbolizer: processes → executable mappings → files → cached
 * addresses, one file per part (procs.c, files.c, addrs.c, events.c, jit.c,
 * kernel.c) around the API in symbolizer.c.
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
 * One symbolizer is used by one thread at a time. Not for other modules.
 */
#ifndef FORNAX_SYMBOLIZER_CACHE_H
#define FORNAX_SYMBOLIZER_CACHE_H

#include <sys/queue.h>

#include "debuginfod.h"
#include "elf_file.h"
#include "hashmap.h"
#include "kallsyms.h"
#include "kdyn.h"
#include "perfmap.h"
#include "procmaps.h"
#include "strtab.h"
#include "symbolizer.h"

#define JFRAME_CHUNK 256
#define KFRAME_CHUNK 256
#define KFRAME_DYN_BIT 0x80000000u

struct sym_file {
	TAILQ_ENTRY(sym_file) link;      /* sym->files */
	TAILQ_ENTRY(sym_file) open_link; /* sym->open_files, most recent first, while elf is set */
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
	TAILQ_ENTRY(sym_devino) link; /* sym->devinos_lru */
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
	TAILQ_ENTRY(sym_proc) lru; /* sym->procs, most recent first */
	struct sym_proc *next_pid; /* older entries for the same pid */
	struct sym_proc *next_dead;
	__u32 pid;
	__u64 start_ticks;         /* /proc/PID/stat field 22; 0 if unknown */
	struct proc_maps *maps;    /* executable mappings; NULL: never read */
	struct sym_file *vdso;     /* one reference */
	__u64 last_used;
	__u64 checked_cycle;       /* last maps read or liveness check */
	__u64 records_cycle;       /* cycle + 1 of the last mappings given from records; 0: never */
	bool gone;                 /* exited or pid reused: never re-read */
	bool vdso_tried;
	bool exited;               /* reported by symbolizer__process_exit(); in sym->exited */
	TAILQ_ENTRY(sym_proc) exit_link; /* sym->exited, oldest exit first */
	__u64 exit_cycle;
	/* the image before the last exec, for samples taken before it */
	struct proc_maps *prev_maps;
	/*
	 * The parent's image at fork, which a child runs until it executes.
	 * Kept apart from prev_maps: a read at the child's first sample may
	 * land before or after its exec record.
	 */
	struct proc_maps *fork_maps;
	bool in_prev_images;       /* in sym->prev_images */
	TAILQ_ENTRY(sym_proc) prev_link; /* sym->prev_images, oldest first */
	__u64 prev_cycle;
	/* JIT code: the perf map as read so far, shared by every process naming that file */
	struct sym_perfmap *perfmap;
	__u64 perfmap_checked;     /* cycle + 1 of the last look at the file; 0: never */
};

struct jframe_chunk {
	struct jframe_chunk *next;
	size_t used;
	struct symbolizer_frame items[JFRAME_CHUNK];
};

/*
 * A perf map file by (device, inode): hard links and processes that share
 * one are read once, and their bytes count once against the budget.
 */
struct sym_perfmap {
	dev_t dev;
	__u64 ino;
	struct perfmap *pm;
	__u64 offset;             /* bytes parsed */
	unsigned refs;            /* processes */
	bool linked;              /* in sym->perfmaps; not once its file was cut short */
	struct sym_perfmap *next; /* sym->dead_perfmaps */
};

struct addr_entry {
	TAILQ_ENTRY(addr_entry) link; /* sym->addr_lru, most recent first; or sym->dead_addrs */
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
	struct hmap frames; /* symbol index (KFRAME_DYN_BIT | id: a kdyn one) → kframe, this cycle */
	struct kframe_chunk *chunks;
	struct kdyn *dyn;                 /* text that came after the read; NULL until then */
	struct symbolizer_mapping dyn_map; /* spans every range dyn ever held */
	/* modules loaded after the read: kernel_reread() */
	bool missed_outside_core; /* this cycle */
	__u64 read_cycle;         /* when ks was read */
	__u64 reread_wait;        /* cycles from read_cycle before the next read */
};

TAILQ_HEAD(sym_proc_list, sym_proc);
TAILQ_HEAD(sym_file_list, sym_file);
TAILQ_HEAD(sym_devino_list, sym_devino);
TAILQ_HEAD(addr_list, addr_entry);

struct symbolizer {
	char *proc_root;
	char *kallsyms_path;
	char *modules_path;
	char *notes_path;
	char *debug_dirs;
	char *scratch_dir;
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
	struct sym_proc_list procs;
	size_t n_procs;
	struct sym_proc_list exited;      /* exited processes waiting for their last samples */
	struct sym_proc_list prev_images; /* processes holding a pre-exec image */
	size_t max_perfmap_bytes;
	size_t max_perfmap_total_bytes;
	size_t perfmap_bytes;             /* parsed, all perf maps together */
	struct hmap perfmaps;             /* (dev, ino) → sym_perfmap */
	struct jframe_chunk *jframes;     /* JIT frames handed out this cycle */
	struct sym_perfmap *dead_perfmaps; /* released this cycle, names still in use */
	/*
	 * The vdso image is the same in every process of one ABI: the first
	 * one read serves the others, so the vdso of a process that exited
	 * before a drain still resolves.
	 */
	struct sym_file *vdso_file;
	__u64 vdso_size;
	struct hmap devinos;
	struct sym_devino_list devino_list; /* most recently created first */
	struct hmap files_by_bid;
	struct sym_file_list files;
	struct sym_file_list open_files;
	size_t n_open;
	size_t open_bytes;   /* sum of the open sessions' mem */
	size_t closed_bytes; /* closed since the last heap trim */
	struct hmap addrs;
	struct addr_list addr_lru;
	size_t n_addrs;

	struct addr_list dead_addrs;
	struct sym_proc *dead_procs;
	struct proc_maps *dead_maps;

	struct kernel_state k;
	struct debuginfod *debuginfod;
	struct symbolizer_stats stats;
};

static inline bool sym_idle(const struct symbolizer *sym, __u64 last_used)
{
	return sym->cycle - last_used >= sym->idle_cycles;
}

static inline void set_unknown(struct symbolizer *sym, struct symbolizer_location *loc)
{
	loc->frames = NULL;
	loc->n_frames = 0;
	sym->stats.unknown_addresses++;
}

/* files.c: ELF files by build-id, (dev, inode) entries, opening through /proc */
void file_close(struct symbolizer *sym, struct sym_file *f);
void file_account(struct symbolizer *sym, struct sym_file *f);
void file_free(struct symbolizer *sym, struct sym_file *f);
void file_unref(struct sym_file *f);
struct sym_devino *devino_get(struct symbolizer *sym, __u64 dev, __u64 ino, const char *path);
struct sym_devino *devino_find(struct symbolizer *sym, __u64 dev, __u64 ino);
void devino_free(struct symbolizer *sym, struct sym_devino *dv);
/* The file record behind m, opening it on first use. NULL: unsymbolizable (or *err). */
struct sym_file *mapping_file(struct symbolizer *sym, struct sym_proc *p,
			      const struct proc_mapping *m, int *err);
/* Reopens f's session (closed when idle or over max_files) through p's mapping m. */
int file_reopen(struct symbolizer *sym, struct sym_proc *p, const struct proc_mapping *m,
		struct sym_file *f);

/* addrs.c: the address cache */
int symbolize_in_mapping(struct symbolizer *sym, struct sym_proc *p, struct proc_mapping *m,
			 __u64 addr, struct symbolizer_location *loc);
void addr_entry_kill(struct symbolizer *sym, struct addr_entry *e);
void addr_entry_free(struct addr_entry *e);

/* procs.c: processes by (pid, start time) and their mappings */
void maps_release(struct proc_maps *maps);
void maps_retire(struct symbolizer *sym, struct proc_maps *maps);
struct proc_maps *maps_dup(const struct proc_maps *src);
struct proc_mapping *maps_find(struct proc_maps *maps, __u64 addr);
int proc_read_maps(struct symbolizer *sym, struct sym_proc *p, int dirfd);
struct sym_proc *proc_alloc(struct symbolizer *sym, __u32 pid, __u64 ticks);
int proc_insert(struct symbolizer *sym, struct sym_proc *p);
void proc_unlink(struct symbolizer *sym, struct sym_proc *p);
void proc_free(struct symbolizer *sym, struct sym_proc *p);
struct sym_proc *proc_new(struct symbolizer *sym, __u32 pid, __u64 ticks, int dirfd, int *err);
void proc_touch(struct symbolizer *sym, struct sym_proc *p);
struct sym_proc *proc_find(struct symbolizer *sym, __u32 pid, __u64 ticks);
struct sym_proc *proc_lookup(struct symbolizer *sym, __u32 pid, __u64 start_ns, int *err);
int proc_reread(struct symbolizer *sym, struct sym_proc *p);

/* jit.c: perf maps of JIT runtimes */
bool jit_symbolize(struct symbolizer *sym, struct sym_proc *p, struct proc_mapping *m, __u64 a,
		   struct symbolizer_location *loc, int *err);
void jit_end_cycle(struct symbolizer *sym);
/* p no longer uses its perf map; its names stay valid to the end of the cycle. */
void jit_release(struct symbolizer *sym, struct sym_proc *p);

/* kernel.c: kallsyms */
void kernel_end_cycle(struct symbolizer *sym);
void kernel_free(struct kernel_state *k);

#endif /* FORNAX_SYMBOLIZER_CACHE_H */
