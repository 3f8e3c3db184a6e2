"""Small helpers over ``metadata`` of dict-shaped objects."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def meta(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def name(obj: Obj) -> str:
    return meta(obj).get("name", "")


def namespace(obj: Obj) -> str:
    return meta(obj).get("namespace", "") or ""


def uid(obj: Obj) -> str:
    return meta(obj).get("uid", "")


def labels(obj: Obj) -> dict[str, str]:
    return meta(obj).get("labels") or {}


def annotations_of(obj: Obj) -> dict[str, str]:
    return meta(obj).get("annotations") or {}


def key(obj: Obj) -> str:
    """``namespace/name`` (or ``name`` for cluster-scoped), as cache.MetaNamespaceKeyFunc."""
    ns = namespace(obj)
    return f"{ns}/{name(obj)}" if ns else name(obj)


def split_key(k: str) -> tuple[str, str]:
    ns, sep, n = k.partition("/")
    return (ns, n) if sep else ("", ns)


def is_deleting(obj: Obj) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def owner_references(obj: Obj) -> list[dict[str, Any]]:
    return meta(obj).get("ownerReferences") or []


def controller_of(obj: Obj) -> dict[str, Any] | None:
    for ref in owner_references(obj):
        if ref.get("controller"):
            return ref
    return None


def owner_reference(owner: Obj, controller: bool = True, block_owner_deletion: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": name(owner),
        "uid": uid(owner),
        "controller": controller,
        "blockOwnerDeletion": block_owner_deletion,
    }


def equal_but(a: dict[str, Any], b: dict[str, Any], skip: tuple[str, ...]) -> bool:
    """``a == b`` but for the values of the keys in ``skip`` (each present in both or in neither:
    a key present in one only makes them differ). Compares in C (a dict copy and ``==``, which
    skips the values both share)."""
    if len(a) != len(b):
        return False
    c = dict(b)
    for k in skip:
        if k in a:
            if k not in c:
                return False
            c[k] = a[k]
        elif k in c:
            return False
    return c == a


# The write being stored, when the registry knows that it changes one top-level section of the
# object and nothing else but metadata.resourceVersion: (stored version, new version, section,
# the section's keys it sets (None: any)). Held while the store delivers the write's events (set
# again by a noted write made meanwhile, cleared after), so that an update classifier can skip
# comparing what the write cannot have changed (``sole_change``). One cell: a note is one store.
_NO_NOTE: tuple[Any, ...] = (None, None, None, None)
_sole_change: list[tuple[Any, ...]] = [_NO_NOTE]


def note_sole_change(old: Obj, new: Obj, section: str, keys: tuple[str, ...] | None = None) -> None:
    """The registry stores ``new``: ``old`` with nothing changed but ``section`` (only its
    ``keys``, when given) and metadata.resourceVersion. Until ``clear_sole_change``."""
    _sole_change[0] = (old, new, section, keys)


def clear_sole_change() -> None:
    """The write noted by ``note_sole_change`` was delivered (or failed)."""
    _sole_change[0] = _NO_NOTE


def sole_change(old: Obj, new: Obj) -> tuple[str, tuple[str, ...] | None] | None:
    """``(section, keys)`` when the update from ``old`` to ``new`` (these very objects) is the
    registry's write noted by ``note_sole_change``: nothing else differs; None: not known."""
    s = _sole_change[0]
    if s[1] is new and s[0] is old:
        return s[2], s[3]
    return None
