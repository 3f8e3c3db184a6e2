"""Storage TTL: objects of a resource expire a fixed time after their last write.

The apiserver stores Events with an etcd lease of ``--event-ttl`` (1 h), attached again by every
write (pkg/registry/core/event/storage/storage.go: the TTLFunc returns the TTL for creates and
updates; k8s.io/apiserver/pkg/storage/etcd3/store.go puts the key with that lease). When the lease
runs out etcd removes the key and watchers see it deleted; no controller is involved.

Here every write of the resource notes "due = now + ttl" for its key. Writes happen at the
current instant, so dues arrive in order: they wait in one FIFO behind one event-loop timer (a busy
cluster holds hundreds of thousands of Events; a timer each would fill the loop's heap). The FIFO
holds one entry per due: the keys written with it, in order of their first write, each with the
object its last one stored (every write stores a new object). A key whose stored object is another
one when its due comes up (written again since, or deleted) is skipped: the write that replaced it
noted its own due. So a write costs one dict assignment into the newest entry and a deletion
nothing (the TTL does not even hear of deletions); a due's keys go to the store in one call
(``Store.delete_written_all``). Objects already stored when the TTL is set up (a
restored data directory) count from the newest timestamp they carry.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

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
        # (due, key -> the object its last write with that due stored), dues increasing
        self._fifo: deque[tuple[float, dict[Key, dict[str, Any]]]] = deque()
        self._timer: Handle | None = None
        existing = sorted(((self._last_write(obj) + seconds, object_key(obj)), obj) for obj in store.iter(resource))
        for (due, key), obj in existing:
            self._note(key, obj, due)
        store.add_listener(self._on_write, resource, deletes=False)

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
        # (no deletions: a deleted key's entries find it gone, or another object, when due)
        obj = ev.object
        self._note(object_key(obj), obj, self.clock.now + self.seconds)

    def _note(self, key: Key, obj: dict[str, Any], due: float) -> None:
        fifo = self._fifo
        if fifo and fifo[-1][0] == due:
            fifo[-1][1][key] = obj  # written again at this due: one entry, where it was first written
        else:
            fifo.append((due, {key: obj}))
        if self._timer is None:
            self._arm()

    def _arm(self) -> None:
        when = max(self._fifo[0][0], self.clock.now)
        self._timer = self.clock.call_at(when, self._fire, PRIORITY, f"store-ttl:{self.resource}")

    def _fire(self) -> None:
        self._timer = None
        now = self.clock.now
        fifo = self._fifo
        expired = 0
        while fifo and fifo[0][0] <= now:
            # not when deleted, or written again since (that write's due is queued later)
            expired += self.store.delete_written_all(self.resource, fifo.popleft()[1])
        self.expired += expired
        if fifo:
            self._arm()
