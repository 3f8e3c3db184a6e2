from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import make_node, make_pod
from kubetwin.api import validation
from kubetwin.api.defaults import apply_defaults
from kubetwin.api.errors import Cause, invalid
from kubetwin.api.validation import validate


def ok_pod() -> dict[str, Any]:
    pod = make_pod("web-1").container("c", requests={"cpu": "100m"}, limits={"cpu": "1"}).obj()
    apply_defaults(pod)
    return pod


def deployment(**spec: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
            **spec,
        },
    }
    apply_defaults(d)
    return d


def with_(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    cur: Any = out
    parts = path.split(".")
    for p in parts[:-1]:
        cur = cur[int(p)] if isinstance(cur, list) else cur.setdefault(p, {})
    if value is _DELETE:
        del cur[parts[-1]]
    elif isinstance(cur, list):
        cur[int(parts[-1])] = value
    else:
        cur[parts[-1]] = value
    return out


_DELETE = object()
RFC1123 = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
NODEGROUP = {"apiVersion": "kubetwin.io/v1alpha1", "kind": "NodeGroup", "metadata": {"name": "ng"},
             "spec": {"instanceType": "m5.large", "minSize": 1, "maxSize": 3}}  # fmt: skip


@pytest.mark.parametrize(
    "obj",
    [
        pytest.param(ok_pod(), id="pod"),
        pytest.param(deployment(), id="deployment"),
        pytest.param(make_node("node-1").capacity().obj(), id="node"),
        pytest.param(NODEGROUP, id="nodegroup"),
        pytest.param(
            {"kind": "Scenario", "metadata": {"name": "s"}, "spec": {"duration": "1h30m", "seed": 3}},
            id="scenario",
        ),
        pytest.param(
            {"kind": "PriorityClass", "metadata": {"name": "high"}, "value": 1000}, id="priorityclass"
        ),
        pytest.param(
            {"kind": "PriorityClass", "metadata": {"name": "system-node-critical"}, "value": 2000001000},
            id="system-pc",
        ),
        pytest.param(
            {
                "kind": "Service",
                "metadata": {"name": "svc", "namespace": "d"},
                "spec": {"ports": [{"port": 80}]},
            },
            id="service",
        ),
        pytest.param({"kind": "Whatever", "metadata": {"name": "x"}}, id="unknown-kind"),
    ],
)
def test_valid(obj: dict[str, Any]) -> None:
    assert validate(obj) == []


@pytest.mark.parametrize(
    ("obj", "field", "message", "reason"),
    [
        pytest.param(
            with_(ok_pod(), "metadata.name", "Foo_1"),
            "metadata.name",
            f'Invalid value: "Foo_1": {RFC1123}',
            "FieldValueInvalid",
            id="name",
        ),
        pytest.param(
            with_(ok_pod(), "metadata.name", _DELETE),
            "metadata.name",
            "Required value: name or generateName is required",
            "FieldValueRequired",
            id="name-required",
        ),
        pytest.param(
            with_(ok_pod(), "metadata.namespace", _DELETE),
            "metadata.namespace",
            "Required value",
            "FieldValueRequired",
            id="namespace-required",
        ),
        pytest.param(
            with_(NODEGROUP, "metadata.namespace", "x"),
            "metadata.namespace",
            "Forbidden: not allowed on this type",
            "FieldValueForbidden",
            id="cluster-scoped-namespace",
        ),
        pytest.param(
            make_pod("p").container("c", requests={"cpu": "2"}, limits={"cpu": "1"}).obj(),
            "spec.containers[0].resources.requests",
            'Invalid value: "2": must be less than or equal to cpu limit of 1',
            "FieldValueInvalid",
            id="request-over-limit",
        ),
        pytest.param(
            make_pod("p").container("c", requests={"memory": "1Gx"}).obj(),
            "spec.containers[0].resources.requests[memory]",
            "Invalid value: \"1Gx\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            "FieldValueInvalid",
            id="bad-quantity",
        ),
        pytest.param(
            make_pod("p").container("c", requests={"cpu": "-1"}).obj(),
            "spec.containers[0].resources.requests[cpu]",
            'Invalid value: "-1": must be greater than or equal to 0',
            "FieldValueInvalid",
            id="negative-quantity",
        ),
        pytest.param(
            make_pod("p").container("c", requests={"example.com/gpu": "1"}).obj(),
            "spec.containers[0].resources.limits",
            "Required value: Limit must be set for non overcommitable resources",
            "FieldValueRequired",
            id="extended-needs-limit",
        ),
        pytest.param(
            with_(ok_pod(), "spec.restartPolicy", "Sometimes"),
            "spec.restartPolicy",
            'Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"',
            "FieldValueNotSupported",
            id="restart-policy",
        ),
        pytest.param(
            with_(ok_pod(), "spec.containers", []),
            "spec.containers",
            "Required value",
            "FieldValueRequired",
            id="no-containers",
        ),
        pytest.param(
            with_(ok_pod(), "spec.containers.0.image", ""),
            "spec.containers[0].image",
            "Required value",
            "FieldValueRequired",
            id="image",
        ),
        pytest.param(
            make_pod("p").container("c").container("c").obj(),
            "spec.containers[1].name",
            'Duplicate value: "c"',
            "FieldValueDuplicate",
            id="dup-container",
        ),
        pytest.param(
            with_(ok_pod(), "spec.tolerations", [{"operator": "Exists", "value": "x"}]),
            "spec.tolerations[0].operator",
            "Invalid value: \"x\": value must be empty when `operator` is 'Exists'",
            "FieldValueInvalid",
            id="toleration-exists-value",
        ),
        pytest.param(
            deployment(
                template={
                    "metadata": {"labels": {"app": "other"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                }
            ),
            "spec.template.metadata.labels",
            'Invalid value: map[string]string{"app":"other"}: `selector` does not match template `labels`',
            "FieldValueInvalid",
            id="selector-mismatch",
        ),
        pytest.param(
            deployment(replicas=-1),
            "spec.replicas",
            "Invalid value: -1: must be greater than or equal to 0",
            "FieldValueInvalid",
            id="negative-replicas",
        ),
        pytest.param(
            with_(deployment(), "spec.template.spec.restartPolicy", "Never"),
            "spec.template.spec.restartPolicy",
            'Unsupported value: "Never": supported values: "Always"',
            "FieldValueNotSupported",
            id="deploy-restart-policy",
        ),
        pytest.param(
            with_(deployment(), "spec.selector", _DELETE),
            "spec.selector",
            "Required value",
            "FieldValueRequired",
            id="no-selector",
        ),
        pytest.param(
            deployment(
                strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}
            ),
            "spec.strategy.rollingUpdate.maxUnavailable",
            "Invalid value: 0: may not be 0 when `maxSurge` is 0",
            "FieldValueInvalid",
            id="both-zero",
        ),
        pytest.param(
            {
                "kind": "PodDisruptionBudget",
                "metadata": {"name": "p", "namespace": "d"},
                "spec": {"minAvailable": 1, "maxUnavailable": 1},
            },
            "spec",
            'Invalid value: {"maxUnavailable":1,"minAvailable":1}: minAvailable and maxUnavailable cannot be both set',
            "FieldValueInvalid",
            id="pdb-both",
        ),
        pytest.param(
            {"kind": "PriorityClass", "metadata": {"name": "huge"}, "value": 2000000000},
            "value",
            "Forbidden: maximum allowed value of a user defined priority is 1000000000",
            "FieldValueForbidden",
            id="pc-too-high",
        ),
        pytest.param(
            with_(NODEGROUP, "spec.instanceType", _DELETE),
            "spec.instanceType",
            "Required value",
            "FieldValueRequired",
            id="ng-instance-type",
        ),
        pytest.param(
            with_(NODEGROUP, "spec.minSize", 5),
            "spec.minSize",
            "Invalid value: 5: must be less than or equal to maxSize (3)",
            "FieldValueInvalid",
            id="ng-min-max",
        ),
        pytest.param(
            with_(NODEGROUP, "spec.maxSize", -1),
            "spec.maxSize",
            "Invalid value: -1: must be greater than or equal to 0",
            "FieldValueInvalid",
            id="ng-negative",
        ),
        pytest.param(
            with_(NODEGROUP, "spec.capacityType", "reserved"),
            "spec.capacityType",
            'Unsupported value: "reserved": supported values: "on-demand", "spot"',
            "FieldValueNotSupported",
            id="ng-capacity-type",
        ),
        pytest.param(
            with_(NODEGROUP, "spec.zones", ["a", 3]),
            "spec.zones[1]",
            "Invalid value: 3: must be a non-empty string",
            "FieldValueInvalid",
            id="ng-zones",
        ),
        pytest.param(
            {"kind": "Scenario", "metadata": {"name": "s"}, "spec": {"duration": "soon"}},
            "spec.duration",
            "Invalid value: \"soon\": invalid duration 'soon': expected e.g. 30s, 15m, 2h, 1h30m",
            "FieldValueInvalid",
            id="scenario-duration",
        ),
        pytest.param(
            {"kind": "Scenario", "metadata": {"name": "s"}, "spec": {"duration": "1h", "seed": "x"}},
            "spec.seed",
            'Invalid value: "x": must be of type integer',
            "FieldValueTypeInvalid",
            id="scenario-seed",
        ),
        pytest.param(
            with_(ok_pod(), "spec", "nope"),
            "spec",
            'Invalid value: "nope": must be of type object',
            "FieldValueTypeInvalid",
            id="type",
        ),
    ],
)
def test_invalid(obj: dict[str, Any], field: str, message: str, reason: str) -> None:
    causes = validate(obj)
    assert Cause(field, message, reason) in causes, causes


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        pytest.param(
            deployment(),
            with_(deployment(), "spec.selector", {"matchLabels": {"app": "web", "x": "y"}}),
            "spec.selector",
            'Invalid value: {"matchLabels":{"app":"web","x":"y"}}: field is immutable',
            id="deploy-selector",
        ),
        pytest.param(
            ok_pod(),
            with_(ok_pod(), "spec.restartPolicy", "Never"),
            "spec",
            "Forbidden: " + validation.POD_UPDATE_FORBIDDEN,
            id="pod-spec",
        ),
        pytest.param(
            {"kind": "PriorityClass", "metadata": {"name": "p"}, "value": 1},
            {"kind": "PriorityClass", "metadata": {"name": "p"}, "value": 2},
            "value",
            "Forbidden: may not be changed in an update.",
            id="pc-value",
        ),
    ],
)
def test_update_invalid(old: dict[str, Any], new: dict[str, Any], field: str, message: str) -> None:
    causes = validate(new, old)
    assert [c for c in causes if c.field == field and c.message == message], causes


@pytest.mark.parametrize(
    ("change", "value"),
    [
        pytest.param("spec.containers.0.image", "nginx:2", id="image"),
        pytest.param("spec.activeDeadlineSeconds", 30, id="deadline-set"),
        pytest.param("spec.tolerations", [{"key": "k", "operator": "Exists"}], id="toleration-added"),
    ],
)
def test_pod_update_allowed(change: str, value: Any) -> None:
    old = ok_pod()
    assert validate(with_(old, change, value), old) == []


def test_selector_mismatch_message_in_status() -> None:
    d = deployment(
        template={"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "n"}]}}
    )
    err = invalid("Deployment.apps", "web", validate(d))
    assert err.message.startswith(
        'Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value:'
    )


# -- never raises on garbage -------------------------------------------------------------------
_KEYS = [
    "metadata", "spec", "name", "namespace", "labels", "containers", "initContainers", "resources", "requests",
    "limits", "selector", "matchLabels", "matchExpressions", "template", "replicas", "tolerations", "ports",
    "strategy", "rollingUpdate", "maxSurge", "maxUnavailable", "overhead", "restartPolicy", "operator", "values",
    "key", "image", "taints", "effect", "minSize", "maxSize", "zones", "duration", "value", "jobTemplate",
    "updateStrategy", "activeDeadlineSeconds", "scaleTargetRef", "status", "capacity", "ownerReferences",
]  # fmt: skip
json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=True) | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars | st.sampled_from(["1Gi", "100m", "-1", "Always", "In", "Exists", "NoSchedule", "app"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=6) | st.sampled_from(_KEYS), inner, max_size=5)
    ),
    max_leaves=25,
)
KINDS = [*validation.VALIDATORS, "Unknown"]


@settings(max_examples=400, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    body=st.dictionaries(st.sampled_from(_KEYS), json_values, max_size=6),
    old=st.none() | json_values,
)
def test_validate_never_raises(kind: str, body: dict[str, Any], old: Any) -> None:
    obj = {**body, "kind": kind}
    causes = validation._validate(obj, old)  # the unguarded path: must not raise either
    assert all(isinstance(c, Cause) for c in causes)
    apply_defaults(obj)
    validation._validate(obj, old)


def test_pod_spec_verdicts_follow_the_spec_content_through_the_memo() -> None:
    """validate_pod_spec remembers verdicts by the spec's canonical JSON: the same content gives
    the same answer, a changed spec (even the same dict, modified) is judged again, and a spec
    holding NaN is not taken for one holding null."""
    pod = make_pod("p").container("c", requests={"cpu": "100m"}).obj()
    apply_defaults(pod)
    spec = copy.deepcopy(pod["spec"])
    assert validation.validate_pod_spec(spec, "spec") == []
    assert validation.validate_pod_spec(copy.deepcopy(spec), "spec") == []
    spec["containers"][0]["resources"]["requests"]["cpu"] = "lots"
    bad = validation.validate_pod_spec(spec, "spec")
    assert [c.field for c in bad] == ["spec.containers[0].resources.requests[cpu]"]
    assert validation.validate_pod_spec(copy.deepcopy(spec), "spec") == bad
    bad.clear()  # callers may extend or clear what they get: the memo keeps its own
    assert validation.validate_pod_spec(spec, "spec") != []
    spec["containers"][0]["resources"]["requests"]["cpu"] = "100m"
    spec["terminationGracePeriodSeconds"] = None
    assert validation.validate_pod_spec(spec, "spec") == validation._validate_pod_spec(spec, "spec", validation.RESTART_POLICIES)
    spec["terminationGracePeriodSeconds"] = float("nan")
    assert validation.validate_pod_spec(spec, "spec") == validation._validate_pod_spec(spec, "spec", validation.RESTART_POLICIES)
