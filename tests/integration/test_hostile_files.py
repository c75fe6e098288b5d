# SPDX-License-Identifier: Apache-2.0
"""Issue 16, cases 1-5: files that users and containers control, read by the root agent.

Real agent, real BPF; every attacker runs as uid 65534 (see hostile.py).
"""
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import fornaxtest as ft  # noqa: E402
import hostile as h  # noqa: E402

# How today's agent fails each of these; the fix removes the entry (hostile.py says why).
KNOWN_FAILURES = {
}

# Attacks that win a race most of the time, not always: until fixed, they may pass.
RACY = set()

JIT_ADDRESS = 0x100000000


def user_copy(src, dst):
    shutil.copy(src, dst)
    h.chown_user(dst)
    return dst


class TruncatedLibrary(h.HostileCase):
    """Case 1: a user's copy of a library, dlopen()ed, mapped by the agent, truncated."""

    def test_agent_survives_a_library_truncated_under_it(self):
        u = self.user_dir("user")
        lib = user_copy(h.helper("libsigbus.so"), os.path.join(u, "lib.so"))
        prog = user_copy(h.helper("sigbus"), os.path.join(u, "sigbus"))
        agent = h.Agent(self)
        agent.wait_started()
        # 3 s in the library (the agent opens and maps it), then truncated, then 8 s of
        # stacks holding return addresses into it that the agent has not seen yet.
        attacker = h.UserProcess(self, [prog, lib, "3", "8"])
        self.assertEqual(attacker.readline(timeout=30), "truncated")
        truncated = time.time()
        self.assertEqual(os.stat(lib).st_size, 4096)
        windows = agent.assert_writing(truncated + 0.5, n=4)
        after = h.samples_of(windows, {str(attacker.pid)})
        self.assertTrue(after, "no samples of the attacker after the truncation: the test "
                        "did not exercise the truncated file")
        in_lib = [s for s in after for loc in s.stack
                  if s.mappings.get(loc.mapping_id, {}).get("file", "").endswith("/lib.so")]
        self.assertTrue(in_lib, "no stack after the truncation reaches the library")
        agent.assert_stops()


class DebugFiles(h.HostileCase):
    """Case 2: what the agent finds where it looks for a separate debug file."""

    def attack(self, binary, plant, name="spin"):
        """Runs the user's binary (no DWARF) next to what plant(dir) put there."""
        u = self.user_dir("user")
        prog = user_copy(h.helper(binary), os.path.join(u, name))
        plant(u, prog)
        agent = h.Agent(self)
        agent.wait_started()
        attacker = h.UserProcess(self, [prog, "12"])
        began = time.time()
        windows = agent.assert_writing(began + 1, n=4)
        self.assertTrue(h.samples_of(windows, {str(attacker.pid)}),
                        "no samples of the attacker: the test did not exercise the lookup")
        agent.assert_stops()

    def test_fifo_named_like_the_debug_file(self):
        def plant(d, prog):
            h.run_as_user(["mkfifo", prog + ".debug"])
        self.attack("spin", plant)

    def test_debug_file_symlinked_to_dev_zero(self):
        # no build-id: the candidate is checked by the CRC-32 of its whole content
        def plant(d, prog):
            h.run_as_user(["ln", "-s", "/dev/zero", prog + ".debug"])
        self.attack("spin_nobid", plant)

    def test_debuglink_with_dotdot_reads_nothing_outside_the_container(self):
        # A host file the container cannot see and the user cannot read.
        secret = self.host_file("host-only", "secret.debug", "host data\n", 0o700, 0o600)
        root = make_container_root(self)
        prog = os.path.join(root, "app", "spin")
        shutil.copy(h.helper("spin_static"), prog)
        add_debuglink(prog, "../" * 40 + secret.lstrip("/"))
        h.chown_user(prog)
        watch = h.Inotify()
        self.addCleanup(watch.close)
        watch.watch(secret)
        agent = h.Agent(self)
        agent.wait_started()
        # A chroot build root: in a pivot_root container ".." stops at its root anyway.
        box = h.UserProcess(self, h.chroot_container(root, ["/app/spin", "12"]), user=False)
        began = time.time()
        windows = agent.assert_writing(began + 1, n=4)
        self.assertTrue(h.samples_of(windows, container_pids(box)),
                        "no samples of the container: the test did not exercise the lookup")
        agent.assert_stops()
        self.assertEqual(watch.opened(), [], "the agent opened a host file named by a "
                         ".gnu_debuglink with ../")


def make_container_root(test):
    """A bare container root: /app for programs (static), /tmp; the user owns both."""
    root = test.path("container")
    os.mkdir(root)
    os.chmod(root, 0o755)
    for d in ("app", "tmp"):
        os.mkdir(os.path.join(root, d), 0o755)
        h.chown_user(os.path.join(root, d))
    return root


def container_pids(box):
    """Host pids of the processes in a container started by h.container()."""
    return ft.process_tree(box.pid)


def add_debuglink(path, name):
    """A .gnu_debuglink naming `name`, which objcopy --add-gnu-debuglink would not write."""
    data = name.encode() + b"\0"
    data += b"\0" * (-len(data) % 4) + b"\0\0\0\0"  # CRC-32 (never matches)
    section = path + ".debuglink"
    with open(section, "wb") as f:
        f.write(data)
    subprocess.run(["objcopy", "--add-section", f".gnu_debuglink={section}",
                    "--set-section-flags", ".gnu_debuglink=readonly", path], check=True)
    os.unlink(section)


class UnwinderOpen(h.HostileCase):
    """Case 3: the unwinder's open of a mapping whose path has become a FIFO."""

    def check_unwinder_still_works(self, agent):
        """A process started now gets CFI walks: its tables were built."""
        work = h.UserProcess(self, [h.UNWIND_WORKLOAD, "chain", "6", "1"])
        began = time.time()
        windows = agent.assert_writing(began + 2.5, n=3)
        samples = h.samples_of(windows, {str(work.pid)})
        total = sum(s.count for s in samples)
        self.assertGreater(total, 20, "too few samples of the new process")
        cfi = sum(s.count for s in samples if s.labels.get("unwind") == "complete")
        self.assertGreater(cfi / total, 0.5, "a new process is still walked by frame pointers "
                           f"({cfi} of {total} CFI walks): the unwinder is stuck? "
                           f"{agent.describe()}")

    def test_fifo_over_a_mapping_when_map_files_is_not_permitted(self):
        u = self.user_dir("user")
        lib = user_copy(h.helper("libsigbus.so"), os.path.join(u, "lib.so"))
        # An agent without CAP_SYS_ADMIN and CAP_CHECKPOINT_RESTORE may not open map_files.
        agent = h.Agent(self, prefix=["setpriv", "--bounding-set=-sys_admin,-checkpoint_restore"])
        agent.wait_started()
        attacker = h.UserProcess(self, [h.helper("toggle"), "replace", lib, "30"])
        self.assertEqual(attacker.readline(), "ready")
        time.sleep(3)  # first sample → request → the unwinder reads its maps
        self.check_unwinder_still_works(agent)
        agent.assert_stops()

    def test_mapping_toggled_between_file_and_fifo(self):
        u = self.user_dir("user")
        lib = user_copy(h.helper("libsigbus.so"), os.path.join(u, "lib.so"))
        agent = h.Agent(self)
        agent.wait_started()
        attacker = h.UserProcess(self, [h.helper("toggle"), "race", lib, "25", "3"])
        self.assertEqual(attacker.readline(), "ready")
        time.sleep(25)
        attacker.kill()
        self.check_unwinder_still_works(agent)
        agent.assert_stops()


class Containers(h.HostileCase):
    """Case 4: absolute symlinks in a container root resolve inside it, never on the host."""

    def run_container(self, root, argv, watched):
        watch = h.Inotify()
        self.addCleanup(watch.close)
        for w in watched:
            watch.watch(w)
        agent = h.Agent(self)
        agent.wait_started()
        box = h.UserProcess(self, h.container(root, argv), user=False)
        began = time.time()
        windows = agent.assert_writing(began + 1, n=4)
        pids = container_pids(box)
        self.assertTrue(h.samples_of(windows, pids),
                        "no samples of the container: the test did not exercise the agent")
        agent.assert_stops()
        return windows, watch.opened()

    def test_tmp_symlinked_to_a_host_perf_map(self):
        # root's, as the host's JIT runtimes leave them
        perf_map = self.host_file("host-tmp", "perf-1.map",
                                  f"{JIT_ADDRESS:x} 1000 HOST_ONLY_jit_symbol\n")
        host = os.path.dirname(perf_map)
        root = make_container_root(self)
        os.rmdir(os.path.join(root, "tmp"))
        os.symlink(host, os.path.join(root, "tmp"))  # absolute: the host's path
        shutil.copy(h.helper("jit"), os.path.join(root, "app", "jit"))
        windows, opened = self.run_container(
            root, ["/app/jit", "12", f"{JIT_ADDRESS:x}"], [perf_map])
        self.assertFalse("HOST_ONLY_jit_symbol" in h.all_functions(windows),
                         "a container's JIT frames were named from the host's perf map")
        self.assertEqual(opened, [], "the agent opened the host's perf map for a container")

    def test_debug_dir_symlinked_to_the_host(self):
        debug = self.host_file("host-debug", "spin.debug", "host data\n")
        host = os.path.dirname(debug)
        root = make_container_root(self)
        shutil.copy(h.helper("spin_static"), os.path.join(root, "app", "spin"))
        os.symlink(host, os.path.join(root, "app", ".debug"))
        _, opened = self.run_container(root, ["/app/spin", "12"], [debug])
        self.assertEqual(opened, [], "the agent's debug-file search left the container")

    def test_binary_dir_symlinked_to_the_host_without_map_files(self):
        # The container maps /app/lib/lib.so, deletes it, and points /app/lib at a host
        # directory holding a lib.so: a path opened by name now leads to the host.
        host = self.path("host-lib")
        os.mkdir(host, 0o755)
        host_lib = os.path.join(host, "lib.so")
        shutil.copy(h.helper("libsigbus.so"), host_lib)
        root = make_container_root(self)
        os.mkdir(os.path.join(root, "app", "lib"), 0o755)
        shutil.copy(h.helper("libsigbus.so"), os.path.join(root, "app", "lib", "lib.so"))
        shutil.copy(h.helper("toggle"), os.path.join(root, "app", "toggle"))
        for p in ("app/lib", "app/lib/lib.so"):
            h.chown_user(os.path.join(root, p))
        watch = h.Inotify()
        self.addCleanup(watch.close)
        watch.watch(host_lib)
        agent = h.Agent(self, prefix=["setpriv", "--bounding-set=-sys_admin,-checkpoint_restore"])
        agent.wait_started()
        box = h.UserProcess(self, h.container(
            root, ["/app/toggle", "swapdir", "/app/lib/lib.so", host, "12"]), user=False)
        self.assertEqual(box.readline(), "ready")
        windows = agent.assert_writing(time.time() + 1, n=4)
        self.assertTrue(h.samples_of(windows, container_pids(box)),
                        "no samples of the container: the test did not exercise the agent")
        agent.assert_stops()
        self.assertEqual(watch.opened(), [], "the agent opened a host file for a container's "
                         "mapping")


class PerfMapMemory(h.HostileCase):
    """Case 5: one user's 64 MiB perf map, hard-linked as the perf map of 8 processes."""

    MAP_BYTES = 64 << 20
    PROCS = 8
    # The agent's own RSS is ~30 MiB; one perf map within any sane budget fits under this.
    MAX_RSS_KB = 256 << 10

    def write_map(self, path):
        line0 = f"{JIT_ADDRESS:x} 1000 hostile_jit_code\n".encode()
        # distinct entries, none covering the JIT code: all of them must be indexed
        chunk = [line0]
        size = len(line0)
        addr = 0x200000000
        while size < self.MAP_BYTES:
            line = b"%x 10 filler_%x\n" % (addr, addr)
            chunk.append(line)
            size += len(line)
            addr += 0x10
        with open(path, "wb") as f:
            f.write(b"".join(chunk))

    def test_hard_linked_perf_maps_stay_within_a_budget(self):
        u = self.user_dir("user")
        big = os.path.join(u, "big.map")
        self.write_map(big)
        h.chown_user(big)
        # An ASan build keeps 256 MiB of freed memory in quarantine: not what is measured.
        asan = os.environ.get("ASAN_OPTIONS", "")
        agent = h.Agent(self, env={"ASAN_OPTIONS": f"{asan}:quarantine_size_mb=16".lstrip(":")})
        agent.wait_started()
        base_kb = int(agent.status("VmRSS").split()[0])
        procs = []
        for _ in range(self.PROCS):
            p = h.UserProcess(self, [h.helper("jit"), "120", f"{JIT_ADDRESS:x}", big])
            self.assertTrue(p.readline().startswith("ready"))
            self.addCleanup(lambda pid=p.pid: os.path.exists(f"/tmp/perf-{pid}.map")
                            and os.unlink(f"/tmp/perf-{pid}.map"))
            procs.append(p)
        self.assertEqual(os.stat(big).st_nlink, self.PROCS + 1)
        # Until every process's JIT frames are named (each perf map read), or 90 s.
        began, named = time.time(), set()
        while len(named) < self.PROCS and time.time() < began + 90 and agent.alive():
            time.sleep(2)
            for s in h.samples_of(agent.windows(began), {str(p.pid) for p in procs}):
                if "hostile_jit_code" in s.frames():
                    named.add(s.labels["pid"])
        agent.assert_writing(time.time() - 2, n=1)
        peak_kb = int(agent.status("VmHWM").split()[0])
        agent.assert_stops()
        self.assertTrue(named, "no JIT frame was named: the test did not exercise the perf maps")
        self.assertLess(peak_kb, self.MAX_RSS_KB,
                        f"agent RSS peaked at {peak_kb >> 10} MiB (from {base_kb >> 10} MiB) "
                        f"with {self.PROCS} links to one {self.MAP_BYTES >> 20} MiB perf map; "
                        f"{len(named)} processes' JIT frames named")

h.apply_known_failures(globals(), KNOWN_FAILURES, RACY)

if __name__ == "__main__":
    h.require_root_and_bpf()
    unittest.main()
