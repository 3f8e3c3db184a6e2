"""The outcome of the last scale-down simulation pass, kept for the next scan while nothing it read
changed (cluster-autoscaler core/scaledown/unneeded + simulator/cluster.go FindNodesToRemove, which
upstream re-runs every loop: its answer is a function of the candidates, their drain plans, the PDBs
and the snapshot, so the same inputs give the same answer).

A pass goes through the candidates in order (least utilised first) and gives each an outcome:
blocked by a drain rule or a PDB (the reason), left out past the non-empty cap, no place for its
pods, or removable (its pods moved, each first-fit over the nodes in informer order, earlier moves
counting for later ones). The next scan reuses the outcomes when

- the inputs are equal: the candidates in order with their group, utilization, blocking reason, pods
  to move (keys) and PDB needs, the nodes being drained, the node order, the PDB objects (the
  same objects: informer objects are never changed in place);
- the snapshot is the same object in the same layout (epoch, node_generation: nodes did not come,
  go or change labels, taints, unschedulable) and none of the node slots the pass read changed
  since (the snapshot's dirty-slot log records every pod attached/detached and node arrays
  written).

The slots a pass read are the candidates it simulated and the prefix of the node order first-fit
went through (up to the furthest node it tried; every node when a pod found no place). That
restriction is sound because each filter's verdict on a node then depends on that node alone: it
is used only when no pod of the snapshot has (anti-)affinity terms (the InterPodAffinity filter
reads other nodes' pods through them) and every moved pod has a first-fit class (no hard topology
spread, no affinity of its own); otherwise any changed slot counts.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

from kubetwin.autoscaler.simulator import SimCluster

Obj = dict[str, Any]

# a candidate's outcome: the reason it stays (blocked / no place), CAPPED or REMOVABLE
CAPPED = ""
REMOVABLE = None
Outcome = str | None


@dataclass
class _Record:
    sim: SimCluster
    epoch: int
    pos: int  # the snapshot's dirty-slot log position after the pass's revert
    node_generation: int
    read: frozenset[int] | None  # slots the pass read; None: any slot counts
    key: tuple[Any, ...]
    order: list[str]
    pdbs: list[Obj]
    outcomes: list[Outcome]


class PassMemo:
    """See the module docstring: :meth:`lookup` before a pass, :meth:`store` after it."""

    def __init__(self) -> None:
        self._rec: _Record | None = None
        self.hits = 0

    def clear(self) -> None:
        self._rec = None

    def lookup(self, sim: SimCluster, key: tuple[Any, ...], order: list[str], pdbs: list[Obj]) -> list[Outcome] | None:
        """The kept outcomes when nothing the last pass read changed (``sim``: synced, not forked)."""
        rec = self._rec
        if rec is None or rec.sim is not sim:
            return None
        snap = sim.snapshot
        if snap.epoch != rec.epoch or snap.node_generation != rec.node_generation:
            return None
        if rec.key != key or rec.order != order:
            return None
        if len(rec.pdbs) != len(pdbs) or not all(map(operator.is_, rec.pdbs, pdbs)):
            return None
        dirty = snap.dirty_since(rec.epoch, rec.pos)
        if dirty is None:
            return None
        if dirty:
            if rec.read is None or snap.with_affinity or not dirty.isdisjoint(rec.read):
                return None
        self.hits += 1
        return rec.outcomes

    def store(self, sim: SimCluster, key: tuple[Any, ...], order: list[str], pdbs: list[Obj],
              outcomes: list[Outcome], read: frozenset[int] | None) -> None:  # fmt: skip
        """Keep a pass's outcomes (``sim``: reverted) and the slots it read (None: all)."""
        snap = sim.snapshot
        if snap.with_affinity:
            read = None
        self._rec = _Record(sim, snap.epoch, len(snap.dirty), snap.node_generation, read, key, order, list(pdbs),
                            outcomes)  # fmt: skip
