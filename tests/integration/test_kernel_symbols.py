# SPDX-License-Identifier: Apache-2.0
"""Kernel text that comes after the agent read /proc/kallsyms: a BPF program
loaded while fornax runs is named in its samples' kernel stacks, as
/proc/kallsyms and perf name it (bpf_prog_<tag>_<name>), by the real fornax
with real BPF."""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import fornaxtest as ft  # noqa: E402

LOADER = os.environ.get("FORNAX_KSYM_LOADER", "")
PROG_RE = re.compile(r"^bpf_prog_[0-9a-f]{16}_ksym_spin$")


class LaterBpfPrograms(ft.TempDirTestCase):
    def test_program_loaded_after_start_is_named(self):
        """The loader loads ksym_spin once the agent samples, spends its time inside it
        (BPF_PROG_TEST_RUN), then unloads it while the agent still runs. Its kernel
        stacks name the program, and no frame of them is a bare module-space address."""
        if not LOADER or not os.path.exists(LOADER):
            ft.skip_or_fail("FORNAX_KSYM_LOADER does not name fornax_ksym_loader")
        out = self.path("ksym.pb.gz")
        agent, lines, reader = ft.start_agent(["--duration", "6s", "-F", "499", "-v", "-o", out])
        loader = subprocess.run([LOADER, "3", "1"], capture_output=True, text=True, timeout=60)
        agent.wait(timeout=60)
        reader.join(timeout=30)
        err = "".join(lines)
        self.assertEqual(loader.returncode, 0, loader.stderr)
        self.assertIn("unloaded", loader.stdout)
        self.assertEqual(agent.returncode, 0, err)

        samples = [s for s in ft.read_pprof(out).samples
                   if s.labels.get("pid") and s.stack and s.stack[0].address >= ft.KERNEL_HALF
                   and "bpf_test_run" in s.frames()]
        total = sum(s.count for s in samples)
        self.assertGreater(total, 100, f"samples under bpf_test_run\n{err}")
        named = [s for s in samples if any(PROG_RE.match(n) for n in s.frames())]
        in_prog = sum(s.count for s in named)
        # the program is nearly all the loop does; allow for the syscall around it
        self.assertGreater(in_prog / total, 0.8,
                           f"{in_prog}/{total} samples name the program: "
                           f"{sorted({s.frames()[0] for s in samples})[:20]}")
        for s in named:
            bare = [hex(loc.address) for loc in s.stack
                    if loc.address >= ft.KERNEL_HALF and not loc.lines]
            self.assertEqual(bare, [], f"unnamed kernel frames in {s.frames()}")
            leaf = s.stack[0]
            self.assertTrue(PROG_RE.match(leaf.names()[0]), s.frames())
        # the load and the unload were counted
        m = re.search(r"kernel symbols after /proc/kallsyms was read: (\d+) added, (\d+) removed",
                      err)
        self.assertTrue(m, err)
        self.assertGreaterEqual(int(m[1]), 1, err)
        self.assertGreaterEqual(int(m[2]), 1, err)


if __name__ == "__main__":
    ft.require_bpf()
    unittest.main()
