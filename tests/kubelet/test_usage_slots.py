"""The usage engine's slots: a pod's slots keep their numbers while it runs, a freed slot adds
nothing to a node's sums, a reused slot starts from nothing, and the tick computed over the used
slots only (gathered) gives bitwise what it gives over every slot ever used."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from conftest import Stack, make_stack

from builders import make_node, make_pod
from kubetwin.kubelet import usage
from kubetwin.kubelet.usage import UsageEngine

MI = 1024 * 1024
ALWAYS, NEVER = 0.0, 1e18  # usage._GATHER_BELOW: gather whenever a slot is free / never
_TICK = UsageEngine.tick


def _engine(stack: Stack) -> UsageEngine:
    assert stack.kubelets.usage is not None
    return stack.kubelets.usage


def _node(stack: Stack, name: str, annotations: dict[str, str] | None = None, **cap: Any) -> None:
    node = make_node(name).capacity(**cap).obj()
    if annotations:
        node["metadata"]["annotations"] = annotations
    stack.client.create(node)


def _pod(name: str, cpu: str, mem: str, limit_mem: str | None = None, app: str = "") -> Any:
    limits = {"memory": limit_mem} if limit_mem else None
    b = make_pod(name).container("c", requests={"cpu": "100m"}, limits=limits)
    b = b.annotations({"kubetwin.io/cpu-usage": cpu, "kubetwin.io/memory-usage": mem,
                       "kubetwin.io/startup-seconds": "1"})  # fmt: skip
    return b.labels({"app": app}) if app else b


def _gone(stack: Stack, *names: str) -> None:
    for name in names:
        stack.client.delete("pods", name, "default")
    stack.loop.advance(60)  # grace period, then the kubelet lets go of the pod


@pytest.fixture
def gathers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times a tick gathered the used slots of a table (rather than slicing them all)."""
    seen: list[int] = []
    orig = usage._Rows.__init__

    def init(self: usage._Rows, table: Any, n: int) -> None:
        orig(self, table, n)
        if self.idx is not None:
            seen.append(len(self.idx))

    monkeypatch.setattr(usage._Rows, "__init__", init)
    return seen


@pytest.mark.parametrize("gather_below", [ALWAYS, NEVER], ids=["gathered", "all-slots"])
def test_freed_and_reused_slots_carry_nothing_over(monkeypatch: pytest.MonkeyPatch, gathers: list[int],
                                                   gather_below: float) -> None:  # fmt: skip
    monkeypatch.setattr(usage, "_GATHER_BELOW", gather_below)
    stack = make_stack()
    _node(stack, "node-a", cpu="1", memory="4Gi")
    for name, cpu, mem, lim in [("hog", "3", "900Mi", "1Gi"), ("leak", "100m", "700Mi", "512Mi"),
                                ("keep", "400m", "300Mi", None)]:  # fmt: skip
        stack.run_pod(_pod(name, cpu, mem, lim).obj(), "node-a")
    stack.loop.advance(60)
    eng = _engine(stack)
    hog = eng.pods[stack.pod("hog")["metadata"]["uid"]]
    freed = {hog.slots[0], eng.pods[stack.pod("leak")["metadata"]["uid"]].slots[0]}
    assert eng.c.a["wait_s"][hog.slots[0]] > 0 and eng.oom_log  # squeezed and OOM-killed: totals to not inherit
    _gone(stack, "hog", "leak")  # freed mid-run
    stack.loop.advance(20)
    node = eng.node_stats("node-a")
    assert node is not None
    assert (node.pods_memory_working_set_bytes, node.cpu_usage_milli) == (300 * MI, 400)  # "keep" only
    assert eng.node_usage()["node-a"] == (400, 300 * MI, 400)
    stack.run_pod(_pod("new", "200m", "100Mi").obj(), "node-a")  # takes a freed slot
    stack.loop.advance(20)
    new = eng.pods[stack.pod("new")["metadata"]["uid"]]
    assert new.slots[0] in freed  # a freed slot, reused
    (stats,) = [p for p in eng.pod_stats("node-a") if p.name == "new"]
    (c,) = stats.containers
    assert (c.cpu_usage_milli, c.memory_working_set_bytes, c.oom_kills_total) == (200, 100 * MI, 0)
    assert (c.throttled_seconds_total, c.cpu_wait_seconds_total) == (0.0, 0.0)
    s = new.slots[0]
    assert eng.c.a["mem_peak"][s] == 100 * MI and eng.run_ticks(s) == 2
    assert eng.c.a["dem_s"][s] == pytest.approx(2 * 10 * 0.2)
    node = eng.node_stats("node-a")
    assert node is not None and (node.pods_memory_working_set_bytes, node.cpu_usage_milli) == (400 * MI, 600)
    assert bool(gathers) == (gather_below == ALWAYS)


def _churn(gather_below: float, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    """Pods come and go (limit and system OOM kills, a Never pod failing mid-tick, slots reused);
    every column of every used slot, the node columns, the OOM log and summaries, and which
    nodes needed the eviction manager after each tick (node-b by pids: more than one running
    container, so a kill in a tick ends it)."""
    monkeypatch.setattr(usage, "_GATHER_BELOW", gather_below)
    attention: list[tuple[float, list[str]]] = []

    def recording_tick(self: UsageEngine, kubelet: Any = None) -> None:
        _TICK(self, kubelet)
        attention.append((self.loop.now, sorted(self._attention)))

    monkeypatch.setattr(UsageEngine, "tick", recording_tick)
    stack = make_stack(5)
    _node(stack, "node-a", cpu="2", memory="3Gi")
    config = {"evictionHard": {"pid.available": str(usage.PID_MAX - 15), "memory.available": "1Mi"}}
    _node(stack, "node-b", cpu="1", memory="1Gi",
          annotations={"kubetwin.io/system-memory-usage": "200Mi", "kubetwin.io/kubelet-config": json.dumps(config)})
    stack.client.create({"apiVersion": "kubetwin.io/v1alpha1", "kind": "LoadProfile",
                         "metadata": {"name": "web", "namespace": "default"},
                         "spec": {"selector": {"matchLabels": {"app": "web"}},
                                  "traffic": {"diurnal": {"base": 10, "peak": 400, "peakAt": "00:30"}},
                                  "perPod": {"baseline": {"cpu": "100m", "memory": "100Mi"}, "cpuPerRequest": "5m",
                                             "memoryLeakPerHour": "600Mi"}}})  # fmt: skip
    for i in range(8):
        b = make_pod(f"w{i}").labels({"app": "web"}).container(
            "c", requests={"cpu": "200m", "memory": "200Mi"}, limits={"cpu": "400m", "memory": "400Mi"})
        stack.run_pod(b.obj(), "node-a")
    stack.run_pod(_pod("b1", "500m", "400Mi").obj(), "node-b")
    stack.run_pod(_pod("b2", "700m", "500Mi").obj(), "node-b")
    stack.loop.advance(300)
    _gone(stack, "w1", "w2", "w3", "w4", "w5", "w6")
    once = _pod("once", "100m", "2Gi", "1Gi").set("spec.restartPolicy", "Never")
    stack.run_pod(once.obj(), "node-a")
    for i in range(8, 10):
        stack.run_pod(make_pod(f"w{i}").labels({"app": "web"}).container(
            "c", requests={"cpu": "300m"}, limits={"memory": "300Mi"}).obj(), "node-a")
    stack.loop.advance(1800)
    eng = _engine(stack)
    cols = {e.uid: [(k, eng.c.a[k][s].tobytes()) for s in e.slots for k in usage._C_COLS] for e in eng.pods.values()}
    nodes = [(k, eng.nodes.a[k][: eng.nodes.n].tobytes()) for k in usage._N_COLS]
    return cols, nodes, eng.oom_log, eng.pod_summaries(), attention


def test_gathered_tick_is_bitwise_the_full_tick(monkeypatch: pytest.MonkeyPatch, gathers: list[int]) -> None:
    full = _churn(NEVER, monkeypatch)
    assert not gathers
    gathered = _churn(ALWAYS, monkeypatch)
    assert gathers and min(gathers) < max(gathers)  # the used set changed under the ticks
    assert gathered == full
    kinds = {e["kind"] for e in full[2]}
    assert kinds == {"limit", "system"}  # both OOM paths ran with slots free
    # node-b's two containers would be over its pid threshold, but a system OOM kill in each tick
    # they both run leaves one: the pid count is taken after the kills
    assert all("node-b" not in names for _, names in full[4])


@pytest.mark.parametrize(
    ("ops", "used"),
    [
        pytest.param(["alloc"] * 3, None, id="none-free"),
        pytest.param(["alloc"] * 4 + ["free 1", "free 3"], [0, 2], id="freed"),
        pytest.param(["alloc"] * 3 + ["free 1", "used", "alloc"], None, id="reused-after-a-read"),
        pytest.param(["alloc"] * 3 + ["free 0", "free 2", "used", "alloc"], [1, 2], id="one-of-two-reused"),
        pytest.param(["alloc"] * 3 + ["free 2", "used", "free 0"], [1], id="freed-after-a-read"),
    ],
)  # fmt: skip
def test_table_used_slots(ops: list[str], used: list[int] | None) -> None:
    table = usage._Table({"x": (np.float64, 0.0)}, cap=2)
    for op in ops:
        if op == "alloc":
            table.alloc()
        elif op == "used":
            table.used()
        else:
            table.release(int(op.split()[1]))
    got = table.used()
    assert (None if got is None else got.tolist()) == used


def test_table_head_views_follow_writes_and_growth() -> None:
    """``head(n)`` is kept between calls: its views see every write, and growing the columns
    (new arrays) or another ``n`` gives new views."""
    table = usage._Table({"x": (np.float64, 0.0), "k": (np.int64, 0)}, cap=2)
    for _ in range(2):
        table.alloc()
    head = table.head(2)
    table.a["x"][1] = 5.0
    assert table.head(2) is head and head["x"].tolist() == [0.0, 5.0]
    table.alloc()  # past the capacity: the columns grow
    assert table.head(2)["x"].tolist() == [0.0, 5.0]
    table.a["x"][0] = 7.0
    assert table.head(2)["x"].tolist() == [7.0, 5.0] and table.head(3)["x"].tolist() == [7.0, 5.0, 0.0]
