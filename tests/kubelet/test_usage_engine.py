"""The usage engine on simulated kubelets: defaults, annotations, LoadProfiles split across Ready
pods, CFS throttling, shares on an over-subscribed node, OOM kills at the limit with the
kubelet's back-off, the kernel OOM killer's victim, the read API and determinism."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import Stack, make_stack

from builders import make_node, make_pod
from kubetwin.kubelet.usage import DEFAULT_CPU_MILLI, DEFAULT_MEMORY_BYTES, UsageEngine

MI = 1024 * 1024
NODE = "node-a"


def _engine(stack: Stack) -> UsageEngine:
    assert stack.kubelets.usage is not None
    return stack.kubelets.usage


def _node(stack: Stack, name: str = NODE, annotations: dict[str, str] | None = None, **cap: Any) -> None:
    node = make_node(name).capacity(**cap).obj()
    if annotations:
        node["metadata"]["annotations"] = annotations
    stack.client.create(node)


def _run(stack: Stack, builder: Any, node: str = NODE, startup: str = "1") -> str:
    pod = builder.annotations({"kubetwin.io/startup-seconds": startup}).obj()
    stack.run_pod(pod, node)
    return str(stack.pod(pod["metadata"]["name"], pod["metadata"].get("namespace", "default"))["metadata"]["uid"])


def _profile(name: str, traffic: dict[str, Any], per_pod: dict[str, Any], app: str = "web") -> dict[str, Any]:
    return {"apiVersion": "kubetwin.io/v1alpha1", "kind": "LoadProfile",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": app}}, "traffic": traffic, "perPod": per_pod}}  # fmt: skip


@pytest.mark.parametrize(
    ("requests", "limits", "annotations", "expected"),
    [
        pytest.param({"cpu": "250m", "memory": "300Mi"}, None, {}, {"c": (250, 300 * MI)}, id="requests"),
        pytest.param(None, None, {}, {"c": (DEFAULT_CPU_MILLI, DEFAULT_MEMORY_BYTES)}, id="besteffort-default"),
        pytest.param({"cpu": "100m", "memory": "100Mi"}, {"cpu": "200m"},
                     {"kubetwin.io/cpu-usage": "1", "kubetwin.io/memory-usage": "150Mi"}, {"c": (200, 150 * MI)},
                     id="pinned-capped-by-cpu-limit"),
    ],
)  # fmt: skip
def test_usage_sources(requests: Any, limits: Any, annotations: dict[str, str], expected: dict[str, Any]) -> None:
    stack = make_stack()
    _node(stack)
    uid = _run(stack, make_pod("p").container("c", requests=requests, limits=limits).annotations(annotations))
    stack.loop.advance(10)
    assert _engine(stack).pod_usage(uid) == {k: (int(v[0]), int(v[1])) for k, v in expected.items()}


def test_pinned_usage_split_by_requests() -> None:
    stack = make_stack()
    _node(stack)
    pod = (make_pod("p").container("app", requests={"cpu": "300m", "memory": "300Mi"})
           .container("proxy", requests={"cpu": "100m", "memory": "100Mi"})
           .annotations({"kubetwin.io/cpu-usage": "800m", "kubetwin.io/memory-usage": "1Gi"}))  # fmt: skip
    uid = _run(stack, pod)
    stack.loop.advance(10)
    assert _engine(stack).pod_usage(uid) == {"app": (600, 768 * MI), "proxy": (200, 256 * MI)}


def test_profile_splits_traffic_across_ready_pods_only() -> None:
    stack = make_stack()
    _node(stack)
    stack.client.create(_profile("web", {"constant": {"rps": 100}},
                                 {"baseline": {"cpu": "10m", "memory": "64Mi"}, "cpuPerRequest": "2m",
                                  "memoryPerRps": "1Mi"}))  # fmt: skip
    uids = [_run(stack, make_pod(f"w{i}").labels({"app": "web"}).container("c", requests={"cpu": "100m"}))
            for i in range(2)]
    probe = {"exec": {"command": ["true"]}, "initialDelaySeconds": 3600}
    slow = _run(stack, make_pod("w2").labels({"app": "web"}).container("c", readinessProbe=probe))
    other = _run(stack, make_pod("x").labels({"app": "other"}).container("c", requests={"cpu": "50m"}))
    stack.loop.advance(20)
    eng = _engine(stack)
    for uid in uids:  # 50 rps each: 10m + 2m x 50 = 110m, 64Mi + 50Mi
        assert eng.pod_usage(uid) == {"c": (110, 114 * MI)}
    assert eng.pod_usage(slow) == {"c": (10, 64 * MI)}  # not Ready: baseline only
    assert eng.pod_usage(other) == {"c": (50, DEFAULT_MEMORY_BYTES)}
    stack.client.delete("pods", "w1", "default")  # terminating: no more traffic
    stack.loop.advance(10)
    assert eng.pod_usage(uids[0]) == {"c": (210, 164 * MI)}


def test_profile_updates_apply_to_running_pods() -> None:
    stack = make_stack()
    _node(stack)
    uid = _run(stack, make_pod("w").labels({"app": "web"}).container("c"))
    stack.loop.advance(10)
    prof = stack.client.create(_profile("web", {"constant": {"rps": 10}}, {"baseline": {"cpu": "1", "memory": "1Gi"}}))
    stack.loop.advance(10)
    assert _engine(stack).pod_usage(uid) == {"c": (1000, 1024 * MI)}
    stack.client.delete("loadprofiles.kubetwin.io", prof["metadata"]["name"], "default")
    stack.loop.advance(10)
    assert _engine(stack).pod_usage(uid) == {"c": (DEFAULT_CPU_MILLI, DEFAULT_MEMORY_BYTES)}


def test_memoised_parameters_follow_a_changed_profile() -> None:
    """Pods of one template share their usage parameters (memoised); a changed profile is a new
    one: the running pods and those started later get its parameters."""
    stack = make_stack()
    _node(stack)
    prof = stack.client.create(_profile("web", {"constant": {"rps": 10}}, {"baseline": {"cpu": "1", "memory": "1Gi"}}))
    first = _run(stack, make_pod("w1").labels({"app": "web"}).container("c", requests={"cpu": "100m"}))
    second = _run(stack, make_pod("w2").labels({"app": "web"}).container("c", requests={"cpu": "100m"}))
    stack.loop.advance(10)
    eng = _engine(stack)
    assert eng.pod_usage(first) == eng.pod_usage(second) == {"c": (1000, 1024 * MI)}
    assert len(eng._params_memo) == 1
    prof["spec"]["perPod"] = {"baseline": {"cpu": "1200m", "memory": "512Mi"}}
    stack.client.update(prof)
    third = _run(stack, make_pod("w3").labels({"app": "web"}).container("c", requests={"cpu": "100m"}))
    stack.loop.advance(10)
    for uid in (first, second, third):
        assert eng.pod_usage(uid) == {"c": (1200, 512 * MI)}


def test_memoised_bounds_follow_the_resources_content(monkeypatch: pytest.MonkeyPatch) -> None:
    """A container's parsed requests and limits are memoised by their content: one resources dict
    changed in place between two pods gives the second its own bounds, non-string quantities
    (1 and True are equal keys) are parsed each time, and a full memo is dropped."""
    stack = make_stack()
    _node(stack)
    eng = _engine(stack)
    res = {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}
    assert eng._bounds(res) == (100, 200, 64 * MI, 128.0 * MI, 102)
    res["limits"]["cpu"] = "300m"  # the same objects, another content
    assert eng._bounds(res) == (100, 300, 64 * MI, 128.0 * MI, 102)
    assert len(eng._bounds_memo) == 2
    assert eng._bounds({"requests": {"cpu": 1}})[0] == 1000
    assert eng._bounds({"requests": {"cpu": True}})[0] == 0  # not a quantity: no requests
    assert len(eng._bounds_memo) == 2
    monkeypatch.setattr("kubetwin.kubelet.usage._BOUNDS_MEMO_SIZE", 2)
    assert eng._bounds({"requests": {"cpu": "1"}})[0] == 1000
    assert len(eng._bounds_memo) == 1
    shared = {"requests": {"cpu": "250m"}, "limits": {"cpu": "500m"}}
    first = _run(stack, make_pod("p1").container("c", **shared).annotations({"kubetwin.io/cpu-usage": "2"}))
    shared["limits"]["cpu"] = "1"
    second = _run(stack, make_pod("p2").container("c", **shared).annotations({"kubetwin.io/cpu-usage": "2"}))
    stack.loop.advance(10)
    assert eng.pod_usage(first) == {"c": (500, DEFAULT_MEMORY_BYTES)}
    assert eng.pod_usage(second) == {"c": (1000, DEFAULT_MEMORY_BYTES)}


def test_cpu_limit_throttles() -> None:
    stack = make_stack()
    _node(stack)
    uid = _run(stack, make_pod("p").container("c", requests={"cpu": "250m"}, limits={"cpu": "500m"})
               .annotations({"kubetwin.io/cpu-usage": "2"}))  # fmt: skip
    stack.loop.advance(100)
    (pod,) = _engine(stack).pod_stats(NODE)
    (c,) = pod.containers
    assert (c.cpu_demand_milli, c.cpu_usage_milli) == (2000, 500)
    assert c.throttled_seconds_total == pytest.approx(1.5 * 100)  # 10 ticks of 10 s
    assert c.cpu_wait_seconds_total == 0
    (summary,) = _engine(stack).pod_summaries()
    assert summary["containers"][0]["throttled_fraction"] == 1.0
    assert summary["containers"][0]["cpu_granted_seconds"] == pytest.approx(50)
    assert _engine(stack).pod_usage(uid) == {"c": (500, DEFAULT_MEMORY_BYTES)}


def test_oversubscribed_node_shares_by_requests() -> None:
    stack = make_stack()
    _node(stack, cpu="1")
    a = _run(stack, make_pod("a").container("c", requests={"cpu": "200m"}).annotations({"kubetwin.io/cpu-usage": "1"}))
    b = _run(stack, make_pod("b").container("c", requests={"cpu": "600m"}).annotations({"kubetwin.io/cpu-usage": "1"}))
    c = _run(stack, make_pod("c").container("c", requests={"cpu": "200m"}).annotations({"kubetwin.io/cpu-usage": "100m"}))
    stack.loop.advance(10)
    eng = _engine(stack)
    # shares 204 / 614 / 204: c gets all it wants, a and b split the other 900m 204:614
    assert eng.pod_usage(c)["c"][0] == 100
    assert eng.pod_usage(a)["c"][0] == round(900 * 204 / 818)
    assert eng.pod_usage(b)["c"][0] == round(900 * 614 / 818)
    stats = {p.name: p.containers[0] for p in eng.pod_stats(NODE)}
    assert stats["a"].throttled_seconds_total == 0  # no limit: it waits, it is not throttled
    assert stats["a"].cpu_wait_seconds_total == pytest.approx((1000 - 900 * 204 / 818) * 10 / 1000)
    node = eng.node_stats(NODE)
    assert node is not None and node.cpu_usage_milli == 1000


def test_oom_kill_at_limit_restarts_with_backoff() -> None:
    stack = make_stack()
    _node(stack)
    eng = _engine(stack)
    starts: list[float] = []
    orig = eng.on_container_started
    eng.on_container_started = lambda kl, uid, name: (starts.append(stack.loop.now), orig(kl, uid, name))[-1]  # type: ignore[method-assign]
    _run(stack, make_pod("leaky").container("app", requests={"memory": "256Mi"}, limits={"memory": "256Mi"})
         .annotations({"kubetwin.io/memory-usage": "300Mi"}))  # fmt: skip
    stack.loop.advance(700)
    kills = [e["t"] for e in eng.oom_log]
    assert all(e["kind"] == "limit" and e["limit_bytes"] == 256 * MI for e in eng.oom_log)
    # each restart waits 0, 10, 20, 40, 80, 160, 300 s after the kill (kubelet back-off)
    waits = [s - k for k, s in zip(kills, starts, strict=False)]
    assert waits == [0, 10, 20, 40, 80, 160, 300][: len(waits)] and len(waits) >= 6
    st = stack.pod("leaky")["status"]["containerStatuses"][0]
    assert st["restartCount"] == len(starts)
    assert st["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert st["lastState"]["terminated"]["exitCode"] == 137
    backoffs = [e for e in stack.events("leaky") if e["reason"] == "BackOff"]
    assert backoffs and backoffs[0]["message"] == "Back-off restarting failed container app in pod leaky_default(" + \
        stack.pod("leaky")["metadata"]["uid"] + ")"
    (pod,) = eng.pod_stats(NODE)
    assert pod.containers[0].oom_kills_total == len(kills)


def test_oom_with_restart_never_fails_the_pod() -> None:
    stack = make_stack()
    _node(stack)
    _run(stack, make_pod("once").set("spec.restartPolicy", "Never").set("metadata.annotations",
         {"kubetwin.io/run-duration": "1h", "kubetwin.io/memory-usage": "2Gi"})
         .container("app", requests={"memory": "1Gi"}, limits={"memory": "1Gi"}))  # fmt: skip
    stack.loop.advance(30)
    st = stack.pod("once")["status"]
    assert st["phase"] == "Failed"
    assert st["containerStatuses"][0]["state"]["terminated"]["reason"] == "OOMKilled"


def test_kernel_oom_killer_picks_by_score() -> None:
    stack = make_stack()
    _node(stack, memory="1Gi", annotations={"kubetwin.io/system-memory-usage": "200Mi"})
    _run(stack, make_pod("guaranteed").container("g", requests={"cpu": "100m", "memory": "300Mi"},
                                                 limits={"cpu": "100m", "memory": "300Mi"}))  # fmt: skip
    _run(stack, make_pod("besteffort").container("be").annotations({"kubetwin.io/memory-usage": "200Mi"}))
    _run(stack, make_pod("burstable").container("bu", requests={"memory": "100Mi"})
         .annotations({"kubetwin.io/memory-usage": "400Mi"}))  # fmt: skip
    stack.loop.advance(10)
    eng = _engine(stack)
    # badness: burstable 400/1024*1000 + 903 = 1293 > besteffort 195 + 1000 > guaranteed 293 - 997
    assert [(e["kind"], e["pod"], e["oom_score_adj"]) for e in eng.oom_log] == [("system", "burstable", 903)]
    ev = [e for e in stack.events(NODE) if e["reason"] == "SystemOOM"]
    assert len(ev) == 1 and ev[0]["type"] == "Warning"
    assert ev[0]["message"].startswith("System OOM encountered, victim process: bu, pid: ")
    st = stack.pod("burstable")["status"]["containerStatuses"][0]
    assert st["lastState"]["terminated"]["reason"] == "OOMKilled" and st["restartCount"] == 1
    node = eng.node_stats(NODE)
    assert node is not None and node.memory_working_set_bytes == 700 * MI  # 300 + 200 + system 200


def test_node_stats_and_attention() -> None:
    stack = make_stack()
    _node(stack, memory="1Gi")
    _run(stack, make_pod("p").container("c", requests={"memory": "900Mi"}))
    stack.loop.advance(10)
    eng = _engine(stack)
    node = eng.node_stats(NODE)
    assert node is not None
    assert (node.memory_capacity_bytes, node.memory_working_set_bytes) == (1024 * MI, 900 * MI)
    assert node.memory_available_bytes == 124 * MI
    assert eng.nodes_needing_attention() == set()  # 124Mi available > 100Mi threshold
    stack.client.create(make_pod("q").container("c", requests={"memory": "50Mi"}).obj())
    stack.client.bind("default", "q", NODE)
    stack.loop.advance(5)
    eng.tick()
    assert eng.nodes_needing_attention() == {NODE}  # 74Mi available < 100Mi: the eviction manager looks


def _scenario(seed: int) -> list[dict[str, Any]]:
    stack = make_stack(seed)
    _node(stack, cpu="2", memory="2Gi")
    stack.client.create(_profile("web", {"diurnal": {"base": 10, "peak": 400, "peakAt": "00:30"}},
                                 {"baseline": {"cpu": "100m", "memory": "100Mi"}, "cpuPerRequest": "5m",
                                  "memoryLeakPerHour": "600Mi"}))  # fmt: skip
    for i in range(4):
        stack.run_pod(make_pod(f"w{i}").labels({"app": "web"})
                      .container("c", requests={"cpu": "200m", "memory": "200Mi"},
                                 limits={"cpu": "400m", "memory": "400Mi"}).obj(), NODE)  # fmt: skip
    stack.loop.advance(3600)
    eng = _engine(stack)
    return [*eng.oom_log, *eng.pod_summaries()]


def test_deterministic() -> None:
    a = _scenario(3)
    assert a == _scenario(3)
    assert any(e.get("kind") == "limit" for e in a)  # the leak reaches the limit within the hour


def _check_serving(eng: UsageEngine) -> None:
    """The per-profile counts and the containers' "serve" column are what the pod columns say, and
    the count of live containers not running what the container columns say."""
    pa, ca, pn, n = eng.p.a, eng.c.a, eng.p.n, eng.c.n
    assert eng._idle == int((ca["alive"][:n] & ~ca["running"][:n]).sum())
    prof = pa["profile"][:pn]
    serving = pa["alive"][:pn] & pa["ready"][:pn] & (prof >= 0)
    assert eng._serving.tolist() == np.bincount(prof[serving], minlength=len(eng._profile_list)).tolist()
    by_pod = np.where(serving, prof, -1)
    assert ca["serve"][:n].tolist() == np.where(ca["alive"][:n], by_pod[ca["pod"][:n]], -1).tolist()


def test_serving_counts_follow_readiness_labels_profiles_and_deletions() -> None:
    stack = make_stack()
    _node(stack)
    probe = {"exec": {"command": ["true"]}, "initialDelaySeconds": 30}
    for i in range(3):
        _run(stack, make_pod(f"w{i}").labels({"app": "web"}).container("c", readinessProbe=probe if i == 2 else None))
    _run(stack, make_pod("x").labels({"app": "other"}).container("c"))
    eng = _engine(stack)
    _check_serving(eng)
    stack.client.create(_profile("web", {"constant": {"rps": 90}}, {"cpuPerRequest": "1m"}))
    stack.loop.advance(10)
    _check_serving(eng)
    assert eng._serving.tolist() == [2]  # w2 is not ready yet
    stack.client.create(_profile("a-other", {"constant": {"rps": 5}}, {}, app="other"))  # sorts first
    stack.loop.advance(30)
    _check_serving(eng)
    assert eng._serving.tolist() == [1, 3]
    stack.client.patch("pods", "x", {"metadata": {"labels": {"app": "web"}}}, "default")
    stack.client.delete("pods", "w1", "default")
    stack.loop.advance(1)
    _check_serving(eng)
    assert eng._serving.tolist() == [0, 3]
    stack.client.delete("loadprofiles.kubetwin.io", "a-other", "default")
    stack.loop.advance(60)
    _check_serving(eng)
    assert eng._serving.tolist() == [3]


def test_idle_count_follows_kills_restarts_and_stops() -> None:
    stack = make_stack()
    _node(stack)
    eng = _engine(stack)
    _run(stack, make_pod("leaky").container("app", requests={"memory": "256Mi"}, limits={"memory": "256Mi"})
         .annotations({"kubetwin.io/memory-usage": "300Mi"}))  # OOM-killed at each start, restarts with back-off
    _run(stack, make_pod("once").set("spec.restartPolicy", "Never").set("metadata.annotations",
         {"kubetwin.io/run-duration": "1h", "kubetwin.io/memory-usage": "2Gi"})
         .container("app", requests={"memory": "1Gi"}, limits={"memory": "1Gi"}))  # killed once: the pod stops
    _run(stack, make_pod("ok").container("c"))
    seen = set()
    for _ in range(30):
        stack.loop.advance(5)
        _check_serving(eng)
        seen.add(eng._idle)
    assert seen == {0, 1}  # the leaky container waits in back-off, or runs until the next tick kills it
    stack.client.delete("pods", "leaky", "default")
    stack.loop.advance(60)
    _check_serving(eng)
    assert eng._idle == 0 and len(eng.pods) == 1


def test_run_ticks_count_the_accounting_ticks_each_container_ran(monkeypatch: pytest.MonkeyPatch) -> None:
    """run_ticks (a base per slot plus the ticks accounted while it runs) is what counting the
    running containers at every tick that accounts gives, through OOM kills, restarts and stops."""
    expected: dict[tuple[str, int], int] = {}
    tick = UsageEngine.tick

    def counting_tick(eng: UsageEngine, kubelet: Any = None) -> None:
        if eng._last_tick is not None and eng.loop.now > eng._last_tick:
            for e in eng.pods.values():
                for s in e.slots:
                    if eng.c.a["running"][s]:
                        expected[(e.uid, s)] = expected.get((e.uid, s), 0) + 1
        tick(eng, kubelet)

    monkeypatch.setattr(UsageEngine, "tick", counting_tick)
    stack = make_stack()
    _node(stack)
    eng = _engine(stack)
    _run(stack, make_pod("leaky").container("app", requests={"memory": "256Mi"}, limits={"memory": "256Mi"})
         .annotations({"kubetwin.io/memory-usage": "300Mi"}))  # OOM-killed at each start, restarts with back-off
    _run(stack, make_pod("ok").container("c"))
    stack.loop.advance(20)
    _run(stack, make_pod("late").container("c").container("d"))
    stack.loop.advance(130)
    live = [(e.uid, s) for e in eng.pods.values() for s in e.slots]
    assert len(live) == 4 and eng.oom_log
    assert {k: eng.run_ticks(k[1]) for k in live} == {k: expected.get(k, 0) for k in live}
    assert 0 < eng.run_ticks(eng.pods[live[0][0]].slots[0]) < eng.run_ticks(live[1][1])  # leaky ran less


def test_pod_seeded_from_an_older_version_is_refreshed_by_its_next_update() -> None:
    """The engine seeds a started pod from the kubelet worker's version, which does not follow
    label changes: a pod relabelled while its init container ran is refreshed by its next update,
    whatever it changed (the engine's handler otherwise skips writes that leave readiness,
    deletion and labels alone; here the kubelet's status write after the start)."""
    stack = make_stack()
    _node(stack)
    stack.client.create(_profile("web", {"constant": {"rps": 90}}, {"cpuPerRequest": "1m"}))
    probe = {"exec": {"command": ["true"]}, "initialDelaySeconds": 300}
    pod = (make_pod("p").labels({"app": "other"}).init_container("init").container("c", readinessProbe=probe)
           .annotations({"kubetwin.io/init-run-duration": "10"}).obj())  # fmt: skip
    stack.run_pod(pod, NODE)
    stack.loop.advance(1)
    stack.client.patch("pods", "p", {"metadata": {"labels": {"app": "web"}}}, "default")
    eng = _engine(stack)
    stack.loop.advance(20)
    (e,) = eng.pods.values()
    assert e.labels == {"app": "web"} and not e.ready and e.profile == "default/web" and not eng._stale
    _check_serving(eng)
