"""Scale-up's kept fit check (autoscaler/fitmemo.py): whenever a scan answers from it, a check run
afresh on the same state must find the same pods without a place. Between scans the scenarios
change the room on the nodes while pods wait for theirs: pods come and go on full nodes (the
verdicts stay) and on nodes with room (they change), a node is tainted."""

from __future__ import annotations

from typing import Any

import pytest
from tests.autoscaler.conftest import autoscaler, deployment, nodegroup

from kubetwin.autoscaler import ClusterAutoscaler, fitmemo
from kubetwin.autoscaler.simulator import FirstFit, SimCluster
from kubetwin.scheduler.framework import PodInfo


class Shadow:
    """Wraps the autoscaler's fit check: on each answer from the kept one, checks afresh (with an
    empty memo) and compares; counts the answers kept across changed node slots."""

    def __init__(self, ca: ClusterAutoscaler, monkeypatch: Any) -> None:
        self.hits = self.across_changes = self.checks = 0
        original = ClusterAutoscaler._unfit

        def checked(ca: ClusterAutoscaler, pods: Any, groups: Any) -> Any:
            memo = ca._fit_memo
            rec = memo._rec
            pos = rec.pos if rec is not None else None
            hits = memo.hits
            got = original(ca, pods, groups)
            self.checks += 1
            if memo.hits == hits:
                return got
            self.hits += 1
            self.across_changes += rec is not None and rec.pos != pos
            ca._fit_memo = fitmemo.FitMemo()
            fresh = original(ca, pods, groups)
            ca._fit_memo = memo
            assert len(fresh) == len(got) and all(a is b for a, b in zip(fresh, got, strict=True)), (
                f"stale at {ca.loop.now}"
            )
            return got

        monkeypatch.setattr(ClusterAutoscaler, "_unfit", checked)


@pytest.mark.parametrize(
    "filler_cpu",
    [
        pytest.param("100m", id="small-pods-on-nodes-with-room"),
        pytest.param("1500m", id="pods-that-fit-nowhere-else"),
    ],
)
def test_kept_answers_match_a_fresh_check(make_env: Any, monkeypatch: Any, filler_cpu: str) -> None:
    env = make_env(nodegroup("general", minSize=2, maxSize=10, desiredSize=2),
                   autoscaler(maxNodeProvisionTime="15m"))  # fmt: skip
    shadow = Shadow(env.ca, monkeypatch)
    env.run(60)
    env.client.create(deployment("web", 9, cpu="700m", memory="64Mi"))
    env.client.create(deployment("filler", 0, cpu=filler_cpu, memory="64Mi"))
    for i, t in enumerate(range(70, 600, 15)):
        env.run(t)
        env.client.patch("deployments.apps", "filler", {"spec": {"replicas": i % 3}}, namespace="default")
        if i == 12:
            env.client.patch("deployments.apps", "web", {"spec": {"replicas": 16}}, namespace="default")
    env.run(700)
    assert shadow.hits > 1 and shadow.checks > shadow.hits


@pytest.mark.parametrize("change", ["pods", "taint"])
def test_answer_kept_across_changes_that_leave_the_verdicts(make_env: Any, monkeypatch: Any, change: str) -> None:
    """Pods come and go on a full node, or a taint, while pods wait for new nodes: its verdict for
    them stays no."""
    env = make_env(nodegroup("general", minSize=1, maxSize=10, desiredSize=1), autoscaler())
    shadow = Shadow(env.ca, monkeypatch)
    env.run(60)
    (first,) = env.ca.tracker.order()
    env.client.create(deployment("web", 8, cpu="900m", memory="64Mi"))
    env.client.create(deployment("tiny", 0, cpu="10m", memory="8Mi"))
    for i, t in enumerate(range(75, 400, 10)):
        env.run(t)
        if change == "pods":
            env.client.patch("deployments.apps", "tiny", {"spec": {"replicas": i % 2}}, namespace="default")
        else:
            taints = [{"key": "x", "value": str(i), "effect": "PreferNoSchedule"}] if i % 2 else []
            env.client.patch("nodes", first, {"spec": {"taints": taints}})
    assert shadow.across_changes > 0


def _pod(name: str, cpu: str) -> PodInfo:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx",
                                            "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}]}  # fmt: skip
    return PodInfo({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec})


def test_fit_check_does_not_search_again_for_a_class_that_found_no_place(make_env: Any, monkeypatch: Any) -> None:
    """A pod of a fit class that found no place is not searched for again within one check
    (FirstFit resumes the class past the last candidate), and the pods left over are those of
    first-fit pod by pod."""
    env = make_env(nodegroup("general", minSize=2, maxSize=10, desiredSize=2), autoscaler())
    env.run(60)
    ca = env.ca
    order = ca._node_order()
    infos = [_pod(f"p{i}", cpu) for i, cpu in enumerate(["900m", "5", "900m", "5", "300m", "5", "900m", "300m"])]
    sim = ca.base.sync()
    sim.fork()
    try:
        fit = FirstFit(sim, order)
        expected = []
        for pi in infos:
            target = fit.find(pi)
            if target is None:
                expected.append(pi)
            else:
                sim.place(pi, target)
    finally:
        sim.revert()
    calls: list[PodInfo] = []
    real_first_fit = SimCluster.first_fit
    monkeypatch.setattr(SimCluster, "first_fit", lambda self, pi, *a: calls.append(pi) or real_first_fit(self, pi, *a))
    ca._fit_memo = fitmemo.FitMemo()
    got = ca._unfit(infos, {})
    assert [pi.name for pi in got] == [pi.name for pi in expected] and len(expected) >= 3
    searched = [pi.name for pi in calls]
    assert "p1" in searched and "p3" not in searched and "p5" not in searched  # the 5-CPU pods after the first
