/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Turns a finished profile window into what the uploader queues: one series
 * per process (pid, comm), each with its own gzipped pprof holding only that
 * process's samples, and series labels a store can filter on: hostname,
 * --label pairs, pid, comm, executable. Packed as a fornax.upload.v1.Window
 * (proto/upload.proto). See docs/architecture.md, "Upload path", for why a
 * window is split per process.
 */
#ifndef FORNAX_SERIES_H
#define FORNAX_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "pprof.h"

struct series_label {
	const char *name;
	const char *value;
};

struct series_opts {
	/* Every series gets these (hostname, --label); names unique and not per-process ones. */
	const struct series_label *labels;
	size_t n_labels;
	/* NULL: derived per process, from the executable's file name, else comm. */
	const char *service_name;
	/*
	 * Keep the labels that vary within a process (tid, thread_name,
	 * unwind) as pprof sample labels. Parca stores sample labels per
	 * sample; Pyroscope turns each distinct one into a series of its own,
	 * so for Pyroscope they are left out. Labels that describe the whole
	 * process (cgroup, container_id, pod_uid) are kept either way.
	 */
	bool thread_labels;
	const char *proc_root; /* NULL: "/proc"; where executables are read (pid/exe) */
};

struct series_stats {
	size_t series;
	size_t samples;
	size_t profile_bytes; /* gzipped pprofs, summed */
};

/*
 * Splits p and packs the window; *buf is malloc'ed (the caller frees it),
 * window_id the 16 bytes that name it. A window without samples packs to a
 * Window with no series. Returns 0 or -errno.
 */
int series__pack_window(const struct pprof *p, const struct series_opts *opts,
			const unsigned char window_id[16], void **buf, size_t *len,
			struct series_stats *stats);

#endif /* FORNAX_SERIES_H */
