"""The OpenAPI v2 document (``GET /openapi/v2``), in JSON and in gnostic's protobuf.

kubectl still reads v2 where v3 has no answer: ``kubectl apply -f`` of a ``kind: List`` (what
``kubectl get ... -o yaml`` writes) validates on the client, because the v3 query-param verifier
never reports field validation support for v1/List (cli-runtime query_param_verifier_v3.go), and
kubectl's schema validation (k8s.io/kubectl/pkg/validation) looks each item's kind up in the v2
models (k8s.io/kube-openapi pkg/util/proto: unknown fields, wrong types, missing required fields).
It asks for ``Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf``
(client-go discovery OpenAPISchema) and parses the body as ``openapi.v2.Document``.

The document is built from what the v3 documents (:mod:`kubetwin.server.openapi`) are built from,
in upstream's v2 spelling (k8s.io/kube-openapi pkg/builder, as kube-apiserver's aggregated v2
spec): ``definitions`` keyed ``io.k8s.api.core.v1.ConfigMap`` with ``$ref: #/definitions/...``
next to their siblings (v3's ``allOf`` wrapper undone), every served group-version's ``paths`` with
body and query parameters, ``produces``/``consumes`` and ``responses`` in v2 form, plus the
BearerToken security definition. The hand-written kinds (kubetwin.io, the VPA's CRDs) go through
the reductions kube-apiserver applies to CRD schemas for v2 (apiextensions-apiserver
controller/openapi/v2 ToStructuralOpenAPIV2): no ``anyOf``/``oneOf``/``not``, nullable fields lose
their type and leave ``required``, ``x-kubernetes-preserve-unknown-fields`` drops
properties/items and the ``object`` type, so kubectl treats those parts as free-form.

The protobuf is gnostic's mapping of that JSON (github.com/google/gnostic-models openapiv2
``ParseDocument``, what kube-openapi's handler marshals), filled into dynamic messages of the
``openapiv2/OpenAPIv2.proto`` descriptor extracted from kubectl (``data/openapiv2-descriptors.binpb.gz``,
written by ``tools/gen_k8s_proto_descriptors.py``): JSON keys are the fields' camelCase names,
``$ref`` is ``_ref``, ``x-`` keys are ``vendor_extension`` NamedAny entries whose Any holds the
value as YAML, maps are ``additional_properties`` lists of Named* pairs (``paths``' ``path``,
``responses``' ``response_code``), and the oneof wrappers pick their member from the value:
``type`` (TypeItem) and ``items`` (ItemsItem) take one value or a list, ``additionalProperties`` a
schema or a boolean, a parameter is a body parameter or a header/formData/query/path one by
``in``, a parameter or response with ``$ref`` is a JsonReference.

Both forms are built on the first request and cached (the server starts without them). As upstream's
handler (kube-openapi pkg/handler): content negotiation over JSON and the two protobuf media types
(the deprecated ``@v1.0`` spelling answers with the ``.v1.0`` one), 406 with no body when nothing
matches, an ``ETag`` of the JSON's SHA-512 for both forms and 304 for a matching ``If-None-Match``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

import yaml
from aiohttp import web
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from kubetwin.api import schema as sch
from kubetwin.server import openapi
from kubetwin.server.protobuf import _is_repeated, load_pool

Obj = dict[str, Any]
DESCRIPTORS = "openapiv2-descriptors.binpb.gz"
DEFINITIONS = "#/definitions/"
JSON = "application/json"
PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
PROTOBUF_DEPRECATED = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
# What the handler offers, in its order of preference: (type, subtype, Content-Type answered).
_OFFERS = (
    ("application", "json", JSON),
    ("application", PROTOBUF_DEPRECATED.split("/", 1)[1], PROTOBUF),
    ("application", PROTOBUF.split("/", 1)[1], PROTOBUF),
)
_PRODUCES = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]
_SECURITY_DEFINITIONS = {
    "BearerToken": {"description": "Bearer Token authentication", "in": "header", "name": "authorization",
                    "type": "apiKey"},
}  # fmt: skip


# -- the JSON document --------------------------------------------------------------------------


def _v2(node: Any, crd: bool) -> Any:
    """A v3 schema node (as :mod:`openapi` writes it) in v2 form; ``crd`` applies the CRD reductions."""
    if isinstance(node, list):
        return [_v2(v, crd) for v in node]
    if not isinstance(node, dict):
        return node
    out: Obj = {}
    for k, v in node.items():
        if k == "$ref" and isinstance(v, str):
            out[k] = DEFINITIONS + v.rsplit("/", 1)[-1]
        elif k == "allOf" and isinstance(v, list) and len(v) == 1 and isinstance(v[0], dict) and "$ref" in v[0]:
            out["$ref"] = DEFINITIONS + v[0]["$ref"].rsplit("/", 1)[-1]  # upstream v2: $ref beside siblings
        elif k in ("allOf", "anyOf", "oneOf", "not", "nullable"):
            continue  # v3 only (ToStructuralOpenAPIV2 drops the junctors)
        elif k == "properties" and isinstance(v, dict):
            out[k] = {name: _v2(sub, crd) for name, sub in v.items()}
        elif k.startswith("x-"):
            out[k] = v
        else:
            out[k] = _v2(v, crd)
    if crd:
        if node.get("nullable"):
            out.pop("type", None)
            out.pop("items", None)
            out.pop("properties", None)
        if node.get("x-kubernetes-preserve-unknown-fields"):
            out.pop("items", None)
            out.pop("properties", None)
            if out.get("type") == "object":
                del out["type"]
        if out.get("type") == "array" and "items" not in out:
            del out["type"]
        props = node.get("properties")
        if isinstance(props, dict) and isinstance(out.get("required"), list):
            required = [r for r in out["required"] if not (isinstance(props.get(r), dict) and props[r].get("nullable"))]
            if required:
                out["required"] = required
            else:
                del out["required"]
    return out


def _definitions() -> dict[str, Obj]:
    """Every schema a served kind needs (the union of the v3 documents' components, plus each
    built-in kind's List type as upstream publishes it), in v2 form."""
    roots = [openapi.META + "Status", openapi.META + "Patch", openapi.META + "DeleteOptions"]
    hand: dict[str, Obj] = {}
    for kinds in openapi._served().values():
        for info in kinds:
            name = openapi._schema_name(info)
            if name in openapi._hand_schemas():
                hand[name] = openapi._hand_schemas()[name]
                refs: set[str] = set()
                openapi._convert(hand[name], refs)
                roots.extend(sorted(refs))
            else:
                roots.append(name)
                if name + "List" in sch.definitions():
                    roots.append(name + "List")
            if info.scale_subresource:
                roots.append("io.k8s.api.autoscaling.v1.Scale")
    out = {name: _v2(s, crd=False) for name, s in openapi._closure(roots).items()}
    if not out.get(openapi.META + "Patch"):
        out[openapi.META + "Patch"] = {"description": "Patch is provided to give a concrete name and type to the "
                                       "Kubernetes PATCH request body.", "type": "object"}  # fmt: skip
    out.update({name: _v2(s, crd=True) for name, s in hand.items()})
    return out


def _parameter(p: Obj) -> Obj:
    out: Obj = {"description": p["description"], "in": p["in"], "name": p["name"]}
    if p.get("required"):
        out["required"] = True
    s = p.get("schema") or {}
    out["type"] = s.get("type", "string")
    if s.get("uniqueItems"):
        out["uniqueItems"] = True
    return out


def _operation(op: Obj) -> Obj:
    out: Obj = {"description": op["description"], "operationId": op["operationId"], "produces": list(_PRODUCES),
                "schemes": ["https"]}  # fmt: skip
    params: list[Obj] = []
    body = op.get("requestBody")
    if body:
        content = body["content"]
        out["consumes"] = list(content)
        first = next(iter(content.values()))
        params.append({"in": "body", "name": "body", "required": True, "schema": _v2(first["schema"], crd=False)})
    else:
        out["consumes"] = ["*/*"]
    params.extend(_parameter(p) for p in op.get("parameters", []))
    if params:
        out["parameters"] = params
    responses: Obj = {}
    for code, r in op["responses"].items():
        resp: Obj = {"description": r["description"]}
        content = r.get("content")
        if content:
            resp["schema"] = _v2(next(iter(content.values()))["schema"], crd=False)
        responses[code] = resp
    out["responses"] = responses
    for k, v in op.items():
        if k.startswith("x-"):
            out[k] = v
    return out


def _paths() -> dict[str, Obj]:
    out: dict[str, Obj] = {}
    for kinds in openapi._served().values():
        for info in kinds:
            for path, item in openapi._paths(info, openapi._schema_name(info)).items():
                v2: Obj = {}
                for method, op in item.items():
                    if method == "parameters":
                        v2[method] = [_parameter(p) for p in op]
                    else:
                        v2[method] = _operation(op)
                out[path] = v2
    return out


@functools.cache
def document_json() -> bytes:
    """The v2 document as compact JSON with sorted keys (upstream's published spec is sorted too)."""
    doc = {
        "swagger": "2.0",
        "info": openapi.INFO,
        "paths": _paths(),
        "definitions": _definitions(),
        "securityDefinitions": _SECURITY_DEFINITIONS,
        "security": [{"BearerToken": []}],
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def document() -> Obj:
    """The v2 document (a fresh copy)."""
    out: Obj = json.loads(document_json())
    return out


@functools.cache
def etag() -> str:
    """Upper-case hex SHA-512 of the JSON, the ETag of both forms (kube-openapi computeETag)."""
    return hashlib.sha512(document_json()).hexdigest().upper()


# -- gnostic's protobuf -------------------------------------------------------------------------


@functools.cache
def pool() -> descriptor_pool.DescriptorPool:
    return load_pool(DESCRIPTORS)


def message_class(name: str) -> type[Message]:
    """The dynamic message class of ``openapi.v2.<name>``."""
    cls: type[Message] = message_factory.GetMessageClass(pool().FindMessageTypeByName("openapi.v2." + name))
    return cls


class GnosticError(ValueError):
    """A JSON document that gnostic's parser would reject (a key it has no field for, a bad value)."""


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _yaml(value: Any) -> str:
    """A value as the YAML text gnostic keeps in an Any (any YAML that parses to it will do for
    kubectl, which unmarshals it). The same few values recur (list types, merge keys, gvks)."""
    return _yaml_of(json.dumps(value, sort_keys=False, separators=(",", ":")))


@functools.lru_cache(maxsize=4096)
def _yaml_of(text: str) -> str:
    out: str = yaml.dump(json.loads(text), Dumper=_DUMPER, default_flow_style=False, sort_keys=False,
                         allow_unicode=True, width=1 << 20)  # fmt: skip
    return out.removesuffix("...\n")


@functools.cache
def _fields(d: Descriptor) -> dict[str, FieldDescriptor]:
    out = {f.json_name: f for f in d.fields}
    if "_ref" in d.fields_by_name:
        out["$ref"] = d.fields_by_name["_ref"]
    out.pop("vendorExtension", None)
    return out


def _sub(msg: Message, name: str) -> Message:
    sub: Message = getattr(msg, name)
    sub.SetInParent()
    return sub


def _fill_any(msg: Any, value: Any, path: str) -> None:
    msg.yaml = _yaml(value)


def _fill_type(msg: Any, value: Any, path: str) -> None:
    msg.value.extend([value] if isinstance(value, str) else value)


def _fill_items(msg: Any, value: Any, path: str) -> None:
    for i, v in enumerate([value] if isinstance(value, dict) else value):
        _fill(msg.schema.add(), v, f"{path}[{i}]")


def _fill_additional(msg: Any, value: Any, path: str) -> None:
    if isinstance(value, bool):
        msg.boolean = value
    else:
        _fill(_sub(msg, "schema"), value, path)


def _fill_string_array(msg: Any, value: Any, path: str) -> None:
    msg.value.extend(value)


def _member(choose: Callable[[Obj], str]) -> Callable[[Message, Any, str], None]:
    """A oneof wrapper whose member ``choose`` picks from the JSON object."""

    def fill(msg: Message, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise GnosticError(f"{path}: expected an object, got {value!r}")
        _fill(_sub(msg, choose(value)), value, path)

    return fill


_NON_BODY_IN = {"header": "header_parameter_sub_schema", "formData": "form_data_parameter_sub_schema",
                "query": "query_parameter_sub_schema", "path": "path_parameter_sub_schema"}  # fmt: skip
_SECURITY_TYPES = {"basic": "basic_authentication_security", "apiKey": "api_key_security"}
_OAUTH2_FLOWS = {"implicit": "oauth2_implicit_security", "password": "oauth2_password_security",
                 "application": "oauth2_application_security", "accessCode": "oauth2_access_code_security"}  # fmt: skip


def _non_body(v: Obj) -> str:
    if v.get("in") not in _NON_BODY_IN:
        raise GnosticError(f"a parameter's in must be one of body, {', '.join(_NON_BODY_IN)}: {v.get('in')!r}")
    return _NON_BODY_IN[v["in"]]


def _security(v: Obj) -> str:
    if v.get("type") == "oauth2" and v.get("flow") in _OAUTH2_FLOWS:
        return _OAUTH2_FLOWS[v["flow"]]
    if v.get("type") in _SECURITY_TYPES:
        return _SECURITY_TYPES[v["type"]]
    raise GnosticError(f"unknown security definition type {v.get('type')!r}")


_SPECIAL: dict[str, Callable[[Any, Any, str], None]] = {
    "Any": _fill_any,
    "TypeItem": _fill_type,
    "ItemsItem": _fill_items,
    "AdditionalPropertiesItem": _fill_additional,
    "StringArray": _fill_string_array,
    "ParametersItem": _member(lambda v: "json_reference" if "$ref" in v else "parameter"),
    "Parameter": _member(lambda v: "body_parameter" if v.get("in") == "body" else "non_body_parameter"),
    "NonBodyParameter": _member(_non_body),
    "ResponseValue": _member(lambda v: "json_reference" if "$ref" in v else "response"),
    "SchemaItem": _member(lambda v: "file_schema" if v.get("type") == "file" else "schema"),
    "SecurityDefinitionsItem": _member(_security),
}
# Messages holding one JSON object's entries by key, and the field for the other (non-x-) keys.
_MAPS = {"Paths": "path", "Responses": "response_code"}


def _set(msg: Message, f: FieldDescriptor, value: Any, path: str) -> None:
    if _is_repeated(f):
        if not isinstance(value, list):
            raise GnosticError(f"{path}: expected a list, got {value!r}")
        target = getattr(msg, f.name)
        if f.type == FieldDescriptor.TYPE_MESSAGE:
            for i, v in enumerate(value):
                _fill(target.add(), v, f"{path}[{i}]")
        else:
            target.extend(value)
    elif f.type == FieldDescriptor.TYPE_MESSAGE:
        _fill(_sub(msg, f.name), value, path)
    else:
        try:
            setattr(msg, f.name, value)
        except (TypeError, ValueError) as e:
            raise GnosticError(f"{path}: {e}") from None


def _named(entries: Any, value: Any, path: str) -> None:
    """Append ``value``'s entries as Named* pairs to the repeated field ``entries``."""
    if not isinstance(value, dict):
        raise GnosticError(f"{path}: expected an object, got {value!r}")
    for k, v in value.items():
        pair = entries.add()
        pair.name = k
        vf = pair.DESCRIPTOR.fields_by_name["value"]
        _set(pair, vf, v, f"{path}.{k}")


def _fill(msg: Message, value: Any, path: str) -> None:
    d = msg.DESCRIPTOR
    special = _SPECIAL.get(d.name)
    if special is not None:
        special(msg, value, path)
        return
    if not isinstance(value, dict):
        raise GnosticError(f"{path}: expected an object, got {value!r}")
    if [f.name for f in d.fields] == ["additional_properties"]:  # Definitions, Properties, SecurityRequirement, ...
        _named(msg.additional_properties, value, path)
        return
    fields = _fields(d)
    rest = _MAPS.get(d.name)
    for k, v in value.items():
        if k.startswith("x-") and "vendor_extension" in d.fields_by_name:
            ext = msg.vendor_extension.add()
            ext.name = k
            ext.value.yaml = _yaml(v)
        elif rest is not None:
            _named(getattr(msg, rest), {k: v}, path)
        elif k in fields:
            _set(msg, fields[k], v, f"{path}.{k}" if path else k)
        else:
            raise GnosticError(f"{path or d.name}: {d.name} has no field {k!r}")


def to_gnostic(doc: Obj) -> Message:
    """The ``openapi.v2.Document`` message gnostic's ParseDocument makes of a v2 JSON document."""
    msg = message_class("Document")()
    _fill(msg, doc, "")
    return msg


@functools.cache
def document_protobuf() -> bytes:
    return to_gnostic(document()).SerializeToString()


# -- HTTP -----------------------------------------------------------------------------------------


def _clauses(accept: str) -> list[tuple[str, str]]:
    """Accept clauses as (type, subtype), best first: by q, then concrete before wildcard (goautoneg)."""
    found: list[tuple[float, bool, bool, str, str]] = []
    for part in (accept or "*/*").split(","):
        params = [p.strip() for p in part.split(";")]
        if not params[0]:
            continue
        type_, _, subtype = params[0].lower().partition("/")
        q = 1.0
        for p in params[1:]:
            k, _, v = p.partition("=")
            if k.strip() == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        if q > 0:
            found.append((-q, type_ == "*", subtype in ("*", ""), type_, subtype or "*"))
    found.sort(key=lambda c: c[:3])
    return [(t, s) for _, _, _, t, s in found]


def negotiate(accept: str) -> str | None:
    """The Content-Type to answer an Accept header with (JSON or gnostic protobuf), or None (406)."""
    for type_, subtype in _clauses(accept):
        for offer_type, offer_subtype, content_type in _OFFERS:
            if type_ in (offer_type, "*") and subtype in (offer_subtype, "*"):
                return content_type
    return None


def _matches(if_none_match: str, tag: str) -> bool:
    """Weak comparison of an If-None-Match list with our ETag (net/http checkIfNoneMatch)."""
    for candidate in if_none_match.split(","):
        c = candidate.strip()
        if c == "*" or c.removeprefix("W/") == tag:
            return True
    return False


def respond(request: web.Request) -> web.Response:
    """``GET /openapi/v2``."""
    content_type = negotiate(request.headers.get("Accept", ""))
    if content_type is None:
        return web.Response(status=406, headers={"Vary": "Accept"})
    tag = f'"{etag()}"'
    headers = {"Vary": "Accept", "Etag": tag}
    if _matches(request.headers.get("If-None-Match", ""), tag):
        return web.Response(status=304, headers=headers)
    body = document_json() if content_type == JSON else document_protobuf()
    headers["Content-Type"] = content_type
    return web.Response(body=body, headers=headers)
