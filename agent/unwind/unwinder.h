/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Feeds the BPF program's CFI walker (bpf/unwind.bpf.h): builds each
 * executable file's unwind table (symbolizer/cfi_table.h) off the sampling
 * path, in a worker thread; loads it into row pages shared by every process
 * that maps the file; and describes each sampled process's executable
 * mappings. The program asks for processes it does not know through a
 * request map; until their entry is in, it walks them by frame pointers.
 * Tables are keyed by build-id (or device and inode), and evicted when no
 * live process maps them. See docs/architecture.md, "DWARF unwinding".
 */
#ifndef FORNAX_UNWINDER_H
#define FORNAX_UNWINDER_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct unwinder;

/* The maps the walker reads (bpf/unwind.h), created here for the sampler's program to reuse. */
struct unwinder_maps {
	int row_pages;
	int map_pages;
	int procs;
	int requests;
	int gen;
	int files; /* (dev, inode) → table, for unwind_vmas */
	int vmas;  /* filled by the program's own exec and mmap hooks */
	int doorbell; /* ring buffer: a record per new request (bpf/unwind.h) */
};

struct unwinder_opts {
	__u32 mode;              /* FORNAX_UNWIND_AUTO or FORNAX_UNWIND_DWARF */
	size_t max_table_bytes;  /* map memory the rows may take; 0: default */
	const __u32 *pids;       /* read ahead only these processes' files; NULL: all */
	size_t n_pids;
	const char *proc_root;   /* default "/proc" */
	const char *table_cache_dir; /* tables kept on disk here (table_cache.h); NULL: none */
	__u64 table_cache_bytes;     /* at most this much of them */
};

struct unwinder_stats {
	__u64 processes;         /* sampled processes tracked now */
	__u64 processes_fp;      /* of which: frame pointers only (32-bit, unreadable) */
	__u64 tables;            /* loaded now */
	__u64 tables_pending;    /* waiting to be built */
	__u64 files_failed;      /* without usable CFI or unreadable (negative cache) */
	__u64 open_failures;     /* files a process had gone from before they were opened (retried) */
	__u64 rows;              /* loaded now */
	__u64 row_bytes;         /* map memory of the row pages */
	__u64 mapping_bytes;     /* map memory of the mapping pages */
	__u64 tables_built;      /* since start */
	__u64 build_ns;          /* time spent building them */
	__u64 tables_from_cache; /* read from the table cache instead, since start */
	__u64 cache_load_ns;     /* time spent reading them */
	__u64 cache_stored;      /* tables written to the cache */
	__u64 cache_by_identity; /* tables read by the file's identity, its CFI not read */
	__u64 cache_bad;         /* corrupt entries deleted, and stores that failed */
	__u64 cache_evicted;     /* entries deleted to stay within its size */
	__u64 cache_bytes;       /* the cache's size on disk */
	__u64 tables_evicted;
	__u64 tables_no_space;   /* tables that did not fit max_table_bytes */
	__u64 processes_no_room; /* processes beyond what max_table_bytes allows for */
	__u64 requests;          /* read from the kernel */
	__u64 requests_deferred; /* new processes the kernel walked whole: read only if they lived */
	__u64 maps_reads;
	__u64 maps_mid_exec;     /* of which: no executable mapping yet, read again later */
	__u64 process_exits;
	__u64 errors;            /* failed map updates and other surprises */
};

/*
 * Creates the maps and starts the worker, which reads ahead the files of
 * the processes running now. NULL with errno set; the reason is logged.
 */
struct unwinder *unwinder__new(const struct unwinder_opts *opts);
void unwinder__free(struct unwinder *u);

/* The maps to hand to sampler__new(). */
const struct unwinder_maps *unwinder__maps(const struct unwinder *u);

/*
 * Waits at most timeout_ns for the tables of the processes that ran at
 * start. Returns true if they are all in.
 */
bool unwinder__wait_ready(struct unwinder *u, __u64 timeout_ns);
/* The program is attached: the first requests arrive now and are answered at once. */
void unwinder__sampling_started(struct unwinder *u);

void unwinder__stats(struct unwinder *u, struct unwinder_stats *out);
/* The stats above as fornax_unwind_* families, read at scrape time. 0 or -errno. */
struct metrics;
int unwinder__add_metrics(struct unwinder *u, struct metrics *m);
/* Logs the tables and processes of the run in one line. */
void unwinder__log_summary(struct unwinder *u);

/*
 * Process pid (group leader start time start_ns, boottime) exited, as the
 * kernel reported (agent/lifecycle/): its entry is dropped at once instead
 * of at the next sweep. Any thread; the worker does the work.
 */
void unwinder__process_exit(struct unwinder *u, __u32 pid, __u64 start_ns);

#endif /* FORNAX_UNWINDER_H */
