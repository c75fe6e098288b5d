/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Finds CPython in a running process, with no help from it: the mapped
 * file that exports _PyRuntime (the python3.X executable, or an embedded
 * libpython3.X.so), its version from Py_Version, and the addresses the
 * walker and the code reader need. /proc is read through procfs.h: the
 * file is opened as the process maps it (a regular file whose inode is the
 * mapped one, containers and deleted files included), and only its symbol
 * tables are read.
 */
#ifndef FORNAX_PY_DETECT_H
#define FORNAX_PY_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "py_layout.h"

struct py_process {
	__u32 hexversion; /* PY_VERSION_HEX: 0x030b02f0 for 3.11.2 */
	struct py_layout layout;
	__u64 runtime;      /* &_PyRuntime */
	/* _PyEval_EvalFrameDefault: a native frame in [start, end) runs Python frames */
	__u64 eval_start;
	__u64 eval_end;
	/* its cold part (py_cold.h), where one was found; else 0, 0 */
	__u64 eval_cold_start;
	__u64 eval_cold_end;
	__u64 code_type;    /* &PyCode_Type */
	__u64 unicode_type; /* &PyUnicode_Type */
	__u64 bytes_type;   /* &PyBytes_Type */
	__u64 dev;          /* the file that holds them: makedev(major, minor) */
	__u64 inode;
	bool shared_library; /* libpython, as opposed to the executable */
};

/*
 * What processes' files said, kept per file (bounded, least recently used
 * out): a process of a program seen before is placed without reading its
 * symbol tables again.
 */
struct py_detect;

struct py_detect_stats {
	__u64 file_hits;     /* files found in the cache */
	__u64 files_scanned; /* files whose symbols were read */
	__u64 files_evicted;
};

/* NULL with errno set. */
struct py_detect *py_detect__new(size_t max_files);
void py_detect__free(struct py_detect *d);
void py_detect__stats(const struct py_detect *d, struct py_detect_stats *out);

/*
 * Looks for CPython in process pid (whose /proc is proc_root, NULL for
 * "/proc") if it is still the one that started at start_ticks (stat field
 * 22; 0: whichever has the pid). 0 with *out filled; -ENOENT: no CPython mapped; -ENOTSUP: a
 * CPython without a layout here (before 3.11, or after 3.13); -ESRCH: the
 * process is gone; -EACCES/-EPERM; -ENOMEM. d may be NULL: nothing is kept.
 */
int py_detect__process(struct py_detect *d, const char *proc_root, __u32 pid,
		       __u64 start_ticks, struct py_process *out);

/*
 * Whether a mapped file's name looks like an interpreter worth opening:
 * python3.X, python3, libpython3.X.so[.N...]. Others are not examined.
 */
bool py_detect__candidate_name(const char *path);

/*
 * Whether a name of which only the start is known (cut at some length past
 * "libpython3") may be such a candidate: only one that starts like one.
 */
bool py_detect__candidate_start(const char *start);

#endif /* FORNAX_PY_DETECT_H */
