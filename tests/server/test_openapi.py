"""OpenAPI v3: index, per-group-version documents built from upstream schemas, strict field checks."""

from __future__ import annotations

import pytest

from kubetwin.api.kinds import all_served
from kubetwin.server.openapi import (
    document_hash,
    openapi_v3_document,
    openapi_v3_index,
    strict_error_message,
    unknown_fields,
)


def test_index_lists_every_served_group_version() -> None:
    index = openapi_v3_index()["paths"]
    want = {f"apis/{k.group}/{k.version}" if k.group else f"api/{k.version}" for k in all_served()}
    assert set(index) == want and "apis/autoscaling/v1" in want
    assert index["api/v1"]["serverRelativeURL"] == f"/openapi/v3/api/v1?hash={document_hash('', 'v1')}"
    assert index["apis/apps/v1"]["serverRelativeURL"].startswith("/openapi/v3/apis/apps/v1?hash=")
    assert len(document_hash("apps", "v1") or "") == 128


def test_unknown_group_version() -> None:
    assert openapi_v3_document("nope.example.com", "v1") is None


@pytest.mark.parametrize(("group", "version", "kind", "schema", "path"), [
    pytest.param("apps", "v1", "Deployment", "io.k8s.api.apps.v1.Deployment",
                 "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", id="deployment"),
    pytest.param("", "v1", "Pod", "io.k8s.api.core.v1.Pod", "/api/v1/namespaces/{namespace}/pods/{name}", id="pod"),
    pytest.param("", "v1", "Node", "io.k8s.api.core.v1.Node", "/api/v1/nodes/{name}", id="node-cluster-scoped"),
    pytest.param("autoscaling", "v2", "HorizontalPodAutoscaler", "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
                 "/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/{name}", id="hpa"),
    pytest.param("autoscaling", "v1", "HorizontalPodAutoscaler", "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler",
                 "/apis/autoscaling/v1/namespaces/{namespace}/horizontalpodautoscalers/{name}", id="hpa-v1"),
    pytest.param("kubetwin.io", "v1alpha1", "NodeGroup", "io.kubetwin.v1alpha1.NodeGroup",
                 "/apis/kubetwin.io/v1alpha1/nodegroups/{name}", id="nodegroup"),
    pytest.param("kubetwin.io", "v1alpha1", "LoadProfile", "io.kubetwin.v1alpha1.LoadProfile",
                 "/apis/kubetwin.io/v1alpha1/namespaces/{namespace}/loadprofiles/{name}", id="loadprofile"),
])  # fmt: skip
def test_patch_operation_lets_kubectl_validate_on_the_server(group: str, version: str, kind: str, schema: str,
                                                            path: str) -> None:  # fmt: skip
    doc = openapi_v3_document(group, version)
    assert doc is not None and doc["openapi"].startswith("3.")
    patch = doc["paths"][path]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": group, "version": version, "kind": kind}
    assert "fieldValidation" in {p["name"] for p in patch["parameters"]}
    s = doc["components"]["schemas"][schema]
    assert {"group": group, "version": version, "kind": kind} in s["x-kubernetes-group-version-kind"]
    assert s["description"]
    # Every reference resolves inside the document.
    names = set(doc["components"]["schemas"])
    for ref in _refs(doc):
        assert ref.removeprefix("#/components/schemas/") in names, ref


def _refs(node: object) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                out.append(v)
            else:
                out += _refs(v)
    elif isinstance(node, list):
        for v in node:
            out += _refs(v)
    return out


def test_schemas_carry_patch_extensions_and_descriptions() -> None:
    doc = openapi_v3_document("", "v1")
    assert doc is not None
    schemas = doc["components"]["schemas"]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["x-kubernetes-list-type"] == "map"
    assert containers["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    assert "containerPort" in schemas["io.k8s.api.core.v1.Container"]["properties"]["ports"][
        "x-kubernetes-patch-merge-key"]
    metadata = schemas["io.k8s.api.core.v1.Pod"]["properties"]["metadata"]
    assert metadata["allOf"] == [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]
    assert "metadata" in metadata["description"]
    assert schemas["io.k8s.api.core.v1.Pod"]["properties"]["kind"]["type"] == "string"
    assert "enum" not in schemas["io.k8s.api.core.v1.Pod"]["properties"]["kind"]
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"
    assert schemas["io.k8s.api.core.v1.Container"]["properties"]["image"]["description"].startswith(
        "Container image name")


def test_scale_and_status_subresources() -> None:
    doc = openapi_v3_document("apps", "v1")
    assert doc is not None
    scale = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"]
    assert scale["x-kubernetes-group-version-kind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert "io.k8s.api.autoscaling.v1.Scale" in doc["components"]["schemas"]
    assert "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status" in doc["paths"]


def test_kubetwin_kinds_are_described() -> None:
    doc = openapi_v3_document("kubetwin.io", "v1alpha1")
    assert doc is not None
    ng = doc["components"]["schemas"]["io.kubetwin.v1alpha1.NodeGroup"]["properties"]["spec"]
    assert ng["properties"]["instanceType"]["description"]
    assert ng["properties"]["kubelet"]["x-kubernetes-preserve-unknown-fields"] is True
    patch = doc["paths"]["/apis/kubetwin.io/v1alpha1/nodegroups/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" not in patch["requestBody"]["content"]


UNKNOWN = [
    pytest.param({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "labels": {"a": "b"}},
                  "spec": {"replicas": 1, "foo": 1, "template": {"spec": {"containers": [
                      {"name": "c", "image": "i", "bar": 2, "resources": {"limits": {"cpu": "1"}}}]}}}},
                 ["spec.foo", "spec.template.spec.containers[0].bar"], id="deployment"),
    pytest.param({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "nme": "y"}, "spec": {}},
                 ["metadata.nme"], id="metadata-typo"),
    pytest.param({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"any": "key"}},
                 [], id="map-keys-are-free"),
    pytest.param({"apiVersion": "kubetwin.io/v1alpha1", "kind": "NodeGroup", "metadata": {"name": "g"},
                  "spec": {"instanceTyp": "m5.large", "kubelet": {"maxPods": 20, "anything": 1}}},
                 ["spec.instanceTyp"], id="nodegroup-typo"),
    pytest.param({"apiVersion": "kubetwin.io/v1alpha1", "kind": "LoadProfile", "metadata": {"name": "l"},
                  "spec": {"evolving": True}}, ["spec.evolving"], id="loadprofile-closed"),
    pytest.param({"apiVersion": "kubetwin.io/v1alpha1", "kind": "Fault", "metadata": {"name": "f"},
                  "spec": {"evolving": True}}, [], id="fault-open"),
    pytest.param({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"x": 1}}, [], id="unknown-kind"),
]  # fmt: skip


@pytest.mark.parametrize(("obj", "want"), UNKNOWN)
def test_unknown_fields(obj: dict, want: list[str]) -> None:
    assert unknown_fields(obj) == want


def test_strict_message() -> None:
    assert strict_error_message(["spec.foo", "spec.bar"]) == (
        'strict decoding error: unknown field "spec.foo", unknown field "spec.bar"'
    )
