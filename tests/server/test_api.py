"""kubetwin serve over HTTP: discovery, CRUD, watch, patch types, subresources, errors, clock,
durability. The server is paused; virtual time moves only with ``served.advance``."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import pytest

from kubetwin.server import protobuf
from kubetwin.server.discovery import negotiate

AGG_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGG_V2B1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"


def cm(name: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels or {}},
        "data": data,
    }


def deployment(name: str, replicas: int = 2, cpu: str = "100m") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "c", "image": "nginx:1.27", "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}
                    ]
                },
            },
        },
    }


def pdb(name: str, min_available: int) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name},
        "spec": {"minAvailable": min_available, "selector": {"matchLabels": {"app": name}}},
    }


# -- discovery -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        pytest.param(f"{AGG_V2},{AGG_V2B1},application/json", "v2", id="kubectl-1.32"),
        pytest.param(f"{AGG_V2B1},application/json", "v2beta1", id="kubectl-1.29"),
        pytest.param("application/json, */*", None, id="legacy"),
        pytest.param("", None, id="no-accept"),
    ],
)
def test_discovery_negotiation(served_cluster: Any, accept: str, expected: str | None) -> None:
    assert negotiate(accept) == expected
    for path in ("/api", "/apis"):
        r = served_cluster.api("GET", path, headers={"Accept": accept} if accept else {})
        assert r.status == 200
        if expected:
            assert r.headers["content-type"] == f"application/json;g=apidiscovery.k8s.io;v={expected};as=APIGroupDiscoveryList"
            assert r.body["apiVersion"] == f"apidiscovery.k8s.io/{expected}"
            assert r.body["kind"] == "APIGroupDiscoveryList"
        else:
            assert r.headers["content-type"].startswith("application/json")
            assert r.body["kind"] == ("APIVersions" if path == "/api" else "APIGroupList")


def test_discovery_documents(served_cluster: Any) -> None:
    s = served_cluster
    v = s.api("GET", "/version").body
    assert v["gitVersion"].startswith("v1.32.") and v["minor"] == "32"
    core = s.api("GET", "/api/v1").body
    by_name = {r["name"]: r for r in core["resources"]}
    assert by_name["pods"]["shortNames"] == ["po"] and by_name["pods"]["categories"] == ["all"]
    assert by_name["pods"]["singularName"] == "pod" and "watch" in by_name["pods"]["verbs"]
    assert by_name["pods/eviction"] == {
        "name": "pods/eviction", "singularName": "", "namespaced": True, "group": "policy", "version": "v1",
        "kind": "Eviction", "verbs": ["create"],
    }  # fmt: skip
    assert {"pods/status", "pods/binding", "pods/log", "nodes/status", "namespaces/finalize"} <= set(by_name)
    apps = {r["name"]: r for r in s.api("GET", "/apis/apps/v1").body["resources"]}
    assert apps["deployments/scale"]["group"] == "autoscaling" and apps["deployments/scale"]["kind"] == "Scale"
    groups = {g["name"] for g in s.api("GET", "/apis").body["groups"]}
    assert {"apps", "policy", "kubetwin.io", "metrics.k8s.io", "authorization.k8s.io"} <= groups
    agg = s.api("GET", "/apis", headers={"Accept": AGG_V2}).body
    kt = next(i for i in agg["items"] if i["metadata"]["name"] == "kubetwin.io")
    res = {r["resource"]: r for r in kt["versions"][0]["resources"]}
    assert res["nodegroups"]["scope"] == "Cluster" and res["nodegroups"]["shortNames"] == ["ng"]
    assert {sub["subresource"] for sub in res["nodegroups"]["subresources"]} == {"scale", "status"}
    assert s.api("GET", "/apis/apps").body["preferredVersion"]["groupVersion"] == "apps/v1"


# -- CRUD ----------------------------------------------------------------------------------------
def test_crud_and_error_shapes(served_cluster: Any) -> None:
    s = served_cluster
    base = "/api/v1/namespaces/default/configmaps"
    r = s.api("POST", base, cm("a", {"tier": "x"}, k="1"))
    assert r.status == 201 and r.body["metadata"]["uid"] and r.body["metadata"]["creationTimestamp"]
    assert s.api("POST", base, cm("a")).body == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'configmaps "a" already exists', "reason": "AlreadyExists",
        "details": {"name": "a", "kind": "configmaps"}, "code": 409,
    }  # fmt: skip
    s.api("POST", base, cm("b", {"tier": "y"}))
    s.api("POST", base, cm("c", {"tier": "y"}))
    names = lambda r: [i["metadata"]["name"] for i in r.body["items"]]  # noqa: E731
    lst = s.api("GET", f"{base}?labelSelector=tier%3Dy")
    assert lst.body["kind"] == "ConfigMapList" and names(lst) == ["b", "c"]
    assert names(s.api("GET", f"{base}?fieldSelector=metadata.name%21%3Db")) == ["a", "c"]
    page = s.api("GET", f"{base}?limit=2")
    assert names(page) == ["a", "b"] and page.body["metadata"]["continue"]
    assert names(s.api("GET", f"{base}?limit=2&continue={page.body['metadata']['continue']}")) == ["c"]
    # all namespaces
    assert {"a", "b", "c"} <= set(names(s.api("GET", "/api/v1/configmaps")))
    # update with a stale resourceVersion
    cur = s.api("GET", f"{base}/a").body
    cur["data"] = {"k": "2"}
    assert s.api("PUT", f"{base}/a", cur).status == 200
    stale = s.api("PUT", f"{base}/a", cur)
    assert stale.status == 409 and stale.body["reason"] == "Conflict"
    assert stale.body["message"].startswith('Operation cannot be fulfilled on configmaps "a": the object has been modified')
    # delete, then 404
    d = s.api("DELETE", f"{base}/a", {"propagationPolicy": "Background"})
    assert d.status == 200 and d.body["status"] == "Success" and d.body["details"]["name"] == "a"
    nf = s.api("GET", f"{base}/a")
    assert nf.status == 404 and nf.body["reason"] == "NotFound" and nf.body["message"] == 'configmaps "a" not found'
    # deletecollection
    dc = s.api("DELETE", f"{base}?labelSelector=tier%3Dy")
    assert dc.status == 200 and names(dc) == ["b", "c"]
    assert names(s.api("GET", base)) == []


def test_create_generate_name_dry_run_and_field_validation(served_cluster: Any) -> None:
    s = served_cluster
    base = "/api/v1/namespaces/default/configmaps"
    g = s.api("POST", base, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}})
    assert g.status == 201 and g.body["metadata"]["name"].startswith("gen-") and len(g.body["metadata"]["name"]) == 9
    dry = s.api("POST", f"{base}?dryRun=All", cm("dry"))
    assert dry.status == 201 and s.api("GET", f"{base}/dry").status == 404
    # the body may leave apiVersion/kind out: the URL names the kind
    bare = s.api("POST", base, {"metadata": {"name": "bare"}})
    assert bare.status == 201 and bare.body["kind"] == "ConfigMap"
    wrong = s.api("POST", base, deployment("x"))
    assert wrong.status == 400 and wrong.body["reason"] == "BadRequest"
    bad = s.api("POST", base, cm("v"), headers={}, content_type="application/json")
    assert bad.status == 201
    assert s.api("POST", f"{base}?fieldValidation=Bogus", cm("w")).status == 400


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "code", "reason"),
    [
        pytest.param("POST", "/api/v1/namespaces/default/configmaps", b"{not json", "application/json", 400, "BadRequest", id="malformed-json"),
        pytest.param("POST", "/api/v1/namespaces/default/configmaps", b"a: [b", "application/yaml", 400, "BadRequest", id="malformed-yaml"),
        pytest.param("POST", "/api/v1/namespaces/default/configmaps", b"k8s\x00\x0a\xff", "application/vnd.kubernetes.protobuf", 400, "BadRequest", id="malformed-protobuf"),
        pytest.param("POST", "/api/v1/namespaces/default/configmaps", b"<x/>", "application/xml", 415, "UnsupportedMediaType", id="unknown-content-type"),
        pytest.param("POST", "/apis/kubetwin.io/v1alpha1/nodegroups", protobuf.envelope("kubetwin.io/v1alpha1", "NodeGroup", b""), "application/vnd.kubernetes.protobuf", 415, "UnsupportedMediaType", id="protobuf-kind-without-schema"),
        pytest.param("GET", "/api/v1/namespaces/default/widgets", None, "", 404, "NotFound", id="unknown-resource"),
        pytest.param("GET", "/nothing/here", None, "", 404, "NotFound", id="unknown-path"),
        pytest.param("POST", "/api/v1/namespaces/default/configmaps/x", b"{}", "application/json", 405, "MethodNotAllowed", id="post-on-item"),
        pytest.param("PATCH", "/api/v1/namespaces/default/configmaps/x", b"{}", "application/xml", 415, "UnsupportedMediaType", id="patch-type"),
        pytest.param("GET", "/api/v1/namespaces/default/configmaps?limit=x", None, "", 400, "BadRequest", id="bad-limit"),
        pytest.param("GET", "/api/v1/namespaces/default/configmaps?labelSelector=a%20b", None, "", 400, "BadRequest", id="bad-selector"),
    ],
)
def test_errors_are_status(
    served_cluster: Any, method: str, path: str, body: bytes | None, content_type: str, code: int, reason: str
) -> None:
    r = served_cluster.api(method, path, body, content_type=content_type)
    assert r.status == code, r.body
    assert r.body["kind"] == "Status" and r.body["status"] == "Failure"
    assert r.body["reason"] == reason and r.body["code"] == code and r.body["message"]


def test_not_acceptable(served_cluster: Any) -> None:
    r = served_cluster.api("GET", "/api/v1/namespaces", headers={"Accept": "application/xml"})
    assert r.status == 406 and r.body["reason"] == "NotAcceptable"


def test_table_responses(served_cluster: Any) -> None:
    s = served_cluster
    r = s.api("GET", "/api/v1/nodes?limit=500", headers={"Accept": TABLE})
    t = r.body
    assert t["kind"] == "Table" and t["apiVersion"] == "meta.k8s.io/v1" and t["metadata"]["resourceVersion"]
    assert t["columnDefinitions"][0]["name"] == "Name" and t["columnDefinitions"][0]["format"] == "name"
    assert len(t["rows"]) == 3
    assert t["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    full = s.api("GET", "/api/v1/nodes?includeObject=Object", headers={"Accept": TABLE}).body
    assert full["rows"][0]["object"]["kind"] == "Node"
    one = s.api("GET", "/api/v1/namespaces/default", headers={"Accept": TABLE}).body
    assert one["kind"] == "Table" and one["rows"][0]["cells"][0] == "default"


# -- patch ---------------------------------------------------------------------------------------
def test_patch_types(served_cluster: Any) -> None:
    s = served_cluster
    base = "/apis/apps/v1/namespaces/default/deployments"
    assert s.api("POST", base, deployment("web")).status == 201
    r = s.api("PATCH", f"{base}/web", {"spec": {"replicas": 3}}, content_type="application/merge-patch+json")
    assert r.status == 200 and r.body["spec"]["replicas"] == 3
    r = s.api(
        "PATCH", f"{base}/web", [{"op": "replace", "path": "/spec/replicas", "value": 4}],
        content_type="application/json-patch+json",
    )  # fmt: skip
    assert r.body["spec"]["replicas"] == 4
    r = s.api(
        "PATCH", f"{base}/web", {"metadata": {"labels": {"team": "a"}}},
        content_type="application/strategic-merge-patch+json",
    )  # fmt: skip
    assert r.body["metadata"]["labels"] == {"team": "a"} and r.body["spec"]["replicas"] == 4
    bad = s.api("PATCH", f"{base}/web", [{"op": "test", "path": "/spec/replicas", "value": 9}], content_type="application/json-patch+json")
    assert bad.status >= 400 and bad.body["kind"] == "Status"
    # server-side apply: creates (201), then updates (200)
    applied = deployment("ssa", replicas=1)
    c = s.api("PATCH", f"{base}/ssa?fieldManager=test", json.dumps(applied), content_type="application/apply-patch+yaml")
    assert c.status == 201 and c.body["spec"]["replicas"] == 1
    applied["spec"]["replicas"] = 5
    u = s.api("PATCH", f"{base}/ssa?fieldManager=test", json.dumps(applied), content_type="application/apply-patch+yaml")
    assert u.status == 200 and u.body["spec"]["replicas"] == 5
    nm = s.api("PATCH", f"{base}/ssa", json.dumps(applied), content_type="application/apply-patch+yaml")
    assert nm.status == 400  # fieldManager is required for apply


# -- subresources --------------------------------------------------------------------------------
def test_scale_and_status_subresources(served_cluster: Any) -> None:
    s = served_cluster
    base = "/apis/apps/v1/namespaces/default/deployments"
    s.api("POST", base, deployment("web"))
    s.advance("30s")
    sc = s.api("GET", f"{base}/web/scale").body
    assert sc["kind"] == "Scale" and sc["apiVersion"] == "autoscaling/v1"
    assert sc["spec"] == {"replicas": 2} and sc["status"] == {"replicas": 2, "selector": "app=web"}
    p = s.api("PATCH", f"{base}/web/scale", {"spec": {"replicas": 4}}, content_type="application/merge-patch+json")
    assert p.status == 200 and p.body["spec"]["replicas"] == 4
    assert s.api("GET", f"{base}/web").body["spec"]["replicas"] == 4
    stale = dict(sc, spec={"replicas": 1})
    r = s.api("PUT", f"{base}/web/scale", stale, content_type="")  # kubectl sends no Content-Type here
    assert r.status == 409 and r.body["reason"] == "Conflict"
    ng = s.api("GET", "/apis/kubetwin.io/v1alpha1/nodegroups/default/scale").body
    assert ng["spec"]["replicas"] == 3
    st = s.api("GET", f"{base}/web/status").body
    st["status"]["observedGeneration"] = 99
    st["spec"]["replicas"] = 7  # ignored by the status subresource
    u = s.api("PUT", f"{base}/web/status", st).body
    assert u["status"]["observedGeneration"] == 99 and u["spec"]["replicas"] == 4


def _eviction_body(name: str) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": "default"}}


def test_eviction_respects_pdb(served_cluster: Any) -> None:
    s = served_cluster
    s.api("POST", "/apis/apps/v1/namespaces/default/deployments", deployment("web", replicas=2))
    s.api("POST", "/apis/policy/v1/namespaces/default/poddisruptionbudgets", pdb("web", 2))
    s.advance("30s")
    pods = s.api("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb").body["items"]
    assert len(pods) == 2 and all(p["status"]["phase"] == "Running" for p in pods)
    name = pods[0]["metadata"]["name"]
    r = s.api("POST", f"/api/v1/namespaces/default/pods/{name}/eviction", _eviction_body(name))
    assert r.status == 429, r.body
    assert r.body["reason"] == "TooManyRequests"
    assert r.body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert r.body["details"]["causes"] == [
        {"reason": "DisruptionBudget", "message": "The disruption budget web needs 2 healthy pods and has 2 currently", "field": ""}
    ]
    # relax the budget: the protobuf body kubectl drain sends is accepted too
    s.api("PATCH", "/apis/policy/v1/namespaces/default/poddisruptionbudgets/web", {"spec": {"minAvailable": 1}}, content_type="application/merge-patch+json")
    s.advance("1s")
    raw = protobuf.enc_bytes(1, protobuf.enc_bytes(1, name) + protobuf.enc_bytes(3, "default")) + protobuf.enc_bytes(2, b"")
    body = protobuf.envelope("policy/v1", "Eviction", raw)
    ok = s.api("POST", f"/api/v1/namespaces/default/pods/{name}/eviction", body, content_type="application/vnd.kubernetes.protobuf")
    assert ok.status == 201 and ok.body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
    pdb_status = s.api("GET", "/apis/policy/v1/namespaces/default/poddisruptionbudgets/web").body["status"]
    assert name in pdb_status.get("disruptedPods", {}) or pdb_status["disruptionsAllowed"] == 0
    gone = s.api("GET", f"/api/v1/namespaces/default/pods/{name}").body
    assert gone.get("reason") == "NotFound" or gone["metadata"].get("deletionTimestamp")


def test_protobuf_self_subject_access_review(served_cluster: Any) -> None:
    attrs = b"".join(protobuf.enc_bytes(n, v) for n, v in [(1, "default"), (2, "create"), (3, "apps"), (5, "deployments")])
    raw = protobuf.enc_bytes(1, b"") + protobuf.enc_bytes(2, protobuf.enc_bytes(1, attrs))
    body = protobuf.envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview", raw)
    assert protobuf.decode(body)["spec"]["resourceAttributes"] == {
        "namespace": "default", "verb": "create", "group": "apps", "resource": "deployments"
    }  # fmt: skip
    r = served_cluster.api(
        "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body,
        content_type="application/vnd.kubernetes.protobuf",
    )  # fmt: skip
    assert r.status == 201 and r.body["status"]["allowed"] is True


def test_binding_and_logs(served_cluster: Any) -> None:
    s = served_cluster
    node = s.api("GET", "/api/v1/nodes").body["items"][0]["metadata"]["name"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "two"},
        "spec": {
            "schedulerName": "manual",
            "containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "redis"}],
        },
    }
    assert s.api("POST", "/api/v1/namespaces/default/pods", pod).status == 201
    b = s.api(
        "POST", "/api/v1/namespaces/default/pods/two/binding",
        {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "two"}, "target": {"kind": "Node", "name": node}},
    )  # fmt: skip
    assert b.status == 201 and b.body["status"] == "Success"
    s.advance("2m")
    assert s.api("GET", "/api/v1/namespaces/default/pods/two").body["spec"]["nodeName"] == node
    r = s.api("GET", "/api/v1/namespaces/default/pods/two/log")
    assert r.status == 400 and r.body["message"] == "a container name must be specified for pod two, choose one of: [a b]"
    log = s.api("GET", "/api/v1/namespaces/default/pods/two/log?container=a&tailLines=3")
    assert log.status == 200 and log.headers["content-type"].startswith("text/plain")
    assert len(log.raw.decode().splitlines()) == 3


def test_metrics_api(served_cluster: Any) -> None:
    s = served_cluster
    s.api("POST", "/apis/apps/v1/namespaces/default/deployments", deployment("web", replicas=2, cpu="250m"))
    s.advance("30s")
    pods = s.api("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods").body
    assert pods["kind"] == "PodMetricsList" and len(pods["items"]) == 2
    c = pods["items"][0]["containers"][0]
    assert c["name"] == "c" and c["usage"] == {"cpu": "250000000n", "memory": "65536Ki"}
    nodes = s.api("GET", "/apis/metrics.k8s.io/v1beta1/nodes").body
    assert nodes["kind"] == "NodeMetricsList" and len(nodes["items"]) == 3
    assert all(n["usage"]["cpu"].endswith("n") and n["window"] for n in nodes["items"])


# -- watch ---------------------------------------------------------------------------------------
def test_watch_stream(served_cluster: Any) -> None:
    s = served_cluster
    base = "/api/v1/namespaces/default/configmaps"
    s.api("POST", base, cm("one"))
    rv = s.api("GET", base).body["metadata"]["resourceVersion"]
    s.api("POST", base, cm("two"))
    s.api("DELETE", f"{base}/one")
    evs = s.watch(f"{base}?watch=true&resourceVersion={rv}", 2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in evs] == [("ADDED", "two"), ("DELETED", "one")]
    # no RV: the current state as ADDED; legacy /watch/ path with a name
    evs = s.watch("/api/v1/watch/namespaces/default/configmaps/two?timeoutSeconds=1", 5)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in evs] == [("ADDED", "two")]
    # field selector with != and Table events
    evs = s.watch(f"{base}?watch=true&fieldSelector=metadata.name%21%3Dtwo&timeoutSeconds=1", 5)
    assert evs == []
    tab = s.watch(f"{base}?watch=true", 1, headers={"Accept": TABLE})
    assert tab[0]["object"]["kind"] == "Table" and tab[0]["object"]["rows"][0]["cells"][0] == "two"


def test_watch_bookmarks_and_timeout(served_cluster: Any) -> None:
    s = served_cluster
    s.call(lambda: setattr(s.server.state, "bookmark_interval", 0.2))
    evs = s.watch("/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true&timeoutSeconds=1", 50)
    assert evs and all(e["type"] == "BOOKMARK" for e in evs)
    assert evs[0]["object"] == {
        "kind": "ConfigMap", "apiVersion": "v1", "metadata": {"resourceVersion": evs[0]["object"]["metadata"]["resourceVersion"]}
    }  # fmt: skip
    # without allowWatchBookmarks no bookmarks, and the stream ends at timeoutSeconds
    assert s.watch("/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1", 50) == []


def test_watch_too_old_resource_version_is_410(served_cluster: Any) -> None:
    s = served_cluster
    store = s.server.cluster.store
    s.call(lambda: setattr(store, "_history", deque(list(store._history)[-3:], maxlen=3)))
    for i in range(5):
        s.api("POST", "/api/v1/namespaces/default/configmaps", cm(f"c{i}"))
    evs = s.watch("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=2", 5)
    assert len(evs) == 1 and evs[0]["type"] == "ERROR"
    st = evs[0]["object"]
    assert st["kind"] == "Status" and st["code"] == 410 and st["reason"] == "Expired"
    assert st["message"].startswith("too old resource version: 2 (")


# -- clock and durability ------------------------------------------------------------------------
def test_clock_api(served_cluster: Any) -> None:
    s = served_cluster
    base = "/apis/kubetwin.io/v1alpha1/clock"
    c = s.api("GET", base).body
    assert c["kind"] == "Clock" and c["status"]["paused"] is True and c["status"]["seconds"] == 30.0
    a = s.advance("30m")
    assert a["status"]["seconds"] == 1830.0 and a["status"]["now"] == "2026-01-01T00:30:30Z"
    assert s.api("POST", f"{base}/speed", {"speed": 60}).body["status"]["speed"] == 60
    assert s.api("POST", f"{base}/pause").body["status"]["paused"] is True
    assert s.api("POST", f"{base}/resume").body["status"]["speed"] == 60
    assert s.api("PUT", base, {"spec": {"paused": True}}).body["status"]["paused"] is True
    bad = s.api("POST", f"{base}/advance", {"duration": "soon"})
    assert bad.status == 400 and "invalid duration" in bad.body["message"]
    # object timestamps are virtual time
    made = s.api("POST", "/api/v1/namespaces/default/configmaps", cm("t")).body
    assert made["metadata"]["creationTimestamp"].startswith("2026-01-01T00:30:")


def test_restart_on_data_dir_restores_writes_and_clock(served_cluster_factory: Any, tmp_path: Any) -> None:
    data = tmp_path / "data"
    first = served_cluster_factory(data_dir=str(data))
    first.advance("10m")
    first.api("POST", "/api/v1/namespaces/default/configmaps", cm("kept", k="v"))
    first.api("POST", "/apis/apps/v1/namespaces/default/deployments", deployment("web"))
    first.advance("1m")
    uids = {p["metadata"]["uid"] for p in first.api("GET", "/api/v1/pods").body["items"]}
    rv = first.api("GET", "/api/v1/namespaces/default/configmaps").body["metadata"]["resourceVersion"]
    for stop in first._stops:
        stop()
    first._stops.clear()
    second = served_cluster_factory(data_dir=str(data))
    assert second.api("GET", "/api/v1/namespaces/default/configmaps/kept").body["data"] == {"k": "v"}
    assert int(second.api("GET", "/api/v1/namespaces/default/configmaps").body["metadata"]["resourceVersion"]) >= int(rv)
    assert second.api("GET", "/apis/kubetwin.io/v1alpha1/clock").body["status"]["seconds"] >= 660.0
    assert len(second.api("GET", "/api/v1/nodes").body["items"]) == 3  # no second node group
    second.api("PATCH", "/apis/apps/v1/namespaces/default/deployments/web", {"spec": {"replicas": 3}}, content_type="application/merge-patch+json")
    second.advance("1m")
    pods = second.api("GET", "/api/v1/namespaces/default/pods").body["items"]
    assert len(pods) == 3 and all(p["status"]["phase"] == "Running" for p in pods)
    new_uids = {p["metadata"]["uid"] for p in pods} - uids
    assert len(new_uids) == 1  # fresh uids after a restart, none reused


def test_field_validation_and_apply_conflicts(served_cluster: Any) -> None:
    s = served_cluster
    base = "/apis/apps/v1/namespaces/default/deployments"
    bad = deployment("typo")
    bad["spec"]["replicaz"] = 3
    r = s.api("POST", f"{base}?fieldValidation=Strict", bad)
    assert r.status == 400 and r.body["message"] == 'strict decoding error: unknown field "spec.replicaz"'
    w = s.api("POST", f"{base}?fieldValidation=Warn", bad)
    assert w.status == 201 and w.headers["warning"] == '299 - "unknown field \\"spec.replicaz\\""'
    assert "replicaz" not in w.body["spec"]  # dropped, as decoding into the Go types does
    quiet = deployment("quiet")
    quiet["spec"]["replicaz"] = 3
    quiet["metadata"]["bogus"] = "x"
    i = s.api("POST", f"{base}?fieldValidation=Ignore", quiet)
    assert i.status == 201 and "warning" not in i.headers
    stored = s.api("GET", f"{base}/quiet").body
    assert "replicaz" not in stored["spec"] and "bogus" not in stored["metadata"]
    for ptype, body in (("application/merge-patch+json", {"spec": {"replicaz": 4, "replicas": 2}}),
                        ("application/strategic-merge-patch+json", {"spec": {"replicaz": 4, "replicas": 3}}),
                        ("application/json-patch+json", [{"op": "add", "path": "/spec/replicaz", "value": 4}])):
        p = s.api("PATCH", f"{base}/quiet?fieldValidation=Ignore", json.dumps(body), content_type=ptype)
        assert p.status == 200 and "replicaz" not in p.body["spec"], ptype
    assert s.api("GET", f"{base}/quiet").body["spec"]["replicas"] == 3
    # a field set by another manager conflicts with an apply that changes it, unless forced
    s.api("POST", f"{base}?fieldManager=kubectl-client-side-apply", deployment("web", replicas=2))
    applied = json.dumps(deployment("web", replicas=5))
    c = s.api("PATCH", f"{base}/web?fieldManager=kubectl", applied, content_type="application/apply-patch+yaml")
    assert c.status == 409 and c.body["reason"] == "Conflict"
    assert c.body["details"]["causes"][0]["reason"] == "FieldManagerConflict"
    assert '"kubectl-client-side-apply"' in c.body["message"] and ".spec.replicas" in c.body["message"]
    f = s.api("PATCH", f"{base}/web?fieldManager=kubectl&force=true", applied, content_type="application/apply-patch+yaml")
    assert f.status == 200 and f.body["spec"]["replicas"] == 5
    managers = {e["manager"] for e in f.body["metadata"]["managedFields"]}
    assert "kubectl" in managers
