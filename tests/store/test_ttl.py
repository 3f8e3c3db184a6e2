"""Storage TTL (store/ttl.py): Events expire an hour after their last write, as etcd's lease."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubetwin.client import Client, EventRecorder
from kubetwin.sim import EventLoop, SeededRNG
from kubetwin.store import Registry, Store
from kubetwin.store.ttl import EVENT_TTL, StoreTTL

POD = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p", "namespace": "default", "uid": "u"}}


def _cluster(store: Store | None = None, now: float = 0.0) -> tuple[EventLoop, Registry, StoreTTL]:
    loop = EventLoop()
    loop.run(until=now)
    reg = Registry(store or Store(), loop, SeededRNG(1))
    reg.bootstrap()
    return loop, reg, StoreTTL(reg.store, loop, "events", EVENT_TTL)


def _event(reg: Registry, name: str, reason: str, **fields: Any) -> None:
    reg.create({"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": "default"},
                "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"}, "reason": reason,
                "message": "m", "type": "Normal", "count": 1, **fields})  # fmt: skip


def _reasons(reg: Registry) -> list[str]:
    return sorted(e["reason"] for e in reg.list("events")["items"])


def test_an_event_expires_an_hour_after_its_last_write() -> None:
    loop, reg, ttl = _cluster()
    rec = EventRecorder(Client(reg), "test")
    rec.normal(POD, "Hello", "first")
    loop.run(until=1800)
    rec.normal(POD, "Hello", "first")  # the correlator's count bump is a write: the lease starts again
    loop.run(until=3600)
    assert _reasons(reg) == ["Hello"]
    loop.run(until=1800 + EVENT_TTL - 1)
    assert _reasons(reg) == ["Hello"]
    loop.run(until=1800 + EVENT_TTL)
    assert _reasons(reg) == [] and ttl.expired == 1


def test_expiries_in_write_order_and_a_deleted_event_is_not_deleted_again() -> None:
    loop, reg, ttl = _cluster()
    seen: list[tuple[str, str]] = []
    reg.store.watch("events", lambda ev: seen.append((ev.type, ev.object["reason"])))
    _event(reg, "b", "First")
    loop.run(until=100)
    _event(reg, "a", "Second")
    loop.run(until=200)
    _event(reg, "c", "Deleted")
    reg.delete("events", "c", "default")
    _event(reg, "c", "Recreated")  # same name, written later: its own hour
    loop.run(until=EVENT_TTL)
    assert _reasons(reg) == ["Recreated", "Second"]
    loop.run(until=EVENT_TTL + 100)
    assert _reasons(reg) == ["Recreated"]
    loop.run(until=EVENT_TTL + 200)
    assert _reasons(reg) == []
    assert [r for t, r in seen if t == "DELETED"] == ["Deleted", "First", "Second", "Recreated"]
    assert ttl.expired == 3


def test_other_resources_do_not_expire() -> None:
    loop, reg, _ = _cluster()
    reg.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "default"}})
    loop.run(until=3 * EVENT_TTL)
    assert [c["metadata"]["name"] for c in reg.list("configmaps", "default")["items"]] == ["cfg"]


def test_stored_events_count_from_their_newest_timestamp(tmp_path: Path) -> None:
    """A restored data directory: Events already stored expire an hour after the newest time they
    carry (creation, lastTimestamp, eventTime, series.lastObservedTime), in that order."""
    path = str(tmp_path / "db.sqlite")
    loop, reg, _ = _cluster(Store(path))
    _event(reg, "old", "Old")  # created at 0
    loop.run(until=600)
    _event(reg, "bumped", "Bumped", lastTimestamp=loop.timestamp(1200.0))  # created 600, last 1200
    _event(reg, "series", "Series", series={"count": 2, "lastObservedTime": loop.micro_timestamp(900.0)})
    reg.store.close()
    loop2, reg2, ttl2 = _cluster(Store(path), now=1500)
    loop2.run(until=EVENT_TTL)
    assert _reasons(reg2) == ["Bumped", "Series"]
    loop2.run(until=900 + EVENT_TTL)
    assert _reasons(reg2) == ["Bumped"]
    loop2.run(until=1200 + EVENT_TTL)
    assert _reasons(reg2) == [] and ttl2.expired == 3


def test_a_key_written_again_at_one_instant_expires_where_it_was_first_written() -> None:
    """Writes of one instant share a due: the expiries follow the order of the keys' first writes
    at that instant, and a key written at a later instant waits for that one."""
    loop, reg, ttl = _cluster()
    seen: list[str] = []
    reg.store.add_listener(lambda ev: seen.append(ev.object["metadata"]["name"]) if ev.type == "DELETED" else None)
    _event(reg, "a", "A")
    _event(reg, "b", "B")
    reg.set_fields_trusted("events", "default", "a", None, {"count": 2})  # a again, same instant
    _event(reg, "c", "C")
    loop.run(until=10)
    reg.set_fields_trusted("events", "default", "b", None, {"count": 2})  # b again, 10 s later
    loop.run(until=EVENT_TTL)
    assert seen == ["a", "c"]
    loop.run(until=EVENT_TTL + 10)
    assert seen == ["a", "c", "b"] and ttl.expired == 3
