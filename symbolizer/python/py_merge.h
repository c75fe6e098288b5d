/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Merges a thread's Python frames into its native stack: each native
 * activation of _PyEval_EvalFrameDefault is replaced by the Python frames
 * it was running, so a C extension called from Python that calls back into
 * Python reads as Python → C → Python.
 *
 * The walker marks the first frame each activation ran (FORNAX_PY_ENTRY),
 * which cuts the Python frames, innermost first, into one run per
 * activation. When both stacks are whole, runs and activations are paired
 * from the outermost: an activation just entered or about to return has no
 * run yet (or any more) and stays a native frame. When either stack was cut
 * short, they are paired from the innermost, which both still have; runs
 * left over are callers of everything shown and go at the outer end, after
 * a gap where the native stack was cut. The caller marks a native stack
 * cut short without such runs, as it does without Python frames.
 */
#ifndef FORNAX_PY_MERGE_H
#define FORNAX_PY_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

enum py_merge_kind {
	PY_MERGE_NATIVE,     /* index: into the native stack */
	PY_MERGE_PYTHON,     /* index: into the Python frames */
	PY_MERGE_GAP,        /* the native stack was cut here: [truncated] */
	PY_MERGE_UNREADABLE, /* Python frames beyond here could not be read */
	PY_MERGE_PY_TRUNCATED, /* more Python frames than recorded */
};

struct py_merge_item {
	__u32 kind; /* enum py_merge_kind */
	__u32 index;
};

struct py_merge_input {
	const __u64 *native; /* leaf first */
	size_t n_native;
	/* the native walk is not known to have reached the outermost frame */
	bool native_cut;
	const __u64 *python; /* packed frames (bpf/python.h), innermost first */
	size_t n_python;
	__u32 python_end;    /* enum fornax_py_end */
	/*
	 * A native frame at [eval_start, eval_end), or in its cold part
	 * [eval_cold_start, eval_cold_end), is a _PyEval_EvalFrameDefault activation.
	 */
	__u64 eval_start;
	__u64 eval_end;
	__u64 eval_cold_start;
	__u64 eval_cold_end;
};

/*
 * Writes the merged stack, leaf first, into out (room for n_native +
 * n_python + 2 items always suffices). Returns the number of items, or
 * -ENOSPC if cap is too small.
 */
int py_merge(const struct py_merge_input *in, struct py_merge_item *out, size_t cap);

#endif /* FORNAX_PY_MERGE_H */
