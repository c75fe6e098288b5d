# SPDX-License-Identifier: Apache-2.0
"""Python message classes for the test stores, generated at test time.

The store messages come from the project's own proto/profilestore.proto and
proto/push.proto (what the agent must match on the wire); pprof profiles are
decoded with upstream's profile.proto as Debian ships it
(golang-github-google-pprof-dev), so the profile reader shares nothing with
the agent's encoder.
"""
import gzip
import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROJECT_PROTO = os.path.join(ROOT, "proto")
UPSTREAM_PPROF = os.environ.get(
    "FORNAX_PPROF_PROTO_DIR", "/usr/share/gocode/src/github.com/google/pprof/proto")

_modules = None


def load():
    """Returns (profilestore_pb2, push_pb2, profile_pb2), generating them once per process."""
    global _modules
    if _modules:
        return _modules
    if not shutil.which("protoc"):
        raise RuntimeError("protoc (protobuf-compiler) is needed to build the test stores")
    out = tempfile.mkdtemp(prefix="fornax-peer-protos-")
    subprocess.run(["protoc", f"--python_out={out}", f"-I{PROJECT_PROTO}",
                    os.path.join(PROJECT_PROTO, "profilestore.proto"),
                    os.path.join(PROJECT_PROTO, "push.proto")], check=True)
    subprocess.run(["protoc", f"--python_out={out}", f"-I{UPSTREAM_PPROF}",
                    os.path.join(UPSTREAM_PPROF, "profile.proto")], check=True)
    sys.path.insert(0, out)
    _modules = tuple(importlib.import_module(m) for m in ("profilestore_pb2", "push_pb2", "profile_pb2"))
    return _modules


LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def check_labels(pairs, required=("__name__",), max_labels=None):
    """Store rules on series labels; returns an error string or None."""
    names = [n for n, _ in pairs]
    for r in required:
        if r not in names:
            return f"missing {r} label"
    if len(set(names)) != len(names):
        return f"duplicate label names: {names}"
    for n, v in pairs:
        if not LABEL_NAME.match(n):
            return f"invalid label name {n!r}"
        if v == "":
            return f"empty value for label {n!r}"
    if max_labels is not None and len(pairs) > max_labels:
        return f"{len(pairs)} labels, at most {max_labels} allowed"
    return None


def decode_profile(raw):
    """gzipped (or plain) pprof bytes -> Profile message; raises ValueError."""
    _, _, profile_pb2 = load()
    data = raw
    if raw[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise ValueError(f"bad gzip: {e}")
    p = profile_pb2.Profile()
    try:
        p.ParseFromString(data)
    except Exception as e:  # protobuf's DecodeError
        raise ValueError(f"not a pprof Profile: {e}")
    return p


def validate_profile(p):
    """What Parca checks before it ingests a profile; returns an error string or None."""
    st = len(p.string_table)
    if st and p.string_table[0] != "":
        return "first string table entry is not empty"
    for table, what in ((p.mapping, "mapping"), (p.function, "function"), (p.location, "location")):
        for i, e in enumerate(table):
            if e.id != i + 1:
                return f"{what} ids are not 1..N in order (index {i} has id {e.id})"
    for m in p.mapping:
        if m.filename >= st or m.build_id >= st:
            return f"mapping {m.id} string index out of range"
    for f in p.function:
        if f.name >= st or f.system_name >= st or f.filename >= st:
            return f"function {f.id} string index out of range"
    for loc in p.location:
        if loc.mapping_id > len(p.mapping):
            return f"location {loc.id} has mapping id {loc.mapping_id}"
        for ln in loc.line:
            if ln.function_id == 0 or ln.function_id > len(p.function):
                return f"location {loc.id} has function id {ln.function_id}"
    if p.sample and not p.sample_type:
        return "samples without sample types"
    for i, s in enumerate(p.sample):
        if len(s.value) != len(p.sample_type):
            return f"sample {i} has {len(s.value)} values for {len(p.sample_type)} types"
        for lid in s.location_id:
            if lid == 0 or lid > len(p.location):
                return f"sample {i} has location id {lid}"
        for lab in s.label:
            if lab.key == 0 or lab.key >= st or lab.str >= st:
                return f"sample {i} has a label with a bad string index"
    return None


def summarize(p):
    """The facts tests assert on, from a decoded profile."""
    strs = p.string_table
    funcs = {f.id: strs[f.name] for f in p.function}
    names = set()
    for loc in p.location:
        for ln in loc.line:
            names.add(funcs.get(ln.function_id, ""))
    sample_labels = set()
    for s in p.sample:
        for lab in s.label:
            sample_labels.add(strs[lab.key])
    return {
        "time_nanos": p.time_nanos,
        "duration_nanos": p.duration_nanos,
        "samples": sum(s.value[0] for s in p.sample) if p.sample_type else 0,
        "functions": names,
        "sample_label_keys": sample_labels,
        "period": p.period,
    }
