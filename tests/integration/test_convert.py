# SPDX-License-Identifier: Apache-2.0
"""fornax convert on profiles from independent writers; no root, no BPF.

A CPU profile is made fresh by a tiny Go program using runtime/pprof
(tests/fixtures/pprof/gocpu, built here with Debian's golang-go), converted
to folded stacks, an SVG and pprof, and every number is checked against
what Go's own pprof tool reads from the same file. The committed fixtures
(google/pprof's encoder, as Parca Agent uses it) are checked line by line.
"""
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(__file__))
import fornaxtest as ft  # noqa: E402

FIXTURES = os.environ.get("FORNAX_FIXTURES",
                          os.path.join(os.path.dirname(__file__), "..", "fixtures", "pprof"))
SVG_NS = "{http://www.w3.org/2000/svg}"


def convert(args, check=True, **kw):
    proc = subprocess.run([ft.FORNAX, "convert"] + args, capture_output=True, text=True,
                          timeout=60, env={k: v for k, v in os.environ.items()
                                           if not k.startswith("FORNAX_")}, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"fornax convert {args} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def go_stacks(path):
    """{root-first function names: count} as Go's pprof reads the file."""
    out = collections.Counter()
    for s in ft.read_pprof(path).samples:
        frames = []
        for loc in reversed(s.stack):
            frames.extend(reversed(loc.names()))
        out[tuple(frames)] += s.count
    return out


def folded_stacks(path):
    return collections.Counter({tuple(f): n for f, n in ft.read_folded(path)})


def svg_frames(path):
    """[(name, count, x, width, y)] of every frame, in document order."""
    root = ET.parse(path).getroot()
    frames = root.find(f".//{SVG_NS}g[@id='frames']")
    out = []
    for g in frames.findall(f"{SVG_NS}g"):
        rect = g.find(f"{SVG_NS}rect")
        out.append((g.find(f"{SVG_NS}title").text.split("\n")[0], int(g.get("data-n")),
                    float(rect.get("x")), float(rect.get("width")), int(rect.get("y"))))
    return root, out


class GoRuntimeProfile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fornax-convert-")
        env = dict(os.environ, HOME=cls.tmp, GOCACHE=os.path.join(cls.tmp, "cache"),
                   GOPATH=os.path.join(cls.tmp, "gopath"), GOFLAGS="", GO111MODULE="on")
        binary = os.path.join(cls.tmp, "gocpu")
        subprocess.run(["go", "build", "-o", binary, "."], cwd=os.path.join(FIXTURES, "gocpu"),
                       env=env, check=True, timeout=300)
        cls.profile = os.path.join(cls.tmp, "go.pb.gz")
        subprocess.run([binary, cls.profile, "1.5"], check=True, timeout=120)
        cls.out = {ext: os.path.join(cls.tmp, "out." + ext) for ext in ("folded", "svg", "pb.gz")}
        cls.proc = convert([cls.profile, "--top", "5"] + [a for p in cls.out.values()
                                                          for a in ("-o", p)])
        cls.truth = go_stacks(cls.profile)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_folded_matches_go_exactly(self):
        self.assertGreater(sum(self.truth.values()), 100)
        self.assertEqual(folded_stacks(self.out["folded"]), self.truth)

    def test_reencoded_pprof_reads_the_same_in_go(self):
        self.assertEqual(go_stacks(self.out["pb.gz"]), self.truth)

    def test_svg_counts_match_go(self):
        root, frames = svg_frames(self.out["svg"])
        total = sum(self.truth.values())
        self.assertEqual(frames[0][0], "all")
        self.assertEqual(frames[0][1], total)
        self.assertEqual(int(root.get("data-total")), total)
        # Each function's frames add up to the samples whose stacks hold it.
        for fn in ("main.hotA", "main.hotB", "main.work"):
            want = sum(n for stack, n in self.truth.items() if fn in stack)
            got = sum(n for name, n, *_ in frames if name == fn)
            self.assertEqual(got, want, fn)
            width = sum(w for name, _, _, w, _ in frames if name == fn)
            self.assertAlmostEqual(width, want / total * 1180, delta=0.02 * 2)
        # hotA does twice hotB's work.
        a = sum(n for name, n, *_ in frames if name == "main.hotA")
        b = sum(n for name, n, *_ in frames if name == "main.hotB")
        self.assertAlmostEqual(a / (a + b), 2 / 3, delta=0.15)
        self.assertEqual(root.find(f"{SVG_NS}text[@id='title']").text, "go.pb.gz")

    def test_top_summary(self):
        lines = self.proc.stderr.splitlines()
        header = next(i for i, l in enumerate(lines) if l.startswith("Top 5 of "))
        self.assertIn(f"{sum(self.truth.values())} samples:", lines[header])
        flat = collections.Counter()
        for stack, n in self.truth.items():
            flat[stack[-1]] += n
        most = max(flat.values())
        first = lines[header + 2].split()
        self.assertEqual(int(first[0].replace(",", "")), most)
        self.assertIn(first[-1], [fn for fn, n in flat.items() if n == most])


class Fixtures(ft.TempDirTestCase):
    WANT = sorted([
        ("app;[unknown];[unknown];do_syscall_64_[k];ksys_read_[k]", 30),
        ("app;[unknown];[unknown]", 50),
        ("worker;main;operator&&<\"quoted\" & 'single'>;"
         "std::vector<std::pair<int, char>>::push_back(std::pair<int, char> const&)", 15),
        ("worker;main;operator&&<\"quoted\" & 'single'>;"
         "<alloc::vec::Vec<T> as core::ops::Drop>::drop", 5),
    ])

    def folded(self, path):
        with open(path) as f:
            return [(line.rsplit(" ", 1)[0], int(line.rsplit(" ", 1)[1])) for line in f]

    def test_parca_style_gzipped_raw_and_stdin(self):
        for name in ("parca_style.pb.gz", "parca_style.pb"):
            out = self.path(name + ".folded")
            convert([os.path.join(FIXTURES, name), "-o", out])
            self.assertEqual(self.folded(out), self.WANT, name)
        out = self.path("stdin.folded")
        with open(os.path.join(FIXTURES, "parca_style.pb.gz"), "rb") as f:
            convert(["-", "-o", out], stdin=f)
        self.assertEqual(self.folded(out), self.WANT)

    def test_parca_style_svg(self):
        out = self.path("p.svg")
        convert([os.path.join(FIXTURES, "parca_style.pb.gz"), "-o", out, "--icicle",
                 "--title", "a <title> & more", "--width", "1000"])
        root, frames = svg_frames(out)
        self.assertEqual(root.get("width"), "1000")
        self.assertEqual(root.find(f"{SVG_NS}text[@id='title']").text, "a <title> & more")
        names = {f[0]: f for f in frames}
        self.assertIn("operator&&<\"quoted\" & 'single'>", names)
        push = names["std::vector<std::pair<int, char>>::push_back(std::pair<int, char> const&)"]
        self.assertEqual(push[1], 15)
        self.assertAlmostEqual(push[3], 15 / 100 * 980, delta=0.01)
        # Icicle: the root on top, deeper frames lower.
        self.assertEqual(frames[0][4], 56)
        self.assertEqual(names["ksys_read"][4], 56 + 5 * 16)

    def test_bad_input_is_one_clear_error(self):
        cases = [
            (b"", "empty input"),
            (b"just some text\n", "not a pprof profile"),
            (open(os.path.join(FIXTURES, "parca_style.pb.gz"), "rb").read()[:200], "truncated"),
        ]
        for data, why in cases:
            with self.subTest(why=why):
                src = self.path("bad.pb.gz")
                with open(src, "wb") as f:
                    f.write(data)
                proc = convert([src, "-o", self.path("bad.svg")], check=False)
                self.assertEqual(proc.returncode, 1)
                lines = proc.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, proc.stderr)
                self.assertIn(why, lines[0])
                self.assertIn(src, lines[0])
                self.assertFalse(os.path.exists(self.path("bad.svg")))
        proc = convert([self.path("missing.pb.gz"), "-o", self.path("x.svg")], check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("No such file", proc.stderr)


if __name__ == "__main__":
    if not ft.FORNAX or not os.path.exists(ft.FORNAX):
        print("FORNAX does not name the fornax binary", file=sys.stderr)
        sys.exit(1)
    if not shutil.which("go"):
        ft.skip_or_fail("go (golang-go) is needed to write and read profiles independently")
    unittest.main()
