"""Upstream's API schemas for the built-in kinds, read from a maintained package.

The ``kubernetes-validate`` PyPI package ships, per Kubernetes release, the kube-apiserver's OpenAPI
definitions (``api/openapi-spec/swagger.json``) converted to JSON schema: descriptions,
``x-kubernetes-group-version-kind``, the strategic-merge-patch extensions
(``x-kubernetes-patch-merge-key`` / ``x-kubernetes-patch-strategy``) and the server-side-apply
topology (``x-kubernetes-list-type``, ``x-kubernetes-list-map-keys``, ``x-kubernetes-map-type``).
That is the same information k8s.io/apimachinery's strategicpatch and structured-merge-diff read
from the Go types, so the store's patch code, the server's OpenAPI v3 documents and field
validation all derive from one source instead of hand lists.

Schemas are JSON-schema flavoured: ``$ref`` is ``#/$defs/<name>`` and ``type`` may be a list
(``["string", "null"]``); :func:`type_of` and :func:`resolve` hide both.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

Schema = dict[str, Any]

# kubetwin reports a 1.32 server; use that release's definitions (or the nearest one shipped).
KUBE_MINOR = 32
_REF_PREFIX = "#/$defs/"


def _version_dirs(root: Any) -> list[tuple[int, str]]:
    out = []
    for entry in root.iterdir():
        name = entry.name
        if name.startswith("v1.") and name.endswith("-local") and not name.endswith("-strict"):
            try:
                out.append((int(name.split(".")[1]), name))
            except ValueError:
                continue
    return out


@functools.cache
def definitions() -> dict[str, Schema]:
    """All upstream definitions by name (``io.k8s.api.core.v1.Pod``); empty if the package is missing."""
    try:
        root = resources.files("kubernetes_validate") / "kubernetes-json-schema"
        dirs = _version_dirs(root)
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        return {}
    if not dirs:
        return {}
    # The wanted minor, else the closest newer one, else the newest older one.
    dirs.sort(key=lambda d: (abs(d[0] - KUBE_MINOR) + (0 if d[0] >= KUBE_MINOR else 100), -d[0]))
    text = (root / dirs[0][1] / "_definitions.json").read_text(encoding="utf-8")
    data = json.loads(text)
    defs = data.get("$defs") or data.get("definitions") or {}
    return dict(defs)


@functools.cache
def _gvk_index() -> dict[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, d in definitions().items():
        for gvk in d.get("x-kubernetes-group-version-kind") or []:
            key = (gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", ""))
            # Prefer io.k8s.api.* over older aliases that carry the same gvk.
            if key not in index or name.startswith("io.k8s.api."):
                index[key] = name
    return index


def split_api_version(api_version: str) -> tuple[str, str]:
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return group, version
    return "", api_version


def definition_name(api_version: str, kind: str) -> str | None:
    """The definition name for an apiVersion/kind (``apps/v1``, ``Deployment``), if upstream has one."""
    group, version = split_api_version(api_version)
    return _gvk_index().get((group, version, kind))


def ref(name: str) -> Schema:
    return {"$ref": _REF_PREFIX + name}


def ref_name(node: Schema) -> str | None:
    r = node.get("$ref")
    if isinstance(r, str):
        return r.rsplit("/", 1)[-1]
    return None


def resolve(node: Schema | None) -> Schema | None:
    """Follow ``$ref`` (and a single-element ``allOf``) to the definition that holds the shape."""
    seen = 0
    while node is not None and seen < 32:
        seen += 1
        name = ref_name(node)
        if name is not None:
            node = definitions().get(name)
            continue
        all_of = node.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
            node = all_of[0]
            continue
        return node
    return node


def type_of(node: Schema | None) -> str | None:
    """``object`` / ``array`` / ``string`` / ... of a (resolved) node; None for int-or-string and unknown."""
    node = resolve(node)
    if node is None:
        return None
    t = node.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    if t is None:
        if "properties" in node or "additionalProperties" in node:
            return "object"
        if "items" in node:
            return "array"
    return t if isinstance(t, str) else None


def properties(node: Schema | None) -> dict[str, Schema] | None:
    """Declared fields of a struct schema (None for maps, scalars and open objects)."""
    node = resolve(node)
    if node is None:
        return None
    props = node.get("properties")
    return props if isinstance(props, dict) else None


def field(node: Schema | None, name: str) -> Schema | None:
    """The schema of field ``name`` in a struct, or of the values of a map; None if unknown."""
    target = resolve(node)
    if target is None:
        return None
    props = target.get("properties")
    if isinstance(props, dict):
        sub = props.get(name)
        if sub is not None:
            return sub
    addl = target.get("additionalProperties")
    if isinstance(addl, dict):
        return addl
    return None


def items(node: Schema | None) -> Schema | None:
    target = resolve(node)
    if target is None:
        return None
    it = target.get("items")
    return it if isinstance(it, dict) else None


def extension(node: Schema | None, name: str) -> Any:
    """An ``x-kubernetes-*`` value set on the property node itself or on its definition."""
    if node is None:
        return None
    if name in node:
        return node[name]
    target = resolve(node)
    return target.get(name) if target is not None else None


def patch_strategy(node: Schema | None) -> set[str]:
    value = extension(node, "x-kubernetes-patch-strategy")
    if not isinstance(value, str) or not value:
        return set()
    return {s.strip() for s in value.split(",") if s.strip()}


def patch_merge_key(node: Schema | None) -> str | None:
    value = extension(node, "x-kubernetes-patch-merge-key")
    return value if isinstance(value, str) and value else None


def list_type(node: Schema | None) -> str:
    """SSA topology of a list: ``map`` (associative, keyed), ``set`` or ``atomic``."""
    value = extension(node, "x-kubernetes-list-type")
    if isinstance(value, str) and value:
        return value
    # Older schemas only carry the strategic-merge key: treat those lists as associative.
    if patch_merge_key(node) and "merge" in patch_strategy(node):
        return "map"
    return "atomic"


def list_map_keys(node: Schema | None) -> list[str]:
    value = extension(node, "x-kubernetes-list-map-keys")
    if isinstance(value, list) and value:
        return [str(v) for v in value]
    key = patch_merge_key(node)
    return [key] if key else []


def is_atomic_map(node: Schema | None) -> bool:
    return extension(node, "x-kubernetes-map-type") == "atomic"


def is_map(node: Schema | None) -> bool:
    """A string-keyed map (labels, resources.requests), as opposed to a struct."""
    target = resolve(node)
    if target is None:
        return False
    return "properties" not in target and isinstance(target.get("additionalProperties"), dict)


def root_for(obj: dict | None = None, kind: str | None = None) -> Schema | None:
    """The root schema for an object (by its apiVersion/kind) or a bare kind name; None if unknown.

    ``kind`` may be ``"Deployment"`` or ``"apps/v1/Deployment"``/``"apps/v1, Kind=Deployment"``-free
    forms are not needed: when only a kind is given, the served version from
    :mod:`kubetwin.api.kinds` is used.
    """
    api_version = obj.get("apiVersion") if isinstance(obj, dict) else None
    k = (obj.get("kind") if isinstance(obj, dict) else None) or kind
    if not isinstance(k, str) or not k:
        return None
    if isinstance(api_version, str) and api_version:
        name = definition_name(api_version, k)
        if name is not None:
            return ref(name)
    from kubetwin.api import kinds

    for info in kinds.all_kinds():
        if info.kind == k:
            name = definition_name(info.api_version, k)
            if name is not None:
                return ref(name)
    return None
