"""Tables for ``kubectl get`` (meta.k8s.io/v1 Table) and the server's optional collaborators.

``server.tables.to_table`` (the per-kind printers of pkg/printers/internalversion) and
``server.openapi`` are written separately; until they are importable this module falls back to
the default table (Name + Created At, as the apiserver prints kinds without a printer) and to no
OpenAPI-backed field validation, so nothing here ever answers 415/500 for want of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubetwin.api import kinds
from kubetwin.sim import EventLoop, format_duration


def _partial(obj: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def default_table(
    info: kinds.KindInfo, objs: list[dict[str, Any]], include_object: str, clock: EventLoop
) -> dict[str, Any]:
    rows = []
    for o in objs:
        meta = o.get("metadata") or {}
        created = meta.get("creationTimestamp")
        age = format_duration(clock.now - clock.parse_timestamp(created)) if created else "<unknown>"
        row: dict[str, Any] = {"cells": [meta.get("name", ""), age]}
        if include_object == "Object":
            row["object"] = o
        elif include_object != "None":
            row["object"] = _partial(o)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0},
            {"name": "Age", "type": "string", "format": "", "description": "CreationTimestamp is a timestamp representing the server time when this object was created.", "priority": 0},
        ],
        "rows": rows,
    }


def to_table(
    info: kinds.KindInfo, objs: list[dict[str, Any]], include_object: str, clock: EventLoop
) -> dict[str, Any]:
    try:
        from kubetwin.server import tables
    except ImportError:
        return default_table(info, objs, include_object, clock)
    return tables.to_table(info, objs, wide=True, include_object=include_object, now=clock.now, clock=clock)


def strict_checker() -> Callable[[dict[str, Any]], list[str]] | None:
    try:
        from kubetwin.server import openapi
    except ImportError:
        return None
    fn = getattr(openapi, "unknown_fields", None) or getattr(openapi, "strict_unknown_fields", None)
    return fn if callable(fn) else None
