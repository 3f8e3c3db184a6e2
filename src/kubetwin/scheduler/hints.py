"""Queueing hints: which cluster events may make a pod that plugins rejected schedulable.

Kubernetes v1.32 turns the ``SchedulerQueueingHints`` feature gate on by default (KEP-4247): a pod
in the unschedulable pool goes back to the active or backoff queue only when an event that one of
the plugins that rejected it (its *rejector plugins*) registered for, and that plugin's hint
function says ``Queue``, or when nobody rejected it (an error), or at the 5-minute flush. This
module follows

- pkg/scheduler/framework/types.go (``ClusterEvent``, ``ActionType`` bits; ``Update`` covers every
  update bit) and events.go (``NodeSchedulingPropertiesChange``: unschedulable -> schedulable,
  allocatable, labels, taints, conditions without heartbeat times, annotations, in that order;
  ``PodSchedulingPropertiesChange``: labels, scale-down, scheduling gates eliminated, tolerations,
  else "other");
- pkg/scheduler/backend/queue/scheduling_queue.go (``isEventOfInterest``, ``isPodWorthRequeuing``,
  ``determineSchedulingHintForInFlightPod``);
- each plugin's ``EventsToRegister`` (the plugin modules define them: ``Plugin.events_to_register``).

A hint function takes the queued pod, the old and the new object (``None`` for an add / a delete)
and a per-event scratch dict (``memo``: what one event's pods of a kind share, e.g. a NodeInfo
built from the node, or one answer per set of tolerations) and returns True for ``Queue``, False
for ``QueueSkip``. A registration without a function always queues (upstream's nil
QueueingHintFn).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]

NODE = "Node"
POD = "Pod"
WILDCARD = "*"

# ActionType bits (framework/types.go)
ADD = 1 << 0
DELETE = 1 << 1
UPDATE_NODE_ALLOCATABLE = 1 << 2
UPDATE_NODE_LABEL = 1 << 3
UPDATE_NODE_TAINT = 1 << 4
UPDATE_NODE_CONDITION = 1 << 5
UPDATE_NODE_ANNOTATION = 1 << 6
UPDATE_POD_LABEL = 1 << 7
UPDATE_POD_SCALE_DOWN = 1 << 8
UPDATE_POD_TOLERATION = 1 << 9
UPDATE_POD_SCHEDULING_GATES_ELIMINATED = 1 << 10
UPDATE_POD_OTHER = 1 << 11
UPDATE = (
    UPDATE_NODE_ALLOCATABLE | UPDATE_NODE_LABEL | UPDATE_NODE_TAINT | UPDATE_NODE_CONDITION
    | UPDATE_NODE_ANNOTATION | UPDATE_POD_LABEL | UPDATE_POD_SCALE_DOWN | UPDATE_POD_TOLERATION
    | UPDATE_POD_SCHEDULING_GATES_ELIMINATED | UPDATE_POD_OTHER
)  # fmt: skip
ALL = ADD | DELETE | UPDATE

HintFn = Callable[[Any, "Obj | None", "Obj | None", dict[Any, Any]], bool]
# (resource, action bits, hint function or None): one entry of a plugin's EventsToRegister
Registration = tuple[str, int, "HintFn | None"]
# (resource, action bits, old object, new object): one event as the queue saw it
SeenEvent = tuple[str, int, "Obj | None", "Obj | None"]


def _conditions_without_heartbeats(node: Obj) -> list[tuple[Any, ...]]:
    return [
        tuple(sorted((k, str(v)) for k, v in c.items() if k != "lastHeartbeatTime"))
        for c in (node.get("status") or {}).get("conditions") or ()
    ]


def _changed(a: Any, b: Any) -> bool:
    return a is not b and a != b


def node_update_actions(old: Obj, new: Obj) -> list[int]:
    """NodeSchedulingPropertiesChange: the update events one node write makes, in upstream's order."""
    os_, ns_ = old.get("spec") or {}, new.get("spec") or {}
    om, nm = old["metadata"], new["metadata"]
    ost, nst = old.get("status") or {}, new.get("status") or {}
    out: list[int] = []
    if bool(os_.get("unschedulable")) != bool(ns_.get("unschedulable")) and not ns_.get("unschedulable"):
        out.append(UPDATE_NODE_TAINT)  # NodeSpecUnschedulableChange
    if _changed(ost.get("allocatable"), nst.get("allocatable")):
        out.append(UPDATE_NODE_ALLOCATABLE)
    if _changed(om.get("labels") or {}, nm.get("labels") or {}):
        out.append(UPDATE_NODE_LABEL)
    if _changed(os_.get("taints") or [], ns_.get("taints") or []):
        out.append(UPDATE_NODE_TAINT)
    if ost.get("conditions") is not nst.get("conditions") and (
        _conditions_without_heartbeats(old) != _conditions_without_heartbeats(new)
    ):
        out.append(UPDATE_NODE_CONDITION)
    if _changed(om.get("annotations") or {}, nm.get("annotations") or {}):
        out.append(UPDATE_NODE_ANNOTATION)
    return out


def pod_update_actions(old: Obj, new: Obj) -> list[int]:
    """PodSchedulingPropertiesChange: the update events one pod write makes (scale-down needs
    in-place resize, which the twin does not model)."""
    out: list[int] = []
    if _changed(old["metadata"].get("labels") or {}, new["metadata"].get("labels") or {}):
        out.append(UPDATE_POD_LABEL)
    os_, ns_ = old.get("spec") or {}, new.get("spec") or {}
    if os_.get("schedulingGates") and not ns_.get("schedulingGates"):
        out.append(UPDATE_POD_SCHEDULING_GATES_ELIMINATED)
    if _changed(os_.get("tolerations") or [], ns_.get("tolerations") or []):
        out.append(UPDATE_POD_TOLERATION)
    return out or [UPDATE_POD_OTHER]


class Hints:
    """The profile's registrations (plugin name -> its EventsToRegister) and the two questions the
    queue asks: is any plugin interested in an event, and is a pod worth requeuing for it."""

    def __init__(self, plugins: list[Any]) -> None:
        self._by_plugin: dict[str, list[Registration]] = {}
        for p in plugins:
            regs = p.events_to_register()
            if regs:
                self._by_plugin[p.NAME] = list(regs)
        self._interest: dict[tuple[str, int], bool] = {}

    def interested(self, resource: str, action: int) -> bool:
        """isEventOfInterest: some plugin of the profile registered for the event."""
        key = (resource, action)
        hit = self._interest.get(key)
        if hit is None:
            hit = resource == WILDCARD or any(
                r == resource and a & action for regs in self._by_plugin.values() for r, a, _ in regs
            )
            self._interest[key] = hit
        return hit

    def worth_requeuing(self, pi: Any, resource: str, action: int, old: Obj | None, new: Obj | None,
                        memo: dict[Any, Any]) -> bool:  # fmt: skip
        """isPodWorthRequeuing: no rejector plugin (an error) or a wildcard event queues; otherwise
        the first rejector plugin registered for the event whose hint says Queue."""
        rejectors = pi.unschedulable_plugins
        if not rejectors or resource == WILDCARD:
            return True
        for name in rejectors:
            for r, a, fn in self._by_plugin.get(name, ()):
                if r == resource and a & action and (fn is None or fn(pi, old, new, memo)):
                    return True
        return False


def same_pod(pi: Any, obj: Obj | None) -> bool:
    """The event is about the queued pod itself (the hints' ``pod.UID == modifiedPod.UID``)."""
    return obj is not None and obj["metadata"].get("uid") == pi.uid


def own_pod_update(pi: Any, old: Obj | None, new: Obj | None, memo: dict[Any, Any]) -> bool:
    """Queue when the update is the queued pod's own (SchedulingGates' gates eliminated,
    TaintToleration's tolerations added)."""
    return same_pod(pi, new)


def assigned(pod: Obj | None) -> bool:
    return pod is not None and bool((pod.get("spec") or {}).get("nodeName"))
