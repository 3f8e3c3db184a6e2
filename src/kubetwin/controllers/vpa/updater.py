"""VPA updater (kubernetes/autoscaler vertical-pod-autoscaler/pkg/updater: logic/updater.go RunOnce,
priority/update_priority_calculator.go, priority/priority_processor.go,
restriction/pods_eviction_restriction.go; config defaults). The recommendation each pod is compared
with is capped for that pod as the admission controller caps it (LimitRanges included).

Every ``--updater-interval`` (1 min) for each VPA in mode Recreate or Auto (Off and Initial are
left to the recommender and the admission plugin): its live pods (the pods whose matching VPA it
is, as the admission plugin decides) are ranked by the priority calculator and evicted through the
Eviction API (``Registry.evict``: a PodDisruptionBudget that blocks answers 429 and the pod is
skipped), as far as the eviction restriction allows.

A pod is a candidate when some container's request lies outside [lowerBound, upperBound] (a
missing request counts as outside), or when it has run for at least 12 h
(``--pod-lifetime-update-threshold``) and the summed relative difference between requests and
targets is at least 0.1 (``--min-change-priority``), or when a container was OOM-killed less than
10 min after it started (``--evict-after-oom-threshold``) and the resources would change. Pods
that scale up go first, then the larger difference. Eviction restriction per controller (the
pod's owner, e.g. its ReplicaSet): nothing when it wants fewer than ``--min-replicas`` (2, or the
VPA's ``updatePolicy.minReplicas``) replicas; otherwise a pod may go while more than
``replicas - int(replicas x 0.5)`` (``--eviction-tolerance``) are running and not yet evicted, or
one pod when the tolerance rounds to 0 and all replicas run; Pending pods always may.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubetwin.api.errors import ApiError
from kubetwin.client import Client, Controller, InformerFactory
from kubetwin.controllers.vpa import util as vu

Obj = dict[str, Any]

UPDATER_INTERVAL = 60.0  # --updater-interval
MIN_REPLICAS = 2  # --min-replicas
EVICTION_TOLERANCE = 0.5  # --eviction-tolerance
MIN_CHANGE_PRIORITY = 0.1  # --min-change-priority (DefaultUpdateThreshold)
POD_LIFETIME_UPDATE_THRESHOLD = 12 * 3600.0  # --pod-lifetime-update-threshold
EVICT_AFTER_OOM_THRESHOLD = 600.0  # --evict-after-oom-threshold
UPDATE_MODES = ("Recreate", "Auto")


@dataclass
class PodPriority:
    outside_recommended_range: bool = False
    scale_up: bool = False
    resource_diff: float = 0.0

    def sort_key(self) -> tuple[bool, float]:
        return self.scale_up, self.resource_diff


def _milli(resource: str, value: Any) -> int:
    """Quantity.MilliValue (the priority calculator sums milli-values for every resource)."""
    from kubetwin.api.quantity import parse_quantity

    return parse_quantity(value).milli_value()


def pod_priority(
    pod: Obj,
    vpa: Obj,
    now: float,
    parse: Callable[[str], float],
    limit_ranges: tuple[vu.LimitRangeItem | None, vu.LimitRangeItem | None] = (None, None),
) -> PodPriority | None:
    """UpdatePriorityCalculator.AddPod: the pod's priority, or None when it should not be updated.
    ``parse`` turns an RFC 3339 timestamp into virtual seconds; ``limit_ranges`` are the namespace's
    (Container, Pod) LimitRange items the recommendation is capped with, as for admission."""
    recs = {r.get("containerName"): r for r in vu.capped_recommendation(vpa, pod, *limit_ranges)}
    ann = (pod["metadata"].get("annotations") or {}).get(vu.ANN_OBSERVED_CONTAINERS)
    observed = None if ann is None else {n.strip() for n in ann.split(",") if n.strip()}
    total_request: dict[str, int] = {}
    total_recommended: dict[str, int] = {}
    outside = False
    quick_oom = False
    statuses = {s.get("name"): s for s in (pod.get("status") or {}).get("containerStatuses") or []}
    for c in (pod.get("spec") or {}).get("containers") or []:
        name = c.get("name")
        if observed is not None and name not in observed:
            continue
        rec = recs.get(name)
        if rec is None:
            continue
        requests = (c.get("resources") or {}).get("requests") or {}
        for res, target in (rec.get("target") or {}).items():
            total_recommended[res] = total_recommended.get(res, 0) + _milli(res, target)
            lower = (rec.get("lowerBound") or {}).get(res)
            upper = (rec.get("upperBound") or {}).get(res)
            if res in requests:
                req = _milli(res, requests[res])
                total_request[res] = total_request.get(res, 0) + req
                if (lower is not None and req < _milli(res, lower)) or (
                    upper is not None and req > _milli(res, upper)
                ):
                    outside = True
            else:
                outside = True
        term = (statuses.get(name) or {}).get("lastState", {}).get("terminated") or {}
        if term.get("reason") == "OOMKilled" and term.get("startedAt") and term.get("finishedAt"):
            if parse(term["finishedAt"]) - parse(term["startedAt"]) < EVICT_AFTER_OOM_THRESHOLD:
                quick_oom = True
    prio = PodPriority(outside_recommended_range=outside)
    for res, recommended in total_recommended.items():
        request = max(float(total_request.get(res, 0)), 1.0)
        prio.resource_diff += abs(request - recommended) / request
        if recommended > request:
            prio.scale_up = True
    if not outside and not quick_oom:
        st = (pod.get("status") or {}).get("startTime")
        if not isinstance(st, str) or not st:
            return None
        if now < parse(st) + POD_LIFETIME_UPDATE_THRESHOLD:
            return None  # a short-lived pod within the recommended range
        if prio.resource_diff < MIN_CHANGE_PRIORITY:
            return None
    if quick_oom and prio.resource_diff == 0:
        return None
    return prio


class _GroupStats:
    __slots__ = ("configured", "tolerance", "running", "evicted")

    def __init__(self, configured: int, tolerance: int, running: int) -> None:
        self.configured = configured
        self.tolerance = tolerance
        self.running = running
        self.evicted = 0


class EvictionRestriction:
    """PodsEvictionRestriction for one VPA's live pods."""

    def __init__(self, pods: list[Obj], replicas_of: dict[tuple[str, str], int], min_replicas: int,
                 tolerance_fraction: float = EVICTION_TOLERANCE) -> None:  # fmt: skip
        self.pod_group: dict[str, tuple[str, str]] = {}
        self.groups: dict[tuple[str, str], _GroupStats] = {}
        by_owner: dict[tuple[str, str], list[Obj]] = {}
        for p in pods:
            ref = vu.controller_ref(p)
            if ref is None:
                continue
            by_owner.setdefault((ref.get("kind") or "", ref.get("name") or ""), []).append(p)
        for owner, members in by_owner.items():
            configured = replicas_of.get(owner)
            if configured is None or configured < min_replicas or configured == 0:
                continue  # too few replicas: none of these pods may be evicted
            pending = sum(1 for p in members if (p.get("status") or {}).get("phase") == "Pending")
            self.groups[owner] = _GroupStats(
                configured, int(configured * tolerance_fraction), len(members) - pending
            )
            for p in members:
                self.pod_group[p["metadata"]["name"]] = owner

    def can_evict(self, pod: Obj) -> bool:
        owner = self.pod_group.get(pod["metadata"]["name"])
        if owner is None:
            return False
        if (pod.get("status") or {}).get("phase") == "Pending":
            return True
        g = self.groups[owner]
        should_be_alive = g.configured - g.tolerance
        actually_alive = g.running - g.evicted
        if actually_alive > should_be_alive:
            return True
        # all pods running and the tolerance rounds to 0: one pod may go
        return g.running == g.configured and g.tolerance == 0 and g.evicted == 0

    def evicted(self, pod: Obj) -> None:
        owner = self.pod_group.get(pod["metadata"]["name"])
        if owner is not None:
            self.groups[owner].evicted += 1


class VPAUpdater(Controller):
    name = "vpa-updater"

    def __init__(self, client: Client, informers: InformerFactory, *, interval: float = UPDATER_INTERVAL,
                 min_replicas: int = MIN_REPLICAS) -> None:  # fmt: skip
        super().__init__(client, informers)
        self.vpas = informers.get(vu.VPA_RESOURCE)
        self.pods = informers.get("pods")
        self.interval = interval
        self.min_replicas = min_replicas
        self.evictions = 0
        self._timer: Any = None

    def start(self) -> None:
        self._timer = self.loop.every(self.interval, self.run_once, self.priority, "vpa:updater")

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _get(self, resource: str, namespace: str, name: str) -> Obj | None:
        return self.client.registry.store.get(resource, namespace, name)

    def _replicas(self, namespace: str, kind: str, name: str) -> int | None:
        resource = vu._resource_for("", kind) if kind else None
        obj = self._get(resource, namespace, name) if resource else None
        if obj is None:
            return None
        if kind == "DaemonSet":
            return int((obj.get("status") or {}).get("desiredNumberScheduled") or 0)
        if kind == "Job":
            return int((obj.get("spec") or {}).get("parallelism") or 1)
        replicas = (obj.get("spec") or {}).get("replicas")
        return 1 if replicas is None else int(replicas)

    def run_once(self) -> None:
        now = self.loop.now
        vpas = [v for v in sorted(self.vpas.list(), key=vu.vpa_key) if vu.update_mode(v) in UPDATE_MODES]
        if not vpas:
            return
        by_ns: dict[str, list[Obj]] = {}
        for v in vpas:
            by_ns.setdefault(v["metadata"].get("namespace", ""), []).append(v)
        controlled: dict[str, list[Obj]] = {}
        for ns, ns_vpas in by_ns.items():
            for pod in self.pods.list(ns):
                if pod["metadata"].get("deletionTimestamp"):
                    continue
                vpa = vu.matching_vpa(pod, ns_vpas, self._get)
                if vpa is not None:
                    controlled.setdefault(vu.vpa_key(vpa), []).append(pod)
        for vpa in vpas:
            live = controlled.get(vu.vpa_key(vpa)) or []
            if not live:
                continue
            ns = vpa["metadata"].get("namespace", "")
            min_replicas = ((vpa.get("spec") or {}).get("updatePolicy") or {}).get(
                "minReplicas"
            ) or self.min_replicas
            owners = {(r.get("kind") or "", r.get("name") or "") for p in live if (r := vu.controller_ref(p))}
            replicas = {o: n for o in owners if (n := self._replicas(ns, *o)) is not None}
            restriction = EvictionRestriction(live, replicas, int(min_replicas))
            limit_ranges = vu.limit_range_items(self.client.registry.store.iter("limitranges", ns))
            ranked: list[tuple[PodPriority, Obj]] = []
            for pod in live:
                if not restriction.can_evict(pod):
                    continue
                prio = pod_priority(pod, vpa, now, self.loop.parse_timestamp, limit_ranges)
                if prio is not None:
                    ranked.append((prio, pod))
            ranked.sort(key=lambda t: t[0].sort_key(), reverse=True)
            for _, pod in ranked:
                if not restriction.can_evict(pod):
                    continue
                name = pod["metadata"]["name"]
                try:
                    self.client.registry.evict(ns, name)
                except ApiError:
                    continue  # 429: a PodDisruptionBudget said no; or the pod is gone
                restriction.evicted(pod)
                self.evictions += 1
                self.recorder.normal(
                    pod, "EvictedByVPA", "Pod was evicted by VPA Updater to apply resource recommendation."
                )
                self.recorder.normal(
                    vpa, "EvictedPod", f"VPA Updater evicted Pod {name} to apply resource recommendation."
                )
