/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ABI shared by profile.bpf.c and the agent. Only fixed-width types, explicit
 * padding, and a size check on every struct: both compilers must agree on
 * every byte, because the agent reads these straight out of BPF maps.
 */
#ifndef FORNAX_BPF_PROFILE_H
#define FORNAX_BPF_PROFILE_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#include "unwind.h"
#include "python.h"

#define FORNAX_COMM_LEN 16
/* The kernel's default perf_event_max_stack (PERF_MAX_STACK_DEPTH). */
#define FORNAX_MAX_STACK_DEPTH 127
/* Two map sets: the program writes one while the agent drains the other. */
#define FORNAX_NR_SETS 2

/*
 * Stacks are stored by a 64-bit hash of their frames rather than in a
 * BPF_MAP_TYPE_STACK_TRACE map: a stack-trace map's id is a bucket index, so
 * two distinct stacks that land in one bucket collide (-EEXIST) long before
 * the map is full, at a rate that grows with the number of distinct stacks.
 * A hash map keyed by the frame hash holds as many stacks as it has entries.
 */
struct fornax_stack {
	__u32 len; /* frames used in ips, leaf first */
	__u32 flags; /* FORNAX_STACK_* (unwind.h): how it was walked, whether it is whole */
	__u64 ips[FORNAX_MAX_STACK_DEPTH];
};
_Static_assert(sizeof(struct fornax_stack) == 1024, "stack ABI");

struct fornax_sample_key {
	__u32 tgid;
	__u32 tid;
	/*
	 * Group leader's start time (ns since boot, CLOCK_BOOTTIME, as in
	 * /proc/PID/stat field 22): with tgid, it names a process uniquely even
	 * when the pid is reused.
	 */
	__u64 process_start_ns;
	/* Keys into the set's stacks map; 0 when there is no stack (see *_stack_err). */
	__u64 user_stack_id;
	__u64 kernel_stack_id;
	/* 0, or -errno saying why the stack is missing (-EFAULT: nothing to walk, -ENOSPC: stacks map full). */
	__s32 user_stack_err;
	__s32 kernel_stack_err;
	char comm[FORNAX_COMM_LEN];        /* process (group leader) name */
	char thread_comm[FORNAX_COMM_LEN]; /* thread name */
	/* cgroup v2 id (kernfs node id, the cgroup directory's inode) of the sampled task */
	__u64 cgroup_id;
	/*
	 * The thread's Python frames (bpf/python.h), in the stacks map like the
	 * others; 0: not a Python process, no Python code running, or the
	 * stacks map was full (counted in stack_map_full).
	 */
	__u64 python_stack_id;
};
_Static_assert(sizeof(struct fornax_sample_key) == 88, "sample key ABI");

/* Stack not requested (--no-kernel), as opposed to requested and missing. */
#define FORNAX_STACK_NOT_COLLECTED (-1000)

/*
 * Per-CPU, per-set counters. For a drained (quiescent) set the books balance
 * exactly: samples == recorded + filtered + idle + counts_map_full.
 */
struct fornax_set_stats {
	__u64 samples;             /* program runs that chose this set */
	__u64 recorded;            /* samples counted in the set's counts map */
	__u64 filtered;            /* rejected by the pid or cgroup filter */
	__u64 idle;                /* idle task, skipped without --include-idle */
	__u64 counts_map_full;     /* lost: no room for a new key */
	__u64 user_stack_efault;   /* no user stack to walk (kernel threads) */
	__u64 kernel_stack_efault; /* no kernel stack (sample hit user mode) */
	__u64 stack_map_full;      /* stack dropped, sample kept without it */
	__u64 stack_other_error;
	__u64 user_stack_truncated; /* reached FORNAX_MAX_STACK_DEPTH */
	/*
	 * User stacks by how they were walked: by frame pointers, or by CFI
	 * with one count per enum fornax_unwind_end (index 0 unused).
	 */
	__u64 unwind_fp;
	__u64 unwind_end[FORNAX_END_NR];
	__u64 unwind_fp_steps;      /* frames crossed by frame pointer inside CFI walks */
	__u64 unwind_signal_frames; /* signal frames crossed */
	__u64 unwind_requests_lost; /* requests map full: the agent hears later */
	/* frame-pointer walks ended at a return address no user code has (0, garbage) */
	__u64 unwind_fp_bad_return;
	/*
	 * The mappings the kernel-side programs register (unwind_vmas): walks
	 * of processes the agent had not described yet, frames found through
	 * them, mappings registered, and mappings that found no room or whose
	 * VMA could not be looked up (the mm was busy).
	 */
	__u64 unwind_vma_walks;
	__u64 unwind_vma_frames;
	__u64 unwind_vmas_added;
	__u64 unwind_vmas_overflow;
	__u64 unwind_vmas_missed;
	__u64 unwind_vmas_unstored; /* a process's entry the map refused (no memory) */
	/* walks by them of processes younger than FORNAX_UNWIND_QUIET_NS: no request */
	__u64 unwind_requests_spared;
	/* Only with unwind_timing (bench/unwind_cost): the user-stack walk's cost. */
	__u64 user_walks;
	__u64 user_walk_frames;
	__u64 user_walk_ns;       /* including one bpf_ktime_get_ns() */
	__u64 user_walk_timer_ns; /* what one bpf_ktime_get_ns() costs, summed */
	/* Python (bpf/python.bpf.h): samples of processes in python_procs ... */
	__u64 py_samples;
	__u64 py_end[FORNAX_PY_END_NR];   /* ... with frames, by how the walk ended */
	__u64 py_miss[FORNAX_PY_MISS_NR]; /* ... without: why */
	__u64 py_frames;                  /* frames recorded */
	__u64 py_tstate_by_list;          /* thread states found in the thread list, not as GIL holder */
	/*
	 * Code objects copied to the agent (py_codes): stacks whose code
	 * objects were checked (new in the set and not checked this py_gen),
	 * copies sent, copies lost (ring buffer full: the agent reads the
	 * process at the drain), code objects that could not be read.
	 */
	__u64 py_chains_checked;
	__u64 py_codes_sent;
	__u64 py_codes_lost;
	__u64 py_code_faults;
};
_Static_assert(sizeof(struct fornax_set_stats) == 80 + 26 * 8 + 8 * (7 + FORNAX_PY_END_NR +
								      FORNAX_PY_MISS_NR),
	       "set stats ABI");

#endif /* FORNAX_BPF_PROFILE_H */
