"""autoscaling/v1 <-> v2 HorizontalPodAutoscaler conversion (api.conversion), following upstream's
pkg/apis/autoscaling/v1/conversion.go: what v1 has fields for, and what travels in annotations."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kubetwin.api import conversion as cv
from kubetwin.api.errors import ApiError

REF = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
CPU60 = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}
MEM = {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "200Mi"}}}
PODS = {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "10"}}}
OBJECT = {"type": "Object", "object": {
    "describedObject": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "main"},
    "metric": {"name": "hits", "selector": {"matchLabels": {"a": "b"}}},
    "target": {"type": "Value", "value": "2k"}}}  # fmt: skip
EXTERNAL = {"type": "External", "external": {"metric": {"name": "queue"},
                                             "target": {"type": "AverageValue", "averageValue": "30"}}}  # fmt: skip
CONTAINER = {"type": "ContainerResource", "containerResource": {
    "name": "cpu", "container": "app", "target": {"type": "Utilization", "averageUtilization": 70}}}  # fmt: skip
COND = {"type": "AbleToScale", "status": "True", "lastTransitionTime": "2026-01-01T00:00:15Z",
        "reason": "ReadyForNewScale", "message": "recommended size matches current size"}  # fmt: skip


def v2(metrics: list[dict[str, Any]], status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"scaleTargetRef": REF, "minReplicas": 2, "maxReplicas": 10, "metrics": metrics, **spec},
    }  # fmt: skip
    if status is not None:
        obj["status"] = status
    return obj


def v1(spec: dict[str, Any], annotations: dict[str, str] | None = None, status: dict[str, Any] | None = None
       ) -> dict[str, Any]:  # fmt: skip
    meta: dict[str, Any] = {"name": "web", "namespace": "default"}
    if annotations:
        meta["annotations"] = annotations
    obj: dict[str, Any] = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": meta,
                           "spec": {"scaleTargetRef": REF, "minReplicas": 2, "maxReplicas": 10, **spec}}  # fmt: skip
    if status is not None:
        obj["status"] = status
    return obj


# -- v2 -> v1 -------------------------------------------------------------------------------------

TO_V1 = [
    pytest.param(v2([CPU60]), {"targetCPUUtilizationPercentage": 60}, {}, {"currentReplicas": 0, "desiredReplicas": 0},
                 id="cpu-only-no-annotations"),
    pytest.param(
        v2([MEM, CPU60]), {"targetCPUUtilizationPercentage": 60},
        {cv.METRIC_SPECS_ANNOTATION: '[{"type":"Resource","resource":{"name":"memory","targetAverageValue":"200Mi"}}]'},
        {"currentReplicas": 0, "desiredReplicas": 0}, id="memory-in-metrics-annotation",
    ),
    pytest.param(
        v2([PODS, OBJECT, EXTERNAL, CONTAINER]), {}, {cv.METRIC_SPECS_ANNOTATION: (
            '[{"type":"Pods","pods":{"metricName":"rps","targetAverageValue":"10"}},'
            '{"type":"Object","object":{"target":{"kind":"Ingress","name":"main","apiVersion":"networking.k8s.io/v1"},'
            '"metricName":"hits","targetValue":"2k","selector":{"matchLabels":{"a":"b"}}}},'
            '{"type":"External","external":{"metricName":"queue","targetAverageValue":"30"}},'
            '{"type":"ContainerResource","containerResource":{"name":"cpu","targetAverageUtilization":70,'
            '"container":"app"}}]')},
        {"currentReplicas": 0, "desiredReplicas": 0}, id="every-source-as-v1-metric-spec",
    ),
    pytest.param(
        v2([CPU60], {"currentReplicas": 3, "desiredReplicas": 4, "lastScaleTime": "2026-01-01T00:01:00Z",
                     "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {
                         "averageUtilization": 75, "averageValue": "188m"}}}],
                     "conditions": [COND]}),  # fmt: skip
        {"targetCPUUtilizationPercentage": 60},
        {cv.METRIC_STATUSES_ANNOTATION: '[{"type":"Resource","resource":{"name":"cpu","currentAverageUtilization":75,'
                                        '"currentAverageValue":"188m"}}]',
         cv.CONDITIONS_ANNOTATION: '[{"type":"AbleToScale","status":"True","lastTransitionTime":"2026-01-01T00:00:15Z",'
                                   '"reason":"ReadyForNewScale","message":"recommended size matches current size"}]'},
        {"lastScaleTime": "2026-01-01T00:01:00Z", "currentReplicas": 3, "desiredReplicas": 4,
         "currentCPUUtilizationPercentage": 75},
        id="status-cpu-figure-plus-raw-value-and-conditions",
    ),  # fmt: skip
    pytest.param(
        v2([CPU60], behavior={"scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                                          "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}]},
                              "scaleDown": {"policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}]}}),
        {"targetCPUUtilizationPercentage": 60},
        {cv.BEHAVIOR_ANNOTATION: '{"ScaleUp":{"StabilizationWindowSeconds":0,"SelectPolicy":"Max","Policies":'
                                 '[{"Type":"Pods","Value":4,"PeriodSeconds":15}]},"ScaleDown":'
                                 '{"StabilizationWindowSeconds":null,"SelectPolicy":null,"Policies":'
                                 '[{"Type":"Percent","Value":10,"PeriodSeconds":60}]}}'},
        {"currentReplicas": 0, "desiredReplicas": 0}, id="behavior-as-the-untagged-internal-type",
    ),  # fmt: skip
    pytest.param(
        v2([CPU60], {"currentReplicas": 1, "desiredReplicas": 1,
                     "conditions": [dict(COND, message="a < b & c > d")]}),
        {"targetCPUUtilizationPercentage": 60},
        {cv.CONDITIONS_ANNOTATION: '[{"type":"AbleToScale","status":"True","lastTransitionTime":"2026-01-01T00:00:15Z",'
                                   '"reason":"ReadyForNewScale","message":"a \\u003c b \\u0026 c \\u003e d"}]'},
        {"currentReplicas": 1, "desiredReplicas": 1}, id="go-html-escapes",
    ),  # fmt: skip
]


@pytest.mark.parametrize(("stored", "spec", "annotations", "status"), TO_V1)
def test_v2_to_v1(stored: dict[str, Any], spec: dict[str, Any], annotations: dict[str, str],
                  status: dict[str, Any]) -> None:  # fmt: skip
    before = copy.deepcopy(stored)
    got = cv.hpa_v2_to_v1(stored)
    assert stored == before, "the stored object is not touched"
    assert got["apiVersion"] == "autoscaling/v1" and got["kind"] == "HorizontalPodAutoscaler"
    assert got["spec"] == {"scaleTargetRef": REF, "minReplicas": 2, "maxReplicas": 10, **spec}
    assert got["metadata"].get("annotations", {}) == annotations
    assert got["status"] == status
    for text in annotations.values():
        json.loads(text)


def test_v2_to_v1_replaces_stale_round_trip_annotations_and_keeps_others() -> None:
    stored = v2([CPU60])
    stored["metadata"]["annotations"] = {"team": "a", cv.METRIC_SPECS_ANNOTATION: "[]", cv.CONDITIONS_ANNOTATION: "x"}
    assert cv.hpa_v2_to_v1(stored)["metadata"]["annotations"] == {"team": "a"}
    stored["metadata"]["annotations"] = {cv.BEHAVIOR_ANNOTATION: "{}"}
    assert "annotations" not in cv.hpa_v2_to_v1(stored)["metadata"]


def test_v2_to_v1_first_cpu_utilization_is_the_target_and_the_rest_goes_to_the_annotation() -> None:
    cpu_value = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "AverageValue", "averageValue": "300m"}}}
    got = cv.hpa_v2_to_v1(v2([cpu_value, CPU60]))
    assert got["spec"]["targetCPUUtilizationPercentage"] == 60
    assert json.loads(got["metadata"]["annotations"][cv.METRIC_SPECS_ANNOTATION]) == [
        {"type": "Resource", "resource": {"name": "cpu", "targetAverageValue": "300m"}}
    ]


# -- v1 -> v2 -------------------------------------------------------------------------------------

TO_V2 = [
    pytest.param(v1({"targetCPUUtilizationPercentage": 65}), [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 65}}}],
        id="target-cpu"),  # fmt: skip
    pytest.param(v1({}), [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}],
        id="no-target-is-the-80-percent-default"),  # fmt: skip
    pytest.param(
        v1({"targetCPUUtilizationPercentage": 60}, {cv.METRIC_SPECS_ANNOTATION: json.dumps([
            {"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "200Mi"}},
            {"type": "Pods", "pods": {"metricName": "rps", "targetAverageValue": "10"}},
            {"type": "External", "external": {"metricName": "queue", "targetValue": "5"}}])}),
        [MEM, PODS, {"type": "External", "external": {"metric": {"name": "queue"},
                                                      "target": {"type": "Value", "value": "5"}}}, CPU60],
        id="annotation-metrics-first-cpu-last"),  # fmt: skip
    pytest.param(
        v1({}, {cv.METRIC_SPECS_ANNOTATION: json.dumps([
            {"type": "Object", "object": {"target": {"kind": "Ingress", "name": "main"}, "metricName": "hits",
                                          "targetValue": "0", "averageValue": "7"}}])}),
        [{"type": "Object", "object": {"describedObject": {"kind": "Ingress", "name": "main"},
                                       "target": {"type": "AverageValue", "value": "0", "averageValue": "7"},
                                       "metric": {"name": "hits"}}}],
        id="object-average-value-keeps-upstreams-value"),  # fmt: skip
    pytest.param(v1({"targetCPUUtilizationPercentage": 60}, {cv.METRIC_SPECS_ANNOTATION: "not json"}), [CPU60],
                 id="malformed-annotation-ignored"),
]


@pytest.mark.parametrize(("obj", "metrics"), TO_V2)
def test_v1_to_v2_metrics(obj: dict[str, Any], metrics: list[dict[str, Any]]) -> None:
    got = cv.hpa_v1_to_v2(obj)
    assert got["apiVersion"] == "autoscaling/v2"
    assert got["spec"] == {"scaleTargetRef": REF, "minReplicas": 2, "maxReplicas": 10, "metrics": metrics}
    assert "annotations" not in got["metadata"], "round-trip annotations are not stored"


def test_v1_to_v2_status_behavior_and_conditions_from_annotations() -> None:
    obj = v1({"targetCPUUtilizationPercentage": 60}, {
        "team": "a",
        cv.BEHAVIOR_ANNOTATION: '{"scaleDown":{"StabilizationWindowSeconds":60,"SelectPolicy":null,"Policies":null}}',
        cv.METRIC_STATUSES_ANNOTATION: '[{"type":"Resource","resource":{"name":"cpu","currentAverageUtilization":75,'
                                       '"currentAverageValue":"188m"}}]',
        cv.CONDITIONS_ANNOTATION: json.dumps([COND]),
    }, {"currentReplicas": 3, "desiredReplicas": 4, "currentCPUUtilizationPercentage": 10})  # fmt: skip
    got = cv.hpa_v1_to_v2(obj)
    assert got["metadata"]["annotations"] == {"team": "a"}
    assert got["spec"]["behavior"] == {"scaleDown": {"stabilizationWindowSeconds": 60}}
    assert got["status"] == {
        "currentReplicas": 3, "desiredReplicas": 4,
        "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {
            "averageValue": "188m", "averageUtilization": 75}}}],  # the annotation wins over the v1 figure
        "conditions": [COND],
    }  # fmt: skip


def test_v1_to_v2_drops_fields_v1_does_not_have() -> None:
    obj = v1({"targetCPUUtilizationPercentage": 60, "metrics": [MEM], "behavior": {"scaleUp": {}}})
    assert cv.hpa_v1_to_v2(obj)["spec"]["metrics"] == [CPU60]
    assert "behavior" not in cv.hpa_v1_to_v2(obj)["spec"]


@pytest.mark.parametrize("bad", ["60", 60.5, True, 2**31])
def test_v1_to_v2_non_int32_target_is_a_decode_error(bad: Any) -> None:
    with pytest.raises(ApiError) as e:
        cv.hpa_v1_to_v2(v1({"targetCPUUtilizationPercentage": bad}))
    assert e.value.code == 400 and e.value.reason == "BadRequest"
    assert "spec.targetCPUUtilizationPercentage of type int32" in e.value.message


# -- round trips ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stored", [
    pytest.param(v2([CPU60]), id="cpu"),
    pytest.param(v2([MEM, PODS, OBJECT, EXTERNAL, CONTAINER, CPU60]), id="every-source"),
    pytest.param(v2([MEM, CPU60], behavior={"scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                                                        "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}]},
                                            "scaleDown": {"selectPolicy": "Disabled"}}), id="behavior"),
])  # fmt: skip
def test_stored_spec_survives_a_trip_through_v1(stored: dict[str, Any]) -> None:
    """What a v1 client reads and writes back stores the same v2 spec (so no generation bump)."""
    assert cv.hpa_v1_to_v2(cv.hpa_v2_to_v1(stored))["spec"] == stored["spec"]


def test_v1_trip_adds_the_raw_status_annotation() -> None:
    obj = v1({"targetCPUUtilizationPercentage": 70},
             status={"currentReplicas": 1, "desiredReplicas": 2, "currentCPUUtilizationPercentage": 90})  # fmt: skip
    back = cv.hpa_v2_to_v1(cv.hpa_v1_to_v2(obj))
    assert {k: v for k, v in back.items() if k != "metadata"} == {k: v for k, v in obj.items() if k != "metadata"}
    assert back["metadata"]["annotations"] == {cv.METRIC_STATUSES_ANNOTATION: (
        '[{"type":"Resource","resource":{"name":"cpu","currentAverageUtilization":90,"currentAverageValue":"0"}}]')}


def test_from_storage_and_to_storage() -> None:
    stored = v2([CPU60])
    assert cv.from_storage(stored, "autoscaling/v2") is stored
    assert cv.from_storage(stored, "autoscaling/v1")["spec"]["targetCPUUtilizationPercentage"] == 60
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    assert cv.from_storage(cm, "v2") is cm
    assert cv.converts("autoscaling/v1", "HorizontalPodAutoscaler") and not cv.converts("apps/v1", "Deployment")
    obj = v1({"targetCPUUtilizationPercentage": 60})
    assert cv.to_storage(obj) is obj and obj["apiVersion"] == "autoscaling/v2" and obj["spec"]["metrics"] == [CPU60]


def test_v2_writes_do_not_store_round_trip_annotations() -> None:
    obj = v2([CPU60])
    meta = obj["metadata"]
    assert cv.to_storage(obj)["metadata"] is meta, "nothing to drop: the object is left alone"
    obj["metadata"]["annotations"] = {"team": "a", cv.METRIC_SPECS_ANNOTATION: "[]", cv.CONDITIONS_ANNOTATION: "[]"}
    assert cv.to_storage(obj)["metadata"]["annotations"] == {"team": "a"}
    assert obj["spec"]["metrics"] == [CPU60]
