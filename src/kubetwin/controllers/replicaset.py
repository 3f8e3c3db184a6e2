"""ReplicaSet controller (pkg/controller/replicaset/replica_set.go, replica_set_utils.go;
pod ranking from pkg/controller/controller_utils.go ActivePodsWithRanks).

- claims pods (adopt matching orphans, release non-matching) among active pods of the namespace;
- creates missing pods in slow-start batches (1, 2, 4, ...; at most ``BURST_REPLICAS`` per sync),
  named ``<rs>-<5 random>`` with a controller ownerReference and the template's labels,
  annotations and finalizers; a failed create stops the remaining batches and is reported as the
  ``ReplicaFailure`` condition (reason ``FailedCreate``) and a ``FailedCreate`` warning event;
- deletes surplus pods ranked as upstream's getPodsToDelete (unassigned < assigned, Pending <
  Unknown < Running, not ready < ready, lower pod-deletion-cost, more related pods on the same node,
  ready for a shorter time (log2 buckets), more restarts, newer (log2 buckets));
- writes status replicas / fullyLabeledReplicas / readyReplicas / availableReplicas /
  observedGeneration and requeues for pods that become available after ``minReadySeconds``.

Upstream's expectations are unnecessary in-process (informers are synchronous); reconcile is
idempotent because it always reads the current cache.

A sync reads a few facts of each of its pods (active, ready and since when, selector and template
labels matched); they are computed once per pod version (the informer holds a new dict after every
write) and kept until the pod changes, so a sync over a ReplicaSet's N pods is N lookups rather than N
condition scans and label matches: with a status change per pod, bring-up costs O(pods x replicas)
cheap lookups instead of the same number of full evaluations.

Beyond that, each ReplicaSet's pods are counted as they change (:class:`_Owned`: per pod of the
controller-uid index, whether it counts for status and whether it is Ready and fully labelled).
Most pod writes (kubelet status, binding) share ownerReferences and labels with the previous
version: their handler enqueues the owner and moves the counts only when the pod became active or
inactive, or changed readiness or node (the facts memo of such a version is built by the next sync
that reads it). A sync with nothing to claim and no minReadySeconds (the common case: a pod of the
ReplicaSet changed status, or the replica count changed) creates or deletes from those counts and
writes status from them afterwards (the handlers have moved them meanwhile) without going through
the pods; only a scale-down lists its pods, to rank them. From a ReplicaSet's first scale-down on,
that list is kept too (``_Owned.ranked``: the counted pods of its namespace in the index's order,
moved by the same handlers, with the keys of pods written since marked stale), so a later
scale-down reads again only the pods written since rather than every pod of the ReplicaSet.

The ranking reads each pod version once (:class:`_RankFacts`, kept with the pod's facts), each
pod's rank (active related pods on its node) comes from per-ReplicaSet node counts the pod handlers
keep, and the pick of the first few is exactly ``heapq.nsmallest`` over every pod (whose result,
where upstream's Less is not transitive, depends on the comparisons made) with the items that cannot
be less than the heap's top skipped unbuilt (see :func:`_nsmallest`).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from functools import cmp_to_key
from heapq import _heapify_max, _heapreplace_max  # type: ignore[attr-defined]
from typing import Any

import orjson

from kubetwin.api import podchanges as pc
from kubetwin.api.errors import ApiError
from kubetwin.api.podchanges import pod_changes
from kubetwin.api.resources import is_pod_ready
from kubetwin.api.selectors import LabelSelector
from kubetwin.client.controller import Controller
from kubetwin.controllers import _util as u
from kubetwin.controllers._refmanager import claim
from kubetwin.store.copy import deep_copy

Obj = dict[str, Any]

BURST_REPLICAS = 500
POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


def pod_from_template(template: Obj, owner: Obj, generate_name: str | None = None, spec: Obj | None = None) -> Obj:
    """controller.GetPodFromTemplate (``spec``: a private copy of the template's spec, when the
    caller made one; else one is made here)."""
    tmeta = template.get("metadata") or {}
    meta: Obj = {"generateName": generate_name or f"{owner['metadata']['name']}-"}
    meta["namespace"] = owner["metadata"].get("namespace", "")
    if tmeta.get("labels"):
        meta["labels"] = dict(tmeta["labels"])
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        meta["finalizers"] = list(tmeta["finalizers"])
    meta["ownerReferences"] = [u.owner_ref(owner)]
    if spec is None:
        spec = deep_copy(template.get("spec") or {})
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


class _SpecCopies:
    """Private copies of one template's spec for a burst of creates: the spec serialised once,
    each copy parsed from that (what ``deep_copy`` does per copy, without the repeated half)."""

    __slots__ = ("src", "blob")

    def __init__(self, src: Obj) -> None:
        self.src = src
        try:
            self.blob: bytes | None = orjson.dumps(src)
        except (TypeError, ValueError):  # not JSON-shaped: deep_copy's exact fallback per copy
            self.blob = None

    def copy(self) -> Obj:
        return orjson.loads(self.blob) if self.blob is not None else deep_copy(self.src)


def _deletion_cost(pod: Obj) -> int:
    v = ((pod.get("metadata") or {}).get("annotations") or {}).get(POD_DELETION_COST)
    try:
        return int(v) if v is not None else 0
    except ValueError:
        return 0


def _log_rank(t: float, now: float) -> int:
    d = (now - t) * 1e9  # Go durations are nanoseconds
    return int(math.log2(d)) if d > 0 else -1


# the ready bucket of a ready pod whose ready time is not read (first, as _cmp's None): below
# every _log_rank (a positive age under a nanosecond has a negative one, down to -1074)
_UNREAD_READY = -(1 << 20)
_COST_MIN, _COST_END = -(1 << 31), 1 << 31  # int32, the annotation's valid range upstream
_RANK_END = 1 << 32


class _RankFacts:
    """What the deletion ranking reads of one pod version, besides its rank and the time.

    ``lead`` folds the rules that come before the ready time (assigned, phase, ready, deletion cost,
    and room for the rank) into one int so that ``lead - rank`` orders two pods as those rules do:
    where the numbers differ, ``less`` decides by them alone. None when the cost is outside int32."""

    __slots__ = ("node", "phase", "ready", "cost", "since", "restarts", "created", "uid", "lead")

    def __init__(self, clock: Any, pod: Obj, ready: bool, since: float | None) -> None:
        self.node = (pod.get("spec") or {}).get("nodeName") or ""
        self.phase = _PHASE_ORDINAL.get((pod.get("status") or {}).get("phase", ""), -1)
        self.ready = ready
        self.cost = _deletion_cost(pod)
        self.since = since if ready else None
        self.restarts = u.max_container_restarts(pod)
        self.created = u.created(clock, pod)
        self.uid = u_id(pod)
        if _COST_MIN <= self.cost < _COST_END:
            head = ((1 if self.node else 0) * 4 + self.phase + 1) * 2 + (1 if ready else 0)
            self.lead: int | None = ((head << 32 | (self.cost - _COST_MIN)) << 32) + _RANK_END - 1
        else:
            self.lead = None

    @classmethod
    def of(cls, clock: Any, pod: Obj) -> _RankFacts:
        ready = is_pod_ready(pod)
        return cls(clock, pod, ready, u.ready_since(clock, pod) if ready else None)


def _item(p: Obj, r: int, f: _RankFacts, now: float) -> tuple[Any, ...]:
    since = f.since
    return (p, r, f.node, f.phase, f.ready, f.cost, since, None if since is None else _log_rank(since, now),
            f.restarts, f.created, _log_rank(f.created, now), f.uid)  # fmt: skip


def _less(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """ActivePodsWithRanks.Less over two ranking items (see :func:`_item`)."""
    _, ri, ni, oi, ready_i, ci, ti, li, mi, ki, kli, uid_i = a
    _, rj, nj, oj, ready_j, cj, tj, lj, mj, kj, klj, uid_j = b
    if ni != nj and (not ni or not nj):
        return not ni
    if oi != oj:
        return oi < oj
    if ready_i != ready_j:
        return not ready_i
    if ci != cj:
        return ci < cj
    if ri != rj:
        return ri > rj
    if ready_i and ready_j:
        if ti != tj:
            if ti is None or tj is None:
                return ti is None
            diff = li - lj
            if diff == 0:
                return uid_i < uid_j
            return diff < 0
    if mi != mj:
        return mi > mj
    if ki != kj:
        diff = kli - klj
        if diff == 0:
            return uid_i < uid_j
        return diff < 0
    return False


def _cmp(a: tuple[Any, ...], b: tuple[Any, ...]) -> int:
    """-1 if ``_less(a, b)``, 1 if ``_less(b, a)``, else 0, in one pass: every rule of Less that
    decides for one order decides the other way for the other."""
    _, ri, ni, oi, ready_i, ci, ti, li, mi, ki, kli, uid_i = a
    _, rj, nj, oj, ready_j, cj, tj, lj, mj, kj, klj, uid_j = b
    if ni != nj and (not ni or not nj):
        return -1 if not ni else 1
    if oi != oj:
        return -1 if oi < oj else 1
    if ready_i != ready_j:
        return -1 if not ready_i else 1
    if ci != cj:
        return -1 if ci < cj else 1
    if ri != rj:
        return -1 if ri > rj else 1
    if ready_i and ready_j and ti != tj:
        if ti is None or tj is None:
            return -1 if ti is None else 1
        if li != lj:
            return -1 if li < lj else 1
        return -1 if uid_i < uid_j else (1 if uid_j < uid_i else 0)
    if mi != mj:
        return -1 if mi > mj else 1
    if ki != kj:
        if kli != klj:
            return -1 if kli < klj else 1
        return -1 if uid_i < uid_j else (1 if uid_j < uid_i else 0)
    return 0


_KEY = cmp_to_key(_cmp)


def rank_pods_for_deletion(
    clock: Any, pods: list[Obj], ranks: list[int], now: float, limit: int | None = None,
    facts: list[_RankFacts] | None = None,
) -> list[Obj]:  # fmt: skip
    """Sort pods so that the first ones are the best to delete (ActivePodsWithRanks.Less). What
    the comparison reads of each pod is read once per pod (``facts``: already read, in ``pods``'
    order), not once per comparison. ``limit``: only the first ``limit`` of that order, exactly
    what ``heapq.nsmallest(limit, ...)`` over every pod returns (the same pods as sorting all of
    them and slicing, where the comparison is consistent), without sorting 20,000 pods to delete a
    few (see :func:`_nsmallest`)."""
    if len(ranks) != len(pods) or (facts is not None and len(facts) != len(pods)):
        raise ValueError("pods, ranks and facts differ in length")
    fs = facts if facts is not None else [_RankFacts.of(clock, p) for p in pods]
    if limit is not None and limit < len(pods):
        return _nsmallest(limit, pods, ranks, fs, now)
    items = [_item(p, r, f, now) for p, r, f in zip(pods, ranks, fs, strict=True)]
    items.sort(key=_KEY)
    return [it[0] for it in items]


def _nsmallest(n: int, pods: list[Obj], ranks: list[int], facts: list[_RankFacts], now: float) -> list[Obj]:
    """``heapq.nsmallest(n, items, key=cmp_to_key(_cmp))`` for ``n < len(pods)``, the same pods in
    the same order, also where upstream's Less is not transitive (the pick then depends on the
    algorithm's comparisons, so this runs that algorithm: a max-heap of the first ``n`` that a
    later item replaces when it is less than the heap's top, then sorted; for one, heapq's
    ``min`` makes the same comparisons with the same outcomes).

    ``less`` decides by the leading rules alone where they differ, and those are one int per pod
    (``lead - rank``): a later item whose int is above the top's is skipped unbuilt, and as the
    top's int never grows (a replacement is less than the top), the items above the first top's
    are left out in one pass before the loop. Where a cost outside int32 leaves no such int, every
    item is built and compared as heapq does. At the evening's scale-down (hundreds of pods out of
    20,000, most alike up to their rank) the heap's comparisons are most of the work: see
    :func:`_nsmallest_alike` for what they cost."""
    if n <= 0:
        return []
    try:
        leads = [f.lead - r for f, r in zip(facts, ranks, strict=True)]  # type: ignore[operator]
        exact = max(ranks) < _RANK_END  # the leads hold the rules
    except TypeError:  # a cost outside int32: no lead
        exact = False
    if not exact:
        items = [_item(p, r, f, now) for p, r, f in zip(pods, ranks, facts, strict=True)]
        return [it[0] for it in heapq.nsmallest(n, items, key=_KEY)]
    return _nsmallest_alike(n, pods, leads, facts, now)


def _nsmallest_alike(n: int, pods: list[Obj], leads: list[int], facts: list[_RankFacts], now: float) -> list[Obj]:
    """:func:`_nsmallest`'s heap where the leads hold the leading rules: heapq.nsmallest's
    comparisons with the same outcomes, on cheap entries. An entry is ``(lead, ready bucket,
    _Alike)``: two ready pods with different ready times in different log2 buckets are ordered by
    the buckets (a ready time not read: ``_UNREAD_READY``, below every bucket, first), so the tuple decides in C wherever the
    ints differ, and :class:`_Alike` compares the rest, knowing the leading rules equal. A
    candidate carries the order it would take in the heap, above every order there, so
    ``candidate < top`` is heapq's ``key(item) < key(top)`` (equal keys are not less). Buckets are
    computed once per distinct time (the pods of a burst share their instants)."""
    buckets: dict[float, int] = {}

    def bucket(t: float) -> int:
        b = buckets.get(t)
        if b is None:
            b = buckets[t] = _log_rank(t, now)
        return b

    def ready_bucket(f: _RankFacts) -> int:
        since = f.since
        return (_UNREAD_READY if since is None else bucket(since)) if f.ready else 0

    heap: list[Any] = [(leads[i], ready_bucket(f), _Alike(pods[i], f, bucket(f.created), i)) for i, f in enumerate(facts[:n])]
    _heapify_max(heap)
    top = heap[0]
    top_lead = top[0]
    order = n
    for i in [i for i in range(n, len(pods)) if leads[i] <= top_lead]:
        lead = leads[i]
        if lead > top_lead:
            continue
        f = facts[i]
        lb = ready_bucket(f)
        if lead == top_lead and lb >= top[1]:
            if lb > top[1]:
                continue
            e = _Alike(pods[i], f, bucket(f.created), order)
            if not e < top[2]:
                continue  # not less than the top
        else:
            e = _Alike(pods[i], f, bucket(f.created), order)
        _heapreplace_max(heap, (lead, lb, e))
        top = heap[0]
        top_lead = top[0]
        order += 1
    heap.sort()
    return [e[2].pod for e in heap]


class _Alike:
    """The last part of :func:`_nsmallest_alike`'s entries: ``_cmp`` of two pods whose leading
    rules and rank are equal and, if both are ready at different times, whose ready times share a
    log2 bucket (the entry's ints decided otherwise); then the heap's order where ``_cmp`` finds
    them equal (heapq's ``(key, order)``). ``kb``: the creation time's bucket."""

    __slots__ = ("pod", "f", "kb", "order")

    def __init__(self, pod: Obj, f: _RankFacts, kb: int, order: int) -> None:
        self.pod, self.f, self.kb, self.order = pod, f, kb, order

    def __lt__(self, other: _Alike) -> bool:
        a, b = self.f, other.f
        if a.ready and a.since != b.since:  # both ready, both read, one bucket: by uid
            if a.uid != b.uid:
                return a.uid < b.uid
            return self.order < other.order
        if a.restarts != b.restarts:
            return a.restarts > b.restarts
        if a.created != b.created:
            if self.kb != other.kb:
                return self.kb < other.kb
            if a.uid != b.uid:
                return a.uid < b.uid
        return self.order < other.order


def u_id(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("uid", ""))


_UNSET: Any = object()


class _PodFacts:
    """What a sync reads of one version of a pod, each computed at most once."""

    __slots__ = ("pod", "active", "ready", "_since", "sel", "matches", "tlabels", "fully", "_rank")

    def __init__(self, pod: Obj) -> None:
        self.pod = pod
        self.active = u.is_pod_active(pod)
        self.ready = is_pod_ready(pod)
        self._since: Any = _UNSET
        self.sel: LabelSelector | None = None  # the selector ``matches`` was computed for
        self.matches = False
        self.tlabels: Any = _UNSET  # the template labels ``fully`` was computed for
        self.fully = False
        self._rank: _RankFacts | None = None

    def rank_facts(self, clock: Any) -> _RankFacts:
        r = self._rank
        if r is None:
            r = self._rank = _RankFacts(clock, self.pod, self.ready, self.ready_since(clock) if self.ready else None)
        return r

    def ready_since(self, clock: Any) -> float | None:
        if self._since is _UNSET:
            self._since = u.ready_since(clock, self.pod)
        return self._since

    def matched_by(self, selector: LabelSelector) -> bool:
        if self.sel is not selector:
            self.sel = selector
            self.matches = selector.matches(u.labels_of(self.pod))
        return self.matches

    def fully_labeled(self, tlabels: dict[str, str]) -> bool:
        if self.tlabels is not tlabels and (self.tlabels is _UNSET or self.tlabels != tlabels):
            lbls = u.labels_of(self.pod)
            self.fully = all(lbls.get(k) == v for k, v in tlabels.items())
        self.tlabels = tlabels
        return self.fully

    def available(self, clock: Any, min_ready_seconds: int, now: float) -> bool:
        """u.is_pod_available."""
        if not self.ready:
            return False
        if not min_ready_seconds:
            return True
        since = self.ready_since(clock)
        return since is not None and since + min_ready_seconds < now


class _Owned:
    """Running counts over the pods one ReplicaSet controls (its bucket of the controller-uid
    index), for the selector and template labels they were counted with."""

    __slots__ = ("ns", "sel", "tlabels", "parts", "counted", "same_ns", "loose", "ready", "fully", "ranked", "stale")

    def __init__(self, ns: str, sel: LabelSelector, tlabels: dict[str, str]) -> None:
        self.ns, self.sel, self.tlabels = ns, sel, tlabels
        # pod key -> (counts for status, and in the ReplicaSet's namespace, active but not matching
        # in its namespace (a claim candidate), Ready, fully labelled); inactive pods are left out
        self.parts: dict[str, tuple[bool, bool, bool, bool, bool]] = {}
        self.counted = self.same_ns = self.loose = self.ready = self.fully = 0
        # from the first scale-down on: the pods counted in the ReplicaSet's namespace (what a
        # scale-down ranks), by key in the controller-uid index's order, with the facts of a
        # version of each; ``stale``: the keys written since their facts were taken
        self.ranked: dict[str, _PodFacts] | None = None
        self.stale: set[str] = set()

    def put(self, key: str, f: _PodFacts, appended: bool = True) -> None:
        """Count ``f``'s pod under ``key`` (``appended``: the key just joined the ReplicaSet's
        index bucket, at its end; else it kept its place there)."""
        self._drop(key)
        if not f.active:
            self._unrank(key)
            return
        same = f.pod["metadata"].get("namespace", "") == self.ns
        if f.matched_by(self.sel):
            part = (True, same, False, f.ready, f.fully_labeled(self.tlabels))
        elif same:
            part = (False, False, True, False, False)
        else:
            self._unrank(key)
            return
        self.parts[key] = part
        self._add(part, 1)
        if part[1]:
            self._rank(key, f, appended)
        else:
            self._unrank(key)

    def remove(self, key: str) -> None:
        self._drop(key)
        self._unrank(key)

    def _drop(self, key: str) -> None:
        part = self.parts.pop(key, None)
        if part is not None:
            self._add(part, -1)

    def _rank(self, key: str, f: _PodFacts, appended: bool) -> None:
        ranked = self.ranked
        if ranked is None:
            return
        if appended:
            ranked.pop(key, None)  # (a pod added again under its key is at the bucket's end)
        elif key not in ranked:
            self.ranked = None  # counted again where it was in the bucket: listed afresh
            return
        ranked[key] = f
        self.stale.discard(key)

    def _unrank(self, key: str) -> None:
        if self.ranked is not None:
            self.ranked.pop(key, None)

    def _add(self, part: tuple[bool, bool, bool, bool, bool], d: int) -> None:
        counted, same, loose, ready, fully = part
        if counted:
            self.counted += d
            self.same_ns += d if same else 0
            self.ready += d if ready else 0
            self.fully += d if fully else 0
        elif loose:
            self.loose += d


class ReplicaSetController(Controller):
    name = "replicaset-controller"
    kind = "ReplicaSet"
    resource = "replicasets.apps"

    def start(self) -> None:
        self.rs_informer = self.informers.get(self.resource)
        self.pod_informer = self.informers.get("pods")
        u.ensure_controller_index(self.pod_informer)
        self._pod_facts: dict[str, _PodFacts] = {}  # by pod uid, for the pod version in ``.pod``
        self._selectors = u.SelectorMemo()  # by RS uid
        self._owned: dict[str, _Owned] = {}  # by RS uid, from its first sync on
        # by RS uid, from its first scale-down on: node name -> active pods of its bucket there
        self._on_node: dict[str, dict[str, int]] = {}
        # by RS uid: a status object of the RS that _holds found holding these values (cached
        # objects never change in place, so while the RS carries it, it holds them)
        self._held: dict[str, tuple[Obj, tuple[int, ...]]] = {}
        self.rs_informer.add_handler(self.enqueue, lambda old, new: self.enqueue(new), self._rs_deleted)
        # a pod write that moved none of what the counts read only enqueues the owner
        self.pod_informer.add_handler(self._pod_added, self._pod_updated, self._pod_deleted, changes=pod_changes,
                                      reads=pc.LABELS | pc.OWNERS | pc.TERMINAL | pc.DELETION | pc.NODE | pc.READY,
                                      on_ignored=self._pod_touched)  # fmt: skip

    def _facts(self, pod: Obj) -> _PodFacts:
        uid = pod["metadata"].get("uid", "")
        f = self._pod_facts.get(uid)
        if f is None or f.pod is not pod:
            prev = f
            f = self._pod_facts[uid] = _PodFacts(pod)
            if prev is not None and prev.pod["metadata"].get("labels") is pod["metadata"].get("labels"):
                # the same labels (the store shares unchanged parts between versions): same matches
                f.sel, f.matches, f.tlabels, f.fully = prev.sel, prev.matches, prev.tlabels, prev.fully
        return f

    def _selector(self, rs: Obj) -> LabelSelector:
        """u.selector_of, the same object while spec.selector stays equal (so pod facts can keep their match)."""
        return self._selectors.get(rs["metadata"].get("uid", ""), rs)

    # -- handlers ---------------------------------------------------------------------------
    def _enqueue_owner(self, pod: Obj) -> bool:
        """Enqueue the ReplicaSet controlling ``pod``; whether anything controls it."""
        m = pod["metadata"]
        controlled = False
        for r in m.get("ownerReferences") or []:
            if r.get("controller") is True:
                controlled = True
                if r.get("kind") == self.kind:
                    # the informer's key of the ReplicaSet is also its queue key (enqueue(rs))
                    ns, name = m.get("namespace"), r.get("name", "")
                    key = f"{ns}/{name}" if ns else name
                    rs = self.rs_informer.get_by_key(key)
                    if rs is not None and rs["metadata"].get("uid") == r.get("uid"):
                        self.queue.add(key)
                        o = self._owned.get(r.get("uid", ""))
                        if o is not None and o.ranked is not None:  # its kept facts may be old
                            o.stale.add(f"{m.get('namespace', '')}/{m['name']}")  # as _recount's
        return controlled

    def _enqueue_matching(self, pod: Obj) -> None:
        lbls = u.labels_of(pod)
        for rs in self.rs_informer.list(pod["metadata"].get("namespace") or None):
            if u.selector_of(rs).matches(lbls):
                self.enqueue(rs)

    def _recount(self, old: Obj | None, new: Obj | None) -> None:
        """Move a pod's part in its ReplicaSet's counts (``old``/``new``: versions, None when absent;
        versions sharing their ownerReferences share the owner, looked up once)."""
        old_uid = u.controller_uid(old) or "" if old is not None else ""
        new_uid = old_uid
        if new is not None and (old is None or _refs(new) is not _refs(old)):
            new_uid = u.controller_uid(new) or ""
        if self._on_node:
            if old is not None and u.is_pod_active(old):
                self._count_on_node(old_uid, (old.get("spec") or {}).get("nodeName") or "", -1)
            if new is not None and u.is_pod_active(new):
                self._count_on_node(new_uid, (new.get("spec") or {}).get("nodeName") or "", 1)
        pod = new if new is not None else old
        if not self._owned or pod is None:
            return
        m = pod["metadata"]
        key = f"{m.get('namespace', '')}/{m['name']}"  # the same for both versions
        moved = old is None or new is None or old_uid != new_uid  # left or joined an index bucket
        if old is not None and moved:
            o = self._owned.get(old_uid)
            if o is not None:
                o.remove(key)
        if new is not None:
            o = self._owned.get(new_uid)
            if o is not None:
                o.put(key, self._facts(new), moved)

    def _status_moved(self, old: Obj, new: Obj) -> None:
        """_recount for two versions of a pod with the same owner and labels (most writes), moving
        only what moved: everything if it became active or inactive; while active its node count
        (once node counts are kept) if its node changed, and its part in the counts if its
        readiness did. Else the memo of the new version's facts is left to the next sync that
        reads the pod (its owner marks it stale)."""
        if not self._owned and not self._on_node:
            return
        active = u.is_pod_active(new)
        if u.is_pod_active(old) != active:
            self._recount(old, new)
            return
        if not active:
            return  # neither counts nor node counts hold an inactive pod
        if self._on_node:
            was, node = (old.get("spec") or {}).get("nodeName") or "", (new.get("spec") or {}).get("nodeName") or ""
            if was != node:
                uid = u.controller_uid(new) or ""
                self._count_on_node(uid, was, -1)
                self._count_on_node(uid, node, 1)
        conds = (new.get("status") or {}).get("conditions")
        if self._owned and conds is not (old.get("status") or {}).get("conditions") and is_pod_ready(old) != is_pod_ready(new):
            o = self._owned.get(u.controller_uid(new) or "")
            if o is not None:
                m = new["metadata"]
                o.put(f"{m.get('namespace', '')}/{m['name']}", self._facts(new), False)

    def _count_on_node(self, uid: str, node: str, d: int) -> None:
        """Add ``d`` to ReplicaSet ``uid``'s active pods on ``node`` (when its counts are kept)."""
        c = self._on_node.get(uid)
        if c is not None:
            left = c.get(node, 0) + d
            if left > 0:
                c[node] = left
            else:
                c.pop(node, None)

    def _owned_counts(self, rs: Obj, selector: LabelSelector, tlabels: dict[str, str]) -> _Owned:
        uid = rs["metadata"]["uid"]
        ns = rs["metadata"].get("namespace", "")
        o = self._owned.get(uid)
        if o is None or o.sel is not selector or o.ns != ns or (o.tlabels is not tlabels and o.tlabels != tlabels):
            o = self._owned[uid] = _Owned(ns, selector, tlabels)
            for p in self.pod_informer.by_index(u.CONTROLLER_UID_INDEX, uid):
                m = p["metadata"]
                o.put(f"{m.get('namespace', '')}/{m['name']}", self._facts(p))
        return o

    def _pod_added(self, pod: Obj) -> None:
        self._recount(None, pod)
        if not self._enqueue_owner(pod) and not pod["metadata"].get("deletionTimestamp"):
            self._enqueue_matching(pod)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        om, nm = old["metadata"], new["metadata"]
        if nm.get("ownerReferences") is om.get("ownerReferences") and nm.get("labels") is om.get("labels"):
            # the same owner and labels (shared by status writes): only the owner is enqueued,
            # and the counts move only if the pod's activity, readiness or node did
            self._status_moved(old, new)
            self._enqueue_owner(new)
            return
        self._recount(old, new)
        if u.controller_uid(old) != u.controller_uid(new):
            self._enqueue_owner(old)
        if not self._enqueue_owner(new) and (
            u.labels_of(old) != u.labels_of(new) or u.controller_uid(old) != u.controller_uid(new)
        ):
            self._enqueue_matching(new)

    def _pod_touched(self, old: Obj, new: Obj) -> None:
        """A pod write that left its labels, owner, activity, readiness and node alone (most
        status writes): _pod_updated would only enqueue the owner, as upstream's updatePod does."""
        om, nm = old["metadata"], new["metadata"]
        if nm.get("ownerReferences") is om.get("ownerReferences") and nm.get("labels") is om.get("labels"):
            self._enqueue_owner(new)
        else:
            self._pod_updated(old, new)

    def _pod_deleted(self, pod: Obj) -> None:
        self._recount(pod, None)
        self._pod_facts.pop(pod["metadata"].get("uid", ""), None)
        self._enqueue_owner(pod)

    def _rs_deleted(self, rs: Obj) -> None:
        self._selectors.forget(rs["metadata"].get("uid", ""))
        self._owned.pop(rs["metadata"].get("uid", ""), None)
        self._on_node.pop(rs["metadata"].get("uid", ""), None)
        self._held.pop(rs["metadata"].get("uid", ""), None)
        self.enqueue(rs)

    # -- reconcile --------------------------------------------------------------------------
    def reconcile(self, key: str) -> float | None:
        rs = self.rs_informer.get_by_key(key)
        if rs is None:
            return None
        selector = self._selector(rs)
        uid = rs["metadata"]["uid"]
        ns = rs["metadata"].get("namespace", "")
        spec = rs.get("spec") or {}
        if not rs["metadata"].get("deletionTimestamp") and not int(spec.get("minReadySeconds", 0) or 0):
            tlabels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            o = self._owned_counts(rs, selector, tlabels)
            if not o.loose and not any(
                p["metadata"].get("namespace", "") == ns and u.is_pod_active(p)
                for p in self.pod_informer.by_index(u.CONTROLLER_UID_INDEX, "")
            ):
                # nothing to claim: create or delete from the counts, whose values after that are
                # the status (no minReadySeconds: available = ready)
                err = None
                if o.same_ns != int(spec.get("replicas", 1)):
                    err = self._manage(rs, o.same_ns, lambda: self._active_matching(uid, o))
                self._write_status(rs, o.counted, o.fully, o.ready, o.ready, err)
                return None
        # claim keeps the active pods this RS controls that its selector matches, in order, and
        # sends the rest (controlled but no longer matching: released; orphans: adopted) to claim.
        pods: list[Obj] = []
        candidates: list[Obj] = []
        counted: list[_PodFacts] = []  # active and matching, in any namespace: what status counts
        facts, known = self._facts, self._pod_facts
        for p in self.pod_informer.by_index(u.CONTROLLER_UID_INDEX, uid):
            m = p["metadata"]
            f = known.get(m.get("uid", ""))  # self._facts(p), inlined: this loop runs per pod per sync
            if f is None or f.pod is not p:
                f = facts(p)
            if f.active:
                if f.matches if f.sel is selector else f.matched_by(selector):
                    counted.append(f)
                    if m.get("namespace", "") == ns:
                        pods.append(p)
                elif m.get("namespace", "") == ns:
                    candidates.append(p)
        candidates += [
            o for o in self.pod_informer.by_index(u.CONTROLLER_UID_INDEX, "")
            if o["metadata"].get("namespace", "") == ns and u.is_pod_active(o)
        ]  # fmt: skip
        if candidates:
            pods += claim(self.client, rs, selector, candidates)
        manage_err: tuple[str, str] | None = None
        if not rs["metadata"].get("deletionTimestamp"):
            wrote = bool(candidates) or len(pods) != int((rs.get("spec") or {}).get("replicas", 1))
            manage_err = self._manage(rs, len(pods), lambda: [facts(p) for p in pods])
            # Informers are synchronous: count what is there now, so one sync converges (a second
            # reconcile is a no-op) instead of reporting the pre-sync pods like upstream does.
            # (Without a claim or a create/delete nothing changed since ``counted`` was taken.)
            if wrote:
                counted = [
                    f for p in self.pod_informer.by_index(u.CONTROLLER_UID_INDEX, uid)
                    if (f := facts(p)).active and f.matched_by(selector)
                ]  # fmt: skip
        else:
            counted = [facts(p) for p in pods]
        return self._update_status(rs, counted, manage_err)

    def _active_matching(self, uid: str, o: _Owned) -> list[_PodFacts]:
        """The facts of the active pods in the namespace of ``o`` that its ReplicaSet controls and
        its selector matches (``uid``: the ReplicaSet's), in the index's order (what reconcile's pass over the pods keeps
        before claiming): kept in ``o.ranked`` from the first call on, where only the pods
        written since are read again."""
        ranked = o.ranked
        if ranked is None or len(ranked) != o.same_ns:
            o.ranked = ranked = {}
            o.stale.clear()
            facts, known, sel = self._facts, self._pod_facts, o.sel
            for p in self.pod_informer.by_index(u.CONTROLLER_UID_INDEX, uid):
                m = p["metadata"]
                f = known.get(m.get("uid", ""))
                if f is None or f.pod is not p:
                    f = facts(p)
                if f.active and (f.matches if f.sel is sel else f.matched_by(sel)) and m.get("namespace", "") == o.ns:
                    ranked[f"{o.ns}/{m['name']}"] = f  # as _recount's keys
            return list(ranked.values())
        if o.stale:
            get = self.pod_informer.get
            for k in o.stale:
                f = ranked.get(k)
                if f is not None:
                    m = f.pod["metadata"]
                    cur = get(m["name"], m.get("namespace"))
                    if cur is not None and cur is not f.pod:
                        ranked[k] = self._facts(cur)
            o.stale.clear()
        return list(ranked.values())

    def _manage(self, rs: Obj, have: int, pods: Callable[[], list[_PodFacts]]) -> tuple[str, str] | None:
        """Create or delete towards spec.replicas from ``have`` pods (``pods()``: their facts, in
        order; read only to pick pods to delete)."""
        want = int((rs.get("spec") or {}).get("replicas", 1))
        diff = have - want
        if diff < 0:
            count = min(-diff, BURST_REPLICAS)
            template = (rs.get("spec") or {}).get("template") or {}
            specs = _SpecCopies(template.get("spec") or {})
            err: str | None = None
            for batch in u.slow_start_batches(count):
                for _ in range(batch):
                    try:
                        # a fresh pod handed over (owned): no defensive copies in, none out
                        pod = self.client.create(pod_from_template(template, rs, spec=specs.copy()), owned=True)
                    except ApiError as e:
                        if e.reason == "Forbidden" and "being terminated" in e.message:
                            return None  # namespace terminating: not a replica failure
                        self.recorder.warning(rs, "FailedCreate", f"Error creating: {e.message}")
                        err = e.message
                        continue
                    self.recorder.normal(rs, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")
                if err is not None:
                    return ("FailedCreate", err)
            return None
        if diff > 0:
            count = min(diff, BURST_REPLICAS)
            victims = self._pods_to_delete(rs, pods(), count)
            for pod in victims:
                m = pod["metadata"]
                try:
                    self.client.delete("pods", m["name"], m.get("namespace"), copy=False)
                except ApiError as e:
                    if e.code == 404:
                        continue
                    self.recorder.warning(rs, "FailedDelete", f"Error deleting: {e.message}")
                    return ("FailedDelete", e.message)
                self.recorder.normal(rs, "SuccessfulDelete", f"Deleted pod: {m['name']}")
        return None

    def _node_counts(self, uid: str) -> dict[str, int]:
        """Active pods per node name (``""``: unassigned) among those ReplicaSet ``uid`` controls,
        kept by the pod handlers from the first call on."""
        c = self._on_node.get(uid)
        if c is None:
            c = self._on_node[uid] = {}
            for p in self.pod_informer.by_index(u.CONTROLLER_UID_INDEX, uid):
                if u.is_pod_active(p):
                    n = (p.get("spec") or {}).get("nodeName") or ""
                    c[n] = c.get(n, 0) + 1
        return c

    def _related_on_node(self, rs: Obj) -> dict[str, int]:
        """Active pods per node of getIndirectlyRelatedPods: those of every ReplicaSet sharing
        this one's controller (read-only)."""
        ns = rs["metadata"].get("namespace", "")
        owner = u.controller_uid(rs)
        uids = {rs["metadata"]["uid"]}
        if owner is not None:
            uids.update(r["metadata"]["uid"] for r in self.rs_informer.list(ns) if u.controller_uid(r) == owner)
        counts = [c for uid in sorted(uids) if (c := self._node_counts(uid))]
        if len(counts) == 1:
            return counts[0]
        on_node: dict[str, int] = {}
        for c in counts:
            for n, k in c.items():
                on_node[n] = on_node.get(n, 0) + k
        return on_node

    def _pods_to_delete(self, rs: Obj, candidates: list[_PodFacts], diff: int) -> list[Obj]:
        """getPodsToDelete: of the pods (``candidates``: their facts), the ``diff`` ranked first,
        each pod's rank being the number of active related pods on its node."""
        pods = [f.pod for f in candidates]
        if diff < len(pods):
            on_node = self._related_on_node(rs)
            clock = self.loop
            facts = [f._rank or f.rank_facts(clock) for f in candidates]
            ranks = [on_node.get(f.node, 0) for f in facts]
            pods = rank_pods_for_deletion(clock, pods, ranks, clock.now, limit=diff, facts=facts)
        return pods[:diff]

    def _update_status(
        self, rs: Obj, facts: list[_PodFacts], manage_err: tuple[str, str] | None
    ) -> float | None:
        spec = rs.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds", 0) or 0)
        now = self.loop.now
        tlabels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        fully = ready = available = 0
        for f in facts:
            if f.fully_labeled(tlabels):
                fully += 1
            if f.ready:
                ready += 1
                if not min_ready or f.available(self.loop, min_ready, now):
                    available += 1
        self._write_status(rs, len(facts), fully, ready, available, manage_err)
        want = int(spec.get("replicas", 1))
        if min_ready > 0 and ready == want and available != want:
            waits = [w for f in facts if (w := u.available_in(self.loop, f.pod, min_ready, now)) is not None]
            if waits:
                return min(waits) + 0.001
        return None

    def _write_status(
        self, rs: Obj, replicas: int, fully: int, ready: int, available: int, manage_err: tuple[str, str] | None
    ) -> None:
        old_status = rs.get("status") or {}
        values = (replicas, fully, ready, available, int(rs["metadata"].get("generation", 1)))
        if manage_err is None:
            uid = rs["metadata"].get("uid", "")
            held = self._held.get(uid)
            if held is not None and held[0] is old_status and held[1] == values:
                return  # as _holds found for this very status object last time
            if _holds(old_status, values):
                self._held[uid] = (old_status, values)
                return  # what would be written is there (most syncs): nothing built
        status: Obj = {k: v for k, v in old_status.items() if k == "conditions"}
        status.update(zip(_STATUS_FIELDS, values, strict=True))
        failure = u.get_condition(old_status, "ReplicaFailure")
        if manage_err is not None and failure is None:
            conds = list(status.get("conditions") or [])
            conds.append(
                {"type": "ReplicaFailure", "status": "True", "lastTransitionTime": self.loop.timestamp(),
                 "reason": manage_err[0], "message": manage_err[1]}
            )  # fmt: skip
            status["conditions"] = conds
        elif manage_err is None and failure is not None:
            u.remove_condition(status, "ReplicaFailure")
        if _status_differs(old_status, status):
            # only ``status`` (built here) is stored from the object handed over; the rest is
            # read for the name and resourceVersion, so the cached ReplicaSet is not copied
            self.client.update_status({**rs, "status": status}, owned=True)


def _refs(pod: Obj) -> Any:
    return pod["metadata"].get("ownerReferences")


_STATUS_FIELDS = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration")


def _holds(old: Obj, values: tuple[int, ...]) -> bool:
    """Whether the status ``old`` has ``values`` (in ``_STATUS_FIELDS``' order) and no
    ReplicaFailure condition: then the status a sync without a manage error builds from them does
    not differ from it (the same counts and the same conditions)."""
    for f, v in zip(_STATUS_FIELDS, values, strict=True):
        if int(old.get(f, 0) or 0) != v:
            return False
    return u.get_condition(old, "ReplicaFailure") is None


def _status_differs(old: Obj, new: Obj) -> bool:
    for f in _STATUS_FIELDS:
        if int(old.get(f, 0) or 0) != int(new.get(f, 0) or 0):
            return True
    return (old.get("conditions") or []) != (new.get("conditions") or [])
