# SPDX-License-Identifier: Apache-2.0
"""The agent run the way deploy/fornax.service runs it, with real BPF.

No systemd runs here, so the parts of the unit's sandbox that decide whether
the agent can work are rebuilt by hand, from the unit file itself:

- a user that is not root (the unit's DynamicUser=) holding exactly the
  unit's AmbientCapabilities, no new privileges, an unlimited memlock limit;
- /proc mounted with hidepid=invisible (ProtectProc=invisible), and empty
  /tmp and /home (PrivateTmp=, ProtectHome=), in a mount namespace of its own;
- every system call it makes, traced with strace, checked against the
  unit's SystemCallFilter= lines as `systemd-analyze syscall-filter` expands
  them.

It profiles a workload that root runs and expects its user frames and kernel
frames named, as they are when the agent runs as root.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import fornaxtest as ft  # noqa: E402
from test_unit import UNIT, unit_values  # noqa: E402

NOBODY = 65534


def expand_groups():
    """{"@group": set of system calls}, nested groups resolved."""
    out = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True,
                         text=True, check=True).stdout
    raw, group = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            group = line.strip()
            raw[group] = []
        elif group and line.strip() and not line.strip().startswith("#"):
            raw[group].append(line.strip())

    def resolve(name, seen=()):
        calls = set()
        for item in raw.get(name, []):
            calls |= resolve(item, seen + (name,)) if item.startswith("@") else {item}
        return calls

    return {g: resolve(g) for g in raw}


def allowed_syscalls():
    groups = expand_groups()
    allowed = set()
    for i, value in enumerate(unit_values("SystemCallFilter")):
        deny = value.startswith("~")
        names = set()
        for item in value.lstrip("~").split():
            names |= groups[item] if item.startswith("@") else {item}
        if deny:
            allowed -= names
        elif i == 0 or allowed:
            allowed |= names
    return allowed


def traced_syscalls(path):
    calls = set()
    with open(path) as f:
        for line in f:
            m = re.match(r"^\d+\s+([a-z_0-9]+)\(", line)
            if m:
                calls.add(m.group(1))
    return calls


class Sandbox(unittest.TestCase):
    def setUp(self):
        # not under /tmp: the sandbox puts an empty one over it
        self.tmp = tempfile.mkdtemp(prefix="fornax-unit-", dir="/var/tmp")
        os.chmod(self.tmp, 0o755)
        self.out = os.path.join(self.tmp, "out")
        os.mkdir(self.out)
        os.chown(self.out, NOBODY, NOBODY)
        self.workload = None

    def tearDown(self):
        if self.workload and self.workload.poll() is None:
            self.workload.kill()
            self.workload.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_agent_runs_in_the_units_sandbox(self):
        caps = unit_values("AmbientCapabilities")[0].split()
        self.assertEqual(caps, unit_values("CapabilityBoundingSet")[0].split())
        setpriv_caps = ",".join("+" + c.removeprefix("CAP_").lower() for c in caps)
        profile = os.path.join(self.out, "profile.pb.gz")
        # A build under /tmp would vanish under the sandbox's own /tmp: run a copy from
        # here, as the unit runs the installed /usr/bin/fornax.
        fornax = os.path.join(self.tmp, "fornax")
        shutil.copy2(ft.FORNAX, fornax)
        os.chmod(fornax, 0o755)
        trace = os.path.join(self.out, "strace.txt")
        agent = [
            "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            f"--inh-caps=-all,{setpriv_caps}", f"--ambient-caps=-all,{setpriv_caps}",
            f"--bounding-set=-all,{setpriv_caps}", "--no-new-privs",
            "strace", "-f", "-qq", "-o", trace,
            fornax, "-d", "4s", "-F", "99", "-o", profile, "--top", "0",
            # the upload path too: libcurl loaded, a store that refuses connections
            "--store", "pyroscope+http://127.0.0.1:9", "--store-timeout", "1s",
            "--store-connect-timeout", "500ms",
        ]
        # LimitMEMLOCK=infinity where this machine lets root raise it (a container
        # without CAP_SYS_RESOURCE does not; kernels since 5.11 do not look at it)
        # tracefs as systemd mounts it at boot: unmounted, the agent would mount it
        # itself, which the unit's filter refuses (harmlessly, but outside its list)
        sandbox = ("{ [ -e /sys/kernel/tracing/events ] || "
                   "mount -t tracefs tracefs /sys/kernel/tracing; } && "
                   "mount -t proc -o hidepid=invisible proc /proc && "
                   "mount -t tmpfs -o mode=1777 tmpfs /tmp && "
                   "mount -t tmpfs -o mode=0755,ro tmpfs /home && "
                   "if prlimit --memlock=unlimited:unlimited true 2>/dev/null; then "
                   'exec prlimit --memlock=unlimited:unlimited "$@"; else exec "$@"; fi')
        self.workload = ft.start_workload("syscalls", 20, 1)
        pids = ft.workload_pids(self.workload, 1)
        env = {k: v for k, v in os.environ.items() if not k.startswith("FORNAX_")}
        # in the sanitizer build: LeakSanitizer cannot run under ptrace (strace);
        # the other integration tests look for leaks in the same binary
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
        p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            sandbox, "sandbox"] + agent,
                           capture_output=True, text=True, timeout=120, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("CAP_", p.stderr)  # the agent names a missing capability when it lacks one

        prof = ft.read_pprof(profile)
        mine = [s for s in prof.samples if s.labels.get("pid") in pids]
        self.assertGreater(sum(s.count for s in mine), 50, "the workload was hardly sampled")
        user = {n for s in mine for loc in s.stack if not loc.kernel for n in loc.names()}
        kernel = {n for s in mine for loc in s.stack if loc.kernel for n in loc.names()}
        self.assertIn("run_syscalls", user)  # a root process's binary, opened as nobody
        self.assertTrue(kernel - {"[unknown]"}, f"kernel frames unnamed: {sorted(kernel)[:5]}")

        used = traced_syscalls(trace)
        self.assertIn("bpf", used)
        self.assertIn("perf_event_open", used)
        self.assertIn("connect", used)
        outside = used - allowed_syscalls()
        self.assertEqual(outside, set(),
                         f"system calls the unit's SystemCallFilter= refuses: {sorted(outside)}")
        print(f"{len(used)} distinct system calls, all within the unit's filter",
              file=sys.stderr)


if __name__ == "__main__":
    ft.require_bpf()
    for tool in ("setpriv", "strace", "unshare", "prlimit", "systemd-analyze"):
        if not shutil.which(tool):
            ft.skip_or_fail(f"{tool} is missing")
    unittest.main()
