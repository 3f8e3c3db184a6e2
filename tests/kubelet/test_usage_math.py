"""Pure usage math: oom_score_adj (policy_test.go vectors), OOM badness, cpu.shares / CFS quota,
weighted water-filling, LoadProfile traffic shapes and CSV traces."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from builders import make_pod
from kubetwin.kubelet import cgroups
from kubetwin.kubelet.loadprofile import (
    Diurnal,
    inline_trace_file,
    parse_csv,
    parse_per_pod,
    parse_profile,
    parse_traffic,
)
from kubetwin.kubelet.oom import badness, oom_score_adj, system_oom_message

STD = 8_000_000_000


def _pod(requests: dict[str, Any] | None, limits: dict[str, Any] | None, **spec: Any) -> dict[str, Any]:
    b = make_pod("p").container("c", requests=requests, limits=limits)
    for k, v in spec.items():
        b = b.set(f"spec.{k}", v)
    return b.obj()


@pytest.mark.parametrize(
    ("pod", "capacity", "expected"),
    [
        pytest.param(_pod(None, {"cpu": "10"}), 4_000_000_000, 999, id="cpu-limit"),
        pytest.param(_pod(None, {"memory": "0"}), 7_230_457_451, 1000, id="zero-memory-limit"),
        pytest.param(_pod(None, None), 4_000_000_000, 1000, id="no-request-limit"),
        pytest.param(_pod({"memory": "4000000000", "cpu": "5m"}, {"memory": "10G"}), STD, 500,
                     id="cpu-unlimited-memory-limited-with-requests"),
        pytest.param(_pod({"memory": "7999999999", "cpu": "5m"}, None), STD, 3, id="request-no-limit"),
        pytest.param(_pod(None, None, priority=2000001000, priorityClassName="system-node-critical"),
                     4_000_000_000, -997, id="node-critical"),
        pytest.param(_pod({"memory": "1000000000"}, {"memory": "1000001000"}), STD, 875,
                     id="burstable-unique-container-pod"),
        pytest.param(_pod({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"}), STD, -997,
                     id="guaranteed"),
        pytest.param(_pod({"memory": "1"}, None), STD, 999, id="tiny-request-is-999-not-1000"),
        pytest.param(_pod(None, None, priority=2000000000, priorityClassName="system-cluster-critical"),
                     STD, 1000, id="cluster-critical-is-not-node-critical"),
    ],
)  # fmt: skip
def test_oom_score_adj(pod: dict[str, Any], capacity: int, expected: int) -> None:
    assert oom_score_adj(pod, pod["spec"]["containers"][0], capacity) == expected


def test_oom_score_adj_sidecar_takes_min_regular_container() -> None:
    pod = (make_pod("p").container("app", requests={"memory": "2G"})
           .sidecar("proxy", requests={"memory": "100M"}).obj())  # fmt: skip
    side = pod["spec"]["initContainers"][0]
    # own 1000 - 12 = 988, but never above the smallest regular container's 1000 - 250 = 750
    assert oom_score_adj(pod, side, STD) == 750
    assert oom_score_adj(pod, pod["spec"]["containers"][0], STD) == 750


def test_oom_score_adj_static_pod_with_critical_class() -> None:
    pod = _pod({"memory": "1G"}, None, priorityClassName="system-node-critical")
    pod["metadata"]["annotations"] = {"kubernetes.io/config.source": "file"}
    assert oom_score_adj(pod, pod["spec"]["containers"][0], STD) == -997


@pytest.mark.parametrize(
    ("usage", "adj", "expected"),
    [
        pytest.param(0.5, 1000, 1500.0, id="besteffort-half"),
        pytest.param(0.5, -997, -497.0, id="guaranteed-half"),
        pytest.param(0.1, 903, 1003.0, id="burstable"),
        pytest.param(0.9, -1000, -math.inf, id="unkillable"),
    ],
)
def test_badness(usage: float, adj: int, expected: float) -> None:
    assert badness(usage * 1000, 1000, adj) == pytest.approx(expected)


def test_system_oom_message() -> None:
    assert system_oom_message("java", 4242) == "System OOM encountered, victim process: java, pid: 4242"
    assert system_oom_message("", 0) == "System OOM encountered"


@pytest.mark.parametrize(
    ("milli", "shares", "quota"),
    [
        pytest.param(0, 2, 0, id="none"),
        pytest.param(1, 2, 1000, id="tiny-floors"),
        pytest.param(100, 102, 10000, id="100m"),
        pytest.param(1000, 1024, 100000, id="1cpu"),
        pytest.param(2500, 2560, 250000, id="2.5cpu"),
    ],
)
def test_shares_and_quota(milli: int, shares: int, quota: int) -> None:
    assert cgroups.milli_cpu_to_shares(milli) == shares
    assert cgroups.milli_cpu_to_quota(milli) == quota
    assert cgroups.shares(np.array([float(milli)]))[0] == shares


@pytest.mark.parametrize(
    ("want", "weight", "group", "budget", "expected"),
    [
        pytest.param([100, 200], [1, 1], [0, 0], [1000], [100, 200], id="fits"),
        pytest.param([1000, 1000], [1, 1], [0, 0], [1000], [500, 500], id="equal-split"),
        pytest.param([1000, 1000], [1024, 3072], [0, 0], [1000], [250, 750], id="by-shares"),
        pytest.param([1000, 1000, 100], [204, 614, 204], [0, 0, 0], [1000],
                     [900 * 204 / 818, 900 * 614 / 818, 100], id="small-demand-saturates-first"),
        pytest.param([800, 800, 300], [1, 1, 1], [0, 0, 1], [1000, 200], [500, 500, 200], id="two-nodes"),
        pytest.param([0, 500], [1, 1], [0, 0], [100], [0, 100], id="idle-gets-nothing"),
    ],
)  # fmt: skip
def test_water_fill(want: list[float], weight: list[float], group: list[int], budget: list[float],
                    expected: list[float]) -> None:  # fmt: skip
    got = cgroups.water_fill(np.array(want, float), np.array(weight, float), np.array(group), np.array(budget, float))
    assert got == pytest.approx(expected)
    for g, b in enumerate(budget):
        assert got[np.array(group) == g].sum() <= b + 1e-6


@pytest.mark.parametrize(
    ("traffic", "points"),
    [
        pytest.param({"constant": {"rps": 120}}, [(0, 120), (86400, 120)], id="constant"),
        pytest.param({"steps": [{"at": "30m", "rps": 200}, {"at": "0s", "rps": 50}]},
                     [(0, 50), (1799, 50), (1800, 200), (99999, 200)], id="steps-sorted"),
        pytest.param({"steps": [{"at": "10m", "rps": 5}]}, [(0, 0), (600, 5)], id="steps-zero-before"),
        pytest.param({"ramp": {"from": 10, "to": 110, "over": "100s"}}, [(0, 10), (50, 60), (100, 110), (500, 110)],
                     id="ramp"),
        pytest.param({"ramp": {"from": 0, "to": 100, "over": "1m", "at": "1m"}}, [(30, 0), (90, 50), (200, 100)],
                     id="ramp-delayed"),
        pytest.param({"diurnal": {"base": 100, "peak": 500, "peakAt": "14:00", "period": "24h"}},
                     [(14 * 3600, 500), (2 * 3600, 100), (8 * 3600, 300), (20 * 3600, 300), (38 * 3600, 500)],
                     id="diurnal"),
        pytest.param({"trace": {"csv": "time,rps,other\n0s,10,1\n1m,70,2\n2m,10,3"}},
                     [(0, 10), (30, 40), (60, 70), (90, 40), (500, 10)], id="trace-interpolated"),
        pytest.param({"trace": {"csv": "time,rps,other\n0s,10,1\n1m,70,2", "column": "other"}},
                     [(0, 1), (60, 2)], id="trace-named-column"),
        pytest.param({"trace": {"csv": "0,5\n60,15"}}, [(30, 10)], id="trace-headerless-seconds"),
    ],
)  # fmt: skip
def test_traffic_shapes(traffic: dict[str, Any], points: list[tuple[float, float]]) -> None:
    t = parse_traffic(traffic)
    for when, rps in points:
        assert t.rps(when) == pytest.approx(rps), when


def test_diurnal_follows_the_clock_not_the_start() -> None:
    d = parse_traffic({"diurnal": {"base": 0, "peak": 10, "peakAt": "14:00"}}, clock_offset=13 * 3600)
    assert isinstance(d, Diurnal)
    assert d.rps(3600) == pytest.approx(10)


@pytest.mark.parametrize(
    ("text", "column", "error"),
    [
        pytest.param("", None, "empty", id="empty"),
        pytest.param("time,rps\n0s,x", None, "line 2", id="not-a-number"),
        pytest.param("time,rps\n1m,1\n0s,2", None, "must not go back", id="backwards"),
        pytest.param("time,rps\n0s,1", "qps", "column 'qps' not found", id="missing-column"),
        pytest.param("0s,1\n1m", None, "line 2: expected at least 2 columns", id="short-row"),
    ],
)
def test_csv_errors(text: str, column: str | None, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_csv(text, column)


def test_per_pod_units() -> None:
    p = parse_per_pod({"baseline": {"cpu": "50m", "memory": "200Mi"}, "cpuPerRequest": "2m", "memoryPerRps": "1Mi",
                       "memoryLeakPerHour": "36Mi", "startup": {"cpu": "1", "duration": "90s"}})  # fmt: skip
    assert (p.baseline_cpu, p.baseline_memory, p.cpu_per_rps) == (50, 200 * 2**20, 2)
    assert p.memory_per_rps == 2**20 and p.leak_per_second == pytest.approx(36 * 2**20 / 3600)
    assert (p.startup_cpu, p.startup_seconds) == (1000, 90)


def test_parse_profile_and_inline_trace(tmp_path: Any) -> None:
    (tmp_path / "traces").mkdir()
    (tmp_path / "traces" / "shop.csv").write_text("time,rps\n0s,1\n1h,2\n")
    obj = {"apiVersion": "kubetwin.io/v1alpha1", "kind": "LoadProfile", "metadata": {"name": "lp", "namespace": "s"},
           "spec": {"selector": {"matchLabels": {"app": "web"}}, "traffic": {"trace": {"csv": "traces/shop.csv"}},
                    "metrics": [{"name": "queue_depth"}]}}  # fmt: skip
    inlined = inline_trace_file(obj, tmp_path)
    assert obj["spec"]["traffic"]["trace"]["csv"] == "traces/shop.csv"  # the input is not changed
    assert inlined["spec"]["traffic"]["trace"]["csv"] == "time,rps\n0s,1\n1h,2\n"
    prof = parse_profile(inlined)
    assert prof.key == "s/lp" and prof.selector.matches({"app": "web"}) and prof.metrics == [{"name": "queue_depth"}]
    assert prof.traffic.rps(1800) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="cannot read 'missing.csv'"):
        inline_trace_file({**obj, "spec": {**obj["spec"], "traffic": {"trace": {"csv": "missing.csv"}}}}, tmp_path)


def _params_as_arrays(req_cpu: Any, req_mem: Any, running: Any, start: Any, now: float, pin_cpu: Any,
                      pin_mem: Any, per: Any) -> dict[str, Any]:  # fmt: skip
    """The usage parameters computed on arrays (the engine's reference form)."""

    def shares(req: Any) -> Any:
        total = float(req.sum())
        return req / total if total > 0 else np.full(req.size, 1.0 / req.size)

    sc, sm = shares(req_cpu), shares(req_mem)
    zeros = np.zeros(req_cpu.size)
    d_cpu, d_mem = np.where(req_cpu > 0, req_cpu, 10.0), np.where(req_mem > 0, req_mem, 32.0 * 1024 * 1024)
    startup = 0.0
    if pin_cpu is not None:
        cpu = (pin_cpu * sc, zeros, zeros)
    elif per is not None:
        cpu = (per.baseline_cpu * sc if per.baseline_cpu is not None else d_cpu, per.cpu_per_rps * sc,
               per.startup_cpu * sc)  # fmt: skip
        startup = per.startup_seconds
    else:
        cpu = (d_cpu, zeros, zeros)
    if pin_mem is not None:
        mem = (pin_mem * sm, zeros, zeros)
    elif per is not None:
        mem = (per.baseline_memory * sm if per.baseline_memory is not None else d_mem, per.memory_per_rps * sm,
               per.leak_per_second * sm)  # fmt: skip
    else:
        mem = (d_mem, zeros, zeros)
    return {"base_cpu": cpu[0], "cpu_rps": cpu[1], "startup_cpu": cpu[2], "base_mem": mem[0], "mem_rps": mem[1],
            "leak": mem[2], "startup_end": np.where(running, start, now) + startup}  # fmt: skip


@pytest.mark.parametrize("containers", [1, 2, 3, 9])
@pytest.mark.parametrize("source", ["pinned", "profile", "profile-no-baseline", "defaults"])
def test_usage_parameters_are_the_array_form_bitwise(containers: int, source: str) -> None:
    """The engine splits a pod's parameters over its containers with plain floats: bitwise what
    the array form gives, with odd requests (zeros, thirds, sums that round), pinned usage, a
    profile (with and without baselines) and the defaults."""
    from types import SimpleNamespace

    from kubetwin.kubelet.loadprofile import PerPod
    from kubetwin.kubelet.usage import _C_COLS, UsageEngine, _Pod, _Table

    rng = np.random.default_rng(containers)
    for trial in range(30):
        eng = UsageEngine.__new__(UsageEngine)
        eng.c = _Table(_C_COLS, 16)
        eng.loop = SimpleNamespace(now=1234.5 + trial)
        eng._params_memo = {}
        per = PerPod(baseline_cpu=None if source == "profile-no-baseline" else 100.0 / 3, baseline_memory=None
                     if source == "profile-no-baseline" else 2.0**27 + 0.1, cpu_per_rps=0.7, memory_per_rps=1e5 / 3,
                     leak_per_second=3.3, startup_cpu=250.0 / 7, startup_seconds=4.5)  # fmt: skip
        eng.profiles = {"ns/p": SimpleNamespace(per_pod=per)}
        e = _Pod("u", "ns", "p", "n", 0)
        e.slots = [eng.c.alloc() for _ in range(containers)]
        e.profile = "ns/p" if source.startswith("profile") else None
        e.pin_cpu, e.pin_mem = (1000.0 / 3, 2.0**30 / 7) if source == "pinned" else (None, None)
        ca = eng.c.a
        for s in e.slots:
            ca["req_cpu"][s] = float(rng.choice([0, 100, 1, 333, 250, 1e-3 * 7]))
            ca["req_mem"][s] = float(rng.choice([0, 2**28, 3 * 2**20 + 1, 10**9 / 3]))
            ca["running"][s] = bool(rng.random() < 0.7)
            ca["start"][s] = float(rng.random() * 1000)
        slots = np.array(e.slots)
        want = _params_as_arrays(ca["req_cpu"][slots], ca["req_mem"][slots], ca["running"][slots],
                                 ca["start"][slots], eng.loop.now, e.pin_cpu, e.pin_mem,
                                 per if e.profile else None)  # fmt: skip
        eng._apply_params(e)
        for name, values in want.items():
            got = ca[name][slots]
            assert got.tobytes() == np.asarray(values, dtype=np.float64).tobytes(), (name, trial)
