"""NodeAffinity (pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go).

Filter: ``spec.nodeSelector`` and required node affinity (terms ORed; In/NotIn/Exists/
DoesNotExist/Gt/Lt on labels, matchFields on metadata.name) -> UnschedulableAndUnresolvable
"node(s) didn't match Pod's node affinity/selector". PreFilter returns Skip when the pod has
neither. Score: sum of the weights of matching preferred terms, normalized (max -> 100).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kubetwin.api.selectors import node_selector_term_matches, required_node_affinity_matches
from kubetwin.scheduler.cache import Snapshot
from kubetwin.scheduler.framework import (
    SKIP,
    CycleState,
    FilterResult,
    NodeInfo,
    Plugin,
    PodInfo,
    Status,
    default_normalize_score,
    unresolvable,
)  # fmt: skip
from kubetwin.scheduler.hints import ADD, NODE, UPDATE_NODE_LABEL, Obj, Registration

NAME = "NodeAffinity"
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
_MEMO_REQUIRED = "NodeAffinity/required"
_MEMO_HAS_REQUIRED = "NodeAffinity/has-required"


def _freeze(x: Any) -> Any:
    if isinstance(x, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in x.items()))
    if isinstance(x, (list, tuple)):
        return tuple(_freeze(v) for v in x)
    return x


def _required_key(pod: PodInfo) -> Any:
    """The pod's nodeSelector + required node affinity, hashable (kept in the pod's memo, which
    goes when its spec does)."""
    key = pod.memo.get(_MEMO_REQUIRED)
    if key is None:
        spec = pod.pod.get("spec") or {}
        na = (pod.affinity.get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
        key = pod.memo[_MEMO_REQUIRED] = _freeze((spec.get("nodeSelector") or {}, na))
    return key


def has_required(pod: PodInfo) -> bool:
    """The pod has a nodeSelector or required node affinity (kept in its memo, which goes when
    its spec does)."""
    has: bool | None = pod.memo.get(_MEMO_HAS_REQUIRED)
    if has is None:
        spec = pod.pod.get("spec") or {}
        na = (pod.affinity.get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
        has = pod.memo[_MEMO_HAS_REQUIRED] = bool(spec.get("nodeSelector")) or na is not None
    return has


def required_mask(pod: PodInfo, snap: Snapshot) -> np.ndarray:
    """Per-slot mask of nodes matching the pod's nodeSelector + required affinity (cached)."""
    if not has_required(pod):
        return snap.alive

    def compute(snap: Snapshot) -> np.ndarray:
        m = np.zeros(snap.capacity, dtype=bool)
        for ni in snap.node_infos():
            m[ni.slot] = required_node_affinity_matches(pod.pod, ni.node)
        return m

    def patch(snap: Snapshot, m: np.ndarray, slots: list[int]) -> np.ndarray:
        m = m.copy()
        for s in slots:
            ni = snap.nodes[s]
            m[s] = ni is not None and required_node_affinity_matches(pod.pod, ni.node)
        return m

    return snap.per_node((NAME, "required", _required_key(pod)), compute, patch)


def _preferred(pod: PodInfo) -> list[dict]:
    na = pod.affinity.get("nodeAffinity") or {}
    return na.get("preferredDuringSchedulingIgnoredDuringExecution") or []


def preferred_score(terms: list[dict], node: dict) -> int:
    total = 0
    for t in terms:
        w = int(t.get("weight", 0))
        if w and node_selector_term_matches(t.get("preference") or {}, node):
            total += w
    return total


def _after_node_change(pi: PodInfo, old: Obj | None, new: Obj | None, memo: dict) -> bool:
    """isSchedulableAfterNodeChange: the node matches the pod's required node affinity now and did
    not before (or is new)."""
    if new is None:
        return False
    key = (NAME, _required_key(pi))
    hit: bool | None = memo.get(key)
    if hit is None:
        hit = memo[key] = required_node_affinity_matches(pi.pod, new) and (
            old is None or not required_node_affinity_matches(pi.pod, old)
        )
    return hit


class NodeAffinity(Plugin):
    NAME = NAME
    VECTORISED = True
    NODE_ONLY_FILTER = True

    def events_to_register(self) -> list[Registration]:
        return [(NODE, ADD | UPDATE_NODE_LABEL, _after_node_change)]

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        return None if has_required(pod) else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not required_node_affinity_matches(pod.pod, node.node):
            return unresolvable(ERR_REASON_POD)
        return None

    def filter_all(self, state: CycleState, pod: PodInfo, snap: Snapshot) -> FilterResult:
        m = required_mask(pod, snap)
        return [(~m[: snap.n], unresolvable(ERR_REASON_POD))]

    def pre_score(self, state: CycleState, pod: PodInfo, slots: np.ndarray) -> Status | None:
        return None if _preferred(pod) else SKIP

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return preferred_score(_preferred(pod), node.node)

    def score_all(self, state: CycleState, pod: PodInfo, slots: np.ndarray) -> np.ndarray:
        terms = _preferred(pod)

        def compute(snap: Snapshot) -> np.ndarray:
            a = np.zeros(snap.capacity, dtype=np.int64)
            for ni in snap.node_infos():
                a[ni.slot] = preferred_score(terms, ni.node)
            return a

        def patch(snap: Snapshot, a: np.ndarray, changed: list[int]) -> np.ndarray:
            a = a.copy()
            for s in changed:
                ni = snap.nodes[s]
                a[s] = 0 if ni is None else preferred_score(terms, ni.node)
            return a

        snap = self.handle.snapshot
        return snap.per_node((NAME, "preferred", _freeze(terms)), compute, patch).take(slots)

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: np.ndarray) -> np.ndarray:
        return default_normalize_score(scores, reverse=False)
