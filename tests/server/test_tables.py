"""Server-side Table printing: columns and cells as upstream's printers.go computes them."""

from __future__ import annotations

from typing import Any

import pytest

from builders import make_node, make_pod
from kubetwin.api.kinds import by_resource
from kubetwin.server.tables import format_hpa_metrics, to_table
from kubetwin.sim import EventLoop

NOW = 3 * 3600.0  # three hours into the run


@pytest.fixture
def clock() -> EventLoop:
    loop = EventLoop()
    loop.advance(NOW)
    return loop


def ts(clock: EventLoop, seconds_ago: float) -> str:
    return clock.timestamp(NOW - seconds_ago)


def running(name: str = "c", ready: bool = True, restarts: int = 0, **extra: Any) -> dict:
    return {"name": name, "ready": ready, "restartCount": restarts, "state": {"running": {}}, **extra}


def waiting(name: str, reason: str, restarts: int = 0, **extra: Any) -> dict:
    return {"name": name, "ready": False, "restartCount": restarts, "state": {"waiting": {"reason": reason}}, **extra}


def terminated(name: str, reason: str = "", code: int = 0) -> dict:
    term: dict[str, Any] = {"exitCode": code}
    if reason:
        term["reason"] = reason
    return {"name": name, "ready": False, "restartCount": 0, "state": {"terminated": term}}


def pod_status_cells(clock: EventLoop, pod: dict) -> list:
    table = to_table(by_resource("pods"), [pod], clock=clock)
    return table["rows"][0]["cells"]


POD_CASES = [
    pytest.param(
        make_pod("p").container("c").set("status", {"phase": "Running", "containerStatuses": [running()]}).obj(),
        "1/1", "Running", "0", id="running",
    ),
    pytest.param(
        make_pod("p").container("c").set("status", {"phase": "Pending"}).obj(),
        "0/1", "Pending", "0", id="pending-unscheduled",
    ),
    pytest.param(
        make_pod("p").container("c").set(
            "status", {"phase": "Pending", "containerStatuses": [waiting("c", "ContainerCreating")]}
        ).obj(),
        "0/1", "ContainerCreating", "0", id="container-creating",
    ),
    pytest.param(
        make_pod("p").container("a").container("b").set(
            "status", {"phase": "Running", "containerStatuses": [running("a"), running("b", ready=False)]}
        ).obj(),
        "1/2", "Running", "0", id="ready-1-of-2",
    ),
    pytest.param(
        make_pod("p").container("c").set("status", {"phase": "Running", "containerStatuses": [
            waiting("c", "CrashLoopBackOff", restarts=3,
                    lastState={"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "REL:120"}}),
        ]}).obj(),
        "0/1", "CrashLoopBackOff", "3 (2m ago)", id="crashloop",
    ),
    pytest.param(
        make_pod("p").container("c").set(
            "status", {"phase": "Succeeded", "containerStatuses": [terminated("c", "Completed")]}
        ).obj(),
        "0/1", "Completed", "0", id="completed",
    ),
    pytest.param(
        make_pod("p").container("c").set(
            "status", {"phase": "Running", "containerStatuses": [terminated("c", "OOMKilled", 137)]}
        ).obj(),
        "0/1", "OOMKilled", "0", id="oomkilled",
    ),
    pytest.param(
        make_pod("p").container("c").set(
            "status", {"phase": "Failed", "containerStatuses": [terminated("c", code=2)]}
        ).obj(),
        "0/1", "ExitCode:2", "0", id="exit-code-no-reason",
    ),
    pytest.param(
        make_pod("p").container("c").set(
            "status", {"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."}
        ).obj(),
        "0/1", "Evicted", "0", id="evicted",
    ),
    pytest.param(
        make_pod("p").container("c").set("metadata.deletionTimestamp", "REL:5").set(
            "status", {"phase": "Running", "containerStatuses": [running()]}
        ).obj(),
        "1/1", "Terminating", "0", id="terminating",
    ),
    pytest.param(
        make_pod("p").container("c").set("metadata.deletionTimestamp", "REL:5").set(
            "status", {"phase": "Running", "reason": "NodeLost", "containerStatuses": [running()]}
        ).obj(),
        "1/1", "Unknown", "0", id="node-lost",
    ),
    pytest.param(
        make_pod("p").init_container("init").container("c").set("status", {
            "phase": "Pending",
            "initContainerStatuses": [{"name": "init", "ready": False, "restartCount": 0, "state": {"running": {}}}],
            "containerStatuses": [waiting("c", "PodInitializing")],
        }).obj(),
        "0/1", "Init:0/1", "0", id="init-0-of-1",
    ),
    pytest.param(
        make_pod("p").init_container("init").container("c").set("status", {
            "phase": "Pending",
            "initContainerStatuses": [waiting("init", "CrashLoopBackOff", restarts=2)],
            "containerStatuses": [waiting("c", "PodInitializing")],
        }).obj(),
        "0/1", "Init:CrashLoopBackOff", "2", id="init-crashloop",
    ),
    pytest.param(
        make_pod("p").init_container("init").container("c").set("status", {
            "phase": "Pending",
            "initContainerStatuses": [terminated("init", code=3)],
        }).obj(),
        "0/1", "Init:ExitCode:3", "0", id="init-failed",
    ),
    pytest.param(
        make_pod("p").sidecar("proxy").container("c").set("status", {
            "phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
            "initContainerStatuses": [running("proxy", started=True)],
            "containerStatuses": [running()],
        }).obj(),
        "2/2", "Running", "0", id="sidecar-counts",
    ),
    pytest.param(
        make_pod("p").container("c").set("status", {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}],
        }).obj(),
        "0/1", "SchedulingGated", "0", id="scheduling-gated",
    ),
]


def _relative(clock: EventLoop, obj: Any) -> Any:
    """Replace "REL:<seconds ago>" strings with timestamps on the test clock."""
    if isinstance(obj, dict):
        return {k: _relative(clock, v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_relative(clock, v) for v in obj]
    if isinstance(obj, str) and obj.startswith("REL:"):
        return ts(clock, float(obj[4:]))
    return obj


@pytest.mark.parametrize(("pod", "ready", "status", "restarts"), POD_CASES)
def test_pod_columns(clock: EventLoop, pod: dict, ready: str, status: str, restarts: str) -> None:
    pod = _relative(clock, pod)
    pod["metadata"]["creationTimestamp"] = ts(clock, 3600)
    cells = pod_status_cells(clock, pod)
    assert cells[:5] == ["p", ready, status, restarts, "60m"]


def test_pod_table_shape_wide_and_objects(clock: EventLoop) -> None:
    pod = make_pod("web-1").container("c").node("node-a").set("metadata.creationTimestamp", ts(clock, 45)).set(
        "status", {"phase": "Running", "podIPs": [{"ip": "10.244.0.5"}], "containerStatuses": [running()]}
    ).obj()
    table = to_table(by_resource("pods"), [pod], clock=clock)
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    cols = [(c["name"], c["priority"]) for c in table["columnDefinitions"]]
    assert cols == [
        ("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0),
        ("IP", 1), ("Node", 1), ("Nominated Node", 1), ("Readiness Gates", 1),
    ]  # fmt: skip
    assert table["columnDefinitions"][0]["format"] == "name"
    assert table["columnDefinitions"][0]["description"].startswith("Name must be unique within a namespace")
    row = table["rows"][0]
    assert row["cells"] == ["web-1", "1/1", "Running", "0", "45s", "10.244.0.5", "node-a", "<none>", "<none>"]
    assert row["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": pod["metadata"]}  # fmt: skip

    narrow = to_table(by_resource("pods"), [pod], wide=False, clock=clock)
    assert [c["name"] for c in narrow["columnDefinitions"]] == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert len(narrow["rows"][0]["cells"]) == 5

    full = to_table(by_resource("pods"), [pod], include_object="Object", clock=clock)
    assert full["rows"][0]["object"] is pod
    none = to_table(by_resource("pods"), [pod], include_object="None", clock=clock)
    assert "object" not in none["rows"][0]


def test_succeeded_pod_row_condition(clock: EventLoop) -> None:
    pod = make_pod("p").container("c").phase("Succeeded").obj()
    row = to_table(by_resource("pods"), [pod], clock=clock)["rows"][0]
    assert row["conditions"][0]["type"] == "Completed" and row["conditions"][0]["reason"] == "Succeeded"
    assert row["cells"][4] == "<unknown>"  # no creationTimestamp


def test_readiness_gates(clock: EventLoop) -> None:
    pod = make_pod("p").container("c").set("spec.readinessGates", [{"conditionType": "a"}, {"conditionType": "b"}])
    pod = pod.set("status", {"phase": "Running", "conditions": [{"type": "a", "status": "True"}]}).obj()
    assert to_table(by_resource("pods"), [pod], clock=clock)["rows"][0]["cells"][8] == "1/2"


NODE_CASES = [
    pytest.param(make_node("n").ready().obj(), "Ready", "<none>", id="ready-no-role"),
    pytest.param(make_node("n").ready("False").obj(), "NotReady", "<none>", id="not-ready"),
    pytest.param(make_node("n").obj(), "Unknown", "<none>", id="no-condition"),
    pytest.param(make_node("n").ready().unschedulable().obj(), "Ready,SchedulingDisabled", "<none>", id="cordoned"),
    pytest.param(
        make_node("n").ready().labels({"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": ""}
                                      ).obj(),
        "Ready", "control-plane,master", id="roles-from-labels",
    ),
    pytest.param(make_node("n").ready().labels({"kubernetes.io/role": "worker"}).obj(), "Ready", "worker",
                 id="legacy-role-label"),
    pytest.param(make_node("n").ready().labels({"node-role.kubernetes.io/": "x"}).obj(), "Ready", "<none>",
                 id="empty-role-ignored"),
]  # fmt: skip


@pytest.mark.parametrize(("node", "status", "roles"), NODE_CASES)
def test_node_columns(clock: EventLoop, node: dict, status: str, roles: str) -> None:
    node["metadata"]["creationTimestamp"] = ts(clock, 2 * 86400 + 3 * 3600)
    node["status"]["nodeInfo"] = {"kubeletVersion": "v1.32.0"}
    cells = to_table(by_resource("nodes"), [node], clock=clock, now=NOW + 2 * 86400)["rows"][0]["cells"]
    assert cells[:5] == ["n", status, roles, "4d3h", "v1.32.0"]
    assert cells[5:] == ["<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"]


def test_node_wide_columns(clock: EventLoop) -> None:
    node = make_node("ip-10-0-1-5").ready().obj()
    node["status"]["addresses"] = [{"type": "InternalIP", "address": "10.0.1.5"}, {"type": "Hostname", "address": "h"}]
    node["status"]["nodeInfo"] = {"kubeletVersion": "v1.32.0", "osImage": "Amazon Linux 2023",
                                  "kernelVersion": "6.1", "containerRuntimeVersion": "containerd://1.7.25"}  # fmt: skip
    table = to_table(by_resource("nodes"), [node], clock=clock)
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP", "OS-Image", "Kernel-Version",
        "Container-Runtime",
    ]  # fmt: skip
    assert table["rows"][0]["cells"][5:] == ["10.0.1.5", "<none>", "Amazon Linux 2023", "6.1", "containerd://1.7.25"]


def _deploy(clock: EventLoop) -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "creationTimestamp": ts(clock, 300)},
        "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web", "tier": "fe"}},
                 "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"},
                                                      {"name": "log", "image": "busybox"}]}}},
        "status": {"readyReplicas": 3, "updatedReplicas": 4, "availableReplicas": 3, "replicas": 4},
    }  # fmt: skip


WORKLOAD_CASES = [
    pytest.param("deployments.apps", _deploy,
                 ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"],
                 ["web", "3/4", 4, 3, "5m", "nginx,log", "nginx:1.27,busybox", "app=web,tier=fe"], id="deployment"),
    pytest.param("replicasets.apps", _deploy,
                 ["Name", "Desired", "Current", "Ready", "Age", "Containers", "Images", "Selector"],
                 ["web", 4, 4, 3, "5m", "nginx,log", "nginx:1.27,busybox", "app=web,tier=fe"], id="replicaset"),
    pytest.param("statefulsets.apps", _deploy, ["Name", "Ready", "Age", "Containers", "Images"],
                 ["web", "3/4", "5m", "nginx,log", "nginx:1.27,busybox"], id="statefulset"),
]  # fmt: skip


@pytest.mark.parametrize(("resource", "make", "columns", "cells"), WORKLOAD_CASES)
def test_workload_columns(clock: EventLoop, resource: str, make: Any, columns: list, cells: list) -> None:
    table = to_table(by_resource(resource), [make(clock)], clock=clock)
    assert [c["name"] for c in table["columnDefinitions"]] == columns
    assert table["rows"][0]["cells"] == cells


def test_daemonset_columns(clock: EventLoop) -> None:
    ds = {"metadata": {"name": "agent", "creationTimestamp": ts(clock, 30)},
          "spec": {"selector": {"matchLabels": {"app": "agent"}},
                   "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                                         "containers": [{"name": "a", "image": "agent:1"}]}}},
          "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                     "updatedNumberScheduled": 3, "numberAvailable": 2}}  # fmt: skip
    cells = to_table(by_resource("daemonsets.apps"), [ds], clock=clock)["rows"][0]["cells"]
    assert cells == ["agent", 3, 3, 2, 3, 2, "kubernetes.io/os=linux", "30s", "a", "agent:1", "app=agent"]


JOB_CASES = [
    pytest.param({"completions": 3}, {"succeeded": 1, "startTime": "REL:90"}, "Running", "1/3", "90s", id="running"),
    pytest.param({"completions": 1}, {"succeeded": 1, "startTime": "REL:600", "completionTime": "REL:480",
                                      "conditions": [{"type": "Complete", "status": "True"}]},
                 "Complete", "1/1", "2m", id="complete"),
    pytest.param({"parallelism": 4}, {"conditions": [{"type": "Failed", "status": "True"}]}, "Failed", "0/1 of 4",
                 "", id="failed-parallel"),
    pytest.param({"completions": 2, "suspend": True}, {"conditions": [{"type": "Suspended", "status": "True"}]},
                 "Suspended", "0/2", "", id="suspended"),
    pytest.param({}, {"conditions": [{"type": "FailureTarget", "status": "True"}]}, "FailureTarget", "0/1", "",
                 id="failure-target"),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "status", "want_status", "completions", "duration"), JOB_CASES)
def test_job_columns(clock: EventLoop, spec: dict, status: dict, want_status: str, completions: str,
                     duration: str) -> None:  # fmt: skip
    job = _relative(clock, {"metadata": {"name": "j", "creationTimestamp": "REL:700"}, "spec": spec, "status": status})
    table = to_table(by_resource("jobs.batch"), [job], clock=clock)
    assert [c["name"] for c in table["columnDefinitions"]][:5] == ["Name", "Status", "Completions", "Duration", "Age"]
    assert table["rows"][0]["cells"][:5] == ["j", want_status, completions, duration, "11m"]


SERVICE_CASES = [
    pytest.param({"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                  "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}, {},
                 ["ClusterIP", "10.96.0.10", "<none>", "53/UDP,53/TCP"], id="cluster-ip"),
    pytest.param({"type": "NodePort", "clusterIPs": ["10.96.1.1"], "ports": [{"port": 80, "nodePort": 30080}]}, {},
                 ["NodePort", "10.96.1.1", "<none>", "80:30080/TCP"], id="node-port"),
    pytest.param({"type": "LoadBalancer", "clusterIPs": ["10.96.1.2"], "ports": [{"port": 443}]}, {},
                 ["LoadBalancer", "10.96.1.2", "<pending>", "443/TCP"], id="lb-pending"),
    pytest.param({"type": "LoadBalancer", "clusterIPs": ["10.96.1.2"], "ports": [{"port": 443}]},
                 {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}},
                 ["LoadBalancer", "10.96.1.2", "1.2.3.4", "443/TCP"], id="lb-ip"),
    pytest.param({"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"]}, {},
                 ["ClusterIP", "None", "<none>", "<none>"], id="headless"),
    pytest.param({"type": "ExternalName", "externalName": "db.example.com"}, {},
                 ["ExternalName", "<none>", "db.example.com", "<none>"], id="external-name"),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "status", "cells"), SERVICE_CASES)
def test_service_columns(clock: EventLoop, spec: dict, status: dict, cells: list) -> None:
    svc = {"metadata": {"name": "s", "creationTimestamp": ts(clock, 10)}, "spec": spec, "status": status}
    table = to_table(by_resource("services"), [svc], clock=clock)
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector",
    ]  # fmt: skip
    assert table["rows"][0]["cells"][1:5] == cells


HPA_CASES = [
    pytest.param([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                               "averageUtilization": 60}}}],
                 [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 45,
                                                                               "averageValue": "90m"}}}],
                 "cpu: 45%/60%", id="cpu-utilization"),
    pytest.param([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                               "averageUtilization": 60}}}],
                 None, "cpu: <unknown>/60%", id="cpu-unknown"),
    pytest.param([{"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue",
                                                                                  "averageValue": "512Mi"}}}],
                 [{"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": "300Mi"}}}],
                 "memory: 300Mi/512Mi", id="memory-average-value"),
    pytest.param([{"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"averageValue": "100"}}}],
                 [{"type": "Pods", "pods": {"current": {"averageValue": "80"}}}], "80/100", id="pods-metric"),
    pytest.param([{"type": "External", "external": {"target": {"type": "Value", "value": "30"}}}],
                 None, "<unknown>/30", id="external-unknown"),
    pytest.param([{"type": "External", "external": {"target": {"type": "AverageValue", "averageValue": "5"}}}],
                 [{"type": "External", "external": {"current": {"averageValue": "7"}}}], "7/5 (avg)",
                 id="external-avg"),
    pytest.param([{"type": "Resource", "resource": {"name": "cpu", "target": {"averageUtilization": 50}}}] * 3,
                 None, "cpu: <unknown>/50%, cpu: <unknown>/50% + 1 more...", id="more"),
    pytest.param([], None, "<none>", id="no-metrics"),
]  # fmt: skip


@pytest.mark.parametrize(("specs", "statuses", "want"), HPA_CASES)
def test_hpa_targets(specs: list, statuses: list | None, want: str) -> None:
    assert format_hpa_metrics(specs, statuses) == want


def test_hpa_row(clock: EventLoop) -> None:
    hpa = {"metadata": {"name": "web", "creationTimestamp": ts(clock, 7200)},
           "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 2, "maxReplicas": 10,
                    "metrics": HPA_CASES[0].values[0]},
           "status": {"currentReplicas": 3, "currentMetrics": HPA_CASES[0].values[1]}}  # fmt: skip
    table = to_table(by_resource("hpa"), [hpa], clock=clock)
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age",
    ]  # fmt: skip
    assert table["rows"][0]["cells"] == ["web", "Deployment/web", "cpu: 45%/60%", "2", 10, 3, "120m"]


def test_event_columns(clock: EventLoop) -> None:
    ev = {"metadata": {"name": "web-1.17a", "namespace": "shop"}, "type": "Warning", "reason": "FailedScheduling",
          "message": "0/3 nodes are available: 3 Insufficient cpu. ",
          "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": ""},
          "source": {"component": "default-scheduler"}, "count": 4,
          "firstTimestamp": ts(clock, 600), "lastTimestamp": ts(clock, 30)}  # fmt: skip
    table = to_table(by_resource("events"), [ev], clock=clock)
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0] == [
        "Last Seen", "Type", "Reason", "Object", "Message",
    ]  # fmt: skip
    assert table["rows"][0]["cells"] == [
        "30s", "Warning", "FailedScheduling", "pod/web-1", "", "default-scheduler",
        "0/3 nodes are available: 3 Insufficient cpu.", "10m", 4, "web-1.17a",
    ]  # fmt: skip
    narrow = to_table(by_resource("events"), [ev], clock=clock, wide=False)
    assert narrow["rows"][0]["cells"] == [
        "30s", "Warning", "FailedScheduling", "pod/web-1", "0/3 nodes are available: 3 Insufficient cpu.",
    ]  # fmt: skip



def test_event_columns_of_an_events_k8s_io_series(clock: EventLoop) -> None:
    """printEvent for an events.k8s.io event: first seen from eventTime, last seen and count from
    the series, source from reportingComponent (core/v1's name of reportingController) and
    reportingInstance."""
    ev = {"metadata": {"name": "web-1.17a", "namespace": "shop"}, "type": "Warning", "reason": "FailedScheduling",
          "message": "0/3 nodes are available: 3 Insufficient cpu.", "involvedObject": {"kind": "Pod", "name": "web-1"},
          "source": {}, "firstTimestamp": None, "lastTimestamp": None, "eventTime": ts(clock, 600),
          "series": {"count": 5, "lastObservedTime": ts(clock, 30)}, "action": "Scheduling",
          "reportingComponent": "default-scheduler", "reportingInstance": "default-scheduler-kubetwin"}  # fmt: skip
    table = to_table(by_resource("events"), [ev], clock=clock)
    assert table["rows"][0]["cells"] == [
        "30s", "Warning", "FailedScheduling", "pod/web-1", "", "default-scheduler, default-scheduler-kubetwin",
        "0/3 nodes are available: 3 Insufficient cpu.", "10m", 5, "web-1.17a",
    ]  # fmt: skip


SMALL_CASES = [
    pytest.param("namespaces", {"status": {"phase": "Terminating"}}, ["Name", "Status", "Age"],
                 ["x", "Terminating", "60s"], id="namespace"),
    pytest.param("configmaps", {"data": {"a": "1", "b": "2"}, "binaryData": {"c": ""}}, ["Name", "Data", "Age"],
                 ["x", 3, "60s"], id="configmap"),
    pytest.param("secrets", {"type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}},
                 ["Name", "Type", "Data", "Age"], ["x", "kubernetes.io/tls", 2, "60s"], id="secret"),
    pytest.param("serviceaccounts", {}, ["Name", "Secrets", "Age"], ["x", 0, "60s"], id="serviceaccount"),
    pytest.param("priorityclasses.scheduling.k8s.io", {"value": 1000, "preemptionPolicy": "Never"},
                 ["Name", "Value", "Global-Default", "Age", "PreemptionPolicy"], ["x", 1000, False, "60s", "Never"],
                 id="priorityclass"),
    pytest.param("poddisruptionbudgets.policy", {"spec": {"minAvailable": "75%"}, "status": {"disruptionsAllowed": 1}},
                 ["Name", "Min Available", "Max Unavailable", "Allowed Disruptions", "Age"],
                 ["x", "75%", "N/A", 1, "60s"], id="pdb"),
    pytest.param("poddisruptionbudgets.policy", {"spec": {"maxUnavailable": 1}}, None, ["x", "N/A", "1", 0, "60s"],
                 id="pdb-max-unavailable"),
    pytest.param("leases.coordination.k8s.io", {"spec": {"holderIdentity": "node-a"}}, ["Name", "Holder", "Age"],
                 ["x", "node-a", "60s"], id="lease"),
    pytest.param("endpoints", {"subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
                                            "ports": [{"port": 53}, {"port": 9153}]}]},
                 ["Name", "Endpoints", "Age"], ["x", "10.0.0.1:53,10.0.0.2:53,10.0.0.1:9153 + 1 more...", "60s"],
                 id="endpoints"),
    pytest.param("cronjobs.batch", {"spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {}}}},
                 None, ["x", "*/5 * * * *", "<none>", "<unset>", 0, "<none>", "60s", "", "", "<none>"], id="cronjob"),
    pytest.param("nodegroups.kubetwin.io",
                 {"spec": {"instanceType": "m5.large", "minSize": 2, "maxSize": 5, "desiredSize": 3,
                           "zones": ["eu-west-1a", "eu-west-1b"]},
                  "status": {"readyReplicas": 2}},
                 ["Name", "Instance-Type", "Capacity-Type", "Desired", "Ready", "Min", "Max", "Age", "Zones"],
                 ["x", "m5.large", "on-demand", 3, 2, 2, 5, "60s", "eu-west-1a,eu-west-1b"], id="nodegroup"),
    pytest.param("loadprofiles.kubetwin.io",
                 {"spec": {"selector": {"matchLabels": {"app": "web"}}, "traffic": {"constant": {"rps": 100}}}},
                 ["Name", "Selector", "Traffic", "Age"], ["x", "app=web", "constant 100 rps", "60s"], id="loadprofile"),
    pytest.param("scenarios.kubetwin.io", {"spec": {"duration": "2h", "seed": 7}}, ["Name", "Duration", "Seed", "Age"],
                 ["x", "2h", 7, "60s"], id="scenario"),
    pytest.param("persistentvolumeclaims", {}, ["Name", "Age"], ["x", "60s"], id="default-columns"),
]  # fmt: skip


@pytest.mark.parametrize(("resource", "body", "columns", "cells"), SMALL_CASES)
def test_other_kinds(clock: EventLoop, resource: str, body: dict, columns: list | None, cells: list) -> None:
    obj = {"metadata": {"name": "x", "creationTimestamp": ts(clock, 60)}, **body}
    table = to_table(by_resource(resource), [obj], clock=clock)
    if columns is not None:
        assert [c["name"] for c in table["columnDefinitions"]] == columns
    assert table["rows"][0]["cells"] == cells
    assert all(len(r["cells"]) == len(table["columnDefinitions"]) for r in table["rows"])


def test_age_without_clock_uses_unix_seconds() -> None:
    pod = make_pod("p").container("c").set("metadata.creationTimestamp", "2024-01-01T00:00:00Z").obj()
    table = to_table(by_resource("pods"), [pod], now=1704067200 + 90061)
    assert table["rows"][0]["cells"][4] == "25h"
