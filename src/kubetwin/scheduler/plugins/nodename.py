"""NodeName (pkg/scheduler/framework/plugins/nodename/node_name.go)."""

from __future__ import annotations

import numpy as np

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
from kubetwin.scheduler.hints import ADD, NODE, Obj, Registration

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"


def _after_node_add(pi: PodInfo, old: Obj | None, new: Obj | None, memo: dict) -> bool:
    """isSchedulableAfterNodeAdd: the new node is the one the pod names (or it names none)."""
    want = (pi.pod.get("spec") or {}).get("nodeName")
    return new is not None and (not want or want == new["metadata"]["name"])


class NodeName(Plugin):
    NAME = NAME
    VECTORISED = True
    NODE_ONLY_FILTER = True

    def events_to_register(self) -> list[Registration]:
        return [(NODE, ADD, _after_node_add)]

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        want = (pod.pod.get("spec") or {}).get("nodeName")
        if want and want != node.name:
            return unresolvable(ERR_REASON)
        return None

    def filter_all(self, state: CycleState, pod: PodInfo, snap: Snapshot) -> FilterResult:
        want = (pod.pod.get("spec") or {}).get("nodeName")
        if not want:
            return []
        fail = np.ones(snap.n, dtype=bool)
        s = snap.slot_of.get(want)
        if s is not None:
            fail[s] = False
        return [(fail, unresolvable(ERR_REASON))]
