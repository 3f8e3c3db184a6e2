"""The HPA end to end through scenario.runtime.Cluster on the metrics pipeline: a Pods metric
(http_requests_per_second from a LoadProfile) and an External AverageValue metric (queue depth
from an ExternalMetricSeries)."""

from __future__ import annotations

from typing import Any

import pytest

from kubetwin.metrics import MetricsPipeline

from .conftest import NS, Env

Obj = dict[str, Any]
HPA = "horizontalpodautoscalers.autoscaling"


def _hpa(env: Env, name: str, metric: Obj, hi: int = 10) -> None:
    env.client.create({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name, "namespace": NS},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                 "minReplicas": 1, "maxReplicas": hi, "metrics": [metric]},
    })  # fmt: skip


def test_scales_on_requests_per_second(env: Env) -> None:
    env.deployment("web", replicas=2)
    env.profile("web", traffic={"steps": [{"at": "0s", "rps": 600}, {"at": "20m", "rps": 200}]})
    _hpa(env, "web", {"type": "Pods", "pods": {"metric": {"name": "http_requests_per_second"},
                                                "target": {"type": "AverageValue", "averageValue": "100"}}})  # fmt: skip
    env.run_to(10 * 60)
    assert env.replicas("web") == 6
    status = env.client.get(HPA, "web", NS)["status"]
    assert status["currentMetrics"][0]["pods"]["current"]["averageValue"] == "100"
    assert status["desiredReplicas"] == 6
    # traffic drops to a third: after the 5 min scale-down stabilization, 2 pods of 100 rps
    env.run_to(35 * 60)
    assert env.replicas("web") == 2


def test_scales_on_external_queue_depth(env: Env) -> None:
    env.deployment("worker", replicas=1, cpu="250m")
    env.series("jobs", "queue_depth", {"steps": [{"at": "0s", "value": 20}, {"at": "5m", "value": 80}]},
               {"queue": "jobs"})  # fmt: skip
    env.series("other", "queue_depth", {"constant": {"value": 1000}}, {"queue": "other"})
    _hpa(env, "worker", {"type": "External", "external": {
        "metric": {"name": "queue_depth", "selector": {"matchLabels": {"queue": "jobs"}}},
        "target": {"type": "AverageValue", "averageValue": "10"}}})  # fmt: skip
    env.run_to(4 * 60)
    assert env.replicas("worker") == 2
    env.run_to(10 * 60)
    assert env.replicas("worker") == 8
    current = env.client.get(HPA, "worker", NS)["status"]["currentMetrics"][0]["external"]["current"]
    assert current["averageValue"] == "10"


METRICS: dict[str, Obj] = {
    "cpu": {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}},
    "mem": {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "250Mi"}}},
    "rps": {"type": "Pods", "pods": {"metric": {"name": "http_requests_per_second"},
                                     "target": {"type": "AverageValue", "averageValue": "90"}}},
    "obj": {"type": "Object", "object": {"describedObject": {"apiVersion": "v1", "kind": "Service", "name": "obj"},
                                         "metric": {"name": "http_requests_per_second"},
                                         "target": {"type": "Value", "value": "400"}}},
}  # fmt: skip


def _history(arrays: bool, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """One Deployment, LoadProfile and HPA per metric kind (CPU utilization, memory per pod,
    requests/s per pod, a Service's requests/s) over traffic that rises and falls, with pods in
    their CPU start-up; every 30 s each HPA's status and events and the replicas."""
    if not arrays:
        monkeypatch.setattr(MetricsPipeline, "pod_samples", lambda self, uids: None)
    env = Env()
    try:
        for name, metric in METRICS.items():
            env.deployment(name, replicas=2)
            env.service(name, name)
            env.profile(name, traffic={"steps": [{"at": "0s", "rps": 300}, {"at": "4m", "rps": 1500},
                                                 {"at": "9m", "rps": 700}, {"at": "14m", "rps": 150}]},
                        per_pod={"baseline": {"cpu": "50m", "memory": "100Mi"}, "cpuPerRequest": "2m",
                                 "memoryPerRps": "1Mi", "startup": {"cpu": "400m", "duration": "45s"}})  # fmt: skip
            _hpa(env, name, metric, hi=25)
        out = []
        for t in range(30, 30 * 60, 30):
            env.run_to(t)
            events = [(e["involvedObject"]["name"], e["reason"], e["message"], e.get("count"))
                      for e in env.client.list("events", NS)
                      if e["involvedObject"].get("kind") == "HorizontalPodAutoscaler"]  # fmt: skip
            out.append((t, [(env.replicas(n), env.client.get(HPA, n, NS).get("status")) for n in METRICS],
                        sorted(events)))  # fmt: skip
        return out
    finally:
        env.cluster.close()


def test_arrays_and_pod_by_pod_decide_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    """The HPA over the pipeline's arrays (PodSamples) and pod by pod: same statuses, replicas and
    events at every step, for each metric kind."""
    fast = _history(True, monkeypatch)
    slow = _history(False, monkeypatch)
    for i in range(len(METRICS)):
        replicas = [step[1][i][0] for step in fast]
        assert max(replicas) > 4 and replicas[-1] < max(replicas), list(METRICS)[i]  # up, then down
    for a, b in zip(fast, slow, strict=True):
        assert a == b
