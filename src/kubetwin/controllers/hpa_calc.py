"""Pure HPA arithmetic: the replica calculator and the normalization of desired replicas.

Reproduces kubernetes/kubernetes pkg/controller/podautoscaler/replica_calculator.go
(groupPods, calculateRequests, GetResourceReplicas, calcPlainMetricReplicas, object/external
variants), metrics/utilization.go (GetResourceUtilizationRatio, GetMetricUsageRatio) and the
normalization half of horizontal.go (stabilizeRecommendation[WithBehaviors],
convertDesiredReplicasWithRules, convertDesiredReplicasWithBehaviorRate, scale limits and scale
events). Everything here is a function of its arguments (pods, metric samples, ``now``): no
client, no clock. Values are milli-units, times are virtual seconds. Errors raise ``CalcError``
with upstream's message.

The replica count needs of groupPods and the metric values only counts and sums
(:class:`PodTotals`): ``resource_replicas`` and ``plain_metric_replicas`` build them pod by pod,
the controller's kept pod rows (:mod:`kubetwin.controllers.hpa_pods`) for all pods at once, and
both end in ``resource_replicas_from_totals`` / ``plain_replicas_from_totals``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from kubetwin.api.quantity import cpu_milli
from kubetwin.client.metrics import PodMetric

Obj = dict[str, Any]
ParseTime = Callable[[str], float]
_T = TypeVar("_T")

# horizontal.go
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0
# config/v1alpha1/defaults.go RecommendedDefaultHPAControllerConfiguration
DEFAULT_SYNC_PERIOD = 15.0
DEFAULT_DOWNSCALE_STABILIZATION = 300.0
DEFAULT_CPU_INITIALIZATION_PERIOD = 300.0
DEFAULT_INITIAL_READINESS_DELAY = 30.0
DEFAULT_TOLERANCE = 0.1

MAX_INT32 = 2**31 - 1
MIN_INT32 = -(2**31)

MSG_WITHIN_RANGE = "the desired count is within the acceptable range"
MSG_SCALE_UP_LIMIT = "the desired replica count is increasing faster than the maximum scale rate"
MSG_SCALE_DOWN_LIMIT = "the desired replica count is decreasing faster than the maximum scale rate"
MSG_TOO_MANY = "the desired replica count is more than the maximum replica count"
MSG_TOO_FEW = "the desired replica count is less than the minimum replica count"
MSG_UP_STABILIZED = (
    "recent recommendations were lower than current one, applying the lowest recent recommendation"
)
MSG_DOWN_STABILIZED = (
    "recent recommendations were higher than current one, applying the highest recent recommendation"
)


class CalcError(Exception):
    """A replica count could not be computed; ``str(exc)`` is upstream's error text."""


def quo(a: int, b: int) -> int:
    """Go's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


_quo = quo


def _int32(x: float) -> int:
    """int32(x) of a float that upstream first ceils or truncates; saturates instead of wrapping."""
    if math.isnan(x):
        return 0
    if x >= MAX_INT32:
        return MAX_INT32
    if x <= MIN_INT32:
        return MIN_INT32
    return int(x)


def _ceil32(x: float) -> int:
    return _int32(math.ceil(x)) if math.isfinite(x) else _int32(x)


@dataclass(frozen=True)
class Tolerances:
    """Scale-down and scale-up tolerances around a usage ratio of 1.0."""

    down: float = DEFAULT_TOLERANCE
    up: float = DEFAULT_TOLERANCE

    def is_within(self, usage_ratio: float) -> bool:
        return (1.0 - self.down) <= usage_ratio <= (1.0 + self.up)


@dataclass(frozen=True)
class CalcConfig:
    tolerances: Tolerances = Tolerances()
    cpu_initialization_period: float = DEFAULT_CPU_INITIALIZATION_PERIOD
    delay_of_initial_readiness_status: float = DEFAULT_INITIAL_READINESS_DELAY


# -- pods ---------------------------------------------------------------------------------------
def _ready_condition(pod: Obj) -> Obj | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c
    return None


def _phase(pod: Obj) -> str:
    return (pod.get("status") or {}).get("phase") or ""


IGNORED, PENDING, OTHER = 0, 1, 2  # groupPods' sorting before it looks at metrics
_IGNORED, _PENDING, _OTHER = IGNORED, PENDING, OTHER
# (name, IGNORED/PENDING/OTHER, startTime ("" when there is no Ready condition or startTime),
# Ready's lastTransitionTime, Ready's status)
_Facts = tuple[str, int, str, str, Any]


def running_and_ready(pod: Obj) -> bool:
    """What getReadyPodsCount counts: a Running pod whose Ready condition is True."""
    cond = _ready_condition(pod)
    return _phase(pod) == "Running" and cond is not None and cond.get("status") == "True"


def pod_facts(pod: Obj) -> _Facts:
    """What groupPods reads of a pod: (name, IGNORED (being deleted or Failed) / PENDING / OTHER,
    startTime, Ready's lastTransitionTime, Ready's status); the times are "" and the status None
    unless the pod is OTHER with a startTime and a Ready condition."""
    return pod_facts_and_ready(pod)[0]


def pod_facts_and_ready(pod: Obj) -> tuple[_Facts, bool]:
    """``(pod_facts(pod), running_and_ready(pod))`` reading the Ready condition and phase once."""
    meta = pod["metadata"]
    phase = _phase(pod)
    cond = _ready_condition(pod)
    rr = phase == "Running" and cond is not None and cond.get("status") == "True"
    kind = _IGNORED if meta.get("deletionTimestamp") or phase == "Failed" else _PENDING if phase == "Pending" else _OTHER
    start_text = (pod.get("status") or {}).get("startTime")
    if kind != _OTHER or cond is None or not start_text:
        return (meta["name"], kind, "", "", None), rr
    return (meta["name"], kind, start_text, cond.get("lastTransitionTime") or "", cond.get("status")), rr


class PodCache:
    """What the calculator derives from each pod (grouping facts, summed requests), memoized by uid + resourceVersion: a sync over N unchanged pods does N dict lookups
    instead of re-reading their conditions, timestamps and containers. One per controller (uids
    repeat across clusters built from the same seed). Pods without a uid/resourceVersion are not
    cached."""

    LIMIT = 200_000

    def __init__(self) -> None:
        self._facts: dict[str, tuple[str, _Facts]] = {}
        self._requests: dict[tuple[str, str | None, str], tuple[str, int | str]] = {}

    @staticmethod
    def _version(pod: Obj) -> tuple[str, str] | None:
        meta = pod["metadata"]
        uid, rv = meta.get("uid"), meta.get("resourceVersion")
        return (uid, rv) if uid and rv else None

    def facts(self, pod: Obj) -> _Facts:
        v = self._version(pod)
        if v is None:
            return pod_facts(pod)
        hit = self._facts.get(v[0])
        if hit is not None and hit[0] == v[1]:
            return hit[1]
        f = pod_facts(pod)
        if len(self._facts) >= self.LIMIT:
            self._facts.clear()
        self._facts[v[0]] = (v[1], f)
        return f

    def request(self, pod: Obj, container: str | None, resource: str) -> int:
        v = self._version(pod)
        if v is None:
            return pod_request(pod, container, resource)
        key = (v[0], container, resource)
        hit = self._requests.get(key)
        if hit is None or hit[0] != v[1]:
            try:
                value: int | str = pod_request(pod, container, resource)
            except CalcError as e:
                value = str(e)
            if len(self._requests) >= self.LIMIT:
                self._requests.clear()
            hit = self._requests[key] = (v[1], value)
        if isinstance(hit[1], str):
            raise CalcError(hit[1])
        return hit[1]


def group_pods(
    pods: Iterable[Obj],
    metrics: Mapping[str, PodMetric],
    resource: str,
    now: float,
    config: CalcConfig,
    parse_time: ParseTime,
    cache: PodCache | None = None,
) -> tuple[int, set[str], set[str], set[str]]:
    """groupPods: (ready count, unready pods, pods missing metrics, ignored pods)."""
    ready = 0
    unready: set[str] = set()
    missing: set[str] = set()
    ignored: set[str] = set()
    for pod in pods:
        name, kind, start_text, ltt_text, status = (
            cache.facts(pod) if cache is not None else pod_facts(pod)
        )
        if kind == _IGNORED:
            ignored.add(name)
            continue
        if kind == _PENDING:
            unready.add(name)
            continue
        metric = metrics.get(name)
        if metric is None:
            missing.add(name)
            continue
        if resource == "cpu":
            if not start_text:
                is_unready = True
            else:
                start = parse_time(start_text)
                ltt = parse_time(ltt_text) if ltt_text else 0.0
                if start + config.cpu_initialization_period > now:
                    # within the initialisation period: unready, or no full metric window since
                    # the last readiness transition
                    is_unready = status == "False" or metric.timestamp < ltt + metric.window
                else:
                    # afterwards: only pods that never became ready
                    is_unready = status == "False" and start + config.delay_of_initial_readiness_status > ltt
            if is_unready:
                unready.add(name)
                continue
        ready += 1
    return ready, unready, missing, ignored


_MILLI: dict[Any, int] = {}


def milli_value(q: Any) -> int:
    """Quantity.MilliValue, memoized (requests repeat across pods and syncs)."""
    try:
        return _MILLI[q]
    except KeyError:
        pass
    except TypeError:
        return cpu_milli(q)
    v = cpu_milli(q)
    if len(_MILLI) < 65536:
        _MILLI[q] = v
    return v


def _request_milli(container: Obj, resource: str) -> int | None:
    requests = (container.get("resources") or {}).get("requests") or {}
    if resource not in requests:
        return None
    return milli_value(requests[resource])


def calculate_requests(
    pods: Iterable[Obj], container: str | None, resource: str, cache: PodCache | None = None
) -> dict[str, int]:
    """calculateRequests: pod name -> request (milli) of ``resource``; pod-level requests win
    when set and no container is named; otherwise containers plus restartable init containers."""
    if cache is not None:
        return {pod["metadata"]["name"]: cache.request(pod, container, resource) for pod in pods}
    return {pod["metadata"]["name"]: pod_request(pod, container, resource) for pod in pods}


def pod_request(pod: Obj, container: str | None, resource: str) -> int:
    """One pod's entry of calculateRequests (raises its error)."""
    name = pod["metadata"]["name"]
    spec = pod.get("spec") or {}
    pod_level = (spec.get("resources") or {}).get("requests") or {}
    if not container and pod_level:
        if resource not in pod_level:
            raise CalcError(f"missing pod-level request for {resource} in Pod {name}")
        return milli_value(pod_level[resource])
    containers = list(spec.get("containers") or [])
    containers += [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    total = 0
    found = False
    for c in containers:
        cname = c.get("name", "")
        if not container or container == cname:
            req = _request_milli(c, resource)
            if req is None:
                raise CalcError(f"missing request for {resource} in container {cname} of Pod {name}")
            total += req
        if container and container == cname:
            found = True
            break
    if container and not found:
        raise CalcError(f"container {container} not found in Pod {name}")
    return total


# -- utilization (metrics/utilization.go) ---------------------------------------------------------
def _utilization(metrics_total: int, requests_total: int, entries: int, target_utilization: int) -> tuple[float, int, int]:
    """GetResourceUtilizationRatio over its sums: (ratio, utilization %, raw average value)."""
    if requests_total == 0:
        raise CalcError("no metrics returned matched known pods")
    utilization = max(MIN_INT32, min(MAX_INT32, quo(metrics_total * 100, requests_total)))
    return utilization / target_utilization, utilization, quo(metrics_total, entries)


def resource_utilization_ratio(
    metrics: Mapping[str, int], requests: Mapping[str, int], target_utilization: int
) -> tuple[float, int, int]:
    """GetResourceUtilizationRatio: (ratio, utilization %, raw average value)."""
    metrics_total = 0
    requests_total = 0
    entries = 0
    for pod, value in metrics.items():
        request = requests.get(pod)
        if request is None:
            continue  # extraneous metric
        metrics_total += value
        requests_total += request
        entries += 1
    return _utilization(metrics_total, requests_total, entries, target_utilization)


def metric_usage_ratio(metrics: Mapping[str, int], target_usage: int) -> tuple[float, int]:
    """GetMetricUsageRatio: (ratio, average usage)."""
    usage = quo(sum(metrics.values()), len(metrics))
    return usage / target_usage, usage


# -- replica calculator ---------------------------------------------------------------------------
@dataclass(frozen=True)
class PodTotals:
    """What the replica count needs of groupPods and the metric values: counts and sums.

    ``count``/``total`` are the metric values kept (of pods neither ignored nor unready, plus any
    metric of a pod that was not listed); for a resource utilization ``matched``/``matched_total``
    are those of them whose pod is listed (has a request) and ``requested`` the sum of those
    requests, and the ``missing_*`` / ``unready_requested`` sums are what the pods missing metrics
    and the unready pods add when the calculator fills their values in."""

    ready: int
    unready: int
    missing: int
    count: int
    total: int
    matched: int = 0
    matched_total: int = 0
    requested: int = 0
    missing_requested: int = 0
    missing_fallback: int = 0  # per pod request x fallback % / 100 (truncated), summed
    unready_requested: int = 0


def _grouped_values(
    pods: list[Obj],
    metrics: Mapping[str, PodMetric],
    resource: str,
    now: float,
    config: CalcConfig,
    parse_time: ParseTime,
    cache: PodCache | None,
) -> tuple[int, set[str], set[str], dict[str, int]]:
    """The common start of GetResourceReplicas and calcPlainMetricReplicas: group the pods and
    keep the metric values of those neither ignored nor unready: (ready, unready, missing, values)."""
    if not pods:
        raise CalcError("no pods returned by selector while calculating replica count")
    ready, unready, missing, ignored = group_pods(pods, metrics, resource, now, config, parse_time, cache)
    drop = ignored | unready
    values = {name: m.value for name, m in metrics.items() if name not in drop}
    if not values:
        raise CalcError("did not receive metrics for targeted pods (pods might be unready)")
    return ready, unready, missing, values


def _settle(current_replicas: int, ratio: float, new_ratio: float, count: int, tolerances: Tolerances) -> int:
    """The end of the calculation once missing and unready pods were filled in: keep the current
    count when the new ratio is within tolerance or changed direction, or the new count moves
    against it; else ``ceil(new_ratio x values)``."""
    if tolerances.is_within(new_ratio) or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current_replicas
    new_replicas = _ceil32(new_ratio * count)
    if (new_ratio < 1.0 and new_replicas > current_replicas) or (
        new_ratio > 1.0 and new_replicas < current_replicas
    ):
        return current_replicas
    return new_replicas


def resource_replicas_from_totals(
    current_replicas: int, target_utilization: int, t: PodTotals, tolerances: Tolerances
) -> tuple[int, int, int]:
    """GetResourceReplicas from its totals: (replicas, utilization %, raw average).

    Scale by the utilization ratio unless pods miss metrics or unready pods matter for a scale-up;
    then fill their values in (missing pods use ``missing_fallback`` on a scale-down and 0 on a
    scale-up, unready pods 0), recompute the ratio and settle."""
    ratio, utilization, raw = _utilization(t.matched_total, t.requested, t.matched, target_utilization)
    up_with_unready = t.unready > 0 and ratio > 1.0
    if not up_with_unready and not t.missing:
        if tolerances.is_within(ratio):
            return current_replicas, utilization, raw
        return _ceil32(ratio * t.ready), utilization, raw
    total, requested, matched, count = t.matched_total, t.requested, t.matched, t.count
    if t.missing and (ratio < 1.0 or ratio > 1.0):
        requested += t.missing_requested
        matched += t.missing
        count += t.missing
        if ratio < 1.0:
            total += t.missing_fallback
    if up_with_unready:
        requested += t.unready_requested
        matched += t.unready
        count += t.unready
    new_ratio = _utilization(total, requested, matched, target_utilization)[0]
    return _settle(current_replicas, ratio, new_ratio, count, tolerances), utilization, raw


def plain_replicas_from_totals(
    current_replicas: int, target_usage: int, t: PodTotals, tolerances: Tolerances
) -> tuple[int, int]:
    """calcPlainMetricReplicas from its totals: (replicas, average usage); missing pods use
    exactly the target on a scale-down and 0 on a scale-up, unready pods 0."""
    usage = quo(t.total, t.count)
    ratio = usage / target_usage
    up_with_unready = t.unready > 0 and ratio > 1.0
    if not up_with_unready and not t.missing:
        if tolerances.is_within(ratio):
            return current_replicas, usage
        return _ceil32(ratio * t.ready), usage
    total, count = t.total, t.count
    if t.missing and (ratio < 1.0 or ratio > 1.0):
        count += t.missing
        if ratio < 1.0:
            total += target_usage * t.missing
    if up_with_unready:
        count += t.unready
    new_ratio = quo(total, count) / target_usage
    return _settle(current_replicas, ratio, new_ratio, count, tolerances), usage


def resource_replicas(
    current_replicas: int,
    target_utilization: int,
    resource: str,
    pods: list[Obj],
    metrics: Mapping[str, PodMetric],
    now: float,
    parse_time: ParseTime,
    config: CalcConfig = CalcConfig(),
    container: str | None = None,
    cache: PodCache | None = None,
) -> tuple[int, int, int]:
    """GetResourceReplicas (after the metrics fetch): (replicas, utilization %, raw average)."""
    ready, unready, missing, values = _grouped_values(pods, metrics, resource, now, config, parse_time, cache)
    requests = calculate_requests(pods, container, resource, cache)
    matched = [(v, requests[name]) for name, v in values.items() if name in requests]
    # scale-down: missing pods use 100% of their request (or the target when above 100%)
    fallback = max(100, target_utilization)
    t = PodTotals(
        ready=ready,
        unready=len(unready),
        missing=len(missing),
        count=len(values),
        total=sum(values.values()),
        matched=len(matched),
        matched_total=sum(v for v, _ in matched),
        requested=sum(r for _, r in matched),
        missing_requested=sum(requests[name] for name in missing),
        missing_fallback=sum(quo(requests[name] * fallback, 100) for name in missing),
        unready_requested=sum(requests[name] for name in unready),
    )
    return resource_replicas_from_totals(current_replicas, target_utilization, t, config.tolerances)


def plain_metric_replicas(
    current_replicas: int,
    target_usage: int,
    pods: list[Obj],
    metrics: Mapping[str, PodMetric],
    now: float,
    parse_time: ParseTime,
    config: CalcConfig = CalcConfig(),
    resource: str = "",
    cache: PodCache | None = None,
) -> tuple[int, int]:
    """calcPlainMetricReplicas (Pods metrics; Resource/ContainerResource AverageValue):
    (replicas, average usage)."""
    ready, unready, missing, values = _grouped_values(pods, metrics, resource, now, config, parse_time, cache)
    t = PodTotals(ready=ready, unready=len(unready), missing=len(missing), count=len(values),
                  total=sum(values.values()))  # fmt: skip
    return plain_replicas_from_totals(current_replicas, target_usage, t, config.tolerances)


class ReadyCounter(Protocol):
    """Pods that count their Running and Ready members themselves (the HPA's kept rows)."""

    def ready_count(self) -> int:
        """getReadyPodsCount (raises its error when there are no pods)."""
        ...


#: the target's pods, as a list or as rows that count themselves
TargetPodList = list[Obj] | ReadyCounter


def ready_pods_count(pods: TargetPodList) -> int:
    """getReadyPodsCount: Running pods whose Ready condition is True."""
    if not isinstance(pods, list):
        return pods.ready_count()
    if not pods:
        raise CalcError("no pods returned by selector while calculating replica count")
    return sum(1 for pod in pods if running_and_ready(pod))


def usage_ratio_replica_count(
    current_replicas: int, usage_ratio: float, pods: TargetPodList, tolerances: Tolerances
) -> int:
    """getUsageRatioReplicaCount; scaling from zero ignores ready pods and tolerance."""
    if current_replicas == 0:
        return _ceil32(usage_ratio)
    if tolerances.is_within(usage_ratio):
        return current_replicas
    try:
        ready = ready_pods_count(pods)
    except CalcError as e:
        raise CalcError(f"unable to calculate ready pods: {e}") from None
    return _ceil32(usage_ratio * ready)


def object_metric_replicas(
    current_replicas: int, target_usage: int, usage: int, pods: TargetPodList, tolerances: Tolerances
) -> tuple[int, int]:
    """GetObjectMetricReplicas (Object, Value target): (replicas, usage)."""
    return usage_ratio_replica_count(current_replicas, usage / target_usage, pods, tolerances), usage


def _per_pod(
    status_replicas: int, target_per_pod: int, usage: int, tolerances: Tolerances
) -> tuple[int, int]:
    replicas = status_replicas
    denominator = float(target_per_pod) * float(status_replicas)
    if denominator:
        ratio = usage / denominator
    else:
        ratio = math.inf if usage else math.nan
    if not tolerances.is_within(ratio):
        replicas = _ceil32(usage / target_per_pod)
    reported = math.ceil(usage / status_replicas) if status_replicas else usage
    return replicas, int(reported)


def object_per_pod_metric_replicas(
    status_replicas: int, target_average: int, usage: int, tolerances: Tolerances
) -> tuple[int, int]:
    """GetObjectPerPodMetricReplicas (Object, AverageValue target): (replicas, usage per pod)."""
    return _per_pod(status_replicas, target_average, usage, tolerances)


def external_metric_replicas(
    current_replicas: int, target_usage: int, values: Iterable[int], pods: TargetPodList, tolerances: Tolerances
) -> tuple[int, int]:
    """GetExternalMetricReplicas (External, Value target): the series are summed."""
    usage = sum(values)
    return usage_ratio_replica_count(current_replicas, usage / target_usage, pods, tolerances), usage


def external_per_pod_metric_replicas(
    status_replicas: int, target_per_pod: int, values: Iterable[int], tolerances: Tolerances
) -> tuple[int, int]:
    """GetExternalPerPodMetricReplicas (External, AverageValue target)."""
    return _per_pod(status_replicas, target_per_pod, sum(values), tolerances)


# -- normalization (horizontal.go) ----------------------------------------------------------------
@dataclass
class Recommendation:
    replicas: int
    timestamp: float


@dataclass
class ScaleEvent:
    change: int  # absolute value
    timestamp: float
    outdated: bool = False


def _put(items: list[_T], old_index: int, item: _T) -> None:
    """Record ``item`` in the expired slot ``old_index`` (-1: none) or at the end."""
    if old_index >= 0:
        items[old_index] = item
    else:
        items.append(item)


def stabilize_recommendation(
    recommendations: list[Recommendation], now: float, window: float, desired: int
) -> int:
    """stabilizeRecommendation (no behavior): the max recommendation within the downscale
    stabilization window; records ``desired`` (reusing an expired slot).

    A recommendation exactly ``window`` seconds old has expired (upstream compares with
    ``Before``; on a real clock the sync 300 s later always runs a little after the cutoff, and the
    behavior path's ``After`` already drops it; on the virtual clock the two would differ by one
    sync)."""
    best = desired
    old_index = -1
    cutoff = now - window
    for i, rec in enumerate(recommendations):
        if rec.timestamp <= cutoff:
            old_index = i
        elif rec.replicas > best:
            best = rec.replicas
    _put(recommendations, old_index, Recommendation(desired, now))
    return best


def calculate_scale_up_limit(current_replicas: int) -> int:
    return int(max(SCALE_UP_LIMIT_FACTOR * current_replicas, SCALE_UP_LIMIT_MINIMUM))


def convert_desired_replicas_with_rules(
    current: int, desired: int, min_replicas: int, max_replicas: int
) -> tuple[int, str, str]:
    """convertDesiredReplicasWithRules (no behavior): (replicas, reason, message)."""
    scale_up_limit = calculate_scale_up_limit(current)
    if max_replicas > scale_up_limit:
        maximum, reason, message = scale_up_limit, "ScaleUpLimit", MSG_SCALE_UP_LIMIT
    else:
        maximum, reason, message = max_replicas, "TooManyReplicas", MSG_TOO_MANY
    if desired < min_replicas:
        return min_replicas, "TooFewReplicas", MSG_TOO_FEW
    if desired > maximum:
        return maximum, reason, message
    return desired, "DesiredWithinRange", MSG_WITHIN_RANGE


def stabilize_recommendation_with_behaviors(
    recommendations: list[Recommendation],
    now: float,
    up_window: float,
    down_window: float,
    current: int,
    desired: int,
) -> tuple[int, str, str]:
    """stabilizeRecommendationWithBehaviors: clamp between the lowest recommendation of the
    scale-up window and the highest of the scale-down window; records ``desired``."""
    up_rec = desired
    down_rec = desired
    up_cutoff = now - up_window
    down_cutoff = now - down_window
    old_index = -1
    for i, rec in enumerate(recommendations):
        if rec.timestamp > up_cutoff:
            up_rec = min(rec.replicas, up_rec)
        if rec.timestamp > down_cutoff:
            down_rec = max(rec.replicas, down_rec)
        if rec.timestamp < up_cutoff and rec.timestamp < down_cutoff:
            old_index = i
    recommendation = current
    if recommendation < up_rec:
        recommendation = up_rec
    if recommendation > down_rec:
        recommendation = down_rec
    _put(recommendations, old_index, Recommendation(desired, now))
    if desired >= current:
        return recommendation, "ScaleUpStabilized", MSG_UP_STABILIZED
    return recommendation, "ScaleDownStabilized", MSG_DOWN_STABILIZED


def replicas_change_per_period(period_seconds: float, events: Iterable[ScaleEvent], now: float) -> int:
    cutoff = now - period_seconds
    return sum(e.change for e in events if e.timestamp > cutoff)


def _policies(rules: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(rules.get("policies") or [])


def _scale_limit_with_policies(
    current: int,
    up_events: list[ScaleEvent],
    down_events: list[ScaleEvent],
    rules: Mapping[str, Any],
    now: float,
    scale_up: bool,
) -> int:
    """The policy loop of calculateScaleUpLimitWithScalingRules and
    calculateScaleDownLimitWithBehaviors: each policy proposes a limit from the replica count at
    the start of its period; selectPolicy Max keeps the most permissive proposal (highest going
    up, lowest going down), Min the most restrictive; with no policy, the value ``pick`` never
    chooses."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    pick = max if (select == "Min") != scale_up else min
    result: int | None = None
    for policy in _policies(rules):
        period = float(policy.get("periodSeconds") or 0)
        added = replicas_change_per_period(period, up_events, now)
        deleted = replicas_change_per_period(period, down_events, now)
        start = current - added + deleted
        value = int(policy.get("value") or 0)
        if policy.get("type") == "Pods":
            proposed = start + value if scale_up else start - value
        elif scale_up:  # Percent: rounded up so that a small percentage still adds a pod
            proposed = _ceil32(start * (1 + value / 100))
        else:  # Percent: truncated
            proposed = _int32(start * (1 - value / 100))
        result = proposed if result is None else pick(result, proposed)
    if result is None:
        return MIN_INT32 if pick is max else MAX_INT32
    return result


def calculate_scale_up_limit_with_rules(
    current: int,
    up_events: list[ScaleEvent],
    down_events: list[ScaleEvent],
    rules: Mapping[str, Any],
    now: float,
) -> int:
    """calculateScaleUpLimitWithScalingRules."""
    return _scale_limit_with_policies(current, up_events, down_events, rules, now, scale_up=True)


def calculate_scale_down_limit_with_behaviors(
    current: int,
    up_events: list[ScaleEvent],
    down_events: list[ScaleEvent],
    rules: Mapping[str, Any],
    now: float,
) -> int:
    """calculateScaleDownLimitWithBehaviors."""
    return _scale_limit_with_policies(current, up_events, down_events, rules, now, scale_up=False)


def convert_desired_replicas_with_behavior_rate(
    current: int,
    desired: int,
    min_replicas: int,
    max_replicas: int,
    up_rules: Mapping[str, Any],
    down_rules: Mapping[str, Any],
    up_events: list[ScaleEvent],
    down_events: list[ScaleEvent],
    now: float,
) -> tuple[int, str, str]:
    """convertDesiredReplicasWithBehaviorRate: (replicas, reason, message)."""
    if desired > current:
        limit = calculate_scale_up_limit_with_rules(current, up_events, down_events, up_rules, now)
        limit = max(limit, current)  # no further scale-up until old events expire
        if max_replicas > limit:
            maximum, reason, message = limit, "ScaleUpLimit", MSG_SCALE_UP_LIMIT
        else:
            maximum, reason, message = max_replicas, "TooManyReplicas", MSG_TOO_MANY
        if desired > maximum:
            return maximum, reason, message
    elif desired < current:
        limit = calculate_scale_down_limit_with_behaviors(current, up_events, down_events, down_rules, now)
        limit = min(limit, current)
        if min_replicas < limit:
            minimum, reason, message = limit, "ScaleDownLimit", MSG_SCALE_DOWN_LIMIT
        else:
            minimum, reason, message = min_replicas, "TooFewReplicas", MSG_TOO_FEW
        if desired < minimum:
            return minimum, reason, message
    return desired, "DesiredWithinRange", MSG_WITHIN_RANGE


def longest_policy_period(rules: Mapping[str, Any]) -> float:
    return max([float(p.get("periodSeconds") or 0) for p in _policies(rules)] + [0.0])


def store_scale_event(events: list[ScaleEvent], rules: Mapping[str, Any], change: int, now: float) -> None:
    """storeScaleEvent for one direction: mark events older than the longest policy period
    outdated, reuse the last outdated slot or append."""
    cutoff = now - longest_policy_period(rules)
    old_index = -1
    for i, e in enumerate(events):
        if e.timestamp < cutoff:
            e.outdated = True
        if e.outdated:
            old_index = i
    _put(events, old_index, ScaleEvent(change, now))


# -- behavior defaults (pkg/apis/autoscaling/v2/defaults.go) ---------------------------------------
DEFAULT_SCALE_UP_RULES: dict[str, Any] = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
DEFAULT_SCALE_DOWN_RULES: dict[str, Any] = {
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}


def _fill_unset(defaults: dict[str, Any], rules: Mapping[str, Any] | None) -> dict[str, Any]:
    """``defaults`` overridden by every field of ``rules`` that is set (not None)."""
    for k, v in (rules or {}).items():
        if v is not None:
            defaults[k] = v
    return defaults


def scale_up_rules(rules: Mapping[str, Any] | None) -> dict[str, Any]:
    """GenerateHPAScaleUpRules: fill what the user left unset."""
    return _fill_unset(dict(DEFAULT_SCALE_UP_RULES), rules)


def scale_down_rules(rules: Mapping[str, Any] | None, downscale_stabilization: float) -> dict[str, Any]:
    """GenerateHPAScaleDownRules + maybeInitScaleDownStabilizationWindow."""
    defaults = dict(DEFAULT_SCALE_DOWN_RULES)
    defaults["stabilizationWindowSeconds"] = int(downscale_stabilization)
    return _fill_unset(defaults, rules)
