"""The scale-down pass's kept outcomes (autoscaler/passmemo.py): whenever a scan answers from them,
a pass simulated from scratch on the same state must give the same unneeded nodes and reasons.
Between scans the scenarios change what a pass reads: room on the nodes pods would move to (pods
pinned there come and go), the candidates' own pods, a PDB's budget, a destination's taints."""

from __future__ import annotations

from typing import Any

import pytest
from tests.autoscaler.conftest import autoscaler, deployment, nodegroup

from kubetwin.autoscaler import ClusterAutoscaler, passmemo

Obj = dict[str, Any]


def _pdb(allowed: int) -> Obj:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"maxUnavailable": allowed, "selector": {"matchLabels": {"app": "web"}}}}  # fmt: skip


class Shadow:
    """Wraps the autoscaler's pass: on each answer from the kept steps (all of them, or leading
    ones replayed), runs a fresh pass on the same state (its steps become the kept ones) and
    compares."""

    def __init__(self, ca: ClusterAutoscaler, monkeypatch: Any) -> None:
        self.ca = ca
        self.hits = self.replays = self.passes = 0
        original = ClusterAutoscaler._find_unneeded

        def checked(ca: ClusterAutoscaler, under: Any, unneeded: dict[str, Any], now: float) -> None:
            before = (dict(ca._unremovable), dict(ca.recently_unremovable))
            hits, replayed = ca._pass_memo.hits, ca._pass_memo.replayed
            original(ca, under, unneeded, now)
            self.passes += 1
            if ca._pass_memo.hits == hits and ca._pass_memo.replayed == replayed:
                return
            self.hits += ca._pass_memo.hits - hits
            self.replays += ca._pass_memo.replayed > replayed
            got = (dict(unneeded), dict(ca._unremovable), dict(ca.recently_unremovable))
            ca._unremovable, ca.recently_unremovable = before
            ca._pass_memo = passmemo.PassMemo()
            fresh: dict[str, Any] = {}
            original(ca, under, fresh, now)
            assert (fresh, ca._unremovable, ca.recently_unremovable) == got, f"stale at {now}"

        monkeypatch.setattr(ClusterAutoscaler, "_find_unneeded", checked)


def _cordon(env: Any, nodes: list[str], open_: list[str]) -> None:
    for n in nodes:
        env.client.patch("nodes", n, {"spec": {"unschedulable": n not in open_}})


def _setup(make_env: Any, monkeypatch: Any, recheck: str = "0s") -> tuple[Any, Shadow, list[str]]:
    """Three nodes: n0 holds ``big`` (1100m of ~1930m: well utilised, the destination), n1 the two
    ``web`` pods (300m each: a candidate whose pods fit n0 as long as n0 keeps its room), n2 empty."""
    env = make_env(nodegroup("general", minSize=1, maxSize=6, desiredSize=3), _pdb(2),
                   autoscaler(unremovableNodeRecheckTimeout=recheck, scaleDownUnneededTime="30m"))  # fmt: skip
    shadow = Shadow(env.ca, monkeypatch)
    env.run(60)
    nodes = sorted(env.ca.tracker.order())
    assert len(nodes) == 3
    _cordon(env, nodes, nodes[:1])
    env.client.create(deployment("big", 1, cpu="1100m", memory="64Mi"))
    env.run(80)
    _cordon(env, nodes, nodes[1:2])
    env.client.create(deployment("web", 2, cpu="300m", memory="64Mi"))
    env.run(100)
    _cordon(env, nodes, nodes)
    return env, shadow, nodes


def _pin(env: Any, name: str, node: str, cpu: str) -> None:
    """A Deployment whose one pod may only run on ``node``."""
    env.client.create(deployment(name, 1, cpu=cpu, memory="64Mi",
                                 nodeSelector={"kubernetes.io/hostname": node}))  # fmt: skip


def _taint(env: Any, node: str, on: bool) -> None:
    taints = [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}] if on else []
    env.client.patch("nodes", node, {"spec": {"taints": taints}})


@pytest.mark.parametrize(
    "steps",
    [
        # n0's room taken by a pod pinned there (n0 is no candidate: only its slot changed), then freed
        pytest.param([(300, "pin", "pin0", 500), (500, "unpin", "pin0")], id="destination-room"),
        pytest.param([(300, "pin", "pin0", 200), (450, "pin", "pin1", 300), (600, "unpin", "pin0")],
                     id="destination-room-in-steps"),  # fmt: skip
        pytest.param([(300, "pdb", 0), (450, "pdb", 2), (600, "pdb", 1)], id="pdb-budget"),
        pytest.param([(300, "taint", True), (500, "taint", False)], id="destination-taint"),
        pytest.param([(300, "scale", 3), (450, "scale", 1)], id="candidate-pods"),
    ],
)
def test_kept_outcomes_match_a_fresh_pass(make_env: Any, monkeypatch: Any, steps: list[tuple[Any, ...]]) -> None:
    env, shadow, nodes = _setup(make_env, monkeypatch)
    for at, action, *args in steps:
        env.run(at)
        if action == "pin":
            _pin(env, args[0], nodes[0], f"{args[1]}m")
        elif action == "unpin":
            env.client.delete("deployments.apps", args[0], namespace="default")
        elif action == "pdb":
            env.client.patch("poddisruptionbudgets.policy", "web", {"spec": {"maxUnavailable": args[0]}},
                             namespace="default")  # fmt: skip
        elif action == "scale":
            env.client.patch("deployments.apps", "web", {"spec": {"replicas": args[0]}}, namespace="default")
        else:
            _taint(env, nodes[0], args[0])
    env.run(steps[-1][0] + 200)
    assert shadow.hits > 10 and shadow.passes > shadow.hits


def test_leading_steps_replayed_with_their_moves(make_env: Any, monkeypatch: Any) -> None:
    """Four nodes in informer order: d0 (1500m used) takes candidate a's pod (300m on c1); d2
    (1100m) takes candidate b's two (300m each on c3), d0 being full by then. Room taken on d2
    changes b's outcome only: a's step is replayed (its move onto d0 made again, without which b's
    pods would fit d0) and b simulated again."""
    env = make_env(nodegroup("general", minSize=1, maxSize=6, desiredSize=4), _pdb(2),
                   autoscaler(unremovableNodeRecheckTimeout="0s", scaleDownUnneededTime="30m"))  # fmt: skip
    shadow = Shadow(env.ca, monkeypatch)
    env.run(60)
    order = env.ca.tracker.order()
    assert len(order) == 4
    for i, (name, replicas, cpu) in enumerate([("d0", 1, "1500m"), ("a", 1, "300m"), ("d2", 1, "1100m"),
                                               ("web", 2, "300m")]):  # fmt: skip
        _cordon(env, order, order[i : i + 1])
        env.client.create(deployment(name, replicas, cpu=cpu, memory="64Mi"))
        env.run(70 + 10 * i)
    _cordon(env, order, order)
    env.run(300)
    assert env.ca.unneeded_since.keys() == {order[1], order[3]}
    _pin(env, "pin", order[2], "500m")
    env.run(500)
    assert env.ca.unremovable.get(order[3]) == "NoPlaceToMovePods" and order[1] in env.ca.unneeded_since
    assert shadow.replays > 0 and shadow.hits > 10


def test_later_steps_kept_when_a_blocked_candidate_comes_ahead(make_env: Any, monkeypatch: Any) -> None:
    """n2 holds a pod of no controller (NotReplicated) and is less utilised than n1 (two web pods
    that fit n0). Found unremovable, n2 is left out for the recheck timeout, then comes back ahead
    of n1, blocked again: n2 is simulated, n1's step (the same input after the same removals:
    none) is taken over, its moves not made again."""
    env, shadow, nodes = _setup(make_env, monkeypatch, recheck="60s")
    env.client.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare", "namespace": "default"},
                       "spec": {"nodeName": nodes[2], "containers": [{"name": "c", "image": "nginx",
                                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}})  # fmt: skip
    env.run(800)
    assert env.ca.unremovable.get(nodes[2]) in ("NotReplicated", "RecentlyUnremovable")
    assert nodes[1] in env.ca.unneeded_since
    assert shadow.replays > 5 and shadow.hits > 10


def test_steps_kept_through_pdb_budget_changes_with_the_same_verdicts(make_env: Any, monkeypatch: Any) -> None:
    """Only the PDB's disruptions allowed change: the kept steps are taken over while each one's
    PDB verdict is the same (the shadow pass checks every answer), simulated from the first that
    differs (maxUnavailable 0 blocks n1's pods)."""
    env, shadow, _ = _setup(make_env, monkeypatch)
    checked: list[bool] = []
    lookup = passmemo.PassMemo.lookup

    def spy(memo: passmemo.PassMemo, *args: Any) -> passmemo.Kept:
        kept = lookup(memo, *args)
        checked.append(kept.pdb_check)
        return kept

    monkeypatch.setattr(passmemo.PassMemo, "lookup", spy)
    for at, allowed in ((300, 3), (400, 0), (500, 2)):
        env.run(at)
        env.client.patch("poddisruptionbudgets.policy", "web", {"spec": {"maxUnavailable": allowed}},
                         namespace="default")  # fmt: skip
    env.run(700)
    assert any(checked) and shadow.hits > 10
    assert env.ca.unremovable.get(sorted(env.ca.tracker.order())[1]) is None


def _four_nodes(make_env: Any, monkeypatch: Any, d0: str) -> tuple[Any, Shadow, list[str], list[str]]:
    """Four nodes in informer order: o0 holds one pod of ``d0`` CPU, o1 two 300m pods (the
    candidate), o2 1100m, o3 none (removed first, no moves); the shadow pass checks every answer.
    Also the candidates whose removals Kept.moved found, as they are found."""
    env = make_env(nodegroup("general", minSize=1, maxSize=6, desiredSize=4), _pdb(2),
                   autoscaler(unremovableNodeRecheckTimeout="0s", scaleDownUnneededTime="30m"))  # fmt: skip
    shadow = Shadow(env.ca, monkeypatch)
    found: list[str] = []
    moved = passmemo.Kept.moved

    def spy(kept: passmemo.Kept, entry: Any) -> Any:
        got = moved(kept, entry)
        if got is not None:
            found.append(entry[0])
        return got

    monkeypatch.setattr(passmemo.Kept, "moved", spy)
    env.run(60)
    order = list(env.ca.tracker.order())
    assert len(order) == 4
    for i, (name, replicas, cpu) in enumerate([("d0", 1, d0), ("web", 2, "300m"), ("d2", 1, "1100m")]):
        _cordon(env, order, order[i : i + 1])
        env.client.create(deployment(name, replicas, cpu=cpu, memory="64Mi"))
        env.run(70 + 10 * i)
    _cordon(env, order, order)
    env.run(300)
    assert env.ca.unneeded_since.keys() == {order[1], order[3]} and not found
    return env, shadow, order, found


def test_removal_found_after_a_later_node_changed(make_env: Any, monkeypatch: Any) -> None:
    """Four nodes in informer order: o0 (1100m used) takes candidate o1's two pods (300m each),
    o2 (1100m) would take them too, o3 is empty (removed first, no moves). A change of o3's labels
    moves the snapshot's node generation (no kept prefix): o1's removal is found by candidate, its
    moves reaching no further than o0. Tainting o0 and o2 leaves o1's pods no place: its kept
    removal must not be found then (the shadow pass checks every answer)."""
    env, shadow, order, found = _four_nodes(make_env, monkeypatch, "1100m")
    env.client.patch("nodes", order[3], {"metadata": {"labels": {"example.com/rack": "r1"}}})
    env.run(320)
    assert found == [order[1]] and order[1] in env.ca.unneeded_since
    _taint(env, order[0], True)
    _taint(env, order[2], True)
    env.run(340)
    assert found == [order[1]] and env.ca.unremovable.get(order[1]) == "NoPlaceToMovePods"
    _taint(env, order[0], False)
    _taint(env, order[2], False)
    env.run(500)
    assert order[1] in env.ca.unneeded_since and shadow.hits > 10


def test_removal_found_when_nodes_before_its_destination_only_gained_pods(make_env: Any, monkeypatch: Any) -> None:
    """Informer order: o0 (1850m used: no room for a 300m pod), o1 (two 300m pods: the candidate),
    o2 (1100m: where they go), o3 empty. A pod pinned to o0 changes its slot (no kept prefix past
    it) but only adds to a node that rejected o1's pods: o1's removal is found by candidate. Freeing
    o0 (its pods gone) makes o1's pods go there: not found then (the shadow checks each answer)."""
    env, shadow, order, found = _four_nodes(make_env, monkeypatch, "1850m")
    _pin(env, "pin0", order[0], "20m")
    env.run(320)
    assert found == [order[1]] and order[1] in env.ca.unneeded_since
    env.client.delete("deployments.apps", "d0", namespace="default")
    env.client.delete("deployments.apps", "pin0", namespace="default")
    env.run(400)
    assert found == [order[1]] and order[1] in env.ca.unneeded_since and shadow.hits > 10
