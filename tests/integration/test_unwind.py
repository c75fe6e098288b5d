# SPDX-License-Identifier: Apache-2.0
"""CFI unwinding in the kernel: the real fornax binary, real BPF, helper
programs built with gcc -O2 -fomit-frame-pointer (tests/helpers/unwind_workload.c).

Stacks must be complete and exact: every expected caller, in order, down to
main (or the thread's start) and the runtime's first frame. The same capture
with --unwind=fp shows the truncation frame pointers give on such code, so
the assertions can fail.
"""
import collections
import glob
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import fornaxtest as ft  # noqa: E402

WORKLOAD = os.environ.get("UNWIND_WORKLOAD", "")
CHURN = os.path.join(os.environ.get("FORNAX_HELPERS", ""), "fornax_churn")
CPUS = os.cpu_count()
FREQUENCY = 199
# What each chain leaf's callers must be, innermost first.
CHAIN = ["leaves"] + [f"chain_{i}" for i in range(23, -1, -1)] + ["run_chain", "main"]
# The C runtime between main and _start (__libc_start_call_main, __libc_start_main).
MAX_RUNTIME_FRAMES = 3


def process_tree(pid):
    """pid and its descendants, as strings (the profile's pid label)."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(str(p))
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return set(pids)


def user_functions(sample):
    """Function of each user location (the outer one when inlined), leaf first."""
    return [loc.lines[-1].function if loc.lines else "[unknown]"
            for loc in sample.stack if not loc.kernel]


def runtime_tail_ok(tail):
    """What follows main: a few C runtime frames ending at _start."""
    return 1 <= len(tail) <= MAX_RUNTIME_FRAMES and tail[-1] == "_start"


def capture(test, mode, seconds, n, args=()):
    """Profiles `unwind_workload mode`; returns the samples of its processes.

    The workload's processes are named with --pid: the agent reads their
    files before it starts sampling, so their tables are in from the start
    and what is measured is the walk, not how soon tables arrive (the
    DeepChain test covers that). The profile's mappings are left in
    test.mappings.
    """
    out = test.path(f"{mode}.pb.gz")
    work = subprocess.Popen([WORKLOAD, mode, str(seconds + 2), str(n)])
    try:
        time.sleep(0.3)  # forked and running
        pids = process_tree(work.pid)
        test.stderr = ft.run_fornax(["--duration", f"{seconds}s", "-F", str(FREQUENCY), "-o",
                                     out] + [f"--pid={p}" for p in sorted(pids)] +
                                    list(args)).stderr
    finally:
        work.wait()
    profile = ft.read_pprof(out)
    test.mappings = profile.mappings
    samples = [s for s in profile.samples if s.labels.get("pid") in pids]
    # Shares are what is checked; enough samples for them even on a busy machine.
    test.assertGreater(sum(s.count for s in samples), 40, f"too few samples ({mode})")
    return samples


def capture_windows(test, mode, seconds, n, interval="1s"):
    """Continuous mode: one profile per interval; returns each window's workload samples."""
    outdir = test.path(f"{mode}-windows")
    work = subprocess.Popen([WORKLOAD, mode, str(seconds + 3), str(n)])
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORNAX_")}
    try:
        time.sleep(0.3)
        pids = process_tree(work.pid)
        agent = subprocess.Popen([ft.FORNAX, "--interval", interval, "-F", str(FREQUENCY),
                                  "-o", outdir], env=env, stderr=subprocess.PIPE, text=True)
        time.sleep(seconds)
        agent.send_signal(signal.SIGTERM)
        _, err = agent.communicate(timeout=60)
        test.assertEqual(agent.returncode, 0, err)
    finally:
        work.wait()
    return [[s for s in ft.read_pprof(f).samples if s.labels.get("pid") in pids]
            for f in sorted(glob.glob(os.path.join(outdir, "fornax-*.pb.gz")))]


def share(samples, pred):
    total = sum(s.count for s in samples)
    return sum(s.count for s in samples if pred(s)) / total if total else 0.0


class DeepChain(ft.TempDirTestCase):
    """main → run_chain → chain_0 … chain_23 → leaves → leaf_a | leaf_b, 60/40."""

    @staticmethod
    def exact(sample):
        frames = user_functions(sample)
        n = len(CHAIN) + 1
        return frames[1:n] == CHAIN and runtime_tail_ok(frames[n:])

    @staticmethod
    def leaf_samples(samples):
        return [s for s in samples if user_functions(s)[:1] in (["leaf_a"], ["leaf_b"])]

    def test_cfi_gives_complete_exact_stacks_and_fp_does_not(self):
        windows = [self.leaf_samples(w) for w in capture_windows(self, "chain", 6.5, CPUS)]
        self.assertGreaterEqual(len(windows), 3)
        # Until a process's tables are in (a fraction of a second), it is walked by frame
        # pointers, and those stacks say so. Afterwards: nearly every stack whole and exact.
        first, steady = windows[0], [s for w in windows[1:] for s in w]
        self.assertGreater(sum(s.count for s in steady), 40)
        self.assertGreaterEqual(share(steady, self.exact), 0.99,
                                [user_functions(s) for s in steady if not self.exact(s)][:3])
        self.assertGreaterEqual(share(steady, lambda s: s.labels.get("unwind") == "complete"),
                                0.99)
        samples = first + steady
        for leaf, truth in (("leaf_a", 60), ("leaf_b", 40)):
            got = 100 * share(samples, lambda s: user_functions(s)[0] == leaf)
            self.assertAlmostEqual(got, truth, delta=6, msg=f"{leaf}: {got:.1f}%, want {truth}%")

        # Frame pointers on the same code: the leaf's callers are lost.
        fp = self.leaf_samples(capture(self, "chain", 3, CPUS, ["--unwind=fp"]))
        self.assertTrue(fp)
        self.assertEqual({s.labels.get("unwind") for s in fp}, {"frame pointers"})
        self.assertLess(share(fp, self.exact), 0.05)


class TableCache(ft.TempDirTestCase):
    """A restarted agent reads the tables it built from --unwind-cache, and walks the same."""

    def tables(self, log):
        m = re.search(r"unwind tables: \d+ loaded .*?, (\d+) built in [\d.]+ ms, (\d+) read "
                      r"from the cache in [\d.]+ ms \((\d+) of them known by the file's "
                      r"identity; (\d+) stored, (\d+) bad", log)
        self.assertTrue(m, log)
        return [int(g) for g in m.groups()]

    def test_a_restart_reads_its_tables_and_walks_the_same(self):
        cache = self.path("cache")
        runs = []
        for _ in range(2):
            samples = DeepChain.leaf_samples(
                capture(self, "chain", 3, CPUS, ["-v", f"--unwind-cache={cache}"]))
            runs.append((self.tables(self.stderr), share(samples, DeepChain.exact)))
        (built1, read1, known1, stored1, bad1), exact1 = runs[0]
        (built2, read2, known2, stored2, bad2), exact2 = runs[1]
        self.assertGreater(built1, 0, runs)
        self.assertGreaterEqual(stored1, built1, runs)
        # the same files: each table the first run built, the second reads, by the file's
        # identity alone but for the vdso's (read from memory: no file to stat)
        self.assertEqual(built2, 0, runs)
        self.assertGreaterEqual(read2, built1, runs)
        self.assertEqual(known1, 0, runs)
        self.assertGreaterEqual(known2, read2 - 1, runs)
        self.assertEqual(bad1 + bad2, 0, runs)
        self.assertGreaterEqual(exact1, 0.97, runs)
        self.assertGreaterEqual(exact2, 0.97, runs)
        # off: everything built again
        capture(self, "chain", 2, CPUS, ["-v", "--unwind-cache=off"])
        self.assertIn(" 0 read from the cache", self.stderr)


class AcrossLibc(ft.TempDirTestCase):
    def test_qsort_comparator_reaches_main_through_libc(self):
        """compare_items is called by libc's sort, which has no frame pointers.

        --unwind=dwarf: no frame-pointer walks at all; a stack the tables
        cannot finish says so.
        """
        samples = capture(self, "qsort", 4, CPUS, ["--unwind=dwarf"])
        labels = {s.labels.get("unwind") for s in samples}
        self.assertNotIn("frame pointers", labels)
        for s in samples:
            if s.labels.get("unwind", "").startswith("truncated"):
                self.assertEqual(user_functions(s)[-1], "[truncated]")

        def through_libc(s):
            frames = user_functions(s)
            if "sort_round" not in frames:
                return False
            i = frames.index("sort_round")
            between = [loc for loc in s.stack if not loc.kernel][1:i]
            in_libc = [loc for loc in between
                       if "libc.so" in self.mappings.get(loc.mapping_id, {}).get("file", "")]
            return (frames[0] == "compare_items" and len(in_libc) >= 2
                    and frames[i:i + 3] == ["sort_round", "run_sort", "main"]
                    and runtime_tail_ok(frames[i + 3:]))

        cmp = [s for s in samples if user_functions(s)[:1] == ["compare_items"]]
        self.assertGreater(sum(s.count for s in cmp), 0.5 * sum(s.count for s in samples))
        self.assertGreaterEqual(share(cmp, through_libc), 0.95,
                                [user_functions(s) for s in cmp if not through_libc(s)][:3])


class Threads(ft.TempDirTestCase):
    def test_each_thread_down_to_its_start(self):
        samples = capture(self, "threads", 3, CPUS)
        want = ["thread_leaf", "thread_work", "thread_main", "start_thread"]
        leafs = [s for s in samples if user_functions(s)[:1] == ["thread_leaf"]]
        self.assertGreater(len({s.labels["tid"] for s in leafs}), 1, "samples from each thread")

        def exact(s):
            frames = user_functions(s)
            # start_thread is called by clone3's child path, the thread's first frame
            return (frames[:4] == want and len(frames) == 5
                    and s.labels.get("unwind") == "complete")

        self.assertGreaterEqual(share(leafs, exact), 0.95,
                                [user_functions(s) for s in leafs if not exact(s)][:3])


class SignalFrames(ft.TempDirTestCase):
    def test_handler_stacks_continue_through_the_signal_frame(self):
        samples = capture(self, "signal", 3, 1)
        handler = [s for s in samples if user_functions(s)[:1] == ["handler_work"]]
        self.assertGreater(sum(s.count for s in handler), 15)

        def through(s):
            frames = user_functions(s)
            if frames[1:2] != ["on_alarm"] or "run_signal" not in frames:
                return False
            i = frames.index("run_signal")
            # on_alarm's caller is the trampoline, then the interrupted code
            return 3 <= i <= 5 and frames[i + 1] == "main" and runtime_tail_ok(frames[i + 2:])

        self.assertGreaterEqual(share(handler, through), 0.9,
                                [user_functions(s) for s in handler if not through(s)][:3])


class NewCode(ft.TempDirTestCase):
    """Code that appears after the agent read the process: dlopen, exec."""

    def test_dlopened_library(self):
        # The library arrives a second in; the last windows are long past it.
        windows = capture_windows(self, "dlopen", 6, 1)
        late = [s for w in windows[-2:] for s in w if user_functions(s)[:1] == ["dl_leaf"]]
        self.assertGreater(sum(s.count for s in late), 40)
        want = ["dl_leaf", "dl_middle", "dl_entry", "run_dlopen", "main"]

        def exact(s):
            frames = user_functions(s)
            return frames[:5] == want and runtime_tail_ok(frames[5:])

        self.assertGreaterEqual(share(late, exact), 0.95,
                                [user_functions(s) for s in late if not exact(s)][:3])

    def test_exec_replaces_the_image(self):
        # Same pid, a new image a second in: the old entry must not be used for it.
        windows = capture_windows(self, "exec", 6, 1)
        late = DeepChain.leaf_samples([s for w in windows[-2:] for s in w])
        self.assertGreater(sum(s.count for s in late), 40)
        self.assertGreaterEqual(share(late, DeepChain.exact), 0.95,
                                [user_functions(s) for s in late if not DeepChain.exact(s)][:3])


class FromTheFirstSample(ft.TempDirTestCase):
    """A process of a program seen before is walked by CFI from its first sample.

    The kernel-side hooks register each process's executable mappings at exec and
    mmap, and the walker finds the files' tables by (dev, inode): no round trip
    through the agent sits between an exec and a complete stack. Before them, every
    process went by frame pointers until the agent had read its maps (10-20 ms here,
    the whole life of a short process)."""

    RUNS = 40
    LIFE = 0.04

    def test_short_lived_processes_are_complete_from_their_first_sample(self):
        out = self.path("short.pb.gz")
        # -v: the unwinder's summary is checked
        agent = subprocess.Popen([ft.FORNAX, "--duration", "300s", "-F", "499", "--no-kernel",
                                  "-v", "-o", out], stderr=subprocess.PIPE, text=True)
        lines = []
        for line in agent.stderr:
            lines.append(line)
            if "profiling " in line:
                break
        pids = set()
        try:
            # the program's and libc's tables, built once
            subprocess.run([WORKLOAD, "chain", "1", "1"], check=True)
            time.sleep(1 + ft.WORKLOAD_SLACK)
            for _ in range(self.RUNS):
                work = subprocess.Popen([WORKLOAD, "chain", str(self.LIFE), "1"])
                pids.add(str(work.pid))
                self.assertEqual(work.wait(timeout=60), 0)
        finally:
            agent.send_signal(signal.SIGINT)
            lines.extend(agent.stderr)
            agent.wait(timeout=60)
        err = "".join(lines)
        self.assertEqual(agent.returncode, 0, err)
        samples = [s for s in ft.read_pprof(out).samples if s.labels.get("pid") in pids and
                   user_functions(s)[:1] in (["leaf_a"], ["leaf_b"])]
        self.assertGreaterEqual(len({s.labels["pid"] for s in samples}), self.RUNS * 3 // 4,
                                "most short processes were sampled in their own code")
        self.assertGreater(sum(s.count for s in samples), 100)
        def whole(s):
            return s.labels.get("unwind") == "complete" and DeepChain.exact(s)

        complete = share(samples, whole)
        self.assertGreaterEqual(complete, 0.97, collections.Counter(
            s.labels.get("unwind") for s in samples if not DeepChain.exact(s)))
        # One process walked by frame pointers from its first sample to its last costs
        # only 2-3 % of the share: an entry the agent installed from maps read while the
        # exec was still mapping the image did that, under qemu's TCG in every other run.
        by_pid = collections.defaultdict(list)
        for s in samples:
            by_pid[s.labels["pid"]].append(s)
        lost = {pid: collections.Counter(s.labels.get("unwind") for s in own)
                for pid, own in by_pid.items()
                if sum(s.count for s in own) >= 5 and share(own, whole) < 0.5}
        self.assertEqual(lost, {}, "processes walked whole for less than half their samples")
        self.assertNotIn("attaching fornax_unwind", err, "every hook attached")
        walks = re.search(r"(\d+) walks of processes before the agent described them", err)
        self.assertTrue(walks and int(walks.group(1)) > 0, err)
        # walked whole, they did not wake the agent for their maps
        spared = re.search(r"(\d+) walks whole of processes too young to ask the agent", err)
        self.assertTrue(spared and int(spared.group(1)) > 0, err)


class KernelAndJit(ft.TempDirTestCase):
    def test_samples_in_the_kernel_unwind_from_the_saved_user_registers(self):
        """In a read(2), the user registers come from the task's saved state."""
        samples = capture(self, "read", 3, 1)
        in_kernel = [s for s in samples if s.stack and s.stack[0].kernel]
        self.assertGreater(sum(s.count for s in in_kernel), 20)

        def whole(s):
            frames = user_functions(s)
            if "read_loop" not in frames:
                return False
            i = frames.index("read_loop")
            # libc's read wrapper (no frame pointers) sits between the kernel and read_loop
            return (i <= 2 and frames[i:i + 3] == ["read_loop", "run_read", "main"]
                    and runtime_tail_ok(frames[i + 3:]))

        self.assertGreaterEqual(share(in_kernel, whole), 0.95,
                                [user_functions(s) for s in in_kernel if not whole(s)][:3])

    def test_code_without_cfi_is_crossed_by_its_frame_pointer(self):
        """A stub in anonymous executable memory, as JIT code: no CFI, a frame pointer."""
        samples = capture(self, "jit", 3, 1)
        leafs = [s for s in samples if user_functions(s)[:1] == ["jit_leaf"]]
        self.assertGreater(sum(s.count for s in leafs), 40)

        def crossed(s):
            frames = user_functions(s)
            return (s.labels.get("unwind") == "complete (with frame pointers)"
                    and frames[1:4] == ["[unknown]", "run_jit", "main"]
                    and runtime_tail_ok(frames[4:]))

        self.assertGreaterEqual(share(leafs, crossed), 0.95,
                                [user_functions(s) for s in leafs if not crossed(s)][:3])


class DepthLimit(ft.TempDirTestCase):
    def test_deeper_stacks_are_marked_truncated(self):
        samples = capture(self, "deep", 2, 1)
        leafs = [s for s in samples if user_functions(s)[:1] == ["deep_leaf"]]
        self.assertTrue(leafs)

        def cut_at_depth(s):
            frames = user_functions(s)
            return (s.labels.get("unwind") == "truncated: depth limit"
                    and len(frames) == 128 and frames[-1] == "[truncated]"
                    and set(frames[1:-1]) == {"recurse"})

        walked = [s for s in leafs if s.labels.get("unwind") != "frame pointers"]
        self.assertGreaterEqual(share(leafs, lambda s: s in walked), 0.9)
        self.assertGreaterEqual(share(walked, cut_at_depth), 0.99,
                                [user_functions(s)[-3:] for s in walked if not cut_at_depth(s)][:3])


# The run's books: "done: N samples in P profiles, L lost (A samples: ..., D stacks dropped)".
DONE_RE = re.compile(r"done: (\d+) samples in (\d+) profiles, (\d+) lost \((\d+) samples: "
                     r"counts map full, (\d+) stacks dropped\)")
COMMENT_RE = re.compile(r"fornax: (\d+) (samples lost|stacks dropped)")


class BesideChurn(ft.TempDirTestCase):
    """An FP-less program while short-lived processes come and go around it.

    Every sample's stack is stored in the kernel's stacks map; a stack seen
    before must be found there, not dropped (Linux before 6.4 hands map
    errors to programs zero-extended). Whatever is lost is counted, and the
    counts agree with what the profiles show.
    """

    def test_stacks_stay_complete_and_losses_match_the_profiles(self):
        seconds, outdir = 12, self.path("windows")
        work = subprocess.Popen([WORKLOAD, "chain", "60", "1"])
        env = {k: v for k, v in os.environ.items() if not k.startswith("FORNAX_")}
        try:
            time.sleep(0.3)
            pids = process_tree(work.pid)
            agent = subprocess.Popen([ft.FORNAX, "--interval", "3s", "-F", str(FREQUENCY),
                                      "-o", outdir], env=env, stderr=subprocess.PIPE, text=True)
            # the churn runs from the first window on, however long the start took
            started = []
            for line in agent.stderr:
                started.append(line)
                # not "error" alone: the first line may say "map errors are read as int"
                if "profiling " in line or "fornax: error" in line:
                    break
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                subprocess.run([CHURN, "20", "2", "30", "2"], check=True, timeout=60)
            agent.send_signal(signal.SIGTERM)
            _, err = agent.communicate(timeout=60)
            err = "".join(started) + err
            self.assertEqual(agent.returncode, 0, err)
        finally:
            for pid in process_tree(work.pid):
                os.kill(int(pid), signal.SIGKILL)
            work.wait()
        profiles = [ft.read_pprof(f)
                    for f in sorted(glob.glob(os.path.join(outdir, "fornax-*.pb.gz")))]
        self.assertGreaterEqual(len(profiles), 3, err)

        def dropped(s):
            return any(f.startswith("[stack dropped") for f in s.frames())

        shown_dropped = sum(p.total(dropped) for p in profiles)
        # Map sizes assume drains on time; the sanitizers' agent drains several times slower.
        if os.environ.get("FORNAX_SANITIZE", "OFF").upper() in ("OFF", "0", ""):
            self.assertEqual(shown_dropped, 0, "stacks dropped at the default map sizes")
        done = DONE_RE.search(err)
        self.assertIsNotNone(done, err)
        samples, n_profiles, lost, samples_lost, stacks_dropped = map(int, done.groups())
        self.assertEqual(n_profiles, len(profiles))
        self.assertEqual(samples, sum(p.total() for p in profiles))
        self.assertEqual(lost, samples_lost + stacks_dropped)
        # a sample lost to a full counts map may have had its stack dropped too
        if samples_lost:
            self.assertGreaterEqual(stacks_dropped, shown_dropped)
        else:
            self.assertEqual(stacks_dropped, shown_dropped)
        said = {"samples lost": 0, "stacks dropped": 0}
        for p in profiles:
            for c in p.comments:
                m = COMMENT_RE.match(c)
                if m:
                    said[m[2]] += int(m[1])
        self.assertEqual(said, {"samples lost": samples_lost, "stacks dropped": stacks_dropped})

        # The first window holds the walks by frame pointers from before the
        # program's tables were in; afterwards its stacks are whole.
        steady = [s for p in profiles[1:] for s in DeepChain.leaf_samples(p.by_pids(pids))]
        self.assertGreater(sum(s.count for s in steady), 50)
        self.assertGreaterEqual(share(steady, DeepChain.exact), 0.99,
                                [user_functions(s) for s in steady if not DeepChain.exact(s)][:3])
        churned = sum(p.total(lambda s: s.labels.get("comm") == "fornax_churn") for p in profiles)
        self.assertGreater(churned, 0, "the churn ran beside the program")


SYSTEM_PYTHON = "/usr/bin/python3"


class DebianPython(ft.TempDirTestCase):
    def test_interpreter_stacks_are_complete_and_invent_no_frame(self):
        """A pure-Python loop in Debian's python3: whole stacks, every frame real code."""
        if not os.path.exists(SYSTEM_PYTHON):
            ft.skip_or_fail(f"{SYSTEM_PYTHON} is not installed")
        out = self.path("python.pb.gz")
        seconds = 6
        work = subprocess.Popen([SYSTEM_PYTHON, "-c", ft.PYTHON_LOOP, str(seconds + 3)])
        try:
            time.sleep(0.5)  # past the interpreter's start-up
            ft.run_fornax(["--duration", f"{seconds}s", "-F", str(FREQUENCY), "-o", out,
                           f"--pid={work.pid}"])
        finally:
            work.wait()
        profile = ft.read_pprof(out)
        samples = [s for s in profile.samples
                   if s.labels.get("pid") == str(work.pid) and user_functions(s)]
        total = sum(s.count for s in samples)
        self.assertGreater(total, 300)

        def complete(s):
            return s.labels.get("unwind") == "complete" and user_functions(s)[-1] == "_start"

        def invented(s):
            # A user frame outside every executable mapping is not code that ran.
            return any(loc.mapping_id == 0 for loc in s.stack
                       if not loc.kernel and loc.address > 1)

        cut = [s for s in samples if not complete(s)]
        self.assertGreaterEqual(share(samples, complete), 0.99,
                                [(s.labels.get("unwind"), [hex(loc.address) for loc in s.stack])
                                 for s in cut][:5])
        bad = [[hex(loc.address) for loc in s.stack] for s in samples if invented(s)]
        self.assertEqual(bad, [])


if __name__ == "__main__":
    ft.require_bpf()
    if not WORKLOAD or not os.path.exists(WORKLOAD):
        ft.skip_or_fail("UNWIND_WORKLOAD does not name the helper program")
    unittest.main()
