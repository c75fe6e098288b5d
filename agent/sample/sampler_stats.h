/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel's counters of the sampling program (bpf/profile.h's
 * fornax_set_stats), as drains read them: checked, summed over the run, and
 * said in the log by this module, which owns them.
 */
#ifndef FORNAX_SAMPLER_STATS_H
#define FORNAX_SAMPLER_STATS_H

#include <stdbool.h>
#include <linux/types.h>

#include "sampler.h"

/* Over the whole run. */
struct sampler_totals {
	__u64 samples;                   /* drained */
	__u64 lost;                      /* counts map full: not in any profile */
	__u64 filtered;                  /* rejected by the pid or cgroup filter */
	__u64 idle;                      /* idle task, not kept */
	__u64 stacks_dropped;            /* not stored: sample kept without it */
	__u64 stacks_missing;            /* a key named a stack the drain did not find */
	__u64 user_stacks_truncated;     /* deeper than the walk goes */
	__u64 drains;
	__u64 unwind_fp;                 /* user stacks walked by frame pointers */
	__u64 unwind_end[FORNAX_END_NR]; /* CFI walks by how they ended */
	/* The mappings the kernel-side hooks registered (bpf/unwind_vmas.bpf.h). */
	__u64 vma_walks;    /* walks of processes the agent had not described yet */
	__u64 vmas_added;
	__u64 vmas_overflow;
	__u64 vmas_missed;
	__u64 vmas_unstored;
	__u64 requests_spared; /* of vma_walks: young processes walked whole, the agent not asked */
};

/*
 * Accounts one drain: checks its books (the kernel's samples against what
 * was recorded and read; a mismatch is a warning), warns about full maps,
 * logs the drain at debug level (and the CFI walks when cfi is set), and
 * adds it to t.
 */
void sampler_totals__add(struct sampler_totals *t, const struct sampler_drain_stats *st, bool cfi);

/*
 * The totals as Prometheus families (fornax_samples_total, lost and
 * dropped by reason, CFI walks by end): a snapshot the drain loop
 * publishes (metrics_snapshot__publish(s, &totals)) after each drain.
 * NULL with errno set.
 */
struct metrics;
struct metrics_snapshot *sampler_totals__add_metrics(struct metrics *m);

/* The run's "done:" line: samples, profiles, what was lost (stacks dropped included). */
void sampler_totals__log_done(const struct sampler_totals *t, __u64 profiles, __u64 write_errors);

/* "user stacks: N walked by CFI (...), M by frame pointers" for the run. */
void sampler_totals__log_unwind(const struct sampler_totals *t);

#endif /* FORNAX_SAMPLER_STATS_H */
