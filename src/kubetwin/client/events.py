"""Event recording (k8s.io/client-go/tools/record: event.go, events_cache.go).

Events are core/v1 Event objects. Like the upstream EventCorrelator, an event identical to a
recent one (same object, type, reason, message and source) bumps ``count`` and
``lastTimestamp`` instead of creating a new object.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from kubetwin.api.errors import ApiError
from kubetwin.client.client import Client

NORMAL = "Normal"
MAX_LRU_CACHE_ENTRIES = 4096  # events_cache.go maxLruCacheEntries
WARNING = "Warning"


class EventRecorder:
    def __init__(self, client: Client, component: str, host: str = "") -> None:
        self.client = client
        self.component = component
        self.host = host
        self._seen: OrderedDict[tuple[str, ...], tuple[str, str]] = OrderedDict()
        self._seq = 0

    def event(
        self, obj: dict[str, Any], type_: str, reason: str, message: str, annotations: dict[str, str] | None = None
    ) -> None:
        """Record an event (``annotations``: AnnotatedEventf's Event.metadata.annotations)."""
        meta = obj.get("metadata", {})
        ns = meta.get("namespace") or "default"
        involved = {
            "kind": obj.get("kind", ""),
            "namespace": meta.get("namespace", ""),
            "name": meta.get("name", ""),
            "uid": meta.get("uid", ""),
            "apiVersion": obj.get("apiVersion", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        if not involved["namespace"]:
            involved.pop("namespace")
        now = self.client.clock.timestamp()
        dedupe = (involved["uid"], involved["kind"], involved["name"], type_, reason, message)
        prior = self._seen.get(dedupe)
        if prior is not None:
            self._seen.move_to_end(dedupe)
            ev_ns, ev_name = prior
            try:
                # the correlator's patch of count and lastTimestamp, on the stored event as it is
                registry = self.client.registry
                current = registry.get("events", ev_name, ev_ns, copy=False)
                registry.set_fields_trusted("events", ev_ns, ev_name, None,
                                            {"count": int(current.get("count", 1)) + 1, "lastTimestamp": now})  # fmt: skip
                return
            except ApiError:
                self._seen.pop(dedupe, None)
        self._seq += 1
        name = f"{involved['name']}.{int(self.client.clock.now * 1e9) + self._seq:x}"
        source: dict[str, str] = {"component": self.component}
        if self.host:
            source["host"] = self.host
        ev = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": ns, **({"annotations": dict(annotations)} if annotations else {})},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "type": type_,
            "source": source,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "reportingComponent": self.component,
            "reportingInstance": self.host,
        }
        try:
            # The event is built here and not kept: hand it over without defensive copies.
            self.client.create(ev, owned=True)
        except ApiError:
            return  # events are best effort, as upstream
        self._seen[dedupe] = (ns, name)
        if len(self._seen) > MAX_LRU_CACHE_ENTRIES:
            self._seen.popitem(last=False)

    def normal(self, obj: dict[str, Any], reason: str, message: str) -> None:
        self.event(obj, NORMAL, reason, message)

    def warning(self, obj: dict[str, Any], reason: str, message: str) -> None:
        self.event(obj, WARNING, reason, message)
