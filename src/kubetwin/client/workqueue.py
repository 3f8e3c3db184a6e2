"""A de-duplicating, rate-limited work queue driven by the virtual clock
(k8s.io/client-go/util/workqueue: queue.go, delaying_queue.go, default_rate_limiters.go).

- ``add(key)``: a key waiting is not added twice; a key being processed is marked dirty and
  re-queued once processing ends.
- ``add_after(key, delay)``: delayed add on the virtual clock.
- ``add_rate_limited(key)``: per-item exponential back-off (5 ms doubling to 1000 s, as
  DefaultControllerRateLimiter's ItemExponentialFailureRateLimiter); ``forget(key)`` resets it.

Processing is scheduled on the event loop: the first add at a virtual instant schedules a drain
that calls ``process(key)`` for every queued key in FIFO order.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from kubetwin.sim import EventLoop, Handle

BASE_DELAY = 0.005
MAX_DELAY = 1000.0


class RateLimiter:
    def __init__(self, base: float = BASE_DELAY, cap: float = MAX_DELAY) -> None:
        self.base = base
        self.cap = cap
        self._failures: dict[str, int] = {}

    def when(self, key: str) -> float:
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        if n >= 64:  # 2**n would overflow a float long before n = 1024; the cap is reached anyway
            return self.cap
        return min(self.base * (2**n), self.cap)

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def retries(self, key: str) -> int:
        return self._failures.get(key, 0)


class WorkQueue:
    def __init__(
        self,
        loop: EventLoop,
        process: Callable[[str], None],
        name: str = "",
        rate_limiter: RateLimiter | None = None,
        priority: int = 0,
    ) -> None:
        self.loop = loop
        self.process = process
        self.name = name
        self.rate_limiter = rate_limiter or RateLimiter()
        self.priority = priority
        self._queue: OrderedDict[str, None] = OrderedDict()
        self._processing: set[str] = set()
        self._dirty: set[str] = set()
        self._delayed: dict[str, Handle] = {}
        self._drain: Handle | None = None
        self.processed = 0

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, key: str) -> None:
        if key in self._processing:
            self._dirty.add(key)
            return
        if key in self._queue:
            return
        self._queue[key] = None
        self._schedule_drain()

    def add_after(self, key: str, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        due = self.loop.now + delay
        existing = self._delayed.get(key)
        if existing is not None and not existing.cancelled and existing.time <= due:
            return  # an earlier wake-up is already scheduled
        if existing is not None:
            existing.cancel()

        def fire() -> None:
            self._delayed.pop(key, None)
            self.add(key)

        self._delayed[key] = self.loop.call_at(due, fire, self.priority, f"{self.name}:delay")

    def add_rate_limited(self, key: str) -> None:
        self.add_after(key, self.rate_limiter.when(key))

    def forget(self, key: str) -> None:
        self.rate_limiter.forget(key)

    def _schedule_drain(self) -> None:
        if self._drain is None:
            self._drain = self.loop.call_soon(self._run, self.priority, f"{self.name}:drain")

    def _run(self) -> None:
        self._drain = None
        # Snapshot: keys added while draining run in the next drain at the same virtual instant.
        batch = list(self._queue)
        self._queue.clear()
        for i, key in enumerate(batch):
            self._processing.add(key)
            try:
                self.process(key)
                self.processed += 1
            except BaseException:
                # A bug in process() propagates, but the keys behind it in this batch stay queued.
                later = list(self._queue)
                self._queue.clear()
                for k in [*batch[i + 1 :], *later]:
                    self._queue[k] = None
                if self._queue:
                    self._schedule_drain()
                raise
            finally:
                self._processing.discard(key)
                if key in self._dirty:
                    self._dirty.discard(key)
                    self.add(key)
