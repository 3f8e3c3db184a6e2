"""Server-side apply: managedFields, conflicts, force, removal of fields no longer applied."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubetwin.api.errors import ApiError
from kubetwin.store.apply import (
    from_fields_v1,
    path_string,
    record_update,
    server_side_apply,
    to_fields_v1,
)


def deploy(replicas: int | None = 2, image: str = "nginx:1", labels: dict | None = None,
           containers: list | None = None) -> dict:  # fmt: skip
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": containers or [{"name": "nginx", "image": image}]}},
    }  # fmt: skip
    if replicas is not None:
        spec["replicas"] = replicas
    meta: dict[str, Any] = {"name": "web", "namespace": "default"}
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}


def managers(obj: dict) -> dict[tuple[str, str], dict]:
    return {(e["manager"], e["operation"]): e["fieldsV1"] for e in obj["metadata"].get("managedFields", [])}


def test_create_records_apply_entry() -> None:
    obj = server_side_apply(None, deploy(labels={"app": "web"}), "kubectl", time="2026-01-01T00:00:00Z")
    (entry,) = obj["metadata"]["managedFields"]
    assert entry["manager"] == "kubectl" and entry["operation"] == "Apply" and entry["apiVersion"] == "apps/v1"
    assert entry["fieldsType"] == "FieldsV1" and entry["time"] == "2026-01-01T00:00:00Z"
    fields = entry["fieldsV1"]
    assert fields["f:metadata"] == {"f:labels": {"f:app": {}}}
    assert fields["f:spec"]["f:replicas"] == {}
    assert fields["f:spec"]["f:selector"] == {}  # LabelSelector is an atomic map upstream
    assert fields["f:spec"]["f:template"]["f:spec"]["f:containers"] == {
        'k:{"name":"nginx"}': {".": {}, "f:image": {}, "f:name": {}}
    }
    assert obj["spec"]["replicas"] == 2


CONFLICT_CASES = [
    pytest.param(
        deploy(replicas=5), "kubectl-client-side-apply", "Update",
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas',
        [".spec.replicas"], id="replicas-vs-csa",
    ),
    pytest.param(
        deploy(replicas=5), "other-applier", "Apply",
        'Apply failed with 1 conflict: conflict with "other-applier": .spec.replicas', [".spec.replicas"],
        id="replicas-vs-apply-manager",
    ),
    pytest.param(
        deploy(replicas=5, image="nginx:2"), "kubectl-client-side-apply", "Update",
        'Apply failed with 2 conflicts: conflicts with "kubectl-client-side-apply" using apps/v1:\n'
        '- .spec.replicas\n- .spec.template.spec.containers[name="nginx"].image',
        [".spec.replicas", '.spec.template.spec.containers[name="nginx"].image'], id="two-conflicts",
    ),
]  # fmt: skip


def _owned_by(manager: str, operation: str) -> dict:
    base = deploy()
    if operation == "Update":
        return record_update(None, base, manager)
    return server_side_apply(None, base, manager)


@pytest.mark.parametrize(("applied", "owner", "operation", "message", "fields"), CONFLICT_CASES)
def test_conflicts(applied: dict, owner: str, operation: str, message: str, fields: list[str]) -> None:
    live = _owned_by(owner, operation)
    with pytest.raises(ApiError) as e:
        server_side_apply(live, applied, "kubectl")
    err = e.value
    assert err.code == 409 and err.reason == "Conflict"
    assert err.message == message
    causes = err.status["details"]["causes"]
    assert [c["field"] for c in causes] == fields
    assert all(c["reason"] == "FieldManagerConflict" for c in causes)


def test_same_value_is_shared_not_a_conflict() -> None:
    live = _owned_by("kubectl-client-side-apply", "Update")
    obj = server_side_apply(live, deploy(), "kubectl")
    m = managers(obj)
    assert m[("kubectl", "Apply")]["f:spec"]["f:replicas"] == {}
    assert m[("kubectl-client-side-apply", "Update")]["f:spec"]["f:replicas"] == {}


def test_force_takes_ownership() -> None:
    live = _owned_by("kubectl-client-side-apply", "Update")
    obj = server_side_apply(live, deploy(replicas=5), "kubectl", force=True)
    assert obj["spec"]["replicas"] == 5
    m = managers(obj)
    assert "f:replicas" in m[("kubectl", "Apply")]["f:spec"]
    assert "f:replicas" not in m[("kubectl-client-side-apply", "Update")]["f:spec"]


def test_fields_no_longer_applied_are_removed() -> None:
    first = server_side_apply(None, deploy(labels={"app": "web", "tier": "fe"}), "kubectl")
    second = server_side_apply(first, deploy(replicas=None, labels={"app": "web"}), "kubectl")
    assert "replicas" not in second["spec"]
    assert second["metadata"]["labels"] == {"app": "web"}


def test_fields_owned_by_someone_else_survive_removal() -> None:
    first = server_side_apply(None, deploy(), "kubectl")
    scaled = copy.deepcopy(first)
    scaled["spec"]["replicas"] = 7
    scaled = record_update(first, scaled, "kubectl-scale")
    assert managers(scaled)[("kubectl-scale", "Update")] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in managers(scaled)[("kubectl", "Apply")]["f:spec"]
    # kubectl no longer applies replicas: the value kubectl-scale owns stays.
    again = server_side_apply(scaled, deploy(replicas=None), "kubectl")
    assert again["spec"]["replicas"] == 7


def test_removed_container_goes_with_its_fields() -> None:
    two = [{"name": "a", "image": "a"}, {"name": "b", "image": "b"}]
    first = server_side_apply(None, deploy(containers=two), "kubectl")
    second = server_side_apply(first, deploy(containers=[{"name": "a", "image": "a"}]), "kubectl")
    assert [c["name"] for c in second["spec"]["template"]["spec"]["containers"]] == ["a"]


def test_associative_list_merges_items_of_two_managers() -> None:
    first = server_side_apply(None, deploy(containers=[{"name": "a", "image": "a"}]), "team-a")
    both = server_side_apply(first, deploy(containers=[{"name": "b", "image": "b"}]), "team-b")
    assert [c["name"] for c in both["spec"]["template"]["spec"]["containers"]] == ["a", "b"]
    m = managers(both)
    assert list(m[("team-b", "Apply")]["f:spec"]["f:template"]["f:spec"]["f:containers"]) == ['k:{"name":"b"}']


def test_set_items_owned_per_value() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": ["x"]}}
    first = server_side_apply(None, obj, "one")
    second = server_side_apply(first, {**obj, "metadata": {"name": "c", "finalizers": ["y"]}}, "two")
    assert second["metadata"]["finalizers"] == ["x", "y"]
    assert managers(second)[("two", "Apply")] == {"f:metadata": {"f:finalizers": {'v:"y"': {}}}}


def test_before_first_apply_owns_existing_fields() -> None:
    live = deploy()
    live["metadata"]["uid"] = "u1"
    obj = server_side_apply(live, deploy(replicas=3), "kubectl", force=True)
    m = managers(obj)
    assert ("before-first-apply", "Update") in m
    assert obj["metadata"]["uid"] == "u1"
    with pytest.raises(ApiError):
        server_side_apply(live, deploy(replicas=3), "kubectl")


def test_status_is_not_owned_through_the_main_resource() -> None:
    applied = {**deploy(), "status": {"replicas": 3}}
    obj = server_side_apply(None, applied, "kubectl")
    assert "f:status" not in managers(obj)[("kubectl", "Apply")]


def test_crd_like_kind_lists_are_atomic() -> None:
    ng = {"apiVersion": "kubetwin.io/v1alpha1", "kind": "NodeGroup", "metadata": {"name": "g"},
          "spec": {"zones": ["a", "b"], "minSize": 1}}  # fmt: skip
    obj = server_side_apply(None, ng, "kubectl")
    assert managers(obj)[("kubectl", "Apply")]["f:spec"] == {"f:minSize": {}, "f:zones": {}}


def test_record_update_moves_changed_fields() -> None:
    created = record_update(None, deploy(), "kubectl-client-side-apply", time="t0")
    edited = copy.deepcopy(created)
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    edited = record_update(created, edited, "kubectl-edit", time="t1")
    m = managers(edited)
    containers = m[("kubectl-edit", "Update")]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert containers == {'k:{"name":"nginx"}': {"f:image": {}}}
    csa = m[("kubectl-client-side-apply", "Update")]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert csa == {'k:{"name":"nginx"}': {".": {}, "f:name": {}}}


def test_record_update_drops_removed_fields() -> None:
    created = record_update(None, deploy(labels={"a": "1"}), "creator")
    edited = copy.deepcopy(created)
    del edited["metadata"]["labels"]
    edited = record_update(created, edited, "editor")
    assert "f:metadata" not in managers(edited)[("creator", "Update")]
    assert ("editor", "Update") not in managers(edited)  # changed nothing it now owns


FIELDS_V1_CASES = [
    pytest.param({("f:spec", "f:replicas")}, {"f:spec": {"f:replicas": {}}}, id="leaf"),
    pytest.param({("f:a", 'k:{"name":"c"}'), ("f:a", 'k:{"name":"c"}', "f:image")},
                 {"f:a": {'k:{"name":"c"}': {".": {}, "f:image": {}}}}, id="member-with-children"),
]  # fmt: skip


@pytest.mark.parametrize(("paths", "fields"), FIELDS_V1_CASES)
def test_fields_v1_round_trip(paths: set, fields: dict) -> None:
    assert to_fields_v1(paths) == fields
    assert from_fields_v1(fields) == paths


@pytest.mark.parametrize(("path", "text"), [
    pytest.param(("f:spec", "f:replicas"), ".spec.replicas", id="fields"),
    pytest.param(("f:spec", "f:containers", 'k:{"name":"c"}', "f:image"), '.spec.containers[name="c"].image',
                 id="key"),
    pytest.param(("f:metadata", "f:finalizers", 'v:"x"'), '.metadata.finalizers[="x"]', id="value"),
])  # fmt: skip
def test_path_string(path: tuple, text: str) -> None:
    assert path_string(path) == text
