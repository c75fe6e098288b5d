# SPDX-License-Identifier: Apache-2.0
"""An ad-hoc capture a person reads: real BPF, the real binary, on a terminal.

One 5 s capture of the 50/30/20 workload, run on a pseudo-terminal, writes
pprof, SVG and folded stacks at once; the SVG must show the three hot
functions with widths in that ratio and the same counts as the pprof file
(read by Go's pprof); the terminal must have seen the progress line and
the top summary. Piped and -q captures must show neither the progress line
nor (with -q) the summary.
"""
import collections
import os
import pty
import re
import select
import subprocess
import sys
import time
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(__file__))
import fornaxtest as ft  # noqa: E402

COMM = "fornax_workload"
CPUS = os.cpu_count()
SVG_NS = "{http://www.w3.org/2000/svg}"
PROGRESS = re.compile(r"\r\x1b\[Kfornax: (\d+)s / 5s · ([\d,]+) samples · (\d+) process")


def run_on_terminal(args, timeout=60):
    """Runs fornax with stdout and stderr on a new pseudo-terminal; returns (status, output)."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORNAX_")}
    proc = subprocess.Popen([ft.FORNAX] + args, stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=slave, env=env)
    os.close(slave)
    out, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the last writer closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(timeout=10), out.decode(errors="replace")


def svg_frames(path):
    root = ET.parse(path).getroot()
    frames = []
    for g in root.find(f".//{SVG_NS}g[@id='frames']").findall(f"{SVG_NS}g"):
        rect = g.find(f"{SVG_NS}rect")
        frames.append({"name": g.find(f"{SVG_NS}title").text.split("\n")[0],
                       "title": g.find(f"{SVG_NS}title").text,
                       "n": int(g.get("data-n")), "x": float(rect.get("x")),
                       "w": float(rect.get("width")), "y": int(rect.get("y"))})
    return root, frames


def in_process(frames, comm):
    """The frames drawn above the process frame named comm (pre-order, so its subtree follows)."""
    out, inside, depth = [], False, None
    for f in frames:
        if inside and f["y"] >= depth:
            inside = False
        if f["name"] == comm and f["title"].split("\n")[1] == "process":
            inside, depth = True, f["y"]
            continue
        if inside:
            out.append(f)
    return out


class Capture(ft.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.dir = tempfile.mkdtemp(prefix="fornax-flame-")
        cls.files = {ext: os.path.join(cls.dir, "capture." + ext)
                     for ext in ("pb.gz", "svg", "folded")}
        workload = ft.start_workload("split", 8, CPUS)
        try:
            # Only this workload: another copy on the machine would share its comm.
            pids = ft.workload_pids(workload, CPUS)
            time.sleep(0.3)
            cls.status, cls.terminal = run_on_terminal(
                ["--duration", "5s", "-F", "199", "--top", "5", "--title", "split workload"] +
                [a for p in cls.files.values() for a in ("-o", p)] +
                [a for pid in sorted(pids) for a in ("-p", pid)])
        finally:
            workload.wait()

    def test_all_three_outputs_from_one_capture(self):
        self.assertEqual(self.status, 0, self.terminal)
        profile = ft.read_pprof(self.files["pb.gz"])
        total = profile.total()
        folded = sum(n for _, n in ft.read_folded(self.files["folded"]))
        root, frames = svg_frames(self.files["svg"])
        self.assertGreater(total, 200)
        self.assertEqual(folded, total)
        self.assertEqual(frames[0]["name"], "all")
        self.assertEqual(frames[0]["n"], total)
        self.assertEqual(root.find(f"{SVG_NS}text[@id='title']").text, "split workload")

    def test_svg_widths_follow_the_work_split(self):
        _, frames = svg_frames(self.files["svg"])
        mine = in_process(frames, COMM)
        self.assertTrue(mine, "no fornax_workload process frame")
        width = collections.Counter()
        count = collections.Counter()
        for f in mine:
            width[f["name"]] += f["w"]
            count[f["name"]] += f["n"]
        hot = sum(width[n] for n in ("leaf_a", "leaf_b", "leaf_c"))
        process = next(f for f in frames if f["name"] == COMM)
        self.assertGreater(hot, 0.9 * process["w"],
                           f"the leaves take {hot:.0f} of the process's {process['w']:.0f} px")
        leaves = sum(count[n] for n in ("leaf_a", "leaf_b", "leaf_c"))
        self.assertGreater(leaves, 200, f"only {leaves} samples in the leaves")
        for leaf, share in (("leaf_a", 0.5), ("leaf_b", 0.3), ("leaf_c", 0.2)):
            self.assertAlmostEqual(width[leaf] / hot, share, delta=0.05,
                                   msg=f"{leaf}: {width[leaf]:.1f} of {hot:.1f} px")
        # The same numbers as the pprof written by the same capture, by Go's reading of it.
        samples = ft.read_pprof(self.files["pb.gz"]).by_comm(COMM)
        for leaf in ("leaf_a", "leaf_b", "leaf_c", "dispatch", "main"):
            want = sum(s.count for s in samples if leaf in s.frames())
            self.assertEqual(count[leaf], want, leaf)
        # mix_step is inlined into each leaf: a frame of its own above it, with its line.
        inlined = [f for f in mine if f["name"] == "mix_step"]
        self.assertTrue(inlined)
        self.assertIn("workload.c:", inlined[0]["title"])

    def test_progress_line_and_top_summary_on_the_terminal(self):
        updates = PROGRESS.findall(self.terminal)
        self.assertGreaterEqual(len(updates), 3, repr(self.terminal[:2000]))
        seconds = [int(s) for s, _, _ in updates]
        samples = [int(n.replace(",", "")) for _, n, _ in updates]
        self.assertEqual(seconds, sorted(seconds))
        self.assertEqual(samples, sorted(samples))
        self.assertGreaterEqual(max(int(p) for _, _, p in updates), CPUS)
        # The line is erased before anything else is written.
        last = list(PROGRESS.finditer(self.terminal))[-1]
        self.assertRegex(self.terminal[last.end():], r"^(es)?\r\x1b\[Kfornax: info: ")
        lines = self.terminal.replace("\r\n", "\n").split("\n")
        header = next(i for i, l in enumerate(lines) if l.startswith("Top 5 of "))
        rows = lines[header + 2:header + 7]
        self.assertEqual(len(rows), 5, lines[header:])
        cum = {r.split()[-1]: float(r.split()[4].rstrip("%")) for r in rows}
        self.assertIn("mix_step", cum)  # inlined into every leaf: most of the self time

    def test_piped_and_quiet_captures_stay_plain(self):
        out = self.path("piped.svg")
        workload = ft.start_workload("split", 4, 1)
        time.sleep(0.3)
        try:
            piped = ft.run_fornax(["--duration", "1s", "-F", "99", "--top", "3", "-o", out])
            quiet = ft.run_fornax(["--duration", "1s", "-F", "99", "-q", "-o", out])
        finally:
            workload.wait()
        self.assertNotIn("\x1b[K", piped.stderr)
        self.assertNotIn("\r", piped.stderr)
        self.assertRegex(piped.stderr, r"Top 3 of \d+ functions, [\d,]+ samples:")
        self.assertEqual(quiet.stderr, "")
        ET.parse(out)


if __name__ == "__main__":
    ft.require_bpf()
    unittest.main()
