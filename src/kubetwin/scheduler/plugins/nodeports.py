"""NodePorts (pkg/scheduler/framework/plugins/nodeports/node_ports.go, framework/types.go
HostPortInfo.CheckConflict): a wanted hostPort conflicts with the same protocol/port on the same
IP, and 0.0.0.0 conflicts with every IP."""

from __future__ import annotations

from kubetwin.scheduler.framework import SKIP, CycleState, NodeInfo, Plugin, PodInfo, Status, unschedulable

NAME = "NodePorts"
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"
ANY_IP = "0.0.0.0"


def conflicts(wanted: list[tuple[str, str, int]], used: dict[tuple[str, str, int], int]) -> bool:
    if not used:
        return False
    for ip, proto, port in wanted:
        if ip == ANY_IP:
            if any(u[1] == proto and u[2] == port for u in used):
                return True
        elif (ip, proto, port) in used or (ANY_IP, proto, port) in used:
            return True
    return False


class NodePorts(Plugin):
    NAME = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        return None if pod.ports else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if pod.ports and conflicts(pod.ports, node.used_ports):
            return unschedulable(ERR_REASON)
        return None
