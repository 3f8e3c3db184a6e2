"""VPA updater decisions (update_priority_calculator.go, pods_eviction_restriction.go), the
admission plugin (resource_updates.go, GetProportionalLimit) and VPA validation."""

from __future__ import annotations

from typing import Any

import pytest
from tests.builders import make_pod

from kubetwin.api.validation import validate
from kubetwin.controllers.vpa import util as vu
from kubetwin.controllers.vpa.admission import apply_recommendation
from kubetwin.controllers.vpa.updater import EvictionRestriction, pod_priority
from kubetwin.sim import EventLoop

Obj = dict[str, Any]
HOUR = 3600.0
LOOP = EventLoop()


def _vpa(
    target: Obj, lower: Obj | None = None, upper: Obj | None = None, policies: list[Obj] | None = None
) -> Obj:
    rec = {
        "containerName": "app",
        "target": target,
        "lowerBound": lower or target,
        "upperBound": upper or target,
    }
    spec: Obj = {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}
    if policies is not None:
        spec["resourcePolicy"] = {"containerPolicies": policies}
    return {"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"}, "spec": spec,
            "status": {"recommendation": {"containerRecommendations": [rec]}}}  # fmt: skip


def _pod(requests: Obj | None, limits: Obj | None = None) -> Obj:
    pod = make_pod("web-1").container("app", requests=requests, limits=limits).obj()
    pod["status"] = {"phase": "Running", "startTime": LOOP.timestamp(0.0)}
    return pod


BOUNDS = {"lower": {"cpu": "100m", "memory": "100Mi"}, "upper": {"cpu": "400m", "memory": "400Mi"}}


@pytest.mark.parametrize(
    "requests, age_h, evict, scale_up",
    [
        pytest.param({"cpu": "200m", "memory": "200Mi"}, 1, False, None, id="in-range-young"),
        pytest.param({"cpu": "50m", "memory": "200Mi"}, 1, True, True, id="below-lower-bound"),
        pytest.param({"cpu": "200m", "memory": "800Mi"}, 1, True, False, id="above-upper-bound-scale-down"),
        pytest.param({"cpu": "220m", "memory": "220Mi"}, 13, True, False, id="old-diff-over-10pct"),
        pytest.param({"cpu": "205m", "memory": "205Mi"}, 13, False, None, id="old-diff-under-10pct"),
        pytest.param({"cpu": "220m", "memory": "220Mi"}, 11, False, None, id="diff-but-younger-than-12h"),
        pytest.param({"memory": "200Mi"}, 1, True, True, id="missing-request-is-outside"),
    ],
)  # fmt: skip
def test_update_priority(requests: Obj, age_h: float, evict: bool, scale_up: bool | None) -> None:
    vpa = _vpa({"cpu": "200m", "memory": "200Mi"}, BOUNDS["lower"], BOUNDS["upper"])
    pod = _pod(requests)
    prio = pod_priority(pod, vpa, age_h * HOUR, LOOP.parse_timestamp)
    assert (prio is not None) == evict
    if prio is not None and scale_up is not None:
        assert prio.scale_up == scale_up


def test_quick_oom_evicts_when_resources_change() -> None:
    vpa = _vpa({"cpu": "200m", "memory": "300Mi"}, BOUNDS["lower"], BOUNDS["upper"])
    pod = _pod({"cpu": "200m", "memory": "200Mi"})
    pod["status"]["containerStatuses"] = [{"name": "app", "restartCount": 1, "lastState": {"terminated": {
        "reason": "OOMKilled", "startedAt": LOOP.timestamp(60), "finishedAt": LOOP.timestamp(300)}}}]  # fmt: skip
    assert pod_priority(pod, vpa, HOUR, LOOP.parse_timestamp) is not None
    same = _vpa({"cpu": "200m", "memory": "200Mi"}, BOUNDS["lower"], BOUNDS["upper"])
    assert pod_priority(pod, same, HOUR, LOOP.parse_timestamp) is None


def _rs_pods(n: int, pending: int = 0) -> list[Obj]:
    pods = []
    for i in range(n):
        p = make_pod(f"web-{i}").container("app").owner("ReplicaSet", "web-rs").obj()
        p["status"] = {"phase": "Pending" if i < pending else "Running"}
        pods.append(p)
    return pods


@pytest.mark.parametrize(
    "replicas, running, min_replicas, allowed",
    [pytest.param(1, 1, 2, 0, id="below-min-replicas"), pytest.param(2, 2, 2, 1, id="two-replicas-one-at-a-time"),
     pytest.param(3, 3, 2, 1, id="three-tolerance-1"), pytest.param(4, 4, 2, 2, id="four-tolerance-2"),
     pytest.param(10, 10, 2, 5, id="ten-half"), pytest.param(4, 3, 2, 1, id="one-missing"),
     pytest.param(1, 1, 1, 1, id="vpa-min-replicas-1")],
)  # fmt: skip
def test_eviction_restriction(replicas: int, running: int, min_replicas: int, allowed: int) -> None:
    pods = _rs_pods(running)
    r = EvictionRestriction(pods, {("ReplicaSet", "web-rs"): replicas}, min_replicas)
    n = 0
    for p in pods:
        if r.can_evict(p):
            r.evicted(p)
            n += 1
    assert n == allowed


def test_pending_pods_may_always_be_evicted() -> None:
    pods = _rs_pods(3, pending=1)
    r = EvictionRestriction(pods, {("ReplicaSet", "web-rs"): 3}, 2)
    for p in pods[1:]:
        r.evicted(p)
    assert r.can_evict(pods[0])


# -- admission ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "requests, limits, policies, want_requests, want_limits, note",
    [
        pytest.param({"cpu": "100m", "memory": "100Mi"}, None, None, {"cpu": "250m", "memory": "300Mi"}, None,
                     "container 0: cpu request, memory request", id="requests-only-no-limits"),
        pytest.param({"cpu": "100m", "memory": "100Mi"}, {"cpu": "200m", "memory": "100Mi"}, None,
                     {"cpu": "250m", "memory": "300Mi"}, {"cpu": "500m", "memory": "300Mi"},
                     "container 0: cpu request, memory request, cpu limit, memory limit", id="proportional-limits"),
        pytest.param({"cpu": "100m", "memory": "100Mi"}, {"cpu": "200m", "memory": "200Mi"},
                     [{"containerName": "*", "controlledValues": "RequestsOnly"}],
                     {"cpu": "200m", "memory": "200Mi"}, {"cpu": "200m", "memory": "200Mi"},
                     "container 0: cpu request, memory request", id="requests-only-capped-to-limit"),
        pytest.param({"cpu": "100m", "memory": "100Mi"}, None,
                     [{"containerName": "app", "maxAllowed": {"cpu": "150m"}, "minAllowed": {"memory": "1Gi"}}],
                     {"cpu": "150m", "memory": "1Gi"}, None, "container 0: cpu request, memory request",
                     id="min-max-allowed"),
        pytest.param(None, None, None, {"cpu": "250m", "memory": "300Mi"}, None,
                     "container 0: cpu request, memory request", id="no-resources"),
    ],
)  # fmt: skip
def test_admission_applies_target(requests: Obj | None, limits: Obj | None, policies: list[Obj] | None,
                                  want_requests: Obj, want_limits: Obj | None, note: str) -> None:  # fmt: skip
    vpa = _vpa({"cpu": "250m", "memory": "300Mi"}, policies=policies)
    pod = make_pod("web-1").container("app", requests=requests, limits=limits).obj()
    parts = apply_recommendation(pod, vpa)
    res = pod["spec"]["containers"][0]["resources"]
    assert res["requests"] == want_requests
    assert res.get("limits") == want_limits
    assert parts == [note]


def test_admission_skips_container_without_recommendation() -> None:
    vpa = _vpa({"cpu": "250m"})
    pod = make_pod("web-1").container("sidecar", requests={"cpu": "10m"}).obj()
    assert apply_recommendation(pod, vpa) == []
    assert pod["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "10m"}


MI = 2**20


@pytest.mark.parametrize(
    "resource, limit, req, recommended, default, want",
    [pytest.param("cpu", None, "100m", 250, None, None, id="no-limit"),
     pytest.param("cpu", "0", "100m", 250, None, None, id="zero-limit-is-no-limit"),
     pytest.param("cpu", "200m", None, 250, None, 250, id="no-request-limit-equals-request"),
     pytest.param("cpu", "100m", "100m", 250, None, 250, id="equal"),
     pytest.param("cpu", "300m", "100m", 250, None, 750, id="ratio-3"),
     pytest.param("cpu", "300m", "100m", 0, None, None, id="no-recommendation"),
     pytest.param("cpu", "300m", "0", 250, None, None, id="zero-request-fits-limit-unchanged"),
     pytest.param("cpu", "200m", "0", 250, None, 250, id="zero-request-raised-to-recommendation"),
     pytest.param("cpu", "1", "3", 1000, None, 333, id="cpu-floors-millicores"),
     pytest.param("memory", "1Gi", "512Mi", 300 * MI, None, 600 * MI, id="memory-ratio-2"),
     pytest.param("cpu", None, "100m", 250, {"cpu": "200m"}, 500, id="limitrange-default-limit"),
     pytest.param("cpu", "300m", "100m", 250, {"cpu": "200m"}, 750, id="own-limit-beats-default"),
     pytest.param("memory", None, None, 300 * MI, {"memory": "1Gi"}, 300 * MI, id="default-no-request"),
     pytest.param("cpu", None, "100m", 250, {"memory": "1Gi"}, None, id="default-for-other-resource")],
)  # fmt: skip
def test_proportional_limit(
    resource: str, limit: Any, req: Any, recommended: int, default: Obj | None, want: int | None
) -> None:
    """limit_and_request_scaling_test.go TestGetProportionalResourceLimit."""
    limits = {} if limit is None else {resource: limit}
    requests = {} if req is None else {resource: req}
    got = vu.proportional_limit(
        resource,
        {r: vu.amount(r, q) for r, q in limits.items()},
        {r: vu.amount(r, q) for r, q in requests.items()},
        recommended,
        None if default is None else {r: vu.amount(r, q) for r, q in default.items()},
    )
    assert got == want


# -- validation -----------------------------------------------------------------------------------
def _vpa_obj(spec: Obj) -> Obj:
    return {"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
            "metadata": {"name": "v", "namespace": "default"}, "spec": spec}  # fmt: skip


REF = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}


@pytest.mark.parametrize(
    "spec, field, message",
    [
        pytest.param({}, "spec.targetRef", "Required value: If you're using v1beta1 version of the API, please migrate to v1",
                     id="targetRef-required"),
        pytest.param({"targetRef": {"kind": "Deployment"}}, "spec.targetRef.name", "Required value", id="ref-name"),
        pytest.param({"targetRef": REF, "updatePolicy": {"updateMode": "Sometimes"}}, "spec.updatePolicy.updateMode",
                     'Unsupported value: "Sometimes": supported values: "Off", "Initial", "Recreate", "Auto"',
                     id="update-mode"),
        pytest.param({"targetRef": REF, "updatePolicy": {}}, "spec.updatePolicy.updateMode",
                     "Required value: updateMode is required if UpdatePolicy is used", id="update-mode-required"),
        pytest.param({"targetRef": REF, "updatePolicy": {"updateMode": "Auto", "minReplicas": 0}},
                     "spec.updatePolicy.minReplicas", "Invalid value: 0: minReplicas has to be positive",
                     id="min-replicas"),
        pytest.param({"targetRef": REF, "resourcePolicy": {"containerPolicies": [{"containerName": "a", "mode": "On"}]}},
                     "spec.resourcePolicy.containerPolicies[0].mode",
                     'Unsupported value: "On": supported values: "Auto", "Off"', id="container-mode"),
        pytest.param({"targetRef": REF, "resourcePolicy": {"containerPolicies": [
                         {"containerName": "a", "minAllowed": {"cpu": "2"}, "maxAllowed": {"cpu": "1"}}]}},
                     "spec.resourcePolicy.containerPolicies[0].maxAllowed[cpu]",
                     'Invalid value: "1": max resource for cpu is lower than min of "2"', id="min-above-max"),
        pytest.param({"targetRef": REF, "resourcePolicy": {"containerPolicies": [
                         {"containerName": "a", "controlledValues": "Limits"}]}},
                     "spec.resourcePolicy.containerPolicies[0].controlledValues",
                     'Unsupported value: "Limits": supported values: "RequestsAndLimits", "RequestsOnly"',
                     id="controlled-values"),
        pytest.param({"targetRef": REF, "resourcePolicy": {"containerPolicies": [
                         {"containerName": "a", "controlledResources": ["cpu", "gpu"]}]}},
                     "spec.resourcePolicy.containerPolicies[0].controlledResources[1]",
                     'Unsupported value: "gpu": supported values: "cpu", "memory"', id="controlled-resources"),
        pytest.param({"targetRef": REF, "resourcePolicy": {"containerPolicies": [{"mode": "Off"}]}},
                     "spec.resourcePolicy.containerPolicies[0].containerName", "Required value", id="container-name"),
    ],
)  # fmt: skip
def test_vpa_validation(spec: Obj, field: str, message: str) -> None:
    causes = validate(_vpa_obj(spec))
    assert [(c.field, c.message) for c in causes] == [(field, message)]


def test_valid_vpa() -> None:
    spec = {"targetRef": REF, "updatePolicy": {"updateMode": "Off"}, "resourcePolicy": {"containerPolicies": [
        {"containerName": "*", "minAllowed": {"cpu": "10m"}, "maxAllowed": {"cpu": "2", "memory": "4Gi"},
         "controlledResources": ["cpu", "memory"], "controlledValues": "RequestsOnly"}]}}  # fmt: skip
    assert validate(_vpa_obj(spec)) == []
