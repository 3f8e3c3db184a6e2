"""Real kubectl (v1.32 through the dispatcher) against ``kubetwin serve``: a smoke set asserting
on what kubectl prints. Each test has its own server, HOME and discovery cache."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = [
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not on PATH"),
    pytest.mark.slow,
]

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        resources:
          requests: {cpu: 200m, memory: 128Mi}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: web
  namespace: shop
spec:
  minAvailable: 2
  selector:
    matchLabels: {app: web}
"""


@pytest.fixture
def shop(served_cluster: Any, tmp_path: Path) -> Any:
    f = tmp_path / "shop.yaml"
    f.write_text(MANIFEST)
    out = served_cluster.kubectl("apply", "-f", str(f)).stdout
    assert out.splitlines() == [
        "namespace/shop created",
        "deployment.apps/web created",
        "poddisruptionbudget.policy/web created",
    ]
    served_cluster.advance("30s")
    return served_cluster


def test_get_nodes_wide(served_cluster: Any) -> None:
    out = served_cluster.kubectl("get", "nodes", "-o", "wide").stdout.splitlines()
    assert out[0].split()[:6] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP"]
    assert len(out) == 4 and all(" Ready " in line for line in out[1:])


def test_apply_get_scale_delete(shop: Any, tmp_path: Path) -> None:
    k = shop.kubectl
    pods = k("get", "pods", "-n", "shop").stdout.splitlines()
    assert pods[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert len(pods) == 3 and all("1/1" in p and "Running" in p for p in pods[1:])
    assert k("apply", "-f", str(tmp_path / "shop.yaml")).stdout.splitlines()[1] == "deployment.apps/web unchanged"
    assert k("scale", "deploy/web", "-n", "shop", "--replicas=3").stdout.strip() == "deployment.apps/web scaled"
    shop.advance("30s")
    assert k("get", "deploy", "web", "-n", "shop", "-o", "jsonpath={.status.readyReplicas}").stdout == "3"
    assert k("delete", "deploy", "web", "-n", "shop").stdout.strip() == 'deployment.apps "web" deleted'
    nf = k("get", "deploy", "web", "-n", "shop", check=False)
    assert nf.returncode == 1 and 'Error from server (NotFound): deployments.apps "web" not found' in nf.stderr


def test_get_pods_watch(shop: Any) -> None:
    p = shop.kubectl("get", "pods", "-n", "shop", "-w", "--request-timeout=2s", check=False, timeout=30)
    lines = p.stdout.splitlines()
    assert lines[0].split()[:3] == ["NAME", "READY", "STATUS"]
    assert sum("Running" in line for line in lines[1:]) >= 2


def test_drain_blocked_by_pdb(shop: Any) -> None:
    node = shop.kubectl("get", "pods", "-n", "shop", "-o", "jsonpath={.items[0].spec.nodeName}").stdout
    p = shop.kubectl("drain", node, "--ignore-daemonsets", "--timeout=2s", check=False, timeout=60)
    assert p.returncode != 0
    assert f"node/{node} cordoned" in p.stdout
    assert "evicting pod shop/web-" in p.stdout
    assert "Cannot evict pod as it would violate the pod's disruption budget." in p.stderr
    assert "SchedulingDisabled" in shop.kubectl("get", "node", node).stdout


def test_top_pods_and_auth(shop: Any) -> None:
    out = shop.kubectl("top", "pods", "-n", "shop").stdout.splitlines()
    assert out[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert len(out) == 3 and all(line.split()[1:] == ["200m", "128Mi"] for line in out[1:])
    assert shop.kubectl("auth", "can-i", "create", "deployments").stdout.strip() == "yes"


def test_kubetwin_clock_cli(served_cluster: Any) -> None:
    def clock(*args: str) -> str:
        return subprocess.run(
            ["kubetwin", "clock", *args, "--kubeconfig", str(served_cluster.kubeconfig)],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout.strip()  # fmt: skip

    assert clock("show") == "virtual time 2026-01-01T00:00:30Z (30s since start), paused"
    assert clock("advance", "30m") == "virtual time 2026-01-01T00:30:30Z (30m since start), paused"
    assert clock("speed", "60").endswith("speed 60x")
    assert clock("pause").endswith("paused")
