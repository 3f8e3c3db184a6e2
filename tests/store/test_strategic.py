"""Strategic merge patch, with cases modelled on upstream's strategicpatch tests."""

from __future__ import annotations

import copy

import pytest

from kubetwin.api.errors import ApiError
from kubetwin.store.strategic import strategic_merge_patch


def deploy(containers: list, **spec: object) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 1, "template": {"spec": {"containers": containers}}, **spec},
    }


def pod_spec(**spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}


CASES = [
    pytest.param(
        deploy([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]),
        {"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "b:2"}]}}}},
        deploy([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:2"}]),
        id="containers-merged-by-name",
    ),
    pytest.param(
        deploy([{"name": "a", "image": "a:1"}]),
        {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "c:1"}]}}}},
        deploy([{"name": "a", "image": "a:1"}, {"name": "c", "image": "c:1"}]),
        id="new-container-appended",
    ),
    pytest.param(
        deploy([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]),
        {"spec": {"template": {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}}},
        deploy([{"name": "b", "image": "b:1"}]),
        id="patch-delete-list-item",
    ),
    pytest.param(
        deploy([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]),
        {"spec": {"template": {"spec": {"containers": [{"name": "z", "image": "z"}, {"$patch": "replace"}]}}}},
        deploy([{"name": "z", "image": "z"}]),
        id="patch-replace-list",
    ),
    pytest.param(
        deploy([{"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]}]),
        {"spec": {"template": {"spec": {"containers": [{"name": "a", "env": [{"name": "Y", "value": "3"}]}]}}}},
        deploy([{"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "3"}]}]),
        id="env-merged-by-name",
    ),
    pytest.param(
        deploy([{"name": "a", "image": "a:1", "args": ["x", "y"]}]),
        {"spec": {"template": {"spec": {"containers": [{"name": "a", "args": ["z"]}]}}}},
        deploy([{"name": "a", "image": "a:1", "args": ["z"]}]),
        id="args-replaced",
    ),
    pytest.param(
        deploy([{"name": "a", "image": "a:1", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]),
        {"spec": {"template": {"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": None}}}]}}}},
        deploy([{"name": "a", "image": "a:1", "resources": {"limits": {"memory": "1Gi"}}}]),
        id="null-deletes-key",
    ),
    pytest.param(
        deploy([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}, {"name": "c", "image": "c:1"}]),
        {"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}],
            "containers": [{"name": "a", "image": "a:2"}],
        }}}},
        deploy([{"name": "b", "image": "b:1"}, {"name": "c", "image": "c:1"}, {"name": "a", "image": "a:2"}]),
        id="set-element-order-with-server-only-item",
    ),
    pytest.param(
        deploy([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]),
        {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}}},
        deploy([{"name": "b", "image": "b:1"}, {"name": "a", "image": "a:1"}]),
        id="set-element-order-only",
    ),
    pytest.param(
        deploy([{"name": "api", "image": "nginx:1.25", "ports": [{"containerPort": 80}, {"containerPort": 8080}]}]),
        # kubectl 1.32's client-side apply patch, verbatim shape.
        {"spec": {"replicas": 3, "template": {"spec": {
            "$setElementOrder/containers": [{"name": "api"}],
            "containers": [{"$setElementOrder/ports": [{"containerPort": 8080}], "image": "nginx:1.26",
                            "name": "api", "ports": [{"containerPort": 8080}, {"$patch": "delete",
                                                                                "containerPort": 80}]}],
        }}}},
        deploy([{"name": "api", "image": "nginx:1.26", "ports": [{"containerPort": 8080}]}], replicas=3),
        id="kubectl-apply-patch",
    ),
    pytest.param(
        deploy([{"name": "a", "image": "a"}], strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}),
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
        deploy([{"name": "a", "image": "a"}], strategy={"type": "Recreate"}),
        id="retain-keys",
    ),
    pytest.param(
        pod_spec(volumes=[{"name": "v", "emptyDir": {}}]),
        {"spec": {"volumes": [{"name": "v", "$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}}]}},
        pod_spec(volumes=[{"name": "v", "configMap": {"name": "cm"}}]),
        id="retain-keys-in-list-item",
    ),
    pytest.param(
        pod_spec(tolerations=[{"key": "a", "operator": "Exists"}]),
        {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}},
        pod_spec(tolerations=[{"key": "b", "operator": "Exists"}]),
        id="tolerations-replaced",
    ),
    pytest.param(
        {**pod_spec(), "metadata": {"name": "p", "finalizers": ["a", "b"]}},
        {"metadata": {"finalizers": ["c", "a"]}},
        {**pod_spec(), "metadata": {"name": "p", "finalizers": ["a", "b", "c"]}},
        id="finalizers-merge-as-set",
    ),
    pytest.param(
        {**pod_spec(), "metadata": {"name": "p", "finalizers": ["a", "b"]}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}},
        {**pod_spec(), "metadata": {"name": "p", "finalizers": ["b"]}},
        id="delete-from-primitive-list",
    ),
    pytest.param(
        {**pod_spec(), "metadata": {"name": "p", "ownerReferences": [{"uid": "1", "name": "a"}, {"uid": "2", "name": "b"}]}},
        {"metadata": {"ownerReferences": [{"uid": "2", "name": "b2"}]}},
        {**pod_spec(), "metadata": {"name": "p", "ownerReferences": [{"uid": "1", "name": "a"}, {"uid": "2", "name": "b2"}]}},
        id="owner-references-by-uid",
    ),
    pytest.param(
        {**pod_spec(), "status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled",
                                                                                      "status": "True"}]}},
        {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
        {**pod_spec(), "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled",
                                                                                     "status": "True"}]}},
        id="conditions-by-type",
    ),
    pytest.param(
        pod_spec(containers=[{"name": "a", "volumeMounts": [{"mountPath": "/x", "name": "v"}]}]),
        {"spec": {"containers": [{"name": "a", "volumeMounts": [{"mountPath": "/x", "name": "w"},
                                                                {"mountPath": "/y", "name": "v"}]}]}},
        pod_spec(containers=[{"name": "a", "volumeMounts": [{"mountPath": "/x", "name": "w"},
                                                            {"mountPath": "/y", "name": "v"}]}]),
        id="volume-mounts-by-mount-path",
    ),
    pytest.param(
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}, "spec": {"unschedulable": True}},
        {"spec": {"unschedulable": None}},
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}, "spec": {}},
        id="uncordon",
    ),
    pytest.param(
        deploy([{"name": "a", "image": "a"}]),
        {"spec": {"template": {"$patch": "replace", "spec": {"containers": [{"name": "n", "image": "n"}]}}}},
        deploy([{"name": "n", "image": "n"}]),
        id="patch-replace-map",
    ),
    pytest.param(
        deploy([{"name": "a", "image": "a"}]),
        {"metadata": {"labels": {"$patch": "delete"}}},
        {**deploy([{"name": "a", "image": "a"}]), "metadata": {"name": "web", "labels": {}}},
        id="patch-delete-map",
    ),
    pytest.param(
        {"apiVersion": "kubetwin.io/v1alpha1", "kind": "NodeGroup", "metadata": {"name": "g"},
         "spec": {"zones": ["a", "b"], "labels": {"x": "1"}}},
        {"spec": {"zones": ["c"], "labels": {"x": None, "y": "2"}}},
        {"apiVersion": "kubetwin.io/v1alpha1", "kind": "NodeGroup", "metadata": {"name": "g"},
         "spec": {"zones": ["c"], "labels": {"y": "2"}}},
        id="crd-like-json-merge",
    ),
    pytest.param(
        deploy([{"name": "a", "image": "a"}]),
        {"spec": {"template": {"spec": {"containers": [{"name": "b", "env": [{"name": "E", "$patch": "delete"}]}]}}}},
        deploy([{"name": "a", "image": "a"}, {"name": "b", "env": []}]),
        id="directives-stripped-from-new-items",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("current", "patch", "want"), CASES)
def test_strategic_merge_patch(current: dict, patch: dict, want: dict) -> None:
    before = copy.deepcopy(current)
    assert strategic_merge_patch(current, patch) == want
    assert current == before, "the input must not be modified"


def test_kind_argument_without_type_meta() -> None:
    current = {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]}}
    patch = {"spec": {"containers": [{"name": "b", "image": "2"}]}}
    got = strategic_merge_patch(current, patch, kind="Pod")
    assert got["spec"]["containers"] == [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]
    # Unknown kind: JSON merge patch replaces the list.
    assert strategic_merge_patch(current, patch, kind="Widget")["spec"]["containers"] == [{"name": "b", "image": "2"}]


ERRORS = [
    pytest.param({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}, 400, "merge key", id="no-key"),
    pytest.param({"spec": {"template": {"$patch": "explode"}}}, 400, "Unknown patch type", id="bad-directive"),
    pytest.param({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}, 422, "retainKeys",
                 id="retain-keys-mismatch"),
]  # fmt: skip


@pytest.mark.parametrize(("patch", "code", "text"), ERRORS)
def test_errors(patch: dict, code: int, text: str) -> None:
    with pytest.raises(ApiError) as e:
        strategic_merge_patch(deploy([{"name": "a"}]), patch)
    assert e.value.code == code and text in e.value.message
