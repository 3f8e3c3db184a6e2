"""Expanders (reference 7.2): least-waste vectors from waste_test.go, most-pods, least-nodes,
price, priority ConfigMap format, chaining and the seeded random tie-break."""

from __future__ import annotations

import pytest
from tests.builders import make_node, make_pod

from kubetwin.autoscaler import expander
from kubetwin.autoscaler.expander import Option, choose, parse_priorities
from kubetwin.scheduler.framework import PodInfo
from kubetwin.sim import SeededRNG


def _pod(cpu: str = "500m", memory: str = "1000Mi", name: str = "p") -> PodInfo:
    return PodInfo(make_pod(name).container("c", requests={"cpu": cpu, "memory": memory}).obj())


def _opt(group: str, cpu: str, memory: str, pods: int = 1, nodes: int = 1, price: float = 0.1) -> Option:
    node = make_node(group).capacity(cpu=cpu, memory=memory).obj()
    return Option(group, nodes, [_pod(name=f"p{i}") for i in range(pods)], node, price)


BALANCED = ("balanced", "8", "16000Mi")
HIGHMEM = ("highmem", "8", "32000Mi")
LOWCPU = ("lowcpu", "4", "16000Mi")


@pytest.mark.parametrize(
    ("groups", "want"),
    [
        pytest.param([BALANCED, HIGHMEM, LOWCPU], "lowcpu", id="waste_test-lowcpu-wins"),
        pytest.param([BALANCED, HIGHMEM], "balanced", id="waste_test-balanced-over-highmem"),
    ],
)
def test_least_waste(groups: list[tuple[str, str, str]], want: str) -> None:
    options = [_opt(*g) for g in groups]
    assert choose(options, "least-waste", SeededRNG(1)).group == want  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("group", "score"),
    [
        pytest.param(BALANCED, 1.875, id="balanced"),
        pytest.param(HIGHMEM, 1.90625, id="highmem"),
        pytest.param(LOWCPU, 1.8125, id="lowcpu"),
    ],
)
def test_waste_scores(group: tuple[str, str, str], score: float) -> None:
    assert expander.waste_score(_opt(*group)) == pytest.approx(score)


@pytest.mark.parametrize(
    ("name", "options", "want"),
    [
        pytest.param("most-pods", [_opt("a", "4", "16Gi", pods=2), _opt("b", "4", "16Gi", pods=5)], "b", id="most-pods"),
        pytest.param("least-nodes", [_opt("a", "4", "16Gi", nodes=3), _opt("b", "4", "16Gi", nodes=2)], "b",
                     id="least-nodes"),
        pytest.param("price", [_opt("a", "4", "16Gi", price=0.2), _opt("b", "4", "16Gi", price=0.07)], "b",
                     id="price-cheaper-same-shape"),
        pytest.param("price", [_opt("big", "64", "256Gi", price=0.07), _opt("pref", "4", "16Gi", price=0.07)],
                     "pref", id="price-unfit-node-penalised"),
    ],
)  # fmt: skip
def test_filters(name: str, options: list[Option], want: str) -> None:
    assert choose(options, name, SeededRNG(1)).group == want  # type: ignore[union-attr]


PRIORITIES = """
10:
  - .*
50:
  - ^spot-.*
  - gpu
"""


@pytest.mark.parametrize(
    ("groups", "want"),
    [
        pytest.param(["on-demand", "spot-a"], {"spot-a"}, id="highest-priority-wins"),
        pytest.param(["on-demand", "x-gpu-y"], {"x-gpu-y"}, id="regex-is-a-search"),
        pytest.param(["a", "b"], {"a", "b"}, id="ties-kept"),
    ],
)
def test_priority(groups: list[str], want: set[str]) -> None:
    options = [_opt(g, "4", "16Gi") for g in groups]
    kept = expander.priority(options, parse_priorities(PRIORITIES))
    assert {o.group for o in kept} == want


def test_priority_config_errors() -> None:
    with pytest.raises(expander.PriorityConfigError):
        parse_priorities("x: [a]")
    with pytest.raises(expander.PriorityConfigError):
        parse_priorities("10: ['(']")


def test_chain_and_random_tie_break_is_seeded() -> None:
    options = [_opt(g, "4", "16Gi") for g in ("a", "b", "c", "d")]
    picks = [choose(options, "priority,least-waste", SeededRNG(s), parse_priorities("1: [a, b]")) for s in range(20)]
    assert {p.group for p in picks if p} == {"a", "b"}
    again = [choose(options, "random", SeededRNG(7)) for _ in range(3)]
    assert len({o.group for o in again if o}) == 1


