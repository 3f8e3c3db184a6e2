"""The events.k8s.io/v1 recorder (k8s.io/client-go/tools/events: event_recorder.go and
event_broadcaster.go), which kube-scheduler records through.

An event is ``Eventf(regarding, related, type, reason, action, note)``. The broadcaster keeps the
events it wrote in a cache keyed by (type, action, reason, reportingController, reportingInstance,
regarding, related): the note is not part of the key, and ``regarding`` is the whole object
reference, resourceVersion included (a pod whose status the scheduler has since updated starts a new
event).

- First occurrence: the event is created (``eventTime`` set; no ``count``, ``firstTimestamp`` or
  ``lastTimestamp``) and cached.
- Second: the cached event gets ``series`` {count 2, lastObservedTime now} and is written at once
  (a patch of ``series``; a patch finding the event gone creates it again, series included).
- Later ones only raise the cached series' count and lastObservedTime.
- Every 30 minutes (refreshTime) every cached series is written again; every 6 minutes (finishTime)
  a series last observed more than 6 minutes ago is written with its final count and leaves the
  cache, and a singleton created more than 6 minutes ago leaves the cache. Both run on the virtual
  clock from the recorder's start, as ``wait.Until`` ticks, and only while the cache holds entries.

The API server stores such an event as a core/v1 Event with the events.k8s.io fields mapped
(pkg/apis/events/v1 conversion): ``regarding`` -> ``involvedObject``, ``note`` -> ``message``,
``reportingController`` -> ``reportingComponent``; the deprecated ``source``, ``firstTimestamp``,
``lastTimestamp`` and ``count`` are empty (``{}``, null, null, absent), which is what is stored here.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from kubetwin.api.errors import ApiError
from kubetwin.client.client import Client
from kubetwin.client.events import event_name, metadata_valid
from kubetwin.sim import Handle

NORMAL = "Normal"
WARNING = "Warning"
FINISH_TIME = 6 * 60.0  # event_broadcaster.go finishTime
REFRESH_TIME = 30 * 60.0  # refreshTime
NOTE_LENGTH_LIMIT = 1024  # pkg/apis/core/validation NoteLengthLimit (bytes)
PRIORITY = 25  # at one instant: after the scheduler's cycle (20)
DEFAULT_HOST = "kubetwin"  # os.Hostname() of the control plane
_REF_KEYS_MAX = 4096


def truncate_note(message: str) -> str:
    """schedule_one.go truncateMessage: a note longer than the limit ends in " ..."."""
    n = len(message)
    if n <= NOTE_LENGTH_LIMIT and (message.isascii() or len(message.encode()) <= NOTE_LENGTH_LIMIT):
        return message
    cut = message.encode()[: NOTE_LENGTH_LIMIT - 4]
    return cut.decode(errors="ignore") + " ..."


def object_reference(obj: dict[str, Any]) -> dict[str, str]:
    """reference.GetReference: kind, namespace (when namespaced), name, uid, apiVersion and
    resourceVersion of ``obj``."""
    meta = obj.get("metadata") or {}
    ref = {"kind": obj.get("kind", "")}
    ns = meta.get("namespace", "")
    if ns:
        ref["namespace"] = ns
    ref["name"] = meta.get("name", "")
    ref["uid"] = meta.get("uid", "")
    ref["apiVersion"] = obj.get("apiVersion", "")
    ref["resourceVersion"] = meta.get("resourceVersion", "")
    return ref


def _ref_key(ref: dict[str, str] | None) -> tuple[str, ...]:
    if ref is None:
        return ()
    return (ref.get("kind", ""), ref.get("namespace", ""), ref["name"], ref["uid"], ref["apiVersion"],
            ref["resourceVersion"], ref.get("fieldPath", ""))  # fmt: skip


class _Cached:
    """One cached event: the object as created (the stored one, read-only: a re-create builds its
    own metadata) and its series."""

    __slots__ = ("namespace", "name", "event", "created", "count", "observed", "observed_text")

    def __init__(self, namespace: str, name: str, event: dict[str, Any], created: float) -> None:
        self.namespace = namespace
        self.name = name
        self.event = event
        self.created = created  # eventTime, virtual seconds
        self.count = 0  # series count; 0 for a singleton
        self.observed = created  # series lastObservedTime (virtual seconds)
        self.observed_text = ""

    def series(self) -> dict[str, Any]:
        return {"count": self.count, "lastObservedTime": self.observed_text}


class SeriesEventRecorder:
    """An events.k8s.io recorder (``NewRecorder(scheme, reportingController)``) and its broadcaster's
    cache, writing to the cluster through ``client``."""

    def __init__(self, client: Client, controller: str, host: str = DEFAULT_HOST) -> None:
        self.client = client
        self.controller = controller
        self.instance = f"{controller}-{host}"
        self.loop = client.clock
        self._origin = self.loop.now  # wait.Until ticks: origin + k * finishTime (k >= 1)
        # key -> cached event, in order of last observation (a singleton: its creation)
        self._cache: OrderedDict[tuple[Any, ...], _Cached] = OrderedDict()
        self._timer: Handle | None = None
        self.observed = 0  # occurrences recorded (every Eventf call)
        self._ref_keys: dict[int, tuple[dict[str, Any], dict[str, str], tuple[str, ...]]] = {}  # see _ref_of

    # -- recording ------------------------------------------------------------------------------
    def eventf(
        self, regarding: dict[str, Any], related: dict[str, Any] | None, type_: str, reason: str, action: str,
        note: str,
    ) -> None:  # fmt: skip
        """EventRecorder.Eventf, then the broadcaster's recordToSink."""
        self.observed += 1
        regarding_ref, regarding_key = self._ref_of(regarding)
        related_ref, related_key = self._ref_of(related) if related is not None else (None, ())
        key = (type_, action, reason, regarding_key, related_key)
        now = self.loop.now
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            cached.observed = now
            cached.observed_text = self.loop.micro_timestamp()
            if cached.count:
                cached.count += 1  # written by the next refresh or when the series finishes
                return
            cached.count = 2
            self._write_series(cached)
            return
        # the kept references are read-only, like the stored events that share them
        ns = regarding_ref.get("namespace") or "default"
        name = self._new_name(regarding_ref["name"], now)
        ev: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": regarding_ref,
            "reason": reason,
            "message": note,
            "type": type_,
            "source": {},
            "firstTimestamp": None,
            "lastTimestamp": None,
            "eventTime": self.loop.micro_timestamp(),
            "action": action,
            "reportingComponent": self.controller,
            "reportingInstance": self.instance,
        }
        if related_ref is not None:
            ev["related"] = related_ref
        self._cache[key] = _Cached(ns, name, ev, now)
        self._create(ev, metadata_valid(regarding_ref["name"], name, ns))
        self._arm()

    def _ref_of(self, obj: dict[str, Any]) -> tuple[dict[str, str], tuple[str, ...]]:
        """(object_reference(obj), its key), kept per object: a component records about the same
        (unchanging) object version again and again, e.g. a pod failing to schedule on every
        attempt until its status is written (read-only: copy the reference)."""
        hit = self._ref_keys.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1], hit[2]
        ref = object_reference(obj)
        key = _ref_key(ref)
        if len(self._ref_keys) >= _REF_KEYS_MAX:
            self._ref_keys.clear()
        self._ref_keys[id(obj)] = (obj, ref, key)  # holds obj: its id stays its own
        return ref, key

    def normal(self, obj: dict[str, Any], reason: str, action: str, note: str) -> None:
        self.eventf(obj, None, NORMAL, reason, action, note)

    def warning(self, obj: dict[str, Any], reason: str, action: str, note: str) -> None:
        self.eventf(obj, None, WARNING, reason, action, note)

    def _new_name(self, regarding: str, now: float) -> str:
        """The name of an event about ``regarding`` recorded at virtual ``now``."""
        return event_name(regarding, self.client.registry.event_stamp(now))

    # -- writing --------------------------------------------------------------------------------
    def _create(self, ev: dict[str, Any], validated: bool) -> None:
        try:
            self.client.registry.create_event(ev, validated)  # built in its stored form, handed over
        except ApiError:
            pass  # events are best effort; a rejected event is not retried

    def _write_series(self, cached: _Cached) -> None:
        """recordEvent for a series: a patch of ``series``; when the event is gone it is created
        again as cached, series included. A patch changing nothing writes nothing."""
        series = cached.series()
        registry = self.client.registry
        current = registry.store.get("events", cached.namespace, cached.name)
        if current is None:
            # created again as first built: the stored metadata holds what the registry added
            ns, name = cached.namespace, cached.name
            base = cached.event["involvedObject"]["name"]
            ev = {**cached.event, "metadata": {"name": name, "namespace": ns}, "series": series}
            self._create(ev, metadata_valid(base, name, ns))
            return
        if current.get("series") == series:
            return
        try:
            registry.set_fields_trusted("events", cached.namespace, cached.name, None, {"series": series})
        except ApiError:
            pass

    # -- periodic refresh and finish ------------------------------------------------------------
    def _arm(self) -> None:
        if self._timer is not None:
            return
        elapsed = self.loop.now - self._origin
        ticks = int(elapsed // FINISH_TIME) + 1
        self._timer = self.loop.call_at(self._origin + ticks * FINISH_TIME, self._tick, PRIORITY,
                                        f"events:{self.controller}")  # fmt: skip

    def _tick(self) -> None:
        self._timer = None
        now = self.loop.now
        k = round((now - self._origin) / FINISH_TIME)
        if k % round(REFRESH_TIME / FINISH_TIME) == 0:
            self.refresh()
        self.finish()
        if self._cache:
            self._arm()

    def refresh(self) -> None:
        """refreshExistingEventSeries: every cached series written again."""
        for cached in list(self._cache.values()):
            if cached.count:
                self._write_series(cached)

    def finish(self) -> None:
        """finishSeries: series last observed, and singletons created, more than finishTime ago
        leave the cache (a series written with its final count first). The cache is in order of
        last observation, so the scan stops at the first recent entry."""
        cutoff = self.loop.now - FINISH_TIME
        cache = self._cache
        while cache:
            key, cached = cache.popitem(last=False)
            if not cached.observed < cutoff:
                cache[key] = cached
                cache.move_to_end(key, last=False)
                return
            if cached.count:
                self._write_series(cached)
