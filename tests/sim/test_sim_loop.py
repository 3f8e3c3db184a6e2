"""EventLoop ordering, cancel, run(until), every(), monotonic clock; WallClock with a fake source."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubetwin.sim import EventLoop, WallClock
from kubetwin.sim.loop import DEFAULT_EPOCH


def _recorder(loop: EventLoop, log: list[tuple[float, str]]):  # type: ignore[no-untyped-def]
    def make(tag: str):  # type: ignore[no-untyped-def]
        return lambda: log.append((loop.now, tag))

    return make


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        pytest.param([(2.0, 0, "b"), (1.0, 0, "a")], ["a", "b"], id="earlier-time-first"),
        pytest.param([(1.0, 5, "low"), (1.0, 1, "high")], ["high", "low"], id="same-time-lower-priority-first"),
        pytest.param([(1.0, 0, "x"), (1.0, 0, "y"), (1.0, 0, "z")], ["x", "y", "z"], id="same-time-prio-fifo"),
        pytest.param(
            [(3.0, 0, "c"), (1.0, 9, "a9"), (1.0, 0, "a0"), (1.0, 9, "a9b")],
            ["a0", "a9", "a9b", "c"],
            id="time-then-priority-then-seq",
        ),
        pytest.param([(-5.0, 0, "past"), (0.0, 0, "now")], ["past", "now"], id="past-clamped-to-now"),
    ],
)
def test_event_order(schedule: list[tuple[float, int, str]], expected: list[str]) -> None:
    loop = EventLoop()
    log: list[tuple[float, str]] = []
    make = _recorder(loop, log)
    for when, prio, tag in schedule:
        loop.call_at(when, make(tag), priority=prio)
    loop.run()
    assert [t for _, t in log] == expected
    assert all(t >= 0 for t, _ in log)


def test_cancel_skips_event_and_peek_ignores_it() -> None:
    loop = EventLoop()
    log: list[tuple[float, str]] = []
    make = _recorder(loop, log)
    h = loop.call_later(1, make("cancelled"))
    loop.call_later(2, make("kept"))
    h.cancel()
    assert loop.peek() == 2.0
    assert loop.pending() == 1
    loop.run()
    assert log == [(2.0, "kept")]


def test_call_soon_runs_at_current_instant_after_earlier_scheduled() -> None:
    loop = EventLoop()
    log: list[tuple[float, str]] = []
    make = _recorder(loop, log)

    def first() -> None:
        log.append((loop.now, "first"))
        loop.call_soon(make("soon"))

    loop.call_later(1, first)
    loop.call_later(1, make("second"))
    loop.run()
    assert log == [(1.0, "first"), (1.0, "second"), (1.0, "soon")]


@pytest.mark.parametrize(
    ("events", "until", "ran", "now"),
    [
        pytest.param([1, 2, 3], 2.5, [1, 2], 2.5, id="stops-before-later-events"),
        pytest.param([1, 2], 2.0, [1, 2], 2.0, id="inclusive-bound"),
        pytest.param([], 10.0, [], 10.0, id="empty-heap-jumps-to-until"),
        pytest.param([5], 1.0, [], 1.0, id="nothing-due"),
    ],
)
def test_run_until(events: list[float], until: float, ran: list[float], now: float) -> None:
    loop = EventLoop()
    seen: list[float] = []
    for t in events:
        loop.call_at(t, lambda: seen.append(loop.now))
    loop.run(until=until)
    assert seen == ran
    assert loop.now == now


def test_run_until_in_past_does_not_rewind() -> None:
    loop = EventLoop()
    loop.run(until=10)
    loop.run(until=5)
    assert loop.now == 10


def test_nan_rejected() -> None:
    with pytest.raises(ValueError):
        EventLoop().call_at(float("nan"), lambda: None)


def test_every_period_first_and_cancel() -> None:
    loop = EventLoop()
    ticks: list[float] = []
    h = loop.every(10, lambda: ticks.append(loop.now), first=0)
    loop.run(until=35)
    assert ticks == [0.0, 10.0, 20.0, 30.0]
    assert h.time == 40.0
    h.cancel()
    assert loop.pending() == 0
    assert loop.peek() is None
    loop.run(until=100)
    assert ticks == [0.0, 10.0, 20.0, 30.0]


def test_every_cancel_from_inside_callback() -> None:
    loop = EventLoop()
    ticks: list[float] = []
    holder: dict[str, object] = {}

    def cb() -> None:
        ticks.append(loop.now)
        if len(ticks) == 3:
            holder["h"].cancel()  # type: ignore[attr-defined]

    holder["h"] = loop.every(1, cb)
    loop.run()  # terminates: the timer stops itself
    assert ticks == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("period", [pytest.param(0, id="zero"), pytest.param(-1, id="negative")])
def test_every_rejects_non_positive_period(period: float) -> None:
    with pytest.raises(ValueError):
        EventLoop().every(period, lambda: None)


def test_timestamps() -> None:
    loop = EventLoop()
    loop.run(until=3661.5)
    assert loop.timestamp() == "2026-01-01T01:01:01Z"
    assert loop.micro_timestamp() == "2026-01-01T01:01:01.500000Z"
    assert loop.parse_timestamp(loop.timestamp(90)) == 90


def test_timestamp_asked_again_follows_a_new_epoch() -> None:
    """The text of the instant asked last is kept with its epoch: a new epoch formats afresh."""
    from datetime import timedelta

    loop = EventLoop()
    loop.run(until=61.25)
    assert loop.timestamp() == loop.timestamp() == "2026-01-01T00:01:01Z"
    loop.epoch = loop.epoch + timedelta(hours=1)
    assert loop.timestamp() == "2026-01-01T01:01:01Z"
    assert loop.timestamp(61.25) == "2026-01-01T01:01:01Z"
    assert loop.timestamp(0.0) == "2026-01-01T01:00:00Z"


_ops = st.lists(
    st.one_of(
        st.tuples(st.just("at"), st.floats(-100, 1000, allow_nan=False), st.integers(0, 3)),
        st.tuples(st.just("later"), st.floats(-10, 100, allow_nan=False), st.integers(0, 3)),
        st.tuples(st.just("step"), st.just(0.0), st.just(0)),
        st.tuples(st.just("run"), st.floats(0, 1500, allow_nan=False), st.just(0)),
        st.tuples(st.just("cancel"), st.just(0.0), st.integers(0, 50)),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(_ops)
def test_clock_never_goes_backwards(ops: list[tuple[str, float, int]]) -> None:
    loop = EventLoop()
    seen: list[float] = [loop.now]
    handles = []

    def cb() -> None:
        seen.append(loop.now)
        if len(seen) % 7 == 0:  # callbacks that schedule more work, including in the past
            loop.call_at(loop.now - 3, cb)

    for op, x, n in ops:
        if op == "at":
            handles.append(loop.call_at(x, cb, priority=n))
        elif op == "later":
            handles.append(loop.call_later(x, cb, priority=n))
        elif op == "step":
            loop.step()
        elif op == "run":
            loop.run(until=x)
        elif op == "cancel" and handles:
            handles[n % len(handles)].cancel()
        seen.append(loop.now)
    loop.run(until=loop.now + 2000)
    seen.append(loop.now)
    assert seen == sorted(seen)


class FakeWall:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_wallclock_speed_and_catch_up() -> None:
    loop, wall = EventLoop(), FakeWall()
    clock = WallClock(loop, speed=10, source=wall)
    fired: list[float] = []
    loop.call_at(50, lambda: fired.append(loop.now))
    assert clock.seconds_until_next() == pytest.approx(5.0)
    wall.t += 4
    clock.catch_up()
    assert loop.now == pytest.approx(40) and fired == []
    wall.t += 1
    clock.catch_up()
    assert fired == [50.0] and loop.now == pytest.approx(50)


def test_wallclock_pause_and_advance() -> None:
    loop, wall = EventLoop(), FakeWall()
    clock = WallClock(loop, speed=0, source=wall)
    wall.t += 100
    clock.catch_up()
    assert loop.now == 0
    assert clock.seconds_until_next() is None
    clock.advance(30)
    assert loop.now == 30 and clock.target() == 30
    wall.t += 100
    assert clock.target() == 30


def test_wallclock_set_speed_is_continuous() -> None:
    loop, wall = EventLoop(), FakeWall()
    clock = WallClock(loop, speed=2, source=wall)
    wall.t += 10
    before = clock.target()
    clock.set_speed(5)
    assert clock.target() == pytest.approx(before) == pytest.approx(20)
    wall.t += 2
    assert clock.target() == pytest.approx(30)
    clock.set_speed(0)
    wall.t += 50
    assert clock.target() == pytest.approx(30)
    clock.set_speed(1)
    wall.t += 1
    assert clock.target() == pytest.approx(31)


def test_wallclock_advance_never_moves_target_back() -> None:
    loop, wall = EventLoop(), FakeWall()
    clock = WallClock(loop, speed=1, source=wall)
    wall.t += 100  # wall says 100, loop still at 0 (nobody caught up)
    clock.advance(5)
    assert loop.now == pytest.approx(105)
    assert clock.target() == pytest.approx(105)


@pytest.mark.parametrize("speed", [pytest.param(-1, id="negative")])
def test_wallclock_rejects_negative_speed(speed: float) -> None:
    with pytest.raises(ValueError):
        WallClock(EventLoop(), speed=speed, source=FakeWall())
    clock = WallClock(EventLoop(), speed=1, source=FakeWall())
    with pytest.raises(ValueError):
        clock.set_speed(speed)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.floats(0, 1e7), st.integers(0, 10**6).map(lambda s: s - 1e-9),
                          st.integers(0, 10**6).map(lambda s: s + 0.9999995)), min_size=1, max_size=30))  # fmt: skip
def test_timestamp_cache_matches_formatting_any_instant(instants: list[float]) -> None:
    """timestamp() remembers the last second it formatted; every instant, near a second's edge or
    not, in any order, must give the text of its own datetime."""
    loop = EventLoop()
    for t in instants:
        assert loop.timestamp(t) == loop.datetime(t).strftime("%Y-%m-%dT%H:%M:%SZ")


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.floats(-2e6, 4e8, allow_nan=False, allow_infinity=False), min_size=1, max_size=30),
    st.sampled_from([DEFAULT_EPOCH, datetime(2025, 6, 30, 23, 59, 59, tzinfo=UTC),
                     datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)]),  # fmt: skip
)
def test_micro_timestamps_match_the_datetime_text_and_parse_back(times: list[float], epoch: datetime) -> None:
    """The per-second formatting and the parse cache it fills give what formatting epoch + t and
    parsing that text give, including near second edges and with an epoch carrying microseconds."""
    loop = EventLoop(epoch=epoch)
    for t in times + [math.floor(times[0]) - 5e-7, math.floor(times[0]) + 0.9999996]:
        want = (epoch + timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        text = loop.micro_timestamp(t)
        assert text == want
        assert loop.parse_timestamp(text) == (datetime.fromisoformat(want.replace("Z", "+00:00")) - epoch).total_seconds()
        assert loop.timestamp(t) == (epoch + timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%SZ")
