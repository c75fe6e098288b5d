/* SPDX-License-Identifier: GPL-2.0 */
/*
 * User stacks by CFI (.eh_frame) inside the BPF program, for code built
 * without frame pointers. Included by profile.bpf.c, which calls
 * fornax_unwind_user() where it used to call bpf_get_stack(BPF_F_USER_STACK).
 *
 * The agent (agent/unwinder.c) turns each executable file's CFI into sorted
 * rows (bpf/unwind.h) and describes each process's executable mappings; this
 * file walks: look the pc up in the process's mappings, binary-search the
 * file's rows, compute the CFA, read the return address (and the saved rbp)
 * with bpf_probe_read_user, repeat. One bpf_loop() iteration per frame keeps
 * the verifier's work to one frame however deep the stack.
 *
 * Anything the tables cannot answer ends the walk with a counted reason or,
 * in auto mode, takes one frame-pointer step: code without CFI (JIT) usually
 * keeps frame pointers. A process the agent has not read yet is walked by
 * bpf_get_stack() until its entry appears; a request tells the agent.
 */
#ifndef FORNAX_UNWIND_BPF_H
#define FORNAX_UNWIND_BPF_H

#include "unwind.h"

#define E2BIG 7
/*
 * Bytes of user stack copied at once. Each bpf_probe_read_user costs about
 * as much for 16 bytes as for a kilobyte; frames of ordinary code take tens
 * of bytes, so one copy usually serves several frames.
 */
#define UNWIND_WINDOW 1024
#define UNWIND_PAGE 4096
/* x86-64 user addresses end below here in either paging mode (2^47 with 4 levels). */
#define UNWIND_USER_END (1ULL << 56)
/*
 * Per-CPU caches of the last rows and mappings found: the same few
 * functions are sampled over and over, and each search touches memory the
 * last sample may not have.
 */
#define UNWIND_ROW_CACHE 128
#define UNWIND_MAP_CACHE 8

/* enum fornax_unwind_mode; frame pointers unless the agent says otherwise. */
const volatile __u32 unwind_mode = FORNAX_UNWIND_FP;
/* Time each user-stack walk (bench/unwind_cost); off, the verifier drops the code. */
const volatile bool unwind_timing = false;

/*
 * Pages are created by the agent (agent/unwinder.c), all of one size so the
 * verifier inlines their lookups. Sizes rather than BTF types: clang emits
 * only a forward declaration for a type that an inner map definition alone
 * points to.
 */
struct fornax_row_page {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FORNAX_UNWIND_ROW_PAGE_SIZE);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct fornax_unwind_row));
};

struct fornax_map_page {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FORNAX_UNWIND_MAP_PAGE_SIZE);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct fornax_unwind_mapping));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct fornax_row_page);
} unwind_row_pages SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct fornax_map_page);
} unwind_map_pages SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct fornax_unwind_proc);
} unwind_procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fornax_unwind_request);
} unwind_requests SEC(".maps");

/* The agent creates it (one page) and sleeps on it; records only say "look". */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} unwind_doorbell SEC(".maps");

__u64 unwind_doorbell_rung_ns;

/* Bumped by the agent before it retires rows or mappings: cached copies are stale then. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} unwind_gen SEC(".maps");

/* Entries carry the unwind_gen they were filled under: any other is stale. */
struct unwind_row_cache_entry {
	__u32 table; /* + 1; 0: empty */
	__u32 lo;    /* the row covers [lo, hi) of the table */
	__u32 hi;
	__u32 gen;
	__u64 row;
};

struct unwind_map_cache_entry {
	__u32 tgid;
	__u32 run; /* first_mapping + 1 of the process entry it came from; 0: empty */
	__u64 start;
	__u64 end;
	__u64 origin;
	__u32 table;
	__u32 n_buckets;
	__u32 flags;
	__u32 gen;
};

/*
 * One walk's registers and progress. Kept in a per-CPU map rather than on
 * the stack: the verifier tracks constants stored on the stack (a stop
 * reason, a flag) and would check the frame step once for every
 * combination of them; map memory it does not track.
 */
struct unwind_walk {
	__u64 pc;
	__u64 sp;
	__u64 bp;
	/* The mapping the last pc fell in: consecutive frames often share one. */
	__u64 map_start;
	__u64 map_end;
	__u64 map_origin;
	__u32 map_table;
	__u32 map_n_buckets;
	__u32 map_flags;
	__u32 first_mapping;
	__u32 n_mappings;
	__u32 n;
	__u32 end;   /* enum fornax_unwind_end, once stopped */
	__u32 flags; /* FORNAX_STACK_MIXED */
	__u32 tgid;
	__u32 exact_pc; /* pc is the interrupted instruction, not a return address */
	__u32 requested;
	/* pc came from a frame-pointer step, taken because of fp_reason */
	__u32 pc_from_fp;
	__u32 fp_reason;
	__u32 bp_lost; /* a frame saved the caller's rbp where its row could not say */
	__u32 no_proc; /* the agent has not described the process: unwind_vmas only */
	__u64 start_ns;
	__u64 exec_id;
	/* A copy of the user stack from win_base: one read serves several frames. */
	__u64 win_base;
	__u64 win_len;
	__u8 window[UNWIND_WINDOW];
	/* Kept from walk to walk; an entry is good while its gen is unwind_gen's. */
	__u32 gen;
	__u32 map_cache_next;
	struct unwind_map_cache_entry map_cache[UNWIND_MAP_CACHE];
	struct unwind_row_cache_entry row_cache[UNWIND_ROW_CACHE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct unwind_walk);
} unwind_walks SEC(".maps");

/* bpf_loop()'s context: where the frames and the counts go. */
struct unwind_ctx {
	struct fornax_stack *stack;
	struct fornax_set_stats *st;
};

#include "unwind_vmas.bpf.h"

static __always_inline void unwind_request(__u32 tgid, __u64 start_ns, __u64 exec_id,
					   __u32 reason, struct fornax_set_stats *st)
{
	struct fornax_unwind_request req = {
		.start_ns = start_ns,
		.exec_id = exec_id,
		.reason = reason,
	};

	/*
	 * -EEXIST: already asked and not yet read, which is enough. The result
	 * is kept in an int: before Linux 6.4 it arrives zero-extended (see
	 * store_stack()).
	 */
	int uerr = bpf_map_update_elem(&unwind_requests, &tgid, &req, BPF_NOEXIST);
	__u64 now;

	if (uerr) {
		if (uerr != -EEXIST)
			st->unwind_requests_lost++;
		return;
	}
	/*
	 * Always written, so an agent about to sleep sees it pending; a full
	 * ring only means the agent has not looked yet, and will.
	 */
	now = bpf_ktime_get_ns();
	if (now - unwind_doorbell_rung_ns < FORNAX_UNWIND_DOORBELL_GAP_NS) {
		bpf_ringbuf_output(&unwind_doorbell, &tgid, sizeof(tgid), BPF_RB_NO_WAKEUP);
		return;
	}
	unwind_doorbell_rung_ns = now;
	bpf_ringbuf_output(&unwind_doorbell, &tgid, sizeof(tgid), BPF_RB_FORCE_WAKEUP);
}

static __always_inline struct fornax_unwind_row *unwind_row_at(__u32 idx)
{
	__u32 page = idx >> FORNAX_UNWIND_ROW_PAGE_SHIFT;
	__u32 slot = idx & (FORNAX_UNWIND_ROW_PAGE_SIZE - 1);
	void *rows = bpf_map_lookup_elem(&unwind_row_pages, &page);

	return rows ? bpf_map_lookup_elem(rows, &slot) : NULL;
}

static __always_inline struct fornax_unwind_mapping *unwind_mapping_at(__u32 idx)
{
	__u32 page = idx >> FORNAX_UNWIND_MAP_PAGE_SHIFT;
	__u32 slot = idx & (FORNAX_UNWIND_MAP_PAGE_SIZE - 1);
	void *maps = bpf_map_lookup_elem(&unwind_map_pages, &page);

	return maps ? bpf_map_lookup_elem(maps, &slot) : NULL;
}

/*
 * The two searches are global functions: the verifier checks each once, on
 * its own, instead of once per path through the frame step that calls it.
 */

/* Index of the last of n mappings from first that starts at or below pc; -1 if none. */
__noinline long fornax_unwind_find_mapping(__u32 first, __u32 n, __u64 pc)
{
	struct fornax_unwind_mapping *m;
	__u32 lo = 0, hi = n;

	for (int i = 0; i < 17 && lo < hi; i++) {
		__u32 mid = lo + (hi - lo) / 2;

		m = unwind_mapping_at(first + mid);
		if (!m)
			return -1;
		if (m->start <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? (long)(first + lo - 1) : -1;
}

/* Bucket k's start in the index of the table at slot table (see bpf/unwind.h). */
static __always_inline long unwind_bucket_start(__u32 table, __u32 k)
{
	struct fornax_unwind_index_slot *slot = (void *)unwind_row_at(table + k / 2);

	return slot ? (long)slot->start[k & 1] : -1;
}

/*
 * The slot of the row of the table at slot table that covers rel (the last
 * one starting at or below it); -1 if none. The bucket index narrows the
 * search to a few rows.
 */
__noinline long fornax_unwind_find_row(__u32 table, __u32 n_buckets, __u32 shift, __u32 rel)
{
	struct fornax_unwind_row *r;
	__u32 k = rel >> (shift & 31), rows, lo, hi;
	long first, last;

	if (k >= n_buckets)
		return -1;
	first = unwind_bucket_start(table, k);
	last = unwind_bucket_start(table, k + 1);
	if (first < 0 || last < first)
		return -1;
	rows = table + fornax_unwind_index_slots(n_buckets);
	/* The answer is in [first, last]: find the last row there at or below rel. */
	lo = first + 1;
	hi = last + 1;
	for (int i = 0; i < 29 && lo < hi; i++) {
		__u32 mid = lo + (hi - lo) / 2;

		r = unwind_row_at(rows + mid);
		if (!r)
			return -1;
		if (r->pc <= rel)
			lo = mid + 1;
		else
			hi = mid;
	}
	return rows + lo - 1;
}

static __always_inline bool unwind_find_mapping(struct unwind_walk *w, __u64 pc,
						struct fornax_set_stats *st)
{
	struct unwind_map_cache_entry *e;
	struct fornax_unwind_mapping *m;
	long idx;

	if (w->no_proc)
		return fornax_unwind_find_vma(w, pc, st);
	for (int i = 0; i < UNWIND_MAP_CACHE; i++) {
		e = &w->map_cache[i];
		if (e->tgid != w->tgid || e->run != w->first_mapping + 1 || e->gen != w->gen ||
		    pc < e->start || pc >= e->end)
			continue;
		w->map_start = e->start;
		w->map_end = e->end;
		w->map_origin = e->origin;
		w->map_table = e->table;
		w->map_n_buckets = e->n_buckets;
		w->map_flags = e->flags;
		return true;
	}
	idx = fornax_unwind_find_mapping(w->first_mapping, w->n_mappings, pc);
	m = idx >= 0 ? unwind_mapping_at(idx) : NULL;
	if (!m || pc - m->start >= m->len) {
		/* New code since the agent read the maps (dlopen)? Ask once per walk. */
		if (!w->requested) {
			unwind_request(w->tgid, w->start_ns, w->exec_id, FORNAX_REQ_UNKNOWN_PC, st);
			w->requested = 1;
		}
		return fornax_unwind_find_vma(w, pc, st);
	}
	w->map_start = m->start;
	w->map_end = m->start + m->len;
	w->map_origin = m->origin;
	w->map_table = m->table;
	w->map_n_buckets = m->n_buckets;
	w->map_flags = m->flags;
	e = &w->map_cache[w->map_cache_next++ & (UNWIND_MAP_CACHE - 1)];
	*e = (struct unwind_map_cache_entry){
		.tgid = w->tgid,
		.run = w->first_mapping + 1,
		.start = w->map_start,
		.end = w->map_end,
		.origin = w->map_origin,
		.table = w->map_table,
		.n_buckets = w->map_n_buckets,
		.flags = w->map_flags,
		.gen = w->gen,
	};
	return true;
}

static __always_inline bool unwind_find_row(struct unwind_walk *w, __u64 rel,
					    struct fornax_unwind_row *out)
{
	struct unwind_row_cache_entry *e;
	struct fornax_unwind_row *r, *next;
	long slot;

	if (rel > 0xffffffffULL)
		return false;
	e = &w->row_cache[(w->map_table ^ (rel >> 6) ^ (rel >> 13)) & (UNWIND_ROW_CACHE - 1)];
	if (e->table == w->map_table + 1 && e->gen == w->gen && rel >= e->lo && rel < e->hi) {
		__builtin_memcpy(out, &e->row, sizeof(*out));
		return true;
	}
	slot = fornax_unwind_find_row(w->map_table, w->map_n_buckets,
				      FORNAX_MAPPING_SHIFT(w->map_flags), rel);
	r = slot >= 0 ? unwind_row_at(slot) : NULL;
	if (!r || r->type == FORNAX_ROW_NONE)
		return false;
	*out = *r;
	/* Every table ends with a NONE row, so a covering row has a successor. */
	next = unwind_row_at(slot + 1);
	if (next && next->pc > r->pc) {
		e->table = w->map_table + 1;
		e->gen = w->gen;
		e->lo = r->pc;
		e->hi = next->pc;
		__builtin_memcpy(&e->row, r, sizeof(e->row));
	}
	return true;
}

/*
 * Reads size (8 or 16) bytes of the user stack at addr. Frames are read
 * upwards (callers live above), so a miss copies from addr on, up to the
 * window's size and never past addr's page: the page above may not exist.
 * The copy is only served from where the verifier can see size bytes fit:
 * past that, the window is refilled rather than the read refused (which
 * once ended walks through frames of about a kilobyte as read faults).
 */
static __always_inline int unwind_read(struct unwind_walk *w, __u64 addr, void *dst, __u32 size)
{
	__u64 off = addr - w->win_base, len;

	if (addr < w->win_base || off + size > w->win_len || off > UNWIND_WINDOW - size) {
		len = UNWIND_PAGE - (addr & (UNWIND_PAGE - 1));
		if (len > UNWIND_WINDOW)
			len = UNWIND_WINDOW;
		if (len < size)
			len = size; /* straddles a page: both must be there anyway */
		if (bpf_probe_read_user(w->window, len & (2 * UNWIND_WINDOW - 1), (void *)addr)) {
			w->win_len = 0;
			return -1;
		}
		w->win_base = addr;
		w->win_len = len;
		off = 0;
	}
	if (off > UNWIND_WINDOW - size)
		return -1; /* cannot happen; tells the verifier */
	if (size == 16)
		__builtin_memcpy(dst, &w->window[off], 16);
	else
		__builtin_memcpy(dst, &w->window[off], 8);
	return 0;
}

/*
 * Could a return address found by frame pointers be user code? Not below
 * the first page nor above the largest user address space (5-level paging):
 * such a value is a frame-pointer register used for data, and recording it
 * would invent a frame.
 */
static __always_inline bool user_text_address(__u64 ip)
{
	return ip >= 4096 && ip < (1ULL << 56);
}

static __always_inline long unwind_stop(struct unwind_walk *w, __u32 end)
{
	w->end = end;
	return 1;
}

/*
 * Where the tables cannot help, frame pointers may: rbp points at the saved
 * rbp with the return address above it. Only in auto mode, and only while
 * rbp looks like a frame at or above the current one; otherwise the walk
 * ends for the reason the tables gave.
 */
static __always_inline long unwind_fp_step(struct unwind_walk *w, struct fornax_set_stats *st,
					  __u32 reason)
{
	__u64 frame[2];

	if (unwind_mode != FORNAX_UNWIND_AUTO || w->bp_lost)
		return unwind_stop(w, reason);
	/* rbp may sit right at rsp: the frame record of a caller with no locals. */
	if (w->bp < w->sp || (w->bp & 7))
		return unwind_stop(w, reason);
	if (unwind_read(w, w->bp, frame, 16))
		return unwind_stop(w, reason);
	if (!user_text_address(frame[1])) {
		if (frame[1])
			st->unwind_fp_bad_return++;
		return unwind_stop(w, reason);
	}
	w->sp = w->bp + 16;
	w->bp = frame[0];
	w->pc = frame[1];
	w->exact_pc = 0;
	w->pc_from_fp = 1;
	w->fp_reason = reason;
	w->flags |= FORNAX_STACK_MIXED;
	st->unwind_fp_steps++;
	return 0;
}

/* __restore_rt: the kernel's rt_sigframe holds the interrupted registers. */
static __always_inline long unwind_signal_step(struct unwind_walk *w, struct fornax_set_stats *st,
					       const struct fornax_unwind_row *row)
{
	__u64 regs[2], bp;

	/* rbp first: it is saved below rsp and rip */
	if (unwind_read(w, w->sp + 8 * (__s64)row->fp_off, &bp, 8) ||
	    unwind_read(w, w->sp + row->cfa_off, regs, 16))
		return unwind_stop(w, FORNAX_END_READ_FAULT);
	w->sp = regs[0];
	w->pc = regs[1];
	w->bp = bp;
	w->bp_lost = 0;
	w->exact_pc = 1;
	st->unwind_signal_frames++;
	return w->pc ? 0 : unwind_stop(w, FORNAX_END_COMPLETE);
}

static long unwind_step(__u32 index, void *ctx)
{
	struct unwind_ctx *c = ctx;
	struct fornax_stack *stack = c->stack;
	struct fornax_set_stats *st = c->st;
	struct fornax_unwind_row row;
	__u64 lookup, cfa, ra, frame[2];
	struct unwind_walk *w;
	__u32 zero = 0;
	bool known;

	w = bpf_map_lookup_elem(&unwind_walks, &zero);
	if (!w)
		return 1;

	/* A return address may be just past the end of its function: look up the call. */
	lookup = w->exact_pc ? w->pc : w->pc - 1;
	known = (lookup >= w->map_start && lookup < w->map_end) ||
		unwind_find_mapping(w, lookup, st);
	/*
	 * A frame-pointer guess that lands in no mapping is not a frame (rbp
	 * held data, as it does in code built without frame pointers): the
	 * walk ends for the reason that made it guess, without it.
	 */
	if (!known && w->pc_from_fp)
		return unwind_stop(w, w->fp_reason);
	/*
	 * One frame per iteration, so bpf_loop's index is the frame number (a
	 * count kept in w would be a known constant in each iteration, and the
	 * verifier would walk all of them). Checked right at the store, so the
	 * verifier sees the bound on the register used.
	 */
	if (index >= FORNAX_MAX_STACK_DEPTH)
		return unwind_stop(w, FORNAX_END_DEPTH);
	stack->ips[index] = w->pc;
	w->n = index + 1;
	w->pc_from_fp = 0;
	if (!known) {
		/* the agent has been asked (unwind_find_mapping) */
		w->map_start = w->map_end = 0;
		return unwind_fp_step(w, st, FORNAX_END_PC_NOT_COVERED);
	}
	if (w->map_flags & FORNAX_MAPPING_ANON)
		return unwind_fp_step(w, st, FORNAX_END_PC_NOT_COVERED);
	if (!w->map_n_buckets)
		return unwind_fp_step(w, st, FORNAX_END_TABLE_MISSING);
	if (lookup < w->map_origin || !unwind_find_row(w, lookup - w->map_origin, &row))
		return unwind_fp_step(w, st, FORNAX_END_PC_NOT_COVERED);

	switch (row.type) {
	case FORNAX_ROW_CFA_SP:
		cfa = w->sp + row.cfa_off;
		break;
	case FORNAX_ROW_CFA_FP:
		if (w->bp_lost)
			return unwind_stop(w, FORNAX_END_FP_LOST);
		cfa = w->bp + row.cfa_off;
		break;
	case FORNAX_ROW_PLT:
		cfa = w->sp + 8 + ((w->pc & 15) >= row.cfa_off ? 8 : 0);
		break;
	case FORNAX_ROW_SIGNAL:
		return unwind_signal_step(w, st, &row);
	case FORNAX_ROW_OUTERMOST:
		return unwind_stop(w, FORNAX_END_COMPLETE);
	case FORNAX_ROW_NONE:
		return unwind_fp_step(w, st, FORNAX_END_PC_NOT_COVERED);
	default:
		return unwind_stop(w, FORNAX_END_UNSUPPORTED);
	}
	if (cfa <= w->sp)
		return unwind_stop(w, FORNAX_END_BAD_FRAME);

	/* In rising addresses, as the window copies upwards: saved rbp, then the return address. */
	if (row.fp_off == -2) {
		/* push %rbp right after the call: one read for both */
		if (unwind_read(w, cfa - 16, frame, 16))
			return unwind_stop(w, FORNAX_END_READ_FAULT);
		w->bp = frame[0];
		ra = frame[1];
		w->bp_lost = 0;
	} else {
		if (row.fp_off < 0) {
			if (unwind_read(w, cfa + 8 * (__s64)row.fp_off, &w->bp, 8))
				return unwind_stop(w, FORNAX_END_READ_FAULT);
			w->bp_lost = 0;
		} else if (row.fp_off == FORNAX_UNWIND_FP_LOST) {
			w->bp_lost = 1;
		}
		if (unwind_read(w, cfa - 8, &ra, 8))
			return unwind_stop(w, FORNAX_END_READ_FAULT);
	}
	/* A zero return address is how thread entry code without CFI ends the chain. */
	if (!ra)
		return unwind_stop(w, FORNAX_END_COMPLETE);
	/*
	 * No user code lives in the first page or in the upper half: such a
	 * value is not a return address but the sign of a frame read from the
	 * wrong place, and is not recorded as a frame.
	 */
	if (ra < UNWIND_PAGE || ra >= UNWIND_USER_END)
		return unwind_stop(w, FORNAX_END_BAD_PC);
	w->sp = cfa;
	w->pc = ra;
	w->exact_pc = 0;
	return 0;
}

/* The old way: the kernel's frame-pointer walk. */
static __always_inline long unwind_by_fp(struct bpf_perf_event_data *ctx,
					 struct fornax_stack *stack,
					 struct fornax_set_stats *st)
{
	long ret;

	stack->flags = FORNAX_STACK_FP;
	st->unwind_fp++;
	ret = bpf_get_stack(ctx, stack->ips, sizeof(stack->ips), BPF_F_USER_STACK);
	if (ret <= 0)
		return ret;
	/* the leaf is the interrupted pc; every caller must look like code */
	for (__u32 i = 1; i < FORNAX_MAX_STACK_DEPTH && i < (__u64)ret / sizeof(__u64); i++) {
		if (!user_text_address(stack->ips[i])) {
			st->unwind_fp_bad_return++;
			return (long)i * sizeof(__u64);
		}
	}
	return ret;
}

static __always_inline long unwind_user(struct bpf_perf_event_data *ctx,
					struct fornax_stack *stack,
					struct fornax_set_stats *st)
{
#if defined(__TARGET_ARCH_x86)
	struct task_struct *task, *leader;
	struct fornax_unwind_proc *proc;
	struct unwind_ctx c = { .stack = stack, .st = st };
	struct unwind_walk *w;
	__u32 zero = 0, end;
	__u64 *gen;

	if (unwind_mode == FORNAX_UNWIND_FP)
		return unwind_by_fp(ctx, stack, st);

	w = bpf_map_lookup_elem(&unwind_walks, &zero);
	if (!w)
		return unwind_by_fp(ctx, stack, st);
	/* Everything but the window, which win_len 0 marks empty, and the caches. */
	__builtin_memset(w, 0, offsetof(struct unwind_walk, window));
	gen = bpf_map_lookup_elem(&unwind_gen, &zero);
	if (!gen)
		return unwind_by_fp(ctx, stack, st);
	/* Read before the process entry: see agent/unwinder.c, retire(). */
	w->gen = *gen;
	task = (struct task_struct *)bpf_get_current_task_btf();
	if (!BPF_CORE_READ(task, mm))
		return 0; /* kernel thread: no user stack */
	leader = BPF_CORE_READ(task, group_leader);
	w->tgid = bpf_get_current_pid_tgid() >> 32;
	w->start_ns = BPF_CORE_READ(leader, start_boottime);
	w->exec_id = BPF_CORE_READ(leader, self_exec_id);

	/*
	 * The sampled registers are the user's when the sample hit user code:
	 * on x86-64 only user code runs in the lower half of the address space.
	 */
	if ((__s64)ctx->regs.ip >= 0) {
		w->pc = ctx->regs.ip;
		w->sp = ctx->regs.sp;
		w->bp = ctx->regs.bp;
	} else {
		/* In the kernel: the user registers saved at kernel entry. */
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);

		w->pc = BPF_CORE_READ(regs, ip);
		w->sp = BPF_CORE_READ(regs, sp);
		w->bp = BPF_CORE_READ(regs, bp);
	}

	proc = bpf_map_lookup_elem(&unwind_procs, &w->tgid);
	if (proc) {
		/* Copied at once: the agent may replace the entry. */
		w->first_mapping = proc->first_mapping;
		w->n_mappings = proc->n_mappings;
		if (proc->start_ns != w->start_ns || proc->exec_id != w->exec_id)
			proc = NULL;
	}
	if (!proc) {
		/* Not described yet: walk it by the mappings the kernel registered, if any. */
		w->first_mapping = 0;
		w->n_mappings = 0;
		w->no_proc = 1;
		w->requested = 1; /* below, once the walk says whether the agent is needed */
	}
	if (w->no_proc && fornax_unwind_find_vma(w, w->pc, st)) {
		st->unwind_vma_walks++;
	} else if (!proc || !w->n_mappings) {
		if (!proc)
			unwind_request(w->tgid, w->start_ns, w->exec_id, FORNAX_REQ_NEW_PROCESS, st);
		if (unwind_mode == FORNAX_UNWIND_AUTO)
			return unwind_by_fp(ctx, stack, st);
		/* DWARF only: the leaf, marked as cut short. */
		stack->ips[0] = w->pc;
		stack->flags = FORNAX_STACK_DWARF |
			       (FORNAX_END_TABLE_MISSING << FORNAX_STACK_END_SHIFT);
		st->unwind_end[FORNAX_END_TABLE_MISSING]++;
		return sizeof(__u64);
	}

	w->exact_pc = 1;
	bpf_loop(FORNAX_MAX_STACK_DEPTH + 1, unwind_step, &c, 0);

	end = w->end;
	if (end == FORNAX_END_NONE || end >= FORNAX_END_NR)
		end = FORNAX_END_DEPTH;
	st->unwind_end[end]++;
	/*
	 * A young process the kernel's record walked whole needs nothing from
	 * the agent: under churn most never ask, and the agent is not woken.
	 */
	if (w->no_proc) {
		if ((end == FORNAX_END_COMPLETE || end == FORNAX_END_DEPTH) &&
		    bpf_ktime_get_boot_ns() - w->start_ns < FORNAX_UNWIND_QUIET_NS)
			st->unwind_requests_spared++;
		else
			unwind_request(w->tgid, w->start_ns, w->exec_id, FORNAX_REQ_NEW_PROCESS, st);
	}
	stack->flags = FORNAX_STACK_DWARF | w->flags | (end << FORNAX_STACK_END_SHIFT);
	return (long)w->n * sizeof(__u64);
#else
	return unwind_by_fp(ctx, stack, st);
#endif
}

/*
 * Fills stack with the user stack, leaf first; returns its size in bytes
 * (0: no user stack) or -errno, like bpf_get_stack().
 */
static __always_inline long fornax_unwind_user(struct bpf_perf_event_data *ctx,
					       struct fornax_stack *stack,
					       struct fornax_set_stats *st)
{
	__u64 t0, t1;
	long ret;

	if (!unwind_timing)
		return unwind_user(ctx, stack, st);
	/* t1 - t0 is what one clock read costs; t2 - t1 is the walk and one read. */
	t0 = bpf_ktime_get_ns();
	t1 = bpf_ktime_get_ns();
	ret = unwind_user(ctx, stack, st);
	st->user_walk_ns += bpf_ktime_get_ns() - t1;
	st->user_walk_timer_ns += t1 - t0;
	st->user_walks++;
	if (ret > 0)
		st->user_walk_frames += ret / sizeof(__u64);
	return ret;
}

#endif /* FORNAX_UNWIND_BPF_H */
