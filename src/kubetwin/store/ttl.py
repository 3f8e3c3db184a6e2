"""Storage TTL: objects of a resource expire a fixed time after their last write.

The apiserver stores Events with an etcd lease of ``--event-ttl`` (1 h), attached again by every
write (pkg/registry/core/event/storage/storage.go: the TTLFunc returns the TTL for creates and
updates; k8s.io/apiserver/pkg/storage/etcd3/store.go puts the key with that lease). When the lease
runs out etcd removes the key and watchers see it deleted; no controller is involved.

Here every write of the resource notes "due = now + ttl" for its key. Writes happen at the
current instant, so dues arrive in order: they wait in one FIFO behind one event-loop timer (a busy
cluster holds hundreds of thousands of Events; a timer each would fill the loop's heap). An entry
whose key was written again since is stale and skipped when it comes up. Objects already stored
when the TTL is set up (a restored data directory) count from the newest timestamp they carry.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from kubetwin.api.errors import ApiError
from kubetwin.store.storage import Key, object_key

if TYPE_CHECKING:
    from kubetwin.sim import EventLoop, Handle
    from kubetwin.store.storage import Store, WatchEvent

EVENT_TTL = 3600.0  # kube-apiserver --event-ttl default
PRIORITY = 80  # at one instant: after controllers (10), the scheduler (20) and kubelets (30)
_TIMESTAMP_FIELDS = ("lastTimestamp", "eventTime")


class StoreTTL:
    def __init__(self, store: Store, clock: EventLoop, resource: str, seconds: float) -> None:
        self.store = store
        self.clock = clock
        self.resource = resource
        self.seconds = seconds
        self.expired = 0  # objects removed so far
        self._due: dict[Key, float] = {}  # key -> its current expiry
        self._fifo: deque[tuple[float, Key]] = deque()  # (expiry, key), expiries non-decreasing
        self._timer: Handle | None = None
        existing = sorted((self._last_write(obj) + seconds, object_key(obj)) for obj in store.iter(resource))
        for due, key in existing:
            self._note(key, due)
        store.add_listener(self._on_write, resource)

    def _last_write(self, obj: dict[str, Any]) -> float:
        """For an object stored before the TTL was set up: the newest of its timestamps."""
        times = [(obj.get("metadata") or {}).get("creationTimestamp")]
        times += [obj.get(f) for f in _TIMESTAMP_FIELDS]
        series = obj.get("series")
        if isinstance(series, dict):
            times.append(series.get("lastObservedTime"))
        parsed = []
        for t in times:
            if isinstance(t, str) and t:
                try:
                    parsed.append(self.clock.parse_timestamp(t))
                except ValueError:
                    continue
        return max(parsed, default=self.clock.now)

    def _on_write(self, ev: WatchEvent) -> None:
        key = object_key(ev.object)
        if ev.type == "DELETED":
            self._due.pop(key, None)
        else:
            self._note(key, self.clock.now + self.seconds)

    def _note(self, key: Key, due: float) -> None:
        self._due[key] = due
        self._fifo.append((due, key))
        if self._timer is None:
            self._arm()

    def _arm(self) -> None:
        when = max(self._fifo[0][0], self.clock.now)
        self._timer = self.clock.call_at(when, self._fire, PRIORITY, f"store-ttl:{self.resource}")

    def _fire(self) -> None:
        self._timer = None
        now = self.clock.now
        fifo, due_of = self._fifo, self._due
        delete, resource = self.store.delete, self.resource
        expired = 0
        while fifo and fifo[0][0] <= now:
            due, key = fifo.popleft()
            if due_of.get(key) != due:
                continue  # written again (a later entry is queued) or already gone
            del due_of[key]
            try:  # a key with a due is stored (its deletion, DELETED, drops the due)
                delete(resource, key[0], key[1])
            except ApiError:
                continue
            expired += 1
        self.expired += expired
        if fifo:
            self._arm()

