"""The HPA's kept pod rows (controllers.hpa_pods): grouping and sums over arrays give what the
pod-by-pod calculator gives (upstream replica_calculator_test.go vectors and random pods), and
rows kept through puts, updates and removals equal rows built from scratch."""

from __future__ import annotations

import copy
import random
from typing import Any

import numpy as np
import pytest
from tests.builders import make_pod

from kubetwin.api.selectors import parse_label_selector
from kubetwin.client.metrics import PodMetric
from kubetwin.controllers import hpa_calc as hc
from kubetwin.controllers.hpa_pods import TargetPods, _fallback_sum, exact_sum, masked_sum

from .test_hpa_calc import (
    CLOCK,
    COOL,
    HOT,
    METRIC_WINDOW,
    NOW,
    PLAIN_CASES,
    RESOURCE_CASES,
    TEST_CONFIG,
    Case,
    _pods,
    _resource_metrics,
    parse_time,
)

Obj = dict[str, Any]
ALL = parse_label_selector("")


def _rows(pods: list[Obj]) -> TargetPods:
    rows = TargetPods("test-namespace", ALL, parse_time, cap=2)
    for p in pods:
        rows.put(p)
    return rows


def _arrays(rows: TargetPods, metrics: dict[str, PodMetric]) -> tuple[Any, Any]:
    names = {row: name for name, row in rows.rows.items()}
    has = np.zeros(rows.size, dtype=np.bool_)
    values = np.zeros(rows.size, dtype=np.int64)
    for row in range(rows.size):
        m = metrics.get(names.get(row, ""))
        if m is not None:
            has[row] = True
            values[row] = m.value
    return has, values


def _fast_resource(c: Case, pods: list[Obj], metrics: dict[str, PodMetric], resource: str = "cpu") -> Any:
    rows = _rows(pods)
    requests = rows.requests(None, resource)
    assert requests is not None
    has, values = _arrays(rows, metrics)
    t = rows.totals(has, values, resource, NOW, TEST_CONFIG, NOW, METRIC_WINDOW, requests, max(100, c.target))
    if t.count == 0:
        raise hc.CalcError("did not receive metrics for targeted pods (pods might be unready)")
    return hc.resource_replicas_from_totals(c.current, c.target, t, TEST_CONFIG.tolerances)


@pytest.mark.parametrize("c", RESOURCE_CASES)
def test_resource_cases_from_rows(c: Case) -> None:
    assert _fast_resource(c, _pods(c), _resource_metrics(c.levels)) == (c.expected, c.util, c.value)


@pytest.mark.parametrize("c", PLAIN_CASES)
def test_plain_cases_from_rows(c: Case) -> None:
    metrics = {f"test-pod-{i}": PodMetric(v, NOW, METRIC_WINDOW) for i, v in enumerate(c.levels)}
    rows = _rows(_pods(c))
    t = rows.totals(*_arrays(rows, metrics), "", NOW, TEST_CONFIG, NOW, METRIC_WINDOW)
    assert hc.plain_replicas_from_totals(c.current, c.target, t, TEST_CONFIG.tolerances) == (c.expected, c.value)


def _random_pod(rng: random.Random, i: int) -> Obj:
    b = make_pod(f"p-{i}", "test-namespace").labels({"app": rng.choice(["web", "web", "other"])})
    for c in range(rng.choice([1, 1, 2])):
        b.container(f"c{c}", requests={"cpu": f"{rng.choice([100, 250, 333, 1000])}m",
                                       "memory": f"{rng.choice([64, 256])}Mi"})  # fmt: skip
    p = b.obj()
    p["metadata"]["uid"] = f"uid-{i}"
    # the boundaries too: start + initialization period == now, ltt + window == now, start + delay == ltt
    start = rng.choice([HOT, COOL, NOW - 1000.0, NOW - 20.0, NOW - 100.0, NOW - 120.0])
    ltt = start + rng.choice([0.0, 5.0, 10.0, 40.0])
    phase = rng.choice(["Running"] * 6 + ["Pending", "Failed", "Succeeded"])
    status: Obj = {"phase": phase}
    if rng.random() < 0.9:
        status["startTime"] = CLOCK.timestamp(start)
    if rng.random() < 0.9:
        status["conditions"] = [{"type": "Ready", "status": rng.choice(["True", "True", "False", "Unknown"]),
                                 "lastTransitionTime": CLOCK.timestamp(ltt)}]  # fmt: skip
    p["status"] = status
    if rng.random() < 0.05:
        p["metadata"]["deletionTimestamp"] = CLOCK.timestamp(NOW)
    return p


def _outcome(calc: Any, *args: Any) -> Any:
    try:
        return calc(*args)
    except hc.CalcError as e:
        return str(e)


def _by_pod(current: int, target: int, resource: str, pods: list[Obj], metrics: dict[str, PodMetric]) -> Any:
    if resource:
        return hc.resource_replicas(current, target, resource, pods, metrics, NOW, parse_time, TEST_CONFIG)
    return hc.plain_metric_replicas(current, target, pods, metrics, NOW, parse_time, TEST_CONFIG)


def _by_rows(current: int, target: int, resource: str, rows: TargetPods, arrays: tuple[Any, Any]) -> Any:
    """What the controller does with the rows (hpa.py's Resource and Pods paths)."""
    if not len(rows):
        raise hc.CalcError("no pods returned by selector while calculating replica count")
    has, values = arrays
    if resource:
        req = rows.requests(None, resource)
        assert req is not None
        t = rows.totals(has, values, resource, NOW, TEST_CONFIG, NOW, METRIC_WINDOW, req, max(100, target))
    else:
        t = rows.totals(has, values, resource, NOW, TEST_CONFIG, NOW, METRIC_WINDOW)
    if t.count == 0:
        raise hc.CalcError("did not receive metrics for targeted pods (pods might be unready)")
    if resource:
        return hc.resource_replicas_from_totals(current, target, t, TEST_CONFIG.tolerances)
    return hc.plain_replicas_from_totals(current, target, t, TEST_CONFIG.tolerances)


@pytest.mark.parametrize("seed", range(40))
def test_random_pods_rows_equal_pod_by_pod(seed: int) -> None:
    """Random pods (phases, readiness, start and transition times, deletions), some without
    metrics, through churn of the rows; every target and metric kind gives the pod-by-pod result
    or the same error."""
    rng = random.Random(seed)
    rows = TargetPods("test-namespace", parse_label_selector("app=web"), parse_time, cap=2)
    if seed % 2:  # request columns kept through the churn (else built from the final pods)
        rows.requests(None, "cpu")
        rows.requests("c0", "memory")
    pods: dict[str, Obj] = {}
    for i in range(rng.randint(0, 30)):
        p = _random_pod(rng, i)
        pods[p["metadata"]["name"]] = p
        if rows.selector.matches(p["metadata"]["labels"]):
            rows.put(p)
    # a sync before the churn: what totals keeps of the columns must follow them through it
    zeros = np.zeros(rows.size, dtype=np.int64)
    rows.totals(zeros > 0, zeros, "cpu", NOW, TEST_CONFIG, NOW, METRIC_WINDOW)
    for name in rng.sample(sorted(pods), k=min(len(pods), rng.randint(0, 12))):  # removals and updates
        if rng.random() < 0.3:
            del pods[name]
            rows.remove(name)
        else:
            p = _random_pod(rng, int(name.split("-")[1]))
            if rng.random() < 0.5:  # a status update: the same spec object, or an equal copy
                p["spec"] = pods[name]["spec"] if rng.random() < 0.5 else copy.deepcopy(pods[name]["spec"])
            pods[name] = p
            if rows.selector.matches(p["metadata"]["labels"]):
                rows.put(p)
            else:
                rows.remove(name)
    listed = [p for p in pods.values() if rows.selector.matches(p["metadata"]["labels"])]
    assert sorted(rows.names()) == sorted(p["metadata"]["name"] for p in listed)
    metrics = {
        p["metadata"]["name"]: PodMetric(rng.choice([0, 50, 120, 300, 900, 2500]), NOW, METRIC_WINDOW)
        for p in listed
        if rng.random() < 0.8
    }
    has, values = _arrays(rows, metrics)
    for resource in ("cpu", "memory", ""):
        for target in (30, 80, 100, 150, 1000):
            for current in (0, 1, 3, 10):
                expected = _outcome(_by_pod, current, target, resource, listed, metrics)
                got = _outcome(_by_rows, current, target, resource, rows, (has, values))
                assert got == expected, (resource, target, current)
    ready = sum(1 for p in listed if hc.running_and_ready(p))
    if listed:
        assert rows.ready_count() == ready
    # rows kept through the churn hold what rows built from the final pods hold
    fresh = _rows(listed)
    for col in ("alive", "kind", "timed", "start", "ltt", "ready_false", "running_ready"):
        kept = {n: getattr(rows, col)[r] for n, r in rows.rows.items()}
        built = {n: getattr(fresh, col)[r] for n, r in fresh.rows.items()}
        assert kept == built, col
    for container, resource in (("c0", "memory"), (None, "cpu")):
        kept_req, built_req = rows.requests(container, resource), fresh.requests(container, resource)
        assert (kept_req is None) == (built_req is None)
        if kept_req is not None and built_req is not None:
            assert {n: kept_req[r] for n, r in rows.rows.items()} == {n: built_req[r] for n, r in fresh.rows.items()}
    assert rows.odd_count == fresh.odd_count
    assert not rows.alive[[r for r in range(rows.size) if rows.uids[r] is None]].any()


def test_missing_request_sends_the_calculation_pod_by_pod() -> None:
    rows = _rows([_pods(Case(1, 1, 1, 50, [], ["1"]))[0], make_pod("no-request", "test-namespace").container("c").obj()])
    assert rows.requests(None, "cpu") is None
    rows.remove("no-request")
    assert rows.requests(None, "cpu") is not None
    assert rows.requests("container0", "cpu") is not None
    assert rows.requests("nope", "cpu") is None


def test_ready_count_without_pods() -> None:
    with pytest.raises(hc.CalcError, match="no pods returned by selector"):
        _rows([]).ready_count()


def test_exact_sum_does_not_wrap() -> None:
    big = np.array([2**62, 2**62, 2**62], dtype=np.int64)
    assert exact_sum(big) == 3 * 2**62
    assert exact_sum(np.array([5, -3], dtype=np.int64)) == 2
    assert exact_sum(np.array([], dtype=np.int64)) == 0


@pytest.mark.parametrize(
    "values", [[], [5, -3, 7], [2**62, 2**62, 2**62, 1], [-(2**62), -(2**62), 3, 2**61], [2**63 - 1, 1, 2**63 - 1]]
)
def test_masked_sum_is_the_exact_sum_of_the_masked_values(values: list[int]) -> None:
    a = np.array(values, dtype=np.int64)
    for mask in ([True] * len(values), [False] * len(values), [i % 2 == 0 for i in range(len(values))]):
        m = np.array(mask, dtype=np.bool_)
        assert masked_sum(a, m) == sum(v for v, keep in zip(values, mask, strict=True) if keep)


@pytest.mark.parametrize(
    ("requests", "percent"),
    [
        ([], 100),
        ([1, 99, 101, 250, 0], 100),
        ([1, 99, 101, 250, 7], 130),
        ([-1, -99, -101, 250], 130),  # truncation toward zero, as Go's division
        ([2**62, 3, 2**61], 150),  # products past int64: Python ints
        ([5, 7], -120),
    ],
)
def test_fallback_sum_is_go_division_per_pod(requests: list[int], percent: int) -> None:
    got = _fallback_sum(np.array(requests, dtype=np.int64), percent)
    assert got == sum(hc.quo(r * percent, 100) for r in requests)


@pytest.mark.parametrize(
    ("cpu_requests", "expected"),
    [
        (["100m", "250m"], 250),
        (["100m", None], None),  # a request goes missing: pod by pod, as upstream says which
        (["100m", None, "300m"], 300),  # and comes back
        ([None, "50m", "50m"], 50),
    ],
)
def test_request_columns_follow_updates(cpu_requests: list[str | None], expected: int | None) -> None:
    """Updates of one pod whose request changes (each a new spec) after the column was built."""
    rows = _rows([])
    assert rows.requests(None, "cpu") is not None
    for cpu in cpu_requests:
        pod = make_pod("p", "test-namespace").container("c", requests={"cpu": cpu} if cpu else None).obj()
        pod["metadata"]["uid"] = "uid-p"
        rows.put(pod)
    got = rows.requests(None, "cpu")
    assert (None if got is None else int(got[rows.rows["p"]])) == expected


@pytest.mark.parametrize(
    ("uid", "restarts"),
    [
        pytest.param("uid-p", 3, id="status-write-with-the-same-facts"),
        pytest.param("uid-q", 0, id="recreated-under-the-same-name"),
    ],
)
def test_put_with_unchanged_facts_refreshes_pod_and_uid(uid: str, restarts: int) -> None:
    """A put whose grouping facts and readiness equal the row's keeps its columns, yet the row
    holds the new version (request columns added later read it) and the new uid (what the
    metrics client joins)."""
    rows = _rows([])
    pods = []
    for u_, n in (("uid-p", 0), (uid, restarts)):
        pod = make_pod("p", "test-namespace").container("c", requests={"cpu": "100m"}).obj()
        pod["metadata"]["uid"] = u_
        pod["status"] = {"phase": "Running", "startTime": CLOCK.timestamp(COOL),
                         "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": CLOCK.timestamp(COOL)}],
                         "containerStatuses": [{"name": "c", "restartCount": n}]}  # fmt: skip
        rows.put(pod)
        pods.append(pod)
    row = rows.rows["p"]
    assert rows.pods[row] is pods[1]
    assert rows.uids[row] == uid
    assert rows.ready_count() == 1 and bool(rows.alive[row])
