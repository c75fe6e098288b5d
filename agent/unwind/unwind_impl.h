/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside the unwinder, one file per job: tables.c (a file's table: built,
 * loaded, evicted), builder.c (the builder threads), files.c (files by
 * device and inode, the vdso), procs.c (processes: requests, entries,
 * exits, the sweep), maps.c (the BPF maps), page_pool.c (the row and
 * mapping spaces), unwinder.c (the worker loop and the API).
 *
 * Three threads. Two builders only turn files into rows (cfi_table__build:
 * tens of milliseconds for libc, seconds for the largest libraries), files
 * a process waits for first, smallest first; one of them takes only files
 * with less than FAST_LANE_CFI_BYTES of CFI, so a giant library never
 * holds up small programs. The worker owns every object below and never
 * waits for a build; its loop, every POLL_NS while there is work, and
 * otherwise when the program rings the doorbell for a request or a builder
 * hands back a table:
 *
 *   1. reads the kernel's requests: a new (or exec'd) process gets its
 *      executable mappings described once its tables are in (or after
 *      INSTALL_WAIT_NS); a pc in no known mapping re-reads the process's
 *      maps (with backoff, for JIT code that never maps a file);
 *   2. drops the processes whose exit the kernel reported;
 *   3. loads finished tables into the row pages and rewrites the entries of
 *      the processes that map them;
 *   4. every SWEEP_NS, drops processes that exited unreported and files no
 *      process maps;
 *   5. frees what it retired, after an RCU grace period: a program run that
 *      read an old process entry may still be walking the old ranges.
 *
 * The threads share only jobs, exits, stats and flags, under the mutex.
 *
 * Objects:
 *   utable   one per build-id (or device+inode without one): the rows'
 *            place in the row space, the executable PT_LOAD segments
 *   udevino  one per (device, inode) seen in a maps file: its utable (or why
 *            it has none); lingers unused for LINGER_NS, so short-lived
 *            processes of one binary share the table
 *   uproc    one per process with a kernel entry: its mappings, and the
 *            range of mapping entries the kernel reads
 *
 * Not for other modules.
 */
#ifndef FORNAX_UNWIND_IMPL_H
#define FORNAX_UNWIND_IMPL_H

#include <libelf.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/queue.h>

#include "cfi_table.h"
#include "grace.h"
#include "hashmap.h"
#include "page_pool.h"
#include "procmaps.h"
#include "table_cache.h"
#include "timeconst.h"
#include "unwind.h"
#include "unwinder.h"

#define DEFAULT_PROC_ROOT "/proc"
#define DEFAULT_MAX_TABLE_BYTES (256ULL << 20)
/*
 * While there is work: every wake-up is a context switch, and under churn
 * there is always work; every 10 ms was a tenth of the agent's CPU.
 */
#define POLL_NS (20 * NSEC_PER_MSEC)
/* For the first STARTUP_POLL_NS of sampling: the processes already running wait for tables. */
#define STARTUP_POLL_INTERVAL_NS (10 * NSEC_PER_MSEC)
/*
 * With no requests and no builds for a while, the wait grows to this: a
 * request rings the doorbell (bpf/unwind.h), so an idle agent need not
 * look, and each wake-up of a thread costs about 80 us here.
 */
#define IDLE_POLL_NS (4 * NSEC_PER_SEC)
/*
 * ... and to this while the only requests are of new processes the kernel
 * walks whole by its record of their mappings (put off, DEFER_NS): nothing
 * waits for the worker then, and under churn a poll every POLL_NS was a
 * tenth of the agent's CPU in wake-ups.
 */
#define DEFERRED_POLL_NS (40 * NSEC_PER_MSEC)
/* Polled at STARTUP_POLL_INTERVAL_NS for this long once sampling starts. */
#define STARTUP_POLL_NS (2 * NSEC_PER_SEC)
#define SWEEP_NS (5 * NSEC_PER_SEC)
#define LINGER_NS (60 * NSEC_PER_SEC)
#define REFRESH_MIN_NS (1 * NSEC_PER_SEC)
#define REFRESH_MAX_NS (64 * NSEC_PER_SEC)
#define NO_SPACE_RETRY_NS (30 * NSEC_PER_SEC)
/* A new process's entry waits for its tables to be built, for up to this long. */
#define INSTALL_WAIT_NS (1 * NSEC_PER_SEC)
/*
 * A new process whose every file has a table is walked by the kernel's own
 * record of its mappings: the agent reads its maps (and holds its files)
 * only if it lives this long. The walker asks for it only then.
 */
#define DEFER_NS FORNAX_UNWIND_QUIET_NS
/* Processes on a CPU at start whose files are read before sampling begins, per CPU. */
#define PRESCAN_PER_CPU 8
/* PF_KTHREAD in /proc/PID/stat's flags: a kernel thread has no files to read. */
#define PF_KTHREAD_FLAG 0x00200000UL
/* The fast builder's limit: libc has about 150 KiB of .eh_frame, python3 500 KiB. */
#define FAST_LANE_CFI_BYTES (2ULL << 20)
/* A file whose headers and CFI sections are bigger than this is not cached on disk. */
#define CACHE_INPUTS_MAX (64u << 20)
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
	bool from_cache;  /* result read from the table cache, not built */
	__u64 build_ns;
	struct build_job *next;
};

struct deferred_request {
	__u32 tgid;
	__u64 due;
	struct fornax_unwind_request req;
	TAILQ_ENTRY(deferred_request) link;
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
	bool published;       /* in the kernel's unwind_files map */
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

/* A process exit the kernel reported, for the worker. */
struct unwind_exit {
	__u32 tgid;
	__u64 start_ns;
};

struct unwinder {
	__u32 mode;
	struct table_cache *cache; /* NULL: every table is built; set before the threads start */
	char *proc_root;
	__u32 *pids;
	size_t n_pids;
	__u64 ns_per_tick;
	struct unwinder_maps maps;
	__u64 *gen;              /* unwind_gen's value, mmapped */
	__u32 max_processes;     /* entries the process hash holds */
	struct page_pool rows;
	struct page_pool mappings;
	struct page_retire retired;

	/* Each kind indexed by its key, and listed to be walked. */
	struct hmap tables;  /* key → utable */
	struct hmap devinos; /* devino_key → udevino */
	struct hmap procs;   /* tgid → uproc */
	TAILQ_HEAD(, utable) table_list;
	TAILQ_HEAD(, udevino) devino_list;
	TAILQ_HEAD(, uproc) proc_list;
	size_t n_pending;        /* tables waiting for the builder */
	bool reprioritize;       /* waiting processes or pending tables changed */
	struct fornax_unwind_mapping *scratch;
	size_t scratch_cap;
	__u64 next_sweep;
	/*
	 * New processes the kernel already walks whole (unwind_vmas): read only
	 * if they live DEFER_NS, in request order. Most never do.
	 */
	struct hmap deferred;                     /* tgid → deferred_request */
	TAILQ_HEAD(, deferred_request) deferred_list; /* by due time */

	pthread_t thread;
	bool thread_started;
	pthread_t builders[N_BUILDERS];
	int n_builders;
	pthread_mutex_t lock;
	pthread_cond_t cond;       /* wakes unwinder__wait_ready */
	int wake_fd;               /* eventfd: wakes the worker (wake_worker()) */
	struct ring_buffer *doorbell; /* maps.doorbell, emptied by the worker */
	pthread_cond_t build_cond; /* wakes the builder */
	/* Guarded by lock. */
	bool stop;
	bool ready;
	__u64 sampling_since; /* unwinder__sampling_started(); 0 before */
	struct build_job **jobs;   /* queued for the builder */
	size_t n_jobs, jobs_cap;
	struct build_job *done;    /* built, for the worker to load */
	struct unwind_exit *exits; /* reported, for the worker */
	size_t n_exits, exits_cap;
	struct unwinder_stats stats;
};

static inline __u64 now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* The books are read by other threads: every change under the mutex. */
static inline void stats_add(struct unwinder *u, __u64 *field, __s64 delta)
{
	pthread_mutex_lock(&u->lock);
	*field += delta;
	pthread_mutex_unlock(&u->lock);
}

#define STAT_ADD(u, field, delta) stats_add((u), &(u)->stats.field, (delta))

/* Tells the worker there is something for it (the builder's tables, stop). Under lock. */
void wake_worker(struct unwinder *u);

/* Retires a range of pool (page_retire__add), counting a leak as an error. */
void unwinder_retire(struct unwinder *u, struct page_pool *pool, __u32 start, __u32 n);

/* builder.c */
void job_free(struct build_job *job);
/* Hands t's file to the builder; fd or image moves into the job. */
int job_queue(struct unwinder *u, struct utable *t, int *fd, char **image, size_t image_len,
	      __u64 cost);
/* The table no longer wants its job: the builder drops or hands back a cancelled one. */
void job_cancel(struct unwinder *u, struct utable *t);
void *builder_any(void *arg);
void *builder_small(void *arg);

/* tables.c */
struct utable *table_find(struct unwinder *u, const char *key);
void tables_free(struct unwinder *u);
void table_unref(struct unwinder *u, struct utable *t);
void table_free(struct unwinder *u, struct utable *t);
/*
 * Finds or creates the table for an open ELF file. key_fallback names it
 * when it has no build-id. fd (or image) moves into a new pending table.
 */
struct utable *table_for_elf(struct unwinder *u, Elf *elf, const char *key_fallback, int *fd,
			     char **image, size_t image_len, int *err);
/* A table is in (or failed): load it, and point the processes that map it at it. */
void finish_table(struct unwinder *u, struct utable *t, struct cfi_table *ct, int err);
/* Takes what the builders finished. */
void collect_built(struct unwinder *u);

/* files.c */
struct udevino *devino_for(struct unwinder *u, int dirfd, const struct procmaps_entry *e);
void devino_unref(struct udevino *d);
/* Drops d (no process maps it), and its table reference. */
void devino_drop(struct unwinder *u, struct udevino *d);
/* Tells the walker the table of every file t is the table of. */
void devinos_publish(struct unwinder *u, const struct utable *t);
void devinos_free(struct unwinder *u);
struct utable *vdso_table(struct unwinder *u, int dirfd, const struct procmaps_entry *e);

/* procs.c */
struct utable *mapping_table(const struct umapping *m);
void release_mappings(struct unwinder *u, struct umapping *maps, size_t n);
/* After a table loads, the processes mapping it get entries that point at it. */
void rewrite_dirty(struct unwinder *u, const struct utable *t);
/* When the first put-off request is due; UINT64_MAX without any. */
__u64 deferred_next_due(struct unwinder *u);
void deferred_free(struct unwinder *u);
void prescan_running(struct unwinder *u);
int handle_requests(struct unwinder *u, int *deferred);
void handle_exits(struct unwinder *u);
void install_waiting(struct unwinder *u);
void reprioritize(struct unwinder *u);
void sweep(struct unwinder *u);
void prescan(struct unwinder *u);
void procs_free(struct unwinder *u);

/* maps.c */
int create_maps(struct unwinder *u, size_t max_table_bytes);
void destroy_maps(struct unwinder *u);

#endif /* FORNAX_UNWIND_IMPL_H */
