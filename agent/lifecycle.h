/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hands the kernel's process records (proc_watch.h) to the symbolizer and
 * the cgroup cache: a new image or a first sample is read while the
 * process is alive, a fork copies its parent's image, an exit keeps the
 * final mappings until the process's last samples are drained.
 */
#ifndef FORNAX_LIFECYCLE_H
#define FORNAX_LIFECYCLE_H

#include <stddef.h>
#include <linux/types.h>

#include "cgroups.h"
#include "proc_watch.h"
#include "python_tracker.h"
#include "symbolizer.h"

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

/* Stops (NULL) or changes the Python tracker that process records go to. */
void lifecycle__set_python(struct lifecycle *lc, struct python_tracker *python);

/* A proc_event_fn: ctx is the lifecycle. Failures are logged, never returned. */
int lifecycle__on_event(const struct proc_event *ev, void *ctx);

/* Logs what the lifecycle machinery did over the run; pw may be NULL. */
void lifecycle__log_summary(const struct lifecycle *lc, const struct proc_watch *pw);

#endif /* FORNAX_LIFECYCLE_H */
