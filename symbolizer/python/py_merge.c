// SPDX-License-Identifier: Apache-2.0
#include "py_merge.h"

#include <errno.h>

#include "python.h"

/* More frames than the walker ever records: refused rather than sized on the stack. */
#define MAX_PYTHON 1024

struct merger {
	const struct py_merge_input *in;
	struct py_merge_item *out;
	size_t cap, n;
	size_t run_start[MAX_PYTHON + 1]; /* run r: frames [run_start[r], run_start[r + 1]) */
	size_t n_runs;
	/* Where the outermost Python frame went, to put what is missing beyond it. */
	size_t last_python;
	bool any_python;
};

static int put(struct merger *m, __u32 kind, __u32 index)
{
	if (m->n >= m->cap)
		return -ENOSPC;
	m->out[m->n++] = (struct py_merge_item){ kind, index };
	return 0;
}

/* Emits runs [first, last], innermost first. */
static int put_runs(struct merger *m, size_t first, size_t last)
{
	for (size_t r = first; r <= last; r++) {
		for (size_t i = m->run_start[r]; i < m->run_start[r + 1]; i++)
			if (put(m, PY_MERGE_PYTHON, (__u32)i))
				return -ENOSPC;
		m->any_python = true;
		m->last_python = m->n;
	}
	return 0;
}

static void cut_runs(struct merger *m)
{
	const struct py_merge_input *in = m->in;

	m->n_runs = 0;
	m->run_start[0] = 0;
	for (size_t i = 0; i < in->n_python; i++) {
		/* An entry frame ends its run; so does the last frame, marked or not. */
		if ((in->python[i] & FORNAX_PY_ENTRY) || i + 1 == in->n_python)
			m->run_start[++m->n_runs] = i + 1;
	}
}

static bool is_eval(const struct py_merge_input *in, __u64 ip)
{
	return (ip >= in->eval_start && ip < in->eval_end) ||
	       (ip >= in->eval_cold_start && ip < in->eval_cold_end);
}

/* Inserts the marker for Python frames that were not recorded after the outermost one. */
static int put_python_end(struct merger *m)
{
	__u32 kind;

	if (!m->any_python)
		return 0;
	if (m->in->python_end == FORNAX_PY_END_READ_FAULT)
		kind = PY_MERGE_UNREADABLE;
	else if (m->in->python_end == FORNAX_PY_END_DEPTH)
		kind = PY_MERGE_PY_TRUNCATED;
	else
		return 0;
	if (m->n >= m->cap)
		return -ENOSPC;
	for (size_t i = m->n; i > m->last_python; i--)
		m->out[i] = m->out[i - 1];
	m->out[m->last_python] = (struct py_merge_item){ kind, 0 };
	m->n++;
	return 0;
}

int py_merge(const struct py_merge_input *in, struct py_merge_item *out, size_t cap)
{
	static __thread struct merger m;
	bool from_inner = in->native_cut || in->python_end != FORNAX_PY_END_COMPLETE;
	long k = 0, shift, j = 0, r;
	size_t leftover;

	if (in->n_python > MAX_PYTHON)
		return -EINVAL;
	m = (struct merger){ .in = in, .out = out, .cap = cap };
	cut_runs(&m);
	for (size_t i = 0; i < in->n_native; i++)
		k += is_eval(in, in->native[i]);
	/* Activation j (innermost 0) runs run j - shift. */
	shift = from_inner ? 0 : k - (long)m.n_runs;
	leftover = from_inner && (size_t)k < m.n_runs ? (size_t)k : m.n_runs;
	if (k == 0)
		leftover = 0;

	for (size_t i = 0; i < in->n_native; i++) {
		if (!is_eval(in, in->native[i])) {
			if (put(&m, PY_MERGE_NATIVE, (__u32)i))
				return -ENOSPC;
			continue;
		}
		r = j++ - shift;
		if (r < 0 || (size_t)r >= m.n_runs) {
			if (put(&m, PY_MERGE_NATIVE, (__u32)i))
				return -ENOSPC;
		} else if (put_runs(&m, r == -shift && shift < 0 ? 0 : (size_t)r, (size_t)r)) {
			/* the innermost activation also takes runs no activation is left for */
			return -ENOSPC;
		}
	}
	if (leftover < m.n_runs) {
		/* callers of everything above, past the frames the native walk did not reach */
		if ((in->native_cut && put(&m, PY_MERGE_GAP, 0)) ||
		    put_runs(&m, leftover, m.n_runs - 1))
			return -ENOSPC;
	}
	if (put_python_end(&m))
		return -ENOSPC;
	return (int)m.n;
}
