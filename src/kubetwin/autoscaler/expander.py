"""Expanders: which node group a scale-up uses (cluster-autoscaler/expander/*).

Each expander is a filter over the options (``expander/factory/chain.go``): ``--expander`` may
chain several ("priority,least-waste"); what remains after the last is picked at random with the
seeded RNG (``random``). Options come from the binpacking estimator.

- ``random`` (expander/random): any option, uniformly.
- ``most-pods`` (expander/mostpods): the options that schedule the most pods.
- ``least-nodes`` (expander/leastnodes): the options that add the fewest nodes.
- ``least-waste`` (expander/waste/waste.go, the default): lowest
  ``(availCPU−requestedCPU)/availCPU + (availMem−requestedMem)/availMem`` where avail is the
  template's status.capacity × NodeCount.
- ``price`` (expander/price/price.go): lowest
  ``supressedUnfitness × (nodePrice + stab)/(podPrice + stab)`` over a 1 h window, with the pod
  price from GCE's per-resource prices (gce_price_model.go), stabilization pod 500m/500Mi,
  preferred node 4 CPU / 16 GiB, unfitness ``max(pref/cpu, cpu/pref)`` suppressed by
  ``1 − tanh((NodeCount−1)/15)``, GPU nodes 1000. Node price: the group's instance price per hour
  (on-demand from the catalog, or the spot price).
- ``priority`` (expander/priority): ConfigMap ``cluster-autoscaler-priority-expander`` in
  kube-system, key ``priorities``: YAML map ``<int>: [<regexp of node group name>, ...]``; the
  options whose group matches a regexp of the highest priority any option matches.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from kubetwin.api import resources
from kubetwin.scheduler.framework import PodInfo

Obj = dict[str, Any]

PRIORITY_CONFIGMAP = "cluster-autoscaler-priority-expander"
PRIORITY_KEY = "priorities"

# price.go / gce_price_model.go
CPU_PRICE_PER_HOUR = 0.033174
MEMORY_PRICE_PER_HOUR_PER_GB = 0.004446
GIGABYTE = 1024 * 1024 * 1024
STABILIZATION_POD_CPU_MILLI = 500
STABILIZATION_POD_MEMORY = 500 * 1024 * 1024
PREFERRED_NODE_CPU_MILLI = 4000
PREFERRED_NODE_MEMORY = 16 * GIGABYTE
GPU_UNFITNESS_OVERRIDE = 1000.0
NOT_EXIST_COEFFICIENT = 2.0


@dataclass
class Option:
    group: str
    node_count: int
    pods: list[PodInfo]
    template: Obj
    price_per_hour: float = 0.0
    exists: bool = True
    debug: str = field(default="", compare=False)


def _requested(pods: list[PodInfo]) -> tuple[int, int]:
    cpu = sum(p.requests.get("cpu", 0) for p in pods)
    mem = sum(p.requests.get("memory", 0) for p in pods)
    return cpu, mem


def _capacity(node: Obj) -> dict[str, int]:
    return resources.resource_list((node.get("status") or {}).get("capacity"))


def waste_score(option: Option) -> float:
    cap = _capacity(option.template)
    avail_cpu = cap.get("cpu", 0) * option.node_count
    avail_mem = cap.get("memory", 0) * option.node_count
    req_cpu, req_mem = _requested(option.pods)
    wasted_cpu = (avail_cpu - req_cpu) / avail_cpu if avail_cpu else 0.0
    wasted_mem = (avail_mem - req_mem) / avail_mem if avail_mem else 0.0
    return wasted_cpu + wasted_mem


def pod_price(cpu_milli: int, memory: int, hours: float = 1.0) -> float:
    return (cpu_milli / 1000.0 * CPU_PRICE_PER_HOUR + memory / GIGABYTE * MEMORY_PRICE_PER_HOUR_PER_GB) * hours


def price_score(option: Option) -> float:
    cap = _capacity(option.template)
    total_node_price = option.price_per_hour * option.node_count
    total_pod_price = sum(pod_price(p.requests.get("cpu", 0), p.requests.get("memory", 0)) for p in option.pods)
    stabilization = pod_price(STABILIZATION_POD_CPU_MILLI, STABILIZATION_POD_MEMORY)
    price_sub = (total_node_price + stabilization) / (total_pod_price + stabilization)
    node_cpu = cap.get("cpu", 0)
    if node_cpu > 0:
        unfitness = max(PREFERRED_NODE_CPU_MILLI / node_cpu, node_cpu / PREFERRED_NODE_CPU_MILLI)
    else:
        unfitness = 1.0
    supressed = (unfitness - 1.0) * (1.0 - math.tanh((option.node_count - 1) / 15.0)) + 1.0
    if cap.get("nvidia.com/gpu", 0) > 0:
        supressed = GPU_UNFITNESS_OVERRIDE
    score = supressed * price_sub
    if not option.exists:
        score *= NOT_EXIST_COEFFICIENT
    return score


def _lowest(options: list[Option], score: Callable[[Option], float]) -> list[Option]:
    scored = [(score(o), o) for o in options]
    best = min(s for s, _ in scored)
    return [o for s, o in scored if s == best]


def least_waste(options: list[Option], _: Any = None) -> list[Option]:
    return _lowest(options, waste_score)


def most_pods(options: list[Option], _: Any = None) -> list[Option]:
    best = max(len(o.pods) for o in options)
    return [o for o in options if len(o.pods) == best]


def least_nodes(options: list[Option], _: Any = None) -> list[Option]:
    best = min(o.node_count for o in options)
    return [o for o in options if o.node_count == best]


def price(options: list[Option], _: Any = None) -> list[Option]:
    return _lowest(options, price_score)


class PriorityConfigError(ValueError):
    pass


def parse_priorities(text: str) -> dict[int, list[re.Pattern[str]]]:
    """The ``priorities`` value of the priority expander's ConfigMap."""
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise PriorityConfigError(f"Can't parse YAML with priorities in the configmap: {e}") from None
    if not isinstance(raw, dict):
        raise PriorityConfigError("Can't parse YAML with priorities in the configmap: not a map")
    out: dict[int, list[re.Pattern[str]]] = {}
    for k, v in raw.items():
        try:
            prio = int(k)
        except (TypeError, ValueError):
            raise PriorityConfigError(f"Can't parse YAML with priorities in the configmap: bad key {k!r}") from None
        regexes = v if isinstance(v, list) else [v]
        try:
            out[prio] = [re.compile(str(r)) for r in regexes]
        except re.error as e:
            raise PriorityConfigError(f"Can't compile regexp rule for priority {prio}: {e}") from None
    return out


def priority(options: list[Option], priorities: dict[int, list[re.Pattern[str]]] | None) -> list[Option]:
    if not priorities:
        return options
    best: list[Option] = []
    best_prio: int | None = None
    for o in options:
        prio = None
        for p, regexes in priorities.items():
            if any(r.search(o.group) for r in regexes) and (prio is None or p > prio):
                prio = p
        if prio is None:
            continue
        if best_prio is None or prio > best_prio:
            best, best_prio = [o], prio
        elif prio == best_prio:
            best.append(o)
    return best or options


FILTERS: dict[str, Callable[[list[Option], Any], list[Option]]] = {
    "least-waste": least_waste,
    "most-pods": most_pods,
    "least-nodes": least_nodes,
    "price": price,
    "priority": priority,
}


def choose(
    options: list[Option],
    expander: str,
    rng: Any,
    priorities: dict[int, list[re.Pattern[str]]] | None = None,
) -> Option | None:
    """BestOption of the chained expanders; remaining ties are broken by ``rng.choice``."""
    if not options:
        return None
    remaining = list(options)
    for name in [n.strip() for n in expander.split(",") if n.strip()]:
        if name == "random":
            break
        fn = FILTERS[name]
        remaining = fn(remaining, priorities if name == "priority" else None) or remaining
        if len(remaining) == 1:
            return remaining[0]
    if len(remaining) == 1:
        return remaining[0]
    return rng.choice(remaining)
