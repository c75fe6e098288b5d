#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Pod names and relabel_configs on real captures (real BPF).

No cluster runs here, so the test stands in for one: the stand-in API
server of the k8s unit test (HTTPS with a certificate openssl makes, a
bearer token) lists four pods of this node, and one workload runs in each
pod's container cgroup, named as containerd and the kubelet's cgroupfs
driver name them (.../pod<uid>/cri-containerd-<id>.scope). The agent runs
as in a pod: --kubernetes, with the service account's token and CA at
/var/run/secrets/kubernetes.io/serviceaccount (a tmpfs over /run in its
own mount namespace, so the host's /run is left alone).
"""
import json
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fornaxtest as ft  # noqa: E402

APISERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit", "agent",
                         "k8s", "apiserver.py")
NODE = "node-under-test"
TOKEN = "token-for-the-test"

# namespace, pod, labels; pods 2 and 3 are dropped by the rules below
PODS = [
    ("shop", "web-1", {"app": "shop", "tier": "web"}),
    ("batch", "job-1", {"app": "cron", "tier": "batch"}),
    ("kube-system", "proxy-1", {"app": "proxy", "tier": "web"}),
    ("shop", "debug-1", {"app": "shop", "tier": "debug"}),
]

RULES = """\
relabel_configs:
  - source_labels: [__meta_kubernetes_namespace]
    regex: kube-system
    action: drop
  - source_labels: [__meta_kubernetes_pod_label_tier]
    regex: web|batch
    action: keep
  - source_labels: [__meta_kubernetes_pod_label_app]
    target_label: app
  - regex: __meta_kubernetes_pod_label_(.+)
    replacement: k8s_$1
    action: labelmap
"""


def uid_of(i):
    return f"0000000{i}-1111-2222-3333-444444444444"


def container_id_of(i):
    return f"{i:x}" * 64


def pod_json(i):
    ns, name, labels = PODS[i]
    return {"metadata": {"name": name, "namespace": ns, "uid": uid_of(i), "labels": labels},
            "spec": {"nodeName": NODE},
            "status": {"phase": "Running",
                       "containerStatuses": [{"name": "app", "image": f"registry.example/{name}",
                                              "containerID": f"containerd://{container_id_of(i)}"}]}}


class Kubernetes(ft.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.server = None
        self.cgroups = []
        self.workloads = []
        root = ft.cgroup2_mount()
        if not root:
            ft.skip_or_fail("no cgroup2 filesystem mounted")
        self.cg_root = os.path.join(root, f"fornax-k8s-test-{os.getpid()}")
        sa = self.path("serviceaccount")
        os.mkdir(sa)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=kubernetes", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", self.path("apiserver.key"), "-out",
                        os.path.join(sa, "ca.crt")],
                       check=True, capture_output=True, timeout=60)
        with open(os.path.join(sa, "token"), "w") as f:
            f.write(TOKEN + "\n")
        self.server = subprocess.Popen(
            [sys.executable, APISERVER, "--cert", os.path.join(sa, "ca.crt"), "--key",
             self.path("apiserver.key"), "--token-file", os.path.join(sa, "token"),
             "--node", NODE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready = self.server.stdout.readline().split()
        self.assertEqual(ready[0], "ready", ready)
        self.api = f"https://127.0.0.1:{ready[1]}"
        for i in range(len(PODS)):
            self.server.stdin.write("add " + json.dumps(pod_json(i)) + "\n")
            self.server.stdin.flush()
            self.server.stdout.readline()

    def tearDown(self):
        for w in self.workloads:
            w.kill()
            w.wait()
        for cg in reversed(self.cgroups):
            os.rmdir(cg)
        if self.server:
            self.server.stdin.write("quit\n")
            self.server.stdin.flush()
            self.server.wait(timeout=30)
        super().tearDown()

    def start_in_container(self, i, seconds):
        path = self.cg_root
        for part in ("", "kubepods", f"pod{uid_of(i)}", f"cri-containerd-{container_id_of(i)}.scope"):
            path = os.path.join(path, part) if part else path
            if not os.path.isdir(path):
                os.mkdir(path)
                self.cgroups.append(path)
        proc = subprocess.Popen(["sh", "-c", f"echo $$ > {path}/cgroup.procs && "
                                 f"exec {ft.WORKLOAD} split {seconds} 1"])
        self.workloads.append(proc)
        return proc

    def test_pod_names_and_relabel_rules_on_real_captures(self):
        seconds = 8 + ft.WORKLOAD_SLACK
        pods = [self.start_in_container(i, seconds) for i in range(len(PODS))]
        outside = ft.start_workload("split", seconds, 1)
        self.workloads.append(outside)
        config = self.path("fornax.yaml")
        with open(config, "w") as f:
            f.write(RULES)
        out = self.path("k8s.pb.gz")
        agent = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             'mount -t tmpfs none /run && '
             'mkdir -p /var/run/secrets/kubernetes.io && '
             'cp -r "$SA" /var/run/secrets/kubernetes.io/serviceaccount && exec "$@"', "sh",
             ft.FORNAX, "--kubernetes", "--kubernetes-api", self.api, "--node-name", NODE,
             "--config", config, "--duration", "3s", "-F", "199", "--no-kernel", "-o", out, "-v"],
            env={**{k: v for k, v in os.environ.items() if not k.startswith("FORNAX_")},
                 "SA": self.path("serviceaccount")},
            capture_output=True, text=True, timeout=120)
        self.assertEqual(agent.returncode, 0, agent.stderr)
        p = ft.read_pprof(out)

        def labels_of(proc):
            sets = {tuple(sorted(s.labels.items())) for s in p.samples
                    if s.labels.get("pid") == str(proc.pid)}
            return [dict(s) for s in sets]

        for i, want_tier in ((0, "web"), (1, "batch")):
            ns, name, labels = PODS[i]
            got = labels_of(pods[i])
            self.assertTrue(got, f"no samples of pod {name}\n{agent.stderr}")
            for lab in got:
                self.assertEqual(lab.get("namespace"), ns, lab)
                self.assertEqual(lab.get("pod"), name, lab)
                self.assertEqual(lab.get("container"), "app", lab)
                self.assertEqual(lab.get("node"), NODE, lab)
                self.assertEqual(lab.get("container_id"), container_id_of(i), lab)
                self.assertEqual(lab.get("pod_uid"), uid_of(i), lab)
                # replace and labelmap; nothing starting with __ is left
                self.assertEqual(lab.get("app"), labels["app"], lab)
                self.assertEqual(lab.get("k8s_app"), labels["app"], lab)
                self.assertEqual(lab.get("k8s_tier"), want_tier, lab)
                self.assertFalse([k for k in lab if k.startswith("__")], lab)
        # drop (kube-system) and keep (tier web|batch): their samples are gone
        self.assertEqual(labels_of(pods[2]), [], "kube-system's pod must be dropped")
        self.assertEqual(labels_of(pods[3]), [], "the debug tier must not be kept")
        # a process in no pod is profiled as before, with no pod labels
        got = labels_of(outside)
        self.assertTrue(got, agent.stderr)
        for lab in got:
            self.assertFalse({"namespace", "pod", "app", "k8s_tier"} & set(lab), lab)
        # what the rules dropped is counted in the profile, not lost silently
        dropped = re.search(r"fornax: (\d+) samples dropped by relabel_configs",
                            ft.decode_pprof(out))
        self.assertTrue(dropped, "no count of the samples the rules dropped")
        self.assertGreater(int(dropped[1]), 30)


if __name__ == "__main__":
    ft.require_bpf()
    unittest.main()
