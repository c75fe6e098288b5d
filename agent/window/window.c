// SPDX-License-Identifier: Apache-2.0
#include "window.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"
#include "log.h"
#include "pod_labels.h"
#include "py_merge.h"
#include "python_tracker.h"
#include "relabel.h"
#include "timeconst.h"

/* Labels a sample takes from its pod (and relabel_configs), at most. */
#define MAX_POD_LABELS 16

enum addr_kind {
	ADDR_USER_LEAF,
	ADDR_USER_RETURN,
	ADDR_KERNEL_LEAF,
	ADDR_KERNEL_RETURN,
	ADDR_PYTHON, /* address: a packed Python frame (bpf/python.h) */
};

/* Kernel addresses are keyed with pid and start 0: the kernel is one address space. */
struct addr_key {
	__u32 pid;
	__u32 kind;
	__u64 process_start_ns;
	__u64 address;
};

struct addr_entry {
	struct addr_key key;
	__u64 location_id;
	bool mapped; /* in an executable mapping of its process (or the kernel's) */
};

/* A process seen in this window, for the count shown while a capture runs. */
struct process_key {
	__u32 pid;
	__u64 start_ns;
};

/* Frames that stand for something other than code: a missing or cut stack. */
enum pseudo_frame {
	PSEUDO_TRUNCATED,
	PSEUDO_STACK_DROPPED,
	PSEUDO_STACK_FAILED,
	PSEUDO_STACK_MISSING,
	PSEUDO_NO_STACK,
	PSEUDO_PY_UNREADABLE,
	PSEUDO_PY_TRUNCATED,
	NR_PSEUDO_FRAMES,
};

static const char *const pseudo_names[NR_PSEUDO_FRAMES] = {
	[PSEUDO_TRUNCATED] = "[truncated]",
	[PSEUDO_STACK_DROPPED] = "[stack dropped: stacks map full]",
	[PSEUDO_STACK_FAILED] = "[stack dropped: error]",
	[PSEUDO_STACK_MISSING] = "[stack missing]",
	[PSEUDO_NO_STACK] = "[no stack]",
	[PSEUDO_PY_UNREADABLE] = "[python: unreadable]",
	[PSEUDO_PY_TRUNCATED] = "[python: truncated]",
};

struct window {
	struct symbolizer *symbolizer;
	struct cgroups *cgroups;
	struct python_tracker *python;
	struct k8s_pods *k8s;
	struct relabel_rules *const *relabel;
	void (*take_exits)(void *ctx);
	void *take_exits_ctx;
	struct label_set *pod_scratch; /* a sample's pod labels, NULL without k8s */
	__u64 python_mapping;
	struct pprof *pprof;
	struct hmap addresses; /* addr_key → addr_entry */
	__u64 pseudo_locations[NR_PSEUDO_FRAMES];
	/* Per-sample scratch, grown to the deepest stack seen. */
	__u64 *location_ids;
	size_t location_ids_cap;
	struct symbolizer_location *symbolized;
	/* Python merging scratch: the native user ids, the merged order. */
	__u64 *native_ids;
	struct py_merge_item *merged;
	struct hmap processes; /* process_key → itself */
	struct window_stats stats;
};

struct window *window__new(const struct window_opts *opts)
{
	struct window *w;

	if (!opts || !opts->symbolizer || !opts->frequency) {
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		goto fail;
	w->symbolizer = opts->symbolizer;
	w->cgroups = opts->cgroups;
	w->python = opts->python;
	w->k8s = opts->k8s;
	w->relabel = opts->relabel;
	w->take_exits = opts->take_exits;
	w->take_exits_ctx = opts->take_exits_ctx;
	if (w->k8s && !(w->pod_scratch = label_set__new()))
		goto fail;
	w->pprof = pprof__new(&(struct pprof_opts){
		.period_ns = NSEC_PER_SEC / opts->frequency,
		.time_nanos = opts->start_realtime_ns,
	});
	/* kernel, user and Python frames, and a pseudo frame for each of what may be missing */
	w->location_ids_cap = 3 * FORNAX_MAX_STACK_DEPTH + 4;
	w->location_ids = calloc(w->location_ids_cap, sizeof(*w->location_ids));
	w->symbolized = calloc(FORNAX_MAX_STACK_DEPTH, sizeof(*w->symbolized));
	w->native_ids = calloc(FORNAX_MAX_STACK_DEPTH, sizeof(*w->native_ids));
	w->merged = calloc(2 * FORNAX_MAX_STACK_DEPTH + 4, sizeof(*w->merged));
	if (!w->pprof || !w->location_ids || !w->symbolized || !w->native_ids || !w->merged)
		goto fail;
	return w;
fail:
	window__free(w);
	errno = ENOMEM;
	return NULL;
}

static void free_values(struct hmap *m)
{
	size_t pos = 0;
	void *val;

	while ((val = hmap__next(m, &pos)))
		free(val);
	hmap__clear(m);
}

void window__free(struct window *w)
{
	if (!w)
		return;
	free_values(&w->addresses);
	free_values(&w->processes);
	pprof__free(w->pprof);
	free(w->location_ids);
	free(w->symbolized);
	free(w->native_ids);
	free(w->merged);
	label_set__free(w->pod_scratch);
	free(w);
}

static __u64 pseudo_location(struct window *w, enum pseudo_frame which)
{
	struct pprof_line line;
	__u64 fn;

	if (w->pseudo_locations[which])
		return w->pseudo_locations[which];
	fn = pprof__add_function(w->pprof, &(struct pprof_function){ .name = pseudo_names[which] });
	if (!fn)
		return 0;
	line = (struct pprof_line){ .function_id = fn };
	/* No mapping, and an address no code has, one per kind so they do not intern together. */
	w->pseudo_locations[which] = pprof__add_location(w->pprof, 0, which + 1, &line, 1);
	return w->pseudo_locations[which];
}

static __u64 add_mapping(struct window *w, const struct symbolizer_mapping *m)
{
	if (!m)
		return 0;
	return pprof__add_mapping(w->pprof, &(struct pprof_mapping){
		.start = m->start,
		.limit = m->limit,
		.offset = m->offset,
		.filename = m->path,
		.build_id = m->build_id,
		.has_functions = m->has_functions,
		.has_filenames = m->has_line_numbers,
		.has_line_numbers = m->has_line_numbers,
		.has_inline_frames = m->has_inline_frames,
	});
}

/* Returns the pprof location id, 0 with errno set on failure. */
static __u64 add_location(struct window *w, const struct symbolizer_location *loc)
{
	struct pprof_line lines[32];
	__u64 mapping_id = 0;
	size_t n = loc->n_frames;

	if (loc->mapping) {
		mapping_id = add_mapping(w, loc->mapping);
		if (!mapping_id)
			return 0;
	}
	/* Deeper inline chains than this are not real code; keep the innermost ones. */
	if (n > sizeof(lines) / sizeof(lines[0]))
		n = sizeof(lines) / sizeof(lines[0]);
	for (size_t i = 0; i < n; i++) {
		const struct symbolizer_frame *f = &loc->frames[i];

		lines[i].function_id = pprof__add_function(w->pprof, &(struct pprof_function){
			.name = f->function,
			.system_name = f->system_name,
			.filename = f->file,
			.start_line = f->start_line,
		});
		if (!lines[i].function_id)
			return 0;
		lines[i].line = f->line;
	}
	return pprof__add_location(w->pprof, mapping_id, loc->address, lines, n);
}

static __u64 addr_hash(const struct addr_key *k)
{
	return hash_pair(hash_pair((__u64)k->pid << 32 | k->kind, k->process_start_ns), k->address);
}

static bool addr_eq(const void *val, const void *key)
{
	const struct addr_key *a = &((const struct addr_entry *)val)->key, *b = key;

	return a->address == b->address && a->pid == b->pid && a->kind == b->kind &&
	       a->process_start_ns == b->process_start_ns;
}

static struct addr_entry *find_address(struct window *w, const struct addr_key *key)
{
	return hmap__find(&w->addresses, addr_hash(key), addr_eq, key);
}

static int remember_address(struct window *w, const struct addr_key *key, __u64 location_id,
			    bool mapped)
{
	struct addr_entry *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->key = *key;
	e->location_id = location_id;
	e->mapped = mapped;
	if (hmap__insert(&w->addresses, addr_hash(key), e)) {
		free(e);
		return -ENOMEM;
	}
	return 0;
}

/*
 * *mapped_to: frames up to the first caller in no executable mapping of a
 * process whose leaf is in one (n if none): such a caller is not code that
 * ran but what a frame-pointer walk made of data.
 */
static void note_mapped(__u32 i, bool mapped, bool *leaf_mapped, __u32 *mapped_to)
{
	if (i == 0)
		*leaf_mapped = mapped;
	else if (*leaf_mapped && !mapped && *mapped_to > i)
		*mapped_to = i;
}

/*
 * A process that lived a few milliseconds can be gone before the agent
 * read its maps, its exit (the kernel's record of what it mapped) arriving
 * while its samples are being symbolized: taken then, it names them.
 * *exit_pending: an address is still unmapped and the exit not reported
 * (the process may be between dropping its memory and reporting its exit).
 * Only for a process the symbolizer found gone: a live one's unmapped
 * address is data a frame-pointer walk took for a return address.
 */
static int lookup_user(struct window *w, __u32 pid, __u64 start_ns, const __u64 *ips, __u32 n,
		       bool *exit_pending)
{
	int err = symbolizer__lookup_user(w->symbolizer, pid, start_ns, ips, n, w->symbolized);
	bool unmapped = false;

	*exit_pending = false;
	for (__u32 i = 0; i < n && !err; i++)
		unmapped |= !w->symbolized[i].mapping;
	if (!unmapped || !w->take_exits || symbolizer__process_exited(w->symbolizer, pid, start_ns) ||
	    !symbolizer__process_gone(w->symbolizer, pid, start_ns))
		return err;
	w->take_exits(w->take_exits_ctx);
	if (!symbolizer__process_exited(w->symbolizer, pid, start_ns)) {
		*exit_pending = true;
		return 0;
	}
	return symbolizer__lookup_user(w->symbolizer, pid, start_ns, ips, n, w->symbolized);
}

/*
 * Appends the locations of one stack (leaf first) to out. Only a stack with
 * an address not seen in this window goes to the symbolizer, and then whole,
 * because it tells the leaf from return addresses by position.
 */
static int add_stack(struct window *w, bool kernel, __u32 pid, __u64 start_ns, const __u64 *ips,
		     __u32 n, __u64 *out, __u32 *mapped_to)
{
	struct addr_key key = { .pid = kernel ? 0 : pid, .process_start_ns = kernel ? 0 : start_ns };
	bool all_known = true, leaf_mapped = false, exit_pending = false;
	int err;

	*mapped_to = n;
	for (__u32 i = 0; i < n; i++) {
		struct addr_entry *e;

		key.kind = (kernel ? ADDR_KERNEL_LEAF : ADDR_USER_LEAF) + (i > 0);
		key.address = ips[i];
		e = find_address(w, &key);
		if (!e) {
			all_known = false;
			break;
		}
		out[i] = e->location_id;
		note_mapped(i, e->mapped, &leaf_mapped, mapped_to);
	}
	if (all_known)
		return 0;
	*mapped_to = n;

	err = kernel ? symbolizer__lookup_kernel(w->symbolizer, ips, n, w->symbolized)
		     : lookup_user(w, pid, start_ns, ips, n, &exit_pending);
	if (err)
		return err;
	for (__u32 i = 0; i < n; i++) {
		struct addr_entry *e;

		key.kind = (kernel ? ADDR_KERNEL_LEAF : ADDR_USER_LEAF) + (i > 0);
		key.address = ips[i];
		e = find_address(w, &key);
		if (e) {
			out[i] = e->location_id;
			note_mapped(i, e->mapped, &leaf_mapped, mapped_to);
			continue;
		}
		out[i] = add_location(w, &w->symbolized[i]);
		if (!out[i])
			return -errno;
		note_mapped(i, w->symbolized[i].mapping, &leaf_mapped, mapped_to);
		/* not for the window: its exit report may name it in a later drain */
		if (exit_pending && !w->symbolized[i].mapping)
			continue;
		err = remember_address(w, &key, out[i], w->symbolized[i].mapping);
		if (err)
			return err;
	}
	return 0;
}

/*
 * A stack that was asked for but is not there gets a pseudo frame saying why,
 * and is counted once per sample, as the kernel counted it.
 */
static int add_missing_stack(struct window *w, __u64 id, __s32 err, __u64 count, __u64 *out,
			     size_t *n)
{
	enum pseudo_frame which;

	if (err == FORNAX_STACK_NOT_COLLECTED || err == -EFAULT)
		return 0; /* not asked for, or nothing to walk (kernel thread, user-mode sample) */
	if (id) {
		which = PSEUDO_STACK_MISSING;
		w->stats.stacks_missing += count;
	} else if (err == -ENOSPC) {
		which = PSEUDO_STACK_DROPPED;
		w->stats.stacks_dropped += count;
	} else {
		which = PSEUDO_STACK_FAILED;
		w->stats.stacks_failed += count;
	}
	out[*n] = pseudo_location(w, which);
	if (!out[*n])
		return -errno;
	(*n)++;
	return 0;
}

static bool process_eq(const void *val, const void *key)
{
	const struct process_key *a = val, *b = key;

	return a->pid == b->pid && a->start_ns == b->start_ns;
}

static int count_process(struct window *w, __u32 pid, __u64 start_ns)
{
	struct process_key key = { .pid = pid, .start_ns = start_ns }, *e;
	__u64 h = hash_pair(pid, start_ns);

	if (hmap__find(&w->processes, h, process_eq, &key))
		return 0;
	e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	*e = key;
	if (hmap__insert(&w->processes, h, e)) {
		free(e);
		return -ENOMEM;
	}
	w->stats.processes++;
	return 0;
}

/* A CFI walk that stopped before the outermost frame: the stack is not whole. */
static bool user_stack_cut(__u32 flags)
{
	return (flags & FORNAX_STACK_METHOD_MASK) == FORNAX_STACK_DWARF &&
	       ((flags >> FORNAX_STACK_END_SHIFT) & FORNAX_STACK_END_MASK) != FORNAX_END_COMPLETE;
}

/* ---- Python frames (agent/python_tracker.h, symbolizer/python/py_merge.h) ---- */

/* The location of one packed Python frame of process (pid, start_ns); 0 with errno set. */
static __u64 python_location(struct window *w, __u32 pid, __u64 start_ns, __u64 frame)
{
	struct addr_key key = { .pid = pid, .kind = ADDR_PYTHON, .process_start_ns = start_ns,
				.address = frame };
	struct py_frame_info info;
	struct pprof_line line;
	struct addr_entry *e = find_address(w, &key);
	__u64 id;
	int err;

	if (e)
		return e->location_id;
	err = python_tracker__frame(w->python, pid, start_ns, frame, &info);
	if (err == -ENOMEM) {
		errno = ENOMEM;
		return 0;
	}
	if (err)
		return pseudo_location(w, PSEUDO_PY_UNREADABLE);
	if (!w->python_mapping) {
		/* One mapping names every Python frame's kind; it has no addresses. */
		w->python_mapping = pprof__add_mapping(w->pprof, &(struct pprof_mapping){
			.filename = "[python]",
			.has_functions = true,
			.has_filenames = true,
			.has_line_numbers = true,
		});
		if (!w->python_mapping)
			return 0;
	}
	line.function_id = pprof__add_function(w->pprof, &(struct pprof_function){
		.name = info.function,
		.system_name = info.function,
		.filename = info.file,
		.start_line = info.start_line,
	});
	if (!line.function_id)
		return 0;
	line.line = info.line;
	/* Appended, not interned: the packed frame is no address another location could share. */
	id = pprof__append_location(w->pprof, w->python_mapping, 0, &line, 1);
	if (id && remember_address(w, &key, id, true))
		return 0;
	return id;
}

/*
 * The user frames of a stack to keep: a frame-pointer walk is cut at the
 * first caller outside every executable mapping (add_stack()'s mapped_to),
 * since the kernel's walk does not know where code is and can read data.
 */
static __u32 user_frames_kept(const struct sampler_sample *sample, __u32 mapped_to)
{
	if ((sample->user_flags & FORNAX_STACK_METHOD_MASK) != FORNAX_STACK_FP)
		return sample->n_user;
	return mapped_to < sample->n_user ? mapped_to : sample->n_user;
}

/*
 * Replaces the native user frames ids[0..n_native) (leaf first; n_native
 * <= n_user, fewer when a walk was cut) by the merged native and Python
 * stack; *n is its length. Returns 0 or -errno; -ENOENT when the process
 * is not known to run Python (nothing merged).
 */
static int merge_python(struct window *w, const struct sampler_sample *sample, __u64 *ids,
			__u32 n_native, size_t *n)
{
	const struct fornax_sample_key *key = sample->key;
	const struct py_process *proc;
	struct py_merge_input in;
	__u64 id;
	int nm;

	proc = python_tracker__process(w->python, key->tgid, key->process_start_ns);
	if (!proc)
		return -ENOENT;
	in = (struct py_merge_input){
		.native = sample->user_ips,
		.n_native = n_native,
		/* a frame-pointer walk through CPython (built without them) ends anywhere */
		.native_cut = !n_native || sample->n_user >= FORNAX_MAX_STACK_DEPTH ||
			      user_stack_cut(sample->user_flags) ||
			      (sample->user_flags & FORNAX_STACK_METHOD_MASK) != FORNAX_STACK_DWARF,
		.python = sample->python_frames,
		.n_python = sample->n_python,
		.python_end = (sample->python_flags >> FORNAX_STACK_END_SHIFT) &
			      FORNAX_STACK_END_MASK,
		.eval_start = proc->eval_start,
		.eval_end = proc->eval_end,
		.eval_cold_start = proc->eval_cold_start,
		.eval_cold_end = proc->eval_cold_end,
	};
	nm = py_merge(&in, w->merged, 2 * FORNAX_MAX_STACK_DEPTH + 3);
	if (nm < 0)
		return nm;
	/* A cut walk without Python callers past the cut is marked as without Python. */
	if (sample->n_user && (n_native < sample->n_user ||
			       sample->n_user >= FORNAX_MAX_STACK_DEPTH ||
			       user_stack_cut(sample->user_flags))) {
		bool gap = false;

		for (int i = 0; i < nm; i++)
			gap |= w->merged[i].kind == PY_MERGE_GAP;
		if (!gap)
			w->merged[nm++] = (struct py_merge_item){ PY_MERGE_GAP, 0 };
	}
	memcpy(w->native_ids, ids, n_native * sizeof(*ids));
	for (int i = 0; i < nm; i++) {
		const struct py_merge_item *it = &w->merged[i];

		switch (it->kind) {
		case PY_MERGE_NATIVE:
			id = w->native_ids[it->index];
			break;
		case PY_MERGE_PYTHON:
			id = python_location(w, key->tgid, key->process_start_ns,
					     sample->python_frames[it->index]);
			break;
		case PY_MERGE_GAP:
			id = pseudo_location(w, PSEUDO_TRUNCATED);
			break;
		case PY_MERGE_UNREADABLE:
			id = pseudo_location(w, PSEUDO_PY_UNREADABLE);
			break;
		default:
			id = pseudo_location(w, PSEUDO_PY_TRUNCATED);
			break;
		}
		if (!id)
			return -errno;
		if (id == w->pseudo_locations[PSEUDO_PY_UNREADABLE])
			w->stats.python_unreadable += sample->count;
		ids[i] = id;
	}
	*n = (size_t)nm;
	w->stats.python_samples += sample->count;
	return 0;
}

/*
 * The "unwind" label: how the user stack was walked and whether it is
 * known to be whole (see bpf/unwind.h). NULL when there is no user stack.
 */
static const char *unwind_label(const struct sampler_sample *sample)
{
	static const char *const cut[FORNAX_END_NR] = {
		[FORNAX_END_DEPTH] = "truncated: depth limit",
		[FORNAX_END_PC_NOT_COVERED] = "truncated: pc not covered",
		[FORNAX_END_READ_FAULT] = "truncated: read fault",
		[FORNAX_END_TABLE_MISSING] = "truncated: table missing",
		[FORNAX_END_UNSUPPORTED] = "truncated: unsupported CFI",
		[FORNAX_END_BAD_FRAME] = "truncated: bad frame",
		[FORNAX_END_BAD_PC] = "truncated: bad return address",
		[FORNAX_END_FP_LOST] = "truncated: rbp lost",
	};
	__u32 flags = sample->user_flags, end;

	if (!sample->n_user)
		return NULL;
	if ((flags & FORNAX_STACK_METHOD_MASK) != FORNAX_STACK_DWARF)
		return "frame pointers";
	end = (flags >> FORNAX_STACK_END_SHIFT) & FORNAX_STACK_END_MASK;
	if (end == FORNAX_END_COMPLETE)
		return flags & FORNAX_STACK_MIXED ? "complete (with frame pointers)" : "complete";
	return end < FORNAX_END_NR && cut[end] ? cut[end] : "truncated";
}

int window__add_sample(const struct sampler_sample *sample, void *ctx)
{
	struct window *w = ctx;
	const struct fornax_sample_key *key = sample->key;
	char pid[16], tid[16], comm[FORNAX_COMM_LEN + 1], thread[FORNAX_COMM_LEN + 1];
	const struct cgroup_info *cg = NULL;
	/* pid, tid, comm, thread, cgroup, container_id, pod_uid, unwind; then a pod's */
	struct pprof_label labels[8 + MAX_POD_LABELS];
	const char *unwind = unwind_label(sample);
	__u64 *ids = w->location_ids;
	size_t n = 0, n_labels = 4, merged = 0;
	__u32 kept;
	int err = 0;

	/* Kernel frames are the leaf end of the stack, so they come first. */
	if (sample->n_kernel) {
		err = add_stack(w, true, 0, 0, sample->kernel_ips, sample->n_kernel, ids, &kept);
		if (err)
			return err;
		n += sample->n_kernel;
	} else {
		err = add_missing_stack(w, key->kernel_stack_id, key->kernel_stack_err,
					sample->count, ids, &n);
		if (err)
			return err;
	}
	if (w->python && (sample->n_user || sample->n_python))
		python_tracker__sample(w->python, key->tgid, key->process_start_ns, sample->count,
				       sample->n_python, sample->python_flags);
	if (w->python && sample->n_python) {
		kept = 0;
		if (sample->n_user)
			err = add_stack(w, false, key->tgid, key->process_start_ns,
					sample->user_ips, sample->n_user, ids + n, &kept);
		if (!err)
			err = merge_python(w, sample, ids + n, user_frames_kept(sample, kept), &merged);
		if (err && err != -ENOENT)
			return err;
		if (merged && user_frames_kept(sample, kept) < sample->n_user)
			w->stats.fp_stacks_cut++;
	}
	if (merged) {
		n += merged;
	} else if (sample->n_user) {
		err = add_stack(w, false, key->tgid, key->process_start_ns, sample->user_ips,
				sample->n_user, ids + n, &kept);
		if (err)
			return err;
		kept = user_frames_kept(sample, kept);
		w->stats.fp_stacks_cut += kept < sample->n_user;
		n += kept;
		if (kept < sample->n_user || sample->n_user >= FORNAX_MAX_STACK_DEPTH ||
		    user_stack_cut(sample->user_flags)) {
			ids[n] = pseudo_location(w, PSEUDO_TRUNCATED);
			if (!ids[n++])
				return -errno;
		}
	} else {
		err = add_missing_stack(w, key->user_stack_id, key->user_stack_err, sample->count,
					ids, &n);
		if (err)
			return err;
	}
	if (n == 0) {
		ids[n] = pseudo_location(w, PSEUDO_NO_STACK);
		if (!ids[n++])
			return -errno;
	}

	snprintf(pid, sizeof(pid), "%" PRIu32, key->tgid);
	snprintf(tid, sizeof(tid), "%" PRIu32, key->tid);
	/* comm is not NUL-terminated when it fills the kernel's 16 bytes. */
	snprintf(comm, sizeof(comm), "%.*s", FORNAX_COMM_LEN, key->comm);
	snprintf(thread, sizeof(thread), "%.*s", FORNAX_COMM_LEN, key->thread_comm);
	labels[0] = (struct pprof_label){ .key = "pid", .str = pid };
	labels[1] = (struct pprof_label){ .key = "tid", .str = tid };
	labels[2] = (struct pprof_label){ .key = "comm", .str = comm };
	labels[3] = (struct pprof_label){ .key = "thread_name", .str = thread };
	if (w->cgroups && key->cgroup_id)
		cg = cgroups__lookup(w->cgroups, key->cgroup_id);
	if (cg) {
		labels[n_labels++] = (struct pprof_label){ .key = "cgroup", .str = cg->path };
		if (cg->container_id)
			labels[n_labels++] = (struct pprof_label){ .key = "container_id",
								   .str = cg->container_id };
		if (cg->pod_uid)
			labels[n_labels++] = (struct pprof_label){ .key = "pod_uid", .str = cg->pod_uid };
	}
	if (unwind)
		labels[n_labels++] = (struct pprof_label){ .key = "unwind", .str = unwind };
	if (cg && w->k8s) {
		err = pod_labels__add(w->k8s, w->relabel ? *w->relabel : NULL, w->pod_scratch, cg,
				      labels, &n_labels, sizeof(labels) / sizeof(labels[0]),
				      &w->stats);
		if (err)
			return err < 0 ? err : 0;
	}

	err = pprof__add_sample(w->pprof, ids, n, sample->count, labels, n_labels);
	if (err)
		return err;
	err = count_process(w, key->tgid, key->process_start_ns);
	if (err)
		return err;
	w->stats.samples += sample->count;
	w->stats.keys++;
	return 0;
}

void window__add_drain_stats(struct window *w, const struct sampler_drain_stats *stats)
{
	w->stats.drains++;
	w->stats.lost_counts_map_full += stats->set.counts_map_full;
	for (int i = 0; i < FORNAX_END_NR; i++)
		w->stats.unwind_end[i] += stats->set.unwind_end[i];
	w->stats.unwind_fp += stats->set.unwind_fp;
}

static void add_comment(struct window *w, const char *what, __u64 n)
{
	char text[160];

	if (!n)
		return;
	snprintf(text, sizeof(text), "fornax: %" PRIu64 " %s", (uint64_t)n, what);
	if (pprof__add_comment(w->pprof, text))
		log_warn("cannot record \"%s\" in the profile, ignoring", text);
}

const struct pprof *window__finish(struct window *w, __u64 duration_ns)
{
	pprof__set_duration(w->pprof, duration_ns);
	add_comment(w, "samples lost: counts map full (raise --max-stacks or lower "
		       "--drain-interval)", w->stats.lost_counts_map_full);
	add_comment(w, "stacks dropped: stacks map full (raise --max-stacks)",
		    w->stats.stacks_dropped);
	add_comment(w, "stacks dropped: error storing them", w->stats.stacks_failed);
	add_comment(w, "stacks missing from their drain", w->stats.stacks_missing);
	add_comment(w, "user stacks cut short ([truncated]): depth limit",
		    w->stats.unwind_end[FORNAX_END_DEPTH]);
	add_comment(w, "user stacks cut short ([truncated]): pc not covered by CFI",
		    w->stats.unwind_end[FORNAX_END_PC_NOT_COVERED]);
	add_comment(w, "user stacks cut short ([truncated]): stack read fault",
		    w->stats.unwind_end[FORNAX_END_READ_FAULT]);
	add_comment(w, "user stacks cut short ([truncated]): unwind table missing",
		    w->stats.unwind_end[FORNAX_END_TABLE_MISSING]);
	add_comment(w, "user stacks cut short ([truncated]): unsupported CFI rule",
		    w->stats.unwind_end[FORNAX_END_UNSUPPORTED]);
	add_comment(w, "user stacks cut short ([truncated]): bad frame",
		    w->stats.unwind_end[FORNAX_END_BAD_FRAME]);
	add_comment(w, "frame-pointer stacks cut short ([truncated]): a caller outside all "
		       "executable mappings", w->stats.fp_stacks_cut);
	add_comment(w, "user stacks cut short ([truncated]): bad return address",
		    w->stats.unwind_end[FORNAX_END_BAD_PC]);
	add_comment(w, "user stacks cut short ([truncated]): rbp saved where CFI rows cannot say",
		    w->stats.unwind_end[FORNAX_END_FP_LOST]);
	add_comment(w, "samples dropped by relabel_configs (a drop or keep rule)",
		    w->stats.relabel_dropped);
	add_comment(w, "relabel rules not applied: the regex hit its match limit",
		    w->stats.relabel_errors);
	return w->pprof;
}

void window__stats(const struct window *w, struct window_stats *out)
{
	*out = w->stats;
}
