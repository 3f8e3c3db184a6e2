from __future__ import annotations

import copy
from typing import Any

import pytest

from builders import make_pod
from kubetwin.api.defaults import apply_defaults, image_tag


def defaulted(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    apply_defaults(out)
    return out


def get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


POD = make_pod("p").container("c", limits={"cpu": "1", "memory": "1Gi"}, ports=[{"containerPort": 80}]).obj()
TEMPLATE = {
    "metadata": {"labels": {"app": "x"}},
    "spec": {"containers": [{"name": "c", "image": "nginx", "resources": {"limits": {"cpu": "1"}}}]},
}


def workload(kind: str, api_version: str = "apps/v1", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": "w", "namespace": "default"},
            "spec": {"template": copy.deepcopy(TEMPLATE), **spec}}  # fmt: skip


@pytest.mark.parametrize(
    ("obj", "path", "expected"),
    [
        pytest.param(POD, "spec.restartPolicy", "Always", id="pod-restartPolicy"),
        pytest.param(POD, "spec.terminationGracePeriodSeconds", 30, id="pod-grace"),
        pytest.param(POD, "spec.dnsPolicy", "ClusterFirst", id="pod-dns"),
        pytest.param(POD, "spec.schedulerName", "default-scheduler", id="pod-scheduler"),
        pytest.param(POD, "spec.securityContext", {}, id="pod-securityContext"),
        pytest.param(POD, "spec.enableServiceLinks", True, id="pod-serviceLinks"),
        pytest.param(POD, "spec.containers.0.imagePullPolicy", "IfNotPresent", id="pull-tagged"),
        pytest.param(POD, "spec.containers.0.terminationMessagePath", "/dev/termination-log", id="tm-path"),
        pytest.param(POD, "spec.containers.0.terminationMessagePolicy", "File", id="tm-policy"),
        pytest.param(POD, "spec.containers.0.ports.0.protocol", "TCP", id="port-protocol"),
        pytest.param(
            POD,
            "spec.containers.0.resources.requests",
            {"cpu": "1", "memory": "1Gi"},
            id="requests-from-limits",
        ),
        pytest.param(
            make_pod("p").container("c", image="nginx").obj(),
            "spec.containers.0.imagePullPolicy",
            "Always",
            id="pull-untagged",
        ),
        pytest.param(
            make_pod("p").container("c", image="nginx:latest").obj(),
            "spec.containers.0.imagePullPolicy",
            "Always",
            id="pull-latest",
        ),
        pytest.param(
            make_pod("p").container("c", image="reg:5000/nginx").obj(),
            "spec.containers.0.imagePullPolicy",
            "Always",
            id="pull-registry-port",
        ),
        pytest.param(
            make_pod("p")
            .container("c", requests={"cpu": "100m"}, limits={"cpu": "1", "memory": "1Gi"})
            .obj(),
            "spec.containers.0.resources.requests",
            {"cpu": "100m", "memory": "1Gi"},
            id="requests-kept-missing-from-limits",
        ),
        pytest.param(
            make_pod("p").init_container("i", limits={"cpu": "1"}).obj(),
            "spec.initContainers.0.resources.requests",
            {"cpu": "1"},
            id="init-requests-from-limits",
        ),
        pytest.param(workload("Deployment"), "spec.replicas", 1, id="deploy-replicas"),
        pytest.param(
            workload("Deployment"),
            "spec.strategy",
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            id="deploy-strategy",
        ),
        pytest.param(
            workload("Deployment", strategy={"type": "Recreate"}),
            "spec.strategy",
            {"type": "Recreate"},
            id="deploy-recreate",
        ),
        pytest.param(workload("Deployment"), "spec.revisionHistoryLimit", 10, id="deploy-history"),
        pytest.param(workload("Deployment"), "spec.progressDeadlineSeconds", 600, id="deploy-deadline"),
        pytest.param(
            workload("Deployment"), "spec.template.spec.restartPolicy", "Always", id="template-restart"
        ),
        pytest.param(
            workload("Deployment"),
            "spec.template.spec.containers.0.resources",
            {"limits": {"cpu": "1"}},
            id="template-no-requests-from-limits",
        ),
        pytest.param(workload("ReplicaSet", replicas=3), "spec.replicas", 3, id="rs-keeps-replicas"),
        pytest.param(workload("ReplicaSet"), "spec.replicas", 1, id="rs-replicas"),
        pytest.param(
            workload("DaemonSet"),
            "spec.updateStrategy",
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
            id="ds-strategy",
        ),
        pytest.param(workload("DaemonSet"), "spec.revisionHistoryLimit", 10, id="ds-history"),
        pytest.param(workload("StatefulSet"), "spec.podManagementPolicy", "OrderedReady", id="sts-pmp"),
        pytest.param(
            workload("StatefulSet"),
            "spec.updateStrategy",
            {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            id="sts-strategy",
        ),
        pytest.param(workload("Job", "batch/v1"), "spec.completions", 1, id="job-completions"),
        pytest.param(workload("Job", "batch/v1"), "spec.parallelism", 1, id="job-parallelism"),
        pytest.param(
            workload("Job", "batch/v1", completions=5),
            "spec",
            {"completions": 5, "parallelism": 1},
            id="job-completions-set",
        ),
        pytest.param(
            workload("Job", "batch/v1", parallelism=3),
            "spec.parallelism",
            3,
            id="job-parallelism-set-no-completions",
        ),
        pytest.param(workload("Job", "batch/v1"), "spec.backoffLimit", 6, id="job-backoff"),
        pytest.param(workload("Job", "batch/v1"), "spec.completionMode", "NonIndexed", id="job-mode"),
        pytest.param(workload("Job", "batch/v1"), "spec.suspend", False, id="job-suspend"),
        pytest.param(
            workload("Job", "batch/v1"),
            "spec.podReplacementPolicy",
            "TerminatingOrFailed",
            id="job-replacement",
        ),
        pytest.param(
            workload("Job", "batch/v1"), "metadata.labels", {"app": "x"}, id="job-labels-from-template"
        ),
        pytest.param(
            {"kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}},
            "spec",
            {
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                "sessionAffinity": "None",
                "type": "ClusterIP",
                "internalTrafficPolicy": "Cluster",
            },  # fmt: skip
            id="service",
        ),
        pytest.param(
            {
                "kind": "Service",
                "metadata": {"name": "s"},
                "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "targetPort": "http"}]},
            },
            "spec.ports.0.targetPort",
            "http",
            id="service-named-target",
        ),
        pytest.param(
            {"kind": "PriorityClass", "value": 10}, "preemptionPolicy", "PreemptLowerPriority", id="pc"
        ),
        pytest.param(
            {"kind": "Namespace", "metadata": {"name": "x"}},
            "spec.finalizers",
            ["kubernetes"],
            id="ns-finalizers",
        ),
        pytest.param(
            {"kind": "Namespace", "metadata": {"name": "x"}}, "status.phase", "Active", id="ns-phase"
        ),
        pytest.param(
            {"kind": "NodeGroup", "spec": {"instanceType": "m5.large", "minSize": 2, "maxSize": 5}},
            "spec",
            {
                "instanceType": "m5.large",
                "minSize": 2,
                "maxSize": 5,
                "capacityType": "on-demand",
                "zones": [],
                "labels": {},
                "taints": [],
                "kubelet": {},
                "desiredSize": 2,
            },  # fmt: skip
            id="nodegroup",
        ),
    ],
)
def test_defaults(obj: dict[str, Any], path: str, expected: Any) -> None:
    out = defaulted(obj)
    value = get(out, path)
    if path == "spec" and obj.get("kind") == "Job":
        value = {k: value[k] for k in expected}
    assert value == expected


@pytest.mark.parametrize("obj", [pytest.param(POD, id="pod"), pytest.param(workload("Deployment"), id="deploy"),
                                 pytest.param(workload("Job", "batch/v1"), id="job")])  # fmt: skip
def test_defaults_idempotent(obj: dict[str, Any]) -> None:
    once = defaulted(obj)
    assert defaulted(once) == once


def test_template_gets_no_enable_service_links() -> None:
    assert "enableServiceLinks" not in defaulted(workload("Deployment"))["spec"]["template"]["spec"]


def test_cronjob_template_defaults() -> None:
    cj = {
        "kind": "CronJob",
        "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": copy.deepcopy(TEMPLATE)}}},
    }
    out = defaulted(cj)
    assert out["spec"]["concurrencyPolicy"] == "Allow"
    assert out["spec"]["successfulJobsHistoryLimit"] == 3 and out["spec"]["failedJobsHistoryLimit"] == 1
    assert out["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 6


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        pytest.param("nginx", "latest", id="bare"),
        pytest.param("nginx:1.25", "1.25", id="tag"),
        pytest.param("localhost:5000/nginx", "latest", id="registry-port"),
        pytest.param("nginx@sha256:abc", "", id="digest"),
    ],
)
def test_image_tag(image: str, tag: str) -> None:
    assert image_tag(image) == tag


def test_garbage_does_not_raise() -> None:
    for garbage in (
        {"kind": "Pod", "spec": "x"},
        {"kind": "Deployment", "spec": {"template": 3}},
        {"kind": 5},
        {},
    ):
        apply_defaults(garbage)
