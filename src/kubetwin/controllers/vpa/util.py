"""Helpers shared by the VPA's recommender, updater and admission plugin
(kubernetes/autoscaler vertical-pod-autoscaler/pkg/utils/vpa: api.go GetUpdateMode,
GetContainerResourcePolicy, GetContainerControlledValues, Stronger; capping.go ApplyVPAPolicy;
limit_and_request_scaling.go GetProportionalLimit; pkg/target: the target's selector and
controller_fetcher FindTopMostWellKnownOrScalable)."""

from __future__ import annotations

from collections.abc import Callable
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


def capped_recommendation(vpa: Obj, pod: Obj | None = None) -> list[Obj]:
    """cappingRecommendationProcessor.Apply without LimitRanges: each container recommendation
    (of the pod's containers when ``pod`` is given) with target/lowerBound/upperBound capped to
    the container policy's minAllowed/maxAllowed."""
    from kubetwin.api.quantity import format_bytes, format_cpu_milli

    rec = ((vpa.get("status") or {}).get("recommendation") or {}).get("containerRecommendations") or []
    names = None
    if pod is not None:
        names = {c.get("name") for c in (pod.get("spec") or {}).get("containers") or []}
    out = []
    for cr in rec:
        name = cr.get("containerName")
        if names is not None and name not in names:
            continue
        policy = container_policy(name, vpa) or {}
        capped = dict(cr)
        for field in ("target", "lowerBound", "upperBound"):
            values = dict(cr.get(field) or {})
            for res, q in list(values.items()):
                v = amount(res, q)
                lo = (policy.get("minAllowed") or {}).get(res)
                hi = (policy.get("maxAllowed") or {}).get(res)
                if lo is not None and amount(res, lo) != 0 and v < amount(res, lo):
                    v = amount(res, lo)
                if hi is not None and amount(res, hi) != 0 and v > amount(res, hi):
                    v = amount(res, hi)
                values[res] = format_cpu_milli(v) if res == "cpu" else format_bytes(v)
            capped[field] = values
        out.append(capped)
    return out


def proportional_limit(
    resource: str, original_limit: Any, original_request: Any, recommended_request: int
) -> int | None:
    """getProportionalResourceLimit (no LimitRange default): the limit keeping the original
    limit:request ratio, the request itself when they were equal or no request was set, None when
    there was no limit."""
    limit = amount(resource, original_limit) if original_limit is not None else 0
    if limit == 0:
        return None
    if recommended_request == 0:
        return None
    request = amount(resource, original_request) if original_request is not None else 0
    if request == 0:
        return recommended_request
    if resource == "cpu":
        if request == limit:
            return recommended_request
        return limit * recommended_request // request
    if cpu_milli(original_request) == cpu_milli(original_limit):
        return recommended_request
    return limit * recommended_request // request
