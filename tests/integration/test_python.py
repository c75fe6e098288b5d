# SPDX-License-Identifier: Apache-2.0
"""Python frames in the profile of Debian's python3.11 (issue: no flags, no
debug symbols, no restart of the profiled program).

tests/helpers/python_callgraph.py spends 60/30/10 % of its time in three
leaf functions under <module> -> main -> outer -> middle, the last one
called back by sorted() (C code). The profile is read with `go tool pprof
-raw`; --python=off must show the interpreter loop instead.
"""
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fornaxtest  # noqa: E402

PYTHON = "/usr/bin/python3.11"
CALLGRAPH = os.environ.get("PY_CALLGRAPH", "")
SECONDS = 8
LEAVES = ("leaf_a", "leaf_b", "leaf_c")
EXPECTED = {"leaf_a": 60.0, "leaf_b": 30.0, "leaf_c": 10.0}


def python_frames(sample, profile):
    """(function, file, line) of the sample's Python frames, root first."""
    out = []
    for loc in reversed(sample.stack):
        m = profile.mappings.get(loc.mapping_id)
        # fornaxtest files a "[name]" mapping among the flags
        if m and "[python]" in (m["file"], *m["flags"]):
            out.extend((l.function, l.file, l.line) for l in reversed(loc.lines))
    return out


def subsequence(needle, hay):
    it = iter(hay)
    return all(any(x == y for y in it) for x in needle)


class PythonFramesTest(fornaxtest.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        fornaxtest.require_bpf()
        if not os.access(PYTHON, os.X_OK) or not CALLGRAPH:
            fornaxtest.skip_or_fail(f"{PYTHON} (python3.11) and PY_CALLGRAPH are needed")

    def profile(self, mode, depth=0):
        work = subprocess.Popen([PYTHON, CALLGRAPH, str(SECONDS + 10), str(depth)],
                                stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(work.stdout.readline().strip(), "ready")
            out = os.path.join(self.tmp, f"{mode}.pb.gz")
            proc = fornaxtest.run_fornax(["-d", f"{SECONDS}s", "-F", "199", "-p", str(work.pid),
                                          f"--python={mode}", "-o", out])
        finally:
            work.kill()
            work.wait()
        return fornaxtest.read_pprof(out), proc.stderr, work.pid

    def test_python_frames(self):
        p, log, pid = self.profile("auto")
        samples = p.by_pids([str(pid)])
        total = sum(s.count for s in samples)
        self.assertGreater(total, SECONDS * 199 // 2, log)
        with_python = sum(s.count for s in samples if python_frames(s, p))
        print(f"python frames in {with_python}/{total} samples "
              f"({100.0 * with_python / total:.2f} %)", file=sys.stderr)
        self.assertGreaterEqual(with_python, 0.99 * total, log)

        leaf_counts = dict.fromkeys(LEAVES, 0)
        whole_round_trips = 0
        source = os.path.basename(CALLGRAPH)
        for s in samples:
            frames = python_frames(s, p)
            names = [f[0] for f in frames]
            leaf = next((n for n in reversed(names) if n in LEAVES), None)
            if not leaf:
                continue
            leaf_counts[leaf] += s.count
            callers = ["<module>", "main", "outer", "middle"]
            callers += ["through_c", "leaf_c"] if leaf == "leaf_c" else [leaf]
            self.assertTrue(subsequence(callers, names), f"{names} lacks {callers}")
            for name, file, line in frames:
                self.assertTrue(file.endswith(source), f"{name} in {file}")
                self.assertGreater(line, 0, f"{name} has no line")
            stack = [l.function for loc in reversed(s.stack) for l in reversed(loc.lines)]
            if leaf == "leaf_c":
                # sorted() (C) between the caller and the key function: Python -> C -> Python,
                # unless the native walk was cut below through_c: then the Python frames
                # above the cut follow [truncated], and what lay between them is unknown.
                i, j = stack.index("through_c"), stack.index("leaf_c")
                if "[truncated]" not in stack[i:]:
                    self.assertGreater(j - i, 1, f"no native frame between: {stack}")
                    self.assertIn("PyObject_CallOneArg", stack[i:j])
                    whole_round_trips += s.count
        self.assertGreater(whole_round_trips, 0.5 * leaf_counts["leaf_c"])
        leaf_total = sum(leaf_counts.values())
        self.assertGreater(leaf_total, 0.9 * total)
        for leaf, want in EXPECTED.items():
            got = 100.0 * leaf_counts[leaf] / leaf_total
            print(f"{leaf}: {got:.1f} % (expected {want:.0f} %)", file=sys.stderr)
            self.assertLess(abs(got - want), 3.0, leaf_counts)

    def test_deep_stack_and_off(self):
        p, log, pid = self.profile("auto", depth=24)
        deepest = max(len(python_frames(s, p)) for s in p.by_pids([str(pid)]))
        self.assertGreaterEqual(deepest, 30, log)
        # --python=off: the interpreter loop, no Python frame
        p, log, pid = self.profile("off")
        samples = p.by_pids([str(pid)])
        self.assertFalse(any(python_frames(s, p) for s in samples))
        self.assertTrue(any("_PyEval_EvalFrameDefault" in s.frames() for s in samples), log)


if __name__ == "__main__":
    unittest.main()
