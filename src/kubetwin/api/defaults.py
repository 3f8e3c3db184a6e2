"""Defaulting, as the API server applies it on create and update.

Mirrors pkg/apis/core/v1/defaults.go (SetDefaults_Pod, _PodSpec, _Container, _ContainerPort,
_Probe, _HTTPGetAction, _Service, _Namespace, _NodeStatus), pkg/apis/apps/v1/defaults.go,
pkg/apis/batch/v1/defaults.go, pkg/apis/scheduling/v1/defaults.go and
pkg/apis/autoscaling/v2/defaults.go, plus the create-time touches of the namespace registry.

Pod templates get the pod-spec defaults but not the Pod-only ones (requests copied from limits,
enableServiceLinks), exactly as upstream. Pod ``priority``/``preemptionPolicy`` are resolved by the
Priority admission plugin, not here. Everything is idempotent: applying twice equals applying once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]

TERMINATION_MESSAGE_PATH_DEFAULT = "/dev/termination-log"
DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30
DEFAULT_SCHEDULER_NAME = "default-scheduler"
DEFAULT_CLIENT_IP_SERVICE_AFFINITY_SECONDS = 10800


def _dict(parent: Obj, key: str) -> Obj:
    """``parent[key]`` as a dict, creating it when absent; non-dicts are left alone (validation reports them)."""
    cur = parent.get(key)
    if cur is None:
        cur = parent[key] = {}
    return cur if isinstance(cur, dict) else {}


def _dicts(value: Any) -> list[Obj]:
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def image_tag(image: str) -> str:
    """Tag of an image reference as docker's parser sees it: "latest" when neither tag nor digest."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        return last.rsplit(":", 1)[1]
    return "" if digest else "latest"


# -- core/v1 -----------------------------------------------------------------------------------
def _default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    http = probe.get("httpGet")
    if isinstance(http, dict):
        http.setdefault("path", "/")
        http.setdefault("scheme", "HTTP")


def _default_container(c: Obj) -> None:
    if not c.get("imagePullPolicy"):
        image = c.get("image")
        tag = image_tag(image) if isinstance(image, str) and image else ""
        c["imagePullPolicy"] = "Always" if tag == "latest" else "IfNotPresent"
    if not c.get("terminationMessagePath"):
        c["terminationMessagePath"] = TERMINATION_MESSAGE_PATH_DEFAULT
    if not c.get("terminationMessagePolicy"):
        c["terminationMessagePolicy"] = "File"
    for port in _dicts(c.get("ports")):
        if not port.get("protocol"):
            port["protocol"] = "TCP"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(c.get(probe))
    if c.get("resources") is None:
        c["resources"] = {}


def _all_containers(spec: Obj) -> list[Obj]:
    return [*_dicts(spec.get("initContainers")), *_dicts(spec.get("containers"))]


def default_pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec + SetDefaults_Container for every container (pods and templates)."""
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if not spec.get("schedulerName"):
        spec["schedulerName"] = DEFAULT_SCHEDULER_NAME
    for c in _all_containers(spec):
        _default_container(c)
    if spec.get("hostNetwork") is True:
        for c in _all_containers(spec):
            for port in _dicts(c.get("ports")):
                if not port.get("hostPort"):
                    port["hostPort"] = port.get("containerPort")


def _requests_from_limits(c: Obj) -> None:
    res = c.get("resources")
    if not isinstance(res, dict) or not isinstance(res.get("limits"), dict):
        return
    requests = _dict(res, "requests")
    for k, v in res["limits"].items():
        requests.setdefault(k, v)


def _pod_level_requests(spec: Obj) -> None:
    """Pod-level resources: a limit with no request and no container request defaults the request."""
    res = spec.get("resources")
    if not isinstance(res, dict) or not isinstance(res.get("limits"), dict):
        return
    requests = _dict(res, "requests")
    for k, v in res["limits"].items():
        if k in requests or k not in ("cpu", "memory"):
            continue
        if not any(k in ((c.get("resources") or {}).get("requests") or {}) for c in _all_containers(spec)):
            requests[k] = v


def default_pod(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    for c in _all_containers(spec):
        _requests_from_limits(c)
    _pod_level_requests(spec)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    default_pod_spec(spec)


def default_pod_template(template: Any) -> None:
    if isinstance(template, dict):
        default_pod_spec(_dict(template, "spec"))


def default_service(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        client_ip = _dict(_dict(spec, "sessionAffinityConfig"), "clientIP")
        client_ip.setdefault("timeoutSeconds", DEFAULT_CLIENT_IP_SERVICE_AFFINITY_SECONDS)
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    for port in _dicts(spec.get("ports")):
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    stype = spec["type"]
    externally = stype in ("LoadBalancer", "NodePort") or (stype == "ClusterIP" and spec.get("externalIPs"))
    if externally and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and stype in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec["internalTrafficPolicy"] = "Cluster"
    if stype == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True


def default_namespace(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if not spec.get("finalizers"):
        spec["finalizers"] = ["kubernetes"]
    status = _dict(obj, "status")
    if not status.get("phase"):
        status["phase"] = "Active"


def default_node(obj: Obj) -> None:
    status = obj.get("status")
    if (
        isinstance(status, dict)
        and status.get("allocatable") is None
        and isinstance(status.get("capacity"), dict)
    ):
        status["allocatable"] = dict(status["capacity"])


# -- apps/v1 -----------------------------------------------------------------------------------
def default_deployment(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    spec.setdefault("replicas", 1)
    strategy = _dict(spec, "strategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        ru = _dict(strategy, "rollingUpdate")
        ru.setdefault("maxUnavailable", "25%")
        ru.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    default_pod_template(spec.get("template"))


def default_replicaset(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    spec.setdefault("replicas", 1)
    default_pod_template(spec.get("template"))


def default_daemonset(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    strategy = _dict(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        ru = _dict(strategy, "rollingUpdate")
        ru.setdefault("maxUnavailable", 1)
        ru.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    default_pod_template(spec.get("template"))


def default_statefulset(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if not spec.get("podManagementPolicy"):
        spec["podManagementPolicy"] = "OrderedReady"
    strategy = _dict(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        _dict(strategy, "rollingUpdate").setdefault("partition", 0)
    policy = _dict(spec, "persistentVolumeClaimRetentionPolicy")
    policy.setdefault("whenDeleted", "Retain")
    policy.setdefault("whenScaled", "Retain")
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    default_pod_template(spec.get("template"))


# -- batch/v1 ----------------------------------------------------------------------------------
def _default_job_spec(spec: Obj) -> None:
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2**31 - 1 if spec.get("backoffLimitPerIndex") is not None else 6
    if not spec.get("completionMode"):
        spec["completionMode"] = "NonIndexed"
    spec.setdefault("suspend", False)
    if not spec.get("podReplacementPolicy"):
        spec["podReplacementPolicy"] = "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed"
    default_pod_template(spec.get("template"))


def default_job(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    _default_job_spec(spec)
    template = spec.get("template")
    tlabels = (template.get("metadata") or {}).get("labels") if isinstance(template, dict) else None
    meta = _dict(obj, "metadata")
    if tlabels and not meta.get("labels"):
        meta["labels"] = dict(tlabels)


def default_cronjob(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if not spec.get("concurrencyPolicy"):
        spec["concurrencyPolicy"] = "Allow"
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job_template = spec.get("jobTemplate")
    if isinstance(job_template, dict):
        _default_job_spec(_dict(job_template, "spec"))


# -- other groups ------------------------------------------------------------------------------
def default_priority_class(obj: Obj) -> None:
    if not obj.get("preemptionPolicy"):
        obj["preemptionPolicy"] = "PreemptLowerPriority"


def default_hpa(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    spec.setdefault("minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
            }
        ]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        up = _dict(behavior, "scaleUp")
        up.setdefault("stabilizationWindowSeconds", 0)
        up.setdefault("selectPolicy", "Max")
        up.setdefault(
            "policies",
            [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15},
            ],
        )
        down = _dict(behavior, "scaleDown")
        down.setdefault("stabilizationWindowSeconds", 300)
        down.setdefault("selectPolicy", "Max")
        down.setdefault("policies", [{"type": "Percent", "value": 100, "periodSeconds": 15}])


def default_nodegroup(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if not spec.get("capacityType"):
        spec["capacityType"] = "on-demand"
    spec.setdefault("zones", [])
    spec.setdefault("labels", {})
    spec.setdefault("taints", [])
    spec.setdefault("kubelet", {})
    if spec.get("desiredSize") is None and spec.get("minSize") is not None:
        spec["desiredSize"] = spec["minSize"]


def default_clusterautoscaler(obj: Obj) -> None:
    """kubetwin.io ClusterAutoscaler: an empty spec means every upstream default (enabled)."""
    spec = _dict(obj, "spec")
    spec.setdefault("enabled", True)


def default_external_metric_series(obj: Obj) -> None:
    """kubetwin.io ExternalMetricSeries: no labels means an empty label set."""
    spec = _dict(obj, "spec")
    if spec.get("labels") is None:
        spec["labels"] = {}


DEFAULTERS: dict[str, Callable[[Obj], None]] = {
    "Pod": default_pod,
    "Service": default_service,
    "Namespace": default_namespace,
    "Node": default_node,
    "Deployment": default_deployment,
    "ReplicaSet": default_replicaset,
    "DaemonSet": default_daemonset,
    "StatefulSet": default_statefulset,
    "Job": default_job,
    "CronJob": default_cronjob,
    "PriorityClass": default_priority_class,
    "HorizontalPodAutoscaler": default_hpa,
    "NodeGroup": default_nodegroup,
    "ClusterAutoscaler": default_clusterautoscaler,
    "ExternalMetricSeries": default_external_metric_series,
    "PodTemplate": lambda obj: default_pod_template(obj.get("template")),
}


def apply_defaults(obj: dict[str, Any]) -> None:
    """Mutate ``obj`` in place with the defaults upstream's API server applies on create/update."""
    if not isinstance(obj, dict):
        return
    defaulter = DEFAULTERS.get(obj.get("kind") or "")
    if defaulter is not None:
        defaulter(obj)
