# SPDX-License-Identifier: Apache-2.0
"""What a user sees of a real capture: outputs in place and on stdout, start-up errors.

Real agent, real BPF, short captures of the workload helper.
"""
import os
import stat
import subprocess
import sys
import threading
import time
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


def reaped(args):
    """A child that is reaped as soon as it exits, so its pid is truly gone."""
    proc = subprocess.Popen(args)
    threading.Thread(target=proc.wait, daemon=True).start()
    return proc


class StartUp(ft.TempDirTestCase):
    """What stops a capture before it starts is said in one line, before libbpf speaks."""

    def assertOneLine(self, args, mentions, prefix=()):
        start = time.monotonic()
        proc = fornax(args, text=True) if not prefix else subprocess.run(
            list(prefix) + [ft.FORNAX] + args, capture_output=True, text=True, timeout=60)
        self.assertNotEqual(proc.returncode, 0, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertIn(mentions, lines[0])
        self.assertLess(time.monotonic() - start, 2.0)
        return lines[0]

    def test_not_root(self):
        os.chmod(self.tmp, 0o777)
        line = self.assertOneLine(["-d", "1s", "-o", self.path("p.pb.gz")], "needs root",
                                  prefix=("setpriv", "--reuid", "65534", "--regid", "65534",
                                          "--clear-groups"))
        self.assertNotIn("CONFIG_BPF_SYSCALL", line)

    def test_root_without_bpf_capabilities(self):
        drop = ("setpriv", "--inh-caps", "-all", "--bounding-set")
        self.assertOneLine(["-d", "1s", "-o", self.path("p.pb.gz")], "CAP_BPF and CAP_PERFMON",
                           prefix=drop + ("-bpf,-perfmon,-sys_admin",))
        line = self.assertOneLine(["-d", "1s", "-o", self.path("p.pb.gz")], "CAP_PERFMON",
                                  prefix=drop + ("-perfmon,-sys_admin",))
        self.assertIn("without CAP_PERFMON (", line)

    def test_nonexistent_pid(self):
        gone = reaped(["true"])
        for _ in range(100):
            if not os.path.exists(f"/proc/{gone.pid}"):
                break
            time.sleep(0.01)
        self.assertOneLine(["-d", "1s", "--pid", str(gone.pid), "-o", self.path("p.pb.gz")],
                           f"--pid {gone.pid}: no such process")
        self.assertFalse(os.path.exists(self.path("p.pb.gz")))


class EmptyCaptures(ft.TempDirTestCase):
    """A capture with no samples says why, and fails only where that is a mistake."""

    def capture(self, *args):
        out = self.path("p.pb.gz")
        proc = fornax(["-d", "1500ms", "-o", out] + list(args), text=True)
        return proc, out

    def test_idle_process(self):
        idle = reaped(["sleep", "30"])
        try:
            proc, out = self.capture("--pid", str(idle.pid))
        finally:
            idle.kill()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("no samples: the process used no CPU time", proc.stderr)
        self.assertNotIn("Top 0", proc.stderr)
        self.assertTrue(os.path.exists(out))

    def test_process_that_exits_before_running(self):
        brief = reaped(["sleep", "0.3"])
        # Its exit takes a fraction of a millisecond of CPU, which a 99 Hz capture caught
        # once (exit_mmap): at 19 Hz the chance is a fifth of that.
        proc, _ = self.capture("--pid", str(brief.pid), "-F", "19")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn(f"process {brief.pid} exited during the capture", proc.stderr)
        self.assertIn("no samples: the process exited", proc.stderr)

    def test_process_that_exits_after_running(self):
        # The shell waits for a line, then becomes the workload (same pid) for half a second:
        # it runs and exits while sampled, however long the agent took to start.
        target = subprocess.Popen(["sh", "-c", f"read go; exec {ft.WORKLOAD} split 0.5 1"],
                                  stdin=subprocess.PIPE, text=True)
        out = self.path("p.pb.gz")
        agent = subprocess.Popen([ft.FORNAX, "-d", "3s", "--pid", str(target.pid), "-o", out],
                                 stderr=subprocess.PIPE, text=True)
        try:
            # The kernel-features line may come first; sampling starts with "profiling".
            started = ""
            for line in agent.stderr:
                started += line
                if "profiling" in line:
                    break
            self.assertIn("profiling", started)
            target.stdin.write("go\n")
            target.stdin.close()
            target.wait(10)
            rest = agent.communicate(timeout=60)[1]
        finally:
            target.kill()
            agent.kill()
        self.assertEqual(agent.returncode, 0, started + rest)
        self.assertIn(f"process {target.pid} exited during the capture", rest)
        self.assertGreater(len(ft.read_pprof(out).samples), 0)

    def test_empty_cgroup(self):
        root = ft.cgroup2_mount()
        if not root:
            ft.skip_or_fail("no cgroup2 filesystem mounted")
        cg = os.path.join(root, f"fornax-empty-{os.getpid()}")
        os.mkdir(cg)
        try:
            proc, _ = self.capture("--cgroup", cg)
        finally:
            os.rmdir(cg)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("no samples: no task under --cgroup", proc.stderr)


class Summary(ft.TempDirTestCase):
    def test_ad_hoc_defaults_to_99_hz_and_statistics_wait_for_v(self):
        out = self.path("p.pb.gz")
        quiet = fornax(["-d", "1s", "-o", out], text=True)
        self.assertEqual(quiet.returncode, 0, quiet.stderr)
        self.assertIn("at 99 Hz", quiet.stderr)
        self.assertEqual(int(ft.read_pprof(out).header["Period"]), 10**9 // 99)
        self.assertIn("fornax: info: done:", quiet.stderr)
        verbose = fornax(["-d", "1s", "-o", out, "-v"], text=True)
        self.assertEqual(verbose.returncode, 0, verbose.stderr)
        for stats in ("process events:", "drain schedule:"):
            self.assertNotIn(stats, quiet.stderr)
            self.assertIn(stats, verbose.stderr)


class Libraries(ft.TempDirTestCase):
    """What is not asked for is not loaded: libmicrohttpd pulls in GnuTLS and
    five more libraries (2.5 MiB of RSS), libcurl some 28."""

    def mapped_libraries(self, args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("FORNAX_")}
        agent = subprocess.Popen([ft.FORNAX, "-d", "30s", "-o", self.path("p.pb.gz")] + args,
                                 env=env, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 20
            while True:  # sampling has begun once the start-up line is out
                line = agent.stderr.readline()
                self.assertTrue(line, "the agent ended before sampling")
                if "profiling" in line:
                    break
                self.assertLess(time.monotonic(), deadline)
            with open(f"/proc/{agent.pid}/maps") as f:
                return {os.path.basename(l.split()[-1]) for l in f if "/" in l}
        finally:
            agent.kill()
            agent.communicate()

    def test_http_library_only_with_the_endpoint(self):
        libs = self.mapped_libraries([])
        self.assertFalse([l for l in libs if "microhttpd" in l or "gnutls" in l or
                          "libcurl" in l], sorted(libs))
        libs = self.mapped_libraries(["--http-address", "127.0.0.1:0"])
        self.assertTrue([l for l in libs if "microhttpd" in l], sorted(libs))


if __name__ == "__main__":
    ft.require_bpf()
    unittest.main()
