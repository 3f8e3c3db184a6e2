"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902) over dict-shaped objects."""

from __future__ import annotations

from typing import Any

from kubetwin.api import errors
from kubetwin.store.copy import deep_copy


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return deep_copy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _index(token: str, path: str) -> int:
    """An RFC 6901 array index: decimal digits, no sign, no leading zero."""
    if not token.isdigit() or (len(token) > 1 and token[0] == "0") or not token.isascii():
        raise errors.ApiError(422, "Invalid", f"jsonpatch: invalid array index {token!r} in {path!r}")
    return int(token)


def _parse_pointer(path: Any) -> list[str]:
    if not isinstance(path, str):
        raise errors.bad_request(f"invalid JSON pointer {path!r}: must be a string")
    if path == "":
        return []
    if not path.startswith("/"):
        raise errors.bad_request(f"invalid JSON pointer {path!r}: must start with /")
    return [_unescape(t) for t in path[1:].split("/")]


def _container(doc: Any, tokens: list[str], path: str) -> Any:
    cur = doc
    for t in tokens:
        if isinstance(cur, dict):
            if t not in cur:
                raise errors.ApiError(422, "Invalid", f"jsonpatch: path {path!r} does not exist")
            cur = cur[t]
        elif isinstance(cur, list):
            try:
                cur = cur[_index(t, path)]
            except (errors.ApiError, IndexError):
                raise errors.ApiError(422, "Invalid", f"jsonpatch: path {path!r} does not exist") from None
        else:
            raise errors.ApiError(422, "Invalid", f"jsonpatch: path {path!r} does not exist")
    return cur


def _get(doc: Any, path: str) -> Any:
    tokens = _parse_pointer(path)
    return _container(doc, tokens, path)


def _remove(doc: Any, path: str) -> Any:
    tokens = _parse_pointer(path)
    if not tokens:
        raise errors.bad_request("jsonpatch: cannot remove the whole document")
    parent = _container(doc, tokens[:-1], path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise errors.ApiError(
                422, "Invalid", f"jsonpatch remove operation does not apply: doc is missing path: {path}"
            )
        return parent.pop(last)
    if isinstance(parent, list):
        try:
            return parent.pop(_index(last, path))
        except (errors.ApiError, IndexError):
            raise errors.ApiError(
                422, "Invalid", f"jsonpatch remove operation does not apply: doc is missing path: {path}"
            ) from None
    raise errors.ApiError(422, "Invalid", f"jsonpatch: path {path!r} does not exist")


def _add(doc: Any, path: str, value: Any, replace: bool = False) -> Any:
    tokens = _parse_pointer(path)
    if not tokens:
        return deep_copy(value)
    parent = _container(doc, tokens[:-1], path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise errors.ApiError(
                422, "Invalid", f"jsonpatch replace operation does not apply: doc is missing key: {path}"
            )
        parent[last] = deep_copy(value)
    elif isinstance(parent, list):
        if last == "-":
            parent.append(deep_copy(value))
        else:
            idx = _index(last, path)
            if idx > len(parent) or (replace and idx == len(parent)):
                raise errors.ApiError(422, "Invalid", f"jsonpatch: index out of range in {path!r}")
            if replace:
                parent[idx] = deep_copy(value)
            else:
                parent.insert(idx, deep_copy(value))
    else:
        raise errors.ApiError(422, "Invalid", f"jsonpatch: path {path!r} does not exist")
    return doc


def _json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: ``true`` is not ``1`` (Python says it is)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def json_patch(doc: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise errors.bad_request("json patch must be a JSON array of operations")
    doc = deep_copy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise errors.bad_request(f"invalid json patch operation {op!r}: needs op and path")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise errors.bad_request(f"invalid json patch operation {op!r}: {kind} needs a value")
        if kind in ("move", "copy") and not isinstance(op.get("from"), str):
            raise errors.bad_request(f"invalid json patch operation {op!r}: {kind} needs from")
        if kind == "add":
            doc = _add(doc, path, op.get("value"))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            doc = _add(doc, path, op.get("value"), replace=True)
        elif kind == "move":
            if path.startswith(op["from"] + "/"):
                raise errors.ApiError(
                    422, "Invalid", f"jsonpatch move operation does not apply: {path} is a child of {op['from']}"
                )
            value = _remove(doc, op["from"])
            doc = _add(doc, path, value)
        elif kind == "copy":
            doc = _add(doc, path, _get(doc, op["from"]))
        elif kind == "test":
            if not _json_equal(_get(doc, path), op.get("value")):
                raise errors.ApiError(
                    422, "Invalid", f"jsonpatch test operation does not apply: is not equal at {path}"
                )
        else:
            raise errors.bad_request(f"Unexpected kind: {kind}")
    return doc
