"""A real in-process stack for controller tests, plus stand-ins for the scheduler and kubelet.

No scheduler or kubelet runs here: tests bind pods with ``stack.bind`` and write pod status with
``stack.run_pod`` / ``stack.run_all`` (phase Running, Ready=True with the current timestamp).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from kubetwin.api.errors import ApiError
from kubetwin.client import Client, Controller, InformerFactory
from kubetwin.sim import EventLoop, SeededRNG
from kubetwin.store import Registry, Store
from kubetwin.store.copy import deep_copy

Obj = dict[str, Any]


class Stack:
    def __init__(self, seed: int = 1) -> None:
        self.loop = EventLoop()
        self.store = Store()
        self.registry = Registry(self.store, self.loop, SeededRNG(seed))
        self.registry.bootstrap()
        self.client = Client(self.registry)
        self.informers = InformerFactory(self.registry)
        self.controllers: list[Controller] = []

    # -- wiring -----------------------------------------------------------------------------
    def start(self, *classes: type[Controller]) -> list[Controller]:
        out = []
        for cls in classes:
            c = cls(self.client, self.informers)
            c.start()
            self.controllers.append(c)
            out.append(c)
        return out

    def settle(self, seconds: float = 0.0) -> None:
        """Run everything due now (and up to ``seconds`` later)."""
        self.loop.run(until=self.loop.now + seconds)

    # -- objects ----------------------------------------------------------------------------
    def create(self, obj: Obj) -> Obj:
        return self.client.create(obj)

    def get(self, resource: str, name: str, ns: str | None = "default") -> Obj | None:
        return self.client.get_or_none(resource, name, ns)

    def pods(self, ns: str = "default", pred: Callable[[Obj], bool] | None = None) -> list[Obj]:
        pods = self.client.list("pods", ns)
        return [p for p in pods if pred is None or pred(p)]

    def events(self, reason: str | None = None) -> list[Obj]:
        evs = [e for ns in ("default", "kube-system", "kube-node-lease") for e in self.client.list("events", ns)]
        evs += [e for e in self.client.list("events") if e not in evs]
        return [e for e in evs if reason is None or e.get("reason") == reason]

    def node(self, name: str, labels: dict[str, str] | None = None, taints: list[Obj] | None = None,
             ready: str = "True", unschedulable: bool = False) -> Obj:  # fmt: skip
        now = self.loop.timestamp()
        conds = [{"type": "Ready", "status": ready, "reason": "KubeletReady", "message": "kubelet is posting ready status",
                  "lastHeartbeatTime": now, "lastTransitionTime": now}]  # fmt: skip
        node: Obj = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}},
                     "spec": {}, "status": {"conditions": conds,
                                            "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                                            "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"}}}  # fmt: skip
        if taints:
            node["spec"]["taints"] = taints
        if unschedulable:
            node["spec"]["unschedulable"] = True
        return self.client.create(node)

    # -- scheduler / kubelet stand-ins ------------------------------------------------------
    def bind(self, pod: Obj, node: str) -> Obj:
        m = pod["metadata"]
        return self.client.bind(m["namespace"], m["name"], node)

    def set_pod_status(self, pod: Obj, phase: str, ready: bool = False, restarts: int = 0,
                       reason: str | None = None) -> Obj:  # fmt: skip
        m = pod["metadata"]
        cur = self.client.get("pods", m["name"], m["namespace"])
        now = self.loop.timestamp()
        st = cur.setdefault("status", {})
        st["phase"] = phase
        if reason:
            st["reason"] = reason
        st.setdefault("startTime", now)
        conds = [c for c in st.get("conditions", []) if c.get("type") not in ("Ready", "ContainersReady")]
        old_ready = next((c for c in st.get("conditions", []) if c.get("type") == "Ready"), None)
        status = "True" if ready else "False"
        ltt = old_ready["lastTransitionTime"] if old_ready and old_ready["status"] == status else now
        conds.append({"type": "Ready", "status": status, "lastProbeTime": None, "lastTransitionTime": ltt})
        st["conditions"] = conds
        st["containerStatuses"] = [
            {"name": c["name"], "restartCount": restarts, "ready": ready}
            for c in cur["spec"].get("containers", [])
        ]
        return self.client.update_status(cur)

    def run_pod(self, pod: Obj, node: str = "node-1", ready: bool = True) -> Obj:
        if not pod["spec"].get("nodeName"):
            pod = self.bind(pod, node)
        return self.set_pod_status(pod, "Running", ready=ready)

    def run_all(self, ns: str = "default", nodes: Iterable[str] = ("node-1",), ready: bool = True) -> int:
        """Bind every pending unbound pod round-robin and mark it Running (and Ready)."""
        nodes = list(nodes)
        n = 0
        for i, pod in enumerate(sorted(self.pods(ns), key=lambda p: p["metadata"]["name"])):
            if pod["metadata"].get("deletionTimestamp") or pod["status"].get("phase") != "Pending":
                continue
            try:
                self.run_pod(pod, nodes[i % len(nodes)], ready)
            except ApiError:
                continue
            n += 1
        self.settle()
        return n

    def finish_deletions(self, ns: str = "default") -> None:
        """Kubelet stand-in: pods with a deletionTimestamp are removed (grace 0)."""
        for pod in self.pods(ns):
            if pod["metadata"].get("deletionTimestamp") and not pod["metadata"].get("finalizers"):
                try:
                    self.client.delete("pods", pod["metadata"]["name"], ns, grace_period_seconds=0)
                except ApiError:
                    pass
        self.settle()

    def patch_spec(self, resource: str, name: str, patch: Obj, ns: str = "default") -> Obj:
        return self.client.patch(resource, name, patch, ns)

    def snapshot(self) -> dict[str, Any]:
        """Every object except Events, keyed by resource and key (for reconcile-twice checks)."""
        out: dict[str, Any] = {}
        for resource in ("pods", "replicasets.apps", "deployments.apps"):
            for o in self.client.list(resource):
                m = o["metadata"]
                out[f"{resource}/{m.get('namespace', '')}/{m['name']}"] = deep_copy(o)
        return out


@pytest.fixture
def stack() -> Stack:
    return Stack()


def template(labels: dict[str, str], image: str = "nginx:1.0", **spec: Any) -> Obj:
    return {
        "metadata": {"labels": dict(labels)},
        "spec": {"containers": [{"name": "app", "image": image}], **spec},
    }


def make_rs(name: str, replicas: int, labels: dict[str, str] | None = None, min_ready: int = 0,
            ns: str = "default") -> Obj:  # fmt: skip
    labels = labels or {"app": name}
    spec: Obj = {"replicas": replicas, "selector": {"matchLabels": dict(labels)}, "template": template(labels)}
    if min_ready:
        spec["minReadySeconds"] = min_ready
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def make_deploy(name: str, replicas: int, strategy: Obj | None = None, image: str = "nginx:1.0",
                min_ready: int = 0, ns: str = "default", **spec: Any) -> Obj:  # fmt: skip
    labels = {"app": name}
    s: Obj = {"replicas": replicas, "selector": {"matchLabels": dict(labels)}, "template": template(labels, image)}
    if strategy is not None:
        s["strategy"] = strategy
    if min_ready:
        s["minReadySeconds"] = min_ready
    s.update(spec)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns}, "spec": s}
