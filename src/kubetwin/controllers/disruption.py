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
"""

from __future__ import annotations

from typing import Any

from kubetwin.api import kinds
from kubetwin.api.errors import ApiError
from kubetwin.api.resources import is_pod_ready
from kubetwin.client.controller import Controller
from kubetwin.controllers import _util as u
from kubetwin.store.copy import deep_copy

Obj = dict[str, Any]

DELETION_TIMEOUT = 120.0


class _SyncError(Exception):
    pass


class DisruptionController(Controller):
    name = "disruption-controller"

    def start(self) -> None:
        self.pdb_informer = self.informers.get("poddisruptionbudgets.policy")
        self.pod_informer = self.informers.get("pods")
        self.rs_informer = self.informers.get("replicasets.apps")
        self.d_informer = self.informers.get("deployments.apps")
        self.sts_informer = self.informers.get("statefulsets.apps")
        self.pdb_informer.add_handler(self.enqueue, lambda o, n: self.enqueue(n), None)
        self.pod_informer.add_handler(self._pod_event, self._pod_updated, self._pod_event)
        for inf in (self.rs_informer, self.d_informer, self.sts_informer):
            inf.add_handler(self._scale_event, lambda o, n: self._scale_changed(o, n), self._scale_event)

    def _pod_event(self, pod: Obj) -> None:
        lbls = u.labels_of(pod)
        for pdb in self.pdb_informer.list(pod["metadata"].get("namespace") or None):
            if u.selector_of(pdb).matches(lbls):
                self.enqueue(pdb)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if u.labels_of(old) != u.labels_of(new):
            self._pod_event(old)
        self._pod_event(new)

    def _scale_event(self, obj: Obj) -> None:
        for pdb in self.pdb_informer.list(obj["metadata"].get("namespace") or None):
            self.enqueue(pdb)

    def _scale_changed(self, old: Obj, new: Obj) -> None:
        if (old.get("spec") or {}).get("replicas") != (new.get("spec") or {}).get("replicas"):
            self._scale_event(new)

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
        obj = self.client.get_or_none(info.resource, name, ns)
        if obj is None or obj["metadata"].get("uid") != uid:
            return None
        return obj["metadata"]["uid"], _replicas(obj)

    def _expected_scale(self, pods: list[Obj]) -> tuple[int, list[str]]:
        scale: dict[str, int] = {}
        seen: set[str] = set()
        unmanaged: list[str] = []
        for pod in pods:
            ref = next((r for r in pod["metadata"].get("ownerReferences") or [] if r.get("controller") is True), None)
            if ref is None:
                unmanaged.append(pod["metadata"]["name"])
                continue
            if ref.get("uid") in seen:
                continue
            found = self._find(ref, pod["metadata"]["namespace"])
            if found is None:
                raise _SyncError(f'found no controllers for pod "{pod["metadata"]["name"]}"')
            seen.add(str(ref.get("uid")))
            scale[found[0]] = found[1]
        return sum(scale.values()), unmanaged

    # -- sync -------------------------------------------------------------------------------
    def reconcile(self, key: str) -> float | None:
        pdb = self.pdb_informer.get_by_key(key)
        if pdb is None:
            return None
        sel = u.selector_of(pdb)
        pods = [p for p in self.pod_informer.list(pdb["metadata"].get("namespace", "")) if sel.matches(u.labels_of(p))]
        pods.sort(key=lambda p: p["metadata"]["name"])
        if not pods:
            self.recorder.normal(pdb, "NoPods", "No matching pods found")
        spec = pdb.get("spec") or {}
        try:
            expected, desired, unmanaged = self._expected_count(spec, pods)
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
        disrupted, recheck = self._disrupted_pods(pdb, pods, now)
        healthy = 0
        for p in pods:
            if p["metadata"].get("deletionTimestamp"):
                continue
            t = disrupted.get(p["metadata"]["name"])
            if t is not None and (u.ts(self.loop, t) or 0) + DELETION_TIMEOUT > now:
                continue
            if is_pod_ready(p):
                healthy += 1
        self._update_status(pdb, healthy, desired, expected, disrupted)
        return None if recheck is None else max(recheck - now, 0.001)

    def _expected_count(self, spec: Obj, pods: list[Obj]) -> tuple[int, int, list[str]]:
        if spec.get("maxUnavailable") is not None:
            expected, unmanaged = self._expected_scale(pods)
            max_unavailable = u.scaled_value(spec["maxUnavailable"], expected, True)
            return expected, max(expected - max_unavailable, 0), unmanaged
        min_available = spec.get("minAvailable")
        if isinstance(min_available, str) and min_available.endswith("%"):
            expected, unmanaged = self._expected_scale(pods)
            return expected, u.scaled_value(min_available, expected, True), unmanaged
        if min_available is not None:
            return len(pods), u.scaled_value(min_available, len(pods), True), []
        return len(pods), 0, []

    def _disrupted_pods(self, pdb: Obj, pods: list[Obj], now: float) -> tuple[dict[str, str], float | None]:
        disrupted = (pdb.get("status") or {}).get("disruptedPods") or {}
        out: dict[str, str] = {}
        recheck: float | None = None
        for p in pods:
            if p["metadata"].get("deletionTimestamp"):
                continue
            t = disrupted.get(p["metadata"]["name"])
            if t is None:
                continue
            expected_deletion = (u.ts(self.loop, t) or 0) + DELETION_TIMEOUT
            if expected_deletion < now:
                ns = pdb["metadata"]["namespace"]
                self.recorder.warning(p, "NotDeleted",
                                      f"Pod was expected by PDB {ns}/{pdb['metadata']['name']} to be deleted but it wasn't")  # fmt: skip
            else:
                recheck = expected_deletion if recheck is None else min(recheck, expected_deletion)
                out[p["metadata"]["name"]] = t
        return out, recheck

    def _update_status(self, pdb: Obj, healthy: int, desired: int, expected: int, disrupted: dict[str, str]) -> None:
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
            new = deep_copy(pdb)
            new["status"] = status
            self.client.update_status(new)

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
