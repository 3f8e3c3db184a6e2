"""PodDisruptionBudget status (pkg/controller/disruption/disruption.go).

For each PDB: the pods its selector matches in its namespace; the expected pod count from their
controllers' scale (Deployment via its ReplicaSets, ReplicaSet, StatefulSet, any kind with a scale
subresource; each controller counted once; pods without a controller are "unmanaged": ignored with
an ``UnmanagedPods`` warning; a pod whose controller has no scale fails the sync safely);
``desiredHealthy`` from ``minAvailable`` (an integer: expectedPods = matching pods; a percentage:
of the expected count, rounded up) or ``maxUnavailable`` (expected - ceil(percent)); currentHealthy
= ready pods neither being deleted nor listed in ``status.disruptedPods`` (entries expire after
``DELETION_TIMEOUT`` = 2 min, with a ``NotDeleted`` warning).

Status contract read by the eviction API and other components:
``status.disruptionsAllowed`` (= max(currentHealthy - desiredHealthy, 0), 0 when expectedPods is 0),
``status.observedGeneration`` (evictions must wait until it equals metadata.generation),
``status.disruptedPods`` (pod name -> eviction timestamp, written by the eviction API) and the
``DisruptionAllowed`` condition (SufficientPods / InsufficientPods / SyncFailed).
``spec.unhealthyPodEvictionPolicy`` is accepted and left to the eviction API.

Each PDB's matching pods are kept as :class:`Members` (per pod: name, being deleted, Ready,
controller reference; running totals of those), updated by the pod handlers, so that a sync costs
the PDB's controllers and disruptedPods entries rather than a pass over every pod of the namespace
(a busy PDB syncs at almost every instant a pod of it changes).

A sync that finds everything it read last time as it was (the PDB's spec and generation, its
members, the controllers' scales) and the status it computed then in place computes that status
again: it returns at once (see :meth:`DisruptionController._unchanged`). Most syncs are such: the
one its own status write enqueues, and those of pod writes that moved none of the members' facts.
"""

from __future__ import annotations

from typing import Any

from kubetwin.api import kinds
from kubetwin.api import podchanges as pc
from kubetwin.api.errors import ApiError
from kubetwin.api.podchanges import pod_changes
from kubetwin.api.resources import is_pod_ready
from kubetwin.client.controller import Controller
from kubetwin.controllers import _util as u
from kubetwin.store.copy import deep_copy

Obj = dict[str, Any]

DELETION_TIMEOUT = 120.0


class _SyncError(Exception):
    pass


# per pod: (name, being deleted, Ready, controller reference key or None)
_Facts = tuple[str, bool, bool, tuple[Any, ...] | None]


def _controller_ref(pod: Obj) -> Obj | None:
    return next((r for r in pod["metadata"].get("ownerReferences") or [] if r.get("controller") is True), None)


class Members:
    """The pods one PDB's selector matches (by pod key) and running totals over them."""

    __slots__ = ("selector", "facts", "ready_live", "refs", "unmanaged", "version")

    def __init__(self, selector: Any) -> None:
        self.selector = selector  # the spec.selector these were matched with
        self.facts: dict[str, _Facts] = {}
        self.ready_live = 0  # Ready and not being deleted
        self.refs: dict[tuple[Any, ...], list[Any]] = {}  # controller ref key -> [ref, pods with it]
        self.unmanaged = 0  # pods without a controller
        self.version = 0  # moved by every put and remove

    def put(self, key: str, pod: Obj) -> None:
        self.remove(key)
        self.version += 1
        m = pod["metadata"]
        deleting = bool(m.get("deletionTimestamp"))
        ready = is_pod_ready(pod)
        ref = _controller_ref(pod)
        rk = None if ref is None else (ref.get("uid"), ref.get("kind"), ref.get("apiVersion"), ref.get("name"))
        self.facts[key] = (m["name"], deleting, ready, rk)
        if ready and not deleting:
            self.ready_live += 1
        if rk is None:
            self.unmanaged += 1
        else:
            e = self.refs.get(rk)
            if e is None:
                self.refs[rk] = [ref, 1]
            else:
                e[1] += 1

    def refresh(self, key: str, pod: Obj, same_ref: bool) -> None:
        """put, skipped when the kept facts of ``key`` already say what ``pod``'s would, and
        with the kept controller reference when ``pod`` has the kept version's ownerReferences
        (``same_ref``): then only deletion and readiness can move."""
        f = self.facts.get(key)
        if f is None or not same_ref:
            self.put(key, pod)
            return
        deleting, ready = bool(pod["metadata"].get("deletionTimestamp")), is_pod_ready(pod)
        if f[1] == deleting and f[2] == ready:
            return
        self.version += 1
        self.ready_live += (ready and not deleting) - (f[2] and not f[1])
        self.facts[key] = (f[0], deleting, ready, f[3])

    def remove(self, key: str) -> None:
        f = self.facts.pop(key, None)
        if f is None:
            return
        self.version += 1
        _, deleting, ready, rk = f
        if ready and not deleting:
            self.ready_live -= 1
        if rk is None:
            self.unmanaged -= 1
        else:
            e = self.refs[rk]
            e[1] -= 1
            if not e[1]:
                del self.refs[rk]


class DisruptionController(Controller):
    name = "disruption-controller"

    def start(self) -> None:
        self.pdb_informer = self.informers.get("poddisruptionbudgets.policy")
        self.pod_informer = self.informers.get("pods")
        self.rs_informer = self.informers.get("replicasets.apps")
        self.d_informer = self.informers.get("deployments.apps")
        self.sts_informer = self.informers.get("statefulsets.apps")
        self.members: dict[str, Members] = {}  # PDB key -> its pods (built by its first sync)
        self._selectors = u.SelectorMemo()  # by PDB key
        # namespace -> (key, PDB) of its PDBs in the informer's order, until a PDB is added,
        # changed or deleted (what the pod handlers go through at every pod write)
        self._ns_pdbs: dict[str | None, list[tuple[str, Obj]]] = {}
        # moved whenever a ReplicaSet, Deployment or StatefulSet comes, goes, or changes what _find
        # reads of it (its replicas or ownerReferences)
        self._scale_epoch = 0
        self._generic_read = False  # whether _find read a scale through the API (no epoch for it)
        # (namespace, ReplicaSet / StatefulSet ref key) -> what _find answered while the epoch is the one
        # in _found_epoch (a moved epoch drops them all)
        self._found: dict[tuple[str, tuple[Any, ...]], tuple[str, int] | None] = {}
        self._found_epoch = 0
        # PDB key -> what its last sync read and the status it computed, when that sync emitted
        # nothing, scheduled nothing and read no scale through the API (see _unchanged)
        self._synced: dict[str, tuple[Any, int, Members, int, int, Obj]] = {}
        self.pdb_informer.add_handler(self._pdb_added, lambda o, n: self._pdb_updated(n), self._pdb_deleted)
        # a pod write that moved none of what the kept members read only enqueues the pod's PDBs
        self.pod_informer.add_handler(self._pod_added, self._pod_updated, self._pod_deleted, changes=pod_changes,
                                      reads=pc.LABELS | pc.OWNERS | pc.DELETION | pc.READY,
                                      on_ignored=self._pod_touched)  # fmt: skip
        for inf in (self.rs_informer, self.d_informer, self.sts_informer):
            inf.add_handler(self._scale_event, lambda o, n: self._scale_changed(o, n), self._scale_event)

    @staticmethod
    def _key(obj: Obj) -> str:
        m = obj["metadata"]
        return f"{m.get('namespace')}/{m['name']}"

    def _selector(self, pdb: Obj, key: str | None = None) -> Any:
        """u.selector_of(pdb), parsed once per selector (``key``: the PDB's, when known)."""
        return self._selectors.get(key or self._key(pdb), pdb)

    def _pdbs_of(self, namespace: str | None) -> list[tuple[str, Obj]]:
        """The PDBs of ``namespace`` (every namespace for None) with their keys, in the informer's
        order (kept: the PDB handlers drop them)."""
        found = self._ns_pdbs.get(namespace)
        if found is None:
            found = self._ns_pdbs[namespace] = [(self._key(p), p) for p in self.pdb_informer.list(namespace)]
        return found

    def _pdb_added(self, pdb: Obj) -> None:
        self._ns_pdbs.clear()
        self.enqueue(pdb)

    def _pdb_updated(self, pdb: Obj) -> None:
        self._ns_pdbs.clear()
        key = self._key(pdb)
        m = self.members.get(key)
        raw = (pdb.get("spec") or {}).get("selector")
        if m is not None and m.selector is not raw and m.selector != raw:
            del self.members[key]  # matched with another selector: the next sync starts over
        self.enqueue(pdb)

    def _pdb_deleted(self, pdb: Obj) -> None:
        self._ns_pdbs.clear()
        key = self._key(pdb)
        self.members.pop(key, None)
        self._synced.pop(key, None)
        self._selectors.forget(key)

    def _members(self, pdb: Obj) -> Members:
        key = self._key(pdb)
        m = self.members.get(key)
        if m is None:
            sel = self._selector(pdb)
            m = self.members[key] = Members((pdb.get("spec") or {}).get("selector"))
            for p in self.pod_informer.list(pdb["metadata"].get("namespace", "")):
                if sel.matches(u.labels_of(p)):
                    m.put(self._key(p), p)
        return m

    def _pod_added(self, pod: Obj) -> None:
        lbls = u.labels_of(pod)
        key = self._key(pod)
        for k, pdb in self._pdbs_of(pod["metadata"].get("namespace") or None):
            if self._selector(pdb, k).matches(lbls):
                m = self.members.get(k)
                if m is not None:
                    m.put(key, pod)
                self.enqueue(pdb)

    def _pod_deleted(self, pod: Obj) -> None:
        lbls = u.labels_of(pod)
        key = self._key(pod)
        for k, pdb in self._pdbs_of(pod["metadata"].get("namespace") or None):
            m = self.members.get(k)
            if m is not None:
                m.remove(key)
            if self._selector(pdb, k).matches(lbls):
                self.enqueue(pdb)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        self._pod_written(old, new, True)

    def _pod_touched(self, old: Obj, new: Obj) -> None:
        """A pod write that left its labels, owner, deletion and readiness alone (most status
        writes): the kept members' facts stay, only the PDBs are enqueued."""
        om, nm = old["metadata"], new["metadata"]
        same = nm.get("ownerReferences") is om.get("ownerReferences") and nm.get("labels") is om.get("labels")
        self._pod_written(old, new, not same)

    def _pod_written(self, old: Obj, new: Obj, refresh: bool) -> None:
        """Enqueue the PDBs of a written pod and keep their members (``refresh``: their facts too)."""
        nm, om = new["metadata"], old["metadata"]
        pdbs = self._pdbs_of(nm.get("namespace") or None)
        if not pdbs:
            return
        key = self._key(new)
        lbls = u.labels_of(new)
        if nm.get("labels") is not om.get("labels") and u.labels_of(old) != lbls:
            old_lbls = u.labels_of(old)
            for k, pdb in pdbs:  # the PDBs it leaves are synced first
                if self._selector(pdb, k).matches(old_lbls):
                    self.enqueue(pdb)
        # the kept members are the matching pods as of their previous version: with its labels a
        # pod matches if and only if it is a member; with its owner (most writes share both) the
        # kept facts move only with deletion and readiness
        same_labels = nm.get("labels") is om.get("labels")
        same_ref = nm.get("ownerReferences") is om.get("ownerReferences")
        for k, pdb in pdbs:
            m = self.members.get(k)
            if key in m.facts if same_labels and m is not None else self._selector(pdb, k).matches(lbls):
                if m is not None and refresh:
                    m.refresh(key, new, same_ref)
                if pdb["metadata"].get("namespace"):
                    self.queue.add(k)  # enqueue(pdb): its key is the one just built
                else:
                    self.enqueue(pdb)
            elif m is not None and not same_labels:  # with its labels a non-member stays one
                m.remove(key)

    def _scale_event(self, obj: Obj) -> None:
        self._scale_epoch += 1
        for pdb in self.pdb_informer.list(obj["metadata"].get("namespace") or None):
            self.enqueue(pdb)

    def _scale_changed(self, old: Obj, new: Obj) -> None:
        if (old.get("spec") or {}).get("replicas") != (new.get("spec") or {}).get("replicas"):
            self._scale_event(new)
            return
        refs, new_refs = old["metadata"].get("ownerReferences"), new["metadata"].get("ownerReferences")
        if refs is not new_refs and refs != new_refs:
            self._scale_epoch += 1  # a ReplicaSet's Deployment is what _find reads the scale of

    # -- expected scale ---------------------------------------------------------------------
    def _find(self, ref: Obj, ns: str) -> tuple[str, int] | None:
        kind, name, uid = ref.get("kind"), ref.get("name", ""), ref.get("uid")
        group = str(ref.get("apiVersion", "")).rpartition("/")[0]
        if kind == "ReplicaSet" and group == "apps":
            rs = self.rs_informer.get(name, ns)
            if rs is None or rs["metadata"].get("uid") != uid:
                return None
            owner = next((r for r in rs["metadata"].get("ownerReferences") or [] if r.get("controller") is True), None)
            if owner is not None and owner.get("kind") == "Deployment":
                d = self.d_informer.get(owner.get("name", ""), ns)
                if d is None or d["metadata"].get("uid") != owner.get("uid"):
                    return None
                return d["metadata"]["uid"], _replicas(d)
            return rs["metadata"]["uid"], _replicas(rs)
        if kind == "StatefulSet" and group == "apps":
            sts = self.sts_informer.get(name, ns)
            if sts is None or sts["metadata"].get("uid") != uid:
                return None
            return sts["metadata"]["uid"], _replicas(sts)
        try:
            info = kinds.by_gvk(str(ref.get("apiVersion", "")), str(kind))
        except ApiError:
            return None
        if not info.scale_subresource:
            return None
        self._generic_read = True
        obj = self.client.get_or_none(info.resource, name, ns)
        if obj is None or obj["metadata"].get("uid") != uid:
            return None
        return obj["metadata"]["uid"], _replicas(obj)

    def _find_kept(self, rk: tuple[Any, ...], ref: Obj, ns: str) -> tuple[str, int] | None:
        """_find, for a ReplicaSet or StatefulSet ref answered from what it answered for the same
        namespace and ref key (uid, kind, apiVersion, name: all it reads of the ref) while the
        scale epoch has not moved: those answers read only the informers' ReplicaSets,
        Deployments and StatefulSets (their uid, replicas and a ReplicaSet's ownerReferences),
        whose every such change moves the epoch. Other kinds are looked up each time."""
        kind, group = ref.get("kind"), str(ref.get("apiVersion", "")).rpartition("/")[0]
        if group != "apps" or kind not in ("ReplicaSet", "StatefulSet"):
            return self._find(ref, ns)
        if self._found_epoch != self._scale_epoch:
            self._found.clear()
            self._found_epoch = self._scale_epoch
        elif (ns, rk) in self._found:
            return self._found[ns, rk]
        found = self._found[ns, rk] = self._find(ref, ns)
        return found

    def _expected_scale(self, m: Members, ns: str) -> tuple[int, bool]:
        """(sum of the controllers' scales, whether some pods have no controller). A controller
        that cannot be found fails the sync naming the first such pod by name."""
        scale: dict[str, int] = {}
        missing: set[tuple[Any, ...]] = set()
        for rk, (ref, _) in m.refs.items():
            found = self._find_kept(rk, ref, ns)
            if found is None:
                missing.add(rk)
            else:
                scale[found[0]] = found[1]
        if missing:
            name = min(f[0] for f in m.facts.values() if f[3] in missing)
            raise _SyncError(f'found no controllers for pod "{name}"')
        return sum(scale.values()), m.unmanaged > 0

    # -- sync -------------------------------------------------------------------------------
    def reconcile(self, key: str) -> float | None:
        pdb = self.pdb_informer.get_by_key(key)
        if pdb is None:
            return None
        members = self._members(pdb)
        if self._unchanged(key, pdb, members):
            return None
        sel = self._selector(pdb)
        self._generic_read = False
        if not members.facts:
            self.recorder.normal(pdb, "NoPods", "No matching pods found")
        spec = pdb.get("spec") or {}
        try:
            expected, desired, unmanaged = self._expected_count(spec, members, pdb["metadata"].get("namespace", ""))
        except (_SyncError, ValueError) as e:
            self.recorder.warning(pdb, "CalculateExpectedPodCountFailed",
                                  f"Failed to calculate the number of expected pods: {e}")  # fmt: skip
            self._fail_safe(pdb, str(e))
            return None
        if unmanaged:
            self.recorder.warning(
                pdb, "UnmanagedPods",
                f"Pods selected by this PodDisruptionBudget (selector: {sel}) were found to be unmanaged. As a "
                "result, the status of the PDB cannot be calculated correctly, which may result in undefined "
                'behavior. To account for these pods please set ".spec.minAvailable" field of the PDB to an '
                "integer value.",
            )  # fmt: skip
        now = self.loop.now
        disrupted, recheck = self._disrupted_pods(pdb, members, now)
        healthy = members.ready_live
        ns = pdb["metadata"].get("namespace")
        for name, t in disrupted.items():  # ready pods the eviction API just disrupted do not count
            if members.facts[f"{ns}/{name}"][2] and (u.ts(self.loop, t) or 0) + DELETION_TIMEOUT > now:
                healthy -= 1
        status = self._update_status(pdb, healthy, desired, expected, disrupted)
        if not unmanaged and members.facts and not (pdb.get("status") or {}).get("disruptedPods"):
            if not self._generic_read:  # no event, no recheck, no read outside the informers
                self._synced[key] = (spec, self._generation(pdb), members, members.version, self._scale_epoch, status)
        return None if recheck is None else max(recheck - now, 0.001)

    @staticmethod
    def _generation(pdb: Obj) -> int:
        return int(pdb["metadata"].get("generation", 1))

    def _unchanged(self, key: str, pdb: Obj, members: Members) -> bool:
        """Whether this sync would compute the status the PDB carries and do nothing else: the
        last sync of ``key`` read this spec and generation, these members as they are and the
        scales as they are, emitted no event, had no disruptedPods entry to read (hence nothing
        with a time) and computed the status the PDB now holds. From that status (no disrupted
        pods, its own condition) the same reads give the same status: no write, no event, no
        recheck."""
        memo = self._synced.get(key)
        if memo is None:
            return False
        spec, gen, m, version, epoch, status = memo
        return (
            spec is pdb.get("spec") and m is members and version == m.version and epoch == self._scale_epoch
            and gen == self._generation(pdb) and (pdb.get("status") or {}) == status
        )  # fmt: skip

    def _expected_count(self, spec: Obj, m: Members, ns: str) -> tuple[int, int, bool]:
        if spec.get("maxUnavailable") is not None:
            expected, unmanaged = self._expected_scale(m, ns)
            max_unavailable = u.scaled_value(spec["maxUnavailable"], expected, True)
            return expected, max(expected - max_unavailable, 0), unmanaged
        min_available = spec.get("minAvailable")
        if isinstance(min_available, str) and min_available.endswith("%"):
            expected, unmanaged = self._expected_scale(m, ns)
            return expected, u.scaled_value(min_available, expected, True), unmanaged
        n = len(m.facts)
        if min_available is not None:
            return n, u.scaled_value(min_available, n, True), False
        return n, 0, False

    def _disrupted_pods(self, pdb: Obj, m: Members, now: float) -> tuple[dict[str, str], float | None]:
        """The disruptedPods entries of matching pods not being deleted, in pod-name order, minus
        the expired ones (a NotDeleted warning each); and when the next one expires."""
        disrupted = (pdb.get("status") or {}).get("disruptedPods") or {}
        out: dict[str, str] = {}
        recheck: float | None = None
        ns = pdb["metadata"]["namespace"]
        for name in sorted(disrupted):
            f = m.facts.get(f"{ns}/{name}")
            if f is None or f[1]:
                continue
            t = disrupted[name]
            expected_deletion = (u.ts(self.loop, t) or 0) + DELETION_TIMEOUT
            if expected_deletion < now:
                p = self.pod_informer.get_by_key(f"{ns}/{name}")
                assert p is not None
                self.recorder.warning(p, "NotDeleted",
                                      f"Pod was expected by PDB {ns}/{pdb['metadata']['name']} to be deleted but it wasn't")  # fmt: skip
            else:
                recheck = expected_deletion if recheck is None else min(recheck, expected_deletion)
                out[name] = t
        return out, recheck

    def _update_status(self, pdb: Obj, healthy: int, desired: int, expected: int, disrupted: dict[str, str]) -> Obj:
        """Write the status these counts make, if it differs from the PDB's; the status."""
        allowed = healthy - desired
        if expected <= 0 or allowed <= 0:
            allowed = 0
        old = pdb.get("status") or {}
        gen = int(pdb["metadata"].get("generation", 1))
        status: Obj = {"currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected,
                       "disruptionsAllowed": allowed, "observedGeneration": gen,
                       "conditions": [dict(c) for c in old.get("conditions") or []]}  # fmt: skip
        if disrupted:
            status["disruptedPods"] = disrupted
        if allowed > 0:
            u.set_metav1_condition(status, "DisruptionAllowed", "True", "SufficientPods", "", self.loop.timestamp(), gen)
        else:
            u.set_metav1_condition(status, "DisruptionAllowed", "False", "InsufficientPods", "",
                                   self.loop.timestamp(), gen)  # fmt: skip
        if status != old:
            # only ``status`` (built here) is stored from the object handed over: no copy of the PDB
            self.client.update_status({**pdb, "status": status}, owned=True)
        return status

    def _fail_safe(self, pdb: Obj, message: str) -> None:
        old = pdb.get("status") or {}
        status = deep_copy(old)
        status["disruptionsAllowed"] = 0
        u.set_metav1_condition(status, "DisruptionAllowed", "False", "SyncFailed", message, self.loop.timestamp(),
                               int(old.get("observedGeneration", 0) or 0))  # fmt: skip
        if status != old:
            new = deep_copy(pdb)
            new["status"] = status
            self.client.update_status(new)


def _replicas(obj: Obj) -> int:
    v = (obj.get("spec") or {}).get("replicas")
    return 1 if v is None else int(v)
