# SPDX-License-Identifier: Apache-2.0
"""What fleet machines run: short-lived processes, mount namespaces, cgroups,
JIT code and stripped binaries, profiled by the real fornax with real BPF."""
import collections
import http.server
import os
import resource
import signal
import shutil
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import fornaxtest as ft  # noqa: E402

HELPERS = os.environ.get("FORNAX_HELPERS", "")
CHURN = os.path.join(HELPERS, "fornax_churn")
STRIPPED = os.path.join(HELPERS, "stripped")


def user_locations(sample):
    return [loc for loc in sample.stack if not loc.kernel]


def leaf_function(sample):
    """Outermost function of the user leaf location (inlined helpers belong to it)."""
    user = user_locations(sample)
    return user[0].lines[-1].function if user and user[0].lines else None


def sized_symbols(path):
    """A function from file offset to the name of the sized text symbol covering it."""
    loads = []
    for line in subprocess.run(["readelf", "-lW", path], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            loads.append((int(f[1], 16), int(f[2], 16), int(f[4], 16)))  # offset, vaddr, filesz
    symbols = []
    for line in subprocess.run(["nm", "-S", "--defined-only", path], capture_output=True,
                               text=True, check=True).stdout.splitlines():
        f = line.split()
        if len(f) == 4 and f[2] in "tT":
            symbols.append((int(f[0], 16), int(f[1], 16), f[3]))

    def lookup(file_offset):
        for offset, vaddr, size in loads:
            if offset <= file_offset < offset + size:
                address = file_offset - offset + vaddr
                return next((name for start, length, name in symbols
                             if start <= address < start + length), None)
        return None
    return lookup


class ShortLivedProcesses(ft.TempDirTestCase):
    FREQ = 499

    def start_agent(self, out):
        """Starts fornax and returns once it samples, with a thread collecting its stderr."""
        # -v: the process-event statistics at exit are checked
        return ft.start_agent(["--duration", "120s", "-F", str(self.FREQ), "--no-kernel", "-v",
                               "-o", out])

    def test_churn_samples_are_symbolized(self):
        """Hundreds of 2..30 ms processes: nearly every sample is symbolized, correctly.

        The whole churn runs inside the capture (it is stopped by SIGTERM after the
        churn, however slow a loaded machine makes it), so every child's CPU time is
        sampled. What the children spend in fork, exec and the dynamic loader depends on
        the machine, so the checks are on the names themselves: every sample is named,
        those in the churn binary name the function that was running, and churn_burn
        holds the samples its CPU time is worth."""
        out = self.path("churn.pb.gz")
        agent, lines, reader = self.start_agent(out)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        churn = subprocess.Popen([CHURN, "300", "2", "30", "2"])
        churn_status = churn.wait(timeout=120)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=60)
        reader.join(timeout=30)
        err = "".join(lines)
        self.assertEqual(agent.returncode, 0, err)
        self.assertEqual(churn_status, 0)
        p = ft.read_pprof(out)
        by_pid = {}
        for s in p.by_comm("fornax_churn"):
            by_pid.setdefault(s.labels["pid"], []).append(s)
        self.assertGreater(len(by_pid), 150, "most short-lived processes were sampled")
        samples = [s for ss in by_pid.values() for s in ss if user_locations(s)]
        total = sum(s.count for s in samples)
        named = sum(s.count for s in samples if leaf_function(s))
        self.assertGreater(total, 500)
        self.assertGreaterEqual(named / total, 0.97,
                                f"{named}/{total} samples with a named leaf\n{err}")
        # Every leaf inside the churn binary is named what its symbol table says covers
        # that address: not a neighbour's name, not a stale or foreign mapping's.
        symbol_at = sized_symbols(CHURN)
        checked = right = 0
        wrong = collections.Counter()
        for s in samples:
            leaf = user_locations(s)[0]
            mapping = p.mappings.get(leaf.mapping_id, {})
            if not mapping.get("file", "").endswith("/fornax_churn"):
                continue
            want = symbol_at(leaf.address - mapping["start"] + mapping["offset"])
            if want is None:
                continue  # the PLT and other code no sized symbol covers
            checked += s.count
            if leaf_function(s) == want:
                right += s.count
            else:
                wrong[(want, leaf_function(s))] += s.count
        self.assertGreater(checked, 300, "samples in the churn binary")
        self.assertGreaterEqual(right / checked, 0.99,
                                f"{right}/{checked} named right; (want, got): {wrong}")
        # No child's samples went missing: churn_burn, nearly all of the children's
        # user time, holds at least 60 % of what that time is worth at this rate.
        burn = sum(s.count for s in samples if leaf_function(s) == "churn_burn")
        user_time = after.ru_utime - before.ru_utime
        self.assertGreaterEqual(burn, 0.6 * user_time * self.FREQ,
                                f"{burn} churn_burn samples for {user_time:.2f} s of user time")
        # the kernel reported the mappings of exiting processes
        self.assertRegex(err, r"process events: \d+ forks, \d+ execs, [1-9]\d* exits")
        self.assertNotRegex(err, r"[1-9]\d* lost \(ring buffer full\)")


class MountNamespace(ft.TempDirTestCase):
    def test_binary_visible_only_inside_a_mount_namespace(self):
        mnt = self.path("private")
        os.mkdir(mnt)
        hidden = os.path.join(mnt, "fornax_workload")
        want_id = ft.build_id(ft.WORKLOAD)
        # a private tmpfs holds the only copy; the host sees an empty directory
        inner = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             f"mount -t tmpfs none {mnt} && cp {ft.WORKLOAD} {hidden} && "
             f"exec {hidden} split {5 + ft.WORKLOAD_SLACK} 1"])
        try:
            time.sleep(0.5)
            self.assertFalse(os.path.exists(hidden), "the binary must not be visible outside")
            out = self.path("ns.pb.gz")
            ft.run_fornax(["--duration", "2s", "-F", "199", "--no-kernel", "-o", out])
        finally:
            inner.wait(timeout=30)
        p = ft.read_pprof(out)
        samples = [s for s in p.samples if s.labels["pid"] == str(inner.pid)]
        total = sum(s.count for s in samples)
        self.assertGreater(total, 30)
        leaves = sum(s.count for s in samples if leaf_function(s) in ("leaf_a", "leaf_b", "leaf_c"))
        self.assertGreater(leaves / total, 0.9, f"{leaves}/{total}")
        maps = [m for m in p.mappings.values() if m["file"] == hidden]
        self.assertTrue(maps, p.mappings)
        self.assertEqual({m["build_id"] for m in maps}, {want_id})


class Cgroups(ft.TempDirTestCase):
    def test_cgroup_filter_and_labels(self):
        root = ft.cgroup2_mount()
        if not root:
            ft.skip_or_fail("no cgroup2 filesystem mounted")
        name = f"fornax-test-{os.getpid()}"
        cg = os.path.join(root, name)
        os.mkdir(cg)
        inside = outside = None
        try:
            inside = subprocess.Popen(
                ["sh", "-c", f"echo $$ > {cg}/cgroup.procs && "
                 f"exec {ft.WORKLOAD} syscalls {4 + ft.WORKLOAD_SLACK} 1"])
            outside = ft.start_workload("split", 4, 1)
            time.sleep(0.4)
            out = self.path("cg.pb.gz")
            ft.run_fornax(["--duration", "2s", "-F", "199", "--cgroup", cg, "-o", out])
        finally:
            for proc in (inside, outside):
                if proc:
                    proc.wait(timeout=30)
            os.rmdir(cg)
        p = ft.read_pprof(out)
        # what is sampled matters here, not how much (the machine may be busy)
        self.assertGreater(p.total(), 30)
        self.assertEqual({s.labels["pid"] for s in p.samples}, {str(inside.pid)})
        self.assertEqual({s.labels.get("cgroup") for s in p.samples}, {"/" + name})
        # not a container: no container_id
        self.assertFalse([s for s in p.samples if "container_id" in s.labels])

    def test_relative_cgroup_path_names_the_same_cgroup(self):
        root = ft.cgroup2_mount()
        if not root:
            ft.skip_or_fail("no cgroup2 filesystem mounted")
        out = self.path("root.pb.gz")
        workload = ft.start_workload("split", 3, 1)
        try:
            # the root cgroup holds everything
            ft.run_fornax(["--duration", "1s", "-F", "99", "--cgroup", "/", "-o", out])
        finally:
            workload.wait()
        p = ft.read_pprof(out)
        self.assertTrue([s for s in p.samples if s.labels["pid"] == str(workload.pid)])


class Jit(ft.TempDirTestCase):
    SCRIPT = """
function fornaxHotLoop(n) {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x * 31 + i) % 1000003;
  return x;
}
const end = Date.now() + Number(process.argv[2]);
let s = 0;
while (Date.now() < end) s += fornaxHotLoop(100000);
if (s < 0) console.log(s);
"""

    def test_node_perf_map_names_js_functions(self):
        node = shutil.which("node")
        if not node:
            ft.skip_or_fail("node (nodejs) is needed for the JIT test")
        script = self.path("hot.js")
        with open(script, "w") as f:
            f.write(self.SCRIPT)
        # cwd: node drops an isolate-*-v8.log where it runs.
        js = subprocess.Popen([node, "--perf-basic-prof", script, "4000"],
                              cwd=os.path.dirname(script))
        try:
            time.sleep(1.0)
            out = self.path("jit.pb.gz")
            ft.run_fornax(["--duration", "2s", "-F", "199", "--no-kernel", "-o", out])
        finally:
            js.wait(timeout=30)
            try:
                os.unlink(f"/tmp/perf-{js.pid}.map")
            except FileNotFoundError:
                pass
        self.assert_hot(ft.read_pprof(out), str(js.pid))

    def assert_hot(self, p, pid):
        samples = [s for s in p.samples if s.labels["pid"] == pid]
        total = sum(s.count for s in samples)
        hot = sum(s.count for s in samples if any("fornaxHotLoop" in f for f in s.frames()))
        self.assertGreater(total, 30)
        self.assertGreater(hot / total, 0.5, f"{hot}/{total} samples name fornaxHotLoop")

    def test_perf_map_of_a_process_in_a_pid_namespace(self):
        """Inside its namespace node is pid 1 and writes /tmp/perf-1.map."""
        node = shutil.which("node")
        if not node:
            ft.skip_or_fail("node (nodejs) is needed for the JIT test")
        script = self.path("hot.js")
        with open(script, "w") as f:
            f.write(self.SCRIPT)
        outer = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", node,
                                  "--perf-basic-prof", script, "4000"])
        try:
            time.sleep(1.0)
            # the host pid of node: unshare's only child
            with open(f"/proc/{outer.pid}/task/{outer.pid}/children") as f:
                host_pid = f.read().split()[0]
            with open(f"/proc/{host_pid}/status") as f:
                nspid = [l.split()[1:] for l in f if l.startswith("NSpid:")][0]
            self.assertEqual(nspid[-1], "1", nspid)
            out = self.path("jitns.pb.gz")
            ft.run_fornax(["--duration", "2s", "-F", "199", "--no-kernel", "-o", out])
        finally:
            outer.wait(timeout=30)
            try:
                os.unlink("/tmp/perf-1.map")
            except FileNotFoundError:
                pass
        self.assert_hot(ft.read_pprof(out), host_pid)


class DebuginfodServer(http.server.BaseHTTPRequestHandler):
    files = {}  # build-id → path
    requests = []

    def do_GET(self):
        DebuginfodServer.requests.append(self.path)
        parts = self.path.strip("/").split("/")
        path = self.files.get(parts[1]) if len(parts) == 3 and parts[0] == "buildid" \
            and parts[2] == "debuginfo" else None
        if not path:
            self.send_error(404)
            return
        with open(path, "rb") as f:
            data = f.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Stripped(ft.TempDirTestCase):
    LINK = os.path.join(STRIPPED, "fornax_stripped_link")
    BID = os.path.join(STRIPPED, "fornax_stripped_bid")
    BID_DEBUG = os.path.join(STRIPPED, "debugfiles", "fornax_stripped_bid.debug")

    def capture(self, binaries, extra):
        procs = [subprocess.Popen([b, "split", str(4 + ft.WORKLOAD_SLACK), "1"]) for b in binaries]
        try:
            time.sleep(0.3)
            out = self.path(f"stripped-{len(os.listdir(self.tmp))}.pb.gz")
            ft.run_fornax(["--duration", "1500ms", "-F", "199", "--no-kernel", "-o", out] + extra)
        finally:
            for proc in procs:
                proc.wait(timeout=30)
        p = ft.read_pprof(out)
        return p, [[s for s in p.samples if s.labels["pid"] == str(proc.pid)] for proc in procs]

    def assert_file_lines(self, samples, binary):
        leaves = [s for s in samples if leaf_function(s) in ("leaf_a", "leaf_b", "leaf_c")]
        self.assertGreater(sum(s.count for s in leaves), 20, binary)
        for s in leaves:
            outer = user_locations(s)[0].lines[-1]
            self.assertTrue(outer.file.endswith("workload.c"), f"{binary}: {outer}")
            self.assertGreater(outer.line, 0, f"{binary}: {outer}")

    def assert_no_file_lines(self, samples):
        self.assertTrue(samples)
        for s in samples:
            for loc in user_locations(s):
                for line in loc.lines:
                    self.assertFalse(line.file.endswith("workload.c"), line)

    def assert_build_id(self, p, binary):
        maps = [m for m in p.mappings.values() if m["file"] == binary]
        self.assertTrue(maps, p.mappings)
        self.assertEqual({m["build_id"] for m in maps}, {ft.build_id(binary)})

    def test_debuglink_and_private_build_id_directory(self):
        bid = ft.build_id(self.BID)
        root = self.path("debug")
        os.makedirs(os.path.join(root, ".build-id", bid[:2]))
        shutil.copy(self.BID_DEBUG, os.path.join(root, ".build-id", bid[:2], bid[2:] + ".debug"))
        p, (link, by_id) = self.capture([self.LINK, self.BID], ["--debug-dir", root])
        self.assert_file_lines(link, self.LINK)
        self.assert_file_lines(by_id, self.BID)
        self.assert_build_id(p, self.LINK)
        self.assert_build_id(p, self.BID)

    def test_without_debug_files_names_come_from_dynsym_only(self):
        # the premise of the other tests: the stripped binary alone has no lines
        _, (by_id,) = self.capture([self.BID], [])
        self.assert_no_file_lines(by_id)

    def test_debuginfod_fetches_the_debug_file(self):
        bid = ft.build_id(self.BID)
        DebuginfodServer.files = {bid: self.BID_DEBUG}
        DebuginfodServer.requests = []
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), DebuginfodServer)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}"
            cache = self.path("cache")
            p, (by_id,) = self.capture([self.BID], ["--debuginfod", url, "--debuginfod-cache",
                                                    cache, "--debuginfod-timeout", "5s"])
        finally:
            server.shutdown()
            server.server_close()
        self.assertIn(f"/buildid/{bid}/debuginfo", DebuginfodServer.requests)
        self.assert_file_lines(by_id, self.BID)
        self.assertTrue(os.path.exists(os.path.join(cache, bid, "debuginfo")), os.listdir(cache))


if __name__ == "__main__":
    ft.require_bpf()
    unittest.main()
