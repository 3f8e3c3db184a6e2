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

- the pass's global inputs are equal: the nodes being drained, the node order, what the pass reads
  of the PDBs (:meth:`PdbTracker.budgets`: namespaces, selectors, disruptions allowed), the snapshot object in the
  same layout (epoch, node_generation: nodes did not come, go or change labels, taints,
  unschedulable); when only the PDBs' disruptions allowed differ, the steps are taken over up to
  the first one whose PDB verdict (blocked by NotEnoughPdb or not) differs: the budgets left
  reach nothing else of a pass, the verdicts are checked as it goes (:meth:`Kept.step`);
- it and every step before it had the same input: the candidate, its group, utilization,
  blocking reason, pods to move (keys) and PDB needs;
- none of the node slots read up to it changed since (the snapshot's dirty-slot log records
  every pod attached/detached and node arrays written): the candidates simulated so far and the
  prefix of the node order first-fit went through (up to the furthest node it tried; every node
  once a pod found no place or had no first-fit class).

That restriction is sound because each filter's verdict on a node then depends on that node
alone: it is used only when no pod of the snapshot has (anti-)affinity terms (the InterPodAffinity
filter reads other nodes' pods through them); otherwise any changed slot counts.

When no slot changed at all, a later step holds too, found by its candidate (:class:`Kept`): the
candidate list may have gained or lost nodes ahead of it (a node back from its unremovable
recheck timeout, one that left the list), and what a step meets depends only on the removals
before it. A pass's state before a step (the snapshot's moved pods, the nodes removed, the PDB
budgets left, the non-empty count) follows from the base (unchanged), the global inputs (equal)
and the removable steps before it, in order, each with its input and moves; the other outcomes
(blocked, capped, no place: moves rolled back) change none of it. So a step holds when its input
is equal and the removable steps this pass went through before it are, in order, the ones the
last pass went through before it (the same inputs and moves). The first-fit state kept with it
holds as well (it was right for an equal snapshot and equal removals).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubetwin.autoscaler.drain import NOT_ENOUGH_PDB
from kubetwin.autoscaler.simulator import SimCluster

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
    budgets: Any  # PdbTracker.budgets()
    steps: list[Step]
    index: dict[str, int] | None = None  # node -> position in order, when first needed


class Kept:
    """The last pass's steps that hold in this pass (:meth:`PassMemo.lookup`'s answer): the
    ``prefix`` of leading ones and, when no slot of the snapshot changed, any later one that
    :meth:`step` finds by its candidate (see the module docstring). The pass tells it each step
    it gives a candidate (:meth:`taken`), taken over or simulated."""

    def __init__(self, prefix: list[Step], rec: _Record | None = None, pdb_check: bool = False) -> None:
        self.prefix = prefix
        self._rec = rec
        # the PDBs' disruptions allowed changed: a step holds only with the same PDB verdict, and
        # none after the first that does not
        self.pdb_check = pdb_check
        self._stopped = False
        self._position: dict[str, int] = {}  # candidate -> its position in the last pass
        self._before: list[int] = []  # per step of the last pass: how many removable steps came before it
        self._removals: list[tuple[Any, tuple[tuple[str, str], ...]]] = []  # their (input, moves), in order
        self._same = rec is not None  # this pass's removable steps so far are the last pass's first ones
        self._count = 0  # ... that many of them
        if rec is not None:
            for j, (entry, step) in enumerate(zip(rec.key[0], rec.steps, strict=True)):
                self._position[entry[0]] = j
                self._before.append(len(self._removals))
                if step.outcome is REMOVABLE:
                    self._removals.append((entry, step.moves))

    def step(self, i: int, entry: Any, pdb_blocked: bool = False) -> Step | None:
        """The kept step for this pass's ``i``-th candidate, whose input is ``entry``, if one holds
        (``pdb_blocked``: whether the PDBs, with the budgets this pass has left, block it)."""
        if self._stopped:
            return None
        if i < len(self.prefix):
            got = self.prefix[i]
            if self.pdb_check and (got.outcome == NOT_ENOUGH_PDB) != pdb_blocked:
                self._stopped = True
                return None
            return got
        rec = self._rec
        if rec is None or not self._same:
            return None
        j = self._position.get(entry[0])
        if j is None or self._before[j] != self._count or rec.key[0][j] != entry:
            return None
        return rec.steps[j]

    def taken(self, entry: Any, step: Step) -> None:
        """This pass gave the candidate whose input is ``entry`` the outcome ``step``."""
        if step.outcome is not REMOVABLE or not self._same:
            return
        n = self._count
        if n < len(self._removals) and self._removals[n] == (entry, step.moves):
            self._count = n + 1
        else:
            self._same = False


class PassMemo:
    """See the module docstring: :meth:`lookup` before a pass, :meth:`store` after it."""

    def __init__(self) -> None:
        self._rec: _Record | None = None
        self.hits = 0  # passes answered in full
        self.replayed = 0  # steps taken over in passes that simulated some

    def clear(self) -> None:
        self._rec = None

    def lookup(self, sim: SimCluster, key: tuple[Any, ...], order: list[str], budgets: Any) -> Kept:
        """The steps of the last pass that hold for a pass with these inputs (``sim``: synced, not
        forked); a prefix as long as ``key`` has candidates: nothing to simulate."""
        rec = self._rec
        if rec is None or rec.sim is not sim:
            return Kept([])
        snap = sim.snapshot
        if snap.epoch != rec.epoch or snap.node_generation != rec.node_generation:
            return Kept([])
        if rec.key[1] != key[1] or (rec.order is not order and rec.order != order):
            return Kept([])
        pdb_check = False
        if rec.budgets is not budgets and rec.budgets != budgets:
            if [b[:2] for b in rec.budgets] != [b[:2] for b in budgets]:
                return Kept([])  # other PDBs or selectors
            pdb_check = True  # only disruptions allowed differ
        dirty = snap.dirty_since(rec.epoch, rec.pos)
        if dirty is None:
            return Kept([])
        first = len(order)  # position in the node order of the first changed node
        if dirty:
            if rec.affinity or snap.with_affinity:
                return Kept([])
            if rec.index is None:
                rec.index = {name: i for i, name in enumerate(order)}
            for s in dirty:
                if s >= snap.n:
                    continue  # a slot a fork handed out and gave back: no node there now
                ni = snap.nodes[s]
                pos = rec.index.get(ni.name) if ni is not None else None
                if pos is None:
                    return Kept([])
                first = min(first, pos)
        old, new = rec.key[0], key[0]
        n = 0
        for step, was, now in zip(rec.steps, old, new, strict=False):  # the shorter of them
            if was != now or (first < len(order) and step.fit[0] >= first) or step.slot in dirty:
                break
            n += 1
        if n == len(new) and not pdb_check:
            self.hits += 1
        return Kept(rec.steps[:n], None if dirty or pdb_check else rec, pdb_check)

    def store(self, sim: SimCluster, key: tuple[Any, ...], order: list[str], budgets: Any, steps: list[Step]) -> None:
        """Keep a pass's steps (``sim``: reverted)."""
        snap = sim.snapshot
        self._rec = _Record(sim, snap.epoch, len(snap.dirty), snap.node_generation, bool(snap.with_affinity), key,
                            order, budgets, steps)  # fmt: skip
