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
from kubetwin.scheduler.hints import (
    ADD,
    NODE,
    POD,
    UPDATE_NODE_TAINT,
    UPDATE_POD_TOLERATION,
    Obj,
    Registration,
    same_pod,
)

NAME = "NodeUnschedulable"
ERR_REASON = "node(s) were unschedulable"
TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


def _tolerates(pod: PodInfo) -> bool:
    tols = (pod.pod.get("spec") or {}).get("tolerations") or []
    return any(toleration_tolerates_taint(t, TAINT) for t in tols)


def _cordoned_node(node: Obj) -> bool:
    return bool((node.get("spec") or {}).get("unschedulable"))


def _cordoned(snap: Snapshot) -> tuple[np.ndarray, bool]:
    m = np.zeros(snap.capacity, dtype=bool)
    for ni in snap.node_infos():
        if _cordoned_node(ni.node):
            m[ni.slot] = True
    return m, bool(m.any())


def _cordoned_patch(snap: Snapshot, value: tuple[np.ndarray, bool], slots: list[int]) -> tuple[np.ndarray, bool]:
    """_cordoned from its value before ``slots``' nodes changed (Snapshot.per_node)."""
    m = value[0].copy()
    for s in slots:
        ni = snap.nodes[s]
        m[s] = ni is not None and _cordoned_node(ni.node)
    return m, bool(m.any())


def _after_node_change(pi: PodInfo, old: Obj | None, new: Obj | None, memo: dict) -> bool:
    """isSchedulableAfterNodeChange: a schedulable node added, or a node uncordoned."""
    return new is not None and not _cordoned_node(new) and (old is None or _cordoned_node(old))


def _after_toleration_change(pi: PodInfo, old: Obj | None, new: Obj | None, memo: dict) -> bool:
    """isSchedulableAfterPodTolerationChange: the pod itself now tolerates the unschedulable taint."""
    return same_pod(pi, new) and _tolerates(pi)


class NodeUnschedulable(Plugin):
    NAME = NAME
    VECTORISED = True
    NODE_ONLY_FILTER = True

    def events_to_register(self) -> list[Registration]:
        return [(NODE, ADD | UPDATE_NODE_TAINT, _after_node_change),
                (POD, UPDATE_POD_TOLERATION, _after_toleration_change)]  # fmt: skip

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if _cordoned_node(node.node) and not _tolerates(pod):
            return unresolvable(ERR_REASON)
        return None

    def filter_all(self, state: CycleState, pod: PodInfo, snap: Snapshot) -> FilterResult:
        cordoned, some = snap.per_node(NAME, _cordoned, _cordoned_patch)
        if not some or _tolerates(pod):
            return []
        return [(cordoned[: snap.n], unresolvable(ERR_REASON))]
