"""Node status conditions as the kubelet sets them (pkg/kubelet/nodestatus/setters.go:
MemoryPressureCondition, DiskPressureCondition, PIDPressureCondition, ReadyCondition).

Shared by the kubelet, which keeps them up to date, and the cloud layer, which creates the Node
an instance registers as: upstream's kubelet runs these setters on the Node before its first
create (kubelet_node_status.go initialNode -> setNodeStatus), so a new node carries Ready=False
from its first version and the node lifecycle controller keeps its not-ready NoSchedule taint.
"""

from __future__ import annotations

from typing import Any

from kubetwin.api.meta import equal_but, sole_change

PRESSURE = (
    ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
)
# MemoryPressureCondition / DiskPressureCondition / PIDPressureCondition when True
UNDER_PRESSURE = {
    "MemoryPressure": ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
    "DiskPressure": ("KubeletHasDiskPressure", "kubelet has disk pressure"),
    "PIDPressure": ("KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
}
READY_REASON = "KubeletReady"
READY_MESSAGE = "kubelet is posting ready status"
NOT_READY_REASON = "KubeletNotReady"
NOT_READY_MESSAGE = (
    "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
    "message:Network plugin returns error: cni plugin not initialized"
)


def registration_conditions(now: str, ready: bool) -> list[dict[str, Any]]:
    """The conditions of a Node as its kubelet registers it at ``now`` (an RFC 3339 time): no
    pressure, and Ready as the runtime's network is (not ready while the CNI starts)."""
    conds = [
        {"type": t, "status": "False", "lastHeartbeatTime": now, "lastTransitionTime": now, "reason": r, "message": m}
        for t, r, m in PRESSURE
    ]
    status, reason, message = ("True", READY_REASON, READY_MESSAGE) if ready else ("False", NOT_READY_REASON, NOT_READY_MESSAGE)
    conds.append({"type": "Ready", "status": status, "lastHeartbeatTime": now, "lastTransitionTime": now,
                  "reason": reason, "message": message})  # fmt: skip
    return conds


def renewed_heartbeats(conditions: list[dict[str, Any]], renewed: int, now: str) -> list[dict[str, Any]]:
    """``conditions`` with the lastHeartbeatTime of its ``renewed`` first ones set to ``now`` (a
    kubelet's report when nothing it reports changed; the conditions others set stay as they are).
    The pair is remembered (the last one only: the write that stores it delivers its events before
    the next report) so that ``heartbeat_only`` knows the new list renews the old one without
    comparing them condition by condition."""
    new = []
    heartbeat = _HEARTBEAT[0]
    kept = True
    for c in conditions[:renewed]:  # (a copy and one key set: ~2.5x faster than {**c, key: now})
        renewal = c.copy()
        if heartbeat not in renewal:
            kept = False  # a renewed condition without a heartbeat time gains a key: not heartbeat-only
        renewal[heartbeat] = now
        new.append(renewal)
    new += conditions[renewed:]
    _last_renewal[:] = (conditions, new) if kept else (None, None)
    return new


# the last pair renewed_heartbeats built: (the conditions it renewed, the list it returned)
_last_renewal: list[list[dict[str, Any]] | None] = [None, None]
_HEARTBEAT = ("lastHeartbeatTime",)
_META_SKIP = ("resourceVersion",)
_TOP_SKIP = ("metadata", "status")
_STATUS_SKIP = ("conditions",)


def heartbeat_only(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether the Node ``new`` is ``old`` with nothing renewed but its conditions'
    lastHeartbeatTime (and metadata.resourceVersion): the kubelet's periodic status report when
    nothing it reports changed. The conditions keep their order, and every other field, condition
    field or key is equal. Informer handlers that read no heartbeat time ignore such updates (see
    ``client.informer``); one node update asks once for all of them, so this compares in C (dict
    copies and ``==``, which skips the values both versions share) rather than key by key."""
    os_, ns_ = old.get("status"), new.get("status")
    known = sole_change(old, new)
    if known is not None and known[0] == "status":
        # the registry's write of the status alone: only its keys ``known[1]`` may differ
        if type(os_) is not dict or type(ns_) is not dict:
            return False
        if known[1] != _STATUS_SKIP and not equal_but(os_, ns_, _STATUS_SKIP):
            return False
    else:
        om, nm = old.get("metadata"), new.get("metadata")
        if type(om) is not dict or type(nm) is not dict or type(os_) is not dict or type(ns_) is not dict:
            return False
        if not (equal_but(old, new, _TOP_SKIP) and equal_but(om, nm, _META_SKIP)):
            return False
        if os_ is ns_:
            return True
        if not equal_but(os_, ns_, _STATUS_SKIP):
            return False
    a, b = os_.get("conditions"), ns_.get("conditions")
    if a is b or (a is _last_renewal[0] and b is _last_renewal[1] and a is not None):
        return True  # (the second: renewed_heartbeats built b from a, read-only since)
    if type(a) is not list or type(b) is not list or len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x is not y and (type(x) is not dict or type(y) is not dict or not equal_but(x, y, _HEARTBEAT)):
            return False
    return True
