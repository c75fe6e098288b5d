/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /proc/PID of a profiled process, for the symbolizer and the unwinder
 * alike. A process is named by (pid, start time): procfs__open_same()
 * opens the /proc/PID directory and checks the start time, and every read
 * through that directory fd then concerns that very process, even if the
 * pid is reused meanwhile (a reused pid is another directory).
 *
 * Files other processes control are opened here without blocking, only if
 * they are regular files, and checked against the inode the kernel reports
 * for the mapping. (The future openat2(RESOLVE_IN_ROOT) resolution of paths
 * inside a container's root belongs here too.) Library code: returns
 * -errno, never logs.
 */
#ifndef FORNAX_SYMBOLIZER_PROCFS_H
#define FORNAX_SYMBOLIZER_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <linux/types.h>

#include "procmaps.h"

/* The vdso is one or two pages; anything much larger is not one. */
#define PROCFS_VDSO_MAX_BYTES (1u << 20)

/*
 * Nanoseconds per clock tick of /proc/PID/stat's start time (field 22):
 * a start_boottime in ns divided by this is the process's start in ticks.
 */
__u64 procfs__ns_per_tick(void);

/* Two start times in ticks name one process: each side truncates, so one tick apart matches. */
bool procfs__ticks_match(__u64 a, __u64 b);

/* Opens <proc_root>/<pid> (O_DIRECTORY). The fd, or -errno. */
int procfs__open(const char *proc_root, __u32 pid);

/* The start time in ticks (stat field 22) read through dirfd. 0, -EINVAL, or -errno. */
int procfs__start_ticks(int dirfd, __u64 *ticks);

/*
 * Opens <proc_root>/<pid> if it is still the process that started at ticks.
 * The fd, -ESRCH (gone, or the pid names another process), or -ENOMEM.
 */
int procfs__open_same(const char *proc_root, __u32 pid, __u64 ticks);

/* Parses dirfd's maps (procmaps flags). NULL with errno set. */
struct procmaps *procfs__read_maps(int dirfd, unsigned flags);

/*
 * The file mapped at [start, end) with inode ino: map_files/<start>-<end>
 * (exact even for a deleted or replaced file; start 0 skips it, for a range
 * from another process), else path resolved inside the process's root
 * (safe_open__mapping(): a symlink never leads out of a container, a FIFO
 * or device is never opened). The fd, -ESTALE when what the path names is
 * not that regular file, or -errno. *st, if given, is the opened file's stat.
 */
int procfs__open_mapped(int dirfd, __u64 start, __u64 end, const char *path, __u64 ino,
			struct stat *st);

/* Reads len bytes of the process's memory at addr. 0 or -errno. */
int procfs__read_mem(int dirfd, __u64 addr, void *buf, size_t len);

/*
 * A copy of the process's vdso mapped at [start, end), malloc'ed in *image.
 * 0, -EINVAL (empty or larger than PROCFS_VDSO_MAX_BYTES), or -errno.
 */
int procfs__read_vdso(int dirfd, __u64 start, __u64 end, void **image, size_t *len);

/* The first len bytes of the process's executable. 0 or -errno (-EIO if shorter). */
int procfs__read_exe(int dirfd, void *buf, size_t len);

/* The pid in the process's own (innermost) pid namespace (status NSpid), else pid. */
__u32 procfs__nspid(int dirfd, __u32 pid);

#endif /* FORNAX_SYMBOLIZER_PROCFS_H */
