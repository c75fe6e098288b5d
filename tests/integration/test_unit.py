# SPDX-License-Identifier: Apache-2.0
"""deploy/fornax.service as systemd reads it, and what `cmake --install` puts down.

systemd is not running here (no PID 1 to start the unit), so the unit is
checked offline: `systemd-analyze security --offline=yes` rates it, and
`systemd-analyze verify` parses it with ExecStart pointing at the built
binary. tests/integration/test_unit_sandbox.py runs the agent itself the
way the unit does.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
UNIT = os.path.join(ROOT, "deploy", "fornax.service")
MAX_EXPOSURE = 3.0
FORNAX = os.environ.get("FORNAX", "")
BUILD_DIR = os.environ.get("FORNAX_BUILD_DIR", "")


def unit_values(key, path=UNIT):
    """Every value of key= in the unit, in order (a key may be given several times)."""
    values = []
    with open(path) as f:
        for line in f:
            if line.startswith(key + "="):
                values.append(line[len(key) + 1:].strip())
    return values


def exposure(path):
    p = subprocess.run(["systemd-analyze", "security", "--offline=yes", path],
                       capture_output=True, text=True)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", p.stdout + p.stderr)
    if not m:
        raise AssertionError(f"no exposure in:\n{p.stdout}{p.stderr}")
    return float(m.group(1)), p.stdout


class Unit(unittest.TestCase):
    def test_exposure(self):
        level, report = exposure(UNIT)
        print(f"systemd-analyze security --offline=yes: exposure {level}", file=sys.stderr)
        self.assertLessEqual(level, MAX_EXPOSURE, report)

    def test_the_check_can_fail(self):
        """The same unit without its sandbox is rated above the bound."""
        with tempfile.TemporaryDirectory() as tmp:
            bare = os.path.join(tmp, "fornax.service")
            with open(UNIT) as src, open(bare, "w") as dst:
                for line in src:
                    if not re.match(r"(Protect|Private|Restrict|SystemCall|DynamicUser|Lock|"
                                    r"Memory|Capability|NoNew|UMask|Device)", line):
                        dst.write(line)
            self.assertGreater(exposure(bare)[0], MAX_EXPOSURE)

    def test_every_capability_is_explained(self):
        bounding = set(unit_values("CapabilityBoundingSet")[0].split())
        ambient = set(unit_values("AmbientCapabilities")[0].split())
        self.assertEqual(bounding, ambient)
        with open(UNIT) as f:
            comments = "".join(l for l in f if l.startswith("#"))
        for cap in sorted(bounding):
            self.assertIn(cap, comments, f"{cap}: the unit does not say why it is granted")
        self.assertIn("CAP_SYS_RESOURCE", comments)  # and why it is not

    def test_notify_watchdog_and_endpoint(self):
        self.assertEqual(unit_values("Type"), ["notify"])
        self.assertEqual(unit_values("NotifyAccess"), ["main"])
        self.assertTrue(unit_values("WatchdogSec"))
        self.assertIn("FORNAX_HTTP_ADDRESS=127.0.0.1:7071", unit_values("Environment"))

    def test_writable_places_and_documentation(self):
        self.assertEqual(unit_values("StateDirectory"), ["fornax"])
        self.assertEqual(unit_values("CacheDirectory"), ["fornax"])
        self.assertEqual(unit_values("UMask"), ["0077"])
        self.assertEqual(unit_values("ProtectSystem"), ["strict"])
        # debuginfod downloads go where CacheDirectory= makes a writable place
        self.assertIn("FORNAX_DEBUGINFOD_CACHE=/var/cache/fornax/debuginfod",
                      unit_values("Environment"))
        for doc in unit_values("Documentation")[0].split():
            self.assertTrue(doc.startswith("file:/usr/local/share/doc/fornax/"), doc)

    def test_systemd_parses_it(self):
        self.assertTrue(FORNAX and os.access(FORNAX, os.X_OK), "FORNAX names no binary")
        with tempfile.TemporaryDirectory() as tmp:
            copy = os.path.join(tmp, "fornax.service")
            with open(UNIT) as src, open(copy, "w") as dst:
                dst.write(src.read().replace("/usr/local/sbin/fornax", FORNAX))
            p = subprocess.run(["systemd-analyze", "verify", "--man=no", copy],
                               capture_output=True, text=True)
            self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""))


class Install(unittest.TestCase):
    """`cmake --install` puts down the binary, the unit and the documents it names."""

    def installed(self, prefix):
        tmp = tempfile.mkdtemp(prefix="fornax-install-")
        self.addCleanup(shutil.rmtree, tmp)
        env = dict(os.environ, DESTDIR=tmp)
        p = subprocess.run(["cmake", "--install", BUILD_DIR, "--prefix", prefix],
                           env=env, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return tmp

    def check(self, prefix):
        root = self.installed(prefix)
        unit = os.path.join(root, prefix.lstrip("/"), "lib/systemd/system/fornax.service")
        self.assertTrue(os.path.exists(unit), f"no unit at {unit}")
        exec_start = unit_values("ExecStart", unit)[0]
        self.assertEqual(exec_start, f"{prefix}/sbin/fornax")
        self.assertTrue(os.access(root + exec_start, os.X_OK), exec_start)
        for doc in unit_values("Documentation", unit)[0].split():
            path = doc.removeprefix("file:")
            self.assertTrue(path.startswith(prefix + "/"), doc)
            self.assertTrue(os.path.isfile(root + path), f"{doc} is not installed")
        # the installed unit is the repository's, paths aside
        with open(UNIT) as a, open(unit) as b:
            self.assertEqual(a.read().replace("/usr/local", prefix), b.read())

    def test_default_prefix(self):
        self.assertTrue(BUILD_DIR, "FORNAX_BUILD_DIR is not set")
        self.check("/usr/local")

    def test_other_prefix(self):
        self.assertTrue(BUILD_DIR, "FORNAX_BUILD_DIR is not set")
        self.check("/opt/fornax")


if __name__ == "__main__":
    if not shutil.which("systemd-analyze"):
        print("SKIP: systemd-analyze is missing", file=sys.stderr)
        sys.exit(1 if os.environ.get("CI", "").lower() == "true" else 77)
    unittest.main()
