"""Similar node groups and balanced scale-ups (cluster-autoscaler/processors/nodegroupset:
compare_nodegroups.go IsCloudProviderNodeInfoSimilar, aws_nodegroups.go CreateAwsNodeInfoComparator,
balancing_processor.go FindSimilarNodeGroups / BalanceScaleUpBetweenGroups).

With ``balanceSimilarNodeGroups`` a scale-up of the expander's choice is spread over the groups whose
template nodes are alike:

- ``status.capacity``: the same resource names; memory within ``memoryDifferenceRatio`` (1.5%) of
  the larger, every other resource exactly equal;
- ``status.allocatable`` within ``maxAllocatableDifferenceRatio`` (5%) for every resource;
- free room (allocatable minus what the template's DaemonSet pods request) within
  ``maxFreeDifferenceRatio`` (5%) for cpu, memory, ephemeral-storage, pods and any other resource
  those pods request;
- the same labels, except the ignored ones: hostname, zone and region (both the beta and the
  stable keys), CSI topology zones, kops' instance group, the AWS provider's (eksctl's instance
  id and nodegroup name, ``eks.amazonaws.com/nodegroup``, ``k8s.amazonaws.com/eniConfig``,
  ``lifecycle``), kubetwin's own ``kubetwin.io/nodegroup`` (the group's name, as EKS's label is) and
  any ``balancingIgnoreLabel``.

Taints are not compared: the scale-up orchestrator also requires a similar group to take every pod
the chosen group takes. :func:`balance_scale_up` then adds the new nodes one at a time to the
smallest group (by target size) still below its max size, so the sizes even out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubetwin.api import resources

Obj = dict[str, Any]

# compare_nodegroups.go BasicIgnoredLabels (the "true" ones)
BASIC_IGNORED_LABELS = frozenset({
    "kubernetes.io/hostname",
    "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
    "beta.kubernetes.io/fluentd-ds-ready",
    "kops.k8s.io/instancegroup",
    "topology.ebs.csi.aws.com/zone",
    "topology.gke.io/zone",
    "topology.disk.csi.azure.com/zone",
})  # fmt: skip
# aws_nodegroups.go: what the AWS provider ignores on top of the basic ones
AWS_IGNORED_LABELS = frozenset({
    "alpha.eksctl.io/instance-id",
    "alpha.eksctl.io/nodegroup-name",
    "eks.amazonaws.com/nodegroup",
    "k8s.amazonaws.com/eniConfig",
    "lifecycle",
})  # fmt: skip
# kubetwin's provider labels every node with its group's name, like eks.amazonaws.com/nodegroup
KUBETWIN_IGNORED_LABELS = frozenset({"kubetwin.io/nodegroup"})
IGNORED_LABELS = BASIC_IGNORED_LABELS | AWS_IGNORED_LABELS | KUBETWIN_IGNORED_LABELS

# the resources a NodeInfo's Requested always lists (ResourceToResourceList), besides scalar ones
_FREE_RESOURCES = ("cpu", "memory", "ephemeral-storage", "pods")


@dataclass(frozen=True)
class Ratios:
    """config.NodeGroupDifferenceRatios (defaults: upstream's flag defaults)."""

    max_allocatable: float = 0.05
    max_free: float = 0.05
    max_capacity_memory: float = 0.015


@dataclass
class Template:
    """What the comparator looks at of a group's template NodeInfo: its node and the requests of
    the pods on it (the DaemonSet pods a new node would run)."""

    node: Obj
    pod_requests: Sequence[Mapping[str, int]]

    def capacity(self) -> dict[str, int]:
        return resources.resource_list((self.node.get("status") or {}).get("capacity"))

    def allocatable(self) -> dict[str, int]:
        return resources.resource_list((self.node.get("status") or {}).get("allocatable"))

    def requested(self) -> dict[str, int]:
        out = {name: 0 for name in _FREE_RESOURCES if name != "pods"}
        out["pods"] = 0  # Requested.AllowedPodNumber stays 0: free pods is the allocatable count
        for req in self.pod_requests:
            for name, q in req.items():
                if name != "pods":
                    out[name] = out.get(name, 0) + q
        return out

    def free(self) -> dict[str, int]:
        alloc = self.allocatable()
        return {name: alloc.get(name, 0) - q for name, q in self.requested().items()}

    def labels(self) -> Mapping[str, str]:
        return (self.node.get("metadata") or {}).get("labels") or {}


def within_tolerance(a: int, b: int, ratio: float) -> bool:
    """The larger and the smaller of two quantities differ by at most ``ratio`` of the larger."""
    larger, smaller = max(a, b), min(a, b)
    return larger - smaller <= larger * ratio


def _maps_within_tolerance(m1: Mapping[str, int], m2: Mapping[str, int], ratio: float) -> bool:
    if m1.keys() != m2.keys():
        return False  # a resource only one side has
    return all(within_tolerance(m1[k], m2[k], ratio) for k in m1)


def dissimilarity(t1: Template, t2: Template, ratios: Ratios = Ratios(),
                  ignored: Iterable[str] = IGNORED_LABELS) -> str | None:  # fmt: skip
    """Why two templates are not similar (None: they are), in the words of upstream's V(3) logs."""
    cap1, cap2 = t1.capacity(), t2.capacity()
    for name in sorted(cap1.keys() | cap2.keys()):
        if name not in cap1 or name not in cap2:
            return f"missing capacity {name}"
        if name == "memory":
            if not within_tolerance(cap1[name], cap2[name], ratios.max_capacity_memory):
                return "memory not within tolerance"
        elif cap1[name] != cap2[name]:
            return f"{name} does not match"
    if not _maps_within_tolerance(t1.allocatable(), t2.allocatable(), ratios.max_allocatable):
        return "allocatable resources not within tolerance"
    if not _maps_within_tolerance(t1.free(), t2.free(), ratios.max_free):
        return "free resources not within tolerance"
    skip = set(ignored)
    l1 = {k: v for k, v in t1.labels().items() if k not in skip}
    l2 = {k: v for k, v in t2.labels().items() if k not in skip}
    if l1 != l2:
        return "labels do not match"
    return None


def is_similar(t1: Template, t2: Template, ratios: Ratios = Ratios(),
               ignored: Iterable[str] = IGNORED_LABELS) -> bool:  # fmt: skip
    return dissimilarity(t1, t2, ratios, ignored) is None


@dataclass
class ScaleUpInfo:
    """nodegroupset.ScaleUpInfo: one group's part of a scale-up."""

    group: str
    current: int
    new: int
    max_size: int

    def __str__(self) -> str:
        return f"{{{self.group} {self.current}->{self.new} (max: {self.max_size})}}"


def format_infos(infos: Iterable[ScaleUpInfo]) -> str:
    """A Go ``%v`` of a []ScaleUpInfo: "[{a 1->3 (max: 10)} {b 2->3 (max: 10)}]"."""
    return "[" + " ".join(str(i) for i in infos) + "]"


def balance_scale_up(groups: list[tuple[str, int, int]], new_nodes: int) -> list[ScaleUpInfo]:
    """BalanceScaleUpBetweenGroups: ``new_nodes`` over ``groups`` ((name, target size, max size),
    the chosen group first), each node to a smallest group below its max; capped by the groups'
    total room. Returns the groups that grow, in the order the balancing leaves them (groups that
    fill up move to the front)."""
    infos = [ScaleUpInfo(name, cur, cur, mx) for name, cur, mx in groups if cur < mx]
    room = sum(i.max_size - i.current for i in infos)
    new_nodes = min(new_nodes, room)
    infos.sort(key=lambda i: i.current)  # stable: ties keep the chosen group first
    start = current = 0
    while new_nodes > 0:
        info = infos[current]
        if info.new < info.max_size:
            info.new += 1
            new_nodes -= 1
        else:  # full: swap it out of the live part of the list (all there have the same size)
            infos[start], infos[current] = infos[current], infos[start]
            start += 1
        # upstream compares the slot at ``current`` (after a swap: the group swapped into it)
        if current < len(infos) - 1 and infos[current].new > infos[current + 1].new:
            current += 1  # the next group is one smaller: it gets the next node
        else:
            current = start  # back to the first group still growing
    return [i for i in infos if i.new != i.current]
