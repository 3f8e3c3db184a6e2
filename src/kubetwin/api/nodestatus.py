"""Node status conditions as the kubelet sets them (pkg/kubelet/nodestatus/setters.go:
MemoryPressureCondition, DiskPressureCondition, PIDPressureCondition, ReadyCondition).

Shared by the kubelet, which keeps them up to date, and the cloud layer, which creates the Node
an instance registers as: upstream's kubelet runs these setters on the Node before its first
create (kubelet_node_status.go initialNode -> setNodeStatus), so a new node carries Ready=False
from its first version and the node lifecycle controller keeps its not-ready NoSchedule taint.
"""

from __future__ import annotations

from typing import Any

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
