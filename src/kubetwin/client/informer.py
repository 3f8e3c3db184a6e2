"""Shared informers (k8s.io/client-go/tools/cache: shared_informer.go, index.go, listers).

An informer lists a resource, then watches it from the list's resourceVersion, keeping a cache of
the store's objects (read-only: never mutate what a lister returns) and calling handlers on add,
update and delete. In-process the watch is synchronous, so the cache is always current; handlers
must only enqueue keys (DESIGN.md principle 4).

An update handler may declare the updates it ignores with a filter ``ignore(old, new)`` (e.g.
``api.nodestatus.heartbeat_only``: a kubelet's status report that renewed nothing but heartbeat
times); the informer asks each distinct filter once per update and does not call the handlers
that ignore it (or calls their ``on_ignored`` instead), so a write that most
handlers ignore costs one check, not one per handler. Handlers keep their registration order. The
cache, the indexes and other watchers see every update as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, KeysView
from typing import Any

from kubetwin.api import kinds
from kubetwin.store import Registry, Watcher, WatchEvent

Obj = dict[str, Any]
ObjList = list[Obj]
IndexFunc = Callable[[Obj], list[str]]
UpdateHandler = Callable[[Obj, Obj], None]
UpdateFilter = Callable[[Obj, Obj], bool]


_NO_PART: Any = object()


NODE_NAME_INDEX = "spec.nodeName"


def node_name_index(pod: Obj) -> list[str]:
    """The node a pod is bound to (the ``spec.nodeName`` index; none while it waits)."""
    name = (pod.get("spec") or {}).get("nodeName")
    return [name] if name else []


def spec_of(obj: Obj) -> Any:
    """What an index of spec fields reads (``add_index``'s ``reads``): status writes share it."""
    return obj.get("spec")


def _key(obj: Obj) -> str:
    m = obj["metadata"]
    ns = m.get("namespace")
    return f"{ns}/{m['name']}" if ns else m["name"]


class Informer:
    def __init__(self, registry: Registry, resource: str) -> None:
        self.registry = registry
        self.info = kinds.by_resource(resource)
        self.resource = self.info.resource
        self._cache: dict[str, Obj] = {}
        # handlers by event type (delivery calls each list without looking at the others)
        self._on_adds: list[Callable[[Obj], None]] = []
        self._on_updates: list[UpdateHandler] = []
        # with update filters: every update handler as (handler, index of its filter or -1, the
        # handler for the updates it ignores or None), in registration order
        self._update_filters: list[UpdateFilter] = []
        self._filtered_updates: list[tuple[UpdateHandler, int, UpdateHandler | None]] = []
        self._on_deletes: list[Callable[[Obj], None]] = []
        # the namespace index is kept apart: an object's namespace never changes, so an update only
        # swaps the object in its bucket
        self._by_namespace: dict[str, dict[str, Obj]] = {}
        self._indexers: dict[str, IndexFunc] = {}
        self._indices: dict[str, dict[str, dict[str, Obj]]] = {"namespace": self._by_namespace}
        # per index: each cached key's values, as its function gave them for the cached version
        # (objects are read-only, so an update reads the old values here instead of recomputing)
        self._values: dict[str, dict[str, list[str]]] = {}
        # indexes declared with ``reads``: that function and each cached key's part (see add_index)
        self._reads: dict[str, Callable[[Obj], Any]] = {}
        self._parts: dict[str, dict[str, Any]] = {}
        # what an update walks per index, looked up once: (fn, its buckets, its values, reads, parts)
        self._plan: list[tuple[IndexFunc, dict[str, dict[str, Obj]], dict[str, list[str]],
                               Callable[[Obj], Any] | None, dict[str, Any]]] = []  # fmt: skip
        self._watcher: Watcher | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def started(self) -> bool:
        return self._watcher is not None

    def start(self) -> None:
        if self._watcher is not None:
            return
        lst = self.registry.list(self.resource, copy=False)
        for obj in lst["items"]:
            self._on_add(obj)
        self._watcher = self.registry.watch(
            self.resource, self._on_event, resource_version=lst["metadata"]["resourceVersion"]
        )

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None

    # -- handlers & indexes -------------------------------------------------------------------
    def add_handler(
        self,
        on_add: Callable[[Obj], None] | None = None,
        on_update: UpdateHandler | None = None,
        on_delete: Callable[[Obj], None] | None = None,
        *,
        ignore: UpdateFilter | None = None,
        on_ignored: UpdateHandler | None = None,
    ) -> None:
        """``ignore``: updates for which ``ignore(old, new)`` is true do not reach ``on_update``;
        ``on_ignored`` (optional) gets them instead, in ``on_update``'s place among the handlers."""
        if on_update is not None:
            self._add_update_handler(on_update, ignore, on_ignored)
        if on_delete is not None:
            self._on_deletes.append(on_delete)
        if on_add is not None:
            self._on_adds.append(on_add)
            for obj in list(self._cache.values()):
                on_add(obj)

    def _add_update_handler(self, fn: UpdateHandler, ignore: UpdateFilter | None, alt: UpdateHandler | None) -> None:
        if ignore is None:
            if alt is not None:
                raise ValueError("on_ignored needs an ignore filter")
            self._on_updates.append(fn)
            self._filtered_updates.append((fn, -1, None))
            return
        if ignore not in self._update_filters:
            self._update_filters.append(ignore)
        self._filtered_updates.append((fn, self._update_filters.index(ignore), alt))

    def _deliver_filtered(self, old: Obj, new: Obj) -> None:
        filters = self._update_filters
        ignored = [f(old, new) for f in filters]  # each filter's answer for this update
        for fn, i, alt in self._filtered_updates:  # the live list, as _on_updates is walked
            if i >= 0:
                try:
                    hit = ignored[i]
                except IndexError:  # a handler added a filter during this delivery
                    ignored += [f(old, new) for f in filters[len(ignored) :]]
                    hit = ignored[i]
                if hit:
                    if alt is not None:
                        alt(old, new)
                    continue
            fn(old, new)

    def add_index(self, name: str, fn: IndexFunc, reads: Callable[[Obj], Any] | None = None) -> None:
        """Index the cache by ``fn``'s values. ``reads``: the one part of an object ``fn`` reads
        besides its namespace (e.g. its labels), when there is one; an update whose new version
        holds that very part (the same object: a write that left it alone shares it with the
        cached version) keeps the cached version's values without calling ``fn``."""
        if name == "namespace":
            raise ValueError("the namespace index is built in")
        self._indexers[name] = fn
        idx: dict[str, dict[str, Obj]] = {}
        values: dict[str, list[str]] = {}
        for k, obj in self._cache.items():
            values[k] = v = fn(obj)
            _bucket_add(idx, v, k, obj)
        self._indices[name] = idx
        self._values[name] = values
        self._reads.pop(name, None)
        self._parts.pop(name, None)
        if reads is not None:
            self._reads[name] = reads
            self._parts[name] = {k: reads(obj) for k, obj in self._cache.items()}
        self._plan = [(f, self._indices[n], self._values[n], self._reads.get(n), self._parts.get(n, {}))
                      for n, f in self._indexers.items()]  # fmt: skip

    def _index_add(self, k: str, obj: Obj) -> None:
        ns = obj["metadata"].get("namespace", "")
        bucket = self._by_namespace.get(ns)
        if bucket is None:
            self._by_namespace[ns] = {k: obj}
        else:
            bucket[k] = obj
        for name, fn in self._indexers.items():
            self._values[name][k] = v = fn(obj)
            _bucket_add(self._indices[name], v, k, obj)
        for name, reads in self._reads.items():
            self._parts[name][k] = reads(obj)

    def _index_remove(self, k: str, obj: Obj) -> None:
        _bucket_remove(self._by_namespace, [obj["metadata"].get("namespace", "")], k)
        for name in self._indexers:
            v = self._values[name].pop(k, None)
            _bucket_remove(self._indices[name], v if v is not None else self._indexers[name](obj), k)
        for parts in self._parts.values():
            parts.pop(k, None)

    def _index_update(self, k: str, old: Obj, new: Obj) -> None:
        """Re-index an updated object: where its index values are unchanged (most updates) the
        buckets only swap the object, without removing and re-adding the key."""
        bucket = self._by_namespace.get(new["metadata"].get("namespace", ""))
        if bucket is not None and k in bucket:  # the key, hence the namespace, is the same
            bucket[k] = new
        else:
            _bucket_remove(self._by_namespace, [old["metadata"].get("namespace", "")], k)
            _bucket_add(self._by_namespace, [new["metadata"].get("namespace", "")], k, new)
        for fn, idx, values, read, parts in self._plan:
            before = values.get(k)
            if before is None:
                before = fn(old)
            if read is None:
                values[k] = after = fn(new)
            else:
                part = read(new)
                if parts.get(k, _NO_PART) is part:
                    after = before  # fn would read the same object as for the cached version
                else:
                    parts[k] = part
                    after = fn(new)
                values[k] = after
            if before != after:
                _bucket_remove(idx, before, k)
                _bucket_add(idx, after, k, new)
            else:  # the same buckets: swap the object
                for v in after:
                    idx[v][k] = new

    # -- events -------------------------------------------------------------------------------
    def _on_event(self, ev: WatchEvent) -> None:
        kind = ev.type
        if kind == "MODIFIED":
            new = ev.object
            k = _key(new)
            old = self._cache.get(k)
            if old is None:
                self._on_add(new)
                return
            self._cache[k] = new
            self._index_update(k, old, new)
            if self._update_filters:
                self._deliver_filtered(old, new)
            else:
                for on_update in self._on_updates:
                    on_update(old, new)
        elif kind == "ADDED":
            self._on_add(ev.object)
        elif kind == "DELETED":
            k = _key(ev.object)
            old = self._cache.pop(k, None)
            if old is not None:
                self._index_remove(k, old)
            for on_delete in self._on_deletes:
                on_delete(ev.object)

    def _on_add(self, obj: Obj) -> None:
        k = _key(obj)
        old = self._cache.get(k)
        if old is not None:
            self._index_remove(k, old)
        self._cache[k] = obj
        self._index_add(k, obj)
        for on_add in self._on_adds:
            on_add(obj)

    # -- lister -------------------------------------------------------------------------------
    def get(self, name: str, namespace: str | None = None) -> Obj | None:
        return self._cache.get(f"{namespace}/{name}" if namespace and self.info.namespaced else name)

    def get_by_key(self, key: str) -> Obj | None:
        return self._cache.get(key)

    def list(self, namespace: str | None = None) -> list[Obj]:
        if namespace:
            return list(self._indices["namespace"].get(namespace, {}).values())
        return list(self._cache.values())

    def by_index(self, name: str, value: str) -> ObjList:
        return list(self._indices[name].get(value, {}).values())

    def keys(self) -> Iterator[str]:
        return iter(self._cache)

    def key_view(self) -> KeysView[str]:
        """The cache's keys as a live read-only view (set operations run in C)."""
        return self._cache.keys()

    def __len__(self) -> int:
        return len(self._cache)


class InformerFactory:
    """One shared informer per resource (SharedInformerFactory)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._informers: dict[str, Informer] = {}

    def get(self, resource: str) -> Informer:
        info = kinds.by_resource(resource)
        inf = self._informers.get(info.resource)
        if inf is None:
            inf = Informer(self.registry, info.resource)
            self._informers[info.resource] = inf
            inf.start()
        return inf

    def stop(self) -> None:
        for inf in self._informers.values():
            inf.stop()


def _bucket_add(idx: dict[str, dict[str, Obj]], values: list[str], k: str, obj: Obj) -> None:
    for v in values:
        idx.setdefault(v, {})[k] = obj


def _bucket_remove(idx: dict[str, dict[str, Obj]], values: list[str], k: str) -> None:
    for v in values:
        bucket = idx.get(v)
        if bucket is not None:
            bucket.pop(k, None)
            if not bucket:
                del idx[v]
