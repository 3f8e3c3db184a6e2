"""VPA recommender (kubernetes/autoscaler vertical-pod-autoscaler/pkg/recommender: routines/
recommender.go RunOnce, input/cluster_feeder.go LoadVPAs/LoadPods/LoadRealTimeMetrics,
input/oom/observer.go, logic/recommender.go, model/vpa.go UpdateConditions; checkpoint/
checkpoint_writer.go StoreCheckpoints; input/cluster_feeder.go InitFromCheckpoints,
GarbageCollectCheckpoints; model/cluster.go garbageCollectAggregateCollectionStates).

Every ``--recommender-interval`` (1 min, first run one interval after start) for every
VerticalPodAutoscaler: the target's selector picks the pods (a target that cannot be read sets
``ConfigUnsupported``); per-container usage of the Running ones comes from ``client.metrics``
(``get_container_usage``: the ``ContainerMetricsClient`` seam; the metrics pipeline's per-pod
``container_usage`` when it has one, for the pods already selected) and goes into the model
(:mod:`~kubetwin.controllers.vpa.model`): a CPU sample weighted by the request and a memory sample
for the interval's peak. At scale (30,000 pods sampled a minute) the feed keeps per pod what it
reads from the spec while the informer's object stays the same, adds a run's CPU samples to each
aggregate as one batch and skips the memory samples that change nothing but the last sample time,
all bitwise what the per-sample model calls give. OOM kills (a restart with
``lastState.terminated.reason: OOMKilled``) are recorded when the pod update is seen, with the
container's memory request, as the OOM observer does (processed at once rather than on the next run, so the OOM's time is never older than the
last usage sample of the container). Then each VPA's containers with samples get
``status.recommendation.containerRecommendations`` (target, lowerBound, upperBound capped to the
container policy's minAllowed/maxAllowed, uncappedTarget), and the conditions
``RecommendationProvided`` / ``NoPodsMatched``. Containers whose policy mode is Off get none;
``controlledResources`` filters the resources; the state of a deleted VPA is dropped.

Checkpoints: after each run one ``VerticalPodAutoscalerCheckpoint`` per (VPA, container name),
named ``<vpa>-<container>`` in the VPA's namespace, gets the aggregate's histograms and sample
times (:meth:`~kubetwin.controllers.vpa.model.AggregateContainerState.save_to_checkpoint`) minus
each live container's memory peak of the ongoing interval (it is re-added after a restart), VPAs
whose checkpoints are oldest first. Upstream stops after ``--checkpoints-timeout`` once
``--min-checkpoints`` are written; writes take no virtual time here, so every run writes them all
unless ``max_checkpoints_per_run`` says otherwise. On its first run the recommender restores its
model from the checkpoints of existing VPAs (a ``kubetwin serve --data-dir`` restart resumes the
recommendations where they were, up to the checkpoints' rounding). Every 10 minutes
(``--checkpoints-gc-interval``, first on the first run) checkpoints whose VPA is gone, or whose
container the VPA's model no longer has, are deleted; every hour aggregates without a sample for
8 days (the memory aggregation window) and without a live container are dropped.
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
CHECKPOINTS_GC_INTERVAL = 600.0  # --checkpoints-gc-interval
AGGREGATE_GC_INTERVAL = 3600.0  # AggregateContainerStateGCInterval
CHECKPOINT_RESOURCE = "verticalpodautoscalercheckpoints.autoscaling.k8s.io"
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


class _PodPlan:
    """A pod as the feed reads it: uid, name, whether it is terminal (Succeeded, Failed or
    deleting) or Running, and per container ``[name, cpu request (milli), CPU sample weight, ContainerState or
    None]``, valid while ``pod`` is the informer's object (a changed pod is a new object)."""

    __slots__ = ("pod", "uid", "name", "entries", "terminal", "running")

    def __init__(
        self, pod: Obj, uid: str, name: str, entries: list[list[Any]], terminal: bool, running: bool
    ) -> None:
        self.pod, self.uid, self.name, self.entries = pod, uid, name, entries
        self.terminal, self.running = terminal, running


class VPARecommender(Controller):
    name = "vpa-recommender"

    def __init__(
        self,
        client: Client,
        informers: InformerFactory,
        *,
        interval: float = RECOMMENDER_INTERVAL,
        config: model.RecommenderConfig = model.DEFAULT_CONFIG,
        checkpoints: bool = True,
        max_checkpoints_per_run: int | None = None,
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
        self._plans: dict[tuple[str, str], _PodPlan] = {}  # (vpa key, pod uid) -> the feed's view of the pod
        self.runs = 0
        self.checkpoints = checkpoints
        self.max_checkpoints_per_run = max_checkpoints_per_run
        self.checkpoints_written = 0
        self._checkpoint_written: dict[str, float] = {}  # vpa key -> when its checkpoints were written
        self._last_checkpoint_gc: float | None = None
        self._last_aggregate_gc: float | None = None
        self._restored = False
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
        self._checkpoint_written.pop(key, None)
        for k in [k for k in self.containers if k[0] == key]:
            del self.containers[k]
        for pk in [pk for pk in self._plans if pk[0] == key]:
            del self._plans[pk]

    # -- the loop ---------------------------------------------------------------------------------
    def run_once(self) -> None:
        self.runs += 1
        now = self.loop.now
        if self.checkpoints and not self._restored:
            self._restored = True
            self.init_from_checkpoints()
        metrics = self.client.metrics
        source = metrics if isinstance(metrics, ContainerMetricsClient) else None
        pod_vpas: dict[str, set[str]] = {}
        for vpa in sorted(self.vpas.list(), key=vu.vpa_key):
            key = vu.vpa_key(vpa)
            selector, problem = vu.target_selector(vpa, self._get)
            pods: list[Obj] = []
            if selector is not None:
                from kubetwin.client.metrics import select_pods

                ns = vpa["metadata"].get("namespace", "")
                cached = self._plans
                plans: list[_PodPlan] = []
                for p in select_pods(self.pods, ns, selector):
                    pl = cached.get((key, p["metadata"].get("uid", "")))
                    if pl is None or pl.pod is not p:
                        pl = self._plan(key, p)
                    if not pl.terminal:
                        plans.append(pl)
                pods = [pl.pod for pl in plans]
                for pl in plans:
                    keys = pod_vpas.get(pl.uid)
                    if keys is None:
                        pod_vpas[pl.uid] = {key}
                    else:
                        keys.add(key)
                self._feed(key, ns, selector, plans, source, now)
            self._update_vpa(vpa, key, pods, problem)
        # the states (and plans) of pods no VPA matches any more; a matched pod's are kept. Both
        # exist only for pods the last run matched, so only those that left need a look.
        gone = self.pod_vpas.keys() - pod_vpas.keys()
        self.pod_vpas = pod_vpas
        if gone:
            for k in [k for k in self.containers if k[1] in gone]:
                del self.containers[k]
            for pk in [pk for pk in self._plans if pk[1] in gone]:
                del self._plans[pk]
        if self._last_aggregate_gc is None or now - self._last_aggregate_gc > AGGREGATE_GC_INTERVAL:
            self._last_aggregate_gc = now
            self.garbage_collect_aggregates(now)
        if self.checkpoints:
            self.store_checkpoints(now)
            if self._last_checkpoint_gc is None or now - self._last_checkpoint_gc > CHECKPOINTS_GC_INTERVAL:
                self._last_checkpoint_gc = now
                self.garbage_collect_checkpoints()

    # -- checkpoints ------------------------------------------------------------------------------
    def init_from_checkpoints(self) -> int:
        """InitFromCheckpoints: each checkpoint of an existing VPA becomes that container's
        aggregate (replacing what the model had); returns how many were loaded. Checkpoints that
        cannot be read are skipped (counted in ``errors``)."""
        vpas = {vu.vpa_key(v) for v in self.vpas.list()}
        loaded = 0
        store = self.client.registry.store
        for cp in sorted(store.iter(CHECKPOINT_RESOURCE), key=lambda o: (o["metadata"].get("namespace", ""),
                                                                       o["metadata"]["name"])):  # fmt: skip
            spec = cp.get("spec") or {}
            key = f"{cp['metadata'].get('namespace', '')}/{spec.get('vpaObjectName', '')}"
            if key not in vpas or not spec.get("containerName"):
                continue  # cannot load a checkpoint of a missing VPA
            try:
                state = model.AggregateContainerState.from_checkpoint(
                    cp.get("status") or {}, self.loop.parse_timestamp
                )
            except ValueError:
                self.errors += 1
                continue
            self.aggregates.setdefault(key, {})[spec["containerName"]] = state
            loaded += 1
        return loaded

    def _open_peaks(self, now: float) -> dict[tuple[str, str], list[tuple[int, float]]]:
        """(vpa key, container name) -> (peak, window end) of each container state whose memory
        interval is still open at ``now``, in the order of ``self.containers``."""
        out: dict[tuple[str, str], list[tuple[int, float]]] = {}
        for (k, _, c), state in self.containers.items():
            window_end = state.window_end
            if window_end is not None and now < window_end:
                peak = state.memory_peak if state.memory_peak >= state.oom_peak else state.oom_peak
                out.setdefault((k, c), []).append((peak, window_end))
        return out

    def checkpoint_status(
        self,
        key: str,
        cname: str,
        now: float,
        open_peaks: dict[tuple[str, str], list[tuple[int, float]]] | None = None,
    ) -> Obj | None:
        """The checkpoint status of one aggregate: buildAggregateContainerStateMap without the
        ongoing interval's memory peak of each live container (subtractCurrentContainerMemoryPeak)."""
        agg = (self.aggregates.get(key) or {}).get(cname)
        if agg is None:
            return None
        if open_peaks is None:
            open_peaks = self._open_peaks(now)
        peaks = open_peaks.get((key, cname))
        if peaks:
            agg = agg.copy()
            agg.subtract_memory_peaks(peaks)
        status = agg.save_to_checkpoint(self.loop.timestamp)
        return {"lastUpdateTime": self.loop.timestamp(now), **status}

    def store_checkpoints(self, now: float) -> int:
        """StoreCheckpoints: create or update the checkpoint of every (VPA, container) aggregate,
        least recently written VPAs first; returns how many were written."""
        store = self.client.registry.store
        order = sorted(self.aggregates, key=lambda k: (self._checkpoint_written.get(k, float("-inf")), k))
        budget = self.max_checkpoints_per_run
        written = 0
        open_peaks = self._open_peaks(now) if order else {}
        for key in order:
            if budget is not None and written >= budget:
                break
            ns, vpa_name = key.split("/", 1)
            for cname in sorted(self.aggregates[key]):
                status = self.checkpoint_status(key, cname, now, open_peaks)
                if status is None:
                    continue
                name = f"{vpa_name}-{cname}"
                existing = store.get(CHECKPOINT_RESOURCE, ns, name)
                try:
                    if existing is None:
                        self.client.create({
                            "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscalerCheckpoint",
                            "metadata": {"name": name, "namespace": ns},
                            "spec": {"containerName": cname, "vpaObjectName": vpa_name}, "status": status,
                        })  # fmt: skip
                    else:
                        self.client.update(
                            {**existing, "metadata": dict(existing["metadata"]), "status": status}
                        )
                except ApiError:
                    self.errors += 1
                    continue
                self._checkpoint_written[key] = now
                written += 1
        self.checkpoints_written += written
        return written

    def garbage_collect_checkpoints(self) -> int:
        """GarbageCollectCheckpoints: delete the checkpoints whose VPA no longer exists or whose
        container the VPA's model does not have; returns how many were deleted."""
        vpas = {vu.vpa_key(v) for v in self.vpas.list()}
        doomed = []
        for cp in self.client.registry.store.iter(CHECKPOINT_RESOURCE):
            spec = cp.get("spec") or {}
            ns = cp["metadata"].get("namespace", "")
            key = f"{ns}/{spec.get('vpaObjectName', '')}"
            if key not in vpas or spec.get("containerName") not in (self.aggregates.get(key) or {}):
                doomed.append((ns, cp["metadata"]["name"]))
        deleted = 0
        for ns, name in sorted(doomed):
            try:
                self.client.delete(CHECKPOINT_RESOURCE, name, ns)
                deleted += 1
            except ApiError:
                self.errors += 1
        return deleted

    def garbage_collect_aggregates(self, now: float) -> int:
        """garbageCollectAggregateCollectionStates: drop the aggregates that had no sample for the
        memory aggregation window (8 days) and that no live container feeds."""
        fed = {(k, c) for (k, _, c) in self.containers}
        dropped = 0
        for key, aggs in self.aggregates.items():
            for cname in [c for c, a in aggs.items() if (key, c) not in fed and a.last_sample_start is not None
                          and now - a.last_sample_start >= model.MEMORY_AGGREGATION_WINDOW]:  # fmt: skip
                del aggs[cname]
                dropped += 1
        return dropped

    def _plan(self, key: str, pod: Obj) -> _PodPlan:
        """The pod's containers as the feed needs them, kept while the pod object is the same."""
        uid = pod["metadata"].get("uid", "")
        plan = self._plans.get((key, uid))
        if plan is not None and plan.pod is pod:
            return plan
        entries: list[list[Any]] = []
        for c in (pod.get("spec") or {}).get("containers") or []:
            cname = c.get("name", "")
            requests = (c.get("resources") or {}).get("requests") or {}
            req_cpu = vu.amount("cpu", requests["cpu"]) if "cpu" in requests else 0
            entries.append(
                [cname, req_cpu, model.cpu_sample_weight(req_cpu), self.containers.get((key, uid, cname))]
            )
        running = (pod.get("status") or {}).get("phase") == "Running"
        plan = _PodPlan(pod, uid, pod["metadata"]["name"], entries, _terminal(pod), running)
        if not plan.terminal:  # a terminal pod is not fed: nothing to keep
            self._plans[(key, uid)] = plan
        return plan

    def _feed(
        self,
        key: str,
        namespace: str,
        selector: LabelSelector,
        plans: list[_PodPlan],
        source: ContainerMetricsClient | None,
        now: float,
    ) -> None:
        """LoadRealTimeMetrics for one VPA's pods: a CPU and a memory sample per container with
        usage. The CPU samples of the run go into each aggregate as one batch
        (:meth:`~kubetwin.controllers.vpa.model.AggregateContainerState.add_cpu_batch`, bitwise the
        per-sample adds); a memory sample that neither opens a new interval nor raises the
        interval's peak only moves the container's last sample time, as ``add_memory_sample``
        would."""
        aggs = self.aggregates.setdefault(key, {})
        per_pod = 0
        for plan in plans:
            per_pod = max(per_pod, len(plan.entries))
        if per_pod:
            self.containers_per_pod[key] = per_pod
        if source is None or not plans:
            return
        # MetricsPipeline.container_usage(pod) is what get_container_usage gives per Running pod;
        # asking it for the pods already selected saves a second selection and the dict of all
        per_pod_usage = getattr(source, "container_usage", None)
        by_name = None if per_pod_usage is not None else source.get_container_usage(namespace, selector)
        batches: dict[str, list[tuple[int, float]]] = {}
        cpu_bucket = model.cpu_bucket
        for plan in plans:
            if by_name is not None:
                containers = by_name.get(plan.name)
            elif plan.running:
                containers = per_pod_usage(plan.pod)  # type: ignore[misc]
            else:
                containers = None
            if containers is None:
                continue
            for entry in plan.entries:
                cname = entry[0]
                usage = containers.get(cname)
                if usage is None:
                    continue
                cpu, mem = usage
                state = entry[3]
                if state is None:
                    ckey = (key, plan.uid, cname)
                    state = self.containers.get(ckey)
                    if state is None:
                        agg = aggs.get(cname)
                        if agg is None:
                            agg = aggs[cname] = model.AggregateContainerState()
                        state = self.containers[ckey] = model.ContainerState(agg)
                    entry[3] = state
                # ContainerState.add_cpu_sample, the aggregate's part batched
                last = state.last_cpu_sample_start
                if cpu >= 0 and entry[1] >= 0 and (last is None or now > last):
                    state.last_cpu_sample_start = now
                    batch = batches.get(cname)
                    if batch is None:
                        batch = batches[cname] = []
                    batch.append((cpu_bucket(cpu), entry[2]))
                # ContainerState.add_memory_sample, its no-op case inline
                window_end, last_mem = state.window_end, state.last_memory_sample_start
                peak = state.memory_peak if state.memory_peak >= state.oom_peak else state.oom_peak
                if (mem >= 0 and window_end is not None and last_mem is not None and last_mem <= now < window_end
                        and mem <= peak):  # fmt: skip
                    state.last_memory_sample_start = now
                else:
                    state.add_memory_sample(now, mem)
        for cname, batch in batches.items():
            aggs[cname].add_cpu_batch(batch, now)

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
