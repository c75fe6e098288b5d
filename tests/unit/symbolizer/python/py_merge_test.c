// SPDX-License-Identifier: Apache-2.0
/* Native and Python frames merged: pairing of eval activations and runs. */
#include <errno.h>

#include "py_merge.h"
#include "python.h"
#include "test.h"

#define EVAL 0x1000 /* [EVAL, EVAL + 0x100) is _PyEval_EvalFrameDefault */
#define COLD 0x3000 /* [COLD, COLD + 0x80) its cold part, when the test says so */

static __u64 cold_start, cold_end;

/* Python frame i (code object 0x100 * (i + 1)), entry-marked if entry */
static __u64 pyf(int i, int entry)
{
	__u64 code = 0x100ull * (i + 1);

	return (code >> 3) | (entry ? FORNAX_PY_ENTRY : 0);
}

/* Renders a merge as "n0 p1 p0 n2 ..." (n: native index, p: Python index, G, U, T). */
static const char *render(const __u64 *native, size_t n_native, int cut, const __u64 *py,
			  size_t n_py, __u32 end)
{
	static char out[512];
	struct py_merge_item items[64];
	struct py_merge_input in = {
		.native = native, .n_native = n_native, .native_cut = cut,
		.python = py, .n_python = n_py, .python_end = end,
		.eval_start = EVAL, .eval_end = EVAL + 0x100,
		.eval_cold_start = cold_start, .eval_cold_end = cold_end,
	};
	int n = py_merge(&in, items, 64);
	size_t len = 0;

	out[0] = '\0';
	if (n < 0)
		return "error";
	for (int i = 0; i < n; i++) {
		const char *sep = i ? " " : "";

		switch (items[i].kind) {
		case PY_MERGE_NATIVE:
			len += snprintf(out + len, sizeof(out) - len, "%sn%u", sep, items[i].index);
			break;
		case PY_MERGE_PYTHON:
			len += snprintf(out + len, sizeof(out) - len, "%sp%u", sep, items[i].index);
			break;
		case PY_MERGE_GAP:
			len += snprintf(out + len, sizeof(out) - len, "%sG", sep);
			break;
		case PY_MERGE_UNREADABLE:
			len += snprintf(out + len, sizeof(out) - len, "%sU", sep);
			break;
		default:
			len += snprintf(out + len, sizeof(out) - len, "%sT", sep);
			break;
		}
	}
	return out;
}

/* leaf, eval, C callback, eval, main: two activations */
static const __u64 two_evals[] = { 0x10, EVAL + 5, 0x20, EVAL + 9, 0x30 };

TEST(pairs_each_activation_with_its_run)
{
	__u64 py[] = { pyf(0, 1), pyf(1, 0), pyf(2, 0), pyf(3, 1) };

	/* the C callback sits between the two runs: Python -> C -> Python */
	ASSERT_STREQ(render(two_evals, 5, 0, py, 4, FORNAX_PY_END_COMPLETE),
		     "n0 p0 n2 p1 p2 p3 n4");
	return 0;
}

TEST(activation_without_a_run_stays_native)
{
	/* the innermost eval was just entered: its frame is not linked yet */
	__u64 py[] = { pyf(0, 1) };

	ASSERT_STREQ(render(two_evals, 5, 0, py, 1, FORNAX_PY_END_COMPLETE), "n0 n1 n2 p0 n4");
	return 0;
}

TEST(cut_native_stack_pairs_from_the_innermost)
{
	/* the native walk stopped after the first eval: the outer run goes past a gap */
	__u64 py[] = { pyf(0, 1), pyf(1, 1) };

	/* cut, but both runs paired: no gap (the caller marks the cut) */
	ASSERT_STREQ(render(two_evals, 5, 1, py, 2, FORNAX_PY_END_COMPLETE), "n0 p0 n2 p1 n4");
	ASSERT_STREQ(render(two_evals, 2, 1, py, 2, FORNAX_PY_END_COMPLETE), "n0 p0 G p1");
	/* no eval frame at all (a frame-pointer walk through code without them) */
	ASSERT_STREQ(render((const __u64[]){ 0x10, 0x20 }, 2, 1, py, 2, FORNAX_PY_END_COMPLETE),
		     "n0 n1 G p0 p1");
	return 0;
}

TEST(unreadable_and_truncated_python_frames)
{
	__u64 py[] = { pyf(0, 1), pyf(1, 0) };

	/* the walk failed past p1: what is missing is beyond the outermost frame read */
	ASSERT_STREQ(render(two_evals, 5, 0, py, 2, FORNAX_PY_END_READ_FAULT),
		     "n0 p0 n2 p1 U n4");
	ASSERT_STREQ(render(two_evals, 5, 0, py, 2, FORNAX_PY_END_DEPTH), "n0 p0 n2 p1 T n4");
	return 0;
}

TEST(more_runs_than_activations)
{
	/* a complete native stack with one eval but two runs: both go to that activation */
	__u64 py[] = { pyf(0, 1), pyf(1, 1) };

	ASSERT_STREQ(render((const __u64[]){ 0x10, EVAL, 0x30 }, 3, 0, py, 2,
			    FORNAX_PY_END_COMPLETE),
		     "n0 p0 p1 n2");
	return 0;
}

TEST(cold_part_is_an_activation_too)
{
	/* the inner activation was sampled in its cold part (raising an exception) */
	static const __u64 native[] = { COLD + 4, 0x20, EVAL + 9, 0x30 };
	__u64 py[] = { pyf(0, 1), pyf(1, 1) };

	cold_start = COLD;
	cold_end = COLD + 0x80;
	ASSERT_STREQ(render(native, 4, 0, py, 2, FORNAX_PY_END_COMPLETE), "p0 n1 p1 n3");
	/* past its end it is another function */
	ASSERT_STREQ(render((const __u64[]){ COLD + 0x80, 0x20, EVAL + 9, 0x30 }, 4, 0, py, 2,
			    FORNAX_PY_END_COMPLETE),
		     "n0 n1 p0 p1 n3");
	/* not known: both runs go to the one activation found */
	cold_start = cold_end = 0;
	ASSERT_STREQ(render(native, 4, 0, py, 2, FORNAX_PY_END_COMPLETE), "n0 n1 p0 p1 n3");
	return 0;
}

TEST(bounds)
{
	__u64 py[] = { pyf(0, 1) };
	struct py_merge_item items[2];
	struct py_merge_input in = {
		.native = two_evals, .n_native = 5, .python = py, .n_python = 1,
		.python_end = FORNAX_PY_END_COMPLETE, .eval_start = EVAL, .eval_end = EVAL + 0x100,
	};

	ASSERT_EQ(py_merge(&in, items, 2), -ENOSPC);
	in.n_python = 2000;
	ASSERT_EQ(py_merge(&in, items, 2), -EINVAL);
	/* no Python frames: the native stack unchanged */
	ASSERT_STREQ(render(two_evals, 5, 0, py, 0, FORNAX_PY_END_COMPLETE), "n0 n1 n2 n3 n4");
	return 0;
}

int main(void)
{
	RUN(pairs_each_activation_with_its_run);
	RUN(activation_without_a_run_stays_native);
	RUN(cut_native_stack_pairs_from_the_innermost);
	RUN(unreadable_and_truncated_python_frames);
	RUN(more_runs_than_activations);
	RUN(cold_part_is_an_activation_too);
	RUN(bounds);
	return test_summary();
}
