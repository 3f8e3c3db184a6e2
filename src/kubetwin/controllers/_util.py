"""Helpers shared by the workload controllers (pkg/controller/controller_utils.go,
pkg/api/v1/pod/util.go, k8s.io/apimachinery/pkg/util/intstr, pkg/util/hash).

Everything here is pure (it reads dict-shaped objects and returns values) but for
:class:`SelectorMemo`, a controller's memo of its owners' parsed selectors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import orjson

from kubetwin.api import podchanges as pc
from kubetwin.api import selectors
from kubetwin.api.errors import ApiError
from kubetwin.api.podchanges import pod_changes
from kubetwin.api.resources import is_pod_ready, pod_condition
from kubetwin.store.copy import deep_copy

Obj = dict[str, Any]

#: upstream's alphabet for rand.SafeEncodeString (no vowels, no confusable digits)
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
POD_TEMPLATE_HASH = "pod-template-hash"
CONTROLLER_REVISION_HASH = "controller-revision-hash"

SLOW_START_INITIAL_BATCH_SIZE = 1  # controller.SlowStartInitialBatchSize


# -- time -------------------------------------------------------------------------------------
def ts(clock: Any, value: str | None) -> float | None:
    """Virtual seconds for a timestamp written by the clock (None when absent/invalid)."""
    if not value:
        return None
    try:
        return float(clock.parse_timestamp(value))
    except ValueError:
        return None


def created(clock: Any, obj: Mapping[str, Any]) -> float:
    t = ts(clock, (obj.get("metadata") or {}).get("creationTimestamp"))
    return t if t is not None else 0.0


# -- int-or-percent ---------------------------------------------------------------------------
def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ValueError(f"invalid value for IntOrString: {value!r}")
    if isinstance(value, int):
        return value
    s = str(value)
    if not s.endswith("%"):
        try:
            return int(s)
        except ValueError:
            raise ValueError("invalid value for IntOrString: invalid type: string is not a percentage") from None
    pct = int(s[:-1])
    raw = pct * total / 100
    return math.ceil(raw) if round_up else math.floor(raw)


def round_half_away(x: float) -> int:
    """Go's math.Round (half away from zero), unlike Python's banker's rounding."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


# -- hashing ----------------------------------------------------------------------------------
def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode_string(s: str) -> str:
    """rand.SafeEncodeString: each byte mapped onto the consonant/digit alphabet."""
    return "".join(_ALPHANUMS[b % len(_ALPHANUMS)] for b in s.encode())


def compute_hash(template: Mapping[str, Any], collision_count: int | None) -> str:
    """controller.ComputeHash: FNV-32a over the template (+ collisionCount as 8 LE bytes).

    Upstream hashes a spew dump of the Go struct; kubetwin hashes canonical (sorted-key) JSON, so
    hashes are deterministic and template-sensitive but not byte-identical to a real cluster's.
    """
    data = orjson.dumps(template, option=orjson.OPT_SORT_KEYS)
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    if collision_count is not None:
        for b in int(collision_count & 0xFFFFFFFF).to_bytes(4, "little") + b"\x00\x00\x00\x00":
            h ^= b
            h = (h * 0x01000193) & 0xFFFFFFFF
    return safe_encode_string(str(h))


# -- selectors --------------------------------------------------------------------------------
def selector_of(obj: Mapping[str, Any]) -> selectors.LabelSelector:
    """spec.selector as a LabelSelector (shared, memoised by content: controllers ask on every
    sync); an invalid selector selects nothing."""
    try:
        return selectors.label_selector_matcher((obj.get("spec") or {}).get("selector"))
    except (AttributeError, TypeError):  # a malformed selector that validation would have refused
        return selectors.LabelSelector.nothing_selector()


class SelectorMemo:
    """selector_of per owner (under a key the controller picks: uid or queue key), parsed again only
    when the owner's spec.selector changes: the same LabelSelector object while it stays equal, so
    per-pod memos of a match can key on that object."""

    __slots__ = ("_hits",)

    def __init__(self) -> None:
        self._hits: dict[str, tuple[Any, selectors.LabelSelector]] = {}

    def get(self, key: str, obj: Mapping[str, Any]) -> selectors.LabelSelector:
        src = (obj.get("spec") or {}).get("selector")
        hit = self._hits.get(key)
        if hit is not None and (hit[0] is src or hit[0] == src):
            return hit[1]
        sel = selector_of(obj)
        self._hits[key] = (src, sel)
        return sel

    def forget(self, key: str) -> None:
        self._hits.pop(key, None)


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


# -- pods -------------------------------------------------------------------------------------
def is_pod_active(pod: Mapping[str, Any]) -> bool:
    """controller.IsPodActive: not Succeeded/Failed and not being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not (pod.get("metadata") or {}).get("deletionTimestamp")


def is_pod_terminating(pod: Mapping[str, Any]) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def ready_since(clock: Any, pod: Mapping[str, Any]) -> float | None:
    c = pod_condition(pod, "Ready")
    if c is None or c.get("status") != "True":
        return None
    return ts(clock, c.get("lastTransitionTime"))


def is_pod_available(clock: Any, pod: Mapping[str, Any], min_ready_seconds: int, now: float) -> bool:
    """podutil.IsPodAvailable: ready, and ready for more than minReadySeconds."""
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = ready_since(clock, pod)
    return since is not None and since + min_ready_seconds < now


def available_in(clock: Any, pod: Mapping[str, Any], min_ready_seconds: int, now: float) -> float | None:
    """Seconds until a ready-but-not-yet-available pod becomes available (None if not applicable)."""
    if not min_ready_seconds or not is_pod_ready(pod):
        return None
    since = ready_since(clock, pod)
    if since is None:
        return None
    remaining = since + min_ready_seconds - now
    return remaining if remaining >= 0 else None


def max_container_restarts(pod: Mapping[str, Any]) -> int:
    st = pod.get("status") or {}
    counts = [int(c.get("restartCount", 0) or 0) for c in st.get("containerStatuses") or []]
    return max(counts) if counts else 0


def sum_restarts(pod: Mapping[str, Any]) -> int:
    st = pod.get("status") or {}
    return sum(
        int(c.get("restartCount", 0) or 0)
        for c in [*(st.get("initContainerStatuses") or []), *(st.get("containerStatuses") or [])]
    )


def owner_is(obj: Mapping[str, Any], uid: str) -> bool:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") is True and ref.get("uid") == uid:
            return True
    return False


def controller_uid(obj: Mapping[str, Any]) -> str | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") is True:
            return str(ref.get("uid", ""))
    return None


def owner_ref(owner: Mapping[str, Any]) -> Obj:
    """metav1.NewControllerRef."""
    m = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": m["name"],
        "uid": m["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def slow_start_batches(count: int, initial: int = SLOW_START_INITIAL_BATCH_SIZE) -> Iterable[int]:
    """controller.slowStartBatch batch sizes: 1, 2, 4, ... capped by what remains."""
    remaining = count
    batch = min(remaining, initial)
    while batch > 0:
        yield batch
        remaining -= batch
        batch = min(2 * batch, remaining)


# -- conditions -------------------------------------------------------------------------------
def get_condition(status: Mapping[str, Any] | None, type_: str) -> dict[str, Any] | None:
    for c in (status or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


_MISSING = object()


def node_in_same_condition(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """daemon_controller.go nodeInSameCondition: the same number of conditions and the same set of
    condition types whose status is True (heartbeat and transition times do not count)."""
    a = (old.get("status") or {}).get("conditions") or []
    b = (new.get("status") or {}).get("conditions") or []
    if len(a) != len(b):
        return False
    return {c.get("type") for c in a if c.get("status") == "True"} == {
        c.get("type") for c in b if c.get("status") == "True"
    }


def node_update_ignorable(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """daemon_controller.go shouldIgnoreNodeUpdate: the same True conditions, and nothing else but
    resourceVersion and the conditions changed (a kubelet heartbeat)."""
    return node_in_same_condition(old, new) and _node_rest_same(old, new)


def node_heartbeat_only(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Stricter than node_update_ignorable: every condition keeps its type and status, in order
    (only heartbeat/transition times, reasons or messages moved), and nothing else changed."""
    a = (old.get("status") or {}).get("conditions") or []
    b = (new.get("status") or {}).get("conditions") or []
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x is not y and (x.get("type") != y.get("type") or x.get("status") != y.get("status")):
            return False
    return _node_rest_same(old, new)


# The last node update's answer: an update reaches several handlers in a row (the node lifecycle
# and DaemonSet controllers ask about the same pair), and stored objects are never modified.
_last_rest: tuple[Mapping[str, Any], Mapping[str, Any], bool] | None = None


def _node_rest_same(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    global _last_rest
    last = _last_rest
    if last is not None and last[0] is old and last[1] is new:
        return last[2]
    same = same_node_but_conditions(old, new)
    _last_rest = (old, new, same)
    return same


def same_node_but_conditions(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Equal apart from metadata.resourceVersion and status.conditions (a key present in one only,
    those two included, counts as a change: the answer errs towards looking)."""
    return _same_but(old, new, "") and _same_but(old.get("metadata"), new.get("metadata"), "resourceVersion") \
        and _same_but(old.get("status"), new.get("status"), "conditions")  # fmt: skip


def _same_but(a: Any, b: Any, skip: str) -> bool:
    """``a == b`` for mappings, ignoring key ``skip`` (and, at the top level, metadata and status,
    which the caller compares apart); values shared by both are not walked."""
    if a is b:
        return True
    if not (type(a) is dict or isinstance(a, Mapping)) or not (type(b) is dict or isinstance(b, Mapping)):
        return False
    if len(a) != len(b):
        return False
    for k, v in b.items():
        if k == skip or (not skip and (k == "metadata" or k == "status")):
            continue
        w = a.get(k, _MISSING)
        if w is not v and w != v:
            return False
    return True


def remove_condition(status: dict[str, Any], type_: str) -> None:
    conds = [c for c in status.get("conditions") or [] if c.get("type") != type_]
    if conds:
        status["conditions"] = conds
    else:
        status.pop("conditions", None)


def set_metav1_condition(
    status: dict[str, Any], type_: str, cond_status: str, reason: str, message: str, now: str,
    observed_generation: int | None = None,
) -> None:  # fmt: skip
    """apimeta.SetStatusCondition for metav1.Condition lists (lastTransitionTime on change only)."""
    conds: list[dict[str, Any]] = list(status.get("conditions") or [])
    for i, c in enumerate(conds):
        if c.get("type") == type_:
            new = dict(c)
            if c.get("status") != cond_status:
                new["lastTransitionTime"] = now
            new.update(status=cond_status, reason=reason, message=message)
            if observed_generation is not None:
                new["observedGeneration"] = observed_generation
            conds[i] = new
            status["conditions"] = conds
            return
    c2: dict[str, Any] = {"type": type_, "status": cond_status}
    if observed_generation is not None:
        c2["observedGeneration"] = observed_generation
    c2.update(lastTransitionTime=now, reason=reason, message=message)
    conds.append(c2)
    status["conditions"] = conds


def sort_key_created(clock: Any, obj: Mapping[str, Any]) -> tuple[float, str]:
    """ByCreationTimestamp ordering (ties broken by name)."""
    return (created(clock, obj), (obj.get("metadata") or {}).get("name", ""))


def ready_count(pods: Iterable[Mapping[str, Any]]) -> int:
    return sum(1 for p in pods if is_pod_ready(p))


CONTROLLER_UID_INDEX = "controller-uid"


def controller_uid_index(obj: Mapping[str, Any]) -> list[str]:
    """Index function: the controller's uid, ``""`` for orphans (to find adoption candidates)."""
    return [controller_uid(obj) or ""]


def _owner_references(obj: Mapping[str, Any]) -> Any:
    """What controller_uid_index reads of an object."""
    return (obj.get("metadata") or {}).get("ownerReferences")


def ensure_controller_index(informer: Any) -> None:
    try:
        informer.by_index(CONTROLLER_UID_INDEX, "")
    except KeyError:
        if informer.resource == "pods":
            informer.add_index(CONTROLLER_UID_INDEX, controller_uid_index, changes=pod_changes, bits=pc.OWNERS)
        else:
            informer.add_index(CONTROLLER_UID_INDEX, controller_uid_index, reads=_owner_references)


def pod_updates_while_owners(pods: Any, owners: Any, on_update: Any) -> None:
    """Let ``on_update`` (a controller's pod update handler on informer ``pods``) be called only
    while informer ``owners`` holds objects: without any, no pod has an owner of that kind to
    enqueue (a cluster without DaemonSets or Jobs), so pod writes skip it. Called by the owners'
    add and delete handlers and once after registering ``on_update``."""
    pods.set_update_handler_live(on_update, len(owners) > 0)


def owned_or_orphan(informer: Any, owner: Mapping[str, Any]) -> list[Obj]:
    """Objects in the owner's namespace controlled by it, plus orphans there (claim candidates)."""
    ns = (owner.get("metadata") or {}).get("namespace", "")
    uid = (owner.get("metadata") or {}).get("uid", "")
    out = [o for o in informer.by_index(CONTROLLER_UID_INDEX, uid) if o["metadata"].get("namespace", "") == ns]
    out += [o for o in informer.by_index(CONTROLLER_UID_INDEX, "") if o["metadata"].get("namespace", "") == ns]
    return out


def remove_finalizer(client: Any, obj: Mapping[str, Any], finalizer: str) -> None:
    """Update ``obj`` without ``finalizer`` (dropping an empty list); an object already gone is fine."""
    new = deep_copy(obj)
    new["metadata"]["finalizers"] = [f for f in new["metadata"].get("finalizers") or [] if f != finalizer]
    if not new["metadata"]["finalizers"]:
        del new["metadata"]["finalizers"]
    try:
        client.update(new)
    except ApiError as e:
        if e.code != 404:
            raise


_T = TypeVar("_T")
BY_OBJECT_ENTRIES = 1024  # objects a by_object memo remembers before starting afresh


def by_object(memo: dict[int, tuple[Any, _T]], obj: Any, make: Callable[[], _T]) -> _T:
    """``make()`` once per object ``obj`` of a cached object (never changed in place: a changed
    spec is a new object), kept in ``memo`` by id with the object itself (so the id stays its
    own); an exception is not kept. Bounded: cleared at BY_OBJECT_ENTRIES."""
    hit = memo.get(id(obj))
    if hit is not None and hit[0] is obj:
        return hit[1]
    value = make()
    if len(memo) >= BY_OBJECT_ENTRIES:
        memo.clear()
    memo[id(obj)] = (obj, value)
    return value
