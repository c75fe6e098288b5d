#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Proves the build rejects an include that runs backward between stages.

For each case, a probe source that includes one header is compiled with the
exact flags the build uses for a real source of a stage (from
compile_commands.json): a header of a stage above, or beside, must not be
found; a header of a stage below must be (so a failure is the include path
and nothing else). Also: no #include reaches out of its folder by a relative
path, which include directories cannot stop.

  tests/layout/check_layering.py BUILD_DIR [SOURCE_ROOT]
"""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

# (a source of the stage that includes, the header, whether it may)
CASES = [
    # below every stage: lib/ sees nothing of the project
    ("lib/hashmap.c", "log.h", False),
    ("lib/hashmap.c", "procfs.h", False),
    # the symbolizer: its parts see lib/, the cache sees its parts, none sees the agent or BPF
    ("symbolizer/proc/procfs.c", "symbolizer.h", False),
    ("symbolizer/proc/procfs.c", "elf_file.h", False),
    ("symbolizer/elf/cfi_table.c", "profile.h", False),
    ("symbolizer/elf/cfi_table.c", "unwind_rows.h", False),
    ("symbolizer/elf/elf_file.c", "procfs.h", False),
    ("symbolizer/jit/perfmap_file.c", "procfs.h", True),
    ("symbolizer/cache/symbolizer.c", "log.h", False),
    ("symbolizer/cache/symbolizer.c", "window.h", False),
    ("symbolizer/cache/symbolizer.c", "procfs.h", True),
    ("symbolizer/cache/symbolizer.c", "hashmap.h", True),
    ("symbolizer/python/py_detect.c", "procfs.h", True),
    ("symbolizer/python/py_detect.c", "symbolizer.h", False),
    ("symbolizer/python/py_detect.c", "elf_file.h", False),
    ("symbolizer/python/py_code.c", "log.h", False),
    # proto: the model below its codec, both below the agent
    ("proto/pprof/pprof.c", "profile.pb-c.h", False),
    ("proto/pprof/pprof.c", "pprof_codec.h", False),
    ("proto/codec/pprof_encode.c", "pprof.h", True),
    ("proto/codec/pprof_encode.c", "log.h", False),
    # the agent's stages
    ("agent/lib/log.c", "unwinder.h", False),
    ("agent/unwind/unwinder.c", "sampler.h", False),
    ("agent/unwind/unwinder.c", "symbolizer.h", False),
    ("agent/unwind/unwinder.c", "procfs.h", True),
    ("agent/sample/sampler.c", "lifecycle.h", False),
    ("agent/sample/sampler.c", "symbolizer.h", False),
    ("agent/sample/sampler.c", "window.h", False),
    ("agent/sample/sampler.c", "unwinder.h", True),
    ("agent/lifecycle/lifecycle.c", "window.h", False),
    ("agent/lifecycle/lifecycle.c", "unwinder.h", True),
    ("agent/lifecycle/python_tracker.c", "window.h", False),
    ("agent/lifecycle/python_tracker.c", "py_code.h", True),
    ("agent/window/window.c", "output.h", False),
    ("agent/window/window.c", "config.h", False),
    ("agent/window/window.c", "symbolizer.h", True),
    ("agent/window/window.c", "python_tracker.h", True),
    ("agent/sample/sampler.c", "python_tracker.h", False),
    ("agent/output/output.c", "config.h", False),
    ("agent/output/output.c", "window.h", False),
    ("agent/output/output.c", "sampler.h", False),
    ("agent/output/output.c", "pprof.h", True),
    ("agent/upload/upload.c", "config.h", False),
    ("agent/upload/upload.c", "output.h", False),
    ("agent/upload/upload.c", "pprof_codec.h", True),
    ("agent/config/config.c", "window.h", False),
    ("agent/config/config.c", "lifecycle.h", False),
    ("agent/config/config.c", "output.h", True),
    # operating the agent: the registry and relabelling below every stage, pod
    # names below the window that labels samples, HTTP above the collectors
    ("agent/metrics/metrics.c", "log.h", False),
    ("agent/metrics/metrics.c", "sampler.h", False),
    ("agent/relabel/relabel.c", "metrics.h", False),
    ("agent/relabel/relabel.c", "log.h", False),
    ("agent/k8s/k8s_pods.c", "window.h", False),
    ("agent/k8s/k8s_pods.c", "upload.h", False),
    ("agent/k8s/k8s_pods.c", "curl_api.h", True),
    ("agent/k8s/k8s_pods.c", "metrics.h", True),
    ("agent/config_file/config_file.c", "config.h", False),
    ("agent/config_file/config_file.c", "relabel.h", True),
    ("agent/http/http_server.c", "sampler.h", False),
    ("agent/http/http_server.c", "config.h", False),
    ("agent/http/http_server.c", "metrics.h", True),
    ("agent/upload/upload.c", "http_server.h", False),
    ("agent/window/window.c", "http_server.h", False),
]

STAGES = ("lib", "symbolizer", "proto", "agent", "bpf")


def probe_command(entry, probe):
    """The build's compile command for entry, on probe instead, checking syntax only."""
    args = shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-o", "-c"):
            skip = True
            continue
        out.append(a)
    return out + ["-fsyntax-only", probe]


def relative_includes(root):
    bad = []
    for stage in STAGES:
        for dirpath, _, names in os.walk(os.path.join(root, stage)):
            for name in names:
                if not name.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as f:
                    for n, line in enumerate(f, 1):
                        if re.match(r'\s*#\s*include\s*"[^"]*\.\./', line):
                            bad.append(f"{os.path.relpath(path, root)}:{n}: {line.strip()}")
    return bad


def main():
    build = os.path.abspath(sys.argv[1])
    root = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else
                           os.path.join(os.path.dirname(__file__), "..", ".."))
    with open(os.path.join(build, "compile_commands.json")) as f:
        entries = {os.path.realpath(e["file"]): e for e in json.load(f)}
    failures = []
    with tempfile.TemporaryDirectory(prefix="fornax-layering-") as tmp:
        for source, header, allowed in CASES:
            entry = entries.get(os.path.realpath(os.path.join(root, source)))
            if not entry:
                failures.append(f"{source}: not in compile_commands.json")
                continue
            probe = os.path.join(tmp, "probe.c")
            with open(probe, "w") as f:
                f.write(f'#include "{header}"\n')
            cmd = probe_command(entry, probe)
            r = subprocess.run(cmd, cwd=entry["directory"], capture_output=True, text=True)
            compiled = r.returncode == 0
            not_found = "No such file or directory" in r.stderr
            verdict = "may include" if allowed else "may not include"
            if allowed and not compiled:
                failures.append(f"{source} {verdict} {header}, but:\n{r.stderr}")
            elif not allowed and (compiled or not not_found):
                failures.append(f"{source} {verdict} {header}, yet it "
                                f"{'compiles' if compiled else 'fails otherwise'}:\n{r.stderr}")
            else:
                print(f"ok: {source} {verdict} {header}")
            if source == "agent/output/output.c" and header == "config.h":
                print("  $ " + " ".join(shlex.quote(a) for a in cmd))
                print("  " + r.stderr.strip().replace("\n", "\n  "))
    failures += [f"relative include: {b}" for b in relative_includes(root)]
    for f in failures:
        print(f"FAIL: {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
