"""kube-scheduler: framework, default plugins and the scheduling loop (pkg/scheduler)."""

from kubetwin.scheduler.framework import (
    MAX_SCORE,
    Code,
    CycleState,
    NodeInfo,
    Plugin,
    PodInfo,
    Profile,
    Status,
)
from kubetwin.scheduler.scheduler import Scheduler, num_feasible_nodes_to_find

__all__ = [
    "MAX_SCORE", "Code", "CycleState", "NodeInfo", "PodInfo", "Plugin", "Profile", "Scheduler", "Status",
    "num_feasible_nodes_to_find",
]  # fmt: skip
