"""Conversion between served versions and the stored version
(kubernetes/kubernetes pkg/apis/autoscaling/v1/conversion.go, for HorizontalPodAutoscaler).

HorizontalPodAutoscalers are stored as ``autoscaling/v2`` and also served as ``autoscaling/v1``.
The registry calls ``to_storage`` on every create/update before defaulting, so a v1 object's
``targetCPUUtilizationPercentage`` becomes a v2 Resource metric (and is not replaced by the 80%
default); ``from_storage`` gives the v1 form for the server's v1 endpoints.

v1 has fields only for the CPU utilization target. What else a v2 object holds travels, as
upstream, as JSON in annotations of the v1 form and comes back from them on the way in:

- ``autoscaling.alpha.kubernetes.io/metrics``: the spec metrics other than CPU utilization, as
  autoscaling/v1 ``MetricSpec`` (``targetAverageUtilization``, ``targetAverageValue``, ...);
- ``autoscaling.alpha.kubernetes.io/current-metrics``: every status metric as v1 ``MetricStatus``
  (CPU included: it also carries the raw value);
- ``autoscaling.alpha.kubernetes.io/behavior``: ``spec.behavior`` as upstream writes it, the
  internal Go type without JSON tags (``{"ScaleUp":{"StabilizationWindowSeconds":0,...}}``);
- ``autoscaling.alpha.kubernetes.io/conditions``: ``status.conditions``.

Coming in, metrics from the annotation come first and the CPU target last, malformed annotations
are ignored, and all four annotations are dropped from what is stored (from v2 writes too); going
out, stored copies of them are dropped before the converted ones are written
(DropRoundTripHorizontalPodAutoscalerAnnotations).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from kubetwin.api import errors

Obj = dict[str, Any]

V1 = "autoscaling/v1"
V2 = "autoscaling/v2"
HPA = "HorizontalPodAutoscaler"

METRIC_SPECS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
METRIC_STATUSES_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics"
BEHAVIOR_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior"
CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
ROUND_TRIP_ANNOTATIONS = (
    METRIC_SPECS_ANNOTATION, BEHAVIOR_ANNOTATION, METRIC_STATUSES_ANNOTATION, CONDITIONS_ANNOTATION,
)  # fmt: skip
DEFAULT_CPU_UTILIZATION = 80


# -- JSON as Go's encoding/json writes it --------------------------------------------------------


def go_json(value: Any) -> str:
    """Compact JSON with Go's HTML-safe escapes (``<`` ``>`` ``&`` U+2028 U+2029)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def _some(**fields: Any) -> Obj:
    """``fields`` without the None values (Go's omitempty on pointers), in the given order."""
    return {k: v for k, v in fields.items() if v is not None}


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _quantity(value: Any) -> Any:
    """A value (non-pointer) resource.Quantity: the zero Quantity is written as "0"."""
    return "0" if value is None else value


# -- metrics: v2 <-> v1 (the annotation forms) ---------------------------------------------------


def _ref_v1(ref: Any) -> Obj:
    r = _d(ref)
    out: Obj = {"kind": r.get("kind", ""), "name": r.get("name", "")}
    if r.get("apiVersion"):
        out["apiVersion"] = r["apiVersion"]
    return out


def _metric_spec_v2_to_v1(m: Obj) -> Obj:
    out: Obj = {"type": m.get("type", "")}
    if isinstance(m.get("object"), dict):
        o = m["object"]
        t, metric = _d(o.get("target")), _d(o.get("metric"))
        out["object"] = _some(
            target=_ref_v1(o.get("describedObject")), metricName=metric.get("name", ""),
            targetValue=_quantity(t.get("value")), selector=metric.get("selector"), averageValue=t.get("averageValue"),
        )  # fmt: skip
    if isinstance(m.get("pods"), dict):
        t, metric = _d(m["pods"].get("target")), _d(m["pods"].get("metric"))
        out["pods"] = _some(
            metricName=metric.get("name", ""), targetAverageValue=_quantity(t.get("averageValue")),
            selector=metric.get("selector"),
        )  # fmt: skip
    for key in ("resource", "containerResource"):
        if isinstance(m.get(key), dict):
            r = m[key]
            t = _d(r.get("target"))
            src = _some(
                name=r.get("name", ""), targetAverageUtilization=t.get("averageUtilization"),
                targetAverageValue=t.get("averageValue"),
            )  # fmt: skip
            if key == "containerResource":
                src["container"] = r.get("container", "")
            out[key] = src
    if isinstance(m.get("external"), dict):
        t, metric = _d(m["external"].get("target")), _d(m["external"].get("metric"))
        out["external"] = _some(
            metricName=metric.get("name", ""), metricSelector=metric.get("selector"),
            targetValue=t.get("value"), targetAverageValue=t.get("averageValue"),
        )  # fmt: skip
    return out


def _identifier(name: Any, selector: Any) -> Obj:
    return _some(name=name if name is not None else "", selector=selector)


def _metric_spec_v1_to_v2(m: Obj) -> Obj:
    out: Obj = {"type": m.get("type", "")}
    if isinstance(m.get("object"), dict):
        o = m["object"]
        kind = "AverageValue" if o.get("averageValue") is not None else "Value"
        # upstream sets value from targetValue whatever the type
        out["object"] = {
            "describedObject": _ref_v1(o.get("target")),
            "target": _some(type=kind, value=_quantity(o.get("targetValue")), averageValue=o.get("averageValue")),
            "metric": _identifier(o.get("metricName"), o.get("selector")),
        }
    if isinstance(m.get("pods"), dict):
        p = m["pods"]
        out["pods"] = {
            "metric": _identifier(p.get("metricName"), p.get("selector")),
            "target": {"type": "AverageValue", "averageValue": _quantity(p.get("targetAverageValue"))},
        }
    for key in ("resource", "containerResource"):
        if isinstance(m.get(key), dict):
            r = m[key]
            util = r.get("targetAverageUtilization")
            target = _some(
                type="Utilization" if util is not None else "AverageValue",
                averageValue=r.get("targetAverageValue"), averageUtilization=util,
            )  # fmt: skip
            src: Obj = {"name": r.get("name", ""), "target": target}
            if key == "containerResource":
                src["container"] = r.get("container", "")
            out[key] = src
    if isinstance(m.get("external"), dict):
        e = m["external"]
        out["external"] = {
            "metric": _identifier(e.get("metricName"), e.get("metricSelector")),
            "target": _some(
                type="AverageValue" if e.get("targetValue") is None else "Value",
                value=e.get("targetValue"), averageValue=e.get("targetAverageValue"),
            ),
        }  # fmt: skip
    return out


def _metric_status_v2_to_v1(m: Obj) -> Obj:
    out: Obj = {"type": m.get("type", "")}
    if isinstance(m.get("object"), dict):
        o = m["object"]
        cur, metric = _d(o.get("current")), _d(o.get("metric"))
        out["object"] = _some(
            target=_ref_v1(o.get("describedObject")), metricName=metric.get("name", ""),
            currentValue=_quantity(cur.get("value")), selector=metric.get("selector"), averageValue=cur.get("averageValue"),
        )  # fmt: skip
    if isinstance(m.get("pods"), dict):
        p = m["pods"]
        cur, metric = _d(p.get("current")), _d(p.get("metric"))
        out["pods"] = _some(
            metricName=metric.get("name", ""), currentAverageValue=_quantity(cur.get("averageValue")),
            selector=metric.get("selector"),
        )  # fmt: skip
    for key in ("resource", "containerResource"):
        if isinstance(m.get(key), dict):
            r = m[key]
            cur = _d(r.get("current"))
            st = _some(
                name=r.get("name", ""), currentAverageUtilization=cur.get("averageUtilization"),
                currentAverageValue=_quantity(cur.get("averageValue")),
            )  # fmt: skip
            if key == "containerResource":
                st["container"] = r.get("container", "")
            out[key] = st
    if isinstance(m.get("external"), dict):
        e = m["external"]
        cur, metric = _d(e.get("current")), _d(e.get("metric"))
        out["external"] = _some(
            metricName=metric.get("name", ""), metricSelector=metric.get("selector"),
            currentValue=_quantity(cur.get("value")), currentAverageValue=cur.get("averageValue"),
        )  # fmt: skip
    return out


def _metric_status_v1_to_v2(m: Obj) -> Obj:
    out: Obj = {"type": m.get("type", "")}
    if isinstance(m.get("object"), dict):
        o = m["object"]
        out["object"] = {
            "metric": _identifier(o.get("metricName"), o.get("selector")),
            "current": _some(value=_quantity(o.get("currentValue")), averageValue=o.get("averageValue")),
            "describedObject": _ref_v1(o.get("target")),
        }
    if isinstance(m.get("pods"), dict):
        p = m["pods"]
        out["pods"] = {
            "metric": _identifier(p.get("metricName"), p.get("selector")),
            "current": {"averageValue": _quantity(p.get("currentAverageValue"))},
        }
    for key in ("resource", "containerResource"):
        if isinstance(m.get(key), dict):
            r = m[key]
            st: Obj = {
                "name": r.get("name", ""),
                "current": _some(
                    averageValue=_quantity(r.get("currentAverageValue")),
                    averageUtilization=r.get("currentAverageUtilization"),
                ),
            }  # fmt: skip
            if key == "containerResource":
                st["container"] = r.get("container", "")
            out[key] = st
    if isinstance(m.get("external"), dict):
        e = m["external"]
        out["external"] = {
            "metric": _identifier(e.get("metricName"), e.get("metricSelector")),
            "current": _some(value=_quantity(e.get("currentValue")), averageValue=e.get("currentAverageValue")),
        }
    return out


def _condition_v1(c: Obj) -> Obj:
    out: Obj = {"type": c.get("type", ""), "status": c.get("status", ""),
                "lastTransitionTime": c.get("lastTransitionTime")}  # fmt: skip
    for k in ("reason", "message"):
        if c.get(k):
            out[k] = c[k]
    return out


# -- behavior: the internal Go type, no JSON tags ------------------------------------------------

_BEHAVIOR_FIELDS = {"scaleUp": "ScaleUp", "scaleDown": "ScaleDown"}
_RULES_FIELDS = {"stabilizationWindowSeconds": "StabilizationWindowSeconds", "selectPolicy": "SelectPolicy",
                 "policies": "Policies"}  # fmt: skip
_POLICY_FIELDS = {"type": "Type", "value": "Value", "periodSeconds": "PeriodSeconds"}


def _behavior_to_go(b: Obj) -> Obj:
    def rules(r: Any) -> Obj | None:
        if not isinstance(r, dict):
            return None
        out: Obj = {go: r.get(js) for js, go in _RULES_FIELDS.items() if js != "policies"}
        pols = r.get("policies")
        out["Policies"] = (
            [{"Type": p.get("type", ""), "Value": p.get("value", 0), "PeriodSeconds": p.get("periodSeconds", 0)}
             for p in pols if isinstance(p, dict)]  # fmt: skip
            if isinstance(pols, list)
            else None
        )
        return out

    return {go: rules(b.get(js)) for js, go in _BEHAVIOR_FIELDS.items()}


def _get_ci(d: Obj, name: str) -> Any:
    """Go's json.Unmarshal matches field names case-insensitively."""
    for k, v in d.items():
        if k.lower() == name.lower():
            return v
    return None


def _behavior_from_go(b: Any) -> Obj | None:
    if not isinstance(b, dict):
        return None

    def rules(r: Any) -> Obj | None:
        if r is None:
            return None
        if not isinstance(r, dict):
            raise ValueError("rules")
        out: Obj = {}
        for js in _RULES_FIELDS:
            v = _get_ci(r, js)
            if v is None:
                continue
            if js == "policies":
                if not isinstance(v, list):
                    raise ValueError("policies")
                v = [{js2: _get_ci(p, js2) for js2 in _POLICY_FIELDS if _get_ci(p, js2) is not None}
                     for p in v if isinstance(p, dict)]  # fmt: skip
            out[js] = v
        return out

    out = {js: rules(_get_ci(b, js)) for js in _BEHAVIOR_FIELDS}
    kept = {k: v for k, v in out.items() if v is not None}
    return kept or None


def _annotation_json(annotations: Obj, key: str) -> Any:
    text = annotations.get(key)
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


# -- the HorizontalPodAutoscaler -----------------------------------------------------------------


def _is_cpu_utilization(m: Any) -> bool:
    if not isinstance(m, dict) or m.get("type") != "Resource":
        return False
    res = _d(m.get("resource"))
    return res.get("name") == "cpu" and _d(res.get("target")).get("averageUtilization") is not None


def _int32(value: Any, path: str, go_type: str) -> Any:
    """``value`` if it decodes as an int32, else the 400 the apiserver's decoder gives."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31):
        return value
    go = {str: "string", bool: "bool", float: "number", list: "array", dict: "object"}.get(type(value), "number")
    raise errors.bad_request(
        f'{HPA} in version "v1" cannot be handled as a {HPA}: json: cannot unmarshal {go} into Go struct field '
        f"{go_type}.{path} of type int32"
    )


def _without_round_trip(meta: Obj) -> Obj:
    out = dict(meta)
    ann = out.get("annotations")
    if isinstance(ann, dict) and any(k in ann for k in ROUND_TRIP_ANNOTATIONS):
        ann = {k: v for k, v in ann.items() if k not in ROUND_TRIP_ANNOTATIONS}
        if ann:
            out["annotations"] = ann
        else:
            out.pop("annotations")
    return out


def hpa_v1_to_v2(obj: Obj) -> Obj:
    """Convert an autoscaling/v1 HorizontalPodAutoscaler (a new dict; ``obj`` is untouched).

    Fields v1 does not have are dropped, as decoding drops them upstream. A non-integer
    ``targetCPUUtilizationPercentage`` is a 400, as Go's decoder reports it.
    """
    out: Obj = {k: v for k, v in obj.items() if k not in ("spec", "status", "metadata")}
    out["apiVersion"] = V2
    meta = obj.get("metadata")
    annotations: Obj = {}
    if isinstance(meta, dict):
        annotations = _d(meta.get("annotations"))
        out["metadata"] = _without_round_trip(meta)
    elif meta is not None:
        out["metadata"] = meta
    spec = obj.get("spec")
    if spec is None or isinstance(spec, dict):  # a value struct in Go: always there
        spec = _d(spec)
        new_spec: Obj = {k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas") if k in spec}
        metrics: list[Obj] = []
        others = _annotation_json(annotations, METRIC_SPECS_ANNOTATION)
        if isinstance(others, list):
            metrics = [_metric_spec_v1_to_v2(m) for m in others if isinstance(m, dict)]
        target = _int32(spec.get("targetCPUUtilizationPercentage"), "spec.targetCPUUtilizationPercentage",
                        "HorizontalPodAutoscalerSpec")  # fmt: skip
        if target is not None:
            metrics.append({"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": target}}})  # fmt: skip
        if not metrics:
            # v1 had an implicit 80% default; it is explicit from v2 on
            metrics = [{"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}]  # fmt: skip
        new_spec["metrics"] = metrics
        behavior = _annotation_json(annotations, BEHAVIOR_ANNOTATION)
        try:
            parsed = _behavior_from_go(behavior)
        except ValueError:
            parsed = None
        if parsed:
            new_spec["behavior"] = parsed
        out["spec"] = new_spec
    else:
        out["spec"] = spec  # validation reports it
    status = obj.get("status")
    current_ann = _annotation_json(annotations, METRIC_STATUSES_ANNOTATION)
    conditions_ann = _annotation_json(annotations, CONDITIONS_ANNOTATION)
    if isinstance(status, dict) or isinstance(current_ann, list) or isinstance(conditions_ann, list):
        status = _d(status)
        new_status: Obj = {
            k: status[k]
            for k in ("observedGeneration", "lastScaleTime", "currentReplicas", "desiredReplicas")
            if k in status
        }
        current = _int32(status.get("currentCPUUtilizationPercentage"), "status.currentCPUUtilizationPercentage",
                         "HorizontalPodAutoscalerStatus")  # fmt: skip
        if current is not None:
            new_status["currentMetrics"] = [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}}
            ]
        if isinstance(current_ann, list):  # more than v1 can say: it replaces the CPU figure
            new_status["currentMetrics"] = [_metric_status_v1_to_v2(m) for m in current_ann if isinstance(m, dict)]
        if isinstance(conditions_ann, list):
            new_status["conditions"] = [_condition_v1(c) for c in conditions_ann if isinstance(c, dict)]
        out["status"] = new_status
    elif status is not None:
        out["status"] = status
    return out


def hpa_v2_to_v1(obj: Obj) -> Obj:
    """Convert a stored autoscaling/v2 HorizontalPodAutoscaler to its v1 form (a new dict).

    ``spec.targetCPUUtilizationPercentage`` is the first CPU utilization target; the rest travels
    in the ``autoscaling.alpha.kubernetes.io/*`` annotations (see the module docstring). The v1
    status is always written with ``currentReplicas`` and ``desiredReplicas``, as Go writes a
    value struct.
    """
    out: Obj = {k: v for k, v in obj.items() if k not in ("spec", "status", "metadata")}
    out["apiVersion"] = V1
    meta = _without_round_trip(_d(obj.get("metadata")))
    spec = _d(obj.get("spec"))
    status = _d(obj.get("status"))
    new_spec: Obj = {k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas") if k in spec}
    metrics = [m for m in spec.get("metrics") or [] if isinstance(m, dict)]
    for m in metrics:
        if _is_cpu_utilization(m):
            new_spec["targetCPUUtilizationPercentage"] = m["resource"]["target"]["averageUtilization"]
            break
    new_status: Obj = {k: status[k] for k in ("observedGeneration", "lastScaleTime") if k in status}
    new_status["currentReplicas"] = status.get("currentReplicas", 0)
    new_status["desiredReplicas"] = status.get("desiredReplicas", 0)
    current_metrics = [m for m in status.get("currentMetrics") or [] if isinstance(m, dict)]
    for m in current_metrics:  # the last CPU utilization figure, as upstream's loop
        res = _d(m.get("resource"))
        if m.get("type") == "Resource" and res.get("name") == "cpu":
            value = _d(res.get("current")).get("averageUtilization")
            if value is not None:
                new_status["currentCPUUtilizationPercentage"] = value

    added: Obj = {}
    others = [_metric_spec_v2_to_v1(m) for m in metrics if not _is_cpu_utilization(m)]
    if others:
        added[METRIC_SPECS_ANNOTATION] = go_json(others)
    if current_metrics:
        added[METRIC_STATUSES_ANNOTATION] = go_json([_metric_status_v2_to_v1(m) for m in current_metrics])
    if isinstance(spec.get("behavior"), dict):
        added[BEHAVIOR_ANNOTATION] = go_json(_behavior_to_go(spec["behavior"]))
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    if conditions:
        added[CONDITIONS_ANNOTATION] = go_json([_condition_v1(c) for c in conditions])
    if added:
        meta["annotations"] = {**_d(meta.get("annotations")), **added}
    out["metadata"] = meta
    out["spec"] = new_spec
    out["status"] = new_status
    return out


def hpa_v2_to_storage(obj: Obj) -> Obj:
    """A v2 object as stored: without round-trip annotations, which only v1 reads and writes
    carry (upstream's v2 conversion drops them both ways)."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return obj
    ann = meta.get("annotations")
    if not isinstance(ann, dict) or not any(k in ann for k in ROUND_TRIP_ANNOTATIONS):
        return obj
    return dict(obj, metadata=_without_round_trip(meta))


_TO_STORAGE: dict[tuple[str, str], Callable[[Obj], Obj]] = {
    (V1, HPA): hpa_v1_to_v2,
    (V2, HPA): hpa_v2_to_storage,
}
_FROM_STORAGE: dict[tuple[str, str], Callable[[Obj], Obj]] = {
    (V1, HPA): hpa_v2_to_v1,
}


def to_storage(obj: Obj) -> Obj:
    """Convert ``obj`` in place to its kind's stored version (no-op for every other version)."""
    if not isinstance(obj, dict):
        return obj
    convert = _TO_STORAGE.get((obj.get("apiVersion") or "", obj.get("kind") or ""))
    if convert is None:
        return obj
    converted = convert(obj)
    if converted is not obj:
        obj.clear()
        obj.update(converted)
    return obj


def stored_as_is(obj: Obj) -> bool:
    """Whether ``to_storage`` leaves ``obj`` alone (its version is its kind's stored one, or one
    without a conversion)."""
    return (obj.get("apiVersion") or "", obj.get("kind") or "") not in _TO_STORAGE


def from_storage(obj: Obj, api_version: str) -> Obj:
    """``obj`` (stored form) as ``api_version`` serves it: a new dict, or ``obj`` itself when that
    is the stored version or the kind has no conversion."""
    if obj.get("apiVersion") == api_version:
        return obj
    convert = _FROM_STORAGE.get((api_version, obj.get("kind") or ""))
    return convert(obj) if convert is not None else obj


def converts(api_version: str, kind: str) -> bool:
    """True when ``kind`` is served as ``api_version`` by conversion from another stored version."""
    return (api_version, kind) in _FROM_STORAGE
