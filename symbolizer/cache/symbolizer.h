/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Address → frames for sampled stacks: user addresses through the process's
 * /proc/PID/maps and the mapped ELF file (libelf/libdw, debug files found by
 * build-id and .gnu_debuglink), JIT code through the process's perf map
 * (/tmp/perf-PID.map, read through /proc/PID/root with the process's own
 * namespace pid), kernel addresses through /proc/kallsyms.
 *
 * Everything is cached: processes by (pid, start time), files by (dev, inode)
 * and build-id, symbolized addresses per file. Entries not used for
 * idle_cycles cycles are evicted by symbolizer__end_cycle(). Library code:
 * returns -errno, never logs, counts what it skips in symbolizer_stats.
 */
#ifndef FORNAX_SYMBOLIZER_H
#define FORNAX_SYMBOLIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct symbolizer;

struct symbolizer_opts {
	const char *proc_root;     /* default "/proc" */
	const char *kallsyms_path; /* default "<proc_root>/kallsyms" */
	const char *modules_path;  /* default "<proc_root>/modules" */
	const char *kernel_notes_path; /* default "/sys/kernel/notes" (kernel build-id) */
	const char *debug_dirs;    /* ':'-separated roots for .build-id/ and debuglink; default "/usr/lib/debug" */
	size_t max_processes;      /* 0: default 8192 */
	size_t max_files;          /* open ELF/DWARF handles; 0: default 256 */
	size_t max_cached_addresses; /* symbolized addresses kept; 0: default 65536 */
	unsigned idle_cycles;      /* evict what was not used for this many cycles; 0: default 60 */
	bool no_kernel;            /* never load kallsyms */
	/*
	 * Estimated heap the open ELF/DWARF handles may hold (libdw keeps
	 * decompressed debug sections and per-CU line tables); least recently
	 * used handles are closed beyond it, and a file whose DWARF (its
	 * sections' uncompressed size) alone exceeds it is symbolized from its symbol table only (no lines,
	 * no inline frames). 0: default 32 MiB.
	 */
	size_t max_dwarf_bytes;
	/*
	 * The agent's own directory on disk (created 0700 if missing), where
	 * debug files are copied with their sections inflated, unlinked, so
	 * their DWARF is mapped page cache rather than heap. NULL: none.
	 */
	const char *scratch_dir;
	/*
	 * Cycles an exited process (symbolizer__process_exit) is kept, the
	 * one of its exit included, so that its samples still in the kernel's
	 * maps are symbolized; then it is freed. Its last samples are in the
	 * drain that follows the exit report; 0: default 2, one to spare.
	 */
	unsigned exit_grace_cycles;
	/*
	 * JIT perf maps (/tmp/perf-PID.map in the process's root) are read up
	 * to this many bytes per file. 0: default 64 MiB.
	 */
	size_t max_perfmap_bytes;
	/*
	 * All perf maps together, each file (device, inode) counted once
	 * however many processes or names share it. 0: default 256 MiB.
	 */
	size_t max_perfmap_total_bytes;
	/*
	 * Ask debuginfod servers for debug files not found locally, through
	 * libdebuginfod (loaded now; symbolizer__new() fails with ENOENT when
	 * it cannot be). Servers, cache and timeouts come from the
	 * DEBUGINFOD_* environment, set by the caller beforehand.
	 */
	bool debuginfod;
};

/* A memory mapping as the sampled process saw it; pprof Mapping fields. */
struct symbolizer_mapping {
	__u64 start;
	__u64 limit;  /* exclusive */
	__u64 offset; /* file offset of start */
	const char *path;     /* path in the process's view, "[kernel.kallsyms]", "[module]", "[vdso]" */
	const char *build_id; /* lower-case hex, NULL if the file has none or was unreadable */
	bool has_functions;   /* symbols were found for this file */
	bool has_line_numbers;
	bool has_inline_frames;
	bool kernel;
};

struct symbolizer_frame {
	const char *function;    /* demangled */
	const char *system_name; /* as in the symbol table (mangled); equals function if not mangled */
	const char *file;        /* source file, NULL if unknown */
	__u32 line;              /* 0 if unknown */
	__u32 start_line;        /* function's declaration line, 0 if unknown */
};

struct symbolizer_location {
	__u64 address; /* the sampled runtime address, unchanged */
	const struct symbolizer_mapping *mapping; /* NULL: address in no known mapping */
	const struct symbolizer_frame *frames;    /* innermost (inlined) first, outer caller last */
	__u32 n_frames;                           /* 0: unsymbolized, shown as [unknown] */
};

struct symbolizer_stats {
	__u64 processes;          /* tracked now */
	__u64 files;              /* open ELF handles now */
	__u64 cached_addresses;   /* now */
	__u64 maps_reads;         /* /proc/PID/maps parsed */
	__u64 process_gone;       /* lookups for exited or reused pids */
	__u64 file_open_errors;   /* mapped files that could not be opened or parsed */
	__u64 unknown_addresses;  /* addresses returned with n_frames == 0 */
	__u64 evicted_processes;
	__u64 evicted_files;
	__u64 budget_closed_files; /* of those, closed to stay within max_dwarf_bytes */
	__u64 evicted_addresses;
	__u64 cache_hits;
	__u64 cache_misses;
	__u64 exec_reads;         /* maps read at exec (symbolizer__process_read) */
	__u64 exec_deferred;      /* execs whose maps wait for a sample (symbolizer__process_exec) */
	__u64 exec_gone;          /* processes gone before their exec read */
	__u64 exits;              /* exits reported with their mappings */
	__u64 exit_unknown_files; /* exit mappings of files never seen while open */
	__u64 mappings_given;     /* live processes' mappings taken from the kernel's records */
	__u64 files_mapped;       /* files first seen in a mapping as it was made */
	__u64 exited_freed;       /* exited processes freed after their grace */
	__u64 jit_frames;         /* addresses named from a perf map */
	__u64 perfmap_reads;      /* perf map files (re)read */
	__u64 perfmap_rejected;   /* not a regular file, or owned by someone else */
	__u64 perfmap_budget_hits; /* reads stopped by max_perfmap_bytes or the total */
	__u64 perfmap_bytes;      /* parsed, all perf maps together */
	__u64 debuginfod_found;   /* debug files fetched (or found in its cache) */
	__u64 debuginfod_missed;  /* build-ids no server had (or errors, timeouts) */
	__u64 kernel_symbols;     /* kernel symbols that came after kallsyms was read, held now */
	__u64 kernel_symbols_added;   /* symbolizer__kernel_symbol_add() calls that took */
	__u64 kernel_symbols_removed; /* symbolizer__kernel_symbol_remove() calls */
	__u64 kernel_symbols_dropped; /* adds refused: the bound was reached, or no memory */
	__u64 kernel_rereads;         /* /proc/kallsyms read again for a module loaded since */
	__u64 kernel_reread_errors;
};

/* NULL with errno set on failure. */
struct symbolizer *symbolizer__new(const struct symbolizer_opts *opts);
void symbolizer__free(struct symbolizer *sym);

/*
 * Symbolize one user stack of process (pid, process_start_ns), leaf first.
 * addrs[0] is the sampled pc; addrs[1..] are return addresses, looked up at
 * addr - 1 so the call site's line and inline chain are the ones reported.
 * process_start_ns is the start time in ns since boot (CLOCK_BOOTTIME, as
 * /proc/PID/stat field 22 gives in clock ticks); 0 skips the check. If the
 * pid now names a different process, or is gone, addresses come back
 * unsymbolized (n_frames == 0, mapping NULL) and 0 is returned.
 *
 * out[i] stays valid until the next symbolizer__end_cycle().
 * Returns 0 or -errno (only -ENOMEM and -EINVAL).
 */
int symbolizer__lookup_user(struct symbolizer *sym, __u32 pid, __u64 process_start_ns,
			    const __u64 *addrs, size_t n, struct symbolizer_location *out);

/*
 * Loads /proc/kallsyms now instead of at the first kernel lookup, so the
 * caller can report why kernel frames will stay unsymbolized: 0, -EPERM
 * (addresses hidden by kptr_restrict), -ENOENT, -ENODATA, -ENOMEM,
 * -EOPNOTSUPP (opts.no_kernel). A failure other than -ENOMEM is kept:
 * kernel addresses then come back unsymbolized.
 */
int symbolizer__load_kernel(struct symbolizer *sym);

/* Same for a kernel stack, leaf first. */
int symbolizer__lookup_kernel(struct symbolizer *sym, const __u64 *addrs, size_t n,
			      struct symbolizer_location *out);

/*
 * Kernel text that came or went after /proc/kallsyms was read, as the
 * kernel reports it (PERF_RECORD_KSYMBOL of a BPF program: addr, len and
 * "bpf_prog_<tag>_<name>"). What came is named from then on, under the
 * mapping "[bpf]", in place of whatever it overlaps; what went keeps its
 * name for this cycle and the next (samples drained just after it went),
 * then nothing names its addresses until something else comes there.
 * 0, -EINVAL, -ENOSPC (too many held; counted), -ENOMEM; removing what was
 * never known is not an error.
 */
int symbolizer__kernel_symbol_add(struct symbolizer *sym, __u64 addr, __u64 len,
				  const char *name);
int symbolizer__kernel_symbol_remove(struct symbolizer *sym, __u64 addr, __u64 len);

/*
 * Ends a cycle (one drain): evicts what was not used for idle_cycles cycles.
 * An exited process stays cached until then, so samples drained after its
 * exit still symbolize. Invalidates every location returned before.
 */
void symbolizer__end_cycle(struct symbolizer *sym);

void symbolizer__stats(const struct symbolizer *sym, struct symbolizer_stats *out);

/*
 * Process lifecycle, as the kernel reports it (agent/proc_watch.c).
 *
 * symbolizer__process_read(): pid (start time start_ns) is alive now, just
 * after an exec (new_image) or at its first sample: its maps are read, and
 * at a first sample its executable files are opened at once, so they are
 * known even if the process is gone by the drain (an exec alone reads only
 * the maps: most processes are never sampled). A later read replaces the earlier mappings (a new
 * image, or libraries the dynamic loader mapped since); with new_image (an
 * exec) the earlier ones are kept a while for samples of the old image.
 * 0, -ESRCH (already gone), -ENOMEM.
 */
int symbolizer__process_read(struct symbolizer *sym, __u32 pid, __u64 start_ns, bool new_image);

/*
 * An exec, when a complete record of the process's mappings will come with
 * its exit (the perf sideband): the earlier mappings are kept a while for
 * samples of the old image, and the new image's maps are read only when a
 * sample needs them. Most processes a machine starts are never sampled.
 * 0 or -EINVAL.
 */
int symbolizer__process_exec(struct symbolizer *sym, __u32 pid, __u64 start_ns);

/*
 * A new process child (pid, start time) was forked from parent. Until it
 * executes, it runs the parent's image: it starts with a copy of the
 * parent's mappings (when the parent is known). After an exec
 * (symbolizer__process_read() with new_image), the previous image's
 * mappings still serve the samples taken before it, for exit_grace_cycles.
 * 0 or -ENOMEM.
 */
int symbolizer__process_fork(struct symbolizer *sym, __u32 parent_pid, __u64 parent_start_ns,
			     __u32 child_pid, __u64 child_start_ns);

/* An executable file mapping of an exiting process (bpf/proc_events.h). */
struct symbolizer_vma {
	__u64 start;
	__u64 end;
	__u64 offset;
	__u64 inode;
	__u32 dev_major;
	__u32 dev_minor;
};

/*
 * pid (alive, or just gone) mapped v of the file it sees at path: a file
 * not known yet is recorded by (dev, inode) and path, so the mappings of
 * its exit name it. 0 or -ENOMEM.
 */
int symbolizer__file_mapped(struct symbolizer *sym, __u32 pid, const struct symbolizer_vma *v,
			    const char *path);

struct symbolizer_exit {
	/*
	 * The process's executable file mappings at exit; with complete set
	 * they replace the mappings read before. Files are matched by
	 * (dev, inode) to the files already known: one never seen while a
	 * process mapping it was alive stays unsymbolized (counted).
	 */
	const struct symbolizer_vma *vmas;
	size_t n_vmas;
	bool complete;
	__u64 vdso_start; /* 0 if unknown */
};

/*
 * pid exited. Its mappings are kept for exit_grace_cycles more cycles, for
 * the samples still waiting in the kernel, then freed. A repeated exit is a
 * no-op. ex may be NULL. 0 or -ENOMEM.
 */
int symbolizer__process_exit(struct symbolizer *sym, __u32 pid, __u64 start_ns,
			     const struct symbolizer_exit *ex);

/*
 * pid (alive, started at start_ns) has these executable file mappings, as
 * the kernel reported them while they were made (ex->complete: followed
 * from its exec or fork): they stand for a /proc/PID/maps read this cycle,
 * and a later miss reads the maps as usual. open_files: open its files now
 * (its first sample), as symbolizer__process_read() would. 0, -EINVAL
 * (not complete), -ENOMEM.
 */
int symbolizer__process_mappings(struct symbolizer *sym, __u32 pid, __u64 start_ns,
				 const struct symbolizer_exit *ex, bool open_files);

/*
 * Whether pid's exit has been reported. A sample's address in no known
 * mapping of a process that has not may be named once its exit report, with
 * the mappings the kernel saw, is taken.
 */
bool symbolizer__process_exited(struct symbolizer *sym, __u32 pid, __u64 start_ns);

/*
 * Whether lookups found pid's process gone: its /proc entry gone or naming
 * another process, or its maps empty (between dropping its memory and its
 * exit report), or its exit reported. A live process's address in no
 * mapping (a frame-pointer walk through data) is not worth waiting for an
 * exit report.
 */
bool symbolizer__process_gone(struct symbolizer *sym, __u32 pid, __u64 start_ns);

#endif /* FORNAX_SYMBOLIZER_H */
