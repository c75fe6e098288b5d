# SPDX-License-Identifier: Apache-2.0
"""Where profiles go, checked before any sample: files, devices, FIFOs, stdout.

No BPF: every refusal here happens while the command line is read, and the
writing itself is the same code for `fornax convert` as for a capture.
"""
import os
import pty
import shutil
import stat
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import fornaxtest as ft  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "pprof")
GO_PROFILE = os.path.join(FIXTURES, "go_cpu.pb.gz")


def fornax(args, **kw):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORNAX_")}
    env.update(kw.pop("env", {}))
    kw.setdefault("capture_output", True)
    return subprocess.run([ft.FORNAX] + args, env=env, timeout=30, **kw)


def go_raw(data, tmp):
    """The profile as `go tool pprof -raw` reads it (it cannot read a pipe itself)."""
    path = os.path.join(tmp, "piped.pb.gz")
    with open(path, "wb") as f:
        f.write(data)
    return ft.read_pprof(path)


class Refusals(ft.TempDirTestCase):
    """Mistakes in -o end the run at once, in one line, before anything is sampled."""

    def assertRefused(self, args, mentions, env=None):
        start = time.monotonic()
        proc = fornax(args, env=env or {}, text=True)
        elapsed = time.monotonic() - start
        self.assertEqual(proc.returncode, 2, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertIn(mentions, lines[0])
        # Refused while reading the command line: no BPF program was loaded.
        self.assertNotIn("profiling", proc.stderr)
        self.assertLess(elapsed, 1.0)
        return lines[0]

    def test_missing_directory_fails_before_sampling(self):
        out = self.path("no/such/dir/p.pb.gz")
        line = self.assertRefused(["-d", "30s", "-o", out], out)
        self.assertIn("does not exist", line)
        self.assertFalse(os.path.exists(self.path("no")))
        # Every output is checked, not only the first.
        self.assertRefused(["-d", "30s", "-o", self.path("ok.svg"), "-o", out], out)
        self.assertRefused(["-d", "30s"], out, env={"FORNAX_OUTPUT": out})

    def test_directory_and_unwritable_targets(self):
        self.assertRefused(["-d", "1s", "-o", self.tmp], "is a directory")
        blocked = self.path("ro")
        os.mkdir(blocked, 0o500)
        if os.geteuid() != 0:
            self.assertRefused(["-d", "1s", "-o", os.path.join(blocked, "p.pb.gz")], "ro")
        plain = self.path("plain")
        open(plain, "w").close()
        self.assertRefused(["-d", "1s", "-o", os.path.join(plain, "p.pb.gz")], "plain")

    def test_unknown_extension_needs_format(self):
        out = self.path("flame.png")
        for args in (["-d", "1s", "-o", out], ["convert", GO_PROFILE, "-o", out]):
            with self.subTest(args=args):
                line = self.assertRefused(args, "flame.png")
                self.assertIn("--format", line)
        self.assertFalse(os.path.exists(out))
        # With --format the name is the user's business.
        proc = fornax(["convert", GO_PROFILE, "-o", out, "--format", "svg"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(out, "rb") as f:
            self.assertTrue(f.read(64).startswith(b"<?xml"))

    def test_duration_that_would_wrap_the_clock(self):
        # 5124095 h is just under 2^64 ns: start + duration would wrap.
        line = self.assertRefused(["-d", "5124095h", "-o", self.path("p.pb.gz")], "--duration")
        self.assertIn("too large", line)
        self.assertRefused(["-d", "8761h"], "--duration")
        proc = fornax(["-d", "8760h", "--help"])
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_continuous_mode_needs_a_directory(self):
        path = self.path("not-a-dir")
        with open(path, "w") as f:
            f.write("keep\n")
        line = self.assertRefused(["-o", path, "--interval", "1s"], path)
        self.assertIn("not a directory", line)
        with open(path) as f:
            self.assertEqual(f.read(), "keep\n")
        self.assertRefused(["-o", "-"], "not a directory")
        self.assertRefused(["-o", self.path("a/b")], "parent directory")

    def test_stdout_once_and_never_binary_to_a_terminal(self):
        self.assertRefused(["-d", "1s", "-o", "-", "-o", "/dev/stdout"], "standard output")
        leader, follower = pty.openpty()
        try:
            proc = fornax(["convert", GO_PROFILE, "-o", "-"], stdout=follower,
                          stderr=subprocess.PIPE, capture_output=False)
        finally:
            os.close(follower)
            os.close(leader)
        self.assertEqual(proc.returncode, 2)
        self.assertIn(b"terminal", proc.stderr)


class TopSummary(unittest.TestCase):
    PARCA = os.path.join(FIXTURES, "parca_style.pb.gz")

    def rows(self, *args):
        proc = fornax(["convert", self.PARCA] + list(args), text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = proc.stderr.splitlines()
        return [(int(l.split()[0]), l.split(None, 5)[5]) for l in lines[2:]]

    def test_unnamed_code_is_grouped_by_mapping_as_pprof_does(self):
        go = subprocess.run(["go", "tool", "pprof", "-top", "-symbolize=none", self.PARCA],
                            capture_output=True, text=True, check=True, timeout=60).stdout
        want = []
        for line in go.splitlines():
            f = line.split(None, 5)
            if len(f) == 6 and f[0].isdigit():
                want.append((int(f[0]), f[5]))
        got = self.rows("--top", "20")
        self.assertEqual([r for r in got if r[0]], [r for r in want if r[0]])
        self.assertNotIn("[unknown]", [name for _, name in got])

    def test_by_process(self):
        self.assertEqual(self.rows("--top", "5", "--top-by", "comm"),
                         [(80, "app"), (20, "worker")])


class SampleIndex(ft.TempDirTestCase):
    def test_value_chosen_by_type_as_pprof_does(self):
        truth = ft.read_pprof(GO_PROFILE)
        self.assertEqual(truth.sample_types[:2], ["samples/count", "cpu/nanoseconds"])
        for index, value in ((None, 0), ("samples", 0), ("cpu", 1)):
            out = self.path(f"{index}.folded")
            args = ["convert", GO_PROFILE, "-o", out] + (["--sample-index", index] if index else [])
            proc = fornax(args, text=True)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertEqual(sum(n for _, n in ft.read_folded(out)),
                             sum(s.values[value] for s in truth.samples), index)

    def test_unknown_type_and_capture_use(self):
        proc = fornax(["convert", GO_PROFILE, "-o", self.path("x.svg"), "--sample-index",
                       "alloc_space"], text=True)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("alloc_space", proc.stderr)
        proc = fornax(["-d", "1s", "--sample-index", "cpu"], text=True)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("fornax convert only", proc.stderr)
        # Set for convert in the environment, it does not stop a capture's help.
        proc = fornax(["--help"], env={"FORNAX_SAMPLE_INDEX": "cpu"}, text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertNotIn("--sample-index", proc.stdout)


class Targets(ft.TempDirTestCase):
    """What is written where: never a device replaced, never a symlink followed."""

    def convert(self, *args):
        proc = fornax(["convert", GO_PROFILE] + list(args))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc

    def test_dev_null_stays_a_device(self):
        before = os.stat("/dev/null")
        self.convert("-o", "/dev/null")
        after = os.stat("/dev/null")
        self.assertTrue(stat.S_ISCHR(after.st_mode))
        self.assertEqual((before.st_ino, before.st_rdev), (after.st_ino, after.st_rdev))

    def test_dash_is_stdout_and_pprof(self):
        proc = self.convert("-o", "-")
        self.assertEqual(proc.stdout[:2], b"\x1f\x8b")
        self.assertEqual(len(go_raw(proc.stdout, self.tmp).samples),
                         len(ft.read_pprof(GO_PROFILE).samples))
        proc = self.convert("-o", "-", "--format", "folded")
        self.assertIn(b"main.", proc.stdout)

    def test_fifo_is_written_in_place(self):
        fifo = self.path("flame.svg")
        os.mkfifo(fifo)
        got = []

        def read():
            with open(fifo, "rb") as f:
                got.append(f.read())

        reader = threading.Thread(target=read)
        reader.start()
        # The reader is there before the write: let it open first.
        time.sleep(0.2)
        self.convert("-o", fifo)
        reader.join(10)
        self.assertTrue(got and got[0].startswith(b"<?xml"), got)
        self.assertTrue(stat.S_ISFIFO(os.lstat(fifo).st_mode))

    def test_fifo_without_reader_is_an_error_not_a_hang(self):
        fifo = self.path("p.pb.gz")
        os.mkfifo(fifo)
        proc = fornax(["convert", GO_PROFILE, "-o", fifo], text=True)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(fifo, proc.stderr)

    def test_symlink_at_the_target_is_replaced_not_followed(self):
        victim = self.path("victim")
        with open(victim, "w") as f:
            f.write("precious\n")
        out = self.path("out.svg")
        os.symlink(victim, out)
        self.convert("-o", out)
        with open(victim) as f:
            self.assertEqual(f.read(), "precious\n")
        self.assertFalse(os.path.islink(out))
        with open(out, "rb") as f:
            self.assertTrue(f.read(64).startswith(b"<?xml"))

    def test_planted_temporary_names_are_not_used(self):
        # Names the old writer used (PATH.tmp.PID), planted for the pids likely next.
        victim = self.path("victim")
        with open(victim, "w") as f:
            f.write("precious\n")
        out = self.path("p.pb.gz")
        with open("/proc/sys/kernel/ns_last_pid") as f:
            last = int(f.read())
        for pid in range(last + 1, last + 64):
            os.symlink(victim, f"{out}.tmp.{pid}")
        self.convert("-o", out)
        with open(victim) as f:
            self.assertEqual(f.read(), "precious\n")
        self.assertGreater(len(ft.read_pprof(out).samples), 0)

    def test_replacement_is_atomic_and_leaves_nothing_behind(self):
        out = self.path("p.folded")
        with open(out, "w") as f:
            f.write("old 1\n")
        before = os.stat(out).st_ino
        self.convert("-o", out, "-o", self.path("new.svg"))
        self.assertNotEqual(os.stat(out).st_ino, before)
        self.assertEqual(sorted(os.listdir(self.tmp)), ["new.svg", "p.folded"])


if __name__ == "__main__":
    if not ft.FORNAX or not os.path.exists(ft.FORNAX):
        print("FORNAX does not name the fornax binary", file=sys.stderr)
        sys.exit(1)
    if not shutil.which("go"):
        ft.skip_or_fail("go (golang-go) is needed to read profiles independently")
    unittest.main()
