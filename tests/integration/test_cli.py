# SPDX-License-Identifier: Apache-2.0
"""Command line and environment handling: no BPF needed, runs as any user."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import fornaxtest as ft  # noqa: E402


def fornax(args, env=None):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FORNAX_")}
    clean.update(env or {})
    return subprocess.run([ft.FORNAX] + args, env=clean, capture_output=True, text=True,
                          timeout=30)


class BadInput(unittest.TestCase):
    def assertRejected(self, args, env=None, mentions=None):
        proc = fornax(args, env)
        self.assertEqual(proc.returncode, 2, f"{args} {env}: {proc.stderr}")
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, f"want one line, got: {proc.stderr!r}")
        self.assertTrue(lines[0].startswith("fornax: "), lines[0])
        if mentions:
            self.assertIn(mentions, lines[0])
        self.assertEqual(proc.stdout, "")

    def test_bad_flag_values(self):
        cases = [
            (["--frequency", "0"], "--frequency"),
            (["-F", "abc"], "--frequency"),
            (["--frequency", "19.5"], "--frequency"),
            (["--frequency", "100001"], "--frequency"),
            (["--frequency", "-1"], "--frequency"),
            (["--duration", "30"], "--duration"),
            (["--duration", "5x"], "--duration"),
            (["--duration", "s"], "--duration"),
            (["--duration", "99999999999999999999s"], "--duration"),
            (["--interval", "1ms"], "--interval"),
            (["--pid", "0"], "--pid"),
            (["--pid", "12ab"], "--pid"),
            (["--format", "json"], "--format"),
            (["--max-stacks", "10"], "--max-stacks"),
            (["--output", ""], "--output"),
            (["--no-such-flag"], "--no-such-flag"),
            (["-Z"], "-Z"),
            (["--duration"], "--duration"),
            (["stray"], "stray"),
            (["--unwind", "dwarf2"], "--unwind"),
            (["--unwind", ""], "--unwind"),
            (["--unwind=FP"], "--unwind"),
            (["--unwind-memory", "64"], "--unwind-memory"),
            (["--unwind-memory", "64X"], "--unwind-memory"),
            (["--unwind-memory", "2T"], "--unwind-memory"),
            (["--unwind-memory", "-1M"], "--unwind-memory"),
            (["--unwind-memory", "99999999999999999999G"], "--unwind-memory"),
        ]
        for args, mention in cases:
            with self.subTest(args=args):
                self.assertRejected(args, mentions=mention)

    def test_bad_environment_values(self):
        cases = [
            ({"FORNAX_FREQUENCY": "fast"}, "FORNAX_FREQUENCY"),
            ({"FORNAX_DURATION": "10"}, "FORNAX_DURATION"),
            ({"FORNAX_PID": "1,x"}, "FORNAX_PID"),
            ({"FORNAX_KERNEL": "maybe"}, "FORNAX_KERNEL"),
            ({"FORNAX_INCLUDE_IDLE": "2"}, "FORNAX_INCLUDE_IDLE"),
            ({"FORNAX_VERBOSE": "9"}, "FORNAX_VERBOSE"),
            ({"FORNAX_UNWIND": "frame-pointers"}, "FORNAX_UNWIND"),
            ({"FORNAX_UNWIND_MEMORY": "1k"}, "FORNAX_UNWIND_MEMORY"),
        ]
        for env, mention in cases:
            with self.subTest(env=env):
                self.assertRejected([], env=env, mentions=mention)

    def test_command_line_overrides_environment(self):
        # A bad environment value is still reported even if the flag is given:
        # silently ignoring a broken deploy setting would hide it.
        self.assertRejected(["--frequency", "19"], env={"FORNAX_FREQUENCY": "x"})

    def test_good_unwind_values(self):
        # Parsing happens before --help is acted on: a good value lets help through.
        for args, env in ((["--unwind", "auto"], None), (["--unwind=dwarf"], None),
                          (["--unwind", "fp", "--unwind-memory", "64M"], None),
                          (["--unwind-memory", "1GiB"], None), (["--unwind-memory", "1048576"], None),
                          ([], {"FORNAX_UNWIND": "dwarf", "FORNAX_UNWIND_MEMORY": "512m"})):
            with self.subTest(args=args, env=env):
                proc = fornax(args + ["--help"], env)
                self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_help_and_version(self):
        proc = fornax(["--help"])
        self.assertEqual(proc.returncode, 0)
        for flag in ("--duration", "--output", "--format", "--frequency", "--pid", "--kernel",
                     "--no-kernel", "--include-idle", "--interval", "--verbose",
                     "FORNAX_FREQUENCY", "FORNAX_PID", "--unwind", "FORNAX_UNWIND",
                     "--unwind-memory", "FORNAX_UNWIND_MEMORY"):
            self.assertIn(flag, proc.stdout)
        proc = fornax(["--version"])
        self.assertEqual(proc.returncode, 0)
        self.assertRegex(proc.stdout, r"^fornax \d+\.\d+\.\d+\n$")


if __name__ == "__main__":
    if not ft.FORNAX or not os.path.exists(ft.FORNAX):
        print("FORNAX does not name the fornax binary", file=sys.stderr)
        sys.exit(1)
    unittest.main()
