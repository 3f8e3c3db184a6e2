"""DaemonSet controller (pkg/controller/daemon/daemon_controller.go, update.go;
pkg/controller/daemon/util/daemonset_util.go).

- A node should run a daemon pod when the pod (with the automatic DaemonSet tolerations) fits its
  nodeSelector / required node affinity and tolerates its NoSchedule and NoExecute taints; a pod may
  keep running while it still fits and tolerates the NoExecute taints.
- Failed daemon pods are deleted without upstream's per-node back-off; the replacement follows on
  the next sync.
- Pods are created unscheduled with a required node affinity ``matchFields metadata.name In
  [<node>]`` (the scheduler binds them), labels ``controller-revision-hash`` and
  ``pod-template-generation``, slow-start batches (burst 250). Failed daemon pods are deleted
  (``FailedDaemonPod`` warning); duplicates keep the oldest.
- RollingUpdate with maxSurge 0: old pods are deleted while at most ``maxUnavailable`` (rounded up
  from a percentage of desiredNumberScheduled) are unavailable; unavailable old pods go first.
  OnDelete only replaces pods that are deleted. ``maxSurge`` > 0 is treated as surge 0 (not modeled).
- Status: desiredNumberScheduled, currentNumberScheduled, numberMisscheduled, numberReady,
  numberAvailable, numberUnavailable, updatedNumberScheduled, observedGeneration.
ControllerRevision objects are not written; the revision hash lives in the pod label only.
"""

from __future__ import annotations

from typing import Any

from kubetwin.api.errors import ApiError
from kubetwin.api.nodestatus import heartbeat_only
from kubetwin.api.resources import is_pod_ready, tolerates
from kubetwin.api.selectors import required_node_affinity_matches
from kubetwin.client.controller import Controller
from kubetwin.controllers import _util as u
from kubetwin.controllers._refmanager import claim
from kubetwin.controllers.replicaset import pod_from_template
from kubetwin.store.copy import deep_copy

Obj = dict[str, Any]

BURST_REPLICAS = 250
TEMPLATE_GENERATION = "pod-template-generation"

_AUTO_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)
NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"


def add_daemon_tolerations(spec: Obj) -> None:
    """AddOrUpdateDaemonPodTolerations (Exists, no tolerationSeconds)."""
    tols: list[Obj] = list(spec.get("tolerations") or [])
    wanted = list(_AUTO_TOLERATIONS)
    if spec.get("hostNetwork"):
        wanted.append((NETWORK_UNAVAILABLE, "NoSchedule"))
    for key, effect in wanted:
        tols = [t for t in tols if not (t.get("key") == key and t.get("effect") == effect)]
        tols.append({"key": key, "operator": "Exists", "effect": effect})
    spec["tolerations"] = tols


def replace_node_name_affinity(spec: Obj, node: str) -> None:
    """ReplaceDaemonSetPodNodeNameNodeAffinity."""
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
    aff = spec.setdefault("affinity", {}) or {}
    spec["affinity"] = aff
    na = aff.setdefault("nodeAffinity", {}) or {}
    aff["nodeAffinity"] = na
    req = na.get("requiredDuringSchedulingIgnoredDuringExecution")
    if req is None:
        na["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}
    else:
        req["nodeSelectorTerms"] = [term]


def target_node(pod: Obj) -> str | None:
    """util.GetTargetNodeName: spec.nodeName, else the metadata.name matchFields affinity."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    req = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
           .get("requiredDuringSchedulingIgnoredDuringExecution") or {})  # fmt: skip
    for term in req.get("nodeSelectorTerms") or []:
        for f in term.get("matchFields") or []:
            if f.get("key") == "metadata.name" and f.get("operator") == "In" and len(f.get("values") or []) == 1:
                return str(f["values"][0])
    return None


def node_should_run(ds: Obj, node: Obj) -> tuple[bool, bool]:
    """(shouldRun, shouldContinueRunning) — NodeShouldRunDaemonPod."""
    spec = deep_copy(((ds.get("spec") or {}).get("template") or {}).get("spec") or {})
    add_daemon_tolerations(spec)
    if spec.get("nodeName") and spec["nodeName"] != node["metadata"]["name"]:
        return False, False
    if not required_node_affinity_matches({"spec": spec}, node):
        return False, False
    taints = (node.get("spec") or {}).get("taints") or []
    tols = spec.get("tolerations") or []
    fits = all(tolerates(tols, t) for t in taints if t.get("effect") in ("NoSchedule", "NoExecute"))
    keep = all(tolerates(tols, t) for t in taints if t.get("effect") == "NoExecute")
    return fits, keep


class DaemonSetController(Controller):
    name = "daemonset-controller"

    def start(self) -> None:
        self.ds_informer = self.informers.get("daemonsets.apps")
        self.pod_informer = self.informers.get("pods")
        self.node_informer = self.informers.get("nodes")
        u.ensure_controller_index(self.pod_informer)
        self.ds_informer.add_handler(self._owner_event, lambda o, n: self.enqueue(n), self._owner_event)
        self.pod_informer.add_handler(self._pod_event, self._pod_updated, self._pod_event)
        u.pod_updates_while_owners(self.pod_informer, self.ds_informer, self._pod_updated)
        # a heartbeat is ignored (node_update_ignorable), without asking
        self.node_informer.add_handler(self._node_event, self._node_updated, self._node_event, ignore=heartbeat_only)

    def _owner_event(self, obj: Obj) -> None:
        """A DaemonSet added or deleted: enqueued, and pod updates followed only while DaemonSets exist."""
        self.enqueue(obj)
        u.pod_updates_while_owners(self.pod_informer, self.ds_informer, self._pod_updated)

    def _pod_updated(self, _old: Obj, new: Obj) -> None:
        """Called only while DaemonSets exist (see _owner_event): none, no pod has one to enqueue."""
        self._pod_event(new)

    def _pod_event(self, pod: Obj) -> None:
        for r in pod["metadata"].get("ownerReferences") or []:
            if r.get("controller") is True and r.get("kind") == "DaemonSet":
                ds = self.ds_informer.get(r.get("name", ""), pod["metadata"].get("namespace"))
                if ds is not None and ds["metadata"].get("uid") == r.get("uid"):
                    self.enqueue(ds)

    def _node_event(self, node: Obj) -> None:
        for ds in self.ds_informer.list():
            self.enqueue(ds)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        if not u.node_update_ignorable(old, new):  # upstream updateNode: heartbeats are ignored
            self._node_event(new)

    # -- sync -------------------------------------------------------------------------------
    def reconcile(self, key: str) -> float | None:
        ds = self.ds_informer.get_by_key(key)
        if ds is None:
            return None
        spec = ds.get("spec") or {}
        template = spec.get("template") or {}
        h = u.compute_hash(template, (ds.get("status") or {}).get("collisionCount"))
        pods = claim(self.client, ds, u.selector_of(ds), u.owned_or_orphan(self.pod_informer, ds))
        by_node: dict[str, list[Obj]] = {}
        for p in pods:
            if p["metadata"].get("deletionTimestamp"):
                continue
            n = target_node(p)
            if n is not None:
                by_node.setdefault(n, []).append(p)
        for lst in by_node.values():
            lst.sort(key=lambda p: u.sort_key_created(self.loop, p))
        nodes = sorted(self.node_informer.list(), key=lambda n: n["metadata"]["name"])
        if not ds["metadata"].get("deletionTimestamp"):
            self._manage(ds, nodes, by_node, h)
            if (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
                self._rolling_update(ds, nodes, h)
        return self._update_status(ds, nodes, h)

    def _pods_by_node(self, ds: Obj) -> dict[str, list[Obj]]:
        by_node: dict[str, list[Obj]] = {}
        uid = ds["metadata"]["uid"]
        for p in self.pod_informer.by_index(u.CONTROLLER_UID_INDEX, uid):
            if p["metadata"].get("deletionTimestamp"):
                continue
            n = target_node(p)
            if n is not None:
                by_node.setdefault(n, []).append(p)
        for lst in by_node.values():
            lst.sort(key=lambda p: u.sort_key_created(self.loop, p))
        return by_node

    def _manage(self, ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]], h: str) -> None:
        create: list[str] = []
        delete: list[Obj] = []
        for node in nodes:
            name = node["metadata"]["name"]
            run, keep = node_should_run(ds, node)
            pods = by_node.get(name, [])
            if run and not pods:
                create.append(name)
            elif keep:
                running = []
                for p in pods:
                    if (p.get("status") or {}).get("phase") == "Failed":
                        self.recorder.warning(
                            ds, "FailedDaemonPod",
                            f"Found failed daemon pod {p['metadata']['namespace']}/{p['metadata']['name']} "
                            f"on node {name}, will try to kill it",
                        )  # fmt: skip
                        delete.append(p)
                    else:
                        running.append(p)
                delete.extend(running[1:])  # keep the oldest
            elif not keep:
                delete.extend(pods)
        self._sync_nodes(ds, delete, create[:BURST_REPLICAS], h)

    def _sync_nodes(self, ds: Obj, delete: list[Obj], create: list[str], h: str) -> None:
        template = deep_copy(((ds.get("spec") or {}).get("template")) or {})
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), u.CONTROLLER_REVISION_HASH: h,
                           TEMPLATE_GENERATION: str(ds["metadata"].get("generation", 1))}  # fmt: skip
        tspec = template.setdefault("spec", {})
        add_daemon_tolerations(tspec)
        pos = 0
        for batch in u.slow_start_batches(len(create)):
            failed = False
            for node in create[pos : pos + batch]:
                t = deep_copy(template)
                replace_node_name_affinity(t["spec"], node)
                try:
                    pod = self.client.create(pod_from_template(t, ds))
                except ApiError as e:
                    if e.reason == "Forbidden" and "being terminated" in e.message:
                        return
                    self.recorder.warning(ds, "FailedCreate", f"Error creating: {e.message}")
                    failed = True
                    continue
                self.recorder.normal(ds, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")
            pos += batch
            if failed:
                break
        for p in delete:
            try:
                self.client.delete("pods", p["metadata"]["name"], p["metadata"]["namespace"])
            except ApiError as e:
                if e.code == 404:
                    continue
                self.recorder.warning(ds, "FailedDelete", f"Error deleting: {e.message}")
                continue
            self.recorder.normal(ds, "SuccessfulDelete", f"Deleted pod: {p['metadata']['name']}")

    def _rolling_update(self, ds: Obj, nodes: list[Obj], h: str) -> None:
        by_node = self._pods_by_node(ds)
        spec = ds.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds", 0) or 0)
        desired = sum(1 for n in nodes if node_should_run(ds, n)[0])
        ru = (spec.get("updateStrategy") or {}).get("rollingUpdate") or {}
        max_unavailable = u.scaled_value(ru.get("maxUnavailable", 1), desired, True)
        max_surge = u.scaled_value(ru.get("maxSurge", 0), desired, True)
        if max_unavailable == 0 and max_surge == 0:
            max_unavailable = 1
        now = self.loop.now
        num_unavailable = 0
        replace: list[Obj] = []
        candidates: list[Obj] = []
        for node in sorted(by_node):
            pods = by_node[node]
            new = [p for p in pods if u.labels_of(p).get(u.CONTROLLER_REVISION_HASH) == h]
            old = [p for p in pods if u.labels_of(p).get(u.CONTROLLER_REVISION_HASH) != h]
            if len(new) > 1 or len(old) > 1:
                num_unavailable += 1
                continue
            if (not new and not old) or (new and old):
                num_unavailable += 1
            elif new:
                if not u.is_pod_available(self.loop, new[0], min_ready, now):
                    num_unavailable += 1
            elif not u.is_pod_available(self.loop, old[0], min_ready, now):
                replace.append(old[0])
            elif num_unavailable >= max_unavailable:
                continue
            else:
                candidates.append(old[0])
        remaining = max(max_unavailable - num_unavailable, 0)
        remaining = min(remaining, len(candidates))
        victims = replace + candidates[:remaining]
        if victims:
            self._sync_nodes(ds, victims, [], h)

    def _update_status(self, ds: Obj, nodes: list[Obj], h: str) -> float | None:
        by_node = self._pods_by_node(ds)
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds", 0) or 0)
        now = self.loop.now
        desired = current = misscheduled = ready = available = updated = 0
        wait: float | None = None
        for node in nodes:
            run, _ = node_should_run(ds, node)
            pods = by_node.get(node["metadata"]["name"], [])
            if run:
                desired += 1
                if pods:
                    current += 1
                    pod = pods[0]
                    if is_pod_ready(pod):
                        ready += 1
                        if u.is_pod_available(self.loop, pod, min_ready, now):
                            available += 1
                        else:
                            w = u.available_in(self.loop, pod, min_ready, now)
                            if w is not None:
                                wait = w if wait is None else min(wait, w)
                    if u.labels_of(pod).get(u.CONTROLLER_REVISION_HASH) == h:
                        updated += 1
            elif pods:
                misscheduled += 1
        old = ds.get("status") or {}
        status: Obj = {k: v for k, v in old.items() if k in ("conditions", "collisionCount")}
        status.update(
            currentNumberScheduled=current, numberMisscheduled=misscheduled, desiredNumberScheduled=desired,
            numberReady=ready, observedGeneration=int(ds["metadata"].get("generation", 1)),
            updatedNumberScheduled=updated, numberAvailable=available,
            numberUnavailable=desired - available,
        )  # fmt: skip
        if status != old:
            new = deep_copy(ds)
            new["status"] = status
            self.client.update_status(new)
        return None if wait is None else wait + 0.001
