"""OOM score adjustment and the kernel OOM killer's victim choice.

- ``oom_score_adj`` reproduces pkg/kubelet/qos/policy.go ``GetContainerOOMScoreAdjust`` (with
  pkg/kubelet/qos/helpers.go for sidecars and pod-level requests, pkg/kubelet/types/pod_update.go
  ``IsNodeCriticalPod``): node-critical pods and Guaranteed pods -997, BestEffort 1000, Burstable
  ``1000 - 1000 * memoryRequest / memoryCapacity`` (integer division) clamped to 3..999.
- ``badness`` is the Linux kernel's mm/oom_kill.c ``oom_badness`` in units of a thousandth of the
  machine: the victim is the task with the largest ``usage / capacity * 1000 + oom_score_adj``;
  tasks with adj -1000 are never chosen.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubetwin.api.quantity import to_int
from kubetwin.api.resources import BEST_EFFORT, GUARANTEED, pod_qos

KUBELET_OOM_SCORE_ADJ = -999
KUBE_PROXY_OOM_SCORE_ADJ = -999
GUARANTEED_OOM_SCORE_ADJ = -997
BESTEFFORT_OOM_SCORE_ADJ = 1000
OOM_SCORE_ADJ_MIN = -1000

SYSTEM_CRITICAL_PRIORITY = 2_000_000_000  # pkg/apis/scheduling: 2 x HighestUserDefinablePriority
SYSTEM_NODE_CRITICAL = "system-node-critical"
ANN_CONFIG_SOURCE = "kubernetes.io/config.source"
ANN_CONFIG_MIRROR = "kubernetes.io/config.mirror"

Obj = Mapping[str, Any]


def _memory_request(container: Obj) -> int:
    req = ((container.get("resources") or {}).get("requests") or {}).get("memory")
    if req is None:
        return 0
    try:
        return to_int(req)
    except ValueError:
        return 0


def is_static_pod(pod: Obj) -> bool:
    ann = (pod.get("metadata") or {}).get("annotations") or {}
    source = ann.get(ANN_CONFIG_SOURCE)
    return source is not None and source != "api"


def is_mirror_pod(pod: Obj) -> bool:
    ann = (pod.get("metadata") or {}).get("annotations") or {}
    return ANN_CONFIG_MIRROR in ann


def is_critical_pod(pod: Obj) -> bool:
    """pod_update.go IsCriticalPod: static, mirror, or priority >= SystemCriticalPriority."""
    if is_static_pod(pod) or is_mirror_pod(pod):
        return True
    prio = (pod.get("spec") or {}).get("priority")
    return isinstance(prio, int) and not isinstance(prio, bool) and prio >= SYSTEM_CRITICAL_PRIORITY


def is_node_critical_pod(pod: Obj) -> bool:
    return is_critical_pod(pod) and (pod.get("spec") or {}).get("priorityClassName") == SYSTEM_NODE_CRITICAL


def _is_sidecar(pod: Obj, container: Obj) -> bool:
    if container.get("restartPolicy") != "Always":
        return False
    name = container.get("name")
    return any(c.get("name") == name for c in (pod.get("spec") or {}).get("initContainers") or [])


def _pod_level_memory_request(pod: Obj) -> int:
    res = (pod.get("spec") or {}).get("resources") or {}
    mem = (res.get("requests") or {}).get("memory")
    if mem is None:
        return 0
    try:
        return to_int(mem)
    except ValueError:
        return 0


def _remaining_pod_mem_per_container(pod: Obj) -> int:
    """helpers.go remainingPodMemReqPerContainer: pod request minus the containers', per container."""
    pod_req = _pod_level_memory_request(pod)
    if pod_req == 0:
        return 0
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or [])
    inits = list(spec.get("initContainers") or [])
    total = sum(_memory_request(c) for c in containers)
    total += sum(_memory_request(c) for c in inits if c.get("restartPolicy") == "Always")
    n = len(containers) + len(inits)
    return int((pod_req - total) / n) if n else 0  # Go integer division truncates toward zero


def oom_score_adj(pod: Obj, container: Obj, memory_capacity: int) -> int:
    """GetContainerOOMScoreAdjust for ``container`` (a container spec of ``pod``)."""
    if is_node_critical_pod(pod):
        return GUARANTEED_OOM_SCORE_ADJ
    qos = pod_qos(pod)
    if qos == GUARANTEED:
        return GUARANTEED_OOM_SCORE_ADJ
    if qos == BEST_EFFORT:
        return BESTEFFORT_OOM_SCORE_ADJ
    if memory_capacity <= 0:
        return BESTEFFORT_OOM_SCORE_ADJ - 1
    req = _memory_request(container)
    remaining = _remaining_pod_mem_per_container(pod) if _pod_level_memory_request(pod) else 0
    adj = 1000 - (1000 * (req + remaining)) // memory_capacity
    if _is_sidecar(pod, container):
        regular = [_memory_request(c) for c in (pod.get("spec") or {}).get("containers") or []]
        min_req = (min(regular) if regular else 0) + remaining
        min_adj = 1000 - (1000 * min_req) // memory_capacity
        adj = min(adj, min_adj)
    if adj < 1000 + GUARANTEED_OOM_SCORE_ADJ:
        return 1000 + GUARANTEED_OOM_SCORE_ADJ
    if adj == BESTEFFORT_OOM_SCORE_ADJ:
        return adj - 1
    return int(adj)


def badness(usage_bytes: float, capacity_bytes: float, adj: int) -> float:
    """oom_badness in thousandths of the machine (higher is killed first); -inf when unkillable."""
    if adj <= OOM_SCORE_ADJ_MIN or capacity_bytes <= 0:
        return float("-inf")
    return usage_bytes * 1000.0 / capacity_bytes + adj


def system_oom_message(process: str, pid: int) -> str:
    """pkg/kubelet/oom/oom_watcher_linux.go: the SystemOOM event's message."""
    msg = "System OOM encountered"
    if process and pid:
        msg += f", victim process: {process}, pid: {pid}"
    return msg
