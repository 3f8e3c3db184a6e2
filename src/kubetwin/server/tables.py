"""Server-side printing: ``meta.k8s.io/v1 Table`` for ``kubectl get``.

Reproduces k8s.io/kubernetes pkg/printers/internalversion/printers.go (column definitions and the
``print<Kind>`` functions) and pkg/printers/storage/storage.go (``TableConvertor``: the apiserver
always generates the wide cells; kubectl hides ``priority: 1`` columns unless ``-o wide``). Column
descriptions come from upstream's API documentation (:mod:`kubetwin.api.schema`), like the
``SwaggerDoc()`` calls upstream. AGE and the other durations use upstream's ``HumanDuration``
(:func:`kubetwin.sim.format_duration`) against the virtual clock.

kubetwin's own kinds (``kubetwin.io``) get columns of their own; any other kind gets
``NAME AGE``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from kubetwin.api import schema as sch
from kubetwin.api.kinds import KindInfo
from kubetwin.api.quantity import parse_quantity
from kubetwin.api.selectors import label_selector_from_dict
from kubetwin.sim import format_duration

Obj = dict[str, Any]

NODE_UNREACHABLE_POD_REASON = "NodeLost"  # k8s.io/kubernetes/pkg/util/node
LABEL_NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
NODE_LABEL_ROLE = "kubernetes.io/role"
LOAD_BALANCER_WIDTH = 16

_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def _doc(definition: str, field: str) -> str:
    d = sch.definitions().get(definition if definition.startswith("io.") else "io.k8s.api." + definition)
    if not d:
        return ""
    prop = (d.get("properties") or {}).get(field) or {}
    desc = prop.get("description")
    return desc if isinstance(desc, str) else ""


class Col:
    __slots__ = ("name", "type", "format", "priority", "_desc")

    def __init__(self, name: str, type_: str = "string", desc: str | tuple[str, str] = "", *, priority: int = 0,
                 format: str = "") -> None:  # fmt: skip
        self.name = name
        self.type = type_
        self.format = format
        self.priority = priority
        self._desc = desc

    def definition(self) -> Obj:
        desc = _doc(*self._desc) if isinstance(self._desc, tuple) else self._desc
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": desc,
            "priority": self.priority,
        }


def _name_col() -> Col:
    return Col("Name", "string", (_META, "name"), format="name")


def _age_col() -> Col:
    return Col("Age", "string", (_META, "creationTimestamp"))


_CONTAINERS = "Names of each container in the template."
_IMAGES = "Images referenced by each container in the template."


def _workload_columns(*cols: Col, selector: tuple[str, str] | None = None) -> list[Col]:
    """The columns of a workload printer (see ``_workload_row``): Name, the kind's own ``cols``,
    Age, then the wide Containers, Images and, for kinds with a selector, Selector (documented by
    the ``selector`` field)."""
    wide = [Col("Containers", "string", _CONTAINERS, priority=1), Col("Images", "string", _IMAGES, priority=1)]
    if selector is not None:
        wide.append(Col("Selector", "string", selector, priority=1))
    return [_name_col(), *cols, _age_col(), *wide]


class _Ctx:
    """What a printer needs: the clock and whether to add the wide cells."""

    def __init__(self, now: float | None, clock: Any, wide: bool) -> None:
        self.clock = clock
        self.now = now if now is not None else (clock.now if clock is not None else None)
        self.wide = wide

    def seconds(self, ts: Any) -> float | None:
        if not isinstance(ts, str) or not ts:
            return None
        try:
            if self.clock is not None:
                return float(self.clock.parse_timestamp(ts))
            dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            return dt.timestamp()
        except (ValueError, TypeError):
            return None

    def since(self, ts: Any) -> str:
        """translateTimestampSince: ``<unknown>`` for a missing timestamp."""
        t = self.seconds(ts)
        if t is None or self.now is None:
            return "<unknown>"
        return format_duration(self.now - t)

    def between(self, start: Any, end: Any) -> str:
        a, b = self.seconds(start), self.seconds(end)
        if a is None or b is None:
            return "<unknown>"
        return format_duration(b - a)


# -- helpers ------------------------------------------------------------------------------------


def _d(obj: Any, *path: str) -> Any:
    cur = obj
    for p in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(p)
    return cur


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def _name(obj: Obj) -> str:
    return str(_d(obj, "metadata", "name") or "")


def _age(ctx: _Ctx, obj: Obj) -> str:
    return ctx.since(_d(obj, "metadata", "creationTimestamp"))


def _format_labels(labels: Any) -> str:
    """labels.FormatLabels: sorted ``k=v`` pairs, ``<none>`` when empty."""
    if not isinstance(labels, Mapping) or not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def _format_selector(sel: Any) -> str:
    """metav1.FormatLabelSelector."""
    if sel is not None and not isinstance(sel, Mapping):
        return "<error>"
    try:
        text = str(label_selector_from_dict(sel))
    except ValueError:
        return "<error>"
    return text or "<none>"


def _workload_row(
    ctx: _Ctx,
    obj: Obj,
    cells: list[Any],
    workload_spec: Any,
    format_selector: Callable[[Any], str] | None = _format_selector,
) -> list[Any]:
    """A workload printer's row (see ``_workload_columns``): name, the kind's own ``cells``, age;
    when wide, layoutContainerCells of ``workload_spec.template.spec`` and, unless
    ``format_selector`` is None, ``workload_spec.selector`` formatted by it."""
    row: list[Any] = [_name(obj), *cells, _age(ctx, obj)]
    if ctx.wide:
        cs = _d(workload_spec, "template", "spec", "containers") or []
        row.append(",".join(str(c.get("name", "")) for c in cs if isinstance(c, Mapping)))
        row.append(",".join(str(c.get("image", "")) for c in cs if isinstance(c, Mapping)))
        if format_selector is not None:
            row.append(format_selector(_d(workload_spec, "selector")))
    return row


def _int_or_string(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


def _quantity(v: Any) -> str:
    try:
        return str(parse_quantity(v))
    except ValueError:
        return str(v)


def _bool_ptr(v: Any) -> str:
    """printBoolPtr."""
    if v is None:
        return "<unset>"
    return "True" if v else "False"


# -- pods ---------------------------------------------------------------------------------------

POD_COLUMNS = [
    _name_col(),
    Col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    Col("Status", "string", "The aggregate status of the containers in this pod."),
    Col("Restarts", "string", "The number of times the containers in this pod have been restarted and when the "
        "last container in this pod has restarted."),  # fmt: skip
    _age_col(),
    Col("IP", "string", ("core.v1.PodStatus", "podIP"), priority=1),
    Col("Node", "string", ("core.v1.PodSpec", "nodeName"), priority=1),
    Col("Nominated Node", "string", ("core.v1.PodStatus", "nominatedNodeName"), priority=1),
    Col("Readiness Gates", "string", ("core.v1.PodSpec", "readinessGates"), priority=1),
]

_POD_SUCCEEDED = [{"type": "Completed", "status": "True", "reason": "Succeeded",
                   "message": "The pod has completed successfully."}]  # fmt: skip
_POD_FAILED = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]


def _is_restartable_init(c: Any) -> bool:
    return isinstance(c, Mapping) and c.get("restartPolicy") == "Always"


def _later(ctx: _Ctx, current: Any, candidate: Any) -> Any:
    a, b = ctx.seconds(current), ctx.seconds(candidate)
    if b is None:
        return current
    if a is None or a < b:
        return candidate
    return current


def pod_row(ctx: _Ctx, pod: Obj) -> tuple[list[Any], list[Obj] | None]:
    """printPod: cells and row conditions."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    restarts = 0
    restartable_init_restarts = 0
    total = len(spec.get("containers") or [])
    ready = 0
    last_restart: Any = None
    last_restartable_init_restart: Any = None

    phase = status.get("phase") or ""
    reason = phase
    if status.get("reason"):
        reason = status["reason"]
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    conditions = _POD_SUCCEEDED if phase == "Succeeded" else _POD_FAILED if phase == "Failed" else None

    init_specs = {c.get("name"): c for c in spec.get("initContainers") or [] if isinstance(c, Mapping)}
    total += sum(1 for c in init_specs.values() if _is_restartable_init(c))
    n_init = len(spec.get("initContainers") or [])

    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += _int(cs.get("restartCount"))
        last_term = _d(cs, "lastState", "terminated")
        if isinstance(last_term, Mapping):
            last_restart = _later(ctx, last_restart, last_term.get("finishedAt"))
        sidecar = _is_restartable_init(init_specs.get(cs.get("name")))
        if sidecar:
            restartable_init_restarts += _int(cs.get("restartCount"))
            if isinstance(last_term, Mapping):
                last_restartable_init_restart = _later(
                    ctx, last_restartable_init_restart, last_term.get("finishedAt")
                )
        state = cs.get("state") or {}
        terminated = state.get("terminated")
        waiting = state.get("waiting")
        if isinstance(terminated, Mapping) and _int(terminated.get("exitCode")) == 0:
            continue
        if sidecar and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if isinstance(terminated, Mapping):
            if not terminated.get("reason"):
                if _int(terminated.get("signal")):
                    reason = f"Init:Signal:{_int(terminated.get('signal'))}"
                else:
                    reason = f"Init:ExitCode:{_int(terminated.get('exitCode'))}"
            else:
                reason = "Init:" + str(terminated["reason"])
            initializing = True
        elif isinstance(waiting, Mapping) and waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = "Init:" + str(waiting["reason"])
            initializing = True
        else:
            reason = f"Init:{i}/{n_init}"
            initializing = True
        break

    initialized = any(
        c.get("type") == "Initialized" and c.get("status") == "True" for c in status.get("conditions") or []
    )
    if not initializing or initialized:
        restarts = restartable_init_restarts
        last_restart = last_restartable_init_restart
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += _int(cs.get("restartCount"))
            last_term = _d(cs, "lastState", "terminated")
            if isinstance(last_term, Mapping):
                last_restart = _later(ctx, last_restart, last_term.get("finishedAt"))
            state = cs.get("state") or {}
            waiting = state.get("waiting")
            terminated = state.get("terminated")
            if isinstance(waiting, Mapping) and waiting.get("reason"):
                reason = str(waiting["reason"])
            elif isinstance(terminated, Mapping) and terminated.get("reason"):
                reason = str(terminated["reason"])
            elif isinstance(terminated, Mapping):
                if _int(terminated.get("signal")):
                    reason = f"Signal:{_int(terminated.get('signal'))}"
                else:
                    reason = f"ExitCode:{_int(terminated.get('exitCode'))}"
            elif cs.get("ready") and isinstance(state.get("running"), Mapping):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(
                c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
            )
            reason = "Running" if pod_ready else "NotReady"

    deleting = bool(_d(pod, "metadata", "deletionTimestamp"))
    if deleting and status.get("reason") == NODE_UNREACHABLE_POD_REASON:
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"

    restarts_str = str(restarts)
    if restarts != 0 and last_restart:
        restarts_str = f"{restarts} ({ctx.since(last_restart)} ago)"

    cells: list[Any] = [_name(pod), f"{ready}/{total}", reason, restarts_str, _age(ctx, pod)]
    if ctx.wide:
        ips = status.get("podIPs") or []
        pod_ip = (ips[0].get("ip") if ips and isinstance(ips[0], Mapping) else "") or ""
        gates = spec.get("readinessGates") or []
        gates_str = "<none>"
        if gates:
            true_conditions = 0
            for gate in gates:
                for cond in status.get("conditions") or []:
                    if cond.get("type") == gate.get("conditionType"):
                        if cond.get("status") == "True":
                            true_conditions += 1
                        break
            gates_str = f"{true_conditions}/{len(gates)}"
        cells += [
            pod_ip or "<none>",
            spec.get("nodeName") or "<none>",
            status.get("nominatedNodeName") or "<none>",
            gates_str,
        ]
    return cells, conditions


# -- nodes --------------------------------------------------------------------------------------

NODE_COLUMNS = [
    _name_col(),
    Col("Status", "string", "The status of the node"),
    Col("Roles", "string", "The roles of the node"),
    _age_col(),
    Col("Version", "string", ("core.v1.NodeSystemInfo", "kubeletVersion")),
    Col("Internal-IP", "string", ("core.v1.NodeStatus", "addresses"), priority=1),
    Col("External-IP", "string", ("core.v1.NodeStatus", "addresses"), priority=1),
    Col("OS-Image", "string", ("core.v1.NodeSystemInfo", "osImage"), priority=1),
    Col("Kernel-Version", "string", ("core.v1.NodeSystemInfo", "kernelVersion"), priority=1),
    Col("Container-Runtime", "string", ("core.v1.NodeSystemInfo", "containerRuntimeVersion"), priority=1),
]


def node_roles(node: Obj) -> list[str]:
    """findNodeRoles: ``node-role.kubernetes.io/<role>`` keys and ``kubernetes.io/role`` values."""
    roles: set[str] = set()
    for k, v in (_d(node, "metadata", "labels") or {}).items():
        if k.startswith(LABEL_NODE_ROLE_PREFIX):
            role = k[len(LABEL_NODE_ROLE_PREFIX) :]
            if role:
                roles.add(role)
        elif k == NODE_LABEL_ROLE and v:
            roles.add(str(v))
    return sorted(roles)


def _node_address(node: Obj, type_: str) -> str:
    for a in _d(node, "status", "addresses") or []:
        if a.get("type") == type_:
            return str(a.get("address", ""))
    return "<none>"


def node_row(ctx: _Ctx, node: Obj) -> list[Any]:
    status: list[str] = []
    for cond in _d(node, "status", "conditions") or []:
        if cond.get("type") == "Ready":
            status = ["Ready" if cond.get("status") == "True" else "NotReady"]
    if not status:
        status = ["Unknown"]
    if _d(node, "spec", "unschedulable"):
        status.append("SchedulingDisabled")
    info = _d(node, "status", "nodeInfo") or {}
    cells: list[Any] = [
        _name(node), ",".join(status), ",".join(node_roles(node)) or "<none>", _age(ctx, node),
        info.get("kubeletVersion", ""),
    ]  # fmt: skip
    if ctx.wide:
        cells += [
            _node_address(node, "InternalIP"),
            _node_address(node, "ExternalIP"),
            info.get("osImage") or "<unknown>",
            info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>",
        ]
    return cells


# -- workloads ----------------------------------------------------------------------------------

DEPLOYMENT_COLUMNS = _workload_columns(
    Col("Ready", "string", "Number of the pod with ready state"),
    Col("Up-to-date", "string", ("apps.v1.DeploymentStatus", "updatedReplicas")),
    Col("Available", "string", ("apps.v1.DeploymentStatus", "availableReplicas")),
    selector=("apps.v1.DeploymentSpec", "selector"),
)


def _replicas(obj: Obj) -> int:
    v = _d(obj, "spec", "replicas")
    return v if isinstance(v, int) and not isinstance(v, bool) else 1


def _deployment_selector(sel: Any) -> str:
    """The Deployment printer's selector: ``<invalid>`` on error, empty when it selects everything."""
    try:
        return str(label_selector_from_dict(sel)) if isinstance(sel, Mapping) or sel is None else "<invalid>"
    except ValueError:
        return "<invalid>"


def deployment_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    st = obj.get("status") or {}
    cells = [f"{_int(st.get('readyReplicas'))}/{_replicas(obj)}", _int(st.get("updatedReplicas")),
             _int(st.get("availableReplicas"))]  # fmt: skip
    return _workload_row(ctx, obj, cells, obj.get("spec"), _deployment_selector)


REPLICASET_COLUMNS = _workload_columns(
    Col("Desired", "integer", ("apps.v1.ReplicaSetSpec", "replicas")),
    Col("Current", "integer", ("apps.v1.ReplicaSetStatus", "replicas")),
    Col("Ready", "integer", ("apps.v1.ReplicaSetStatus", "readyReplicas")),
    selector=("apps.v1.ReplicaSetSpec", "selector"),
)


def replicaset_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    st = obj.get("status") or {}
    cells = [_replicas(obj), _int(st.get("replicas")), _int(st.get("readyReplicas"))]
    return _workload_row(ctx, obj, cells, obj.get("spec"))


DAEMONSET_COLUMNS = _workload_columns(
    Col("Desired", "integer", ("apps.v1.DaemonSetStatus", "desiredNumberScheduled")),
    Col("Current", "integer", ("apps.v1.DaemonSetStatus", "currentNumberScheduled")),
    Col("Ready", "integer", ("apps.v1.DaemonSetStatus", "numberReady")),
    Col("Up-to-date", "integer", ("apps.v1.DaemonSetStatus", "updatedNumberScheduled")),
    Col("Available", "integer", ("apps.v1.DaemonSetStatus", "numberAvailable")),
    Col("Node Selector", "string", ("core.v1.PodSpec", "nodeSelector")),
    selector=("apps.v1.DaemonSetSpec", "selector"),
)


def daemonset_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    st = obj.get("status") or {}
    cells: list[Any] = [
        _int(st.get("desiredNumberScheduled")), _int(st.get("currentNumberScheduled")), _int(st.get("numberReady")),
        _int(st.get("updatedNumberScheduled")), _int(st.get("numberAvailable")),
        _format_labels(_d(obj, "spec", "template", "spec", "nodeSelector")),
    ]  # fmt: skip
    return _workload_row(ctx, obj, cells, obj.get("spec"))


STATEFULSET_COLUMNS = _workload_columns(
    Col("Ready", "string", "Number of the pod with ready state"),
)


def statefulset_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    cells = [f"{_int(_d(obj, 'status', 'readyReplicas'))}/{_replicas(obj)}"]
    return _workload_row(ctx, obj, cells, obj.get("spec"), None)


JOB_COLUMNS = _workload_columns(
    Col("Status", "string", "Status of the job."),
    Col("Completions", "string", ("batch.v1.JobStatus", "succeeded")),
    Col("Duration", "string", "Time required to complete the job."),
    selector=("batch.v1.JobSpec", "selector"),
)


def _has_condition(obj: Obj, type_: str) -> bool:
    """hasJobCondition: the first condition of that type decides."""
    for c in _d(obj, "status", "conditions") or []:
        if c.get("type") == type_:
            return c.get("status") == "True"
    return False


def job_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    spec = obj.get("spec") or {}
    st = obj.get("status") or {}
    succeeded = _int(st.get("succeeded"))
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    else:
        parallelism = _int(spec.get("parallelism"))
        completions = f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
    duration = ""
    if st.get("startTime"):
        if not st.get("completionTime"):
            duration = ctx.since(st["startTime"])
        else:
            duration = ctx.between(st["startTime"], st["completionTime"])
    if _has_condition(obj, "Complete"):
        status = "Complete"
    elif _has_condition(obj, "Failed"):
        status = "Failed"
    elif _d(obj, "metadata", "deletionTimestamp"):
        status = "Terminating"
    elif _has_condition(obj, "Suspended"):
        status = "Suspended"
    elif _has_condition(obj, "FailureTarget"):
        status = "FailureTarget"
    else:
        status = "Running"
    return _workload_row(ctx, obj, [status, completions, duration], spec)


CRONJOB_COLUMNS = _workload_columns(
    Col("Schedule", "string", ("batch.v1.CronJobSpec", "schedule")),
    Col("Timezone", "string", ("batch.v1.CronJobSpec", "timeZone")),
    Col("Suspend", "boolean", ("batch.v1.CronJobSpec", "suspend")),
    Col("Active", "integer", ("batch.v1.CronJobStatus", "active")),
    Col("Last Schedule", "string", ("batch.v1.CronJobStatus", "lastScheduleTime")),
    selector=("batch.v1.JobSpec", "selector"),
)


def cronjob_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    spec = obj.get("spec") or {}
    st = obj.get("status") or {}
    last = ctx.since(st["lastScheduleTime"]) if st.get("lastScheduleTime") else "<none>"
    cells: list[Any] = [
        spec.get("schedule", ""), spec.get("timeZone") or "<none>", _bool_ptr(spec.get("suspend")),
        len(st.get("active") or []), last,
    ]  # fmt: skip
    return _workload_row(ctx, obj, cells, _d(spec, "jobTemplate", "spec"))


# -- services and networking --------------------------------------------------------------------

SERVICE_COLUMNS = [
    _name_col(),
    Col("Type", "string", ("core.v1.ServiceSpec", "type")),
    Col("Cluster-IP", "string", ("core.v1.ServiceSpec", "clusterIP")),
    Col("External-IP", "string", ("core.v1.ServiceSpec", "externalIPs")),
    Col("Port(s)", "string", ("core.v1.ServiceSpec", "ports")),
    _age_col(),
    Col("Selector", "string", ("core.v1.ServiceSpec", "selector"), priority=1),
]


def _lb_status(ingress: Any, wide: bool) -> str:
    """loadBalancerStatusStringer: sorted unique IPs/hostnames, clipped to 16 bytes unless wide."""
    result = set()
    for ing in ingress or []:
        if ing.get("ip"):
            result.add(ing["ip"])
        elif ing.get("hostname"):
            result.add(ing["hostname"])
    r = ",".join(sorted(result))
    if not wide and len(r) > LOAD_BALANCER_WIDTH:
        r = r[: LOAD_BALANCER_WIDTH - 3] + "..."
    return r


def _service_external_ip(svc: Obj, wide: bool) -> str:
    spec = svc.get("spec") or {}
    type_ = spec.get("type") or "ClusterIP"
    external = [str(x) for x in spec.get("externalIPs") or []]
    if type_ in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if type_ == "LoadBalancer":
        lb = _lb_status(_d(svc, "status", "loadBalancer", "ingress"), wide)
        if external:
            return ",".join([*(lb.split(",") if lb else []), *external])
        return lb or "<pending>"
    if type_ == "ExternalName":
        return str(spec.get("externalName", ""))
    return "<unknown>"


def _service_ports(ports: Any) -> str:
    pieces = []
    for p in ports or []:
        proto = p.get("protocol") or "TCP"
        if _int(p.get("nodePort")) > 0:
            pieces.append(f"{p.get('port')}:{p.get('nodePort')}/{proto}")
        else:
            pieces.append(f"{p.get('port')}/{proto}")
    return ",".join(pieces)


def service_row(ctx: _Ctx, svc: Obj) -> list[Any]:
    spec = svc.get("spec") or {}
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    cells: list[Any] = [
        _name(svc), spec.get("type") or "ClusterIP", ips[0] if ips else "<none>",
        _service_external_ip(svc, ctx.wide), _service_ports(spec.get("ports")) or "<none>", _age(ctx, svc),
    ]  # fmt: skip
    if ctx.wide:
        cells.append(_format_labels(spec.get("selector")))
    return cells


ENDPOINTS_COLUMNS = [_name_col(), Col("Endpoints", "string", ("core.v1.Endpoints", "subsets")), _age_col()]


def _format_endpoints(ep: Obj) -> str:
    subsets = ep.get("subsets") or []
    if not subsets:
        return "<none>"
    out: list[str] = []
    limit, more, count = 3, False, 0
    for ss in subsets:
        addrs = ss.get("addresses") or []
        ports = ss.get("ports") or []
        if not ports:
            count += len(addrs)
            for a in addrs:
                if len(out) == limit:
                    more = True
                    break
                out.append(str(a.get("ip", "")))
            continue
        for port in ports:
            count += len(addrs)
            for a in addrs:
                if len(out) == limit:
                    more = True
                    break
                ip = str(a.get("ip", ""))
                host = f"[{ip}]" if ":" in ip else ip
                out.append(f"{host}:{port.get('port')}")
    ret = ",".join(out)
    if more:
        return f"{ret} + {count - limit} more..."
    return ret


def endpoints_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    return [_name(obj), _format_endpoints(obj), _age(ctx, obj)]


INGRESS_COLUMNS = [
    _name_col(),
    Col("Class", "string", "The name of the IngressClass resource that should be used for additional configuration"),
    Col("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
    Col("Address", "string", "Address is a list containing ingress points for the load-balancer"),
    Col("Ports", "string", "Ports of TLS configurations that open"),
    _age_col(),
]


def ingress_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    spec = obj.get("spec") or {}
    rules = spec.get("rules") or []
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == 3:
            more = True
        if not more and rule.get("host"):
            hosts.append(rule["host"])
    hosts_str = ",".join(hosts) if hosts else "*"
    if hosts and more:
        hosts_str = f"{hosts_str} + {len(rules) - 3} more..."
    return [
        _name(obj), spec.get("ingressClassName") or "<none>", hosts_str,
        _lb_status(_d(obj, "status", "loadBalancer", "ingress"), ctx.wide),
        "80, 443" if spec.get("tls") else "80", _age(ctx, obj),
    ]  # fmt: skip


NETWORKPOLICY_COLUMNS = [
    _name_col(), Col("Pod-Selector", "string", ("networking.v1.NetworkPolicySpec", "podSelector")), _age_col(),
]


def networkpolicy_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    return [_name(obj), _format_selector(_d(obj, "spec", "podSelector") or {}), _age(ctx, obj)]


# -- events -------------------------------------------------------------------------------------

EVENT_COLUMNS = [
    Col("Last Seen", "string", ("core.v1.Event", "lastTimestamp")),
    Col("Type", "string", ("core.v1.Event", "type")),
    Col("Reason", "string", ("core.v1.Event", "reason")),
    Col("Object", "string", ("core.v1.Event", "involvedObject")),
    Col("Subobject", "string", ("core.v1.ObjectReference", "fieldPath"), priority=1),
    Col("Source", "string", ("core.v1.Event", "source"), priority=1),
    Col("Message", "string", ("core.v1.Event", "message")),
    Col("First Seen", "string", ("core.v1.Event", "firstTimestamp"), priority=1),
    Col("Count", "string", ("core.v1.Event", "count"), priority=1),
    Col("Name", "string", (_META, "name"), priority=1, format="name"),
]


def event_row(ctx: _Ctx, ev: Obj) -> list[Any]:
    first = ctx.since(ev["firstTimestamp"]) if ev.get("firstTimestamp") else ctx.since(ev.get("eventTime"))
    last = ctx.since(ev["lastTimestamp"]) if ev.get("lastTimestamp") else first
    count = _int(ev.get("count"))
    series = ev.get("series")
    if isinstance(series, Mapping):
        last = ctx.since(series.get("lastObservedTime"))
        count = _int(series.get("count"))
    elif count == 0:
        count = 1
    inv = ev.get("involvedObject") or {}
    kind = str(inv.get("kind", "")).lower()
    target = f"{kind}/{inv['name']}" if inv.get("name") else kind
    message = str(ev.get("message", "")).strip()
    if not ctx.wide:
        return [last, ev.get("type", ""), ev.get("reason", ""), target, message]
    source = ev.get("source") or {}
    component = source.get("component") or ev.get("reportingComponent") or ""  # core/v1 name of reportingController
    host = source.get("host") or ev.get("reportingInstance") or ""
    src = f"{component}, {host}" if host else component
    return [last, ev.get("type", ""), ev.get("reason", ""), target, inv.get("fieldPath", ""), src, message, first,
            count, _name(ev)]  # fmt: skip


# -- config and small kinds ---------------------------------------------------------------------

NAMESPACE_COLUMNS = [_name_col(), Col("Status", "string", "The status of the namespace"), _age_col()]
CONFIGMAP_COLUMNS = [_name_col(), Col("Data", "string", ("core.v1.ConfigMap", "data")), _age_col()]
SECRET_COLUMNS = [
    _name_col(), Col("Type", "string", ("core.v1.Secret", "type")), Col("Data", "string", ("core.v1.Secret", "data")),
    _age_col(),
]  # fmt: skip
SERVICEACCOUNT_COLUMNS = [_name_col(), Col("Secrets", "string", ("core.v1.ServiceAccount", "secrets")), _age_col()]
PRIORITYCLASS_COLUMNS = [
    _name_col(),
    Col("Value", "integer", ("scheduling.v1.PriorityClass", "value")),
    Col("Global-Default", "boolean", ("scheduling.v1.PriorityClass", "globalDefault")),
    _age_col(),
    Col("PreemptionPolicy", "string", ("scheduling.v1.PriorityClass", "preemptionPolicy"), priority=1),
]
PDB_COLUMNS = [
    _name_col(),
    Col("Min Available", "string", "The minimum number of pods that must be available."),
    Col("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
    Col("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
    _age_col(),
]
LEASE_COLUMNS = [_name_col(), Col("Holder", "string", ("coordination.v1.LeaseSpec", "holderIdentity")), _age_col()]
RUNTIMECLASS_COLUMNS = [_name_col(), Col("Handler", "string", ("node.v1.RuntimeClass", "handler")), _age_col()]
CONTROLLERREVISION_COLUMNS = [
    _name_col(), Col("Controller", "string", "Controller of the object"),
    Col("Revision", "string", ("apps.v1.ControllerRevision", "revision")), _age_col(),
]  # fmt: skip


def namespace_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    return [_name(obj), _d(obj, "status", "phase") or "", _age(ctx, obj)]


def configmap_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    return [_name(obj), len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), _age(ctx, obj)]


def secret_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    return [_name(obj), obj.get("type") or "Opaque", len(obj.get("data") or {}), _age(ctx, obj)]


def serviceaccount_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    return [_name(obj), len(obj.get("secrets") or []), _age(ctx, obj)]


def priorityclass_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    cells: list[Any] = [_name(obj), _int(obj.get("value")), bool(obj.get("globalDefault")), _age(ctx, obj)]
    if ctx.wide:
        cells.append(obj.get("preemptionPolicy") or "")
    return cells


def pdb_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    spec = obj.get("spec") or {}
    min_av = _int_or_string(spec["minAvailable"]) if spec.get("minAvailable") is not None else "N/A"
    max_un = _int_or_string(spec["maxUnavailable"]) if spec.get("maxUnavailable") is not None else "N/A"
    return [_name(obj), min_av, max_un, _int(_d(obj, "status", "disruptionsAllowed")), _age(ctx, obj)]


def lease_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    return [_name(obj), _d(obj, "spec", "holderIdentity") or "", _age(ctx, obj)]


def runtimeclass_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    return [_name(obj), obj.get("handler", ""), _age(ctx, obj)]


def controllerrevision_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    controller = "<none>"
    for ref in _d(obj, "metadata", "ownerReferences") or []:
        if ref.get("controller"):
            group = str(ref.get("apiVersion", "")).rpartition("/")[0]
            gk = f"{ref.get('kind', '')}.{group}" if group else str(ref.get("kind", ""))
            controller = f"{gk.lower()}/{ref.get('name', '')}"
            break
    return [_name(obj), controller, obj.get("revision", 0), _age(ctx, obj)]


# -- autoscaling --------------------------------------------------------------------------------

HPA_COLUMNS = [
    _name_col(),
    Col("Reference", "string", ("autoscaling.v2.HorizontalPodAutoscalerSpec", "scaleTargetRef")),
    Col("Targets", "string", ("autoscaling.v2.HorizontalPodAutoscalerSpec", "metrics")),
    Col("MinPods", "string", ("autoscaling.v2.HorizontalPodAutoscalerSpec", "minReplicas")),
    Col("MaxPods", "string", ("autoscaling.v2.HorizontalPodAutoscalerSpec", "maxReplicas")),
    Col("Replicas", "string", ("autoscaling.v2.HorizontalPodAutoscalerStatus", "currentReplicas")),
    _age_col(),
]


def format_hpa_metrics(specs: Any, statuses: Any) -> str:
    """formatHPAMetrics: at most two targets, ``cpu: 45%/60%``, ``<unknown>`` before the first sample."""
    specs = specs or []
    statuses = statuses or []
    if not specs:
        return "<none>"
    out: list[str] = []

    def status_of(i: int, key: str) -> Mapping[str, Any] | None:
        if len(statuses) > i and isinstance(statuses[i], Mapping):
            v = statuses[i].get(key)
            return v if isinstance(v, Mapping) else None
        return None

    for i, spec in enumerate(specs):
        t = spec.get("type")
        if t in ("External", "Object"):  # the same cells, from .external or .object
            key = "external" if t == "External" else "object"
            target = _d(spec, key, "target") or {}
            cur = status_of(i, key)
            if target.get("averageValue") is not None:
                current = "<unknown>"
                if cur is not None and _d(cur, "current", "averageValue") is not None:
                    current = _quantity(_d(cur, "current", "averageValue"))
                out.append(f"{current}/{_quantity(target['averageValue'])} (avg)")
            else:
                current = _quantity(_d(cur, "current", "value") or 0) if cur is not None else "<unknown>"
                out.append(f"{current}/{_quantity(target.get('value') or 0)}")
        elif t == "Pods":
            cur = status_of(i, "pods")
            current = _quantity(_d(cur, "current", "averageValue") or 0) if cur is not None else "<unknown>"
            out.append(f"{current}/{_quantity(_d(spec, 'pods', 'target', 'averageValue') or 0)}")
        elif t in ("Resource", "ContainerResource"):
            key = "resource" if t == "Resource" else "containerResource"
            src = spec.get(key) or {}
            target = src.get("target") or {}
            cur = status_of(i, key)
            name = src.get("name", "")
            if target.get("averageValue") is not None:
                current = _quantity(_d(cur, "current", "averageValue") or 0) if cur is not None else "<unknown>"
                out.append(f"{name}: {current}/{_quantity(target['averageValue'])}")
            else:
                current = "<unknown>"
                if cur is not None and _d(cur, "current", "averageUtilization") is not None:
                    current = f"{_d(cur, 'current', 'averageUtilization')}%"
                tgt = f"{target['averageUtilization']}%" if target.get("averageUtilization") is not None else "<auto>"
                out.append(f"{name}: {current}/{tgt}")
        else:
            out.append("<unknown type>")
    limit = 2
    if len(out) > limit:
        return f"{', '.join(out[:limit])} + {len(out) - limit} more..."
    return ", ".join(out)


def hpa_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    spec = obj.get("spec") or {}
    ref = spec.get("scaleTargetRef") or {}
    min_pods = str(spec["minReplicas"]) if spec.get("minReplicas") is not None else "<unset>"
    return [
        _name(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}",
        format_hpa_metrics(spec.get("metrics"), _d(obj, "status", "currentMetrics")), min_pods,
        _int(spec.get("maxReplicas")), _int(_d(obj, "status", "currentReplicas")), _age(ctx, obj),
    ]  # fmt: skip


# -- kubetwin.io --------------------------------------------------------------------------------

NODEGROUP_COLUMNS = [
    _name_col(),
    Col("Instance-Type", "string", "EC2 instance type of the group's nodes."),
    Col("Capacity-Type", "string", "on-demand or spot."),
    Col("Desired", "integer", "Number of nodes the group keeps (desiredSize clamped to minSize..maxSize)."),
    Col("Ready", "integer", "Number of the group's nodes that are Ready."),
    Col("Min", "integer", "Smallest size the group may be scaled to."),
    Col("Max", "integer", "Largest size the group may be scaled to."),
    _age_col(),
    Col("Zones", "string", "Availability zones the group spreads its nodes over.", priority=1),
]


def nodegroup_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    spec = obj.get("spec") or {}
    st = obj.get("status") or {}
    min_size = _int(spec.get("minSize"))
    max_size = _int(spec.get("maxSize")) if spec.get("maxSize") is not None else max(min_size, 1)
    desired = st.get("desiredSize")
    if not isinstance(desired, int) or isinstance(desired, bool):
        want = spec.get("desiredSize", min_size)
        desired = min(max(_int(want), min_size), max_size)
    cells: list[Any] = [
        _name(obj), spec.get("instanceType") or "<none>", spec.get("capacityType") or "on-demand", desired,
        _int(st.get("readyReplicas")), min_size, max_size, _age(ctx, obj),
    ]  # fmt: skip
    if ctx.wide:
        cells.append(",".join(str(z) for z in spec.get("zones") or []) or "<default>")
    return cells


LOADPROFILE_COLUMNS = [
    _name_col(),
    Col("Selector", "string", "The pods (same namespace) the traffic is split across."),
    Col("Traffic", "string", "Shape of the traffic over time: constant, steps, ramp, diurnal or trace."),
    _age_col(),
]
TRAFFIC_KINDS = ("constant", "steps", "ramp", "diurnal", "trace")


def _target(spec: Mapping[str, Any]) -> str:
    ref = spec.get("targetRef")
    if isinstance(ref, Mapping):
        return f"{ref.get('kind', '')}/{ref.get('name', '')}"
    target = spec.get("target")
    if isinstance(target, Mapping):
        return f"{target.get('kind', '')}/{target.get('name', '')}"
    return str(target) if target else "<none>"


def loadprofile_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    spec = obj.get("spec") or {}
    traffic = spec.get("traffic")
    kinds = [k for k in TRAFFIC_KINDS if isinstance(traffic, Mapping) and k in traffic]
    shape = ",".join(kinds) or "<none>"
    if isinstance(traffic, Mapping) and kinds == ["constant"] and isinstance(traffic["constant"], Mapping) \
            and "rps" in traffic["constant"]:
        shape = f"constant {traffic['constant']['rps']} rps"
    return [_name(obj), _format_selector(spec.get("selector")), shape, _age(ctx, obj)]


SCENARIO_COLUMNS = [
    _name_col(),
    Col("Duration", "string", "How much virtual time the scenario runs for."),
    Col("Seed", "integer", "Seed of the random number generator."),
    _age_col(),
]


def scenario_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    spec = obj.get("spec") or {}
    duration = spec.get("duration")
    seed = spec.get("seed")
    return [_name(obj), str(duration) if duration is not None else "<none>",
            seed if isinstance(seed, int) else "<none>", _age(ctx, obj)]  # fmt: skip


EXTERNALMETRIC_COLUMNS = [
    _name_col(), Col("Metric", "string", "Name of the external metric the series feeds."), _age_col(),
]


def externalmetric_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    spec = obj.get("spec") or {}
    metric = spec.get("metricName") or spec.get("metric") or "<none>"
    if isinstance(metric, Mapping):
        metric = metric.get("name") or "<none>"
    return [_name(obj), str(metric), _age(ctx, obj)]


FAULT_COLUMNS = [
    _name_col(),
    Col("Type", "string", "What happens: spot interruption, node failure, pod errors, memory leak..."),
    Col("Target", "string", "The object the fault hits."),
    Col("At", "string", "Virtual time (from the start of the run) at which the fault fires."),
    _age_col(),
]


def fault_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    spec = obj.get("spec") or {}
    at = spec.get("at")
    return [_name(obj), str(spec.get("type") or "<none>"), _target(spec), str(at) if at is not None else "<none>",
            _age(ctx, obj)]  # fmt: skip


VPA_COLUMNS = [
    _name_col(),
    Col("Mode", "string", "Describes which changes to the pod resources the updater may make."),
    Col("CPU", "string", "The first container's recommended CPU request (target)."),
    Col("Mem", "string", "The first container's recommended memory request (target)."),
    Col("Provided", "string", "Status of the RecommendationProvided condition."),
    Col("Age", "date", (_META, "creationTimestamp")),
]


def vpa_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    """The VerticalPodAutoscaler CRD's additionalPrinterColumns (.spec.updatePolicy.updateMode,
    .status.recommendation.containerRecommendations[0].target.cpu/.memory, the status of the
    RecommendationProvided condition); a path that finds nothing is a null cell."""
    mode = _d(obj, "spec", "updatePolicy", "updateMode")
    recs = _d(obj, "status", "recommendation", "containerRecommendations")
    target = (recs[0].get("target") or {}) if isinstance(recs, list) and recs and isinstance(recs[0], dict) else {}
    provided = None
    for c in _d(obj, "status", "conditions") or []:
        if isinstance(c, dict) and c.get("type") == "RecommendationProvided":
            provided = c.get("status")
            break
    return [_name(obj), mode, target.get("cpu"), target.get("memory"), provided, _age(ctx, obj)]


# -- default ------------------------------------------------------------------------------------

DEFAULT_COLUMNS = [_name_col(), _age_col()]


def default_row(ctx: _Ctx, obj: Obj) -> list[Any]:
    return [_name(obj), _age(ctx, obj)]


Printer = Callable[[_Ctx, Obj], list[Any]]

PRINTERS: dict[str, tuple[list[Col], Printer]] = {
    "nodes": (NODE_COLUMNS, node_row),
    "namespaces": (NAMESPACE_COLUMNS, namespace_row),
    "deployments.apps": (DEPLOYMENT_COLUMNS, deployment_row),
    "replicasets.apps": (REPLICASET_COLUMNS, replicaset_row),
    "daemonsets.apps": (DAEMONSET_COLUMNS, daemonset_row),
    "statefulsets.apps": (STATEFULSET_COLUMNS, statefulset_row),
    "controllerrevisions.apps": (CONTROLLERREVISION_COLUMNS, controllerrevision_row),
    "jobs.batch": (JOB_COLUMNS, job_row),
    "cronjobs.batch": (CRONJOB_COLUMNS, cronjob_row),
    "services": (SERVICE_COLUMNS, service_row),
    "endpoints": (ENDPOINTS_COLUMNS, endpoints_row),
    "events": (EVENT_COLUMNS, event_row),
    "configmaps": (CONFIGMAP_COLUMNS, configmap_row),
    "secrets": (SECRET_COLUMNS, secret_row),
    "serviceaccounts": (SERVICEACCOUNT_COLUMNS, serviceaccount_row),
    "priorityclasses.scheduling.k8s.io": (PRIORITYCLASS_COLUMNS, priorityclass_row),
    "poddisruptionbudgets.policy": (PDB_COLUMNS, pdb_row),
    "horizontalpodautoscalers.autoscaling": (HPA_COLUMNS, hpa_row),
    "verticalpodautoscalers.autoscaling.k8s.io": (VPA_COLUMNS, vpa_row),
    "leases.coordination.k8s.io": (LEASE_COLUMNS, lease_row),
    "runtimeclasses.node.k8s.io": (RUNTIMECLASS_COLUMNS, runtimeclass_row),
    "ingresses.networking.k8s.io": (INGRESS_COLUMNS, ingress_row),
    "networkpolicies.networking.k8s.io": (NETWORKPOLICY_COLUMNS, networkpolicy_row),
    "nodegroups.kubetwin.io": (NODEGROUP_COLUMNS, nodegroup_row),
    "loadprofiles.kubetwin.io": (LOADPROFILE_COLUMNS, loadprofile_row),
    "scenarios.kubetwin.io": (SCENARIO_COLUMNS, scenario_row),
    "externalmetricseries.kubetwin.io": (EXTERNALMETRIC_COLUMNS, externalmetric_row),
    "faults.kubetwin.io": (FAULT_COLUMNS, fault_row),
}


def columns_for(info: KindInfo) -> list[Col]:
    if info.resource == "pods":
        return POD_COLUMNS
    return PRINTERS.get(info.resource, (DEFAULT_COLUMNS, default_row))[0]


def _row_object(obj: Obj, include_object: str) -> Obj | None:
    if include_object == "Object":
        return obj
    if include_object == "None":
        return None
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def to_table(
    info: KindInfo,
    objs: list[dict],
    wide: bool = True,
    include_object: str = "Metadata",
    now: float | None = None,
    clock: Any = None,
    *,
    list_meta: dict | None = None,
) -> dict:
    """A ``meta.k8s.io/v1`` Table for ``objs`` of kind ``info``.

    ``wide=True`` is what the apiserver always does (kubectl drops ``priority: 1`` columns itself
    unless ``-o wide``); ``wide=False`` leaves the priority-1 columns out of both the definitions
    and the cells. ``include_object`` is the ``includeObject`` query parameter: ``Metadata``
    (PartialObjectMetadata, the default), ``Object`` (the full object, sent by ``--sort-by``) or
    ``None``. Ages are measured at ``now`` (defaults to ``clock.now``; timestamps are read with
    ``clock.parse_timestamp``, or as Unix seconds when no clock is given).
    """
    ctx = _Ctx(now, clock, wide)
    if info.resource == "pods":
        columns = POD_COLUMNS
    else:
        columns = PRINTERS.get(info.resource, (DEFAULT_COLUMNS, default_row))[0]
    defs = [c.definition() for c in columns if wide or c.priority == 0]
    rows: list[Obj] = []
    for obj in objs:
        conditions = None
        if info.resource == "pods":
            cells, conditions = pod_row(ctx, obj)
        else:
            cells = PRINTERS.get(info.resource, (DEFAULT_COLUMNS, default_row))[1](ctx, obj)
        row: Obj = {"cells": cells}
        if conditions:
            row["conditions"] = [dict(c) for c in conditions]
        o = _row_object(obj, include_object)
        if o is not None:
            row["object"] = o
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": dict(list_meta or {}),
        "columnDefinitions": defs,
        "rows": rows,
    }
