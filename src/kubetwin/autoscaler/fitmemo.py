"""Scale-up's fit check kept from scan to scan (cluster-autoscaler
core/podlistprocessor/filter_out_schedulable.go, which upstream runs every loop: first-fit of
the pending pods, in order, over the free room of the nodes and the nodes still coming up, in a
fork of the snapshot; the pods that find no place go on to the scale-up). Its answer is a
function of its inputs, so equal inputs give the last answer again. Pods wait minutes for their
nodes: scan after scan the same pods are checked against a cluster that changed here and there.

The last check's answer holds when

- its global inputs are equal: the snapshot object in the same layout (epoch: no node came or
  went), the node order, the nodes coming up per group with their specs and the DaemonSets (the
  caller's ``inputs``), and the pending pods' PodInfos, the same objects in the same order;
- and no node slot changed since (the snapshot's dirty-slot log, which also holds the slots of
  nodes whose labels, taints or unschedulable changed; forks give it back on revert), or every
  changed slot left the check's verdicts alone: when every pending pod has a fit class
  (:func:`kubetwin.autoscaler.simulator.fit_class`) and no host ports, and no pod of the
  snapshot had (anti-)affinity terms, then and now, a filter's verdict for such a pod on a node
  depends on that node alone, and only the node-only filters and NodeResourcesFit can reject it
  (:meth:`SimCluster.filter_rejects`). So for changed slots whose node the check put no pod on,
  the check met the same verdicts if the verdicts there are the same, for each fit class, as
  when the answer was kept: every pod went where it went before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubetwin.autoscaler.simulator import SimCluster, fit_class
from kubetwin.scheduler.framework import PodInfo


@dataclass
class _Record:
    sim: SimCluster
    epoch: int
    pos: int  # the snapshot's dirty-slot log position the verdicts are for
    inputs: tuple[Any, ...]
    infos: list[PodInfo]
    remaining: list[PodInfo]
    placed: set[str]  # the nodes the check put pods on
    # per fit class: a pod of it and the filters' rejections per slot (None: a pod of no fit
    # class, with host ports or rejected by PreFilter, or pods with affinity terms in the snapshot)
    verdicts: dict[Any, tuple[PodInfo, list[bool]]] | None


class FitMemo:
    """See the module docstring: :meth:`lookup` before a check, :meth:`store` after it."""

    def __init__(self) -> None:
        self._rec: _Record | None = None
        self.hits = 0

    def lookup(self, sim: SimCluster, inputs: tuple[Any, ...], infos: list[PodInfo]) -> list[PodInfo] | None:
        """The pods that fit nowhere, as the last check found them, if its answer holds for
        these inputs (``sim``: synced, not forked); None: check again."""
        rec = self._rec
        if rec is None or rec.sim is not sim or not self._same_inputs(rec, inputs, infos):
            return None
        snap = sim.snapshot
        if snap.epoch != rec.epoch:
            return None
        dirty = snap.dirty_since(rec.epoch, rec.pos)
        if dirty is None or (dirty and not self._verdicts_hold(rec, dirty)):
            return None
        rec.pos = len(snap.dirty)
        self.hits += 1
        return rec.remaining

    @staticmethod
    def _same_inputs(rec: _Record, inputs: tuple[Any, ...], infos: list[PodInfo]) -> bool:
        if rec.inputs != inputs or len(rec.infos) != len(infos):
            return False
        return all(a is b for a, b in zip(rec.infos, infos, strict=True))

    @staticmethod
    def _verdicts_hold(rec: _Record, dirty: set[int]) -> bool:
        """Whether the changed slots ``dirty`` left every verdict the check met alone."""
        snap = rec.sim.snapshot
        if rec.verdicts is None or snap.with_affinity:
            return False
        for s in dirty:
            ni = snap.nodes[s] if s < snap.n else None
            if ni is None or ni.name in rec.placed:
                return False
        for pi, rejected in rec.verdicts.values():
            now = rec.sim.filter_rejects(pi)
            if now is None or any(now[s] != rejected[s] for s in dirty):
                return False
        return True

    def store(self, sim: SimCluster, inputs: tuple[Any, ...], infos: list[PodInfo], remaining: list[PodInfo],
              placed: set[str]) -> None:  # fmt: skip
        """Keep a check's answer (``sim``: reverted, as it was checked)."""
        snap = sim.snapshot
        verdicts = None if snap.with_affinity else _verdicts(sim, infos)
        self._rec = _Record(sim, snap.epoch, len(snap.dirty), inputs, infos, remaining, placed, verdicts)


def _verdicts(sim: SimCluster, infos: list[PodInfo]) -> dict[Any, tuple[PodInfo, list[bool]]] | None:
    """Per fit class of the pods, one of them and the filters' rejections per slot; None when a
    pod has no fit class or host ports, or PreFilter rejects it."""
    out: dict[Any, tuple[PodInfo, list[bool]]] = {}
    for pi in infos:
        cls = fit_class(pi)
        if cls is None or pi.ports:
            return None
        if cls not in out:
            rejected = sim.filter_rejects(pi)
            if rejected is None:
                return None
            out[cls] = (pi, rejected)
    return out
