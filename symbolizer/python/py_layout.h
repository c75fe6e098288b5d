/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where CPython keeps what a profiler reads, per minor version: the walker's
 * offsets (bpf/python.h) and, for the agent, code objects, bytes and str.
 * 3.11 and 3.12 come from tables in py_layout.c; 3.13 describes itself in
 * _PyRuntime.debug_offsets (_Py_DebugOffsets), read from the process.
 */
#ifndef FORNAX_PY_LAYOUT_H
#define FORNAX_PY_LAYOUT_H

#include <stddef.h>
#include <linux/types.h>

#include "python.h"

struct py_layout {
	__u32 version; /* PY_VERSION_HEX >> 16 */
	__u32 flags;   /* FORNAX_PY_SHIM_ENTRY */
	struct fornax_py_offsets walker;
	/* PyObject, PyVarObject */
	__u32 ob_type;
	__u32 ob_size;
	/* PyCodeObject; ob_size counts code units (2 bytes) */
	__u32 code_firstlineno; /* int */
	__u32 code_filename;
	__u32 code_name;
	__u32 code_qualname;
	__u32 code_linetable;
	__u32 code_adaptive; /* the first code unit */
	/* PyBytesObject */
	__u32 bytes_sval;
	/* PyUnicodeObject: compact strings keep their data right after the header */
	__u32 unicode_length;
	__u32 unicode_state;
	__u32 unicode_ascii_size;   /* sizeof(PyASCIIObject): data of a compact ASCII str */
	__u32 unicode_compact_size; /* sizeof(PyCompactUnicodeObject): other compact str */
	__u32 unicode_data_any;     /* PyUnicodeObject.data.any, for legacy strings */
};

/* The table for hexversion's minor version (3.11, 3.12); NULL if there is none. */
const struct py_layout *py_layout__for_version(__u32 hexversion);

/* Bytes of _Py_DebugOffsets that py_layout__from_debug_offsets() reads. */
#define PY_DEBUG_OFFSETS_SIZE 568

/*
 * Fills out from the _Py_DebugOffsets at the start of a 3.13 _PyRuntime
 * (len bytes of it). 0, -EINVAL (no "xdebugpy" cookie, or a version other
 * than 3.13: later ones change the struct), -ERANGE (an offset beyond what
 * the walker reads in one go).
 */
int py_layout__from_debug_offsets(const void *buf, size_t len, struct py_layout *out);

/* What the walker needs to copy a code object (bpf/python.h); code_read 0 past its bounds. */
void py_layout__code_offsets(const struct py_layout *l, struct fornax_py_code_offsets *out);

/* Checks the walker's bounds (bpf/python.h); 0 or -ERANGE. */
int py_layout__check(const struct py_layout *l);

#endif /* FORNAX_PY_LAYOUT_H */
