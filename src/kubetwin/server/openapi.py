"""OpenAPI v3 documents for every served group-version (``/openapi/v3``, ``/openapi/v3/<gv>``).

Reproduces what kube-apiserver serves (k8s.io/kube-openapi pkg/handler3 and the builder in
k8s.io/apiserver/pkg/endpoints/openapi): an index of group-versions with a content hash, and per
group-version a document with ``components.schemas`` (upstream definitions, with
``x-kubernetes-group-version-kind`` lists, patch merge keys/strategies, list types and the
descriptions ``kubectl explain`` prints) and ``paths`` whose ``patch`` operations carry the gvk
object and the ``fieldValidation`` parameter, which is what makes ``kubectl apply`` leave validation
to the server (cli-runtime query_param_verifier_v3.go).

Built-in schemas come from upstream's own definitions shipped by the ``kubernetes-validate`` package
(:mod:`kubetwin.api.schema`), converted to OpenAPI v3 form: ``$ref`` to ``#/components/schemas/``,
a ``$ref`` with siblings wrapped in ``allOf`` as upstream does, nullable type lists collapsed,
IntOrString / Quantity as upstream writes them. Only kubetwin.io kinds are hand-written here.

:func:`unknown_fields` walks an object against the same schemas for ``fieldValidation=Strict``
(k8s.io/apimachinery json strict decoding: ``unknown field "spec.foo"``).
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from kubetwin.api import schema as sch
from kubetwin.api.kinds import KindInfo, all_kinds

Obj = dict[str, Any]
OPENAPI_VERSION = "3.0.0"
INFO = {"title": "Kubernetes", "version": "v1.32.0"}
COMPONENTS = "#/components/schemas/"
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
KUBETWIN = "io.kubetwin."

# Upstream's v3 spelling of the special scalar types.
_SPECIAL: dict[str, Obj] = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
        "description": "IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML "
        "marshalling and unmarshalling, it produces or consumes the inner type.  This allows you to have, for "
        "example, a JSON field that can accept a name or number.",
        "type": "string",
        "format": "int-or-string",
    },
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {
        "description": "Quantity is a fixed-point representation of a number. It provides convenient "
        "marshaling/unmarshaling in JSON and YAML, in addition to String() and AsInt64() accessors.",
        "type": "string",
    },
}

# Advertise strategic merge patch in the PATCH request bodies of built-in kinds: our schemas are the
# complete upstream ones, so kubectl may compute client-side-apply patches from them.
ADVERTISE_SMP = True


# -- conversion of upstream definitions ---------------------------------------------------------


def _convert(node: Any, refs: set[str]) -> Any:
    if isinstance(node, list):
        return [_convert(v, refs) for v in node]
    if not isinstance(node, dict):
        return node
    out: Obj = {}
    ref_target = None
    for k, v in node.items():
        if k == "$ref" and isinstance(v, str):
            ref_target = v.rsplit("/", 1)[-1]
            refs.add(ref_target)
            continue
        if k == "type" and isinstance(v, list):
            types = [t for t in v if t != "null"]
            if len(types) == 1:
                out["type"] = types[0]
            elif types:
                out["type"] = types[0]
            continue
        if k == "properties" and isinstance(v, dict):
            props = {}
            for name, sub in v.items():
                conv = _convert(sub, refs)
                if name in ("apiVersion", "kind") and isinstance(conv, dict):
                    conv.pop("enum", None)
                props[name] = conv
            out["properties"] = props
            continue
        out[k] = _convert(v, refs)
    if ref_target is not None:
        ref = {"$ref": COMPONENTS + ref_target}
        if out:
            out["allOf"] = [ref]
            return out
        return ref
    return out


def _definition(name: str, refs: set[str]) -> Obj:
    if name in _SPECIAL:
        return dict(_SPECIAL[name])
    d = sch.definitions().get(name)
    if d is None:
        return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return _convert(d, refs)


def _closure(roots: list[str]) -> dict[str, Obj]:
    schemas: dict[str, Obj] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in schemas:
            continue
        refs: set[str] = set()
        schemas[name] = _definition(name, refs)
        todo.extend(r for r in refs if r not in schemas)
    return dict(sorted(schemas.items()))


# -- kubetwin.io kinds (hand-written) -----------------------------------------------------------


def _ref(name: str, description: str = "") -> Obj:
    out: Obj = {"allOf": [{"$ref": COMPONENTS + name}]}
    if description:
        out["description"] = description
    return out


def _s(description: str, type_: str = "string", **extra: Any) -> Obj:
    return {"description": description, "type": type_, **extra}


def _open(description: str, properties: Obj | None = None) -> Obj:
    out: Obj = {"description": description, "type": "object", "x-kubernetes-preserve-unknown-fields": True}
    if properties:
        out["properties"] = properties
    return out


def _quantity(description: str) -> Obj:
    return _ref("io.k8s.apimachinery.pkg.api.resource.Quantity", description)


_DURATION = "A Go duration (30s, 15m, 2h, 1h30m) or a number of seconds."
_CONDITIONS = {
    "description": "Latest observations of the object's state.",
    "type": "array",
    "items": _ref(META + "Condition"),
    "x-kubernetes-list-map-keys": ["type"],
    "x-kubernetes-list-type": "map",
}


def _kind_schema(group: str, version: str, kind: str, description: str, spec: Obj, status: Obj) -> Obj:
    return {
        "description": description,
        "type": "object",
        "properties": {
            "apiVersion": _s("APIVersion defines the versioned schema of this representation of an object."),
            "kind": _s("Kind is a string value representing the REST resource this object represents."),
            "metadata": _ref(META + "ObjectMeta", "Standard object's metadata."),
            "spec": spec,
            "status": status,
        },
        "x-kubernetes-group-version-kind": [{"group": group, "version": version, "kind": kind}],
    }


def _kubetwin_schemas() -> dict[str, Obj]:
    g, v = "kubetwin.io", "v1alpha1"
    resources = {"cpu": _quantity("CPU (cores or millicores, e.g. 50m)."),
                 "memory": _quantity("Memory (bytes, e.g. 200Mi).")}  # fmt: skip
    nodegroup_spec = {
        "description": "The desired group: instance type, size bounds, capacity type, zones and node settings.",
        "type": "object",
        "required": ["instanceType"],
        "properties": {
            "instanceType": _s("EC2 instance type of every node in the group (e.g. m5.large)."),
            "minSize": _s("Smallest number of nodes.", "integer", format="int32"),
            "maxSize": _s("Largest number of nodes.", "integer", format="int32"),
            "desiredSize": _s("Number of nodes wanted, clamped to minSize..maxSize. Defaults to minSize.",
                              "integer", format="int32"),
            "capacityType": _s('"on-demand" (default) or "spot".', enum=["on-demand", "spot"]),
            "zones": {"description": "Availability zones to spread nodes over, least-populated first.",
                      "type": "array", "items": {"type": "string"}},
            "labels": {"description": "Labels added to every node of the group.", "type": "object",
                       "additionalProperties": {"type": "string"}},
            "taints": {"description": "Taints registered on every node of the group.", "type": "array",
                       "items": _ref("io.k8s.api.core.v1.Taint")},
            "kubelet": _open("KubeletConfiguration fields for the group's kubelets (maxPods, kubeReserved, "
                             "systemReserved, evictionHard, evictionSoft, evictionSoftGracePeriod, ...)."),
            "bootSeconds": _s("Seconds from launch until the node reports Ready (default 60 on-demand, 70 spot).",
                              "number"),
        },
    }  # fmt: skip
    nodegroup_status = _open("Observed state of the group.", {
        "replicas": _s("Number of nodes that exist.", "integer"),
        "readyReplicas": _s("Number of nodes that are Ready.", "integer"),
        "desiredSize": _s("Number of nodes the group converges to.", "integer"),
        "instanceType": _s("Instance type in use."),
        "selector": _s("Label selector of the group's nodes (for the scale subresource)."),
        "conditions": _CONDITIONS,
    })  # fmt: skip
    traffic = {
        "description": "Requests per second over time; exactly one of constant, steps, ramp, diurnal, trace.",
        "type": "object",
        "properties": {
            "constant": {"type": "object", "description": "The same rate all the time.",
                         "properties": {"rps": _s("Requests per second.", "number")}},
            "steps": {"type": "array", "description": "Rate changes at given times (0 before the first step).",
                      "items": {"type": "object", "properties": {"at": _s(_DURATION), "rps": _s("Requests per "
                                                                                            "second.", "number")}}},
            "ramp": {"type": "object", "description": "Linear change from one rate to another, then held.",
                     "properties": {"from": _s("Starting rps.", "number"), "to": _s("Final rps.", "number"),
                                    "over": _s(_DURATION), "at": _s(_DURATION)}},
            "diurnal": {"type": "object", "description": "A daily sine wave between base and peak.",
                        "properties": {"base": _s("Lowest rps.", "number"), "peak": _s("Highest rps.", "number"),
                                       "peakAt": _s('UTC clock time of the peak, e.g. "14:00".'),
                                       "period": _s(_DURATION)}},
            "trace": {"type": "object", "description": "A CSV time series, linearly interpolated.",
                      "properties": {"csv": _s("Inline CSV text or a file path."),
                                     "column": _s("Column holding the rate.")}},
        },
    }  # fmt: skip
    per_pod = {
        "description": "What the traffic costs each pod.",
        "type": "object",
        "properties": {
            "baseline": {"type": "object", "description": "Usage with no traffic.", "properties": resources},
            "cpuPerRequest": _quantity("CPU-seconds per request (2m x 100 rps = 200m)."),
            "memoryPerRps": _quantity("Working set per request/s."),
            "memoryLeakPerHour": _quantity("Memory growth per hour since the container (re)started."),
            "startup": {"type": "object", "description": "Extra CPU demand while the container starts.",
                        "properties": {"cpu": _quantity("CPU at least this much..."),
                                       "duration": _s(_DURATION)}},
        },
    }  # fmt: skip
    loadprofile_spec = _open("Traffic over time for the pods a selector picks, and its per-pod cost.", {
        "selector": _ref(META + "LabelSelector", "The workload's pods (same namespace)."),
        "traffic": traffic,
        "perPod": per_pod,
        "metrics": {"description": "Custom metrics derived from the traffic.", "type": "array",
                    "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
    })  # fmt: skip
    scenario_spec = _open("How a run goes: its length, seed and what to record.", {
        "duration": _s("Virtual time to run for. " + _DURATION),
        "seed": _s("Seed of the random number generator; same seed, same run.", "integer"),
    })  # fmt: skip
    ems_spec = _open("Values over time of one external metric (e.g. queue depth).", {
        "metricName": _s("Name of the external metric."),
        "values": _open("The series, like a LoadProfile traffic shape."),
    })  # fmt: skip
    fault_spec = _open("A scheduled event: spot interruption, node failure, pod error rate, memory leak.", {
        "type": _s("What happens."),
        "at": _s("When it happens, from the start of the run. " + _DURATION),
        "target": _open("What it hits (kind/name or a selector)."),
    })  # fmt: skip
    status = _open("Observed state.", {"conditions": _CONDITIONS})
    return {
        KUBETWIN + "v1alpha1.NodeGroup": _kind_schema(
            g, v, "NodeGroup", "NodeGroup is a group of simulated cloud instances of one type, like an EKS "
            "managed node group or a kops InstanceGroup.", nodegroup_spec, nodegroup_status),
        KUBETWIN + "v1alpha1.LoadProfile": _kind_schema(
            g, v, "LoadProfile", "LoadProfile is traffic over time for a workload and what it costs its pods.",
            loadprofile_spec, status),
        KUBETWIN + "v1alpha1.Scenario": _kind_schema(
            g, v, "Scenario", "Scenario sets a run's duration, seed and recording.", scenario_spec, status),
        KUBETWIN + "v1alpha1.ExternalMetricSeries": _kind_schema(
            g, v, "ExternalMetricSeries", "ExternalMetricSeries gives an external metric's values over time.",
            ems_spec, status),
        KUBETWIN + "v1alpha1.Fault": _kind_schema(
            g, v, "Fault", "Fault is a scheduled failure injected into the twin.", fault_spec, status),
    }  # fmt: skip


# -- documents ----------------------------------------------------------------------------------


def _gv_key(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _served() -> dict[tuple[str, str], list[KindInfo]]:
    out: dict[tuple[str, str], list[KindInfo]] = {}
    for k in all_kinds():
        out.setdefault((k.group, k.version), []).append(k)
    return out


def _schema_name(info: KindInfo) -> str:
    if info.group == "kubetwin.io":
        return f"{KUBETWIN}{info.version}.{info.kind}"
    return sch.definition_name(info.api_version, info.kind) or f"{KUBETWIN}unknown.{info.kind}"


def _param(name: str, description: str, in_: str = "query", type_: str = "string") -> Obj:
    p: Obj = {"name": name, "in": in_, "description": description, "schema": {"type": type_, "uniqueItems": True}}
    if in_ == "path":
        p["required"] = True
    return p


_P_NAME = _param("name", "name of the object", "path")
_P_NAMESPACE = _param("namespace", "object name and auth scope, such as for teams and projects", "path")
_P_DRYRUN = _param("dryRun", "When present, indicates that modifications should not be persisted. Valid values: "
                   "All")  # fmt: skip
_P_FIELD_MANAGER = _param("fieldManager", "fieldManager is a name associated with the actor or entity that is "
                          "making these changes.")  # fmt: skip
_P_FIELD_VALIDATION = _param(
    "fieldValidation",
    "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing "
    "unknown or duplicate fields. Valid values are: - Ignore - Warn (default) - Strict",
)
_P_FORCE = _param("force", "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting "
                  "fields owned by other people. Force flag must be unset for non-apply patch requests.",
                  type_="boolean")  # fmt: skip
_P_PRETTY = _param("pretty", "If 'true', then the output is pretty printed.")


def _ok(schema_ref: str, code: str = "200") -> Obj:
    content = {"schema": {"$ref": COMPONENTS + schema_ref}}
    return {code: {"description": "OK", "content": {"application/json": content, "application/yaml": content}},
            "401": {"description": "Unauthorized"}}  # fmt: skip


def _operation(op_id: str, action: str, gvk: Obj, schema_ref: str, params: list[Obj], body: list[str] | None,
               description: str) -> Obj:  # fmt: skip
    op: Obj = {
        "description": description,
        "operationId": op_id,
        "parameters": params,
        "responses": _ok(schema_ref),
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
    }
    if body:
        content = {"schema": {"$ref": COMPONENTS + (META + "Patch" if action == "patch" else schema_ref)}}
        op["requestBody"] = {"content": {t: content for t in body}, "required": True}
    return op


def _paths(info: KindInfo, schema_ref: str) -> dict[str, Obj]:
    gvk = {"group": info.group, "version": info.version, "kind": info.kind}
    prefix = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
    collection = f"{prefix}/namespaces/{{namespace}}/{info.plural}" if info.namespaced else f"{prefix}/{info.plural}"
    item = collection + "/{name}"
    scope = [_P_NAMESPACE] if info.namespaced else []
    camel = info.kind
    ns = "Namespaced" if info.namespaced else ""
    patch_types = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]
    if ADVERTISE_SMP and info.group != "kubetwin.io":
        patch_types.insert(2, "application/strategic-merge-patch+json")
    write = [_P_DRYRUN, _P_FIELD_MANAGER, _P_FIELD_VALIDATION]
    paths: dict[str, Obj] = {
        collection: {
            "get": _operation(f"list{ns}{camel}", "list", gvk, schema_ref, [], None, f"list or watch objects of kind "
                              f"{info.kind}"),
            "post": _operation(f"create{ns}{camel}", "post", gvk, schema_ref, list(write), ["*/*"],
                               f"create a {info.kind}"),
            "parameters": [*scope, _P_PRETTY],
        },
        item: {
            "get": _operation(f"read{ns}{camel}", "get", gvk, schema_ref, [], None, f"read the specified {info.kind}"),
            "put": _operation(f"replace{ns}{camel}", "put", gvk, schema_ref, list(write), ["*/*"],
                              f"replace the specified {info.kind}"),
            "patch": _operation(f"patch{ns}{camel}", "patch", gvk, schema_ref, [*write, _P_FORCE], patch_types,
                                f"partially update the specified {info.kind}"),
            "delete": _operation(f"delete{ns}{camel}", "delete", gvk, META + "Status", [_P_DRYRUN], None,
                                 f"delete a {info.kind}"),
            "parameters": [_P_NAME, *scope, _P_PRETTY],
        },
    }  # fmt: skip
    if info.status_subresource:
        paths[item + "/status"] = {
            "get": _operation(f"read{ns}{camel}Status", "get", gvk, schema_ref, [], None,
                              f"read status of the specified {info.kind}"),
            "put": _operation(f"replace{ns}{camel}Status", "put", gvk, schema_ref, list(write), ["*/*"],
                              f"replace status of the specified {info.kind}"),
            "patch": _operation(f"patch{ns}{camel}Status", "patch", gvk, schema_ref, [*write, _P_FORCE], patch_types,
                                f"partially update status of the specified {info.kind}"),
            "parameters": [_P_NAME, *scope, _P_PRETTY],
        }  # fmt: skip
    if info.scale_subresource:
        sgvk = {"group": "autoscaling", "version": "v1", "kind": "Scale"}
        scale = "io.k8s.api.autoscaling.v1.Scale"
        paths[item + "/scale"] = {
            "get": _operation(f"read{ns}{camel}Scale", "get", sgvk, scale, [], None,
                              f"read scale of the specified {info.kind}"),
            "put": _operation(f"replace{ns}{camel}Scale", "put", sgvk, scale, list(write), ["*/*"],
                              f"replace scale of the specified {info.kind}"),
            "patch": _operation(f"patch{ns}{camel}Scale", "patch", sgvk, scale, [*write, _P_FORCE], patch_types,
                                f"partially update scale of the specified {info.kind}"),
            "parameters": [_P_NAME, *scope, _P_PRETTY],
        }  # fmt: skip
    return paths


@functools.cache
def _document_json(group: str, version: str) -> str | None:
    kinds = _served().get((group, version))
    if not kinds:
        return None
    paths: dict[str, Obj] = {}
    roots = [META + "Status", META + "Patch", META + "DeleteOptions"]
    hand: dict[str, Obj] = {}
    kubetwin = _kubetwin_schemas() if group == "kubetwin.io" else {}
    for info in kinds:
        name = _schema_name(info)
        if name in kubetwin:
            hand[name] = kubetwin[name]
            roots.append(META + "ObjectMeta")
            roots.append(META + "LabelSelector")
            roots.append(META + "Condition")
            roots.append("io.k8s.api.core.v1.Taint")
            roots.append("io.k8s.apimachinery.pkg.api.resource.Quantity")
        else:
            roots.append(name)
        if info.scale_subresource:
            roots.append("io.k8s.api.autoscaling.v1.Scale")
        paths.update(_paths(info, name))
    schemas = _closure(roots)
    schemas.update(hand)
    if META + "Patch" in schemas and not schemas[META + "Patch"]:
        schemas[META + "Patch"] = {"description": "Patch is provided to give a concrete name and type to the "
                                   "Kubernetes PATCH request body.", "type": "object"}  # fmt: skip
    doc = {
        "openapi": OPENAPI_VERSION,
        "info": INFO,
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items()))},
    }
    return json.dumps(doc, separators=(",", ":"))


def openapi_v3_document(group: str, version: str) -> dict | None:
    """The OpenAPI v3 document of one served group-version (``""``/``v1`` for the core group)."""
    text = _document_json(group, version)
    return json.loads(text) if text is not None else None


def document_hash(group: str, version: str) -> str | None:
    """The ``hash`` query value of a group-version: SHA-512 of its document, upper-case hex, as upstream."""
    text = _document_json(group, version)
    if text is None:
        return None
    return hashlib.sha512(text.encode()).hexdigest().upper()


def openapi_v3_index() -> dict:
    """``GET /openapi/v3``: every served group-version with a ``serverRelativeURL`` carrying its hash."""
    paths: dict[str, Obj] = {}
    for group, version in sorted(_served()):
        key = _gv_key(group, version)
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={document_hash(group, version)}"}
    return {"paths": paths}


# -- strict field validation --------------------------------------------------------------------


@functools.cache
def _kubetwin_by_kind() -> dict[tuple[str, str], Obj]:
    return {(f"kubetwin.io/{n.split('.')[-2]}", n.rsplit(".", 1)[-1]): s for n, s in _kubetwin_schemas().items()}


def _lookup(node: Any) -> Any:
    """Resolve a node of either spelling (upstream ``#/$defs`` or our ``#/components/schemas``)."""
    for _ in range(32):
        if not isinstance(node, dict):
            return None
        r = node.get("$ref")
        if isinstance(r, str):
            name = r.rsplit("/", 1)[-1]
            node = sch.definitions().get(name) or _kubetwin_schemas().get(name)
            continue
        all_of = node.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict) and "properties" not in node:
            merged = dict(node)
            merged.pop("allOf")
            target = _lookup(all_of[0])
            if isinstance(target, dict):
                return {**target, **{k: v for k, v in merged.items() if k.startswith("x-")}}
            return None
        return node
    return None


def _walk(value: Any, node: Any, path: str, out: list[str]) -> None:
    node = _lookup(node)
    if node is None or node.get("x-kubernetes-preserve-unknown-fields") and "properties" not in node:
        return
    if isinstance(value, dict):
        props = node.get("properties")
        addl = node.get("additionalProperties")
        if isinstance(props, dict):
            for k, v in value.items():
                sub = f"{path}.{k}" if path else k
                if k in props:
                    _walk(v, props[k], sub, out)
                elif not node.get("x-kubernetes-preserve-unknown-fields") and not isinstance(addl, dict):
                    out.append(sub)
        elif isinstance(addl, dict):
            for k, v in value.items():
                _walk(v, addl, f"{path}.{k}" if path else k, out)
    elif isinstance(value, list):
        item = node.get("items")
        if isinstance(item, dict):
            for i, v in enumerate(value):
                _walk(v, item, f"{path}[{i}]", out)


def unknown_fields(obj: dict) -> list[str]:
    """Paths of fields the object's schema does not declare (``spec.foo``, ``spec.containers[0].bar``).

    Unknown kinds and the open parts of kubetwin.io schemas (``x-kubernetes-preserve-unknown-fields``)
    report nothing. The server turns the list into upstream's message:
    ``strict decoding error: unknown field "spec.foo", unknown field "spec.bar"``.
    """
    if not isinstance(obj, dict):
        return []
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return []
    root: Any = _kubetwin_by_kind().get((api_version, kind))
    if root is None:
        root = sch.root_for(obj)
    if root is None:
        return []
    out: list[str] = []
    _walk(obj, root, "", out)
    return out


def strict_error_message(paths: list[str]) -> str:
    """Upstream's ``fieldValidation=Strict`` failure text for ``paths``."""
    return "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in paths)
