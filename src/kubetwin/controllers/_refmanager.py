"""Adoption and release of dependents (pkg/controller/controller_ref_manager.go ClaimObject).

A controller claims the objects its selector matches: it keeps those it already controls, adopts
matching orphans (adding a controller ownerReference) and releases those it controls that no
longer match (removing its ownerReference). Objects controlled by someone else are left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kubetwin.api.errors import ApiError
from kubetwin.api.selectors import LabelSelector
from kubetwin.client.client import Client
from kubetwin.controllers._util import owner_ref
from kubetwin.store.copy import deep_copy

Obj = dict[str, Any]


def claim(
    client: Client, owner: Mapping[str, Any], selector: LabelSelector, objs: Iterable[Obj]
) -> list[Obj]:
    """ClaimObject over ``objs``; returns the objects ``owner`` controls afterwards."""
    om = owner["metadata"]
    uid = om.get("uid")
    owner_deleting = bool(om.get("deletionTimestamp"))
    out: list[Obj] = []
    for obj in objs:
        m = obj["metadata"]
        ctrl = next((r for r in m.get("ownerReferences") or [] if r.get("controller") is True), None)
        lbls = m.get("labels") or {}
        if ctrl is not None:
            if ctrl.get("uid") != uid:
                continue  # owned by another controller
            if selector.matches(lbls):
                out.append(obj)
                continue
            if owner_deleting:
                continue  # ignore: the owner is going away
            _release(client, obj, str(uid))
            continue
        if owner_deleting or m.get("deletionTimestamp") or not selector.matches(lbls):
            continue
        adopted = _adopt(client, owner, obj)
        if adopted is not None:
            out.append(adopted)
    return out


def _adopt(client: Client, owner: Mapping[str, Any], obj: Obj) -> Obj | None:
    new = deep_copy(obj)
    refs = [r for r in new["metadata"].get("ownerReferences") or [] if r.get("uid") != owner["metadata"]["uid"]]
    refs.append(owner_ref(owner))
    new["metadata"]["ownerReferences"] = refs
    try:
        return client.update(new)
    except ApiError as e:
        if e.code in (404, 409, 422):
            return None  # gone, changed or invalid: the next sync will look again
        raise


def _release(client: Client, obj: Obj, uid: str) -> None:
    new = deep_copy(obj)
    refs = [r for r in new["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
    if refs:
        new["metadata"]["ownerReferences"] = refs
    else:
        new["metadata"].pop("ownerReferences", None)
    try:
        client.update(new)
    except ApiError as e:
        if e.code not in (404, 409, 422):
            raise
