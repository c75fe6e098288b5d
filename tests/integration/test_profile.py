# SPDX-License-Identifier: Apache-2.0
"""The real fornax binary, real BPF, profiling helper programs of known shape."""
import glob
import math
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import fornaxtest as ft  # noqa: E402

COMM = "fornax_workload"
CPUS = os.cpu_count()


def stack_has_in_order(frames, expected):
    """True if expected (leaf-first) appear in frames in that order, consecutively."""
    n = len(expected)
    return any(frames[i:i + n] == expected for i in range(len(frames) - n + 1))


def leaf_function(sample):
    """The outermost function of the leaf location: inlined helpers belong to it."""
    for loc in sample.stack:
        if not loc.kernel and loc.lines:
            return loc.lines[-1].function
    return None


class SplitWorkload(ft.TempDirTestCase):
    """One capture of the 50/30/20 workload, checked from many angles."""

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.dir = tempfile.mkdtemp(prefix="fornax-split-")
        cls.out = os.path.join(cls.dir, "split.pb.gz")
        workload = ft.start_workload("split", 11, CPUS)
        cls.pids = ft.workload_pids(workload, CPUS)
        time.sleep(0.5)
        cls.seconds = 8
        cls.frequency = 199
        try:
            cls.proc = ft.run_fornax(["--duration", f"{cls.seconds}s", "-F", str(cls.frequency),
                                      "-o", cls.out])
        finally:
            workload.wait()
        cls.profile = ft.read_pprof(cls.out)
        cls.samples = cls.profile.by_pids(cls.pids)

    def test_pprof_header(self):
        p = self.profile
        self.assertEqual(p.header["PeriodType"], "cpu nanoseconds")
        self.assertEqual(int(p.header["Period"]), 10**9 // self.frequency)
        self.assertEqual(p.sample_types, ["samples/count", "cpu/nanoseconds"])
        for s in p.samples:
            self.assertEqual(s.values[1], s.values[0] * int(p.header["Period"]))
        # Parca's rule: ids are 1..N in order.
        self.assertEqual(sorted(p.locations), list(range(1, len(p.locations) + 1)))
        self.assertEqual(sorted(p.mappings), list(range(1, len(p.mappings) + 1)))

    def test_leaf_shares_match_the_work_split(self):
        total = sum(s.count for s in self.samples)
        # Alone on 2 CPUs the workload gets ~3000 samples; a loaded machine gives it fewer.
        self.assertGreater(total, 300)
        shares = {}
        for s in self.samples:
            leaf = leaf_function(s)
            shares[leaf] = shares.get(leaf, 0) + s.count
        for leaf, truth in (("leaf_a", 50), ("leaf_b", 30), ("leaf_c", 20)):
            share = 100.0 * shares.get(leaf, 0) / total
            # 4 points, or 3.5 standard deviations of sampling noise if fewer samples came.
            sigma = 100.0 * math.sqrt(truth / 100 * (1 - truth / 100) / total)
            self.assertAlmostEqual(share, truth, delta=max(4, 3.5 * sigma),
                                   msg=f"{leaf}: {share:.1f}% of {total} samples, want {truth}%")

    def test_stacks_reach_main_through_the_call_chain(self):
        complete = 0
        total = 0
        for s in self.samples:
            leaf = leaf_function(s)
            if leaf not in ("leaf_a", "leaf_b", "leaf_c"):
                continue
            total += s.count
            frames = [loc.lines[-1].function for loc in s.stack if loc.lines and not loc.kernel]
            if stack_has_in_order(frames, [leaf, "dispatch", "run_split", "main"]):
                complete += s.count
        self.assertGreater(total, 0)
        self.assertGreaterEqual(complete / total, 0.95, f"{complete}/{total} complete stacks")

    def test_file_line_and_inlined_frame(self):
        inlined = 0
        for s in self.samples:
            loc = s.stack[0]
            if loc.kernel or len(loc.lines) < 2:
                continue
            inner, outer = loc.lines[0], loc.lines[-1]
            if inner.function == "mix_step" and outer.function in ("leaf_a", "leaf_b", "leaf_c"):
                inlined += s.count
                self.assertTrue(inner.file.endswith("workload.c"), inner.file)
                self.assertTrue(outer.file.endswith("workload.c"), outer.file)
                self.assertGreater(inner.line, 0)
                self.assertGreater(outer.line, 0)
        self.assertGreater(inlined, 0, "no sample's leaf shows mix_step inlined into a leaf")

    def test_mapping_carries_build_id_and_range(self):
        want = ft.build_id(ft.WORKLOAD)
        used = {loc.mapping_id for s in self.samples for loc in s.stack if loc.mapping_id}
        found = [self.profile.mappings[i] for i in used
                 if self.profile.mappings[i]["file"].endswith("/fornax_workload")]
        self.assertTrue(found, self.profile.mappings)
        for m in found:
            self.assertEqual(m["build_id"], want)
            self.assertLess(m["start"], m["limit"])
        for s in self.samples:
            for loc in s.stack:
                if loc.mapping_id:
                    m = self.profile.mappings[loc.mapping_id]
                    self.assertTrue(m["start"] <= loc.address < m["limit"],
                                    f"{loc.address:#x} outside {m}")

    def test_labels(self):
        pids = set()
        for s in self.samples:
            self.assertEqual(s.labels["comm"], COMM)
            self.assertEqual(s.labels["thread_name"], COMM)
            self.assertTrue(s.labels["pid"].isdigit())
            self.assertTrue(s.labels["tid"].isdigit())
            pids.add(s.labels["pid"])
        self.assertEqual(pids, self.pids, "one process per CPU")


def window_wake_lateness(log, windows):
    """Seconds late the drain that closed each of the first windows woke.

    With -v every timed wake-up is logged, and a window's "wrote" line
    follows the drain that closed it.
    """
    late, last = [], None
    for line in log.splitlines():
        m = re.search(r"drain schedule: woke ([\d.]+) ms after the deadline", line)
        if m:
            last = float(m.group(1)) / 1e3
        elif "info: wrote " in line and last is not None:
            late.append(last)
            if len(late) == windows:
                break
    assert len(late) == windows, log
    return late


class Fornax(ft.TempDirTestCase):
    def test_kernel_frames_for_a_syscall_heavy_program(self):
        out = self.path("syscalls.pb.gz")
        workload = ft.start_workload("syscalls", 6, 1)
        pids = ft.workload_pids(workload, 1)
        time.sleep(0.3)
        try:
            ft.run_fornax(["--duration", "4s", "-F", "199", "-o", out])
        finally:
            workload.wait()
        samples = ft.read_pprof(out).by_pids(pids)
        total = sum(s.count for s in samples)
        in_kernel = sum(s.count for s in samples if s.stack and s.stack[0].kernel)
        self.assertGreater(total, 100)
        self.assertGreater(in_kernel / total, 0.5, f"{in_kernel}/{total} samples in the kernel")
        kernel_names = {n for s in samples for loc in s.stack if loc.kernel for n in loc.names()}
        self.assertTrue(any("sys_read" in n for n in kernel_names), sorted(kernel_names)[:40])
        # Under the kernel frames, the user stack continues to main. (do_reads
        # itself is invisible to a frame-pointer walk: libc's read() keeps no
        # frame, so the walk resumes at do_reads' caller.)
        through = sum(s.count for s in samples if s.stack and s.stack[0].kernel
                      and "run_syscalls" in s.frames() and "main" in s.frames())
        self.assertGreater(through / in_kernel, 0.9)

    def test_no_kernel_keeps_user_frames_only(self):
        out = self.path("user.pb.gz")
        workload = ft.start_workload("syscalls", 4, 1)
        time.sleep(0.3)
        try:
            ft.run_fornax(["--duration", "2s", "-F", "99", "--no-kernel", "-o", out])
        finally:
            workload.wait()
        p = ft.read_pprof(out)
        self.assertTrue(p.samples)
        self.assertFalse([l for l in p.locations.values() if l.kernel])

    def test_total_samples_match_frequency_across_many_drains(self):
        """Both CPUs busy: every tick is a sample and none may be lost between drains."""
        out = self.path("count.pb.gz")
        seconds, freq = 6, 97
        workload = ft.start_workload("split", seconds + 3, CPUS)
        time.sleep(0.5)
        try:
            proc = ft.run_fornax(["--duration", f"{seconds}s", "-F", str(freq),
                                  "--drain-interval", "100ms", "-v", "-o", out])
        finally:
            workload.wait()
        self.assertNotIn("do not balance", proc.stderr)
        drains = proc.stderr.count("fornax: debug: drain:")
        # One per 100 ms when idle; a loaded machine stretches the grace periods and skips ticks.
        self.assertGreaterEqual(drains, seconds * 10 // 3, "many drains in the capture")
        total = ft.read_pprof(out).total()
        expected = seconds * freq * CPUS
        self.assertGreaterEqual(total, 0.97 * expected, f"{total} samples, expected {expected}")
        self.assertLessEqual(total, 1.02 * expected, f"{total} samples, expected {expected}")

    def test_pid_filter(self):
        out = self.path("pid.pb.gz")
        workload = ft.start_workload("split", 4, 1)
        other = ft.start_workload("syscalls", 4, 1)
        time.sleep(0.3)
        try:
            ft.run_fornax(["--duration", "2s", "-F", "99", "--pid", str(workload.pid),
                           "-o", out])
        finally:
            workload.wait()
            other.wait()
        p = ft.read_pprof(out)
        self.assertTrue(p.samples)
        self.assertEqual({s.labels["pid"] for s in p.samples}, {str(workload.pid)})

    def test_folded_output(self):
        out = self.path("stacks.folded")
        workload = ft.start_workload("split", 4, 1)
        syscalls = ft.start_workload("syscalls", 4, 1)
        time.sleep(0.3)
        try:
            ft.run_fornax(["--duration", "2s", "-F", "199", "-o", out])
        finally:
            workload.wait()
            syscalls.wait()
        lines = ft.read_folded(out)  # folded has no pids: any copy of the workload will do
        self.assertTrue(lines)
        mine = [(frames, n) for frames, n in lines if frames[0] == COMM]
        self.assertTrue(any(stack_has_in_order(frames, ["main", "run_split", "dispatch", "leaf_a"])
                            for frames, _ in mine), mine[:5])
        self.assertTrue(any(f.endswith("_[k]") for frames, _ in mine for f in frames))
        # Sorted and merged: each stack once.
        keys = [";".join(f) for f, _ in lines]
        self.assertEqual(keys, sorted(set(keys)))

    def test_continuous_windows_and_sigterm_flush(self):
        outdir = self.path("profiles")
        freq = 97
        workload = ft.start_workload("split", 10, CPUS)
        time.sleep(0.3)
        env = {k: v for k, v in os.environ.items() if not k.startswith("FORNAX_")}
        env.update({"FORNAX_INTERVAL": "1s", "FORNAX_FREQUENCY": str(freq),
                    "FORNAX_OUTPUT": outdir, "FORNAX_DRAIN_INTERVAL": "250ms",
                    "FORNAX_VERBOSE": "1"})
        agent = subprocess.Popen([ft.FORNAX], env=env, stderr=subprocess.PIPE, text=True)
        # Stop mid-window once three windows are out (startup time varies).
        deadline = time.monotonic() + 20
        while len(glob.glob(os.path.join(outdir, "fornax-*.pb.gz"))) < 3:
            self.assertLess(time.monotonic(), deadline, "no three windows in 20 s")
            time.sleep(0.05)
        # Halfway through the fourth window, however long the third took to write.
        third = ft.read_pprof(sorted(glob.glob(os.path.join(outdir, "fornax-*.pb.gz")))[2])
        end = (third.time_nanos + third.duration_nanos) / 1e9
        time.sleep(max(0.0, end + 0.5 - time.time()))
        agent.send_signal(signal.SIGTERM)
        _, err = agent.communicate(timeout=30)
        workload.wait()
        self.assertEqual(agent.returncode, 0, err)
        files = sorted(glob.glob(os.path.join(outdir, "fornax-*.pb.gz")))
        profiles = [ft.read_pprof(f) for f in files]
        # Three full windows and the partial one flushed at SIGTERM.
        self.assertEqual(len(files), 4, f"{files}\n{err}")
        shape = [(round(p.duration, 3), p.total()) for p in profiles]
        # The first window also holds the first symbolization of every file the
        # machine runs (a sanitizer build on two busy CPUs: up to 2 s); the
        # loop then gives the next window a full interval, not the rest of one.
        self.assertGreaterEqual(profiles[0].duration, 0.9, shape)
        self.assertLess(profiles[0].duration, 5.0, shape)
        # A window closes at the first drain past its end: it runs the interval
        # plus how late that drain woke, and a few ms late keeps the schedule,
        # so the next one is that much shorter. A sanitizer build on two CPUs
        # the workload keeps busy wakes up to a few hundred ms late; a release
        # build a few ms. The bound is the lateness logged for these windows.
        late = window_wake_lateness(err, 3)
        self.assertLess(max(late[1:3]), 1.0, f"{shape}\n{err}")
        for i in (1, 2):
            bound = max(late[i - 1], late[i]) + 0.01
            self.assertAlmostEqual(profiles[i].duration, 1.0, delta=bound,
                                   msg=f"{shape}, closing drains woke {late} s late")
        self.assertLess(profiles[3].duration, 0.9, shape)
        # Windows tile the run: each starts where the one before ended.
        for a, b in zip(profiles, profiles[1:]):
            self.assertAlmostEqual(a.time_nanos + a.duration_nanos, b.time_nanos,
                                   delta=1e6, msg=shape)
        # Both CPUs busy: each window's duration is the time its samples
        # cover, so it holds its share of ticks, however long its drains took.
        for p in profiles[:3]:
            self.assertAlmostEqual(p.total() / (freq * CPUS * p.duration), 1.0, delta=0.06,
                                   msg=shape)
        total = sum(p.total() for p in profiles)
        expected = freq * CPUS * sum(p.duration for p in profiles)
        self.assertGreaterEqual(total, 0.96 * expected, f"{total} vs {expected:.0f}\n{err}")
        self.assertLessEqual(total, 1.02 * expected, f"{total} vs {expected:.0f}\n{err}")
        self.assertFalse(glob.glob(os.path.join(outdir, "*.tmp.*")))


if __name__ == "__main__":
    ft.require_bpf()
    unittest.main()
