"""metrics.k8s.io/v1beta1 NodeMetrics and PodMetrics (sigs.k8s.io/metrics-server: pkg/api), the
API behind ``kubectl top``.

The seam: a **usage provider** is ``Callable[[pod], list[ContainerUsage]]`` giving the current
usage of every container of a running pod, and a **node usage** is ``Callable[[node name],
(cpu milli, memory bytes) | None]``. ``ServerState.usage_provider`` / ``ServerState.node_usage``
hold them. ``kubetwin serve`` plugs in the kubelet's usage engine (:func:`engine_usage`: per-pod
``UsageEngine.pod_usage``, per-node ``UsageEngine.node_stats``, DESIGN principle 8: metrics read
the engine's arrays directly). Without an engine the default, ``requests_usage``, follows the
usage model's rule "without any profile a pod uses its requests", and a node uses the sum over
its running pods plus a small system overhead (kubelet, container runtime, OS), as
metrics-server reports the node cgroup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubetwin.api import errors, resources
from kubetwin.sim import EventLoop

WINDOW = "20s"
# What the node's own daemons use on top of pods (kubelet + containerd + OS on a small node).
NODE_OVERHEAD_CPU_MILLI = 60
NODE_OVERHEAD_MEMORY = 400 * 1024 * 1024


@dataclass(frozen=True)
class ContainerUsage:
    name: str
    cpu_milli: int
    memory_bytes: int


UsageProvider = Callable[[dict[str, Any]], list[ContainerUsage]]
NodeUsage = Callable[[str], "tuple[int, int] | None"]


def requests_usage(pod: dict[str, Any]) -> list[ContainerUsage]:
    """Default provider: each container uses exactly its requests."""
    out = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        req = resources.resource_list(((c.get("resources") or {}).get("requests")) or {})
        out.append(ContainerUsage(c.get("name", ""), int(req.get("cpu", 0)), int(req.get("memory", 0))))
    return out


def engine_usage(engine: Any) -> tuple[UsageProvider, NodeUsage]:
    """Providers reading a ``kubetwin.kubelet.usage.UsageEngine``: a pod's containers as of the
    engine's last tick (working set, granted CPU); a node's CPU used by its pods and memory
    working set incl. the system, from ``node_stats``. A pod or node the engine does not know
    (not started by a kubelet yet) falls back to the requests rule."""

    def pod_usage(pod: dict[str, Any]) -> list[ContainerUsage]:
        used = engine.pod_usage((pod.get("metadata") or {}).get("uid", ""))
        if used is None:
            return requests_usage(pod)
        return [ContainerUsage(name, cpu, mem) for name, (cpu, mem) in used.items()]

    def node_usage(name: str) -> tuple[int, int] | None:
        stats = engine.node_stats(name)
        if stats is None:
            return None
        return int(stats.cpu_usage_milli), int(stats.memory_working_set_bytes)

    return pod_usage, node_usage


def _cpu(milli: int) -> str:
    return f"{milli * 1_000_000}n"


def _mem(b: int) -> str:
    return f"{b // 1024}Ki"


def _running(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running"


def pod_metrics(pod: dict[str, Any], provider: UsageProvider, clock: EventLoop) -> dict[str, Any]:
    meta = pod["metadata"]
    return {
        "kind": "PodMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta.get("namespace", ""),
            "creationTimestamp": clock.timestamp(),
            "labels": dict(meta.get("labels") or {}),
        },
        "timestamp": clock.timestamp(),
        "window": WINDOW,
        "containers": [
            {"name": u.name, "usage": {"cpu": _cpu(u.cpu_milli), "memory": _mem(u.memory_bytes)}}
            for u in provider(pod)
        ],
    }


def node_metrics(
    node: dict[str, Any],
    pods: list[dict[str, Any]],
    provider: UsageProvider,
    clock: EventLoop,
    node_usage: NodeUsage | None = None,
) -> dict[str, Any]:
    meta = node["metadata"]
    used = node_usage(meta["name"]) if node_usage is not None else None
    if used is not None:
        cpu, mem = used
    else:
        cpu, mem = NODE_OVERHEAD_CPU_MILLI, NODE_OVERHEAD_MEMORY
        for p in pods:
            for u in provider(p):
                cpu += u.cpu_milli
                mem += u.memory_bytes
    return {
        "kind": "NodeMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": meta["name"],
            "creationTimestamp": clock.timestamp(),
            "labels": dict(meta.get("labels") or {}),
        },
        "timestamp": clock.timestamp(),
        "window": WINDOW,
        "usage": {"cpu": _cpu(cpu), "memory": _mem(mem)},
    }


def _selectors(label_selector: str | None, field_selector: str | None) -> Callable[[dict[str, Any]], bool]:
    from kubetwin.api import selectors

    try:
        ls = selectors.parse_label_selector(label_selector) if label_selector else None
        fs = selectors.parse_field_selector(field_selector) if field_selector else None
    except ValueError as e:
        raise errors.bad_request(str(e)) from None
    return lambda o: (ls is None or ls.matches((o.get("metadata") or {}).get("labels") or {})) and (
        fs is None or fs.matches(o)
    )


def serve(
    store: Any,
    clock: EventLoop,
    provider: UsageProvider,
    resource: str,
    namespace: str | None,
    name: str | None,
    label_selector: str | None = None,
    field_selector: str | None = None,
    node_usage: NodeUsage | None = None,
) -> dict[str, Any]:
    """The answer to GET /apis/metrics.k8s.io/v1beta1/[namespaces/NS/]{nodes,pods}[/NAME]."""
    match = _selectors(label_selector, field_selector)
    if resource == "nodes":
        by_node: dict[str, list[dict[str, Any]]] = {}
        for p in store.iter("pods"):
            nn = (p.get("spec") or {}).get("nodeName")
            if nn and _running(p):
                by_node.setdefault(nn, []).append(p)
        nodes = list(store.iter("nodes"))
        if name is not None:
            node = store.get("nodes", "", name)
            if node is None:
                raise errors.not_found("nodes", name, "metrics.k8s.io")
            return node_metrics(node, by_node.get(name, []), provider, clock, node_usage)
        items = [
            node_metrics(n, by_node.get(n["metadata"]["name"], []), provider, clock, node_usage)
            for n in nodes
            if match(n)
        ]
        return {"kind": "NodeMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items}
    if name is not None:
        pod = store.get("pods", namespace or "", name)
        if pod is None or not _running(pod):
            raise errors.not_found("pods", name, "metrics.k8s.io")
        return pod_metrics(pod, provider, clock)
    items = [pod_metrics(p, provider, clock) for p in store.iter("pods", namespace) if _running(p) and match(p)]
    return {"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items}
