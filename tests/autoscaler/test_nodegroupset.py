"""Similar node groups (compare_nodegroups.go) and BalanceScaleUpBetweenGroups (balancing_processor.go),
table-driven on template nodes from tests/builders.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.builders import NodeBuilder, make_node

from kubetwin.autoscaler.nodegroupset import (
    IGNORED_LABELS,
    Ratios,
    Template,
    balance_scale_up,
    dissimilarity,
    format_infos,
)

Obj = dict[str, Any]


def _base(name: str) -> NodeBuilder:
    return make_node(name).capacity(cpu="4", memory="16Gi", pods=58).labels({
        "node.kubernetes.io/instance-type": "m5.xlarge", "kubernetes.io/arch": "amd64", "pool": "general",
    })  # fmt: skip


def _tmpl(b: NodeBuilder, pods: list[dict[str, int]] | None = None) -> Template:
    return Template(b.obj(), pods or [])


# (id, how the second template differs from the first, pod requests on each, expected reason or None)
CASES: list[tuple[str, Callable[[NodeBuilder], NodeBuilder], Any, str | None]] = [
    ("identical", lambda b: b, None, None),
    ("other-zone-region-hostname", lambda b: b.labels({
        "topology.kubernetes.io/zone": "eu-west-1b", "topology.kubernetes.io/region": "eu-west-2",
        "failure-domain.beta.kubernetes.io/zone": "eu-west-1b",
        "failure-domain.beta.kubernetes.io/region": "eu-west-2", "topology.ebs.csi.aws.com/zone": "eu-west-1b"}),
     None, None),
    ("aws-ignored-labels", lambda b: b.labels({
        "eks.amazonaws.com/nodegroup": "other", "k8s.amazonaws.com/eniConfig": "b", "lifecycle": "Ec2Spot",
        "alpha.eksctl.io/nodegroup-name": "other", "alpha.eksctl.io/instance-id": "i-2",
        "kubetwin.io/nodegroup": "other"}), None, None),
    ("label-value-differs", lambda b: b.labels({"pool": "batch"}), None, "labels do not match"),
    ("extra-label", lambda b: b.labels({"team": "a"}), None, "labels do not match"),
    ("instance-type-label", lambda b: b.labels({"node.kubernetes.io/instance-type": "m5a.xlarge"}), None,
     "labels do not match"),
    ("cpu-capacity", lambda b: b.capacity(cpu="8", memory="16Gi", pods=58), None, "cpu does not match"),
    ("pods-capacity", lambda b: b.capacity(cpu="4", memory="16Gi", pods=29), None, "pods does not match"),
    ("extra-capacity", lambda b: b.capacity(cpu="4", memory="16Gi", pods=58, **{"nvidia.com/gpu": 1}), None,
     "missing capacity nvidia.com/gpu"),
    # memory capacity: 1.5% of the larger (16 GiB: 245 MiB)
    ("memory-within-1.5%", lambda b: b.capacity(cpu="4", memory=f"{16 * 1024 - 245}Mi", pods=58), None, None),
    ("memory-over-1.5%", lambda b: b.capacity(cpu="4", memory=f"{16 * 1024 - 250}Mi", pods=58), None,
     "memory not within tolerance"),
    # allocatable: 5% of the larger (capacity memory kept equal)
    ("allocatable-within-5%", lambda b: b.allocatable(cpu="3900m", memory="16Gi", pods="58"), None, None),
    ("allocatable-over-5%", lambda b: b.allocatable(cpu="3700m", memory="16Gi", pods="58"), None,
     "allocatable resources not within tolerance"),
    # free = allocatable - DaemonSet requests: 5% of the larger
    ("free-within-5%", lambda b: b, ([{"cpu": 100}], [{"cpu": 250}]), None),
    ("free-over-5%", lambda b: b, ([{"cpu": 100}], [{"cpu": 400}]), "free resources not within tolerance"),
    ("free-scalar-only-one-side", lambda b: b, ([], [{"example.com/foo": 1}]),
     "free resources not within tolerance"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "pods", "want"), [pytest.param(c, p, w, id=i) for i, c, p, w in CASES])
def test_dissimilarity_per_criterion(change: Callable[[NodeBuilder], NodeBuilder], pods: Any, want: str | None) -> None:
    p1, p2 = pods or ([], [])
    t1 = _tmpl(_base("n1"), p1)
    t2 = _tmpl(change(_base("n2")), p2)
    assert dissimilarity(t1, t2) == want
    assert dissimilarity(t2, t1) == want  # symmetric


def test_extra_ignored_labels_and_ratios() -> None:
    t1 = _tmpl(_base("n1"))
    t2 = _tmpl(_base("n2").labels({"pool": "general-b"}))
    assert dissimilarity(t1, t2) == "labels do not match"
    assert dissimilarity(t1, t2, ignored=IGNORED_LABELS | {"pool"}) is None
    t3 = _tmpl(_base("n3").allocatable(cpu="3700m", memory="16Gi", pods="58"))
    assert dissimilarity(t1, t3, Ratios(max_allocatable=0.1)) == "free resources not within tolerance"
    assert dissimilarity(t1, t3, Ratios(max_allocatable=0.1, max_free=0.1)) is None


# BalanceScaleUpBetweenGroups: (id, groups (name, target, max), new nodes, expected infos)
BALANCE = [
    ("single-group", [("ng1", 1, 10)], 4, "[{ng1 1->5 (max: 10)}]"),
    ("brief-example", [("a", 1, 10), ("b", 2, 10)], 3, "[{a 1->3 (max: 10)} {b 2->3 (max: 10)}]"),
    ("smallest-first", [("ng1", 1, 10), ("ng2", 3, 10), ("ng3", 5, 10)], 2, "[{ng1 1->3 (max: 10)}]"),
    ("divisible", [("ng1", 1, 10), ("ng2", 3, 10), ("ng3", 5, 10), ("ng4", 5, 10)], 4,
     "[{ng1 1->4 (max: 10)} {ng2 3->4 (max: 10)}]"),
    ("all-even", [("ng1", 1, 10), ("ng2", 3, 10), ("ng3", 5, 10), ("ng4", 5, 10)], 10,
     "[{ng1 1->6 (max: 10)} {ng2 3->6 (max: 10)} {ng3 5->6 (max: 10)} {ng4 5->6 (max: 10)}]"),
    ("maxed-group-left-out", [("ng1", 1, 1), ("ng2", 1, 3)], 1, "[{ng2 1->2 (max: 3)}]"),
    ("capped-to-room", [("ng1", 1, 1), ("ng2", 1, 3)], 5, "[{ng2 1->3 (max: 3)}]"),
    ("first-maxes-out", [("ng2", 1, 3), ("ng3", 3, 10)], 4, "[{ng2 1->3 (max: 3)} {ng3 3->5 (max: 10)}]"),
    ("last-maxes-out", [("ng2", 1, 3), ("ng3", 3, 10), ("ng4", 5, 7)], 9,
     "[{ng2 1->3 (max: 3)} {ng3 3->8 (max: 10)} {ng4 5->7 (max: 7)}]"),
    ("full-group-swapped-to-front", [("a", 1, 10), ("b", 1, 2)], 4, "[{b 1->2 (max: 2)} {a 1->4 (max: 10)}]"),
    ("over-max-group", [("ng2", 1, 3), ("ng5", 6, 3)], 1, "[{ng2 1->2 (max: 3)}]"),
    ("nothing-left", [("ng1", 1, 1)], 1, "[]"),
]  # fmt: skip


@pytest.mark.parametrize(("groups", "new", "want"), [pytest.param(g, n, w, id=i) for i, g, n, w in BALANCE])
def test_balance_scale_up(groups: list[tuple[str, int, int]], new: int, want: str) -> None:
    infos = balance_scale_up(groups, new)
    assert format_infos(infos) == want
    sizes = {i.group: i.new for i in infos}
    maxima = {name: mx for name, _, mx in groups}
    assert all(sizes[g] <= maxima[g] for g in sizes)
