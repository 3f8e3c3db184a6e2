"""The events.k8s.io recorder (client-go tools/events) on the virtual clock: a repeat becomes an
event series, written at the second occurrence, every 30 minutes and when it finishes (6 minutes
without a repeat); the stored core/v1 Event has the events.k8s.io fields and no deprecated ones."""

from __future__ import annotations

from typing import Any

import pytest

from kubetwin.client import Client
from kubetwin.client.eventseries import SeriesEventRecorder, truncate_note
from kubetwin.sim import EventLoop, SeededRNG
from kubetwin.store import Registry, Store, WatchEvent


def _env() -> tuple[Client, list[str]]:
    reg = Registry(Store(), EventLoop(), SeededRNG(1))
    reg.bootstrap()
    writes: list[str] = []

    def on_write(ev: WatchEvent) -> None:
        writes.append(ev.type)

    reg.store.add_listener(on_write, "events")
    return Client(reg), writes


def _pod(rv: str = "1", name: str = "p") -> dict[str, Any]:
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "resourceVersion": rv}}  # fmt: skip


def _stored(client: Client) -> list[tuple[str, int | None, float | None]]:
    """(message, series count or None, seconds of lastObservedTime or None) by creation."""
    out = []
    for e in sorted(client.list("events", "default"), key=lambda e: e["eventTime"]):
        series = e.get("series")
        last = client.clock.parse_timestamp(series["lastObservedTime"]) if series else None
        out.append((e["message"], series["count"] if series else None, last))
    return out


# occurrences: (virtual second, note, pod resourceVersion); then the clock runs to ``until``
CASES: dict[str, tuple[list[tuple[float, str, str]], float, list[tuple[str, int | None, float | None]], list[str]]] = {
    "one-occurrence-no-series": ([(0, "m", "1")], 0, [("m", None, None)], ["ADDED"]),
    "second-occurrence-written-at-once": (
        [(0, "m", "1"), (10, "m", "1")], 10, [("m", 2, 10.0)], ["ADDED", "MODIFIED"]),
    "later-ones-only-bump-the-cache": (
        [(0, "m", "1"), (10, "m", "1"), (20, "m", "1"), (30, "m", "1")], 700, [("m", 2, 10.0)],
        ["ADDED", "MODIFIED"]),
    "finish-writes-the-final-count": (  # last seen at 30 s: older than 6 min at the 720 s tick
        [(0, "m", "1"), (10, "m", "1"), (20, "m", "1"), (30, "m", "1")], 720, [("m", 4, 30.0)],
        ["ADDED", "MODIFIED", "MODIFIED"]),
    "note-is-not-in-the-key": (  # the series keeps the first note
        [(0, "first", "1"), (5, "second", "1"), (6, "third", "1")], 720, [("first", 3, 6.0)],
        ["ADDED", "MODIFIED", "MODIFIED"]),
    "another-object-version-is-another-event": (
        [(0, "m", "1"), (5, "m", "2"), (6, "m", "2")], 6, [("m", None, None), ("m", 2, 6.0)],
        ["ADDED", "ADDED", "MODIFIED"]),
    "singleton-leaves-the-cache-after-6-minutes": (  # created at 0 s: kept at the 360 s tick, dropped at 720 s
        [(0, "m", "1"), (730, "m", "1"), (740, "m", "1")], 740,
        [("m", None, None), ("m", 2, 740.0)], ["ADDED", "ADDED", "MODIFIED"]),
    "singleton-repeated-within-its-cache-time": (  # 700 s: still cached (dropped at the 720 s tick)
        [(0, "m", "1"), (700, "m", "1")], 700, [("m", 2, 700.0)], ["ADDED", "MODIFIED"]),
    "series-ended-then-a-new-event": (
        [(0, "m", "1"), (1, "m", "1"), (800, "m", "1")], 800, [("m", 2, 1.0), ("m", None, None)],
        ["ADDED", "MODIFIED", "ADDED"]),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_series(case: str) -> None:
    occurrences, until, want, writes_want = CASES[case]
    client, writes = _env()
    rec = SeriesEventRecorder(client, "default-scheduler")
    for t, note, rv in occurrences:
        client.clock.run(until=t)
        rec.warning(_pod(rv), "FailedScheduling", "Scheduling", note)
    client.clock.run(until=until)
    assert _stored(client) == want
    assert writes == writes_want


def test_refresh_writes_cached_series_every_30_minutes() -> None:
    """refreshExistingEventSeries: a series repeating every minute is written at 30 and 60 min,
    not at each repeat; when the repeats stop, finishSeries writes the final count."""
    client, writes = _env()
    rec = SeriesEventRecorder(client, "default-scheduler")
    for minute in range(0, 75):  # 0 .. 74 min
        client.clock.run(until=minute * 60.0)
        rec.warning(_pod(), "FailedScheduling", "Scheduling", "0/3 nodes are available")
    # the 60-minute refresh ran before the occurrence of that instant
    assert _stored(client) == [("0/3 nodes are available", 60, 3540.0)]
    client.clock.run(until=90 * 60.0)
    assert _stored(client) == [("0/3 nodes are available", 75, 74 * 60.0)]
    # create, second occurrence, refresh at 30 and 60 min, finish
    assert writes == ["ADDED", "MODIFIED", "MODIFIED", "MODIFIED", "MODIFIED"]
    assert rec.observed == 75 and not rec._cache and client.clock.peek() is None


def test_series_patch_finding_the_event_gone_creates_it_again() -> None:
    client, writes = _env()
    rec = SeriesEventRecorder(client, "default-scheduler")
    rec.warning(_pod(), "FailedScheduling", "Scheduling", "m")
    (ev,) = client.list("events", "default")
    client.delete("events", ev["metadata"]["name"], "default")
    client.clock.run(until=5)
    rec.warning(_pod(), "FailedScheduling", "Scheduling", "m")
    (again,) = client.list("events", "default")
    assert again["metadata"]["name"] == ev["metadata"]["name"] and again["eventTime"] == ev["eventTime"]
    assert again["series"]["count"] == 2 and writes == ["ADDED", "DELETED", "ADDED"]


def test_stored_event_has_the_events_k8s_io_fields() -> None:
    client, _ = _env()
    client.clock.run(until=1.5)
    rec = SeriesEventRecorder(client, "default-scheduler")
    rec.eventf(_pod(name="victim"), _pod(name="preemptor"), "Normal", "Preempted", "Preempting", "Preempted by pod x")
    (ev,) = client.list("events", "default")
    assert ev["eventTime"] == "2026-01-01T00:00:01.500000Z"
    assert ev["reportingComponent"] == "default-scheduler"
    assert ev["reportingInstance"] == "default-scheduler-kubetwin"
    assert ev["action"] == "Preempting" and ev["type"] == "Normal" and ev["reason"] == "Preempted"
    assert ev["involvedObject"]["name"] == "victim" and ev["involvedObject"]["resourceVersion"] == "1"
    assert ev["related"]["name"] == "preemptor" and ev["related"]["kind"] == "Pod"
    assert ev["source"] == {} and ev["firstTimestamp"] is None and ev["lastTimestamp"] is None
    assert "count" not in ev and "series" not in ev
    assert client.list("events", "default", field_selector="source=default-scheduler") == [ev]


@pytest.mark.parametrize(("message", "want_len", "suffix"), [("x" * 1024, 1024, "x"), ("x" * 2000, 1024, " ...")])
def test_note_truncated_to_1024_bytes(message: str, want_len: int, suffix: str) -> None:
    out = truncate_note(message)
    assert len(out.encode()) == want_len and out.endswith(suffix)


def test_reference_taken_once_per_object_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """Repeats about one object version build its reference once; a new version is a new event."""
    from kubetwin.client import eventseries

    client, _ = _env()
    rec = SeriesEventRecorder(client, "default-scheduler")
    refs: list[str] = []
    orig = eventseries.object_reference

    def spy(obj: dict[str, Any]) -> dict[str, str]:
        refs.append(obj["metadata"]["resourceVersion"])
        return orig(obj)

    monkeypatch.setattr(eventseries, "object_reference", spy)
    v1, v2 = _pod("1"), _pod("2")
    for _ in range(3):
        rec.warning(v1, "FailedScheduling", "Scheduling", "no")
    rec.warning(v2, "FailedScheduling", "Scheduling", "no")
    assert refs == ["1", "2"]  # once per version: for the key and the created event
    assert [(m, c) for m, c, _ in _stored(client)] == [("no", 2), ("no", None)]  # 3rd: at the refresh
