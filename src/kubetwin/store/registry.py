"""The apiserver's generic registry (k8s.io/apiserver/pkg/registry/generic/registry/store.go)
plus the per-kind strategies that matter to a twin (pkg/registry/*/strategy.go).

Every write path goes through here: the in-process client and the HTTP server alike.

create:  kind lookup -> namespace -> generateName -> defaulting -> admission -> validation ->
         uid/creationTimestamp/generation -> status reset (status subresource kinds) -> store
update:  optimistic concurrency on metadata.resourceVersion; the main resource cannot change
         status and the status subresource cannot change spec; generation bumps when spec changes;
         a no-op update writes nothing (no new resourceVersion), as upstream.
delete:  preconditions (uid, resourceVersion); graceful deletion of bound pods
         (deletionTimestamp + deletionGracePeriodSeconds, the kubelet finishes); finalizers keep the
         object with a deletionTimestamp until the last one is removed; propagationPolicy
         Foreground/Orphan add the ``foregroundDeletion``/``orphan`` finalizers for the garbage
         collector; namespaces go Terminating until the namespace controller finalizes them.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from kubetwin.api import conversion, defaults, errors, kinds, resources, validation
from kubetwin.api.errors import Cause
from kubetwin.api.meta import clear_sole_change, note_sole_change
from kubetwin.sim import EventLoop, SeededRNG
from kubetwin.sim.rng import Uuid4Stream
from kubetwin.store.admission import DEFAULT_PLUGINS, AdmissionPlugin, applies, namespace_lifecycle
from kubetwin.store.apply import record_update, server_side_apply
from kubetwin.store.copy import deep_copy
from kubetwin.store.patch import json_patch, merge_patch
from kubetwin.store.storage import Store, Watcher, WatchEvent
from kubetwin.store.strategic import strategic_merge_patch

_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

ReadHook = Callable[[str | None, str | None], None]
PeekHook = Callable[[str, str, "dict[str, Any] | None"], "tuple[dict[str, Any], bool] | None"]

FINALIZER_ORPHAN = "orphan"
FINALIZER_FOREGROUND = "foregroundDeletion"
FINALIZER_NAMESPACE = "kubernetes"
BOOTSTRAP_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
# names.SimpleNameGenerator: 5 random characters after a base cut to 63 - 5 characters.
GENERATED_NAME_RANDOM_LENGTH = 5
MAX_GENERATED_NAME_BASE = 63 - GENERATED_NAME_RANDOM_LENGTH
# Store.Create retries a generateName create that collided (RetryGenerateName) this many times.
GENERATE_NAME_ATTEMPTS = 8
EVENT_UID_BATCH = 256
_ManagedFields = list[dict[str, Any]]
# eviction.go MaxDisruptedPodSize: evictions not yet confirmed by the disruption controller.
MAX_DISRUPTED_POD_SIZE = 2000
NAMESPACE_TERMINATING_MESSAGE = (
    "The system is ensuring all content is removed from this namespace.  "
    "Upon completion, this namespace will automatically be purged by the system."
)
# The two classes every apiserver creates at start (pkg/apis/scheduling/types.go).
SYSTEM_PRIORITY_CLASS_DESCRIPTIONS = {
    "system-node-critical": "Used for system critical pods that must not be moved from their current node.",
    "system-cluster-critical": (
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."
    ),
}
# Kinds whose status can be set on create (nodes register with their status, as upstream allows).
_STATUS_ON_CREATE = {"Node", "Event", "PersistentVolume"}
_NO_SPEC_GENERATION = {
    "Event",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "ServiceAccount",
    "Namespace",
    "Node",
    "Pod",
    "Lease",
}
# Kinds whose api.validation reads status, with the status fields it reads (node capacity/allocatable
# quantities): a status write that leaves those as stored needs no validation (the rest is the stored,
# already valid object).
_STATUS_VALIDATED = {"Node": ("capacity", "allocatable")}
# Kinds whose status strategy lets annotations through (pkg/registry/apps/deployment/strategy.go).
_STATUS_KEEPS_ANNOTATIONS = {"Deployment"}
_MISSING = object()
_EVENT_INFO = kinds.by_gvk("v1", "Event")  # Registry.create_event
_EVENT_ADMISSION = [namespace_lifecycle]  # the default Event create chain (Registry._admit_event)
# set_fields_trusted: sections it may not set; top-level fields it may not set (section None)
_SECTIONS_RESERVED = frozenset({"metadata", "apiVersion", "kind"})
_TOP_LEVEL_RESERVED = frozenset({"metadata", "apiVersion", "kind", "status"})
_PRESERVED_META = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
)


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    m = obj.get("metadata")
    if not isinstance(m, dict):
        raise errors.invalid(
            obj.get("kind", "Object"), "", [Cause("metadata", "Required value", "FieldValueRequired")]
        )
    return m


def _status_write_part(obj: dict[str, Any]) -> dict[str, Any]:
    """A private copy of what a status write of ``obj`` (in its stored version) takes from it
    (``Registry._merge_update``): its status and annotations; the rest of a status write comes
    from the stored object, so copying it (a pod's spec) would be wasted."""
    part: dict[str, Any] = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": {}}
    ann = obj["metadata"].get("annotations")
    if ann is not None:
        part["metadata"]["annotations"] = deep_copy(ann)
    if "status" in obj:
        part["status"] = deep_copy(obj["status"])
    return part


def _spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class Registry:
    def __init__(
        self,
        store: Store,
        clock: EventLoop,
        rng: SeededRNG,
        admission: Iterable[AdmissionPlugin] = DEFAULT_PLUGINS,
    ) -> None:
        self.store = store
        self.clock = clock
        self.rng = rng.child("registry")
        # Events take their uids from a stream of their own: how many events a run records (the
        # correlator's aggregation, a new event reason) must not change the names and uids of
        # everything else, which the registry's stream gives
        self._event_rng = rng.child("registry:events")
        self._event_uid_stream: Uuid4Stream | None = None  # the stream of _event_rng, once an event is made
        self._event_uids: list[str] = []  # taken from _event_uid_stream ahead, next one last
        self._event_stamp = -1  # the last event_stamp handed out
        self._epoch_ns = (clock.epoch - _UNIX_EPOCH) // timedelta(microseconds=1) * 1000
        self.admission: list[AdmissionPlugin] = list(admission)
        self._admission_seen: list[AdmissionPlugin] = []  # self.admission when the cache was made
        self._admission_for: dict[tuple[str, str], list[AdmissionPlugin]] = {}
        self.write_hooks: list[Callable[[str, str, dict[str, Any]], None]] = []
        self.read_hooks: dict[str, list[ReadHook]] = {}
        self.peek_hooks: dict[str, PeekHook] = {}
        self.peek_listeners: dict[str, list[Callable[[str, str], None]]] = {}
        # namespaces NamespaceLifecycle, the whole Event create chain, has admitted an Event in:
        # it admits an Event exactly when its namespace exists, so the answer holds until a
        # namespace is written (see _admit_event)
        self._event_namespaces: set[str] = set()  # emptied with _admission_for when the chain changes
        store.add_listener(self._namespace_written, "namespaces")

    def _admission(self, kind: str, op: str) -> list[AdmissionPlugin]:
        """The admission chain for ``op`` writes of ``kind``: the plugins declared for them (see
        ``store.admission.handles``), in chain order; recomputed when the chain changes."""
        if self._admission_seen != self.admission:
            self._admission_seen = list(self.admission)
            self._admission_for.clear()
            self._event_namespaces.clear()
        plugins = self._admission_for.get((kind, op))
        if plugins is None:
            plugins = self._admission_for[(kind, op)] = [p for p in self.admission if applies(p, kind, op)]
        return plugins

    def add_read_hook(self, resource: str, hook: ReadHook) -> None:
        """Call ``hook(namespace, name)`` before every get (name set), list or watch (name None) of
        ``resource``. For state that is due by a schedule but written only when someone looks: the
        hook writes it through this registry, so the read sees it at a fresh resourceVersion (the
        kubelets' node leases in ``run`` mode)."""
        self.read_hooks.setdefault(kinds.by_resource(resource).resource, []).append(hook)

    def set_peek_hook(self, resource: str, peek: PeekHook) -> None:
        """``peek(namespace, name, stored)`` answers :meth:`peek` for ``resource`` from the stored
        object (None: there is none): ``(obj, standing)``, the object as a read would find it once
        the read hooks had written what is due, without writing it, and whether that answer stands
        (see :meth:`peek`); None: let the read hooks write."""
        self.peek_hooks[kinds.by_resource(resource).resource] = peek

    def peek(self, resource: str, name: str, namespace: str | None = None) -> tuple[dict[str, Any] | None, bool]:
        """``(obj, standing)``: the object a ``get`` would return now (read-only, not a copy; None
        when there is none), from the resource's peek hook when it has one, so that what a read
        hook would write on this read stays unwritten until someone reads for real (the node
        lifecycle controller's look at a node lease in ``run`` mode). ``standing``: the object
        changes only by its writer's schedule (a lease's renewals) until the writer says otherwise,
        by a write or through :meth:`peek_changed`; so a reader that only needs to know when the
        schedule stops need not peek again before then. Without a hook: ``get(copy=False)``."""
        info = kinds.by_resource(resource)
        ns = namespace or "" if info.namespaced else ""
        peek = self.peek_hooks.get(info.resource)
        if peek is not None:
            answer = peek(ns, name, self.store.get(info.resource, ns, name))
            if answer is not None:
                return answer
        if self.read_hooks:
            self._before_read(info.resource, namespace, name)
        return self.store.get(info.resource, ns, name), False

    def on_peek_changed(self, resource: str, fn: Callable[[str, str], None]) -> None:
        """Call ``fn(namespace, name)`` when a standing peek answer of ``resource`` stops standing."""
        self.peek_listeners.setdefault(kinds.by_resource(resource).resource, []).append(fn)

    def peek_changed(self, resource: str, namespace: str, name: str) -> None:
        """The writer of a standing peek answer: it no longer stands (its schedule stopped)."""
        for fn in self.peek_listeners.get(kinds.by_resource(resource).resource, ()):
            fn(namespace, name)

    def bring_up_to_date(self, resource: str) -> None:
        """Let the read hooks write what a list of ``resource`` would find due (for a reader of
        the store itself, such as a state file)."""
        self._before_read(kinds.by_resource(resource).resource, None, None)

    def _before_read(self, resource: str, namespace: str | None, name: str | None) -> None:
        for hook in self.read_hooks.get(resource, ()):
            hook(namespace, name)

    # ------------------------------------------------------------------------------------------
    def bootstrap(self) -> None:
        """Create the namespaces every cluster starts with."""
        for ns in BOOTSTRAP_NAMESPACES:
            if self.store.get("namespaces", "", ns) is None:
                self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        from kubetwin.store.admission import SYSTEM_PRIORITY_CLASSES

        for pc, value in SYSTEM_PRIORITY_CLASSES.items():
            if self.store.get("priorityclasses.scheduling.k8s.io", "", pc) is None:
                self.create(
                    {
                        "apiVersion": "scheduling.k8s.io/v1",
                        "kind": "PriorityClass",
                        "metadata": {"name": pc},
                        "value": value,
                        "description": SYSTEM_PRIORITY_CLASS_DESCRIPTIONS[pc],
                        "preemptionPolicy": "PreemptLowerPriority",
                    }
                )

    def new_uid(self, rng: SeededRNG | None = None) -> str:
        """A version-4 UUID from ``rng`` (default: the registry's stream)."""
        return (rng or self.rng).uuid4()

    def event_stamp(self, now: float) -> int:
        """The Unix time in nanoseconds an event recorded at virtual ``now`` is named by
        (GenerateEventName's UnixNano: 16 hex digits, so names sort by time), or one past the last
        stamp handed out when that is not earlier. A wall clock moves between two events; virtual
        time stands still within an instant, so this keeps the names of all recorders apart (two
        recorders' events about one object at one instant would otherwise share a name, and the
        second create would fail)."""
        stamp = self._epoch_ns + int(now * 1e9)
        if stamp <= self._event_stamp:
            stamp = self._event_stamp + 1
        self._event_stamp = stamp
        return stamp

    def _new_event_uid(self) -> str:
        """The next uid of the events' stream. Nothing else draws from it, so its uids are drawn
        EVENT_UID_BATCH at a time by a Uuid4Stream, the same ones as one by one (a day of the
        bench records 360,000 events: batches halved the cost of their uids, the stream's numpy
        generator took another third off)."""
        if not self._event_uids:
            if self._event_uid_stream is None:
                self._event_uid_stream = Uuid4Stream(self._event_rng)  # it alone draws from now on
            self._event_uids = self._event_uid_stream.take(EVENT_UID_BATCH)
            self._event_uids.reverse()
        return self._event_uids.pop()

    # ------------------------------------------------------------------------------------------
    def get(
        self, resource: str, name: str, namespace: str | None = None, copy: bool = True
    ) -> dict[str, Any]:
        info = kinds.by_resource(resource)
        if self.read_hooks:
            self._before_read(info.resource, namespace, name)
        obj = self.store.get(info.resource, namespace or "" if info.namespaced else "", name)
        if obj is None:
            raise errors.not_found(info.plural, name, info.group)
        return deep_copy(obj) if copy else obj

    def list(
        self,
        resource: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
        copy: bool = True,
    ) -> dict[str, Any]:
        info = kinds.by_resource(resource)
        if self.read_hooks:
            self._before_read(info.resource, namespace if info.namespaced else None, None)
        match = _matcher(label_selector, field_selector)
        start_after: tuple[str, str] | None = None
        if continue_token:
            start_after = _decode_continue(continue_token)
        items: list[dict[str, Any]] = []
        more = False
        ns = namespace if info.namespaced else None
        # The store's key index starts right after the continue key: a page costs O(limit), not
        # a pass over the whole resource (nothing here writes while the iterator is open).
        for obj in self.store.iter_after(info.resource, ns, start_after):
            if not match(obj):
                continue
            if limit and len(items) >= limit:
                more = True
                break
            items.append(deep_copy(obj) if copy else obj)
        meta: dict[str, Any] = {"resourceVersion": str(self.store.resource_version)}
        if more and items:
            last = items[-1]["metadata"]
            meta["continue"] = _encode_continue(last.get("namespace", ""), last["name"])
        return {"apiVersion": info.api_version, "kind": f"{info.kind}List", "metadata": meta, "items": items}

    def watch(
        self,
        resource: str,
        handler: Callable[[WatchEvent], None],
        namespace: str | None = None,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Watcher:
        info = kinds.by_resource(resource)
        if self.read_hooks:
            self._before_read(info.resource, namespace if info.namespaced else None, None)
        if not label_selector and not field_selector:
            return self.store.watch(
                info.resource, handler, namespace if info.namespaced else None, resource_version
            )
        match = _matcher(label_selector, field_selector)

        def filtered(ev: WatchEvent) -> None:
            now = match(ev.object)
            before = ev.prev is not None and match(ev.prev)
            if ev.type == "MODIFIED":
                if now and not before:
                    handler(WatchEvent("ADDED", ev.object, ev.resource, ev.rv, ev.prev))
                elif before and not now and ev.prev is not None:
                    # cacheWatcher: the previous content, at the event's resourceVersion
                    gone = dict(ev.prev)
                    gone["metadata"] = dict(ev.prev.get("metadata") or {}, resourceVersion=str(ev.rv))
                    handler(WatchEvent("DELETED", gone, ev.resource, ev.rv, ev.prev))
                elif now:
                    handler(ev)
            elif now:
                handler(ev)

        return self.store.watch(
            info.resource, filtered, namespace if info.namespaced else None, resource_version
        )

    # ------------------------------------------------------------------------------------------
    def create(
        self,
        obj: dict[str, Any],
        namespace: str | None = None,
        dry_run: bool = False,
        owned: bool = False,
        field_manager: str | None = None,
        managed_fields: _ManagedFields | None = None,
    ) -> dict[str, Any]:
        """Create ``obj``. ``owned=True`` (in-process callers that build a fresh object and keep no
        reference to it, e.g. the event recorder) skips the defensive copies: the registry takes
        ``obj`` as is and returns the stored object, read-only like every stored value."""
        if not isinstance(obj, dict):
            raise errors.bad_request("the object must be a JSON/YAML mapping")
        info = kinds.for_object(obj)
        if not owned:
            obj = deep_copy(obj)
        conversion.to_storage(obj)
        obj["apiVersion"] = info.api_version
        meta = _meta(obj)
        if info.namespaced:
            ns = meta.get("namespace") or namespace or "default"
            if namespace and meta.get("namespace") and meta["namespace"] != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        gen = meta.get("generateName") if not meta.get("name") else None
        if not meta.get("name") and not gen:
            raise errors.invalid(
                info.kind,
                "",
                [Cause("metadata.name", "Required value: name or generateName is required", "FieldValueRequired")],
                info.group,
            )
        if gen:
            meta.pop("name", None)
        for field in (
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "uid",
            "managedFields",
        ):
            meta.pop(field, None)
        return self._create_prepared(info, obj, gen, dry_run, owned, field_manager, managed_fields)

    def create_trusted(self, obj: dict[str, Any], validated: bool = False) -> dict[str, Any]:
        """``create(obj, owned=True)`` for an in-process component handing over an object it built in
        the form create would bring it to: ``apiVersion`` its kind's stored version, ``metadata``
        with ``name`` and, for a namespaced kind, ``namespace``, and none of the fields create
        drops (resourceVersion, uid, deletionTimestamp, deletionGracePeriodSeconds, managedFields):
        the event recorders' Events. The same status reset, defaulting, admission, validation, uid,
        timestamps and watch event as ``create``, without the conversion and metadata passes that
        would change nothing (about 0.7 us of an Event create's 7.5). ``validated``: the caller
        has established that validation finds nothing in ``obj`` (the event recorders, for an Event
        whose metadata is a generated name and a namespace: ``client.events.metadata_valid``), so
        it is not run again. Returns the stored object (read-only)."""
        return self._create_prepared(kinds.for_object(obj), obj, None, False, True, None, None, validated)

    def _create_prepared(
        self,
        info: kinds.KindInfo,
        obj: dict[str, Any],
        gen: str | None,
        dry_run: bool,
        owned: bool,
        field_manager: str | None,
        managed_fields: _ManagedFields | None,
        validated: bool = False,
    ) -> dict[str, Any]:
        """The rest of create for ``obj`` in its stored version with its namespace and name (or
        ``gen``, its generateName) resolved: status reset, defaults, admission, validation (unless
        ``validated``), uid, timestamps, store."""
        meta = obj["metadata"]
        self._reset_status_on_create(info.kind, obj)
        defaults.apply_defaults(obj)
        for plugin in self._admission(info.kind, "CREATE"):
            plugin(self, obj, None, "CREATE")
        if info.kind == "Pod":
            # pod strategy PrepareForCreate: status is Pending with the QoS class of the (defaulted) spec
            obj["status"]["qosClass"] = resources.qos_class(obj)
        if gen:
            meta["name"] = self._generate_name(info, str(gen), meta.get("namespace", ""))
        if managed_fields is not None:
            meta["managedFields"] = managed_fields  # server-side apply computed them
        elif field_manager:
            self._record_update(info, None, obj, field_manager, None)
        if not validated:
            self._validate(info, obj, None)
        self._stamp_new(info, meta, self._new_event_uid() if info.kind == "Event" else self.new_uid())
        if dry_run:
            return obj
        stored = self.store.create(info.resource, obj)
        return stored if owned else deep_copy(stored)

    def create_event(self, ev: dict[str, Any], validated: bool = False) -> dict[str, Any]:
        """``create_trusted`` for a core/v1 Event (the recorders', ~360,000 a day): what create does
        that depends on the kind alone is known for Events and not looked up per event (no kind
        lookup; no status reset, as Event is in _STATUS_ON_CREATE; no defaulter; not a Pod; no
        generation), leaving admission (NamespaceLifecycle), validation unless ``validated``, the
        events' uid stream, the timestamp and the store (7% of a recorded event's instructions).
        tests/store/test_create_trusted.py holds it to what create stores."""
        self._admit_event(ev)
        if not validated:
            self._validate(_EVENT_INFO, ev, None)
        self._stamp_new(_EVENT_INFO, ev["metadata"], self._new_event_uid())
        return self.store.create("events", ev)

    def _admit_event(self, ev: dict[str, Any]) -> None:
        """The Event create admission chain on ``ev``. When that chain is NamespaceLifecycle alone
        (the default), whose verdict on an Event is whether its namespace exists (Events may go
        into a terminating one), a namespace it admitted one in is not asked about again until a
        namespace is written or the chain changes: the recorders' events go into a handful of
        namespaces."""
        ns = ev["metadata"]["namespace"]
        plugins = self._admission("Event", "CREATE")  # a changed chain empties _event_namespaces
        if ns in self._event_namespaces:
            return
        for plugin in plugins:
            plugin(self, ev, None, "CREATE")
        if plugins == _EVENT_ADMISSION:
            self._event_namespaces.add(ns)

    def _namespace_written(self, ev: WatchEvent) -> None:
        self._event_namespaces.clear()

    def _stamp_new(self, info: kinds.KindInfo, meta: dict[str, Any], uid: str) -> None:
        """Create's metadata: ``uid``, creationTimestamp and, for a kind with a spec, generation 1."""
        meta["uid"] = uid
        meta["creationTimestamp"] = self.clock.timestamp()
        if info.kind not in _NO_SPEC_GENERATION:
            meta["generation"] = 1

    def generate_name(self, base: str) -> str:
        """names.SimpleNameGenerator.GenerateName: base (cut to 58 characters) + 5 random characters."""
        return base[:MAX_GENERATED_NAME_BASE] + self.rng.alnum(GENERATED_NAME_RANDOM_LENGTH)

    def _generate_name(self, info: kinds.KindInfo, base: str, namespace: str) -> str:
        ns = namespace if info.namespaced else ""
        for _ in range(GENERATE_NAME_ATTEMPTS):
            name = self.generate_name(base)
            if self.store.get(info.resource, ns, name) is None:
                return name
        return name  # the store reports AlreadyExists, as upstream after its retries

    def _reset_status_on_create(self, kind: str, obj: dict[str, Any]) -> None:
        if kind == "Pod":
            obj["status"] = {"phase": "Pending"}
        elif kind == "HorizontalPodAutoscaler":
            # the strategy resets status to its zero value, which Go serialises with desiredReplicas
            # (int32, no omitempty): a saved HPA re-applies through kubectl's required-field check
            obj["status"] = {"desiredReplicas": 0}
        elif kind == "Namespace":
            obj["status"] = {"phase": "Active"}
            # namespace strategy PrepareForCreate: the "kubernetes" finalizer is always present, so the
            # namespace controller gets to empty the namespace before it goes away.
            spec = obj.get("spec")
            if not isinstance(spec, dict):
                spec = obj["spec"] = {}
            fins = list(spec.get("finalizers") or [])
            if FINALIZER_NAMESPACE not in fins:
                fins.append(FINALIZER_NAMESPACE)
            spec["finalizers"] = fins
        elif kind not in _STATUS_ON_CREATE and kinds.by_gvk(obj["apiVersion"], kind).status_subresource:
            obj.pop("status", None)

    def _validate(self, info: kinds.KindInfo, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        causes = validation.validate(obj, old)
        if causes:
            raise errors.invalid(info.kind, obj.get("metadata", {}).get("name", ""), causes, info.group)

    # ------------------------------------------------------------------------------------------
    def update(
        self,
        obj: dict[str, Any],
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
    ) -> dict[str, Any]:
        """Replace ``obj``. ``field_manager`` (HTTP writes) records its fields in managedFields."""
        return self._update(obj, subresource, dry_run, field_manager, trusted=False)

    def update_trusted(self, obj: dict[str, Any], subresource: str | None = None) -> dict[str, Any]:
        """``update(obj, subresource)`` for an in-process component handing over an object it built
        for this write alone (kubelet lease renewals and node heartbeats): the same checks, stored
        object and watch events, but ``obj`` is taken as is instead of copied (the caller must not
        touch it afterwards) and the stored object itself is returned (read-only, like a lister's)."""
        return self._update(obj, subresource, False, None, trusted=True)

    def set_fields_trusted(
        self, resource: str, namespace: str, name: str, section: str | None, fields: dict[str, Any]
    ) -> dict[str, Any]:
        """Write the stored object with ``fields`` set in its top-level ``section`` (``spec``, or
        ``status`` with status-subresource semantics), for an in-process component renewing what it
        owns: the kubelet's lease renewTime (upstream's lease controller sets holder, duration and
        renewTime on a copy of the lease it got) and its node status heartbeat; ``section`` None sets
        top-level fields (an Event's count and lastTimestamp, as the EventCorrelator's patch does). The same admission,
        validation, no-op check, generation rule and watch events as ``update``; the rest of the
        object is shared with the stored one, not rebuilt. Returns the stored object (read-only)."""
        info = kinds.by_resource(resource)
        if section is None:
            if not _TOP_LEVEL_RESERVED.isdisjoint(fields):
                raise errors.bad_request(f"cannot set fields of {next(k for k in fields if k in _TOP_LEVEL_RESERVED)!r}")
        elif section in _SECTIONS_RESERVED:
            raise errors.bad_request(f"cannot set fields of {section!r}")
        if section != "status" and info.kind in defaults.DEFAULTERS:
            raise errors.bad_request(f"{info.kind} is defaulted on update: use update_trusted")
        current = self.store.get(info.resource, namespace if info.namespaced else "", name)
        if current is None:
            raise errors.not_found(info.plural, name, info.group)
        old_section = current if section is None else current.get(section)
        if isinstance(old_section, dict) and not self._admission(info.kind, "UPDATE"):
            # Nothing but these fields can change: the write is a no-op exactly when each is
            # already stored with an equal value (what ``new == current`` finds below), and it
            # needs no validation when the kind's validation reads none of them.
            if _fields_stored(old_section, fields):
                return current
            if section == "status":
                lean = fields.keys().isdisjoint(_STATUS_VALIDATED.get(info.kind, ()))
            else:
                lean = info.kind not in validation.VALIDATORS
            if lean:
                new = self._with_fields(current, section, old_section, fields)
                if section != "status" and info.kind not in _NO_SPEC_GENERATION:
                    new["metadata"]["generation"] = int(current["metadata"].get("generation", 1)) + 1
                    return self._store_update(info, new, copy=False)
                return self._store_noted(info, current, new, (section, tuple(fields)) if section else None)
        new = self._with_fields(current, section, old_section, fields)
        if section == "status":
            return self._write_update(info, current, new, False, copy=False, subresource="status",
                                      noted=("status", tuple(fields)))  # fmt: skip
        if info.kind not in _NO_SPEC_GENERATION and _spec_part(new) != _spec_part(current):
            new["metadata"]["generation"] = int(current["metadata"].get("generation", 1)) + 1
        # metadata is the stored one: only a kind with a validator can fail validation here
        return self._write_update(info, current, new, False, validate=info.kind in validation.VALIDATORS, copy=False)

    @staticmethod
    def _with_fields(
        current: dict[str, Any], section: str | None, old_section: Any, fields: dict[str, Any]
    ) -> dict[str, Any]:
        """A copy of ``current`` (metadata and ``section`` copied, the rest shared) with ``fields``
        set in its top-level ``section`` (None: at the top level)."""
        new = dict(current)
        new["metadata"] = dict(current["metadata"])
        if section is None:
            new.update(fields)
        else:
            new[section] = {**old_section, **fields} if isinstance(old_section, dict) else dict(fields)
        return new

    def _update(
        self,
        obj: dict[str, Any],
        subresource: str | None,
        dry_run: bool,
        field_manager: str | None,
        trusted: bool,
    ) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise errors.bad_request("the object must be a JSON/YAML mapping")
        info = kinds.for_object(obj)
        meta = _meta(obj)
        ns = meta.get("namespace", "") if info.namespaced else ""
        name = meta.get("name", "")
        current = self.store.get(info.resource, ns or "", name)
        if current is None:
            raise errors.not_found(info.plural, name, info.group)
        expect_rv = meta.get("resourceVersion") or None
        if expect_rv and expect_rv != current["metadata"].get("resourceVersion"):
            raise errors.conflict(
                info.plural,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
                info.group,
            )
        if trusted:
            given = conversion.to_storage(obj)
        elif subresource == "status" and conversion.stored_as_is(obj):
            given = _status_write_part(obj)  # all a status write reads of it: no copy of its spec
        else:
            given = conversion.to_storage(deep_copy(obj))
        new = self._merge_update(info, current, given, subresource)
        if field_manager:
            self._record_update(info, current, new, field_manager, subresource)
        # a status write changes the status alone (and the annotations of a few kinds)
        noted = ("status", None) if subresource == "status" and not field_manager and info.kind not in _STATUS_KEEPS_ANNOTATIONS else None
        return self._write_update(info, current, new, dry_run, subresource=subresource, copy=not trusted, noted=noted)

    @staticmethod
    def _needs_validation(
        info: kinds.KindInfo, current: dict[str, Any], new: dict[str, Any], subresource: str | None
    ) -> bool:
        """False when validating ``new`` cannot find anything the stored (valid) object did not pass:
        a status write leaves spec and metadata as stored, so only the status fields a kind's
        validation reads count; a kind validated by its metadata alone needs it only when that changed."""
        if subresource == "status":
            fields = _STATUS_VALIDATED.get(info.kind)
            if fields is None:
                return False
            new_st, cur_st = new.get("status") or {}, current.get("status") or {}
            return not isinstance(new_st, dict) or any(new_st.get(f) != cur_st.get(f) for f in fields)
        if info.kind in validation.VALIDATORS:
            return True
        new_meta, cur_meta = new.get("metadata"), current["metadata"]
        if not isinstance(new_meta, dict):
            return True
        if len(new_meta) - ("resourceVersion" in new_meta) != len(cur_meta) - ("resourceVersion" in cur_meta):
            return True
        return any(k != "resourceVersion" and cur_meta.get(k, _MISSING) != v for k, v in new_meta.items())

    def _merge_update(
        self, info: kinds.KindInfo, current: dict[str, Any], obj: dict[str, Any], subresource: str | None
    ) -> dict[str, Any]:
        if subresource == "status":
            # Only metadata (resourceVersion) and status change: share the rest with the stored
            # object (read-only, like every stored value) instead of copying it.
            new = dict(current)
            new["metadata"] = dict(current["metadata"])
            if info.kind in _STATUS_KEEPS_ANNOTATIONS:
                # deploymentStatusStrategy resets only spec and labels: annotations may change.
                ann = (obj.get("metadata") or {}).get("annotations")
                if ann:
                    new["metadata"]["annotations"] = ann
                else:
                    new["metadata"].pop("annotations", None)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
            return new
        if subresource == "finalize":
            # namespaces/finalize (namespace finalizeStrategy): only spec.finalizers changes.
            if info.kind != "Namespace":
                raise errors.bad_request(f"unsupported subresource {subresource!r} for {info.plural}")
            new = deep_copy(current)
            fins = (obj.get("spec") or {}).get("finalizers") or []
            new.setdefault("spec", {})["finalizers"] = list(fins)
            return new
        if subresource not in (None, ""):
            raise errors.bad_request(f"unsupported subresource {subresource!r} for update")
        obj["apiVersion"] = info.api_version
        meta = obj["metadata"]
        cur_meta = current["metadata"]
        for f in _PRESERVED_META:
            if f in cur_meta:
                meta[f] = cur_meta[f]
            else:
                meta.pop(f, None)
        if info.namespaced:
            meta["namespace"] = cur_meta.get("namespace", "")
        defaults.apply_defaults(obj)
        if info.status_subresource:
            if "status" in current:
                obj["status"] = current["status"]  # shared, read-only like every stored value
            else:
                obj.pop("status", None)
        if info.kind == "Namespace":
            # spec.finalizers changes only through namespaces/finalize (namespace strategy PrepareForUpdate).
            cur_fins = (current.get("spec") or {}).get("finalizers")
            spec = obj.get("spec")
            if not isinstance(spec, dict):
                spec = obj["spec"] = {}
            if cur_fins is None:
                spec.pop("finalizers", None)
            else:
                spec["finalizers"] = list(cur_fins)
        if info.kind not in _NO_SPEC_GENERATION and (
            _spec_part(obj) != _spec_part(current)
            # deployment strategy: annotations are copied to ReplicaSets, so they bump generation too
            or (info.kind == "Deployment" and (meta.get("annotations") or {}) != (cur_meta.get("annotations") or {}))
        ):
            meta["generation"] = int(cur_meta.get("generation", 1)) + 1
        return obj

    def _write_update(
        self,
        info: kinds.KindInfo,
        current: dict[str, Any],
        new: dict[str, Any],
        dry_run: bool,
        validate: bool = True,
        copy: bool = True,
        subresource: str | None = None,
        noted: tuple[str, tuple[str, ...] | None] | None = None,
    ) -> dict[str, Any]:
        """Admit, validate and store ``new`` over ``current``. ``noted``: (section, keys or None)
        when ``new`` is ``current`` with nothing but that section changed (see ``_store_noted``),
        as long as no admission plugin could change more."""
        plugins = self._admission(info.kind, "UPDATE")
        for plugin in plugins:
            plugin(self, new, current, "UPDATE")
        if validate and self._needs_validation(info, current, new, subresource):
            self._validate(info, new, current)
        new["metadata"]["resourceVersion"] = current["metadata"].get("resourceVersion", "")
        if new == current:
            return deep_copy(current) if copy else current
        if dry_run:
            return new
        if noted is not None and not plugins:
            return self._store_noted(info, current, new, noted, copy)
        return self._store_update(info, new, copy)

    def _store_noted(
        self, info: kinds.KindInfo, current: dict[str, Any], new: dict[str, Any],
        noted: tuple[str, tuple[str, ...] | None] | None, copy: bool = False,
    ) -> dict[str, Any]:  # fmt: skip
        """``_store_update`` of ``new``, which is ``current`` with nothing changed but the section
        and keys ``noted`` names (None: not known) and metadata.resourceVersion: noted while its
        events are delivered (``api.meta.sole_change``), so that update classifiers (a node's
        ``heartbeat_only``, ``pod_changes``) skip comparing the parts it cannot have changed."""
        if noted is None:
            return self._store_update(info, new, copy)
        note_sole_change(current, new, *noted)
        try:
            return self._store_update(info, new, copy)
        finally:
            clear_sole_change()

    def _store_update(self, info: kinds.KindInfo, new: dict[str, Any], copy: bool) -> dict[str, Any]:
        """Store a checked update (or finish a deletion it completes)."""
        meta = new["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and self._finalizable(info, new):
            final = self.store.delete(info.resource, meta.get("namespace", ""), meta["name"])
            return deep_copy(final) if copy else final
        stored = self.store.update(info.resource, new)
        return deep_copy(stored) if copy else stored

    @staticmethod
    def _finalizable(info: kinds.KindInfo, obj: dict[str, Any]) -> bool:
        if info.kind == "Namespace":
            return not (obj.get("spec") or {}).get("finalizers")
        if info.kind == "Pod":
            # A gracefully deleted pod is removed by the kubelet (grace 0), not by finalizer removal.
            return obj["metadata"].get("deletionGracePeriodSeconds", 0) == 0
        return True

    def update_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self.update(obj, subresource="status")

    def patch(
        self,
        resource: str,
        name: str,
        patch: Any,
        namespace: str | None = None,
        patch_type: str = "merge",
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        force: bool = False,
        version: str | None = None,
        prune: Callable[[dict[str, Any]], Any] | None = None,
    ) -> dict[str, Any]:
        """``patch_type``: merge | strategic | json | apply (server-side apply; creates when absent).

        ``prune`` (not for apply): called on a private copy of the patched object before it is
        written, to drop what the kind's schema does not have (the server's fieldValidation
        Warn/Ignore, as decoding into upstream's types does).

        ``version`` (an apiVersion the kind is also served as, e.g. ``autoscaling/v1``): the patch
        is written against that version, as upstream applies a patch to the object converted to the
        request's version; the result is converted back to the stored version."""
        info = kinds.by_resource(resource)
        if version == info.api_version:
            version = None
        if patch_type == "apply":
            return self._apply_patch(info, name, patch, namespace, field_manager, force, subresource, dry_run, version)
        current = self.get(info.resource, name, namespace, copy=False)
        if version is not None:
            current = conversion.from_storage(current, version)
        if patch_type == "strategic":
            if not isinstance(patch, dict):
                raise errors.bad_request("a strategic merge patch must be a JSON object")
            patched = strategic_merge_patch(current, patch)
        elif patch_type == "merge":
            if not isinstance(patch, dict):
                raise errors.bad_request("a merge patch must be a JSON object")
            patched = merge_patch(current, patch)
        elif patch_type == "json":
            patched = json_patch(current, patch)
        else:
            raise errors.ApiError(415, "UnsupportedMediaType", f"unsupported patch type {patch_type!r}")
        if not isinstance(patched, dict):
            raise errors.bad_request("patch produced a non-object")
        pmeta = patched.setdefault("metadata", {})
        if not isinstance(pmeta, dict):
            raise errors.bad_request("metadata must be an object")
        if pmeta.get("name") != name:
            raise errors.bad_request("the name of the object cannot be changed by a patch")
        patched["kind"] = info.kind
        if version is not None:
            patched["apiVersion"] = version  # converted back to the stored version by update
        rv_in_patch = (
            isinstance(patch, dict)
            and isinstance(patch.get("metadata"), dict)
            and patch["metadata"].get("resourceVersion")
        )
        if not rv_in_patch:
            pmeta["resourceVersion"] = current["metadata"].get("resourceVersion")
        if prune is not None:
            patched = deep_copy(patched)  # the patch result shares what it did not touch with the store
            prune(patched)
        return self.update(patched, subresource=subresource, dry_run=dry_run, field_manager=field_manager)

    def _record_update(
        self,
        info: kinds.KindInfo,
        old: dict[str, Any] | None,
        new: dict[str, Any],
        manager: str,
        subresource: str | None,
    ) -> None:
        new_meta = new.get("metadata")
        shared = old is not None and new_meta is old.get("metadata")
        if shared and isinstance(new_meta, dict):
            new["metadata"] = {**new_meta}  # shared with the stored object: copy before writing
        record_update(
            old,
            new,
            manager,
            "Update",
            time=self.clock.timestamp(),
            subresource=subresource if subresource == "status" else None,
            kind=info.kind,
        )

    def _apply_patch(
        self,
        info: kinds.KindInfo,
        name: str,
        applied: Any,
        namespace: str | None,
        field_manager: str | None,
        force: bool,
        subresource: str | None,
        dry_run: bool,
        version: str | None = None,
    ) -> dict[str, Any]:
        """PATCH with application/apply-patch+yaml (staging/.../fieldmanager): create or merge.
        With ``version``, the merge (and the applier's managedFields entry) is in that version."""
        if not isinstance(applied, dict):
            raise errors.bad_request("an apply patch must be a YAML/JSON object")
        if not field_manager:
            raise errors.bad_request("PATCH, application/apply-patch+yaml requires fieldManager to be set")
        ameta = applied.get("metadata")
        if not isinstance(ameta, dict):
            raise errors.bad_request("metadata must be an object")
        if ameta.get("name") not in (None, name):
            raise errors.bad_request("the name of the object cannot be changed by a patch")
        applied = dict(applied, metadata=dict(ameta, name=name))
        ns = (namespace or "") if info.namespaced else ""
        current = self.store.get(info.resource, ns, name)
        if current is not None and version is not None:
            current = conversion.from_storage(current, version)
        now = self.clock.timestamp()
        if current is None:
            if subresource:
                raise errors.not_found(info.plural, name, info.group)
            obj = server_side_apply(None, applied, field_manager, force, info.kind, time=now)
            managed = (obj.get("metadata") or {}).get("managedFields")
            return self.create(obj, namespace=namespace, dry_run=dry_run, managed_fields=managed)
        patched = server_side_apply(
            current, applied, field_manager, force, info.kind, time=now, subresource=subresource
        )
        patched["kind"] = info.kind
        if version is not None:
            patched["apiVersion"] = version
        patched.setdefault("metadata", {})["resourceVersion"] = current["metadata"].get("resourceVersion")
        return self.update(patched, subresource=subresource, dry_run=dry_run)

    # ------------------------------------------------------------------------------------------
    def evict(
        self, namespace: str, name: str, delete_options: dict[str, Any] | None = None, dry_run: bool = False
    ) -> None:
        """pods/eviction (pkg/registry/core/pod/storage/eviction.go): delete a pod unless that would
        violate its PodDisruptionBudget. Raises 429 when the budget blocks it."""
        opts = dict(delete_options or {})
        dry_run = dry_run or "All" in (opts.get("dryRun") or [])
        pod = self.store.get("pods", namespace, name)
        if pod is None:
            raise errors.not_found("pods", name)

        def delete_pod() -> None:
            self.delete(
                "pods",
                name,
                namespace,
                propagation_policy=opts.get("propagationPolicy"),
                grace_period_seconds=opts.get("gracePeriodSeconds"),
                preconditions=opts.get("preconditions"),
                dry_run=dry_run,
            )

        # canIgnorePDB: terminal, pending and already-terminating pods are deleted without a check.
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed", "Pending") or pod["metadata"].get("deletionTimestamp"):
            delete_pod()
            return
        from kubetwin.api import selectors

        labels = pod["metadata"].get("labels") or {}
        pdbs = []
        for pdb in self.store.iter("poddisruptionbudgets.policy", namespace):
            sel_dict = (pdb.get("spec") or {}).get("selector")
            if not sel_dict:
                continue  # a nil or empty selector matches nothing here
            try:
                sel = selectors.label_selector_from_dict(sel_dict)
            except ValueError:
                continue
            if sel.empty or not sel.matches(labels):
                continue
            pdbs.append(pdb)
        if not pdbs:
            delete_pod()
            return
        if len(pdbs) > 1:
            raise errors.ApiError(
                500,
                "InternalError",
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            )
        pdb = pdbs[0]
        spec = pdb.get("spec") or {}
        status = pdb.get("status") or {}
        if not resources.is_pod_ready(pod):
            policy = spec.get("unhealthyPodEvictionPolicy") or "IfHealthyBudget"
            if policy == "AlwaysAllow":
                delete_pod()
                return
            desired = int(status.get("desiredHealthy") or 0)
            if int(status.get("currentHealthy") or 0) >= desired and desired > 0:
                delete_pod()
                return
        self._check_and_decrement(pdb, name, dry_run)
        delete_pod()

    def _check_and_decrement(self, pdb: dict[str, Any], pod_name: str, dry_run: bool) -> None:
        """eviction.go checkAndDecrement."""
        meta = pdb["metadata"]
        status = pdb.get("status") or {}
        blocked = "Cannot evict pod as it would violate the pod's disruption budget."
        if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
            raise errors.ApiError(
                429,
                "TooManyRequests",
                blocked,
                causes=[
                    Cause(
                        "",
                        f"The disruption budget {meta['name']} is still being processed by the server.",
                        "DisruptionBudget",
                    )
                ],
            )
        allowed = int(status.get("disruptionsAllowed") or 0)
        if allowed < 0:
            raise errors.forbidden("poddisruptionbudgets", meta["name"], "pdb disruptions allowed is negative", "policy")
        disrupted = dict(status.get("disruptedPods") or {})
        if len(disrupted) > MAX_DISRUPTED_POD_SIZE:
            raise errors.forbidden(
                "poddisruptionbudgets",
                meta["name"],
                "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
                "policy",
            )
        if allowed == 0:
            raise errors.ApiError(
                429,
                "TooManyRequests",
                blocked,
                causes=[
                    Cause(
                        "",
                        f"The disruption budget {meta['name']} needs {int(status.get('desiredHealthy') or 0)} "
                        f"healthy pods and has {int(status.get('currentHealthy') or 0)} currently",
                        "DisruptionBudget",
                    )
                ],
            )
        new = deep_copy(pdb)
        nst = new.setdefault("status", {})
        nst["disruptionsAllowed"] = allowed - 1
        if pod_name not in disrupted:
            disrupted[pod_name] = self.clock.timestamp()
        nst["disruptedPods"] = disrupted
        self.update(new, subresource="status", dry_run=dry_run)

    # ------------------------------------------------------------------------------------------
    def delete(
        self,
        resource: str,
        name: str,
        namespace: str | None = None,
        propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
        preconditions: dict[str, Any] | None = None,
        dry_run: bool = False,
        copy: bool = True,
    ) -> dict[str, Any]:
        """Delete (or start deleting) an object; returns it as stored after the call (``copy=False``:
        the stored or final object itself, read-only, for callers that do not keep it)."""
        info = kinds.by_resource(resource)
        ns = (namespace or "") if info.namespaced else ""
        current = self.store.get(info.resource, ns, name)
        if current is None:
            raise errors.not_found(info.plural, name, info.group)
        self._check_preconditions(info, current, preconditions or {})
        if propagation_policy not in (None, "", "Orphan", "Background", "Foreground"):
            raise errors.bad_request(
                f'Unsupported value: "{propagation_policy}": supported values: "Foreground", "Background", "Orphan"'
            )
        if grace_period_seconds is not None and grace_period_seconds < 0:
            grace_period_seconds = 0
        cur_meta = current["metadata"]
        finalizers: list[str] = list(cur_meta.get("finalizers") or [])
        if propagation_policy:
            # deletionFinalizersForGarbageCollection: an explicit policy replaces the GC finalizers.
            finalizers = [f for f in finalizers if f not in (FINALIZER_ORPHAN, FINALIZER_FOREGROUND)]
            if propagation_policy == "Orphan":
                finalizers.append(FINALIZER_ORPHAN)
            elif propagation_policy == "Foreground":
                finalizers.append(FINALIZER_FOREGROUND)
        pending_namespace = info.kind == "Namespace" and bool((current.get("spec") or {}).get("finalizers"))
        if pending_namespace and cur_meta.get("deletionTimestamp"):
            # namespace storage Delete: a terminating namespace is purged by the namespace controller.
            raise errors.conflict(info.plural, name, NAMESPACE_TERMINATING_MESSAGE, info.group)
        grace = self._grace_period(info, current, grace_period_seconds)
        shorter: tuple[float, int] | None = None  # (deletion time, grace) of a shortened grace period
        if cur_meta.get("deletionTimestamp"):
            # rest.BeforeDelete on an object already being deleted: only an explicitly requested,
            # shorter grace period changes anything; the new deadline counts from the first request.
            old_grace = int(cur_meta.get("deletionGracePeriodSeconds") or 0)
            if old_grace and grace_period_seconds is not None and grace < old_grace:
                started = self.clock.parse_timestamp(cur_meta["deletionTimestamp"]) - old_grace
                shorter = (max(started + grace, 0.0), grace)  # (formatted only if kept: not at grace 0)
            elif old_grace:
                grace = old_grace  # graceful deletion pending: nothing to do
            else:
                grace = 0
        if not finalizers and grace == 0 and not pending_namespace:
            if dry_run:
                return deep_copy(current)
            final = self.store.delete(info.resource, ns, name)
            return deep_copy(final) if copy else final
        # only metadata (and a namespace's status.phase) changes: the rest is shared with the
        # stored object, read-only like every stored value
        new = {**current, "metadata": dict(cur_meta)}
        meta = new["metadata"]
        if finalizers:
            meta["finalizers"] = finalizers
        else:
            meta.pop("finalizers", None)
        if shorter is not None:
            meta["deletionTimestamp"], meta["deletionGracePeriodSeconds"] = self.clock.timestamp(shorter[0]), shorter[1]
        # Graceful path: mark with deletionTimestamp and keep the object.
        if not meta.get("deletionTimestamp"):
            meta["deletionTimestamp"] = self.clock.timestamp(self.clock.now + grace)
            meta["deletionGracePeriodSeconds"] = grace
        if info.kind == "Namespace":
            new["status"] = {**(current.get("status") or {}), "phase": "Terminating"}
        if dry_run or new == current:
            return deep_copy(new)
        stored = self.store.update(info.resource, new)
        return deep_copy(stored) if copy else stored

    def _check_preconditions(
        self, info: kinds.KindInfo, current: dict[str, Any], pre: dict[str, Any]
    ) -> None:
        meta = current["metadata"]
        uid = pre.get("uid")
        if uid and uid != meta.get("uid"):
            raise errors.conflict(
                info.plural,
                meta["name"],
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: {meta.get('uid')}",
                info.group,
            )
        rv = pre.get("resourceVersion")
        if rv and rv != meta.get("resourceVersion"):
            raise errors.conflict(
                info.plural,
                meta["name"],
                f"Precondition failed: ResourceVersion in precondition: {rv}, "
                f"ResourceVersion in object meta: {meta.get('resourceVersion')}",
                info.group,
            )

    @staticmethod
    def _grace_period(info: kinds.KindInfo, obj: dict[str, Any], requested: int | None) -> int:
        """pkg/registry/core/pod/strategy.go CheckGracefulTermination: only bound, non-terminal pods wait."""
        if info.kind != "Pod":
            return 0
        spec = obj.get("spec") or {}
        phase = (obj.get("status") or {}).get("phase")
        if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
            return 0
        if requested is not None:
            return int(requested)
        return int(spec.get("terminationGracePeriodSeconds", 30) or 0)

    # ------------------------------------------------------------------------------------------
    def bind(
        self, namespace: str, name: str, node_name: str, uid: str | None = None, copy: bool = True
    ) -> dict[str, Any]:
        """pods/binding (pkg/registry/core/pod/storage/storage.go assignPod). ``copy=False`` returns
        the stored pod (read-only), for callers that do not use the answer (the scheduler's binder)."""
        current = self.store.get("pods", namespace, name)
        if current is None:
            raise errors.not_found("pods", name)
        cur_uid = current["metadata"].get("uid")
        if uid and cur_uid != uid:
            raise errors.conflict(
                "pods", name, f"Precondition failed: UID in precondition: {uid}, UID in object meta: {cur_uid}"
            )
        # setPodHostAndAnnotations errors come back as Conflict on pods/binding.
        if current["metadata"].get("deletionTimestamp"):
            raise errors.conflict("pods/binding", name, f"pod {name} is being deleted, cannot be assigned to a host")
        assigned = (current.get("spec") or {}).get("nodeName")
        if assigned:
            raise errors.conflict("pods/binding", name, f'pod {name} is already assigned to node "{assigned}"')
        if not node_name:
            raise errors.invalid("Binding", name, [Cause("target.name", "Required value", "FieldValueRequired")])
        # Copy only what changes (spec, status, conditions, metadata); the rest is shared with the
        # stored object, read-only like every stored value. This is the scheduler's hot path.
        new = dict(current)
        new["metadata"] = dict(current["metadata"])
        new["spec"] = dict(current.get("spec") or {})
        new["spec"]["nodeName"] = node_name
        status = dict(current.get("status") or {})
        new["status"] = status
        now = self.clock.timestamp()
        scheduled = {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
        conditions = list(status.get("conditions") or [])
        for i, c in enumerate(conditions):
            if c.get("type") == "PodScheduled":
                if c.get("status") == "True" and c.get("lastTransitionTime"):
                    scheduled["lastTransitionTime"] = c["lastTransitionTime"]
                conditions[i] = scheduled
                break
        else:
            conditions.append(scheduled)
        status["conditions"] = conditions
        stored = self.store.update("pods", new)
        return deep_copy(stored) if copy else stored


def _fields_stored(section: dict[str, Any], fields: dict[str, Any]) -> bool:
    """Whether ``section`` already holds every one of ``fields`` with an equal value."""
    for k, v in fields.items():
        w = section.get(k, _MISSING)
        if w is not v and w != v:
            return False
    return True


def _matcher(label_selector: str | None, field_selector: str | None) -> Callable[[dict[str, Any]], bool]:
    if not label_selector and not field_selector:
        return lambda obj: True
    from kubetwin.api import selectors

    try:
        ls = selectors.parse_label_selector(label_selector) if label_selector else None
        fs = selectors.parse_field_selector(field_selector) if field_selector else None
    except ValueError as e:
        raise errors.bad_request(str(e)) from None

    def match(obj: dict[str, Any]) -> bool:
        if ls is not None and not ls.matches(obj.get("metadata", {}).get("labels") or {}):
            return False
        return fs is None or fs.matches(obj)

    return match


def _encode_continue(ns: str, name: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"v": "meta.k8s.io/v1", "start": [ns, name]})).decode()


def _decode_continue(token: str) -> tuple[str, str]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        ns, name = data["start"]
        return str(ns), str(name)
    except (ValueError, KeyError, TypeError):
        raise errors.bad_request("continue key is not valid: invalid continue token") from None
