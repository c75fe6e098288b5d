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
 * it and the entry mark.
 *
 * The agent names those frames from the code objects, and a process may be
 * gone by the drain. So the first time a code object is met, the walker
 * copies what names it (the code object's header, qualified name, file
 * name and location table) into the py_codes ring buffer while the process
 * lives. Looking each frame up on every sample would cost more than the
 * walk, so the check is made only for a Python stack new in the set, and
 * only if its chain of code objects (a hash of their addresses) was not
 * checked in this py_gen; the agent moves py_gen on every drain. Each check
 * re-reads the code objects' identifying fields: one freed and reused for
 * another is sent again.
 */
#ifndef FORNAX_PYTHON_BPF_H
#define FORNAX_PYTHON_BPF_H

#include "python.h"

/* --python: off leaves the walker out (the verifier drops it). */
const volatile bool python_walk = false;

/* Threads of the main interpreter searched for a thread not holding the GIL. */
#define PY_MAX_THREADS 256
/* Interpreters passed to reach the main one, the last of the runtime's list. */
#define PY_MAX_INTERPRETERS 64

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
	__u64 interp; /* the main interpreter, once found */
	__u64 tstate;
	__u64 frame;
	__u32 tid;
	__u32 n;
	__u32 end;
	__u32 fresh; /* the stack walked is new in its set: fornax_python_note_codes() */
	__u64 chain; /* hash of the stack's code objects */
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
	struct fornax_set_stats *st;
	__u32 tgid;
	__u32 lost;
};

/* Sized and shared by the agent (agent/lifecycle/python_tracker.c). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);
	__type(key, struct fornax_py_seen_key);
	__type(value, struct fornax_py_seen);
} py_seen_codes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);
	__type(key, struct fornax_py_seen_key);
	__type(value, struct fornax_py_seen);
} py_seen_chains SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} py_gen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} py_codes SEC(".maps");

/* A record is too big for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fornax_py_code_record);
} py_records SEC(".maps");

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

static long py_interp_step(__u32 index, void *ctx)
{
	struct py_walk *w = ((struct py_ctx *)ctx)->w;
	__u64 next = 0;

	if (!py_read_u64(w->interp, w->proc.off.interp_next, &next) || !next)
		return 1;
	w->interp = next;
	return 0;
}

/*
 * The sampled thread's PyThreadState, or 0 with *miss set. Only the main
 * interpreter's threads are walked. The runtime lists interpreters newest
 * first, so with sub-interpreters the head is not the main one; and a
 * sub-interpreter's frames, walked alone, would stand where the frames of
 * the main interpreter's code that entered it belong (3.11 even runs a
 * sub-interpreter on the thread state of the thread that created it). A
 * thread found running in one is counted instead.
 */
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
	w->interp = interp;
	if (off->interp_next != FORNAX_PY_NONE)
		bpf_loop(PY_MAX_INTERPRETERS, py_interp_step, &c, 0);
	interp = w->interp;
	if (off->runtime_gil_holder != FORNAX_PY_NONE)
		py_read_u64(w->proc.runtime, off->runtime_gil_holder, &holder);
	else if (py_read_u64(interp, off->interp_gil, &gil))
		py_read_u64(gil, off->gil_last_holder, &holder);
	if (holder && py_tstate_is_ours(w, holder, &next)) {
		__u64 owner = 0;

		/* w->buf holds the holder's thread state */
		if (off->tstate_interp != FORNAX_PY_NONE &&
		    py_buf_u64(w, off->tstate_interp, off->tstate_read, &owner) && owner != interp) {
			*miss = FORNAX_PY_MISS_SUBINTERPRETER;
			return 0;
		}
		return holder;
	}

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
	w->fresh = 0;
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

static __always_inline __u64 py_mix(__u64 h, __u64 x)
{
	x ^= h;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The u64 at off in the code object copied into r (len bytes); 0 if off is outside. */
static __always_inline __u64 py_code_u64(const struct fornax_py_code_record *r, __u32 off,
					 __u32 len)
{
	__u64 v = 0;

	if (off <= FORNAX_PY_CODE_COPY - 8 && off + 8 <= len)
		__builtin_memcpy(&v, &r->code_bytes[off], 8);
	return v;
}

/* Copies the compact str at addr, header and characters, into buf; its bytes, or 0. */
static __always_inline __u32 py_copy_str(const struct fornax_py_code_offsets *o, __u64 addr,
					 __u8 *buf)
{
	__u64 length = 0, size;
	__u32 state = 0, kind;

	if (!addr || bpf_probe_read_user(&length, 8, (void *)(addr + o->str_length)) ||
	    bpf_probe_read_user(&state, 4, (void *)(addr + o->str_state)))
		return 0;
	kind = (state >> 2) & 7;
	/* legacy (not compact) strings are left to the agent */
	if (!((state >> 5) & 1) || (kind != 1 && kind != 2 && kind != 4) ||
	    length > FORNAX_PY_STR_COPY)
		return 0;
	size = ((state >> 6) & 1) ? o->str_ascii_size : o->str_compact_size;
	size += length * kind;
	/* the bound checked on the register the read takes (see py_note_step) */
	asm volatile("" : "+r"(size));
	if (size > FORNAX_PY_STR_COPY || bpf_probe_read_user(buf, size, (void *)addr))
		return 0;
	return (__u32)size;
}

/* Copies the bytes object at addr, header and bytes, into buf; its bytes, or 0. */
static __always_inline __u32 py_copy_bytes(const struct fornax_py_code_offsets *o, __u64 addr,
					   __u8 *buf)
{
	__u64 n = 0, size;

	if (!addr || bpf_probe_read_user(&n, 8, (void *)(addr + o->ob_size)) ||
	    n > FORNAX_PY_LINETABLE_COPY)
		return 0;
	size = o->bytes_sval + n;
	asm volatile("" : "+r"(size));
	if (size > FORNAX_PY_LINETABLE_COPY || bpf_probe_read_user(buf, size, (void *)addr))
		return 0;
	return (__u32)size;
}

/* Sends the code object r->code (its header already in r) with its strings and location table. */
static __always_inline int py_send_code(struct py_ctx *c, struct fornax_py_code_record *r,
					__u32 len)
{
	const struct fornax_py_code_offsets *o = &c->w->proc.code;
	__u64 avail, size, lt, flags = BPF_RB_NO_WAKEUP;

	r->tgid = c->tgid;
	r->code_len = len;
	r->start_ns = c->w->proc.start_ns;
	r->qualname = py_code_u64(r, o->code_qualname, len);
	r->filename = py_code_u64(r, o->code_filename, len);
	r->linetable = py_code_u64(r, o->code_linetable, len);
	r->qualname_len = py_copy_str(o, r->qualname, r->qualname_bytes);
	r->filename_len = py_copy_str(o, r->filename, r->filename_bytes);
	lt = py_copy_bytes(o, r->linetable, r->linetable_bytes);
	r->linetable_len = lt;
	r->pad = 0;
	/* The agent reads at its drain; woken only when the buffer is half full. */
	avail = bpf_ringbuf_query(&py_codes, BPF_RB_AVAIL_DATA);
	if (avail > bpf_ringbuf_query(&py_codes, BPF_RB_RING_SIZE) / 2)
		flags = BPF_RB_FORCE_WAKEUP;
	size = FORNAX_PY_CODE_RECORD_HDR + FORNAX_PY_CODE_COPY + 2 * FORNAX_PY_STR_COPY + lt;
	asm volatile("" : "+r"(size));
	if (size > sizeof(*r))
		return -1;
	return bpf_ringbuf_output(&py_codes, r, size, flags);
}

/* One frame of a new chain: sends its code object unless sent, unchanged, before. */
static long py_note_step(__u32 i, void *ctx)
{
	struct py_ctx *c = ctx;
	const struct fornax_py_code_offsets *o = &c->w->proc.code;
	struct fornax_py_seen_key key = { .tgid = c->tgid };
	struct fornax_py_seen val, *seen;
	struct fornax_py_code_record *r;
	__u64 fp, k = i, len = o->code_read;
	__u32 zero = 0;

	/* the bound checked on the register the index is read with */
	asm volatile("" : "+r"(k));
	if (k >= FORNAX_MAX_STACK_DEPTH || k >= c->stack->len)
		return 1;
	key.addr = fornax_py_frame_code(c->stack->ips[k]);
	if (!key.addr)
		return 0;
	r = bpf_map_lookup_elem(&py_records, &zero);
	asm volatile("" : "+r"(len));
	if (!r || len < 8 || len > FORNAX_PY_CODE_COPY)
		return 1;
	r->code = key.addr;
	if (bpf_probe_read_user(r->code_bytes, len, (void *)key.addr)) {
		c->st->py_code_faults++;
		return 0;
	}
	/* the fields py_code.c's fingerprint compares: another object has other values */
	fp = py_mix(py_code_u64(r, o->ob_size, len), py_code_u64(r, o->code_qualname, len));
	fp = py_mix(fp, py_code_u64(r, o->code_filename, len));
	fp = py_mix(fp, py_code_u64(r, o->code_linetable, len));
	fp = py_mix(fp, py_code_u64(r, o->code_firstlineno, len) & 0xffffffffULL);
	seen = bpf_map_lookup_elem(&py_seen_codes, &key);
	if (seen && seen->start_ns == c->w->proc.start_ns && seen->stamp == fp)
		return 0;
	if (py_send_code(c, r, len)) {
		c->st->py_codes_lost++;
		c->lost = 1;
		return 0;
	}
	c->st->py_codes_sent++;
	val.start_ns = c->w->proc.start_ns;
	val.stamp = fp;
	bpf_map_update_elem(&py_seen_codes, &key, &val, BPF_ANY);
	return 0;
}

static long py_chain_step(__u32 i, void *ctx)
{
	struct py_ctx *c = ctx;
	__u64 k = i;

	asm volatile("" : "+r"(k));
	if (k >= FORNAX_MAX_STACK_DEPTH || k >= c->stack->len)
		return 1;
	c->w->chain = py_mix(c->w->chain, c->stack->ips[k] & FORNAX_PY_CODE_MASK);
	return 0;
}

/* The walk of this CPU's last sample, if its Python stack was new in its set. */
static __always_inline void fornax_python_mark_fresh(void)
{
	__u32 zero = 0;
	struct py_walk *w = bpf_map_lookup_elem(&py_walks, &zero);

	if (w)
		w->fresh = 1;
}

/*
 * If the Python stack of this CPU's sample (scratch[1]) was new in its set:
 * sends the agent its code objects not sent before, unless its chain was
 * checked in this py_gen. Called once per sample, outside the per-set
 * branches, so the verifier sees this code once.
 */
static __always_inline void fornax_python_note_codes(struct fornax_set_stats *st, __u32 tgid)
{
	struct fornax_py_seen_key key = { .tgid = tgid };
	struct py_ctx c = { .st = st, .tgid = tgid };
	struct fornax_py_seen val, *seen;
	__u32 zero = 0, one = 1;
	__u64 gen = 0, *g;

	if (!python_walk)
		return;
	c.w = bpf_map_lookup_elem(&py_walks, &zero);
	c.stack = bpf_map_lookup_elem(&scratch, &one);
	if (!c.w || !c.stack || !c.w->fresh)
		return;
	c.w->fresh = 0;
	g = bpf_map_lookup_elem(&py_gen, &zero);
	if (g)
		gen = *g;
	c.w->chain = 0;
	bpf_loop(FORNAX_MAX_STACK_DEPTH, py_chain_step, &c, 0);
	key.addr = c.w->chain;
	seen = bpf_map_lookup_elem(&py_seen_chains, &key);
	if (seen && seen->start_ns == c.w->proc.start_ns && seen->stamp == gen)
		return;
	st->py_chains_checked++;
	bpf_loop(FORNAX_MAX_STACK_DEPTH, py_note_step, &c, 0);
	if (c.lost)
		return; /* checked again at its next new stack */
	val.start_ns = c.w->proc.start_ns;
	val.stamp = gen;
	bpf_map_update_elem(&py_seen_chains, &key, &val, BPF_ANY);
}

#endif /* FORNAX_PYTHON_BPF_H */
