"""OpenAPI v2 (/openapi/v2): the JSON document's shape, what kubectl's model parser demands of it,
gnostic's protobuf mapping (round trip through the dynamic message) and the handler's negotiation."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kubetwin.api.kinds import all_served
from kubetwin.server import openapi_v2
from kubetwin.server.openapi_v2 import (
    JSON,
    PROTOBUF,
    GnosticError,
    document,
    document_protobuf,
    message_class,
    negotiate,
    to_gnostic,
)
from kubetwin.server.protobuf import _is_repeated

META = "io.k8s.apimachinery.pkg.apis.meta.v1."


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return document()


def test_document_head(doc: dict[str, Any]) -> None:
    assert doc["swagger"] == "2.0"
    assert doc["info"] == {"title": "Kubernetes", "version": "v1.32.0"}
    assert doc["securityDefinitions"]["BearerToken"]["type"] == "apiKey"
    assert doc["security"] == [{"BearerToken": []}]


@pytest.mark.parametrize(("name", "group", "version", "kind"), [
    pytest.param("io.k8s.api.core.v1.ConfigMap", "", "v1", "ConfigMap", id="configmap"),
    pytest.param("io.k8s.api.core.v1.ConfigMapList", "", "v1", "ConfigMapList", id="configmap-list"),
    pytest.param("io.k8s.api.apps.v1.Deployment", "apps", "v1", "Deployment", id="deployment"),
    pytest.param("io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler", "autoscaling", "v1", "HorizontalPodAutoscaler",
                 id="hpa-v1"),
    pytest.param("io.kubetwin.v1alpha1.NodeGroup", "kubetwin.io", "v1alpha1", "NodeGroup", id="nodegroup"),
    pytest.param("io.k8s.autoscaling.v1.VerticalPodAutoscalerCheckpoint", "autoscaling.k8s.io", "v1",
                 "VerticalPodAutoscalerCheckpoint", id="vpa-checkpoint"),
])  # fmt: skip
def test_definitions_carry_the_group_version_kind(doc: dict[str, Any], name: str, group: str, version: str,
                                                  kind: str) -> None:  # fmt: skip
    d = doc["definitions"][name]
    assert {"group": group, "version": version, "kind": kind} in d["x-kubernetes-group-version-kind"]
    assert d["type"] == "object" and d["description"]
    # upstream's v2 spelling: a $ref keeps its siblings, no allOf wrapper; no enum on apiVersion/kind
    meta = "ListMeta" if kind.endswith("List") else "ObjectMeta"
    assert d["properties"]["metadata"]["$ref"] == f"#/definitions/{META}{meta}"
    assert d["properties"]["apiVersion"] == {"description": d["properties"]["apiVersion"]["description"],
                                             "type": "string"}  # fmt: skip


def test_every_served_kind_has_a_definition(doc: dict[str, Any]) -> None:
    gvks = {(g["group"], g["version"], g["kind"]) for d in doc["definitions"].values()
            for g in d.get("x-kubernetes-group-version-kind", [])}  # fmt: skip
    missing = [k.kind for k in all_served() if (k.group, k.version, k.kind) not in gvks]
    assert not missing


def test_builtin_schemas_keep_upstream_extensions(doc: dict[str, Any]) -> None:
    defs = doc["definitions"]
    containers = defs["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["items"] == {"$ref": "#/definitions/io.k8s.api.core.v1.Container"}
    assert (containers["x-kubernetes-patch-merge-key"], containers["x-kubernetes-patch-strategy"]) == ("name", "merge")
    assert defs["io.k8s.api.core.v1.Container"]["required"] == ["name"]
    assert defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"
    assert defs["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"] == "string"
    assert defs["io.k8s.api.core.v1.ConfigMap"]["properties"]["data"]["additionalProperties"] == {"type": "string"}


def test_hand_written_kinds_get_the_crd_reductions(doc: dict[str, Any]) -> None:
    """ToStructuralOpenAPIV2: preserve-unknown-fields objects and nullable fields become untyped."""
    defs = doc["definitions"]
    kubelet = defs["io.kubetwin.v1alpha1.NodeGroup"]["properties"]["spec"]["properties"]["kubelet"]
    assert kubelet["x-kubernetes-preserve-unknown-fields"] is True
    assert "properties" not in kubelet and "type" not in kubelet
    status = defs["io.k8s.autoscaling.v1.VerticalPodAutoscalerCheckpoint"]["properties"]["status"]
    assert "type" not in status["properties"]["lastUpdateTime"]
    assert status["properties"]["lastUpdateTime"]["format"] == "date-time"
    # the v3 allOf wrapper around a $ref is undone, as for the built-in kinds
    ng = defs["io.kubetwin.v1alpha1.NodeGroup"]["properties"]
    assert ng["metadata"]["$ref"] == f"#/definitions/{META}ObjectMeta" and "allOf" not in ng["metadata"]


def _schemas(node: Any, path: str) -> list[tuple[str, dict[str, Any]]]:
    """Every schema node under a definition (properties, items, additionalProperties)."""
    out = [(path, node)]
    for name, sub in (node.get("properties") or {}).items():
        out += _schemas(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        out += _schemas(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        out += _schemas(node["additionalProperties"], f"{path}{{}}")
    return out


def test_every_schema_parses_as_kubectl_models(doc: dict[str, Any]) -> None:
    """What k8s.io/kube-openapi pkg/util/proto NewOpenAPIData rejects (and with it every kubectl
    command that reads v2): a $ref to no definition, an array without exactly one item schema, more
    than one type, an unknown primitive type; and v3-only keywords gnostic has no field for."""
    defs = doc["definitions"]
    problems = []
    for name, d in defs.items():
        for path, s in _schemas(d, name):
            ref = s.get("$ref")
            if ref is not None and ref.removeprefix("#/definitions/") not in defs:
                problems.append(f"{path}: dangling {ref}")
            if ref is None and s.get("type") == "array" and not isinstance(s.get("items"), dict):
                problems.append(f"{path}: array without items")
            if not isinstance(s.get("type", ""), str):
                problems.append(f"{path}: type {s['type']}")
            if s.get("type") not in (None, "object", "array", "string", "integer", "number", "boolean"):
                problems.append(f"{path}: unknown type {s['type']}")
            problems += [f"{path}: {k}" for k in ("allOf", "anyOf", "oneOf", "not", "nullable") if k in s]
    assert not problems


@pytest.mark.parametrize(("path", "kind", "group"), [
    pytest.param("/api/v1/namespaces/{namespace}/configmaps/{name}", "ConfigMap", "", id="configmap"),
    pytest.param("/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "Deployment", "apps", id="deployment"),
    pytest.param("/apis/kubetwin.io/v1alpha1/nodegroups/{name}", "NodeGroup", "kubetwin.io", id="nodegroup"),
])  # fmt: skip
def test_patch_operations_in_v2_form(doc: dict[str, Any], path: str, kind: str, group: str) -> None:
    """What cli-runtime's v2 query-param verifier reads: the patch operation's gvk and its
    fieldValidation query parameter; the body is a body parameter, the responses carry schemas."""
    item = doc["paths"][path]
    patch = item["patch"]
    assert patch["x-kubernetes-group-version-kind"]["kind"] == kind
    assert patch["x-kubernetes-group-version-kind"]["group"] == group
    assert patch["x-kubernetes-action"] == "patch"
    body, *query = patch["parameters"]
    assert body == {"in": "body", "name": "body", "required": True, "schema": {"$ref": f"#/definitions/{META}Patch"}}
    fv = next(p for p in query if p["name"] == "fieldValidation")
    assert (fv["in"], fv["type"], fv["uniqueItems"]) == ("query", "string", True)
    assert "application/merge-patch+json" in patch["consumes"]
    assert patch["responses"]["200"]["schema"]["$ref"].endswith("." + kind)
    assert {p["name"]: p["in"] for p in item["parameters"]}["name"] == "path"


# -- protobuf -------------------------------------------------------------------------------------


def _back(msg: Any) -> Any:
    """gnostic's Document message back to JSON (the inverse of the mapping under test)."""
    name = msg.DESCRIPTOR.name
    fields = [f.name for f in msg.DESCRIPTOR.fields]
    if name == "Any":
        return yaml.safe_load(msg.yaml)
    if name in ("TypeItem", "StringArray"):
        values = list(msg.value)
        return values[0] if name == "TypeItem" and len(values) == 1 else values
    if name == "ItemsItem":
        schemas = [_back(s) for s in msg.schema]
        return schemas[0] if len(schemas) == 1 else schemas
    if msg.DESCRIPTOR.oneofs:
        member = msg.WhichOneof("oneof")
        assert member is not None, f"{name}: no member set"
        value = getattr(msg, member)
        return value if member == "boolean" else _back(value)
    if fields == ["additional_properties"]:
        return {p.name: _named_value(p) for p in msg.additional_properties}
    out: dict[str, Any] = {}
    for f, v in msg.ListFields():
        if f.name == "vendor_extension":
            out.update({e.name: yaml.safe_load(e.value.yaml) for e in v})
        elif f.name in ("path", "response_code"):
            out.update({p.name: _back(p.value) for p in v})
        elif _is_repeated(f):
            out[f.json_name] = [_back(x) for x in v] if f.message_type else list(v)
        else:
            out["$ref" if f.name == "_ref" else f.json_name] = _back(v) if f.message_type else v
    return out


def _named_value(pair: Any) -> Any:
    return _back(pair.value) if pair.DESCRIPTOR.fields_by_name["value"].message_type else pair.value


def test_protobuf_round_trips_to_the_json_document(doc: dict[str, Any]) -> None:
    parsed = message_class("Document").FromString(document_protobuf())
    assert _back(parsed) == doc
    names = [p.name for p in parsed.definitions.additional_properties]
    assert names == sorted(doc["definitions"])
    cm = next(p.value for p in parsed.definitions.additional_properties if p.name == "io.k8s.api.core.v1.ConfigMap")
    assert list(cm.type.value) == ["object"]
    assert cm.properties.additional_properties[-1].value._ref == f"#/definitions/{META}ObjectMeta"
    gvk = next(e for e in cm.vendor_extension if e.name == "x-kubernetes-group-version-kind")
    assert yaml.safe_load(gvk.value.yaml) == [{"group": "", "kind": "ConfigMap", "version": "v1"}]


@pytest.mark.parametrize(("json_doc", "check"), [
    pytest.param({"definitions": {"M": {"type": "object", "additionalProperties": False}}},
                 lambda m: m.definitions.additional_properties[0].value.additional_properties.WhichOneof("oneof")
                 == "boolean", id="additional-properties-bool"),
    pytest.param({"definitions": {"M": {"type": "object", "additionalProperties": {"type": "integer"}}}},
                 lambda m: list(m.definitions.additional_properties[0].value.additional_properties.schema.type.value)
                 == ["integer"], id="additional-properties-schema"),
    pytest.param({"definitions": {"M": {"type": ["string", "null"]}}},
                 lambda m: list(m.definitions.additional_properties[0].value.type.value) == ["string", "null"],
                 id="type-list"),
    pytest.param({"definitions": {"M": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]}}},
                 lambda m: len(m.definitions.additional_properties[0].value.items.schema) == 2, id="items-list"),
    pytest.param({"definitions": {"M": {"enum": ["a", 1], "default": {"k": "v"}}}},
                 lambda m: [e.yaml for e in m.definitions.additional_properties[0].value.enum] == ["a\n", "1\n"]
                 and yaml.safe_load(m.definitions.additional_properties[0].value.default.yaml) == {"k": "v"},
                 id="any-as-yaml"),
    pytest.param({"paths": {"/p": {"parameters": [{"$ref": "#/parameters/x"}], "x-y": 1}}},
                 lambda m: m.paths.path[0].value.parameters[0].json_reference._ref == "#/parameters/x"
                 and m.paths.path[0].value.vendor_extension[0].name == "x-y", id="parameter-reference"),
    pytest.param({"paths": {"/p": {"get": {"parameters": [
                     {"in": "path", "name": "n", "type": "string", "required": True},
                     {"in": "header", "name": "h", "type": "string"},
                     {"in": "body", "name": "b", "schema": {"type": "object"}}],
                     "responses": {"200": {"description": "OK"}, "x-r": True}}}}},
                 lambda m: [p.parameter.WhichOneof("oneof") for p in m.paths.path[0].value.get.parameters]
                 == ["non_body_parameter", "non_body_parameter", "body_parameter"]
                 and m.paths.path[0].value.get.parameters[0].parameter.non_body_parameter.WhichOneof("oneof")
                 == "path_parameter_sub_schema"
                 and m.paths.path[0].value.get.parameters[1].parameter.non_body_parameter.WhichOneof("oneof")
                 == "header_parameter_sub_schema"
                 and m.paths.path[0].value.get.responses.response_code[0].name == "200"
                 and m.paths.path[0].value.get.responses.vendor_extension[0].name == "x-r", id="parameters-by-in"),
])  # fmt: skip
def test_gnostic_mapping(json_doc: dict[str, Any], check: Any) -> None:
    msg = to_gnostic(json_doc)
    assert check(msg)
    assert _back(message_class("Document").FromString(msg.SerializeToString())) == _back(msg)


@pytest.mark.parametrize(("json_doc", "error"), [
    pytest.param({"definitions": {"M": {"oneOf": [{"type": "string"}]}}}, "Schema has no field 'oneOf'",
                 id="v3-keyword"),
    pytest.param({"paths": {"/p": {"get": {"parameters": [{"in": "cookie", "name": "c"}]}}}}, "in must be one of",
                 id="parameter-in"),
    pytest.param({"definitions": {"M": {"required": "name"}}}, "expected a list", id="required-not-a-list"),
    pytest.param({"info": {"title": 3}}, "info.title", id="wrong-scalar"),
])  # fmt: skip
def test_gnostic_rejects_what_its_parser_would(json_doc: dict[str, Any], error: str) -> None:
    with pytest.raises(GnosticError, match=error):
        to_gnostic(json_doc)


# -- the handler ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("accept", "want"), [
    pytest.param("", JSON, id="none"),
    pytest.param("*/*", JSON, id="any"),
    pytest.param("application/*", JSON, id="application-any"),
    pytest.param("application/json", JSON, id="json"),
    pytest.param("application/com.github.proto-openapi.spec.v2@v1.0+protobuf", PROTOBUF, id="kubectl"),
    pytest.param("application/com.github.proto-openapi.spec.v2.v1.0+protobuf", PROTOBUF, id="protobuf"),
    pytest.param("application/json;q=0.5, application/com.github.proto-openapi.spec.v2.v1.0+protobuf", PROTOBUF,
                 id="by-q"),
    pytest.param("*/*, application/com.github.proto-openapi.spec.v2@v1.0+protobuf", PROTOBUF,
                 id="concrete-before-wildcard"),
    pytest.param("application/yaml", None, id="yaml"),
    pytest.param("text/html, application/json;q=0", None, id="q0"),
])  # fmt: skip
def test_negotiate(accept: str, want: str | None) -> None:
    assert negotiate(accept) == want


def test_served_with_etag_and_304(served_cluster: Any) -> None:
    s = served_cluster
    r = s.api("GET", "/openapi/v2?timeout=32s", headers={"Accept": openapi_v2.PROTOBUF_DEPRECATED})
    assert r.status == 200 and r.headers["content-type"] == PROTOBUF
    assert r.raw == document_protobuf()
    tag = r.headers["etag"]
    assert tag == f'"{openapi_v2.etag()}"' and r.headers["vary"] == "Accept"
    j = s.api("GET", "/openapi/v2")
    assert j.status == 200 and j.headers["content-type"] == JSON and j.headers["etag"] == tag
    assert j.body["definitions"]["io.k8s.api.core.v1.ConfigMap"]["x-kubernetes-group-version-kind"]
    again = s.api("GET", "/openapi/v2", headers={"If-None-Match": tag})
    assert (again.status, again.raw, again.headers["etag"]) == (304, b"", tag)
    other = s.api("GET", "/openapi/v2", headers={"If-None-Match": '"0"'})
    assert other.status == 200
    refused = s.api("GET", "/openapi/v2", headers={"Accept": "application/yaml"})
    assert (refused.status, refused.raw) == (406, b"")
