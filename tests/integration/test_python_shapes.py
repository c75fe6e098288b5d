# SPDX-License-Identifier: Apache-2.0
"""Python stacks of other shapes in Debian's python3.11: threads, coroutines
under asyncio's event loop, a generator pipeline drained from C,
exceptions in flight, and sub-interpreters.

Workloads: tests/helpers/python_shapes.py. test_python.py covers the call
graph, the leaf shares and --python=off; test_python_exits.py short-lived
`python3.11 -c` processes and programs that exit before the drain.
"""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fornaxtest  # noqa: E402
from test_python import PYTHON, python_frames, subsequence  # noqa: E402

SHAPES = os.environ.get("PY_SHAPES", "")
SECONDS = 6
HZ = 199


def names(sample, profile):
    return [f[0] for f in python_frames(sample, profile)]


class PythonShapesTest(fornaxtest.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        fornaxtest.require_bpf()
        if not os.access(PYTHON, os.X_OK) or not SHAPES:
            fornaxtest.skip_or_fail(f"{PYTHON} (python3.11) and PY_SHAPES are needed")

    def profile(self, mode, extra=()):
        """The workload's samples, its first output line, fornax's log."""
        work = subprocess.Popen([PYTHON, SHAPES, mode, str(SECONDS + 10)],
                                stdout=subprocess.PIPE, text=True)
        try:
            first = work.stdout.readline().strip()
            out = os.path.join(self.tmp, f"{mode}.pb.gz")
            proc = fornaxtest.run_fornax(["-d", f"{SECONDS}s", "-F", str(HZ), "-p",
                                          str(work.pid), "-o", out, *extra])
        finally:
            work.kill()
            work.wait()
            work.stdout.close()
        p = fornaxtest.read_pprof(out)
        samples = p.by_pids([str(work.pid)])
        total = sum(s.count for s in samples)
        self.assertGreater(total, SECONDS * HZ // 2, proc.stderr)
        return p, samples, total, first, proc.stderr

    def test_threads(self):
        """Each thread's samples show that thread's own function: the walker
        reads the sampled thread's state, not the main thread's."""
        p, samples, total, first, log = self.profile("threads")
        tids = dict(kv.split("=") for kv in first.split())
        for fn, tid in tids.items():
            mine = [s for s in samples if s.labels.get("tid") == tid]
            n = sum(s.count for s in mine)
            right = sum(s.count for s in mine
                        if subsequence(["Thread._bootstrap", "Thread.run", "threads.<locals>.run", fn,
                                        "spin"], names(s, p)))
            wrong = sum(s.count for s in mine
                        if any(f in names(s, p) for f in tids if f != fn))
            print(f"{fn} (tid {tid}): {right}/{n} samples in {fn} -> spin", file=sys.stderr)
            # the GIL takes turns every 5 ms: each thread has about a third
            self.assertGreater(n, 0.15 * total, log)
            self.assertGreaterEqual(right, 0.97 * n, log)
            self.assertEqual(wrong, 0, log)

    def test_asyncio(self):
        """Coroutines run under the event loop's frames, in order."""
        p, samples, total, _, log = self.profile("asyncio")
        counts = {"coro_a": 0, "coro_b": 0}
        for s in samples:
            n = names(s, p)
            for coro in counts:
                if coro in n:
                    self.assertTrue(subsequence(["<module>", "main", "run_asyncio", "run",
                                                 "Runner.run",
                                                 "BaseEventLoop.run_until_complete",
                                                 "BaseEventLoop.run_forever",
                                                 "BaseEventLoop._run_once", "Handle._run", coro],
                                                n), n)
                    counts[coro] += s.count
        print(f"coroutines: {counts} of {total} samples", file=sys.stderr)
        for coro, n in counts.items():
            self.assertGreater(n, 0.3 * total, f"{coro}: {counts}, {log}")
        self.assertGreater(sum(counts.values()), 0.9 * total, log)

    def test_generators(self):
        """Each generator stage under the one that resumed it, through sum() (C)."""
        p, samples, total, _, log = self.profile("generators", ["-v"])
        chain = ["<module>", "main", "generators", "pipeline", "scale", "keep_even",
                 "produce", "spin"]
        in_chain = sum(s.count for s in samples if subsequence(chain, names(s, p)))
        any_python = sum(s.count for s in samples if names(s, p))
        print(f"generators: {in_chain}/{total} samples in the whole chain, "
              f"{any_python} with Python frames", file=sys.stderr)
        self.assertGreaterEqual(any_python, 0.99 * total, log)
        # spin() in produce() is most of the work; the rest is the stages themselves
        self.assertGreater(in_chain, 0.6 * total, log)
        for s in samples:
            n = names(s, p)
            # Calling a generator function runs its first instruction (RETURN_GENERATOR) in
            # the new frame, under the caller: pipeline -> produce is how a stage is created.
            if n[-2:] == ["pipeline", "produce"]:
                continue
            if "produce" in n:
                self.assertTrue(subsequence(chain[:-1], n), n)
        # the summary's line for this process (statistics at exit come with -v): its samples and how their walks ended
        pid = samples[0].labels["pid"]
        m = re.search(rf"python: pid {pid}: (\d+) samples, (\d+) with Python frames "
                      r"\((\d+) walks complete", log)
        self.assertTrue(m, log)
        n, walked, complete = map(int, m.groups())
        self.assertGreaterEqual(n, total - 5, log)  # samples before it was found are not its
        self.assertGreaterEqual(walked, 0.99 * n, log)
        self.assertEqual(complete, walked, log)

    def test_exceptions(self):
        """Exceptions raised three calls deep and caught: while one is in flight the
        frames it leaves are gone one by one, and each sample shows exactly those left."""
        p, samples, total, _, log = self.profile("exceptions")
        base = ["<module>", "main", "exceptions", "catch_all"]
        by_depth = {}
        with_python = wrong = 0
        for s in samples:
            n = names(s, p)
            if not n:
                continue
            with_python += s.count
            k = len(n) - len(base)
            expected = base + ["raise_deep"] * min(k, 4) + (["spin"] if k == 5 else [])
            if n != expected:
                wrong += s.count
                print(f"unexpected: {n}", file=sys.stderr)
                continue
            by_depth[min(k, 5)] = by_depth.get(min(k, 5), 0) + s.count
        print(f"exceptions: {with_python}/{total} samples with Python frames, by frames "
              f"below catch_all: {dict(sorted(by_depth.items()))}", file=sys.stderr)
        self.assertGreaterEqual(with_python, 0.99 * total, log)
        self.assertEqual(wrong, 0, log)
        # raising, then unwinding through raise_deep's three callers (the exception in
        # flight), then handling it in catch_all: every stage is sampled
        for k in range(5):
            self.assertGreater(by_depth.get(k, 0), 0.02 * total, f"{by_depth} {log}")

    def test_subinterpreters(self):
        """Only the main interpreter's threads are walked, found even when a sub-interpreter
        heads the runtime's list; a thread running in a sub-interpreter is counted, and
        the sub-interpreter's frames never stand in for the main one's."""
        p, samples, total, first, log = self.profile("subinterpreters", ["-v"])
        tids = dict(kv.split("=") for kv in first.split())
        main = [s for s in samples if s.labels.get("tid") == tids["main"]]
        worker = [s for s in samples if s.labels.get("tid") == tids["compress"]]
        n_main = sum(s.count for s in main)
        n_worker = sum(s.count for s in worker)
        in_sub = sum(s.count for s in samples if "sub_spin" in names(s, p))
        main_walked = sum(s.count for s in main
                          if subsequence(["<module>", "main", "subinterpreters", "main_spin"],
                                         names(s, p)))
        # zlib runs without the GIL: the worker is found in the main interpreter's list
        worker_walked = sum(s.count for s in worker
                            if subsequence(["Thread._bootstrap", "Thread.run", "compress_loop"],
                                           names(s, p)))
        m = re.search(r"(\d+) in a sub-interpreter", log)
        self.assertTrue(m, log)
        counted = int(m.group(1))
        print(f"subinterpreters: main thread {n_main} samples, {main_walked} in main_spin, "
              f"{counted} counted in a sub-interpreter, {in_sub} with its frames; worker "
              f"{n_worker} samples, {worker_walked} walked", file=sys.stderr)
        self.assertEqual(in_sub, 0, log)
        # the main thread takes turns: about half its time in each interpreter
        self.assertGreater(counted, 0.2 * n_main, log)
        self.assertGreater(main_walked, 0.2 * n_main, log)
        self.assertGreater(n_worker, 0.05 * total, log)
        self.assertGreaterEqual(worker_walked, 0.95 * n_worker, log)


if __name__ == "__main__":
    unittest.main()
