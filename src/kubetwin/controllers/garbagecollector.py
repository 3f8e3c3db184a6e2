"""Garbage collector (pkg/controller/garbagecollector: garbagecollector.go, graph_builder.go,
operations.go, patch.go).

The dependency graph is an index over every informer (all kinds but Events): uid -> object and
owner uid -> dependents. Owner identity is the uid of the ownerReference: an owner that is gone,
or present under the same name with another uid, is absent.

- Background: a dependent whose owners are all absent is deleted (with Orphan/Foreground policy if
  it carries that finalizer itself); absent owners are dropped from dependents that still have a
  live owner. ``blockOwnerDeletion`` does not matter here.
- Foreground: an owner with a deletionTimestamp and the ``foregroundDeletion`` finalizer gets all
  its dependents deleted (dependents that have dependents of their own are deleted Foreground
  too); the finalizer is removed when no dependent with ``blockOwnerDeletion: true`` remains, after
  which the registry removes the owner.
- Orphan: an owner with a deletionTimestamp and the ``orphan`` finalizer has its ownerReference
  removed from every dependent, then the finalizer is removed.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from kubetwin.api import kinds
from kubetwin.api import podchanges as pc
from kubetwin.api.errors import ApiError
from kubetwin.api.nodestatus import heartbeat_only
from kubetwin.api.podchanges import pod_changes
from kubetwin.client.controller import Controller
from kubetwin.controllers._util import remove_finalizer
from kubetwin.store.copy import deep_copy

Obj = dict[str, Any]
Ref = tuple[str, str, str]  # (resource, namespace, name)

FINALIZER_ORPHAN = "orphan"
FINALIZER_FOREGROUND = "foregroundDeletion"
IGNORED_RESOURCES = frozenset({"events"})


def _key(ref: Ref) -> str:
    return "|".join(ref)


def _refs(obj: Obj) -> list[Obj]:
    return list((obj.get("metadata") or {}).get("ownerReferences") or [])


class GarbageCollector(Controller):
    name = "garbage-collector-controller"

    def __init__(self, client: Any, informers: Any) -> None:
        super().__init__(client, informers)
        self._uids: dict[str, Ref] = {}
        self._dependents: dict[str, set[Ref]] = {}

    def start(self) -> None:
        self._informers: dict[str, Any] = {}
        for info in kinds.all_kinds():
            if info.resource in IGNORED_RESOURCES:
                continue
            inf = self.informers.get(info.resource)
            self._informers[info.resource] = inf
            inf.add_handler(
                partial(self._added, info.resource),
                partial(self._updated, info.resource),
                partial(self._deleted, info.resource),
                # a node heartbeat leaves metadata (owners, finalizers, deletion) as it was; a pod
                # write reaches _updated only when its metadata changed
                ignore=heartbeat_only if info.resource == "nodes" else None,
                changes=pod_changes if info.resource == "pods" else None,
                reads=pc.OWNERS | pc.DELETION | pc.META,
            )

    # -- graph --------------------------------------------------------------------------------
    @staticmethod
    def _ref_of(resource: str, obj: Obj) -> Ref:
        m = obj["metadata"]
        return (resource, m.get("namespace", "") or "", m["name"])

    def _link(self, ref: Ref, obj: Obj) -> None:
        for r in _refs(obj):
            self._dependents.setdefault(str(r.get("uid", "")), set()).add(ref)

    def _unlink(self, ref: Ref, obj: Obj) -> None:
        for r in _refs(obj):
            deps = self._dependents.get(str(r.get("uid", "")))
            if deps is not None:
                deps.discard(ref)
                if not deps:
                    del self._dependents[str(r.get("uid", ""))]

    def _needs_attention(self, obj: Obj) -> bool:
        m = obj["metadata"]
        if m.get("deletionTimestamp") and {FINALIZER_ORPHAN, FINALIZER_FOREGROUND} & set(m.get("finalizers") or []):
            return True
        return any(str(r.get("uid", "")) not in self._uids for r in _refs(obj))

    def _added(self, resource: str, obj: Obj) -> None:
        ref = self._ref_of(resource, obj)
        self._uids[obj["metadata"].get("uid", "")] = ref
        self._link(ref, obj)
        if self._needs_attention(obj):
            self.queue.add(_key(ref))

    def _updated(self, resource: str, old: Obj, new: Obj) -> None:
        om, nm = old["metadata"], new["metadata"]
        if (
            om.get("ownerReferences") == nm.get("ownerReferences")
            and om.get("finalizers") == nm.get("finalizers")
            and om.get("deletionTimestamp") == nm.get("deletionTimestamp")
            and om.get("uid") == nm.get("uid")
        ):
            return  # a status or heartbeat write: the graph and what needs attention are unchanged
        ref = self._ref_of(resource, new)
        if _refs(old) != _refs(new):
            self._unlink(ref, old)
            self._link(ref, new)
        self._uids[new["metadata"].get("uid", "")] = ref
        if self._needs_attention(new):
            self.queue.add(_key(ref))
            if new["metadata"].get("deletionTimestamp") and not old["metadata"].get("deletionTimestamp"):
                for dep in sorted(self._dependents.get(new["metadata"].get("uid", ""), ())):
                    self.queue.add(_key(dep))

    def _deleted(self, resource: str, obj: Obj) -> None:
        ref = self._ref_of(resource, obj)
        uid = obj["metadata"].get("uid", "")
        if self._uids.get(uid) == ref:
            del self._uids[uid]
        self._unlink(ref, obj)
        for dep in sorted(self._dependents.get(uid, ())):
            self.queue.add(_key(dep))
        for r in _refs(obj):  # an owner waiting for its dependents may now finish
            owner = self._uids.get(str(r.get("uid", "")))
            if owner is not None:
                self.queue.add(_key(owner))

    # -- lookups ------------------------------------------------------------------------------
    def _get(self, ref: Ref) -> Obj | None:
        inf = self._informers.get(ref[0])
        if inf is None:
            return None
        obj: Obj | None = inf.get(ref[2], ref[1] or None)
        return obj

    def _owner(self, dependent_ns: str, ref: Obj) -> tuple[str, Obj | None]:
        """('absent'|'solid'|'waiting'|'unknown', owner)."""
        try:
            info = kinds.by_gvk(str(ref.get("apiVersion", "")), str(ref.get("kind", "")))
        except ApiError:
            return "unknown", None
        owner = self._get((info.resource, dependent_ns if info.namespaced else "", str(ref.get("name", ""))))
        if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
            return "absent", None
        m = owner["metadata"]
        if m.get("deletionTimestamp") and FINALIZER_FOREGROUND in (m.get("finalizers") or []):
            return "waiting", owner
        return "solid", owner

    def _live_dependents(self, uid: str) -> list[tuple[Ref, Obj]]:
        out = []
        for dep in sorted(self._dependents.get(uid, ())):
            obj = self._get(dep)
            if obj is not None and any(r.get("uid") == uid for r in _refs(obj)):
                out.append((dep, obj))
        return out

    # -- reconcile ----------------------------------------------------------------------------
    def reconcile(self, key: str) -> float | None:
        resource, ns, name = key.split("|", 2)
        ref: Ref = (resource, ns, name)
        obj = self._get(ref)
        if obj is None:
            return None
        m = obj["metadata"]
        fins = m.get("finalizers") or []
        if m.get("deletionTimestamp"):
            if FINALIZER_ORPHAN in fins:
                self._orphan_dependents(ref, obj)
                return None
            if FINALIZER_FOREGROUND in fins:
                self._process_deleting_dependents(ref, obj)
                return None
            return None
        self._attempt_to_delete(ref, obj)
        return None

    def _orphan_dependents(self, ref: Ref, owner: Obj) -> None:
        uid = owner["metadata"]["uid"]
        for _, dep in self._live_dependents(uid):
            new = deep_copy(dep)
            refs = [r for r in _refs(new) if r.get("uid") != uid]
            if refs:
                new["metadata"]["ownerReferences"] = refs
            else:
                new["metadata"].pop("ownerReferences", None)
            try:
                self.client.update(new)
            except ApiError as e:
                if e.code != 404:
                    raise
        remove_finalizer(self.client, owner, FINALIZER_ORPHAN)

    def _process_deleting_dependents(self, ref: Ref, owner: Obj) -> None:
        uid = owner["metadata"]["uid"]
        deps = self._live_dependents(uid)
        blocking = [
            (d, o) for d, o in deps
            if any(r.get("uid") == uid and r.get("blockOwnerDeletion") is True for r in _refs(o))
        ]  # fmt: skip
        if not blocking:
            remove_finalizer(self.client, owner, FINALIZER_FOREGROUND)
            return
        for dep, o in deps:
            om = o["metadata"]
            deleting_dependents = om.get("deletionTimestamp") and FINALIZER_FOREGROUND in (om.get("finalizers") or [])
            if not deleting_dependents:
                self.queue.add(_key(dep))

    def _attempt_to_delete(self, ref: Ref, obj: Obj) -> None:
        refs = _refs(obj)
        if not refs:
            return
        ns = obj["metadata"].get("namespace", "") or ""
        solid, dangling, waiting = [], [], []
        for r in refs:
            state, _ = self._owner(ns, r)
            if state in ("solid", "unknown"):
                solid.append(r)
            elif state == "absent":
                dangling.append(r)
            else:
                waiting.append(r)
        m = obj["metadata"]
        if solid:
            if not dangling and not waiting:
                return
            drop = {r.get("uid") for r in dangling + waiting}
            new = deep_copy(obj)
            new["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") not in drop]
            self.client.update(new)
            return
        if waiting and self._live_dependents(m["uid"]):
            for _, dep in self._live_dependents(m["uid"]):
                dm = dep["metadata"]
                if dm.get("deletionTimestamp") and FINALIZER_FOREGROUND in (dm.get("finalizers") or []):
                    # a cycle: unblock our owners so they do not wait on us forever
                    new = deep_copy(obj)
                    wuids = {r.get("uid") for r in waiting}
                    for r in new["metadata"]["ownerReferences"]:
                        if r.get("uid") in wuids:
                            r["blockOwnerDeletion"] = False
                    obj = self.client.update(new)
                    break
            self._delete(ref, obj, "Foreground")
            return
        fins = m.get("finalizers") or []
        policy = "Orphan" if FINALIZER_ORPHAN in fins else "Foreground" if FINALIZER_FOREGROUND in fins else "Background"
        self._delete(ref, obj, policy)

    def _delete(self, ref: Ref, obj: Obj, policy: str) -> None:
        try:
            self.client.delete(ref[0], ref[2], ref[1] or None, propagation_policy=policy,
                               preconditions={"uid": obj["metadata"]["uid"]})  # fmt: skip
        except ApiError as e:
            if e.code not in (404, 409):
                raise
