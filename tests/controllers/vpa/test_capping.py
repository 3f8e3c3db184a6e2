"""The recommendation processor's LimitRange capping (vertical-pod-autoscaler pkg/utils/vpa/capping.go,
capping_test.go TestApplyPodLimitRange, TestApplyCapsToLimitRange, TestApplyLimitRangeMinToRequest,
TestCapPodMemoryWithUnderByteSplit; pkg/utils/limitrange/limit_range_calculator.go) and its use by
the admission plugin and the updater."""

from __future__ import annotations

from typing import Any

import pytest
from tests.builders import make_pod

from kubetwin.controllers.vpa import util as vu
from kubetwin.controllers.vpa.admission import apply_recommendation
from kubetwin.controllers.vpa.updater import pod_priority
from kubetwin.sim import EventLoop

Obj = dict[str, Any]


def _vpa(recs: dict[str, Obj], policies: list[Obj] | None = None) -> Obj:
    """A VPA whose status recommends ``{container: {field: resources}}``."""
    spec: Obj = {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}
    if policies is not None:
        spec["resourcePolicy"] = {"containerPolicies": policies}
    crs = [{"containerName": name, **fields} for name, fields in recs.items()]
    return {"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"}, "spec": spec,
            "status": {"recommendation": {"containerRecommendations": crs}}}  # fmt: skip


def _pod(*containers: tuple[str, Obj | None, Obj | None]) -> Obj:
    b = make_pod("web-1")
    for name, requests, limits in containers:
        b.container(name, requests=requests, limits=limits)
    return b.obj()


def _item(min: Obj | None = None, max: Obj | None = None, default: Obj | None = None) -> vu.LimitRangeItem:
    def conv(values: Obj | None) -> dict[str, int] | None:
        return None if values is None else {r: vu.amount(r, q) for r, q in values.items()}

    return vu.LimitRangeItem(min=conv(min), max=conv(max), default=conv(default))


def _amounts(recs: list[Obj], field: str = "target") -> dict[str, dict[str, int]]:
    return {r["containerName"]: {res: vu.amount(res, q) for res, q in r[field].items()} for r in recs}


def _target(cpu: Any = None, memory: Any = None) -> Obj:
    t = {}
    if cpu is not None:
        t["cpu"] = cpu
    if memory is not None:
        t["memory"] = memory
    return {"target": t}


ONE_CPU = {"cpu": "1"}
ONE_M_CPU = {"cpu": "1m"}


@pytest.mark.parametrize(
    "recs, containers, pod_lr, want",
    [
        pytest.param({"c1": _target("1"), "c2": _target("1")},
                     [("c1", ONE_CPU, ONE_CPU), ("c2", ONE_CPU, ONE_CPU)],
                     _item(max={"cpu": "1"}), {"c1": {"cpu": 500}, "c2": {"cpu": 500}}, id="cap-cpu-to-max"),
        pytest.param({"c1": _target(memory="1G"), "c2": _target(memory="1G")},
                     [("c1", {"memory": "1"}, {"memory": "1"}), ("c2", {"memory": "1"}, {"memory": "1"})],
                     _item(min={"memory": "4G"}),
                     {"c1": {"memory": 2 * 10**9}, "c2": {"memory": 2 * 10**9}}, id="cap-mem-to-min"),
        pytest.param({"c1": _target(memory="1G"), "c2": _target(memory="1G")},
                     [("c1", {"memory": "1"}, {"memory": "2"}), ("c2", {"memory": "1"}, {"memory": "2"})],
                     _item(min={"memory": "4G"}, max={"memory": "10G"}),
                     {"c1": {"memory": 2 * 10**9}, "c2": {"memory": 2 * 10**9}}, id="cap-mem-request-to-pod-min"),
        pytest.param({"c1": _target(memory="1G"), "c2": _target(memory="1G")},
                     [("c2", {"memory": "1"}, {"memory": "2"})],
                     _item(min={"memory": "4G"}, max={"memory": "10G"}),
                     {"c2": {"memory": 4 * 10**9}}, id="extra-recommendation-not-in-pod"),
        pytest.param({"c1": _target("15m"), "c2": _target("100m")},
                     [("c1", ONE_M_CPU, ONE_M_CPU), ("c2", ONE_M_CPU, ONE_M_CPU)],
                     _item(min={"cpu": "150m"}), {"c1": {"cpu": 20}, "c2": {"cpu": 131}},
                     id="cpu-to-pod-min-rounds-up"),
        pytest.param({"c1": _target("15m"), "c2": _target("100m")},
                     [("c1", ONE_M_CPU, ONE_M_CPU), ("c2", ONE_M_CPU, ONE_M_CPU)],
                     _item(max={"cpu": "90m"}), {"c1": {"cpu": 11}, "c2": {"cpu": 78}},
                     id="cpu-to-pod-max-rounds-down"),
        pytest.param({"c1": _target("50m"), "c2": _target("10m")}, [("c1", None, None), ("c2", None, None)],
                     _item(min={"cpu": "80m"}), {"c1": {"cpu": 67}, "c2": {"cpu": 14}},
                     id="no-resources-in-pod-spec"),
        pytest.param({"c1": _target(memory="1Gi"), "c2": _target(memory="2Gi")},
                     [("c1", {"memory": "50M"}, {"memory": "50M"}), ("c2", {"memory": "50M"}, {"memory": "50M"})],
                     _item(max={"memory": "1Gi"}), {"c1": {"memory": 357913941}, "c2": {"memory": 715827882}},
                     id="under-byte-split-max"),
        pytest.param({"c1": _target(memory="1Gi"), "c2": _target(memory="2Gi")},
                     [("c1", {"memory": "50M"}, {"memory": "50M"}), ("c2", {"memory": "50M"}, {"memory": "50M"})],
                     _item(min={"memory": "4Gi"}), {"c1": {"memory": 1431655765}, "c2": {"memory": 2863311530}},
                     id="under-byte-split-min"),
        pytest.param({"c1": _target("1", "200M")},
                     [("c1", {"cpu": "1", "memory": "50M"}, {"cpu": "1", "memory": "100M"}),
                      ("c2", {"cpu": "1", "memory": "50M"}, {"cpu": "1", "memory": "100M"})],
                     _item(min={"memory": "500M"}),
                     {"c1": {"cpu": 1000, "memory": 400 * 10**6}, "c2": {"cpu": 1000, "memory": 100 * 10**6}},
                     id="container-without-recommendation-counts-with-its-requests"),
        pytest.param({"c1": _target("1", "200M"), "c2": _target("1", "200M")},
                     [("c1", {"cpu": "1", "memory": "50M"}, {"cpu": "1", "memory": "100M"}),
                      ("c2", {"cpu": "1", "memory": "50M"}, {"cpu": "1", "memory": "100M"})],
                     _item(min={"memory": "500M"}),
                     {"c1": {"cpu": 1000, "memory": 250 * 10**6}, "c2": {"cpu": 1000, "memory": 250 * 10**6}},
                     id="two-containers-to-pod-min"),
        pytest.param({"c1": _target("300m"), "c2": _target("300m")},
                     [("c1", {"cpu": "100m"}, None), ("c2", {"cpu": "100m"}, None)],
                     _item(max={"cpu": "1"}, default={"cpu": "200m"}), {"c1": {"cpu": 250}, "c2": {"cpu": 250}},
                     id="pod-max-with-default-limits"),
        pytest.param({"c1": _target("300m"), "c2": _target("300m")},
                     [("c1", {"cpu": "100m"}, {"cpu": "200m"}), ("c2", {"cpu": "100m"}, {"cpu": "200m"})],
                     _item(max={"cpu": "2"}), {"c1": {"cpu": 300}, "c2": {"cpu": 300}}, id="within-range"),
        pytest.param({"c1": _target(memory="100Mi")},
                     [("c1", {"cpu": "100m"}, {"cpu": "100m"})],
                     _item(min={"cpu": "1"}), {"c1": {"memory": 100 * 2**20}},
                     id="resource-not-recommended-stays-absent"),
    ],
)  # fmt: skip
def test_pod_limit_range(recs: dict[str, Obj], containers: list[Any], pod_lr: vu.LimitRangeItem,
                         want: dict[str, dict[str, int]]) -> None:  # fmt: skip
    got = vu.capped_recommendation(_vpa(recs), _pod(*containers), None, pod_lr)
    assert _amounts(got) == want


def test_pod_limit_range_scales_bounds_too() -> None:
    recs = {"c1": {"target": {"cpu": "1"}, "lowerBound": {"cpu": "500m"}, "upperBound": {"cpu": "2"}}}
    got = vu.capped_recommendation(
        _vpa(recs), _pod(("c1", ONE_CPU, {"cpu": "2"})), None, _item(max={"cpu": "1"})
    )
    # limit is 2x the request: a pod max of 1 core allows 500m of request
    assert {f: _amounts(got, f)["c1"]["cpu"] for f in ("lowerBound", "target", "upperBound")} == {
        "lowerBound": 500, "target": 500, "upperBound": 500}  # fmt: skip


MEM_REQ_LIM = ({"cpu": "1", "memory": "50M"}, {"cpu": "1", "memory": "600M"})
REQUESTS_ONLY = [{"containerName": "*", "controlledValues": "RequestsOnly"}]


@pytest.mark.parametrize(
    "target, requests, limits, container_lr, pod_lr, policies, want",
    [
        pytest.param({"cpu": "2", "memory": "200M"}, {"cpu": "1", "memory": "1G"}, {"cpu": "1", "memory": "1G"},
                     _item(max={"cpu": "1"}, min={"memory": "500M"}), None, None,
                     {"cpu": 1000, "memory": 500 * 10**6}, id="caps-to-container-limitrange"),
        pytest.param({"cpu": "1", "memory": "200M"}, *MEM_REQ_LIM, _item(min={"memory": "500M"}), None, None,
                     {"cpu": 1000, "memory": 500 * 10**6}, id="min-applies-to-the-request-too"),
        pytest.param({"cpu": "1", "memory": "200M"}, {"cpu": "1", "memory": "50M"}, {"cpu": "1", "memory": "100M"},
                     _item(min={"memory": "500M"}), None, REQUESTS_ONLY,
                     {"cpu": 1000, "memory": 100 * 10**6}, id="requests-only-then-capped-to-container-limit"),
        pytest.param({"cpu": "1", "memory": "200M"}, {"cpu": "1", "memory": "50M"}, {"cpu": "1", "memory": "100M"},
                     None, _item(min={"memory": "500M"}), REQUESTS_ONLY,
                     {"cpu": 1000, "memory": 100 * 10**6}, id="pod-min-then-capped-to-container-limit"),
        pytest.param({"cpu": "3"}, {"cpu": "1"}, None, _item(max={"cpu": "4"}, default={"cpu": "2"}), None, None,
                     {"cpu": 2000}, id="max-through-default-limit"),
        pytest.param({"cpu": "3"}, {"cpu": "1"}, None, _item(max={"cpu": "2"}), None, None,
                     {"cpu": 3000}, id="no-limit-no-default-max-does-not-cap"),
        pytest.param({"cpu": "3"}, None, {"cpu": "2"}, _item(max={"cpu": "2"}), None, None,
                     {"cpu": 2000}, id="limit-without-request-max-is-the-boundary"),
        pytest.param({"memory": "1G"}, {"memory": "100M"}, {"memory": "200M"}, _item(max={"memory": "1G"}), None,
                     None, {"memory": 500 * 10**6}, id="memory-ratio-2-max"),
        pytest.param({"memory": "200M"}, *MEM_REQ_LIM, _item(min={"memory": "500M"}), None,
                     [{"containerName": "app", "maxAllowed": {"memory": "300M"}}],
                     {"memory": 300 * 10**6}, id="policy-wins-over-limitrange"),
        pytest.param({"cpu": "10m"}, {"cpu": "100m"}, {"cpu": "400m"}, _item(min={"cpu": "200m"}), None, None,
                     {"cpu": 200}, id="cpu-min-request-above-min-for-limit"),
    ],
)  # fmt: skip
def test_container_limit_range(target: Obj, requests: Obj | None, limits: Obj | None,
                               container_lr: vu.LimitRangeItem | None, pod_lr: vu.LimitRangeItem | None,
                               policies: list[Obj] | None, want: dict[str, int]) -> None:  # fmt: skip
    vpa = _vpa({"app": {"target": target}}, policies)
    got = vu.capped_recommendation(vpa, _pod(("app", requests, limits)), container_lr, pod_lr)
    assert _amounts(got) == {"app": want}


@pytest.mark.parametrize(
    "specs, container, pod",
    [
        pytest.param([], None, None, id="none"),
        pytest.param([{"type": "Container", "defaultRequest": {"cpu": "100m"}}], None, None,
                     id="default-request-only-ignored"),
        pytest.param([{"type": "Pod", "max": {"cpu": "4"}}], None, _item(max={"cpu": "4"}), id="pod-only"),
        pytest.param([{"type": "Container", "max": {"cpu": "2", "memory": "1Gi"}, "min": {"cpu": "10m"},
                       "default": {"cpu": "500m"}},
                      {"type": "Container", "max": {"cpu": "1"}, "min": {"cpu": "50m", "memory": "10Mi"},
                       "default": {"memory": "256Mi"}}],
                     _item(max={"cpu": "1", "memory": "1Gi"}, min={"cpu": "50m", "memory": "10Mi"},
                           default={"memory": "256Mi"}),
                     None, id="lowest-max-highest-min-last-default"),
    ],
)  # fmt: skip
def test_limit_range_calculator(specs: list[Obj], container: vu.LimitRangeItem | None,
                                pod: vu.LimitRangeItem | None) -> None:  # fmt: skip
    lrs = [{"metadata": {"name": f"lr-{i}", "namespace": "default"}, "spec": {"limits": [s]}}
           for i, s in enumerate(specs)]  # fmt: skip
    assert vu.limit_range_items(lrs) == (container, pod)


@pytest.mark.parametrize(
    "requests, limits, container_lr, want_requests, want_limits, note",
    [
        pytest.param({"cpu": "100m"}, None, _item(default={"cpu": "200m"}), {"cpu": "250m"}, {"cpu": "500m"},
                     "container 0: cpu request, cpu limit", id="default-limit-kept-proportional"),
        pytest.param({"cpu": "100m"}, {"cpu": "200m"}, _item(max={"cpu": "300m"}), {"cpu": "150m"},
                     {"cpu": "300m"}, "container 0: cpu request, cpu limit", id="limit-capped-to-max"),
        pytest.param({"cpu": "100m"}, None, None, {"cpu": "250m"}, None, "container 0: cpu request",
                     id="no-limit-range"),
    ],
)  # fmt: skip
def test_admission_with_limit_range(requests: Obj, limits: Obj | None, container_lr: vu.LimitRangeItem | None,
                                    want_requests: Obj, want_limits: Obj | None, note: str) -> None:  # fmt: skip
    vpa = _vpa({"app": {"target": {"cpu": "250m"}}})
    pod = _pod(("app", requests, limits))
    assert apply_recommendation(pod, vpa, container_lr, None) == [note]
    res = pod["spec"]["containers"][0]["resources"]
    assert res["requests"] == want_requests
    assert res.get("limits") == want_limits


def test_updater_compares_with_the_capped_recommendation() -> None:
    loop = EventLoop()
    vpa = _vpa(
        {"app": {"target": {"cpu": "500m"}, "lowerBound": {"cpu": "400m"}, "upperBound": {"cpu": "1"}}}
    )
    pod = _pod(("app", {"cpu": "100m"}, {"cpu": "200m"}))
    pod["status"] = {"phase": "Running", "startTime": loop.timestamp(0.0)}
    assert pod_priority(pod, vpa, 3600.0, loop.parse_timestamp) is not None  # 100m is below 400m
    capped = (_item(max={"cpu": "200m"}), None)  # the limit may not grow: the request stays at 100m
    assert pod_priority(pod, vpa, 3600.0, loop.parse_timestamp, capped) is None
