"""InterPodAffinity (pkg/scheduler/framework/plugins/interpodaffinity: filtering.go, scoring.go).

Filter, in upstream order:
1. required affinity: every term needs a node in the same topology domain (term.topologyKey)
   running a pod that matches all terms -> UnschedulableAndUnresolvable "node(s) didn't match pod
   affinity rules" (unless no pod matches anywhere and the pod matches its own terms);
2. required anti-affinity: no matching pod in the node's domain -> Unschedulable "node(s) didn't
   match pod anti-affinity rules";
3. existing pods' required anti-affinity matching the incoming pod -> Unschedulable "node(s)
   didn't satisfy existing pods anti-affinity rules".
Terms select pods in ``namespaces`` ∪ namespaces matching ``namespaceSelector`` (the pod's own
namespace when both are empty; every namespace for an empty namespaceSelector).
Score: preferred terms (+weight affinity, -weight anti-affinity) of the incoming pod over existing
pods, plus existing pods' preferred terms (and required affinity × hardPodAffinityWeight) that
match the incoming pod, summed per topology domain; normalized min..max -> 0..100.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kubetwin.api.selectors import label_selector_matcher
from kubetwin.scheduler import helpers
from kubetwin.scheduler.cache import NsKey, Snapshot
from kubetwin.scheduler.framework import (
    MAX_SCORE,
    SKIP,
    CycleState,
    FilterResult,
    NodeInfo,
    Plugin,
    PodInfo,
    Status,
    unresolvable,
    unschedulable,
)  # fmt: skip
from kubetwin.scheduler.hints import (
    ADD,
    DELETE,
    NODE,
    POD,
    UPDATE_NODE_LABEL,
    UPDATE_POD_LABEL,
    Registration,
    assigned,
)

NAME = "InterPodAffinity"
ERR_REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_REASON_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
Obj = dict[str, Any]
REQ = "requiredDuringSchedulingIgnoredDuringExecution"
PREF = "preferredDuringSchedulingIgnoredDuringExecution"


class Term:
    __slots__ = ("namespaces", "selector", "key", "weight", "matcher")

    def __init__(self, namespaces: NsKey, selector: Obj | None, key: str, weight: int = 0) -> None:
        self.namespaces = namespaces
        self.selector = selector
        self.key = key
        self.weight = weight
        self.matcher = label_selector_matcher(selector)

    def matches(self, pi: PodInfo) -> bool:
        if self.namespaces is not None and pi.namespace not in self.namespaces:
            return False
        return self.matcher.matches(pi.labels)


class _State:
    def __init__(self) -> None:
        self.affinity: list[Term] = []
        self.anti: list[Term] = []
        # (key, value) -> count
        self.affinity_counts: dict[tuple[str, str], int] = {}
        self.anti_counts: dict[tuple[str, str], int] = {}
        self.existing_anti: dict[tuple[str, str], int] = {}
        self.self_match = False

    def clone(self) -> _State:
        c = _State()
        c.affinity, c.anti, c.self_match = self.affinity, self.anti, self.self_match
        c.affinity_counts = dict(self.affinity_counts)
        c.anti_counts = dict(self.anti_counts)
        c.existing_anti = dict(self.existing_anti)
        return c


_NO_TERMS: dict[str, list[Term]] = {"req_aff": [], "req_anti": [], "pref_aff": [], "pref_anti": []}  # never mutated


class _PodLabels:
    """What Term.matches reads of a pod, for a pod object an event carries."""

    __slots__ = ("namespace", "labels")

    def __init__(self, pod: Obj) -> None:
        meta = pod["metadata"]
        self.namespace: str = meta.get("namespace", "")
        self.labels: dict[str, str] = meta.get("labels") or {}


def _matches_all(terms: list[Term], pod: Obj) -> bool:
    """podMatchesAllAffinityTerms: no terms match nothing."""
    if not terms:
        return False
    view = _PodLabels(pod)
    return all(t.matches(view) for t in terms)  # type: ignore[arg-type]


class InterPodAffinity(Plugin):
    NAME = NAME
    VECTORISED = True

    def events_to_register(self) -> list[Registration]:
        return [(POD, ADD | UPDATE_POD_LABEL | DELETE, self._after_pod_change),
                (NODE, ADD | UPDATE_NODE_LABEL, self._after_node_change)]  # fmt: skip

    def _after_pod_change(self, pi: PodInfo, old: Obj | None, new: Obj | None, memo: dict) -> bool:
        """isSchedulableAfterPodChange: an assigned pod now matching all the queued pod's required
        affinity terms (added or relabelled), or no longer / not any more matching its required
        anti-affinity terms (relabelled or deleted)."""
        if any(p is not None and not assigned(p) for p in (old, new)):
            return False
        terms = self._all_terms(pi)
        aff, anti = terms["req_aff"], terms["req_anti"]
        if old is not None and new is not None:
            return (not _matches_all(aff, old) and _matches_all(aff, new)) or (
                _matches_all(anti, old) and not _matches_all(anti, new)
            )
        if new is not None:
            return _matches_all(aff, new)
        return old is not None and _matches_all(anti, old)

    def _after_node_change(self, pi: PodInfo, old: Obj | None, new: Obj | None, memo: dict) -> bool:
        """isSchedulableAfterNodeChange: the node carries a topology key of a required term."""
        labels = ((new or {}).get("metadata") or {}).get("labels") or {}
        terms = self._all_terms(pi)
        return any(t.key in labels for t in terms["req_aff"] + terms["req_anti"])

    def __init__(self, handle: Any, args: Obj | None = None) -> None:
        super().__init__(handle, args)
        self.hard_weight = int(self.args.get("hardPodAffinityWeight", 1))
        handle.snapshot.term_extractor = self._extract

    def _all_terms(self, pi: PodInfo) -> dict[str, list[Term]]:
        if pi.terms is None:
            if not pi.has_affinity:  # neither podAffinity nor podAntiAffinity: no terms of any kind
                pi.terms = _NO_TERMS
                return _NO_TERMS
            pi.terms = {
                "req_aff": self._terms(pi, "podAffinity", REQ),
                "req_anti": self._terms(pi, "podAntiAffinity", REQ),
                "pref_aff": self._terms(pi, "podAffinity", PREF),
                "pref_anti": self._terms(pi, "podAntiAffinity", PREF),
            }
        return pi.terms

    def _extract(self, pi: PodInfo) -> list[tuple[Any, tuple[str, Term]]]:
        out = []
        for kind, terms in self._all_terms(pi).items():
            for t in terms:
                out.append(((kind, t.namespaces, helpers.selector_key(t.selector), t.key, t.weight), (kind, t)))
        return out

    def _existing(self, kinds: tuple[str, ...], pod: PodInfo) -> list[tuple[str, Term, np.ndarray]]:
        """Term groups of assigned pods of the given kinds whose term matches ``pod``."""
        snap: Snapshot = self.handle.snapshot
        out = []
        for (kind, t), counts in snap.term_groups.values():
            if kind in kinds and t.matches(pod) and counts[: snap.n].any():
                out.append((kind, t, counts))  # the whole array: domain_sums caches by identity
        return out

    # -- terms --------------------------------------------------------------------------------
    def _namespaces(self, owner: PodInfo, t: Obj) -> NsKey:
        names = set(t.get("namespaces") or [])
        nsel = t.get("namespaceSelector")
        if nsel is None:
            return frozenset(names or {owner.namespace})
        if not nsel.get("matchLabels") and not nsel.get("matchExpressions"):
            return None  # empty selector: all namespaces
        inf = self.handle.informers
        if inf is not None:
            for ns in inf.get("namespaces").list():
                if label_selector_matcher(nsel).matches(ns["metadata"].get("labels") or {}):
                    names.add(ns["metadata"]["name"])
        return frozenset(names)

    def _terms(self, owner: PodInfo, kind: str, which: str) -> list[Term]:
        raw = (owner.affinity.get(kind) or {}).get(which) or []
        out = []
        for t in raw:
            w = 0
            if which == PREF:
                w = int(t.get("weight", 0))
                t = t.get("podAffinityTerm") or {}
            sel = t.get("labelSelector")
            keys = t.get("matchLabelKeys") or []
            if keys and sel is not None:
                sel = {"matchLabels": dict(sel.get("matchLabels") or {}),
                       "matchExpressions": list(sel.get("matchExpressions") or [])
                       + [{"key": k, "operator": "In", "values": [owner.labels[k]]} for k in keys if k in owner.labels]}  # fmt: skip
            out.append(Term(self._namespaces(owner, t), sel, t.get("topologyKey", ""), w))
        return out

    # -- Filter -------------------------------------------------------------------------------
    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        snap: Snapshot = self.handle.snapshot
        terms = self._all_terms(pod)
        affinity, anti = terms["req_aff"], terms["req_anti"]
        existing = self._existing(("req_anti",), pod)
        if not affinity and not anti and not existing:
            return SKIP
        st = _State()
        st.affinity, st.anti = affinity, anti
        for _, t, counts in existing:
            self._accumulate(snap, counts, t.key, st.existing_anti)
        if affinity:
            per_slot = snap.counter_all([(t.namespaces, t.selector) for t in affinity])
            for t in affinity:
                self._accumulate(snap, per_slot, t.key, st.affinity_counts)
            st.self_match = all(t.matches(pod) for t in affinity)
        for t in anti:
            per_slot = snap.counter(t.namespaces, t.selector)
            self._accumulate(snap, per_slot, t.key, st.anti_counts)
        state.write(NAME, st)
        return None

    @staticmethod
    def _accumulate(snap: Snapshot, per_slot: np.ndarray, key: str, into: dict[tuple[str, str], int]) -> None:
        ids, names = snap.domains(key)
        d = ids[: snap.n]
        ok = (d >= 0) & (per_slot[: snap.n] > 0)
        if not ok.any():
            return
        sums = np.bincount(d[ok], weights=per_slot[: snap.n][ok], minlength=len(names)).astype(np.int64)
        nz = np.flatnonzero(sums)
        for i, v in zip(nz.tolist(), sums[nz].tolist(), strict=True):
            k = (key, names[i])
            into[k] = into.get(k, 0) + v

    def _check(self, st: _State, labels: dict[str, str]) -> Status | None:
        if st.affinity:
            ok = all(t.key in labels and st.affinity_counts.get((t.key, labels[t.key]), 0) > 0 for t in st.affinity)
            if not ok and not (not any(v > 0 for v in st.affinity_counts.values()) and st.self_match):
                return unresolvable(ERR_REASON_AFFINITY)
        for t in st.anti:
            if t.key in labels and st.anti_counts.get((t.key, labels[t.key]), 0) > 0:
                return unschedulable(ERR_REASON_ANTI_AFFINITY)
        for (k, v), n in st.existing_anti.items():
            if n > 0 and labels.get(k) == v:
                return unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY)
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        st: _State | None = state.read(NAME)
        return None if st is None else self._check(st, node.labels)

    def filter_all(self, state: CycleState, pod: PodInfo, snap: Snapshot) -> FilterResult:
        st: _State | None = state.read(NAME)
        if st is None:
            return []
        n = snap.n

        def table(key: str, counts: dict[tuple[str, str], int]) -> np.ndarray:
            ids, names = snap.domains(key)
            tab = np.array([counts.get((key, nm), 0) for nm in names] + [0], dtype=np.int64)
            d = ids[:n]
            return tab[np.where(d >= 0, d, len(names))]

        out: FilterResult = []
        failed = np.zeros(n, dtype=bool)
        if st.affinity:
            ok = np.ones(n, dtype=bool)
            for t in st.affinity:
                ok &= table(t.key, st.affinity_counts) > 0
            if not (not any(v > 0 for v in st.affinity_counts.values()) and st.self_match):
                out.append((~ok, unresolvable(ERR_REASON_AFFINITY)))
                failed |= ~ok
        anti_fail = np.zeros(n, dtype=bool)
        for t in st.anti:
            anti_fail |= table(t.key, st.anti_counts) > 0
        anti_fail &= ~failed
        if anti_fail.any():
            out.append((anti_fail, unschedulable(ERR_REASON_ANTI_AFFINITY)))
            failed |= anti_fail
        ex_fail = np.zeros(n, dtype=bool)
        for key in {k for (k, _), c in st.existing_anti.items() if c > 0}:
            ex_fail |= table(key, st.existing_anti) > 0
        ex_fail &= ~failed
        if ex_fail.any():
            out.append((ex_fail, unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY)))
        return out

    def _update(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, delta: int) -> None:
        st: _State | None = state.read(NAME)
        if st is None:
            return
        labels = node.labels
        if other.has_required_anti:
            for t in self._all_terms(other)["req_anti"]:
                if t.matches(pod) and t.key in labels:
                    k = (t.key, labels[t.key])
                    st.existing_anti[k] = st.existing_anti.get(k, 0) + delta
        if st.affinity and all(t.matches(other) for t in st.affinity):
            for t in st.affinity:
                if t.key in labels:
                    k = (t.key, labels[t.key])
                    st.affinity_counts[k] = st.affinity_counts.get(k, 0) + delta
        for t in st.anti:
            if t.matches(other) and t.key in labels:
                k = (t.key, labels[t.key])
                st.anti_counts[k] = st.anti_counts.get(k, 0) + delta

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, other, node, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, other, node, -1)

    # -- Score --------------------------------------------------------------------------------
    @staticmethod
    def _domain_sums(snap: Snapshot, per_slot: np.ndarray, key: str) -> np.ndarray | None:
        """Matching pods per topology domain of ``key`` (int64 by domain id), None if there are none."""
        sums = snap.domain_sums(per_slot, key)  # counts are never negative: any() <=> some pod counts
        return sums if sums.any() else None

    def pre_score(self, state: CycleState, pod: PodInfo, slots: np.ndarray) -> Status | None:
        snap: Snapshot = self.handle.snapshot
        terms = self._all_terms(pod)
        pref_aff, pref_anti = terms["pref_aff"], terms["pref_anti"]
        kinds = ("pref_aff", "pref_anti", "req_aff") if self.hard_weight > 0 else ("pref_aff", "pref_anti")
        existing = self._existing(kinds, pod)
        if not pref_aff and not pref_anti and not existing:
            return SKIP
        # Score per topology key, as an array over that key's domain ids (vectorised over nodes).
        tables: dict[str, np.ndarray] = {}

        def add(per_slot: np.ndarray, key: str, weight: int) -> None:
            sums = self._domain_sums(snap, per_slot, key)
            if sums is None:
                return
            tab = tables.get(key)
            if tab is None:
                tables[key] = weight * sums
            else:
                tab += weight * sums

        for t in pref_aff:
            add(snap.counter(t.namespaces, t.selector), t.key, t.weight)
        for t in pref_anti:
            add(snap.counter(t.namespaces, t.selector), t.key, -t.weight)
        for kind, t, counts in existing:
            add(counts, t.key, {"pref_aff": t.weight, "pref_anti": -t.weight, "req_aff": self.hard_weight}[kind])
        if not tables:
            return SKIP
        state.write(NAME + "/score", tables)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        tables: dict[str, np.ndarray] = state.read(NAME + "/score") or {}
        snap: Snapshot = self.handle.snapshot
        total = 0
        for k, tab in tables.items():
            d = int(snap.domains(k)[0][node.slot])
            if d >= 0:
                total += int(tab[d])
        return total

    def score_all(self, state: CycleState, pod: PodInfo, slots: np.ndarray) -> np.ndarray:
        snap: Snapshot = self.handle.snapshot
        tables: dict[str, np.ndarray] = state.read(NAME + "/score") or {}
        out = np.zeros(len(slots), dtype=np.int64)
        for k, tab in tables.items():
            d = snap.domains(k)[0].take(slots)
            out += np.append(tab, 0)[np.where(d >= 0, d, len(tab))]
        return out

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: np.ndarray) -> np.ndarray:
        if len(scores) == 0:
            return scores
        mn, mx = int(scores.min()), int(scores.max())
        if mx - mn == 0:
            return np.zeros_like(scores)
        return (MAX_SCORE * (scores - mn) // (mx - mn)).astype(np.int64)
