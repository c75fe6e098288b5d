/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hands the kernel's process records (proc_watch.h) to everything that
 * tracks processes, from this one place: the symbolizer (a new image or a
 * first sample is read while the process is alive, a fork copies its
 * parent's image, an exit keeps the final mappings until the process's last
 * samples are drained), the cgroup cache (a container's cgroup is named
 * while it exists) and the unwinder (an exit drops the process's entry).
 */
#ifndef FORNAX_LIFECYCLE_H
#define FORNAX_LIFECYCLE_H

#include <stddef.h>
#include <linux/types.h>

#include "cgroups.h"
#include "proc_watch.h"
#include "python_tracker.h"
#include "symbolizer.h"
#include "unwinder.h"

struct lifecycle;

struct lifecycle_opts {
	struct symbolizer *symbolizer; /* borrowed; required */
	struct cgroups *cgroups;       /* borrowed; NULL: none */
	struct python_tracker *python; /* borrowed; NULL: --python=off */
	const __u32 *pids;             /* --pid: only these processes; NULL: all */
	size_t n_pids;
};

/* NULL with errno set. */
struct lifecycle *lifecycle__new(const struct lifecycle_opts *opts);
void lifecycle__free(struct lifecycle *lc);

/* A proc_event_fn: ctx is the lifecycle. Failures are logged, never returned. */
int lifecycle__on_event(const struct proc_event *ev, void *ctx);

/* Exits go to u too from now on (NULL: no more); set once the sampler has taken it. */
void lifecycle__set_unwinder(struct lifecycle *lc, struct unwinder *u);

/* Stops (NULL) or changes the Python tracker that process records go to. */
void lifecycle__set_python(struct lifecycle *lc, struct python_tracker *python);

/* Logs what the symbolizer did with the processes over the run. */
void lifecycle__log_summary(const struct lifecycle *lc);
/* Logs, at debug level, what the bounded caches hold: they must level off, not grow. */
void lifecycle__log_caches(const struct lifecycle *lc);

/*
 * The same caches as Prometheus families (fornax_symbolizer_*,
 * fornax_cgroups_cached): the symbolizer is the drain loop's, so its
 * numbers reach a scrape as a snapshot the loop publishes with
 * lifecycle__publish_caches() after each drain. NULL with errno set.
 */
struct metrics;
struct metrics_snapshot;
/* What the caches hold now (cgroups untouched without a cgroup cache). */
void lifecycle__cache_stats(const struct lifecycle *lc, struct symbolizer_stats *sym,
			    struct cgroups_stats *cgroups);
struct metrics_snapshot *lifecycle__add_cache_metrics(struct metrics *m);
void lifecycle__publish_caches(const struct lifecycle *lc, struct metrics_snapshot *s);

#endif /* FORNAX_LIFECYCLE_H */
