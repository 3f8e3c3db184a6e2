"""NodeUnschedulable (pkg/scheduler/framework/plugins/nodeunschedulable/node_unschedulable.go):
cordoned nodes reject pods unless they tolerate ``node.kubernetes.io/unschedulable:NoSchedule``."""

from __future__ import annotations

import numpy as np

from kubetwin.api.resources import toleration_tolerates_taint
from kubetwin.scheduler.cache import Snapshot
from kubetwin.scheduler.framework import (
    CycleState,
    FilterResult,
    NodeInfo,
    Plugin,
    PodInfo,
    Status,
    unresolvable,
)

NAME = "NodeUnschedulable"
ERR_REASON = "node(s) were unschedulable"
TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


def _tolerates(pod: PodInfo) -> bool:
    tols = (pod.pod.get("spec") or {}).get("tolerations") or []
    return any(toleration_tolerates_taint(t, TAINT) for t in tols)


def _cordoned(snap: Snapshot) -> tuple[np.ndarray, bool]:
    m = np.zeros(snap.capacity, dtype=bool)
    for ni in snap.node_infos():
        if (ni.node.get("spec") or {}).get("unschedulable"):
            m[ni.slot] = True
    return m, bool(m.any())


class NodeUnschedulable(Plugin):
    NAME = NAME
    VECTORISED = True
    NODE_ONLY_FILTER = True

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if (node.node.get("spec") or {}).get("unschedulable") and not _tolerates(pod):
            return unresolvable(ERR_REASON)
        return None

    def filter_all(self, state: CycleState, pod: PodInfo, snap: Snapshot) -> FilterResult:
        cordoned, some = snap.per_node(NAME, _cordoned)
        if not some or _tolerates(pod):
            return []
        return [(cordoned[: snap.n], unresolvable(ERR_REASON))]
