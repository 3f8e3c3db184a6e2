"""The scheduling queue's timers (pod back-off expiries and the unschedulable-pods flush of
pkg/scheduler/backend/queue/scheduling_queue.go) on one event-loop timer.

Upstream runs a goroutine per queue that pops expired back-offs every second and flushes
unschedulable pods every 30 s; the twin fires each at its exact instant instead. Thousands of pods
wait for new nodes at once, each with a back-off expiry and a flush deadline: one loop timer per
entry would cost a closure, a handle and a push onto the loop's (large) heap apiece. Here the
entries sit on a heap of their own, ordered by (time, insertion order), with a single loop timer at
the earliest one.

The order is the one the loop gives a timer per entry at this priority: the loop orders events by
(time, priority, creation order), and the entries at one instant were created in the order of this
heap. The single timer for an instant is always created before that instant, so any other event of
the same priority that the owner schedules *at* that instant (``call_soon``) still runs after the
entries, as it would after per-entry timers created earlier. (Other events of the same priority
created ahead of time for the same instant could interleave differently: the scheduler creates
none.)
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any

from kubetwin.sim import EventLoop, Handle

_Entry = tuple[float, int, Callable[[Any], object], Any]


class TimerQueue:
    """``callback(arg)`` at virtual time ``when``, for many entries, through one loop timer."""

    def __init__(self, loop: EventLoop, priority: int, name: str) -> None:
        self.loop = loop
        self.priority = priority
        self.name = name
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self._cancelled: set[int] = set()
        self._wake: Handle | None = None

    def __len__(self) -> int:
        """Entries not yet fired (cancelled ones included until their time comes)."""
        return len(self._heap)

    def call_at(self, when: float, callback: Callable[[Any], object], arg: Any) -> int:
        """Schedule ``callback(arg)`` at ``when`` (after now); returns a token for ``cancel``."""
        if not when > self.loop.now:
            raise ValueError(f"a queue timer must lie ahead: {when} <= now {self.loop.now}")
        seq = next(self._seq)
        heap = self._heap
        heapq.heappush(heap, (when, seq, callback, arg))
        if heap[0][1] == seq:
            self._arm(when)
        return seq

    def cancel(self, token: int) -> None:
        """The pending entry ``token`` will not fire (only for entries that have not fired)."""
        self._cancelled.add(token)

    def _arm(self, when: float) -> None:
        wake = self._wake
        if wake is not None:
            if wake.time <= when:
                return
            wake.cancel()
        self._wake = self.loop.call_at(when, self._fire, self.priority, self.name)

    def _fire(self) -> None:
        self._wake = None
        heap = self._heap
        cancelled = self._cancelled
        now = self.loop.now
        while heap and heap[0][0] <= now:
            _, seq, callback, arg = heapq.heappop(heap)
            if cancelled and seq in cancelled:
                cancelled.discard(seq)
                continue
            callback(arg)
        if heap:
            self._arm(heap[0][0])
