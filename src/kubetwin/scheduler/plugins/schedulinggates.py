"""SchedulingGates (pkg/scheduler/framework/plugins/schedulinggates/scheduling_gates.go):
PreEnqueue keeps pods with non-empty ``spec.schedulingGates`` out of the active queue."""

from __future__ import annotations

from kubetwin.scheduler.framework import Plugin, PodInfo, Status, unresolvable
from kubetwin.scheduler.hints import POD, UPDATE_POD_SCHEDULING_GATES_ELIMINATED, Registration, own_pod_update

NAME = "SchedulingGates"


class SchedulingGates(Plugin):
    NAME = NAME

    def events_to_register(self) -> list[Registration]:
        """The pod's own gates removed (isSchedulableAfterUpdatePodSchedulingGatesEliminated)."""
        return [(POD, UPDATE_POD_SCHEDULING_GATES_ELIMINATED, own_pod_update)]

    def pre_enqueue(self, pod: PodInfo) -> Status | None:
        gates = (pod.pod.get("spec") or {}).get("schedulingGates") or []
        if not gates:
            return None
        names = " ".join(g.get("name", "") for g in gates)
        return unresolvable(f"waiting for scheduling gates: [{names}]")
