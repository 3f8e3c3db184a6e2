"""Object builders for tests: ``make_pod("p").container("c", requests={"cpu": "100m"}).obj()``.

Builders return plain dicts shaped like the API's objects; nothing is defaulted unless asked.
"""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]


def _resources(requests: dict[str, Any] | None, limits: dict[str, Any] | None) -> Obj:
    res: Obj = {}
    if requests is not None:
        res["requests"] = {k: str(v) for k, v in requests.items()}
    if limits is not None:
        res["limits"] = {k: str(v) for k, v in limits.items()}
    return res


class PodBuilder:
    def __init__(self, name: str, ns: str = "default") -> None:
        self._obj: Obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": []},
        }

    @property
    def spec(self) -> Obj:
        spec: Obj = self._obj["spec"]
        return spec

    def container(
        self,
        name: str = "c",
        requests: dict[str, Any] | None = None,
        limits: dict[str, Any] | None = None,
        image: str = "registry.k8s.io/pause:3.9",
        **extra: Any,
    ) -> PodBuilder:
        self.spec["containers"].append(
            {"name": name, "image": image, "resources": _resources(requests, limits), **extra}
        )
        return self

    def init_container(
        self,
        name: str = "init",
        requests: dict[str, Any] | None = None,
        limits: dict[str, Any] | None = None,
        image: str = "registry.k8s.io/pause:3.9",
        sidecar: bool = False,
        **extra: Any,
    ) -> PodBuilder:
        c: Obj = {"name": name, "image": image, "resources": _resources(requests, limits), **extra}
        if sidecar:
            c["restartPolicy"] = "Always"
        self.spec.setdefault("initContainers", []).append(c)
        return self

    def sidecar(self, name: str = "sidecar", requests: dict[str, Any] | None = None, **kw: Any) -> PodBuilder:
        return self.init_container(name, requests, sidecar=True, **kw)

    def overhead(self, overhead: dict[str, Any]) -> PodBuilder:
        self.spec["overhead"] = {k: str(v) for k, v in overhead.items()}
        return self

    def pod_resources(
        self, requests: dict[str, Any] | None = None, limits: dict[str, Any] | None = None
    ) -> PodBuilder:
        self.spec["resources"] = _resources(requests, limits)
        return self

    def labels(self, labels: dict[str, str]) -> PodBuilder:
        self._obj["metadata"].setdefault("labels", {}).update(labels)
        return self

    def annotations(self, annotations: dict[str, str]) -> PodBuilder:
        self._obj["metadata"].setdefault("annotations", {}).update(annotations)
        return self

    def node(self, name: str) -> PodBuilder:
        self.spec["nodeName"] = name
        return self

    def priority(self, n: int) -> PodBuilder:
        self.spec["priority"] = n
        return self

    def tolerations(self, tolerations: list[Obj]) -> PodBuilder:
        self.spec["tolerations"] = list(tolerations)
        return self

    def node_selector(self, selector: dict[str, str]) -> PodBuilder:
        self.spec["nodeSelector"] = dict(selector)
        return self

    def phase(self, phase: str) -> PodBuilder:
        self._obj.setdefault("status", {})["phase"] = phase
        return self

    def owner(self, kind: str, name: str, uid: str = "", api_version: str = "apps/v1") -> PodBuilder:
        ref = {
            "apiVersion": api_version,
            "kind": kind,
            "name": name,
            "uid": uid or f"{name}-uid",
            "controller": True,
        }
        self._obj["metadata"].setdefault("ownerReferences", []).append(ref)
        return self

    def set(self, path: str, value: Any) -> PodBuilder:
        """Set any dotted path, e.g. ``.set("spec.restartPolicy", "Never")``."""
        cur = self._obj
        parts = path.split(".")
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
        cur[parts[-1]] = value
        return self

    def obj(self) -> Obj:
        return copy.deepcopy(self._obj)


class NodeBuilder:
    def __init__(self, name: str) -> None:
        self._obj: Obj = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {},
            "status": {"capacity": {}, "allocatable": {}, "conditions": []},
        }

    def capacity(self, cpu: Any = "4", memory: Any = "16Gi", pods: Any = 110, **extra: Any) -> NodeBuilder:
        cap = {
            "cpu": str(cpu),
            "memory": str(memory),
            "pods": str(pods),
            **{k: str(v) for k, v in extra.items()},
        }
        self._obj["status"]["capacity"] = dict(cap)
        self._obj["status"]["allocatable"] = dict(cap)
        return self

    def allocatable(self, **resources: Any) -> NodeBuilder:
        self._obj["status"]["allocatable"] = {k.replace("_", "-"): str(v) for k, v in resources.items()}
        return self

    def labels(self, labels: dict[str, str]) -> NodeBuilder:
        self._obj["metadata"]["labels"].update(labels)
        return self

    def taints(self, taints: list[Obj]) -> NodeBuilder:
        self._obj["spec"]["taints"] = list(taints)
        return self

    def unschedulable(self, value: bool = True) -> NodeBuilder:
        self._obj["spec"]["unschedulable"] = value
        return self

    def ready(self, status: str = "True") -> NodeBuilder:
        conds = [c for c in self._obj["status"]["conditions"] if c.get("type") != "Ready"]
        conds.append({"type": "Ready", "status": status})
        self._obj["status"]["conditions"] = conds
        return self

    def obj(self) -> Obj:
        return copy.deepcopy(self._obj)


def make_pod(name: str, ns: str = "default") -> PodBuilder:
    return PodBuilder(name, ns)


def make_node(name: str) -> NodeBuilder:
    return NodeBuilder(name)
