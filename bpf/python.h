/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ABI of the CPython frame walker (python.bpf.h), shared with the agent.
 * Fixed-width types and a size check on every struct, as in profile.h.
 *
 * The agent finds CPython in a process (symbolizer/python/py_detect.c),
 * writes one struct fornax_py_proc per process into python_procs, and the
 * walker records, per sample, the thread's Python frames innermost first
 * into a struct fornax_stack whose ips are packed frames (below), and copies
 * each code object it first meets to the agent (struct
 * fornax_py_code_record). The agent names the frames from those copies (or
 * reads the code objects) and merges them into the native stack
 * (symbolizer/python/py_merge.c).
 */
#ifndef FORNAX_BPF_PYTHON_H
#define FORNAX_BPF_PYTHON_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* The offsets unused by a version, and "not found". */
#define FORNAX_PY_NONE 0xffffffffu
/* The walker reads one block of a thread state and of a frame: offsets stay below these. */
#define FORNAX_PY_TSTATE_READ 256
#define FORNAX_PY_FRAME_READ 80

/*
 * Where things are in one interpreter build (symbolizer/python/py_layout.c
 * holds the table per minor version). FORNAX_PY_NONE: the version has no
 * such field.
 */
struct fornax_py_offsets {
	/* _PyRuntimeState */
	__u32 runtime_interpreters_head;
	/*
	 * The thread state holding the GIL: at runtime + runtime_gil_holder
	 * (3.11: gilstate.tstate_current), or at *(interp + interp_gil) +
	 * gil_last_holder (3.12+: the per-interpreter GIL's last_holder).
	 */
	__u32 runtime_gil_holder;
	__u32 interp_gil;
	__u32 gil_last_holder;
	/* PyInterpreterState */
	__u32 interp_threads_head;
	/* the next interpreter in the runtime's list, newest first: the main one is last */
	__u32 interp_next;
	/* PyThreadState, all below FORNAX_PY_TSTATE_READ */
	__u32 tstate_next;
	__u32 tstate_interp; /* the interpreter the thread state belongs to */
	__u32 tstate_native_thread_id;
	/* 3.11, 3.12: tstate->cframe->current_frame; 3.13: tstate->current_frame (cframe NONE) */
	__u32 tstate_cframe;
	__u32 tstate_current_frame; /* in the _PyCFrame when tstate_cframe is set */
	/* _PyInterpreterFrame, all below FORNAX_PY_FRAME_READ */
	__u32 frame_code;     /* f_code, f_executable (3.13) */
	__u32 frame_previous;
	__u32 frame_instr;    /* prev_instr (3.11, 3.12), instr_ptr (3.13) */
	__u32 frame_is_entry; /* 3.11 only */
	__u32 frame_owner;
	/* Bytes of a thread state the walker reads: past every tstate_ field above. */
	__u32 tstate_read;
};
_Static_assert(sizeof(struct fornax_py_offsets) == 68, "python offsets ABI");

/* enum fornax_py_proc_flags */
/* Entry frames are shim frames owned by the C stack (3.12+), not an is_entry flag (3.11). */
#define FORNAX_PY_SHIM_ENTRY (1u << 0)
/* _PyFrameOwner value of a shim frame (FRAME_OWNED_BY_CSTACK, 3.12+). */
#define FORNAX_PY_OWNER_CSTACK 3

/*
 * One Python process, keyed by tgid. Applies only while the group leader's
 * start time matches (a reused pid). An exec keeps the start time: the
 * agent deletes the entry when it hears of the exec, and until then the
 * walker's reads fail or the agent finds no code object where they point.
 */
/*
 * Where the name, file and location table of a code object are, for the
 * copy the walker sends the agent of each code object it meets (struct
 * fornax_py_code_record). All below FORNAX_PY_CODE_COPY.
 */
struct fornax_py_code_offsets {
	__u32 code_read; /* bytes of a code object copied: up to its first code unit */
	__u32 ob_size;   /* PyVarObject.ob_size: code units of a code object, bytes of a bytes */
	__u32 code_firstlineno;
	__u32 code_filename;
	__u32 code_qualname;
	__u32 code_linetable;
	__u32 str_length; /* PyASCIIObject.length */
	__u32 str_state;
	__u32 str_ascii_size;   /* where a compact ASCII str's characters start */
	__u32 str_compact_size; /* ... and those of any other compact str */
	__u32 bytes_sval;
	__u32 pad;
};
_Static_assert(sizeof(struct fornax_py_code_offsets) == 48, "python code offsets ABI");

struct fornax_py_proc {
	__u64 start_ns; /* group leader's start_boottime */
	__u64 runtime;  /* address of _PyRuntime */
	__u32 version;  /* PY_VERSION_HEX >> 16: 0x030b for 3.11 */
	__u32 flags;    /* FORNAX_PY_SHIM_ENTRY */
	struct fornax_py_offsets off;
	__u32 pad;
	struct fornax_py_code_offsets code;
};
_Static_assert(sizeof(struct fornax_py_proc) == 24 + 68 + 4 + 48, "python proc ABI");

/*
 * A code object met for the first time (or found changed), copied while the
 * process lives: the agent names its frames from this even if the process
 * has exited by the drain. Sent through the py_codes ring buffer, ending
 * after linetable_len bytes of linetable_bytes. An object that did not fit
 * is not copied (its address stays, its length is 0): the agent reads it
 * from the process, if it still can.
 */
#define FORNAX_PY_CODE_COPY 256
#define FORNAX_PY_STR_COPY 512       /* a str object, header and characters */
#define FORNAX_PY_LINETABLE_COPY 4096 /* the location table's bytes object, header included */

struct fornax_py_code_record {
	__u32 tgid;
	__u32 code_len; /* bytes of code_bytes: fornax_py_code_offsets.code_read */
	__u64 start_ns;
	__u64 code;
	__u64 qualname;
	__u64 filename;
	__u64 linetable;
	__u32 qualname_len;
	__u32 filename_len;
	__u32 linetable_len;
	__u32 pad;
	__u8 code_bytes[FORNAX_PY_CODE_COPY];
	__u8 qualname_bytes[FORNAX_PY_STR_COPY];
	__u8 filename_bytes[FORNAX_PY_STR_COPY];
	__u8 linetable_bytes[FORNAX_PY_LINETABLE_COPY];
};
_Static_assert(sizeof(struct fornax_py_code_record) ==
		       64 + FORNAX_PY_CODE_COPY + 2 * FORNAX_PY_STR_COPY + FORNAX_PY_LINETABLE_COPY,
	       "python code record ABI");
#define FORNAX_PY_CODE_RECORD_HDR 64

/*
 * What the walker has sent, by process: py_seen_codes (addr: a code object;
 * stamp: the fingerprint of the fields that identify it) and py_seen_chains
 * (addr: a hash of a stack's code objects; stamp: the py_gen it was checked
 * in). An entry applies while start_ns is the process's.
 */
struct fornax_py_seen_key {
	__u64 addr;
	__u32 tgid;
	__u32 pad;
};
_Static_assert(sizeof(struct fornax_py_seen_key) == 16, "python seen key ABI");

struct fornax_py_seen {
	__u64 start_ns;
	__u64 stamp;
};
_Static_assert(sizeof(struct fornax_py_seen) == 16, "python seen ABI");

/*
 * A Python frame packed into one stack slot:
 *   bits  0..43  code object address >> 3 (user addresses are below 2^47,
 *                objects 8-byte aligned); 0: the frame could not be read
 *   bit  44      the frame is the first its _PyEval_EvalFrameDefault
 *                activation ran (3.11 is_entry, or the frame above a shim)
 *   bits 45..63  instruction pointer - code object address, in bytes;
 *                0: unknown (it is never 0: the code follows the header)
 */
#define FORNAX_PY_CODE_BITS 44
#define FORNAX_PY_CODE_MASK ((1ULL << FORNAX_PY_CODE_BITS) - 1)
#define FORNAX_PY_ENTRY (1ULL << 44)
#define FORNAX_PY_INSTR_SHIFT 45
#define FORNAX_PY_INSTR_MAX ((1ULL << (64 - FORNAX_PY_INSTR_SHIFT)) - 1)

static inline __u64 fornax_py_frame_code(__u64 frame)
{
	return (frame & FORNAX_PY_CODE_MASK) << 3;
}

static inline __u32 fornax_py_frame_instr(__u64 frame)
{
	return (__u32)(frame >> FORNAX_PY_INSTR_SHIFT);
}

/*
 * struct fornax_stack's flags for a Python stack: FORNAX_STACK_PYTHON, and
 * how the walk ended (FORNAX_STACK_END_SHIFT, enum fornax_py_end).
 */
#define FORNAX_STACK_PYTHON 0x3u

/* Why a Python walk stopped; one counter each in fornax_set_stats. */
enum fornax_py_end {
	FORNAX_PY_END_NONE = 0,
	FORNAX_PY_END_COMPLETE,   /* reached the thread's first frame */
	FORNAX_PY_END_DEPTH,      /* more than FORNAX_MAX_STACK_DEPTH frames */
	FORNAX_PY_END_READ_FAULT, /* a frame could not be read: [python: unreadable] */
	FORNAX_PY_END_NR,
};

/* Samples of a Python process whose thread state was not found, by why. */
enum fornax_py_miss {
	FORNAX_PY_MISS_NO_THREAD = 0, /* no interpreter thread for the sampled thread */
	FORNAX_PY_MISS_IDLE,          /* the thread runs no Python code now */
	FORNAX_PY_MISS_READ_FAULT,    /* the runtime or a thread state could not be read */
	FORNAX_PY_MISS_SUBINTERPRETER, /* the thread runs in an interpreter other than the main one */
	FORNAX_PY_MISS_NR,
};

#endif /* FORNAX_BPF_PYTHON_H */
