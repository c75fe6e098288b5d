#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Fails if a C file under the stages' folders is over MAX_FILE_LINES lines or
holds a function over MAX_FUNCTION_LINES lines (STYLE.md), and prints the
largest of each, so the figures can be watched as the code grows.

  tests/layout/check_size.py [SOURCE_ROOT]

A function is what the kernel style makes of one: a signature at column 0,
its body from a "{" alone on a line to the "}" alone on a line, signature
lines included in the count.
"""
import os
import re
import sys

MAX_FILE_LINES = 800
MAX_FUNCTION_LINES = 150
STAGES = ("agent", "symbolizer", "proto", "bpf", "lib")
SHOW = 5


def c_files(root):
    for stage in STAGES:
        for dirpath, _, names in os.walk(os.path.join(root, stage)):
            for name in sorted(names):
                if name.endswith((".c", ".h")):
                    yield os.path.join(dirpath, name)


def functions(lines):
    """(name, first line, line count) of each function definition."""
    out = []
    i = 0
    while i < len(lines):
        if lines[i] != "{":
            i += 1
            continue
        # the signature: back over the lines of its parameter list to column 0
        start = i - 1
        while start > 0 and (lines[start].startswith((" ", "\t")) or not lines[start]):
            start -= 1
        sig = " ".join(lines[start:i])
        m = re.search(r"(\w+)\s*\(", sig)
        end = i + 1
        while end < len(lines) and lines[end] != "}":
            end += 1
        if m and sig.rstrip().endswith(")"):
            out.append((m.group(1), start + 1, end - start + 1))
        i = end + 1
    return out


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    root = os.path.abspath(root)
    files, funcs, bad = [], [], []
    for path in c_files(root):
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        rel = os.path.relpath(path, root)
        files.append((len(lines), rel))
        if len(lines) > MAX_FILE_LINES:
            bad.append(f"{rel}: {len(lines)} lines (at most {MAX_FILE_LINES})")
        for name, first, count in functions(lines):
            funcs.append((count, f"{rel}:{first} {name}()"))
            if count > MAX_FUNCTION_LINES:
                bad.append(f"{rel}:{first}: {name}() is {count} lines (at most "
                           f"{MAX_FUNCTION_LINES})")
    if not files or not funcs:
        # a wrong root would otherwise pass with nothing checked
        print(f"no C files found under {root}", file=sys.stderr)
        return 1
    files.sort(reverse=True)
    funcs.sort(reverse=True)
    print(f"{len(files)} files, {len(funcs)} functions under {', '.join(STAGES)}")
    print("largest files:")
    for n, rel in files[:SHOW]:
        print(f"  {n:5d}  {rel}")
    print("largest functions:")
    for n, where in funcs[:SHOW]:
        print(f"  {n:5d}  {where}")
    for b in bad:
        print(f"too big: {b}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
