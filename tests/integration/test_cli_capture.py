# SPDX-License-Identifier: Apache-2.0
"""What a user sees of a real capture: outputs in place and on stdout, start-up errors.

Real agent, real BPF, short captures of the workload helper.
"""
import os
import stat
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import fornaxtest as ft  # noqa: E402


def fornax(args, timeout=60, **kw):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORNAX_")}
    env.update(kw.pop("env", {}))
    return subprocess.run([ft.FORNAX] + args, env=env, capture_output=True, timeout=timeout, **kw)


class Outputs(ft.TempDirTestCase):
    def test_dev_null_is_written_in_place(self):
        before = os.stat("/dev/null")
        proc = fornax(["-d", "1s", "-o", "/dev/null"])
        self.assertEqual(proc.returncode, 0, proc.stderr.decode())
        after = os.stat("/dev/null")
        self.assertTrue(stat.S_ISCHR(after.st_mode), "/dev/null is no longer a device")
        self.assertEqual((before.st_ino, before.st_rdev), (after.st_ino, after.st_rdev))

    def test_dash_writes_gzipped_pprof_to_a_pipe(self):
        workload = ft.start_workload("split", 3, 1)
        try:
            proc = fornax(["-d", "2s", "-F", "99", "-o", "-", "--top", "0"])
        finally:
            workload.wait()
        self.assertEqual(proc.returncode, 0, proc.stderr.decode())
        self.assertEqual(proc.stdout[:2], b"\x1f\x8b")
        # Nothing but the profile on stdout: logs go to stderr.
        self.assertIn(b"wrote standard output", proc.stderr)
        path = self.path("piped.pb.gz")
        with open(path, "wb") as f:
            f.write(proc.stdout)
        samples = ft.read_pprof(path).samples
        self.assertTrue(any(s.labels.get("comm") == "fornax_workload" for s in samples))


if __name__ == "__main__":
    ft.require_bpf()
    unittest.main()
