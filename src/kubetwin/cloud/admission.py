"""Admission for NodeGroups: reject an instance type the catalog does not know, at create/update
time, with the catalog's close matches — the way a validating webhook of a cloud provider would.

The Cluster runtime appends :func:`validate_nodegroup` to the registry's admission chain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubetwin.api import errors
from kubetwin.api.errors import Cause
from kubetwin.cloud import catalog
from kubetwin.store.admission import handles

if TYPE_CHECKING:
    from kubetwin.store.registry import Registry


@handles("NodeGroup")
def validate_nodegroup(reg: Registry, obj: dict[str, Any], old: dict[str, Any] | None, op: str) -> None:
    if obj.get("kind") != "NodeGroup" or op not in ("CREATE", "UPDATE"):
        return
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return  # validation reports the missing spec
    name = spec.get("instanceType")
    if not isinstance(name, str) or not name:
        return
    try:
        catalog.get(name)
    except catalog.UnknownInstanceType as e:
        raise errors.invalid(
            "NodeGroup",
            (obj.get("metadata") or {}).get("name", ""),
            [Cause("spec.instanceType", f'Unsupported value: "{name}": {e}', "FieldValueNotSupported")],
            "kubetwin.io",
        ) from None
