# SPDX-License-Identifier: Apache-2.0
"""Helpers for the remote-store tests: a running agent whose log can be
followed, the window identities it logs, and the stores in tests/peers/.

Every window is named by its start time (pprof time_nanos): the agent logs
"upload: window <time_nanos> <fate>" at -v, and the test stores decode the
same time_nanos from what they receive, so a test can say exactly which
windows arrived, which were dropped and why.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "peers"))
import fornaxtest as ft  # noqa: E402
import parca_peer  # noqa: E402,F401
import pyroscope_peer  # noqa: E402,F401

WINDOW_RE = re.compile(r"upload: window (\d+) (produced|delivered|spooled|retry|dropped|empty)"
                       r"(?: \(([^)]*)\))?")
SUMMARY_RE = re.compile(r"upload summary: (.*)$", re.M)
LATE_RE = re.compile(r"drain schedule: woke ([0-9.]+) ms after the deadline")


class Agent:
    """The real fornax binary, its stderr going to a file the test can follow."""

    def __init__(self, args, tmp, name="agent", env=None):
        self.log_path = os.path.join(tmp, f"{name}.log")
        clean = {k: v for k, v in os.environ.items() if not k.startswith("FORNAX_")}
        clean.update(env or {})
        self.log = open(self.log_path, "w")
        self.args = args
        self.proc = subprocess.Popen([ft.FORNAX] + args, stdout=subprocess.DEVNULL,
                                     stderr=self.log, env=clean)

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_for(self, pattern, timeout=30, count=1):
        """Waits until pattern has matched count times; returns the matches."""
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        while True:
            found = rx.findall(self.text())
            if len(found) >= count:
                return found
            if self.proc.poll() is not None:
                raise AssertionError(f"fornax exited {self.proc.returncode} while waiting for "
                                     f"{pattern!r} x{count}:\n{self.tail()}")
            if time.time() > deadline:
                raise AssertionError(f"timed out waiting for {pattern!r} x{count} "
                                     f"(saw {len(found)}):\n{self.tail()}")
            time.sleep(0.1)

    def wait_windows(self, fate, count, timeout=30):
        return self.wait_for(rf"upload: window \d+ {fate}\b", timeout=timeout, count=count)

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        finally:
            self.log.close()
        return self.proc.returncode

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.log.close()

    def tail(self, n=60):
        return "\n".join(self.text().splitlines()[-n:])

    def windows(self, fate, reason=None):
        """time_nanos of windows logged with this fate (and reason, for drops)."""
        out = set()
        for t, f, why in WINDOW_RE.findall(self.text()):
            if f == fate and (reason is None or why == reason):
                out.add(int(t))
        return out

    def summary(self):
        m = SUMMARY_RE.findall(self.text())
        if not m:
            raise AssertionError(f"no upload summary in the log:\n{self.tail()}")
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m[-1])}

    def lateness_ms(self):
        return [float(x) for x in LATE_RE.findall(self.text())]


class StoreTestCase(ft.TempDirTestCase):
    """Starts a workload for the test and stops whatever the test started."""

    @classmethod
    def setUpClass(cls):
        ft.require_bpf()

    def setUp(self):
        super().setUp()
        self.agents, self.peers, self.workloads = [], [], []

    def tearDown(self):
        for a in self.agents:
            if a.proc.poll() is None:
                a.kill()
        for p in self.peers:
            p.stop()
        for w in self.workloads:
            if w.poll() is None:
                w.kill()
                w.wait()
        if self._outcome_failed():
            for a in self.agents:
                print(f"--- {a.log_path}\n{a.tail(40)}", file=sys.stderr)
        super().tearDown()

    def _outcome_failed(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        if result is None:
            return False
        return any(t is self for t, _ in result.errors + result.failures)

    def workload(self, seconds=120, nprocs=1):
        w = ft.start_workload("split", seconds, nprocs)
        self.workloads.append(w)
        return w

    def agent(self, args, name="agent", env=None):
        a = Agent(args, self.tmp, name=name, env=env)
        self.agents.append(a)
        return a

    def peer(self, peer):
        self.peers.append(peer)
        return peer

    @staticmethod
    def store_args(url, *extra):
        # 1 s windows and short timeouts keep each fault short; -v logs every window's fate.
        return ["-i", "1s", "-v", "--store", url, "--store-timeout", "2s",
                "--store-connect-timeout", "1s", *extra]

    def wait_until(self, cond, timeout, what):
        deadline = time.time() + timeout
        while not cond():
            if time.time() > deadline:
                raise AssertionError(f"timed out: {what}\n" +
                                     "\n".join(a.tail(30) for a in self.agents))
            time.sleep(0.1)

    def assertAccounted(self, agent, received, dropped_reasons=()):
        """Every produced window arrived or was dropped, on purpose, for a counted reason."""
        produced = agent.windows("produced")
        self.assertTrue(produced, agent.tail())
        dropped = set()
        summary = agent.summary()
        for reason in dropped_reasons:
            d = agent.windows("dropped", reason)
            self.assertEqual(summary[f"dropped_{reason}"], len(d), agent.tail())
            dropped |= d
        self.assertEqual(summary["dropped"], len(dropped), f"unexpected drops: {summary}")
        missing = produced - dropped - set(received)
        self.assertFalse(missing, f"windows never delivered: {sorted(missing)}\n{agent.tail()}")
        self.assertFalse(dropped & set(received), "a dropped window also arrived")
        self.assertEqual(summary["produced"] - summary["empty"], len(produced))
        # The books balance: every window ends delivered, dropped or still in the spool.
        self.assertEqual(summary["produced"] - summary["empty"] + summary["found_in_spool"],
                         summary["delivered"] + summary["dropped"] + summary["in_spool"] +
                         summary["queued"], summary)
        return produced, dropped


def make_cert(tmp):
    """A self-signed certificate for 127.0.0.1 and localhost: (cert, key) paths."""
    cert, key = os.path.join(tmp, "store.crt"), os.path.join(tmp, "store.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=fornax test store", "-keyout", key, "-out", cert,
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


def go_pprof(raw, tmp, name):
    """Reads received profile bytes with `go tool pprof -raw` (Go's own parser)."""
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(raw)
    return ft.read_pprof(path)


def tempdir():
    return tempfile.mkdtemp(prefix="fornax-store-")
