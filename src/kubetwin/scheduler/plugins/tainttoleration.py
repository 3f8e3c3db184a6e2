"""TaintToleration (pkg/scheduler/framework/plugins/tainttoleration/taint_toleration.go).

Filter: the first NoSchedule/NoExecute taint the pod does not tolerate rejects the node
(UnschedulableAndUnresolvable, "node(s) had untolerated taint {key: value}").
Score: the number of PreferNoSchedule taints not tolerated by the pod's PreferNoSchedule (or
effect-less) tolerations; normalized in reverse (fewest intolerable taints scores 100).
"""

from __future__ import annotations

import numpy as np

from kubetwin.api.resources import find_untolerated_taint, toleration_tolerates_taint
from kubetwin.scheduler.cache import Snapshot
from kubetwin.scheduler.framework import (
    MAX_SCORE,
    CycleState,
    FilterResult,
    NodeInfo,
    Plugin,
    PodInfo,
    Status,
    default_normalize_score,
    unresolvable,
)  # fmt: skip
from kubetwin.scheduler.hints import (
    ADD,
    NODE,
    POD,
    UPDATE_NODE_TAINT,
    UPDATE_POD_TOLERATION,
    Obj,
    Registration,
    own_pod_update,
)

NAME = "TaintToleration"
FILTER_EFFECTS = ("NoSchedule", "NoExecute")


def _reason(taint: dict) -> str:
    return f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}"


def _tolerations(pod: PodInfo) -> list[dict]:
    return (pod.pod.get("spec") or {}).get("tolerations") or []


def _tol_key(tols: list[dict]) -> tuple:
    return tuple(
        (t.get("key", ""), t.get("operator", ""), t.get("value", ""), t.get("effect", "")) for t in tols
    )


def _pod_tol_key(pod: PodInfo) -> tuple:
    key = pod.memo.get(NAME)
    if key is None:
        key = pod.memo[NAME] = _tol_key(_tolerations(pod))
    return key


def count_intolerable_prefer(taints: list[dict], tols: list[dict]) -> int:
    prefer = [t for t in tols if not t.get("effect") or t.get("effect") == "PreferNoSchedule"]
    n = 0
    for taint in taints:
        if taint.get("effect") != "PreferNoSchedule":
            continue
        if not any(toleration_tolerates_taint(t, taint) for t in prefer):
            n += 1
    return n


def _untolerated(node: Obj, pod: PodInfo) -> bool:
    return find_untolerated_taint((node.get("spec") or {}).get("taints"), _tolerations(pod), FILTER_EFFECTS) is not None


def _after_node_change(pi: PodInfo, old: Obj | None, new: Obj | None, memo: dict) -> bool:
    """isSchedulableAfterNodeChange: the node went from a taint the pod does not tolerate (or from
    not existing) to none. The answer depends only on the tolerations: pods sharing them share it
    for one event."""
    if new is None:
        return False
    key = (NAME, _pod_tol_key(pi))
    hit: bool | None = memo.get(key)
    if hit is None:
        hit = memo[key] = (old is None or _untolerated(old, pi)) and not _untolerated(new, pi)
    return hit


class TaintToleration(Plugin):
    NAME = NAME
    VECTORISED = True
    NODE_ONLY_FILTER = True

    def events_to_register(self) -> list[Registration]:
        return [(NODE, ADD | UPDATE_NODE_TAINT, _after_node_change), (POD, UPDATE_POD_TOLERATION, own_pod_update)]

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        taint = find_untolerated_taint(node.taints, _tolerations(pod), FILTER_EFFECTS)
        if taint is not None:
            return unresolvable(_reason(taint))
        return None

    def filter_all(self, state: CycleState, pod: PodInfo, snap: Snapshot) -> FilterResult:
        if not snap.per_node((NAME, "hard"), _any_hard):
            return []  # no node has a NoSchedule/NoExecute taint: nothing to tolerate
        tols = _tolerations(pod)

        def compute(snap: Snapshot) -> FilterResult:
            by_reason: dict[str, np.ndarray] = {}
            for ni in snap.node_infos():
                if not ni.taints:
                    continue
                taint = find_untolerated_taint(ni.taints, tols, FILTER_EFFECTS)
                if taint is not None:
                    r = _reason(taint)
                    m = by_reason.get(r)
                    if m is None:
                        m = by_reason[r] = np.zeros(snap.capacity, dtype=bool)
                    m[ni.slot] = True
            return [(m, unresolvable(r)) for r, m in by_reason.items()]

        res = snap.per_node((NAME, "filter", _pod_tol_key(pod)), compute)
        if not res:
            return res
        return [(m[: snap.n], st) for m, st in res]

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return count_intolerable_prefer(node.taints, _tolerations(pod))

    def score_all(self, state: CycleState, pod: PodInfo, slots: np.ndarray) -> np.ndarray:
        tols = _tolerations(pod)

        def compute(snap: Snapshot) -> np.ndarray:
            a = np.zeros(snap.capacity, dtype=np.int64)
            for ni in snap.node_infos():
                if ni.taints:
                    a[ni.slot] = count_intolerable_prefer(ni.taints, tols)
            return a

        return snap_of(self).per_node((NAME, "score", _pod_tol_key(pod)), compute).take(slots)

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: np.ndarray) -> np.ndarray:
        return default_normalize_score(scores, reverse=True)

    def constant_score(self, state: CycleState, pod: PodInfo) -> int | None:
        # No node has a PreferNoSchedule taint: every node counts 0 intolerable taints, which
        # normalizes (reversed) to MAX_SCORE everywhere.
        return None if snap_of(self).per_node((NAME, "prefer"), _any_prefer) else MAX_SCORE


def _any_hard(snap: Snapshot) -> bool:
    return any(t.get("effect") in FILTER_EFFECTS for ni in snap.node_infos() for t in ni.taints)


def _any_prefer(snap: Snapshot) -> bool:
    return any(t.get("effect") == "PreferNoSchedule" for ni in snap.node_infos() for t in ni.taints)


def snap_of(p: Plugin) -> Snapshot:
    return p.handle.snapshot
