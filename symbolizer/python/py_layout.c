// SPDX-License-Identifier: Apache-2.0
#include "py_layout.h"

#include <errno.h>
#include <string.h>

#define NONE FORNAX_PY_NONE

/*
 * CPython 3.11 as Debian 12 builds it (python3.11 3.11.2-6+deb12u6, x86-64;
 * the same for /usr/bin/python3.11 and libpython3.11.so.1.0). Every offset
 * was checked three ways:
 *  1. offsetof() in a program built with Py_BUILD_CORE against Debian's own
 *     internal headers (/usr/include/python3.11/internal, libpython3.11-dev
 *     of the same version, so pyconfig.h matches the binary's build);
 *  2. from inside a running /usr/bin/python3.11 with ctypes: _PyRuntime
 *     (ctypes.c_char.in_dll) + 40 == PyInterpreterState_Get(), + 576 ==
 *     PyThreadState_Get(); tstate + 152 == threading.get_ident(), + 160 ==
 *     threading.get_native_id(), + 16 == the interpreter (whose next, at 0,
 *     links the runtime's list: a sub-interpreter made by _xxsubinterpreters
 *     is its head, the main one its last); tstate->cframe (56)->current_frame (8) is
 *     the running frame, whose f_code (32) is id(sys._getframe().f_code),
 *     previous (48) the caller's, is_entry (68) 1 only for the first frame
 *     of an eval loop (module body, a sorted() key function, a generator),
 *     owner (69) 1 in a generator; code + 72/112/128/136 == co_firstlineno,
 *     id(co_filename), id(co_qualname), id(co_linetable), code + 184 holds
 *     co_code; bytes + 32 holds the bytes; str data at + 48 (ASCII) and
 *     + 72 (latin-1, UCS-2, UCS-4), kind in state (32) bits 2..4;
 *  3. tests/unit/python/py_code_test.c reads these fields out of a live
 *     /usr/bin/python3 child through this table and compares them with what
 *     the child prints about itself.
 */
static const struct py_layout layout_311 = {
	.version = 0x030b,
	.walker = {
		.runtime_interpreters_head = 40,
		.runtime_gil_holder = 576, /* gilstate.tstate_current */
		.interp_gil = NONE,
		.gil_last_holder = NONE,
		.interp_threads_head = 16,
		.interp_next = 0,
		.tstate_next = 8,
		.tstate_interp = 16,
		.tstate_native_thread_id = 160,
		.tstate_cframe = 56,
		.tstate_current_frame = 8, /* _PyCFrame.current_frame */
		.frame_code = 32,
		.frame_previous = 48,
		.frame_instr = 56, /* prev_instr */
		.frame_is_entry = 68,
		.frame_owner = 69,
		.tstate_read = 168,
	},
	.ob_type = 8,
	.ob_size = 16,
	.code_firstlineno = 72,
	.code_filename = 112,
	.code_name = 120,
	.code_qualname = 128,
	.code_linetable = 136,
	.code_adaptive = 184,
	.bytes_sval = 32,
	.unicode_length = 16,
	.unicode_state = 32,
	.unicode_ascii_size = 48,
	.unicode_compact_size = 72,
	.unicode_data_any = 72,
};

/*
 * CPython 3.12 (x86-64, default build): offsetof() against 3.12.1's
 * internal headers. Not a Debian 12 package; tested against a 3.12.1
 * source build only. Entry frames are marked by a shim frame
 * (FRAME_OWNED_BY_CSTACK); the GIL is per interpreter (ceval.gil).
 */
static const struct py_layout layout_312 = {
	.version = 0x030c,
	.flags = FORNAX_PY_SHIM_ENTRY,
	.walker = {
		.runtime_interpreters_head = 40,
		.runtime_gil_holder = NONE,
		.interp_gil = 384,     /* ceval.gil */
		.gil_last_holder = 8,  /* _gil_runtime_state.last_holder */
		.interp_threads_head = 72,
		.interp_next = 0,
		.tstate_next = 8,
		.tstate_interp = 16,
		.tstate_native_thread_id = 144,
		.tstate_cframe = 56,
		.tstate_current_frame = 0,
		.frame_code = 0,
		.frame_previous = 8,
		.frame_instr = 56,
		.frame_is_entry = NONE,
		.frame_owner = 70,
		.tstate_read = 152,
	},
	.ob_type = 8,
	.ob_size = 16,
	.code_firstlineno = 68,
	.code_filename = 112,
	.code_name = 120,
	.code_qualname = 128,
	.code_linetable = 136,
	.code_adaptive = 192,
	.bytes_sval = 32,
	.unicode_length = 16,
	.unicode_state = 32,
	.unicode_ascii_size = 40,
	.unicode_compact_size = 56,
	.unicode_data_any = 56,
};

const struct py_layout *py_layout__for_version(__u32 hexversion)
{
	switch (hexversion >> 16) {
	case 0x030b:
		return &layout_311;
	case 0x030c:
		return &layout_312;
	default:
		return NULL;
	}
}

/* Byte offsets in 3.13's _Py_DebugOffsets (Include/internal/pycore_runtime.h). */
enum {
	DO_VERSION = 8,
	DO_RUNTIME_INTERPRETERS_HEAD = 40,
	DO_INTERP_NEXT = 64,
	DO_INTERP_THREADS_HEAD = 72,
	DO_INTERP_CEVAL_GIL = 112,
	DO_INTERP_GIL_RUNTIME_STATE = 120,
	DO_INTERP_GIL_HOLDER = 144,
	DO_TSTATE_NEXT = 168,
	DO_TSTATE_INTERP = 176,
	DO_TSTATE_CURRENT_FRAME = 184,
	DO_TSTATE_NATIVE_THREAD_ID = 200,
	DO_FRAME_PREVIOUS = 232,
	DO_FRAME_EXECUTABLE = 240,
	DO_FRAME_INSTR_PTR = 248,
	DO_FRAME_OWNER = 264,
	DO_CODE_FILENAME = 280,
	DO_CODE_NAME = 288,
	DO_CODE_QUALNAME = 296,
	DO_CODE_LINETABLE = 304,
	DO_CODE_FIRSTLINENO = 312,
	DO_CODE_ADAPTIVE = 344,
	DO_OBJECT_OB_TYPE = 360,
	DO_BYTES_OB_SIZE = 520,
	DO_BYTES_SVAL = 528,
	DO_UNICODE_STATE = 544,
	DO_UNICODE_LENGTH = 552,
	DO_UNICODE_ASCII_SIZE = 560,
	DO_END = 568,
};
_Static_assert(DO_END == PY_DEBUG_OFFSETS_SIZE, "the fields read end at the unicode offsets");

static int field(const unsigned char *buf, size_t off, __u32 *out)
{
	__u64 v;

	memcpy(&v, buf + off, sizeof(v));
	if (v > 0xfffffffeULL)
		return -ERANGE;
	*out = (__u32)v;
	return 0;
}

int py_layout__from_debug_offsets(const void *buf, size_t len, struct py_layout *out)
{
	static const struct {
		size_t off;
		size_t dst;
	} map[] = {
		{ DO_RUNTIME_INTERPRETERS_HEAD,
		  offsetof(struct py_layout, walker.runtime_interpreters_head) },
		{ DO_INTERP_THREADS_HEAD, offsetof(struct py_layout, walker.interp_threads_head) },
		{ DO_INTERP_NEXT, offsetof(struct py_layout, walker.interp_next) },
		{ DO_INTERP_CEVAL_GIL, offsetof(struct py_layout, walker.interp_gil) },
		{ DO_TSTATE_NEXT, offsetof(struct py_layout, walker.tstate_next) },
		{ DO_TSTATE_INTERP, offsetof(struct py_layout, walker.tstate_interp) },
		{ DO_TSTATE_CURRENT_FRAME, offsetof(struct py_layout, walker.tstate_current_frame) },
		{ DO_TSTATE_NATIVE_THREAD_ID,
		  offsetof(struct py_layout, walker.tstate_native_thread_id) },
		{ DO_FRAME_PREVIOUS, offsetof(struct py_layout, walker.frame_previous) },
		{ DO_FRAME_EXECUTABLE, offsetof(struct py_layout, walker.frame_code) },
		{ DO_FRAME_INSTR_PTR, offsetof(struct py_layout, walker.frame_instr) },
		{ DO_FRAME_OWNER, offsetof(struct py_layout, walker.frame_owner) },
		{ DO_CODE_FILENAME, offsetof(struct py_layout, code_filename) },
		{ DO_CODE_NAME, offsetof(struct py_layout, code_name) },
		{ DO_CODE_QUALNAME, offsetof(struct py_layout, code_qualname) },
		{ DO_CODE_LINETABLE, offsetof(struct py_layout, code_linetable) },
		{ DO_CODE_FIRSTLINENO, offsetof(struct py_layout, code_firstlineno) },
		{ DO_CODE_ADAPTIVE, offsetof(struct py_layout, code_adaptive) },
		{ DO_OBJECT_OB_TYPE, offsetof(struct py_layout, ob_type) },
		{ DO_BYTES_OB_SIZE, offsetof(struct py_layout, ob_size) },
		{ DO_BYTES_SVAL, offsetof(struct py_layout, bytes_sval) },
		{ DO_UNICODE_STATE, offsetof(struct py_layout, unicode_state) },
		{ DO_UNICODE_LENGTH, offsetof(struct py_layout, unicode_length) },
		{ DO_UNICODE_ASCII_SIZE, offsetof(struct py_layout, unicode_ascii_size) },
	};
	const unsigned char *b = buf;
	__u32 gil_state, holder;
	__u64 version;
	int err;

	if (len < DO_END || memcmp(b, "xdebugpy", 8) != 0)
		return -EINVAL;
	memcpy(&version, b + DO_VERSION, sizeof(version));
	if ((version >> 16) != 0x030d)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->version = 0x030d;
	out->flags = FORNAX_PY_SHIM_ENTRY;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		err = field(b, map[i].off, (__u32 *)((char *)out + map[i].dst));
		if (err)
			return err;
	}
	/* The holder is given inside the interpreter's own _gil; the walker goes through ceval.gil. */
	err = field(b, DO_INTERP_GIL_RUNTIME_STATE, &gil_state);
	if (!err)
		err = field(b, DO_INTERP_GIL_HOLDER, &holder);
	if (err)
		return err;
	if (holder < gil_state)
		return -ERANGE;
	out->walker.gil_last_holder = holder - gil_state;
	out->walker.runtime_gil_holder = FORNAX_PY_NONE;
	out->walker.tstate_cframe = FORNAX_PY_NONE;
	out->walker.frame_is_entry = FORNAX_PY_NONE;
	/* The str header is 16 bytes longer for non-ASCII compact strings: utf8_length, utf8. */
	out->unicode_compact_size = out->unicode_ascii_size + 16;
	out->unicode_data_any = out->unicode_compact_size;
	out->walker.tstate_read = out->walker.tstate_native_thread_id;
	if (out->walker.tstate_next > out->walker.tstate_read)
		out->walker.tstate_read = out->walker.tstate_next;
	if (out->walker.tstate_interp > out->walker.tstate_read)
		out->walker.tstate_read = out->walker.tstate_interp;
	if (out->walker.tstate_current_frame > out->walker.tstate_read)
		out->walker.tstate_read = out->walker.tstate_current_frame;
	out->walker.tstate_read += 8;
	return py_layout__check(out);
}

int py_layout__check(const struct py_layout *l)
{
	const struct fornax_py_offsets *w = &l->walker;
	const __u32 tstate[] = { w->tstate_next, w->tstate_native_thread_id, w->tstate_cframe,
				 w->tstate_interp };
	const __u32 frame[] = { w->frame_code, w->frame_previous, w->frame_instr };

	if (w->tstate_read > FORNAX_PY_TSTATE_READ)
		return -ERANGE;
	for (size_t i = 0; i < sizeof(tstate) / sizeof(tstate[0]); i++)
		if (tstate[i] != FORNAX_PY_NONE && tstate[i] + 8 > w->tstate_read)
			return -ERANGE;
	if (w->tstate_cframe == FORNAX_PY_NONE && w->tstate_current_frame + 8 > w->tstate_read)
		return -ERANGE;
	for (size_t i = 0; i < sizeof(frame) / sizeof(frame[0]); i++)
		if (frame[i] + 8 > FORNAX_PY_FRAME_READ)
			return -ERANGE;
	if (w->frame_owner >= FORNAX_PY_FRAME_READ ||
	    (w->frame_is_entry != FORNAX_PY_NONE && w->frame_is_entry >= FORNAX_PY_FRAME_READ))
		return -ERANGE;
	if (!(l->flags & FORNAX_PY_SHIM_ENTRY) && w->frame_is_entry == FORNAX_PY_NONE)
		return -EINVAL; /* no way to tell where an eval loop's frames end */
	return 0;
}

void py_layout__code_offsets(const struct py_layout *l, struct fornax_py_code_offsets *out)
{
	const __u32 code[] = { l->ob_size, l->code_filename, l->code_qualname, l->code_linetable };

	*out = (struct fornax_py_code_offsets){
		.code_read = l->code_adaptive,
		.ob_size = l->ob_size,
		.code_firstlineno = l->code_firstlineno,
		.code_filename = l->code_filename,
		.code_qualname = l->code_qualname,
		.code_linetable = l->code_linetable,
		.str_length = l->unicode_length,
		.str_state = l->unicode_state,
		.str_ascii_size = l->unicode_ascii_size,
		.str_compact_size = l->unicode_compact_size,
		.bytes_sval = l->bytes_sval,
	};
	/* A code object the walker cannot copy whole: it copies none (code_read 0). */
	for (size_t i = 0; i < sizeof(code) / sizeof(code[0]); i++)
		if (code[i] + 8 > l->code_adaptive)
			out->code_read = 0;
	if (l->code_firstlineno + 4 > l->code_adaptive || l->code_adaptive > FORNAX_PY_CODE_COPY)
		out->code_read = 0;
}
