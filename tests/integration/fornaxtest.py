# SPDX-License-Identifier: Apache-2.0
"""Shared helpers for fornax's integration tests.

Profiles are read back with independent tools: `go tool pprof -raw` for
pprof files (Go's own parser), plain text for folded stacks.
"""
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

SKIP = 77
FORNAX = os.environ.get("FORNAX", "")
WORKLOAD = os.environ.get("FORNAX_WORKLOAD", "")
KERNEL_HALF = 1 << 63
# Seconds every workload lives beyond what its test asks for. Under emulation
# (the VM tests) a stalled guest can take seconds to start the agent, and a
# workload that is gone before sampling begins leaves nothing to check.
WORKLOAD_SLACK = int(os.environ.get("FORNAX_TEST_WORKLOAD_SLACK", "0"))


def in_ci():
    return os.environ.get("CI", "").lower() == "true"


# Debian's own interpreter busy in C and Python: -O2 without frame pointers, frames of
# about a kilobyte (_PyEval_EvalFrameDefault), libc and OpenSSL below and above it.
# argv[1]: seconds to run.
PYTHON_LOOP = """
import hashlib, json, re, sys, time
end = time.time() + float(sys.argv[1])
doc = {"a": [1, 2, 3, {"b": "x" * 50}], "c": list(range(100))}
pat = re.compile(r"(\\w+)@(\\w+)\\.com")
while time.time() < end:
    s = json.dumps(doc)
    json.loads(s)
    pat.findall("foo@bar.com baz@qux.com " * 10)
    hashlib.sha256(s.encode()).hexdigest()
"""

def skip_or_fail(reason):
    """Outside CI a missing prerequisite skips; in CI it is a failure."""
    if in_ci():
        print(f"FAIL: {reason} (CI=true: the real-BPF tests must run)", file=sys.stderr)
        sys.exit(1)
    print(f"SKIP: {reason}", file=sys.stderr)
    sys.exit(SKIP)


def require_bpf():
    if not FORNAX or not os.path.exists(FORNAX):
        skip_or_fail("FORNAX does not name the fornax binary")
    if os.geteuid() != 0:
        skip_or_fail("needs root to load BPF programs")
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        skip_or_fail("kernel has no BTF (/sys/kernel/btf/vmlinux)")
    if not shutil.which("go"):
        skip_or_fail("go (golang-go) is needed to read profiles independently")


def cgroup2_mount():
    """Where the cgroup2 filesystem is mounted, or None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] == "cgroup2":
                return left.split()[4]
    return None


def run_fornax(args, env=None, timeout=120, check=True):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FORNAX_")}
    full_env.update(env or {})
    proc = subprocess.run([FORNAX] + args, env=full_env, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"fornax {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def start_agent(args):
    """Starts fornax with args and returns (process, stderr lines, reader thread) once it
    samples; the thread keeps collecting stderr. Raises if fornax exits before."""
    agent = subprocess.Popen([FORNAX] + args, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in agent.stderr:
        lines.append(line)
        if "profiling " in line:
            break
    else:
        agent.wait(timeout=30)
        raise AssertionError("fornax exited before sampling:\n" + "".join(lines))
    reader = threading.Thread(target=lambda: lines.extend(agent.stderr), daemon=True)
    reader.start()
    return agent, lines, reader


def start_workload(mode, seconds, nprocs):
    return subprocess.Popen([WORKLOAD, mode, str(seconds + WORKLOAD_SLACK), str(nprocs)])


def process_tree(pid):
    """pid and its descendants, as strings like the profile's pid labels.

    Samples are matched by pid, not comm: another copy of the workload may
    be running on the machine.
    """
    pids, todo = set(), [pid]
    while todo:
        p = todo.pop()
        pids.add(str(p))
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return pids


def workload_pids(proc, nprocs):
    """Waits until the workload has forked its nprocs processes; returns their pids."""
    for _ in range(200):
        pids = process_tree(proc.pid)
        if len(pids) >= nprocs:
            return pids
        time.sleep(0.01)
    raise AssertionError(f"workload {proc.pid} did not start {nprocs} processes")


class Line:
    __slots__ = ("function", "file", "line", "system_name")

    def __init__(self, function, file, line, system_name):
        self.function, self.file, self.line, self.system_name = function, file, line, system_name

    def __repr__(self):
        return f"{self.function} {self.file}:{self.line}"


class Location:
    def __init__(self, id, address, mapping_id):
        self.id, self.address, self.mapping_id = id, address, mapping_id
        self.lines = []  # innermost (inlined) first

    @property
    def kernel(self):
        # Garbage from a frame-pointer walk can look like a kernel address,
        # but only kernel code lies in a mapping up there.
        return self.address >= KERNEL_HALF and self.mapping_id != 0

    def __repr__(self):
        return f"Location({self.id}, {self.address:#x}, M={self.mapping_id}, {self.lines})"

    def names(self):
        """Function names innermost first; an unsymbolized location is [unknown]."""
        return [l.function for l in self.lines] or ["[unknown]"]


class Sample:
    def __init__(self, values, location_ids):
        self.values, self.location_ids = values, location_ids
        self.labels = {}
        self.stack = []  # Location objects, leaf first

    @property
    def count(self):
        return self.values[0]

    def frames(self):
        """Every function in the stack, leaf (and innermost inline) first."""
        out = []
        for loc in self.stack:
            out.extend(loc.names())
        return out


class Profile:
    def __init__(self):
        self.header = {}
        self.comments = []  # the profile's comments, in order
        self.sample_types = []
        self.samples = []
        self.locations = {}
        self.mappings = {}

    def total(self, pred=lambda s: True):
        return sum(s.count for s in self.samples if pred(s))

    def by_comm(self, comm):
        return [s for s in self.samples if s.labels.get("comm") == comm]

    def by_pids(self, pids):
        return [s for s in self.samples if s.labels.get("pid") in pids]

    @property
    def duration(self):
        """Seconds, from the profile's duration_nanos (go tool pprof -raw prints it rounded)."""
        return self.duration_nanos / 1e9


_LINE_RE = re.compile(r"^(?P<name>.*) (?P<file>\S*):(?P<line>-?\d+) s=(?P<start>-?\d+)(?:\((?P<sys>.*)\))?$")


def _parse_line(text):
    m = _LINE_RE.match(text)
    if not m:
        return Line(text, "", 0, text)
    return Line(m["name"], m["file"], int(m["line"]), m["sys"] or m["name"])


def parse_pprof_raw(text):
    """Parses `go tool pprof -raw` output (Go's profile.String())."""
    p = Profile()
    section = "header"
    current_sample = None
    current_loc = None
    for raw in text.splitlines():
        if raw == "Samples:":
            section = "sample_types"
            continue
        if raw == "Locations":
            section = "locations"
            continue
        if raw == "Mappings":
            section = "mappings"
            continue
        if section == "header":
            if raw.startswith("Comment: "):
                p.comments.append(raw[len("Comment: "):])
            elif ":" in raw:
                k, v = raw.split(":", 1)
                p.header[k.strip()] = v.strip()
        elif section == "sample_types":
            p.sample_types = raw.split()
            section = "samples"
        elif section == "samples":
            if ":" in raw and not raw.startswith("                "):
                values, locs = raw.split(":", 1)
                current_sample = Sample([int(v) for v in values.split()],
                                        [int(x) for x in locs.split()])
                p.samples.append(current_sample)
            elif raw.strip() and current_sample is not None:
                for key, vals in re.findall(r"(\S+?):\[([^\]]*)\]", raw):
                    current_sample.labels[key] = vals
        elif section == "locations":
            m = re.match(r"^\s*(\d+): (0x[0-9a-f]+) (?:M=(\d+) )?(?:\[F\] )?(.*)$", raw)
            if m and not raw.startswith("             "):
                current_loc = Location(int(m[1]), int(m[2], 16), int(m[3] or 0))
                p.locations[current_loc.id] = current_loc
                if m[4]:
                    current_loc.lines.append(_parse_line(m[4]))
            elif raw.strip() and current_loc is not None:
                current_loc.lines.append(_parse_line(raw.strip()))
        elif section == "mappings":
            m = re.match(r"^\s*(\d+): (0x[0-9a-f]+)/(0x[0-9a-f]+)/(0x[0-9a-f]+) ?(.*)$", raw)
            if m:
                rest = m[5].split()
                flags = [f for f in rest if f.startswith("[")]
                names = [f for f in rest if not f.startswith("[")]
                p.mappings[int(m[1])] = {
                    "start": int(m[2], 16), "limit": int(m[3], 16), "offset": int(m[4], 16),
                    "file": names[0] if names else "",
                    "build_id": names[1] if len(names) > 1 else "",
                    "flags": flags,
                }
    for s in p.samples:
        s.stack = [p.locations[i] for i in s.location_ids]
    return p


UPSTREAM_PROTO_DIR = "/usr/share/gocode/src/github.com/google/pprof/proto"


def decode_pprof(path):
    """The profile as protoc prints it, decoded with Debian's copy of upstream profile.proto."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    proc = subprocess.run(["protoc", "--decode=perftools.profiles.Profile", "-I",
                           UPSTREAM_PROTO_DIR, os.path.join(UPSTREAM_PROTO_DIR, "profile.proto")],
                          input=raw, capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise AssertionError(f"protoc --decode {path} failed:\n{proc.stderr.decode()}")
    return proc.stdout.decode()


def read_pprof(path):
    proc = subprocess.run(["go", "tool", "pprof", "-raw", "-symbolize=none", path],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise AssertionError(f"go tool pprof -raw {path} failed:\n{proc.stderr}")
    p = parse_pprof_raw(proc.stdout)
    text = decode_pprof(path)
    m = re.search(r"^duration_nanos: (\d+)$", text, re.M)
    p.duration_nanos = int(m[1]) if m else 0
    m = re.search(r"^time_nanos: (\d+)$", text, re.M)
    p.time_nanos = int(m[1]) if m else 0
    return p


def read_folded(path):
    """Returns [(frames root first, count)]."""
    out = []
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            out.append((stack.split(";"), int(count)))
    return out


def build_id(path):
    proc = subprocess.run(["readelf", "-n", path], capture_output=True, text=True, check=True)
    m = re.search(r"Build ID: ([0-9a-f]+)", proc.stdout)
    return m[1] if m else ""


class TempDirTestCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="fornax-test-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)
