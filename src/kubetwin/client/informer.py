"""Shared informers (k8s.io/client-go/tools/cache: shared_informer.go, index.go, listers).

An informer lists a resource, then watches it from the list's resourceVersion, keeping a cache of
the store's objects (read-only: never mutate what a lister returns) and calling handlers on add,
update and delete. In-process the watch is synchronous, so the cache is always current; handlers
must only enqueue keys (DESIGN.md principle 4).

An update handler may declare the updates it ignores with a filter ``ignore(old, new)`` (e.g.
``api.nodestatus.heartbeat_only``: a kubelet's status report that renewed nothing but heartbeat
times), or the parts of an object it reads with a classifier ``changes(old, new)`` that returns
bits of what changed (e.g. ``api.podchanges.pod_changes``) and the bits ``reads`` it depends on;
the informer asks each distinct filter or classifier once per update and does not call the
handlers that ignore it (a filter says so, or no bit they read changed, or a bit of a state they
have nothing to do in is set: ``unless``), or calls their ``on_ignored`` instead, so a write that most handlers ignore costs one check, not one per handler.
Handlers keep their registration order. The cache, the indexes and other watchers see every
update as before. A handler with nothing to do while some state lasts (a controller whose objects
do not exist) can be set aside in its place (``set_update_handler_live``) and costs no call then.
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
UpdateClassifier = Callable[[Obj, Obj], int]


_NO_PART: Any = object()
_IndexPlan = tuple[IndexFunc, dict[str, dict[str, None]], dict[str, list[str]], Callable[[Obj], Any] | None, dict[str, Any]]
_Route = tuple[list[_IndexPlan], list[UpdateHandler], int]
# an update handler registration: (handler, index of its filter or classifier or -1, mask, skip,
# unless, the handler for the updates it ignores or None)
_Entry = tuple[UpdateHandler, int, int, int, int, UpdateHandler | None]


def _pick(entry: _Entry, answers: tuple[int, ...]) -> UpdateHandler | None:
    """What an update handler registration calls for these answers: its handler, or (ignored) its
    ``on_ignored`` or nothing."""
    fn, i, mask, skip, unless, alt = entry
    return alt if i >= 0 and (answers[i] & mask == skip or answers[i] & unless) else fn


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
        # with update filters or classifiers: every update handler as an _Entry, in registration
        # order; an update is ignored when ``answer & mask == skip`` (a filter's True & 1 == 1; a
        # classifier's bits & reads == 0) or ``answer & unless`` (a classifier's state bits)
        self._update_filters: list[Callable[[Obj, Obj], int]] = []
        self._filtered_updates: list[_Entry] = []
        # by the filters' and classifiers' answers: what an update with them walks (see _route)
        self._routes: dict[int | tuple[int, ...], _Route] = {}
        # update handlers set aside by set_update_handler_live (they keep their place)
        self._muted: set[UpdateHandler] = set()
        self._on_deletes: list[Callable[[Obj], None]] = []
        # the namespace index is kept apart, by key (the objects are the cache's; a bucket's order
        # is the keys' first adds): an object's key holds its namespace when it has one, so an
        # update leaves the index alone (objects without one share the bucket "", which no read
        # asks for: list() without a namespace is the whole cache)
        self._by_namespace: dict[str, dict[str, None]] = {}
        self._indexers: dict[str, IndexFunc] = {}
        self._indices: dict[str, dict[str, dict[str, None]]] = {}
        # the other indexes' buckets hold keys (the objects are the cache's), so an update that
        # leaves an object's values alone leaves its buckets alone
        # per index: each cached key's values, as its function gave them for the cached version
        # (objects are read-only, so an update reads the old values here instead of recomputing)
        self._values: dict[str, dict[str, list[str]]] = {}
        # indexes declared with ``reads``: that function and each cached key's part (see add_index)
        self._reads: dict[str, Callable[[Obj], Any]] = {}
        self._parts: dict[str, dict[str, Any]] = {}
        # indexes declared with a classifier: (its index in _update_filters, the bits fn reads)
        self._index_bits: dict[str, tuple[int, int, int]] = {}
        # what an update walks per index, looked up once: (fn, its buckets, its values, reads,
        # parts), and beside each its classifier's index (or -1) and the bits fn reads
        self._plan: list[_IndexPlan] = []
        self._plan_bits: list[tuple[int, int, int]] = []
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
        changes: UpdateClassifier | None = None,
        reads: int = 0,
        unless: int = 0,
    ) -> None:
        """``ignore``: updates for which ``ignore(old, new)`` is true do not reach ``on_update``;
        ``changes``/``reads``: nor do updates for which ``changes(old, new) & reads`` is 0 (none of
        the parts it reads changed), nor (``unless``) those for which ``changes(old, new) & unless``
        is not 0 (a state in which the handler has nothing to do, e.g. the pod was being deleted
        already); ``on_ignored`` (optional) gets them instead, in ``on_update``'s place among the
        handlers."""
        if on_update is not None:
            self._add_update_handler(on_update, ignore, changes, reads, on_ignored, unless)
        if on_delete is not None:
            self._on_deletes.append(on_delete)
        if on_add is not None:
            self._on_adds.append(on_add)
            for obj in list(self._cache.values()):
                on_add(obj)

    def _add_update_handler(
        self, fn: UpdateHandler, ignore: UpdateFilter | None, changes: UpdateClassifier | None, reads: int,
        alt: UpdateHandler | None, unless: int = 0,
    ) -> None:  # fmt: skip
        if ignore is not None and changes is not None:
            raise ValueError("an update handler takes an ignore filter or a classifier, not both")
        if changes is not None and not reads:
            raise ValueError("a classifier needs the bits the handler reads (reads=0 would ignore every update)")
        if unless and changes is None:
            raise ValueError("unless= names bits of a classifier's answer")
        f: Callable[[Obj, Obj], int] | None = ignore if ignore is not None else changes
        if f is None:
            if alt is not None:
                raise ValueError("on_ignored needs an ignore filter or a classifier")
            if fn not in self._muted:
                self._on_updates.append(fn)
            self._filtered_updates.append((fn, -1, 0, 0, 0, None))
        else:
            mask, skip = (1, 1) if ignore is not None else (reads, 0)
            self._filtered_updates.append((fn, self._filter_index(f), mask, skip, unless, alt))
        self._routes.clear()

    def set_update_handler_live(self, fn: UpdateHandler, live: bool) -> None:
        """Call update handler ``fn`` (as registered with ``add_handler``, or about to be) on
        updates, or not (``live`` False) until it is set live again, in its place among the
        handlers: for a handler with nothing to do while some state lasts (a controller's pod
        handler while none of its objects exist), so that an update costs no call and no check.
        Takes effect from the next update."""
        if (fn not in self._muted) == live:
            return
        if live:
            self._muted.discard(fn)
        else:
            self._muted.add(fn)
        self._on_updates = [e[0] for e in self._live_updates() if e[1] < 0]
        self._routes.clear()

    def _live_updates(self) -> list[_Entry]:
        """The update handler registrations not set aside (all of them, in order, without any)."""
        if not self._muted:
            return self._filtered_updates
        return [e for e in self._filtered_updates if e[0] not in self._muted]

    def _filter_index(self, f: Callable[[Obj, Obj], int]) -> int:
        """The index of filter or classifier ``f`` in the list asked once per update."""
        if f not in self._update_filters:
            self._update_filters.append(f)
        return self._update_filters.index(f)

    def _route(self, answers: tuple[int, ...], key: int | tuple[int, ...]) -> _Route:
        """What an update with these answers of the filters and classifiers walks: the indexes
        whose values may have changed, the handlers to call (each one's ``on_update`` or
        ``on_ignored``) in registration order, and how many registrations that covers. Built
        once per distinct answers (a handful per informer; kept under ``key``: the answers, or
        the one filter's answer) until a handler or index is added."""
        indexes = [p for p, (i, mask, skip) in zip(self._plan, self._plan_bits, strict=True)
                   if i < 0 or answers[i] & mask != skip]  # fmt: skip
        handlers = [fn for e in self._live_updates() if (fn := _pick(e, answers)) is not None]
        r = self._routes[key] = (indexes, handlers, len(self._filtered_updates))
        return r

    def _deliver_late(self, old: Obj, new: Obj, answers: tuple[int, ...], start: int) -> None:
        """Call the update handlers registered from ``start`` on during this delivery (as a walk
        of the live list would), asking the filters added meanwhile too."""
        filters = self._update_filters
        if len(answers) < len(filters):
            answers += tuple(f(old, new) for f in filters[len(answers) :])
        i = start
        while i < len(self._filtered_updates):
            e = self._filtered_updates[i]
            fn = _pick(e, answers) if e[0] not in self._muted else None
            if fn is not None:
                fn(old, new)
            i += 1

    def add_index(
        self, name: str, fn: IndexFunc, reads: Callable[[Obj], Any] | None = None, *,
        changes: UpdateClassifier | None = None, bits: int = 0, ignore: UpdateFilter | None = None,
    ) -> None:  # fmt: skip
        """Index the cache by ``fn``'s values. ``reads``: the one part of an object ``fn`` reads
        besides its namespace (e.g. its labels), when there is one; an update whose new version
        holds that very part (the same object: a write that left it alone shares it with the
        cached version) keeps the cached version's values without calling ``fn``. ``changes`` /
        ``bits``: a classifier of updates (as ``add_handler``'s) and the bits of what ``fn`` reads;
        an update for which ``changes(old, new) & bits`` is 0 keeps the values without a look.
        ``ignore``: a filter (as ``add_handler``'s, asked once per update for both) of updates that
        leave what ``fn`` reads alone (e.g. a node's heartbeat): they keep the values without a look."""
        if name == "namespace":
            raise ValueError("the namespace index is built in")
        if changes is not None and (not bits or reads is not None):
            # (an update reaches the index only when a bit of its part changed, so ``reads``'
            # same-part shortcut could never apply)
            raise ValueError("an index with a classifier takes the bits its function reads, and no reads")
        if changes is not None and ignore is not None:
            raise ValueError("an index takes an ignore filter or a classifier, not both")
        self._indexers[name] = fn
        idx: dict[str, dict[str, None]] = {}
        values: dict[str, list[str]] = {}
        for k, obj in self._cache.items():
            values[k] = v = fn(obj)
            _bucket_add(idx, v, k)
        self._indices[name] = idx
        self._values[name] = values
        self._reads.pop(name, None)
        self._parts.pop(name, None)
        if reads is not None:
            self._reads[name] = reads
            self._parts[name] = {k: reads(obj) for k, obj in self._cache.items()}
        self._index_bits.pop(name, None)
        if changes is not None:
            self._index_bits[name] = (self._filter_index(changes), bits, 0)  # walked when a bit it reads moved
        elif ignore is not None:
            self._index_bits[name] = (self._filter_index(ignore), 1, 1)  # walked unless ignored
        self._plan = [(f, self._indices[n], self._values[n], self._reads.get(n), self._parts.get(n, {}))
                      for n, f in self._indexers.items()]  # fmt: skip
        self._plan_bits = [self._index_bits.get(n, (-1, 0, 0)) for n in self._indexers]
        self._routes.clear()

    def _index_add(self, k: str, obj: Obj) -> None:
        ns = obj["metadata"].get("namespace") or ""
        bucket = self._by_namespace.get(ns)
        if bucket is None:
            self._by_namespace[ns] = {k: None}
        else:
            bucket[k] = None
        for name, fn in self._indexers.items():
            self._values[name][k] = v = fn(obj)
            _bucket_add(self._indices[name], v, k)
        for name, reads in self._reads.items():
            self._parts[name][k] = reads(obj)

    def _index_remove(self, k: str, obj: Obj) -> None:
        _bucket_remove(self._by_namespace, [obj["metadata"].get("namespace") or ""], k)
        for name in self._indexers:
            v = self._values[name].pop(k, None)
            _bucket_remove(self._indices[name], v if v is not None else self._indexers[name](obj), k)
        for parts in self._parts.values():
            parts.pop(k, None)

    def _index_update(self, k: str, old: Obj, new: Obj, plan: list[_IndexPlan]) -> None:
        """Re-index an updated object (``plan``: the indexes whose values may have changed; an
        index whose classifier says that nothing its ``fn`` reads did is left out): an index moves
        the key only where its values changed (the namespace index never: the key is the same)."""
        for fn, idx, values, read, parts in plan:
            before = values.get(k)
            if before is None:
                before = fn(old)
            if read is None:
                values[k] = after = fn(new)
            else:
                part = read(new)
                if parts.get(k, _NO_PART) is part:
                    continue  # fn would read the same object as for the cached version
                parts[k] = part
                values[k] = after = fn(new)
            if before != after:
                _bucket_remove(idx, before, k)
                _bucket_add(idx, after, k)

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
            filters = self._update_filters
            if filters:
                # asked once per update (most informers have one: its answer is the route's key,
                # no tuple built around it)
                answer: int | tuple[int, ...]
                if len(filters) == 1:
                    answer = filters[0](old, new)
                    indexes, handlers, n = self._routes.get(answer) or self._route((answer,), answer)
                else:
                    answer = answers = tuple([f(old, new) for f in filters])
                    indexes, handlers, n = self._routes.get(answer) or self._route(answers, answer)
                if indexes:
                    self._index_update(k, old, new, indexes)
                for fn in handlers:
                    fn(old, new)
                if len(self._filtered_updates) > n:  # a handler added handlers meanwhile
                    self._deliver_late(old, new, answer if isinstance(answer, tuple) else (answer,), n)
            else:
                if self._plan:
                    self._index_update(k, old, new, self._plan)
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
            return list(map(self._cache.__getitem__, self._by_namespace.get(namespace, ())))
        return list(self._cache.values())

    def by_index(self, name: str, value: str) -> ObjList:
        if name == "namespace":
            idx, value = self._by_namespace, value or ""
        else:
            idx = self._indices[name]
        return list(map(self._cache.__getitem__, idx.get(value, ())))

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


def _bucket_add(idx: dict[str, dict[str, None]], values: list[str], k: str) -> None:
    for v in values:
        idx.setdefault(v, {})[k] = None


def _bucket_remove(idx: dict[str, dict[str, Any]], values: list[str], k: str) -> None:
    for v in values:
        bucket = idx.get(v)
        if bucket is not None:
            bucket.pop(k, None)
            if not bucket:
                del idx[v]
