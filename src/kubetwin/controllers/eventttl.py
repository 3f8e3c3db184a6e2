"""Event expiry: the apiserver stores Events with an etcd lease of ``--event-ttl`` (1 h), renewed
by every write (k8s.io/apiserver storage, pkg/registry/core/event/storage/storage.go TTLFunc).

kubetwin has no lease-backed storage, so this tiny controller deletes an Event ``EVENT_TTL``
seconds after its last write (the newest of lastTimestamp, eventTime, series.lastObservedTime and
creationTimestamp).

Events are written at the current instant, so their expiries arrive in order: they wait in a FIFO
behind one timer instead of one event-loop timer each (a busy cluster holds hundreds of thousands of
Events, and each timer was a push into the loop's heap). An expiry earlier than the FIFO's newest
(an Event written with old timestamps, or restored from a data dir) takes the work queue's own delay.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from kubetwin.api.errors import ApiError
from kubetwin.client.controller import Controller
from kubetwin.controllers import _util as u
from kubetwin.sim import Handle

EVENT_TTL = 3600.0


class EventTTLController(Controller):
    name = "event-ttl"
    priority = 80

    def start(self) -> None:
        self._fifo: deque[tuple[float, str]] = deque()  # (expiry, key), expiries non-decreasing
        self._waiting: dict[str, float] = {}  # key -> its expiry in the FIFO
        self._timer: Handle | None = None
        self.informer = self.informers.get("events")
        self.informer.add_handler(self._schedule, lambda o, n: self._schedule(n))

    def _last_write(self, ev: dict[str, Any]) -> float:
        """The newest of creationTimestamp, lastTimestamp, eventTime and series.lastObservedTime
        (an Event's timestamps are the times it was written)."""
        last = u.created(self.loop, ev)
        created = (ev.get("metadata") or {}).get("creationTimestamp")
        series = ev.get("series")
        for v in (ev.get("lastTimestamp"), ev.get("eventTime"), series.get("lastObservedTime") if isinstance(series, dict) else None):
            if v and v != created:  # most Events: lastTimestamp is the creation time
                t = u.ts(self.loop, v)
                if t is not None and t > last:
                    last = t
        return last

    def _schedule(self, ev: dict[str, Any]) -> None:
        m = ev["metadata"]
        ns = m.get("namespace")
        self._expire_at(f"{ns}/{m['name']}" if ns else m["name"], self._last_write(ev) + EVENT_TTL)

    def _expire_at(self, key: str, due: float) -> None:
        if key in self._waiting:
            return  # an earlier look is due; reconcile sees any later write then
        if self._fifo and due < self._fifo[-1][0]:
            self.queue.add_after(key, due - self.loop.now)
            return
        self._fifo.append((due, key))
        self._waiting[key] = due
        if self._timer is None:
            self._arm()

    def _arm(self) -> None:
        self._timer = self.loop.call_at(max(self._fifo[0][0], self.loop.now), self._fire, self.priority,
                                        f"{self.name}:expire")  # fmt: skip

    def _fire(self) -> None:
        self._timer = None
        now = self.loop.now
        while self._fifo and self._fifo[0][0] <= now:
            _, key = self._fifo.popleft()
            self._waiting.pop(key, None)
            self.queue.add(key)
        if self._fifo:
            self._arm()

    def reconcile(self, key: str) -> float | None:
        ev = self.informer.get_by_key(key)
        if ev is None:
            return None
        remaining = self._last_write(ev) + EVENT_TTL - self.loop.now
        if remaining > 0:
            self._expire_at(key, self.loop.now + remaining)
            return None
        ns, _, name = key.partition("/")
        try:
            self.client.delete("events", name, ns, copy=False)
        except ApiError as e:
            if e.code != 404:
                raise
        return None
