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
A sync with nothing to claim, create or delete and no minReadySeconds (the common case: a pod of
the ReplicaSet changed status) writes status from those counts without going through the pods.
"""

from __future__ import annotations

import heapq
import math
from functools import cmp_to_key
from typing import Any

from kubetwin.api.errors import ApiError
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


def pod_from_template(template: Obj, owner: Obj, generate_name: str | None = None) -> Obj:
    """controller.GetPodFromTemplate."""
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
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": deep_copy(template.get("spec") or {})}


def _deletion_cost(pod: Obj) -> int:
    v = ((pod.get("metadata") or {}).get("annotations") or {}).get(POD_DELETION_COST)
    try:
        return int(v) if v is not None else 0
    except ValueError:
        return 0


def _log_rank(t: float, now: float) -> int:
    d = (now - t) * 1e9  # Go durations are nanoseconds
    return int(math.log2(d)) if d > 0 else -1


def rank_pods_for_deletion(
    clock: Any, pods: list[Obj], ranks: list[int], now: float, limit: int | None = None
) -> list[Obj]:
    """Sort pods so that the first ones are the best to delete (ActivePodsWithRanks.Less). What
    the comparison reads of each pod is read once per pod, not once per comparison. ``limit``:
    only the first ``limit`` of that order (heapq.nsmallest: the same pods as sorting all of
    them and slicing, without sorting 20,000 pods to delete a few)."""
    items = []
    for p, r in zip(pods, ranks, strict=True):
        ready = is_pod_ready(p)
        since = u.ready_since(clock, p) if ready else None
        created = u.created(clock, p)
        items.append((
            p, r, (p.get("spec") or {}).get("nodeName") or "",
            _PHASE_ORDINAL.get((p.get("status") or {}).get("phase", ""), -1), ready, _deletion_cost(p),
            since, None if since is None else _log_rank(since, now), u.max_container_restarts(p),
            created, _log_rank(created, now), u_id(p),
        ))  # fmt: skip

    def less(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
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

    def cmp(a: tuple[Any, ...], b: tuple[Any, ...]) -> int:
        if less(a, b):
            return -1
        if less(b, a):
            return 1
        return 0

    if limit is not None and limit < len(items):
        return [it[0] for it in heapq.nsmallest(limit, items, key=cmp_to_key(cmp))]
    items.sort(key=cmp_to_key(cmp))
    return [it[0] for it in items]


def u_id(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("uid", ""))


_UNSET: Any = object()


class _PodFacts:
    """What a sync reads of one version of a pod, each computed at most once."""

    __slots__ = ("pod", "active", "ready", "_since", "sel", "matches", "tlabels", "fully")

    def __init__(self, pod: Obj) -> None:
        self.pod = pod
        self.active = u.is_pod_active(pod)
        self.ready = is_pod_ready(pod)
        self._since: Any = _UNSET
        self.sel: LabelSelector | None = None  # the selector ``matches`` was computed for
        self.matches = False
        self.tlabels: Any = _UNSET  # the template labels ``fully`` was computed for
        self.fully = False

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

    __slots__ = ("ns", "sel", "tlabels", "parts", "counted", "same_ns", "loose", "ready", "fully")

    def __init__(self, ns: str, sel: LabelSelector, tlabels: dict[str, str]) -> None:
        self.ns, self.sel, self.tlabels = ns, sel, tlabels
        # pod key -> (counts for status, and in the ReplicaSet's namespace, active but not matching
        # in its namespace (a claim candidate), Ready, fully labelled); inactive pods are left out
        self.parts: dict[str, tuple[bool, bool, bool, bool, bool]] = {}
        self.counted = self.same_ns = self.loose = self.ready = self.fully = 0

    def put(self, key: str, f: _PodFacts) -> None:
        self.remove(key)
        if not f.active:
            return
        same = f.pod["metadata"].get("namespace", "") == self.ns
        if f.matched_by(self.sel):
            part = (True, same, False, f.ready, f.fully_labeled(self.tlabels))
        elif same:
            part = (False, False, True, False, False)
        else:
            return
        self.parts[key] = part
        self._add(part, 1)

    def remove(self, key: str) -> None:
        part = self.parts.pop(key, None)
        if part is not None:
            self._add(part, -1)

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
        self._selectors: dict[str, tuple[Any, LabelSelector]] = {}  # by RS uid: (spec.selector, parsed)
        self._owned: dict[str, _Owned] = {}  # by RS uid, from its first sync on
        self.rs_informer.add_handler(self.enqueue, lambda old, new: self.enqueue(new), self._rs_deleted)
        self.pod_informer.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)

    def _facts(self, pod: Obj) -> _PodFacts:
        uid = pod["metadata"].get("uid", "")
        f = self._pod_facts.get(uid)
        if f is None or f.pod is not pod:
            f = self._pod_facts[uid] = _PodFacts(pod)
        return f

    def _selector(self, rs: Obj) -> LabelSelector:
        """u.selector_of, the same object while spec.selector stays equal (so pod facts can keep their match)."""
        uid = rs["metadata"].get("uid", "")
        src = (rs.get("spec") or {}).get("selector")
        hit = self._selectors.get(uid)
        if hit is not None and (hit[0] is src or hit[0] == src):
            return hit[1]
        sel = u.selector_of(rs)
        self._selectors[uid] = (src, sel)
        return sel

    # -- handlers ---------------------------------------------------------------------------
    def _enqueue_owner(self, pod: Obj) -> bool:
        ref = u.controller_uid(pod)
        if ref is None:
            return False
        for r in pod["metadata"].get("ownerReferences") or []:
            if r.get("controller") is True and r.get("kind") == self.kind:
                rs = self.rs_informer.get(r.get("name", ""), pod["metadata"].get("namespace"))
                if rs is not None and rs["metadata"].get("uid") == r.get("uid"):
                    self.enqueue(rs)
        return True

    def _enqueue_matching(self, pod: Obj) -> None:
        lbls = u.labels_of(pod)
        for rs in self.rs_informer.list(pod["metadata"].get("namespace") or None):
            if u.selector_of(rs).matches(lbls):
                self.enqueue(rs)

    def _recount(self, old: Obj | None, new: Obj | None) -> None:
        """Move a pod's part in its ReplicaSet's counts (``old``/``new``: versions, None when absent)."""
        if not self._owned:
            return
        if old is not None:
            o = self._owned.get(u.controller_uid(old) or "")
            if o is not None:
                m = old["metadata"]
                o.remove(f"{m.get('namespace', '')}/{m['name']}")
        if new is not None:
            o = self._owned.get(u.controller_uid(new) or "")
            if o is not None:
                m = new["metadata"]
                o.put(f"{m.get('namespace', '')}/{m['name']}", self._facts(new))

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
        self._recount(old, new)
        if u.controller_uid(old) != u.controller_uid(new):
            self._enqueue_owner(old)
        if not self._enqueue_owner(new) and (
            u.labels_of(old) != u.labels_of(new) or u.controller_uid(old) != u.controller_uid(new)
        ):
            self._enqueue_matching(new)

    def _pod_deleted(self, pod: Obj) -> None:
        self._recount(pod, None)
        self._pod_facts.pop(pod["metadata"].get("uid", ""), None)
        self._enqueue_owner(pod)

    def _rs_deleted(self, rs: Obj) -> None:
        self._selectors.pop(rs["metadata"].get("uid", ""), None)
        self._owned.pop(rs["metadata"].get("uid", ""), None)
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
            if (
                not o.loose
                and o.same_ns == int(spec.get("replicas", 1))
                and not any(
                    p["metadata"].get("namespace", "") == ns and u.is_pod_active(p)
                    for p in self.pod_informer.by_index(u.CONTROLLER_UID_INDEX, "")
                )
            ):
                # nothing to claim, create or delete: the counts are the status (no minReadySeconds:
                # available = ready)
                self._write_status(rs, o.counted, o.fully, o.ready, o.ready, None)
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
            manage_err = self._manage(rs, pods)
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

    def _manage(self, rs: Obj, pods: list[Obj]) -> tuple[str, str] | None:
        want = int((rs.get("spec") or {}).get("replicas", 1))
        diff = len(pods) - want
        if diff < 0:
            count = min(-diff, BURST_REPLICAS)
            template = (rs.get("spec") or {}).get("template") or {}
            err: str | None = None
            for batch in u.slow_start_batches(count):
                for _ in range(batch):
                    try:
                        pod = self.client.create(pod_from_template(template, rs))
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
            victims = self._pods_to_delete(rs, pods, count)
            for pod in victims:
                m = pod["metadata"]
                try:
                    self.client.delete("pods", m["name"], m.get("namespace"))
                except ApiError as e:
                    if e.code == 404:
                        continue
                    self.recorder.warning(rs, "FailedDelete", f"Error deleting: {e.message}")
                    return ("FailedDelete", e.message)
                self.recorder.normal(rs, "SuccessfulDelete", f"Deleted pod: {m['name']}")
        return None

    def _related_pods(self, rs: Obj) -> list[Obj]:
        """getIndirectlyRelatedPods: pods of every ReplicaSet sharing this one's controller."""
        ns = rs["metadata"].get("namespace", "")
        owner = u.controller_uid(rs)
        if owner is None:
            uids = {rs["metadata"]["uid"]}
        else:
            uids = {r["metadata"]["uid"] for r in self.rs_informer.list(ns) if u.controller_uid(r) == owner}
            uids.add(rs["metadata"]["uid"])
        return [p for uid in sorted(uids) for p in self.pod_informer.by_index(u.CONTROLLER_UID_INDEX, uid)]

    def _pods_to_delete(self, rs: Obj, pods: list[Obj], diff: int) -> list[Obj]:
        if diff < len(pods):
            on_node: dict[str, int] = {}
            for p in self._related_pods(rs):
                if u.is_pod_active(p):
                    n = (p.get("spec") or {}).get("nodeName") or ""
                    on_node[n] = on_node.get(n, 0) + 1
            ranks = [on_node.get((p.get("spec") or {}).get("nodeName") or "", 0) for p in pods]
            pods = rank_pods_for_deletion(self.loop, pods, ranks, self.loop.now, limit=diff)
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
        status: Obj = {k: v for k, v in old_status.items() if k == "conditions"}
        status.update(
            replicas=replicas, fullyLabeledReplicas=fully, readyReplicas=ready, availableReplicas=available,
            observedGeneration=int(rs["metadata"].get("generation", 1)),
        )  # fmt: skip
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
            new = deep_copy(rs)
            new["status"] = status
            self.client.update_status(new)


_STATUS_FIELDS = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration")


def _status_differs(old: Obj, new: Obj) -> bool:
    for f in _STATUS_FIELDS:
        if int(old.get(f, 0) or 0) != int(new.get(f, 0) or 0):
            return True
    return (old.get("conditions") or []) != (new.get("conditions") or [])
