"""Conversion between served versions and the stored version
(kubernetes/kubernetes pkg/apis/autoscaling/v1/conversion.go, for HorizontalPodAutoscaler).

The kinds table accepts ``autoscaling/v1`` HorizontalPodAutoscalers and stores them as
``autoscaling/v2``. The registry calls ``to_storage`` on every create/update before defaulting,
so a v1 object's ``targetCPUUtilizationPercentage`` becomes a v2 Resource metric (and is not
replaced by the 80% default). ``hpa_v2_to_v1`` is the reverse, for serving v1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]

V1 = "autoscaling/v1"
V2 = "autoscaling/v2"


def _cpu_utilization_metric(value: Any) -> Obj:
    return {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": value}},
    }


def hpa_v1_to_v2(obj: Obj) -> Obj:
    """Convert an autoscaling/v1 HorizontalPodAutoscaler (a new dict; ``obj`` is untouched)."""
    out: Obj = {k: v for k, v in obj.items() if k not in ("spec", "status")}
    out["apiVersion"] = V2
    spec = obj.get("spec")
    if isinstance(spec, dict):
        new_spec: Obj = {k: v for k, v in spec.items() if k != "targetCPUUtilizationPercentage"}
        target = spec.get("targetCPUUtilizationPercentage")
        if target is not None:
            new_spec["metrics"] = [_cpu_utilization_metric(target)]
        out["spec"] = new_spec
    elif spec is not None:
        out["spec"] = spec
    status = obj.get("status")
    if isinstance(status, dict):
        new_status: Obj = {k: v for k, v in status.items() if k != "currentCPUUtilizationPercentage"}
        current = status.get("currentCPUUtilizationPercentage")
        if current is not None:
            new_status["currentMetrics"] = [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}}
            ]
        out["status"] = new_status
    elif status is not None:
        out["status"] = status
    return out


def hpa_v2_to_v1(obj: Obj) -> Obj:
    """Convert a stored autoscaling/v2 HorizontalPodAutoscaler to its v1 form (a new dict).

    v1 keeps only the CPU utilization target; other metrics, behavior and conditions are dropped
    (upstream carries them in ``autoscaling.alpha.kubernetes.io/*`` annotations).
    """
    out: Obj = {k: v for k, v in obj.items() if k not in ("spec", "status")}
    out["apiVersion"] = V1
    spec = obj.get("spec") or {}
    new_spec: Obj = {k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas") if k in spec}
    for m in spec.get("metrics") or []:
        res = m.get("resource") or {}
        target = res.get("target") or {}
        if m.get("type") == "Resource" and res.get("name") == "cpu" and target.get("type") == "Utilization":
            new_spec["targetCPUUtilizationPercentage"] = target.get("averageUtilization")
            break
    out["spec"] = new_spec
    status = obj.get("status")
    if isinstance(status, dict):
        new_status: Obj = {
            k: status[k]
            for k in ("observedGeneration", "lastScaleTime", "currentReplicas", "desiredReplicas")
            if k in status
        }
        for m in status.get("currentMetrics") or []:
            res = m.get("resource") or {}
            current = res.get("current") or {}
            if m.get("type") == "Resource" and res.get("name") == "cpu" and "averageUtilization" in current:
                new_status["currentCPUUtilizationPercentage"] = current["averageUtilization"]
                break
        out["status"] = new_status
    return out


_TO_STORAGE: dict[tuple[str, str], Callable[[Obj], Obj]] = {
    (V1, "HorizontalPodAutoscaler"): hpa_v1_to_v2,
}


def to_storage(obj: Obj) -> Obj:
    """Convert ``obj`` in place to its kind's stored version (no-op for every other version)."""
    if not isinstance(obj, dict):
        return obj
    convert = _TO_STORAGE.get((obj.get("apiVersion") or "", obj.get("kind") or ""))
    if convert is None:
        return obj
    converted = convert(obj)
    obj.clear()
    obj.update(converted)
    return obj
