"""Admission for the ClusterAutoscaler kind: every flag parses (durations, numbers, expander names),
the way the cluster-autoscaler binary refuses to start with a bad flag. The Cluster runtime appends
:func:`validate_clusterautoscaler` to the registry's admission chain (like cloud.admission)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubetwin.api import errors
from kubetwin.api.errors import Cause
from kubetwin.autoscaler.config import Options
from kubetwin.store.admission import handles

if TYPE_CHECKING:
    from kubetwin.store.registry import Registry


@handles("ClusterAutoscaler")
def validate_clusterautoscaler(reg: Registry, obj: dict[str, Any], old: dict[str, Any] | None, op: str) -> None:
    if obj.get("kind") != "ClusterAutoscaler" or op not in ("CREATE", "UPDATE"):
        return
    spec = obj.get("spec")
    if spec is not None and not isinstance(spec, dict):
        return  # validation reports it
    try:
        Options.from_spec(spec)
    except ValueError as e:
        path, _, detail = str(e).partition(": ")
        raise errors.invalid(
            "ClusterAutoscaler",
            (obj.get("metadata") or {}).get("name", ""),
            [Cause(path, detail, "FieldValueInvalid")],
            "kubetwin.io",
        ) from None
