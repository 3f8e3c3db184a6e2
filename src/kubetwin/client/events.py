"""Event recording (k8s.io/client-go/tools/record: event.go, events_cache.go).

Events are core/v1 Event objects. The recorder (the legacy one the kubelet, the controllers and the
cluster autoscaler use) runs upstream's EventCorrelator on each event:

- the aggregator: events alike but for their message (same source, object, type and reason) are
  counted per 10 minutes since the last one; from the 10th distinct message on they become one
  event "(combined from similar events): <message>";
- the logger: an event identical to one recorded before (the aggregate counts as one) bumps that
  event's ``count`` and ``lastTimestamp`` (and message) instead of creating an object;
- the spam filter: per source and object, a token bucket of 25 refilled at one per 5 minutes; an
  event (new or a bump) finding it empty is dropped.

Caches hold 4,096 entries (maxLruCacheEntries) each. The scheduler records through the
events.k8s.io API instead (k8s.io/client-go/tools/events): client/eventseries.py.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from typing import Any

from kubetwin.api.errors import ApiError
from kubetwin.api.selectors import DNS1123_SUBDOMAIN_MAX_LENGTH, is_dns1123_subdomain
from kubetwin.api.validation import dns1123_label_errors
from kubetwin.client.client import Client

NORMAL = "Normal"
MAX_LRU_CACHE_ENTRIES = 4096  # events_cache.go maxLruCacheEntries
WARNING = "Warning"
DEFAULT_SPAM_BURST = 25  # events_cache.go defaultSpamBurst
DEFAULT_SPAM_QPS = 1.0 / 300.0  # defaultSpamQPS: one event per 5 minutes
DEFAULT_AGGREGATE_MAX_EVENTS = 10  # defaultAggregateMaxEvents
DEFAULT_AGGREGATE_INTERVAL = 600.0  # defaultAggregateIntervalInSeconds
AGGREGATE_PREFIX = "(combined from similar events): "  # EventAggregatorByReasonMessageFunc


class _Bucket:
    """flowcontrol's token bucket (golang.org/x/time/rate): ``burst`` tokens at first, refilled
    continuously at ``qps``; ``take`` spends one when there is one."""

    __slots__ = ("tokens", "last")

    def __init__(self, now: float) -> None:
        self.tokens = float(DEFAULT_SPAM_BURST)
        self.last = now

    def take(self, now: float) -> bool:
        self.tokens = min(float(DEFAULT_SPAM_BURST), self.tokens + (now - self.last) * DEFAULT_SPAM_QPS)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def _lru_put(cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    """Set ``key`` as the most recently used entry, dropping the least recent past the maximum."""
    cache[key] = value
    cache.move_to_end(key)
    if len(cache) > MAX_LRU_CACHE_ENTRIES:
        cache.popitem(last=False)


def event_count(ev: dict[str, Any]) -> int:
    """How many times a stored Event happened: ``series.count`` for an events.k8s.io series,
    else the deprecated ``count`` (absent, as on an events.k8s.io singleton, means 1), as kubectl's
    describe and event printer read it."""
    series = ev.get("series")
    if isinstance(series, dict):
        return int(series.get("count") or 1)
    return int(ev.get("count") or 1)


def event_name(base: str, stamp: int) -> str:
    """util.GenerateEventName: ``<base>.<time as hex>``, the time in nanoseconds (``stamp``, from
    ``Registry.event_stamp``: unique among the registry's events)."""
    return f"{base}.{stamp:x}"


@functools.lru_cache(maxsize=MAX_LRU_CACHE_ENTRIES)
def _base_valid(base: str, namespace: str) -> bool:
    return not is_dns1123_subdomain(base) and not dns1123_label_errors(namespace)


def metadata_valid(base: str, name: str, namespace: str) -> bool:
    """Whether validation would find nothing in an Event whose metadata is just ``name`` (made by
    ``event_name`` from ``base``) and ``namespace`` (an Event's validation reads only its
    metadata), answered without running it: the name is the base, a dot and hex digits, so it is a
    DNS-1123 subdomain exactly when the base is one, the digits carry no sign and the whole fits
    in 253 characters; and the namespace must be a DNS-1123 label. Base and namespace are the
    regarding object's, the same for many events: their answer is memoised. False means
    "validate as usual", not "invalid"."""
    return len(name) <= DNS1123_SUBDOMAIN_MAX_LENGTH and name[len(base) + 1] != "-" and _base_valid(base, namespace)


# A spam bucket untouched this long is full again (25 tokens at one per 300 s), the same as a new
# one; an aggregation record older than its interval starts afresh anyway. Such entries are
# dropped (oldest first: the caches are in last-use order), so a kubelet's caches hold the pods
# of the last hours, not every pod it ever ran, and answers stay the same.
_SPAM_FULL_AFTER = DEFAULT_SPAM_BURST / DEFAULT_SPAM_QPS
# How often a recorder drops them. Any interval gives the same answers (an entry that has run out
# acts as a missing one, and both caches hold their most recent entries whatever is dropped), so
# the pass runs once per bucket refill time, not every aggregation interval: a kubelet records
# a few events an hour, and a pass every 10 minutes over 1,000 kubelets cost more than the
# entries it dropped (0.4% of the bench's day).
_PRUNE_INTERVAL = _SPAM_FULL_AFTER


def _involved(about: tuple[str, ...], rv: str) -> dict[str, str]:
    """reference.GetReference of the recorded object from its (kind, namespace, name, uid,
    apiVersion) and resourceVersion: built for the events created, not for every one recorded."""
    kind, ns, name, uid, api_version = about
    if ns:
        return {"kind": kind, "namespace": ns, "name": name, "uid": uid, "apiVersion": api_version,
                "resourceVersion": rv}  # fmt: skip
    return {"kind": kind, "name": name, "uid": uid, "apiVersion": api_version, "resourceVersion": rv}


def _drop_stale(cache: OrderedDict[Any, Any], stale: Any) -> None:
    """Drop the entries ``stale`` accepts from the front of ``cache`` (least recently used first),
    up to the first it refuses: popped and, that one, put back in front (a pass drops a kubelet's
    pods of the last two hours: a popitem each costs ~40% less than reading the first item and
    deleting its key). When even the most recent entry is stale, so is every one (their times
    only grow towards the back): the cache is emptied at once, as a kubelet's are at most passes,
    its last pod events being hours old."""
    if cache and stale(next(reversed(cache.values()))):
        cache.clear()
        return
    while cache:
        key, value = cache.popitem(last=False)
        if not stale(value):
            cache[key] = value
            cache.move_to_end(key, last=False)
            return


class EventRecorder:
    def __init__(self, client: Client, component: str, host: str = "") -> None:
        self.client = client
        self.component = component
        self.host = host
        # every event's source: one dict, shared by the stored events (read-only, like every stored value)
        self._source = {"component": component, "host": host} if host else {"component": component}
        # logger: event key -> (namespace, name, count, firstTimestamp) of its event
        self._seen: OrderedDict[tuple[str, ...], tuple[str, str, int, str]] = OrderedDict()
        # aggregator: (object, type, reason) -> [messages seen, last time]
        self._similar: OrderedDict[tuple[str, ...], tuple[set[str], float]] = OrderedDict()
        self._spam: OrderedDict[tuple[str, ...], _Bucket] = OrderedDict()  # object -> token bucket
        self.dropped = 0  # events the spam filter refused
        self._pruned_at = 0.0

    def event(
        self, obj: dict[str, Any], type_: str, reason: str, message: str, annotations: dict[str, str] | None = None
    ) -> None:
        """Record an event (``annotations``: AnnotatedEventf's Event.metadata.annotations).

        One pass through the correlator (aggregator, logger, spam filter): this runs for every
        event of every kubelet and controller."""
        meta = obj.get("metadata", {})
        obj_ns = meta.get("namespace", "")
        kind = obj.get("kind", "")
        name = meta.get("name", "")
        uid = meta.get("uid", "")
        api_version = obj.get("apiVersion", "")
        if not obj_ns:
            obj_ns = ""
        clock = self.client.clock
        now_s = clock.now
        now = clock.timestamp()
        if now_s - self._pruned_at >= _PRUNE_INTERVAL:
            self._prune()
        # EventAggregator: alike events (all but the message) within 10 minutes of the last one,
        # counted by distinct message; from the 10th on they are the one aggregate event.
        similar_key = (kind, obj_ns, name, uid, api_version, type_, reason)
        similar = self._similar
        record = similar.get(similar_key)
        messages = set() if record is None or now_s - record[1] > DEFAULT_AGGREGATE_INTERVAL else record[0]
        messages.add(message)
        _lru_put(similar, similar_key, (messages, now_s))
        if len(messages) < DEFAULT_AGGREGATE_MAX_EVENTS:
            dedupe: tuple[str, ...] = (uid, kind, name, type_, reason, message)
        else:
            messages.discard(next(iter(messages)))  # do not grow the set past the maximum (PopAny)
            dedupe = ("aggregate", *similar_key)
            message = AGGREGATE_PREFIX + message
        # EventLogger.eventObserve: the count moves even when the spam filter then drops the event
        seen_cache = self._seen
        prior = seen_cache.get(dedupe)
        if prior is None:
            seen = (obj_ns or "default", self._new_name(name, now_s), 1, now)
        else:
            seen = (prior[0], prior[1], prior[2] + 1, prior[3])
        _lru_put(seen_cache, dedupe, seen)
        # EventSourceObjectSpamFilter: one token per event from this source about this object
        about = similar_key[:5]
        spam = self._spam
        bucket = spam.get(about)
        if bucket is None:
            bucket = _Bucket(now_s)
        _lru_put(spam, about, bucket)
        if not bucket.take(now_s):
            self.dropped += 1
            return
        ev_ns, ev_name, count, first = seen
        if count > 1 and self._bump(ev_ns, ev_name, now, count, message):
            return
        # new, or its event is gone (expired): created with the logger's name and count
        involved = _involved(about, meta.get("resourceVersion", ""))
        self._create(ev_ns, ev_name, involved, type_, reason, message, annotations, first, now, count)

    def _new_name(self, name: str, now: float) -> str:
        """The name of an event about ``name`` recorded at virtual ``now``."""
        return event_name(name, self.client.registry.event_stamp(now))

    def _bump(self, ns: str, name: str, now: str, count: int, message: str) -> bool:
        """The correlator's patch on the stored event: ``count``, lastTimestamp, and the message
        when it differs; False when the event is gone."""
        registry = self.client.registry
        current = registry.store.get("events", ns, name)
        if current is None:
            return False
        fields: dict[str, Any] = {"count": count, "lastTimestamp": now}
        if message != current.get("message"):
            fields["message"] = message
        try:
            registry.set_fields_trusted("events", ns, name, None, fields)
        except ApiError:
            return False
        return True

    def _create(
        self, ns: str, name: str, involved: dict[str, str], type_: str, reason: str, message: str,
        annotations: dict[str, str] | None, first: str, now: str, count: int,
    ) -> bool:  # fmt: skip
        metadata: dict[str, Any] = {"name": name, "namespace": ns}
        if annotations:
            metadata["annotations"] = dict(annotations)
        ev = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": metadata,
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "type": type_,
            "source": self._source,
            "firstTimestamp": first,
            "lastTimestamp": now,
            "count": count,
            "reportingComponent": self.component,
            "reportingInstance": self.host,
        }
        validated = not annotations and metadata_valid(involved["name"], name, ns)
        try:
            # The event is built here, in its stored form, and not kept: hand it over as is.
            self.client.registry.create_event(ev, validated)
        except ApiError:
            return False  # events are best effort, as upstream
        return True

    def _prune(self) -> None:
        now = self._pruned_at = self.client.clock.now
        _drop_stale(self._similar, lambda r: now - r[1] > DEFAULT_AGGREGATE_INTERVAL)
        _drop_stale(self._spam, lambda b: now - b.last >= _SPAM_FULL_AFTER)

    def normal(self, obj: dict[str, Any], reason: str, message: str) -> None:
        self.event(obj, NORMAL, reason, message)

    def warning(self, obj: dict[str, Any], reason: str, message: str) -> None:
        self.event(obj, WARNING, reason, message)
