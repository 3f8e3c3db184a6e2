"""The API view of a pod's runtime state (pkg/kubelet/kubelet_pods.go ``generateAPIPodStatus`` and
``convertToAPIContainerStatuses``, pkg/kubelet/status/generate.go, pkg/kubelet/kubelet_pods.go
``getPhase``).

:class:`Container` is the runtime state the twin keeps per container; :func:`pod_status` turns a
pod's containers into ``status`` exactly shaped like a kubelet writes it:

- phase from ``getPhase`` (init containers, sidecars, restart policy, terminal pods);
- conditions in upstream's order: PodReadyToStartContainers, Initialized, Ready, ContainersReady,
  PodScheduled, with upstream's reasons/messages (``ContainersNotReady`` / ``containers with
  unready status: [a b]``, ``ContainersNotInitialized``, ``PodCompleted``, ``PodFailed``);
  ``lastTransitionTime`` is kept while a condition's status does not change;
- containerStatuses sorted by name, initContainerStatuses in spec order; waiting reason
  ``ContainerCreating`` (``PodInitializing`` when the pod has init containers), terminated
  ``Completed``/``Error``, ``lastState``, ``restartCount``, ``started``, ``ready``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubetwin.sim import EventLoop

Obj = dict[str, Any]

INIT = "init"
SIDECAR = "sidecar"
REGULAR = "regular"

WAITING = "waiting"
RUNNING = "running"
TERMINATED = "terminated"


@dataclass
class Container:
    name: str
    image: str  # normalised reference, as containerd reports it
    kind: str  # INIT | SIDECAR | REGULAR
    state: str = WAITING
    reason: str = ""  # waiting reason ("" = default: ContainerCreating / PodInitializing)
    message: str = ""
    container_id: str = ""
    image_id: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int = 0
    term_reason: str = ""
    last: Obj | None = None  # lastState.terminated
    restart_count: int = 0
    started: bool = False  # startup probe passed (or none)
    ready: bool = False
    # (started_at, its text): formatted once per start, as every status write of a running container shows it
    started_text: tuple[float, str] | None = field(default=None, repr=False, compare=False)

    def started_at_text(self, clock: EventLoop) -> str:
        """``started_at`` as a metav1.Time text (the clock caches only one instant's text)."""
        at = self.started_at
        if at is None:
            return clock.timestamp(None)
        memo = self.started_text
        if memo is None or memo[0] != at:
            memo = self.started_text = (at, clock.timestamp(at))
        return memo[1]

    def terminated_state(self, clock: EventLoop) -> Obj:
        st: Obj = {
            "containerID": self.container_id,
            "exitCode": self.exit_code,
            "finishedAt": clock.timestamp(self.finished_at),
            "reason": self.term_reason or ("Completed" if self.exit_code == 0 else "Error"),
            "startedAt": self.started_at_text(clock),
        }
        return st


@dataclass
class PodRuntime:
    """What the kubelet knows about one pod, besides its spec. Its containers are fixed when it is
    made (a pod's containers never change): the views by kind are taken once, not per status."""

    containers: list[Container] = field(default_factory=list)
    sandbox_ready: bool = False
    terminal: bool = False  # the pod's containers will not be restarted (finished or deleted)
    pod_ip: str = ""
    inits: list[Container] = field(init=False, repr=False, compare=False)  # kind INIT, in spec order
    sidecars: list[Container] = field(init=False, repr=False, compare=False)  # kind SIDECAR, in spec order
    not_regular: list[Container] = field(init=False, repr=False, compare=False)  # INIT and SIDECAR, in spec order
    regular: list[Container] = field(init=False, repr=False, compare=False)  # kind REGULAR, in spec order
    regular_by_name: list[Container] = field(init=False, repr=False, compare=False)  # REGULAR, sorted by name

    def __post_init__(self) -> None:
        cs = self.containers
        self.inits = [c for c in cs if c.kind == INIT]
        self.sidecars = [c for c in cs if c.kind == SIDECAR]
        self.not_regular = [c for c in cs if c.kind != REGULAR]
        self.regular = [c for c in cs if c.kind == REGULAR]
        self.regular_by_name = sorted(self.regular, key=lambda c: c.name)


def container_api_status(c: Container, default_reason: str, clock: EventLoop) -> Obj:
    """One containerStatuses entry, its keys in sorted order (built in that order, not sorted)."""
    st: Obj = {"containerID": c.container_id} if c.container_id else {}
    st["image"] = c.image
    st["imageID"] = c.image_id
    st["lastState"] = {"terminated": dict(c.last)} if c.last is not None else {}
    st["name"] = c.name
    st["ready"] = c.ready
    st["restartCount"] = c.restart_count
    st["started"] = c.started
    if c.state == RUNNING:
        st["state"] = {"running": {"startedAt": c.started_at_text(clock)}}
    elif c.state == TERMINATED:
        st["state"] = {"terminated": c.terminated_state(clock)}
    else:
        waiting: Obj = {"reason": c.reason or default_reason}
        if c.message:
            waiting["message"] = c.message
        st["state"] = {"waiting": waiting}
    return st


def get_phase(pod: Obj, rt: PodRuntime) -> str:
    """kubelet_pods.go getPhase over the runtime containers."""
    restart_policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    pending_init = failed_init = 0
    unknown = running = waiting = stopped = succeeded = 0
    for c in rt.inits:
        if c.state == RUNNING:
            pending_init += 1
        elif c.state == TERMINATED:
            if c.exit_code != 0:
                failed_init += 1
        elif c.last is not None:
            if c.last.get("exitCode", 0) != 0:
                failed_init += 1
        else:
            pending_init += 1
    for c in rt.sidecars:
        if c.state == RUNNING:
            if not c.started:
                pending_init += 1
            running += 1
        elif c.state == WAITING and c.last is None:
            pending_init += 1
            waiting += 1
    regular_started = False
    for c in rt.regular:
        if c.state == RUNNING:
            running += 1
        elif c.state == TERMINATED:
            stopped += 1
            if c.exit_code == 0:
                succeeded += 1
        elif c.last is not None:
            stopped += 1
        else:
            waiting += 1
        if c.state != WAITING or c.last is not None:
            regular_started = True
    if failed_init > 0 and restart_policy == "Never":
        return "Failed"
    if (pending_init > 0 and not regular_started) or waiting > 0:
        return "Pending"
    if running > 0 and unknown == 0:
        return "Running"
    if running == 0 and stopped > 0 and unknown == 0:
        if rt.terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if restart_policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def _go_list(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"


def _containers_ready(rt: PodRuntime, phase: str) -> tuple[str, str, str]:
    if phase == "Succeeded":
        return "False", "PodCompleted", ""
    if phase == "Failed":
        return "False", "PodFailed", ""
    unready = [c.name for c in rt.sidecars if not c.ready]
    unready += [c.name for c in rt.regular if not c.ready]
    if unready:
        return "False", "ContainersNotReady", f"containers with unready status: {_go_list(unready)}"
    return "True", "", ""


def _initialized(rt: PodRuntime, phase: str) -> tuple[str, str, str]:
    incomplete = []
    for c in rt.not_regular:
        if c.kind == SIDECAR and not c.started:
            incomplete.append(c.name)
        elif c.kind == INIT and not (c.state == TERMINATED and c.exit_code == 0):
            incomplete.append(c.name)
    if phase == "Succeeded":
        return "True", "PodCompleted", ""
    if any(c.state != WAITING or c.last is not None for c in rt.regular):
        return "True", "", ""
    if incomplete:
        return "False", "ContainersNotInitialized", f"containers with incomplete status: {_go_list(incomplete)}"
    return "True", "", ""


# the conditions a kubelet sets, in the order it writes them (first in every status it builds)
_OWNED_ORDER = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
_OWNED_CONDITIONS = frozenset(_OWNED_ORDER)
_N_OWNED = len(_OWNED_ORDER)


def _cond(type_: str, status: str, reason: str, message: str, now: str, prev: Obj | None, mine: bool) -> Obj:
    """The condition, its lastTransitionTime kept from ``prev`` (the pod's) while its status holds;
    ``prev`` itself when it is one this kubelet built (``mine``) and nothing in it changes."""
    since = None
    if prev and prev.get("status") == status:
        if mine and prev.get("reason", "") == reason and prev.get("message", "") == message:
            return prev  # read-only, as every stored value: the same object serves both versions
        since = prev.get("lastTransitionTime")
    c: Obj = {"type": type_, "status": status, "lastProbeTime": None, "lastTransitionTime": since or now}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def pod_status(
    pod: Obj,
    rt: PodRuntime,
    host_ip: str,
    start_time: str,
    clock: EventLoop,
    qos: str,
    phase: str | None = None,
    prior: Obj | None = None,
) -> Obj:
    """The full ``status`` a kubelet would write for ``pod`` in runtime state ``rt``; ``phase``
    overrides getPhase (an evicted pod is Failed whatever its containers did). ``prior``: the
    status last built here for this pod and written; while the pod holds it, its conditions are
    known to be this function's (its own five first) and the unchanged ones are shared."""
    old_status = pod.get("status") or {}
    mine = prior is not None and old_status is prior
    if mine:
        written = old_status["conditions"]
        prevs, others = written[:_N_OWNED], written[_N_OWNED:]
    else:
        old = {str(c.get("type")): c for c in old_status.get("conditions") or [] if isinstance(c, dict)}
        prevs = [old.get(t) for t in _OWNED_ORDER]
        # Conditions owned by others (DisruptionTarget, readiness gates) are kept as they are.
        others = [c for t, c in old.items() if t not in _OWNED_CONDITIONS]
    now = clock.timestamp()
    phase = phase or get_phase(pod, rt)
    default_reason = "PodInitializing" if rt.not_regular else "ContainerCreating"
    cr_status, cr_reason, cr_msg = _containers_ready(rt, phase)
    in_status, in_reason, in_msg = _initialized(rt, phase)
    sandbox = "True" if rt.sandbox_ready and not rt.terminal and phase not in ("Succeeded", "Failed") else "False"
    conditions = [
        _cond("PodReadyToStartContainers", sandbox, "", "", now, prevs[0], mine),
        _cond("Initialized", in_status, in_reason, in_msg, now, prevs[1], mine),
        _cond("Ready", cr_status, cr_reason, cr_msg, now, prevs[2], mine),
        _cond("ContainersReady", cr_status, cr_reason, cr_msg, now, prevs[3], mine),
        _cond("PodScheduled", "True", "", "", now, prevs[4], mine),
        *others,
    ]
    status: Obj = {"phase": phase, "conditions": conditions, "hostIP": host_ip, "hostIPs": [{"ip": host_ip}]}
    if rt.pod_ip:
        status["podIP"] = rt.pod_ip
        status["podIPs"] = [{"ip": rt.pod_ip}]
    status["startTime"] = start_time
    if rt.not_regular:
        status["initContainerStatuses"] = [container_api_status(c, default_reason, clock) for c in rt.not_regular]
    status["containerStatuses"] = [container_api_status(c, default_reason, clock) for c in rt.regular_by_name]
    status["qosClass"] = old_status.get("qosClass") or qos
    for k in ("nominatedNodeName", "resize", "resourceClaimStatuses"):
        if k in old_status:
            status[k] = old_status[k]
    return status
