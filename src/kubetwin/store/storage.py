"""etcd-like versioned storage (k8s.io/apiserver/pkg/storage: etcd3 store + watch cache semantics).

- A single global ``resourceVersion`` counter, bumped by every write; each object carries the
  version of its last write in ``metadata.resourceVersion`` (a decimal string, as upstream).
- ``update``/``delete`` with an expected resourceVersion fail with 409 Conflict when stale.
- ``watch(resource_version=N)`` replays events with version > N from a bounded history window and
  then streams live ones; N older than the window gives 410 Gone ("too old resource version").
  ``resource_version`` None or "0" starts with synthetic ADDED events for the current state.
- Objects handed out are the stored dicts themselves: callers must treat them as read-only
  (the registry copies before writing).
- Each resource keeps its keys in a sorted index (the order of etcd's key space, namespace first),
  so an ordered listing or one page of it after a continue key costs O(page + log n), not a sort of
  the whole resource per call; a namespace's objects are one contiguous run of that index.
- With ``path`` set, every write is committed to sqlite before it is acknowledged; opening the
  same path again restores all objects and the resourceVersion counter.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson
from sortedcontainers import SortedList

from kubetwin.api import errors

Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped


def object_key(obj: dict[str, Any]) -> Key:
    """The store key of an object."""
    meta = obj["metadata"]
    return (meta.get("namespace", "") or "", meta["name"])


DEFAULT_HISTORY = 200_000


class WatchEvent:
    """One write as watchers see it; read-only by convention. A slotted class, not a frozen
    dataclass: every store write makes one, and a frozen dataclass's ``__init__`` (five
    ``object.__setattr__`` calls) cost 0.9 us against 0.33 us here."""

    __slots__ = ("type", "object", "resource", "rv", "prev")

    def __init__(
        self, type: str, object: dict[str, Any], resource: str, rv: int, prev: dict[str, Any] | None = None
    ) -> None:
        self.type = type  # ADDED | MODIFIED | DELETED | BOOKMARK | ERROR
        self.object = object
        self.resource = resource
        self.rv = rv
        self.prev = prev  # the object before a MODIFIED/DELETED event

    def __repr__(self) -> str:
        meta = (self.object.get("metadata") if isinstance(self.object, dict) else None) or {}
        return f"WatchEvent({self.type} {self.resource} {meta.get('namespace', '')}/{meta.get('name', '')} rv={self.rv})"


class Watcher:
    """A live watch. Events are delivered by calling ``handler``; ``stop()`` ends delivery."""

    def __init__(
        self, store: Store, resource: str, namespace: str | None, handler: Callable[[WatchEvent], None]
    ) -> None:
        self.store = store
        self.resource = resource
        self.namespace = namespace
        self.handler = handler
        self.stopped = False
        # Live events that arrive while the initial replay is still being delivered (a handler
        # wrote to the store) wait here, so the watcher always sees events in resourceVersion order.
        self._pending: list[WatchEvent] | None = None

    def _deliver(self, ev: WatchEvent) -> None:
        if self._pending is not None:
            self._pending.append(ev)
        else:
            self.handler(ev)

    def _deliver_matching(self, ev: WatchEvent) -> None:
        """``_deliver`` for the events of this watch's namespace."""
        if self.matches(ev):
            self._deliver(ev)

    def _receiver(self) -> Callable[[WatchEvent], None]:
        """What the store calls with a live event of this watch's resource: the handler itself
        once the initial replay is over and no namespace filters the events (an informer's watch:
        ~1.5 million deliveries a day, one call each instead of two)."""
        if self._pending is None and not self.namespace:
            return self.handler
        return self._deliver if not self.namespace else self._deliver_matching

    def matches(self, ev: WatchEvent) -> bool:
        if ev.resource != self.resource:
            return False
        if self.namespace:
            return ev.object.get("metadata", {}).get("namespace", "") == self.namespace
        return True

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.store._remove_watcher(self)


def object_rv(obj: dict[str, Any]) -> str:
    """The object's resourceVersion ("" when it has none)."""
    return obj.get("metadata", {}).get("resourceVersion", "")


class _KeyIndex:
    """A resource's keys in sorted order for range reads (lists, namespaces, continue tokens),
    kept lazily: a write only notes the key added or removed (O(1)); the sorted list takes the
    notes in at the next range read. Most resources written in a run (Events, Leases, Pods) are
    read through informers and hardly ever listed by range. ``add`` returns False once the added
    keys outnumber the sorted ones: taking them in would cost about what sorting the resource's
    keys afresh does, so the store drops the index and makes a new one from its table at the next
    range read (Events, written ~700,000 times a day and listed by no one in a run, then cost the
    store no upkeep at all)."""

    __slots__ = ("_sorted", "_added", "_removed")

    def __init__(self, keys: Iterable[Key] = ()) -> None:
        self._sorted = SortedList(keys)
        self._added: set[Key] = set()  # not in _sorted yet
        self._removed: set[Key] = set()  # still in _sorted

    def add(self, key: Key) -> bool:
        if key in self._removed:
            self._removed.discard(key)
            return True
        self._added.add(key)
        return len(self._added) <= len(self._sorted)

    def remove(self, key: Key) -> None:
        if key in self._added:
            self._added.discard(key)
        else:
            self._removed.add(key)  # (never more than the keys)

    def sorted(self) -> SortedList:
        removed, added = self._removed, self._added
        if removed:
            if len(removed) * 8 > len(self._sorted):
                self._sorted = SortedList(k for k in self._sorted if k not in removed)  # already in order
            else:
                for k in removed:
                    self._sorted.remove(k)
            removed.clear()
        if added:
            self._sorted.update(added)
            added.clear()
        return self._sorted


class Store:
    def __init__(self, path: str | None = None, history: int = DEFAULT_HISTORY) -> None:
        self._data: dict[str, dict[Key, dict[str, Any]]] = {}
        # resource -> its keys of _data, for range reads; none: made from _data when next read
        self._keys: dict[str, _KeyIndex] = {}
        self._rv = 0
        self._history: deque[WatchEvent] = deque(maxlen=history)
        self._watchers: dict[str, list[Watcher]] = {}
        # what _emit walks per resource, rebuilt when a watcher or listener comes or goes or a
        # watch's replay ends: each watcher with its receiver (see Watcher._receiver); a write
        # iterates an immutable snapshot instead of copying the list (a handler may stop a watch)
        self._watcher_snap: dict[str, tuple[tuple[Watcher, Callable[[WatchEvent], None]], ...]] = {}
        self._listeners: list[tuple[Callable[[WatchEvent], None], str | None, bool]] = []
        self._listener_snap: dict[str, tuple[Callable[[WatchEvent], None], ...]] = {}
        self._delete_listener_snap: dict[str, tuple[Callable[[WatchEvent], None], ...]] = {}
        self._db: sqlite3.Connection | None = None
        self.path = path
        # Extra values committed with every write (serve mode: the virtual clock), read back with
        # get_meta after a restart.
        self.meta_values: Callable[[], dict[str, float]] | None = None
        self._meta: dict[str, float] = {}
        if path is not None:
            self._open(path)

    # -- persistence --------------------------------------------------------------------------
    def _open(self, path: str) -> None:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS objects (resource TEXT, namespace TEXT, name TEXT, rv INTEGER,"
            " data BLOB, PRIMARY KEY (resource, namespace, name))"
        )
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER)")
        row = db.execute("SELECT value FROM meta WHERE key='rv'").fetchone()
        self._rv = int(row[0]) if row else 0
        self._meta = {str(k): v for k, v in db.execute("SELECT key, value FROM meta")}
        for resource, ns, name, _rv, data in db.execute(
            "SELECT resource, namespace, name, rv, data FROM objects"
        ):
            self._data.setdefault(resource, {})[(ns, name)] = orjson.loads(data)
        self._keys = {resource: _KeyIndex(table) for resource, table in self._data.items()}
        self._db = db

    def _persist(self, resource: str, key: Key, obj: dict[str, Any] | None) -> None:
        if self._db is None:
            return
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if obj is None:
                db.execute(
                    "DELETE FROM objects WHERE resource=? AND namespace=? AND name=?",
                    (resource, key[0], key[1]),
                )
            else:
                db.execute(
                    "INSERT OR REPLACE INTO objects VALUES (?,?,?,?,?)",
                    (resource, key[0], key[1], self._rv, orjson.dumps(obj)),
                )
            db.execute("INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (self._rv,))
            if self.meta_values is not None:
                for k, v in self.meta_values().items():
                    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (k, v))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _persist_or_undo(self, resource: str, key: Key, obj: dict[str, Any] | None) -> None:
        """Commit to sqlite before memory changes: a failed commit leaves no trace (not even a
        used-up resourceVersion)."""
        try:
            self._persist(resource, key, obj)
        except BaseException:
            self._rv -= 1
            raise

    def get_meta(self, key: str) -> float | None:
        """A value stored with put_meta or meta_values (None without sqlite or when never written)."""
        v = self._meta.get(key)
        return None if v is None else float(v)

    def put_meta(self, key: str, value: float) -> None:
        """Commit one meta value now (no-op for an in-memory store)."""
        if self._db is None:
            return
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
        self._meta[key] = value

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- reads --------------------------------------------------------------------------------
    @property
    def resource_version(self) -> int:
        return self._rv

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        table = self._data.get(resource)
        return table.get((namespace, name)) if table is not None else None

    def iter(self, resource: str, namespace: str | None = None) -> Iterator[dict[str, Any]]:
        """Objects of a resource in (namespace, name) order. The keys are taken when iteration
        starts, so the caller may write to the store meanwhile (objects deleted since are skipped)."""
        table = self._data.get(resource)
        if not table:
            return
        for key in list(self._key_range(resource, namespace, None)):
            obj = table.get(key)
            if obj is not None:
                yield obj

    def iter_after(
        self, resource: str, namespace: str | None = None, start_after: Key | None = None
    ) -> Iterator[dict[str, Any]]:
        """Objects of a resource (of one namespace when given) with keys after ``start_after``, in
        key order, lazily: one page costs O(page + log n). No writes to this resource while the
        iterator is in use."""
        table = self._data.get(resource)
        if not table:
            return iter(())
        return (table[k] for k in self._key_range(resource, namespace, start_after))

    def _key_range(self, resource: str, namespace: str | None, start_after: Key | None) -> Iterator[Key]:
        index = self._keys.get(resource)
        if index is None:
            table = self._data.get(resource)
            if not table:
                return iter(())
            index = self._keys[resource] = _KeyIndex(table)
        keys = index.sorted()
        if not namespace:
            if start_after is None:
                return iter(keys)
            return keys.irange(minimum=start_after, inclusive=(False, True))
        # A namespace is the run of keys (namespace, *): from (namespace,) (before any of them) or
        # the continue key, while the namespace matches.
        if start_after is None or start_after[0] < namespace:
            it = keys.irange(minimum=(namespace,))
        elif start_after[0] > namespace:
            return iter(())
        else:
            it = keys.irange(minimum=start_after, inclusive=(False, True))
        return _while_namespace(it, namespace)

    def count(self, resource: str) -> int:
        return len(self._data.get(resource, {}))

    def resources(self) -> list[str]:
        return sorted(r for r, t in self._data.items() if t)

    # -- writes -------------------------------------------------------------------------------
    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def create(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        key = object_key(obj)
        table = self._data.setdefault(resource, {})
        if key in table:
            raise _exists(resource, key[1])
        rv = self._next_rv()
        meta["resourceVersion"] = str(rv)
        if self._db is not None:
            self._persist_or_undo(resource, key, obj)
        table[key] = obj
        index = self._keys.get(resource)
        if index is not None and not index.add(key):
            del self._keys[resource]  # see _KeyIndex
        self._emit(WatchEvent("ADDED", obj, resource, rv))
        return obj

    def update(self, resource: str, obj: dict[str, Any], expect_rv: str | None = None) -> dict[str, Any]:
        meta = obj["metadata"]
        key = object_key(obj)
        table = self._data.get(resource)  # (not setdefault: no empty table made per write)
        if table is None or (current := table.get(key)) is None:
            raise _not_found(resource, key[1])
        if expect_rv and expect_rv != object_rv(current):
            raise _conflict(resource, key[1])
        rv = self._next_rv()
        meta["resourceVersion"] = str(rv)
        if self._db is not None:
            self._persist_or_undo(resource, key, obj)
        table[key] = obj
        self._emit(WatchEvent("MODIFIED", obj, resource, rv, current))
        return obj

    def delete(
        self, resource: str, namespace: str, name: str, expect_rv: str | None = None
    ) -> dict[str, Any]:
        key = (namespace or "", name)
        table = self._data.get(resource, {})
        current = table.get(key)
        if current is None:
            raise _not_found(resource, name)
        if expect_rv and expect_rv != object_rv(current):
            raise _conflict(resource, name)
        return self._remove(resource, table, key, current)

    def delete_written(self, resource: str, key: Key, written: dict[str, Any]) -> bool:
        """Delete the object at ``key`` if it is still ``written`` (a stored object: every write
        stores a new one, so this is etcd's transaction comparing the key's revision): True when
        it did, False (nothing written) when the key is gone or was written since (the storage
        TTL's entry for an older write of the key)."""
        table = self._data.get(resource)
        if table is None or table.get(key) is not written:
            return False
        if self._unheard(resource):
            self._drop(resource, table, key)  # a DELETED event nobody would see: none built
        else:
            self._remove(resource, table, key, written)
        return True

    def delete_written_all(self, resource: str, written: dict[Key, dict[str, Any]]) -> int:
        """``delete_written`` for each key of ``written`` with its object, in order; returns how many
        it deleted. When no one would hear of the deletions (no watch history, watcher, deletion
        listener or sqlite file) they are dropped in one loop, the question asked once (the same
        end state as one by one): the storage TTL's expiries, the events of one instant an hour
        ago (~360,000 a day)."""
        table = self._data.get(resource)
        if table is None:
            return 0
        if self._db is not None or not self._unheard(resource):
            return sum(self.delete_written(resource, key, obj) for key, obj in written.items())
        gone = [key for key, obj in written.items() if table.get(key) is obj]
        for key in gone:
            self._drop(resource, table, key)
        return len(gone)

    def _unheard(self, resource: str) -> bool:
        """Whether a deletion of ``resource`` would reach no one: no watch history, no watcher and
        no listener of deletions."""
        return self._history.maxlen == 0 and not self._watcher_snap.get(resource) and not self._deletes_heard(resource)

    def _drop(self, resource: str, table: dict[Key, dict[str, Any]], key: Key) -> int:
        """Remove ``key`` at a new resourceVersion (returned), emitting nothing."""
        rv = self._next_rv()
        if self._db is not None:
            self._persist_or_undo(resource, key, None)
        del table[key]
        index = self._keys.get(resource)
        if index is not None:
            index.remove(key)
        return rv

    def _remove(
        self, resource: str, table: dict[Key, dict[str, Any]], key: Key, current: dict[str, Any]
    ) -> dict[str, Any]:
        rv = self._drop(resource, table, key)
        # The DELETED event carries the object at the deletion's resourceVersion, as etcd3 does.
        final = dict(current)
        final["metadata"] = dict(current["metadata"], resourceVersion=str(rv))
        self._emit(WatchEvent("DELETED", final, resource, rv, current), deleted=True)
        return final

    # -- watch --------------------------------------------------------------------------------
    def watch(
        self,
        resource: str,
        handler: Callable[[WatchEvent], None],
        namespace: str | None = None,
        resource_version: str | None = None,
    ) -> Watcher:
        w = Watcher(self, resource, namespace, handler)
        replay: list[WatchEvent] = []
        if resource_version in (None, "", "0"):
            replay = [WatchEvent("ADDED", o, resource, self._rv) for o in self.iter(resource, namespace)]
        else:
            try:
                since = int(str(resource_version))
            except ValueError:
                raise errors.bad_request(f"invalid resource version {resource_version!r}") from None
            oldest = self._history[0].rv if self._history else self._rv + 1
            if since < self._rv and since < oldest - 1:
                raise errors.gone(f"too old resource version: {since} ({oldest - 1})")
            replay = [ev for ev in self._history if ev.rv > since and w.matches(ev)]
        w._pending = []
        self._watchers.setdefault(resource, []).append(w)
        self._snap_watchers(resource)
        try:
            for ev in replay:
                if w.stopped:
                    break
                handler(ev)
            while w._pending and not w.stopped:
                handler(w._pending.pop(0))
        finally:
            w._pending = None
            self._snap_watchers(resource)  # live events go to the handler directly from now on
        return w

    def _snap_watchers(self, resource: str) -> None:
        self._watcher_snap[resource] = tuple((w, w._receiver()) for w in self._watchers.get(resource, ()))

    def _remove_watcher(self, w: Watcher) -> None:
        lst = self._watchers.get(w.resource, [])
        if w in lst:
            lst.remove(w)
            self._snap_watchers(w.resource)

    def add_listener(
        self, fn: Callable[[WatchEvent], None], resource: str | None = None, deletes: bool = True
    ) -> None:
        """Call ``fn`` for every write (of ``resource`` only, when given), before watchers see it (so
        the log is in write order). Listeners run in the order they were added. ``deletes`` False:
        not for deletions (a listener with nothing to do for them: when no one else would see a
        deletion, none is built)."""
        self._listeners.append((fn, resource, deletes))
        self._listener_snap.clear()
        self._delete_listener_snap.clear()

    def _listeners_of(self, resource: str, deleted: bool) -> tuple[Callable[[WatchEvent], None], ...]:
        fns = tuple(fn for fn, only, deletes in self._listeners if (only is None or only == resource)
                    and (deletes or not deleted))  # fmt: skip
        (self._delete_listener_snap if deleted else self._listener_snap)[resource] = fns
        return fns

    def _deletes_heard(self, resource: str) -> bool:
        """Whether a listener wants deletions of ``resource``."""
        listeners = self._delete_listener_snap.get(resource)
        if listeners is None:
            listeners = self._listeners_of(resource, True)
        return bool(listeners)

    def _emit(self, ev: WatchEvent, deleted: bool = False) -> None:
        self._history.append(ev)
        resource = ev.resource
        listeners = (self._delete_listener_snap if deleted else self._listener_snap).get(resource)
        if listeners is None:
            listeners = self._listeners_of(resource, deleted)
        for fn in listeners:
            fn(ev)
        for w, receive in self._watcher_snap.get(resource, ()):
            if not w.stopped:
                receive(ev)


def _while_namespace(keys: Iterator[Key], namespace: str) -> Iterator[Key]:
    for key in keys:
        if key[0] != namespace:
            return
        yield key


def _split(resource: str) -> tuple[str, str]:
    plural, _, group = resource.partition(".")
    return plural, group


def _exists(resource: str, name: str) -> errors.ApiError:
    plural, group = _split(resource)
    return errors.already_exists(plural, name, group)


def _not_found(resource: str, name: str) -> errors.ApiError:
    plural, group = _split(resource)
    return errors.not_found(plural, name, group)


def _conflict(resource: str, name: str) -> errors.ApiError:
    plural, group = _split(resource)
    return errors.conflict(
        plural,
        name,
        "the object has been modified; please apply your changes to the latest version and try again",
        group,
    )
