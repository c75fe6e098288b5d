/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ABI of the DWARF unwinder's maps, shared by unwind.bpf.h and the agent
 * (unwind/ builds the rows, agent/unwinder.c loads them). Fixed-width types
 * and a size check on every struct, as in profile.h.
 *
 * Layout (see docs/architecture.md, "DWARF unwinding"):
 *   unwind_row_pages   array of maps: page p holds slots [p << 16, (p + 1) << 16)
 *                      of one virtual row space; each file's table is one
 *                      contiguous run of slots: a bucket index, then its
 *                      rows sorted by pc
 *   unwind_map_pages   array of maps: the same for mapping entries; each
 *                      process's executable mappings are one sorted run
 *   unwind_procs       hash: tgid → the process's run of mappings
 *   unwind_requests    hash: tgid → why the agent should (re)read its maps
 *   unwind_files       hash: (dev, inode) → the file's table
 *   unwind_vmas        hash: tgid → its executable file mappings, as the
 *                      kernel-side programs saw them mapped
 *   unwind_doorbell    ring buffer: a record (the tgid) for each new request,
 *                      so an idle agent sleeps until there is one
 * Pages are created by the agent as the space fills, so memory follows use;
 * the number of pages is set at run time.
 */
#ifndef FORNAX_BPF_UNWIND_H
#define FORNAX_BPF_UNWIND_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* --unwind */
enum fornax_unwind_mode {
	FORNAX_UNWIND_FP = 0,   /* frame pointers only (bpf_get_stack) */
	FORNAX_UNWIND_AUTO = 1, /* DWARF tables where loaded, frame pointers elsewhere */
	FORNAX_UNWIND_DWARF = 2, /* DWARF tables only: no frame-pointer steps */
};

#define FORNAX_UNWIND_ROW_PAGE_SHIFT 16
#define FORNAX_UNWIND_ROW_PAGE_SIZE (1u << FORNAX_UNWIND_ROW_PAGE_SHIFT)
#define FORNAX_UNWIND_MAP_PAGE_SHIFT 12
#define FORNAX_UNWIND_MAP_PAGE_SIZE (1u << FORNAX_UNWIND_MAP_PAGE_SHIFT)
/* Rows of one table, and rows one index bucket may hold (the walker's search bound). */
#define FORNAX_UNWIND_MAX_ROWS (1u << 28)
#define FORNAX_UNWIND_MAX_MAPPINGS (1u << 16)
/*
 * A doorbell record wakes the agent only if none did for this long: under
 * churn every new process asks, and each wake-up is an irq_work in the
 * sampled process's context. The agent, once woken, looks again within
 * this gap for as long as there are requests, so none waits much longer.
 */
#define FORNAX_UNWIND_DOORBELL_GAP_NS 20000000ULL
/*
 * A process the kernel walks whole by its record of its mappings
 * (unwind_vmas) asks the agent for nothing until it has lived this long;
 * then the agent reads its maps and holds its files. Under churn most
 * processes never do.
 */
#define FORNAX_UNWIND_QUIET_NS 1000000000ULL

/*
 * How to get from one frame to its caller at a range of program counters
 * (x86-64). The return address is always at CFA - 8 (the call pushed it),
 * so a row stores the CFA rule and where the caller's rbp was saved.
 */
enum fornax_unwind_row_type {
	FORNAX_ROW_NONE = 0,    /* no CFI covers these addresses (a gap between FDEs) */
	FORNAX_ROW_CFA_SP,      /* CFA = rsp + cfa_off */
	FORNAX_ROW_CFA_FP,      /* CFA = rbp + cfa_off */
	/*
	 * The lazy-binding PLT's CFA expression: CFA = rsp + 8, plus 8 once
	 * (rip & 15) >= cfa_off (after the entry's push).
	 */
	FORNAX_ROW_PLT,
	/*
	 * A signal trampoline (__restore_rt): rsp points at the ucontext; the
	 * interrupted rsp is at rsp + cfa_off, rip right after it, rbp at
	 * rsp + 8 * fp_off. The next pc is exact, not a return address.
	 */
	FORNAX_ROW_SIGNAL,
	FORNAX_ROW_OUTERMOST,   /* return address undefined: the thread's first frame */
	FORNAX_ROW_UNSUPPORTED, /* a rule the walker cannot follow (other expressions) */
	FORNAX_ROW_NR_TYPES,
};

struct fornax_unwind_row {
	__u32 pc;      /* first covered address, relative to the table's origin */
	__u8 type;     /* enum fornax_unwind_row_type */
	__s8 fp_off;   /* caller's rbp saved at CFA + 8 * fp_off; 0: rbp unchanged */
	__u16 cfa_off;
};
_Static_assert(sizeof(struct fornax_unwind_row) == 8, "unwind row ABI");

/*
 * fp_off of a row after which the caller's rbp is not known (saved where a
 * row cannot say): a later step that needs rbp ends the walk instead.
 */
#define FORNAX_UNWIND_FP_LOST 127

/*
 * A table in the row space: an index of n_buckets + 1 bucket starts, two
 * per 8-byte slot, then the rows. Bucket k covers addresses
 * [k << shift, (k + 1) << shift) from the origin; its start is the number
 * of the last row whose pc is at or below k << shift. An address in bucket
 * k is described by one of rows start(k) ..= start(k + 1): a binary search
 * of a few rows instead of the whole table.
 */
struct fornax_unwind_index_slot {
	__u32 start[2]; /* buckets 2i and 2i + 1 */
};
_Static_assert(sizeof(struct fornax_unwind_index_slot) == sizeof(struct fornax_unwind_row),
	       "index slots share the row pages");

static inline __u32 fornax_unwind_index_slots(__u32 n_buckets)
{
	return (n_buckets + 2) / 2; /* starts of buckets 0 ..= n_buckets */
}

enum fornax_unwind_mapping_flags {
	/* Executable memory without a file (JIT code): frame-pointer steps only. */
	FORNAX_MAPPING_ANON = 1 << 0,
};
/* flags also carry the table's bucket shift. */
#define FORNAX_MAPPING_SHIFT_BIT 8
#define FORNAX_MAPPING_SHIFT(flags) (((flags) >> FORNAX_MAPPING_SHIFT_BIT) & 0x1f)

/* One executable mapping of a process. */
struct fornax_unwind_mapping {
	__u64 start;     /* runtime address */
	__u64 origin;    /* runtime address of the table's row pc 0 */
	__u32 len;       /* bytes mapped from start */
	__u32 table;     /* the table's first slot in the row space */
	__u32 n_buckets; /* 0: no table (being built, failed, none) */
	__u32 flags;     /* enum fornax_unwind_mapping_flags, FORNAX_MAPPING_SHIFT */
};
_Static_assert(sizeof(struct fornax_unwind_mapping) == 32, "unwind mapping ABI");

/*
 * A process the agent has read. tgid alone is not a process: the entry only
 * applies while the group leader's start time and exec count match.
 */
struct fornax_unwind_proc {
	__u64 start_ns;      /* group leader's start_boottime */
	__u64 exec_id;       /* group leader's self_exec_id: changes on exec */
	__u32 first_mapping; /* into the mapping space */
	__u32 n_mappings;    /* sorted by start; 0: unwind this process by frame pointers */
};
_Static_assert(sizeof(struct fornax_unwind_proc) == 24, "unwind proc ABI");

/*
 * A file as the kernel names it: the superblock's device in the kernel's
 * encoding (major << 20 | minor) and the inode number, as a VMA's file has
 * them and as /proc/PID/maps prints them.
 */
struct fornax_file_id {
	__u64 dev;
	__u64 ino;
};
_Static_assert(sizeof(struct fornax_file_id) == 16, "file id ABI");

/*
 * unwind_files: file → its table, for the mappings the kernel registers
 * itself (unwind_vmas), so a process is walked by CFI from its first sample
 * when the files it maps have been seen before. A mapping of file offset
 * pgoff at start has its table's row pc 0 at start - pgoff + bias of the
 * executable segment that holds pgoff.
 */
#define FORNAX_UNWIND_FILE_SEGS 2
struct fornax_unwind_file_seg {
	__u64 offset; /* file offset of the segment, */
	__u64 filesz; /* its length in the file */
	__s64 bias;
};

struct fornax_unwind_file {
	__u32 table;
	__u32 n_buckets;
	__u32 flags; /* FORNAX_MAPPING_SHIFT */
	__u32 n_segs;
	struct fornax_unwind_file_seg segs[FORNAX_UNWIND_FILE_SEGS];
};
_Static_assert(sizeof(struct fornax_unwind_file) == 64, "unwind file ABI");

/*
 * unwind_vmas: a process's executable file mappings, written by the BPF
 * programs at exec (the program and its interpreter) and after each mmap,
 * before the process can run the code: no round trip through the agent
 * sits between an exec and a complete stack. Newest last; an unmapped
 * entry is zeroed. A process with more mappings than fit is still walked
 * through the agent's entry (unwind_procs), which always wins.
 */
#define FORNAX_UNWIND_VMAS 32
struct fornax_unwind_vma {
	__u64 start;
	__u64 end;
	__u64 pgoff; /* bytes */
	struct fornax_file_id file;
};
_Static_assert(sizeof(struct fornax_unwind_vma) == 40, "unwind vma ABI");

struct fornax_unwind_vmas {
	__u64 start_ns; /* the group leader's, as in fornax_unwind_proc */
	__u64 exec_id;
	__u32 n;
	__u32 overflow; /* mappings not recorded: no free entry, or not found */
	struct fornax_unwind_vma vmas[FORNAX_UNWIND_VMAS];
};
_Static_assert(sizeof(struct fornax_unwind_vmas) == 24 + 40 * FORNAX_UNWIND_VMAS,
	       "unwind vmas ABI");

enum fornax_unwind_request_reason {
	FORNAX_REQ_NEW_PROCESS = 1 << 0, /* no entry, or a stale one (exec, pid reuse) */
	FORNAX_REQ_UNKNOWN_PC = 1 << 1,  /* a pc in no known mapping (dlopen, new JIT region) */
};

struct fornax_unwind_request {
	__u64 start_ns;
	__u64 exec_id;
	__u32 reason; /* enum fornax_unwind_request_reason */
	__u32 pad;
};
_Static_assert(sizeof(struct fornax_unwind_request) == 24, "unwind request ABI");

/*
 * struct fornax_stack's flags: how the stack was walked and whether it is
 * known to be whole. Part of the stack's hash.
 */
#define FORNAX_STACK_METHOD_MASK 0x3u
#define FORNAX_STACK_FP 0x1u    /* frame-pointer walk: completeness unknown */
#define FORNAX_STACK_DWARF 0x2u /* CFI walk */
#define FORNAX_STACK_MIXED (1u << 2) /* CFI walk that took frame-pointer steps */
#define FORNAX_STACK_END_SHIFT 8
#define FORNAX_STACK_END_MASK 0xffu

/* Why a CFI walk stopped; one counter each in fornax_set_stats. */
enum fornax_unwind_end {
	FORNAX_END_NONE = 0,       /* not a CFI walk */
	FORNAX_END_COMPLETE,       /* reached the outermost frame */
	FORNAX_END_DEPTH,          /* more frames than FORNAX_MAX_STACK_DEPTH */
	FORNAX_END_PC_NOT_COVERED, /* a pc no table row or mapping covers */
	FORNAX_END_READ_FAULT,     /* the user stack could not be read */
	FORNAX_END_TABLE_MISSING,  /* the file's (or process's) table is not loaded */
	FORNAX_END_UNSUPPORTED,    /* a CFI rule the walker cannot follow */
	FORNAX_END_BAD_FRAME,      /* the stack pointer did not move up: corrupt frame */
	FORNAX_END_BAD_PC,         /* a return address no user code can be at */
	FORNAX_END_FP_LOST,        /* a step needs rbp, which an earlier frame did not say where it saved */
	FORNAX_END_NR,
};

#endif /* FORNAX_BPF_UNWIND_H */
