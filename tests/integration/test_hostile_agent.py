# SPDX-License-Identifier: Apache-2.0
"""Issue 16, cases 6 and 8: the agent's own files, flags and terminal, as a user attacks them.

Real agent, real BPF; attackers run as uid 65534 (see hostile.py).
"""
import collections
import os
import re
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import fornaxtest as ft  # noqa: E402
import hostile as h  # noqa: E402
from parca_peer import free_port  # noqa: E402

# How today's agent fails each of these; the fix removes the entry (hostile.py says why).
KNOWN_FAILURES = {}


class HostileCase(h.HostileCase):
    def victim(self):
        """A root-only file the user must not be able to change through the agent."""
        return self.host_file("root-only", "victim.txt", "root's data\n", 0o700, 0o600)


def fornax(args, timeout):
    """Runs the agent to completion; None as the exit status if it had to be killed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORNAX_")}
    proc = subprocess.Popen([ft.FORNAX] + args, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, err.decode(errors="replace")
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return None, err.decode(errors="replace")


class OutputFiles(HostileCase):
    def test_temp_name_symlinked_to_a_victim(self):
        """Case 6: -o in a user's directory, the temporary name planted as a symlink."""
        victim = self.victim()
        out = self.user_dir("out")
        svg, pb = os.path.join(out, "flame.svg"), os.path.join(out, "p.pb.gz")
        # something to sample: an idle machine gives an empty profile in 3 s
        work = ft.start_workload("split", 8, 1)
        self.addCleanup(lambda: (work.kill(), work.wait()))
        agent = h.Agent(self, ["-d", "3s", "-o", svg, "-o", pb], continuous=False)
        # The agent's pid is known as soon as it starts; its temporary names follow from it.
        for target in (svg, pb):
            h.run_as_user(["ln", "-s", victim, f"{target}.tmp.{agent.pid}"])
        rc = agent.proc.wait(60)
        desc = agent.describe()
        with open(victim, "rb") as f:
            data = f.read()
        self.assertEqual(data, b"root's data\n", f"the victim was overwritten (now starts "
                         f"{data[:16]!r}): {desc}")
        self.assertEqual(rc, 0, desc)
        with open(svg, "rb") as f:
            self.assertTrue(f.read(64).startswith(b"<?xml"), "no flame graph written")
        self.assertFalse(os.path.islink(svg))
        self.assertGreater(len(ft.read_pprof(pb).samples), 0)

    def test_continuous_output_that_is_a_regular_file(self):
        """Case 8: continuous mode needs a directory; a file there is refused at start."""
        path = self.path("not-a-dir")
        with open(path, "w") as f:
            f.write("keep\n")
        rc, err = fornax(["-o", path, "--interval", "1s"], timeout=10)
        self.assertIsNotNone(rc, f"still running after 10 s with -o naming a file:\n{err}")
        self.assertNotEqual(rc, 0, err)
        self.assertIn(path, err)
        with open(path) as f:
            self.assertEqual(f.read(), "keep\n")


class Flags(HostileCase):
    def test_bearer_token_file_that_is_a_fifo(self):
        d = self.user_dir("secrets")
        fifo = os.path.join(d, "token")
        h.run_as_user(["mkfifo", fifo])
        rc, err = fornax(["-d", "1s", "-o", self.path("p.pb.gz"), "--store",
                          f"grpc://127.0.0.1:{free_port()}", "--bearer-token-file", fifo],
                         timeout=10)
        self.assertIsNotNone(rc, f"start-up blocked on the FIFO for 10 s:\n{err}")
        self.assertNotEqual(rc, 0, err)
        self.assertIn(fifo, err)

    def test_duration_that_overflows_the_clock(self):
        # 5124095 h is just under 2^64 ns: start + duration wraps.
        out = self.path("p.pb.gz")
        agent = h.Agent(self, ["-d", "5124095h", "-o", out], continuous=False)
        time.sleep(4)
        if not agent.alive():
            # refused: an error, never a capture that ends at once with success
            self.assertNotEqual(agent.proc.returncode, 0, "the capture ended at once, with "
                                f"success: {agent.describe()}")
            self.assertIn("--duration", agent.tail())
            return
        agent.assert_stops()
        self.assertGreater(len(ft.read_pprof(out).samples), 0)


SPOOL_NAME_RE = re.compile(r"^(\d{20})-[0-9a-f]{16}\.window$")


class Spool(HostileCase):
    def store_args(self, spool, *extra):
        return ["--interval", "1s", "-v", "--store", f"grpc://127.0.0.1:{free_port()}",
                "--store-timeout", "2s", "--store-connect-timeout", "1s",
                "--spool-dir", spool] + list(extra)

    def test_spool_dir_of_another_user(self):
        spool = self.user_dir("spool", 0o777)
        planted = os.path.join(spool, "00000000000000000001-0000000000000000.window")
        h.run_as_user(["sh", "-c", f"printf x > {planted}; mkfifo {planted}.fifo"])
        before = sorted(os.listdir(spool))
        agent = h.Agent(self, self.store_args(spool), continuous=False)
        time.sleep(2)
        # After the agent looked at the directory, the user swaps a FIFO in for the window.
        h.run_as_user(["mv", f"{planted}.fifo", planted])
        time.sleep(6)
        log = agent.tail(200)
        rc, desc = agent.stop(timeout=h.STOP_TIMEOUT)
        self.assertIsNotNone(rc, f"no exit after SIGTERM: {desc}")
        after = sorted(f for f in os.listdir(spool))
        self.assertEqual(after, [n for n in before if not n.endswith(".fifo")],
                         f"the agent used a directory another user owns and anyone may write: "
                         f"{desc}")
        self.assertIn(spool, log, "the agent did not say why it ignores the spool directory")

    def test_full_disk_keeps_the_newest_windows(self):
        spool = self.path("spool")
        os.mkdir(spool, 0o700)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32k,mode=0700", "tmpfs", spool],
                       check=True)
        # cleanups run after tearDown, whose rmtree cannot remove a mount point
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.addCleanup(subprocess.run, ["umount", "-l", spool])
        work = ft.start_workload("split", 40, 1)
        self.addCleanup(lambda: (work.kill(), work.wait()))
        # The byte limit is far above the disk: the disk fills first. Only the workload is
        # profiled, so a window is a few KiB whatever else runs on the machine: with every
        # process, one window alone can outgrow the disk.
        agent = h.Agent(self, self.store_args(spool, "--spool-max-bytes", "64M", "--pid",
                                              str(work.pid)), continuous=False, frequency=199)
        # The disk fills within a few windows; then as many again go by.
        time.sleep(20)
        newest_allowed = time.time_ns() - 4 * 10**9
        names = [n for n in os.listdir(spool) if SPOOL_NAME_RE.match(n)]
        st = os.statvfs(spool)
        used = 1 - st.f_bavail / st.f_blocks
        agent.assert_stops()
        self.assertGreaterEqual(len(names), 2, f"spool: {names}")
        self.assertGreater(used, 0.5, "the spool's disk never filled: the test did not "
                           "exercise a full disk")
        newest = max(int(SPOOL_NAME_RE.match(n)[1]) for n in names)
        dropped = collections.Counter(
            why for _, why in re.findall(r"window (\d+) dropped \(([^)]*)\)", agent.tail(100000)))
        self.assertGreaterEqual(newest, newest_allowed,
                                f"the newest spooled window is {(time.time_ns() - newest) / 1e9:.0f}"
                                f" s old: new windows were dropped ({dict(dropped)}) to keep the "
                                f"{len(names)} oldest")
        self.assertGreater(dropped["disk_full"], 0, f"no eviction for the full disk was "
                           f"counted: {dict(dropped)}")


PTY_HOLDER = r"""
import os, sys, time
master, slave = os.openpty()
name = os.ttyname(slave)
os.close(slave)
os.symlink(name, sys.argv[1])
print("ready", flush=True)
time.sleep(float(sys.argv[2]))
os.close(master)
print("hung up", flush=True)
time.sleep(60)
"""


class Terminal(HostileCase):
    def test_debug_file_symlinked_to_a_users_pty(self):
        """Case 8: a file opened without O_NOCTTY makes a user's pty the agent's terminal."""
        u = self.user_dir("user")
        prog = os.path.join(u, "spin")
        subprocess.run(["cp", h.helper("spin_nobid"), prog], check=True)
        h.chown_user(prog)
        agent = h.Agent(self)
        agent.wait_started()
        holder = h.UserProcess(self, ["/usr/bin/python3", "-c", PTY_HOLDER, prog + ".debug", "5"])
        self.assertEqual(holder.readline(), "ready")
        attacker = h.UserProcess(self, [prog, "15"])
        time.sleep(4)
        self.assertEqual(agent.tty_nr(), 0, "the agent acquired the user's pty as its "
                         "controlling terminal")
        self.assertEqual(holder.readline(timeout=10), "hung up")
        agent.assert_writing(time.time() + 0.5, n=3)
        self.assertTrue(h.samples_of(agent.windows(), {str(attacker.pid)}))
        agent.assert_stops()

    def test_opens_of_files_others_control_are_nonblocking_and_noctty(self):
        """Every open of a path a process or a user controls carries O_NONBLOCK|O_NOCTTY.

        Or is an O_PATH open, which opens nothing: no FIFO waits, no terminal is
        acquired (lib/safe_open.c checks what it reached that way before it opens).
        """
        u = self.user_dir("user")
        prog = os.path.join(u, "spin")
        subprocess.run(["cp", h.helper("spin"), prog], check=True)
        h.chown_user(prog)
        trace = self.path("strace.log")
        attacker = h.UserProcess(self, [prog, "20"])
        time.sleep(0.3)
        # LeakSanitizer cannot run under ptrace: an ASan build would abort at exit.
        asan = os.environ.get("ASAN_OPTIONS", "")
        agent = h.Agent(self, ["-d", "4s", "-o", self.path("p.pb.gz")], continuous=False,
                        prefix=["strace", "-f", "-qq", "-e", "trace=open,openat,openat2",
                                "-o", trace],
                        env={"ASAN_OPTIONS": f"{asan}:detect_leaks=0".lstrip(":")})
        self.assertEqual(agent.proc.wait(120), 0, agent.describe())
        others = re.compile(r'"(/proc/\d+/)?(root|map_files)/|perf-\d+\.map"|\.debug"')
        audited, bad = [], []
        with open(trace, errors="replace") as f:
            for line in f:
                if not re.search(r"\bopen(at2?)?\(", line) or not others.search(line):
                    continue
                audited.append(line)
                if "O_PATH" not in line and ("O_NOCTTY" not in line or "O_NONBLOCK" not in line):
                    bad.append(line.strip())
        self.assertTrue(audited, "no open of another's file was traced: the test saw nothing")
        self.assertFalse(bad, f"{len(bad)} of {len(audited)} opens of files others control "
                         "lack O_NONBLOCK or O_NOCTTY, e.g.\n" + "\n".join(bad[:3]))
        del attacker

    def test_top_shows_no_c1_controls(self):
        """Case 8: function names from a user's binary reach the --top summary clean."""
        u = self.user_dir("user")
        prog = os.path.join(u, "spin")
        evil = b"hostile_evil\xc2\x9b31m\x9b2J\x1b]0;owned\x07\xc2\x85"
        subprocess.run([b"objcopy", b"--redefine-sym", b"hostile_leaf=" + evil,
                        os.fsencode(h.helper("spin")), os.fsencode(prog)], check=True)
        h.chown_user(prog)
        attacker = h.UserProcess(self, [prog, "10"])
        time.sleep(0.3)
        env = {k: v for k, v in os.environ.items() if not k.startswith("FORNAX_")}
        proc = subprocess.run([ft.FORNAX, "-d", "3s", "-F", "199", "--top", "200", "-o",
                               self.path("p.pb.gz")], env=env, capture_output=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
        text = proc.stderr.decode("utf-8", errors="surrogateescape")
        top = [line for line in text.splitlines() if "hostile_evil" in line]
        self.assertTrue(top, f"the renamed function is not in the summary: the test saw "
                        f"nothing\n{text[-3000:]}")
        controls = [hex(ord(c)) for c in text
                    if (ord(c) < 0x20 and c not in "\n\t") or 0x7f <= ord(c) <= 0x9f
                    or 0xdc80 <= ord(c) <= 0xdc9f]
        self.assertEqual(controls, [], f"control characters reached the terminal: {top!r}")
        del attacker


h.apply_known_failures(globals(), KNOWN_FAILURES)

if __name__ == "__main__":
    h.require_root_and_bpf()
    unittest.main()
