"""Pod admission on the node (pkg/kubelet/lifecycle/predicate.go ``predicateAdmitHandler``).

The kubelet re-runs the scheduler's general filter against what it has admitted already
(pkg/scheduler/schedule_one.go ``AdmissionCheck``): resources fit (noderesources.Fits: pods, cpu,
memory, ephemeral-storage, extended resources), required node affinity + nodeSelector, node name,
host ports, then the node's NoExecute taints (the kubelet ignores NoSchedule). Only the first
failure is reported:

- insufficient resource: reason ``OutOf<resource>``, message
  ``Node didn't have enough resource: cpu, requested: 2000, used: 1500, capacity: 1930``
  (cpu in millicores, others in units; capacity is the node's allocatable);
- a predicate: reason = the plugin name, message ``Predicate NodeAffinity failed: node(s) didn't
  match Pod's node affinity/selector``.

The kubelet then records a Warning event with that reason and message and sets the pod Failed with
``message: "Pod was rejected: " + message``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubetwin.api.resources import find_untolerated_taint, pod_requests, resource_list
from kubetwin.api.selectors import required_node_affinity_matches as node_affinity_matches

Obj = Mapping[str, Any]

ERR_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
ERR_NODE_NAME = "node(s) didn't match the requested node name"
ERR_NODE_PORTS = "node(s) didn't have free ports for the requested pod ports"
ERR_TAINTS = "node(s) had taints that the pod didn't tolerate"
_STANDARD = ("cpu", "memory", "ephemeral-storage")
_IGNORED_SCALAR_PREFIXES = ("hugepages-",)


@dataclass(frozen=True)
class Rejection:
    reason: str
    message: str


def _is_extended(name: str) -> bool:
    return "/" in name and not name.startswith("kubernetes.io/")


def check(
    pod: Obj,
    node: Obj,
    admitted: Iterable[Obj],
    used: Mapping[str, int],
    used_count: int,
    *,
    requests: Mapping[str, int] | None = None,
    allocatable: Mapping[str, int] | None = None,
) -> Rejection | None:
    """None if ``pod`` may run next to ``admitted`` pods whose summed requests are ``used``.
    ``requests`` (the pod's) and ``allocatable`` (the node's, parsed) spare computing them again
    when the caller has them (read-only)."""
    alloc = resource_list((node.get("status") or {}).get("allocatable")) if allocatable is None else allocatable
    if requests is None:
        requests = pod_requests(pod)
    # removeMissingExtendedResources: extended resources the node does not know are not checked
    requests = {k: v for k, v in requests.items() if not _is_extended(k) or k in alloc}
    allowed_pods = alloc.get("pods", 0)
    if used_count + 1 > allowed_pods:
        return _insufficient("pods", 1, used_count, allowed_pods)
    for name in _STANDARD:
        want = requests.get(name, 0)
        if want > 0 and want > alloc.get(name, 0) - used.get(name, 0):
            return _insufficient(name, want, used.get(name, 0), alloc.get(name, 0))
    for name in sorted(requests):
        if name in _STANDARD or name == "pods" or name.startswith(_IGNORED_SCALAR_PREFIXES):
            continue
        want = requests[name]
        if want > 0 and want > alloc.get(name, 0) - used.get(name, 0):
            return _insufficient(name, want, used.get(name, 0), alloc.get(name, 0))
    if not node_affinity_matches(pod, node):
        return _predicate("NodeAffinity", ERR_NODE_AFFINITY)
    spec = pod.get("spec") or {}
    if spec.get("nodeName") and spec["nodeName"] != (node.get("metadata") or {}).get("name"):
        return _predicate("NodeName", ERR_NODE_NAME)
    if _host_port_conflict(pod, admitted):
        return _predicate("NodePorts", ERR_NODE_PORTS)
    taints = (node.get("spec") or {}).get("taints") or []
    if find_untolerated_taint(taints, spec.get("tolerations") or [], effects=("NoExecute",)) is not None:
        return _predicate("TaintToleration", ERR_TAINTS)
    return None


def _insufficient(name: str, requested: int, used: int, capacity: int) -> Rejection:
    return Rejection(
        f"OutOf{name}",
        f"Node didn't have enough resource: {name}, requested: {requested}, used: {used}, capacity: {capacity}",
    )


def _predicate(name: str, desc: str) -> Rejection:
    return Rejection(name, f"Predicate {name} failed: {desc}")


def _host_ports(pod: Obj) -> list[tuple[str, str, int]]:
    spec = pod.get("spec") or {}
    out = []
    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for p in c.get("ports") or []:
            hp = p.get("hostPort")
            if hp:
                out.append((p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP", int(hp)))
    return out


def _host_port_conflict(pod: Obj, admitted: Iterable[Obj]) -> bool:
    wanted = _host_ports(pod)
    if not wanted:
        return False
    for other in admitted:
        for ip, proto, port in _host_ports(other):
            for wip, wproto, wport in wanted:
                if port == wport and proto == wproto and (ip == wip or "0.0.0.0" in (ip, wip)):
                    return True
    return False
