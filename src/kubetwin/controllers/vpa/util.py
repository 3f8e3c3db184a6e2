"""Helpers shared by the VPA's recommender, updater and admission plugin
(kubernetes/autoscaler vertical-pod-autoscaler/pkg/utils/vpa: api.go GetUpdateMode,
GetContainerResourcePolicy, GetContainerControlledValues, Stronger; capping.go
cappingRecommendationProcessor and ApplyVPAPolicy; limit_and_request_scaling.go
GetProportionalLimit, GetBoundaryRequest; pkg/utils/limitrange/limit_range_calculator.go; pkg/target:
the target's selector and controller_fetcher FindTopMostWellKnownOrScalable).

Amounts are upstream's: CPU in millicores (MilliValue), memory in bytes (Value, rounded up).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kubetwin.api import kinds
from kubetwin.api.errors import ApiError
from kubetwin.api.quantity import cpu_milli, to_int
from kubetwin.api.selectors import LabelSelector, label_selector_from_dict

Obj = dict[str, Any]
#: (resource, namespace, name) -> object or None
Getter = Callable[[str, str, str], "Obj | None"]

VPA_RESOURCE = "verticalpodautoscalers.autoscaling.k8s.io"
DEFAULT_CONTAINER_POLICY = "*"
ANN_UPDATES = "vpaUpdates"
ANN_OBSERVED_CONTAINERS = "vpaObservedContainers"


def update_mode(vpa: Obj) -> str:
    """GetUpdateMode: unset (or empty) means Auto."""
    mode = ((vpa.get("spec") or {}).get("updatePolicy") or {}).get("updateMode")
    return mode if isinstance(mode, str) and mode else "Auto"


def container_policy(name: str, vpa: Obj) -> Obj | None:
    """The policy naming the container, else the ``*`` one, else None."""
    default = None
    for p in ((vpa.get("spec") or {}).get("resourcePolicy") or {}).get("containerPolicies") or []:
        if not isinstance(p, dict):
            continue
        if p.get("containerName") == name:
            return p
        if p.get("containerName") == DEFAULT_CONTAINER_POLICY:
            default = p
    return default


def controlled_values(name: str, vpa: Obj) -> str:
    p = container_policy(name, vpa)
    return (p or {}).get("controlledValues") or "RequestsAndLimits"


def amount(resource: str, value: Any) -> int:
    """A quantity as a ResourceAmount: cpu in millicores, memory (and others) in units."""
    return cpu_milli(value) if resource == "cpu" else to_int(value)


def vpa_key(vpa: Obj) -> str:
    m = vpa["metadata"]
    return f"{m.get('namespace', '')}/{m['name']}"


def stronger(a: Obj, b: Obj | None) -> bool:
    """Stronger: the older VPA wins; same creation time -> the smaller name."""
    if b is None:
        return True
    ta, tb = a["metadata"].get("creationTimestamp") or "", b["metadata"].get("creationTimestamp") or ""
    if ta != tb:
        return bool(ta < tb)
    return bool(a["metadata"]["name"] < b["metadata"]["name"])


def _resource_for(api_version: str, kind: str) -> str | None:
    try:
        return kinds.by_gvk(api_version, kind).resource
    except ApiError:
        for k in kinds.all_kinds():
            if k.kind == kind:
                return k.resource
    return None


def target_selector(vpa: Obj, get: Getter) -> tuple[LabelSelector | None, str]:
    """VpaTargetSelectorFetcher.Fetch: the selector of the object ``spec.targetRef`` names, or
    (None, why) -- the recommender's ConfigUnsupported message."""
    ref = (vpa.get("spec") or {}).get("targetRef") or {}
    ns = vpa["metadata"].get("namespace", "")
    kind, name = ref.get("kind") or "", ref.get("name") or ""
    resource = _resource_for(ref.get("apiVersion") or "", kind)
    if resource is None:
        return (
            None,
            f"Cannot read targetRef. Reason: Unhandled targetRef {ref.get('apiVersion', '')} / {kind} / {name}",
        )
    target = get(resource, ns, name)
    if target is None:
        return None, f'Cannot read targetRef. Reason: {resource} "{name}" not found'
    sel = (target.get("spec") or {}).get("selector")
    if kind == "CronJob":
        sel = ((((target.get("spec") or {}).get("jobTemplate") or {}).get("spec")) or {}).get("selector")
    if not isinstance(sel, dict):
        return None, f"Cannot read targetRef. Reason: {kind} {ns}/{name} has no selector"
    try:
        return label_selector_from_dict(sel), ""
    except ValueError as exc:
        return None, f"Cannot read targetRef. Reason: {exc}"


def controller_ref(obj: Obj) -> Obj | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def top_controller(pod: Obj, get: Getter) -> tuple[str, str] | None:
    """FindTopMostWellKnownOrScalable: (kind, name) of the pod's top-most controller (a
    Deployment's pods -> the Deployment), or None for a pod without a controller."""
    ns = pod["metadata"].get("namespace", "")
    ref = controller_ref(pod)
    if ref is None:
        return None
    seen = 0
    while seen < 10:
        seen += 1
        resource = _resource_for(ref.get("apiVersion") or "", ref.get("kind") or "")
        owner = get(resource, ns, ref.get("name") or "") if resource else None
        if owner is None:
            return ref.get("kind") or "", ref.get("name") or ""
        parent = controller_ref(owner)
        if parent is None:
            return ref.get("kind") or "", ref.get("name") or ""
        ref = parent
    return ref.get("kind") or "", ref.get("name") or ""


def matching_vpa(pod: Obj, vpas: list[Obj], get: Getter, *, skip_off: bool = True) -> Obj | None:
    """matcher.GetMatchingVPA: the strongest VPA whose targetRef is the pod's top controller and
    whose target selector matches the pod."""
    parent = top_controller(pod, get)
    if parent is None:
        return None
    labels = pod["metadata"].get("labels") or {}
    best: Obj | None = None
    for vpa in vpas:
        if skip_off and update_mode(vpa) == "Off":
            continue
        ref = (vpa.get("spec") or {}).get("targetRef")
        if not isinstance(ref, dict) or ref.get("kind") != parent[0] or ref.get("name") != parent[1]:
            continue
        if vpa["metadata"].get("namespace") != pod["metadata"].get("namespace"):
            continue
        sel, _ = target_selector(vpa, get)
        if sel is None or not sel.matches(labels):
            continue
        if stronger(vpa, best):
            best = vpa
    return best


# -- LimitRanges (pkg/utils/limitrange/limit_range_calculator.go) ----------------------------------
LIMIT_TYPE_CONTAINER = "Container"
LIMIT_TYPE_POD = "Pod"
RESOURCES = ("cpu", "memory")
RECOMMENDATION_FIELDS = ("target", "lowerBound", "upperBound")
MAX_INT64 = 2**63 - 1
#: resource name -> ResourceAmount (cpu in millicores, memory in bytes)
Amounts = dict[str, int]


@dataclass
class LimitRangeItem:
    """The one LimitRangeItem with the effect of every item of a type in a namespace: the lowest
    max, the highest min (per resource) and the last default. ``None`` stands for an unset list."""

    min: Amounts | None = None
    max: Amounts | None = None
    default: Amounts | None = None


def _amounts(values: Any) -> Amounts:
    out: Amounts = {}
    if not isinstance(values, dict):
        return out
    for res, q in values.items():
        try:
            out[res] = amount(res, q)
        except (TypeError, ValueError):
            continue  # validation rejects such a LimitRange; one that slipped in caps nothing
    return out


def _merge(result: Amounts | None, item: Any, pick: Callable[[int, int], int]) -> Amounts | None:
    if not isinstance(item, dict):
        return result
    values = _amounts(item)
    if result is None:
        return values
    for res in RESOURCES:
        if res in values:
            result[res] = pick(result[res], values[res]) if res in result else values[res]
    return result


def limit_range_item(limit_ranges: Iterable[Obj], limit_type: str) -> LimitRangeItem | None:
    """limitsChecker.getLimitRangeItem: the namespace's LimitRanges' items of ``limit_type``
    ("Container" or "Pod") folded into one, or None when none sets max, min or default."""
    result = LimitRangeItem()
    for lr in sorted(limit_ranges, key=lambda o: o["metadata"].get("name", "")):
        for item in (lr.get("spec") or {}).get("limits") or []:
            if not isinstance(item, dict) or item.get("type") != limit_type:
                continue
            if item.get("max") is None and item.get("min") is None and item.get("default") is None:
                continue
            if isinstance(item.get("default"), dict):
                result.default = _amounts(item["default"])
            result.max = _merge(result.max, item.get("max"), min)
            result.min = _merge(result.min, item.get("min"), max)
    if result.min is None and result.max is None and result.default is None:
        return None
    return result


def limit_range_items(limit_ranges: Iterable[Obj]) -> tuple[LimitRangeItem | None, LimitRangeItem | None]:
    """(container item, pod item) of one namespace's LimitRanges."""
    lrs = list(limit_ranges)
    if not lrs:
        return None, None
    return limit_range_item(lrs, LIMIT_TYPE_CONTAINER), limit_range_item(lrs, LIMIT_TYPE_POD)


# -- limit and request scaling (pkg/utils/vpa/limit_and_request_scaling.go) -------------------------
def container_resources(container: Obj) -> tuple[Amounts, Amounts]:
    """(requests, limits) of a container spec as amounts."""
    res = container.get("resources") or {}
    return _amounts(res.get("requests")), _amounts(res.get("limits"))


def _scale(value: int, base: int, result: int, round_up: bool = False) -> int:
    """scaleQuantityProportionally{CPU,Mem}: ``value x result / base`` floored (ceiled with
    ``round_up``; memory is whole bytes either way, so only CPU millicores round up), capped at
    MaxInt64; a zero base leaves ``value`` as it is."""
    if base == 0:
        return value
    q, r = divmod(value * result, base)
    if r and round_up:
        q += 1
    return min(q, MAX_INT64)


def _original_limit(resource: str, limits: Amounts, default: Amounts | None) -> int | None:
    """getOriginalLimit: the container's limit, else the LimitRange default; 0 is no limit."""
    limit = limits.get(resource)
    if limit is None and default:
        limit = default.get(resource)
    return limit or None


def proportional_limit(
    resource: str, limits: Amounts, requests: Amounts, recommended: int | None, default: Amounts | None = None
) -> int | None:
    """getProportionalResourceLimit: the limit keeping the original limit:request ratio for the
    recommended request (the LimitRange default limit standing in for a missing limit); the request
    itself when limit and request were equal or no request was set; with a request of 0 the limit is
    only raised to the recommendation; None leaves the limit as it is (no limit, no recommendation)."""
    limit = _original_limit(resource, limits, default)
    if limit is None or not recommended:
        return None
    if resource not in requests:
        return recommended
    request = requests[resource]
    if request == 0:
        return recommended if recommended > limit else None
    if request == limit:
        return recommended
    return _scale(limit, request, recommended)


def boundary_request(
    resource: str, requests: Amounts, limits: Amounts, boundary: Amounts, default: Amounts | None
) -> int:
    """GetBoundaryRequest: the request whose proportional limit is the boundary limit; 0 (no
    boundary) for a container without a limit."""
    limit = _original_limit(resource, limits, default)
    if limit is None:
        return 0
    bound = boundary.get(resource, 0)
    request = requests.get(resource, 0)
    if request == 0:
        return bound
    return _scale(request, limit, bound)


# -- capping (pkg/utils/vpa/capping.go) --------------------------------------------------------------
def _cap_to_min(value: int, res: str, mins: Amounts | None) -> int:
    lo = (mins or {}).get(res)
    return lo if lo and value < lo else value


def _cap_to_max(value: int, res: str, maxs: Amounts | None) -> int:
    hi = (maxs or {}).get(res)
    return hi if hi and value > hi else value


def _boundary_recommendation(
    requests: Amounts, limits: Amounts, boundary: Amounts | None, default: Amounts | None
) -> Amounts:
    if boundary is None:
        return {}
    return {r: boundary_request(r, requests, limits, boundary, default) for r in RESOURCES}


def _apply_container_limit_range(
    values: Amounts, requests: Amounts, limits: Amounts, item: LimitRangeItem
) -> None:
    """applyContainerLimitRange: keep the implied limit within the Container item's max/min, and
    the request at least its min."""
    max_allowed = _boundary_recommendation(requests, limits, item.max, item.default)
    min_allowed = _boundary_recommendation(requests, limits, item.min, item.default)
    if item.min is not None:
        for res in RESOURCES:
            if item.min.get(res, 0) > min_allowed.get(res, 0):
                min_allowed[res] = item.min[res]
    for res in list(values):
        values[res] = _cap_to_max(_cap_to_min(values[res], res, min_allowed), res, max_allowed)


def _apply_policy(values: Amounts, policy: Obj | None) -> None:
    """applyVPAPolicy: minAllowed then maxAllowed of the container policy (0 means unset)."""
    if policy is None:
        return
    mins, maxs = _amounts(policy.get("minAllowed")), _amounts(policy.get("maxAllowed"))
    for res in list(values):
        values[res] = _cap_to_max(_cap_to_min(values[res], res, mins), res, maxs)


def _cap_to_container_limit(values: Amounts, limits: Amounts) -> None:
    """capRecommendationToContainerLimit (RequestsOnly): never above the container's own limit."""
    for res, limit in limits.items():
        if res in values and values[res] > limit:
            values[res] = limit


def _apply_pod_limit_range(
    recs: list[Obj], containers: list[Obj], item: LimitRangeItem, res: str, field: str
) -> None:
    """applyPodLimitRange: when the pod's summed (proportional) limits or requests leave the Pod
    item's [min, max], scale ``field`` of every container recommendation by one factor: requests
    up to a summed min (CPU rounded up), else limits into the range (rounded down). A container
    without a recommendation counts with its request. A recommendation without ``res`` in
    ``field`` is left so (upstream would write 0 there)."""
    lo = (item.min or {}).get(res, 0)
    hi = (item.max or {}).get(res, 0)
    default = item.default or {}
    by_name: dict[str, Obj] = {}
    for r in recs:
        by_name.setdefault(r.get("containerName", ""), r)
    zipped = [(c, by_name.get(c.get("name", ""))) for c in containers]
    sum_limit = sum_rec = 0
    for c, rec in zipped:
        requests, limits = container_resources(c)
        value = requests.get(res, 0) if rec is None else (rec.get(field) or {}).get(res, 0)
        limit = proportional_limit(res, limits, requests, value, default)
        if limit is not None:
            sum_limit += limit
        sum_rec += value
    if sum_rec == 0:
        return
    if lo <= sum_limit and lo <= sum_rec and (hi == 0 or hi >= sum_limit):
        return
    if lo > sum_rec:
        for _, rec in zipped:
            values = None if rec is None else rec.get(field)
            if values and res in values:
                values[res] = _scale(values[res], sum_rec, lo, round_up=res == "cpu")
        return
    target_total = 0
    if lo > sum_limit:
        target_total = lo
    if hi != 0 and hi < sum_limit:
        target_total = hi
    for _, rec in zipped:
        values = None if rec is None else rec.get(field)
        if values and res in values:
            values[res] = _scale(values[res], sum_limit, target_total)


@functools.lru_cache(maxsize=4096, typed=True)
def format_amount(res: str, value: int) -> str:
    """An amount of ``res`` (millicores of cpu, else bytes) as canonical quantity text (memoised:
    a VPA's recommendations repeat every run)."""
    from kubetwin.api.quantity import format_bytes, format_cpu_milli

    return format_cpu_milli(value) if res == "cpu" else format_bytes(value)


def capped_recommendation(
    vpa: Obj,
    pod: Obj | None = None,
    container_limit_range: LimitRangeItem | None = None,
    pod_limit_range: LimitRangeItem | None = None,
) -> list[Obj]:
    """cappingRecommendationProcessor.Apply: each container recommendation of ``vpa`` with
    target/lowerBound/upperBound adjusted.

    Without ``pod`` (the recommender's ApplyVPAPolicy): the container policy's minAllowed and
    maxAllowed only. With ``pod`` (the admission controller and the updater): only the pod's
    containers; first, with a Pod LimitRange item, the containers' recommendations (and the
    requests of containers without one, which then appear as target-only recommendations) are
    scaled together so the pod's summed limits and requests fit the item's max/min (upper bounds,
    then targets, then lower bounds; cpu, then memory); then per container the Container
    LimitRange item (the request whose proportional limit is the item's max/min, see
    :func:`boundary_request`), the policy's minAllowed/maxAllowed (the policy wins a conflict), and
    with ``controlledValues: RequestsOnly`` the container's own limit."""
    raw = ((vpa.get("status") or {}).get("recommendation") or {}).get("containerRecommendations") or []
    recs: list[Obj] = []
    for cr in raw:
        if not isinstance(cr, dict):
            continue
        rec = dict(cr)
        for f in RECOMMENDATION_FIELDS:
            if f in cr or pod is None:
                rec[f] = _amounts(cr.get(f))
        recs.append(rec)
    containers: dict[str, Obj] = {}
    if pod is not None:
        spec_containers = [c for c in (pod.get("spec") or {}).get("containers") or [] if isinstance(c, dict)]
        for c in spec_containers:
            containers.setdefault(c.get("name", ""), c)
        if pod_limit_range is not None:
            named = {r.get("containerName") for r in recs}
            for c in spec_containers:  # insertRequestsForMissingRecommendations
                requests, _ = container_resources(c)
                if c.get("name") not in named and requests:
                    recs.append({"containerName": c.get("name", ""), "target": dict(requests)})
            for f in ("upperBound", "target", "lowerBound"):
                for res in RESOURCES:
                    _apply_pod_limit_range(recs, spec_containers, pod_limit_range, res, f)
    out = []
    for rec in recs:
        name = rec.get("containerName", "")
        container = containers.get(name)
        if pod is not None and container is None:
            continue
        policy = container_policy(name, vpa)
        requests, limits = container_resources(container) if container is not None else ({}, {})
        requests_only = pod is not None and controlled_values(name, vpa) == "RequestsOnly"
        for f in RECOMMENDATION_FIELDS:
            values = rec.get(f)
            if values is None:
                continue
            if container_limit_range is not None and container is not None:
                _apply_container_limit_range(values, requests, limits, container_limit_range)
            _apply_policy(values, policy)
            if requests_only:
                _cap_to_container_limit(values, limits)
            rec[f] = {res: format_amount(res, v) for res, v in values.items()}
        out.append(rec)
    return out
