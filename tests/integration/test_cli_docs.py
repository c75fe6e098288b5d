# SPDX-License-Identifier: Apache-2.0
"""The man page and the bash completion, generated from the option table, and installed."""
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import fornaxtest as ft  # noqa: E402

BUILD = os.environ.get("FORNAX_BUILD_DIR", "")
MAN = os.path.join(BUILD, "docs", "fornax.1")
BASH = os.path.join(BUILD, "docs", "fornax.bash")


def help_flags(*args):
    """Every long option `fornax [convert] --help` lists."""
    out = subprocess.run([ft.FORNAX] + list(args) + ["--help"], capture_output=True, text=True,
                         check=True).stdout
    return {m[1] for m in re.finditer(r"^  (?:-\w, )?(--[a-z-]+)", out, re.M)}


def complete(*words):
    """What the completion offers for the last of words (the word being typed)."""
    script = (f"source {BASH}; COMP_WORDS=({' '.join(repr(w) for w in words)}); "
              f"COMP_CWORD={len(words) - 1}; _fornax; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
    out = subprocess.run(["bash", "--norc", "-c", script], capture_output=True, text=True,
                         check=True).stdout
    return sorted(w for w in out.splitlines() if w)


class ManPage(unittest.TestCase):
    def test_renders_without_warnings_and_lists_every_option(self):
        proc = subprocess.run(["groff", "-man", "-Tutf8", "-ww", MAN], capture_output=True,
                              text=True, check=True)
        self.assertEqual(proc.stderr, "")
        text = re.sub(r".\x08", "", proc.stdout).replace("\u2010", "-")
        for flag in help_flags() | help_flags("convert"):
            self.assertIn(flag, text)
        env = re.findall(r"Environment: (FORNAX_\w+)", text)
        self.assertIn("FORNAX_DURATION", env)
        self.assertIn("CONVERT OPTIONS", text)


class Completion(unittest.TestCase):
    def test_options_values_and_convert(self):
        self.assertEqual(complete("fornax", "--form"), ["--format"])
        self.assertEqual(complete("fornax", "--format", ""), ["folded", "pprof", "svg"])
        self.assertEqual(complete("fornax", "--top-by", "c"), ["comm"])
        self.assertEqual(complete("fornax", "conv"), ["convert"])
        self.assertEqual(complete("fornax", "convert", "x.pb.gz", "--fre"), [])
        self.assertEqual(complete("fornax", "convert", "x.pb.gz", "--ti"), ["--title"])
        with tempfile.TemporaryDirectory() as d:
            open(os.path.join(d, "cpu.pb.gz"), "w").close()
            self.assertEqual(complete("fornax", "-o", os.path.join(d, "cp")),
                             [os.path.join(d, "cpu.pb.gz")])

    def test_every_option_is_offered(self):
        self.assertEqual(set(complete("fornax", "--")), help_flags())
        self.assertEqual(set(complete("fornax", "convert", "--")), help_flags("convert"))


class Install(unittest.TestCase):
    def test_cmake_install_puts_both_in_place(self):
        with tempfile.TemporaryDirectory() as prefix:
            subprocess.run(["cmake", "--install", BUILD, "--prefix", prefix],
                           capture_output=True, check=True)
            for path in ("share/man/man1/fornax.1", "share/bash-completion/completions/fornax"):
                self.assertTrue(os.path.isfile(os.path.join(prefix, path)), path)


if __name__ == "__main__":
    if not ft.FORNAX or not os.path.exists(MAN):
        print("FORNAX and FORNAX_BUILD_DIR must name a build with its docs", file=sys.stderr)
        sys.exit(1)
    unittest.main()
