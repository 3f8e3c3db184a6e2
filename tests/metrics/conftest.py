"""An in-process Cluster (usage engine on, so the metrics pipeline is the MetricsClient) with
helpers to create the objects the metrics tests need."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kubetwin.client.metrics import RowKeys
from kubetwin.metrics import MetricsPipeline
from kubetwin.scenario.runtime import Cluster

Obj = dict[str, Any]
NS = "default"


class Env:
    def __init__(self, resolution: float = 15.0) -> None:
        self.cluster = Cluster(seed=7, metrics_resolution=resolution)
        self.cluster.start()
        self.client = self.cluster.client
        pipeline = self.cluster.metrics_pipeline
        assert isinstance(pipeline, MetricsPipeline)
        self.pipeline = pipeline
        self.client.create({"apiVersion": "kubetwin.io/v1alpha1", "kind": "NodeGroup", "metadata": {"name": "workers"},
                            "spec": {"instanceType": "m5.4xlarge", "minSize": 3, "maxSize": 3}})  # fmt: skip

    def deployment(
        self, name: str = "web", replicas: int = 2, cpu: str = "500m", limit: str | None = None
    ) -> None:
        labels = {"app": name}
        resources: Obj = {"requests": {"cpu": cpu, "memory": "256Mi"}}
        if limit:
            resources["limits"] = {"cpu": limit}
        self.client.create({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NS},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": "nginx", "resources": resources}]}}},
        })  # fmt: skip

    def profile(self, name: str = "web", traffic: Obj | None = None, metrics: list[Obj] | None = None,
                per_pod: Obj | None = None) -> None:  # fmt: skip
        self.client.create({
            "apiVersion": "kubetwin.io/v1alpha1", "kind": "LoadProfile", "metadata": {"name": name, "namespace": NS},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "traffic": traffic or {"constant": {"rps": 100}},
                     "perPod": per_pod or {"baseline": {"cpu": "50m", "memory": "100Mi"}, "cpuPerRequest": "2m"},
                     "metrics": metrics if metrics is not None else [
                         {"name": "http_requests_per_second", "type": "requestsPerSecond"}]},
        })  # fmt: skip

    def oom_deployment(self, sidecar: bool = True) -> None:
        """Deployment "oom" (2 replicas): container "a" (100m, 120Mi limit), with a LoadProfile
        given by the caller it is OOM-killed and restarted again and again; "b" (50m) beside it
        when ``sidecar``."""
        containers: list[Obj] = [{"name": "a", "image": "x",
                                  "resources": {"requests": {"cpu": "100m"}, "limits": {"memory": "120Mi"}}}]  # fmt: skip
        if sidecar:
            containers.append({"name": "b", "image": "x", "resources": {"requests": {"cpu": "50m"}}})
        self.client.create({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "oom", "namespace": NS},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "oom"}},
                     "template": {"metadata": {"labels": {"app": "oom"}}, "spec": {"containers": containers}}},
        })  # fmt: skip

    def service(self, name: str = "web", app: str = "web") -> None:
        self.client.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS},
                            "spec": {"selector": {"app": app}, "ports": [{"port": 80}]}})  # fmt: skip

    def series(self, name: str, metric: str, values: Obj, labels: dict[str, str] | None = None) -> None:
        spec: Obj = {"metricName": metric, "values": values}
        if labels is not None:
            spec["labels"] = labels
        self.client.create({"apiVersion": "kubetwin.io/v1alpha1", "kind": "ExternalMetricSeries",
                            "metadata": {"name": name, "namespace": NS}, "spec": spec})  # fmt: skip

    def run_to(self, t: float) -> None:
        self.cluster.run(t)

    def pods(self, app: str = "web") -> list[Obj]:
        return [p for p in self.client.list("pods", NS, label_selector=f"app={app}")
                if not p["metadata"].get("deletionTimestamp")]  # fmt: skip

    def replicas(self, name: str) -> int:
        return int(self.client.get("deployments.apps", name, NS)["spec"]["replicas"])


Key = tuple[str | None, str | None]


class KeptRows:
    """Rows kept across calls as a controller keeps them: a key (pod uid, container name or None)
    keeps its row while it is asked for; the rows of keys no longer asked for are freed and reused."""

    def __init__(self) -> None:
        self.keys = RowKeys()
        self.row: dict[Key, int] = {}
        self.free: list[int] = []

    def sync(self, keys: list[Key]) -> list[int]:
        """The rows of ``keys`` (in that order) after freeing those of the keys not in it."""
        wanted = set(keys)
        for key in [k for k in self.row if k not in wanted]:
            r = self.row.pop(key)
            self.keys.set(r, None)
            self.free.append(r)
        out = []
        for key in keys:
            r = self.row.get(key)
            if r is None:
                r = self.row[key] = self.free.pop() if self.free else len(self.keys)
                self.keys.set(r, *key)
            out.append(r)
        return out


def fresh_rows(keys: list[Key]) -> RowKeys:
    """New rows for ``keys``, in order: a join never made before."""
    rows = RowKeys()
    for r, key in enumerate(keys):
        rows.set(r, *key)
    return rows


@pytest.fixture
def env() -> Iterator[Env]:
    e = Env()
    yield e
    e.cluster.close()
