"""Tables for ``kubectl get`` (meta.k8s.io/v1 Table) and the field-validation checker, the two
collaborators the REST handlers render through (k8s.io/apiserver/pkg/endpoints/handlers:
response.go's transformObject and the fieldValidation directive).

``to_table`` is ``server.tables.to_table`` (the per-kind printers of
pkg/printers/internalversion; kinds without a printer get its Name + Age default);
``strict_checker`` is ``server.openapi.unknown_fields``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubetwin.api import kinds
from kubetwin.server import openapi, tables
from kubetwin.sim import EventLoop


def to_table(
    info: kinds.KindInfo, objs: list[dict[str, Any]], include_object: str, clock: EventLoop
) -> dict[str, Any]:
    return tables.to_table(info, objs, wide=True, include_object=include_object, now=clock.now, clock=clock)


def strict_checker() -> Callable[[dict[str, Any]], list[str]]:
    """The OpenAPI-backed unknown-field check behind ``fieldValidation=Strict|Warn``."""
    return openapi.unknown_fields


def field_pruner() -> Callable[[dict[str, Any]], list[str]]:
    """Drops unknown fields in place (``fieldValidation=Warn|Ignore`` on create and update)."""
    return openapi.prune_unknown_fields
