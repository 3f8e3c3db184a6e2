"""balanceSimilarNodeGroups and the cluster-wide resource limits (coresTotal / memoryTotal) end to end
through scenario.runtime.Cluster, plus their spec parsing and admission errors.

m5.large: 2 vCPU, 8 GiB; a 1200m pod takes a whole node."""

from __future__ import annotations

from typing import Any

import pytest
from tests.autoscaler.conftest import autoscaler, deployment, nodegroup
from tests.builders import make_node

from kubetwin.api.errors import ApiError
from kubetwin.autoscaler import limits
from kubetwin.autoscaler.config import Options
from kubetwin.scenario.runtime import Cluster

Obj = dict[str, Any]


def _sizes(env: Any, *names: str) -> dict[str, int]:
    return {n: env.group(n)["spec"]["desiredSize"] for n in names}


# -- balancing ------------------------------------------------------------------------------------
# Group a (eu-west-1a, 2 nodes) and group b (eu-west-1b, 1 node) of m5.large; 7 pods of 1200m: 3 run,
# 4 need new nodes. (id, b's spec changes, autoscaler spec, acceptable desired sizes of (a, b))
BALANCE = [
    ("off-one-group-takes-all", {}, {}, {(6, 1), (2, 5)}),
    ("similar-split-smallest-first", {}, {"balanceSimilarNodeGroups": True}, {(3, 4)}),
    ("different-label-not-similar", {"labels": {"pool": "b"}}, {"balanceSimilarNodeGroups": True},
     {(6, 1), (2, 5)}),
    ("different-label-ignored", {"labels": {"pool": "b"}},
     {"balanceSimilarNodeGroups": True, "balancingIgnoreLabel": ["pool"]}, {(3, 4)}),
    ("different-instance-type", {"instanceType": "c5.large"}, {"balanceSimilarNodeGroups": True},
     {(6, 1), (2, 5)}),
    ("spot-not-similar-to-on-demand", {"capacityType": "spot"}, {"balanceSimilarNodeGroups": True},
     {(6, 1), (2, 5)}),
    # b is similar but its taint keeps the pods off it (its node too: 5 pods wait): it must take
    # every pod a takes
    ("similar-but-cannot-fit-pods", {"taints": [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]},
     {"balanceSimilarNodeGroups": True}, {(7, 1)}),
    # b at its max size is no candidate
    ("similar-at-max-size", {"maxSize": 1}, {"balanceSimilarNodeGroups": True}, {(6, 1)}),
    # a can only grow by 1: with balancing the estimate uses b's room too
    ("room-of-similar-groups", {}, {"balanceSimilarNodeGroups": True}, {(3, 4)}),
    ("capped-by-max-size-without-balancing", {}, {}, {(3, 1), (2, 5)}),
]  # fmt: skip
A_MAX = {"room-of-similar-groups": 3, "capped-by-max-size-without-balancing": 3}


@pytest.mark.parametrize(("b_spec", "ca_spec", "want"), [pytest.param(b, c, w, id=i) for i, b, c, w in BALANCE])
def test_balance_similar_node_groups(make_env: Any, request: Any, b_spec: Obj, ca_spec: Obj,
                                     want: set[tuple[int, int]]) -> None:  # fmt: skip
    a_max = A_MAX.get(request.node.callspec.id, 10)
    env = make_env(
        nodegroup("a", minSize=2, maxSize=a_max, zones=["eu-west-1a"]),
        nodegroup("b", **{"minSize": 1, "maxSize": 10, "zones": ["eu-west-1b"], **b_spec}),
        deployment("web", 7, cpu="1200m"),
        autoscaler(**ca_spec),
    )
    env.run(15)
    sizes = _sizes(env, "a", "b")
    assert (sizes["a"], sizes["b"]) in want
    triggered = {e["message"] for e in env.events("TriggeredScaleUp")}
    assert len(triggered) == 1
    if want == {(3, 4)}:
        assert triggered == {"pod triggered scale-up: [{b 1->4 (max: 10)} {a 2->3 (max: " + f"{a_max})}}]"}
        logged = [e["message"] for e in env.events("ScaledUpGroup")]
        assert logged == [
            "Scale-up: setting group b size to 4 instead of 1 (max: 10)",
            "Scale-up: group b size set to 4 instead of 1 (max: 10)",
            f"Scale-up: setting group a size to 3 instead of 2 (max: {a_max})",
            f"Scale-up: group a size set to 3 instead of 2 (max: {a_max})",
        ]
        env.run(300)
        assert sum(1 for p in env.pods() if p["status"].get("phase") == "Running") == 7


# -- resource limits on scale-up ------------------------------------------------------------------
# One group of m5.large (1 node, max 10) and 4 pods of 1200m: 3 more nodes wanted.
# (id, autoscaler spec, desired size after the first scan, NotTriggerScaleUp message expected later)
SCALE_UP_LIMITS = [
    ("defaults", {}, 4, None),
    ("cores-cap", {"coresTotal": "0:6"}, 3, "pod didn't trigger scale-up: 1 max cluster cpu limit reached"),
    ("memory-cap", {"memoryTotal": "0:16"}, 2, "pod didn't trigger scale-up: 1 max cluster memory limit reached"),
    ("both-reached", {"coresTotal": "0:2", "memoryTotal": "0:8"}, 1,
     "pod didn't trigger scale-up: 1 max cluster cpu, memory limit reached"),
    ("min-does-not-cap", {"coresTotal": "100:200"}, 4, None),
    ("zero-max-means-no-limit", {"coresTotal": "0:0", "memoryTotal": "0:0"}, 4, None),
]  # fmt: skip


@pytest.mark.parametrize(("ca_spec", "want", "reason"),
                         [pytest.param(c, w, r, id=i) for i, c, w, r in SCALE_UP_LIMITS])  # fmt: skip
def test_resource_limits_cap_scale_up(make_env: Any, ca_spec: Obj, want: int, reason: str | None) -> None:
    env = make_env(nodegroup("a", minSize=1, maxSize=10), deployment("web", 4, cpu="1200m"), autoscaler(**ca_spec))
    env.run(15)
    assert env.group("a")["spec"]["desiredSize"] == want
    env.run(150)  # the new nodes are up: the pod left over is no longer counted on them
    assert env.group("a")["spec"]["desiredSize"] == want  # no further scale-up past the limit
    msgs = {e["message"] for e in env.events("NotTriggerScaleUp")}
    if reason is None:
        assert not any("max cluster" in m for m in msgs)
    else:
        assert reason in msgs


def test_resource_limits_count_nodes_of_no_group(make_env: Any) -> None:
    # a static 4-core node outside any group uses up the coresTotal room
    env = make_env(make_node("static").capacity(cpu="4", memory="16Gi").ready().obj(),
                   nodegroup("a", minSize=1, maxSize=10), deployment("web", 4, cpu="1200m",
                                                                     nodeSelector={"kubetwin.io/nodegroup": "a"}),
                   autoscaler(coresTotal="0:8"))  # fmt: skip
    env.run(15)
    assert env.group("a")["spec"]["desiredSize"] == 2  # 4 + 2 + 2 = 8 cores


# -- resource limits on scale-down ----------------------------------------------------------------
# Three empty m5.large nodes (6 cores, 24 GiB), min size 0: which may go.
SCALE_DOWN_LIMITS = [
    ("no-minimum", {}, 0, 0),
    ("cores-min", {"coresTotal": "4:100"}, 2, 2),
    ("memory-min", {"memoryTotal": "16:1000"}, 2, 2),
    ("memory-min-keeps-all", {"memoryTotal": "20:1000"}, 3, 3),
    ("min-zero-removes-all", {"coresTotal": "0:100", "memoryTotal": "0:1000"}, 0, 0),
]  # fmt: skip


@pytest.mark.parametrize(("ca_spec", "want", "unremovable"),
                         [pytest.param(c, w, u, id=i) for i, c, w, u in SCALE_DOWN_LIMITS])  # fmt: skip
def test_resource_minimum_blocks_scale_down(make_env: Any, ca_spec: Obj, want: int, unremovable: int) -> None:
    env = make_env(nodegroup("a", minSize=0, maxSize=5, desiredSize=3),
                   autoscaler(scaleDownUnneededTime="1m", **ca_spec))  # fmt: skip
    env.run(400)
    assert env.group("a")["spec"]["desiredSize"] == want
    reasons = [r for r in env.ca.unremovable.values() if r == limits.REASON_MIN_RESOURCE_LIMIT]
    assert len(reasons) == unremovable


# -- spec parsing ---------------------------------------------------------------------------------
GOOD_SPECS = [
    ({}, (0, 320000, 0, 6400000)),
    ({"coresTotal": "8:64"}, (8, 64, 0, 6400000)),
    ({"memoryTotal": "32:512"}, (0, 320000, 32, 512)),
    ({"coresTotal": "0:0", "memoryTotal": "+1:1"}, (0, 0, 1, 1)),
]


@pytest.mark.parametrize(("spec", "want"), GOOD_SPECS)
def test_min_max_specs_parse(spec: Obj, want: tuple[int, int, int, int]) -> None:
    o = Options.from_spec(spec)
    assert (o.min_cores_total, o.max_cores_total, o.min_memory_total, o.max_memory_total) == want


BAD_SPECS = [
    ("coresTotal", "320000", 'Invalid value: "320000": wrong nodes configuration: 320000'),
    ("coresTotal", "a:10", 'Invalid value: "a:10": failed to set min size: a, expected integer'),
    ("coresTotal", "1:ten", 'Invalid value: "1:ten": failed to set max size: ten, expected integer'),
    ("coresTotal", "1:2:3", 'Invalid value: "1:2:3": failed to set max size: 2:3, expected integer'),
    ("coresTotal", "-1:10", 'Invalid value: "-1:10": min size must be greater or equal to 0'),
    ("memoryTotal", "10:5", 'Invalid value: "10:5": max size must be greater or equal to min size'),
    ("memoryTotal", "0:99999999999999999999", 'Invalid value: "0:99999999999999999999": failed to set max size: '
                                              '99999999999999999999, value out of range'),
    ("memoryTotal", 64, 'Invalid value: 64: must be a string "min:max"'),
    ("balancingIgnoreLabel", "pool", "Invalid value: 'pool': must be a list of label keys"),
    ("memoryDifferenceRatio", "x", "Invalid value: 'x': must be a number"),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value", "detail"), BAD_SPECS)
def test_bad_specs_rejected_with_the_field(field: str, value: Any, detail: str) -> None:
    with pytest.raises(ValueError) as exc:
        Options.from_spec({field: value})
    assert str(exc.value) == f"spec.{field}: {detail}"
    cluster = Cluster(seed=1)
    cluster.start()
    try:
        with pytest.raises(ApiError) as api:
            cluster.client.create(autoscaler(**{field: value}))
        err = api.value
        assert (err.code, err.reason) == (422, "Invalid")
        assert [(c.field, c.message, c.reason) for c in err.causes] == [(f"spec.{field}", detail, "FieldValueInvalid")]
    finally:
        cluster.close()
