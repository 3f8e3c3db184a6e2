"""Registry.set_fields_trusted: an in-process owner renewing fields of one section stores exactly
what an update of the stored object with those fields set would store, with the same checks."""

from __future__ import annotations

from typing import Any

import pytest

from kubetwin.api.errors import ApiError
from kubetwin.store import Registry, WatchEvent
from kubetwin.store.copy import deep_copy

LEASES = "leases.coordination.k8s.io"


def _lease(reg: Registry) -> dict[str, Any]:
    return reg.create({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "n1", "namespace": "kube-node-lease", "labels": {"team": "infra"}},
        "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40, "renewTime": "2026-01-01T00:00:00.000000Z"},
    })  # fmt: skip


def _node(reg: Registry) -> dict[str, Any]:
    return reg.create({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
        "status": {"capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                   "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                   "conditions": [{"type": "Ready", "status": "False"}]},
    })  # fmt: skip


def _pdb(reg: Registry) -> dict[str, Any]:
    return reg.create({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "p", "namespace": "default"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
    })  # fmt: skip


def _event(reg: Registry) -> dict[str, Any]:
    return reg.create({
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "n1.17", "namespace": "default"},
        "involvedObject": {"kind": "Node", "name": "n1"}, "reason": "Starting", "message": "m", "type": "Normal",
        "count": 1, "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z",
    })  # fmt: skip


def _update_equivalent(reg: Registry, stored: dict[str, Any], section: str | None, fields: dict[str, Any]) -> dict[str, Any]:
    """What a plain update of the stored object with ``fields`` set would have stored."""
    obj = deep_copy(stored)
    if section is None:
        obj.update(fields)
    else:
        obj[section] = {**obj.get(section, {}), **fields}
    return reg.update(obj, subresource="status" if section == "status" else None, dry_run=True)


CASES = [
    # (builder, resource, namespace, section, fields)
    (_lease, LEASES, "kube-node-lease", "spec", {"renewTime": "2026-01-01T00:00:10.000000Z"}),
    (_node, "nodes", "", "status", {"conditions": [{"type": "Ready", "status": "True"}]}),
    (_pdb, "poddisruptionbudgets.policy", "default", "spec", {"minAvailable": 2}),
    (_event, "events", "default", None, {"count": 2, "lastTimestamp": "2026-01-01T00:01:00Z"}),
]


@pytest.mark.parametrize(("build", "resource", "ns", "section", "fields"), CASES)
def test_stores_what_an_update_would_and_emits_one_event(
    reg: Registry, build: Any, resource: str, ns: str, section: str | None, fields: dict[str, Any]
) -> None:
    stored = build(reg)
    want = _update_equivalent(reg, stored, section, fields)
    events: list[WatchEvent] = []
    reg.store.watch(resource, events.append, resource_version=stored["metadata"]["resourceVersion"])
    out = reg.set_fields_trusted(resource, ns, stored["metadata"]["name"], section, fields)
    assert int(out["metadata"]["resourceVersion"]) > int(stored["metadata"]["resourceVersion"])
    want["metadata"]["resourceVersion"] = out["metadata"]["resourceVersion"]
    assert out == want
    assert [e.type for e in events] == ["MODIFIED"]
    assert events[0].prev == stored  # the previous stored object is untouched


def test_lease_renewal_keeps_what_others_set(reg: Registry) -> None:
    _lease(reg)
    out = reg.set_fields_trusted(LEASES, "kube-node-lease", "n1", "spec", {"renewTime": "2026-01-01T00:00:10.000000Z"})
    assert out["metadata"]["labels"] == {"team": "infra"}
    assert out["spec"]["holderIdentity"] == "n1"
    assert "generation" not in out["metadata"]  # leases carry no generation


def test_spec_change_bumps_generation_where_the_kind_has_one(reg: Registry) -> None:
    _pdb(reg)
    out = reg.set_fields_trusted("poddisruptionbudgets.policy", "default", "p", "spec", {"minAvailable": 2})
    assert out["metadata"]["generation"] == 2


def test_noop_writes_nothing(reg: Registry) -> None:
    lease = _lease(reg)
    rv = reg.store.resource_version
    out = reg.set_fields_trusted(LEASES, "kube-node-lease", "n1", "spec", {"renewTime": lease["spec"]["renewTime"]})
    assert out["metadata"]["resourceVersion"] == lease["metadata"]["resourceVersion"]
    assert reg.store.resource_version == rv


@pytest.mark.parametrize(
    ("resource", "ns", "name", "section", "fields", "code", "reason"),
    [
        (LEASES, "kube-node-lease", "missing", "spec", {"renewTime": "x"}, 404, "NotFound"),
        (LEASES, "kube-node-lease", "n1", "metadata", {"labels": {}}, 400, "BadRequest"),
        (LEASES, "kube-node-lease", "n1", None, {"metadata": {}}, 400, "BadRequest"),
        ("nodes", "", "n1", None, {"status": {}}, 400, "BadRequest"),
        ("nodes", "", "n1", "spec", {"unschedulable": True}, 400, "BadRequest"),  # Node is defaulted on update
        ("poddisruptionbudgets.policy", "default", "p", "spec", {"minAvailable": -1}, 422, "Invalid"),
        ("nodes", "", "n1", "status", {"capacity": {"cpu": "-4"}}, 422, "Invalid"),
    ],
)
def test_bad_writes_are_refused_and_change_nothing(
    reg: Registry, resource: str, ns: str, name: str, section: str | None, fields: dict[str, Any], code: int, reason: str
) -> None:
    _lease(reg)
    _node(reg)
    _pdb(reg)
    before = deep_copy(reg.store._data)
    rv = reg.store.resource_version
    with pytest.raises(ApiError) as e:
        reg.set_fields_trusted(resource, ns, name, section, fields)
    assert (e.value.code, e.value.reason) == (code, reason)
    assert reg.store.resource_version == rv
    assert reg.store._data == before


def test_admission_plugins_of_the_kind_still_run(reg: Registry) -> None:
    """The write with no UPDATE plugin for its kind skips the general path; with one it does not."""
    _lease(reg)
    seen: list[str] = []

    def stamp(r: Registry, obj: dict[str, Any], old: dict[str, Any] | None, op: str) -> None:
        seen.append(op)
        obj["spec"]["holderIdentity"] = "admitted"

    reg.admission.append(stamp)
    out = reg.set_fields_trusted(LEASES, "kube-node-lease", "n1", "spec", {"renewTime": "2026-01-01T00:00:10.000000Z"})
    assert seen == ["UPDATE"]
    assert out["spec"]["holderIdentity"] == "admitted"


def test_condition_noop_writes_nothing(reg: Registry) -> None:
    node = _node(reg)
    rv = reg.store.resource_version
    out = reg.set_fields_trusted("nodes", "", "n1", "status", {"conditions": deep_copy(node["status"]["conditions"])})
    assert out is reg.store.get("nodes", "", "n1")
    assert reg.store.resource_version == rv
