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

Past those, a removal with moves is found by its candidate after any other change too
(:meth:`Kept.moved`, :class:`_Moved`: nodes that came, went or changed labels or taints, pods
that came or went anywhere, other candidates ahead of it, other nodes draining), when what its
moves read is the same. Neither snapshot may hold a pod with (anti-)affinity terms and each pod
it moved must have had a fit class (:attr:`Step.local`): each pod's first-fit answer is then the
first node in the order, not removed, whose own state passes it, and the node order keeps the
relative order of the nodes that stay (informer order: nodes that come go last). A node before
the one a pod went to rejected it; with more pods on it, or removed, it still does (a fit class:
more pods only turn a node's yes into a no). So the moves hold when the candidate's input is
equal, its node's pods are the same, the nodes its pods went to are as they were and every node
up to the furthest of them (in this pass's order) holds the same pods or more and is removed if
it was. What differs is known: the nodes a sync changed since (:meth:`BaseSnapshot.changed_since`:
those that only gained pods apart; nodes that started or stopped draining count as changed) and
the nodes touched (the removed node, the nodes its pods went to; removals change nothing else,
whatever their order) by a removal before the step in one pass and not (with the same input and
moves) in the other: one only in this pass adds pods and removes a node, one only in the last
pass may have freed room. The budgets left and the non-empty count are this pass's own (the
candidate is not blocked and below the cap); first-fit's state stays this pass's (where each
class resumes holds as pods are added).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubetwin.autoscaler.drain import NOT_ENOUGH_PDB
from kubetwin.autoscaler.simulator import BaseSnapshot, SimCluster

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
    # every pod it moved has a fit class (simulator.fit_class): with no pod of (anti-)affinity in
    # the snapshot, each one's verdict on a node read that node alone
    local: bool = False


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
    changes: int  # BaseSnapshot.mark() when the pass ran
    index: dict[str, int] | None = None  # node -> position in order, when first needed


Moves = tuple[tuple[str, str], ...]


class _Moved:
    """The last pass's removable steps that hold after other changes, found by candidate (see the
    module docstring). The nodes whose state may differ between the last pass before the step and
    this pass so far: those a sync changed since (``changed``, with the nodes that started or
    stopped draining; ``gained``: those it only attached pods to), and those the removals in one
    pass but not the other touched (their node, the nodes their pods went to). Positions are in
    this pass's node ``order``, read when first asked."""

    def __init__(self, rec: _Record, order: list[str], changed: set[str], gained: set[str]) -> None:
        self._rec = rec
        self._order = order
        self._changed = changed
        self._gained = gained
        self._pos: dict[str, int] | None = None
        self._first = 0  # position of the first changed node
        self._at: dict[str, int] = {}  # candidate -> its position in the last pass
        # the last pass's removals: node -> [its position in the last pass, (input, moves), lowest position touched]
        self._old: dict[str, list[Any]] = {}
        # this pass's removals so far: node -> [the last pass's removal of it too, (input, moves), nodes touched]
        self._new: dict[str, list[Any]] = {}
        for j, (entry, step) in enumerate(zip(rec.key[0], rec.steps, strict=True)):
            self._at[entry[0]] = j
            if step.outcome is REMOVABLE:
                self._old[entry[0]] = [j, (entry, step.moves), None]

    def _prepare(self) -> dict[str, int]:
        rec, order = self._rec, self._order
        if rec.order is order:
            if rec.index is None:
                rec.index = {name: i for i, name in enumerate(order)}
            pos = rec.index
        else:
            pos = {name: i for i, name in enumerate(order)}
        self._pos = pos
        self._first = min((pos[c] for c in self._changed if c in pos), default=len(order))
        return pos

    def _lowest(self, pos: dict[str, int], name: str, moves: Moves) -> int:
        """The first position in the order of the nodes a removal touched (a gone node: none)."""
        n = len(self._order)
        return min(pos.get(name, n), min((pos.get(t, n) for _, t in moves), default=n))

    @staticmethod
    def _touched(name: str, removal: list[Any]) -> set[str]:
        """The nodes a removal of this pass touched: its node and where its pods went."""
        if removal[2] is None:
            removal[2] = {name, *(t for _, t in removal[1][1])}
        touched: set[str] = removal[2]
        return touched

    def taken(self, entry: Any, moves: Moves) -> None:
        """This pass removed the candidate whose input is ``entry``, its pods moved to ``moves``."""
        name = entry[0]
        old = self._old.get(name)
        self._new[name] = [old is not None and old[1] == (entry, moves), (entry, moves), None]

    def find(self, entry: Any) -> tuple[Step, int] | None:
        """The last pass's step for the candidate whose input is ``entry`` if it was a removal
        with moves that holds now, and the furthest position in the order it read."""
        name = entry[0]
        rec = self._rec
        j = self._at.get(name)
        if j is None:
            return None
        step = rec.steps[j]
        if step.outcome is not REMOVABLE or not step.moves or not step.local or name in self._changed:
            return None
        if rec.key[0][j] != entry:
            return None
        pos = self._pos if self._pos is not None else self._prepare()
        reach = -1
        for _, target in step.moves:
            p = pos.get(target)
            if p is None:
                return None
            reach = max(reach, p)
        if self._first <= reach:
            return None
        targets = {t for _, t in step.moves}
        if not targets.isdisjoint(self._gained):
            return None
        for other, old in self._old.items():
            if old[0] < j and not (other in self._new and self._new[other][0]) and self._low(pos, other, old) <= reach:
                return None  # removed before it in the last pass, not (the same way) in this one
        for other, new in self._new.items():
            if (not new[0] or self._old[other][0] >= j) and not targets.isdisjoint(self._touched(other, new)):
                return None  # removed before it in this pass, not (the same way) in the last one
        return step, reach

    def _low(self, pos: dict[str, int], name: str, removal: list[Any]) -> int:
        if removal[2] is None:
            removal[2] = self._lowest(pos, name, removal[1][1])
        low: int = removal[2]
        return low


class Kept:
    """The last pass's steps that hold in this pass (:meth:`PassMemo.lookup`'s answer): the
    ``prefix`` of leading ones and, when no slot of the snapshot changed, any later one that
    :meth:`step` finds by its candidate; failing those, a removal :meth:`moved` finds (see the
    module docstring). The pass tells it each step it gives a candidate (:meth:`taken`), taken
    over or simulated."""

    def __init__(self, prefix: list[Step], rec: _Record | None = None, pdb_check: bool = False,
                 moved: _Moved | None = None) -> None:  # fmt: skip
        self.prefix = prefix
        self._rec = rec
        self._moved = moved
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

    def moved(self, entry: Any) -> tuple[Step, int] | None:
        """For a candidate :meth:`step` found nothing for (not blocked, below the non-empty cap):
        the last pass's removal of it, if it holds after the changes (:class:`_Moved`), and the
        furthest position in the node order it read."""
        return self._moved.find(entry) if self._moved is not None else None

    def taken(self, entry: Any, step: Step) -> None:
        """This pass gave the candidate whose input is ``entry`` the outcome ``step``."""
        if step.outcome is not REMOVABLE:
            return
        if self._moved is not None:
            self._moved.taken(entry, step.moves)
        if not self._same:
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
        self.moved = 0  # ... of them removals found by Kept.moved

    def clear(self) -> None:
        self._rec = None

    def lookup(self, base: BaseSnapshot, key: tuple[Any, ...], order: list[str], budgets: Any) -> Kept:
        """The steps of the last pass that hold for a pass with these inputs (``base``: synced, not
        forked); a prefix as long as ``key`` has candidates: nothing to simulate."""
        rec = self._rec
        sim = base.sim
        if rec is None or rec.sim is not sim:
            return Kept([])
        snap = sim.snapshot
        if snap.epoch != rec.epoch or snap.node_generation != rec.node_generation:
            return Kept([], moved=self._moved(base, rec, key, order))
        if rec.key[1] != key[1] or (rec.order is not order and rec.order != order):
            return Kept([], moved=self._moved(base, rec, key, order))
        pdb_check = False
        if rec.budgets is not budgets and rec.budgets != budgets:
            if [b[:2] for b in rec.budgets] != [b[:2] for b in budgets]:
                return Kept([], moved=self._moved(base, rec, key, order))  # other PDBs or selectors
            pdb_check = True  # only disruptions allowed differ
        dirty = snap.dirty_since(rec.epoch, rec.pos)
        if dirty is None:
            return Kept([], moved=self._moved(base, rec, key, order))
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
                    return Kept([], moved=self._moved(base, rec, key, order))
                first = min(first, pos)
        old, new = rec.key[0], key[0]
        n = 0
        for step, was, now in zip(rec.steps, old, new, strict=False):  # the shorter of them
            if was != now or (first < len(order) and step.fit[0] >= first) or step.slot in dirty:
                break
            n += 1
        if n == len(new) and not pdb_check:
            self.hits += 1
            return Kept(rec.steps[:n])
        return Kept(rec.steps[:n], None if dirty or pdb_check else rec, pdb_check, self._moved(base, rec, key, order))

    @staticmethod
    def _moved(base: BaseSnapshot, rec: _Record, key: tuple[Any, ...], order: list[str]) -> _Moved | None:
        """For a pass that simulates: the last pass's removals found by candidate (:class:`_Moved`),
        when neither snapshot had a pod with (anti-)affinity terms and the changes since are known."""
        if rec.affinity or base.sim.snapshot.with_affinity:
            return None
        changes = base.changed_since(rec.changes)
        if changes is None:
            return None
        changed, gained = changes
        return _Moved(rec, order, changed | (rec.key[1] ^ key[1]), gained)

    def store(self, base: BaseSnapshot, key: tuple[Any, ...], order: list[str], budgets: Any, steps: list[Step]) -> None:
        """Keep a pass's steps (``base``: its snapshot reverted)."""
        sim = base.sim
        snap = sim.snapshot
        self._rec = _Record(sim, snap.epoch, len(snap.dirty), snap.node_generation, bool(snap.with_affinity), key,
                            order, budgets, steps, base.mark())  # fmt: skip
