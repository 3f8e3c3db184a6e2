"""The HPA end to end through scenario.runtime.Cluster on the metrics pipeline: a Pods metric
(http_requests_per_second from a LoadProfile) and an External AverageValue metric (queue depth
from an ExternalMetricSeries)."""

from __future__ import annotations

from typing import Any

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
