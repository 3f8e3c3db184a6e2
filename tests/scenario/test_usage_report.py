"""End to end: LoadProfiles (with a CSV trace file next to the manifest), CPU throttling and OOM
kills reach report.json and report.html as verdicts, node usage series and tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetwin.scenario.report import usage_verdicts
from kubetwin.scenario.run import run

MANIFESTS = """
apiVersion: kubetwin.io/v1alpha1
kind: Scenario
metadata: {name: usage}
spec: {duration: 30m, seed: 3, sampleInterval: 60s}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Node
metadata:
  name: n1
  labels: {kubernetes.io/hostname: n1}
status:
  capacity: {cpu: "4", memory: 8Gi, pods: "110", ephemeral-storage: 100Gi}
  allocatable: {cpu: "4", memory: 8092Mi, pods: "110", ephemeral-storage: 90Gi}
---
apiVersion: kubetwin.io/v1alpha1
kind: LoadProfile
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  traffic: {trace: {csv: traces/web.csv, column: rps}}
  perPod:
    baseline: {cpu: 50m, memory: 100Mi}
    cpuPerRequest: 4m
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: shop/web:1
        resources: {requests: {cpu: 200m, memory: 256Mi}, limits: {cpu: 500m, memory: 512Mi}}
---
apiVersion: v1
kind: Pod
metadata:
  name: api-0
  namespace: shop
  annotations: {kubetwin.io/memory-usage: 600Mi}
spec:
  containers:
  - name: api
    image: shop/api:1
    resources: {requests: {cpu: 100m, memory: 512Mi}, limits: {memory: 512Mi}}
"""


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("usage")
    (d / "traces").mkdir()
    (d / "traces" / "web.csv").write_text("time,rps\n0s,100\n10m,400\n30m,400\n")
    (d / "app.yaml").write_text(MANIFESTS)
    res = run(d, d / "out")
    return {"data": res.report_data, "html": (d / "out" / "report.html").read_text(), "out": d / "out"}


def test_verdicts(result: dict[str, Any]) -> None:
    texts = [v["text"] for v in result["data"]["verdicts"]] if "verdicts" in result["data"] else \
        [v["text"] for v in usage_verdicts(result["data"])]  # fmt: skip
    throttled = [t for t in texts if "CPU-throttled" in t]
    assert len(throttled) == 1
    assert throttled[0].startswith("2 pods of Deployment shop/web were CPU-throttled ")
    assert "(container app, limit 500m; got " in throttled[0]
    oom = [t for t in texts if "OOM-killed" in t]
    assert len(oom) == 1 and oom[0].startswith("container api in shop/api-0 OOM-killed ")
    assert "times (limit 512Mi), first at 00:00:10" in oom[0]


def test_report_data_and_html(result: dict[str, Any]) -> None:
    data = result["data"]
    kills = data["usage"]["oom_kills"]
    assert kills and all(k["kind"] == "limit" and k["pod"] == "api-0" for k in kills)
    series = data["samples"]["nodes"]["n1"]
    assert max(v for v in series["cpu_used_milli"] if v is not None) == 1100  # web pods at their 500m limit + api 100m
    assert series["memory_used_bytes"][-1] > 0
    html = result["html"]
    assert 'id="usage"' in html and "OOM kills (exit code 137, OOMKilled)" in html
    assert "CPU-throttled and CPU-starved containers" in html and "Busiest nodes" in html
    state = yaml.safe_load((Path(result["out"]) / "state.yaml").read_text())
    lp = next(o for o in state["items"] if o["kind"] == "LoadProfile")
    assert lp["spec"]["traffic"]["trace"]["csv"].startswith("time,rps\n0s,100")  # the file was inlined
    api = next(o for o in state["items"] if o["kind"] == "Pod" and o["metadata"]["name"] == "api-0")
    st = api["status"]["containerStatuses"][0]
    assert st["restartCount"] >= 3 and st["lastState"]["terminated"]["reason"] == "OOMKilled"


@pytest.mark.parametrize(
    ("usage", "want"),
    [
        pytest.param({"pods": [], "oom_kills": [{"t": 4320, "kind": "system", "node": "n2", "namespace": "a",
                                                  "pod": "p", "container": "c"}]},
                     ["node n2 ran out of memory at 01:12: the kernel OOM killer killed c in a/p"], id="system-oom"),
        pytest.param({"pods": [{"namespace": "a", "name": "p", "owner": "", "containers": [
            {"name": "c", "throttled_fraction": 0.38, "cpu_limit_milli": 500, "cpu_demanded_seconds": 100,
             "cpu_granted_seconds": 50}]}], "oom_kills": []},
                     ["pod a/p was CPU-throttled 38% of the time (container c, limit 500m; got 50% of the CPU it wanted)"],
                     id="one-pod-throttled"),
        pytest.param({"pods": [{"namespace": "a", "name": "p", "owner": "", "containers": [
            {"name": "c", "wait_fraction": 0.25, "cpu_wait_seconds": 12}]}], "oom_kills": []},
                     ["pod a/p waited for CPU on an over-subscribed node 25% of the time (container c, 12 CPU-seconds "
                      "short; CPU is shared by requests)"], id="starved"),
        pytest.param({"pods": [{"namespace": "a", "name": "p", "owner": "", "containers": [
            {"name": "c", "throttled_fraction": 0.01}]}], "oom_kills": []}, [], id="below-threshold"),
    ],
)  # fmt: skip
def test_usage_verdict_texts(usage: dict[str, Any], want: list[str]) -> None:
    assert [v["text"] for v in usage_verdicts({"usage": usage})] == want
