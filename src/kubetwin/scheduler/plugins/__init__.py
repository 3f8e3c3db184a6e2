"""The in-tree plugins of the default profile (pkg/scheduler/framework/plugins/registry.go).

ImageLocality and the volume plugins (VolumeRestrictions, NodeVolumeLimits, VolumeBinding,
VolumeZone, ...) are not modelled: kubetwin nodes have no image cache and pods no volumes.
"""

from __future__ import annotations

from collections.abc import Callable

from kubetwin.scheduler.framework import Plugin
from kubetwin.scheduler.plugins.defaultbinder import DefaultBinder
from kubetwin.scheduler.plugins.defaultpreemption import DefaultPreemption
from kubetwin.scheduler.plugins.interpodaffinity import InterPodAffinity
from kubetwin.scheduler.plugins.nodeaffinity import NodeAffinity
from kubetwin.scheduler.plugins.nodename import NodeName
from kubetwin.scheduler.plugins.nodeports import NodePorts
from kubetwin.scheduler.plugins.noderesources import NodeResourcesBalancedAllocation, NodeResourcesFit
from kubetwin.scheduler.plugins.nodeunschedulable import NodeUnschedulable
from kubetwin.scheduler.plugins.podtopologyspread import PodTopologySpread
from kubetwin.scheduler.plugins.queuesort import PrioritySort
from kubetwin.scheduler.plugins.schedulinggates import SchedulingGates
from kubetwin.scheduler.plugins.tainttoleration import TaintToleration

REGISTRY: dict[str, Callable[..., Plugin]] = {
    cls.NAME: cls
    for cls in (
        SchedulingGates, PrioritySort, NodeUnschedulable, NodeName, TaintToleration, NodeAffinity,
        NodePorts, NodeResourcesFit, PodTopologySpread, InterPodAffinity, DefaultPreemption,
        NodeResourcesBalancedAllocation, DefaultBinder,
    )
}  # fmt: skip

__all__ = ["REGISTRY"]
