"""Server-side apply: field ownership in ``metadata.managedFields``.

A faithful-enough subset of sigs.k8s.io/structured-merge-diff (merge/update.go ``Apply`` and
``Update``) as k8s.io/apiserver pkg/endpoints/handlers/fieldmanager wires it:

- Field sets are FieldsV1 (``{"f:spec": {"f:replicas": {}}}``): ``f:<field>`` for struct fields and
  map keys, ``k:{"name":"c"}`` for items of associative lists (``x-kubernetes-list-type: map`` with
  ``x-kubernetes-list-map-keys``), ``v:<json>`` for set items, ``.`` marking a list item that is a
  member itself. List and map topology come from upstream's schema (:mod:`kubetwin.api.schema`);
  kinds without one (kubetwin.io) are treated like schemaless CRDs: maps granular, lists atomic.
- ``server_side_apply`` merges the applied configuration into the live object (associative lists
  by key, sets as sets, atomic lists and scalars replaced), reports conflicts with other managers
  that own a field the configuration sets to a different value (409 Conflict, upstream's message
  and ``FieldManagerConflict`` causes), takes those fields over with ``force``, and removes fields
  the manager applied before but no longer does when no other manager owns them.
- ``record_update`` gives the writer of a non-apply change (create, update, patch) the fields it
  changed, taking them from other managers without conflict, as upstream's Update does.
- Objects that exist without managedFields get a ``before-first-apply`` Update entry owning all
  their fields on the first apply, as upstream.

Limits: ``apiVersion``/``kind``/name-like metadata and ``status`` (for kinds with a status
subresource) are never owned; list items of associative lists whose key fields are missing in the
applied configuration are keyed by the fields present (plus ``protocol: TCP`` for port lists, the
upstream default); unions, ``x-kubernetes-map-type: granular`` on struct-typed atomic defaults and
versions conversion are not modelled; managed field times are the caller's.
"""

from __future__ import annotations

import json
from typing import Any

from kubetwin.api import schema as sch
from kubetwin.api.errors import ApiError, Cause
from kubetwin.store.copy import deep_copy

Obj = dict[str, Any]
Path = tuple[str, ...]
Schema = sch.Schema | None

BEFORE_FIRST_APPLY = "before-first-apply"
# metadata fields the field manager strips before tracking (fieldmanager/internal/stripmeta.go).
_STRIPPED_META = frozenset({
    "name", "namespace", "generateName", "uid", "resourceVersion", "generation", "creationTimestamp",
    "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink",
})  # fmt: skip
_KEY_DEFAULTS = {"protocol": "TCP"}


# -- field sets ---------------------------------------------------------------------------------


def _key_json(item: Obj, keys: list[str]) -> str | None:
    present = {}
    for k in keys:
        if k in item:
            present[k] = item[k]
        elif k in _KEY_DEFAULTS and len(keys) > 1:
            present[k] = _KEY_DEFAULTS[k]
    if not present:
        return None
    return json.dumps(present, sort_keys=True, separators=(",", ":"))


def _value_json(v: Any) -> str:
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def _has_status_subresource(obj: Obj) -> bool:
    from kubetwin.api.kinds import all_kinds

    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    for k in all_kinds():
        if k.api_version == api_version and k.kind == kind:
            return k.status_subresource
    return True


def _root(obj: Obj, kind: str | None) -> Schema:
    return sch.root_for(obj, kind)


def field_set(obj: Obj, kind: str | None = None, *, root: Schema = None, include_status: bool | None = None) -> set[Path]:
    """The set of field paths an object (or an applied configuration) sets."""
    if root is None:
        root = _root(obj, kind)
    if include_status is None:
        include_status = not _has_status_subresource(obj)
    out: set[Path] = set()
    for k, v in obj.items():
        if k in ("apiVersion", "kind") or (k == "status" and not include_status):
            continue
        sub = sch.field(root, k) if root is not None else None
        if k == "metadata" and isinstance(v, dict):
            meta = {mk: mv for mk, mv in v.items() if mk not in _STRIPPED_META}
            if meta:
                _collect(meta, sub, ("f:metadata",), out)
            continue
        _collect(v, sub, (f"f:{k}",), out)
    return out


def _collect(value: Any, node: Schema, path: Path, out: set[Path]) -> None:
    if value is None:
        return
    if isinstance(value, dict):
        if not value or (node is not None and sch.is_atomic_map(node)):
            out.add(path)
            return
        if node is not None and sch.type_of(node) not in (None, "object"):
            out.add(path)
            return
        for k, v in value.items():
            sub = sch.field(node, k) if node is not None else None
            _collect(v, sub, (*path, f"f:{k}"), out)
        return
    if isinstance(value, list):
        lt = sch.list_type(node) if node is not None else "atomic"
        if lt == "map" and value and all(isinstance(v, dict) for v in value):
            keys = sch.list_map_keys(node)
            item_node = sch.items(node)
            for item in value:
                kj = _key_json(item, keys)
                if kj is None:
                    out.add(path)
                    return
            for item in value:
                ipath = (*path, f"k:{_key_json(item, keys)}")
                out.add(ipath)
                for k, v in item.items():
                    _collect(v, sch.field(item_node, k), (*ipath, f"f:{k}"), out)
            return
        if lt == "set" and value:
            for v in value:
                out.add((*path, f"v:{_value_json(v)}"))
            return
        out.add(path)
        return
    out.add(path)


def to_fields_v1(paths: set[Path]) -> Obj:
    tree: Obj = {}
    for p in sorted(paths):
        node = tree
        for el in p:
            node = node.setdefault(el, {})
    # Mark members that also have children with ".".
    for p in paths:
        node = tree
        for el in p:
            node = node[el]
        if node and "." not in node:
            node["."] = {}
    return _sorted_tree(tree)


def _sorted_tree(t: Obj) -> Obj:
    return {k: _sorted_tree(v) for k, v in sorted(t.items(), key=lambda kv: (kv[0] != ".", kv[0]))}


def from_fields_v1(fields: Any) -> set[Path]:
    out: set[Path] = set()

    def walk(node: Any, path: Path) -> None:
        if not isinstance(node, dict):
            return
        if not node:
            if path:
                out.add(path)
            return
        for k, v in node.items():
            if k == ".":
                out.add(path)
            else:
                walk(v, (*path, k))

    walk(fields, ())
    return out


def path_string(path: Path) -> str:
    """structured-merge-diff's Path.String(): ``.spec.containers[name="c"].image``, ``[="x"]``."""
    out = []
    for el in path:
        kind, _, rest = el.partition(":")
        if kind == "f":
            out.append("." + rest)
        elif kind == "k":
            try:
                keys = json.loads(rest)
                out.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]")
            except ValueError:
                out.append(f"[{rest}]")
        elif kind == "v":
            out.append(f"[={rest}]")
        elif kind == "i":
            out.append(f"[{rest}]")
        else:
            out.append(el)
    return "".join(out)


# -- reading and writing values at paths --------------------------------------------------------


def _child(value: Any, el: str, node: Schema) -> tuple[Any, Schema]:
    kind, _, rest = el.partition(":")
    if kind == "f":
        if isinstance(value, dict) and rest in value:
            return value[rest], (sch.field(node, rest) if node is not None else None)
        return _MISSING, None
    if kind == "k" and isinstance(value, list):
        keys = sch.list_map_keys(node)
        item_node = sch.items(node)
        for item in value:
            if isinstance(item, dict) and _key_json(item, keys) == rest:
                return item, item_node
        return _MISSING, None
    if kind == "v" and isinstance(value, list):
        for item in value:
            if _value_json(item) == rest:
                return item, None
        return _MISSING, None
    return _MISSING, None


class _Missing:
    pass


_MISSING = _Missing()


def _get(obj: Obj, path: Path, root: Schema) -> Any:
    value: Any = obj
    node = root
    for el in path:
        value, node = _child(value, el, node)
        if value is _MISSING:
            return _MISSING
    return value


def _remove(obj: Obj, path: Path, root: Schema) -> None:
    parent: Any = obj
    node = root
    for el in path[:-1]:
        parent, node = _child(parent, el, node)
        if parent is _MISSING:
            return
    kind, _, rest = path[-1].partition(":")
    if kind == "f" and isinstance(parent, dict):
        parent.pop(rest, None)
    elif kind == "k" and isinstance(parent, list):
        keys = sch.list_map_keys(node)
        parent[:] = [i for i in parent if not (isinstance(i, dict) and _key_json(i, keys) == rest)]
    elif kind == "v" and isinstance(parent, list):
        parent[:] = [i for i in parent if _value_json(i) != rest]


def _prune_empty(obj: Any, keep: Obj) -> Any:
    """Drop maps/lists left empty by removals (only where the original had content)."""
    if isinstance(obj, dict):
        for k in list(obj):
            v = obj[k]
            before = keep.get(k) if isinstance(keep, dict) else None
            _prune_empty(v, before if isinstance(before, dict) else {})
            if isinstance(v, dict | list) and not v and before:
                del obj[k]
    return obj


# -- merge --------------------------------------------------------------------------------------


def _merge(live: Any, applied: Any, node: Schema) -> Any:
    if isinstance(applied, dict):
        if not isinstance(live, dict) or (node is not None and sch.is_atomic_map(node)):
            return deep_copy(applied)
        out = dict(live)
        for k, v in applied.items():
            if v is None:
                continue
            sub = sch.field(node, k) if node is not None else None
            out[k] = _merge(live.get(k), v, sub)
        return out
    if isinstance(applied, list):
        lt = sch.list_type(node) if node is not None else "atomic"
        if not isinstance(live, list):
            return deep_copy(applied)
        if lt == "map" and all(isinstance(v, dict) for v in applied):
            keys = sch.list_map_keys(node)
            item_node = sch.items(node)
            out_list = list(live)
            for item in applied:
                kj = _key_json(item, keys)
                for i, cur in enumerate(out_list):
                    if isinstance(cur, dict) and kj is not None and _key_json(cur, keys) == kj:
                        out_list[i] = _merge(cur, item, item_node)
                        break
                else:
                    out_list.append(deep_copy(item))
            return out_list
        if lt == "set":
            seen = {_value_json(v) for v in live}
            return list(live) + [deep_copy(v) for v in applied if _value_json(v) not in seen]
        return deep_copy(applied)
    return applied


def _drop_nulls(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _drop_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_drop_nulls(x) for x in v]
    return v


# -- managedFields entries ----------------------------------------------------------------------


def _entries(obj: Obj | None) -> list[Obj]:
    if not isinstance(obj, dict):
        return []
    mf = (obj.get("metadata") or {}).get("managedFields")
    return [dict(e) for e in mf] if isinstance(mf, list) else []


def _live_or_new(old: Obj | None, new: Obj, subresource: str | None) -> tuple[list[Obj], bool]:
    """The managedFields an update starts from (decodeLiveOrNew in fieldmanager.go): a request that
    sets them (e.g. kubectl's client-side-apply -> server-side-apply migration, a JSON patch
    replacing /metadata/managedFields) replaces the live ones, ``[{}]`` resets them, and a request
    without them (clients unaware of managedFields) or a subresource write keeps the live ones.
    Returns (entries, reset)."""
    if old is None:
        return _entries(new), False
    if subresource:
        return _entries(old), False
    mf = (new.get("metadata") or {}).get("managedFields")
    if isinstance(mf, list) and len(mf) == 1 and mf[0] == {}:
        return [], True
    if (
        isinstance(mf, list)
        and mf
        and all(isinstance(e, dict) and e.get("manager") and isinstance(e.get("fieldsV1", {}), dict) for e in mf)
    ):
        return [dict(e) for e in mf], False
    return _entries(old), False


def _entry_id(e: Obj) -> tuple[str, str, str]:
    return (str(e.get("manager", "")), str(e.get("operation", "")), str(e.get("subresource", "")))


def _manager_label(e: Obj) -> str:
    """printManager in fieldmanager/internal/conflict.go."""
    label = json.dumps(str(e.get("manager", "")))
    if e.get("subresource"):
        label += f" with subresource {json.dumps(e['subresource'])}"
    if e.get("operation") == "Update":
        label += f" using {e.get('apiVersion', '')}"
    return label


def _entry(manager: str, operation: str, api_version: str, paths: set[Path], time: str | None,
           subresource: str | None) -> Obj:  # fmt: skip
    e: Obj = {"manager": manager, "operation": operation, "apiVersion": api_version}
    if time is not None:
        e["time"] = time
    e["fieldsType"] = "FieldsV1"
    e["fieldsV1"] = to_fields_v1(paths)
    if subresource:
        e["subresource"] = subresource
    return e


def _overlaps(a: Path, b: Path) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _with_managed_fields(obj: Obj, entries: list[Obj]) -> Obj:
    meta = obj.setdefault("metadata", {})
    kept = [e for e in entries if e.get("fieldsV1")]
    if kept:
        meta["managedFields"] = kept
    else:
        meta.pop("managedFields", None)
    return obj


def _api_version(obj: Obj | None, fallback: Obj | None = None) -> str:
    for o in (obj, fallback):
        if isinstance(o, dict) and isinstance(o.get("apiVersion"), str):
            return str(o["apiVersion"])
    return ""


def server_side_apply(
    current: dict | None,
    applied: dict,
    manager: str,
    force: bool = False,
    kind: str | None = None,
    *,
    time: str | None = None,
    subresource: str | None = None,
) -> dict:
    """The object after ``manager`` applies ``applied`` to ``current`` (None when creating).

    Raises ApiError 409 Conflict on conflicts unless ``force``. ``time`` is the managedFields
    timestamp (the server passes its clock's). The result still needs defaulting and validation.
    """
    if not isinstance(applied, dict):
        raise ApiError(400, "BadRequest", "apply patch must be a JSON or YAML object")
    applied = _drop_nulls({k: v for k, v in applied.items()})
    meta_in = applied.get("metadata")
    if isinstance(meta_in, dict) and "managedFields" in meta_in:
        applied["metadata"] = {k: v for k, v in meta_in.items() if k != "managedFields"}
    probe = applied if applied.get("kind") else (current or applied)
    root = _root(probe, kind)
    api_version = _api_version(applied, current)
    live: Obj = deep_copy(current) if isinstance(current, dict) else {}
    entries = _entries(current)
    if current is not None and not entries:
        before = field_set(live, kind, root=root)
        if before:
            entries = [_entry(BEFORE_FIRST_APPLY, "Update", api_version, before, time, None)]

    applied_set = field_set(applied, kind, root=root, include_status=subresource == "status" or None)
    me = (manager, "Apply", subresource or "")
    mine = next((e for e in entries if _entry_id(e) == me), None)
    previous = from_fields_v1(mine.get("fieldsV1")) if mine else set()
    others = [e for e in entries if _entry_id(e) != me]
    other_sets = [from_fields_v1(e.get("fieldsV1")) for e in others]

    # Conflicts: another manager owns a field we set to a different value than the live one.
    conflicts: list[tuple[Obj, Path]] = []
    forced: list[set[Path]] = [set() for _ in others]
    parents = {p[:i] for p in applied_set for i in range(1, len(p))}
    for idx, (e, owned) in enumerate(zip(others, other_sets, strict=True)):
        for p in sorted(applied_set):
            if p in parents:
                continue  # a list item that is a member: its fields decide
            hits = [q for q in owned if _overlaps(p, q)]
            if not hits:
                continue
            if _equal(_get(applied, p, root), _get(live, p, root)):
                continue
            conflicts.append((e, p))
            forced[idx].update(hits)
    if conflicts and not force:
        raise _conflict_error(conflicts)

    # Fields we applied last time and no longer do: remove unless someone else still owns them.
    others_after = [s - f for s, f in zip(other_sets, forced, strict=True)]
    result = live
    removable = set()
    for p in previous - applied_set:
        if any(_overlaps(p, q) and len(q) >= len(p) for s in others_after for q in s):
            continue
        if any(q[: len(p)] == p for q in applied_set):
            continue
        removable.add(p)
    for p in sorted(removable, key=len, reverse=True):
        if any(p[:i] in removable for i in range(1, len(p))):
            continue  # an ancestor goes as a whole
        _remove(result, p, root)
    _prune_empty(result, current or {})

    merged = _merge(result, {k: v for k, v in applied.items() if k != "status" or subresource == "status"}, root)
    if isinstance(current, dict):
        # Identity never comes from the applied configuration.
        for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp"):
            if k in (current.get("metadata") or {}):
                merged.setdefault("metadata", {})[k] = current["metadata"][k]

    new_entries: list[Obj] = []
    for e, owned, f in zip(others, other_sets, forced, strict=True):
        rest = owned - f
        if rest:
            e = dict(e)
            e["fieldsV1"] = to_fields_v1(rest)
            new_entries.append(e)
    mine_entry = _entry(manager, "Apply", api_version, applied_set, time, subresource)
    if mine is not None:
        pos = entries.index(mine)
        new_entries.insert(min(pos, len(new_entries)), mine_entry)
    else:
        new_entries.append(mine_entry)
    return _with_managed_fields(merged, new_entries)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, _Missing) or isinstance(b, _Missing):
        return isinstance(a, _Missing) and isinstance(b, _Missing)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def _conflict_error(conflicts: list[tuple[Obj, Path]]) -> ApiError:
    causes = [Cause(path_string(p), f"conflict with {_manager_label(e)}", "FieldManagerConflict")
              for e, p in conflicts]  # fmt: skip
    if len(conflicts) == 1:
        e, p = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {_manager_label(e)}: {path_string(p)}"
    else:
        by_manager: dict[str, list[str]] = {}
        for e, p in conflicts:
            by_manager.setdefault(_manager_label(e), []).append(path_string(p))
        lines = []
        for label in sorted(by_manager):
            lines.append(f"conflicts with {label}:")
            lines.extend(f"- {p}" for p in by_manager[label])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return ApiError(409, "Conflict", message, causes=causes)


def record_update(old: dict | None, new: dict, manager: str, operation: str = "Update", *,
                  time: str | None = None, subresource: str | None = None, kind: str | None = None) -> dict:  # fmt: skip
    """``new`` with managedFields updated for a non-apply write by ``manager`` (create/update/patch).

    The manager gains every field whose value it added or changed; other managers lose those
    fields (no conflicts for updates); fields that disappeared leave every set. Returns ``new``
    (modified in place) for convenience.
    """
    root = _root(new, kind)
    status = subresource == "status" or None
    new_fields = field_set(new, kind, root=root, include_status=status)
    entries, reset = _live_or_new(old, new, subresource)
    if old is not None and not entries and not reset:
        before = field_set(old, kind, root=root, include_status=status)
        if before:
            entries = [_entry(BEFORE_FIRST_APPLY, operation, _api_version(old), before, time, None)]
    if old is None:
        changed = new_fields
    else:
        parents = {p[:i] for p in new_fields for i in range(1, len(p))}
        changed = set()
        for p in new_fields:
            before = _get(old, p, root)
            if p in parents:  # a list item that is a member: changed only when it is new
                if isinstance(before, _Missing):
                    changed.add(p)
            elif not _equal(_get(new, p, root), before):
                changed.add(p)
    me = (manager, operation, subresource or "")
    out: list[Obj] = []
    mine: Obj | None = None
    for e in entries:
        owned = from_fields_v1(e.get("fieldsV1"))
        owned = {p for p in owned if p in new_fields or any(q[: len(p)] == p for q in new_fields)}
        if _entry_id(e) == me:
            mine = e
            owned |= changed
        else:
            owned = {p for p in owned if not any(p == c for c in changed)}
        if owned:
            e = dict(e)
            e["fieldsV1"] = to_fields_v1(owned)
            if _entry_id(e) == me:
                if time is not None:
                    e["time"] = time
                e["apiVersion"] = _api_version(new, old)
            out.append(e)
    if mine is None and changed:
        out.append(_entry(manager, operation, _api_version(new, old), changed, time, subresource))
    return _with_managed_fields(new, out)
