/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CPython frames inside the BPF program. Included by profile.bpf.c, which
 * calls fornax_python_walk() for every sample of a process the agent has
 * described in python_procs (bpf/python.h).
 *
 * Which PyThreadState is the sampled thread's? Three ways were weighed:
 *  - the thread-local pointer (3.11: a pthread key; 3.12+: _Py_tss_tstate
 *    in static TLS) needs glibc's struct pthread layout or the TLS block
 *    offset of the module: libc- and link-dependent;
 *  - the GIL holder alone is wrong for a thread that released the GIL (I/O,
 *    numpy, compression): it would get another thread's frames;
 *  - the interpreter's thread list, matched on native_thread_id (the
 *    kernel tid, set by CPython 3.11+ for every thread), is authoritative.
 * So: the GIL holder first (one or two reads, and right for every thread
 * that runs bytecode), checked against the tid; else the main interpreter's
 * thread list, bounded. A thread found in neither is counted, not guessed.
 *
 * The frame chain (tstate->cframe->current_frame, then previous) is walked
 * one bpf_loop() iteration per frame, one read per frame. Each frame is
 * recorded as its code object address, the instruction pointer's offset in
 * it and the entry mark; the agent reads the code objects.
 */
#ifndef FORNAX_PYTHON_BPF_H
#define FORNAX_PYTHON_BPF_H

#include "python.h"

/* --python: off leaves the walker out (the verifier drops it). */
const volatile bool python_walk = false;

/* Threads of the main interpreter searched for a thread not holding the GIL. */
#define PY_MAX_THREADS 256

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct fornax_py_proc);
} python_procs SEC(".maps");

/*
 * One walk's state, per CPU: the verifier does not track map memory, so
 * the frame step is checked once (see unwind.bpf.h's struct unwind_walk).
 */
struct py_walk {
	struct fornax_py_proc proc;
	__u64 tstate;
	__u64 frame;
	__u32 tid;
	__u32 n;
	__u32 end;
	__u32 pad;
	__u8 buf[FORNAX_PY_TSTATE_READ];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct py_walk);
} py_walks SEC(".maps");

struct py_ctx {
	struct fornax_stack *stack;
	struct py_walk *w;
};

/* The u64 at off in w->buf, which holds len bytes; false if off is outside. */
static __always_inline bool py_buf_u64(struct py_walk *w, __u32 off, __u32 len, __u64 *out)
{
	if (off > FORNAX_PY_TSTATE_READ - 8 || off + 8 > len)
		return false;
	__builtin_memcpy(out, &w->buf[off], 8);
	return true;
}

static __always_inline bool py_read_u64(__u64 addr, __u32 off, __u64 *out)
{
	if (off == FORNAX_PY_NONE || !addr)
		return false;
	return bpf_probe_read_user(out, 8, (void *)(addr + off)) == 0;
}

/*
 * Reads the thread state at ts into w->buf (up to the last field the walk
 * needs, tstate_read bytes); true if it belongs to w->tid.
 */
static __always_inline bool py_tstate_is_ours(struct py_walk *w, __u64 ts, __u64 *next)
{
	__u32 len = w->proc.off.tstate_read;
	__u64 tid;

	if (len < 8 || len > FORNAX_PY_TSTATE_READ)
		return false;
	if (bpf_probe_read_user(w->buf, len, (void *)ts))
		return false;
	if (!py_buf_u64(w, w->proc.off.tstate_native_thread_id, len, &tid) ||
	    !py_buf_u64(w, w->proc.off.tstate_next, len, next))
		return false;
	return tid == w->tid;
}

static long py_thread_step(__u32 index, void *ctx)
{
	struct py_walk *w = ((struct py_ctx *)ctx)->w;
	__u64 next = 0;

	if (!w->tstate)
		return 1;
	if (py_tstate_is_ours(w, w->tstate, &next))
		return 1;
	w->tstate = next;
	return 0;
}

/* The sampled thread's PyThreadState, or 0 with *miss set. */
static __always_inline __u64 py_find_tstate(struct py_walk *w, struct fornax_set_stats *st,
					    __u32 *miss)
{
	const struct fornax_py_offsets *off = &w->proc.off;
	struct py_ctx c = { .w = w };
	__u64 interp = 0, holder = 0, gil, next;

	if (!py_read_u64(w->proc.runtime, off->runtime_interpreters_head, &interp) || !interp) {
		*miss = interp ? FORNAX_PY_MISS_READ_FAULT : FORNAX_PY_MISS_IDLE;
		return 0; /* not initialized yet, or finalized */
	}
	if (off->runtime_gil_holder != FORNAX_PY_NONE)
		py_read_u64(w->proc.runtime, off->runtime_gil_holder, &holder);
	else if (py_read_u64(interp, off->interp_gil, &gil))
		py_read_u64(gil, off->gil_last_holder, &holder);
	if (holder && py_tstate_is_ours(w, holder, &next))
		return holder;

	if (!py_read_u64(interp, off->interp_threads_head, &w->tstate)) {
		*miss = FORNAX_PY_MISS_READ_FAULT;
		return 0;
	}
	/* bpf_loop's context must be on the stack */
	bpf_loop(PY_MAX_THREADS, py_thread_step, &c, 0);
	if (w->tstate)
		st->py_tstate_by_list++;
	else
		*miss = FORNAX_PY_MISS_NO_THREAD;
	return w->tstate;
}

static long py_frame_step(__u32 index, void *ctx)
{
	struct py_ctx *c = ctx;
	struct py_walk *w = c->w;
	const struct fornax_py_offsets *off = &w->proc.off;
	__u64 code = 0, instr = 0, previous = 0, frame = 0, delta;
	__u8 owner = 0, entry = 0;
	__u32 n;

	if (!w->frame) {
		w->end = FORNAX_PY_END_COMPLETE;
		return 1;
	}
	if (bpf_probe_read_user(w->buf, FORNAX_PY_FRAME_READ, (void *)w->frame) ||
	    !py_buf_u64(w, off->frame_previous, FORNAX_PY_FRAME_READ, &previous)) {
		w->end = FORNAX_PY_END_READ_FAULT;
		return 1;
	}
	py_buf_u64(w, off->frame_code, FORNAX_PY_FRAME_READ, &code);
	py_buf_u64(w, off->frame_instr, FORNAX_PY_FRAME_READ, &instr);
	if (off->frame_owner < FORNAX_PY_FRAME_READ)
		owner = w->buf[off->frame_owner];
	if (off->frame_is_entry < FORNAX_PY_FRAME_READ)
		entry = w->buf[off->frame_is_entry];
	w->frame = previous;

	n = w->n;
	if ((w->proc.flags & FORNAX_PY_SHIM_ENTRY) && owner == FORNAX_PY_OWNER_CSTACK) {
		/* Not a Python frame: it marks the frame recorded before it as an entry. */
		if (n > 0 && n <= FORNAX_MAX_STACK_DEPTH)
			c->stack->ips[n - 1] |= FORNAX_PY_ENTRY;
		return 0;
	}
	if (n >= FORNAX_MAX_STACK_DEPTH) {
		w->end = FORNAX_PY_END_DEPTH;
		return 1;
	}
	/* A pointer that cannot be packed is not a code object: an unreadable frame. */
	if (!(code & 7) && code < (1ULL << (FORNAX_PY_CODE_BITS + 3))) {
		delta = instr - code;
		if (instr < code || delta > FORNAX_PY_INSTR_MAX)
			delta = 0;
		frame = (code >> 3) | (delta << FORNAX_PY_INSTR_SHIFT);
	}
	if (entry)
		frame |= FORNAX_PY_ENTRY;
	c->stack->ips[n] = frame;
	w->n = n + 1;
	return 0;
}

/*
 * Fills stack with the sampled thread's Python frames, innermost first, if
 * tgid is a Python process the agent described. Returns the frames' bytes,
 * 0 when there are none (not Python, no thread state, no frame).
 */
static __always_inline long fornax_python_walk(struct fornax_stack *stack,
					       struct fornax_set_stats *st, __u32 tgid, __u32 tid)
{
	struct task_struct *task, *leader;
	struct fornax_py_proc *proc;
	struct py_ctx c = { .stack = stack };
	struct py_walk *w;
	__u32 zero = 0, miss = FORNAX_PY_MISS_READ_FAULT, end;
	__u64 ts, cframe;

	if (!python_walk)
		return 0;
	proc = bpf_map_lookup_elem(&python_procs, &tgid);
	if (!proc)
		return 0;
	w = bpf_map_lookup_elem(&py_walks, &zero);
	if (!w)
		return 0;
	/* Copied at once: the agent may replace the entry. */
	__builtin_memcpy(&w->proc, proc, sizeof(w->proc));
	task = (struct task_struct *)bpf_get_current_task_btf();
	leader = BPF_CORE_READ(task, group_leader);
	if (w->proc.start_ns != BPF_CORE_READ(leader, start_boottime))
		return 0; /* pid reused: the agent replaces or drops the entry */
	st->py_samples++;
	w->tid = tid;
	w->tstate = 0;
	w->n = 0;
	w->end = FORNAX_PY_END_NONE;

	ts = py_find_tstate(w, st, &miss);
	if (!ts) {
		if (miss >= FORNAX_PY_MISS_NR)
			miss = FORNAX_PY_MISS_READ_FAULT;
		st->py_miss[miss]++;
		return 0;
	}
	/* w->buf still holds the thread state. */
	if (w->proc.off.tstate_cframe != FORNAX_PY_NONE) {
		if (!py_buf_u64(w, w->proc.off.tstate_cframe, w->proc.off.tstate_read, &cframe) ||
		    !py_read_u64(cframe, w->proc.off.tstate_current_frame, &w->frame))
			w->frame = 0;
	} else if (!py_buf_u64(w, w->proc.off.tstate_current_frame, w->proc.off.tstate_read,
			       &w->frame)) {
		w->frame = 0;
	}
	if (!w->frame) {
		st->py_miss[FORNAX_PY_MISS_IDLE]++;
		return 0;
	}

	c.w = w;
	bpf_loop(FORNAX_MAX_STACK_DEPTH + 1, py_frame_step, &c, 0);
	end = w->end;
	if (end == FORNAX_PY_END_NONE || end >= FORNAX_PY_END_NR)
		end = FORNAX_PY_END_DEPTH;
	st->py_end[end]++;
	st->py_frames += w->n;
	stack->flags = FORNAX_STACK_PYTHON | (end << FORNAX_STACK_END_SHIFT);
	return (long)w->n * sizeof(__u64);
}

#endif /* FORNAX_PYTHON_BPF_H */
