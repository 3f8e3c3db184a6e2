"""VPA recommender (kubernetes/autoscaler vertical-pod-autoscaler/pkg/recommender: routines/
recommender.go RunOnce, input/cluster_feeder.go LoadVPAs/LoadPods/LoadRealTimeMetrics,
input/oom/observer.go, logic/recommender.go, model/vpa.go UpdateConditions).

Every ``--recommender-interval`` (1 min, first run one interval after start) for every
VerticalPodAutoscaler: the target's selector picks the pods (a target that cannot be read sets
``ConfigUnsupported``); per-container usage of the Running ones comes from ``client.metrics``
(``get_container_usage``: the ``ContainerMetricsClient`` seam) and goes into the model
(:mod:`~kubetwin.controllers.vpa.model`): a CPU sample weighted by the request and a memory sample
for the interval's peak. OOM kills (a restart with ``lastState.terminated.reason: OOMKilled``) are
recorded when the pod update is seen, with the container's memory request, as the OOM observer
does (processed at once rather than on the next run, so the OOM's time is never older than the
last usage sample of the container). Then each VPA's containers with samples get
``status.recommendation.containerRecommendations`` (target, lowerBound, upperBound capped to the
container policy's minAllowed/maxAllowed, uncappedTarget), and the conditions
``RecommendationProvided`` / ``NoPodsMatched``. Containers whose policy mode is Off get none;
``controlledResources`` filters the resources. Checkpoints are not written (one process keeps the
histograms); the state of a deleted VPA is dropped.
"""

from __future__ import annotations

from typing import Any

from kubetwin.api.errors import ApiError
from kubetwin.api.selectors import LabelSelector
from kubetwin.client import Client, Controller, InformerFactory
from kubetwin.client.metrics import ContainerMetricsClient
from kubetwin.controllers.vpa import model
from kubetwin.controllers.vpa import util as vu
from kubetwin.store.copy import deep_copy

Obj = dict[str, Any]

RECOMMENDER_INTERVAL = 60.0  # --recommender-interval
OOM_KILLED = "OOMKilled"


def _set_condition(conds: list[Obj], type_: str, status: bool, reason: str, message: str, now: str) -> None:
    """vpaConditionsMap.Set: lastTransitionTime moves only when the status changes."""
    st = "True" if status else "False"
    for c in conds:
        if c.get("type") == type_:
            if c.get("status") != st:
                c["lastTransitionTime"] = now
            c["status"] = st
            _reason_message(c, reason, message)
            return
    c = {"type": type_, "status": st, "lastTransitionTime": now}
    _reason_message(c, reason, message)
    conds.append(c)


def _reason_message(c: Obj, reason: str, message: str) -> None:
    for key, value in (("reason", reason), ("message", message)):
        if value:
            c[key] = value
        else:
            c.pop(key, None)


class VPARecommender(Controller):
    name = "vpa-recommender"

    def __init__(
        self,
        client: Client,
        informers: InformerFactory,
        *,
        interval: float = RECOMMENDER_INTERVAL,
        config: model.RecommenderConfig = model.DEFAULT_CONFIG,
    ) -> None:
        super().__init__(client, informers)
        self.vpas = informers.get(vu.VPA_RESOURCE)
        self.pods = informers.get("pods")
        self.interval = interval
        self.config = config
        # vpa key -> container name -> aggregate; (vpa key, pod uid, container) -> container state
        self.aggregates: dict[str, dict[str, model.AggregateContainerState]] = {}
        self.containers: dict[tuple[str, str, str], model.ContainerState] = {}
        self.pod_vpas: dict[str, set[str]] = {}
        self.containers_per_pod: dict[str, int] = {}
        self.runs = 0
        self._timer: Any = None

    def start(self) -> None:
        self.pods.add_handler(None, self._pod_updated, None)
        self.vpas.add_handler(None, None, self._vpa_deleted)
        self._timer = self.loop.every(self.interval, self.run_once, self.priority, "vpa:recommender")

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _get(self, resource: str, namespace: str, name: str) -> Obj | None:
        return self.client.registry.store.get(resource, namespace, name)

    # -- OOM observer -----------------------------------------------------------------------------
    def _pod_updated(self, old: Obj, new: Obj) -> None:
        uid = new["metadata"].get("uid", "")
        keys = self.pod_vpas.get(uid)
        if not keys:
            return
        old_status = {s.get("name"): s for s in (old.get("status") or {}).get("containerStatuses") or []}
        specs = {c.get("name"): c for c in (old.get("spec") or {}).get("containers") or []}
        for cs in (new.get("status") or {}).get("containerStatuses") or []:
            term = (cs.get("lastState") or {}).get("terminated") or {}
            if int(cs.get("restartCount") or 0) <= 0 or term.get("reason") != OOM_KILLED:
                continue
            prev = old_status.get(cs.get("name"))
            if prev is None or int(cs.get("restartCount") or 0) <= int(prev.get("restartCount") or 0):
                continue
            spec = specs.get(cs.get("name"))
            if spec is None:
                continue
            req = ((spec.get("resources") or {}).get("requests") or {}).get("memory")
            memory = vu.amount("memory", req) if req is not None else 0
            finished = term.get("finishedAt")
            at = self.loop.parse_timestamp(finished) if isinstance(finished, str) else self.loop.now
            for key in keys:
                state = self.containers.get((key, uid, cs.get("name", "")))
                if state is not None:
                    state.record_oom(at, memory, self.config)

    def _vpa_deleted(self, vpa: Obj) -> None:
        key = vu.vpa_key(vpa)
        self.aggregates.pop(key, None)
        self.containers_per_pod.pop(key, None)
        for k in [k for k in self.containers if k[0] == key]:
            del self.containers[k]

    # -- the loop ---------------------------------------------------------------------------------
    def run_once(self) -> None:
        self.runs += 1
        now = self.loop.now
        metrics = self.client.metrics
        source = metrics if isinstance(metrics, ContainerMetricsClient) else None
        live: set[tuple[str, str, str]] = set()
        pod_vpas: dict[str, set[str]] = {}
        for vpa in sorted(self.vpas.list(), key=vu.vpa_key):
            key = vu.vpa_key(vpa)
            selector, problem = vu.target_selector(vpa, self._get)
            pods: list[Obj] = []
            if selector is not None:
                from kubetwin.client.metrics import select_pods

                ns = vpa["metadata"].get("namespace", "")
                pods = [p for p in select_pods(self.pods, ns, selector) if not _terminal(p)]
                for p in pods:
                    pod_vpas.setdefault(p["metadata"].get("uid", ""), set()).add(key)
                self._feed(key, ns, selector, pods, source, now, live)
            self._update_vpa(vpa, key, pods, problem)
        self.pod_vpas = pod_vpas
        for k in [k for k in self.containers if k not in live and k[1] not in pod_vpas]:
            del self.containers[k]

    def _feed(
        self,
        key: str,
        namespace: str,
        selector: LabelSelector,
        pods: list[Obj],
        source: ContainerMetricsClient | None,
        now: float,
        live: set[tuple[str, str, str]],
    ) -> None:
        aggs = self.aggregates.setdefault(key, {})
        per_pod = 0
        for p in pods:
            per_pod = max(per_pod, len((p.get("spec") or {}).get("containers") or []))
        if per_pod:
            self.containers_per_pod[key] = per_pod
        if source is None or not pods:
            return
        usage = source.get_container_usage(namespace, selector)
        for p in pods:
            name, uid = p["metadata"]["name"], p["metadata"].get("uid", "")
            containers = usage.get(name)
            if containers is None:
                continue
            for c in (p.get("spec") or {}).get("containers") or []:
                cname = c.get("name", "")
                if cname not in containers:
                    continue
                cpu, mem = containers[cname]
                ckey = (key, uid, cname)
                state = self.containers.get(ckey)
                if state is None:
                    agg = aggs.get(cname)
                    if agg is None:
                        agg = aggs[cname] = model.AggregateContainerState()
                    state = self.containers[ckey] = model.ContainerState(agg)
                live.add(ckey)
                requests = (c.get("resources") or {}).get("requests") or {}
                req_cpu = vu.amount("cpu", requests["cpu"]) if "cpu" in requests else 0
                state.add_cpu_sample(now, cpu, req_cpu)
                state.add_memory_sample(now, mem)

    def recommendation(self, vpa: Obj) -> list[Obj]:
        """The containerRecommendations for ``vpa`` from its aggregated samples (sorted by name)."""
        key = vu.vpa_key(vpa)
        aggs = self.aggregates.get(key) or {}
        per_pod = self.containers_per_pod.get(key) or len(aggs) or 1
        out: list[Obj] = []
        for cname in sorted(aggs):
            agg = aggs[cname]
            policy = vu.container_policy(cname, vpa)
            if (policy or {}).get("mode") == "Off" or agg.total_samples_count == 0:
                continue
            controlled = (policy or {}).get("controlledResources")
            if not isinstance(controlled, list):
                controlled = list(model.DEFAULT_CONTROLLED_RESOURCES)
            est = model.estimate_container(agg, per_pod, controlled, self.config)
            r = self.config.round_cpu_millicores
            target = model.as_resource_list(est.target, r)
            out.append({
                "containerName": cname,
                "target": target,
                "lowerBound": model.as_resource_list(est.lower_bound, r),
                "upperBound": model.as_resource_list(est.upper_bound, r),
                "uncappedTarget": dict(target),
            })  # fmt: skip
        capped = vu.capped_recommendation({"spec": vpa.get("spec") or {},
                                           "status": {"recommendation": {"containerRecommendations": out}}})  # fmt: skip
        for c, u in zip(capped, out, strict=True):
            c["uncappedTarget"] = u["uncappedTarget"]
        return capped

    def _update_vpa(self, vpa: Obj, key: str, pods: list[Obj], problem: str) -> None:
        status = deep_copy(vpa.get("status") or {})
        now = self.loop.timestamp()
        conds: list[Obj] = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
        if problem:
            _set_condition(conds, "ConfigUnsupported", True, "", problem, now)
        else:
            conds = [c for c in conds if c.get("type") != "ConfigUnsupported"]
        recs = self.recommendation(vpa)
        if recs:
            status["recommendation"] = {"containerRecommendations": recs}
        elif not status.get("recommendation"):
            status.pop("recommendation", None)
        has_rec = bool((status.get("recommendation") or {}).get("containerRecommendations"))
        reason = message = ""
        if pods:
            conds = [c for c in conds if c.get("type") != "NoPodsMatched"]
        else:
            reason, message = "NoPodsMatched", "No pods match this VPA object"
            _set_condition(conds, "NoPodsMatched", True, reason, message, now)
        if has_rec:
            _set_condition(conds, "RecommendationProvided", True, "", "", now)
        else:
            _set_condition(conds, "RecommendationProvided", False, reason, message, now)
        conds.sort(key=lambda c: str(c.get("type")))
        status["conditions"] = conds
        if status == (vpa.get("status") or {}):
            return
        updated = deep_copy(vpa)
        updated["status"] = status
        try:
            self.client.update_status(updated)
        except ApiError:
            self.errors += 1  # a newer VPA: the next run writes again


def _terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed") or bool(
        pod["metadata"].get("deletionTimestamp")
    )
