"""A SimPy-sized discrete event loop over virtual time.

Events sit on a heap keyed by ``(time, priority, seq)``; ``seq`` is a monotonically increasing
counter so that events at the same time and priority run in the order they were scheduled. That
tie-break is what makes a run deterministic: the same inputs schedule the same callbacks in the same
order, so the same seed gives a byte-identical event log.

Virtual time is a float number of seconds since ``epoch`` (a fixed UTC instant, so object
timestamps are stable across runs). The clock never goes backwards: scheduling in the past is
clamped to ``now``.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time as _walltime
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

DEFAULT_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def wall_epoch() -> datetime:
    """The wall-clock instant now, to the second: the epoch of a twin whose virtual time should
    read as real time (``kubetwin serve`` by default, so kubectl's client-side ages make sense)."""
    return datetime.now(UTC).replace(microsecond=0)


def parse_epoch(value: str) -> datetime:
    """``now`` or an RFC 3339 instant (``2026-01-01T00:00:00Z``) as an epoch; ValueError otherwise."""
    if value == "now":
        return wall_epoch()
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"invalid start time {value!r}: want 'now' or an RFC 3339 time such as 2026-01-01T00:00:00Z") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
_PARSE_CACHE_SIZE = 4096


# Heap entries are plain tuples ``(time, priority, seq, handle)``: tuple comparison runs in C, and
# ``seq`` is unique, so the handle itself is never compared.
_Entry = tuple[float, int, int, "Handle"]


class Handle:
    """A scheduled callback; ``cancel()`` makes the loop skip it."""

    __slots__ = ("callback", "cancelled", "time", "name")

    def __init__(self, callback: Callable[[], object], time: float, name: str = "") -> None:
        self.callback = callback
        self.cancelled = False
        self.time = time
        self.name = name

    def cancel(self) -> None:
        self.cancelled = True


class EventLoop:
    """Deterministic discrete-event loop. ``now`` is virtual seconds since ``epoch``."""

    def __init__(self, epoch: datetime = DEFAULT_EPOCH, start: float = 0.0) -> None:
        self.epoch = epoch
        self._now = float(start)
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self.steps = 0
        self._ts_cache: tuple[float, datetime, str] | None = None
        # the last instant timestamp() was asked about, its epoch and its text
        self._ts_last: tuple[float, datetime | None, str] = (math.nan, None, "")
        self._micro_cache: tuple[float, datetime, str] | None = None
        self._parse_cache: dict[str, float] = {}
        self._parse_epoch = epoch
        self._second_cache: tuple[datetime, dict[int, str]] = (epoch, {})

    # -- time -------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self._now

    def datetime(self, at: float | None = None) -> datetime:
        return self.epoch + timedelta(seconds=self._now if at is None else at)

    def timestamp(self, at: float | None = None) -> str:
        """RFC 3339 timestamp with second precision, as Kubernetes metav1.Time serialises."""
        t = self._now if at is None else at
        last = self._ts_last
        if last[0] == t and last[1] is self.epoch:
            return last[2]  # asked again at the same instant (most calls: several per write)
        # The text shows whole seconds: instants within one second share it. Keyed by the second
        # when t is clear of its edges (the datetime rounds to microseconds) and the epoch has
        # no fraction; otherwise by t itself.
        sec = math.floor(t)
        frac = t - sec
        key = sec if (frac == 0.0 or 0.001 < frac < 0.999) and self.epoch.microsecond == 0 else t
        cached = self._ts_cache
        if cached is not None and cached[0] == key and cached[1] is self.epoch:
            self._ts_last = (t, self.epoch, cached[2])
            return cached[2]  # many writes share one second: format it once
        if self.epoch.microsecond == 0:
            td = timedelta(seconds=t)  # the datetime's rounding to microseconds, then its second
            text = self._second_text(td.days * 86400 + td.seconds) + "Z"
        else:
            text = self.datetime(t).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._ts_cache = (key, self.epoch, text)
        self._ts_last = (t, self.epoch, text)
        return text

    def micro_timestamp(self, at: float | None = None) -> str:
        """RFC 3339 with microseconds, as metav1.MicroTime serialises.

        Node leases are renewed with one (about 800,000 a day at 1,000 nodes), each at its own
        instant: the whole-second part is formatted once per second and the microseconds appended,
        and the text goes into the parse cache with the value ``parse_timestamp`` would find in it
        (the node lifecycle controller reads it back)."""
        t = self._now if at is None else at
        epoch = self.epoch
        cached = self._micro_cache
        if cached is not None and cached[0] == t and cached[1] is epoch:
            return cached[2]
        td = timedelta(seconds=t)  # rounded to microseconds, as the datetime sum rounds it
        if epoch.microsecond == 0:
            text = f"{self._second_text(td.days * 86400 + td.seconds)}.{td.microseconds:06d}Z"
        else:
            text = (epoch + td).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self._micro_cache = (t, epoch, text)
        # exact: the text is epoch + td to the microsecond, so parsing it gives td back
        self._parse_cache_for_epoch()[text] = td.total_seconds()
        return text

    def _second_text(self, whole: int) -> str:
        """``YYYY-MM-DDTHH:MM:SS`` of epoch + ``whole`` seconds (epoch without microseconds)."""
        cache = self._second_cache
        if cache[0] is not self.epoch:
            cache = self._second_cache = (self.epoch, {})
        text = cache[1].get(whole)
        if text is None:
            text = (self.epoch + timedelta(seconds=whole)).strftime("%Y-%m-%dT%H:%M:%S")
            if len(cache[1]) >= _PARSE_CACHE_SIZE:
                cache[1].clear()
            cache[1][whole] = text
        return text

    def _parse_cache_for_epoch(self) -> dict[str, float]:
        cache = self._parse_cache
        if self._parse_epoch is not self.epoch:
            cache.clear()
            self._parse_epoch = self.epoch
        elif len(cache) >= _PARSE_CACHE_SIZE:
            cache.clear()  # timestamps recur around "now": a small cache that restarts is enough
        return cache

    def parse_timestamp(self, value: str) -> float:
        """Virtual seconds for an RFC 3339 timestamp written by this clock."""
        cache = self._parse_cache
        if self._parse_epoch is not self.epoch:
            cache.clear()
            self._parse_epoch = self.epoch
        t = cache.get(value)
        if t is None:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
            t = (dt - self.epoch).total_seconds()
            self._parse_cache_for_epoch()[value] = t
        return t

    # -- scheduling -------------------------------------------------------------------------
    def call_at(
        self, when: float, callback: Callable[[], object], priority: int = 0, name: str = ""
    ) -> Handle:
        if math.isnan(when):
            raise ValueError("cannot schedule at NaN")
        when = max(when, self._now)
        handle = Handle(callback, when, name)
        heapq.heappush(self._heap, (when, priority, next(self._seq), handle))
        return handle

    def call_later(
        self, delay: float, callback: Callable[[], object], priority: int = 0, name: str = ""
    ) -> Handle:
        if delay < 0:
            delay = 0.0
        return self.call_at(self._now + delay, callback, priority, name)

    def call_soon(self, callback: Callable[[], object], priority: int = 0, name: str = "") -> Handle:
        return self.call_at(self._now, callback, priority, name)

    # -- running ----------------------------------------------------------------------------
    def peek(self) -> float | None:
        """Time of the next live event, or None when nothing is scheduled."""
        heap = self._heap
        while heap and heap[0][3].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pending(self) -> int:
        return sum(1 for e in self._heap if not e[3].cancelled)

    def step(self) -> bool:
        """Run the next event; False when the heap is empty."""
        heap = self._heap
        while heap:
            when, _, _, handle = heapq.heappop(heap)
            if handle.cancelled:
                continue
            self._now = when
            self.steps += 1
            handle.callback()
            return True
        return False

    def run(self, until: float | None = None, progress: Callable[[float], None] | None = None) -> None:
        """Run events with time <= ``until`` then set ``now`` to ``until``.

        Without ``until`` runs until the heap is empty (beware of periodic timers).
        """
        while True:
            nxt = self.peek()
            if nxt is None or (until is not None and nxt > until):
                break
            self.step()
            if progress is not None:
                progress(self._now)
        if until is not None and until > self._now:
            self._now = until
            if progress is not None:
                progress(self._now)

    def advance(self, seconds: float) -> None:
        self.run(until=self._now + seconds)

    def every(
        self,
        period: float,
        callback: Callable[[], object],
        priority: int = 0,
        name: str = "",
        first: float | None = None,
    ) -> Handle:
        """Call ``callback`` every ``period`` virtual seconds; cancel the returned handle to stop."""
        if period <= 0:
            raise ValueError("period must be positive")
        master = _Periodic(callback, self._now, name)

        def tick() -> None:
            if master.cancelled:
                return
            callback()
            if not master.cancelled:
                master.time = self._now + period
                master.inner = self.call_later(period, tick, priority, name)

        delay = period if first is None else first
        master.time = self._now + max(delay, 0.0)
        master.inner = self.call_later(delay, tick, priority, name)
        return master


class _Periodic(Handle):
    """The handle ``every`` returns: cancelling it also cancels the pending tick, so ``pending()``
    and ``peek()`` stop counting a stopped timer."""

    __slots__ = ("inner",)

    def __init__(self, callback: Callable[[], object], time: float, name: str = "") -> None:
        super().__init__(callback, time, name)
        self.inner: Handle | None = None

    def cancel(self) -> None:
        self.cancelled = True
        if self.inner is not None:
            self.inner.cancel()


class WallClock:
    """Maps virtual time to wall time times a speed factor (for ``serve`` mode).

    ``speed`` 0 means paused: virtual time only moves through ``advance``. The wall clock source is
    injectable so tests can drive it.
    """

    def __init__(
        self, loop: EventLoop, speed: float = 1.0, source: Callable[[], float] = _walltime.monotonic
    ) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self.loop = loop
        self._source = source
        self._speed = speed
        self._anchor_wall = source()
        self._anchor_virtual = loop.now

    @property
    def speed(self) -> float:
        return self._speed

    def target(self) -> float:
        """Virtual time that wall time says we should have reached."""
        return self._anchor_virtual + (self._source() - self._anchor_wall) * self._speed

    def set_speed(self, speed: float) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self._anchor_virtual = max(self.target(), self.loop.now)
        self._anchor_wall = self._source()
        self._speed = speed

    def catch_up(self) -> None:
        """Run every event due by wall time."""
        self.loop.run(until=max(self.target(), self.loop.now))

    def advance(self, seconds: float) -> None:
        """Jump virtual time forward from where wall time says we are (works while paused).

        Catching up first keeps ``target()`` non-decreasing: an advance never moves the wall
        mapping back behind time the wall clock had already reached."""
        self.catch_up()
        self.loop.advance(seconds)
        self._anchor_virtual = self.loop.now
        self._anchor_wall = self._source()

    def seconds_until_next(self) -> float | None:
        """Wall seconds until the next event is due (None if paused or nothing scheduled)."""
        nxt = self.loop.peek()
        if nxt is None or self._speed == 0:
            return None
        return max(0.0, (nxt - self.target()) / self._speed)
