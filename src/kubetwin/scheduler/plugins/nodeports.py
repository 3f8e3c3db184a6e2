"""NodePorts (pkg/scheduler/framework/plugins/nodeports/node_ports.go, framework/types.go
HostPortInfo.CheckConflict): a wanted hostPort conflicts with the same protocol/port on the same
IP, and 0.0.0.0 conflicts with every IP."""

from __future__ import annotations

from kubetwin.scheduler.framework import SKIP, CycleState, NodeInfo, Plugin, PodInfo, Status, unschedulable
from kubetwin.scheduler.hints import ADD, DELETE, NODE, POD, Obj, Registration

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


def _after_pod_deleted(pi: PodInfo, old: Obj | None, new: Obj | None, memo: dict) -> bool:
    """isSchedulableAfterPodDeleted: the deleted pod was on (or nominated to) a node and held a host
    port the queued pod wants."""
    if old is None:
        return False
    if not (old.get("spec") or {}).get("nodeName") and not (old.get("status") or {}).get("nominatedNodeName"):
        return False
    ports = PodInfo(old).ports
    if not ports:
        return False
    return conflicts(pi.ports, dict.fromkeys(ports, 1))  # conflicts reads which ports are used


class NodePorts(Plugin):
    NAME = NAME

    def events_to_register(self) -> list[Registration]:
        # a node added always queues (no hint function upstream)
        return [(POD, DELETE, _after_pod_deleted), (NODE, ADD, None)]

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        return None if pod.ports else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if pod.ports and conflicts(pod.ports, node.used_ports):
            return unschedulable(ERR_REASON)
        return None
