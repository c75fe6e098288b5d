/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One profile window: the samples of every drain between two outputs,
 * symbolized and merged into a pprof model. Each distinct address is
 * symbolized once per window; repeated ones cost a hash lookup.
 */
#ifndef FORNAX_WINDOW_H
#define FORNAX_WINDOW_H

#include <linux/types.h>

#include "cgroups.h"
#include "pprof.h"
#include "sampler.h"
#include "symbolizer.h"

struct window;
struct python_tracker;
struct k8s_pods;
struct relabel_rules;

struct window_opts {
	struct symbolizer *symbolizer; /* borrowed; required */
	unsigned frequency;            /* Hz; required */
	__s64 start_realtime_ns;       /* wall clock at the window start */
	/* borrowed; NULL: samples carry no cgroup, container_id or pod_uid labels */
	struct cgroups *cgroups;
	/* borrowed; NULL: Python frames are not merged (--python=off) */
	struct python_tracker *python;
	/* borrowed; NULL: no pod names (samples keep container_id and pod_uid) */
	struct k8s_pods *k8s;
	/* where the relabel rules are (SIGHUP swaps them between windows); NULL or *NULL: none */
	struct relabel_rules *const *relabel;
	/*
	 * NULL: none. Called when a sample's process has not had its exit
	 * reported and an address of it is in no known mapping: the process may
	 * have exited before its maps were read, its exit report (with the
	 * mappings the kernel saw) still waiting to be taken.
	 */
	void (*take_exits)(void *ctx);
	void *take_exits_ctx;
};

/* What the window lost or could not resolve, for logs and the profile's comments. */
struct window_stats {
	__u64 samples;           /* counted into the profile */
	__u64 keys;
	__u64 lost_counts_map_full;
	__u64 stacks_missing;    /* a key named a stack the drain did not find */
	/* Counted per sample: each is kept with a pseudo frame in place of the stack. */
	__u64 stacks_dropped;    /* stacks map full */
	__u64 stacks_failed;     /* storing the stack failed otherwise */
	__u64 fp_stacks_cut;     /* frame-pointer stacks cut at a caller in no executable mapping */
	__u64 drains;
	__u64 processes;         /* distinct (pid, start time) seen */
	__u64 unwind_end[FORNAX_END_NR]; /* CFI walks by how they ended */
	__u64 unwind_fp;                 /* user stacks walked by frame pointers */
	__u64 relabel_dropped;   /* samples a relabel rule dropped */
	__u64 relabel_errors;    /* rules that hit the regex match limit */
	__u64 labels_dropped;    /* pod labels beyond what a sample carries */
	__u64 python_samples;    /* samples with Python frames merged in */
	__u64 python_unreadable; /* [python: unreadable] frames, by sample */
};

/* NULL with errno set. */
struct window *window__new(const struct window_opts *opts);
void window__free(struct window *w);

/* A sampler_sample_fn: ctx is the window. */
int window__add_sample(const struct sampler_sample *sample, void *ctx);

/* Accounts one drain's kernel counters to the window. */
void window__add_drain_stats(struct window *w, const struct sampler_drain_stats *stats);

/*
 * Sets the duration and the comments on what was lost and returns the
 * finished profile, still owned by the window.
 */
const struct pprof *window__finish(struct window *w, __u64 duration_ns);

void window__stats(const struct window *w, struct window_stats *out);

#endif /* FORNAX_WINDOW_H */
