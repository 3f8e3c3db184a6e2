"""Replica calculator and normalization vectors (upstream-semantics.md §5.7, §5.8;
replica_calculator_test.go, horizontal_test.go)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from tests.builders import make_pod

from kubetwin.client.metrics import PodMetric
from kubetwin.controllers import hpa_calc as hc
from kubetwin.sim import EventLoop

Obj = dict[str, Any]

NOW = 3600.0
HOT = NOW  # pod started now: still within the CPU initialization period
COOL = NOW - 180.0  # started 3 minutes ago
TEST_CONFIG = hc.CalcConfig(  # replica_calculator_test.go's constants
    tolerances=hc.Tolerances(0.1, 0.1),
    cpu_initialization_period=120.0,
    delay_of_initial_readiness_status=10.0,
)
CONTAINERS_PER_POD = 2
METRIC_WINDOW = 60.0
CLOCK = EventLoop(start=NOW)
T, F = "True", "False"


def parse_time(text: str) -> float:
    return CLOCK.parse_timestamp(text)


def pod(
    i: int,
    request: str | None = None,
    ready: str = T,
    start: float = COOL,
    phase: str = "Running",
    resource: str = "cpu",
) -> Obj:
    b = make_pod(f"test-pod-{i}", "test-namespace")
    for c in range(CONTAINERS_PER_POD):
        b.container(f"container{c}", requests={resource: request} if request is not None else None)
    p = b.obj()
    ts = CLOCK.timestamp(start)
    p["status"] = {
        "phase": phase,
        "startTime": ts,
        "conditions": [{"type": "Ready", "status": ready, "lastTransitionTime": ts}],
    }
    return p


@dataclass
class Case:
    current: int
    expected: int
    pods: int
    target: int
    levels: list[int]  # per container (resource) or per pod (custom metric) usage, milli
    requests: list[str] = field(default_factory=list)  # per container
    ready: list[str] | None = None
    start: list[float] | None = None
    util: int | None = None
    value: int | None = None


def _pods(c: Case) -> list[Obj]:
    return [
        pod(
            i,
            c.requests[i] if c.requests else None,
            ready=(c.ready[i] if c.ready else T),
            start=(c.start[i] if c.start else COOL),
        )
        for i in range(c.pods)
    ]


RESOURCE_CASES = [
    pytest.param(Case(3, 5, 3, 30, [300, 500, 700], ["1"] * 3, util=50, value=1000), id="1-ScaleUp"),
    pytest.param(
        Case(3, 4, 3, 30, [300, 500, 700], ["1"] * 3, ready=[F, T, T], util=60, value=1200),
        id="2-ScaleUpUnreadyLessScale",
    ),
    pytest.param(
        Case(3, 4, 3, 30, [300, 500, 700], ["1"] * 3, start=[HOT, COOL, COOL], util=60, value=1200),
        id="3-ScaleUpHotCpuLessScale",
    ),
    pytest.param(
        Case(3, 3, 3, 30, [400, 500, 700], ["1"] * 3, ready=[T, F, F], util=40, value=800),
        id="4-ScaleUpUnreadyNoScale",
    ),
    pytest.param(
        Case(5, 3, 5, 50, [100, 300, 500, 250, 250], ["1"] * 5, util=28, value=560), id="6-ScaleDown"
    ),
    pytest.param(
        Case(5, 2, 5, 50, [100, 300, 500, 250, 250], ["1"] * 5, ready=[T, T, T, F, F], util=30, value=600),
        id="7-ScaleDownIncludeUnreadyPods",
    ),
    pytest.param(
        Case(
            5,
            2,
            5,
            50,
            [100, 300, 500, 250, 250],
            ["1"] * 5,
            start=[COOL] * 3 + [HOT] * 2,
            util=30,
            value=600,
        ),
        id="9-ScaleDownIgnoreHotCpuPods",
    ),
    pytest.param(
        Case(3, 3, 3, 100, [1010, 1030, 1020], ["0.9", "1.0", "1.1"], util=102, value=2040), id="10-Tolerance"
    ),
    pytest.param(Case(4, 3, 4, 100, [400, 95], ["1"] * 4, util=24, value=495), id="12-MissingMetrics"),
    pytest.param(
        Case(2, 2, 2, 100, [1000], ["1"] * 2, util=100, value=2000), id="13-MissingMetricsNoChangeEq"
    ),
    pytest.param(Case(2, 2, 2, 100, [600], ["1"] * 2, util=60, value=1200), id="15-MissingMetricsNoChangeLt"),
    pytest.param(
        Case(3, 3, 3, 50, [100, 450], ["1"] * 3, ready=[F, T, T], util=45, value=900),
        id="16-MissingMetricsUnreadyChange",
    ),
    pytest.param(
        Case(3, 4, 3, 50, [100, 2000], ["1"] * 3, ready=[F, T, T], util=200, value=4000),
        id="17-MissingMetricsUnreadyScaleUp",
    ),
    pytest.param(
        Case(4, 3, 4, 50, [100, 100, 100], ["1"] * 4, ready=[F, T, T, T], util=10, value=200),
        id="18-MissingMetricsUnreadyScaleDown",
    ),
    pytest.param(
        Case(2, 2, 3, 50, [100, 100], ["1"] * 3, util=10, value=200), id="19-DuringRollingUpdateWithMaxSurge"
    ),
]


def _resource_metrics(levels: list[int]) -> dict[str, PodMetric]:
    return {
        f"test-pod-{i}": PodMetric(CONTAINERS_PER_POD * v, NOW, METRIC_WINDOW) for i, v in enumerate(levels)
    }


@pytest.mark.parametrize("c", RESOURCE_CASES)
def test_resource_replicas(c: Case) -> None:
    replicas, util, raw = hc.resource_replicas(
        c.current, c.target, "cpu", _pods(c), _resource_metrics(c.levels), NOW, parse_time, TEST_CONFIG
    )
    assert (replicas, util, raw) == (c.expected, c.util, c.value)


PLAIN_CASES = [
    pytest.param(
        Case(3, 6, 3, 15000, [50000, 10000, 30000], ready=[T, T, F], start=[COOL, COOL, HOT], value=30000),
        id="21-ScaleUpCMUnreadyHotCpuNoLessScale",
    ),
    pytest.param(
        Case(3, 7, 3, 15000, [50000, 15000, 30000], ready=[F, T, F], value=31666),
        id="22-ScaleUpCMUnreadyHotCpuScaleWouldScaleDown",
    ),
    pytest.param(Case(3, 3, 3, 20000, [20000, 21000, 21000], value=20666), id="24-ToleranceCM"),
]


@pytest.mark.parametrize("c", PLAIN_CASES)
def test_plain_metric_replicas(c: Case) -> None:
    metrics = {f"test-pod-{i}": PodMetric(v, NOW, METRIC_WINDOW) for i, v in enumerate(c.levels)}
    replicas, usage = hc.plain_metric_replicas(
        c.current, c.target, _pods(c), metrics, NOW, parse_time, TEST_CONFIG
    )
    assert (replicas, usage) == (c.expected, c.value)


TOL = TEST_CONFIG.tolerances


@pytest.mark.parametrize(
    ("current", "ready", "usage", "target", "expected"),
    [
        pytest.param(3, None, 20000, 15000, 4, id="25-ScaleUpCMObject"),
        pytest.param(3, [F, T, F], 50000, 10000, 5, id="27-ScaleUpCMObjectIgnoresUnreadyPods"),
    ],
)
def test_object_value(current: int, ready: list[str] | None, usage: int, target: int, expected: int) -> None:
    pods = _pods(Case(current, expected, current, target, [], ready=ready))
    assert hc.object_metric_replicas(current, target, usage, pods, TOL) == (expected, usage)


def test_object_per_pod_scale_down() -> None:  # 28-ScaleDownPerPodCMObject
    assert hc.object_per_pod_metric_replicas(5, 2000, 6000, TOL) == (3, 1200)


@pytest.mark.parametrize(
    ("current", "ready", "value", "target", "expected"),
    [
        pytest.param(1, None, 8600, 4400, 2, id="30-ScaleUpCMExternal"),
        pytest.param(3, [F, T, F], 8600, 4400, 2, id="31-ScaleUpCMExternalIgnoresUnreadyPods"),
        pytest.param(5, None, 8600, 14334, 3, id="33-ScaleDownCMExternal"),
    ],
)
def test_external_value(
    current: int, ready: list[str] | None, value: int, target: int, expected: int
) -> None:
    pods = _pods(Case(current, expected, current, target, [], ready=ready))
    assert hc.external_metric_replicas(current, target, [value], pods, TOL) == (expected, value)


def test_external_per_pod_scale_down() -> None:  # 34-ScaleDownPerPodCMExternal
    assert hc.external_per_pod_metric_replicas(5, 2867, [8600], TOL) == (3, 1720)


def test_external_series_are_summed() -> None:
    assert hc.external_metric_replicas(2, 1000, [1500, 1500], _pods(Case(2, 0, 2, 0, [])), TOL) == (6, 3000)


def test_object_value_from_zero_ignores_tolerance_and_ready_pods() -> None:
    assert hc.object_metric_replicas(0, 1000, 1050, [], TOL) == (2, 1050)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        pytest.param(1 / (2 * (1 - 0.1)) + 0.01, 9, id="below-tolerance"),
        pytest.param(1 / (2 * (1 - 0.1)) + 0.004, 10, id="within"),
    ],
)
def test_computed_tolerance(target: float, expected: int) -> None:
    """TestReplicaCalcComputedToleranceAlgImplementation: 10 pods at 150m on ~300m requests."""
    requests = [300 + d for d in (100, -100, 10, -10, 2, -2, 1, -1, 0, 0)]
    assert sum(requests) == 3000
    pods = []
    for i, r in enumerate(requests):
        p = make_pod(f"test-pod-{i}", "test-namespace").container("c", requests={"cpu": f"{r}m"}).obj()
        ts = CLOCK.timestamp(COOL)
        p["status"] = {
            "phase": "Running",
            "startTime": ts,
            "conditions": [{"type": "Ready", "status": T, "lastTransitionTime": ts}],
        }
        pods.append(p)
    metrics = {f"test-pod-{i}": PodMetric(150, NOW, METRIC_WINDOW) for i in range(10)}
    replicas, util, _ = hc.resource_replicas(
        10, int(target * 100), "cpu", pods, metrics, NOW, parse_time, TEST_CONFIG
    )
    assert util == 50
    assert replicas == expected


@pytest.mark.parametrize(
    ("pods", "metrics", "message"),
    [
        pytest.param([], {}, "no pods returned by selector while calculating replica count", id="no-pods"),
        pytest.param(
            [pod(0, "1", ready=F)],
            {"test-pod-0": 100},
            "did not receive metrics for targeted pods (pods might be unready)",
            id="all-unready",
        ),
        pytest.param(
            [pod(0, None)],
            {"test-pod-0": 100},
            "missing request for cpu in container container0 of Pod test-pod-0",
            id="missing-request",
        ),
    ],
)
def test_resource_errors(pods: list[Obj], metrics: dict[str, int], message: str) -> None:
    info = {k: PodMetric(v, NOW, METRIC_WINDOW) for k, v in metrics.items()}
    with pytest.raises(hc.CalcError) as exc:
        hc.resource_replicas(1, 50, "cpu", pods, info, NOW, parse_time, TEST_CONFIG)
    assert str(exc.value) == message


def test_disjoint_metrics() -> None:
    with pytest.raises(hc.CalcError, match="no metrics returned matched known pods"):
        hc.resource_utilization_ratio({"an-older-pod-name": 100}, {"test-pod-0": 1000}, 100)


def test_group_pods_ignores_deleted_and_failed_and_pending_is_unready() -> None:
    deleting = pod(0, "1")
    deleting["metadata"]["deletionTimestamp"] = CLOCK.timestamp(NOW)
    failed = pod(1, "1", phase="Failed")
    pending = pod(2, "1", phase="Pending")
    metrics = {f"test-pod-{i}": PodMetric(1, NOW, METRIC_WINDOW) for i in range(3)}
    ready, unready, missing, ignored = hc.group_pods(
        [deleting, failed, pending], metrics, "cpu", NOW, TEST_CONFIG, parse_time
    )
    assert (ready, unready, missing, ignored) == (0, {"test-pod-2"}, set(), {"test-pod-0", "test-pod-1"})


def test_container_requests_and_sidecars() -> None:
    p = (
        make_pod("p", "ns")
        .container("app", requests={"cpu": "200m"})
        .container("log", requests={"cpu": "50m"})
        .init_container("proxy", requests={"cpu": "100m"}, sidecar=True)
        .init_container("setup", requests={"cpu": "1"})
        .obj()
    )
    assert hc.calculate_requests([p], None, "cpu") == {"p": 350}
    assert hc.calculate_requests([p], "app", "cpu") == {"p": 200}
    with pytest.raises(hc.CalcError, match="container nope not found in Pod p"):
        hc.calculate_requests([p], "nope", "cpu")


# -- horizontal_test.go ------------------------------------------------------------------------
MIN = 60.0


@pytest.mark.parametrize(
    ("recs", "prenormalized", "expected"),
    [
        pytest.param([], 5, 5, id="none"),
        pytest.param([(1, 2 * MIN), (2, 1 * MIN)], 3, 3, id="recent-lower"),
        pytest.param([(10, 10 * MIN), (9, 9 * MIN)], 3, 3, id="old-outside-window"),
        pytest.param([(10, 4 * MIN), (9, 9 * MIN)], 3, 10, id="recent-higher"),
    ],
)
def test_normalize_desired_replicas(recs: list[tuple[int, float]], prenormalized: int, expected: int) -> None:
    history = [hc.Recommendation(v, NOW - age) for v, age in recs]
    assert hc.stabilize_recommendation(history, NOW, 300.0, prenormalized) == expected
    assert hc.Recommendation(prenormalized, NOW) in history


def rules(
    pods: int = 0, pods_period: int = 0, percent: int = 0, percent_period: int = 0, select: str | None = None
) -> dict[str, Any]:
    """generateScalingRules: only the non-zero policies."""
    policies = []
    if pods:
        policies.append({"type": "Pods", "value": pods, "periodSeconds": pods_period})
    if percent:
        policies.append({"type": "Percent", "value": percent, "periodSeconds": percent_period})
    out: dict[str, Any] = {"policies": policies}
    if select:
        out["selectPolicy"] = select
    return out


def uniform_events(changes: list[int], period: float) -> list[hc.ScaleEvent]:
    """generateEventsUniformDistribution: ``changes`` spread over the last ``period`` seconds."""
    step = period / len(changes)
    return [hc.ScaleEvent(c, NOW - period + step * (i + 0.5)) for i, c in enumerate(changes)]


@pytest.mark.parametrize(
    ("lo", "hi", "current", "desired", "up", "down", "up_events", "expected", "reason"),
    [
        pytest.param(3, 8, 5, 7, None, None, [], 7, "DesiredWithinRange", id="within-range"),
        pytest.param(0, 10, 1, 0, None, None, [], 0, "DesiredWithinRange", id="min-replicas-0"),
        pytest.param(1, 10, 20, 1000, None, None, [], 10, "TooManyReplicas", id="max-below-scale-up-limit"),
        pytest.param(1, 1000, 10, 50, None, None, [], 20, "ScaleUpLimit", id="scale-up-default"),
        pytest.param(
            1, 2000, 3, 1000, rules(0, 0, 1, 60), None, [], 4, "ScaleUpLimit", id="percent-1pct-rounds-up"
        ),
        pytest.param(
            1, 1000, 10, 500, rules(2, 60, 100, 60), None, [], 20, "ScaleUpLimit", id="percent-beats-pods"
        ),
        pytest.param(1, 1000, 10, 50, rules(30, 60), None, [], 40, "ScaleUpLimit", id="pods-30"),
        pytest.param(3, 2000, 1000, 3, None, rules(20, 60), [], 980, "ScaleDownLimit", id="down-pods-20"),
        pytest.param(
            1, 1000, 100, 2, None, rules(20, 60, 1, 60), [], 80, "ScaleDownLimit", id="down-pods-vs-percent"
        ),
        pytest.param(1, 1000, 10, 2, None, rules(5, 60), [], 5, "ScaleDownLimit", id="down-pods-5"),
        pytest.param(
            1, 1000, 10, 5, None, rules(0, 0, 50, 60), [], 5, "DesiredWithinRange", id="down-percent-50"
        ),
        pytest.param(
            1, 200, 100, 500, rules(300, 60), None, [1, 5, 9], 200, "TooManyReplicas", id="up-events-max"
        ),
        pytest.param(
            1, 1000, 100, 500, rules(5, 120), None, [1, 5, 9], 100, "ScaleUpLimit", id="up-events-exhausted"
        ),
        pytest.param(
            1, 1000, 10, 50, rules(4, 15, select="Disabled"), None, [], 10, "ScaleUpLimit", id="up-disabled"
        ),
        pytest.param(
            1,
            1000,
            10,
            2,
            None,
            rules(5, 60, select="Disabled"),
            [],
            10,
            "ScaleDownLimit",
            id="down-disabled",
        ),
        pytest.param(
            1, 1000, 10, 50, rules(4, 15, 100, 15, select="Min"), None, [], 14, "ScaleUpLimit", id="up-min"
        ),
    ],
)
def test_scaling_with_rules(
    lo: int,
    hi: int,
    current: int,
    desired: int,
    up: dict[str, Any] | None,
    down: dict[str, Any] | None,
    up_events: list[int],
    expected: int,
    reason: str,
) -> None:
    events = uniform_events(up_events, 120.0) if up_events else []
    got, why, _ = hc.convert_desired_replicas_with_behavior_rate(
        current, desired, lo, hi, hc.scale_up_rules(up), hc.scale_down_rules(down, 300), events, [], NOW
    )
    assert (got, why) == (expected, reason)


def test_scale_down_limit_select_min() -> None:
    r = rules(2, 60, 50, 60, select="Min")
    assert hc.calculate_scale_down_limit_with_behaviors(5, [], [], r, NOW) == 3


@pytest.mark.parametrize(
    ("recs", "current", "desired", "up_window", "down_window", "expected"),
    [
        pytest.param([], 100, 5, 0, 300, 5, id="defaults"),
        pytest.param([(4, 2 * MIN), (5, 1 * MIN)], 1, 7, 300, 300, 4, id="up-window"),
        pytest.param([(1, 2 * MIN), (2, 1 * MIN)], 100, 3, 300, 300, 3, id="up-window-scale-down"),
        pytest.param([(10, 10 * MIN), (9, 9 * MIN)], 100, 3, 0, 300, 3, id="old-recs"),
        pytest.param(
            [(10, 10 * MIN), (4, 1 * MIN), (5, 2 * MIN), (9, 9 * MIN)], 100, 3, 0, 180, 5, id="down-180"
        ),
    ],
)
def test_normalize_with_behavior(
    recs: list[tuple[int, float]], current: int, desired: int, up_window: int, down_window: int, expected: int
) -> None:
    history = [hc.Recommendation(v, NOW - age) for v, age in recs]
    stabilized, _, _ = hc.stabilize_recommendation_with_behaviors(
        history, NOW, up_window, down_window, current, desired
    )
    up = hc.scale_up_rules({"stabilizationWindowSeconds": up_window})
    down = hc.scale_down_rules({"stabilizationWindowSeconds": down_window}, 300)
    got, _, _ = hc.convert_desired_replicas_with_behavior_rate(
        current, stabilized, 1, 1000, up, down, [], [], NOW
    )
    assert got == expected


@pytest.mark.parametrize(
    ("current", "desired", "lo", "hi", "expected", "reason", "message"),
    [
        pytest.param(3, 5, 1, 10, 5, "DesiredWithinRange", hc.MSG_WITHIN_RANGE, id="within"),
        pytest.param(3, 50, 1, 100, 6, "ScaleUpLimit", hc.MSG_SCALE_UP_LIMIT, id="double"),
        pytest.param(1, 50, 1, 100, 4, "ScaleUpLimit", hc.MSG_SCALE_UP_LIMIT, id="minimum-4"),
        pytest.param(3, 50, 1, 5, 5, "TooManyReplicas", hc.MSG_TOO_MANY, id="max"),
        pytest.param(3, 1, 2, 5, 2, "TooFewReplicas", hc.MSG_TOO_FEW, id="min"),
    ],
)
def test_convert_desired_replicas_with_rules(
    current: int, desired: int, lo: int, hi: int, expected: int, reason: str, message: str
) -> None:
    assert hc.convert_desired_replicas_with_rules(current, desired, lo, hi) == (expected, reason, message)


def test_store_scale_event_reuses_outdated_slot() -> None:
    r = hc.scale_up_rules(None)  # longest period 15 s
    events = [hc.ScaleEvent(2, NOW - 100), hc.ScaleEvent(3, NOW - 5)]
    hc.store_scale_event(events, r, 4, NOW)
    assert [(e.change, e.timestamp) for e in events] == [(4, NOW), (3, NOW - 5)]
    assert hc.replicas_change_per_period(15, events, NOW + 9) == 7


def test_stabilization_messages() -> None:
    recs = [hc.Recommendation(10, NOW - 60)]
    assert hc.stabilize_recommendation_with_behaviors(recs, NOW, 0, 300, 10, 3) == (
        10,
        "ScaleDownStabilized",
        hc.MSG_DOWN_STABILIZED,
    )
    recs = [hc.Recommendation(2, NOW - 60)]
    assert hc.stabilize_recommendation_with_behaviors(recs, NOW, 300, 300, 2, 8) == (
        2,
        "ScaleUpStabilized",
        hc.MSG_UP_STABILIZED,
    )


def test_pod_facts_and_ready_is_both_functions() -> None:
    from kubetwin.controllers import hpa_calc as hc

    def pod(phase: str | None, ready: str | None, start: str | None, deleting: bool = False) -> dict[str, Any]:
        status: dict[str, Any] = {}
        if phase:
            status["phase"] = phase
        if start:
            status["startTime"] = start
        if ready:
            status["conditions"] = [{"type": "PodScheduled", "status": "True"},
                                    {"type": "Ready", "status": ready, "lastTransitionTime": "2024-01-01T00:00:05Z"}]  # fmt: skip
        meta: dict[str, Any] = {"name": "p"}
        if deleting:
            meta["deletionTimestamp"] = "2024-01-01T00:01:00Z"
        return {"metadata": meta, "status": status}

    for phase in (None, "Pending", "Running", "Succeeded", "Failed"):
        for ready in (None, "True", "False"):
            for start in (None, "2024-01-01T00:00:00Z"):
                for deleting in (False, True):
                    p = pod(phase, ready, start, deleting)
                    assert hc.pod_facts_and_ready(p) == (hc.pod_facts(p), hc.running_and_ready(p))
