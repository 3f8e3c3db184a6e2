"""Shared informers (k8s.io/client-go/tools/cache: shared_informer.go, index.go, listers).

An informer lists a resource, then watches it from the list's resourceVersion, keeping a cache of
the store's objects (read-only: never mutate what a lister returns) and calling handlers on add,
update and delete. In-process the watch is synchronous, so the cache is always current; handlers
must only enqueue keys (DESIGN.md principle 4).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, KeysView
from typing import Any

from kubetwin.api import kinds
from kubetwin.store import Registry, Watcher, WatchEvent

Obj = dict[str, Any]
ObjList = list[Obj]
IndexFunc = Callable[[Obj], list[str]]


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
        self._handlers: list[tuple[Callable[[Obj], None] | None, Callable[[Obj, Obj], None] | None,
                                   Callable[[Obj], None] | None]] = []  # fmt: skip
        self._indexers: dict[str, IndexFunc] = {"namespace": lambda o: [o["metadata"].get("namespace", "")]}
        self._indices: dict[str, dict[str, dict[str, Obj]]] = {"namespace": {}}
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
        on_update: Callable[[Obj, Obj], None] | None = None,
        on_delete: Callable[[Obj], None] | None = None,
    ) -> None:
        self._handlers.append((on_add, on_update, on_delete))
        if on_add is not None:
            for obj in list(self._cache.values()):
                on_add(obj)

    def add_index(self, name: str, fn: IndexFunc) -> None:
        self._indexers[name] = fn
        idx: dict[str, dict[str, Obj]] = {}
        for k, obj in self._cache.items():
            _bucket_add(idx, fn(obj), k, obj)
        self._indices[name] = idx

    def _index_add(self, k: str, obj: Obj) -> None:
        for name, fn in self._indexers.items():
            _bucket_add(self._indices[name], fn(obj), k, obj)

    def _index_remove(self, k: str, obj: Obj) -> None:
        for name, fn in self._indexers.items():
            _bucket_remove(self._indices[name], fn(obj), k)

    def _index_update(self, k: str, old: Obj, new: Obj) -> None:
        """Re-index an updated object: where its index values are unchanged (most updates) the
        buckets only swap the object, without removing and re-adding the key."""
        for name, fn in self._indexers.items():
            idx = self._indices[name]
            before, after = fn(old), fn(new)
            if before != after:
                _bucket_remove(idx, before, k)
            _bucket_add(idx, after, k, new)

    # -- events -------------------------------------------------------------------------------
    def _on_event(self, ev: WatchEvent) -> None:
        if ev.type == "ADDED":
            self._on_add(ev.object)
        elif ev.type == "MODIFIED":
            k = _key(ev.object)
            old = self._cache.get(k)
            if old is None:
                self._on_add(ev.object)
                return
            self._cache[k] = ev.object
            if self._indexers:
                self._index_update(k, old, ev.object)
            for _, on_update, _ in self._handlers:
                if on_update is not None:
                    on_update(old, ev.object)
        elif ev.type == "DELETED":
            k = _key(ev.object)
            old = self._cache.pop(k, None)
            if old is not None:
                self._index_remove(k, old)
            for _, _, on_delete in self._handlers:
                if on_delete is not None:
                    on_delete(ev.object)

    def _on_add(self, obj: Obj) -> None:
        k = _key(obj)
        old = self._cache.get(k)
        if old is not None:
            self._index_remove(k, old)
        self._cache[k] = obj
        self._index_add(k, obj)
        for on_add, _, _ in self._handlers:
            if on_add is not None:
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
