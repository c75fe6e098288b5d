# SPDX-License-Identifier: Apache-2.0
"""The running agent operated from outside: a real Prometheus scrapes its
/metrics, `go tool pprof` fetches an on-demand capture from it, /healthz and
/readyz answer, systemd's notifications arrive on a socket the test binds,
and SIGHUP re-reads the config file (a broken one is refused, the agent
keeps running).
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import fornaxtest  # noqa: E402
import promtest  # noqa: E402


class RunningAgent(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="fornax-ops-")
        cls.port = promtest.free_port()
        cls.notify_path = os.path.join(cls.tmp.name, "notify")
        cls.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        cls.notify.bind(cls.notify_path)
        cls.notify.settimeout(0.2)
        # read all along, as systemd does: a datagram queue is only ten deep
        cls.messages, cls.lock = [], threading.Lock()
        cls.reader = threading.Thread(target=cls.read_notifications, daemon=True)
        cls.reader.start()
        cls.config = os.path.join(cls.tmp.name, "fornax.yaml")
        with open(cls.config, "w") as f:
            f.write(f'frequency: 99\nhttp-address: "127.0.0.1:{cls.port}"\n'
                    f'output: {cls.tmp.name}/profiles\ninterval: 5s\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith("FORNAX_")}
        env.update({"NOTIFY_SOCKET": cls.notify_path, "WATCHDOG_USEC": "1000000"})
        cls.log = open(os.path.join(cls.tmp.name, "agent.log"), "w+")
        cls.workload = fornaxtest.start_workload("split", 120, 1)
        cls.agent = subprocess.Popen([fornaxtest.FORNAX, "--config", cls.config],
                                     env=env, stderr=cls.log)
        cls.base = f"http://127.0.0.1:{cls.port}"
        deadline = time.monotonic() + 60
        while "READY=1" not in cls.received() and time.monotonic() < deadline:
            time.sleep(0.1)
            if cls.agent.poll() is not None:
                break

    @classmethod
    def read_notifications(cls):
        while True:
            try:
                data = cls.notify.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with cls.lock:
                cls.messages.extend(data.decode().split("\n"))

    @classmethod
    def received(cls):
        with cls.lock:
            return list(cls.messages)

    @classmethod
    def tearDownClass(cls):
        cls.workload.kill()
        cls.workload.wait()
        if cls.agent.poll() is None:
            cls.agent.terminate()
            cls.agent.wait(timeout=60)
        cls.log.close()
        cls.notify.close()
        cls.tmp.cleanup()

    def agent_log(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def test_1_ready_and_watchdog(self):
        self.assertIsNone(self.agent.poll(), self.agent_log())
        self.assertIn("READY=1", self.received(), self.agent_log())
        # WATCHDOG_USEC=1s: a ping each turn of the drain loop (1 s drains; a loaded
        # machine may stretch the turns, so wait for two more up to 15 s)
        before = self.received().count("WATCHDOG=1")
        deadline = time.monotonic() + 15
        while (self.received().count("WATCHDOG=1") - before < 2 and
               time.monotonic() < deadline):
            time.sleep(0.2)
        self.assertGreaterEqual(self.received().count("WATCHDOG=1") - before, 2,
                                self.received())

    def test_2_health(self):
        status, body, _ = promtest.http_get(self.base + "/healthz")
        self.assertEqual((status, body), (200, b"[+]drain ok\nhealthz check passed\n"))
        status, body, _ = promtest.http_get(self.base + "/readyz")
        self.assertEqual(status, 200, body)
        self.assertIn(b"[+]sampling ok", body)

    def test_3_prometheus_sees_samples_rise(self):
        status, body, _ = promtest.http_get(self.base + "/metrics")
        self.assertEqual(status, 200)
        ok, said = promtest.promtool_check_metrics(body)
        self.assertTrue(ok, said)
        for family in (b"fornax_samples_total", b"fornax_samples_lost_total",
                       b"fornax_drains_total", b"fornax_symbolizer_cached",
                       b"fornax_windows_written_total", b"fornax_drain_late_seconds_total",
                       b"process_resident_memory_bytes"):
            self.assertIn(b"\n" + family, body)
        target = f"127.0.0.1:{self.port}"
        with promtest.Prometheus([target], self.tmp.name) as prom:
            prom.wait_for(
                lambda: (prom.value("count_over_time(fornax_samples_total[1m])") or 0) >= 3,
                60, "three scrapes of fornax_samples_total")
            samples = prom.range_samples('fornax_samples_total{job="fornax"}', "1m")
            values = [v for _, v in samples]
            self.assertEqual(values, sorted(values), samples)
            self.assertGreater(values[-1], values[0], samples)
            self.assertEqual(prom.value(f'up{{instance="{target}"}}'), 1)
            self.assertGreater(prom.value("fornax_drains_total"), 1)

    def test_4_go_tool_pprof_reads_a_capture(self):
        t0 = time.monotonic()
        p = subprocess.run(["go", "tool", "pprof", "-raw", "-symbolize=none",
                            self.base + "/debug/pprof/profile?seconds=2"],
                           capture_output=True, text=True, timeout=120)
        elapsed = time.monotonic() - t0
        self.assertEqual(p.returncode, 0, p.stderr)
        profile = fornaxtest.parse_pprof_raw(p.stdout)
        self.assertGreaterEqual(elapsed, 2, "the capture ended before its seconds")
        leaves = {s.frames()[0] for s in profile.samples if s.frames()}
        self.assertTrue({"leaf_a", "leaf_b", "leaf_c"} & leaves,
                        f"no workload frames among {sorted(leaves)[:20]}")
        # pid= keeps one process: only the workload's samples
        status, body, _ = promtest.http_get(
            self.base + f"/debug/pprof/profile?seconds=1&pid={self.workload.pid}", timeout=60)
        self.assertEqual(status, 200)
        path = os.path.join(self.tmp.name, "pid.pb.gz")
        with open(path, "wb") as f:
            f.write(body)
        pids = {s.labels.get("pid") for s in fornaxtest.read_pprof(path).samples}
        self.assertEqual(pids, {str(self.workload.pid)})
        # a rate the agent does not sample at is refused with the reason
        status, body, _ = promtest.http_get(self.base + "/debug/pprof/profile?seconds=1&hz=7")
        self.assertEqual(status, 400)
        self.assertIn(b"99 Hz", body)

    def test_5_sighup_rereads_and_keeps_on_error(self):
        with open(self.config, "a") as f:
            f.write("frequncy: 5\n")
        self.agent.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while "keeping the running one" not in self.agent_log() and time.monotonic() < deadline:
            time.sleep(0.2)
        log = self.agent_log()
        self.assertIn("unknown key", log)
        self.assertIn("keeping the running one", log)
        self.assertIsNone(self.agent.poll())
        with open(self.config) as f:
            good = f.read().replace("frequncy: 5\n", "verbose: 0\n")
        with open(self.config, "w") as f:
            f.write(good)
        self.agent.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while "configuration re-read" not in self.agent_log() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertIn("configuration re-read", self.agent_log())
        self.assertIn("RELOADING=1", self.received())
        status, _, _ = promtest.http_get(self.base + "/healthz")
        self.assertEqual(status, 200)

    def test_6_stop(self):
        self.agent.terminate()
        self.assertEqual(self.agent.wait(timeout=60), 0, self.agent_log())
        time.sleep(0.5)
        self.assertIn("STOPPING=1", self.received())


if __name__ == "__main__":
    fornaxtest.require_bpf()
    promtest.require_prometheus()
    unittest.main()
