/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel side: loads profile.bpf.c, attaches it to a cpu-clock perf event
 * on every online CPU, and drains the aggregated samples without losing any
 * (see docs/architecture.md, "Lossless drain").
 */
#ifndef FORNAX_SAMPLER_H
#define FORNAX_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "cgroups.h"
#include "profile.h"
#include "unwinder.h"

struct sampler;

/* The maps the Python walker shares with the agent (bpf/python.bpf.h, python_tracker.c). */
struct sampler_python_maps {
	int procs;  /* python_procs: the processes to walk */
	int codes;  /* py_codes: copies of the code objects met */
	int seen_codes;
	int seen_chains;
	int gen;
};

/*
 * The process-event maps (agent/lifecycle/proc_watch.c) that the object's
 * lifecycle programs (bpf/proc_events.bpf.h) write.
 */
struct sampler_proc_maps {
	int events;     /* ring buffer of bpf/proc_events.h records */
	int stats;      /* struct fornax_proc_event_stats per CPU */
	bool exit_maps; /* walk the mappings at exit with the VMA iterator (6.7) */
};

struct sampler_opts {
	unsigned frequency;     /* Hz per CPU; required */
	const __u32 *pids;      /* only these tgids, filtered in the kernel */
	size_t n_pids;
	const struct cgroup_filter *cgroups; /* only tasks under these cgroups; NULL: all */
	bool kernel_stacks;
	bool user_stacks;
	bool include_idle;
	/*
	 * Send a FORNAX_PROC_FIRST_SAMPLE record (bpf/proc_events.h) through
	 * sampler__announcements_fd() at the first sample of each process;
	 * max_announced processes are remembered (LRU).
	 */
	bool announce_processes;
	size_t max_announced;
	size_t max_keys;        /* counts map entries per set; required */
	size_t max_stacks;      /* stacks map entries per set; required */
	/*
	 * Drain the set the program is writing, the way a single-map design
	 * must. Loses samples; exists only so bench/ can measure that loss.
	 */
	bool single_buffer;
	__u32 unwind_mode; /* enum fornax_unwind_mode; 0 (frame pointers) by default */
	/* Required unless unwind_mode is FORNAX_UNWIND_FP. */
	const struct unwinder_maps *unwind_maps;
	/* Time each user-stack walk in the kernel (set_stats.user_walk_*); for bench/. */
	bool time_user_walks;
	/*
	 * Walk the Python frames of the processes in python_maps->procs
	 * (bpf/python.h, agent/python_tracker.c); NULL: no Python walker in
	 * the program.
	 */
	const struct sampler_python_maps *python_maps;
	/* Load and attach the lifecycle programs, writing these maps; NULL: none. */
	const struct sampler_proc_maps *proc_maps;
	/* Called once the programs are loaded, before anything is attached; NULL: nothing. */
	void (*before_start)(void *ctx);
	void *before_start_ctx;
};

struct sampler_sample {
	const struct fornax_sample_key *key;
	__u64 count;
	const __u64 *user_ips; /* leaf first; n_user 0 when none (see key->user_stack_err) */
	__u32 n_user;
	__u32 user_flags; /* FORNAX_STACK_* (bpf/unwind.h) of the user stack */
	const __u64 *kernel_ips;
	__u32 n_kernel;
	/* Packed Python frames (bpf/python.h), innermost first; n_python 0 when none. */
	const __u64 *python_frames;
	__u32 n_python;
	__u32 python_flags; /* FORNAX_STACK_PYTHON and how the walk ended */
};

/* What one drain saw, summed over CPUs. */
struct sampler_drain_stats {
	struct fornax_set_stats set; /* the kernel's counters for the drained set */
	__u64 keys;                  /* distinct keys read */
	__u64 stacks;                /* distinct stacks read */
	__u64 drained_samples;       /* sum of counts read */
	__u64 missing_stacks;        /* keys naming a stack the drain did not find */
};

typedef int (*sampler_sample_fn)(const struct sampler_sample *sample, void *ctx);

/*
 * Map sizes for this machine: one drain holds at most cpus × frequency ×
 * drain interval samples. max_stacks_flag: the --max-stacks value, 0 if unset.
 */
void sampler__size_maps(double frequency, __u64 drain_interval_ns, size_t max_stacks_flag,
			size_t *max_keys, size_t *max_stacks);

/* NULL with errno set on failure; the reason is logged. */
struct sampler *sampler__new(const struct sampler_opts *opts);
void sampler__free(struct sampler *s);

/* The ring buffer map of first-sample records (opts.announce_processes). */
int sampler__announcements_fd(const struct sampler *s);

/*
 * Whether the lifecycle programs (sampler_opts.proc_maps) are attached;
 * when one could not be, none is (the reason is logged).
 */
bool sampler__proc_events(const struct sampler *s);

/* CPUs with an attached perf event. */
int sampler__nr_cpus(const struct sampler *s);

/*
 * Switches the program to the other map set, waits until no run of the
 * program can still write the old one, then reads, hands every sample to fn,
 * and clears the old set. fn's pointers are valid during the call only; a
 * non-zero return from fn stops the hand-over (the set is cleared anyway)
 * and is returned. Returns 0 or -errno.
 */
int sampler__drain(struct sampler *s, sampler_sample_fn fn, void *ctx,
		   struct sampler_drain_stats *stats);

/*
 * Detaches from every CPU and drains both sets: the last samples of a run.
 * Later drains find nothing.
 */
int sampler__stop(struct sampler *s, sampler_sample_fn fn, void *ctx,
		  struct sampler_drain_stats *stats);

#endif /* FORNAX_SAMPLER_H */
