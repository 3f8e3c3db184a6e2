"""Pod garbage collector (pkg/controller/podgc/gc_controller.go), every ``GC_CHECK_PERIOD`` (20 s):

- terminated pods (Succeeded/Failed) above ``terminated_pod_threshold`` (12500, the
  kube-controller-manager default) are force-deleted, evicted ones first, then oldest first;
- pods bound to a node that no longer exists are, after the node has been absent for
  ``QUARANTINE_TIME`` (40 s) and a live check confirms it, marked Failed with the
  ``DisruptionTarget`` condition (DeletionByPodGC, "PodGC: node no longer exists") and force-deleted;
- terminating pods that were never scheduled, and terminating pods on a NotReady node carrying the
  ``node.kubernetes.io/out-of-service`` taint, are marked Failed and force-deleted.
"""

from __future__ import annotations

from typing import Any

from kubetwin.api import podchanges as pc
from kubetwin.api.errors import ApiError
from kubetwin.api.podchanges import pod_changes
from kubetwin.client.controller import Controller
from kubetwin.controllers import _util as u
from kubetwin.sim import Handle
from kubetwin.store.copy import deep_copy

Obj = dict[str, Any]

GC_CHECK_PERIOD = 20.0
QUARANTINE_TIME = 40.0
TERMINATED_POD_GC_THRESHOLD = 12500
OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"


class PodGCController(Controller):
    name = "pod-garbage-collector"
    terminated_pod_threshold = TERMINATED_POD_GC_THRESHOLD

    def __init__(self, client: Any, informers: Any) -> None:
        super().__init__(client, informers)
        self._missing_since: dict[str, float] = {}
        self._timer: Handle | None = None
        # Kept current by the pod informer's handlers, so a GC pass costs what there is to collect,
        # not the cluster's size: terminated pods, pods being deleted, pod keys per bound node.
        self._terminated: dict[str, None] = {}
        self._terminating: dict[str, None] = {}
        self._bound: dict[str, dict[str, None]] = {}
        self._pod_node: dict[str, str] = {}
        self._unknown: dict[str, None] = {}  # the nodes of _bound that the node cache does not hold

    def start(self) -> None:
        self.pod_informer = self.informers.get("pods")
        self.node_informer = self.informers.get("nodes")
        self.node_informer.add_handler(self._node_added, None, self._node_deleted)
        self.pod_informer.add_handler(self._pod_changed, self._pod_updated, self._pod_deleted,
                                      changes=pod_changes, reads=pc.TERMINAL | pc.DELETION | pc.NODE)  # fmt: skip
        self._timer = self.loop.every(GC_CHECK_PERIOD, self.gc, self.priority, "podgc")

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def reconcile(self, key: str) -> float | None:
        return None

    # -- pod bookkeeping (informer handlers) ------------------------------------------------
    def _pod_changed(self, pod: Obj) -> None:
        m = pod["metadata"]
        key = f"{m.get('namespace', '')}/{m['name']}"
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            self._terminated[key] = None
        else:
            self._terminated.pop(key, None)
        if m.get("deletionTimestamp"):
            self._terminating[key] = None
        else:
            self._terminating.pop(key, None)
        node = (pod.get("spec") or {}).get("nodeName") or ""
        prev = self._pod_node.get(key)
        if prev == node:
            return
        if prev:
            self._unbind(prev, key)
        if node:
            self._pod_node[key] = node
            keys = self._bound.get(node)
            if keys is None:
                keys = self._bound[node] = {}
                if self.node_informer.get(node) is None:
                    self._unknown[node] = None
            keys[key] = None
        else:
            self._pod_node.pop(key, None)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        """_pod_changed, unless what it keeps (terminated, being deleted, bound node) is the
        previous version's (most writes)."""
        if (
            (old.get("status") or {}).get("phase") != (new.get("status") or {}).get("phase")
            or bool(old["metadata"].get("deletionTimestamp")) != bool(new["metadata"].get("deletionTimestamp"))
            or (old.get("spec") or {}).get("nodeName") != (new.get("spec") or {}).get("nodeName")
        ):
            self._pod_changed(new)

    def _pod_deleted(self, pod: Obj) -> None:
        m = pod["metadata"]
        key = f"{m.get('namespace', '')}/{m['name']}"
        self._terminated.pop(key, None)
        self._terminating.pop(key, None)
        prev = self._pod_node.pop(key, None)
        if prev:
            self._unbind(prev, key)

    def _unbind(self, node: str, key: str) -> None:
        keys = self._bound.get(node)
        if keys is not None:
            keys.pop(key, None)
            if not keys:
                del self._bound[node]
                self._unknown.pop(node, None)

    def _node_added(self, node: Obj) -> None:
        self._unknown.pop(node["metadata"]["name"], None)

    def _node_deleted(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        if name in self._bound and self.node_informer.get(name) is None:
            self._unknown[name] = None

    def _pods(self, keys: Any) -> list[Obj]:
        """The cached pods for ``keys`` oldest first (ByCreationTimestamp, ties by name)."""
        get = self.pod_informer.get_by_key
        pods = [p for k in keys if (p := get(k)) is not None]
        pods.sort(key=lambda p: u.sort_key_created(self.loop, p))
        return pods

    # -- the periodic pass ------------------------------------------------------------------
    def gc(self) -> None:
        terminating = self._pods(self._terminating) if self._terminating else []
        if self.terminated_pod_threshold > 0:
            self._gc_terminated()
        self._gc_terminating(terminating)
        self._gc_orphaned()
        self._gc_unscheduled_terminating(terminating)

    def _gc_terminated(self) -> None:
        count = len(self._terminated) - self.terminated_pod_threshold
        if count <= 0:
            return
        terminated = self._pods(self._terminated)

        def evicted(p: Obj) -> bool:
            st = p.get("status") or {}
            return st.get("phase") == "Failed" and st.get("reason") == "Evicted"

        terminated.sort(key=lambda p: (not evicted(p), *u.sort_key_created(self.loop, p)))
        for p in terminated[:count]:
            self._delete(p)

    def _gc_terminating(self, pods: list[Obj]) -> None:
        for p in pods:
            if not p["metadata"].get("deletionTimestamp"):
                continue
            node = self.node_informer.get((p.get("spec") or {}).get("nodeName") or "")
            if node is None or u.get_condition(node.get("status"), "Ready") is None:
                continue
            if (u.get_condition(node.get("status"), "Ready") or {}).get("status") == "True":
                continue
            if any(t.get("key") == OUT_OF_SERVICE for t in (node.get("spec") or {}).get("taints") or []):
                self._mark_failed_and_delete(p, None)

    def _gc_orphaned(self) -> None:
        now = self.loop.now
        missing = self._unknown  # bound to a node the cache does not hold
        for n in list(self._missing_since):
            if n not in missing:
                del self._missing_since[n]
        deleted: set[str] = set()
        for n in sorted(missing):
            since = self._missing_since.setdefault(n, now)
            if now - since >= QUARANTINE_TIME and self.client.get_or_none("nodes", n) is None:
                deleted.add(n)
        if not deleted:
            return
        cond = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                "message": "PodGC: node no longer exists"}  # fmt: skip
        for p in self._pods([k for n in deleted for k in self._bound.get(n, ())]):
            self._mark_failed_and_delete(p, cond)

    def _gc_unscheduled_terminating(self, pods: list[Obj]) -> None:
        for p in pods:
            if p["metadata"].get("deletionTimestamp") and not (p.get("spec") or {}).get("nodeName"):
                self._mark_failed_and_delete(p, None)

    def _mark_failed_and_delete(self, pod: Obj, cond: Obj | None) -> None:
        st = pod.get("status") or {}
        if st.get("phase") not in ("Succeeded", "Failed"):
            new = deep_copy(pod)
            nst = new.setdefault("status", {})
            nst["phase"] = "Failed"
            if cond is not None:
                c = dict(cond, lastProbeTime=None, lastTransitionTime=self.loop.timestamp())
                nst["conditions"] = [x for x in nst.get("conditions") or [] if x.get("type") != c["type"]] + [c]
            try:
                self.client.update_status(new)
            except ApiError as e:
                if e.code == 404:
                    return
        self._delete(pod)

    def _delete(self, pod: Obj) -> None:
        m = pod["metadata"]
        try:
            self.client.delete("pods", m["name"], m["namespace"], grace_period_seconds=0,
                               preconditions={"uid": m["uid"]})  # fmt: skip
        except ApiError as e:
            if e.code not in (404, 409):
                raise
