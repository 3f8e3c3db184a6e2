"""Helpers for the cluster-autoscaler tests: a Cluster with NodeGroups, Deployments and a
ClusterAutoscaler object, run on the virtual clock."""

from __future__ import annotations

from typing import Any

import pytest

from kubetwin.scenario.runtime import Cluster

Obj = dict[str, Any]


def nodegroup(name: str, **spec: Any) -> Obj:
    body = {"instanceType": "m5.large", "minSize": 1, "maxSize": 5, **spec}
    return {"apiVersion": "kubetwin.io/v1alpha1", "kind": "NodeGroup", "metadata": {"name": name}, "spec": body}


def deployment(name: str, replicas: int, cpu: str = "1", memory: str = "1Gi", ns: str = "default",
               **pod_spec: Any) -> Obj:  # fmt: skip
    labels = {"app": name}
    spec = {"containers": [{"name": "app", "image": "nginx",
                            "resources": {"requests": {"cpu": cpu, "memory": memory}}}], **pod_spec}  # fmt: skip
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": spec}},
    }  # fmt: skip


def autoscaler(**spec: Any) -> Obj:
    return {"apiVersion": "kubetwin.io/v1alpha1", "kind": "ClusterAutoscaler", "metadata": {"name": "default"},
            "spec": spec}  # fmt: skip


class Env:
    def __init__(self, *objs: Obj, seed: int = 1) -> None:
        self.cluster = Cluster(seed=seed)
        self.cluster.start()
        self.client = self.cluster.client
        failures = self.cluster.apply([(o["metadata"]["name"], o) for o in objs])
        assert failures == [], failures

    @property
    def ca(self) -> Any:
        from kubetwin.autoscaler import ClusterAutoscaler

        return next(c for c in self.cluster.components if isinstance(c, ClusterAutoscaler))

    def run(self, until: float) -> None:
        self.cluster.run(until=until)

    def nodes(self, group: str | None = None) -> list[Obj]:
        sel = f"kubetwin.io/nodegroup={group}" if group else None
        return self.client.list("nodes", label_selector=sel)

    def pods(self, ns: str = "default") -> list[Obj]:
        return self.client.list("pods", namespace=ns)

    def events(self, reason: str) -> list[Obj]:
        return [e for e in self.client.list("events") if e["reason"] == reason]

    def group(self, name: str) -> Obj:
        return self.client.get("nodegroups.kubetwin.io", name)


@pytest.fixture
def make_env() -> Any:
    envs: list[Env] = []

    def make(*objs: Obj, seed: int = 1) -> Env:
        env = Env(*objs, seed=seed)
        envs.append(env)
        return env

    yield make
    for e in envs:
        e.cluster.close()
