"""custom.metrics.k8s.io and external.metrics.k8s.io over HTTP against ``kubetwin serve``, served
from the metrics pipeline; metrics.k8s.io reports the same scraped numbers."""

from __future__ import annotations

from typing import Any

import pytest

Served = Any  # tests/server/conftest.py Served

Obj = dict[str, Any]
CM = "/apis/custom.metrics.k8s.io/v1beta2"
EM = "/apis/external.metrics.k8s.io/v1beta1"


def _create(s: Served, path: str, body: Obj) -> None:
    r = s.api("POST", path, body)
    assert r.status == 201, r.body


@pytest.fixture
def web(served_cluster: Served) -> Served:
    s = served_cluster
    labels = {"app": "web"}
    _create(s, "/apis/apps/v1/namespaces/default/deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "app", "image": "nginx",
                                                       "resources": {"requests": {"cpu": "250m"}}}]}}}})  # fmt: skip
    _create(s, "/apis/kubetwin.io/v1alpha1/namespaces/default/loadprofiles", {
        "apiVersion": "kubetwin.io/v1alpha1", "kind": "LoadProfile", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": labels}, "traffic": {"constant": {"rps": 50}},
                 "perPod": {"baseline": {"cpu": "20m", "memory": "64Mi"}, "cpuPerRequest": "2m"},
                 "metrics": [{"name": "http_requests_per_second", "type": "requestsPerSecond"}]}})  # fmt: skip
    _create(s, "/api/v1/namespaces/default/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": labels, "ports": [{"port": 80}]}})  # fmt: skip
    _create(s, "/apis/kubetwin.io/v1alpha1/namespaces/default/externalmetricseries", {
        "apiVersion": "kubetwin.io/v1alpha1", "kind": "ExternalMetricSeries", "metadata": {"name": "jobs"},
        "spec": {"metricName": "queue_depth", "labels": {"queue": "jobs"}, "values": {"constant": {"value": 42.5}}}})  # fmt: skip
    s.advance("2m")
    return s


def test_groups_are_discoverable(web: Served) -> None:
    groups = {g["name"]: g for g in web.api("GET", "/apis").body["groups"]}
    assert groups["custom.metrics.k8s.io"]["preferredVersion"]["version"] == "v1beta2"
    assert "external.metrics.k8s.io" in groups
    agg = web.api("GET", "/apis", headers={
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"}).body  # fmt: skip
    assert {"custom.metrics.k8s.io", "external.metrics.k8s.io"} <= {
        i["metadata"]["name"] for i in agg["items"]
    }
    names = [r["name"] for r in web.api("GET", CM).body["resources"]]
    assert "pods/http_requests_per_second" in names and "services/http_requests_per_second" in names
    assert [r["name"] for r in web.api("GET", EM).body["resources"]] == ["queue_depth"]
    assert web.api("GET", "/apis/custom.metrics.k8s.io").body["kind"] == "APIGroup"


def test_pod_metric_values(web: Served) -> None:
    r = web.api("GET", f"{CM}/namespaces/default/pods/*/http_requests_per_second?labelSelector=app%3Dweb")
    assert r.status == 200, r.body
    assert r.body["kind"] == "MetricValueList"
    items = r.body["items"]
    assert [i["value"] for i in items] == ["25", "25"]
    assert {i["describedObject"]["kind"] for i in items} == {"Pod"}
    assert items[0]["metric"] == {"name": "http_requests_per_second"}
    assert items[0]["windowSeconds"] == 15 and items[0]["timestamp"].endswith("Z")
    v1 = web.api(
        "GET", "/apis/custom.metrics.k8s.io/v1beta1/namespaces/default/pods/*/http_requests_per_second"
    )
    assert v1.status == 200 and v1.body["items"][0]["metricName"] == "http_requests_per_second"


def test_object_metric_and_not_found(web: Served) -> None:
    r = web.api("GET", f"{CM}/namespaces/default/services/web/http_requests_per_second")
    assert r.status == 200, r.body
    [item] = r.body["items"]
    assert item["value"] == "50"
    assert item["describedObject"] == {
        "kind": "Service",
        "namespace": "default",
        "name": "web",
        "apiVersion": "/v1",
    }
    missing = web.api("GET", f"{CM}/namespaces/default/services/nope/http_requests_per_second")
    assert missing.status == 404
    assert (
        missing.body["message"]
        == "the server could not find the metric http_requests_per_second for services nope"
    )


def test_external_metric_values(web: Served) -> None:
    r = web.api("GET", f"{EM}/namespaces/default/queue_depth?labelSelector=queue%3Djobs")
    assert r.status == 200, r.body
    assert r.body["kind"] == "ExternalMetricValueList"
    assert [(i["metricLabels"], i["value"]) for i in r.body["items"]] == [({"queue": "jobs"}, "42500m")]
    none = web.api("GET", f"{EM}/namespaces/default/queue_depth?labelSelector=queue%3Dother")
    assert none.status == 200 and none.body["items"] == []


def test_top_reads_the_same_pipeline(web: Served) -> None:
    pods = web.api("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods").body["items"]
    # 20m baseline + 2m x 25 rps, the window average the HPA sees
    assert sorted(c["usage"]["cpu"] for p in pods for c in p["containers"]) == ["70000000n", "70000000n"]
