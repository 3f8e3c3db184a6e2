"""What one write of a Pod changed, as bits (for informer update handlers that declare their reads).

Most pod writes change a few status fields: the kubelet's status reports (container statuses,
phase, conditions; pkg/kubelet/status/status_manager.go), the scheduler's PodScheduled=False
condition on a pod that does not fit (pkg/scheduler/schedule_one.go updatePod). An informer asks
``pod_changes`` once per update and calls only the handlers whose declared reads intersect it
(``client.informer``'s ``changes``/``reads``), so a handler whose reads did not change costs
nothing instead of a call and its own checks.

A part that differs in any way sets its bit. Status fields without a bit (podIP, hostIP, qosClass,
nominatedNodeName, init container statuses, ...) set none: a handler that reads one of them must
not declare its reads (or gets a bit added here). ``TERMINATING`` is a state rather than a change:
set whenever the new version carries a deletionTimestamp (a pod being deleted interests some
handlers on every write). ``WAS_TERMINATING`` is one too, the old version's (a deletionTimestamp
is never unset: a handler with nothing to do for a pod once it is being deleted ignores such
writes with ``unless=WAS_TERMINATING``); it is not part of ``ALL`` (an odd shape that cannot be
read does not say that the pod was being deleted).
"""

from __future__ import annotations

from typing import Any

from kubetwin.api.meta import equal_but, sole_change

LABELS = 1 << 0  # metadata.labels
OWNERS = 1 << 1  # metadata.ownerReferences
DELETION = 1 << 2  # metadata.deletionTimestamp / deletionGracePeriodSeconds
META = 1 << 3  # any other metadata field (uid, annotations, finalizers, managedFields, ...)
NODE = 1 << 4  # spec.nodeName
SPEC = 1 << 5  # any other spec field
PHASE = 1 << 6  # status.phase
CONDITIONS = 1 << 7  # status.conditions, any of them
READY = 1 << 8  # whether the pod is ready (its Ready condition's status is True; implies READY_CONDITION)
CONTAINERS = 1 << 9  # status.containerStatuses
START = 1 << 10  # status.startTime
TERMINATING = 1 << 11  # state: the new version is being deleted
TERMINAL = 1 << 12  # status.phase moved into or out of Succeeded / Failed (implies PHASE)
READY_CONDITION = 1 << 13  # the Ready condition, any field (implies CONDITIONS)
RESTARTS = 1 << 14  # the restartCount of a container in both versions' statuses (implies CONTAINERS)
ALL = (1 << 15) - 1
WAS_TERMINATING = 1 << 15  # state: the old version was being deleted (not in ALL)

_RV = ("resourceVersion",)
_META_NAMED = ("resourceVersion", "labels", "ownerReferences", "deletionTimestamp", "deletionGracePeriodSeconds")
_NODE_NAME = ("nodeName",)
_TERMINAL_PHASES = ("Succeeded", "Failed")


def pod_changes(old: dict[str, Any], new: dict[str, Any]) -> int:
    """The bits of the parts of the Pod that differ between ``old`` and ``new`` (plus
    ``TERMINATING``). Parts the write did not touch are shared between the versions by the store,
    so most comparisons end at an identity check or a C-level ``==`` of shared values."""
    om, nm = old.get("metadata"), new.get("metadata")
    if type(om) is not dict or type(nm) is not dict:
        return ALL
    bits = TERMINATING if nm.get("deletionTimestamp") else 0
    if om.get("deletionTimestamp"):
        bits |= WAS_TERMINATING
    known = sole_change(old, new)
    if known is not None and known[0] == "status":
        # the registry's status write: metadata (but its resourceVersion) and spec are as stored
        return bits | _status_changes(old.get("status"), new.get("status"))
    if not equal_but(om, nm, _RV):
        bits |= _meta_changes(om, nm)
    a, b = old.get("spec"), new.get("spec")
    if a is not b:
        bits |= _spec_changes(a, b)
    a, b = old.get("status"), new.get("status")
    if a is not b:
        bits |= _status_changes(a, b)
    return bits


def _meta_changes(om: dict[str, Any], nm: dict[str, Any]) -> int:
    bits = 0
    if om.get("labels") != nm.get("labels"):
        bits |= LABELS
    if om.get("ownerReferences") != nm.get("ownerReferences"):
        bits |= OWNERS
    if om.get("deletionTimestamp") != nm.get("deletionTimestamp") or om.get(
        "deletionGracePeriodSeconds"
    ) != nm.get("deletionGracePeriodSeconds"):
        bits |= DELETION
    if not _equal_without(om, nm, _META_NAMED):
        bits |= META
    return bits


def _spec_changes(a: Any, b: Any) -> int:
    if type(a) is not dict or type(b) is not dict:
        return NODE | SPEC if a != b else 0
    bits = NODE if a.get("nodeName") != b.get("nodeName") else 0
    if not _equal_without(a, b, _NODE_NAME):
        bits |= SPEC
    return bits


def _status_changes(a: Any, b: Any) -> int:
    if type(a) is not dict or type(b) is not dict:
        return PHASE | TERMINAL | CONDITIONS | READY_CONDITION | READY | CONTAINERS | RESTARTS | START if a != b else 0
    bits = 0
    pa, pb = a.get("phase"), b.get("phase")
    if pa != pb:
        bits = PHASE | TERMINAL if (pa in _TERMINAL_PHASES) != (pb in _TERMINAL_PHASES) else PHASE
    ca, cb = a.get("conditions"), b.get("conditions")
    if ca is not cb and ca != cb:
        bits |= CONDITIONS | _ready_changes(ca, cb)
    ca, cb = a.get("containerStatuses"), b.get("containerStatuses")
    if ca is not cb and ca != cb:
        bits |= CONTAINERS | _restart_changes(ca, cb)
    if a.get("startTime") != b.get("startTime"):
        bits |= START
    return bits


def _ready_changes(ca: Any, cb: Any) -> int:
    """READY_CONDITION when the Ready condition differs between two conditions lists, with READY
    when readiness (its status True) does too (an odd shape: both)."""
    ra, rb = _ready(ca), _ready(cb)
    if ra == rb:
        return 0
    if (ra is None or type(ra) is dict) and (rb is None or type(rb) is dict):
        if (ra is not None and ra.get("status") == "True") == (rb is not None and rb.get("status") == "True"):
            return READY_CONDITION
    return READY_CONDITION | READY


def _restart_changes(ca: Any, cb: Any) -> int:
    """RESTARTS when a container named in both containerStatuses lists has another restartCount
    (or a list is odd: not a list, not dicts, a name twice); 0 when a version has no statuses (no
    container in both)."""
    if type(ca) is list and type(cb) is list:
        if len(ca) == 1 == len(cb) and type(x := ca[0]) is dict and type(y := cb[0]) is dict:  # (most pods)
            return 0 if x.get("restartCount") == y.get("restartCount") or x.get("name") != y.get("name") else RESTARTS
    elif ca is None or cb is None:
        return 0
    a, b = _restarts(ca), _restarts(cb)
    if a is None or b is None:
        return RESTARTS
    for name, count in b.items():
        if name in a and a[name] != count:
            return RESTARTS
    return 0


def _restarts(statuses: Any) -> dict[Any, Any] | None:
    """Each container's restartCount by name (None if odd)."""
    if type(statuses) is not list:
        return None
    out = {}
    for c in statuses:
        if type(c) is not dict:
            return None
        out[c.get("name")] = c.get("restartCount")
    return out if len(out) == len(statuses) else None


def _ready(conditions: Any) -> Any:
    """The Ready condition of a conditions list (None without one; the list itself if odd)."""
    if type(conditions) is not list:
        return conditions
    for c in conditions:
        if type(c) is not dict:
            return conditions
        if c.get("type") == "Ready":
            return c
    return None


def _equal_without(a: dict[str, Any], b: dict[str, Any], skip: tuple[str, ...]) -> bool:
    """``a == b`` without the keys in ``skip`` (present or not on either side)."""
    c = dict(b)
    for k in skip:
        if k in a:
            c[k] = a[k]
        else:
            c.pop(k, None)
    return c == a
