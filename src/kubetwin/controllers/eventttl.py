"""Event expiry: the apiserver stores Events with an etcd lease of ``--event-ttl`` (1 h), renewed
by every write (k8s.io/apiserver storage, pkg/registry/core/event/storage/storage.go TTLFunc).

kubetwin has no lease-backed storage, so this tiny controller deletes an Event ``EVENT_TTL``
seconds after its last write (the newest of lastTimestamp, eventTime, series.lastObservedTime and
creationTimestamp).
"""

from __future__ import annotations

from typing import Any

from kubetwin.api.errors import ApiError
from kubetwin.client.controller import Controller
from kubetwin.controllers import _util as u

EVENT_TTL = 3600.0


class EventTTLController(Controller):
    name = "event-ttl"
    priority = 80

    def start(self) -> None:
        self.informer = self.informers.get("events")
        self.informer.add_handler(self._schedule, lambda o, n: self._schedule(n))

    def _last_write(self, ev: dict[str, Any]) -> float:
        times = [u.created(self.loop, ev)]
        for v in (ev.get("lastTimestamp"), ev.get("eventTime"), (ev.get("series") or {}).get("lastObservedTime")):
            t = u.ts(self.loop, v)
            if t is not None:
                times.append(t)
        return max(times)

    def _schedule(self, ev: dict[str, Any]) -> None:
        m = ev["metadata"]
        key = f"{m.get('namespace', '')}/{m['name']}"
        self.queue.add_after(key, self._last_write(ev) + EVENT_TTL - self.loop.now)

    def reconcile(self, key: str) -> float | None:
        ev = self.informer.get_by_key(key)
        if ev is None:
            return None
        remaining = self._last_write(ev) + EVENT_TTL - self.loop.now
        if remaining > 0:
            return remaining
        ns, _, name = key.partition("/")
        try:
            self.client.delete("events", name, ns, copy=False)
        except ApiError as e:
            if e.code != 404:
                raise
        return None
