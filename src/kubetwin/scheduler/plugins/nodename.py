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

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"


class NodeName(Plugin):
    NAME = NAME
    VECTORISED = True
    NODE_ONLY_FILTER = True

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
