"""PodTopologySpread (pkg/scheduler/framework/plugins/podtopologyspread: filtering.go,
scoring.go, common.go, plugin.go).

Filter (DoNotSchedule): per constraint, matching pods are counted per topology domain over the
eligible nodes (nodes with every hard constraint's topology key; nodeAffinityPolicy Honor and
nodeTaintsPolicy Ignore by default); ``skew = count(domain) + selfMatch - globalMin`` must not
exceed maxSkew (globalMin is 0 while fewer than minDomains domains exist). Nodes lacking the
key are UnschedulableAndUnresolvable.
Score (ScheduleAnyway): ``Σ cnt·log(size+2) + maxSkew-1`` per constraint, rounded, then
normalized ``100·(max+min-s)/max``; nodes lacking a key are ignored (score 0).
Pods without constraints get the system defaults (zone maxSkew 5, hostname maxSkew 3,
ScheduleAnyway) with a selector built from the Services, ReplicaSet or StatefulSet selecting them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from kubetwin.api.resources import find_untolerated_taint
from kubetwin.api.selectors import label_selector_matcher
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
    unresolvable,
    unschedulable,
)  # fmt: skip
from kubetwin.scheduler.hints import (
    ADD,
    DELETE,
    NODE,
    POD,
    UPDATE_NODE_LABEL,
    UPDATE_NODE_TAINT,
    UPDATE_POD_LABEL,
    Registration,
    assigned,
    same_pod,
)
from kubetwin.scheduler.plugins.nodeaffinity import _freeze, _required_key, has_required, required_mask

NAME = "PodTopologySpread"
ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
LABEL_HOSTNAME = "kubernetes.io/hostname"
LABEL_ZONE = "topology.kubernetes.io/zone"
SYSTEM_DEFAULT_CONSTRAINTS = [
    {"topologyKey": LABEL_ZONE, "maxSkew": 5, "whenUnsatisfiable": "ScheduleAnyway"},
    {"topologyKey": LABEL_HOSTNAME, "maxSkew": 3, "whenUnsatisfiable": "ScheduleAnyway"},
]
Obj = dict[str, Any]


_OWNER_RESOURCES = {"ReplicaSet": "replicasets.apps", "StatefulSet": "statefulsets.apps",
                    "ReplicationController": "replicationcontrollers"}  # fmt: skip
_NO_SELECTOR: Obj = {}


def _default_selector_of(pod: PodInfo, services: list[Obj], kind: str, owner_sel: Obj | None) -> Obj | None:
    """The selector of the Services selecting the pod and of its controller (kind, selector)."""
    labels: dict[str, str] = {}
    exprs: list[Obj] = []
    for svc in services:
        sel = (svc.get("spec") or {}).get("selector")
        if sel and all(pod.labels.get(k) == v for k, v in sel.items()):
            labels.update(sel)
    if owner_sel is not None:
        if kind == "ReplicationController":
            labels.update(owner_sel)
        else:
            labels.update(owner_sel.get("matchLabels") or {})
            exprs.extend(owner_sel.get("matchExpressions") or [])
    if not labels and not exprs:
        return None
    return {"matchLabels": labels, "matchExpressions": exprs}



_MEMO_TOLERATIONS = "PodTopologySpread/tolerations"
_MEMO_DEFAULT_KEY = "PodTopologySpread/default-key"


def _frozen_tolerations(pod: PodInfo) -> Any:
    """The pod's tolerations, hashable (kept in its memo, which goes when its spec does)."""
    key = pod.memo.get(_MEMO_TOLERATIONS)
    if key is None:
        key = pod.memo[_MEMO_TOLERATIONS] = _freeze((pod.pod.get("spec") or {}).get("tolerations") or [])
    return key

class Constraint:
    __slots__ = ("max_skew", "key", "hard", "selector", "selector_key", "min_domains", "honor_affinity",
                 "honor_taints", "matcher")  # fmt: skip

    def __init__(self, c: Obj, pod: PodInfo, selector: Obj | None = None) -> None:
        self.max_skew = int(c.get("maxSkew", 1))
        self.key: str = c.get("topologyKey", "")
        self.hard = c.get("whenUnsatisfiable", "DoNotSchedule") == "DoNotSchedule"
        sel = selector if selector is not None else c.get("labelSelector")
        keys = c.get("matchLabelKeys") or []
        if keys and sel is not None:
            sel = {
                "matchLabels": dict(sel.get("matchLabels") or {}),
                "matchExpressions": list(sel.get("matchExpressions") or [])
                + [{"key": k, "operator": "In", "values": [pod.labels[k]]} for k in keys if k in pod.labels],
            }
        self.selector = sel
        self.selector_key = helpers.selector_key(sel)
        self.matcher = label_selector_matcher(sel)
        self.min_domains = int(c.get("minDomains") or 1)
        self.honor_affinity = (c.get("nodeAffinityPolicy") or "Honor") == "Honor"
        self.honor_taints = (c.get("nodeTaintsPolicy") or "Ignore") == "Honor"

    def self_match(self, pod: PodInfo) -> int:
        return int(self.matcher.matches(pod.labels))


def _has_keys(ni: NodeInfo, cs: list[Constraint]) -> bool:
    return all(c.key in ni.labels for c in cs)


def _presence(cons: list[Constraint], ids: list[np.ndarray], counts: list[np.ndarray],
              eligible: np.ndarray) -> list[tuple[np.ndarray, int]]:  # fmt: skip
    """Per constraint: which domains have an eligible node, and how many."""
    out = []
    for cnt, d_all in zip(counts, ids, strict=True):
        present = np.zeros(len(cnt), dtype=bool)
        d = d_all[: len(eligible)][eligible]
        present[d[d >= 0]] = True
        out.append((present, int(present.sum())))
    return out


class _FilterState:
    def __init__(self, cons: list[Constraint], eligible: np.ndarray, counts: list[np.ndarray],
                 ids: list[np.ndarray], presence: list[tuple[np.ndarray, int]] | None = None) -> None:  # fmt: skip
        self.cons = cons
        self.eligible = eligible
        self.counts = counts  # per constraint: matching pods per domain id
        self.ids = ids  # per constraint: domain id per slot
        self.mins: list[int] = []
        # domains present among ``eligible`` (None: derive when needed); only counts change later
        self.presence = presence
        self.recompute()

    def recompute(self) -> None:
        if self.presence is None:
            self.presence = _presence(self.cons, self.ids, self.counts, self.eligible)
        self.mins = []
        for c, cnt, (present, n_present) in zip(self.cons, self.counts, self.presence, strict=True):
            vals = cnt[present]
            m = int(vals.min()) if len(vals) else 2**31 - 1
            if n_present < c.min_domains:
                m = 0
            self.mins.append(m)

    def set_eligible(self, eligible: np.ndarray, presence: list[tuple[np.ndarray, int]] | None) -> None:
        """Later recomputes (AddPod/RemovePod) look at ``eligible``; mins stay as computed."""
        self.eligible = eligible
        self.presence = presence

    def clone(self) -> _FilterState:
        c = _FilterState.__new__(_FilterState)
        c.cons, c.eligible, c.ids, c.presence = self.cons, self.eligible, self.ids, self.presence
        c.counts = [x.copy() for x in self.counts]
        c.mins = list(self.mins)
        return c


class _Counts:
    """PreFilter's per-domain counts for one (namespace, constraints, inclusion) class, kept
    current from the snapshot's dirty-slot log: a slot's matching-pod count can only change when
    a pod is attached to or detached from it, which logs the slot. Node labels, taints and layout
    changes (node_generation, epoch) rebuild."""

    __slots__ = ("epoch", "gen", "pos", "eligible_last", "eligible", "counts", "ids", "_rows",
                 "presence_last", "presence")  # fmt: skip

    def __init__(self, snap: Snapshot, cons: list[Constraint], pod: PodInfo, els: list[np.ndarray],
                 eligible_last: np.ndarray, eligible: np.ndarray, counts: list[np.ndarray],
                 ids: list[np.ndarray]) -> None:  # fmt: skip
        self.epoch, self.gen, self.pos = snap.epoch, snap.node_generation, len(snap.dirty)
        self.eligible_last, self.eligible, self.counts, self.ids = eligible_last, eligible, counts, ids
        self.presence_last = _presence(cons, ids, counts, eligible_last)
        self.presence: list[tuple[np.ndarray, int]] | None = None  # for ``eligible``, when first needed
        n = snap.n
        self._rows = []
        for c, el, d in zip(cons, els, ids, strict=True):
            per_slot = snap.counter(frozenset([pod.namespace]), c.selector)
            self._rows.append((el.tolist(), d[:n].tolist(), per_slot, per_slot[:n].tolist()))

    def patch(self, dirty: set[int]) -> None:
        for (el, d, per_slot, seen), cnt in zip(self._rows, self.counts, strict=True):
            _apply_dirty(dirty, el, d, per_slot, seen, cnt)


def _apply_dirty(dirty: Iterable[int], el: list[Any], d: list[int], per_slot: np.ndarray, seen: list[int],
                 sums: Any) -> None:  # fmt: skip
    """Bring per-domain ``sums`` up to date with the dirty slots: each eligible slot's change in
    ``per_slot`` since ``seen`` goes to its domain ``d[s]``."""
    for s in dirty:
        if el[s]:
            v = int(per_slot[s])
            if v != seen[s]:
                sums[d[s]] += v - seen[s]
                seen[s] = v


class _SoftCounts:
    """Score's matching pods per domain over the nodes a ScheduleAnyway constraint counts, for one
    (namespace, constraint, inclusion) class, kept current from the snapshot's dirty-slot log like
    _Counts (node labels, taints and layout changes rebuild)."""

    __slots__ = ("epoch", "gen", "pos", "sums", "el", "d", "per_slot", "seen")

    def __init__(self, snap: Snapshot, el: np.ndarray, d: np.ndarray, per_slot: np.ndarray, sums: np.ndarray) -> None:
        self.epoch, self.gen, self.pos = snap.epoch, snap.node_generation, len(snap.dirty)
        self.sums = sums
        self.el, self.d, self.per_slot, self.seen = el.tolist(), d.tolist(), per_slot, per_slot[: snap.n].tolist()

    def current(self, snap: Snapshot, per_slot: np.ndarray) -> np.ndarray | None:
        """The sums brought up to date (read-only), or None when they must be rebuilt."""
        if self.gen != snap.node_generation or self.per_slot is not per_slot:
            return None
        dirty = snap.dirty_since(self.epoch, self.pos)
        if dirty is None:
            return None
        _apply_dirty(dirty, self.el, self.d, per_slot, self.seen, self.sums)
        self.pos = len(snap.dirty)
        return self.sums


def _involved(p: Obj, pi: PodInfo) -> bool:
    """involvedInTopologySpreading: the queued pod itself, or an assigned pod of its namespace."""
    return same_pod(pi, p) or (assigned(p) and p["metadata"].get("namespace", "") == pi.namespace)


class PodTopologySpread(Plugin):
    NAME = NAME
    VECTORISED = True

    def events_to_register(self) -> list[Registration]:
        return [(POD, ADD | UPDATE_POD_LABEL | DELETE, self._after_pod_change),
                (NODE, ADD | DELETE | UPDATE_NODE_LABEL | UPDATE_NODE_TAINT, self._after_node_change)]  # fmt: skip

    def _after_node_change(self, pi: PodInfo, old: Obj | None, new: Obj | None, memo: dict) -> bool:
        """isSchedulableAfterNodeChange: the node added or updated (or deleted) carries every
        topology key of the pod's hard constraints (nodeLabelsMatchSpreadConstraints)."""
        node = new if new is not None else old
        labels = ((node or {}).get("metadata") or {}).get("labels") or {}
        return all(c.key in labels for c in self.constraints(pi, True))

    def _after_pod_change(self, pi: PodInfo, old: Obj | None, new: Obj | None, memo: dict) -> bool:
        """isSchedulableAfterPodChange: a pod involved in the queued pod's spreading whose labels
        start or stop matching (relabelled), or match (added / deleted), a hard constraint's
        selector."""
        if any(p is not None and not _involved(p, pi) for p in (old, new)):
            return False
        cons = self.constraints(pi, True)
        if old is not None and new is not None:
            ol, nl = old["metadata"].get("labels") or {}, new["metadata"].get("labels") or {}
            return ol != nl and any(c.matcher.matches(ol) != c.matcher.matches(nl) for c in cons)
        labels = ((new or old) or {}).get("metadata", {}).get("labels") or {}
        return any(c.matcher.matches(labels) for c in cons)

    def __init__(self, handle: Any, args: Obj | None = None) -> None:
        super().__init__(handle, args)
        self._counts_cache: dict[Any, _Counts] = {}
        self._soft_cache: dict[Any, _SoftCounts] = {}
        self._defaults: dict[Any, list[Constraint]] = {}  # system-default constraints per selector
        # (namespace, labels, owner refs) -> (Services listed, controller selector, constraints)
        self._default_cache: dict[Any, tuple[list[Obj], Obj | None, list[Constraint]]] = {}
        self.system_defaulted = (self.args.get("defaultingType") or "System") == "System"

    # -- constraints --------------------------------------------------------------------------
    def _default_selector(self, pod: PodInfo) -> Obj | None:
        inf = self.handle.informers
        if inf is None:
            return None
        kind, owner_sel = self._owner_selector(pod)
        return _default_selector_of(pod, inf.get("services").list(pod.namespace), kind, owner_sel)

    def _owner_selector(self, pod: PodInfo) -> tuple[str, Obj | None]:
        """(kind, spec.selector) of the pod's controller when it is a ReplicaSet, StatefulSet or
        ReplicationController the informers have (selector {} when it has none), else ("", None)."""
        for ref in pod.pod["metadata"].get("ownerReferences") or []:
            if not ref.get("controller"):
                continue
            res = _OWNER_RESOURCES.get(ref.get("kind", ""))
            if res is None:
                break
            try:
                owner = self.handle.informers.get(res).get(ref["name"], pod.namespace)
            except KeyError:
                owner = None
            if owner is not None:
                return ref["kind"], (owner.get("spec") or {}).get("selector") or _NO_SELECTOR
            break
        return "", None

    def _default_constraints(self, pod: PodInfo) -> list[Constraint]:
        """The system-default constraints with the selector of the Services and controller
        selecting the pod, kept per (namespace, labels, controller) while the namespace's Services
        and the controller's selector are the same objects."""
        inf = self.handle.informers
        if inf is None:
            return self._constraints_for(self._default_selector(pod), pod)
        services = inf.get("services").list(pod.namespace)
        kind, owner_sel = self._owner_selector(pod)
        key = self._default_key(pod)
        hit = self._default_cache.get(key)
        if (
            hit is not None
            and hit[1] is owner_sel
            and len(hit[0]) == len(services)
            and all(a is b for a, b in zip(hit[0], services, strict=True))
        ):
            return hit[2]
        cons = self._constraints_for(self._default_selector(pod), pod)
        if len(self._default_cache) > 1024:
            self._default_cache.clear()
        self._default_cache[key] = (services, owner_sel, cons)  # holds them: identities stay theirs
        return cons

    @staticmethod
    def _default_key(pod: PodInfo) -> tuple[Any, ...]:
        """(namespace, labels, owner references) as _default_constraints' cache key, kept in the
        pod's memo with the references it was made from (pods of a class share labels, not
        necessarily owners)."""
        refs = pod.pod["metadata"].get("ownerReferences")
        hit = pod.memo.get(_MEMO_DEFAULT_KEY)
        if hit is not None and (hit[0] is refs or hit[0] == refs):
            return hit[1]
        key = (pod.namespace, tuple(sorted(pod.labels.items())),
               tuple((r.get("kind"), r.get("name"), r.get("controller")) for r in refs) if refs else ())  # fmt: skip
        pod.memo[_MEMO_DEFAULT_KEY] = (refs, key)
        return key

    def _constraints_for(self, sel: Obj | None, pod: PodInfo) -> list[Constraint]:
        """The system-default constraints with selector ``sel`` (read-only)."""
        if sel is None:
            return []
        # without matchLabelKeys a constraint reads nothing from the pod: shared per selector
        skey = helpers.selector_key(sel)
        cons = self._defaults.get(skey)
        if cons is None:
            if len(self._defaults) > 1024:
                self._defaults.clear()
            cons = self._defaults[skey] = [Constraint(c, pod, sel) for c in SYSTEM_DEFAULT_CONSTRAINTS]
        return cons

    def constraints(self, pod: PodInfo, hard: bool) -> list[Constraint]:
        raw = (pod.pod.get("spec") or {}).get("topologySpreadConstraints") or []
        if raw:
            cs = [Constraint(c, pod) for c in raw]
            return [c for c in cs if c.hard == hard]
        if hard or not self.system_defaulted:
            return []
        return list(self._default_constraints(pod))

    def _inclusion_mask(self, c: Constraint, pod: PodInfo, snap: Snapshot) -> np.ndarray:
        m = snap.alive.copy()
        if c.honor_affinity:
            m &= required_mask(pod, snap)
        if c.honor_taints:
            for ni in snap.node_infos():
                if m[ni.slot] and find_untolerated_taint(
                    ni.taints, (pod.pod.get("spec") or {}).get("tolerations") or [], ("NoSchedule", "NoExecute")
                ):
                    m[ni.slot] = False
        return m

    # -- Filter -------------------------------------------------------------------------------
    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        cons = self.constraints(pod, hard=True)
        if not cons:
            return SKIP
        snap: Snapshot = self.handle.snapshot
        key = self._counts_key(pod, cons)
        hit = self._counts_cache.get(key)
        if hit is not None:
            dirty = snap.dirty_since(hit.epoch, hit.pos) if hit.gen == snap.node_generation else None
            if dirty is not None:
                hit.patch(dirty)
                hit.pos = len(snap.dirty)
                st = _FilterState(cons, hit.eligible_last, [c.copy() for c in hit.counts], hit.ids, hit.presence_last)
                if hit.presence is None:
                    hit.presence = _presence(cons, hit.ids, hit.counts, hit.eligible)
                st.set_eligible(hit.eligible, hit.presence)
                state.write(NAME, st)
                return None
        if len(self._counts_cache) > 1024:
            self._counts_cache.clear()
        has_all = snap.alive.copy()
        for c in cons:
            has_all &= snap.domains(c.key)[0] >= 0
        counts, ids_l, els = [], [], []
        eligible_any = has_all[: snap.n]
        for c in cons:
            ids, names = snap.domains(c.key)
            el = (has_all & self._inclusion_mask(c, pod, snap))[: snap.n]
            els.append(el)
            per_slot = snap.counter(frozenset([pod.namespace]), c.selector)[: snap.n]
            d = ids[: snap.n]
            cnt = np.bincount(d[el], weights=per_slot[el], minlength=len(names)).astype(np.int64)
            counts.append(cnt)
            ids_l.append(ids)
            eligible_any = el
        eligible = (has_all & self._inclusion_mask(cons[0], pod, snap))[: snap.n]
        self._counts_cache[key] = _Counts(snap, cons, pod, els, eligible_any, eligible,
                                          [c.copy() for c in counts], ids_l)  # fmt: skip
        st = _FilterState(cons, eligible_any, counts, ids_l)
        st.set_eligible(eligible, None)
        state.write(NAME, st)
        return None

    def _counts_key(self, pod: PodInfo, cons: list[Constraint]) -> tuple[Any, ...]:
        """Everything the PreFilter counts depend on besides the nodes and the pods on them."""
        affinity = any(c.honor_affinity for c in cons) and has_required(pod)
        taints = any(c.honor_taints for c in cons)
        return (
            pod.namespace,
            tuple((c.key, c.selector_key, c.honor_affinity, c.honor_taints) for c in cons),
            _required_key(pod) if affinity else None,
            _frozen_tolerations(pod) if taints else None,
        )

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        st: _FilterState | None = state.read(NAME)
        if st is None:
            return None
        for i, c in enumerate(st.cons):
            if c.key not in node.labels:
                return unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH)
            d = int(st.ids[i][node.slot])
            cnt = int(st.counts[i][d]) if 0 <= d < len(st.counts[i]) else 0
            if cnt + c.self_match(pod) - st.mins[i] > c.max_skew:
                return unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH)
        return None

    def filter_all(self, state: CycleState, pod: PodInfo, snap: Snapshot) -> FilterResult:
        st: _FilterState | None = state.read(NAME)
        if st is None:
            return []
        n = snap.n
        # Nodes lacking a constraint's key: per constraint, the union of the keys before it.
        before = [np.zeros(n, dtype=bool)]
        for d in st.ids:
            before.append(before[-1] | (d[:n] < 0))
        missing = before[-1]
        skewed = np.zeros(n, dtype=bool)
        for i, c in enumerate(st.cons):
            # Skew is decided per domain; the extra False entry answers for id -1 (key missing).
            tab = np.append(st.counts[i] + c.self_match(pod) - st.mins[i] > c.max_skew, False)
            skewed |= tab.take(st.ids[i][:n]) & ~before[i]
        skewed &= ~missing
        return [(missing, unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH)),
                (skewed, unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH))]  # fmt: skip

    def _update(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, delta: int) -> None:
        st: _FilterState | None = state.read(NAME)
        if st is None or other.namespace != pod.namespace:
            return
        if node.slot >= len(st.eligible) or not st.eligible[node.slot]:
            return
        for i, c in enumerate(st.cons):
            if c.matcher.matches(other.labels):
                d = int(st.ids[i][node.slot])
                if d >= 0:
                    st.counts[i][d] += delta
        st.recompute()

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, other, node, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, other, node, -1)

    # -- Score --------------------------------------------------------------------------------
    def pre_score(self, state: CycleState, pod: PodInfo, slots: np.ndarray) -> Status | None:
        cons = self.constraints(pod, hard=False)
        if not cons:
            return SKIP
        snap: Snapshot = self.handle.snapshot
        require_all = bool((pod.pod.get("spec") or {}).get("topologySpreadConstraints")) or not self.system_defaulted
        if require_all:
            has_all = snap.alive.copy()
            for c in cons:
                has_all &= snap.domains(c.key)[0] >= 0
            ignored = ~has_all[slots]
            kept = slots[~ignored]
            some_ignored = bool(ignored.any())
        else:
            ignored = np.zeros(len(slots), dtype=bool)
            kept = slots
            some_ignored = False
        per_constraint = []
        for c in cons:
            ids, names = snap.domains(c.key)
            per_slot = snap.counter(frozenset([pod.namespace]), c.selector, c.selector_key)
            labelled = self._all_labelled(snap, c.key)
            if c.key == LABEL_HOSTNAME:
                size = len(kept)
                dom_counts = None
            else:
                d_kept = ids[kept]
                present = np.zeros(len(names), dtype=bool)
                present[d_kept if labelled else d_kept[d_kept >= 0]] = True  # labelled: no id is -1
                size = int(np.count_nonzero(present))
                dom_counts = np.where(present, self._soft_counts(pod, cons, c, per_slot, require_all), 0)
            per_constraint.append((c, ids, per_slot, dom_counts, math.log(size + 2), labelled))
        state.write(NAME + "/score", (per_constraint, ignored, slots, some_ignored))
        return None

    @staticmethod
    def _all_labelled(snap: Snapshot, key: str) -> bool:
        """Every live node has label ``key`` (kept until the nodes change): no scored node lacks
        it, so Score need not look for such nodes."""

        def compute(snap: Snapshot) -> bool:
            return bool((snap.domains(key)[0][snap.alive_slots()] >= 0).all())

        return bool(snap.per_node((NAME, "all-labelled", key), compute))

    def _soft_counts(self, pod: PodInfo, cons: list[Constraint], c: Constraint, per_slot: np.ndarray,
                     require_all: bool) -> np.ndarray:  # fmt: skip
        """Matching pods per domain of ``c`` over its counted nodes: included (node affinity /
        taints as its policies say), with its key (and every constraint's key when
        ``require_all``). Read-only."""
        snap: Snapshot = self.handle.snapshot
        key = (
            pod.namespace,
            c.key,
            c.selector_key,
            _required_key(pod) if c.honor_affinity and has_required(pod) else None,
            _frozen_tolerations(pod) if c.honor_taints else None,
            tuple(x.key for x in cons) if require_all else None,
        )
        hit = self._soft_cache.get(key)
        if hit is not None:
            sums = hit.current(snap, per_slot)
            if sums is not None:
                return sums
        if len(self._soft_cache) > 1024:
            self._soft_cache.clear()
        ids, names = snap.domains(c.key)
        n = snap.n
        el = self._inclusion_mask(c, pod, snap)[:n]
        if require_all:
            for x in cons:
                el &= snap.domains(x.key)[0][:n] >= 0
        d = ids[:n]
        el &= d >= 0
        sums = np.bincount(d[el], weights=per_slot[:n][el], minlength=len(names)).astype(np.int64)
        self._soft_cache[key] = _SoftCounts(snap, el, d, per_slot, sums)
        return sums

    def score_all(self, state: CycleState, pod: PodInfo, slots: np.ndarray) -> np.ndarray:
        per_constraint, ignored, _, some_ignored = state.read(NAME + "/score")
        total: np.ndarray | None = None
        for c, ids, per_slot, dom_counts, w, labelled in per_constraint:
            part = self._constraint_scores(c, ids, per_slot, dom_counts, w, labelled, slots)
            if total is None:
                total = part  # what 0.0 + part gives (part >= 0)
            else:
                total += part
        if total is None:
            total = np.zeros(len(slots), dtype=np.float64)
        total += 0.5
        out = np.floor(total).astype(np.int64)
        if some_ignored:
            out[ignored] = 0
        return out

    @staticmethod
    def _constraint_scores(c: Constraint, ids: np.ndarray, per_slot: np.ndarray, dom_counts: np.ndarray | None,
                           w: float, labelled: bool, slots: np.ndarray) -> np.ndarray:  # fmt: skip
        """One constraint's float score per slot of ``slots`` (a new array): matching pods in the
        slot's domain times ``w``, plus maxSkew - 1; 0 on a node lacking the key."""
        k = c.max_skew - 1
        if labelled and (dom_counts is None or len(dom_counts)):
            # every node has the key: the np.where(has, ...) below would keep every entry
            if dom_counts is None:
                part = per_slot[slots] * w
                part += k
                return part
            # the same operations per domain, then spread to the slots
            return (dom_counts * w + k)[ids[slots]]
        d = ids[slots]
        has = d >= 0
        if dom_counts is None:
            cnt = per_slot[slots]
        else:
            cnt = dom_counts[np.where(has, d, 0)] if len(dom_counts) else np.zeros(len(slots), dtype=np.int64)
        return np.where(has, cnt * w + k, 0.0)

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        per_constraint, ignored, slots, _ = state.read(NAME + "/score")
        idx = np.flatnonzero(slots == node.slot)
        if len(idx) and ignored[idx[0]]:
            return 0
        return int(self.score_all(state, pod, np.array([node.slot]))[0]) if not len(idx) else int(
            self.score_all(state, pod, slots)[idx[0]]
        )

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: np.ndarray) -> np.ndarray:
        _, ignored, _, some_ignored = state.read(NAME + "/score")
        kept = scores[~ignored] if some_ignored else scores
        if len(kept) == 0:
            return np.zeros_like(scores)
        mn, mx = int(kept.min()), int(kept.max())
        if mx == 0:
            out = np.full_like(scores, MAX_SCORE)
        else:
            out = (MAX_SCORE * (mx + mn - scores)) // mx
        if some_ignored:
            out[ignored] = 0
        return out
