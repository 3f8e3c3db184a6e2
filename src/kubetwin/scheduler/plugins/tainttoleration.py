"""TaintToleration (pkg/scheduler/framework/plugins/tainttoleration/taint_toleration.go).

Filter: the first NoSchedule/NoExecute taint the pod does not tolerate rejects the node
(UnschedulableAndUnresolvable, "node(s) had untolerated taint {key: value}").
Score: the number of PreferNoSchedule taints not tolerated by the pod's PreferNoSchedule (or
effect-less) tolerations; normalized in reverse (fewest intolerable taints scores 100).
"""

from __future__ import annotations

from collections.abc import Iterable

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
_PREFER = ("PreferNoSchedule",)


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
        if not snap.per_node((NAME, "hard"), _hard_slots, _hard_slots_patch)[1]:
            return []  # no node has a NoSchedule/NoExecute taint: nothing to tolerate
        tols = _tolerations(pod)

        def compute(snap: Snapshot) -> FilterResult:
            return _untolerated_masks(snap, tols, [], snap.node_infos())

        def patch(snap: Snapshot, res: FilterResult, slots: list[int]) -> FilterResult:
            changed = (snap.nodes[s] for s in slots)
            return _untolerated_masks(snap, tols, res, (ni for ni in changed if ni is not None), slots)

        res = snap.per_node((NAME, "filter", _pod_tol_key(pod)), compute, patch)
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

        def patch(snap: Snapshot, a: np.ndarray, changed: list[int]) -> np.ndarray:
            a = a.copy()
            for s in changed:
                ni = snap.nodes[s]
                a[s] = count_intolerable_prefer(ni.taints, tols) if ni is not None and ni.taints else 0
            return a

        return snap_of(self).per_node((NAME, "score", _pod_tol_key(pod)), compute, patch).take(slots)

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: np.ndarray) -> np.ndarray:
        return default_normalize_score(scores, reverse=True)

    def constant_score(self, state: CycleState, pod: PodInfo) -> int | None:
        # No node has a PreferNoSchedule taint: every node counts 0 intolerable taints, which
        # normalizes (reversed) to MAX_SCORE everywhere.
        return None if snap_of(self).per_node((NAME, "prefer"), _prefer_slots, _prefer_slots_patch)[1] else MAX_SCORE


def _untolerated_masks(snap: Snapshot, tols: list[dict], res: FilterResult, nodes: Iterable[NodeInfo],
                       cleared: Iterable[int] = ()) -> FilterResult:  # fmt: skip
    """The filter's per-reason masks (over ``snap.capacity``, in order of each reason's first slot,
    as a pass over the nodes in slot order makes them): ``res``'s (unchanged) with the ``cleared``
    slots reset and ``nodes`` looked at again."""
    by_reason: dict[str, tuple[np.ndarray, Status]] = {st.reasons[0]: (m, st) for m, st in res}
    copied: set[str] = set()
    for s in cleared:
        for r, (m, st) in by_reason.items():
            if m[s]:
                if r not in copied:
                    m = m.copy()
                    by_reason[r] = (m, st)
                    copied.add(r)
                m[s] = False
    for ni in nodes:
        if not ni.taints:
            continue
        taint = find_untolerated_taint(ni.taints, tols, FILTER_EFFECTS)
        if taint is None:
            continue
        r = _reason(taint)
        e = by_reason.get(r)
        if e is None:
            e = by_reason[r] = (np.zeros(snap.capacity, dtype=bool), unresolvable(r))
            copied.add(r)
        elif r not in copied:
            e = by_reason[r] = (e[0].copy(), e[1])
            copied.add(r)
        e[0][ni.slot] = True
    if not res:
        return list(by_reason.values())
    kept = [e for e in by_reason.values() if e[0].any()]
    kept.sort(key=lambda e: int(e[0].argmax()))
    return kept


def _effect_slots(snap: Snapshot, effects: tuple[str, ...]) -> tuple[np.ndarray, bool]:
    """Per slot: the node has a taint with one of ``effects``; and whether any has."""
    m = np.zeros(snap.capacity, dtype=bool)
    for ni in snap.node_infos():
        m[ni.slot] = any(t.get("effect") in effects for t in ni.taints)
    return m, bool(m.any())


def _effect_slots_patch(snap: Snapshot, value: tuple[np.ndarray, bool], slots: list[int],
                        effects: tuple[str, ...]) -> tuple[np.ndarray, bool]:  # fmt: skip
    """_effect_slots from its value before ``slots``' nodes changed (Snapshot.per_node)."""
    m = value[0].copy()
    for s in slots:
        ni = snap.nodes[s]
        m[s] = ni is not None and any(t.get("effect") in effects for t in ni.taints)
    return m, bool(m.any())


def _hard_slots(snap: Snapshot) -> tuple[np.ndarray, bool]:
    return _effect_slots(snap, FILTER_EFFECTS)


def _hard_slots_patch(snap: Snapshot, value: tuple[np.ndarray, bool], slots: list[int]) -> tuple[np.ndarray, bool]:
    return _effect_slots_patch(snap, value, slots, FILTER_EFFECTS)


def _prefer_slots(snap: Snapshot) -> tuple[np.ndarray, bool]:
    return _effect_slots(snap, _PREFER)


def _prefer_slots_patch(snap: Snapshot, value: tuple[np.ndarray, bool], slots: list[int]) -> tuple[np.ndarray, bool]:
    return _effect_slots_patch(snap, value, slots, _PREFER)


def snap_of(p: Plugin) -> Snapshot:
    return p.handle.snapshot
