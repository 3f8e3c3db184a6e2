"""The kubelet eviction manager (pkg/kubelet/eviction) against a fake usage engine."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import Stack, make_stack
from fakes import GI, MI, FakeEngine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import make_node, make_pod
from kubetwin.api.kubeletconfig import ThresholdValue, parse_kubelet_config
from kubetwin.kubelet.eviction import (
    ALLOCATABLE_MEMORY_AVAILABLE,
    MEMORY_AVAILABLE,
    EvictionConfig,
    Threshold,
    eviction_grace_period,
    eviction_message,
    is_critical_pod,
    rank_memory_pressure,
    rank_pid_pressure,
    threshold_text,
)

NODE = "n1"


def _stack(kubelet_config: dict[str, Any] | None = None, memory: str = "1Gi") -> tuple[Stack, FakeEngine]:
    stack = make_stack()
    engine = FakeEngine(stack.kubelets)
    node = make_node(NODE).capacity(memory=memory).obj()
    if kubelet_config is not None:
        node["metadata"]["annotations"] = {"kubetwin.io/kubelet-config": json.dumps(kubelet_config)}
    stack.client.create(node)
    return stack, engine


def _run(stack: Stack, pod: dict[str, Any]) -> None:
    pod["metadata"].setdefault("annotations", {})["kubetwin.io/startup-seconds"] = "1"
    stack.run_pod(pod, NODE)


def _be(name: str, **kw: Any) -> dict[str, Any]:
    return make_pod(name).container("c", **kw).obj()


def _guaranteed(name: str, mem: str = "128Mi") -> dict[str, Any]:
    return make_pod(name).container("c", requests={"cpu": "100m", "memory": mem},
                                    limits={"cpu": "100m", "memory": mem}).obj()  # fmt: skip


def _burstable(name: str, mem: str = "128Mi") -> dict[str, Any]:
    return make_pod(name).container("c", requests={"memory": mem}).obj()


def _evicted(stack: Stack) -> list[tuple[float, str]]:
    return [(e.time, e.name) for e in stack.kubelets.evictions()]


def _cond(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == type_)


# -- thresholds -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "capacity", "want"),
    [
        pytest.param("100Mi", 8 * GI, 100 * MI, id="quantity"),
        pytest.param("10%", 100 * GI, 10737418400, id="float32-percent-of-100Gi"),
        pytest.param("5%", 1_000_000, 50000, id="inodes-5pct"),
        pytest.param("0.5Gi", 8 * GI, 512 * MI, id="fractional-quantity"),
    ],
)
def test_threshold_quantity(text: str, capacity: int, want: int) -> None:
    (th,) = parse_kubelet_config({"evictionHard": {MEMORY_AVAILABLE: text}}).hard_thresholds
    assert th.quantity(capacity) == want


@pytest.mark.parametrize("text", [pytest.param("0%", id="0pct"), pytest.param("100%", id="100pct")])
def test_zero_and_full_percent_thresholds_dropped(text: str) -> None:
    assert parse_kubelet_config({"evictionHard": {MEMORY_AVAILABLE: text}}).hard_thresholds == ()
    assert EvictionConfig.from_kubelet_config({"evictionHard": {MEMORY_AVAILABLE: text}}).thresholds == ()


def test_default_config_and_allocatable_copy() -> None:
    cfg = EvictionConfig.from_kubelet_config(None)
    signals = sorted(t.signal for t in cfg.thresholds)
    assert signals == sorted([MEMORY_AVAILABLE, "nodefs.available", "nodefs.inodesFree", "imagefs.available",
                              ALLOCATABLE_MEMORY_AVAILABLE])  # fmt: skip
    assert all(t.hard for t in cfg.thresholds) and cfg.pressure_transition_period == 300


def test_eviction_hard_replaces_defaults() -> None:
    cfg = EvictionConfig.from_kubelet_config({"evictionHard": {"memory.available": "200Mi"},
                                              "enforceNodeAllocatable": []})  # fmt: skip
    assert [(t.signal, t.value.quantity) for t in cfg.thresholds] == [(MEMORY_AVAILABLE, 200 * MI)]


_TEXT_CFG = {
    "evictionHard": {"memory.available": "1G", "nodefs.available": "10%"},
    "evictionSoft": {"memory.available": "1.5Gi"},
    "evictionSoftGracePeriod": {"memory.available": "1m"},
}


@pytest.mark.parametrize(
    ("signal", "hard", "want"),
    [
        pytest.param(MEMORY_AVAILABLE, True, "1G", id="quantity-keeps-its-format"),
        pytest.param(MEMORY_AVAILABLE, False, "1536Mi", id="soft-quantity-canonical"),
        pytest.param(ALLOCATABLE_MEMORY_AVAILABLE, True, "1G", id="allocatable-copy"),
        pytest.param("nodefs.available", True, "10737418400", id="percent-as-bytes"),
    ],
)
def test_threshold_quantity_text(signal: str, hard: bool, want: str) -> None:
    cfg = EvictionConfig.from_kubelet_config(_TEXT_CFG)
    th = next(t for t in cfg.thresholds if t.signal == signal and t.hard == hard)
    assert threshold_text(th, 100 * GI, cfg.quantity_texts) == want


def test_threshold_order_hard_then_soft_by_signal_then_allocatable() -> None:
    cfg = EvictionConfig.from_kubelet_config(None)
    assert [t.signal for t in cfg.thresholds] == ["imagefs.available", MEMORY_AVAILABLE, "nodefs.available",
                                                  "nodefs.inodesFree", ALLOCATABLE_MEMORY_AVAILABLE]  # fmt: skip


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        pytest.param({"evictionSoft": {"memory.available": "1Gi"}},
                     "grace period must be specified for the soft eviction threshold memory.available", id="no-grace"),
        pytest.param({"evictionHard": {"memory.availble": "1Gi"}}, "unsupported eviction signal memory.availble",
                     id="unknown-signal"),
    ],
)  # fmt: skip
def test_bad_config(cfg: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EvictionConfig.from_kubelet_config(cfg)


# -- ranking (helpers.go rankMemoryPressure / rankPIDPressure) -----------------------------------
def _stat(ws: int, pids: int = 1) -> SimpleNamespace:
    return SimpleNamespace(memory_working_set_bytes=ws, pids=pids, containers=[])


def _p(name: str, req: str | None = None, prio: int = 0) -> dict[str, Any]:
    b = make_pod(name).container("c", requests={"memory": req} if req else None)
    pod = b.obj()
    pod["metadata"]["uid"] = name
    pod["spec"]["priority"] = prio
    return pod


@pytest.mark.parametrize(
    ("pods", "usage", "want"),
    [
        pytest.param([_p("below", "100Mi"), _p("above", "100Mi")], {"below": 99 * MI, "above": 101 * MI},
                     ["above", "below"], id="exceeds-requests-first"),
        pytest.param([_p("guaranteed", "512Mi"), _p("besteffort")], {"guaranteed": 500 * MI, "besteffort": MI},
                     ["besteffort", "guaranteed"], id="besteffort-any-usage-exceeds"),
        pytest.param([_p("high", "100Mi", 1000), _p("low", "100Mi", 10)], {"high": 900 * MI, "low": 101 * MI},
                     ["low", "high"], id="then-lower-priority"),
        pytest.param([_p("small", "100Mi"), _p("big", "100Mi")], {"small": 150 * MI, "big": 300 * MI},
                     ["big", "small"], id="then-usage-above-request"),
        pytest.param([_p("nostats", "100Mi", 1000), _p("over")], {"over": 50 * MI}, ["nostats", "over"],
                     id="no-stats-first"),
        pytest.param([_p("b-under", "1Gi", 0), _p("a-under", "1Gi", -5)], {"b-under": 0, "a-under": 512 * MI},
                     ["a-under", "b-under"], id="none-exceed-priority-decides"),
        pytest.param([_p("u1", "1Gi"), _p("u2", "2Gi")], {"u1": 512 * MI, "u2": 512 * MI}, ["u1", "u2"],
                     id="none-exceed-least-below-request-first"),
    ],
)  # fmt: skip
def test_rank_memory_pressure(pods: list[dict[str, Any]], usage: dict[str, int], want: list[str]) -> None:
    stats = {k: _stat(v) for k, v in usage.items()}
    ranked = rank_memory_pressure(pods, lambda p: stats.get(p["metadata"]["uid"]))
    assert [p["metadata"]["name"] for p in ranked] == want


def test_rank_pid_pressure_priority_then_processes() -> None:
    pods = [_p("a", prio=10), _p("b", prio=0), _p("c", prio=0)]
    stats = {"a": _stat(0, 500), "b": _stat(0, 5), "c": _stat(0, 50)}
    ranked = rank_pid_pressure(pods, lambda p: stats.get(p["metadata"]["uid"]))
    assert [p["metadata"]["name"] for p in ranked] == ["c", "b", "a"]


@pytest.mark.parametrize(
    ("annotations", "priority", "critical"),
    [
        pytest.param({}, 2_000_001_000, True, id="system-node-critical"),
        pytest.param({}, 2_000_000_000, True, id="system-cluster-critical"),
        pytest.param({}, 1_999_999_999, False, id="user-priority"),
        pytest.param({"kubernetes.io/config.source": "file"}, 0, True, id="static"),
        pytest.param({"kubernetes.io/config.source": "api"}, 0, False, id="api-source"),
        pytest.param({"kubernetes.io/config.mirror": "abc"}, 0, True, id="mirror"),
    ],
)
def test_critical_pods(annotations: dict[str, str], priority: int, critical: bool) -> None:
    pod = make_pod("p").container("c").annotations(annotations).priority(priority).obj()
    assert is_critical_pod(pod) is critical


@pytest.mark.parametrize(
    ("hard", "pod_grace", "max_grace", "want"),
    [
        pytest.param(True, 30, 60, 1, id="hard-1s"),
        pytest.param(False, 30, 0, 1, id="soft-max-unset-at-least-1s"),
        pytest.param(False, 30, 10, 10, id="soft-max-shorter"),
        pytest.param(False, 20, 60, 20, id="soft-pod-shorter"),
        pytest.param(False, None, 45, 30, id="soft-pod-default-30"),
    ],
)
def test_grace_period(hard: bool, pod_grace: int | None, max_grace: int, want: int) -> None:
    th = Threshold(MEMORY_AVAILABLE, ThresholdValue(quantity=1), 0.0 if hard else 30.0)
    pod = make_pod("p").container("c").obj()
    if pod_grace is not None:
        pod["spec"]["terminationGracePeriodSeconds"] = pod_grace
    assert eviction_grace_period(th, pod, max_grace) == want


def test_message_and_annotations_upstream_format() -> None:
    pod = make_pod("web").container("web", requests={"memory": "256Mi"}).container("side").obj()
    stats = SimpleNamespace(memory_working_set_bytes=700 * MI, containers=[
        SimpleNamespace(name="web", memory_working_set_bytes=612 * MI),
        SimpleNamespace(name="side", memory_working_set_bytes=88 * MI),
    ])  # fmt: skip
    from kubetwin.kubelet.eviction import Observation

    cfg = EvictionConfig.from_kubelet_config({"evictionHard": {MEMORY_AVAILABLE: "100Mi"}})
    th = next(t for t in cfg.thresholds if t.signal == MEMORY_AVAILABLE)
    msg, ann = eviction_message(
        "memory", pod, stats, [th], {MEMORY_AVAILABLE: Observation(88 * MI, 8 * GI)}, cfg.quantity_texts
    )
    assert msg == (
        "The node was low on resource: memory. Threshold quantity: 100Mi, available: 88Mi. "
        "Container web was using 612Mi, request is 256Mi, has larger consumption of memory. "
        "Container side was using 88Mi, request is 0, has larger consumption of memory. "
    )
    assert ann == {"offending_containers": "web,side", "offending_containers_usage": "612Mi,88Mi",
                   "starved_resource": "memory"}  # fmt: skip


# -- the control loop on a simulated kubelet --------------------------------------------------------
def test_hard_eviction_besteffort_first_with_status_and_events() -> None:
    stack, engine = _stack()
    _run(stack, _guaranteed("g", "256Mi"))
    _run(stack, _burstable("b", "256Mi"))
    _run(stack, make_pod("be").container("web").obj())
    engine.set_usage("default/g", c=256 * MI)
    engine.set_usage("default/b", c=200 * MI)
    engine.set_usage("default/be", web=500 * MI)  # 1Gi - 956Mi = 68Mi available < 100Mi
    stack.loop.advance(9.5)
    assert _evicted(stack) == []
    stack.loop.advance(0.5)
    assert _evicted(stack) == [(10.0, "be")]
    pod = stack.pod("be")
    msg = ("The node was low on resource: memory. Threshold quantity: 100Mi, available: 68Mi. "
           "Container web was using 500Mi, request is 0, has larger consumption of memory. ")  # fmt: skip
    assert (pod["status"]["phase"], pod["status"]["reason"], pod["status"]["message"]) == (
        "Failed",
        "Evicted",
        msg,
    )
    dt = _cond(pod, "DisruptionTarget")
    assert (dt["status"], dt["reason"], dt["message"]) == ("True", "TerminationByKubelet", msg)
    ev = [e for e in stack.events("be") if e["reason"] == "Evicted"]
    assert len(ev) == 1 and ev[0]["type"] == "Warning" and ev[0]["message"] == msg
    assert ev[0]["metadata"]["annotations"] == {"offending_containers": "web", "offending_containers_usage": "500Mi",
                                                "starved_resource": "memory"}  # fmt: skip
    node_events = [(e["type"], e["reason"], e["message"]) for e in stack.events(NODE)]
    assert ("Warning", "EvictionThresholdMet", "Attempting to reclaim memory") in node_events
    assert (
        "Normal",
        "NodeHasInsufficientMemory",
        f"Node {NODE} status is now: NodeHasInsufficientMemory",
    ) in node_events
    mp = _cond(stack.client.get("nodes", NODE), "MemoryPressure")
    assert (mp["status"], mp["reason"], mp["message"]) == (
        "True",
        "KubeletHasInsufficientMemory",
        "kubelet has insufficient memory available",
    )
    stack.loop.advance(5)  # grace 1 s: containers stopped, the pod stays Failed
    pod = stack.pod("be")
    assert pod["status"]["phase"] == "Failed" and pod["status"]["reason"] == "Evicted"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    assert _evicted(stack) == [(10.0, "be")]  # pressure gone: nobody else
    assert stack.pod("g")["status"]["phase"] == "Running" and stack.pod("b")["status"]["phase"] == "Running"


def test_one_pod_per_cycle_then_after_cleanup() -> None:
    stack, engine = _stack()
    for i in range(3):
        _run(stack, _be(f"be{i}"))
        engine.set_usage(f"default/be{i}", c=(300 + 10 * i) * MI)  # 930Mi used: 94Mi available
    stack.loop.advance(10)
    assert _evicted(stack) == [(10.0, "be2")]  # the biggest consumer, only one
    stack.loop.advance(30)
    # be2's cleanup took 1 s; at 11 s 330Mi... freed: 404Mi available, nothing more to do
    assert _evicted(stack) == [(10.0, "be2")]


def test_min_reclaim_keeps_evicting_until_threshold_plus_reclaim() -> None:
    cfg = {
        "evictionHard": {"memory.available": "100Mi"},
        "evictionMinimumReclaim": {"memory.available": "300Mi"},
    }
    stack, engine = _stack(cfg)
    for i in range(4):
        _run(stack, _be(f"be{i}"))
        engine.set_usage(f"default/be{i}", c=(200 + 20 * i) * MI)  # 200+220+240+260 = 920Mi
    engine.system_overhead = 30 * MI  # 74Mi available
    stack.loop.advance(10)
    assert _evicted(stack) == [(10.0, "be3")]
    stack.loop.advance(1)  # cleaned up: 334Mi available > 100Mi but < 100Mi + 300Mi: not reclaimed enough
    assert _evicted(stack) == [(10.0, "be3"), (11.0, "be2")]  # 574Mi available: done
    stack.loop.advance(60)
    assert len(_evicted(stack)) == 2


def test_without_min_reclaim_stops_at_threshold() -> None:
    stack, engine = _stack({"evictionHard": {"memory.available": "100Mi"}})
    for i in range(4):
        _run(stack, _be(f"be{i}"))
        engine.set_usage(f"default/be{i}", c=(200 + 20 * i) * MI)
    engine.system_overhead = 30 * MI
    stack.loop.advance(60)
    assert _evicted(stack) == [(10.0, "be3")]


def test_critical_pods_never_evicted() -> None:
    stack, engine = _stack()
    crit = make_pod("crit").container("c").priority(2_000_001_000).obj()
    crit["spec"]["priorityClassName"] = "system-node-critical"
    _run(stack, crit)
    static = make_pod("static").container("c").annotations({"kubernetes.io/config.source": "file"}).obj()
    _run(stack, static)
    _run(stack, _burstable("b", "100Mi"))
    engine.set_usage("default/crit", c=600 * MI)
    engine.set_usage("default/static", c=300 * MI)
    engine.set_usage("default/b", c=101 * MI)
    stack.loop.advance(10)
    assert _evicted(stack) == [(10.0, "b")]
    stack.loop.advance(60)  # still under pressure: nothing else may go
    assert _evicted(stack) == [(10.0, "b")]
    assert stack.pod("crit")["status"]["phase"] == "Running"


def test_soft_threshold_waits_for_grace_and_uses_max_pod_grace() -> None:
    cfg = {"evictionSoft": {"memory.available": "300Mi"}, "evictionSoftGracePeriod": {"memory.available": "30s"},
           "evictionMaxPodGracePeriod": 15}  # fmt: skip
    stack, engine = _stack(cfg)
    _run(stack, _be("be"))
    _run(stack, _guaranteed("g", "256Mi"))
    engine.set_usage("default/be", c=500 * MI)  # 1Gi - 756Mi = 268Mi < 300Mi (soft), > 100Mi (hard)
    engine.set_usage("default/g", c=256 * MI)
    stack.loop.advance(10)
    # the condition is reported at once, the eviction waits for the grace period
    assert _cond(stack.client.get("nodes", NODE), "MemoryPressure")["status"] == "True"
    stack.loop.advance(29)
    assert _evicted(stack) == []
    stack.loop.advance(1)
    evs = stack.kubelets.evictions()
    assert [(e.time, e.name, e.grace_seconds) for e in evs] == [(40.0, "be", 15)]
    stack.loop.advance(2)
    assert stack.pod("be")["status"]["phase"] == "Failed"  # written at once; containers stop in 1 s


def test_memory_pressure_clears_after_transition_period() -> None:
    stack, engine = _stack()
    _run(stack, _be("be"))
    engine.set_usage("default/be", c=1000 * MI)
    stack.loop.advance(10)
    assert _evicted(stack) == [(10.0, "be")]
    node = stack.client.get("nodes", NODE)
    assert _cond(node, "MemoryPressure")["status"] == "True"
    stack.loop.advance(289)  # last observed at 10 s; clears once 5 min passed
    assert _cond(stack.client.get("nodes", NODE), "MemoryPressure")["status"] == "True"
    stack.loop.advance(11)
    mp = _cond(stack.client.get("nodes", NODE), "MemoryPressure")
    assert (mp["status"], mp["reason"]) == ("False", "KubeletHasSufficientMemory")
    assert mp["lastTransitionTime"] == "2026-01-01T00:05:10Z"
    back = [e for e in stack.events(NODE) if e["reason"] == "NodeHasSufficientMemory"]
    assert len(back) == 1 and back[0]["count"] == 2  # the boot-time event, counted again
    stack.loop.advance(60)  # nothing left to track: the manager goes quiet
    assert not stack.kubelets._eviction_tracked


def test_admission_under_memory_pressure() -> None:
    stack, engine = _stack()
    _run(stack, _guaranteed("g", "900Mi"))
    engine.set_usage("default/g", c=900 * MI)  # 124Mi... available: fine
    engine.system_overhead = 100 * MI  # 24Mi available: pressure, only critical pods to evict? g is not
    stack.loop.advance(10)
    assert _cond(stack.client.get("nodes", NODE), "MemoryPressure")["status"] == "True"
    _run(stack, _be("late-be"))
    tolerating = _be("late-be-tol")
    tolerating["spec"]["tolerations"] = [{"key": "node.kubernetes.io/memory-pressure", "operator": "Exists",
                                          "effect": "NoSchedule"}]  # fmt: skip
    _run(stack, tolerating)
    _run(stack, _burstable("late-b", "1Mi"))
    stack.loop.advance(0.5)
    be = stack.pod("late-be")
    assert (be["status"]["phase"], be["status"]["reason"], be["status"]["message"]) == (
        "Failed",
        "Evicted",
        "Pod was rejected: The node had condition: [MemoryPressure]. ",
    )
    assert stack.pod("late-be-tol")["status"]["phase"] != "Failed"
    assert stack.pod("late-b")["status"]["phase"] != "Failed"


def test_quiet_nodes_cost_nothing() -> None:
    stack, engine = _stack()
    _run(stack, _be("be"))
    engine.set_usage("default/be", c=10 * MI)
    stack.loop.advance(100)
    kl = stack.kubelets.get(NODE)
    assert kl is not None and kl.eviction is not None and kl.eviction.evictions == []
    assert not stack.kubelets._eviction_tracked and engine.attention_calls == 10


# -- property: Guaranteed within requests outlives every BestEffort pod --------------------------
_pod_specs = st.lists(
    st.tuples(st.sampled_from(["G", "B", "BE"]), st.integers(16, 256), st.integers(0, 400)),
    min_size=2,
    max_size=8,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=_pod_specs, overhead=st.integers(0, 600))
def test_guaranteed_within_requests_never_evicted_while_besteffort_runs(
    specs: list[tuple[str, int, int]], overhead: int
) -> None:
    """Same priority for every pod; a running BestEffort container uses at least 1 MiB."""
    stack, engine = _stack(memory="2Gi")
    engine.system_overhead = overhead * MI
    qos: dict[str, str] = {}
    for i, (kind, req, use) in enumerate(specs):
        name = f"p{i}"
        if kind == "G":
            pod, usage = _guaranteed(name, f"{req}Mi"), min(use, req)
        elif kind == "B":
            pod, usage = _burstable(name, f"{req}Mi"), use
        else:
            pod, usage = _be(name), max(1, use)
        qos[name] = kind
        _run(stack, pod)
        engine.set_usage(f"default/{name}", c=usage * MI)
    stack.loop.advance(120)
    evicted = stack.kubelets.evictions()
    be_evicted_at = {e.name: e.time for e in evicted if qos[e.name] == "BE"}
    for e in evicted:
        if qos[e.name] == "G":
            # every BestEffort pod was gone before this Guaranteed one was chosen
            assert all(be_evicted_at.get(n, float("inf")) < e.time for n, k in qos.items() if k == "BE"), (
                evicted
            )
