"""HorizontalPodAutoscaler controller, autoscaling/v2
(kubernetes/kubernetes pkg/controller/podautoscaler/horizontal.go).

Every HPA is synced every 15 s (``--horizontal-pod-autoscaler-sync-period``) on its own timer: the
first sync comes one period after the HPA appears, as upstream's rate-limited queue does. A sync
reads the target's scale (``spec.replicas``, ``status.replicas`` and the selector of the
Deployment / ReplicaSet / StatefulSet named by ``scaleTargetRef``), asks ``client.metrics`` (the
``MetricsClient`` seam) for each metric, turns them into a replica count with the pure
calculator in ``hpa_calc`` (max over metrics; invalid metrics block scale-down), normalizes it
(legacy limits or ``spec.behavior``), writes ``spec.replicas`` of the target (the scale
subresource's only field) and the HPA's status with upstream's conditions and events.

The pods of each target selector are kept as they change (``hpa_pods.TargetPods``, fed by the pod
handlers) instead of listed at every sync. When the metrics client can give the metrics of those
rows as arrays (``PodSamplesClient``: the metrics pipeline), a Resource or Pods metric is grouped
and summed over all pods at once; otherwise (other clients, container metrics, custom metrics
that are not requests/s, pods whose requests are missing) the calculator goes pod by pod over the
informer's list, as before. Both give the same counts and sums to the same arithmetic
(``hpa_calc.*_from_totals``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeGuard, TypeVar

from kubetwin.api import kinds
from kubetwin.api import podchanges as pc
from kubetwin.api.errors import ApiError
from kubetwin.api.podchanges import pod_changes
from kubetwin.api.quantity import Quantity
from kubetwin.api.selectors import LabelSelector, label_selector_from_dict, parse_label_selector
from kubetwin.client import Client, Controller, InformerFactory
from kubetwin.client.metrics import (
    MetricsClient,
    MetricsUnavailable,
    PodMetricsInfo,
    PodSamples,
    PodSamplesClient,
    select_pods,
)
from kubetwin.controllers import hpa_calc as hc
from kubetwin.controllers._util import by_object
from kubetwin.controllers.hpa_pods import TargetPods
from kubetwin.store.copy import deep_copy

Obj = dict[str, Any]

NO_RESOURCE_METRICS = "no metrics returned from resource metrics API"
_T = TypeVar("_T")


class _NoMetricsAPI:
    """What the HPA sees when no metrics API is registered."""

    def get_resource_metric(
        self, resource: str, namespace: str, selector: LabelSelector, container: str | None = None
    ) -> tuple[PodMetricsInfo, float]:
        raise MetricsUnavailable(NO_RESOURCE_METRICS)

    def get_raw_metric(
        self, metric_name: str, namespace: str, selector: LabelSelector, metric_selector: LabelSelector
    ) -> tuple[PodMetricsInfo, float]:
        raise MetricsUnavailable(
            "unable to fetch metrics from custom metrics API: no custom metrics API is served"
        )

    def get_object_metric(
        self, metric_name: str, namespace: str, object_ref: dict[str, Any], metric_selector: LabelSelector
    ) -> tuple[int, float]:
        raise MetricsUnavailable(
            "unable to fetch metrics from custom metrics API: no custom metrics API is served"
        )

    def get_external_metric(
        self, metric_name: str, namespace: str, selector: LabelSelector
    ) -> tuple[list[int], float]:
        raise MetricsUnavailable(
            "unable to fetch metrics from external metrics API: no external metrics API is served"
        )


_SELECTOR_ENTRIES = 1024  # selectors remembered by the caches below before starting afresh
_KINDS: dict[tuple[str, str], kinds.KindInfo] = {}  # (group, kind) -> the first such stored kind


def _kind_info(group: str, kind: str) -> kinds.KindInfo | None:
    """The first stored kind of ``group`` named ``kind`` (the kinds table is fixed)."""
    if not _KINDS:
        for k in kinds.all_kinds():
            _KINDS.setdefault((k.group, k.kind), k)
    return _KINDS.get((group, kind))


class _MetricError(Exception):
    """One metric could not be computed: the error text and the ScalingActive condition."""

    def __init__(self, message: str, reason: str = "", condition_message: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.condition_message = condition_message


class _Scale:
    def __init__(
        self, resource: str, name: str, spec_replicas: int, status_replicas: int, selector: str
    ) -> None:
        self.resource = resource
        self.name = name
        self.spec_replicas = spec_replicas
        self.status_replicas = status_replicas
        self.selector = selector


class _SyncPods:
    """The target's pods during one sync: the kept rows, the informer's list when a pod-by-pod
    calculation needs it and the metrics of the rows as arrays (each built at most once; nothing
    a sync writes changes pods or metrics)."""

    def __init__(self, rows: TargetPods, lister: Callable[[], list[Obj]], metrics: MetricsClient) -> None:
        self.rows = rows
        self._lister = lister
        self._list: list[Obj] | None = None
        self._metrics = metrics
        self._samples: PodSamples | None = None
        self._asked = False

    def list(self) -> list[Obj]:
        if self._list is None:
            self._list = self._lister()
        return self._list

    def samples(self) -> PodSamples | None:
        """The rows' metrics (None: the client cannot give arrays, or some row's times did not parse)."""
        if not self._asked:
            self._asked = True
            m = self._metrics
            if self.rows.regular and _gives_samples(m):
                self._samples = m.pod_samples(self.rows.keys)
        return self._samples


_SAMPLES_CLIENTS: dict[type, bool] = {}  # metrics client class -> whether it is a PodSamplesClient


def _gives_samples(m: MetricsClient) -> TypeGuard[PodSamplesClient]:
    """``isinstance(m, PodSamplesClient)`` (the protocol's method is the class's), asked once per class."""
    known = _SAMPLES_CLIENTS.get(type(m))
    if known is None:
        known = _SAMPLES_CLIENTS[type(m)] = isinstance(m, PodSamplesClient)
    return known


def _fetch(get: Callable[[], _T], unable: str) -> _T:
    """``get()``, its MetricsUnavailable as the CalcError the pod-by-pod fetch raises."""
    try:
        return get()
    except MetricsUnavailable as e:
        raise hc.CalcError(f"{unable}: {e}") from None


def _require_values(t: hc.PodTotals) -> None:
    if t.count == 0:
        raise hc.CalcError("did not receive metrics for targeted pods (pods might be unready)")


def _milli(q: Any) -> int:
    return hc.milli_value(q)


@functools.lru_cache(maxsize=4096)
def _quantity(milli: int) -> str:
    """The text of a milli-value (a pure function of the int; most syncs see values seen before)."""
    return str(Quantity.from_milli(milli))


_GO_SELECTORS: dict[int, tuple[Obj, str]] = {}  # id(a metric's selector) -> (it, _go_selector of it)
_METRIC_SELECTORS: dict[int, tuple[Obj, LabelSelector]] = {}  # id(a metric's selector) -> (it, parsed)


def _go_selector(sel: Obj | None) -> str:
    """``%+v`` of a *metav1.LabelSelector (its generated String()), as upstream's metric names
    (rendered once per selector object)."""
    if sel is None:
        return "<nil>"
    return by_object(_GO_SELECTORS, sel, lambda: _go_selector_text(sel))


def _go_selector_text(sel: Obj) -> str:
    labels = sel.get("matchLabels") or {}
    ml = "".join(f"{k}: {labels[k]}," for k in sorted(labels))
    exprs = "".join(
        f"LabelSelectorRequirement{{Key:{e.get('key', '')},Operator:{e.get('operator', '')},"
        f"Values:[{' '.join(e.get('values') or [])}],}},"
        for e in sel.get("matchExpressions") or []
    )
    return f"&LabelSelector{{MatchLabels:map[string]string{{{ml}}},MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"


def _metric_selector(identifier: Obj) -> LabelSelector:
    """The metric identifier's selector, parsed once per selector object (a ValueError is not
    kept: it is raised again at every sync, as upstream's parse fails at every sync)."""
    sel = identifier.get("selector")
    if sel is None:
        return LabelSelector.everything()
    return by_object(_METRIC_SELECTORS, sel, lambda: label_selector_from_dict(sel))


def _scale_selector_text(sel: Obj) -> str:
    try:
        return str(label_selector_from_dict(sel))
    except ValueError:
        return ""


def _disjoint(a: LabelSelector, b: LabelSelector) -> bool:
    """True when no label set can match both: each requires a different single value of one key."""
    want: dict[str, str] = {}
    for r in a.requirements:
        if r.operator in ("=", "==", "in") and len(r.values) == 1:
            want[r.key] = next(iter(r.values))
    for r in b.requirements:
        if r.operator in ("=", "==", "in") and len(r.values) == 1 and r.key in want:
            if want[r.key] != next(iter(r.values)):
                return True
    return False


def _status_copy(status: Obj | None) -> Obj:
    """A copy of an HPA status the sync may change: what it changes in place are the conditions
    (:func:`_set_condition`); the rest of the status is replaced, never written into (the
    registry copies what it stores), so the other parts are shared with the cached original."""
    if status is None:
        return {}
    if type(status) is not dict:
        return deep_copy(status)
    conds = status.get("conditions")
    if conds is None:
        return dict(status)
    if type(conds) is not list or any(type(c) is not dict for c in conds):
        return deep_copy(status)
    return {**status, "conditions": [dict(c) for c in conds]}


def _set_condition(hpa: Obj, type_: str, status: str, reason: str, message: str, now: str) -> None:
    """setCondition: lastTransitionTime changes only with the status; new types are appended."""
    conds: list[Obj] = hpa.setdefault("status", {}).setdefault("conditions", [])
    for c in conds:
        if c.get("type") == type_:
            break
    else:
        c = {"type": type_, "status": ""}
        conds.append(c)
    if c.get("status") != status:
        c["lastTransitionTime"] = now
    c["status"] = status
    c["reason"] = reason
    c["message"] = message


class HPAController(Controller):
    name = "horizontal-pod-autoscaler"

    def __init__(
        self,
        client: Client,
        informers: InformerFactory,
        *,
        sync_period: float = hc.DEFAULT_SYNC_PERIOD,
        downscale_stabilization: float = hc.DEFAULT_DOWNSCALE_STABILIZATION,
        tolerance: float = hc.DEFAULT_TOLERANCE,
        cpu_initialization_period: float = hc.DEFAULT_CPU_INITIALIZATION_PERIOD,
        initial_readiness_delay: float = hc.DEFAULT_INITIAL_READINESS_DELAY,
    ) -> None:
        super().__init__(client, informers)
        self.sync_period = sync_period
        self.downscale_stabilization = downscale_stabilization
        self.tolerance = tolerance
        self.cpu_initialization_period = cpu_initialization_period
        self.initial_readiness_delay = initial_readiness_delay
        self.hpas = informers.get("horizontalpodautoscalers.autoscaling")
        self.pods = informers.get("pods")
        self.recommendations: dict[str, list[hc.Recommendation]] = {}
        self.scale_up_events: dict[str, list[hc.ScaleEvent]] = {}
        self.scale_down_events: dict[str, list[hc.ScaleEvent]] = {}
        self.targets: dict[str, TargetPods] = {}  # HPA key -> the pods of its last parsed target selector
        self._pod_sets: dict[str, dict[str, TargetPods]] = {}  # namespace -> selector -> pods
        self._times: dict[str, float] = {}  # RFC 3339 -> virtual seconds (pod start / transition times)
        self.pod_cache = hc.PodCache()  # per-pod grouping facts and requests by uid + resourceVersion
        self._selector_texts: dict[int, tuple[Obj, str]] = {}  # id(target spec.selector) -> (it, text)
        self._parsed: dict[str, LabelSelector] = {}  # selector text -> parsed
        # id(HPA spec) -> (it, (the controller's settings then, _config))
        self._configs: dict[int, tuple[Obj, tuple[tuple[float, float, float], hc.CalcConfig]]] = {}

    def _parse_time(self, text: str) -> float:
        t = self._times.get(text)
        if t is None:
            if len(self._times) > 100_000:
                self._times.clear()
            t = self._times[text] = self.loop.parse_timestamp(text)
        return t

    def start(self) -> None:
        self.hpas.add_handler(on_add=self._enqueue_later, on_update=lambda _o, n: self._enqueue_later(n),
                              on_delete=self._on_delete)  # fmt: skip
        # what TargetPods.put reads: uid, labels, deletion, phase, Ready, startTime, requests
        self.pods.add_handler(self._pod_added, self._pod_updated, self._pod_deleted, changes=pod_changes,
                              reads=pc.META | pc.LABELS | pc.DELETION | pc.PHASE | pc.READY_CONDITION | pc.START | pc.SPEC)  # fmt: skip

    # -- target pods -------------------------------------------------------------------------
    def _pod_added(self, pod: Obj) -> None:
        meta = pod["metadata"]
        sets = self._pod_sets.get(meta.get("namespace") or "")
        if sets:
            labels = meta.get("labels") or {}
            for rows in sets.values():
                if rows.selector.matches(labels):
                    rows.put(pod)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        meta = new["metadata"]
        sets = self._pod_sets.get(meta.get("namespace") or "")
        if sets:
            labels = meta.get("labels") or {}
            # rows hold the pods their selector matches as of their last version: with the same
            # labels (shared by status writes) the pod matches if and only if a row holds it
            same = meta.get("labels") is old["metadata"].get("labels")
            name = meta["name"]
            for rows in sets.values():
                if name in rows.rows if same else rows.selector.matches(labels):
                    rows.put(new)
                elif not same:
                    rows.remove(name)

    def _pod_deleted(self, pod: Obj) -> None:
        meta = pod["metadata"]
        sets = self._pod_sets.get(meta.get("namespace") or "")
        if sets:
            for rows in sets.values():
                rows.remove(meta["name"])

    def _target_pods(self, key: str, ns: str, selector: str, parsed: LabelSelector) -> TargetPods:
        """The kept pods of ``selector`` (built from the informer the first time), now ``key``'s."""
        sets = self._pod_sets.setdefault(ns, {})
        rows = sets.get(selector)
        if rows is None:
            rows = sets[selector] = TargetPods(ns, parsed, self._parse_time)
            for pod in select_pods(self.pods, ns, parsed):
                rows.put(pod)
        old = self.targets.get(key)
        self.targets[key] = rows
        if old is not None and old is not rows:
            self._release(old)
        return rows

    def _forget_target(self, key: str) -> None:
        old = self.targets.pop(key, None)
        if old is not None:
            self._release(old)

    def _release(self, rows: TargetPods) -> None:
        """Stop keeping ``rows`` once no HPA's target selector is theirs."""
        if any(r is rows for r in self.targets.values()):
            return
        sets = self._pod_sets.get(rows.namespace) or {}
        for sel, r in list(sets.items()):
            if r is rows:
                del sets[sel]
        if not sets:
            self._pod_sets.pop(rows.namespace, None)

    # -- queue -------------------------------------------------------------------------------
    def _key(self, obj: Obj) -> str:
        m = obj["metadata"]
        return f"{m.get('namespace')}/{m['name']}"

    def _enqueue_later(self, obj: Obj) -> None:
        # enqueueHPA: AddRateLimited with a fixed interval of one sync period
        self.queue.add_after(self._key(obj), self.sync_period)

    def _on_delete(self, obj: Obj) -> None:
        key = self._key(obj)
        self.queue.forget(key)
        self._forget_target(key)

    @property
    def metrics(self) -> MetricsClient:
        return self.client.metrics or _NoMetricsAPI()

    def _config(self, hpa: Obj) -> hc.CalcConfig:
        """The calculator's settings for ``hpa``, built once per spec object (and settings of the
        controller, which tests may change)."""
        spec = hpa.get("spec")
        if spec is None:
            return self._new_config(hpa)
        own = (self.tolerance, self.cpu_initialization_period, self.initial_readiness_delay)
        kept = by_object(self._configs, spec, lambda: (own, self._new_config(hpa)))
        if kept[0] != own:
            kept = (own, self._new_config(hpa))
            self._configs[id(spec)] = (spec, kept)
        return kept[1]

    def _new_config(self, hpa: Obj) -> hc.CalcConfig:
        behavior = (hpa.get("spec") or {}).get("behavior") or {}
        down = (behavior.get("scaleDown") or {}).get("tolerance")
        up = (behavior.get("scaleUp") or {}).get("tolerance")
        tol = hc.Tolerances(
            down=_milli(down) / 1000 if down is not None else self.tolerance,
            up=_milli(up) / 1000 if up is not None else self.tolerance,
        )
        return hc.CalcConfig(tol, self.cpu_initialization_period, self.initial_readiness_delay)

    # -- reconcile ---------------------------------------------------------------------------
    def reconcile(self, key: str) -> float | None:
        cached = self.hpas.get_by_key(key)
        if cached is None:
            self.recommendations.pop(key, None)
            self.scale_up_events.pop(key, None)
            self.scale_down_events.pop(key, None)
            self._forget_target(key)
            return None
        try:
            self._reconcile_autoscaler(cached, key)
        except ApiError:
            self.errors += 1  # logged upstream; the next sync comes one period later anyway
        return self.sync_period

    def _now(self) -> str:
        return self.loop.timestamp()

    def _update_status_if_needed(self, original: Obj | None, hpa: Obj) -> None:
        if original == hpa.get("status"):
            return
        try:
            self.client.update_status(hpa)
        except ApiError as e:
            self.recorder.warning(hpa, "FailedUpdateStatus", e.message)
            raise

    def _get_scale(self, hpa: Obj) -> _Scale:
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        api_version = ref.get("apiVersion") or ""
        if api_version.count("/") > 1:
            raise _MetricError(f"unexpected GroupVersion string: {api_version}")
        group = api_version.split("/")[0] if "/" in api_version else ""
        kind = ref.get("kind") or ""
        info = _kind_info(group, kind)
        if info is None:
            raise _MetricError(f'no matches for kind "{kind}" in group "{group}"')
        resource = info.resource
        if not info.scale_subresource:
            raise _MetricError("the server could not find the requested resource")
        ns = hpa["metadata"].get("namespace") or ""
        name = ref.get("name") or ""
        target = self.informers.get(resource).get(name, ns)
        if target is None:
            raise _MetricError(f'{resource} "{name}" not found')
        spec = target.get("spec") or {}
        selector = self._selector_text(spec.get("selector"))
        replicas = spec.get("replicas")
        return _Scale(
            resource,
            name,
            int(replicas) if replicas is not None else 1,
            int((target.get("status") or {}).get("replicas") or 0),
            selector,
        )

    def _selector_text(self, sel: Any) -> str:
        """The scale subresource's ``status.selector`` of a target whose ``spec.selector`` is
        ``sel``, rendered once per selector object (cached objects are never changed in place)."""
        if isinstance(sel, str):
            return sel
        if not isinstance(sel, dict):
            return ""
        return by_object(self._selector_texts, sel, lambda: _scale_selector_text(sel))

    def _parse_selector(self, selector: str) -> LabelSelector:
        """parse_label_selector, once per selector text (a ValueError is not kept)."""
        parsed = self._parsed.get(selector)
        if parsed is None:
            parsed = parse_label_selector(selector)
            if len(self._parsed) >= _SELECTOR_ENTRIES:
                self._parsed.clear()
            self._parsed[selector] = parsed
        return parsed

    def _reconcile_autoscaler(self, cached: Obj, key: str) -> None:
        # the sync changes only the status of its copy (the cached HPA is never changed in place,
        # so its status is the original to compare with at the end)
        status_original = cached.get("status")
        hpa = {**cached, "status": _status_copy(status_original)}
        spec = hpa.get("spec") or {}
        ns = hpa["metadata"].get("namespace") or ""
        now = self.loop.now

        try:
            scale = self._get_scale(hpa)
        except _MetricError as e:
            self.recorder.warning(hpa, "FailedGetScale", str(e))
            _set_condition(hpa, "AbleToScale", "False", "FailedGetScale",
                           f"the HPA controller was unable to get the target's current scale: {e}", self._now())  # fmt: skip
            self._update_status_if_needed(status_original, hpa)
            return
        _set_condition(hpa, "AbleToScale", "True", "SucceededGetScale",
                       "the HPA controller was able to get the target's current scale", self._now())  # fmt: skip
        current = scale.spec_replicas
        if key not in self.recommendations:  # recordInitialRecommendation
            self.recommendations[key] = [hc.Recommendation(current, now)]

        min_replicas = int(spec["minReplicas"]) if spec.get("minReplicas") is not None else 1
        max_replicas = int(spec.get("maxReplicas") or 0)
        metric_statuses: list[Obj] | None = None
        desired = 0
        rescale_reason = ""
        rescale = True

        if current == 0 and min_replicas != 0:
            desired = 0
            rescale = False
            _set_condition(hpa, "ScalingActive", "False", "ScalingDisabled",
                           "scaling is disabled since the replica count of the target is zero", self._now())  # fmt: skip
        elif current > max_replicas:
            rescale_reason = "Current number of replicas above Spec.MaxReplicas"
            desired = max_replicas
        elif current < min_replicas:
            rescale_reason = "Current number of replicas below Spec.MinReplicas"
            desired = min_replicas
        else:
            proposal, metric_name, metric_statuses, err = self._compute_replicas_for_metrics(hpa, key, scale)
            if err is not None and proposal == -1:
                self._set_status(
                    hpa, current, hpa["status"].get("desiredReplicas", 0), metric_statuses, False
                )
                self._update_status_if_needed(status_original, hpa)
                self.recorder.warning(hpa, "FailedComputeMetricsReplicas", err)
                return
            rescale_metric = ""
            if proposal > desired:
                desired = proposal
                rescale_metric = metric_name
            if desired > current:
                rescale_reason = f"{rescale_metric} above target"
            if desired < current:
                rescale_reason = "All metrics below target"
            if spec.get("behavior") is None:
                desired = self._normalize(hpa, key, current, desired, min_replicas)
            else:
                desired = self._normalize_with_behaviors(hpa, key, current, desired, min_replicas)
            rescale = desired != current

        if rescale:
            try:
                self.client.patch(scale.resource, scale.name, {"spec": {"replicas": desired}}, namespace=ns)
            except ApiError as e:
                self.recorder.warning(hpa, "FailedRescale",
                                      f"New size: {desired}; reason: {rescale_reason}; error: {e.message}")  # fmt: skip
                _set_condition(hpa, "AbleToScale", "False", "FailedUpdateScale",
                               f"the HPA controller was unable to update the target scale: {e.message}", self._now())  # fmt: skip
                self._set_status(
                    hpa, current, hpa["status"].get("desiredReplicas", 0), metric_statuses, False
                )
                self._update_status_if_needed(status_original, hpa)
                return
            _set_condition(hpa, "AbleToScale", "True", "SucceededRescale",
                           f"the HPA controller was able to update the target scale to {desired}", self._now())  # fmt: skip
            self.recorder.normal(hpa, "SuccessfulRescale", f"New size: {desired}; reason: {rescale_reason}")
            self._store_scale_event(hpa, key, current, desired)
        else:
            desired = current
        self._set_status(hpa, current, desired, metric_statuses, rescale)
        self._update_status_if_needed(status_original, hpa)

    def _set_status(
        self, hpa: Obj, current: int, desired: int, metric_statuses: list[Obj] | None, rescale: bool
    ) -> None:
        old = hpa.get("status") or {}
        status: Obj = {"currentReplicas": current, "desiredReplicas": desired}
        generation = hpa["metadata"].get("generation")
        if generation is not None:
            status["observedGeneration"] = generation
        if old.get("lastScaleTime"):
            status["lastScaleTime"] = old["lastScaleTime"]
        if metric_statuses:
            status["currentMetrics"] = metric_statuses
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        if rescale:
            status["lastScaleTime"] = self._now()
        hpa["status"] = status

    # -- normalization -----------------------------------------------------------------------
    def _normalize(self, hpa: Obj, key: str, current: int, desired: int, min_replicas: int) -> int:
        recs = self.recommendations.setdefault(key, [])
        stabilized = hc.stabilize_recommendation(recs, self.loop.now, self.downscale_stabilization, desired)
        if stabilized != desired:
            _set_condition(
                hpa, "AbleToScale", "True", "ScaleDownStabilized", hc.MSG_DOWN_STABILIZED, self._now()
            )
        else:
            _set_condition(hpa, "AbleToScale", "True", "ReadyForNewScale",
                           "recommended size matches current size", self._now())  # fmt: skip
        max_replicas = int(hpa["spec"].get("maxReplicas") or 0)
        out, reason, message = hc.convert_desired_replicas_with_rules(
            current, stabilized, min_replicas, max_replicas
        )
        _set_condition(
            hpa, "ScalingLimited", "False" if out == stabilized else "True", reason, message, self._now()
        )
        return out

    def _rules(self, hpa: Obj) -> tuple[Obj, Obj]:
        behavior = hpa["spec"].get("behavior") or {}
        return (
            hc.scale_up_rules(behavior.get("scaleUp")),
            hc.scale_down_rules(behavior.get("scaleDown"), self.downscale_stabilization),
        )

    def _normalize_with_behaviors(
        self, hpa: Obj, key: str, current: int, desired: int, min_replicas: int
    ) -> int:
        up, down = self._rules(hpa)
        recs = self.recommendations.setdefault(key, [])
        now = self.loop.now
        stabilized, reason, message = hc.stabilize_recommendation_with_behaviors(
            recs, now, float(up.get("stabilizationWindowSeconds") or 0),
            float(down.get("stabilizationWindowSeconds") or 0), current, desired,
        )  # fmt: skip
        if stabilized != desired:
            _set_condition(hpa, "AbleToScale", "True", reason, message, self._now())
        else:
            _set_condition(hpa, "AbleToScale", "True", "ReadyForNewScale",
                           "recommended size matches current size", self._now())  # fmt: skip
        max_replicas = int(hpa["spec"].get("maxReplicas") or 0)
        out, reason, message = hc.convert_desired_replicas_with_behavior_rate(
            current, stabilized, min_replicas, max_replicas, up, down,
            self.scale_up_events.get(key, []), self.scale_down_events.get(key, []), now,
        )  # fmt: skip
        _set_condition(
            hpa, "ScalingLimited", "False" if out == stabilized else "True", reason, message, self._now()
        )
        return out

    def _store_scale_event(self, hpa: Obj, key: str, prev: int, new: int) -> None:
        if hpa["spec"].get("behavior") is None:
            return
        up, down = self._rules(hpa)
        if new > prev:
            hc.store_scale_event(self.scale_up_events.setdefault(key, []), up, new - prev, self.loop.now)
        else:
            hc.store_scale_event(self.scale_down_events.setdefault(key, []), down, prev - new, self.loop.now)

    # -- metrics -----------------------------------------------------------------------------
    def _validate_and_parse_selector(
        self, hpa: Obj, key: str, selector: str
    ) -> tuple[LabelSelector, _SyncPods]:
        if not selector:
            self.recorder.warning(hpa, "SelectorRequired", "selector is required")
            _set_condition(hpa, "ScalingActive", "False", "InvalidSelector",
                           "the HPA target's scale is missing a selector", self._now())  # fmt: skip
            raise _MetricError("selector is required")
        try:
            parsed = self._parse_selector(selector)
        except ValueError as e:
            msg = f"couldn't convert selector into a corresponding internal selector object: {e}"
            self.recorder.warning(hpa, "InvalidSelector", msg)
            _set_condition(hpa, "ScalingActive", "False", "InvalidSelector", msg, self._now())
            raise _MetricError(msg) from None
        ns = hpa["metadata"].get("namespace") or ""
        rows = self._target_pods(key, ns, selector, parsed)
        owners = {key}
        names = rows.names()
        for other, other_rows in self.targets.items():
            if other != key and other_rows.namespace == ns and self.hpas.get_by_key(other) is not None:
                if _disjoint(parsed, other_rows.selector):
                    continue  # no pod can match both
                if not names.isdisjoint(other_rows.names()):
                    owners.add(other)
        if len(owners) > 1:
            msg = f"pods by selector {selector} are controlled by multiple HPAs: [{' '.join(sorted(owners))}]"
            self.recorder.warning(hpa, "AmbiguousSelector", msg)
            _set_condition(hpa, "ScalingActive", "False", "AmbiguousSelector", msg, self._now())
            raise _MetricError(msg)
        return parsed, _SyncPods(rows, lambda: select_pods(self.pods, ns, parsed), self.metrics)

    def _compute_replicas_for_metrics(
        self, hpa: Obj, key: str, scale: _Scale
    ) -> tuple[int, str, list[Obj] | None, str | None]:
        """computeReplicasForMetrics: (replicas or -1, metric name, statuses, error text)."""
        try:
            selector, pods = self._validate_and_parse_selector(hpa, key, scale.selector)
        except _MetricError as e:
            return -1, "", None, str(e)
        specs = hpa["spec"].get("metrics") or []
        statuses: list[Obj] = [{"type": ""} for _ in specs]
        replicas = 0
        metric = ""
        invalid = 0
        first: _MetricError | None = None
        for i, spec in enumerate(specs):
            try:
                proposal, name, status = self._compute_replicas_for_metric(hpa, spec, scale, selector, pods)
            except _MetricError as e:
                if invalid == 0:
                    first = e
                invalid += 1
                continue
            statuses[i] = status
            if replicas == 0 or proposal > replicas:
                replicas = proposal
                metric = name
        error = None
        if first is not None:
            error = f"invalid metrics ({invalid} invalid out of {len(specs)}), first error is: {first}"
        if invalid >= len(specs) or (invalid > 0 and replicas < scale.spec_replicas):
            if first is not None:
                _set_condition(
                    hpa, "ScalingActive", "False", first.reason, first.condition_message, self._now()
                )
            return -1, "", statuses, error or "no metrics"
        _set_condition(hpa, "ScalingActive", "True", "ValidMetricFound",
                       f"the HPA was able to successfully calculate a replica count from {metric}", self._now())  # fmt: skip
        return replicas, metric, statuses, error

    def _unable(self, hpa: Obj, reason: str, err: str, wrapped: str | None = None) -> _MetricError:
        """getUnableComputeReplicaCountCondition: event + ScalingActive=False condition."""
        self.recorder.warning(hpa, reason, err)
        return _MetricError(wrapped if wrapped is not None else err, reason,
                            f"the HPA was unable to compute the replica count: {err}")  # fmt: skip

    def _compute_replicas_for_metric(
        self, hpa: Obj, spec: Obj, scale: _Scale, selector: LabelSelector, pods: _SyncPods
    ) -> tuple[int, str, Obj]:
        type_ = spec.get("type")
        ns = hpa["metadata"].get("namespace") or ""
        config = self._config(hpa)
        if type_ in ("Resource", "ContainerResource"):
            field = "resource" if type_ == "Resource" else "containerResource"
            src = spec.get(field) or {}
            resource = src.get("name") or ""
            container = src.get("container") if type_ == "ContainerResource" else None
            reason = "FailedGetResourceMetric" if type_ == "Resource" else "FailedGetContainerResourceMetric"
            outer = (
                f"failed to get {resource} resource metric value"
                if type_ == "Resource"
                else f"failed to get {container} container metric value"
            )
            try:
                replicas, current, name = self._resource_metric(src.get("target") or {}, resource, ns, selector,
                                                                pods, container, config, type_,
                                                                scale.spec_replicas)  # fmt: skip
            except _MetricError as e:
                raise self._unable(hpa, reason, str(e), f"{outer}: {e}") from None
            status: Obj = {"name": resource, "current": current}
            if container is not None:
                status = {"name": resource, "container": container, "current": current}
            return replicas, name, {"type": type_, field: status}
        if type_ == "Pods":
            src = spec.get("pods") or {}
            ident = src.get("metric") or {}
            mname = ident.get("name") or ""
            try:
                msel = _metric_selector(ident)
            except ValueError as e:
                raise self._unable(
                    hpa, "FailedGetPodsMetric", str(e), f"failed to get pods metric value: {e}"
                ) from None
            target = _milli((src.get("target") or {}).get("averageValue") or 0)
            try:
                samples = pods.samples()
                fast = None
                if samples is not None:
                    fast = _fetch(lambda: samples.custom(mname, msel), f"unable to get metric {mname}")
                if samples is not None and fast is not None:
                    t = pods.rows.totals(*fast, "", self.loop.now, config, samples.timestamp, samples.window)
                    _require_values(t)
                    replicas, usage = hc.plain_replicas_from_totals(scale.spec_replicas, target, t, config.tolerances)
                else:
                    try:
                        metrics, _ts = self.metrics.get_raw_metric(mname, ns, selector, msel)
                    except MetricsUnavailable as e:
                        raise hc.CalcError(f"unable to get metric {mname}: {e}") from None
                    replicas, usage = hc.plain_metric_replicas(
                        scale.spec_replicas,
                        target,
                        pods.list(),
                        metrics,
                        self.loop.now,
                        self._parse_time,
                        config,
                        cache=self.pod_cache,
                    )
            except hc.CalcError as e:
                raise self._unable(
                    hpa, "FailedGetPodsMetric", str(e), f"failed to get pods metric value: {e}"
                ) from None
            return (
                replicas,
                f"pods metric {mname}",
                {
                    "type": "Pods",
                    "pods": {"metric": ident, "current": {"averageValue": _quantity(usage)}},
                },
            )
        if type_ == "Object":
            return self._object_metric(hpa, spec.get("object") or {}, scale, pods, ns, config)
        if type_ == "External":
            return self._external_metric(hpa, spec.get("external") or {}, scale, pods, ns, config)
        err = f'unknown metric source type "{type_}"'
        raise self._unable(hpa, "InvalidMetricSourceType", err)

    def _resource_metric(
        self,
        target: Obj,
        resource: str,
        ns: str,
        selector: LabelSelector,
        pods: _SyncPods,
        container: str | None,
        config: hc.CalcConfig,
        type_: str,
        current_replicas: int,
    ) -> tuple[int, Obj, str]:
        """computeStatusForResourceMetricGeneric: (replicas, MetricValueStatus, metric name)."""
        now = self.loop.now
        unable = f"unable to get metrics for resource {resource}"
        # the arrays sum every container of a pod: a container metric goes pod by pod
        samples = pods.samples() if container is None else None
        if target.get("averageValue") is not None:
            try:
                if samples is not None:
                    has, values = _fetch(lambda: samples.resource(resource), unable)
                    t = pods.rows.totals(has, values, resource, now, config, samples.timestamp, samples.window)
                    _require_values(t)
                    replicas, usage = hc.plain_replicas_from_totals(
                        current_replicas, _milli(target["averageValue"]), t, config.tolerances
                    )
                else:
                    try:
                        metrics, _ts = self.metrics.get_resource_metric(resource, ns, selector, container)
                    except MetricsUnavailable as e:
                        raise hc.CalcError(f"{unable}: {e}") from None
                    replicas, usage = hc.plain_metric_replicas(
                        current_replicas, _milli(target["averageValue"]), pods.list(), metrics, now,
                        self._parse_time, config, resource, self.pod_cache,
                    )  # fmt: skip
            except hc.CalcError as e:
                raise _MetricError(f"failed to get {resource} usage: {e}") from None
            return replicas, {"averageValue": _quantity(usage)}, f"{resource} resource"
        if target.get("averageUtilization") is None:
            raise _MetricError(
                "invalid resource metric source: neither an average utilization target nor an average value "
                "(usage) target was set"
            )
        utilization_target = int(target["averageUtilization"])
        try:
            requests = pods.rows.requests(container, resource) if samples is not None else None
            if samples is not None and requests is not None:
                has, values = _fetch(lambda: samples.resource(resource), unable)
                t = pods.rows.totals(has, values, resource, now, config, samples.timestamp, samples.window,
                                     requests, max(100, utilization_target))  # fmt: skip
                _require_values(t)
                replicas, utilization, raw = hc.resource_replicas_from_totals(
                    current_replicas, utilization_target, t, config.tolerances
                )
            else:
                try:
                    metrics, _ts = self.metrics.get_resource_metric(resource, ns, selector, container)
                except MetricsUnavailable as e:
                    raise hc.CalcError(f"{unable}: {e}") from None
                replicas, utilization, raw = hc.resource_replicas(
                    current_replicas, utilization_target, resource, pods.list(), metrics, now,
                    self._parse_time, config, container, self.pod_cache,
                )  # fmt: skip
        except hc.CalcError as e:
            raise _MetricError(f"failed to get {resource} utilization: {e}") from None
        name = f"{resource} resource utilization (percentage of request)"
        if type_ == "ContainerResource":
            name = f"{resource} container resource utilization (percentage of request)"
        return replicas, {"averageUtilization": utilization, "averageValue": _quantity(raw)}, name

    def _object_metric(
        self, hpa: Obj, src: Obj, scale: _Scale, pods: _SyncPods, ns: str, config: hc.CalcConfig
    ) -> tuple[int, str, Obj]:
        ident = src.get("metric") or {}
        mname = ident.get("name") or ""
        described = src.get("describedObject") or {}
        target = src.get("target") or {}
        wrap = "failed to get object metric value"
        try:
            msel = _metric_selector(ident)
        except ValueError as e:
            raise self._unable(hpa, "FailedGetObjectMetric", str(e), f"{wrap}: {e}") from None

        def fetch() -> int:
            try:
                value, _ts = self.metrics.get_object_metric(mname, ns, described, msel)
            except MetricsUnavailable as e:
                raise hc.CalcError(
                    f"unable to get metric {mname}: {described.get('kind', '')} on {ns} {described.get('name', '')}/{e}"
                ) from None
            return value

        if target.get("type") == "Value" and target.get("value") is not None:
            try:
                replicas, usage = hc.object_metric_replicas(
                    scale.spec_replicas, _milli(target["value"]), fetch(), pods.rows, config.tolerances
                )
            except hc.CalcError as e:
                raise self._unable(hpa, "FailedGetObjectMetric", str(e), f"{wrap}: {e}") from None
            return (
                replicas,
                f"{described.get('kind', '')} metric {mname}",
                {
                    "type": "Object",
                    "object": {
                        "describedObject": described,
                        "metric": ident,
                        "current": {"value": _quantity(usage)},
                    },
                },
            )
        if target.get("type") == "AverageValue" and target.get("averageValue") is not None:
            try:
                replicas, usage = hc.object_per_pod_metric_replicas(
                    scale.status_replicas, _milli(target["averageValue"]), fetch(), config.tolerances
                )
            except hc.CalcError as e:
                raise self._unable(hpa, "FailedGetObjectMetric", str(e),
                                   f"{wrap}: failed to get {mname} object metric: {e}") from None  # fmt: skip
            return (
                replicas,
                f"external metric {mname}({_go_selector(ident.get('selector'))})",
                {
                    "type": "Object",
                    "object": {"metric": ident, "current": {"averageValue": _quantity(usage)}},
                },
            )
        err = "invalid object metric source: neither a value target nor an average value target was set"
        raise self._unable(hpa, "FailedGetObjectMetric", err, f"{wrap}: {err}")

    def _external_metric(
        self, hpa: Obj, src: Obj, scale: _Scale, pods: _SyncPods, ns: str, config: hc.CalcConfig
    ) -> tuple[int, str, Obj]:
        ident = src.get("metric") or {}
        mname = ident.get("name") or ""
        target = src.get("target") or {}
        sel_text = _go_selector(ident.get("selector"))
        wrap = f"failed to get {mname} external metric value"
        name = f"external metric {mname}({sel_text})"

        def fetch() -> list[int]:
            try:
                msel = _metric_selector(ident)
            except ValueError as e:
                raise hc.CalcError(str(e)) from None
            try:
                values, _ts = self.metrics.get_external_metric(mname, ns, msel)
            except MetricsUnavailable as e:
                raise hc.CalcError(f"unable to get external metric {ns}/{mname}/{sel_text}: {e}") from None
            return values

        if target.get("averageValue") is not None:
            try:
                replicas, usage = hc.external_per_pod_metric_replicas(
                    scale.status_replicas, _milli(target["averageValue"]), fetch(), config.tolerances
                )
            except hc.CalcError as e:
                raise self._unable(hpa, "FailedGetExternalMetric", str(e),
                                   f"{wrap}: failed to get {mname} external metric: {e}") from None  # fmt: skip
            return replicas, name, {"type": "External",
                                    "external": {"metric": ident, "current": {"averageValue": _quantity(usage)}}}  # fmt: skip
        if target.get("value") is not None:
            try:
                replicas, usage = hc.external_metric_replicas(
                    scale.spec_replicas, _milli(target["value"]), fetch(), pods.rows, config.tolerances
                )
            except hc.CalcError as e:
                raise self._unable(hpa, "FailedGetExternalMetric", str(e),
                                   f"{wrap}: failed to get external metric {mname}: {e}") from None  # fmt: skip
            return replicas, name, {"type": "External",
                                    "external": {"metric": ident, "current": {"value": _quantity(usage)}}}  # fmt: skip
        err = "invalid external metric source: neither a value target nor an average value target was set"
        raise self._unable(hpa, "FailedGetExternalMetric", err, f"{wrap}: {err}")
