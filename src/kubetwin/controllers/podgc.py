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

from kubetwin.api.errors import ApiError
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

    def start(self) -> None:
        self.pod_informer = self.informers.get("pods")
        self.node_informer = self.informers.get("nodes")
        self._timer = self.loop.every(GC_CHECK_PERIOD, self.gc, self.priority, "podgc")

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def reconcile(self, key: str) -> float | None:
        return None

    def gc(self) -> None:
        pods = sorted(self.pod_informer.list(), key=lambda p: u.sort_key_created(self.loop, p))
        if self.terminated_pod_threshold > 0:
            self._gc_terminated(pods)
        self._gc_terminating(pods)
        self._gc_orphaned(pods)
        self._gc_unscheduled_terminating(pods)

    def _gc_terminated(self, pods: list[Obj]) -> None:
        terminated = [p for p in pods if (p.get("status") or {}).get("phase") in ("Succeeded", "Failed")]
        count = len(terminated) - self.terminated_pod_threshold
        if count <= 0:
            return

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

    def _gc_orphaned(self, pods: list[Obj]) -> None:
        now = self.loop.now
        present = set(self.node_informer.keys())
        bound = {n for p in pods if (n := (p.get("spec") or {}).get("nodeName"))}
        for n in list(self._missing_since):
            if n in present or n not in bound:
                del self._missing_since[n]
        deleted: set[str] = set()
        for n in sorted(bound - present):
            since = self._missing_since.setdefault(n, now)
            if now - since >= QUARANTINE_TIME and self.client.get_or_none("nodes", n) is None:
                deleted.add(n)
        if not deleted:
            return
        cond = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                "message": "PodGC: node no longer exists"}  # fmt: skip
        for p in pods:
            if (p.get("spec") or {}).get("nodeName") in deleted:
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
