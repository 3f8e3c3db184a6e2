"""Strategic merge patch (k8s.io/apimachinery/pkg/util/strategicpatch/patch.go).

``strategic_merge_patch(current, patch, kind)`` applies an ``application/strategic-merge-patch+json``
body the way the kube-apiserver does (``StrategicMergePatch`` with ``MergeParallelList`` and
``IgnoreUnmatchedNulls``):

- maps merge key by key; ``null`` deletes a key;
- lists follow the field's ``x-kubernetes-patch-strategy`` / ``x-kubernetes-patch-merge-key`` read
  from upstream's schema (:mod:`kubetwin.api.schema`), not from a hand list: ``merge`` lists of
  objects merge item by item on the merge key (containers by ``name``, ports by ``containerPort``,
  volumeMounts by ``mountPath``, conditions by ``type``, ownerReferences by ``uid``...), ``merge``
  lists of scalars are unioned (finalizers), every other list is replaced (tolerations, args);
- directives: ``$patch: replace|delete`` in a map, ``{"$patch": "replace"}`` and
  ``{"<key>": v, "$patch": "delete"}`` items in a list, ``$deleteFromPrimitiveList/<field>``,
  ``$setElementOrder/<field>`` (patch items ordered as listed, server-only items kept in their
  relative place, as ``normalizeElementOrder`` does) and ``$retainKeys``.

Kinds without an upstream schema (kubetwin.io, CRD-like) get RFC 7386 JSON merge patch semantics,
which is also what the lists of unknown fields inside built-in kinds get (replace).

Errors are :class:`ApiError` 400 BadRequest with upstream's wording where it has one.
"""

from __future__ import annotations

import json
from typing import Any

from kubetwin.api import schema as sch
from kubetwin.api.errors import ApiError, bad_request
from kubetwin.store.copy import deep_copy
from kubetwin.store.patch import merge_patch

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList/"
SET_ELEMENT_ORDER = "$setElementOrder/"
REPLACE = "replace"
DELETE = "delete"
MERGE = "merge"

Schema = sch.Schema | None


def strategic_merge_patch(current: dict, patch: dict, kind: str | None = None) -> dict:
    """Apply a strategic merge patch to ``current`` (not modified) and return the result."""
    if not isinstance(patch, dict):
        raise bad_request("invalid JSON document: a strategic merge patch must be a JSON object")
    root = sch.root_for(current, kind) if isinstance(current, dict) else None
    if root is None and kind is not None:
        root = sch.root_for(None, kind)
    if root is None:
        # CRD-like kinds: JSON merge patch, as the apiserver merges custom resources.
        result = merge_patch(current if isinstance(current, dict) else {}, patch)
        return result if isinstance(result, dict) else {}
    original = deep_copy(current) if isinstance(current, dict) else {}
    return _merge_map(original, deep_copy(patch), root)


# -- maps ---------------------------------------------------------------------------------------


def _merge_map(original: dict, patch: dict, node: Schema) -> dict:
    if DIRECTIVE in patch:
        directive = patch[DIRECTIVE]
        if directive == REPLACE:
            rest = {k: v for k, v in patch.items() if k != DIRECTIVE}
            return _strip(rest, node)
        if directive == DELETE:
            return {}
        if directive != MERGE:
            raise bad_request(f"Unknown patch type: {directive} in map: {_short(patch)}")
        patch = {k: v for k, v in patch.items() if k != DIRECTIVE}

    if RETAIN_KEYS in patch:
        retain = patch.pop(RETAIN_KEYS)
        if not isinstance(retain, list):
            raise bad_request("invalid patch: $retainKeys must be a list")
        keep = set(retain)
        for k in patch:
            if not k.startswith("$") and patch[k] is not None and k not in keep:
                raise ApiError(422, "Invalid", "patch content doesn't match retainKeys list")
        for k in list(original):
            if k not in keep:
                del original[k]

    # $deleteFromPrimitiveList/<field>: drop the listed values from the original's list.
    order_lists: dict[str, list] = {}
    for k in [k for k in patch if k.startswith(DELETE_FROM_PRIMITIVE_LIST)]:
        values = patch.pop(k)
        name = k[len(DELETE_FROM_PRIMITIVE_LIST) :]
        if not isinstance(values, list):
            raise bad_request(f"invalid patch: {k} must be a list")
        cur = original.get(name)
        if isinstance(cur, list):
            drop = [json.dumps(v, sort_keys=True) for v in values]
            original[name] = [v for v in cur if json.dumps(v, sort_keys=True) not in drop]
    server_lists: dict[str, list] = {}
    for k in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(k)
        if not isinstance(order, list):
            raise bad_request(f"invalid patch: {k} must be a list")
        name = k[len(SET_ELEMENT_ORDER) :]
        order_lists[name] = order
        live = original.get(name)
        server_lists[name] = list(live) if isinstance(live, list) else []

    for k, pv in patch.items():
        sub = sch.field(node, k) if node is not None else None
        if pv is None:
            original.pop(k, None)
            continue
        ov = original.get(k)
        if isinstance(pv, dict):
            if isinstance(ov, dict) and not _replaces(sub):
                original[k] = _merge_map(ov, pv, sub)
            else:
                original[k] = _merge_map({}, pv, sub)
        elif isinstance(pv, list):
            original[k] = _merge_list(ov if isinstance(ov, list) else [], pv, sub, k)
        else:
            original[k] = pv

    for name, order in order_lists.items():
        cur = original.get(name)
        if isinstance(cur, list):
            sub = sch.field(node, name) if node is not None else None
            original[name] = _normalize_order(cur, order, server_lists[name], sch.patch_merge_key(sub))
    return original


def _replaces(node: Schema) -> bool:
    return "replace" in sch.patch_strategy(node)


def _strip(value: Any, node: Schema) -> Any:
    """A patch value taken as is (no original to merge into): apply its directives against nothing."""
    if isinstance(value, dict):
        return _merge_map({}, value, node)
    if isinstance(value, list):
        return _merge_list([], value, node, "")
    return value


# -- lists --------------------------------------------------------------------------------------


def _merge_list(original: list, patch: list, node: Schema, name: str) -> list:
    strategy = sch.patch_strategy(node)
    item_node = sch.items(node) if node is not None else None
    if "merge" not in strategy:
        # Replace: the patch's list, minus a leading {"$patch": "replace"} marker if someone sent one.
        return [_strip(v, item_node) for v in patch if not (isinstance(v, dict) and set(v) == {DIRECTIVE})]
    if not patch:
        return original
    if all(not isinstance(v, dict | list) for v in patch):
        # Set of scalars (finalizers): union, first occurrence wins.
        out: list = []
        seen: set[str] = set()
        for v in [*original, *patch]:
            key = json.dumps(v, sort_keys=True)
            if key not in seen:
                seen.add(key)
                out.append(v)
        return out
    merge_key = sch.patch_merge_key(node)
    # Special elements first: {"$patch": "replace"} replaces the whole list, {"$patch": "delete", key: v}
    # deletes the matching item.
    items_to_merge: list[dict] = []
    for v in patch:
        if not isinstance(v, dict):
            raise bad_request(f"invalid patch: list {name!r} mixes objects and other values")
        directive = v.get(DIRECTIVE)
        if directive == REPLACE:
            return [_strip(p, item_node) for p in patch if p is not v]
        if directive == DELETE:
            if merge_key is None:
                raise bad_request(f"cannot find merge key in list {name!r} for $patch: delete")
            if merge_key not in v:
                raise bad_request(f"map: {_short(v)} does not contain declared merge key: {merge_key}")
            original = [o for o in original if not (isinstance(o, dict) and o.get(merge_key) == v[merge_key])]
            continue
        if directive is not None and directive != MERGE:
            raise bad_request(f"Unknown patch type: {directive} in list item: {_short(v)}")
        items_to_merge.append(v)
    if merge_key is None:
        # merge strategy without a key is not something upstream's types declare; replace.
        return [_strip(v, item_node) for v in items_to_merge]
    out = list(original)
    for pv in items_to_merge:
        if merge_key not in pv:
            raise bad_request(f"map: {_short(pv)} does not contain declared merge key: {merge_key}")
        for i, ov in enumerate(out):
            if isinstance(ov, dict) and ov.get(merge_key) == pv[merge_key]:
                out[i] = _merge_map(ov, pv, item_node)
                break
        else:
            out.append(_merge_map({}, pv, item_node))
    return out


def _identity(v: Any, merge_key: str | None) -> str:
    if merge_key is not None and isinstance(v, dict):
        return json.dumps(v.get(merge_key), sort_keys=True)
    return json.dumps(v, sort_keys=True)


def _normalize_order(merged: list, order: list, server: list, merge_key: str | None) -> list:
    """``normalizeElementOrder``: items named in ``$setElementOrder`` first in that order, server-only
    items interleaved where they sat in the live list."""
    order_ids = [_identity(v, merge_key) for v in order]
    order_index = {k: i for i, k in enumerate(order_ids)}
    server_index = {_identity(v, merge_key): i for i, v in enumerate(server)}
    in_patch = [v for v in merged if _identity(v, merge_key) in order_index]
    server_only = [v for v in merged if _identity(v, merge_key) not in order_index]
    in_patch.sort(key=lambda v: order_index[_identity(v, merge_key)])
    server_only.sort(key=lambda v: server_index.get(_identity(v, merge_key), len(server)))
    # mergeSortedSlice(serverOnly, patch, serverOrder): take by live position when both items are
    # in the live list; otherwise the server-only item goes first.
    out: list = []
    i = j = 0
    while i < len(server_only) or j < len(in_patch):
        if i >= len(server_only):
            out.append(in_patch[j])
            j += 1
        elif j >= len(in_patch):
            out.append(server_only[i])
            i += 1
        else:
            li = server_index.get(_identity(server_only[i], merge_key))
            ri = server_index.get(_identity(in_patch[j], merge_key))
            if li is not None and ri is not None and ri < li:
                out.append(in_patch[j])
                j += 1
            else:
                out.append(server_only[i])
                i += 1
    return out


def _short(v: Any) -> str:
    text = json.dumps(v, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= 200 else text[:197] + "..."
