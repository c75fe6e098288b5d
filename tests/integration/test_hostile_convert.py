# SPDX-License-Identifier: Apache-2.0
"""Issue 16, case 7 and --top's terminal output: fornax convert on hostile profiles.

No root, no BPF. The inputs are written by pprof_craft.py and checked with
protoc --decode against Debian's copy of upstream profile.proto, so they are
profiles any pprof reader accepts.
"""
import os
import subprocess
import sys
import time
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(__file__))
import fornaxtest as ft  # noqa: E402
import hostile as h  # noqa: E402
import pprof_craft as pc  # noqa: E402

# How today's convert fails each of these; the fix removes the entry (hostile.py says why).
KNOWN_FAILURES = {
}

MAX_RSS_KB = 256 << 10  # the bomb must be refused long before this
KILL_RSS_KB = 1 << 20   # and the test stops it here, to spare the machine


def checked(test, path):
    """The profile decodes with protoc (an independent reader): the input is valid pprof."""
    with open(path, "rb") as f:
        raw = f.read()
    proc = subprocess.run(["protoc", "--decode=perftools.profiles.Profile", "-I",
                           ft.UPSTREAM_PROTO_DIR,
                           os.path.join(ft.UPSTREAM_PROTO_DIR, "profile.proto")],
                          input=raw, capture_output=True, timeout=60)
    test.assertEqual(proc.returncode, 0, proc.stderr.decode())
    return proc.stdout.decode()


def convert(args, timeout=60):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORNAX_")}
    return subprocess.run([ft.FORNAX, "convert"] + args, capture_output=True, timeout=timeout,
                          env=env)


def crashed(proc):
    err = proc.stderr.decode(errors="replace")
    return proc.returncode < 0 or "Sanitizer" in err or "runtime error" in err


class Convert(ft.TempDirTestCase):
    def write(self, name, profile):
        path = self.path(name)
        with open(path, "wb") as f:
            f.write(profile.encode())
        return path

    def test_sample_without_locations_to_folded(self):
        # Go's runtime/pprof labels no sample with a comm; a sample may have no stack.
        p = pc.Profile()
        p.sample_type("samples", "count")
        p.sample_type("cpu", "nanoseconds")
        p.sample([], [3, 30000000])
        p.sample([p.location([p.function("main.work")])], [2, 20000000])
        src = self.write("go.pb", p)
        checked(self, src)
        out = self.path("out.folded")
        proc = convert([src, "-o", out])
        self.assertFalse(crashed(proc), f"convert {h.signal_name(proc.returncode)}: "
                         f"{proc.stderr.decode(errors='replace')[-2000:]}")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(out) as f:
            lines = f.read().splitlines()
        self.assertIn("main.work 2", lines)
        self.assertEqual(sum(int(line.rsplit(" ", 1)[1]) for line in lines), 5,
                         f"every sample counted once: {lines}")

    def test_sample_type_named_empty_to_svg(self):
        p = pc.Profile()
        p.sample_type("", "count")
        p.sample([p.location([p.function("f")])], [7])
        src = self.write("empty-type.pb", p)
        self.assertIn("sample_type {\n  unit: 1\n}", checked(self, src))  # type 0: ""
        out = self.path("out.svg")
        proc = convert([src, "-o", out])
        self.assertFalse(crashed(proc), f"convert {h.signal_name(proc.returncode)}: "
                         f"{proc.stderr.decode(errors='replace')[-2000:]}")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        ET.parse(out)  # well-formed

    def test_millions_of_empty_samples_refused_fast(self):
        src = self.path("bomb.pb.gz")
        pc.write_bomb(src, 50_000_000)
        self.assertLess(os.path.getsize(src), 200 << 10)
        began = time.time()
        proc = subprocess.Popen([ft.FORNAX, "convert", src, "-o", self.path("out.folded")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        peak, killed = 0, None
        while proc.poll() is None:
            try:
                with open(f"/proc/{proc.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            peak = max(peak, int(line.split()[1]))
            except OSError:
                pass
            if peak > KILL_RSS_KB or time.time() - began > 60:
                killed = f"killed at {peak >> 10} MiB after {time.time() - began:.1f}s"
                proc.kill()
            time.sleep(0.02)
        elapsed = time.time() - began
        err = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        self.assertIsNone(killed, f"a {os.path.getsize(src) >> 10} KiB input was not refused "
                          f"in time: {killed}")
        self.assertLess(peak, MAX_RSS_KB, f"peak RSS {peak >> 10} MiB")
        self.assertLess(elapsed, 5, f"refused after {elapsed:.1f}s")
        self.assertGreater(proc.returncode, 0, f"{h.signal_name(proc.returncode)}: {err}")
        self.assertTrue(err.startswith("fornax: "), err)

    def test_top_shows_no_controls(self):
        p = pc.Profile()
        p.sample_type(b"samples\x1b]0;owned\x07", "count")
        names = [b"csi_\xc2\x9b2J", b"raw_\x9b31m", b"nel_\xc2\x85", b"esc_\x1b[2J"]
        for i, n in enumerate(names):
            p.sample([p.location([p.function(n)])], [10 + i])
        src = self.write("controls.pb", p)
        # raw 0x9b is not UTF-8, which protoc refuses in a string: Go's reader takes it
        go = subprocess.run(["go", "tool", "pprof", "-raw", "-symbolize=none", src],
                            capture_output=True, timeout=120)
        self.assertEqual(go.returncode, 0, go.stderr)
        self.assertIn(b"raw_\x9b31m", go.stdout)
        proc = convert([src, "--top", "10"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        text = proc.stderr.decode("utf-8", errors="surrogateescape")
        for prefix in ("csi_", "raw_", "nel_", "esc_"):
            self.assertIn(prefix, text)
        controls = [hex(ord(c)) for c in text
                    if (ord(c) < 0x20 and c not in "\n\t") or 0x7f <= ord(c) <= 0x9f
                    or 0xdc80 <= ord(c) <= 0xdc9f]
        self.assertEqual(controls, [], f"control characters reached the terminal:\n{text!r}")


h.apply_known_failures(globals(), KNOWN_FAILURES)

if __name__ == "__main__":
    if not ft.FORNAX or not os.path.exists(ft.FORNAX):
        ft.skip_or_fail("FORNAX does not name the fornax binary")
    unittest.main()
