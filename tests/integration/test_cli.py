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
            (["--width", "10"], "--width"),
            (["--width", "wide"], "--width"),
            (["--width", "100001"], "--width"),
            (["--top", "-1"], "--top"),
            (["--top", "ten"], "--top"),
            (["--top-by", "pid"], "--top-by"),
            (["--top-by", ""], "--top-by"),
            (["--title", ""], "--title"),
            (["--icicle=yes"], "--icicle"),
            (["--format", "png"], "--format"),
            (["-d", "1s", "--format", "svg", "-o", "p.pb.gz"], "--format svg"),
            (["-d", "1s", "-o", "a.svg", "-o", "a.svg"], "a.svg"),
            (["-o", "dir1", "-o", "dir2"], "several outputs need --duration"),
            (["--cgroup", "/no-such-cgroup-here"], "--cgroup"),
            (["--cgroup", "/tmp"], "--cgroup"),
            (["--cgroup", "a/../b"], "--cgroup"),
            (["--cgroup", ""], "--cgroup"),
            (["--debug-dir", "relative/dir"], "--debug-dir"),
            (["--debug-dir", "/no/such/dir"], "--debug-dir"),
            (["--debuginfod", "ftp://example"], "--debuginfod"),
            (["--debuginfod", ""], "--debuginfod"),
            (["--debuginfod-cache", "relative"], "--debuginfod-cache"),
            (["--debuginfod-timeout", "0s"], "--debuginfod-timeout"),
            (["--debuginfod-timeout", "11m"], "--debuginfod-timeout"),
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
            ({"FORNAX_WIDTH": "99999999999"}, "FORNAX_WIDTH"),
            ({"FORNAX_ICICLE": "maybe"}, "FORNAX_ICICLE"),
            ({"FORNAX_TOP": "x"}, "FORNAX_TOP"),
            ({"FORNAX_FORMAT": "html"}, "FORNAX_FORMAT"),
            ({"FORNAX_OUTPUT": ",,"}, "FORNAX_OUTPUT"),
            ({"FORNAX_CGROUP": "/no-such-cgroup-here"}, "FORNAX_CGROUP"),
            ({"FORNAX_DEBUG_DIR": "/no/such/dir"}, "FORNAX_DEBUG_DIR"),
            ({"FORNAX_DEBUGINFOD": "localhost:8002"}, "FORNAX_DEBUGINFOD"),
            ({"FORNAX_DEBUGINFOD_TIMEOUT": "soon"}, "FORNAX_DEBUGINFOD_TIMEOUT"),
            ({"FORNAX_UNWIND": "frame-pointers"}, "FORNAX_UNWIND"),
            ({"FORNAX_UNWIND_MEMORY": "1k"}, "FORNAX_UNWIND_MEMORY"),
        ]
        for env, mention in cases:
            with self.subTest(env=env):
                self.assertRejected([], env=env, mentions=mention)

    def test_bad_store_flags(self):
        store = ["--store", "grpc://127.0.0.1:7070"]
        token = os.path.join(os.path.dirname(os.path.abspath(__file__)), "no-such-token")
        cases = [
            (["--store", "http://parca:7070"], "--store"),
            (["--store", "grpc://"], "--store"),
            (["--store", "grpc://u:p@parca:7070"], "--store"),
            (["--store", "grpc://parca:7070/path"], "--store"),
            (["--store", "pyroscope+http://p:4040/?q=1"], "--store"),
            (["--store", ""], "--store"),
            (store + ["--label", "noequals"], "--label"),
            (store + ["--label", "=v"], "--label"),
            (store + ["--label", "2bad=v"], "--label"),
            (store + ["--label", "a-b=v"], "--label"),
            (store + ["--label", "__name__=x"], "--label"),
            (store + ["--label", "pid=1"], "--label"),
            (store + ["--label", "service_name=x"], "--label"),
            (store + ["--label", "env="], "--label"),
            (store + ["--label", "env=a", "--label", "env=b"], "--label"),
            (store + ["--label", "env=a\x01"], "--label"),
            (store + ["--service-name", ""], "--service-name"),
            (store + ["--tenant", "a/b"], "--tenant"),
            (store + ["--tenant", ".."], "--tenant"),
            (store + ["--bearer-token-file", token], "--bearer-token-file"),
            (store + ["--bearer-token-file", "/dev/null"], "--bearer-token-file"),
            (store + ["--ca-file", token], "--ca-file"),
            (store + ["--insecure-skip-verify=1"], "--insecure-skip-verify"),
            (store + ["--spool-dir", ""], "--spool-dir"),
            (store + ["--spool-max-bytes", "1K"], "--spool-max-bytes"),
            (store + ["--spool-max-bytes", "10X"], "--spool-max-bytes"),
            (store + ["--spool-max-bytes", "-5"], "--spool-max-bytes"),
            (store + ["--spool-max-bytes", "99999999999T"], "--spool-max-bytes"),
            (store + ["--store-timeout", "10"], "--store-timeout"),
            (store + ["--store-timeout", "5ms"], "--store-timeout"),
            (store + ["--store-connect-timeout", "x"], "--store-connect-timeout"),
            (store + ["--store-queue", "0"], "--store-queue"),
            (store + ["--store-queue", "100000"], "--store-queue"),
            # Store flags without a store are a mistake, not a no-op.
            (["--spool-dir", "/tmp/x"], "needs --store"),
            (["--label", "env=prod"], "needs --store"),
            (["--store-timeout", "5s"], "needs --store"),
            (["--store", "pyroscope+http://p:4040"] +
             [f"--label=l{i}=v" for i in range(25)], "Pyroscope"),
        ]
        for args, mention in cases:
            with self.subTest(args=args):
                self.assertRejected([a.replace("\\x01", "\x01") for a in args], mentions=mention)

    def test_bad_store_environment(self):
        store = {"FORNAX_STORE": "grpc://127.0.0.1:7070"}
        cases = [
            ({"FORNAX_STORE": "ftp://x"}, "FORNAX_STORE"),
            ({**store, "FORNAX_LABEL": "env=prod,bad name=x"}, "FORNAX_LABEL"),
            ({**store, "FORNAX_LABEL": "env=prod,env=dev"}, "FORNAX_LABEL"),
            ({**store, "FORNAX_SERVICE_NAME": "a\nb"}, "FORNAX_SERVICE_NAME"),
            ({**store, "FORNAX_TENANT": "a b"}, "FORNAX_TENANT"),
            ({**store, "FORNAX_BEARER_TOKEN_FILE": "/nonexistent"}, "FORNAX_BEARER_TOKEN_FILE"),
            ({**store, "FORNAX_CA_FILE": "/nonexistent"}, "FORNAX_CA_FILE"),
            ({**store, "FORNAX_INSECURE_SKIP_VERIFY": "perhaps"}, "FORNAX_INSECURE_SKIP_VERIFY"),
            ({**store, "FORNAX_SPOOL_MAX_BYTES": "lots"}, "FORNAX_SPOOL_MAX_BYTES"),
            ({**store, "FORNAX_STORE_TIMEOUT": "1"}, "FORNAX_STORE_TIMEOUT"),
            ({**store, "FORNAX_STORE_CONNECT_TIMEOUT": "1"}, "FORNAX_STORE_CONNECT_TIMEOUT"),
            ({**store, "FORNAX_STORE_QUEUE": "-1"}, "FORNAX_STORE_QUEUE"),
            ({"FORNAX_SPOOL_DIR": "/tmp/x"}, "needs --store"),
        ]
        for env, mention in cases:
            with self.subTest(env=env):
                self.assertRejected([], env={k: v.replace("\\n", "\n") for k, v in env.items()},
                                    mentions=mention)

    def test_command_line_overrides_environment(self):
        # A bad environment value is still reported even if the flag is given:
        # silently ignoring a broken deploy setting would hide it.
        self.assertRejected(["--frequency", "19"], env={"FORNAX_FREQUENCY": "x"})

    def test_convert_usage_errors(self):
        cases = [
            (["convert"], "needs a profile"),
            (["convert", "in.pb.gz"], "needs -o"),
            (["convert", "in.pb.gz", "out.svg"], "unexpected argument"),
            (["convert", "in.pb.gz", "-o", "x.svg", "--frequency", "99"], "--frequency"),
            (["convert", "in.pb.gz", "-o", "x.svg", "--duration", "1s"], "--duration"),
            (["convert", "in.pb.gz", "-o", "x.svg", "--width", "5"], "--width"),
            (["convert", "in.pb.gz", "-o", "x.folded", "--format", "svg"], "--format svg"),
        ]
        for args, mention in cases:
            with self.subTest(args=args):
                self.assertRejected(args, mentions=mention)
        # Sampling options in the environment (set for the daemon) do not bother convert.
        proc = fornax(["convert", "/nonexistent.pb.gz", "-o", "/dev/null", "--format", "svg"],
                      env={"FORNAX_FREQUENCY": "99", "FORNAX_DURATION": "junk"})
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("/nonexistent.pb.gz", proc.stderr)

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
                     "--title", "--width", "--icicle", "--top", "convert",
                     "--cgroup", "--debug-dir", "--debuginfod", "--debuginfod-cache",
                     "--debuginfod-timeout", "FORNAX_CGROUP", "FORNAX_DEBUGINFOD",
                     "FORNAX_FREQUENCY", "FORNAX_PID", "FORNAX_TITLE", "FORNAX_WIDTH",
                     "FORNAX_ICICLE", "FORNAX_TOP", "--unwind", "FORNAX_UNWIND",
                     "--unwind-memory", "FORNAX_UNWIND_MEMORY",
                     "--store", "--label", "--service-name", "--tenant", "--bearer-token-file",
                     "--ca-file", "--insecure-skip-verify", "--spool-dir", "--spool-max-bytes",
                     "--store-timeout", "--store-connect-timeout", "--store-queue",
                     "FORNAX_STORE", "FORNAX_LABEL", "FORNAX_BEARER_TOKEN_FILE"):
            self.assertIn(flag, proc.stdout)
        proc = fornax(["convert", "--help"])
        self.assertEqual(proc.returncode, 0)
        for flag in ("--output", "--format", "--title", "--width", "--icicle", "--top"):
            self.assertIn(flag, proc.stdout)
        self.assertNotIn("--frequency", proc.stdout)
        # Usable on an 80-column terminal, and named as the user knows it.
        for args in (["--help"], ["convert", "--help"]):
            out = fornax(args).stdout
            self.assertEqual([l for l in out.splitlines() if len(l) > 80], [], args)
            self.assertTrue(out.startswith("Usage: fornax "), out[:60])
        # convert's help speaks of convert: no capture-only wording or defaults.
        convert_help = fornax(["convert", "--help"]).stdout
        for capture_only in ("--duration", "directory", "default 10", "continuous"):
            self.assertNotIn(capture_only, convert_help)
        self.assertIn("--top-by", convert_help)
        proc = fornax(["--version"])
        self.assertEqual(proc.returncode, 0)
        self.assertRegex(proc.stdout, r"^fornax \d+\.\d+\.\d+\n$")


if __name__ == "__main__":
    if not ft.FORNAX or not os.path.exists(ft.FORNAX):
        print("FORNAX does not name the fornax binary", file=sys.stderr)
        sys.exit(1)
    unittest.main()
