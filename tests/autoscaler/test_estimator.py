"""Binpacking estimator vectors (estimator/binpacking_estimator_test.go style): First-Fit
Decreasing over the scheduler's filters on template nodes."""

from __future__ import annotations

import pytest
from tests.builders import make_node, make_pod

from kubetwin.autoscaler.estimator import estimate
from kubetwin.autoscaler.simulator import SimCluster
from kubetwin.scheduler.framework import PodInfo


def _template(i: int) -> dict:
    return make_node(f"t-{i}").capacity(cpu="4", memory="16Gi", pods=10).obj()


def _pods(spec: list[tuple[str, str, int]]) -> list[PodInfo]:
    out = []
    for cpu, mem, n in spec:
        for _ in range(n):
            out.append(PodInfo(make_pod(f"p{len(out)}").container("c", requests={"cpu": cpu, "memory": mem}).obj()))
    return out


@pytest.mark.parametrize(
    ("pods", "max_nodes", "nodes", "placed"),
    [
        pytest.param([("1", "1Gi", 10)], 100, 3, 10, id="10x1cpu-on-4cpu-nodes"),
        pytest.param([("350m", "1000Mi", 10)], 100, 1, 10, id="cpu-fits-one-node"),
        pytest.param([("1", "8Gi", 5)], 100, 3, 5, id="memory-bound"),
        pytest.param([("100m", "100Mi", 25)], 100, 3, 25, id="pod-count-bound-10-per-node"),
        pytest.param([("1", "1Gi", 10)], 2, 2, 8, id="limiter-caps-nodes"),
        pytest.param([("5", "1Gi", 2)], 100, 0, 0, id="never-fits-a-fresh-node"),
        pytest.param([("3", "1Gi", 2), ("1", "1Gi", 2)], 100, 2, 4, id="decreasing-order-fills-gaps"),
        pytest.param([("2500m", "1Gi", 1), ("2", "1Gi", 1), ("1500m", "1Gi", 1)], 100, 2, 3, id="ffd"),
    ],
)
def test_binpacking(pods: list[tuple[str, str, int]], max_nodes: int, nodes: int, placed: int) -> None:
    est = estimate(SimCluster(), _pods(pods), _template, max_nodes)
    assert (est.node_count, len(est.pods)) == (nodes, placed)


def test_zero_limit_or_no_pods() -> None:
    assert estimate(SimCluster(), _pods([("1", "1Gi", 3)]), _template, 0).node_count == 0
    assert estimate(SimCluster(), [], _template, 10).node_count == 0
