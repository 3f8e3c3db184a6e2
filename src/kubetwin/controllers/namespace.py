"""Namespace deletion (pkg/controller/namespace/namespace_controller.go,
deletion/namespaced_resources_deleter.go, deletion/status_condition_utils.go).

When a Namespace has a deletionTimestamp and still carries the ``kubernetes`` finalizer: every
object of every namespaced kind in it is deleted (propagation Background); what remains is counted
and reported in the five upstream conditions (NamespaceDeletionDiscoveryFailure,
NamespaceDeletionGroupVersionParsingFailure, NamespaceDeletionContentFailure,
NamespaceContentRemaining, NamespaceFinalizersRemaining). While content remains the namespace is
looked at again after ``estimate / 2 + 1`` seconds, the estimate being the largest
terminationGracePeriodSeconds of the remaining non-terminal pods, or 15 s when only finalizers
hold content. Once empty, ``kubernetes`` is removed through ``namespaces/finalize`` and the
registry deletes the namespace.
"""

from __future__ import annotations

from typing import Any

from kubetwin.api import kinds
from kubetwin.api.errors import ApiError
from kubetwin.client.controller import Controller
from kubetwin.controllers import _util as u
from kubetwin.store.copy import deep_copy

Obj = dict[str, Any]

FINALIZER_KUBERNETES = "kubernetes"
FINALIZER_ESTIMATE_SECONDS = 15


class NamespaceController(Controller):
    name = "namespace-controller"

    def start(self) -> None:
        self.ns_informer = self.informers.get("namespaces")
        self.ns_informer.add_handler(self.enqueue, lambda o, n: self.enqueue(n))

    def reconcile(self, key: str) -> float | None:
        ns = self.ns_informer.get_by_key(key)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return None
        if FINALIZER_KUBERNETES not in ((ns.get("spec") or {}).get("finalizers") or []):
            return None
        name = ns["metadata"]["name"]
        remaining: dict[str, int] = {}
        finalizers: dict[str, int] = {}
        estimate = 0
        failures: list[str] = []
        for info in kinds.all_kinds():
            if not info.namespaced:
                continue
            items = self.client.registry.list(info.resource, name, copy=False)["items"]
            for obj in items:
                if obj["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    self.client.delete(info.resource, obj["metadata"]["name"], name, propagation_policy="Background")
                except ApiError as e:
                    if e.code not in (404, 409):
                        failures.append(e.message)
            left = self.client.registry.list(info.resource, name, copy=False)["items"]
            if not left:
                continue
            remaining[f"{info.plural}.{info.group}"] = len(left)
            for obj in left:
                for f in obj["metadata"].get("finalizers") or []:
                    finalizers[f] = finalizers.get(f, 0) + 1
                if info.kind == "Pod" and (obj.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                    grace = (obj.get("spec") or {}).get("terminationGracePeriodSeconds")
                    if grace is not None:
                        estimate = max(estimate, int(grace))
        self._set_conditions(ns, remaining, finalizers, failures)
        if remaining or failures:
            if estimate == 0:
                estimate = FINALIZER_ESTIMATE_SECONDS
            return float(estimate // 2 + 1)
        cur = self.client.get("namespaces", name)
        cur["spec"]["finalizers"] = [f for f in cur["spec"].get("finalizers") or [] if f != FINALIZER_KUBERNETES]
        self.client.update(cur, subresource="finalize")
        return None

    def _set_conditions(self, ns: Obj, remaining: dict[str, int], finalizers: dict[str, int],
                        failures: list[str]) -> None:  # fmt: skip
        want: list[tuple[str, str, str, str]] = [
            ("NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered", "All resources successfully discovered"),
            ("NamespaceDeletionGroupVersionParsingFailure", "False", "ParsedGroupVersions",
             "All legacy kube types successfully parsed"),
        ]  # fmt: skip
        if failures:
            want.append(("NamespaceDeletionContentFailure", "True", "ContentDeletionFailed",
                         "Failed to delete all resource types, " + str(len(failures)) + " remaining: "
                         + ", ".join(sorted(set(failures)))))  # fmt: skip
        else:
            want.append(("NamespaceDeletionContentFailure", "False", "ContentDeleted",
                         "All content successfully deleted, may be waiting on finalization"))  # fmt: skip
        if remaining:
            parts = ", ".join(f"{r} has {n} resource instances" for r, n in sorted(remaining.items()))
            want.append(("NamespaceContentRemaining", "True", "SomeResourcesRemain",
                         f"Some resources are remaining: {parts}"))  # fmt: skip
        else:
            want.append(("NamespaceContentRemaining", "False", "ContentRemoved", "All content successfully removed"))
        if finalizers:
            parts = ", ".join(f"{f} in {n} resource instances" for f, n in sorted(finalizers.items()))
            want.append(("NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain",
                         f"Some content in the namespace has finalizers remaining: {parts}"))  # fmt: skip
        else:
            want.append(("NamespaceFinalizersRemaining", "False", "ContentHasNoFinalizers",
                         "All content-preserving finalizers finished"))  # fmt: skip
        cur = deep_copy(self.client.get("namespaces", ns["metadata"]["name"]))
        status = cur.setdefault("status", {})
        conds: list[Obj] = list(status.get("conditions") or [])
        now = self.loop.timestamp()
        for type_, st, reason, msg in want:
            old = u.get_condition(status, type_)
            if old is not None and (old.get("status"), old.get("reason"), old.get("message")) == (st, reason, msg):
                continue
            conds = [c for c in conds if c.get("type") != type_]
            conds.append({"type": type_, "status": st, "lastTransitionTime": now, "reason": reason, "message": msg})
        if conds != (status.get("conditions") or []):
            status["conditions"] = conds
            self.client.update_status(cur)
