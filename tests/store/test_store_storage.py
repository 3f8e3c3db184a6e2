"""Store semantics, one suite over both backends (memory and sqlite), plus sqlite durability."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubetwin.api.errors import ApiError
from kubetwin.store import Store, WatchEvent


@pytest.fixture(params=[pytest.param("memory", id="memory"), pytest.param("sqlite", id="sqlite")])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = Store() if request.param == "memory" else Store(path=str(tmp_path / "db.sqlite"))
    yield s
    s.close()


def _obj(name: str, ns: str = "default", **extra: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, **extra}


def _rv(obj: dict[str, Any]) -> int:
    return int(obj["metadata"]["resourceVersion"])


def test_crud_and_monotonic_resource_version(store: Store) -> None:
    a = store.create("pods", _obj("a"))
    b = store.create("pods", _obj("b"))
    assert _rv(a) < _rv(b) == store.resource_version
    got = store.get("pods", "default", "a")
    assert got is not None and got["metadata"]["name"] == "a"
    upd = store.update("pods", _obj("a", spec={"x": 1}), expect_rv=a["metadata"]["resourceVersion"])
    assert _rv(upd) > _rv(b)
    assert [o["metadata"]["name"] for o in store.iter("pods")] == ["a", "b"]
    assert store.count("pods") == 2
    gone = store.delete("pods", "default", "a")
    assert _rv(gone) == store.resource_version > _rv(upd)
    assert store.get("pods", "default", "a") is None
    assert store.resources() == ["pods"]


def test_delete_written_deletes_only_the_object_named(store: Store) -> None:
    """delete_written removes the key only while it holds the object given (the one a write
    stored), as delete does (DELETED event at a new resourceVersion); otherwise it writes nothing."""
    seen: list[WatchEvent] = []
    store.add_listener(seen.append)
    old = store.create("events", _obj("e"))
    new = store.update("events", _obj("e", count=2))
    rv = store.resource_version
    assert not store.delete_written("events", ("default", "e"), old)
    assert not store.delete_written("events", ("default", "missing"), new)
    assert not store.delete_written("pods", ("default", "e"), new)
    assert store.resource_version == rv and len(seen) == 2
    assert store.delete_written("events", ("default", "e"), new)
    assert store.get("events", "default", "e") is None and store.resource_version == rv + 1
    assert seen[-1].type == "DELETED" and seen[-1].object["metadata"]["resourceVersion"] == str(rv + 1)


def test_a_deletion_nobody_hears_is_written_without_an_event(store: Store) -> None:
    """With no watch window, no watcher and only listeners that skip deletions, delete_written
    removes the key at a new resourceVersion and emits nothing; a watcher or a listener of
    deletions (of that resource or of all) gets its DELETED event."""
    quiet = Store(history=0)
    writes: list[str] = []
    quiet.add_listener(lambda ev: writes.append(ev.type), "events", deletes=False)
    a = quiet.create("events", _obj("a"))
    quiet.create("events", _obj("b"))
    assert quiet.delete_written("events", ("default", "a"), a)
    assert quiet.get("events", "default", "a") is None and quiet.resource_version == 3
    assert [o["metadata"]["name"] for o in quiet.iter("events")] == ["b"]
    quiet.delete("events", "default", "b")  # the registry's path: its DELETED event, unheard
    assert writes == ["ADDED", "ADDED"] and quiet.resource_version == 4
    heard: list[tuple[str, str]] = []
    quiet.add_listener(lambda ev: heard.append((ev.type, ev.object["metadata"]["resourceVersion"])), "events")
    c = quiet.create("events", _obj("c"))
    assert quiet.delete_written("events", ("default", "c"), c)
    assert heard == [("ADDED", "5"), ("DELETED", "6")] and writes == ["ADDED", "ADDED", "ADDED"]
    watched = Store(history=0)
    got: list[str] = []
    watched.watch("events", lambda ev: got.append(ev.type))
    d = watched.create("events", _obj("d"))
    assert watched.delete_written("events", ("default", "d"), d) and got == ["ADDED", "DELETED"]


def _written_all_case(store: Store) -> dict[tuple[str, str], dict[str, Any]]:
    """Five events, one rewritten since (its old object given), one deleted, one listed (its
    key index made): what delete_written_all gets from the storage TTL."""
    written = {("default", n): store.create("events", _obj(n)) for n in ("a", "b", "c", "d", "e")}
    store.update("events", _obj("b", count=2))
    store.delete("events", "default", "c")
    assert [o["metadata"]["name"] for o in store.iter("events")] == ["a", "b", "d", "e"]
    return written


@pytest.mark.parametrize("history", [pytest.param(0, id="unheard"), pytest.param(100, id="history")])
@pytest.mark.parametrize("watched", [pytest.param(False, id="no-watch"), pytest.param(True, id="watch")])
def test_delete_written_all_is_delete_written_one_by_one(store: Store, history: int, watched: bool) -> None:
    """delete_written_all ends where delete_written per key in order ends (same keys, same
    resourceVersion, same watch events), whether the deletions are heard or made in one pass."""
    ends = []
    for bulk in (False, True):
        s = Store(path=store.path + f".{bulk}" if store.path else None, history=history)
        got: list[tuple[str, str, int]] = []
        if watched:
            s.watch("events", lambda ev, got=got: got.append((ev.type, ev.object["metadata"]["name"], ev.rv)))
        written = _written_all_case(s)
        if bulk:
            n = s.delete_written_all("events", written)
        else:
            n = sum(s.delete_written("events", k, o) for k, o in written.items())
        names = [o["metadata"]["name"] for o in s.iter("events")]
        ends.append((n, s.resource_version, names, got))
        s.close()
    assert ends[0] == ends[1]
    assert ends[1][:3] == (3, 10, ["b"])


def test_range_reads_after_many_unread_writes_see_every_key_in_order(store: Store) -> None:
    """A key index whose pending writes outnumber its keys is dropped and made again from the
    table at the next range read: lists stay exact across the switch."""
    names = [f"e{i:03d}" for i in range(40)]
    for n in names[::2]:
        store.create("events", _obj(n, ns="b"))
    assert [o["metadata"]["name"] for o in store.iter("events", "b")] == names[::2]
    for n in names[1::2]:
        store.create("events", _obj(n, ns="a"))
        store.create("events", _obj(n, ns="b"))
    for n in names[:10]:
        store.delete("events", "b", n)
    assert [o["metadata"]["name"] for o in store.iter("events", "a")] == names[1::2]
    assert [o["metadata"]["name"] for o in store.iter("events", "b")] == names[10:]
    store.delete("events", "a", names[1])
    store.create("events", _obj("c0", ns="a"))
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in store.iter("events")] == (
        [("a", "c0")] + [("a", n) for n in names[3::2]] + [("b", n) for n in names[10:]]
    )


@pytest.mark.parametrize(
    ("resource", "op", "code", "reason", "message"),
    [
        pytest.param("pods", "get-update", 404, "NotFound", 'pods "x" not found', id="update-missing-pod"),
        pytest.param("pods", "delete", 404, "NotFound", 'pods "x" not found', id="delete-missing-pod"),
        pytest.param(
            "deployments.apps", "delete", 404, "NotFound", 'deployments.apps "x" not found', id="grouped-not-found"
        ),
        pytest.param("pods", "create-twice", 409, "AlreadyExists", 'pods "x" already exists', id="already-exists"),
        pytest.param(
            "deployments.apps", "create-twice", 409, "AlreadyExists", 'deployments.apps "x" already exists',
            id="grouped-already-exists",
        ),
        pytest.param(
            "pods", "stale-update", 409, "Conflict",
            'Operation cannot be fulfilled on pods "x": the object has been modified; '
            "please apply your changes to the latest version and try again",
            id="stale-update",
        ),
        pytest.param(
            "deployments.apps", "stale-delete", 409, "Conflict",
            'Operation cannot be fulfilled on deployments.apps "x": the object has been modified; '
            "please apply your changes to the latest version and try again",
            id="stale-delete",
        ),
    ],
)  # fmt: skip
def test_errors(store: Store, resource: str, op: str, code: int, reason: str, message: str) -> None:
    with pytest.raises(ApiError) as ei:
        if op == "get-update":
            store.update(resource, _obj("x"))
        elif op == "delete":
            store.delete(resource, "default", "x")
        elif op == "create-twice":
            store.create(resource, _obj("x"))
            store.create(resource, _obj("x"))
        elif op == "stale-update":
            first = store.create(resource, _obj("x"))
            stale = first["metadata"]["resourceVersion"]
            store.update(resource, _obj("x", v=1))
            store.update(resource, _obj("x", v=2), expect_rv=stale)
        elif op == "stale-delete":
            first = store.create(resource, _obj("x"))
            stale = first["metadata"]["resourceVersion"]
            store.update(resource, _obj("x", v=1))
            store.delete(resource, "default", "x", expect_rv=stale)
    assert (ei.value.code, ei.value.reason, ei.value.message) == (code, reason, message)
    assert ei.value.status["details"]["name"] == "x"


def test_failed_write_changes_nothing(store: Store) -> None:
    store.create("pods", _obj("x"))
    rv = store.resource_version
    with pytest.raises(ApiError):
        store.create("pods", _obj("x"))
    with pytest.raises(ApiError):
        store.update("pods", _obj("x"), expect_rv="1234")
    assert store.resource_version == rv


def _collect(store: Store, resource: str = "pods", **kw: Any) -> tuple[list[WatchEvent], Any]:
    events: list[WatchEvent] = []
    w = store.watch(resource, events.append, **kw)
    return events, w


def _summary(events: list[WatchEvent]) -> list[tuple[str, str]]:
    return [(e.type, e.object["metadata"]["name"]) for e in events]


def test_watch_from_rv_replays_later_events_only(store: Store) -> None:
    store.create("pods", _obj("a"))
    mark = str(store.resource_version)
    store.create("pods", _obj("b"))
    store.update("pods", _obj("a", v=2))
    store.create("nodes", {"metadata": {"name": "n1"}})
    store.delete("pods", "default", "b")
    events, w = _collect(store, resource_version=mark)
    assert _summary(events) == [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]
    assert [e.rv for e in events] == sorted(e.rv for e in events)
    store.create("pods", _obj("c"))
    assert _summary(events)[-1] == ("ADDED", "c")
    w.stop()
    store.create("pods", _obj("d"))
    assert _summary(events)[-1] == ("ADDED", "c")


@pytest.mark.parametrize("rv", [pytest.param(None, id="none"), pytest.param("0", id="zero")])
def test_watch_without_rv_starts_with_current_state(store: Store, rv: str | None) -> None:
    store.create("pods", _obj("b"))
    store.create("pods", _obj("a"))
    store.delete("pods", "default", "b")
    events, _ = _collect(store, resource_version=rv)
    assert _summary(events) == [("ADDED", "a")]


def test_watch_too_old_is_410(tmp_path: Path) -> None:
    s = Store(history=3)
    for i in range(6):
        s.create("pods", _obj(f"p{i}"))
    # history holds rv 4..6: watching from 3 works, from 2 is too old
    events, _ = _collect(s, resource_version="3")
    assert _summary(events) == [("ADDED", "p3"), ("ADDED", "p4"), ("ADDED", "p5")]
    with pytest.raises(ApiError) as ei:
        s.watch("pods", lambda e: None, resource_version="2")
    assert (ei.value.code, ei.value.reason) == (410, "Expired")
    assert ei.value.message == "too old resource version: 2 (3)"


def test_watch_current_rv_needs_no_history() -> None:
    s = Store(history=1)
    for i in range(3):
        s.create("pods", _obj(f"p{i}"))
    events, _ = _collect(s, resource_version=str(s.resource_version))
    assert events == []


def test_watch_bad_rv_is_400(store: Store) -> None:
    with pytest.raises(ApiError) as ei:
        store.watch("pods", lambda e: None, resource_version="abc")
    assert ei.value.code == 400


def test_watch_by_namespace(store: Store) -> None:
    store.create("pods", _obj("a", "ns1"))
    store.create("pods", _obj("b", "ns2"))
    events, _ = _collect(store, namespace="ns1", resource_version="0")
    mark = str(store.resource_version)
    store.create("pods", _obj("c", "ns2"))
    store.create("pods", _obj("d", "ns1"))
    later, _ = _collect(store, namespace="ns2", resource_version=mark)
    assert _summary(events) == [("ADDED", "a"), ("ADDED", "d")]
    assert _summary(later) == [("ADDED", "c")]


def test_deleted_event_carries_final_rv(store: Store) -> None:
    created = store.create("pods", _obj("a"))
    events, _ = _collect(store, resource_version=str(store.resource_version))
    final = store.delete("pods", "default", "a")
    assert len(events) == 1 and events[0].type == "DELETED"
    assert events[0].object["metadata"]["resourceVersion"] == str(store.resource_version)
    assert final["metadata"]["resourceVersion"] == str(store.resource_version)
    assert events[0].prev is not None and events[0].prev["metadata"]["resourceVersion"] == created["metadata"][
        "resourceVersion"
    ]


def test_watch_replay_stays_in_order_when_a_handler_writes(store: Store) -> None:
    store.create("pods", _obj("a"))
    store.create("pods", _obj("b"))
    seen: list[tuple[str, str]] = []

    def handler(ev: WatchEvent) -> None:
        seen.append((ev.type, ev.object["metadata"]["name"]))
        if ev.object["metadata"]["name"] == "a" and ev.type == "ADDED":
            store.create("pods", _obj("z"))

    store.watch("pods", handler, resource_version="0")
    assert seen == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "z")]


def test_listener_sees_every_write_in_order(store: Store) -> None:
    log: list[int] = []
    store.add_listener(lambda ev: log.append(ev.rv))
    store.create("pods", _obj("a"))
    store.create("nodes", {"metadata": {"name": "n"}})
    store.delete("pods", "default", "a")
    assert log == [1, 2, 3]


def test_listeners_of_one_resource_and_of_all_run_in_the_order_added(store: Store) -> None:
    log: list[tuple[str, int]] = []
    store.add_listener(lambda ev: log.append(("all", ev.rv)))
    store.add_listener(lambda ev: log.append(("pods", ev.rv)), "pods")
    store.create("pods", _obj("a"))
    store.add_listener(lambda ev: log.append(("nodes", ev.rv)), "nodes")
    store.create("nodes", {"metadata": {"name": "n"}})
    store.delete("pods", "default", "a")
    assert log == [("all", 1), ("pods", 1), ("all", 2), ("nodes", 2), ("all", 3), ("pods", 3)]


def test_a_watch_stopped_by_another_watchers_handler_gets_no_more_events(store: Store) -> None:
    seen: list[str] = []
    second: list[Any] = []

    def first(ev: WatchEvent) -> None:
        seen.append("first")
        second[0].stop()

    store.watch("pods", first)
    second.append(store.watch("pods", lambda ev: seen.append("second")))
    store.watch("pods", lambda ev: seen.append("third"))
    store.create("pods", _obj("a"))
    store.create("pods", _obj("b"))
    assert seen == ["first", "third", "first", "third"]


# -- sqlite durability --------------------------------------------------------------------------
def test_sqlite_reopen_keeps_objects_and_counter(tmp_path: Path) -> None:
    path = str(tmp_path / "db.sqlite")
    s = Store(path=path)
    s.create("pods", _obj("a"))
    b = s.create("pods", _obj("b", spec={"n": 1}))
    s.update("pods", _obj("b", spec={"n": 2}))
    s.delete("pods", "default", "a")
    rv = s.resource_version
    s.close()
    again = Store(path=path)
    got = again.get("pods", "default", "b")
    assert got is not None and got["spec"] == {"n": 2}
    assert _rv(got) > _rv(b)
    assert again.get("pods", "default", "a") is None
    assert again.resource_version == rv
    assert _rv(again.create("pods", _obj("c"))) == rv + 1
    # history is not persisted: watching from before the restart is "too old"
    with pytest.raises(ApiError) as ei:
        again.watch("pods", lambda e: None, resource_version="1")
    assert ei.value.code == 410
    again.close()


_WRITER = textwrap.dedent(
    """
    import sys
    from kubetwin.store import Store
    s = Store(path=sys.argv[1])
    for i in range(100000):
        s.create("pods", {"metadata": {"name": f"p{i}", "namespace": "default"}, "spec": {"i": i}})
        sys.stdout.write(f"p{i}\\n")
        sys.stdout.flush()
    """
)


def test_sqlite_survives_sigkill(tmp_path: Path) -> None:
    path = str(tmp_path / "db.sqlite")
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, path], stdout=subprocess.PIPE, text=True, bufsize=1
    )
    assert proc.stdout is not None
    acked: list[str] = []
    for line in proc.stdout:
        acked.append(line.strip())
        if len(acked) >= 200:
            break
    os.kill(proc.pid, signal.SIGKILL)
    rest, _ = proc.communicate()
    acked += [n for n in rest.split("\n") if n]  # names printed before the kill landed
    assert proc.returncode == -signal.SIGKILL
    s = Store(path=path)
    try:
        missing = [n for n in acked if s.get("pods", "default", n) is None]
        assert missing == []
        assert s.count("pods") >= len(acked)
        assert s.resource_version == s.count("pods")
    finally:
        s.close()


_KEYS = [("", "n1"), ("a", "x"), ("a", "y"), ("b", "m"), ("b", "z"), ("b", "zz"), ("c", "a")]


@pytest.mark.parametrize(
    ("namespace", "start_after"),
    [
        pytest.param(None, None, id="all"),
        pytest.param(None, ("a", "x"), id="all-after-key"),
        pytest.param(None, ("b", "q"), id="all-after-absent-key"),
        pytest.param(None, ("c", "a"), id="all-after-last"),
        pytest.param("b", None, id="ns"),
        pytest.param("b", ("a", "y"), id="ns-after-earlier-ns"),
        pytest.param("b", ("b", "m"), id="ns-after-key"),
        pytest.param("b", ("b", "n"), id="ns-after-absent-key"),
        pytest.param("b", ("b", "zz"), id="ns-after-its-last"),
        pytest.param("b", ("c", ""), id="ns-after-later-ns"),
        pytest.param("nope", None, id="ns-empty"),
    ],
)
def test_iter_after_follows_the_key_order(
    store: Store, tmp_path: Path, namespace: str | None, start_after: tuple[str, str] | None
) -> None:
    for ns, name in reversed(_KEYS):
        store.create("pods", _obj(name, ns))
    store.create("pods", _obj("gone", "b"))
    store.delete("pods", "b", "gone")
    want = [k for k in _KEYS if (not namespace or k[0] == namespace) and (start_after is None or k > start_after)]

    def keys(s: Store) -> list[tuple[str, str]]:
        return [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in s.iter_after("pods", namespace, start_after)]

    assert keys(store) == want
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in store.iter("pods", namespace)] == [
        k for k in _KEYS if not namespace or k[0] == namespace
    ]
    if store.path is not None:  # the index is rebuilt when the database is opened again
        store.close()
        again = Store(path=store.path)
        assert keys(again) == want
        again.close()


def test_iter_tolerates_writes_while_iterating(store: Store) -> None:
    for i in range(5):
        store.create("pods", _obj(f"p{i}"))
    seen = []
    for obj in store.iter("pods"):
        name = obj["metadata"]["name"]
        seen.append(name)
        if name == "p1":
            store.delete("pods", "default", "p2")
            store.create("pods", _obj("p10"))
    assert seen == ["p0", "p1", "p3", "p4"]
    assert store.iter_after("configmaps") is not None and list(store.iter_after("configmaps")) == []


_OPS = st.lists(
    st.tuples(st.sampled_from(["create", "delete", "read"]), st.sampled_from(["a", "b"]), st.integers(0, 11)),
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(ops=_OPS)
def test_range_reads_follow_creates_and_deletes_in_any_order(ops: list[tuple[str, str, int]]) -> None:
    """The key index takes writes in lazily: reads (whole resource, one namespace, after a continue
    key) must see exactly the stored keys in (namespace, name) order, whatever came between them."""
    store = Store()
    live: set[tuple[str, str]] = set()
    for op, ns, i in ops:
        key = (ns, f"o{i:02d}")
        if op == "create" and key not in live:
            store.create("pods", _obj(key[1], ns))
            live.add(key)
        elif op == "delete" and key in live:
            store.delete("pods", ns, key[1])
            live.discard(key)
        elif op == "read":
            keys = lambda objs: [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in objs]  # noqa: E731
            assert keys(store.iter("pods")) == sorted(live)
            assert keys(store.iter("pods", ns)) == sorted(k for k in live if k[0] == ns)
            assert keys(store.iter_after("pods", None, key)) == sorted(k for k in live if k > key)
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in store.iter("pods")] == sorted(live)


def test_live_events_reach_a_watch_directly_once_its_replay_is_over(store: Store) -> None:
    """The store calls a watch's handler itself once the replay is over (the snapshot of
    receivers is rebuilt then), and no longer once the watch stops."""
    store.create("configmaps", _obj("a"))
    got: list[str] = []
    w = store.watch("configmaps", lambda ev: got.append(ev.object["metadata"]["name"]), resource_version="0")
    assert store._watcher_snap["configmaps"] == ((w, w.handler),)
    store.create("configmaps", _obj("b"))
    w.stop()
    assert store._watcher_snap["configmaps"] == ()
    store.create("configmaps", _obj("c"))
    assert got == ["a", "b"]
    ns = store.watch("configmaps", lambda ev: got.append(ev.object["metadata"]["name"]), namespace="other",
                     resource_version=str(store.resource_version))  # fmt: skip
    store.create("configmaps", _obj("d"))
    store.create("configmaps", _obj("e", ns="other"))
    assert got == ["a", "b", "e"]
    ns.stop()
