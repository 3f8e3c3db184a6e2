"""Registry.create_trusted and its Event form create_event: an object built in its stored form is
stored exactly as create stores it (same uid stream, timestamps, watch event), with the same
admission and validation."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from kubetwin.api.errors import ApiError
from kubetwin.sim import EventLoop, SeededRNG
from kubetwin.store import Registry, Store, WatchEvent


def _registry() -> tuple[Registry, list[WatchEvent]]:
    reg = Registry(Store(), EventLoop(), SeededRNG(1))
    reg.bootstrap()
    seen: list[WatchEvent] = []
    reg.store.add_listener(seen.append, "events")
    return reg, seen


def _event(name: str, namespace: str = "default", **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": namespace, **extra},
        "involvedObject": {"kind": "Pod", "namespace": namespace, "name": "p", "uid": "u1", "apiVersion": "v1"},
        "reason": "Pulled", "message": "pulled", "type": "Normal", "source": {"component": "kubelet"},
        "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z", "count": 1,
    }  # fmt: skip


def _create_trusted(reg: Registry, ev: dict[str, Any]) -> dict[str, Any]:
    return reg.create_trusted(ev)


def _create_event(reg: Registry, ev: dict[str, Any]) -> dict[str, Any]:
    return reg.create_event(ev)


CREATES = [pytest.param(_create_trusted, id="create_trusted"), pytest.param(_create_event, id="create_event")]


@pytest.mark.parametrize("create", CREATES)
def test_create_trusted_stores_what_create_stores(create: Callable[[Registry, dict[str, Any]], dict[str, Any]]) -> None:
    plain, plain_seen = _registry()
    trusted, trusted_seen = _registry()
    for i in range(3):
        annotations = {"annotations": {"a.kubetwin.io/x": "y"}} if i == 1 else {}
        want = plain.create(_event(f"p.{i:x}", **annotations), owned=True)
        got = create(trusted, _event(f"p.{i:x}", **annotations))
        assert got == want
        assert list(got["metadata"]) == list(want["metadata"])  # same field order, as stored
    assert [(e.type, e.rv, e.object) for e in trusted_seen] == [(e.type, e.rv, e.object) for e in plain_seen]


@pytest.mark.parametrize("create", CREATES)
@pytest.mark.parametrize(
    ("event", "code"),
    [
        pytest.param(_event("p." + "a" * 260), 422, id="name-too-long"),
        pytest.param(_event("P.1"), 422, id="name-not-a-subdomain"),
        pytest.param(_event("p.1", namespace="missing"), 404, id="namespace-missing"),
    ],
)
def test_create_trusted_admits_and_validates_as_create(
    create: Callable[[Registry, dict[str, Any]], dict[str, Any]], event: dict[str, Any], code: int
) -> None:
    reg, seen = _registry()
    with pytest.raises(ApiError) as err:
        create(reg, copy.deepcopy(event))
    assert err.value.code == code
    assert seen == []


def test_create_event_skips_only_what_events_do_not_need() -> None:
    """What create_event leaves out must stay a no-op for Events: no defaulter, status kept on
    create, no generation."""
    from kubetwin.api.defaults import DEFAULTERS
    from kubetwin.store import registry

    assert "Event" not in DEFAULTERS
    assert "Event" in registry._STATUS_ON_CREATE
    assert "Event" in registry._NO_SPEC_GENERATION


def test_create_event_asks_namespace_lifecycle_again_once_a_namespace_is_written() -> None:
    reg, seen = _registry()
    reg.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    reg.create_event(_event("p.1", namespace="team"))  # admitted: "team" is remembered
    reg.store.delete("namespaces", "", "team")  # gone (as when the namespace controller is done)
    with pytest.raises(ApiError) as err:
        reg.create_event(_event("p.2", namespace="team"))
    assert err.value.code == 404
    reg.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    reg.create_event(_event("p.2", namespace="team"))
    assert [e.object["metadata"]["name"] for e in seen] == ["p.1", "p.2"]


def test_create_event_runs_a_changed_event_admission_chain() -> None:
    reg, _ = _registry()
    reg.create_event(_event("p.1"))
    calls: list[str] = []

    def audit(r: Registry, obj: dict[str, Any], old: dict[str, Any] | None, op: str) -> None:
        calls.append(obj["metadata"]["name"])

    reg.admission.append(audit)
    reg.create_event(_event("p.2"))
    assert calls == ["p.2"]
