"""The legacy recorder's correlator caches: pruning drops the entries that act as missing ones
(aggregation records older than their interval, spam buckets full again) and keeps the rest in
last-use order."""

from __future__ import annotations

from typing import Any

from kubetwin.client import Client
from kubetwin.client.events import _PRUNE_INTERVAL, DEFAULT_AGGREGATE_INTERVAL, EventRecorder
from kubetwin.sim import EventLoop, SeededRNG
from kubetwin.store import Registry, Store


def _pod(name: str) -> dict[str, Any]:
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "default", "uid": name, "resourceVersion": "1"}}  # fmt: skip


def test_prune_drops_stale_entries_from_the_front_and_keeps_the_order_of_the_rest() -> None:
    loop = EventLoop()
    reg = Registry(Store(), loop, SeededRNG(1))
    reg.bootstrap()
    rec = EventRecorder(Client(reg), "kubelet", host="n1")
    t = _PRUNE_INTERVAL
    for i, at in enumerate((1.0, 2.0, t - DEFAULT_AGGREGATE_INTERVAL + 5.0, t - 10.0)):
        loop.run(until=at)
        rec.normal(_pod(f"p{i}"), "Started", "Started container c")
    rec.normal(_pod("p0"), "Pulled", "again")  # p0 used last: its spam bucket moves to the back
    loop.run(until=t + 2.5)
    rec._prune()
    # aggregation records older than 600 s go (p0 and p1 Started); p2's, 597.5 s old, stays
    assert [k[2] for k in rec._similar] == ["p2", "p3", "p0"]
    # spam buckets untouched for 7,500 s go (p1's); p0's moved behind p3's when used again
    assert [k[2] for k in rec._spam] == ["p2", "p3", "p0"]


def test_prune_empties_a_cache_whose_most_recent_entry_is_stale() -> None:
    loop = EventLoop()
    reg = Registry(Store(), loop, SeededRNG(1))
    reg.bootstrap()
    rec = EventRecorder(Client(reg), "kubelet", host="n1")
    for i in range(3):
        loop.run(until=1.0 + i)
        rec.normal(_pod(f"p{i}"), "Started", "Started container c")
    loop.run(until=DEFAULT_AGGREGATE_INTERVAL + 2.5)  # p0's and p1's records are stale, p2's not yet
    rec._prune()
    assert [k[2] for k in rec._similar] == ["p2"]
    loop.run(until=DEFAULT_AGGREGATE_INTERVAL + 3.5)  # now p2's too: all go
    rec._prune()
    assert not rec._similar
    assert [k[2] for k in rec._spam] == ["p0", "p1", "p2"]  # buckets are full again only after 7,500 s
