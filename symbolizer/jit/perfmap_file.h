/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A process's perf map file, /tmp/perf-PID.map as the process itself sees
 * it: in its root and under its own (innermost namespace) pid, read
 * incrementally as the runtime appends to it.
 */
#ifndef FORNAX_SYMBOLIZER_PERFMAP_FILE_H
#define FORNAX_SYMBOLIZER_PERFMAP_FILE_H

#include <sys/stat.h>
#include <linux/types.h>

#include "perfmap.h"

/*
 * Opens the perf map of the process whose /proc/PID directory is dirfd,
 * resolved inside the process's root (safe_open.h), and only if it is a
 * regular file owned by root or by the process's owner: /tmp is writable
 * by anyone. The fd with
 * *st filled in, -EPERM (refused), or -errno (-ENOENT: no perf map).
 */
int perfmap_file__open(int dirfd, __u32 pid, struct stat *st);

/*
 * Parses what fd gained past *offset into pm, up to max_bytes in all, and
 * advances *offset past the complete lines. A trailing partial line waits
 * for the next call; a line longer than the read chunk is skipped. 0 or
 * -ENOMEM.
 */
int perfmap_file__read(struct perfmap *pm, int fd, __u64 *offset, __u64 max_bytes);

#endif /* FORNAX_SYMBOLIZER_PERFMAP_FILE_H */
