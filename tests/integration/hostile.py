# SPDX-License-Identifier: Apache-2.0
"""Shared pieces of the hostile-input tests (issue 16).

The agent runs as root; every attack runs as an unprivileged user (uid
65534, through setpriv), inside a container root where one is needed
(`unshare --mount --pid --fork --root`). What is asserted is what the agent
owes the machine: it goes on writing profiles, stops on SIGTERM in time,
opens nothing outside the container, overwrites nothing, stays within its
memory.

Cases that today's agent fails are listed in each test file's
KNOWN_FAILURES and run as expected failures: a listed test that passes is
an "unexpected success", which fails the run, so the change that fixes a
case must remove its entry. FORNAX_HOSTILE_STRICT=1 runs the listed tests
as plain tests, to see how they fail.
"""
import ctypes
import functools
import os
import signal
import struct
import subprocess
import sys
import time
import unittest

import fornaxtest as ft

NOBODY = 65534
HELPERS = os.path.join(os.environ.get("FORNAX_HELPERS", ""), "hostile")
UNWIND_WORKLOAD = os.path.join(os.environ.get("FORNAX_HELPERS", ""), "unwind_workload")
# systemd's unit gives the agent 45 s to stop, of which the store may take 30 s
# (deploy/fornax.service); without a store a few seconds are plenty.
STOP_TIMEOUT = 10


def strict():
    return os.environ.get("FORNAX_HOSTILE_STRICT", "") == "1"


def _known_failure(fn, why, racy):
    """fn as an expected failure, but only by a failed assertion: a broken test stays an error.

    A racy case (one whose attack wins a race most of the time, not always)
    counts as an expected failure either way, and says which it was.
    """
    @functools.wraps(fn)
    def run(self):
        try:
            fn(self)
        except AssertionError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else "?"
            print(f"\n  known failure ({why}): {first[:300]}", file=sys.stderr)
            raise
        except unittest.SkipTest:
            raise
        except Exception:
            outcome = getattr(self, "_outcome", None)
            if outcome is not None and hasattr(outcome, "expecting_failure"):
                outcome.expecting_failure = False
            raise
        if racy:
            print(f"\n  known failure ({why}): the race was not won this run", file=sys.stderr)
            raise AssertionError("the race was not won this run")
    return unittest.expectedFailure(run)


def apply_known_failures(namespace, known, racy=()):
    """Marks each listed test ("Class.test_name") of the module as an expected failure.

    Those also in racy may pass as well (see _known_failure).
    """
    if strict():
        return
    seen = set()
    for cls_name, cls in list(namespace.items()):
        if not (isinstance(cls, type) and issubclass(cls, unittest.TestCase)):
            continue
        for attr in dir(cls):
            key = f"{cls_name}.{attr}"
            if key in known:
                setattr(cls, attr, _known_failure(getattr(cls, attr), known[key], key in racy))
                seen.add(key)
    missing = set(known) - seen
    if missing:
        raise RuntimeError(f"KNOWN_FAILURES names tests that do not exist: {sorted(missing)}")


def require_root_and_bpf():
    ft.require_bpf()
    for tool in ("setpriv", "unshare", "objcopy", "strace"):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            ft.skip_or_fail(f"{tool} (util-linux) is needed")
    if not os.path.isdir(HELPERS):
        ft.skip_or_fail(f"no hostile helpers in {HELPERS} (FORNAX_HELPERS)")


def helper(name):
    return os.path.join(HELPERS, name)


def as_user(argv):
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"] + argv


def run_as_user(argv, **kw):
    return subprocess.run(as_user(argv), check=True, timeout=60, **kw)


def chown_user(*paths):
    for p in paths:
        os.lchown(p, NOBODY, NOBODY)


def signal_name(rc):
    if rc is None:
        return "still running"
    if rc < 0:
        return f"killed by {signal.Signals(-rc).name}"
    if rc > 128:
        try:
            return f"exit {rc} ({signal.Signals(rc - 128).name})"
        except ValueError:
            pass
    return f"exit {rc}"


class HostileCase(ft.TempDirTestCase):
    """A temporary directory the user can reach, and what each case plants in it."""

    def setUp(self):
        super().setUp()
        os.chmod(self.tmp, 0o755)

    def user_dir(self, name, mode=0o755):
        """A directory of the user's."""
        d = self.path(name)
        os.mkdir(d)
        os.chmod(d, mode)
        chown_user(d)
        return d

    def host_file(self, dirname, name, text, dir_mode=0o755, mode=0o644):
        """A file of root's, in a directory of root's: what the host has and a user must not reach."""
        d = self.path(dirname)
        if not os.path.isdir(d):
            os.mkdir(d)
            os.chmod(d, dir_mode)
        p = os.path.join(d, name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        return p


class Inotify:
    """Tells whether anyone opened a file: the agent must not open files outside a container."""
    IN_ACCESS, IN_OPEN = 0x1, 0x20

    def __init__(self):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.watches = {}

    def watch(self, path):
        wd = self.libc.inotify_add_watch(self.fd, os.fsencode(path), self.IN_OPEN | self.IN_ACCESS)
        if wd < 0:
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {path}")
        self.watches[wd] = path

    def opened(self):
        """Paths opened or read since the last call."""
        out = []
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                return out
            pos = 0
            while pos + 16 <= len(buf):
                wd, mask, _, length = struct.unpack_from("iIII", buf, pos)
                pos += 16 + length
                out.append((self.watches.get(wd, "?"), "open" if mask & self.IN_OPEN else "read"))

    def close(self):
        os.close(self.fd)


class Agent:
    """The real agent in continuous mode, one profile per second into outdir."""

    def __init__(self, test, args=(), prefix=(), outdir=None, frequency=99, continuous=True,
                 env=None):
        self.test = test
        self.outdir = outdir or test.path("profiles")
        self.log_path = test.path("agent.log")
        argv = list(prefix) + [ft.FORNAX]
        if continuous:
            argv += ["-o", self.outdir, "--interval", "1s", "--max-files", "0"]
        argv += ["-F", str(frequency)] + list(args)
        env = dict({k: v for k, v in os.environ.items() if not k.startswith("FORNAX_")},
                   **(env or {}))
        self.log = open(self.log_path, "w")
        # A session of its own, as systemd starts a service: no controlling terminal.
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.pid = self.proc.pid
        self.started = time.time()
        test.addCleanup(self.kill)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def alive(self):
        return self.proc.poll() is None

    def windows(self, since=0.0):
        """Profiles written at or after `since` (time.time()), oldest first."""
        try:
            names = os.listdir(self.outdir)
        except FileNotFoundError:
            return []
        out = []
        for n in names:
            if n.startswith("fornax-") and n.endswith(".pb.gz"):
                p = os.path.join(self.outdir, n)
                try:
                    if os.stat(p).st_mtime >= since:
                        out.append(p)
                except FileNotFoundError:
                    pass
        return sorted(out)

    def wait_windows(self, since, n, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = self.windows(since)
            if len(got) >= n or not self.alive():
                return got
            time.sleep(0.2)
        return self.windows(since)

    def wait_started(self, timeout=60):
        got = self.wait_windows(0, 1, timeout)
        self.test.assertTrue(got, f"the agent wrote no profile in {timeout}s: {self.describe()}")

    def threads(self):
        """Each thread's name and where it sleeps: what a hung agent is waiting for."""
        out = []
        try:
            tids = sorted(os.listdir(f"/proc/{self.pid}/task"), key=int)
        except OSError:
            return out
        for tid in tids:
            try:
                with open(f"/proc/{self.pid}/task/{tid}/comm") as f:
                    comm = f.read().strip()
                with open(f"/proc/{self.pid}/task/{tid}/wchan") as f:
                    wchan = f.read().strip()
                with open(f"/proc/{self.pid}/task/{tid}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            out.append(f"{comm}[{tid}] {state} {wchan}")
        return out

    def status(self, field):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return line.split(":", 1)[1].strip()
        return ""

    def tty_nr(self):
        with open(f"/proc/{self.pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[4])

    def tail(self, n=8):
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-n:])

    def describe(self):
        s = f"agent {signal_name(self.proc.poll())}"
        if self.alive():
            s += "; threads: " + ", ".join(self.threads())
        return s + "\n--- agent log (tail) ---\n" + self.tail()

    def assert_writing(self, since, n=3, timeout=None):
        """The agent is alive and wrote at least n profiles after `since`."""
        timeout = timeout or n + 8
        got = self.wait_windows(since, n, timeout)
        self.test.assertTrue(self.alive(), f"the agent is gone: {self.describe()}")
        self.test.assertGreaterEqual(
            len(got), n, f"{len(got)} profiles in the {timeout}s after the attack, want {n}: "
            f"{self.describe()}")
        return got

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM; returns (exit status or None if it did not stop in time, description)."""
        if not self.alive():
            return self.proc.returncode, self.describe()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
            return self.proc.returncode, self.describe()
        except subprocess.TimeoutExpired:
            desc = self.describe()
            self.kill()
            return None, desc

    def assert_stops(self, timeout=STOP_TIMEOUT):
        rc, desc = self.stop(timeout)
        self.test.assertIsNotNone(rc, f"no exit {timeout}s after SIGTERM: {desc}")
        self.test.assertEqual(rc, 0, desc)


class UserProcess:
    """An attacker's process group, killed at cleanup."""

    def __init__(self, test, argv, user=True, **kw):
        self.proc = subprocess.Popen(as_user(argv) if user else argv, start_new_session=True,
                                     stdout=subprocess.PIPE, text=True, **kw)
        self.pid = self.proc.pid
        test.addCleanup(self.kill)

    def readline(self, timeout=30):
        """The next line the process prints (its "ready" message), or an error."""
        import select
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            raise AssertionError(f"{self.proc.args}: nothing printed in {timeout}s")
        return self.proc.stdout.readline().strip()

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc.stdout.close()

    def wait(self, timeout):
        return self.proc.wait(timeout)


def container(root, argv):
    """argv run as the user, pid 1 of new pid and mount namespaces rooted at root.

    Entered with pivot_root() as container runtimes do (helpers/hostile/box.c):
    /proc/PID/maps shows the container's own paths, and ".." stops at its root.
    """
    return [helper("box"), root, str(NOBODY)] + argv


def chroot_container(root, argv):
    """The same entered with chroot(), as build roots are: ".." climbs out of those."""
    return ["unshare", "--mount", "--pid", "--fork", "--kill-child", f"--root={root}",
            f"--setuid={NOBODY}", f"--setgid={NOBODY}", "--"] + argv


def samples_of(paths, pids):
    """Samples of the given pids (strings) in the profiles at paths."""
    out = []
    for p in paths:
        try:
            prof = ft.read_pprof(p)
        except AssertionError:
            continue
        for s in prof.samples:
            if s.labels.get("pid") in pids:
                s.mappings = prof.mappings
                out.append(s)
    return out


def all_functions(paths):
    names = set()
    for p in paths:
        for s in ft.read_pprof(p).samples:
            names.update(s.frames())
    return names
