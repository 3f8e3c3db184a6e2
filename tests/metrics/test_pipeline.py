"""MetricsPipeline: scrape resolution and window, custom per-pod metrics from LoadProfile
spec.metrics, object metrics, external series and their selectors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from kubetwin.api.selectors import LabelSelector, parse_label_selector
from kubetwin.client.metrics import MetricsUnavailable
from kubetwin.kubelet.loadprofile import Constant, Ramp, Steps
from kubetwin.metrics.pipeline import (
    NO_CUSTOM_METRICS,
    NO_EXTERNAL_METRICS,
    NO_RESOURCE_METRICS,
    _defined,
    _serving_counts,
    parse_metric_defs,
    series_shape,
    window_average,
)
from kubetwin.scenario.runtime import ScenarioSettings

from .conftest import NS, Env, KeptRows, fresh_rows

WEB = parse_label_selector("app=web")
ALL = LabelSelector()


def test_values_change_only_at_scrapes_and_carry_the_scrape_time(env: Env) -> None:
    env.deployment(replicas=2)
    env.profile(traffic={"steps": [{"at": "0s", "rps": 100}, {"at": "185s", "rps": 300}]})
    env.run_to(150)
    before, ts = env.pipeline.get_resource_metric("cpu", NS, WEB)
    assert ts == 150.0 and all(m.timestamp == 150.0 and m.window == 15.0 for m in before.values())
    # 100 rps over 2 pods: 50m baseline + 2m x 50 rps
    assert sorted(m.value for m in before.values()) == [150, 150]
    stamped = {k: v._replace(timestamp=180.0) for k, v in before.items()}
    env.run_to(186)  # traffic tripled at 185 s; the last scrape (180 s) did not see it
    assert env.pipeline.get_resource_metric("cpu", NS, WEB) == (stamped, 180.0)
    env.run_to(194)  # the engine ticked at 190 s with the new traffic: no scrape, no change
    assert env.pipeline.get_resource_metric("cpu", NS, WEB) == (stamped, 180.0)
    env.run_to(225)  # a full window after the step: 50m + 2m x 150 rps
    after, ts = env.pipeline.get_resource_metric("cpu", NS, WEB)
    assert ts == 225.0 and sorted(m.value for m in after.values()) == [350, 350]
    rps, _ = env.pipeline.get_raw_metric("http_requests_per_second", NS, WEB, ALL)
    assert sorted(m.value for m in rps.values()) == [150_000, 150_000]


def test_memory_is_the_working_set_in_milli_bytes(env: Env) -> None:
    env.deployment(replicas=1)
    env.profile()
    env.run_to(120)
    mem, _ = env.pipeline.get_resource_metric("memory", NS, WEB)
    assert list(mem.values())[0].value == 100 * 1024 * 1024 * 1000


def test_new_pods_are_missing_until_scraped_twice(env: Env) -> None:
    env.deployment(replicas=1)
    env.profile()
    env.run_to(120)
    assert len(env.pipeline.get_resource_metric("cpu", NS, WEB)[0]) == 1
    dep = env.client.get("deployments.apps", "web", NS)
    dep["spec"]["replicas"] = 3
    env.client.update(dep)
    env.run_to(121)
    assert len(env.pods()) == 3
    assert len(env.pipeline.get_resource_metric("cpu", NS, WEB)[0]) == 1
    env.run_to(180)
    assert len(env.pipeline.get_resource_metric("cpu", NS, WEB)[0]) == 3


def test_nothing_before_the_first_two_scrapes(env: Env) -> None:
    env.deployment(replicas=1)
    env.profile()
    env.run_to(14)
    with pytest.raises(MetricsUnavailable, match=NO_RESOURCE_METRICS):
        env.pipeline.get_resource_metric("cpu", NS, WEB)
    with pytest.raises(MetricsUnavailable, match=NO_CUSTOM_METRICS):
        env.pipeline.get_raw_metric("http_requests_per_second", NS, WEB, ALL)


def test_requests_per_second_is_split_across_ready_pods_and_object_metrics_sum(env: Env) -> None:
    env.deployment(replicas=3)
    env.profile(traffic={"constant": {"rps": 300}})
    env.service()
    env.client.create({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": NS},
        "spec": {"rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix",
                                                "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]},
    })  # fmt: skip
    env.run_to(120)
    per_pod, _ = env.pipeline.get_raw_metric("http_requests_per_second", NS, WEB, ALL)
    assert sorted(m.value for m in per_pod.values()) == [100_000] * 3
    for kind in ("Service", "Deployment", "Ingress"):
        value, ts = env.pipeline.get_object_metric(
            "http_requests_per_second", NS, {"kind": kind, "name": "web"}, ALL
        )
        assert (kind, value, ts) == (kind, 300_000, 120.0)
    pod = env.pods()[0]["metadata"]["name"]
    assert (
        env.pipeline.get_object_metric("http_requests_per_second", NS, {"kind": "Pod", "name": pod}, ALL)[0]
        == 100_000
    )
    with pytest.raises(MetricsUnavailable):
        env.pipeline.get_object_metric(
            "http_requests_per_second", NS, {"kind": "Service", "name": "nope"}, ALL
        )
    with pytest.raises(MetricsUnavailable):
        env.pipeline.get_raw_metric("not_declared", NS, WEB, ALL)


def test_unready_pods_get_no_traffic(env: Env) -> None:
    env.deployment(replicas=2)
    env.profile(traffic={"constant": {"rps": 200}})
    env.run_to(120)
    engine = env.pipeline.engine()
    assert engine is not None
    victim = env.pods()[0]
    e = engine.pods[victim["metadata"]["uid"]]
    engine.p.a["ready"][e.slot] = False  # as the usage engine sees a pod that failed its readiness probe
    env.run_to(150)
    values, _ = env.pipeline.get_raw_metric("http_requests_per_second", NS, WEB, ALL)
    assert values[victim["metadata"]["name"]].value == 0
    assert sorted(m.value for m in values.values()) == [0, 200_000]


def test_metric_selector_matches_metric_labels(env: Env) -> None:
    env.deployment(replicas=1)
    env.profile(metrics=[{"name": "http_errors_per_second", "type": "errorRate", "ratio": 0.01,
                          "labels": {"code": "5xx"}}])  # fmt: skip
    env.run_to(120)
    got, _ = env.pipeline.get_raw_metric("http_errors_per_second", NS, WEB, parse_label_selector("code=5xx"))
    assert [m.value for m in got.values()] == [1000]  # 1% of 100 rps
    with pytest.raises(MetricsUnavailable):
        env.pipeline.get_raw_metric("http_errors_per_second", NS, WEB, parse_label_selector("code=4xx"))


@pytest.mark.parametrize(
    ("rps", "cpu", "limit", "latency_milli", "errors_milli"),
    [
        pytest.param(
            100, "500m", None, round(1000 * 0.1 / (1 - 250 / 500)), 0, id="M/M/1 over the request: rho 0.5"
        ),
        pytest.param(
            100, "500m", "1", round(1000 * 0.1 / (1 - 250 / 1000)), 0, id="capacity is the limit when set"
        ),
        pytest.param(0, "500m", None, round(1000 * 0.1 / (1 - 50 / 500)), 0, id="idle: baseline demand only"),
        pytest.param(
            300, "300m", "400m", 2000, round(300_000 * (650 - 400) / 650), id="throttled: max latency, errors"
        ),
    ],
)
def test_latency_and_errors(
    env: Env, rps: int, cpu: str, limit: str | None, latency_milli: int, errors_milli: int
) -> None:
    env.deployment(replicas=1, cpu=cpu, limit=limit)
    env.profile(traffic={"constant": {"rps": rps}},
                metrics=[{"name": "p95", "type": "latency", "base": "100ms", "max": "2s"},
                         {"name": "errors", "type": "errorRate"}])  # fmt: skip
    env.run_to(120)
    latency, _ = env.pipeline.get_raw_metric("p95", NS, WEB, ALL)
    errors, _ = env.pipeline.get_raw_metric("errors", NS, WEB, ALL)
    assert [m.value for m in latency.values()] == [latency_milli]
    assert [m.value for m in errors.values()] == [errors_milli]


def test_object_latency_is_request_weighted_mean(env: Env) -> None:
    env.deployment(replicas=2)
    env.profile(metrics=[{"name": "p95", "type": "latency"}])
    env.service()
    env.run_to(120)
    per_pod, _ = env.pipeline.get_raw_metric("p95", NS, WEB, ALL)
    value, _ = env.pipeline.get_object_metric("p95", NS, {"kind": "Service", "name": "web"}, ALL)
    assert value == list(per_pod.values())[0].value


def test_external_series_and_selectors(env: Env) -> None:
    env.series("jobs", "queue_depth", {"steps": [{"at": "0s", "value": 10}, {"at": "125s", "value": 40}]},
               {"queue": "jobs"})  # fmt: skip
    env.series("mail", "queue_depth", {"constant": {"value": 5}}, {"queue": "mail"})
    env.series("other", "lag", {"ramp": {"from": 0, "to": 100, "over": "10m"}})
    with pytest.raises(MetricsUnavailable, match=NO_EXTERNAL_METRICS):
        env.pipeline.get_external_metric("queue_depth", NS, ALL)  # no scrape yet
    env.run_to(60)
    assert env.pipeline.get_external_metric("queue_depth", NS, ALL) == ([10_000, 5_000], 60.0)
    assert env.pipeline.get_external_metric("queue_depth", NS, parse_label_selector("queue=jobs")) == (
        [10_000],
        60.0,
    )
    assert env.pipeline.get_external_metric("queue_depth", NS, parse_label_selector("queue in (jobs,mail)"))[0] == [
        10_000, 5_000]  # fmt: skip
    assert env.pipeline.get_external_metric("lag", NS, ALL) == ([10_000], 60.0)
    env.run_to(134)  # value steps at 125 s; seen from the 135 s scrape
    assert env.pipeline.get_external_metric("queue_depth", NS, parse_label_selector("queue=jobs"))[0] == [
        10_000
    ]
    env.run_to(135)
    assert env.pipeline.get_external_metric("queue_depth", NS, parse_label_selector("queue=jobs"))[0] == [
        40_000
    ]
    with pytest.raises(MetricsUnavailable, match=NO_EXTERNAL_METRICS):
        env.pipeline.get_external_metric("queue_depth", NS, parse_label_selector("queue=none"))
    with pytest.raises(MetricsUnavailable, match=NO_EXTERNAL_METRICS):
        env.pipeline.get_external_metric("queue_depth", "other-namespace", ALL)
    assert env.pipeline.external_metric_names() == ["lag", "queue_depth"]


def test_configurable_resolution() -> None:
    e = Env(resolution=60.0)
    try:
        e.deployment(replicas=1)
        e.profile()
        e.run_to(119)
        with pytest.raises(MetricsUnavailable):
            e.pipeline.get_resource_metric("cpu", NS, WEB)
        e.run_to(130)
        values, ts = e.pipeline.get_resource_metric("cpu", NS, WEB)
        assert ts == 120.0 and [m.window for m in values.values()] == [60.0]
    finally:
        e.cluster.close()


@pytest.mark.parametrize(
    ("spec", "resolution"),
    [
        pytest.param({"duration": "1h"}, 15.0, id="default 15s"),
        pytest.param(
            {"duration": "1h", "metrics": {"resolution": "30s"}}, 30.0, id="spec.metrics.resolution"
        ),
    ],
)
def test_scenario_resolution(spec: dict[str, object], resolution: float) -> None:
    obj = {"apiVersion": "kubetwin.io/v1alpha1", "kind": "Scenario", "metadata": {"name": "s"}, "spec": spec}
    assert ScenarioSettings.from_object(obj).metrics_resolution == resolution


@pytest.mark.parametrize(
    ("values", "t", "expected"),
    [
        pytest.param({"constant": {"value": 7}}, 100, 7.0, id="constant"),
        pytest.param({"steps": [{"at": "1m", "value": 3}, {"at": "2m", "value": 9}]}, 90, 3.0, id="steps"),
        pytest.param({"steps": [{"at": "1m", "value": 3}]}, 30, 0.0, id="zero before the first step"),
        pytest.param({"ramp": {"from": 0, "to": 100, "over": "100s"}}, 25, 25.0, id="ramp"),
        pytest.param({"diurnal": {"base": 10, "peak": 30, "peakAt": "00:00"}}, 0, 30.0, id="diurnal peak"),
        pytest.param(
            {"trace": {"csv": "time,depth\n0s,0\n100s,50", "column": "depth"}}, 50, 25.0, id="trace"
        ),
    ],
)
def test_series_shapes(values: dict[str, object], t: float, expected: float) -> None:
    assert series_shape(values).rps(t) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("shape", "start", "end", "expected"),
    [
        pytest.param(Constant(5.0), 0, 15, 5.0, id="constant"),
        pytest.param(Ramp(0.0, 60.0, 60.0), 0, 60, 30.0, id="ramp mean"),
        pytest.param(Steps((0.0, 30.0), (10.0, 40.0)), 15, 45, 25.0, id="step mid-window"),
    ],
)
def test_window_average(shape: object, start: float, end: float, expected: float) -> None:
    assert window_average(shape, start, end) == pytest.approx(expected, rel=0.1)  # type: ignore[arg-type]


def test_metric_defs_defaults() -> None:
    defs = parse_metric_defs(
        [{"name": "lat", "type": "latency", "base": "50ms"}, {"name": "x", "type": "bogus"}]
    )
    assert list(defs) == ["lat"]
    assert math.isclose(defs["lat"].max, 1.0) and defs["lat"].ratio == 0.0


def test_a_container_restarted_between_scrapes_leaves_the_metrics_at_once(env: Env) -> None:
    env.deployment(replicas=2)
    env.profile()
    env.run_to(150)
    assert len(env.pipeline.get_resource_metric("cpu", NS, WEB)[0]) == 2  # per-pod records memoised
    eng = env.pipeline.engine()
    pod = sorted(env.pods(), key=lambda p: p["metadata"]["name"])[0]
    kubelet = eng.kubelets[pod["spec"]["nodeName"]]
    eng.on_container_started(kubelet, pod["metadata"]["uid"], pod["spec"]["containers"][0]["name"])
    left, _ = env.pipeline.get_resource_metric("cpu", NS, WEB)  # same scrapes, same instant
    assert pod["metadata"]["name"] not in left and len(left) == 1


def _answer(get: Any) -> Any:
    try:
        return get()
    except MetricsUnavailable as e:
        return str(e)


def _by_rule(env: Env, uid: str | None) -> tuple[int, int, dict[str, tuple[int, int]]] | None:
    """metrics-server's rule for one pod, read from the scrapes slot by slot (an oracle for the
    vectorised arrays): (cpu milli, memory milli-bytes, {container: (cpu milli, bytes)}), or None
    when the pod is not served."""
    eng, cur, prev = env.pipeline.engine(), env.pipeline.cur, env.pipeline.prev
    assert eng is not None and cur is not None and prev is not None
    e = eng.pods.get(uid or "")
    if e is None or not e.slots or e.slot >= cur.pods:
        return None
    limit = min(len(cur.running), len(prev.running))
    containers = {}
    for s, name in zip(e.slots, e.names, strict=True):
        if s >= limit or not cur.running[s] or not prev.running[s]:
            return None
        if cur.start[s] > prev.t or eng.c.a["start"][s] != cur.start[s]:
            return None  # (re)started since the previous scrape, or the slot changed hands
        cpu = int(round(max(0.0, float(cur.cpu_s[s]) - float(prev.cpu_s[s])) * 1000.0 / (cur.t - prev.t)))
        containers[name] = (cpu, int(cur.mem[s]))
    return sum(c for c, _ in containers.values()), sum(m for _, m in containers.values()) * 1000, containers


class _Aligned:
    """PodSamples of kept rows, read in the order of a list of rows."""

    def __init__(self, samples: Any, rows: list[int]) -> None:
        self.samples, self.rows = samples, rows
        self.timestamp, self.window = samples.timestamp, samples.window

    def resource(self, resource: str) -> Any:
        has, values = self.samples.resource(resource)
        return has[self.rows], values[self.rows]

    def custom(self, metric: str, selector: LabelSelector) -> Any:
        got = self.samples.custom(metric, selector)
        return None if got is None else (got[0][self.rows], got[1][self.rows])


@pytest.mark.parametrize("sidecar", [True, False], ids=["two-containers", "one-container-per-pod"])
def test_pod_samples_are_the_per_pod_answers_as_arrays(env: Env, sidecar: bool) -> None:
    """PodSamples (the HPA's arrays) against the rule pod by pod and against get_resource_metric /
    get_raw_metric for the same pods: while pods start, are missing, restart after OOM kills, are
    scaled up and down, with a second LoadProfile whose metric has other labels, a free row and an
    unknown uid; with pods of two containers (sums per pod) or of one each."""
    env.deployment(replicas=3)
    env.profile(traffic={"ramp": {"from": 100, "to": 900, "over": "10m"}},
                metrics=[{"name": "http_requests_per_second"}, {"name": "p95", "type": "latency"}])  # fmt: skip
    # "oom": a container leaking 20Mi a minute from 100Mi against a 120Mi limit: OOM-killed after a
    # minute of running and restarted (between two scrapes, or after the last one), again and again
    env.oom_deployment(sidecar)
    env.profile("oom", per_pod={"baseline": {"cpu": "30m", "memory": "100Mi"}, "memoryLeakPerHour": "1200Mi"},
                metrics=[{"name": "http_requests_per_second", "labels": {"tier": "batch"}}])  # fmt: skip
    served = unserved = 0
    kept = KeptRows()  # rows kept across the calls (the join with the engine is kept too)
    for t in [14, 29, *range(31, 900, 4)]:
        if t in (178, 409):
            dep = env.client.get("deployments.apps", "web", NS)
            dep["spec"]["replicas"] = 6 if t == 178 else 2
            env.client.update(dep)
        env.run_to(t)
        pods = env.client.list("pods", NS)
        uids: list[str | None] = [p["metadata"]["uid"] for p in pods] + [None, "no-such-uid"]
        rows = kept.sync([(u, None) for u in uids])
        if t % 3 == 0:
            rows = list(range(len(uids)))
            kept_samples = env.pipeline.pod_samples(fresh_rows([(u, None) for u in uids]))
        else:
            kept_samples = env.pipeline.pod_samples(kept.keys)
        if kept_samples is None:
            assert t < 30  # before two scrapes
            continue
        samples = _Aligned(kept_samples, rows)
        assert (samples.timestamp, samples.window) == (env.pipeline.timestamp, env.pipeline.window)
        rule = [_by_rule(env, u) for u in uids]
        served += sum(r is not None for r in rule)
        unserved += sum(r is None for r in rule[:-2])
        for p, r in zip(pods, rule, strict=False):
            assert env.pipeline.container_usage(p) == (r[2] if r is not None else None)
        for i, resource in enumerate(("cpu", "memory")):
            expected = {p["metadata"]["name"]: r[i] for p, r in zip(pods, rule, strict=False) if r is not None}
            got = _answer(lambda: samples.resource(resource))  # noqa: B023
            if not expected:
                assert got == NO_RESOURCE_METRICS
                continue
            has, values = got
            assert has.tolist() == [r is not None for r in rule], (t, resource)
            assert {p["metadata"]["name"]: int(v) for p, h, v in zip(pods, has, values, strict=False) if h} == expected
            per_pod, _ = env.pipeline.get_resource_metric(resource, NS, ALL)
            assert {k: m.value for k, m in per_pod.items()} == expected
        assert _answer(lambda: samples.resource("gpu")) == NO_RESOURCE_METRICS  # noqa: B023
        for metric, sel in (("http_requests_per_second", ALL), ("http_requests_per_second", parse_label_selector("tier=batch")),
                            ("http_requests_per_second", parse_label_selector("tier=web")), ("nope", ALL)):  # fmt: skip
            expected = _answer(lambda: env.pipeline.get_raw_metric(metric, NS, ALL, sel)[0])  # noqa: B023
            got = _answer(lambda: samples.custom(metric, sel))  # noqa: B023
            if isinstance(expected, str):
                assert got == expected
                continue
            has, values = got
            arrays = {p["metadata"]["name"]: int(v) for p, h, v in zip(pods, has, values, strict=False) if h}
            assert arrays == {k: m.value for k, m in expected.items()}, (t, metric)
        assert samples.custom("p95", ALL) is None  # latency: pod by pod
    engine = env.pipeline.engine()
    assert engine is not None and engine.oom_log  # the restarts happened
    assert engine.aligned is not sidecar  # one container per pod: the arrays skip the slot join
    assert served and unserved


def test_custom_samples_of_pods_given_slots_after_the_last_scrape(env: Env) -> None:
    """Rows whose pods started after the last scrape (their engine slots lie past what it covered)
    have no value, the others the per-pod answer."""
    env.deployment(replicas=1)
    env.profile(metrics=[{"name": "http_requests_per_second"}])
    env.run_to(120)
    dep = env.client.get("deployments.apps", "web", NS)
    dep["spec"]["replicas"] = 4
    env.client.update(dep)
    eng, cur = env.pipeline.engine(), env.pipeline.cur
    assert eng is not None and cur is not None
    for t in range(121, 135):
        env.run_to(t)
        if any(e.slot >= cur.pods for e in eng.pods.values()):
            break
    pods = env.pods()
    assert env.pipeline.cur is cur and any(e.slot >= cur.pods for e in eng.pods.values())
    samples = env.pipeline.pod_samples(fresh_rows([(p["metadata"]["uid"], None) for p in pods]))
    assert samples is not None
    has, values = samples.custom("http_requests_per_second", ALL)
    expected = env.pipeline.get_raw_metric("http_requests_per_second", NS, ALL, ALL)[0]
    assert {p["metadata"]["name"]: int(v) for p, h, v in zip(pods, has, values, strict=True) if h} == {
        k: m.value for k, m in expected.items()
    }
    assert sum(has.tolist()) == 1


@pytest.mark.parametrize("profiles", [1, 2, 8, 9, 30])
def test_serving_counts_are_the_bincount_of_the_serving_pods(profiles: int) -> None:
    """A scrape's per-profile serving counts (a pass per profile for a few, else a bincount)."""
    rng = np.random.default_rng(profiles)
    serve = rng.integers(-1, profiles, 1000).astype(np.int64)
    counts = _serving_counts(serve, profiles)
    expected = np.bincount(serve[serve >= 0], minlength=profiles).astype(np.float64)
    assert counts.dtype == np.float64 and np.array_equal(counts, expected)
    assert np.array_equal(_serving_counts(np.full(5, -1, dtype=np.int64), profiles), np.zeros(profiles))


@pytest.mark.parametrize("seed", range(12))
def test_defined_is_the_gather_of_the_profile_flags(seed: int) -> None:
    """Which rows' profiles define a custom metric (comparisons for a few defining profiles, else
    a gather): index -1 and indexes past the profiles (the rows' profiles may be newer) are False."""
    rng = np.random.default_rng(seed)
    profiles = int(rng.integers(1, 7))
    defines = np.zeros(profiles + 1, dtype=np.bool_)
    defines[:profiles] = rng.random(profiles) < rng.random()
    profile = rng.integers(-1, profiles + 3, 500).astype(np.int64)
    expected = np.array([0 <= p < profiles and bool(defines[p]) for p in profile.tolist()], dtype=np.bool_)
    assert np.array_equal(_defined(profile, defines), expected)
