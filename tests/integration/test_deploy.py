# SPDX-License-Identifier: Apache-2.0
"""deploy/kubernetes/fornax.yaml and deploy/compose.yaml, read as their tools read them.

No cluster and no container runtime run here: the manifest is parsed and
held to what the agent needs (memory for its BPF maps, a priority class a
managed cluster accepts, the capabilities of the unit), and the compose file
is checked by `docker-compose config`, which resolves and validates it
without starting anything.
"""
import os
import re
import shutil
import subprocess
import sys
import unittest

import yaml

sys.path.insert(0, os.path.dirname(__file__))
from test_unit import unit_values  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
MANIFEST = os.path.join(ROOT, "deploy", "kubernetes", "fornax.yaml")
COMPOSE = os.path.join(ROOT, "deploy", "compose.yaml")
MiB = 1 << 20
# What the agent takes beside its unwind tables at worst (the budget in the manifest).
OVERHEAD = 128 * MiB


def quantity(text):
    """Kubernetes' 512Mi and fornax's 256M (both binary) in bytes."""
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi|K|M|G|KiB|MiB|GiB)?", str(text))
    if not m:
        raise ValueError(text)
    scale = {None: 1, "K": 1 << 10, "M": MiB, "G": 1 << 30}[m.group(2)[0] if m.group(2) else None]
    return int(m.group(1)) * scale


def load_manifest():
    with open(MANIFEST) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def container(docs):
    spec = docs[("DaemonSet", "fornax")]["spec"]["template"]["spec"]
    (c,) = [c for c in spec["containers"] if c["name"] == "fornax"]
    return spec, c, {e["name"]: e.get("value") for e in c["env"]}


class DaemonSet(unittest.TestCase):
    def setUp(self):
        self.docs = load_manifest()
        self.pod, self.c, self.env = container(self.docs)

    def test_memory_limit_fits_the_unwind_tables(self):
        limit = quantity(self.c["resources"]["limits"]["memory"])
        tables = quantity(self.env["FORNAX_UNWIND_MEMORY"])
        self.assertGreaterEqual(limit, tables + OVERHEAD,
                                "BPF maps are charged to the pod: the limit must hold them")
        self.assertLessEqual(quantity(self.c["resources"]["requests"]["memory"]), limit)

    def test_priority_class_of_its_own(self):
        name = self.pod["priorityClassName"]
        self.assertFalse(name.startswith("system-"),
                         "system-* classes are refused outside kube-system on managed clusters")
        pc = self.docs[("PriorityClass", name)]
        self.assertLessEqual(pc["value"], 1000000000, "user classes go up to 1e9")
        self.assertGreater(pc["value"], 0)
        self.assertFalse(pc["globalDefault"])

    def test_capabilities_are_the_units(self):
        sc = self.c["securityContext"]
        self.assertFalse(sc["privileged"])
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        unit = {c.removeprefix("CAP_") for c in unit_values("AmbientCapabilities")[0].split()}
        # a pod's memlock limit is the runtime's: CAP_SYS_RESOURCE stands in for
        # the unit's LimitMEMLOCK=infinity on kernels before 5.11
        self.assertEqual(set(sc["capabilities"]["add"]), unit | {"SYS_RESOURCE"})
        self.assertTrue(self.pod["hostPID"])


    def test_probes_reach_the_endpoint(self):
        """The endpoint listens on the node's loopback; the kubelet probes it there."""
        address = self.env["FORNAX_HTTP_ADDRESS"]
        self.assertEqual(address, "127.0.0.1:7071")
        self.assertTrue(self.pod["hostNetwork"], "127.0.0.1 in the pod is not the kubelet's")
        self.assertEqual(self.pod["dnsPolicy"], "ClusterFirstWithHostNet")
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = self.c[probe]["httpGet"]
            self.assertEqual((get["host"], get["port"], get["path"]), ("127.0.0.1", 7071, path))
        self.assertEqual(unit_values("Environment").count("FORNAX_HTTP_ADDRESS=" + address), 1)

    def test_pods_can_be_listed_and_watched(self):
        account = self.pod["serviceAccountName"]
        binding = self.docs[("ClusterRoleBinding", "fornax")]
        self.assertIn({"kind": "ServiceAccount", "name": account, "namespace": "fornax"},
                      binding["subjects"])
        role = self.docs[("ClusterRole", binding["roleRef"]["name"])]
        self.assertIn({"apiGroups": [""], "resources": ["pods"],
                       "verbs": ["get", "list", "watch"]}, role["rules"])


class Compose(unittest.TestCase):
    def test_docker_compose_config(self):
        if not os.path.exists(COMPOSE):
            self.fail("deploy/compose.yaml is missing")
        p = subprocess.run(["docker-compose", "-f", COMPOSE, "config"], capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        resolved = yaml.safe_load(p.stdout)
        services = resolved["services"]
        self.assertIn("parca", services)
        self.assertIn("pyroscope", services)
        stores = {}
        for name, svc in services.items():
            env = svc.get("environment", {})
            if "FORNAX_STORE" not in env:
                continue
            stores[name] = env["FORNAX_STORE"]
            self.assertEqual(svc["pid"], "host")
            self.assertEqual(set(svc["cap_add"]),
                             {c.removeprefix("CAP_")
                              for c in unit_values("AmbientCapabilities")[0].split()}
                             | {"SYS_RESOURCE"})
            self.assertEqual(svc["build"]["dockerfile"], "deploy/Dockerfile")
        self.assertEqual(sorted(stores.values()),
                         ["grpc://parca:7070", "pyroscope+http://pyroscope:4040"])


if __name__ == "__main__":
    if not shutil.which("docker-compose"):
        why = "docker-compose is missing (Debian's docker-compose)"
        print(("FAIL: " if os.environ.get("CI", "").lower() == "true" else "SKIP: ") + why,
              file=sys.stderr)
        sys.exit(1 if os.environ.get("CI", "").lower() == "true" else 77)
    unittest.main()
