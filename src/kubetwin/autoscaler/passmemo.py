"""The outcome of the last scale-down simulation pass, kept for the next scan while nothing it read
changed (cluster-autoscaler core/scaledown/unneeded + simulator/cluster.go FindNodesToRemove, which
upstream re-runs every loop: its answer is a function of the candidates, their drain plans, the PDBs
and the snapshot, so the same inputs give the same answer).

A pass goes through the candidates in order (least utilised first) and gives each an outcome:
blocked by a drain rule or a PDB (the reason), left out past the non-empty cap, no place for its
pods, or removable (its pods moved, each first-fit over the nodes in informer order, earlier moves
counting for later ones). Each candidate's :class:`Step` keeps its outcome, where its pods went
and what the pass had read once it was done. The next scan reuses the leading steps that still
hold, replaying their moves without searching, and simulates from the first one that does not;
all of them: no simulation at all. A step holds when

- the pass's global inputs are equal: the nodes being drained, the node order, the PDB objects
  (the same objects: informer objects are never changed in place), the snapshot object in the
  same layout (epoch, node_generation: nodes did not come, go or change labels, taints,
  unschedulable);
- it and every step before it had the same input: the candidate, its group, utilization,
  blocking reason, pods to move (keys) and PDB needs;
- none of the node slots read up to it changed since (the snapshot's dirty-slot log records
  every pod attached/detached and node arrays written): the candidates simulated so far and the
  prefix of the node order first-fit went through (up to the furthest node it tried; every node
  once a pod found no place or had no first-fit class).

That restriction is sound because each filter's verdict on a node then depends on that node
alone: it is used only when no pod of the snapshot has (anti-)affinity terms (the InterPodAffinity
filter reads other nodes' pods through them); otherwise any changed slot counts.
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


@dataclass(frozen=True)
class Step:
    outcome: Outcome
    moves: tuple[tuple[str, str], ...]  # (pod key, node) for a removable candidate's pods, in order
    fit: tuple[int, dict[Any, int]]  # FirstFit.state() after it
    slot: int | None  # its node's slot when its moves were simulated


@dataclass
class _Record:
    sim: SimCluster
    epoch: int
    pos: int  # the snapshot's dirty-slot log position after the pass's revert
    node_generation: int
    affinity: bool  # some pod of the snapshot had (anti-)affinity terms
    key: tuple[Any, ...]  # (per candidate its inputs, the nodes being drained)
    order: list[str]
    pdbs: list[Obj]
    steps: list[Step]
    index: dict[str, int] | None = None  # node -> position in order, when first needed


class PassMemo:
    """See the module docstring: :meth:`lookup` before a pass, :meth:`store` after it."""

    def __init__(self) -> None:
        self._rec: _Record | None = None
        self.hits = 0  # passes answered in full
        self.replayed = 0  # steps replayed in passes that simulated the rest

    def clear(self) -> None:
        self._rec = None

    def lookup(self, sim: SimCluster, key: tuple[Any, ...], order: list[str], pdbs: list[Obj]) -> list[Step]:
        """The leading steps of the last pass that hold for a pass with these inputs (``sim``:
        synced, not forked); as many as ``key`` has candidates: nothing to simulate."""
        rec = self._rec
        if rec is None or rec.sim is not sim:
            return []
        snap = sim.snapshot
        if snap.epoch != rec.epoch or snap.node_generation != rec.node_generation:
            return []
        if rec.key[1] != key[1] or rec.order != order:
            return []
        if len(rec.pdbs) != len(pdbs) or not all(map(operator.is_, rec.pdbs, pdbs)):
            return []
        dirty = snap.dirty_since(rec.epoch, rec.pos)
        if dirty is None:
            return []
        first = len(order)  # position in the node order of the first changed node
        if dirty:
            if rec.affinity or snap.with_affinity:
                return []
            if rec.index is None:
                rec.index = {name: i for i, name in enumerate(order)}
            for s in dirty:
                if s >= snap.n:
                    continue  # a slot a fork handed out and gave back: no node there now
                ni = snap.nodes[s]
                pos = rec.index.get(ni.name) if ni is not None else None
                if pos is None:
                    return []
                first = min(first, pos)
        old, new = rec.key[0], key[0]
        n = 0
        for step, was, now in zip(rec.steps, old, new, strict=False):  # the shorter of them
            if was != now or (first < len(order) and step.fit[0] >= first) or step.slot in dirty:
                break
            n += 1
        if n == len(new):
            self.hits += 1
        else:
            self.replayed += n
        return rec.steps[:n]

    def store(self, sim: SimCluster, key: tuple[Any, ...], order: list[str], pdbs: list[Obj], steps: list[Step]) -> None:
        """Keep a pass's steps (``sim``: reverted)."""
        snap = sim.snapshot
        self._rec = _Record(sim, snap.epoch, len(snap.dirty), snap.node_generation, bool(snap.with_affinity), key,
                            order, list(pdbs), steps)  # fmt: skip
