"""The registry's note of a write that changes one section alone (api.meta.sole_change): held
while the write's events are delivered, and the classifiers that trust it (pod_changes,
heartbeat_only) answer exactly as when they compare the versions themselves."""

from __future__ import annotations

from typing import Any

from kubetwin.api import meta
from kubetwin.api.nodestatus import heartbeat_only, registration_conditions, renewed_heartbeats
from kubetwin.api.podchanges import PHASE, pod_changes
from kubetwin.store import Registry, WatchEvent
from kubetwin.store.copy import deep_copy


def _pod(reg: Registry) -> dict[str, Any]:
    return reg.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                       "spec": {"containers": [{"name": "c", "image": "i"}]}})  # fmt: skip


def _node(reg: Registry) -> dict[str, Any]:
    return reg.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
                       "status": {"conditions": registration_conditions("2026-01-01T00:00:00Z", True)}})  # fmt: skip


def _record(reg: Registry, resource: str, seen: list[tuple[Any, ...]]) -> None:
    def on(ev: WatchEvent) -> None:
        if ev.type == "MODIFIED":
            assert ev.prev is not None
            seen.append((ev.prev, ev.object, meta.sole_change(ev.prev, ev.object)))

    reg.store.watch(resource, on, resource_version=str(reg.store.resource_version))


def test_status_write_is_noted_while_delivered_and_cleared_after(reg: Registry) -> None:
    _pod(reg)
    seen: list[tuple[Any, ...]] = []
    _record(reg, "pods", seen)
    reg.update_trusted({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                        "status": {"phase": "Running"}}, "status")  # fmt: skip
    (old, new, known), = seen
    assert known == ("status", None)
    assert meta.sole_change(old, new) is None  # cleared once delivered
    assert pod_changes(old, new) & PHASE


def test_untrusted_status_write_and_spec_write(reg: Registry) -> None:
    _pod(reg)
    seen: list[tuple[Any, ...]] = []
    _record(reg, "pods", seen)
    pod = reg.get("pods", "p", "default")
    pod["status"] = {"phase": "Running"}
    reg.update(pod, subresource="status")
    pod = reg.get("pods", "p", "default")
    pod["metadata"]["labels"] = {"a": "b"}
    reg.update(pod)
    assert [s[2] for s in seen] == [("status", None), None]  # a main-resource write is not noted


def test_classifiers_agree_with_and_without_the_note(reg: Registry) -> None:
    _pod(reg)
    _node(reg)
    seen: list[tuple[Any, ...]] = []
    _record(reg, "pods", seen)
    _record(reg, "nodes", seen)
    reg.update_trusted({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}},
                       "status")  # fmt: skip
    conds = reg.store.get("nodes", "", "n1")["status"]["conditions"]  # type: ignore[index]
    reg.set_fields_trusted("nodes", "", "n1", "status", {"conditions": renewed_heartbeats(conds, 4, "2026-01-01T00:05:00Z")})
    conds = reg.store.get("nodes", "", "n1")["status"]["conditions"]  # type: ignore[index]
    changed = [dict(c, status="False") if c["type"] == "Ready" else c for c in conds]
    reg.set_fields_trusted("nodes", "", "n1", "status", {"conditions": changed})
    assert [s[2] is not None for s in seen] == [True, True, True]
    for old, new, _ in seen:
        fn = pod_changes if new["kind"] == "Pod" else heartbeat_only
        with_note = fn(old, new)
        meta.clear_sole_change()
        # the same versions compared afresh (copies: no identity shortcut either)
        assert with_note == fn(deep_copy(old), deep_copy(new))
    assert [heartbeat_only(o, n) for o, n, k in seen[1:]] == [True, False]


def test_a_write_made_during_delivery_replaces_the_note(reg: Registry) -> None:
    """A handler that makes a noted write meanwhile: the first write's later watchers find no
    note (they compare), never the nested write's."""
    _pod(reg)
    _node(reg)
    later: list[Any] = []

    def first(ev: WatchEvent) -> None:
        if ev.type == "MODIFIED":
            reg.set_fields_trusted("nodes", "", "n1", "status", {"phase": "Running"})

    def second(ev: WatchEvent) -> None:
        if ev.type == "MODIFIED":
            assert ev.prev is not None
            later.append(meta.sole_change(ev.prev, ev.object))

    rv = str(reg.store.resource_version)
    reg.store.watch("pods", first, resource_version=rv)
    reg.store.watch("pods", second, resource_version=rv)
    reg.update_trusted({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                        "status": {"phase": "Running"}}, "status")  # fmt: skip
    assert later == [None]
