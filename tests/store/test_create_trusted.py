"""Registry.create_trusted: an object built in its stored form is stored exactly as create stores
it (same uid stream, timestamps, watch event), with the same admission and validation."""

from __future__ import annotations

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


def test_create_trusted_stores_what_create_stores() -> None:
    plain, plain_seen = _registry()
    trusted, trusted_seen = _registry()
    for i in range(3):
        annotations = {"annotations": {"a.kubetwin.io/x": "y"}} if i == 1 else {}
        want = plain.create(_event(f"p.{i:x}", **annotations), owned=True)
        assert trusted.create_trusted(_event(f"p.{i:x}", **annotations)) == want
    assert [(e.type, e.rv, e.object) for e in trusted_seen] == [(e.type, e.rv, e.object) for e in plain_seen]


@pytest.mark.parametrize(
    ("event", "code"),
    [
        pytest.param(_event("p." + "a" * 260), 422, id="name-too-long"),
        pytest.param(_event("P.1"), 422, id="name-not-a-subdomain"),
        pytest.param(_event("p.1", namespace="missing"), 404, id="namespace-missing"),
    ],
)
def test_create_trusted_admits_and_validates_as_create(event: dict[str, Any], code: int) -> None:
    reg, seen = _registry()
    with pytest.raises(ApiError) as err:
        reg.create_trusted(event)
    assert err.value.code == code
    assert seen == []
