"""HorizontalPodAutoscaler served as autoscaling/v1 as well as v2 (stored as v2): discovery,
every verb on /apis/autoscaling/v1, conversion both ways, tables, errors, and the HPA controller
acting on an object created through v1. The server is paused; virtual time moves only with
``served.advance``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubetwin.api import conversion as cv

AGG_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
V1 = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers"
V2 = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers"
DEPLOY = "/apis/apps/v1/namespaces/default/deployments"
REF = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
CPU = lambda n: {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": n}}}  # noqa: E731
MEM = {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "200Mi"}}}
MERGE, JSONP, SMP, APPLY = ("application/merge-patch+json", "application/json-patch+json",
                            "application/strategic-merge-patch+json", "application/apply-patch+yaml")  # fmt: skip


def hpa_v1(name: str = "web", cpu: int | None = 60, **spec: Any) -> dict[str, Any]:
    s: dict[str, Any] = {"scaleTargetRef": REF, "minReplicas": 1, "maxReplicas": 5, **spec}
    if cpu is not None:
        s["targetCPUUtilizationPercentage"] = cpu
    return {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name}, "spec": s}


def hpa_v2(name: str = "web", metrics: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name},
            "spec": {"scaleTargetRef": REF, "minReplicas": 1, "maxReplicas": 5, "metrics": metrics or [CPU(60)]}}  # fmt: skip


def deployment(replicas: int = 2) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {
        "replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
            {"name": "c", "image": "nginx:1.27", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}}}  # fmt: skip


# -- discovery -------------------------------------------------------------------------------------
def test_discovery_lists_v1_after_the_preferred_v2(served_cluster: Any) -> None:
    s = served_cluster
    group = next(g for g in s.api("GET", "/apis").body["groups"] if g["name"] == "autoscaling")
    assert [v["groupVersion"] for v in group["versions"]] == ["autoscaling/v2", "autoscaling/v1"]
    assert group["preferredVersion"] == {"groupVersion": "autoscaling/v2", "version": "v2"}
    assert s.api("GET", "/apis/autoscaling").body["preferredVersion"]["version"] == "v2"
    res = {r["name"]: r for r in s.api("GET", "/apis/autoscaling/v1").body["resources"]}
    assert set(res) == {"horizontalpodautoscalers", "horizontalpodautoscalers/status"}
    hpa = res["horizontalpodautoscalers"]
    assert (hpa["kind"], hpa["shortNames"], hpa["categories"], hpa["namespaced"]) == (
        "HorizontalPodAutoscaler", ["hpa"], ["all"], True)  # fmt: skip
    assert set(hpa["verbs"]) == {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
    assert res["horizontalpodautoscalers/status"]["verbs"] == ["get", "patch", "update"]
    agg = s.api("GET", "/apis", headers={"Accept": AGG_V2}).body
    auto = next(i for i in agg["items"] if i["metadata"]["name"] == "autoscaling")
    assert [v["version"] for v in auto["versions"]] == ["v2", "v1"]
    r = auto["versions"][1]["resources"][0]
    assert r["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "HorizontalPodAutoscaler"}
    assert r["subresources"][0]["responseKind"]["version"] == "v1" and r["categories"] == ["all"]


# -- create / read both ways ---------------------------------------------------------------------
def test_create_v1_reads_as_v2_and_v1(served_cluster: Any) -> None:
    s = served_cluster
    c = s.api("POST", f"{V1}?fieldManager=kubectl-autoscale", hpa_v1(cpu=65))
    assert c.status == 201, c.body
    assert c.body["apiVersion"] == "autoscaling/v1" and c.body["spec"]["targetCPUUtilizationPercentage"] == 65
    assert c.body["status"] == {"currentReplicas": 0, "desiredReplicas": 0}
    two = s.api("GET", f"{V2}/web").body
    assert two["apiVersion"] == "autoscaling/v2" and two["spec"]["metrics"] == [CPU(65)]
    assert "targetCPUUtilizationPercentage" not in two["spec"] and "annotations" not in two["metadata"]
    one = s.api("GET", f"{V1}/web").body
    assert one == c.body
    lst = s.api("GET", V1).body
    assert (lst["apiVersion"], lst["kind"]) == ("autoscaling/v1", "HorizontalPodAutoscalerList")
    assert [i["spec"]["targetCPUUtilizationPercentage"] for i in lst["items"]] == [65]
    assert s.api("GET", "/apis/autoscaling/v1/horizontalpodautoscalers").body["items"][0]["apiVersion"] == "autoscaling/v1"
    # no target: v1's implicit 80% becomes explicit in v2
    s.api("POST", V1, hpa_v1("plain", cpu=None))
    assert s.api("GET", f"{V2}/plain").body["spec"]["metrics"] == [CPU(80)]
    assert s.api("GET", f"{V1}/plain").body["spec"]["targetCPUUtilizationPercentage"] == 80


def test_v2_only_data_travels_in_v1_annotations_and_comes_back(served_cluster: Any) -> None:
    s = served_cluster
    created = s.api("POST", V2, hpa_v2(metrics=[MEM, CPU(60)])).body
    one = s.api("GET", f"{V1}/web").body
    assert one["spec"]["targetCPUUtilizationPercentage"] == 60
    assert json.loads(one["metadata"]["annotations"][cv.METRIC_SPECS_ANNOTATION]) == [
        {"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "200Mi"}}
    ]
    # a v1 client writes what it read back: the memory metric survives (after the CPU target, as upstream)
    one["spec"]["maxReplicas"] = 7
    u = s.api("PUT", f"{V1}/web", one)
    assert u.status == 200 and u.body["apiVersion"] == "autoscaling/v1"
    two = s.api("GET", f"{V2}/web").body
    assert two["spec"]["metrics"] == [MEM, CPU(60)] and two["spec"]["maxReplicas"] == 7
    assert "annotations" not in two["metadata"], "round-trip annotations are not stored"
    assert two["metadata"]["generation"] == created["metadata"]["generation"] + 1
    # writing the same v1 object again changes nothing (no generation bump, same resourceVersion)
    again = s.api("PUT", f"{V1}/web", s.api("GET", f"{V1}/web").body).body
    assert again["metadata"]["resourceVersion"] == u.body["metadata"]["resourceVersion"]


# -- patch -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("ctype", "patch"), [
    pytest.param(MERGE, {"spec": {"targetCPUUtilizationPercentage": 75}}, id="merge"),
    pytest.param(JSONP, [{"op": "replace", "path": "/spec/targetCPUUtilizationPercentage", "value": 75}], id="json"),
    pytest.param(SMP, {"spec": {"targetCPUUtilizationPercentage": 75}}, id="strategic"),
])  # fmt: skip
def test_patch_through_v1_applies_to_the_v1_form(served_cluster: Any, ctype: str, patch: Any) -> None:
    s = served_cluster
    s.api("POST", V2, hpa_v2(metrics=[MEM, CPU(60)]))
    r = s.api("PATCH", f"{V1}/web", patch, content_type=ctype)
    assert r.status == 200, r.body
    assert r.body["apiVersion"] == "autoscaling/v1" and r.body["spec"]["targetCPUUtilizationPercentage"] == 75
    assert s.api("GET", f"{V2}/web").body["spec"]["metrics"] == [MEM, CPU(75)]


def test_server_side_apply_through_v1(served_cluster: Any) -> None:
    s = served_cluster
    body = hpa_v1(cpu=50)
    c = s.api("PATCH", f"{V1}/web?fieldManager=ops", json.dumps(body), content_type=APPLY)
    assert c.status == 201 and c.body["apiVersion"] == "autoscaling/v1", c.body
    body["spec"]["targetCPUUtilizationPercentage"] = 55
    u = s.api("PATCH", f"{V1}/web?fieldManager=ops", json.dumps(body), content_type=APPLY)
    assert u.status == 200 and u.body["spec"]["targetCPUUtilizationPercentage"] == 55
    entry = next(e for e in u.body["metadata"]["managedFields"] if e["manager"] == "ops")
    assert (entry["operation"], entry["apiVersion"]) == ("Apply", "autoscaling/v1")
    assert "f:targetCPUUtilizationPercentage" in entry["fieldsV1"]["f:spec"]
    assert s.api("GET", f"{V2}/web").body["spec"]["metrics"] == [CPU(55)]
    # another manager taking the field without force is a conflict, reported as a Status
    other = s.api("PATCH", f"{V1}/web?fieldManager=other", json.dumps(hpa_v1(cpu=90)), content_type=APPLY)
    assert other.status == 409 and other.body["reason"] == "Conflict", other.body
    assert any(c["field"] == ".spec.targetCPUUtilizationPercentage" for c in other.body["details"]["causes"])


# -- status, watch, tables, deletecollection ---------------------------------------------------------
def test_status_subresource_through_v1(served_cluster: Any) -> None:
    s = served_cluster
    s.api("POST", V1, hpa_v1())
    st = s.api("GET", f"{V1}/web/status").body
    assert st["apiVersion"] == "autoscaling/v1" and st["status"] == {"currentReplicas": 0, "desiredReplicas": 0}
    st["status"] = {"currentReplicas": 3, "desiredReplicas": 4, "currentCPUUtilizationPercentage": 70}
    st["spec"]["maxReplicas"] = 9  # ignored by the status subresource
    u = s.api("PUT", f"{V1}/web/status", st)
    assert u.status == 200 and u.body["status"]["currentCPUUtilizationPercentage"] == 70, u.body
    two = s.api("GET", f"{V2}/web").body
    assert two["spec"]["maxReplicas"] == 5
    assert two["status"]["currentReplicas"] == 3 and two["status"]["currentMetrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 70}}}]  # fmt: skip
    p = s.api("PATCH", f"{V1}/web/status", {"status": {"desiredReplicas": 5}}, content_type=MERGE)
    assert p.status == 200 and p.body["status"]["desiredReplicas"] == 5 and p.body["status"]["currentReplicas"] == 3


def test_watch_through_v1_yields_v1_objects(served_cluster: Any) -> None:
    s = served_cluster
    rv = s.api("GET", V1).body["metadata"]["resourceVersion"]
    s.api("POST", V2, hpa_v2(metrics=[CPU(60)]))
    s.api("PATCH", f"{V2}/web", {"spec": {"metrics": [MEM, CPU(70)]}}, content_type=MERGE)
    events = s.watch(f"{V1}?watch=true&resourceVersion={rv}&timeoutSeconds=5", 2)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED"]
    assert {e["object"]["apiVersion"] for e in events} == {"autoscaling/v1"}
    assert [e["object"]["spec"]["targetCPUUtilizationPercentage"] for e in events] == [60, 70]
    assert cv.METRIC_SPECS_ANNOTATION in events[1]["object"]["metadata"]["annotations"]
    tab = s.watch(f"{V1}?watch=true&resourceVersion={rv}&timeoutSeconds=5&includeObject=Object", 1,
                  headers={"Accept": TABLE})  # fmt: skip
    assert tab[0]["object"]["kind"] == "Table"
    assert tab[0]["object"]["rows"][0]["object"]["apiVersion"] == "autoscaling/v1"


def test_table_through_v1_has_the_v2_columns(served_cluster: Any) -> None:
    s = served_cluster
    s.api("POST", V1, hpa_v1())
    one = s.api("GET", V1, headers={"Accept": TABLE}).body
    two = s.api("GET", V2, headers={"Accept": TABLE}).body
    assert [c["name"] for c in one["columnDefinitions"]] == [
        "Name", "Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age"]  # fmt: skip
    assert one["columnDefinitions"] == two["columnDefinitions"]
    assert one["rows"][0]["cells"] == two["rows"][0]["cells"] == ["web", "Deployment/web", "cpu: <unknown>/60%", "1", 5, 0, "0s"]
    full = s.api("GET", f"{V1}/web?includeObject=Object", headers={"Accept": TABLE}).body
    assert full["rows"][0]["object"]["apiVersion"] == "autoscaling/v1"
    assert full["rows"][0]["object"]["spec"]["targetCPUUtilizationPercentage"] == 60


def test_delete_and_deletecollection_through_v1(served_cluster: Any) -> None:
    s = served_cluster
    for name in ("a", "b", "c"):
        s.api("POST", V1, hpa_v1(name))
    d = s.api("DELETE", f"{V1}/a")
    assert d.status == 200 and d.body["status"] == "Success"
    assert d.body["details"] == {"name": "a", "kind": "horizontalpodautoscalers", "group": "autoscaling",
                                 "uid": d.body["details"]["uid"]}  # fmt: skip
    dc = s.api("DELETE", V1)
    assert dc.status == 200 and (dc.body["apiVersion"], dc.body["kind"]) == ("autoscaling/v1", "HorizontalPodAutoscalerList")
    assert [(i["metadata"]["name"], i["apiVersion"]) for i in dc.body["items"]] == [
        ("b", "autoscaling/v1"), ("c", "autoscaling/v1")]  # fmt: skip
    assert s.api("GET", V2).body["items"] == []


# -- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "path", "body", "code", "reason", "message"), [
    pytest.param("POST", V1, hpa_v2(), 400, "BadRequest",
                 "the API version in the data (autoscaling/v2) does not match the expected API version (autoscaling/v1)",
                 id="v2-body-on-v1"),
    pytest.param("POST", V2, hpa_v1(), 400, "BadRequest",
                 "the API version in the data (autoscaling/v1) does not match the expected API version (autoscaling/v2)",
                 id="v1-body-on-v2"),
    pytest.param("POST", V1, hpa_v1(cpu="60"), 400, "BadRequest",  # type: ignore[arg-type]
                 'HorizontalPodAutoscaler in version "v1" cannot be handled as a HorizontalPodAutoscaler: json: cannot '
                 "unmarshal string into Go struct field HorizontalPodAutoscalerSpec.spec.targetCPUUtilizationPercentage "
                 "of type int32", id="string-target"),
    pytest.param("POST", V1, hpa_v1(minReplicas=0), 422, "Invalid",
                 'HorizontalPodAutoscaler.autoscaling "web" is invalid: spec.minReplicas: Invalid value: 0: must be '
                 "greater than or equal to 1", id="invalid-min"),
    pytest.param("POST", f"{V1}?fieldValidation=Strict", hpa_v1(metrics=[MEM]), 400, "BadRequest",
                 'strict decoding error: unknown field "spec.metrics"', id="v2-field-in-v1-strict"),
    pytest.param("GET", f"{V1}/nope", None, 404, "NotFound", 'horizontalpodautoscalers.autoscaling "nope" not found',
                 id="not-found"),
    pytest.param("GET", f"{V1}/nope/scale", None, 404, "NotFound", "the server could not find the requested resource",
                 id="no-scale-subresource"),
])  # fmt: skip
def test_errors_through_v1_are_status(served_cluster: Any, method: str, path: str, body: Any, code: int, reason: str,
                                      message: str) -> None:  # fmt: skip
    r = served_cluster.api(method, path, body)
    assert r.status == code, r.body
    assert r.body["kind"] == "Status" and r.body["status"] == "Failure"
    assert (r.body["reason"], r.body["code"], r.body["message"]) == (reason, code, message)
    if code == 422:
        assert r.body["details"]["group"] == "autoscaling" and r.body["details"]["kind"] == "HorizontalPodAutoscaler"
        assert r.body["details"]["causes"][0]["field"] == "spec.minReplicas"


# -- the controller acts on an object created through v1 ----------------------------------------------
def test_hpa_controller_acts_on_a_v1_object(served_cluster: Any) -> None:
    s = served_cluster
    assert s.api("POST", DEPLOY, deployment(replicas=1)).status == 201
    assert s.api("POST", V1, hpa_v1(cpu=50, minReplicas=2)).status == 201
    s.advance("60s")
    one = s.api("GET", f"{V1}/web").body
    # every pod uses its requests (no usage profile): 100% against a 50% target doubles the replicas
    assert one["status"] == {"observedGeneration": 1, "lastScaleTime": "2026-01-01T00:01:30Z", "currentReplicas": 2,
                             "desiredReplicas": 4, "currentCPUUtilizationPercentage": 100}  # fmt: skip
    ann = one["metadata"]["annotations"]
    assert json.loads(ann[cv.METRIC_STATUSES_ANNOTATION]) == [
        {"type": "Resource", "resource": {"name": "cpu", "currentAverageUtilization": 100, "currentAverageValue": "100m"}}]
    conditions = json.loads(ann[cv.CONDITIONS_ANNOTATION])
    assert [(c["type"], c["status"], c["reason"]) for c in conditions] == [
        ("AbleToScale", "True", "SucceededRescale"), ("ScalingActive", "True", "ValidMetricFound"),
        ("ScalingLimited", "False", "DesiredWithinRange")]  # fmt: skip
    assert s.api("GET", f"{DEPLOY}/web").body["spec"]["replicas"] == 4
