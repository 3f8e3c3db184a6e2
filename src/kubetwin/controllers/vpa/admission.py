"""The VPA admission controller as an in-process admission plugin
(kubernetes/autoscaler vertical-pod-autoscaler/pkg/admission-controller/resource/pod: handler.go,
patch/resource_updates.go, patch/observed_containers.go, recommendation/recommendation_provider.go;
resource/vpa/matcher.go; the recommendation processor pkg/utils/vpa/capping.go).

On pod CREATE: the strongest VPA (the oldest, then by name) whose mode is not Off, whose targetRef
is the pod's top-most controller (a Deployment for its ReplicaSets' pods) and whose target's
selector matches the pod supplies the recommendation. The recommendation is capped for the pod
(:func:`~kubetwin.controllers.vpa.util.capped_recommendation`): the namespace's LimitRanges
(a ``Pod`` item's max/min by scaling all containers together, a ``Container`` item's max/min on
each container's implied limit and request), the container policy's minAllowed/maxAllowed, and with
``RequestsOnly`` the container's limit. Each container with a recommendation gets its requests set
to the capped target; with ``controlledValues: RequestsAndLimits`` (the default) a container with a
limit -- or without one in a namespace whose Container LimitRange has a default limit -- gets a limit
keeping its limit:request ratio. The pod is annotated ``vpaObservedContainers: "<names>"`` and,
when something changed, ``vpaUpdates: "Pod resources updated by <vpa>: container 0: cpu request,
memory request, ..."``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubetwin.controllers.vpa import util as vu
from kubetwin.store.admission import handles

if TYPE_CHECKING:
    from kubetwin.store.registry import Registry

Obj = dict[str, Any]


def apply_recommendation(
    pod: Obj,
    vpa: Obj,
    container_limit_range: vu.LimitRangeItem | None = None,
    pod_limit_range: vu.LimitRangeItem | None = None,
) -> list[str]:
    """Set the pod's container resources from ``vpa``'s recommendation (in place); returns the
    per-container annotation parts ("container 0: cpu request, memory request, cpu limit")."""
    capped = vu.capped_recommendation(vpa, pod, container_limit_range, pod_limit_range)
    recs = {r.get("containerName"): r for r in capped}
    default = container_limit_range.default if container_limit_range is not None else None
    parts: list[str] = []
    for i, c in enumerate((pod.get("spec") or {}).get("containers") or []):
        rec = recs.get(c.get("name"))
        if rec is None:
            continue
        target = {res: vu.amount(res, q) for res, q in sorted((rec.get("target") or {}).items())}
        resources = c.get("resources")
        if not isinstance(resources, dict):
            resources = c["resources"] = {}
        old_requests, old_limits = vu.container_resources(c)
        notes: list[str] = []
        requests = dict(resources.get("requests") or {})
        for res, value in target.items():
            requests[res] = vu.format_amount(res, value)
            notes.append(f"{res} request")
        limits = dict(resources.get("limits") or {})
        if vu.controlled_values(c.get("name", ""), vpa) == "RequestsAndLimits":
            for res in ("cpu", "memory"):
                lim = vu.proportional_limit(res, old_limits, old_requests, target.get(res), default)
                if lim is not None:
                    limits[res] = vu.format_amount(res, lim)
                    notes.append(f"{res} limit")
        if not notes:
            continue
        if requests:
            resources["requests"] = requests
        if limits:
            resources["limits"] = limits
        parts.append(f"container {i}: " + ", ".join(notes))
    return parts


@handles("Pod", ops=("CREATE",))
def vpa_admission(registry: Registry, obj: Obj, old: Obj | None, op: str) -> None:
    """Admission plugin: ``fn(registry, obj, old, operation)``."""
    if op != "CREATE" or obj.get("kind") != "Pod":
        return
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or ""
    store = registry.store
    vpas = list(store.iter(vu.VPA_RESOURCE, ns))
    if not vpas:
        return

    def get(resource: str, namespace: str, name: str) -> Obj | None:
        return store.get(resource, namespace, name)

    vpa = vu.matching_vpa(obj, vpas, get)
    if vpa is None:
        return
    container_lr, pod_lr = vu.limit_range_items(store.iter("limitranges", ns))
    parts = apply_recommendation(obj, vpa, container_lr, pod_lr)
    ann = meta.get("annotations")
    if not isinstance(ann, dict):
        ann = meta["annotations"] = {}
    names = [c.get("name", "") for c in (obj.get("spec") or {}).get("containers") or []]
    ann[vu.ANN_OBSERVED_CONTAINERS] = ", ".join(names)
    if parts:
        ann[vu.ANN_UPDATES] = f"Pod resources updated by {vpa['metadata']['name']}: " + "; ".join(parts)
