"""api.nodestatus.heartbeat_only: a Node update that renewed nothing but heartbeat times."""

from __future__ import annotations

from typing import Any

import pytest

from kubetwin.api import nodestatus
from kubetwin.api.nodestatus import heartbeat_only, registration_conditions, renewed_heartbeats
from kubetwin.store.copy import deep_copy

Obj = dict[str, Any]
T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"


def _node() -> Obj:
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "n1", "resourceVersion": "5", "labels": {"zone": "a"}},
        "spec": {"podCIDR": "10.0.0.0/24"},
        "status": {"capacity": {"cpu": "4"}, "allocatable": {"cpu": "4"},
                   "conditions": registration_conditions(T0, ready=True)},
    }  # fmt: skip


def _renewed(node: Obj) -> Obj:
    """What the kubelet's heartbeat stores: shares all but metadata, status and the conditions."""
    new = {**node, "metadata": {**node["metadata"], "resourceVersion": "9"}}
    new["status"] = {**node["status"], "conditions": [{**c, "lastHeartbeatTime": T1} for c in node["status"]["conditions"]]}
    return new


def _edit(path: str, value: Any) -> Any:
    def change(node: Obj) -> Obj:
        new = deep_copy(_renewed(node))
        *parents, last = path.split(".")
        target: Any = new
        for p in parents:
            target = target[int(p)] if isinstance(target, list) else target[p]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
        return new

    return change


@pytest.mark.parametrize(
    ("change", "want"),
    [
        pytest.param(_renewed, True, id="heartbeat"),
        pytest.param(lambda n: deep_copy(_renewed(n)), True, id="heartbeat-nothing-shared"),
        pytest.param(lambda n: {**n, "metadata": {**n["metadata"], "resourceVersion": "9"}}, True, id="rv-only"),
        pytest.param(_edit("status.conditions.3.status", "False"), False, id="ready-status"),
        pytest.param(_edit("status.conditions.3.reason", "Other"), False, id="ready-reason"),
        pytest.param(_edit("status.conditions.0.lastTransitionTime", T1), False, id="transition-time"),
        pytest.param(_edit("status.conditions.0.lastHeartbeatTime", KeyError), False, id="heartbeat-key-dropped"),
        pytest.param(_edit("status.conditions.0.extra", "x"), False, id="condition-key-added"),
        pytest.param(lambda n: {**_renewed(n), "status": {**_renewed(n)["status"],
                                "conditions": _renewed(n)["status"]["conditions"][::-1]}}, False, id="reordered"),  # fmt: skip
        pytest.param(_edit("status.allocatable", {"cpu": "3"}), False, id="allocatable"),
        pytest.param(_edit("status.images", []), False, id="status-key-added"),
        pytest.param(_edit("metadata.labels", {"zone": "b"}), False, id="labels"),
        pytest.param(_edit("metadata.resourceVersion", KeyError), False, id="rv-dropped"),
        pytest.param(_edit("spec.unschedulable", True), False, id="spec"),
        pytest.param(_edit("spec", KeyError), False, id="spec-dropped"),
    ],
)
def test_heartbeat_only(change: Any, want: bool) -> None:
    old = _node()
    assert heartbeat_only(old, change(old)) is want


def _kubelet_renewal(node: Obj, status: Obj | None = None) -> Obj:
    """The kubelet's report through ``renewed_heartbeats`` (its 4 conditions renewed), with the
    other status fields ``status`` if given."""
    conds = renewed_heartbeats(node["status"]["conditions"], 4, T1)
    return {**node, "metadata": {**node["metadata"], "resourceVersion": "9"},
            "status": {**(status or node["status"]), "conditions": conds}}  # fmt: skip


def test_renewed_heartbeats_known_without_a_look(monkeypatch: pytest.MonkeyPatch) -> None:
    """The last pair renewed_heartbeats built is heartbeat-only without comparing the conditions
    (the comparison is broken below to prove it is skipped); the rest of the node is still
    compared, and another list is compared as before."""
    old = _node()
    extra = {"type": "NetworkUnavailable", "status": "False", "lastHeartbeatTime": T0}
    old["status"]["conditions"] = [*old["status"]["conditions"], extra]
    assert not heartbeat_only(old, _kubelet_renewal(old, {**old["status"], "allocatable": {"cpu": "3"}}))
    new = _kubelet_renewal(old)
    assert new["status"]["conditions"][4] is extra and new["status"]["conditions"][3]["lastHeartbeatTime"] == T1
    assert heartbeat_only(old, new)
    copied = {**new, "status": {**new["status"], "conditions": deep_copy(new["status"]["conditions"])}}
    real = nodestatus.equal_but
    monkeypatch.setattr(nodestatus, "equal_but", lambda a, b, skip: skip != ("lastHeartbeatTime",) and real(a, b, skip))
    assert heartbeat_only(old, new)
    assert not heartbeat_only(old, copied)


def test_renewal_adding_a_heartbeat_time_is_not_heartbeat_only() -> None:
    old = _node()
    del old["status"]["conditions"][0]["lastHeartbeatTime"]
    assert not heartbeat_only(old, _kubelet_renewal(old))
