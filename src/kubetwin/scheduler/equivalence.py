"""Per-class caches of node-local filter and score results (the idea of upstream's former
equivalence cache, pkg/scheduler/core/equivalence_cache.go, removed in 1.14; the numbers are the
plugins' own: noderesources fit.go, least_allocated.go, most_allocated.go, balanced_allocation.go).

Pods of one template share everything NodeResourcesFit and NodeResourcesBalancedAllocation read
from a pod (requests and non-zero requests), and those plugins read nothing from a node but its
own resource numbers. So, per pod class:

- ``filter_fail``: NodeResourcesFit's verdict per node slot (the union of its failure masks) and
  how many live nodes fail;
- ``base_scores``: the weighted sum of the node-local score plugins per node slot (their
  normalization is the identity, so the per-node sum is the cycle's contribution as is).

Both are built once over every node with the plugins' vectorised paths, then brought up to date
before each use by recomputing only the slots in the snapshot's dirty log since the last use
(usually the few nodes that received a pod meanwhile), with the plugins' per-node paths or, for the
default cpu/memory configuration, the same integer and float arithmetic fused in one loop. A layout
change (snapshot ``epoch``) rebuilds. Results are identical to evaluating the plugins afresh.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kubetwin.scheduler import helpers
from kubetwin.scheduler.cache import Snapshot
from kubetwin.scheduler.framework import MAX_SCORE, CycleState, Plugin, PodInfo

#: patch slot by slot up to this many dirty slots, vectorised beyond
SCALAR_PATCH_LIMIT = 48

_CPU, _MEM = helpers.CPU, helpers.MEMORY


def class_key(pod: PodInfo) -> tuple[Any, ...]:
    """What the node-local plugins read from a pod: its requests and non-zero requests."""
    key = pod.memo.get("eq")
    if key is None:
        key = pod.memo["eq"] = (tuple(sorted(pod.requests.items())), pod.nonzero)
    return key


class _Entry:
    __slots__ = ("epoch", "pos", "values", "count", "flags", "wanted")

    def __init__(self, epoch: int, pos: int, values: np.ndarray, count: int = 0) -> None:
        self.epoch = epoch
        self.pos = pos
        self.values = values
        self.count = count
        self.flags: list[bool] = []  # filter entries: ``values`` as Python bools (cheap to read)
        self.wanted: list[tuple[str, int]] = []  # filter entries: the class's ordered requests


class EquivalenceCache:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snap = snapshot
        self._fail: dict[Any, _Entry] = {}
        self._base: dict[Any, _Entry] = {}
        self._fused: dict[Any, Any] = {}

    def _dirty_since(self, e: _Entry | None) -> set[int] | None:
        """Slots changed since ``e`` was current; None when ``e`` must be rebuilt."""
        return None if e is None else self.snap.dirty_since(e.epoch, e.pos)

    # -- NodeResourcesFit filter --------------------------------------------------------------
    def filter_fail(self, state: CycleState, pod: PodInfo, plugin: Plugin) -> tuple[np.ndarray, int]:
        """(fail mask over the first ``snap.n`` slots, number of live nodes failing)."""
        snap = self.snap
        key = (plugin.NAME, class_key(pod))
        e = self._fail.get(key)
        dirty = self._dirty_since(e)
        if dirty is None:
            n = snap.n
            bad = np.zeros(n, dtype=bool)
            for mask, _ in plugin.filter_all(state, pod, snap):
                bad |= mask
            e = _Entry(snap.epoch, len(snap.dirty), bad, int(np.count_nonzero(bad & snap.alive[:n])))
            e.flags = bad.tolist()
            e.wanted = plugin.ordered_requests(pod)  # type: ignore[attr-defined]
            self._fail[key] = e
            return bad, e.count
        assert e is not None
        if dirty:
            flags = e.flags
            wanted = e.wanted
            nodes = snap.nodes
            for s in dirty:
                ni = nodes[s]
                assert ni is not None
                fail = len(ni.pods) >= ni.allowed_pods
                if not fail and wanted:
                    alloc, req = ni.allocatable, ni.requested
                    for name, want in wanted:
                        if want > alloc.get(name, 0) - req.get(name, 0):
                            fail = True
                            break
                if fail is not flags[s]:
                    flags[s] = fail
                    e.values[s] = fail
                    e.count += 1 if fail else -1
            e.pos = len(snap.dirty)
        return e.values, e.count

    # -- node-local scores --------------------------------------------------------------------
    def base_scores(self, state: CycleState, pod: PodInfo, plugins: tuple[tuple[Plugin, int], ...]) -> np.ndarray:
        """Σ weight·score per slot over ``plugins`` (node-local, identity normalization)."""
        snap = self.snap
        key = (plugins, class_key(pod))
        e = self._base.get(key)
        dirty = self._dirty_since(e)
        if dirty is None:
            slots = snap.alive_slots()
            base = np.zeros(snap.n, dtype=np.int64)
            acc = np.zeros(len(slots), dtype=np.int64)
            for p, w in plugins:
                acc += w * p.score_all(state, pod, slots)
            base[slots] = acc
            self._base[key] = _Entry(snap.epoch, len(snap.dirty), base)
            return base
        assert e is not None
        if dirty:
            base = e.values
            if len(dirty) > SCALAR_PATCH_LIMIT:
                idx = np.fromiter(dirty, dtype=np.int64, count=len(dirty))
                acc = np.zeros(len(idx), dtype=np.int64)
                for p, w in plugins:
                    acc += w * p.score_all(state, pod, idx)
                base[idx] = acc
            else:
                fused = self._fused.get(plugins, False)
                if fused is False:
                    fused = self._fused[plugins] = _fused_params(plugins)
                nodes = snap.nodes
                for s in dirty:
                    ni = nodes[s]
                    assert ni is not None
                    v = _fused_score(fused, pod, ni) if fused is not None else None
                    if v is None:
                        v = 0
                        for p, w in plugins:
                            v += w * p.score(state, pod, ni)
                    base[s] = v
            e.pos = len(snap.dirty)
        return e.values


def _fused_params(plugins: tuple[tuple[Plugin, int], ...]) -> tuple[bool, int, int, int, int] | None:
    """(most_allocated, cpu weight, memory weight, Fit weight, Balanced weight) when the plugins are
    NodeResourcesFit scoring cpu+memory and/or NodeResourcesBalancedAllocation over cpu+memory."""
    most, w0, w1, wfit, wbal = False, 1, 1, 0, 0
    for p, w in plugins:
        nz = getattr(p, "_nz_weights", None)
        if nz is not None:
            most = p.strategy == "MostAllocated"  # type: ignore[attr-defined]
            w0, w1 = nz
            wfit = w
        elif getattr(p, "_cpu_mem", False):
            wbal = w
        else:
            return None
    return most, w0, w1, wfit, wbal


def _fused_score(params: tuple[bool, int, int, int, int], pod: PodInfo, ni: Any) -> int | None:
    """The weighted Fit + BalancedAllocation score of one node, as their per-node paths compute it
    (None when a node lacks cpu or memory allocatable: the caller takes the plugins' paths)."""
    most, w0, w1, wfit, wbal = params
    alloc = ni.allocatable
    ac = alloc.get(_CPU, 0)
    am = alloc.get(_MEM, 0)
    if ac <= 0 or am <= 0:
        return None
    total = 0
    if wfit:
        c = ni.nonzero_cpu + pod.nonzero[0]
        m = ni.nonzero_mem + pod.nonzero[1]
        if most:
            sc = (min(c, ac) * MAX_SCORE) // ac
            sm = (min(m, am) * MAX_SCORE) // am
        else:
            sc = 0 if c > ac else ((ac - c) * MAX_SCORE) // ac
            sm = 0 if m > am else ((am - m) * MAX_SCORE) // am
        total += wfit * ((sc * w0 + sm * w1) // (w0 + w1))
    if wbal:
        req = ni.requested
        preq = pod.requests
        fc = (req.get(_CPU, 0) + preq.get(_CPU, 0)) / ac
        fm = (req.get(_MEM, 0) + preq.get(_MEM, 0)) / am
        if fc > 1.0:
            fc = 1.0
        if fm > 1.0:
            fm = 1.0
        total += wbal * int((1 - abs(fc - fm) / 2) * MAX_SCORE)
    return total
