/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ABI of proc_events.bpf.h: process lifecycle records the agent reads from
 * a BPF ring buffer. Fixed-width types and a size check on every struct, as
 * in profile.h.
 */
#ifndef FORNAX_BPF_PROC_EVENTS_H
#define FORNAX_BPF_PROC_EVENTS_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/*
 * A record wakes the agent only if no record did for this long (or the
 * ring is a quarter full, see ringbuf_wakeup.bpf.h); the agent, having
 * found records, looks again after it. The latency of a record under churn.
 */
#define FORNAX_RINGBUF_WAKEUP_GAP_NS 20000000ULL

/* Executable mappings per FORNAX_PROC_EXIT_MAPS record; a process may send many. */
/* Bytes of an EXEC record's file name, its NUL included. */
#define FORNAX_EXE_NAME_LEN 16
/* fornax_proc_event.flags of an EXEC: exe_name holds the name's start only */
#define FORNAX_EXEC_NAME_CUT 1u
#define FORNAX_PROC_MAPS_PER_RECORD 16

enum fornax_proc_event_kind {
	/* A new program image (execve): its maps can be read now. */
	FORNAX_PROC_EXEC = 1,
	/* Executable file mappings of a process whose last thread is exiting. */
	FORNAX_PROC_EXIT_MAPS = 2,
	/* The process's last thread exited; follows its EXIT_MAPS records. */
	FORNAX_PROC_EXIT = 3,
	/*
	 * From the sampling program: the first sample of a process (by
	 * tgid and start time). It is running, and past its loader.
	 */
	FORNAX_PROC_FIRST_SAMPLE = 4,
	/*
	 * A new process (not a thread) forked from parent_tgid: until it
	 * executes, it runs its parent's image.
	 */
	FORNAX_PROC_FORK = 5,
};

struct fornax_proc_event {
	__u32 kind;
	__u32 tgid;
	/* Group leader's start_boottime (ns), as in fornax_sample_key. */
	__u64 process_start_ns;
	__u64 cgroup_id;
	__u32 n_maps;  /* EXIT_MAPS: entries used in maps[] */
	/*
	 * EXIT: 1 when every executable file mapping was sent in the EXIT_MAPS
	 * records before it; 0 when the kernel gave no way to walk them (no mm,
	 * no VMA iterator) or a record was lost.
	 */
	__u32 maps_walked;
	/* EXIT with maps_walked: start of the [vdso] mapping, 0 if none. */
	__u64 vdso_start;
	/* FORK: the parent process */
	__u32 parent_tgid;
	__u32 flags; /* FORNAX_EXEC_* */
	__u64 parent_start_ns;
	/*
	 * EXEC: the name of the file the process now runs (a script's
	 * interpreter, as /proc/PID/exe names it), NUL-terminated; "" when
	 * unreadable. With FORNAX_EXEC_NAME_CUT, only its first bytes.
	 */
	char exe_name[FORNAX_EXE_NAME_LEN];
};
_Static_assert(sizeof(struct fornax_proc_event) == 72, "proc event ABI");

/* One executable file mapping, as /proc/PID/maps would have shown it. */
struct fornax_proc_vma {
	__u64 start;
	__u64 end;    /* exclusive */
	__u64 offset; /* file offset of start, bytes */
	__u64 inode;
	__u32 dev_major;
	__u32 dev_minor;
};
_Static_assert(sizeof(struct fornax_proc_vma) == 40, "proc vma ABI");

struct fornax_proc_maps_record {
	struct fornax_proc_event hdr;
	struct fornax_proc_vma maps[FORNAX_PROC_MAPS_PER_RECORD];
};
_Static_assert(sizeof(struct fornax_proc_maps_record) == 72 + 40 * FORNAX_PROC_MAPS_PER_RECORD,
	       "proc maps record ABI");

/* Kernel-side counters (per-CPU array, one entry). */
struct fornax_proc_event_stats {
	__u64 execs;
	__u64 exits;
	__u64 exit_maps_records;
	__u64 exits_without_mm;  /* the task had already dropped its mm */
	__u64 ringbuf_full;      /* records lost: ring buffer full */
	__u64 filtered;          /* outside the --cgroup filter */
	__u64 forks;
	__u64 pad;
};
_Static_assert(sizeof(struct fornax_proc_event_stats) == 64, "proc event stats ABI");

#endif /* FORNAX_BPF_PROC_EVENTS_H */
