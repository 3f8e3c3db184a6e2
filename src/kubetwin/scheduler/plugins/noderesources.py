"""NodeResourcesFit and NodeResourcesBalancedAllocation
(pkg/scheduler/framework/plugins/noderesources: fit.go, resource_allocation.go,
least_allocated.go, most_allocated.go, balanced_allocation.go).

Fit filter uses actual requests (equality fits); LeastAllocated/MostAllocated scoring uses the
non-zero requests (100m CPU / 200 MiB for containers without a request); BalancedAllocation uses
actual requests and skips BestEffort pods. Integer arithmetic as upstream.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kubetwin.scheduler import helpers
from kubetwin.scheduler.cache import Snapshot
from kubetwin.scheduler.framework import (
    MAX_SCORE,
    SKIP,
    CycleState,
    FilterResult,
    NodeInfo,
    Plugin,
    PodInfo,
    Status,
    unschedulable,
)  # fmt: skip
from kubetwin.scheduler.hints import (
    ADD,
    DELETE,
    NODE,
    POD,
    UPDATE_NODE_ALLOCATABLE,
    Obj,
    Registration,
    assigned,
)

FIT = "NodeResourcesFit"
BALANCED = "NodeResourcesBalancedAllocation"
LEAST_ALLOCATED = "LeastAllocated"
MOST_ALLOCATED = "MostAllocated"
DEFAULT_RESOURCES: list[dict[str, Any]] = [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}]
TOO_MANY_PODS = "Too many pods"


def insufficient(name: str) -> str:
    return f"Insufficient {name}"


def _ordered_requests(pod: PodInfo) -> list[tuple[str, int]]:
    """Requested resources in upstream's check order: cpu, memory, ephemeral-storage, scalars."""
    base = [(r, pod.requests.get(r, 0)) for r in (helpers.CPU, helpers.MEMORY, helpers.EPHEMERAL)]
    scal = sorted((k, v) for k, v in pod.requests.items()
                  if k not in (helpers.CPU, helpers.MEMORY, helpers.EPHEMERAL, helpers.PODS))  # fmt: skip
    return [(k, v) for k, v in base + scal if v > 0]


def _wanted(pod: PodInfo) -> list[tuple[str, int]]:
    """_ordered_requests kept in the pod's memo (which goes when its spec does)."""
    wanted: list[tuple[str, int]] | None = pod.memo.get(FIT)
    if wanted is None:
        wanted = pod.memo[FIT] = _ordered_requests(pod)
    return wanted


def fits_request(pod: PodInfo, node: NodeInfo) -> list[str]:
    """fitsRequest: the reasons the pod does not fit (empty list = fits)."""
    reasons: list[str] = []
    if len(node.pods) + 1 > node.allowed_pods:
        reasons.append(TOO_MANY_PODS)
    for name, want in _wanted(pod):
        if want > node.allocatable.get(name, 0) - node.requested.get(name, 0):
            reasons.append(insufficient(name))
    return reasons


def _node_info(memo: dict[Any, Any], which: str, node: Obj) -> NodeInfo:
    """A NodeInfo of the event's node with no pods on it (isFit's), built once per event."""
    ni: NodeInfo | None = memo.get(which)
    if ni is None:
        ni = memo[which] = NodeInfo(node)
    return ni


def _after_pod_deleted(pi: PodInfo, old: Obj | None, new: Obj | None, memo: dict[Any, Any]) -> bool:
    """isSchedulableAfterPodEvent for a delete: a pod that was on a node frees its requests. (A
    scale-down update needs in-place resize, which the twin does not model.)"""
    return assigned(old)


def _after_node_change(pi: PodInfo, old: Obj | None, new: Obj | None, memo: dict[Any, Any]) -> bool:
    """isSchedulableAfterNodeChange: the pod fits the node's allocatable (pods on it aside), and the
    node is new or one of the resources the pod requests (or the pod count) grew."""
    if new is None:
        return False
    wanted = tuple(_wanted(pi))
    key = (FIT, wanted)
    hit: bool | None = memo.get(key)
    if hit is None:
        ni = _node_info(memo, "new", new)
        hit = not fits_request(pi, ni) and (old is None or _requested_grew(wanted, _node_info(memo, "old", old), ni))
        memo[key] = hit
    return hit


def _requested_grew(wanted: tuple[tuple[str, int], ...], old: NodeInfo, new: NodeInfo) -> bool:
    """haveAnyRequestedResourcesIncreased."""
    if new.allowed_pods > old.allowed_pods:
        return True
    return any(new.allocatable.get(name, 0) > old.allocatable.get(name, 0) for name, _ in wanted)


class NodeResourcesFit(Plugin):
    NAME = FIT
    VECTORISED = True
    NODE_LOCAL_FILTER = True
    NODE_LOCAL_SCORE = True

    def __init__(self, handle: Any, args: dict[str, Any] | None = None) -> None:
        super().__init__(handle, args)
        strategy = self.args.get("scoringStrategy") or {}
        self.strategy = strategy.get("type", LEAST_ALLOCATED)
        self.resources: list[tuple[str, int]] = [
            (str(r["name"]), int(r.get("weight", 1))) for r in strategy.get("resources") or DEFAULT_RESOURCES
        ]
        for _, w in self.resources:
            if not 1 <= w <= 100:
                raise ValueError(f"resource weight must be in the range [1, 100], got {w}")
        names = [r for r, _ in self.resources]
        self._nz_weights: tuple[int, int] | None = None
        if names == [helpers.CPU, helpers.MEMORY]:
            self._nz_weights = (self.resources[0][1], self.resources[1][1])

    def events_to_register(self) -> list[Registration]:
        return [(POD, DELETE, _after_pod_deleted), (NODE, ADD | UPDATE_NODE_ALLOCATABLE, _after_node_change)]

    # -- Filter -------------------------------------------------------------------------------
    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        reasons = fits_request(pod, node)
        return unschedulable(*reasons) if reasons else None

    def ordered_requests(self, pod: PodInfo) -> list[tuple[str, int]]:
        return _wanted(pod)

    def filter_all(self, state: CycleState, pod: PodInfo, snap: Snapshot) -> FilterResult:
        n = snap.n
        out: FilterResult = []
        if snap.full:  # some node has no room for another pod
            too_many = snap.pod_count[:n] >= snap.allowed_pods[:n]
            out.append((too_many, unschedulable(TOO_MANY_PODS)))
        wanted = self.ordered_requests(pod)
        if not wanted:
            return out
        rows = [snap.resource_row(name) for name, _ in wanted]  # may grow the arrays: before slicing
        if rows == [0, 1]:  # the common case (cpu and memory): one comparison for both
            fail2: np.ndarray = snap.avail[:2, :n] < np.array([[wanted[0][1]], [wanted[1][1]]], dtype=np.int64)
            hit: np.ndarray = fail2.any(axis=1)  # type: ignore[assignment]
            for i in (0, 1):
                if hit[i]:
                    out.append((fail2[i], unschedulable(insufficient(wanted[i][0]))))
            return out
        for (name, want), row in zip(wanted, rows, strict=True):
            fail = snap.avail[row, :n] < want
            if fail.any():
                out.append((fail, unschedulable(insufficient(name))))
        return out

    # -- Score --------------------------------------------------------------------------------
    def _pod_amount(self, pod: PodInfo, name: str) -> int:
        if name == helpers.CPU:
            return pod.nonzero[0]
        if name == helpers.MEMORY:
            return pod.nonzero[1]
        return pod.requests.get(name, 0)

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        total = wsum = 0
        for name, w in self.resources:
            alloc = node.allocatable.get(name, 0)
            if name == helpers.CPU:
                req = node.nonzero_cpu + pod.nonzero[0]
            elif name == helpers.MEMORY:
                req = node.nonzero_mem + pod.nonzero[1]
            else:
                podreq = pod.requests.get(name, 0)
                if podreq == 0:
                    continue  # extended resources the pod does not request are bypassed
                req = node.requested.get(name, 0) + podreq
            if alloc == 0:
                continue
            total += _resource_score(self.strategy, req, alloc) * w
            wsum += w
        return total // wsum if wsum else 0

    def score_all(self, state: CycleState, pod: PodInfo, slots: np.ndarray) -> np.ndarray:
        snap: Snapshot = self.handle.snapshot
        if self._nz_weights is not None:
            # cpu and memory only (the default): both rows at once from the non-zero arrays.
            if snap.cpu_mem_allocatable():
                alloc = snap.alloc[:2].take(slots, axis=1)
                req = snap.nz.take(slots, axis=1)
                req[0] += pod.nonzero[0]
                req[1] += pod.nonzero[1]
                if self.strategy == MOST_ALLOCATED:
                    np.minimum(req, alloc, out=req)
                    req *= MAX_SCORE
                    req //= alloc
                    s2 = req
                else:
                    s2 = alloc - req
                    s2 *= MAX_SCORE
                    s2 //= alloc
                    np.maximum(s2, 0, out=s2)  # requested > allocatable scores 0 (floor keeps it < 0)
                w0, w1 = self._nz_weights
                if w0 != 1:
                    s2[0] *= w0
                if w1 != 1:
                    s2[1] *= w1
                out = s2[0] + s2[1]
                out //= w0 + w1
                return out
        total = np.zeros(len(slots), dtype=np.int64)
        wsum = np.zeros(len(slots), dtype=np.int64)
        for name, w in self.resources:
            if name == helpers.CPU:
                req = snap.nz_cpu[slots] + pod.nonzero[0]
            elif name == helpers.MEMORY:
                req = snap.nz_mem[slots] + pod.nonzero[1]
            else:
                podreq = pod.requests.get(name, 0)
                if podreq == 0:
                    continue
                req = snap.requested[snap.resource_row(name), slots] + podreq
            alloc = snap.alloc[snap.resource_row(name), slots]
            has = alloc > 0
            safe = np.where(has, alloc, 1)
            if self.strategy == MOST_ALLOCATED:
                s = (np.minimum(req, alloc) * MAX_SCORE) // safe
            else:
                s = np.where(req > alloc, 0, ((alloc - req) * MAX_SCORE) // safe)
            total += np.where(has, s * w, 0)
            wsum += np.where(has, w, 0)
        return np.where(wsum > 0, total // np.maximum(wsum, 1), 0)


def _resource_score(strategy: str, requested: int, capacity: int) -> int:
    if capacity == 0:
        return 0
    if strategy == MOST_ALLOCATED:
        return (min(requested, capacity) * MAX_SCORE) // capacity
    if requested > capacity:
        return 0
    return ((capacity - requested) * MAX_SCORE) // capacity


def least_requested_score(requested: int, capacity: int) -> int:
    return _resource_score(LEAST_ALLOCATED, requested, capacity)


def most_requested_score(requested: int, capacity: int) -> int:
    return _resource_score(MOST_ALLOCATED, requested, capacity)


class NodeResourcesBalancedAllocation(Plugin):
    NAME = BALANCED
    VECTORISED = True
    NODE_LOCAL_SCORE = True

    def __init__(self, handle: Any, args: dict[str, Any] | None = None) -> None:
        super().__init__(handle, args)
        self.resources: list[str] = [str(r["name"]) for r in self.args.get("resources") or DEFAULT_RESOURCES]
        self._cpu_mem = self.resources == [helpers.CPU, helpers.MEMORY]

    def pre_score(self, state: CycleState, pod: PodInfo, slots: np.ndarray) -> Status | None:
        return SKIP if pod.best_effort else None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        fractions: list[float] = []
        for name in self.resources:
            alloc = node.allocatable.get(name, 0)
            podreq = pod.requests.get(name, 0)
            if name not in (helpers.CPU, helpers.MEMORY) and podreq == 0:
                continue
            if alloc == 0:
                continue
            fractions.append(min((node.requested.get(name, 0) + podreq) / alloc, 1.0))
        return _balanced(fractions)

    def score_all(self, state: CycleState, pod: PodInfo, slots: np.ndarray) -> np.ndarray:
        snap: Snapshot = self.handle.snapshot
        if self._cpu_mem:
            if snap.cpu_mem_allocatable():
                alloc = snap.alloc[:2].take(slots, axis=1)
                req = snap.requested[:2].take(slots, axis=1)
                req[0] += pod.requests.get(helpers.CPU, 0)
                req[1] += pod.requests.get(helpers.MEMORY, 0)
                f = req / alloc
                np.minimum(f, 1.0, out=f)
                std = np.abs(f[0] - f[1])
                std /= 2
                return ((1 - std) * MAX_SCORE).astype(np.int64)
        fr: list[np.ndarray] = []
        valid: list[np.ndarray] = []
        for name in self.resources:
            podreq = pod.requests.get(name, 0)
            if name not in (helpers.CPU, helpers.MEMORY) and podreq == 0:
                continue
            row = snap.resource_row(name)
            alloc = snap.alloc[row, slots]
            has = alloc > 0
            f = np.minimum((snap.requested[row, slots] + podreq) / np.where(has, alloc, 1), 1.0)
            fr.append(f)
            valid.append(has)
        if not fr:
            return np.full(len(slots), MAX_SCORE, dtype=np.int64)
        if len(fr) == 2 and valid[0].all() and valid[1].all():
            std = np.abs(fr[0] - fr[1]) / 2
            return ((1 - std) * MAX_SCORE).astype(np.int64)
        out = np.empty(len(slots), dtype=np.int64)
        for i in range(len(slots)):
            out[i] = _balanced([float(f[i]) for f, v in zip(fr, valid, strict=True) if v[i]])
        return out


def _balanced(fractions: list[float]) -> int:
    if len(fractions) == 2:
        std = abs(fractions[0] - fractions[1]) / 2
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = (sum((f - mean) ** 2 for f in fractions) / len(fractions)) ** 0.5
    else:
        std = 0.0
    return int((1 - std) * MAX_SCORE)
