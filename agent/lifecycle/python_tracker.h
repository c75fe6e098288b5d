/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Python processes for the sampler and the window (--python): finds
 * CPython in processes as they are first sampled or execute
 * (symbolizer/python/py_detect.c), describes them to the walker in the
 * python_procs map (bpf/python.h), and turns the walker's frames into
 * names, files and lines through a code-object cache
 * (symbolizer/python/py_code.c).
 *
 * A process found not to be Python is looked at again after a backoff
 * (1 s, doubling to 1 min): an embedding program may load libpython late.
 */
#ifndef FORNAX_PYTHON_TRACKER_H
#define FORNAX_PYTHON_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "profile.h"
#include "py_code.h"
#include "py_detect.h"
#include "python_codes.h"
#include "sampler.h"

struct python_tracker;

struct python_tracker_opts {
	const char *proc_root;  /* NULL: "/proc" */
	size_t max_processes;   /* processes remembered, Python or not; 0: 16384 */
	struct py_code_cache_opts code;
	struct python_codes_opts copies;
};

struct python_tracker_stats {
	__u64 detected;      /* processes found to run CPython */
	__u64 unsupported;   /* CPython of a version without a layout */
	__u64 checks;        /* detections run */
	__u64 exec_skipped;  /* execs of a program not named like CPython: no detection */
	__u64 fork_skipped;  /* forks of a process found not to be CPython: no detection */
	__u64 map_errors;    /* python_procs updates that failed */
	__u64 frames;        /* Python frames resolved */
	__u64 unreadable;    /* frames whose code object could not be read */
	__u64 copies_orphaned; /* copies of code objects of processes not (or no longer) tracked */
	struct py_code_cache_stats code;
	struct python_codes_stats copies;
};

/* NULL with errno set. */
struct python_tracker *python_tracker__new(const struct python_tracker_opts *opts);
void python_tracker__free(struct python_tracker *t);

/* The maps the walker shares with the tracker, for sampler_opts.python_maps. */
const struct sampler_python_maps *python_tracker__maps(const struct python_tracker *t);

/*
 * Readable (POLLIN) when the walker's copies of code objects should be read
 * now (python_tracker__consume): its buffer is half full.
 */
int python_tracker__fd(const struct python_tracker *t);
/* Reads the walker's copies of code objects into the code cache; t may be NULL. */
void python_tracker__consume(struct python_tracker *t);

/*
 * Process (pid, start_ns) runs now: detect CPython in it unless that was
 * done recently. exec: it has a new image, so what was known is dropped;
 * exe_name, the executed file's name as the kernel reported it (NULL or ""
 * if not known; its start only with exe_name_cut), saves reading
 * /proc/PID/exe to tell it may be CPython.
 */
void python_tracker__process_seen(struct python_tracker *t, __u32 pid, __u64 start_ns, bool exec,
				  const char *exe_name, bool exe_name_cut);
void python_tracker__process_exit(struct python_tracker *t, __u32 pid, __u64 start_ns);
/* pid forked from parent_pid: it inherits what is known of its parent not being CPython. */
void python_tracker__process_fork(struct python_tracker *t, __u32 parent_pid,
				  __u64 parent_start_ns, __u32 pid, __u64 start_ns);

/*
 * count samples of (pid, start_ns), with n_python Python frames whose walk
 * ended as python_flags says: process_seen(), and the process's counters
 * of walks, logged when it goes (debug) and in the summary.
 */
void python_tracker__sample(struct python_tracker *t, __u32 pid, __u64 start_ns, __u64 count,
			    __u32 n_python, __u32 python_flags);

/* The CPython found in (pid, start_ns), or NULL. */
const struct py_process *python_tracker__process(struct python_tracker *t, __u32 pid,
						 __u64 start_ns);

/*
 * The frame a packed walker frame (bpf/python.h) stands for. 0, -EFAULT
 * (an unreadable frame: show it as one), -ENOENT (not a Python process).
 */
int python_tracker__frame(struct python_tracker *t, __u32 pid, __u64 start_ns, __u64 packed,
			  struct py_frame_info *out);

/* One drain is over: evicts idle code objects and exited processes. */
void python_tracker__end_cycle(struct python_tracker *t);

void python_tracker__stats(const struct python_tracker *t, struct python_tracker_stats *out);

/* Adds one drain's kernel counters (set_stats.py_*) to the run's. */
void python_tracker__account_drain(struct python_tracker *t, const struct fornax_set_stats *k);
/* Logs what the Python walker and the code cache did over the run. */
void python_tracker__log_summary(const struct python_tracker *t);

#endif /* FORNAX_PYTHON_TRACKER_H */
