"""Cluster-wide resource limits: ``coresTotal`` and ``memoryTotal`` (upstream's --cores-total and
--memory-total, the cloud provider's ResourceLimiter; cluster-autoscaler/core/scaleup/resource/
manager.go on scale-up, core/scaledown/resource/limits.go on scale-down).

A node counts with ``status.capacity``: cores rounded up to whole cores, memory in bytes
(utils.GetNodeCoresAndMemory). Limits of 0 mean none (a max of 0 does not stop scale-ups, a min of
0 does not stop scale-downs).

- Scale-up: the cluster's total is each node group's target size times its template node's
  capacity plus the nodes of no node group; what is left below the maxima caps a scale-up. A group
  one more node of which would pass a maximum is skipped with the reason "max cluster cpu limit
  reached" (or memory, or "cpu, memory"); the chosen option's node count is capped to
  ``left // per-node``.
- Scale-down: the total is every node not being deleted; a node whose removal would take the
  cluster below a minimum is unremovable (MinimalResourceLimitExceeded), and each removable node
  takes its share off what may still go.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubetwin.api import resources

Obj = dict[str, Any]

CORES = "cpu"  # cloudprovider.ResourceNameCores
MEMORY = "memory"  # cloudprovider.ResourceNameMemory
GIB = 1024**3
REASON_MIN_RESOURCE_LIMIT = "MinimalResourceLimitExceeded"  # simulator.MinimalResourceLimitExceeded


def node_cores_memory(node: Obj) -> dict[str, int]:
    """{cpu: whole cores (rounded up), memory: bytes} of the node's capacity."""
    cap = resources.resource_list((node.get("status") or {}).get("capacity"))
    milli = max(cap.get("cpu", 0), 0)
    return {CORES: -(-milli // 1000), MEMORY: max(cap.get("memory", 0), 0)}


def _total(counted: Iterable[tuple[Obj, int]]) -> dict[str, int]:
    total = {CORES: 0, MEMORY: 0}
    for node, count in counted:
        if count <= 0:
            continue
        delta = node_cores_memory(node)
        total[CORES] += delta[CORES] * count
        total[MEMORY] += delta[MEMORY] * count
    return total


def scale_up_left(maxima: dict[str, int], counted: Iterable[tuple[Obj, int]]) -> dict[str, int]:
    """ResourcesLeft: per resource with a maximum > 0, how much more the cluster may have.
    ``counted``: (template node, group target size) per group and (node, 1) per node of no group."""
    total = _total(counted)
    return {r: max(mx - total[r], 0) for r, mx in maxima.items() if mx > 0}


def exceeded(left: dict[str, int], delta: dict[str, int], count: int = 1) -> list[str]:
    """CheckDeltaWithinLimits: the resources (sorted) ``count`` nodes of ``delta`` would pass."""
    return sorted(r for r, d in delta.items() if r in left and d > 0 and d * count > left[r])


def max_resource_reason(names: list[str]) -> str:
    """orchestrator NewMaxResourceLimitReached's message."""
    return f"max cluster {', '.join(names)} limit reached"


def cap_count(count: int, left: dict[str, int], delta: dict[str, int]) -> int:
    """ApplyLimits: ``count`` lowered so that ``count`` nodes of ``delta`` fit what is left."""
    for r, d in sorted(delta.items()):
        if r in left and d > 0 and count * d > left[r]:
            count = left[r] // d
    return count


class ScaleDownLimits:
    """LimitsLeft / TryDecrementBy: how much of each resource with a minimum > 0 may still go."""

    def __init__(self, minima: dict[str, int], nodes: Iterable[Obj]) -> None:
        total = _total((n, 1) for n in nodes)
        self.left = {r: max(total[r] - mn, 0) for r, mn in minima.items() if mn > 0}

    def try_remove(self, node: Obj) -> list[str]:
        """Take ``node``'s share off the room left; the resources it would pass (nothing taken) if
        its removal would take the cluster below a minimum."""
        delta = node_cores_memory(node)
        over = exceeded(self.left, delta)
        if not over:
            for r in self.left:
                self.left[r] -= delta.get(r, 0)
        return over
